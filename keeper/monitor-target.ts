// How a data node (its keeper, and the CLI run on its host) reaches the monitor: the URI of
// its pg_autoctl.cfg, plus the password of its 0600 monitor.password file when the URI has
// none (a password in PGPASSWORD or a pgpass file still works: node-postgres reads them).
import { secretFilePath } from '../config/paths.js';
import { parsePgUri, type PgTarget } from '../lib/pg-uri.js';
import { readSecretFile } from '../lib/secrets.js';

/** The password this node stored for the monitor, or undefined. */
export function storedMonitorPassword(pgdata: string): string | undefined {
  return readSecretFile(secretFilePath(pgdata, 'monitor.password'), 'monitor password file');
}

/** `target` with the node's stored monitor password when it has none of its own. */
export function withStoredMonitorPassword(target: PgTarget, pgdata: string): PgTarget {
  if (target.password !== undefined) return target;
  const password = storedMonitorPassword(pgdata);
  return password === undefined ? target : { ...target, password };
}

/** The monitor of the node of `pgdata`, from its URI (`what` names it in errors). */
export function nodeMonitorTarget(uri: string, pgdata: string, what = 'pg_autoctl.monitor'): PgTarget {
  return withStoredMonitorPassword(parsePgUri(uri, what), pgdata);
}
