// What the keeper writes into PGDATA, rendered as text (pure): postgresql-auto-failover.conf,
// postgresql-auto-failover-standby.conf and the include lines in postgresql.conf.
import { hostnameProblem } from '../../lib/identity.js';
import type { AuthMethod } from '../../lib/postgres-ctl.js';
import { NO_SSL, postgresSslLines, sslConninfoParts, type SslConfig } from '../../lib/ssl.js';
import { socketDirectories } from '../../lib/test-mode.js';
import { REPLICATION_USER, SETTINGS_FILE, STANDBY_SETTINGS_FILE, standbyName } from './names.js';

export interface SettingsInput {
  /** listen_addresses, e.g. 127.0.0.1 */
  listenAddresses: string;
  port: number;
  socketDir: string;
  authMethod: AuthMethod;
  /** ssl and its files (default: ssl = off) */
  ssl?: SslConfig;
}

export interface StandbyInput {
  nodeId: number;
  /** Where to stream from; none = standby.signal with no primary_conninfo. */
  upstream?: { host: string; port: number };
  /** Stop replay at this LSN and pause (fast_forward). */
  targetLsn?: string;
  /** the pgpass file with the replication password (never the password itself) */
  passfile?: string;
  /** sslmode (and CA/CRL files) of the replication connection (default prefer) */
  ssl?: SslConfig;
}

const HEADER = '# Written by pgaf (pg_auto_failover compatible). Rewritten by the keeper: do not edit.';

/** A value as a postgresql.conf string literal: quotes doubled, backslashes escaped. */
export function confQuote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A value inside a libpq conninfo string, quoted when it needs it. */
export function conninfoValue(value: string): string {
  if (value !== '' && !/[\s'\\]/.test(value)) return value;
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function conninfo(parts: Record<string, string | number | undefined>): string {
  return Object.entries(parts)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${conninfoValue(String(v))}`)
    .join(' ');
}

function passwordEncryption(auth: AuthMethod): string {
  return auth === 'md5' ? 'md5' : 'scram-sha-256';
}

/** postgresql-auto-failover.conf: the settings every pgaf data node runs with. */
export function renderSettings(s: SettingsInput): string {
  const lines = [
    HEADER,
    `listen_addresses = ${confQuote(s.listenAddresses)}`,
    `port = ${s.port}`,
    `unix_socket_directories = ${confQuote(socketDirectories(s.socketDir))}`,
    `max_wal_senders = 12`,
    `max_replication_slots = 12`,
    `wal_level = 'replica'`,
    `wal_log_hints = on`,
    `wal_sender_timeout = '30s'`,
    // standbys report every second even when idle: the primary's keeper counts a standby as
    // contact only while its replies are fresh (keeper/pg/facts.ts)
    `wal_receiver_status_interval = '1s'`,
    `wal_keep_size = '512MB'`,
    `hot_standby = on`,
    `hot_standby_feedback = on`,
    `synchronous_commit = on`,
    // A server that was not shut down cleanly (a base backup's first start, a crashed primary
    // coming back) first makes all of PGDATA durable; by default one file at a time (fsync of
    // ~1,000 files for a fresh cluster: 0.1-0.2 s of a standby's first start here). syncfs
    // flushes the same directories (PGDATA, pg_wal, tablespaces) with one call per filesystem,
    // as lib/postgres-ctl.ts syncDataDir does; Linux reports writeback errors to it since 5.8.
    `recovery_init_sync_method = 'syncfs'`,
    `logging_collector = off`,
    `log_destination = 'stderr'`,
    `password_encryption = ${confQuote(passwordEncryption(s.authMethod))}`,
    ...postgresSslLines(s.ssl ?? NO_SSL, confQuote),
  ];
  return lines.join('\n') + '\n';
}

/** The replication connection string of node `nodeId` to `upstream`; the password stays in `passfile`. */
export function primaryConninfo(nodeId: number, upstream: { host: string; port: number }, passfile?: string, ssl: SslConfig = NO_SSL): string {
  // the upstream's host comes from the monitor: never a value that could break the settings file
  const problem = hostnameProblem(upstream.host);
  if (problem) throw new Error(`refusing to stream from the host ${JSON.stringify(upstream.host)}: it is not a host name or an address (${problem})`);
  return conninfo({
    host: upstream.host,
    port: upstream.port,
    user: REPLICATION_USER,
    application_name: standbyName(nodeId),
    passfile: passfile || undefined,
    ...sslConninfoParts(ssl),
    connect_timeout: 2,
    keepalives: 1,
    keepalives_idle: 5,
    keepalives_interval: 1,
    keepalives_count: 3,
  });
}

/** postgresql-auto-failover-standby.conf for a standby (beside an empty standby.signal). */
export function renderStandbySettings(s: StandbyInput): string {
  const lines = [HEADER];
  if (s.upstream) {
    lines.push(`primary_conninfo = ${confQuote(primaryConninfo(s.nodeId, s.upstream, s.passfile, s.ssl))}`);
    lines.push(`primary_slot_name = ${confQuote(standbyName(s.nodeId))}`);
  } else {
    lines.push(`primary_conninfo = ''`, `primary_slot_name = ''`);
  }
  lines.push(`recovery_target_timeline = 'latest'`);
  if (s.targetLsn) {
    lines.push(
      `recovery_target_lsn = ${confQuote(s.targetLsn)}`,
      `recovery_target_inclusive = true`,
      `recovery_target_action = 'pause'`,
    );
  }
  return lines.join('\n') + '\n';
}

/** The standby file of a node that is not a standby: no settings at all. */
export function renderNoStandbySettings(): string {
  return `${HEADER}\n# Not a standby.\n`;
}

function includes(text: string, file: string): boolean {
  const escaped = file.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  return new RegExp(`^\\s*include(_if_exists)?\\s*=?\\s*'${escaped}'`, 'm').test(text);
}

/** postgresql.conf with our two include lines (each added once), and whether it changed. */
export function withIncludes(postgresqlConf: string): { text: string; changed: boolean } {
  const missing = [STANDBY_SETTINGS_FILE, SETTINGS_FILE].filter((f) => !includes(postgresqlConf, f));
  if (!missing.length) return { text: postgresqlConf, changed: false };
  const sep = postgresqlConf === '' || postgresqlConf.endsWith('\n') ? '' : '\n';
  const lines = missing.map((f) => `include '${f}' # Auto-generated by pgaf, do not remove`);
  return { text: `${postgresqlConf}${sep}${lines.join('\n')}\n`, changed: true };
}

/** The words of a libpq conninfo string (key=value, values maybe quoted), in order. */
export function parseConninfo(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const re = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null && m[0] !== '') {
    out.push([m[1]!, m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!]);
  }
  return out;
}

/** The value of a postgresql.conf string literal (confQuote reversed). */
function confUnquote(literal: string): string {
  return literal.slice(1, -1).replace(/''/g, "'").replace(/\\\\/g, '\\');
}

/**
 * The standby settings file with the SSL words of primary_conninfo (sslmode, sslrootcert,
 * sslcrl) set from `ssl`, everything else as it was; unchanged when there is no conninfo.
 */
export function withStandbySsl(text: string, ssl: SslConfig): string {
  return text.replace(/^primary_conninfo = ('(?:[^']|'')*')$/m, (line, literal: string) => {
    const words = parseConninfo(confUnquote(literal));
    if (!words.length) return line;
    const parts: Record<string, string | undefined> = {};
    for (const [k, v] of words) if (!['sslmode', 'sslrootcert', 'sslcrl'].includes(k)) parts[k] = v;
    const updated = conninfo({ ...parts, ...sslConninfoParts(ssl) });
    return `primary_conninfo = ${confQuote(updated)}`;
  });
}
