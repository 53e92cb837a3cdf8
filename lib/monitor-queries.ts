// Read queries against the monitor's SQL API (schema pgautofailover), with rows normalised
// to plain JSON-friendly values.
import type { Query } from './sql.js';

export interface NodeStateRow {
  formation_kind: string;
  nodename: string;
  nodehost: string;
  nodeport: number;
  group_id: number;
  node_id: number;
  current_group_state: string;
  assigned_group_state: string;
  candidate_priority: number;
  replication_quorum: boolean;
  reported_tli: number;
  reported_lsn: string;
  health: number;
  nodecluster: string;
  [extra: string]: unknown;
}

export interface EventRow {
  eventid: number;
  eventtime: string;
  formationid: string;
  nodeid: number;
  groupid: number;
  nodename: string;
  nodehost: string;
  nodeport: number;
  reportedstate: string;
  goalstate: string;
  reportedrepstate: string;
  reportedtli: number;
  reportedlsn: string;
  candidatepriority: number;
  replicationquorum: boolean;
  description: string;
  [extra: string]: unknown;
}

const NUMERIC = new Set(['node_id', 'nodeid', 'eventid', 'group_id', 'groupid', 'nodeport', 'reported_tli', 'reportedtli', 'health']);

/** bigint columns arrive as strings from pg; ids and ports are small enough for numbers. */
function normalise<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (NUMERIC.has(k) && typeof v === 'string' && /^-?\d+$/.test(v)) out[k] = Number(v);
    else if (v instanceof Date) out[k] = v.toISOString();
    else out[k] = v;
  }
  return out as T;
}

export async function currentState(q: Query, formation: string, group?: number): Promise<NodeStateRow[]> {
  const rows =
    group === undefined
      ? await q('SELECT * FROM pgautofailover.current_state($1::text)', [formation])
      : await q('SELECT * FROM pgautofailover.current_state($1::text, $2::int)', [formation, group]);
  return rows.map((r) => normalise<NodeStateRow>(r));
}

/** The formation's multi-host URI, or null when it has no node yet. */
export async function formationUri(q: Query, formation: string, sslmode = 'prefer'): Promise<string | null> {
  const rows = await q<{ uri: string | null }>(
    `SELECT pgautofailover.formation_uri($1::text, 'default', $2::text) AS uri`,
    [formation, sslmode],
  );
  return rows[0]?.uri ?? null;
}

/** Event times as Postgres' JSON renders them, with microseconds ("2026-11-26T04:20:09.090551+00:00"). */
const EVENT_TIME_JSON = `to_json(eventtime) #>> '{}' AS eventtime_json`;

export async function lastEvents(q: Query, formation: string, count: number, group?: number): Promise<EventRow[]> {
  const rows =
    group === undefined
      ? await q(`SELECT *, ${EVENT_TIME_JSON} FROM pgautofailover.last_events($1::text, count => $2::int)`, [formation, count])
      : await q(`SELECT *, ${EVENT_TIME_JSON} FROM pgautofailover.last_events($1::text, $2::int, count => $3::int)`, [formation, group, count]);
  return rows.map((r) => {
    const { eventtime_json: time, ...rest } = r as Record<string, unknown>;
    return { ...normalise<EventRow>(rest), eventtime: String(time) };
  });
}

/** The installed version of the `pgaf` extension in the connected database, if any. */
export async function installedExtensionVersion(q: Query, name: string): Promise<string | undefined> {
  const rows = await q<{ extversion: string }>('SELECT extversion FROM pg_extension WHERE extname = $1', [name]);
  return rows[0]?.extversion;
}

export interface SettingRow {
  context: string;
  group_id: number | null;
  node_id: number | null;
  nodename: string;
  setting: string;
  value: string;
  [extra: string]: unknown;
}

/** formation_settings(): number_sync_standbys, each primary's synchronous_standby_names, each node's quorum and priority. */
export async function formationSettings(q: Query, formation: string): Promise<SettingRow[]> {
  const rows = await q('SELECT * FROM pgautofailover.formation_settings($1::text)', [formation]);
  return rows.map((r) => normalise<SettingRow>(r));
}

/** The synchronous_standby_names the monitor wants on the group's primary ('' when none). */
export async function synchronousStandbyNames(q: Query, formation: string, group: number): Promise<string> {
  const rows = await q<{ ssn: string }>('SELECT pgautofailover.synchronous_standby_names($1::text, $2::int) AS ssn', [formation, group]);
  return rows[0]?.ssn ?? '';
}

/** One row of pgautofailover.node, the columns the CLI needs. */
export interface NodeRow {
  nodeid: number;
  groupid: number;
  formationid: string;
  nodename: string;
  nodehost: string;
  nodeport: number;
  reportedstate: string;
  goalstate: string;
  [extra: string]: unknown;
}

const NODE_COLUMNS = 'nodeid, groupid, formationid, nodename, nodehost, nodeport, reportedstate::text, goalstate::text';

export type NodeSelector = { id: number } | { formation: string; name: string } | { host: string; port: number };

/** The node a selector names, or undefined when the monitor has no such node. */
export async function findNode(q: Query, sel: NodeSelector): Promise<NodeRow | undefined> {
  const rows =
    'id' in sel
      ? await q(`SELECT ${NODE_COLUMNS} FROM pgautofailover.node WHERE nodeid = $1`, [sel.id])
      : 'name' in sel
        ? await q(`SELECT ${NODE_COLUMNS} FROM pgautofailover.node WHERE formationid = $1 AND nodename = $2`, [sel.formation, sel.name])
        : await q(`SELECT ${NODE_COLUMNS} FROM pgautofailover.node WHERE nodehost = $1 AND nodeport = $2`, [sel.host, sel.port]);
  return rows[0] ? normalise<NodeRow>(rows[0]) : undefined;
}
