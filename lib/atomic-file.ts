// Files written atomically: a temp file beside the target, fsync, chown to `runAs` when we are
// root, rename over the target, and (for the keeper's own state) fsync of the directory, so
// that a kill -9 at any instant leaves either the old or the new version. Mode 0600.
import { chownSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { OsUser } from './pgbin.js';

export interface AtomicWriteOptions {
  mode?: number;
  /** fsync the directory after the rename, so the new name survives a crash too */
  syncDir?: boolean;
  /** create the directory (and its parents) first */
  mkdir?: boolean;
}

export function writeFileAs(path: string, content: string, runAs?: OsUser, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  if (opts.mkdir) mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.pgaf-tmp`);
  const fd = openSync(tmp, 'w', opts.mode ?? 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (runAs) chownSync(tmp, runAs.uid, runAs.gid);
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
