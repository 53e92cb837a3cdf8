// Node states, exchanged by name with the monitor (enum pgautofailover.replication_state).

export const NODE_STATES = [
  'unknown', 'init', 'single', 'wait_primary', 'primary', 'draining', 'demote_timeout', 'demoted',
  'catchingup', 'secondary', 'prepare_promotion', 'stop_replication', 'wait_standby', 'maintenance',
  'join_primary', 'apply_settings', 'prepare_maintenance', 'wait_maintenance', 'report_lsn',
  'fast_forward', 'join_secondary', 'dropped',
] as const;

export type NodeState = (typeof NODE_STATES)[number];

export function isNodeState(s: string): s is NodeState {
  return (NODE_STATES as readonly string[]).includes(s);
}

/** States in which Postgres takes writes. */
export function canTakeWrites(s: NodeState): boolean {
  return s === 'single' || s === 'primary' || s === 'wait_primary' || s === 'join_primary' || s === 'apply_settings';
}

/** What the keeper keeps true while it stays in a state (ensure-current-state). */
export type Expectation = 'running-primary' | 'running-standby' | 'running' | 'stopped' | 'leave-alone';

export function expectationOf(s: NodeState): Expectation {
  switch (s) {
    case 'single':
    case 'primary':
    case 'wait_primary':
    case 'join_primary':
    case 'apply_settings':
      return 'running-primary';
    case 'secondary':
    case 'report_lsn':
      return 'running-standby';
    case 'catchingup':
    case 'prepare_promotion':
    case 'stop_replication':
    case 'fast_forward':
      return 'running';
    case 'draining':
    case 'demoted':
    case 'demote_timeout':
    case 'join_secondary':
    case 'prepare_maintenance':
      return 'stopped';
    default:
      return 'leave-alone';
  }
}
