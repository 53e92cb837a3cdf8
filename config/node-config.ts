// pg_autoctl.cfg: the per-node INI file that pg_auto_failover keeps under XDG_CONFIG_HOME,
// read and written in the original's layout so that scripts looking for it find it.
import { mkdirSync, readFileSync } from 'node:fs';
import { chownNoFollow, writeFileAs } from '../lib/atomic-file.js';
import { AUTH_METHODS, type AuthMethod } from '../lib/auth-method.js';
import { dirname } from 'node:path';
import { BadConfig } from '../lib/errors.js';
import { FieldErrors } from '../lib/fields.js';
import { hostnameProblem, listenAddressesProblem, pathProblem, roleNameProblem, WHAT } from '../lib/identity.js';
import { parseIni, stringifyIni, type Ini } from '../lib/ini.js';
import { ownerOfNearest } from '../lib/os-users.js';
import { LOCAL_HOST_WHAT, localHostProblem } from '../lib/test-mode.js';
import { monitorUri, type PgTarget } from '../lib/pg-uri.js';
import { sslFromIni, sslToIni, type SslConfig } from '../lib/ssl.js';
import { configFilePath } from './paths.js';
import { hooksFromIni, hooksToIni, httpFromIni, httpToIni, type HooksConfig, type HttpConfig } from './integrations-config.js';

export const MONITOR_DBNAME = 'pg_auto_failover';

export interface MonitorConfig {
  role: 'monitor';
  hostname: string;
  pgdata: string;
  pgCtl: string;
  dbname: string;
  username: string;
  /** Unix socket directory (libpq's PGHOST). */
  host: string;
  port: number;
  listenAddresses: string;
  authMethod: AuthMethod;
  /** 'app' when we edit pg_hba.conf, 'skip' with --skip-pg-hba. */
  hbaLevel: 'app' | 'skip';
  /** [ssl]: whether Postgres serves SSL, and the sslmode of the monitor URI */
  ssl: SslConfig;
  /** [http] (the status page and /metrics) and [hooks] (on_failover), when the file has them */
  http?: HttpConfig;
  hooks?: HooksConfig;
}

export function monitorConfigToIni(c: MonitorConfig): Ini {
  const http = c.http && httpToIni(c.http);
  const hooks = c.hooks && hooksToIni(c.hooks);
  return {
    pg_autoctl: { role: c.role, hostname: c.hostname },
    postgresql: {
      pgdata: c.pgdata,
      pg_ctl: c.pgCtl,
      dbname: c.dbname,
      username: c.username,
      host: c.host,
      port: String(c.port),
      listen_addresses: c.listenAddresses,
      auth_method: c.authMethod,
      hba_level: c.hbaLevel,
    },
    ssl: sslToIni(c.ssl),
    ...(http ? { http } : {}),
    ...(hooks ? { hooks } : {}),
  };
}

/** The monitor's own database over its Unix socket, as the user that runs it (database: pg_auto_failover by default). */
export function monitorSocketTarget(c: MonitorConfig, database = c.dbname): PgTarget {
  return { host: c.host, port: c.port, user: c.username, database, sslmode: 'disable' };
}

/** The URI keepers use to reach this monitor, with its sslmode (and CA/CRL files when set). */
export function monitorUriForKeepers(c: MonitorConfig): string {
  return monitorUri({ host: c.hostname, port: c.port, sslmode: c.ssl.sslMode, sslrootcert: c.ssl.caFile, sslcrl: c.ssl.crlFile, dbname: c.dbname });
}

export function monitorConfigFromIni(ini: Ini, path: string): MonitorConfig {
  const pgs = ini.postgresql ?? {};
  const f = new FieldErrors();
  const config: MonitorConfig = {
    role: f.oneOf('pg_autoctl.role', ini.pg_autoctl?.role, ['monitor'] as const),
    hostname: f.checked('pg_autoctl.hostname', ini.pg_autoctl?.hostname, WHAT.hostname, hostnameProblem),
    pgdata: f.checked('postgresql.pgdata', pgs.pgdata, WHAT.path, pathProblem),
    pgCtl: f.checked('postgresql.pg_ctl', pgs.pg_ctl, WHAT.path, pathProblem),
    dbname: f.checked('postgresql.dbname', pgs.dbname ?? MONITOR_DBNAME, WHAT.roleName, roleNameProblem),
    username: f.checked('postgresql.username', pgs.username, WHAT.roleName, roleNameProblem),
    host: f.checked('postgresql.host', pgs.host ?? '/tmp', LOCAL_HOST_WHAT, localHostProblem),
    port: f.number('postgresql.port', pgs.port, { int: true, min: 1, max: 65535 }),
    listenAddresses: f.checked('postgresql.listen_addresses', pgs.listen_addresses, WHAT.listen, listenAddressesProblem),
    authMethod: f.oneOf('postgresql.auth_method', pgs.auth_method ?? 'trust', AUTH_METHODS),
    hbaLevel: f.oneOf('postgresql.hba_level', pgs.hba_level ?? 'app', ['app', 'skip'] as const),
    ssl: sslFromIni(ini.ssl, (issue) => f.issues.push(issue)),
  };
  // set only when the file has the section (the config of a node without them stays as it was)
  if (ini.http) config.http = httpFromIni(ini.http, f);
  if (ini.hooks) config.hooks = hooksFromIni(ini.hooks, 'monitor', f);
  if (!f.ok) throw new BadConfig(`invalid monitor configuration in ${path}: ${f.issues.join('; ')}`);
  return Object.freeze(config);
}

export interface NodeIni {
  path: string;
  ini: Ini;
  role: string | undefined;
}

/** The config file of the node whose PGDATA is `pgdata` (absolute), or undefined if none. */
export function readNodeIni(pgdata: string, path = configFilePath(pgdata)): NodeIni | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    // a node set up by another user (root, say): not "no node here" nor "--name is required"
    const owner = code === 'EACCES' ? ownerOfNearest(path) : undefined;
    throw new BadConfig(`cannot read ${path}: ${code === 'EACCES' ? 'permission denied' : (err as Error).message}`, {
      cause: err,
      ...(owner ? { hint: `run the command as ${owner}, the user the node's configuration belongs to` } : {}),
    });
  }
  let ini: Ini;
  try {
    ini = parseIni(text);
  } catch (err) {
    throw new BadConfig(`cannot parse ${path}: ${(err as Error).message}`, { cause: err });
  }
  return { path, ini, role: ini.pg_autoctl?.role };
}

/** readNodeIni, or a BadConfig (exit 2) naming PGDATA and the file that is missing. */
export function requireNodeIni(pgdata: string, opts: { path?: string; hint?: string } = {}): NodeIni {
  const path = opts.path ?? configFilePath(pgdata);
  const node = readNodeIni(pgdata, path);
  if (!node) throw new BadConfig(`no pgaf node is configured for PGDATA ${pgdata} (no ${path})`, opts.hint ? { hint: opts.hint } : undefined);
  return node;
}

/** The monitor's own config file for PGDATA; BadConfig when PGDATA is not a pgaf monitor. */
export function loadMonitorConfig(pgdata: string): MonitorConfig {
  const node = requireNodeIni(pgdata);
  if (node.role !== 'monitor') throw new BadConfig(`PGDATA ${pgdata} is a ${node.role ?? 'unknown'} node, not a monitor`);
  return monitorConfigFromIni(node.ini, node.path);
}

/**
 * Writes the file atomically and without following a symlink (lib/atomic-file.ts), mode 0600
 * in a 0700 directory: it may hold the replication password. A replaced file keeps its owner.
 */
export function writeNodeIni(path: string, ini: Ini): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    chownNoFollow(dir, undefined, 0o700);
  } catch (err) {
    // a directory of another user's that we may write in: the file itself is 0600
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
  writeFileAs(path, stringifyIni(ini), undefined, { mode: 0o600, keepOwner: true });
}
