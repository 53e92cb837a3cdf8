// primary-host-death (npm run chaos, test/hosts/): after a host died and booted again, the
// module refused to run its node because the pid file of the previous boot named a pid that a
// new process of this boot had been given ("another pgaf process (pid 32) already runs this
// node"). A live process that started after the pid file was written is not its writer.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimPidFile, couldHaveWritten, processStartMs, readPid } from '../../lib/pid-file.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(): { base: string; file: string; child: ChildProcess } {
  const base = mkdtempSync(join(tmpdir(), 'pgaf-pidfile-'));
  dirs.push(base);
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  return { base, file: join(base, 'run', 'pgaf.pid'), child };
}

describe('primary-host-death: a pid file of an earlier boot', () => {
  it('knows when a process started', () => {
    const started = processStartMs(process.pid)!;
    expect(started).toBeLessThanOrEqual(Date.now() + 1000);
    expect(started).toBeGreaterThan(Date.now() - 3600_000 * 24 * 365);
  });

  it('is claimed when its pid now belongs to a process that started after it was written', async () => {
    const { base, file, child } = setup();
    await new Promise((r) => setTimeout(r, 50));
    claimPidFile(file, base);
    writeFileSync(file, `${child.pid}\n`);
    const past = new Date(Date.now() - 60_000);
    utimesSync(file, past, past); // written a minute ago, before that process started
    expect(couldHaveWritten(child.pid!, file)).toBe(false);
    claimPidFile(file, base);
    expect(readPid(file)).toBe(process.pid);
  });

  it('is still refused when its live pid started before it was written', async () => {
    const { base, file, child } = setup();
    await new Promise((r) => setTimeout(r, 50));
    claimPidFile(file, base);
    writeFileSync(file, `${child.pid}\n`);
    expect(couldHaveWritten(child.pid!, file)).toBe(true);
    expect(() => claimPidFile(file, base)).toThrow(/another pgaf process \(pid \d+\) already runs this node/);
  });
});
