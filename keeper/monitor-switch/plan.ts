// Decisions of `disable monitor` and `enable monitor`, as pure functions of what was read:
// the node's group on the monitor, the local state file and whether Postgres is in recovery.
import { BadState, MonitorFailed, type PgafError } from '../../lib/errors.js';
import { canTakeWrites, type NodeState } from '../fsm/states.js';
import { parseConninfo } from '../pg/setup-files.js';
import type { KeeperState } from '../state/state-file.js';

export interface GroupMember {
  nodeId: number;
  name: string;
  goal: NodeState;
}

export type DisablePlan =
  | { readonly kind: 'remove'; readonly reason: string }
  | { readonly kind: 'forget'; readonly reason: string }
  | { readonly kind: 'refuse'; readonly error: PgafError };

/**
 * `disable monitor`: remove this node from its monitor, or just forget a monitor that cannot
 * be reached (--force) or does not know the node. A primary is not removed while other nodes
 * of its group still follow that monitor: the monitor would promote one of them while this
 * one keeps taking writes.
 */
export function planDisableMonitor(selfId: number, members: readonly GroupMember[] | undefined, force: boolean, unreachable = ''): DisablePlan {
  if (members === undefined) {
    if (force) return { kind: 'forget', reason: `the monitor cannot be reached (${unreachable}), --force forgets it` };
    return {
      kind: 'refuse',
      error: new MonitorFailed(`cannot reach the monitor to remove this node from it: ${unreachable}`, {
        retryable: false,
        hint: 'pgaf disable monitor --force forgets a monitor that is gone',
      }),
    };
  }
  const self = members.find((m) => m.nodeId === selfId);
  if (!self) return { kind: 'forget', reason: `node ${selfId} is not registered on the monitor` };
  const others = members.filter((m) => m.nodeId !== selfId && m.goal !== 'dropped');
  if (canTakeWrites(self.goal) && others.length > 0) {
    return {
      kind: 'refuse',
      error: new BadState(
        `node ${selfId} "${self.name}" is the primary and ${others.map((o) => `node ${o.nodeId} "${o.name}"`).join(', ')} still follow the monitor, ` +
          'which would promote one of them once the primary is removed',
        { hint: 'run pgaf disable monitor on the other nodes first' },
      ),
    };
  }
  return { kind: 'remove', reason: `node ${selfId} "${self.name}" is ${self.goal} on the monitor` };
}

/** The state a running node registers in with a new monitor: the original's rule. */
export function registrationStateFor(inRecovery: boolean): 'single' | 'wait_standby' {
  return inRecovery ? 'wait_standby' : 'single';
}

/** host and port of a libpq key=value connection string (pg_stat_wal_receiver.conninfo). */
export function conninfoHostPort(conninfo: string | undefined): { host: string; port: number } | undefined {
  if (!conninfo) return undefined;
  const words = new Map(parseConninfo(conninfo));
  const host = words.get('host');
  const port = Number(words.get('port') ?? 5432);
  return host && Number.isInteger(port) ? { host, port } : undefined;
}

/** The standby streams from `primary` now (as the monitor knows it): it can go on as it is. */
export function streamsFrom(conninfo: string | undefined, primary: { host: string; port: number } | undefined): boolean {
  const up = conninfoHostPort(conninfo);
  return up !== undefined && primary !== undefined && up.host === primary.host && up.port === primary.port;
}

/**
 * The local state once registered with the new monitor, so that the keeper goes on without
 * restarting Postgres: a primary keeps its state and is assigned single (the keeper then turns
 * synchronous replication off, and the monitor takes it on from there); a standby that the
 * monitor moved to catchingup is catchingup already when it streams from the monitor's
 * primary (no base backup, no restart), else it is a secondary to point at that primary
 * (secondary → catchingup: new primary_conninfo and a restart, still no base backup).
 */
export function stateAfterRegistration(
  prev: KeeperState,
  reg: { nodeId: number; groupId: number; goal: NodeState },
  now: number,
  streamsFromPrimary = true,
): KeeperState {
  const base = { ...prev, nodeId: reg.nodeId, groupId: reg.groupId, last_monitor_contact: now };
  if (reg.goal === 'catchingup') {
    return { ...base, current_role: streamsFromPrimary ? 'catchingup' : 'secondary', assigned_role: 'catchingup' };
  }
  const current = canTakeWrites(prev.current_role) ? prev.current_role : reg.goal;
  return { ...base, current_role: current, assigned_role: reg.goal };
}
