// Every SQL statement the keeper runs on its local Postgres: plain functions over a Query
// (lib/sql.ts holds the connection; `pg` is imported nowhere else).
import { openSession, withClient, type Query, type SqlSession } from '../../lib/sql.js';
import { scramVerifier, scramVerifierMatches } from '../../lib/secrets.js';
import type { PgTarget } from '../../lib/pg-uri.js';
import { HEALTH_CHECK_USER, REPLICATION_USER, STANDBY_PREFIX } from './names.js';
import type { SlotRow } from './slots.js';

/** The local server over its Unix socket, as the superuser, database postgres. */
export function localTarget(socketDir: string, port: number, superuser: string): PgTarget {
  return { host: socketDir, port, user: superuser, database: 'postgres', sslmode: 'disable' };
}

/**
 * The keeper's superuser sessions pin their search_path: no object of another schema, and no
 * temporary object, can stand in for a catalog one (issue #10.5).
 */
export const PINNED_SEARCH_PATH = '-c search_path=pg_catalog,pg_temp';

export function withLocal<T>(target: PgTarget, fn: (q: Query) => Promise<T>, connectTimeoutMs = 5_000): Promise<T> {
  return withClient(target, { kind: 'postgres', connectTimeoutMs, applicationName: 'pgaf keeper', options: PINNED_SEARCH_PATH }, fn);
}

/** The same connection, kept open (keeper/pg/local-session.ts). */
export function openLocalSession(target: PgTarget, connectTimeoutMs: number): Promise<SqlSession> {
  return openSession(target, { kind: 'postgres', connectTimeoutMs, applicationName: 'pgaf keeper', options: PINNED_SEARCH_PATH });
}

export async function isInRecovery(q: Query): Promise<boolean> {
  const [r] = await q<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
  return r?.r === true;
}

/** Asks the startup process to end recovery, without waiting for it (the caller polls). */
export async function promoteNoWait(q: Query): Promise<void> {
  await q('SELECT pg_promote(wait => false)');
}

/** The connection string of the WAL receiver while it streams (password hidden by Postgres). */
export async function walReceiverConninfo(q: Query): Promise<string | undefined> {
  const [r] = await q<{ conninfo: string | null }>("SELECT conninfo FROM pg_stat_wal_receiver WHERE status = 'streaming'");
  return r?.conninfo ?? undefined;
}

export async function systemIdentifier(q: Query): Promise<string> {
  const [r] = await q<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
  return r?.id ?? '';
}

export async function checkpoint(q: Query): Promise<void> {
  await q('CHECKPOINT');
}

/** ALTER SYSTEM SET name = value (as a string literal, quoted by the server), not reloaded. */
export async function alterSystem(q: Query, name: string, value: string): Promise<void> {
  const [r] = await q<{ stmt: string }>('SELECT format($1::text, $2::text, $3::text) AS stmt', [
    'ALTER SYSTEM SET %I = %L',
    name,
    value,
  ]);
  if (!r) throw new Error('format() returned nothing');
  await q(r.stmt);
}

export async function reloadConf(q: Query): Promise<void> {
  await q('SELECT pg_reload_conf()');
}

/**
 * The value postgresql.auto.conf (ALTER SYSTEM) gives `name` when it has the last word on it
 * in the configuration files as they are now (pg_file_settings re-reads them); else undefined.
 */
export async function autoConfSetting(q: Query, name: string): Promise<string | undefined> {
  const [r] = await q<{ setting: string; auto: boolean }>(
    `SELECT setting, sourcefile = current_setting('data_directory') || '/postgresql.auto.conf' AS auto
       FROM pg_file_settings WHERE name = $1 AND error IS NULL ORDER BY seqno DESC LIMIT 1`,
    [name],
  );
  return r?.auto ? r.setting : undefined;
}

export async function showSetting(q: Query, name: string): Promise<string> {
  const [r] = await q<{ v: string }>('SELECT current_setting($1) AS v', [name]);
  return r?.v ?? '';
}

/**
 * The two roles of a data node, and the function grants pg_rewind needs on its source.
 * One transaction, which may not wait for a synchronous standby nor be read-only (it writes
 * catalogs); its settings end with it, as the session serves the keeper's later steps
 * (local-session.ts). A failure leaves the transaction to the connection's close.
 */
export async function ensureRoles(q: Query, replicationPassword?: string): Promise<string[]> {
  await q('BEGIN READ WRITE');
  await q('SET LOCAL synchronous_commit = local');
  const created: string[] = [];
  const have = new Set(
    (await q<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [[REPLICATION_USER, HEALTH_CHECK_USER]])).map(
      (r) => r.rolname,
    ),
  );
  if (!have.has(REPLICATION_USER)) {
    await q(`CREATE ROLE ${REPLICATION_USER} WITH LOGIN REPLICATION`);
    created.push(REPLICATION_USER);
  }
  if (!have.has(HEALTH_CHECK_USER)) {
    await q(`CREATE ROLE ${HEALTH_CHECK_USER} WITH LOGIN CONNECTION LIMIT 1`);
    created.push(HEALTH_CHECK_USER);
  }
  if (replicationPassword) {
    // a SCRAM verifier computed here: the password itself is never in SQL text (nor in the
    // server's log, nor in pg_stat_activity); set only when it differs from the role's
    const [r] = await q<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1', [REPLICATION_USER]);
    if (!scramVerifierMatches(r?.rolpassword, replicationPassword)) {
      await q(`ALTER ROLE ${REPLICATION_USER} WITH PASSWORD '${scramVerifier(replicationPassword)}'`);
    }
  }
  for (const fn of [
    'pg_catalog.pg_ls_dir(text, boolean, boolean)',
    'pg_catalog.pg_stat_file(text, boolean)',
    'pg_catalog.pg_read_binary_file(text)',
    'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)',
  ]) {
    await q(`GRANT EXECUTE ON FUNCTION ${fn} TO ${REPLICATION_USER}`);
  }
  await q('COMMIT');
  return created;
}

export async function listSlots(q: Query): Promise<SlotRow[]> {
  const rows = await q<{ slot_name: string; restart_lsn: string | null; active: boolean }>(
    "SELECT slot_name, restart_lsn::text, active FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY slot_name",
  );
  return rows.map((r) => ({ name: r.slot_name, restartLsn: r.restart_lsn, active: r.active }));
}

/** A physical slot that reserves WAL at once (a slot without WAL cannot be advanced). */
export async function createPhysicalSlot(q: Query, name: string): Promise<void> {
  await q('SELECT pg_create_physical_replication_slot($1, true)', [name]);
}

export async function dropSlot(q: Query, name: string): Promise<void> {
  await q('SELECT pg_drop_replication_slot($1)', [name]);
}

export async function advanceSlot(q: Query, name: string, lsn: string): Promise<void> {
  await q('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [name, lsn]);
}

export async function ourSlotNames(q: Query): Promise<string[]> {
  return (await listSlots(q)).map((s) => s.name).filter((n) => n.startsWith(STANDBY_PREFIX));
}

export async function currentFlushLsn(q: Query): Promise<string> {
  const [r] = await q<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn');
  return r?.lsn ?? '0/0';
}

export async function replayLsn(q: Query): Promise<string | null> {
  const [r] = await q<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
  return r?.lsn ?? null;
}

/** Whether replay reached `lsn` (compared by the server). */
export async function replayReached(q: Query, lsn: string): Promise<boolean> {
  const [r] = await q<{ ok: boolean | null }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]);
  return r?.ok === true;
}

export interface ReplicationRow {
  applicationName: string;
  state: string;
  syncState: string;
  flushLsn: string | null;
  replayLsn: string | null;
  /** ms since the standby's last status reply (or since it connected, before its first one) */
  replyAgeMs: number | null;
}

/** Whether some pgaf standby confirmed `lsn`: flushed it, or replayed it as a sync/quorum standby. */
export async function standbyConfirmed(q: Query, lsn: string): Promise<boolean> {
  const [r] = await q<{ ok: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_stat_replication
        WHERE starts_with(application_name, $1)
          AND (flush_lsn >= $2::pg_lsn
               OR (sync_state IN ('sync', 'quorum') AND replay_lsn >= $2::pg_lsn))) AS ok`,
    [STANDBY_PREFIX, lsn],
  );
  return r?.ok === true;
}

export interface PositionRow {
  inRecovery: boolean;
  lsn: string;
  timeline: number;
}

/** What the HTTP endpoints add to the tick's facts (keeper/http/): read-only mode, the WAL receiver. */
export interface ServingRow {
  /** default_transaction_read_only is on */
  readOnly: boolean;
  /** pg_stat_wal_receiver.status is streaming */
  streaming: boolean;
  /** the upstream's end of WAL as its last message said (latest_end_lsn), at least what was received */
  upstreamLsn: string | null;
  replayLsn: string | null;
}

export interface TickFactsRow extends PositionRow {
  /** pg_stat_replication rows of pgaf standbys (application_name pgautofailover_standby_*) */
  replication: ReplicationRow[];
  serving: ServingRow;
}

/**
 * Everything a keeper tick reads from its Postgres, in one statement (one round trip a tick;
 * it was four). Where this server is: a primary's flush LSN and the timeline of its WAL file
 * name; a standby's greater of the receive and replay LSNs, and the newest timeline among the
 * WAL receiver's, the last restartpoint's and the minimum recovery point's. The CASEs keep the
 * primary-only functions from running during recovery, where they fail.
 */
export async function tickFacts(q: Query): Promise<TickFactsRow> {
  const [r] = await q<{
    rec: boolean;
    lsn: string | null;
    tli_hex: string | null;
    tli: number | null;
    ro: string;
    status: string | null;
    upstream: string | null;
    replay: string | null;
    replication: Array<{
      application_name: string;
      state: string;
      sync_state: string;
      flush_lsn: string | null;
      replay_lsn: string | null;
      reply_age_ms: number | null;
    }> | null;
  }>(
    `SELECT r.rec,
            CASE WHEN r.rec THEN greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text
                 ELSE pg_current_wal_flush_lsn()::text END AS lsn,
            CASE WHEN NOT r.rec THEN substr(pg_walfile_name(pg_current_wal_flush_lsn()), 1, 8) END AS tli_hex,
            CASE WHEN r.rec THEN greatest((SELECT max(received_tli) FROM pg_stat_wal_receiver),
                                          (SELECT timeline_id FROM pg_control_checkpoint()),
                                          (SELECT min_recovery_end_timeline FROM pg_control_recovery())) END AS tli,
            current_setting('default_transaction_read_only') AS ro,
            (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS status,
            -- latest_end_lsn stays null until the upstream sends WAL or a keepalive
            greatest((SELECT latest_end_lsn FROM pg_stat_wal_receiver LIMIT 1), pg_last_wal_receive_lsn())::text AS upstream,
            pg_last_wal_replay_lsn()::text AS replay,
            (SELECT json_agg(json_build_object(
                      'application_name', application_name, 'state', state, 'sync_state', sync_state,
                      'flush_lsn', flush_lsn::text, 'replay_lsn', replay_lsn::text,
                      -- a walsender that has not had a reply yet was connected by its standby just now
                      'reply_age_ms', (extract(epoch FROM clock_timestamp() - coalesce(reply_time, backend_start)) * 1000)::float8)
                    ORDER BY application_name)
               FROM pg_stat_replication
              WHERE starts_with(application_name, $1)) AS replication
       FROM (SELECT pg_is_in_recovery() AS rec) AS r`,
    [STANDBY_PREFIX],
  );
  const inRecovery = r?.rec ?? false;
  const timeline = inRecovery ? Number(r?.tli ?? 0) : r?.tli_hex ? parseInt(r.tli_hex, 16) : 0;
  return {
    inRecovery,
    lsn: r?.lsn ?? '0/0',
    timeline,
    replication: (r?.replication ?? []).map((x) => ({
      applicationName: x.application_name,
      state: x.state,
      syncState: x.sync_state,
      flushLsn: x.flush_lsn,
      replayLsn: x.replay_lsn,
      replyAgeMs: x.reply_age_ms,
    })),
    serving: { readOnly: r?.ro === 'on', streaming: r?.status === 'streaming', upstreamLsn: r?.upstream ?? null, replayLsn: r?.replay ?? null },
  };
}
