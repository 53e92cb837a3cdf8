import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, scriptNameFrom } from '../../cli/tree.js';
import { parsePostgresVersion } from '../../cli/version.js';
import { setLogSink } from '../../lib/log.js';

const lines: string[] = [];
const prevSink = setLogSink((l) => lines.push(l));
const dir = mkdtempSync(join(tmpdir(), 'pgaf-unit-'));
afterAll(() => {
  setLogSink(prevSink);
  rmSync(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => main(['node', '/usr/bin/pgaf', ...args]);

describe('cli main', () => {
  it('prints the name it was run as', () => {
    expect(scriptNameFrom('/usr/local/bin/pg_autoctl')).toBe('pg_autoctl');
    expect(scriptNameFrom('/usr/local/bin/pgaf')).toBe('pgaf');
    expect(scriptNameFrom('/x/dist/cli/main.js')).toBe('pgaf');
  });

  it('exits 1 on an unknown option, naming it', async () => {
    lines.length = 0;
    expect(await run('show', 'state', '--bogus')).toBe(1);
    expect(lines.join('\n')).toMatch(/Unknown argument: bogus/);
  });

  it('exits 1 without a command', async () => {
    expect(await run()).toBe(1);
    expect(await run('show')).toBe(1);
  });

  it('exits 1 on a bad port and creates nothing', async () => {
    lines.length = 0;
    const pgdata = join(dir, 'monitor');
    expect(await run('create', 'monitor', '--pgdata', pgdata, '--pgport', '0')).toBe(1);
    expect(lines.join('\n')).toMatch(/--pgport must be an integer between 1 and 65535, got "0"/);
    expect(existsSync(pgdata)).toBe(false);
  });

  it('exits 1 on a bad --auth', async () => {
    expect(await run('create', 'monitor', '--pgdata', join(dir, 'm'), '--auth', 'password')).toBe(1);
  });

  it('parses the PostgreSQL version', () => {
    expect(parsePostgresVersion('postgres (PostgreSQL) 15.10 (Debian 15.10-1.pgdg120+1)')).toEqual({
      pg_major: '15',
      pg_version: '15.10 (Debian 15.10-1.pgdg120+1)',
      pg_version_str: 'PostgreSQL 15.10 (Debian 15.10-1.pgdg120+1)',
      pg_version_num: 150010,
    });
    expect(parsePostgresVersion('postgres (PostgreSQL) 17devel').pg_major).toBe('17');
  });
});
