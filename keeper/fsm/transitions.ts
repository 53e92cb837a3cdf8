// The keeper's transition table (spec §5.5, plus the [HEAD] edges): one row per edge the
// monitor can assign. reachAssignedState() runs the first row whose from/to match.
import * as s from './steps.js';
import type { Step } from './context.js';
import type { NodeState } from './states.js';

export interface Transition {
  readonly from: NodeState | '*';
  readonly to: NodeState;
  readonly comment: string;
  readonly run: Step;
}

const PRIMARY_STATES = ['primary', 'wait_primary', 'join_primary', 'apply_settings'] as const;

function rows(from: readonly (NodeState | '*')[], to: NodeState, comment: string, run: Step): Transition[] {
  return from.map((f) => ({ from: f, to, comment, run }));
}

export const TRANSITIONS: readonly Transition[] = Object.freeze([
  // bring-up
  ...rows(['init', 'dropped', 'wait_standby'], 'single', 'Start as a single node', s.initPrimary),
  ...rows(['init', 'dropped', 'secondary'], 'wait_standby', 'Wait for the primary to accept a standby', s.noop),
  ...rows(['wait_standby'], 'catchingup', 'Clone the primary with a base backup and start streaming', s.initStandby),
  ...rows(['init', 'dropped', 'wait_standby'], 'report_lsn', 'Clone the most advanced standby and report its LSN', s.initFromStandby),

  // primary side
  ...rows(['single'], 'wait_primary', 'A standby is joining: accept replication, async for now', s.disableSyncRep),
  ...rows(['primary', 'join_primary', 'apply_settings'], 'wait_primary', 'Turn synchronous replication off', s.disableSyncRep),
  ...rows(['primary', 'wait_primary', 'apply_settings'], 'join_primary', 'Accept a new standby', s.noop),
  ...rows(['wait_primary', 'join_primary', 'apply_settings'], 'primary', 'Turn synchronous replication on', s.enableSyncRep),
  ...rows(['primary', 'wait_primary', 'join_primary'], 'apply_settings', 'Apply the new replication settings', s.noop),
  ...rows(PRIMARY_STATES, 'single', 'No standby left: no replication', s.disableSyncRep),
  ...rows(['primary', 'join_primary', 'apply_settings', 'wait_primary', 'single'], 'draining', 'Stop taking writes: checkpoint, then a short fast shutdown', s.checkpointAndStop),
  ...rows(['primary', 'join_primary', 'apply_settings', 'wait_primary', 'draining', 'single'], 'demote_timeout', 'Demoted: stop Postgres', s.stopPostgres),
  ...rows(['primary', 'join_primary', 'apply_settings', 'wait_primary', 'draining', 'demote_timeout', 'single'], 'demoted', 'Demoted: stop Postgres', s.stopPostgres),
  ...rows(['primary'], 'prepare_maintenance', 'Maintenance on the primary: checkpoint, then stop', s.checkpointAndStop),
  ...rows(['primary'], 'maintenance', 'Maintenance on the primary: checkpoint, then stop', s.checkpointAndStop),
  ...rows(['prepare_maintenance'], 'maintenance', 'Stay stopped, ready to restart as a standby', s.stopAsStandby),
  ...rows(['demote_timeout'], 'primary', 'The monitor did not fail over: start Postgres again', s.restartAsPrimary),
  ...rows(['demoted', 'demote_timeout', 'draining'], 'single', 'Start again as the only node', s.resumeAsPrimary),

  // promotion
  ...rows(['secondary', 'catchingup', 'prepare_promotion', 'stop_replication', 'report_lsn', 'wait_maintenance', 'fast_forward',
    'join_secondary', 'maintenance', 'prepare_maintenance'], 'single',
    'Promote: the only node left', s.promoteStandby),
  ...rows(['secondary', 'catchingup', 'report_lsn'], 'prepare_promotion', 'Chosen for promotion: read-only, wait for the old primary to stop', s.readyForPromotion),
  ...rows(['prepare_promotion'], 'stop_replication', 'Promote, read-only until the old primary is out', s.stopReplication),
  ...rows(['stop_replication'], 'wait_primary', 'The old primary is out: take writes', s.openWrites),
  ...rows(['prepare_promotion'], 'wait_primary', 'No old primary left: promote and take writes', s.promoteStandby),

  // standby side
  ...rows(['demoted', 'maintenance', 'prepare_maintenance'], 'catchingup', 'Rejoin as a standby: pg_rewind, base backup as fallback', s.rewindOrInit),
  ...rows(['secondary'], 'catchingup', 'Follow the primary again', s.followNewPrimary),
  ...rows(['catchingup'], 'secondary', 'Caught up: a candidate for promotion', s.prepareForSecondary),
  ...rows(['report_lsn', 'join_secondary'], 'secondary', 'Follow the new primary', s.followNewPrimary),
  ...rows(['report_lsn', 'join_secondary'], 'catchingup', 'Follow the primary, not yet a candidate', s.followNewPrimary),
  ...rows(['secondary', 'catchingup'], 'wait_maintenance', 'Wait for the primary to stop relying on this standby', s.noop),
  ...rows(['secondary', 'catchingup', 'wait_maintenance'], 'maintenance', 'Maintenance: Postgres is left as it is', s.noop),

  // elections
  ...rows(['secondary', 'catchingup', 'maintenance', 'prepare_maintenance', 'wait_maintenance', 'fast_forward',
    'prepare_promotion', 'stop_replication', 'join_secondary'], 'report_lsn', 'Stop streaming and report the LSN', s.reportLsn),
  ...rows(['draining', 'demoted', 'demote_timeout'], 'report_lsn', 'Old primary: restart as a standby and report the LSN', s.reportLsnFromPrimary),
  ...rows(['report_lsn'], 'fast_forward', 'Fetch the missing WAL from the most advanced standby', s.fastForward),
  ...rows(['fast_forward'], 'prepare_promotion', 'Missing WAL fetched: ready for promotion', s.cleanupAsPrimary),
  ...rows(['report_lsn'], 'join_secondary', 'Another node is promoted: checkpoint and stop', s.stopToJoin),

  // any state
  ...rows(['*'], 'demoted', 'Demoted: stop Postgres', s.stopPostgres),
  ...rows(['*'], 'demote_timeout', 'Demoted: stop Postgres', s.stopPostgres),
  ...rows(['*'], 'dropped', 'Dropped: stop Postgres', s.dropNode),
]);

export function findTransition(from: NodeState, to: NodeState): Transition | undefined {
  return TRANSITIONS.find((t) => t.from === from && t.to === to) ?? TRANSITIONS.find((t) => t.from === '*' && t.to === to);
}
