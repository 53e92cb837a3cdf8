// Every file pgaf writes goes through here, safe when we run as root in directories other
// users can write to: a temp file beside the target with a random name, created exclusively
// without following a symlink (O_CREAT|O_EXCL|O_NOFOLLOW), fsync, mode and owner set on the
// open descriptor (fchmod, fchown), then a rename over the target (a symlink planted at the
// target is replaced, never followed), and (for the keeper's own state) an fsync of the
// directory, so that a kill -9 at any instant leaves either the old or the new version.
// Mode 0600 unless told otherwise.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { OsUser } from './pgbin.js';

export interface AtomicWriteOptions {
  mode?: number;
  /** fsync the directory after the rename, so the new name survives a crash too */
  syncDir?: boolean;
  /** create the directory (and its parents, mode 0700) first */
  mkdir?: boolean;
  /** give the new version the owner of the version it replaces (when we are root) */
  keepOwner?: boolean;
}

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The owner of the file at `path` (not following a symlink), or undefined when it is missing. */
function ownerOf(path: string): { uid: number; gid: number } | undefined {
  try {
    const s = lstatSync(path);
    return s.isFile() ? { uid: s.uid, gid: s.gid } : undefined;
  } catch {
    return undefined;
  }
}

export function writeFileAs(path: string, content: string | Buffer, runAs?: OsUser, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  const mode = opts.mode ?? 0o600;
  if (opts.mkdir) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const owner = runAs ?? (opts.keepOwner ? ownerOf(path) : undefined);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(8).toString('hex')}.pgaf-tmp`);
  const fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    try {
      const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
      fchmodSync(fd, mode);
      if (owner && isRoot()) fchownSync(fd, owner.uid, owner.gid);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (!opts.syncDir) return;
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** The text of a regular file, opened without following a symlink (ELOOP when it is one). */
export function readFileNoFollow(path: string): string {
  const fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * chown (and optionally chmod) of a file or directory through its open descriptor: a symlink
 * at `path` is refused (ELOOP), never followed. Only root changes owners; others skip that part.
 */
export function chownNoFollow(path: string, user: { uid: number; gid: number } | undefined, mode?: number): void {
  const fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    if (mode !== undefined) fchmodSync(fd, mode);
    if (user && isRoot()) fchownSync(fd, user.uid, user.gid);
  } finally {
    closeSync(fd);
  }
}

/**
 * Identity of a file version ('none' when it is missing): writers replace files by rename, so
 * a new version has a new inode, mtime or size. Cheap enough to check every keeper tick.
 */
export function fileStamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.mtimeMs}:${s.size}`;
  } catch {
    return 'none';
  }
}
