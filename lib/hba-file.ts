// The one module that writes pg_hba.conf, for every caller: initdb's peer record
// (lib/postgres-ctl.ts), the monitor's keeper rules and their SSL switch, the keeper's peer
// and health-check rules, their SSL switch and the file put back after a copy of another node
// (keeper/pg/node-hba.ts, which screens peer hosts before anything reaches this module).
// Each write reads without following a symlink, edits through a pure function (lib/hba.ts)
// and writes back atomically (lib/atomic-file.ts, mode 0600, as the PGDATA owner when we are
// root) only when the text changed.
import { join } from 'node:path';
import { readFileNoFollow, writeFileAs } from './atomic-file.js';
import { appendHbaLines, planHbaAdditions, switchHbaHostType } from './hba.js';
import type { OsUser } from './pgbin.js';

/** The pg_hba.conf of a data directory (the one initdb writes; `SHOW hba_file` may say otherwise). */
export function hbaFileOf(pgdata: string): string {
  return join(pgdata, 'pg_hba.conf');
}

/** Applies `edit` to the HBA file; true when it changed (the caller reloads Postgres). */
export function editHbaFile(path: string, edit: (current: string) => string, runAs?: OsUser): boolean {
  const current = readFileNoFollow(path);
  const next = edit(current);
  if (next === current) return false;
  writeFileAs(path, next, runAs, { mode: 0o600, keepOwner: true });
  return true;
}

/**
 * Appends the lines of `wanted` the file lacks (comments and spacing ignored), under a comment
 * saying who added them; returns the lines added. The lines come from lib/hba.ts hbaLine,
 * whose hosts the caller screened.
 */
export function addHbaRules(path: string, wanted: readonly string[], runAs?: OsUser): string[] {
  let added: string[] = [];
  editHbaFile(
    path,
    (current) => {
      added = planHbaAdditions(current, [...new Set(wanted)]);
      return appendHbaLines(current, added);
    },
    runAs,
  );
  return added;
}

/** The records of `users` switched to host or hostssl; true when the file changed. */
export function switchHbaRules(path: string, users: readonly string[], type: 'host' | 'hostssl', runAs?: OsUser): boolean {
  return editHbaFile(path, (text) => switchHbaHostType(text, users, type), runAs);
}

/** Puts back a text read earlier (a base backup or pg_rewind brought the source's file). */
export function restoreHbaFile(path: string, text: string, runAs?: OsUser): boolean {
  return editHbaFile(path, () => text, runAs);
}
