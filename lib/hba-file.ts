// The one module that writes pg_hba.conf (keeper peers and health check, SSL switches, the
// monitor's keeper rule): read without following a symlink, edit through a pure function,
// write back atomically (lib/atomic-file.ts, mode 0600) only when the text changed.
import { readFileNoFollow, writeFileAs } from './atomic-file.js';
import type { OsUser } from './pgbin.js';

/** Applies `edit` to the HBA file; true when it changed (the caller reloads Postgres). */
export function editHbaFile(path: string, edit: (current: string) => string, runAs?: OsUser): boolean {
  const current = readFileNoFollow(path);
  const next = edit(current);
  if (next === current) return false;
  writeFileAs(path, next, runAs, { mode: 0o600, keepOwner: true });
  return true;
}
