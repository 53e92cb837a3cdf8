// The data node's pg_autoctl.cfg (role keeper): sections and keys of the original's layout.
import { AUTH_METHODS, type AuthMethod } from '../lib/auth-method.js';
import { BadConfig } from '../lib/errors.js';
import { FieldErrors } from '../lib/fields.js';
import { formationNameProblem, hostnameProblem, listenAddressesProblem, nodeNameProblem, pathProblem, roleNameProblem, WHAT } from '../lib/identity.js';
import type { Ini } from '../lib/ini.js';
import { LOCAL_HOST_WHAT, localHostProblem } from '../lib/test-mode.js';
import { NO_SSL, sslFromIni, sslToIni, type SslConfig } from '../lib/ssl.js';
import { hooksFromIni, hooksToIni, httpFromIni, httpToIni, type HooksConfig, type HttpConfig } from './integrations-config.js';

/** lan: app, plus the local network's CIDR for --username on --dbname (--pg-hba-lan) */
export type HbaLevel = 'skip' | 'minimal' | 'app' | 'lan';

export interface KeeperConfig {
  role: 'keeper';
  /** the monitor URI; undefined when the node runs without a monitor (--disable-monitor) */
  monitor: string | undefined;
  formation: string;
  group: number;
  name: string;
  /** address the monitor and the other nodes use to reach this node */
  hostname: string;
  nodekind: 'standalone';
  pgdata: string;
  pgCtl: string;
  username: string;
  dbname: string;
  /** Unix socket directory */
  host: string;
  port: number;
  listenAddresses: string;
  authMethod: AuthMethod;
  hbaLevel: HbaLevel;
  replicationPassword?: string;
  maximumBackupRate: string;
  candidatePriority: number;
  replicationQuorum: boolean;
  /** seconds */
  networkPartitionTimeout: number;
  restartFailureTimeout: number;
  restartFailureMaxRetries: number;
  /** [ssl]: whether Postgres serves SSL, and the sslmode of our connections */
  ssl: SslConfig;
  /** [http] and [hooks] (config/integrations-config.ts), when the file has them */
  http?: HttpConfig;
  hooks?: HooksConfig;
}

/** What the original writes as pg_autoctl.monitor for a node without a monitor. */
export const MONITOR_DISABLED = 'PG_AUTOCTL_DISABLED';

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
  ssl: NO_SSL,
} as const;

export function keeperConfigToIni(c: KeeperConfig): Ini {
  const ini: Ini = {
    pg_autoctl: {
      role: c.role,
      monitor: c.monitor ?? MONITOR_DISABLED,
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
    ssl: sslToIni(c.ssl),
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
  const http = c.http && httpToIni(c.http);
  if (http) ini.http = http;
  const hooks = c.hooks && hooksToIni(c.hooks);
  if (hooks) ini.hooks = hooks;
  return ini;
}

/** Reads and checks the INI sections; errors name the file and the section.key. */
export function keeperConfigFromIni(ini: Ini, path: string): KeeperConfig {
  const a = ini.pg_autoctl ?? {};
  const p = ini.postgresql ?? {};
  const r = ini.replication ?? {};
  const t = ini.timeout ?? {};
  const f = new FieldErrors();
  const config: KeeperConfig = {
    role: f.oneOf('pg_autoctl.role', a.role, ['keeper'] as const),
    monitor:
      a.monitor === MONITOR_DISABLED
        ? undefined
        : f.string('pg_autoctl.monitor', a.monitor, { pattern: /^postgres(ql)?:\/\//, what: `a postgres:// URI or ${MONITOR_DISABLED}` }),
    formation: f.checked('pg_autoctl.formation', a.formation ?? KEEPER_DEFAULTS.formation, WHAT.formation, formationNameProblem),
    // the original writes group -1 for a node without a monitor: it is group 0 here
    group: a.monitor === MONITOR_DISABLED && a.group === '-1' ? 0 : f.number('pg_autoctl.group', a.group ?? KEEPER_DEFAULTS.group, { int: true, min: 0 }),
    name: f.checked('pg_autoctl.name', a.name, WHAT.nodeName, nodeNameProblem),
    hostname: f.checked('pg_autoctl.hostname', a.hostname, WHAT.hostname, hostnameProblem),
    nodekind: f.oneOf('pg_autoctl.nodekind', a.nodekind ?? 'standalone', ['standalone'] as const),
    pgdata: f.checked('postgresql.pgdata', p.pgdata, WHAT.path, pathProblem),
    pgCtl: f.checked('postgresql.pg_ctl', p.pg_ctl, WHAT.path, pathProblem),
    username: f.checked('postgresql.username', p.username, WHAT.roleName, roleNameProblem),
    dbname: f.checked('postgresql.dbname', p.dbname ?? KEEPER_DEFAULTS.dbname, WHAT.roleName, roleNameProblem),
    host: f.checked('postgresql.host', p.host, LOCAL_HOST_WHAT, localHostProblem),
    port: f.number('postgresql.port', p.port, { int: true, min: 1, max: 65535 }),
    listenAddresses: f.checked('postgresql.listen_addresses', p.listen_addresses, WHAT.listen, listenAddressesProblem),
    authMethod: f.oneOf('postgresql.auth_method', p.auth_method ?? 'trust', AUTH_METHODS),
    hbaLevel: f.oneOf('postgresql.hba_level', p.hba_level ?? 'app', ['skip', 'minimal', 'app', 'lan'] as const),
    replicationPassword: f.optionalString('replication.password', r.password),
    maximumBackupRate: f.string('replication.maximum_backup_rate', r.maximum_backup_rate ?? KEEPER_DEFAULTS.maximumBackupRate, {
      pattern: /^\d+[kMG]?$/,
      what: 'a rate like 100M',
    }),
    candidatePriority: f.number('replication.candidate_priority', r.candidate_priority ?? KEEPER_DEFAULTS.candidatePriority, {
      int: true,
      min: 0,
      max: 100,
    }),
    replicationQuorum: f.bool('replication.replication_quorum', r.replication_quorum ?? String(KEEPER_DEFAULTS.replicationQuorum)),
    networkPartitionTimeout: f.number('timeout.network_partition_timeout', t.network_partition_timeout ?? KEEPER_DEFAULTS.networkPartitionTimeout, {
      positive: true,
    }),
    restartFailureTimeout: f.number(
      'timeout.postgresql_restart_failure_timeout',
      t.postgresql_restart_failure_timeout ?? KEEPER_DEFAULTS.restartFailureTimeout,
      { positive: true },
    ),
    restartFailureMaxRetries: f.number(
      'timeout.postgresql_restart_failure_max_retries',
      t.postgresql_restart_failure_max_retries ?? KEEPER_DEFAULTS.restartFailureMaxRetries,
      { int: true, min: 0 },
    ),
    ssl: sslFromIni(ini.ssl, (issue) => f.issues.push(issue)),
  };
  // set only when the file has the section (the config of a node without them stays as it was)
  if (ini.http) config.http = httpFromIni(ini.http, f);
  if (ini.hooks) config.hooks = hooksFromIni(ini.hooks, 'keeper', f);
  if (!f.ok) throw new BadConfig(`invalid keeper configuration in ${path}: ${f.issues.join('; ')}`);
  return Object.freeze(config);
}

/** The monitor URI of a node, or BadConfig (exit 2, as the original) when it runs without one. */
export function requireMonitorUri(c: KeeperConfig, path: string): string {
  if (c.monitor === undefined) {
    throw new BadConfig(`this node runs without a monitor (pg_autoctl.monitor is ${MONITOR_DISABLED} in ${path})`, {
      hint: 'pass --monitor <postgres:// URI>, or register the node with pgaf enable monitor <URI>',
    });
  }
  return c.monitor;
}
