// The keeper's decision for one tick: a pure function of a frozen snapshot.
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
  readonly standbysConnected: number;
  /** seconds without monitor and standby before an isolated primary stops itself */
  readonly networkPartitionTimeout: number;
}

export type Decision =
  | { readonly kind: 'transition'; readonly from: NodeState; readonly to: NodeState; readonly reason: string }
  | { readonly kind: 'fence'; readonly from: NodeState; readonly reason: string }
  | { readonly kind: 'ensure'; readonly state: NodeState; readonly expect: Expectation; readonly reason: string };

export function decide(t: TickInput): Decision {
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
  return {
    kind: 'ensure',
    state: t.current,
    expect: expectationOf(t.current),
    reason: t.monitorReachable ? `${t.current} as the monitor wants` : `${t.current}, the monitor is unreachable`,
  };
}

/** A writable node with standbys to fail over to, cut off from the monitor and every standby. */
export function isolatedPrimary(t: TickInput): boolean {
  return (
    canTakeWrites(t.current) &&
    t.current !== 'single' &&
    t.standbysConnected === 0 &&
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
