// One snapshot of what a keeper knows after a tick: the single source of the HTTP endpoints,
// the Prometheus metrics, the state-change hooks and `pm2 show`. Built by a pure function
// from the keeper's tick report and the node's configuration.
import { canTakeWrites, type NodeState } from '../fsm/states.js';
import { parseLsn } from '../../lib/lsn.js';
import type { TickReport } from '../loop/run.js';

export interface KeeperSnapshot {
  formation: string;
  group: number;
  nodeId: number;
  name: string;
  /** seconds since the epoch, end of the tick */
  at: number;
  /** the state this node reported to the monitor, and the goal the monitor assigned */
  state: NodeState;
  goal: NodeState;
  postgres: {
    running: boolean;
    inRecovery: boolean;
    timeline: number;
    lsn: string;
    readOnly: boolean;
    /** WAL receiver streaming (standbys) */
    streaming: boolean;
    /** the upstream's end of WAL (standbys, from the WAL receiver) */
    upstreamLsn: string | null;
    replayLsn: string | null;
    syncState: string;
    standbysConnected: number;
  };
  /** bytes this standby's replay is behind its upstream's end of WAL; 0 on a primary, null unknown */
  lagBytes: number | null;
  replicationQuorum: boolean;
  candidatePriority: number;
  monitor: {
    reachable: boolean;
    /** seconds since the epoch; 0 never */
    lastContact: number;
  };
  lastTransition?: { from: NodeState; to: NodeState; ms: number; at: number; ok: boolean };
  /** a transition that is running now (seconds since the epoch) */
  busy?: { from: NodeState; to: NodeState; since: number };
}

export interface SnapshotNodeInfo {
  formation: string;
  name: string;
  replicationQuorum: boolean;
  candidatePriority: number;
}

function lsnDiff(a: string | null, b: string | null): number | null {
  if (!a || !b) return null;
  try {
    const d = parseLsn(a) - parseLsn(b);
    return Number(d > 0n ? d : 0n);
  } catch {
    return null;
  }
}

export function snapshotOf(r: TickReport, node: SnapshotNodeInfo): KeeperSnapshot {
  const f = r.facts;
  const s = r.state;
  const serving = f.serving;
  const primary = f.running && !f.inRecovery;
  return {
    formation: node.formation,
    group: s.groupId,
    nodeId: s.nodeId,
    name: node.name,
    at: r.now,
    state: s.current_role,
    goal: s.assigned_role,
    postgres: {
      running: f.running,
      inRecovery: f.inRecovery,
      timeline: f.timeline,
      lsn: f.lsn,
      readOnly: serving?.readOnly ?? false,
      streaming: serving?.streaming ?? false,
      upstreamLsn: serving?.upstreamLsn ?? null,
      replayLsn: serving?.replayLsn ?? null,
      syncState: f.syncState,
      standbysConnected: f.standbysConnected,
    },
    lagBytes: primary && canTakeWrites(s.current_role) ? 0 : f.running && f.inRecovery ? lsnDiff(serving?.upstreamLsn ?? null, serving?.replayLsn ?? null) : null,
    replicationQuorum: node.replicationQuorum,
    candidatePriority: node.candidatePriority,
    monitor: { reachable: r.monitorReachable, lastContact: s.last_monitor_contact ?? 0 },
    lastTransition: r.lastTransition,
  };
}
