// Act on the monitor, then follow the group's state changes until a condition holds, the
// way `perform failover`, `enable maintenance` and `drop node` do in the original: LISTEN on
// 'state' before the call, print one line per notification, and decide completion on a
// fresh current_state() snapshot (polled every 500 ms and right after each notification),
// so a late or lost notification can neither end the wait early nor hang it.
import { MonitorFailed, PgSql, type PgafError } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { currentState, type NodeStateRow } from '../lib/monitor-queries.js';
import type { PgTarget } from '../lib/pg-uri.js';
import { openSession, withClient, type Query, type SqlSession } from '../lib/sql.js';
import { nodeCell, stateEventColumns, tableStream } from './tables.js';

export interface StateEvent {
  time: string;
  formation: string;
  groupId: number;
  nodeId: number;
  name: string;
  host: string;
  port: number;
  reportedState: string;
  goalState: string;
  health?: string;
}

/** A 'state' notification payload, or undefined when it is not one. */
export function parseStatePayload(payload: string, now = new Date()): StateEvent | undefined {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!p || typeof p !== 'object' || p.type !== 'state') return undefined;
  const nodeId = Number(p.nodeId);
  const groupId = Number(p.groupId);
  if (!Number.isInteger(nodeId) || !Number.isInteger(groupId)) return undefined;
  return {
    time: clock(now),
    formation: String(p.formation ?? ''),
    groupId,
    nodeId,
    name: String(p.name ?? ''),
    host: String(p.host ?? ''),
    port: Number(p.port ?? 0),
    reportedState: String(p.reportedState ?? ''),
    goalState: String(p.goalState ?? ''),
    health: p.health === undefined ? undefined : String(p.health),
  };
}

function clock(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function eventFromRow(r: NodeStateRow, formation: string): StateEvent {
  return {
    time: clock(new Date()),
    formation,
    groupId: r.group_id,
    nodeId: r.node_id,
    name: r.nodename,
    host: r.nodehost,
    port: r.nodeport,
    reportedState: r.current_group_state,
    goalState: r.assigned_group_state,
  };
}

/** Turns a refusal of the monitor (an SQL error of its API) into exit code 6, keeping its words. */
export function monitorRefusal(err: unknown, what: string): unknown {
  if (err instanceof PgSql) {
    return new MonitorFailed(`${what}: the monitor refused: ${err.message}`, { hint: err.hint || undefined, retryable: false, cause: err });
  }
  return err;
}

export interface FollowSpec {
  target: PgTarget;
  formation: string;
  /** the group, or how to read it on the monitor (first thing done on the connection: its errors stop the command) */
  group: number | ((q: Query) => Promise<number>);
  /** 0: act and return at once. */
  timeoutSec: number;
  /** What we wait for, for the log and the timeout message: 'a node of the group to be primary'. */
  waitingFor: string;
  /** The call on the monitor; resolves false when there is nothing to wait for. */
  action: (q: Query) => Promise<boolean>;
  /** Completion, judged on a current_state() snapshot taken after the action. */
  done: (rows: NodeStateRow[]) => boolean;
  /** Print the notification table on stdout (default true). */
  table?: boolean;
  out?: (text: string) => void;
  pollMs?: number;
}

export interface FollowResult {
  /** false when the action said there was nothing to wait for, or --wait 0 */
  waited: boolean;
  events: StateEvent[];
  /** The last snapshot of the group. */
  rows: NodeStateRow[];
}

export async function actAndFollow(spec: FollowSpec): Promise<FollowResult> {
  const out = spec.out ?? ((t: string) => void process.stdout.write(t));
  const groupOf = async (q: Query) => (typeof spec.group === 'number' ? spec.group : spec.group(q));
  if (spec.timeoutSec === 0) {
    await withClient(spec.target, { kind: 'monitor', applicationName: 'pgaf cli' }, async (q) => {
      await groupOf(q);
      return spec.action(q);
    });
    return { waited: false, events: [], rows: [] };
  }
  let group = typeof spec.group === 'number' ? spec.group : -1;

  const events: StateEvent[] = [];
  const printed = new Map<number, string>();
  let wake: (() => void) | undefined;
  let print: ((e: StateEvent) => void) | undefined;
  /** set once the session was lost: notifications sent meanwhile are gone, the snapshots show the changes */
  let sessionLost = false;

  /** a notification came since the last snapshot was asked for (it may have come with that snapshot's answer, before any sleep) */
  let changed = false;

  const onNotify = (_channel: string, payload: string) => {
    const e = parseStatePayload(payload);
    if (!e || e.formation !== spec.formation || e.groupId !== group) return;
    print?.(e);
    changed = true;
    wake?.();
  };
  // One session LISTENs and runs the queries: the server sends a notification while the session
  // is idle, so it arrives between two snapshots, never inside one (one TLS handshake and SCRAM
  // exchange per command, not two)
  const openListening = async (): Promise<SqlSession> => {
    const s = await openSession(spec.target, { kind: 'monitor', applicationName: 'pgaf cli' });
    await s.listen('state', onNotify).catch(async (err) => {
      await s.close();
      throw err;
    });
    return s;
  };

  let session = await openListening();
  try {
    group = await groupOf(session.query);
    const before = await currentState(session.query, spec.formation, group);

    const stream = tableStream(
      stateEventColumns(before.map((r) => ({ name: r.nodename, node: nodeCell(r), hostPort: `${r.nodehost}:${r.nodeport}` }))),
    );
    for (const r of before) printed.set(r.node_id, `${r.current_group_state}|${r.assigned_group_state}`);
    let headerShown = false;
    print = (e) => {
      const key = `${e.reportedState}|${e.goalState}`;
      if (printed.get(e.nodeId) === key) return;
      printed.set(e.nodeId, key);
      events.push(e);
      if (spec.table === false) return;
      if (!headerShown) out(stream.header);
      headerShown = true;
      out(stream.line([e.time, e.name, String(e.nodeId), `${e.host}:${e.port}`, e.reportedState, e.goalState]));
    };

    log.info(`Waiting ${spec.timeoutSec} secs for ${spec.waitingFor} in formation "${spec.formation}" and group ${group}`);
    log.info(`Listening monitor notifications about state changes in formation "${spec.formation}" and group ${group}`);
    log.info('Following table displays times when notifications are received');

    if (!(await spec.action(session.query))) return { waited: false, events, rows: before };

    const deadline = Date.now() + spec.timeoutSec * 1000;
    const pollMs = spec.pollMs ?? 500;
    let lastErr: PgafError | undefined;
    let rows: NodeStateRow[] = [];
    for (;;) {
      changed = false;
      try {
        if (session.closed) {
          sessionLost = true;
          session = await openListening();
        }
        rows = await currentState(session.query, spec.formation, group);
        lastErr = undefined;
        // After a lost session, the snapshots are all we are sure to see: print their changes.
        if (sessionLost) for (const r of rows) print(eventFromRow(r, spec.formation));
        if (spec.done(rows)) {
          // Let notifications already on their way be printed (the server sends a session's
          // pending notifications before answering its next query), then show where each node ended.
          await session.query('SELECT 1').catch(() => undefined);
          for (const r of rows) print(eventFromRow(r, spec.formation));
          return { waited: true, events, rows };
        }
      } catch (err) {
        lastErr = err as PgafError;
        log.debug(`Polling the monitor failed, retrying: ${(err as Error).message}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (changed) continue; // a change came while the snapshot was read: look again now
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(pollMs, left));
        function done() {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
    const why = lastErr ? ` (last error: ${lastErr.message})` : '';
    throw new MonitorFailed(
      `timed out after ${spec.timeoutSec}s waiting for ${spec.waitingFor} in formation "${spec.formation}" group ${group}${why}`,
      { hint: 'the operation may still complete: see pgaf show state and pgaf show events', retryable: false },
    );
  } finally {
    print = undefined;
    wake = undefined;
    await session.close();
  }
}
