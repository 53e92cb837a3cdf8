// pid files: one running pgaf process per node.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BadState } from './errors.js';

export function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes our pid; refuses when another live process holds the file. */
export function claimPidFile(path: string): void {
  const other = readPid(path);
  if (other !== undefined && other !== process.pid && isAlive(other)) {
    throw new BadState(`another pgaf process (pid ${other}) already runs this node`, { hint: `see ${path}` });
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, `${process.pid}\n`);
}

export function releasePidFile(path: string): void {
  if (readPid(path) === process.pid) rmSync(path, { force: true });
}
