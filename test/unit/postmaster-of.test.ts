// isPostmasterOf (lib/postmaster-pid.ts): a stop signals the pid in postmaster.pid only when that
// process works in the data directory, so a pid left by a crash and reused by another process
// is not sent the shutdown signal.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isPostmasterOf } from '../../lib/postmaster-pid.js';

describe('isPostmasterOf', () => {
  const dirs: string[] = [];
  const children: Array<ReturnType<typeof spawn>> = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('is true for a process working in the directory (also through a symlink), false elsewhere', () => {
    const pgdata = mkdtempSync(join(tmpdir(), 'pgaf-pm-'));
    const other = mkdtempSync(join(tmpdir(), 'pgaf-pm-'));
    dirs.push(pgdata, other);
    const link = join(other, 'link');
    symlinkSync(pgdata, link);
    const child = spawn('sleep', ['30'], { cwd: pgdata, stdio: 'ignore' });
    children.push(child);
    expect(isPostmasterOf(child.pid!, pgdata)).toBe(true);
    expect(isPostmasterOf(child.pid!, link)).toBe(true);
    expect(isPostmasterOf(child.pid!, other)).toBe(false);
    // this test's own process works elsewhere: a reused pid is not taken for the postmaster
    expect(isPostmasterOf(process.pid, pgdata)).toBe(false);
  });

  it('is false when there is no such process or no such directory', () => {
    const pgdata = mkdtempSync(join(tmpdir(), 'pgaf-pm-'));
    dirs.push(pgdata);
    expect(isPostmasterOf(2 ** 22 + 12345, pgdata)).toBe(false);
    expect(isPostmasterOf(process.pid, join(pgdata, 'missing'))).toBe(false);
  });
});
