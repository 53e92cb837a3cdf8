// pid files: one running pgaf process per node.
import { readFileSync, rmSync, statSync } from 'node:fs';
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
 * When `pid` started (ms since the epoch, from /proc: the boot time plus its start in clock
 * ticks of 1/100 s, the kernel's USER_HZ), or undefined where /proc does not say.
 */
export function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(btime) && btime > 0 ? btime * 1000 + ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the live process `pid` can be the one that wrote the pid file `path`: not when it
 * started after the file was last written (its pid was reused, e.g. after a reboot or a host
 * death, where pids start again from 1). The boot time has a 1 s resolution, hence the margin.
 */
export function couldHaveWritten(pid: number, path: string): boolean {
  const started = processStartMs(pid);
  if (started === undefined) return true;
  try {
    return started <= statSync(path).mtimeMs + 1000;
  } catch {
    return true;
  }
}

/**
 * Writes our pid; refuses when another live process holds the file (one that started after
 * the file was written is not its writer: a pid reused after a reboot). The directory is made
 * private (0700, owned by `owner`, checked level by level below `base`: lib/private-dir.ts)
 * and the file is written without following a symlink.
 */
export function claimPidFile(path: string, base: string, owner?: DirOwner): void {
  const other = readPid(path);
  if (other !== undefined && other !== process.pid && isAlive(other) && couldHaveWritten(other, path)) {
    throw new BadState(`another pgaf process (pid ${other}) already runs this node`, { hint: `see ${path}` });
  }
  ensurePrivateDir(base, dirname(path), owner);
  writeFileAs(path, `${process.pid}\n`, undefined, { mode: 0o644 });
}

export function releasePidFile(path: string): void {
  if (readPid(path) === process.pid) rmSync(path, { force: true });
}

/**
 * claimPidFile for a process that must survive SIGHUP (the services, a local drop): commands
 * that reload a node (`config set`, `reload`, `enable ssl`) signal the pid they find in the
 * file, and a SIGHUP that finds no listener ends a Node process, so `onHup` listens before the
 * file exists. Returns what releases both; a refused claim removes the listener again.
 */
export function claimPidFileListening(path: string, base: string, owner: DirOwner | undefined, onHup: () => void): () => void {
  process.on('SIGHUP', onHup);
  try {
    claimPidFile(path, base, owner);
  } catch (err) {
    process.off('SIGHUP', onHup);
    throw err;
  }
  return () => {
    releasePidFile(path);
    process.off('SIGHUP', onHup);
  };
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
