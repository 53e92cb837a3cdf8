// What the monitor's status page, its /metrics and its on_failover hook show: pure functions
// over rows of pgautofailover.node and pgautofailover.event. A promotion is the event that
// gives a node the goal wait_primary after it stopped replicating (rules N16-N18, F1);
// it is a switchover when an operator asked for it (perform failover/promotion, maintenance
// of the primary) since the group's previous promotion, else a failover.
import { parseLsn } from '../../lib/lsn.js';

export interface NodeRow {
  formationid: string;
  nodeid: string | number;
  groupid: number;
  nodename: string;
  nodehost: string;
  nodeport: number;
  reportedstate: string;
  goalstate: string;
  health: number;
  reportedlsn: string;
  reportedtli: number;
  reportedrepstate: string | null;
  reportedpgisrunning: boolean | null;
  candidatepriority: number;
  replicationquorum: boolean;
  /** seconds since the node's last node_active */
  report_age: number;
  /** seconds since the node's last health check */
  health_age: number;
}

export interface EventRow {
  eventid: string | number;
  eventtime: string | Date;
  formationid: string;
  nodeid: string | number;
  groupid: number;
  nodename: string;
  reportedstate: string;
  goalstate: string;
  description: string | null;
  ruleid: string | null;
}

export interface NodeView {
  formation: string;
  group: number;
  nodeId: number;
  name: string;
  host: string;
  port: number;
  state: string;
  goal: string;
  health: 'good' | 'bad' | 'unknown';
  lsn: string;
  timeline: number;
  /** bytes behind the group's primary (0 on it; null without a primary) */
  lagBytes: number | null;
  heartbeatAgeSec: number;
  healthAgeSec: number;
  candidatePriority: number;
  replicationQuorum: boolean;
  primary: boolean;
  pgRunning: boolean | null;
}

export interface EventView {
  id: number;
  time: string;
  formation: string;
  group: number;
  nodeId: number;
  node: string;
  state: string;
  goal: string;
  rule: string | null;
  description: string;
  /** a promotion: failover or switchover */
  promotion?: 'failover' | 'switchover';
}

export interface StatusView {
  generatedAt: string;
  monitor: string;
  nodes: NodeView[];
  events: EventView[];
  counts: Array<{ formation: string; group: number; failovers: number; switchovers: number }>;
}

const PRIMARY_STATES = new Set(['single', 'wait_primary', 'primary', 'join_primary', 'apply_settings']);

function health(h: number): NodeView['health'] {
  return h === 1 ? 'good' : h === 0 ? 'bad' : 'unknown';
}

function lsnNum(lsn: string): bigint | undefined {
  try {
    return parseLsn(lsn);
  } catch {
    return undefined;
  }
}

export function nodeViews(rows: NodeRow[]): NodeView[] {
  const primaries = new Map<string, NodeRow>();
  for (const r of rows) {
    if (PRIMARY_STATES.has(r.goalstate) && PRIMARY_STATES.has(r.reportedstate)) primaries.set(`${r.formationid}/${r.groupid}`, r);
  }
  return rows.map((r) => {
    const p = primaries.get(`${r.formationid}/${r.groupid}`);
    const a = lsnNum(r.reportedlsn);
    const b = p ? lsnNum(p.reportedlsn) : undefined;
    const lag = p === r ? 0 : a !== undefined && b !== undefined ? Number(b > a ? b - a : 0n) : null;
    return {
      formation: r.formationid,
      group: r.groupid,
      nodeId: Number(r.nodeid),
      name: r.nodename,
      host: r.nodehost,
      port: r.nodeport,
      state: r.reportedstate,
      goal: r.goalstate,
      health: health(r.health),
      lsn: r.reportedlsn,
      timeline: r.reportedtli,
      lagBytes: lag,
      heartbeatAgeSec: Math.round(Number(r.report_age) * 10) / 10,
      healthAgeSec: Math.round(Number(r.health_age) * 10) / 10,
      candidatePriority: r.candidatepriority,
      replicationQuorum: r.replicationquorum,
      primary: p === r,
      pgRunning: r.reportedpgisrunning,
    };
  });
}

/** An operator request that leads to a promotion. */
export function isOperatorRequest(e: Pick<EventRow, 'ruleid' | 'goalstate'>): boolean {
  return e.ruleid === 'A1' || e.ruleid === 'A2' || (e.ruleid === 'A3' && e.goalstate === 'prepare_maintenance');
}

export function isPromotion(e: Pick<EventRow, 'reportedstate' | 'goalstate'>): boolean {
  return e.goalstate === 'wait_primary' && e.reportedstate === 'stop_replication';
}

/** Folds events (in eventid order) into promotions; keeps the operator flags between calls. */
export class PromotionCounter {
  private readonly operatorAsked = new Set<string>();
  readonly counts = new Map<string, { formation: string; group: number; failovers: number; switchovers: number }>();
  lastEventId = 0;

  /** Returns the promotions found in these events, with their kind. */
  add(events: EventRow[]): Array<{ event: EventRow; kind: 'failover' | 'switchover' }> {
    const out: Array<{ event: EventRow; kind: 'failover' | 'switchover' }> = [];
    for (const e of events) {
      const id = Number(e.eventid);
      if (id <= this.lastEventId) continue;
      this.lastEventId = id;
      const key = `${e.formationid}/${e.groupid}`;
      if (isOperatorRequest(e)) this.operatorAsked.add(key);
      if (!isPromotion(e)) continue;
      const kind = this.operatorAsked.has(key) ? 'switchover' : 'failover';
      this.operatorAsked.delete(key);
      const c = this.counts.get(key) ?? { formation: e.formationid, group: e.groupid, failovers: 0, switchovers: 0 };
      if (kind === 'failover') c.failovers += 1;
      else c.switchovers += 1;
      this.counts.set(key, c);
      out.push({ event: e, kind });
    }
    return out;
  }

  kindOf(eventId: number): 'failover' | 'switchover' | undefined {
    return this.kinds.get(eventId);
  }

  private readonly kinds = new Map<number, 'failover' | 'switchover'>();

  remember(found: Array<{ event: EventRow; kind: 'failover' | 'switchover' }>): void {
    for (const f of found) this.kinds.set(Number(f.event.eventid), f.kind);
    // keep the map small: the page shows the last events only
    if (this.kinds.size > 1000) for (const k of [...this.kinds.keys()].slice(0, this.kinds.size - 1000)) this.kinds.delete(k);
  }
}

export function eventViews(rows: EventRow[], kindOf: (id: number) => 'failover' | 'switchover' | undefined): EventView[] {
  return rows.map((e) => {
    const id = Number(e.eventid);
    const kind = kindOf(id);
    return {
      id,
      time: new Date(e.eventtime).toISOString(),
      formation: e.formationid,
      group: e.groupid,
      nodeId: Number(e.nodeid),
      node: e.nodename,
      state: e.reportedstate,
      goal: e.goalstate,
      rule: e.ruleid,
      description: e.description ?? '',
      ...(kind ? { promotion: kind } : {}),
    };
  });
}
