// isPostmasterOf and signalPostmaster (lib/postmaster-pid.ts): a stop or a reload signals the pid
// in postmaster.pid only when that process works in the data directory, so a pid left by a crash
// and reused by another process is not sent the signal.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isPostmasterOf, postmasterRunning, signalPostmaster } from '../../lib/postmaster-pid.js';

// the processes and directories each test made, removed after it
const dirs: string[] = [];
const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('isPostmasterOf', () => {

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

  it('signalPostmaster signals the process postmaster.pid names only when it works in the data directory', async () => {
    const pgdata = mkdtempSync(join(tmpdir(), 'pgaf-pm-'));
    const other = mkdtempSync(join(tmpdir(), 'pgaf-pm-'));
    dirs.push(pgdata, other);
    expect(signalPostmaster(pgdata, 'SIGTERM')).toBe(false); // no postmaster.pid
    // a pid left by a crash, now another process's: not signalled
    const stranger = spawn('sleep', ['30'], { cwd: other, stdio: 'ignore' });
    children.push(stranger);
    writeFileSync(join(pgdata, 'postmaster.pid'), `${stranger.pid}\n${pgdata}\n0\n`);
    expect(signalPostmaster(pgdata, 'SIGTERM')).toBe(false);
    // the process working in the data directory: signalled
    const postmaster = spawn('sleep', ['30'], { cwd: pgdata, stdio: 'ignore' });
    children.push(postmaster);
    const exited = new Promise((r) => postmaster.once('exit', (_code, sig) => r(sig)));
    writeFileSync(join(pgdata, 'postmaster.pid'), `${postmaster.pid}\n${pgdata}\n0\n`);
    expect(signalPostmaster(pgdata, 'SIGTERM')).toBe(true);
    expect(await exited).toBe('SIGTERM');
    // by now a signal sent to the stranger would have arrived too
    expect(stranger.signalCode).toBeNull();
    expect(() => process.kill(stranger.pid!, 0)).not.toThrow();
  });
});

describe('postmasterRunning', () => {

  it('a pid file naming a zombie (killed, not reaped yet) is not a running postmaster', async () => {
    // sh starts a child that exits 0.2 s later, once sh has become `sleep`, which never reaps
    // it (a child that exited at once could be reaped by sh itself before the exec)
    const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(parent);
    const zombie = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(d.toString()))));
    const deadline = Date.now() + 5_000;
    while (!readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z ') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(readFileSync(`/proc/${zombie}/stat`, 'utf8')).toContain(') Z ');
    const pgdata = mkdtempSync(join(tmpdir(), 'pgaf-pm-'));
    dirs.push(pgdata);
    writeFileSync(join(pgdata, 'postmaster.pid'), `${zombie}\n${pgdata}\n1\n5432\n/tmp\n*\n0\nready\n`);
    expect(postmasterRunning(pgdata)).toBe(false);
    // a live one is
    writeFileSync(join(pgdata, 'postmaster.pid'), `${parent.pid}\n${pgdata}\n1\n5432\n/tmp\n*\n0\nready\n`);
    expect(postmasterRunning(pgdata)).toBe(true);
  });
});
