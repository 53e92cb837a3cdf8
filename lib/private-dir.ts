// Directories that hold pid files, logs and secrets (the run directory under
// $XDG_RUNTIME_DIR or /tmp, the config directory of pg_autoctl.cfg): created one level at a
// time (levels above 0755, the directory itself 0700), owned by the user that runs the node,
// and checked when they exist already.
// Under a world-writable /tmp anyone may have made a path first: a directory that is a
// symlink, belongs to another user, or that others can write to is refused, never used.
import { closeSync, constants, existsSync, fchmodSync, fchownSync, fstatSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { BadState } from './errors.js';

const { O_RDONLY, O_NOFOLLOW, O_DIRECTORY } = constants;

export interface DirOwner {
  uid: number;
  gid: number;
  name?: string;
}

function me(): DirOwner {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

/** Why an existing directory cannot be trusted, or undefined. Pure. */
export function dirProblem(
  s: { isDir: boolean; isSymlink: boolean; uid: number; mode: number },
  owner: DirOwner,
  last: boolean,
): string | undefined {
  if (s.isSymlink) return 'it is a symbolic link';
  if (!s.isDir) return 'it is not a directory';
  // root-owned levels above ours are fine; ours must be the node user's (or root's, fixed below)
  if (s.uid !== owner.uid && s.uid !== 0) return `it belongs to uid ${s.uid}, not to ${owner.name ?? `uid ${owner.uid}`}`;
  if (!last && (s.mode & 0o022) !== 0) return `other users can write to it (mode ${(s.mode & 0o777).toString(8)})`;
  return undefined;
}

/**
 * Makes sure `dir` exists below `base` (trusted, e.g. /tmp or $XDG_RUNTIME_DIR) with every
 * level created by us owned by `owner` (0755); the last level is made 0700 and owned by
 * `owner` even when it existed. Throws BadState naming the directory that cannot be trusted.
 */
export function ensurePrivateDir(base: string, dir: string, owner: DirOwner = me(), lastMode = 0o700): void {
  const rel = relative(base, dir);
  if (rel.startsWith('..')) throw new BadState(`${dir} is not under ${base}`);
  const parts = rel === '' ? [] : rel.split(sep);
  if (!existsSync(base)) {
    // a missing $XDG_RUNTIME_DIR: made as the original does, private to the node user
    mkdirSync(base, { recursive: true, mode: 0o700 });
    const fd = openSync(base, O_RDONLY | O_NOFOLLOW | O_DIRECTORY);
    try {
      if (process.getuid?.() === 0) fchownSync(fd, owner.uid, owner.gid);
    } finally {
      closeSync(fd);
    }
  }
  let cur = base;
  for (let i = 0; i < parts.length; i++) {
    cur = join(cur, parts[i]!);
    const last = i === parts.length - 1;
    try {
      mkdirSync(cur, { mode: last ? lastMode : 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const s = lstatSync(cur);
      const problem = dirProblem({ isDir: s.isDirectory(), isSymlink: s.isSymbolicLink(), uid: s.uid, mode: s.mode }, owner, last);
      if (problem) {
        throw new BadState(`refusing to use the directory ${cur}: ${problem}`, {
          hint: 'remove it, or set XDG_RUNTIME_DIR to a private directory of the node user',
        });
      }
      if (!last) continue;
    }
    // ours now (created, or the last level): owner and mode set on the open directory
    const fd = openSync(cur, O_RDONLY | O_NOFOLLOW | O_DIRECTORY);
    try {
      const s = fstatSync(fd);
      const root = process.getuid?.() === 0;
      if (root && (s.uid !== owner.uid || s.gid !== owner.gid)) fchownSync(fd, owner.uid, owner.gid);
      const mode = last ? lastMode : 0o755;
      if ((root || s.uid === process.getuid?.()) && (s.mode & 0o777) !== mode) fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
  }
}
