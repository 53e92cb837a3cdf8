// pid files: one running pgaf process per node.
import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAs } from './atomic-file.js';
import { BadState } from './errors.js';
import { ensurePrivateDir, type DirOwner } from './private-dir.js';

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

/**
 * Writes our pid; refuses when another live process holds the file. The directory is made
 * private (0700, owned by `owner`, checked level by level below `base`: lib/private-dir.ts)
 * and the file is written without following a symlink.
 */
export function claimPidFile(path: string, base: string, owner?: DirOwner): void {
  const other = readPid(path);
  if (other !== undefined && other !== process.pid && isAlive(other)) {
    throw new BadState(`another pgaf process (pid ${other}) already runs this node`, { hint: `see ${path}` });
  }
  ensurePrivateDir(base, dirname(path), owner);
  writeFileAs(path, `${process.pid}\n`, undefined, { mode: 0o644 });
}

export function releasePidFile(path: string): void {
  if (readPid(path) === process.pid) rmSync(path, { force: true });
}

/** A zombie (exited, not yet reaped by its parent) counts as gone. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** Alive and not a zombie. */
export function isRunning(pid: number): boolean {
  return isAlive(pid) && !isZombie(pid);
}

/**
 * Whether a live pid plausibly is a pgaf service (a Node.js process running pgaf), so a
 * stale pid file whose pid was reused by another program never gets our signals. Where
 * /proc is not readable we trust the pid file.
 */
export function looksLikePgaf(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return true;
  }
  return /\bnode\b|pgaf|pg_autoctl|main\.js|pm2/i.test(cmdline);
}

/** The pid of the running service that owns `path`, or undefined (no file, stale, or not ours). */
export function servicePid(path: string): number | undefined {
  const pid = readPid(path);
  if (pid === undefined || pid === process.pid || !isRunning(pid) || !looksLikePgaf(pid)) return undefined;
  return pid;
}

/** Waits until `pid` is gone; true when it exited within `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number, pollMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }
  return true;
}
