// postmaster.pid, read without spawning pg_ctl: who runs a data directory, since when, and
// in which status (line 8: starting, stopping, ready, standby).
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning } from './pid-file.js';

export interface PostmasterPid {
  pid: number;
  /** line 3: the postmaster's start time, in seconds since the epoch */
  startedAt: number;
  /** line 8 of postmaster.pid: starting, stopping, ready, standby (PG ≥ 10) */
  status: string;
}

/** postmaster.pid read, or undefined when absent or unreadable. */
export function readPostmasterPid(pgdata: string): PostmasterPid | undefined {
  let text: string;
  try {
    text = readFileSync(join(pgdata, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, startedAt: Number(lines[2]) || 0, status: (lines[7] ?? '').trim() };
}

/**
 * kill(pid, 0) succeeds, or says the process is another user's, and it is not a zombie: a
 * postmaster killed with -9 stays one until init reaps it, and holds nothing meanwhile.
 */
export const pidAlive = isRunning;

/** Like `pg_ctl status` without spawning it: postmaster.pid names a live process. */
export function postmasterRunning(pgdata: string): boolean {
  const p = readPostmasterPid(pgdata);
  return p !== undefined && pidAlive(p.pid);
}

/**
 * The process `pid` works in `pgdata`: a postmaster's working directory is its data directory,
 * which a process that took over the pid of a crashed postmaster is unlikely to share. False
 * when /proc cannot tell (not Linux, no such process, not ours to look at).
 */
export function isPostmasterOf(pid: number, pgdata: string): boolean {
  try {
    return realpathSync(`/proc/${pid}/cwd`) === realpathSync(pgdata);
  } catch {
    return false;
  }
}

/**
 * Sends `sig` to the postmaster of `pgdata`, as pg_ctl would, when postmaster.pid names a process
 * that works in that directory and we may signal it; false otherwise (the caller runs pg_ctl, as
 * the Postgres user). A keeper may be root: the pid a crashed postmaster left may be anyone's now.
 */
export function signalPostmaster(pgdata: string, sig: NodeJS.Signals): boolean {
  const p = readPostmasterPid(pgdata);
  if (!p || !isPostmasterOf(p.pid, pgdata)) return false;
  try {
    process.kill(p.pid, sig);
    return true;
  } catch {
    return false;
  }
}
