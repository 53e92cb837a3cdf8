// syncDataDir: initdb, pg_basebackup and pg_rewind run with their no-sync switch and the copy is
// flushed by one syncfs per filesystem (`sync -f`) of PGDATA, pg_wal and every tablespace.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PgCtl } from '../../lib/errors.js';
import { log, setLogSink } from '../../lib/log.js';
import { PostgresCtl, syncProgram, syncTargets } from '../../lib/postgres-ctl.js';
import { scratchDirs } from '../support/scratch-dirs.js';

const scratch = scratchDirs('pgaf-sync-');

describe('syncTargets', () => {
  it('names PGDATA, its pg_wal (followed when it is a symlink) and each tablespace link', () => {
    const root = scratch();
    const pgdata = join(root, 'pgdata');
    const wal = join(root, 'wal-elsewhere');
    const space = join(root, 'space');
    mkdirSync(join(pgdata, 'pg_tblspc'), { recursive: true });
    mkdirSync(wal);
    mkdirSync(space);
    symlinkSync(wal, join(pgdata, 'pg_wal'));
    symlinkSync(space, join(pgdata, 'pg_tblspc', '16400'));
    expect(syncTargets(pgdata)).toEqual([pgdata, join(pgdata, 'pg_wal') + '/', join(pgdata, 'pg_tblspc', '16400') + '/']);
  });

  it('is just the directory when it holds no cluster yet', () => {
    const d = scratch();
    expect(syncTargets(d)).toEqual([d]);
  });
});

describe('syncProgram', () => {
  it('is coreutils sync by its full path, not the first sync in PATH; the PATH only when neither exists', () => {
    expect(['/usr/bin/sync', '/bin/sync']).toContain(syncProgram());
    expect(syncProgram(['/nonexistent/sync', '/bin/sync'])).toBe('/bin/sync');
    expect(syncProgram(['/nonexistent/sync'])).toBe('sync');
  });
});

describe('PostgresCtl.syncDataDir', () => {
  it('flushes a directory with sync -f and logs nothing at info level', async () => {
    const lines: string[] = [];
    const prev = setLogSink((l) => lines.push(l));
    try {
      const d = scratch();
      const ctl = new PostgresCtl({ pgdata: d, binDir: '/nonexistent/bin', log });
      // sync -f succeeds: initdb --sync-only (which does not exist in this binDir) is never run
      await ctl.syncDataDir();
      expect(lines).toEqual([]);
    } finally {
      setLogSink(prev);
    }
  });

  it('falls back to initdb --sync-only when sync -f fails, and says why when that fails too', async () => {
    const lines: string[] = [];
    const prev = setLogSink((l) => lines.push(l));
    try {
      const missing = join(scratch(), 'not-there');
      const ctl = new PostgresCtl({ pgdata: missing, binDir: '/nonexistent/bin', log });
      await expect(ctl.syncDataDir()).rejects.toThrow(PgCtl);
      expect(lines.some((l) => / WARN  sync failed with exit code /.test(l))).toBe(true);
    } finally {
      setLogSink(prev);
    }
  });
});
