// The package (CLI, node_modules) as another OS user can run it. A checkout under a 0700
// folder (a fresh clone in `mktemp -d`, as CI makes) is closed to the postgres user; tests that
// run pgaf or pm2 as that user then use a hard-linked copy in a folder of theirs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/package-root.js';

interface Ids {
  uid: number;
  gid: number;
}

/** Whether the user can read `path` (every folder above it included). */
export function canRead(u: Ids, path: string): boolean {
  const probe = spawnSync('setpriv', [`--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', process.execPath, '-e', 'require("fs").accessSync(process.argv[1], 4)', path]);
  return probe.status === 0;
}

/**
 * `path` inside the package when the user can read it there; otherwise the same path in a
 * copy of the package's `parts` made (once) under `dest`, hard-linked where the file system allows.
 */
export function packagePathFor(u: Ids, dest: string, parts: string[], rel: string): string {
  const root = packageRoot();
  if (canRead(u, join(root, rel))) return join(root, rel);
  const copy = join(dest, 'pgaf-package');
  mkdirSync(copy, { recursive: true });
  for (const part of parts) {
    if (existsSync(join(copy, part))) continue;
    if (spawnSync('cp', ['-al', join(root, part), copy]).status !== 0) {
      const r = spawnSync('cp', ['-a', join(root, part), copy]);
      if (r.status !== 0) throw new Error(`cannot copy ${part} for another user: ${r.stderr}`);
    }
  }
  return join(copy, rel);
}
