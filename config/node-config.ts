// pg_autoctl.cfg: the per-node INI file that pg_auto_failover keeps under XDG_CONFIG_HOME,
// read and written in the original's layout so that scripts looking for it find it.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { BadConfig } from '../lib/errors.js';
import { parseIni, stringifyIni, type Ini } from '../lib/ini.js';
import { configFilePath } from './paths.js';

export const MONITOR_DBNAME = 'pg_auto_failover';

const port = z.coerce.number().int().min(1).max(65535);

export const MonitorConfigSchema = z.object({
  role: z.literal('monitor'),
  hostname: z.string().min(1),
  pgdata: z.string().startsWith('/'),
  pgCtl: z.string().min(1),
  dbname: z.string().min(1),
  username: z.string().min(1),
  /** Unix socket directory (libpq's PGHOST). */
  host: z.string().min(1),
  port,
  listenAddresses: z.string().min(1),
  authMethod: z.enum(['trust', 'md5', 'scram-sha-256']),
  /** 'app' when we edit pg_hba.conf, 'skip' with --skip-pg-hba. */
  hbaLevel: z.enum(['app', 'skip']),
  sslMode: z.string().min(1),
});
export type MonitorConfig = z.infer<typeof MonitorConfigSchema>;

export function monitorConfigToIni(c: MonitorConfig): Ini {
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
    ssl: { active: '0', sslmode: c.sslMode },
  };
}

export function monitorConfigFromIni(ini: Ini, path: string): MonitorConfig {
  const pgs = ini.postgresql ?? {};
  const parsed = MonitorConfigSchema.safeParse({
    role: ini.pg_autoctl?.role,
    hostname: ini.pg_autoctl?.hostname,
    pgdata: pgs.pgdata,
    pgCtl: pgs.pg_ctl,
    dbname: pgs.dbname ?? MONITOR_DBNAME,
    username: pgs.username,
    host: pgs.host ?? '/tmp',
    port: pgs.port,
    listenAddresses: pgs.listen_addresses,
    authMethod: pgs.auth_method ?? 'trust',
    hbaLevel: pgs.hba_level ?? 'app',
    sslMode: ini.ssl?.sslmode ?? 'prefer',
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new BadConfig(`invalid monitor configuration in ${path}: ${issues}`);
  }
  return Object.freeze(parsed.data);
}

export interface NodeIni {
  path: string;
  ini: Ini;
  role: string | undefined;
}

/** The config file of the node whose PGDATA is `pgdata` (absolute), or undefined if none. */
export function readNodeIni(pgdata: string, path = configFilePath(pgdata)): NodeIni | undefined {
  if (!existsSync(path)) return undefined;
  let ini: Ini;
  try {
    ini = parseIni(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new BadConfig(`cannot parse ${path}: ${(err as Error).message}`, { cause: err });
  }
  return { path, ini, role: ini.pg_autoctl?.role };
}

/** Writes the file atomically (temp file + rename), creating its directory. */
export function writeNodeIni(path: string, ini: Ini): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const tmp = `${path}.new`;
  writeFileSync(tmp, stringifyIni(ini), { mode: 0o644 });
  renameSync(tmp, path);
}
