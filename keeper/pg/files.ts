// Files in PGDATA written as the OS user that owns it: atomically (temp file + rename),
// mode 0600, owned by `runAs` when we are root.
import { chownSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { OsUser } from '../../lib/pgbin.js';

export function writeFileAs(path: string, content: string, runAs?: OsUser, mode = 0o600): void {
  const tmp = join(dirname(path), `.${basename(path)}.pgaf-tmp`);
  const fd = openSync(tmp, 'w', mode);
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
}
