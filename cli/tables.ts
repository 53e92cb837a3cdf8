// Text tables in the layouts pg_autoctl prints: cells right-aligned to the column width,
// separated by " | ", a dash line under the header joined by "-+-", and a last column
// left-aligned when it holds free text.
import type { EventRow, NodeStateRow, SettingRow } from '../lib/monitor-queries.js';

export interface Column {
  header: string;
  /** Minimum width; the column grows to fit its widest cell. */
  minWidth?: number;
  /** Fixed width, as the original uses for state names. */
  width?: number;
  align?: 'right' | 'left';
  /** Dashes under a free-text last column: the original draws a fixed number, not its width. */
  dashWidth?: number;
  /** Pad a left-aligned last column to its width (the original does for show settings). */
  padLast?: boolean;
}

export function renderTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((c, i) =>
    c.width ?? Math.max(c.minWidth ?? 0, c.header.length, ...rows.map((r) => (r[i] ?? '').length)),
  );
  const last = columns.length - 1;
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => {
        if (columns[i]!.align === 'left') return i === last && !columns[i]!.padLast ? cell : cell.padEnd(widths[i]!);
        return cell.padStart(widths[i]!);
      })
      .join(' | ');
  const dashes = widths.map((w, i) => '-'.repeat(columns[i]!.dashWidth ?? w)).join('-+-');
  // the original ends its tables with an empty line
  return [line(columns.map((c) => c.header)), dashes, ...rows.map(line)].join('\n') + '\n\n';
}

/** Postgres' text form of a timestamptz ("2026-11-26 04:20:09.090551+00") from its JSON form. */
export function pgTimestampText(json: string): string {
  return json.replace('T', ' ').replace(/([+-]\d\d):00$/, '$1');
}

/** The longest node state name ("prepare_maintenance" and friends), as the original pads them. */
const STATE_WIDTH = 19;

const READ_WRITE = new Set(['single', 'primary', 'wait_primary', 'join_primary', 'prepare_maintenance', 'apply_settings']);
const READ_ONLY = new Set([
  'secondary',
  'catchingup',
  'prepare_promotion',
  'stop_replication',
  'wait_maintenance',
  'fast_forward',
  'join_secondary',
  'report_lsn',
]);
const DOWN = new Set(['init', 'dropped', 'wait_standby', 'demoted', 'demote_timeout', 'draining', 'maintenance']);

/** read-write, read-only, none (Postgres known down) or unknown, from the reported state. */
export function connectionType(reportedState: string): string {
  if (READ_WRITE.has(reportedState)) return 'read-write';
  if (READ_ONLY.has(reportedState)) return 'read-only';
  if (DOWN.has(reportedState)) return 'none';
  return 'unknown';
}

/** The Connection cell: type, then " !" when the health check fails, " ?" when unknown. */
export function connectionCell(reportedState: string, health: number): string {
  const mark = health === 1 ? '' : health === 0 ? ' !' : ' ?';
  return connectionType(reportedState) + mark;
}

/** "1" for a plain Postgres formation, "group/node" (e.g. "0/1") for a Citus one, as the original. */
export function nodeCell(row: Pick<NodeStateRow, 'formation_kind' | 'group_id' | 'node_id'>): string {
  return row.formation_kind === 'citus' ? `${row.group_id}/${row.node_id}` : String(row.node_id);
}

export function renderStateTable(rows: NodeStateRow[]): string {
  return renderTable(
    [
      { header: 'Name', minWidth: 4 },
      { header: 'Node', minWidth: 5 },
      { header: 'Host:Port', minWidth: 10 },
      { header: 'TLI: LSN', minWidth: 9 },
      { header: 'Connection', minWidth: 'read-write *'.length },
      { header: 'Reported State', width: STATE_WIDTH },
      { header: 'Assigned State', width: STATE_WIDTH },
    ],
    rows.map((r) => [
      r.nodename,
      nodeCell(r),
      `${r.nodehost}:${r.nodeport}`,
      `${String(r.reported_tli ?? 0).padStart(3)}: ${r.reported_lsn ?? '0/0'}`,
      connectionCell(r.current_group_state, r.health),
      r.current_group_state,
      r.assigned_group_state,
    ]),
  );
}

export interface UriRow {
  type: 'monitor' | 'formation';
  name: string;
  uri: string;
}

export function renderUriTable(rows: UriRow[]): string {
  return renderTable(
    [
      { header: 'Type', minWidth: 12 },
      { header: 'Name', minWidth: 4 },
      { header: 'Connection String', align: 'left', dashWidth: 30 },
    ],
    rows.map((r) => [r.type, r.name, r.uri]),
  );
}

export function renderEventsTable(rows: EventRow[]): string {
  return renderTable(
    [
      { header: 'Event Time', minWidth: 30 },
      { header: 'Node', minWidth: 6 },
      { header: 'Current State', width: STATE_WIDTH },
      { header: 'Assigned State', width: STATE_WIDTH },
      { header: 'Comment', align: 'left', dashWidth: 10 },
    ],
    rows.map((e) => [
      pgTimestampText(String(e.eventtime)),
      `${e.groupid}/${e.nodeid}`,
      e.reportedstate ?? '',
      e.goalstate ?? '',
      e.description ?? '',
    ]),
  );
}

/**
 * A table printed row by row as data arrives (the event lines of `perform failover`):
 * column widths are fixed up front, from the header and `width`/`minWidth`.
 */
export function tableStream(columns: Column[]): { header: string; line(cells: string[]): string } {
  const widths = columns.map((c) => c.width ?? Math.max(c.minWidth ?? 0, c.header.length));
  const last = columns.length - 1;
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => {
        if (columns[i]!.align === 'left') return i === last ? cell : cell.padEnd(widths[i]!);
        return cell.padStart(widths[i]!);
      })
      .join(' | ');
  return {
    header: line(columns.map((c) => c.header)) + '\n' + widths.map((w) => '-'.repeat(w)).join('-+-') + '\n',
    line: (cells) => line(cells) + '\n',
  };
}

/** The columns of the notification table: Time | Name | Node | Host:Port | Current State | Assigned State. */
export function stateEventColumns(nodes: Array<{ name: string; node: string; hostPort: string }>): Column[] {
  return [
    { header: 'Time', width: 8 },
    { header: 'Name', minWidth: Math.max(4, ...nodes.map((n) => n.name.length)) },
    { header: 'Node', minWidth: Math.max(5, ...nodes.map((n) => n.node.length)) },
    { header: 'Host:Port', minWidth: Math.max(9, ...nodes.map((n) => n.hostPort.length)) },
    { header: 'Current State', width: STATE_WIDTH },
    { header: 'Assigned State', width: STATE_WIDTH },
  ];
}

/** `show settings`: Context | Name | Setting | Value, as the original prints formation_settings(). */
export function renderSettingsTable(rows: SettingRow[]): string {
  return renderTable(
    [
      { header: 'Context' },
      { header: 'Name' },
      { header: 'Setting' },
      { header: 'Value', align: 'left', padLast: true },
    ],
    settingsInOriginalOrder(rows).map((r) => [r.context, r.nodename, r.setting, r.value ?? '']),
  );
}

const SETTING_ORDER = ['formation', 'primary', 'candidate priority', 'replication quorum'];

/** formation, primaries, then every node's candidate priority, then every node's quorum, as the original. */
export function settingsInOriginalOrder(rows: SettingRow[]): SettingRow[] {
  const rank = (r: SettingRow) => {
    const i = SETTING_ORDER.indexOf(r.context === 'node' ? r.setting : r.context);
    return i < 0 ? SETTING_ORDER.length : i;
  };
  return rows.map((r, i) => ({ r, i })).sort((a, b) => rank(a.r) - rank(b.r) || a.i - b.i).map((x) => x.r);
}

/** --json of show settings: the rows grouped by context, in formation_settings() order, as the original. */
export function settingsJson(rows: SettingRow[]): { formation: SettingRow[]; primary: SettingRow[]; nodes: SettingRow[] } {
  const ordered = rows;
  return {
    formation: ordered.filter((r) => r.context === 'formation'),
    primary: ordered.filter((r) => r.context === 'primary'),
    nodes: ordered.filter((r) => r.context !== 'formation' && r.context !== 'primary'),
  };
}
