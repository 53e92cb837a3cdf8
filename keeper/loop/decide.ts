// The keeper's decision for one tick: a pure function of a frozen snapshot (the state file's
// roles and timestamps, the local facts, the monitor's answer, whether the peers changed).
import { canTakeWrites, expectationOf, type Expectation, type NodeState } from '../fsm/states.js';

export interface TickInput {
  /** seconds since the epoch */
  readonly now: number;
  readonly current: NodeState;
  /** the goal: the monitor's answer this tick, else the last one known */
  readonly assigned: NodeState;
  readonly monitorReachable: boolean;
  readonly lastMonitorContact: number;
  readonly lastSecondaryContact: number;
  /** seconds without monitor and standby before an isolated primary stops itself */
  readonly networkPartitionTimeout: number;
  /** the local facts of this tick */
  readonly pg: {
    readonly running: boolean;
    /** PGDATA holds a cluster */
    readonly hasData: boolean;
    readonly standbysConnected: number;
  };
  /** the node list may have changed (a NOTIFY, or a transition) since the last HBA/slots refresh */
  readonly peersChanged: boolean;
  /** the periodic HBA/slots refresh is due */
  readonly peersRefreshDue: boolean;
}

/** What the keeper does while it stays in a state (ensure-current-state). */
export type EnsureAction =
  | { readonly kind: 'start-postgres' }
  | { readonly kind: 'stop-postgres' }
  /** HBA and slots follow the node list; `always` reconciles them even when the list is the same */
  | { readonly kind: 'refresh-peers'; readonly always: boolean }
  | { readonly kind: 'none' };

export type Decision =
  | { readonly kind: 'transition'; readonly from: NodeState; readonly to: NodeState; readonly reason: string }
  | { readonly kind: 'fence'; readonly from: NodeState; readonly reason: string }
  | { readonly kind: 'ensure'; readonly state: NodeState; readonly expect: Expectation; readonly action: EnsureAction; readonly reason: string }
  /** removed from the monitor and converged: the keeper exits */
  | { readonly kind: 'dropped' };

export function decide(t: TickInput): Decision {
  if (t.current === 'dropped' && t.assigned === 'dropped') return { kind: 'dropped' };
  if (!t.monitorReachable && isolatedPrimary(t)) {
    return {
      kind: 'fence',
      from: t.current,
      reason:
        `no contact with the monitor for ${Math.round(t.now - t.lastMonitorContact)}s and with any standby for ` +
        `${Math.round(t.now - t.lastSecondaryContact)}s (network_partition_timeout ${t.networkPartitionTimeout}s): ` +
        `stopping Postgres so that it takes no more writes`,
    };
  }
  if (t.assigned !== t.current) {
    return {
      kind: 'transition',
      from: t.current,
      to: t.assigned,
      reason: t.monitorReachable ? `the monitor assigned ${t.assigned}` : `reaching ${t.assigned} while the monitor is unreachable`,
    };
  }
  const expect = expectationOf(t.current);
  return {
    kind: 'ensure',
    state: t.current,
    expect,
    action: ensureAction(t, expect),
    reason: t.monitorReachable ? `${t.current} as the monitor wants` : `${t.current}, the monitor is unreachable`,
  };
}

function ensureAction(t: TickInput, expect: Expectation): EnsureAction {
  const shouldRun = expect === 'running-primary' || expect === 'running-standby' || expect === 'running';
  if (shouldRun && !t.pg.running && t.pg.hasData) return { kind: 'start-postgres' };
  if (expect === 'stopped' && t.pg.running) return { kind: 'stop-postgres' };
  if (t.monitorReachable && t.pg.running && shouldRun && (t.peersChanged || t.peersRefreshDue)) {
    return { kind: 'refresh-peers', always: t.peersRefreshDue };
  }
  return { kind: 'none' };
}

/**
 * When (seconds since the epoch) a writable node that hears from neither the monitor nor a
 * standby must fence itself; undefined for a state that never fences. The tick waits for the
 * monitor's answer no longer than this, so a monitor that does not answer (a partition: the
 * query runs into its timeout) cannot delay the fencing past the deadline.
 */
export function fenceDueAt(current: NodeState, lastMonitorContact: number, lastSecondaryContact: number, networkPartitionTimeout: number): number | undefined {
  if (!canTakeWrites(current) || current === 'single') return undefined;
  return Math.max(lastMonitorContact, lastSecondaryContact) + networkPartitionTimeout;
}

/** A writable node with standbys to fail over to, cut off from the monitor and every standby. */
export function isolatedPrimary(t: TickInput): boolean {
  return (
    canTakeWrites(t.current) &&
    t.current !== 'single' &&
    t.pg.standbysConnected === 0 &&
    t.now - t.lastMonitorContact > t.networkPartitionTimeout &&
    t.now - t.lastSecondaryContact > t.networkPartitionTimeout
  );
}

export interface RestartWindow {
  /** when Postgres was first seen down in this episode (seconds), undefined when running */
  readonly downSince?: number;
  readonly restartAttempts: number;
}

/**
 * What the keeper tells the monitor about Postgres: a primary whose Postgres just crashed is
 * reported running while the keeper restarts it, for up to `maxRetries` attempts or
 * `timeoutSec` seconds, so that a quick local restart causes no failover.
 */
export function reportedPgIsRunning(
  state: NodeState,
  running: boolean,
  w: RestartWindow,
  now: number,
  limits: { timeoutSec: number; maxRetries: number },
): boolean {
  if (running) return true;
  if (state !== 'primary' && state !== 'wait_primary' && state !== 'single') return false;
  if (w.downSince === undefined) return true;
  return now - w.downSince < limits.timeoutSec && w.restartAttempts < limits.maxRetries;
}

/** What a keeper remembers of each node of its formation from the monitor's 'state' notifications. */
export type SeenNodes = Map<number, string>;

/**
 * What a 'state' notification from the monitor means to a keeper. The monitor moves a group on
 * when one of its nodes heartbeats, so the keeper wakes (`wake`: heartbeat now) when a node of
 * its formation reports a new state or changes health (the old primary now draining, the
 * primary marked unhealthy: this node's heartbeat is what moves the group on), and for any
 * change of its own node (a new goal). A goal given to another node alone (`peers`) does not
 * wake it: that node reaching the goal is a report, which does (a `set` used to wake the
 * standby's keeper three times for nothing); the peers are still refreshed in the next round.
 * Other formations' changes are ignored (one failover no longer wakes every keeper of the
 * monitor). It wakes whenever it cannot tell: a payload it cannot read, a node it has not
 * heard of, a monitor that sends no health. `seen` is updated.
 */
export function notificationEffect(payload: string, self: { formation: string; nodeId?: number }, seen: SeenNodes): 'wake' | 'peers' | 'ignore' {
  let p: { formation?: unknown; nodeId?: unknown; reportedState?: unknown; health?: unknown };
  try {
    p = JSON.parse(payload) as typeof p;
  } catch {
    return 'wake';
  }
  if (!p || typeof p !== 'object' || typeof p.formation !== 'string') return 'wake';
  if (p.formation !== self.formation) return 'ignore';
  const nodeId = Number(p.nodeId);
  if (!Number.isInteger(nodeId) || p.health === undefined) return 'wake';
  const key = `${String(p.reportedState)}|${String(p.health)}`;
  const before = seen.get(nodeId);
  seen.set(nodeId, key);
  return nodeId === self.nodeId || self.nodeId === undefined || before !== key ? 'wake' : 'peers';
}
