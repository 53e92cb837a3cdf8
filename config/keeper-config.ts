// The data node's pg_autoctl.cfg (role keeper): sections and keys of the original's layout.
import { z } from 'zod';
import { BadConfig } from '../lib/errors.js';
import type { Ini } from '../lib/ini.js';

const port = z.coerce.number().int().min(1).max(65535);
const seconds = z.coerce.number().positive();

export const KeeperConfigSchema = z.object({
  role: z.literal('keeper'),
  monitor: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URI'),
  formation: z.string().min(1),
  group: z.coerce.number().int().min(0),
  name: z.string().min(1).max(63),
  /** address the monitor and the other nodes use to reach this node */
  hostname: z.string().min(1),
  nodekind: z.literal('standalone'),
  pgdata: z.string().startsWith('/'),
  pgCtl: z.string().min(1),
  username: z.string().min(1),
  dbname: z.string().min(1),
  /** Unix socket directory */
  host: z.string().startsWith('/'),
  port,
  listenAddresses: z.string().min(1),
  authMethod: z.enum(['trust', 'md5', 'scram-sha-256']),
  hbaLevel: z.enum(['skip', 'minimal', 'app']),
  replicationPassword: z.string().optional(),
  maximumBackupRate: z.string().regex(/^\d+[kMG]?$/, 'a rate like 100M'),
  candidatePriority: z.coerce.number().int().min(0).max(100),
  replicationQuorum: z.enum(['true', 'false']).transform((v) => v === 'true'),
  networkPartitionTimeout: seconds,
  restartFailureTimeout: seconds,
  restartFailureMaxRetries: z.coerce.number().int().min(0),
  sslMode: z.string().min(1),
});
export type KeeperConfig = z.infer<typeof KeeperConfigSchema>;

export const KEEPER_DEFAULTS = {
  formation: 'default',
  group: 0,
  dbname: 'postgres',
  candidatePriority: 50,
  replicationQuorum: true,
  // seconds; the keeper also stays below the monitor's primary_demote_timeout (keeper/loop/run.ts)
  networkPartitionTimeout: 5,
  restartFailureTimeout: 20,
  restartFailureMaxRetries: 3,
  maximumBackupRate: '100M',
  sslMode: 'prefer',
} as const;

export function keeperConfigToIni(c: KeeperConfig): Ini {
  const ini: Ini = {
    pg_autoctl: {
      role: c.role,
      monitor: c.monitor,
      formation: c.formation,
      group: String(c.group),
      name: c.name,
      hostname: c.hostname,
      nodekind: c.nodekind,
    },
    postgresql: {
      pgdata: c.pgdata,
      pg_ctl: c.pgCtl,
      username: c.username,
      dbname: c.dbname,
      host: c.host,
      port: String(c.port),
      listen_addresses: c.listenAddresses,
      auth_method: c.authMethod,
      hba_level: c.hbaLevel,
    },
    ssl: { active: '0', sslmode: c.sslMode },
    replication: {
      maximum_backup_rate: c.maximumBackupRate,
      candidate_priority: String(c.candidatePriority),
      replication_quorum: String(c.replicationQuorum),
    },
    timeout: {
      network_partition_timeout: String(c.networkPartitionTimeout),
      postgresql_restart_failure_timeout: String(c.restartFailureTimeout),
      postgresql_restart_failure_max_retries: String(c.restartFailureMaxRetries),
    },
  };
  if (c.replicationPassword !== undefined) ini.replication!.password = c.replicationPassword;
  return ini;
}

export function keeperConfigFromIni(ini: Ini, path: string): KeeperConfig {
  const a = ini.pg_autoctl ?? {};
  const p = ini.postgresql ?? {};
  const r = ini.replication ?? {};
  const t = ini.timeout ?? {};
  const parsed = KeeperConfigSchema.safeParse({
    role: a.role,
    monitor: a.monitor,
    formation: a.formation ?? KEEPER_DEFAULTS.formation,
    group: a.group ?? KEEPER_DEFAULTS.group,
    name: a.name,
    hostname: a.hostname,
    nodekind: a.nodekind ?? 'standalone',
    pgdata: p.pgdata,
    pgCtl: p.pg_ctl,
    username: p.username,
    dbname: p.dbname ?? KEEPER_DEFAULTS.dbname,
    host: p.host,
    port: p.port,
    listenAddresses: p.listen_addresses,
    authMethod: p.auth_method ?? 'trust',
    hbaLevel: p.hba_level ?? 'app',
    replicationPassword: r.password,
    maximumBackupRate: r.maximum_backup_rate ?? KEEPER_DEFAULTS.maximumBackupRate,
    candidatePriority: r.candidate_priority ?? KEEPER_DEFAULTS.candidatePriority,
    replicationQuorum: r.replication_quorum ?? String(KEEPER_DEFAULTS.replicationQuorum),
    networkPartitionTimeout: t.network_partition_timeout ?? KEEPER_DEFAULTS.networkPartitionTimeout,
    restartFailureTimeout: t.postgresql_restart_failure_timeout ?? KEEPER_DEFAULTS.restartFailureTimeout,
    restartFailureMaxRetries: t.postgresql_restart_failure_max_retries ?? KEEPER_DEFAULTS.restartFailureMaxRetries,
    sslMode: ini.ssl?.sslmode ?? KEEPER_DEFAULTS.sslMode,
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new BadConfig(`invalid keeper configuration in ${path}: ${issues}`);
  }
  return Object.freeze(parsed.data);
}
