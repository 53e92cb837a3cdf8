// The keeper's transition steps: small named functions built from idempotent LocalPostgres
// verbs, so running one again after a crash is safe. Each declares the parts of LocalPostgres
// it uses (keeper/fsm/context.ts), so a test fakes only those.
import { BadState } from '../../lib/errors.js';
import { isNoNodeList } from '../local-monitor/answers.js';
import type { PeerNode, PgBringUp, PgDataCopy, PgPeers, PgProcess, PgRecovery, PgSettings, PgStandbySetup, Step, StepContext } from './context.js';

const SYNC_CATCHUP_TIMEOUT_MS = 5_000;
/** how long a candidate waits for the last WAL of an old primary that stopped cleanly */
const LAST_WAL_TIMEOUT_MS = 3_000;
const FAST_FORWARD_TIMEOUT_MS = 60_000;

async function ensureRunning(ctx: StepContext<PgProcess>): Promise<void> {
  if (!(await ctx.pg.isRunning())) await ctx.pg.start();
}

async function requirePrimary(ctx: StepContext<unknown>): Promise<PeerNode> {
  const primary = await ctx.monitor.getPrimary();
  if (!primary || primary.nodeId === ctx.nodeId) {
    throw new BadState('the monitor knows no other primary node to follow', { retryable: true });
  }
  return primary;
}

/** HBA and slots for the other nodes; left as they are when the node list is unknown (no monitor, no nodes file). */
async function refreshPeers(ctx: StepContext<PgPeers>, advanceSlots: boolean): Promise<void> {
  let peers: PeerNode[];
  try {
    peers = await ctx.monitor.getOtherNodes();
  } catch (err) {
    if (isNoNodeList(err)) return;
    throw err;
  }
  await ctx.pg.reconcileHba(peers);
  await ctx.pg.reconcileSlots(peers, advanceSlots);
}

/** Nothing to do on Postgres: a sync point with the monitor. */
export const noop: Step<unknown> = async () => {};

/** init → single: initdb when PGDATA is empty, publish the sysid, start, settings, users, HBA. */
export const initPrimary: Step<PgProcess & PgBringUp & PgRecovery & PgStandbySetup & PgSettings & PgPeers> = async (ctx) => {
  if (!ctx.pg.hasData()) await ctx.pg.initdb();
  else await ctx.pg.configure();
  await ctx.monitor.setSystemIdentifier(await ctx.pg.systemIdentifier());
  await ensureRunning(ctx);
  if (await ctx.pg.isInRecovery()) {
    await ctx.pg.removeStandbySetup();
    await ctx.pg.promote();
  }
  await ctx.pg.setSynchronousStandbyNames('');
  await refreshPeers(ctx, false);
};

/** wait_standby → catchingup: base backup from the primary, standby setup, start. */
export const initStandby: Step<PgProcess & PgBringUp & PgDataCopy & PgStandbySetup & PgPeers> = async (ctx) => {
  const primary = await requirePrimary(ctx);
  if (!ctx.pg.hasData()) {
    await ctx.pg.basebackup(primary);
  }
  await ctx.pg.writeStandbySetup({ upstream: primary });
  await ensureRunning(ctx);
  await ctx.monitor.setSystemIdentifier(await ctx.pg.systemIdentifier());
  await refreshPeers(ctx, true);
};

/**
 * → wait_primary, and → single from a primary state: synchronous_standby_names = '' (writes
 * no longer wait for a standby); standbys keep streaming asynchronously.
 */
export const disableSyncRep: Step<PgProcess & PgSettings & PgPeers> = async (ctx) => {
  await ensureRunning(ctx);
  await ctx.pg.setSynchronousStandbyNames('');
  await refreshPeers(ctx, false);
};

/**
 * → primary: synchronous_standby_names from the monitor, then wait for a standby to catch up.
 * The names are read with this node's goal in one snapshot: if a failover started meanwhile
 * (the goal is no longer primary) nothing is changed, since the monitor's value then
 * describes the group after the failover and could turn synchronous replication off here.
 */
export const enableSyncRep: Step<PgProcess & PgSettings & PgPeers> = async (ctx) => {
  await ensureRunning(ctx);
  await refreshPeers(ctx, false);
  const names = await ctx.monitor.syncNamesIfStillPrimary();
  if (names === undefined) {
    throw new BadState('the goal of this node changed while it turned synchronous replication on', { retryable: true });
  }
  await ctx.pg.setSynchronousStandbyNames(names);
  if (names !== '' && !(await ctx.pg.waitForStandbyCatchUp(SYNC_CATCHUP_TIMEOUT_MS))) {
    ctx.log.warn('No standby caught up with synchronous replication yet; writes wait for one', { names });
  }
};

/** Stop Postgres (fast): draining, demote_timeout, demoted. */
export const stopPostgres: Step<PgProcess> = async (ctx) => {
  await ctx.pg.stop('fast');
};

/** primary → prepare_maintenance/maintenance: checkpoint so the stop is short, then stop. */
export const checkpointAndStop: Step<PgProcess & PgRecovery> = async (ctx) => {
  if (await ctx.pg.isRunning()) await ctx.pg.checkpoint();
  await ctx.pg.stop('fast');
};

/** prepare_maintenance → maintenance: stopped, restarting as a standby with no upstream. */
export const stopAsStandby: Step<PgProcess & PgStandbySetup> = async (ctx) => {
  await ctx.pg.stop('fast');
  await ctx.pg.writeStandbySetup({});
};

/** demote_timeout → primary: the partition healed and there was no failover. */
export const restartAsPrimary: Step<PgProcess & PgSettings & PgPeers> = async (ctx) => {
  await ensureRunning(ctx);
  await enableSyncRep(ctx);
};

/** draining/demoted/demote_timeout → single: start again as a primary without standbys. */
export const resumeAsPrimary: Step<PgProcess & PgSettings & PgPeers> = async (ctx) => {
  await ensureRunning(ctx);
  await disableSyncRep(ctx);
};

/** Promote (idempotent), no standby setup, no sync rep. */
async function promote(ctx: StepContext<PgProcess & PgRecovery & PgStandbySetup & PgSettings>): Promise<void> {
  await ensureRunning(ctx);
  await ctx.pg.promote();
  await ctx.pg.removeStandbySetup();
  await ctx.pg.setSynchronousStandbyNames('');
}

/**
 * A standby becomes a primary: promote, then checkpoint, so that the new timeline is in
 * pg_control for a later pg_rewind of the old primary.
 */
export const promoteStandby: Step<PgProcess & PgRecovery & PgStandbySetup & PgSettings & PgPeers> = async (ctx) => {
  await promote(ctx);
  // it takes writes now, also when an election left it read-only (prepare_promotion,
  // stop_replication); nothing to reload when it is not
  await ctx.pg.setReadOnly(false);
  await ctx.pg.checkpoint();
  await refreshPeers(ctx, false);
};

/**
 * → prepare_promotion: read-only from now on, and no synchronous standby names left from an
 * earlier time as a primary, while the old primary drains: the promotion that follows
 * (stop_replication) then finds both set and goes straight to pg_promote().
 */
export const readyForPromotion: Step<PgProcess & PgSettings> = async (ctx) => {
  await ensureRunning(ctx);
  await ctx.pg.setReadOnly(true);
  await ctx.pg.setSynchronousStandbyNames('');
};

/**
 * prepare_promotion → stop_replication: once the WAL of an old primary that stopped cleanly is
 * here (so it can follow us without a rewind), promote, read-only until the monitor says
 * the old primary is out.
 */
export const stopReplication: Step<PgProcess & PgRecovery & PgStandbySetup & PgSettings> = async (ctx) => {
  await ensureRunning(ctx);
  const [drained] = await ctx.monitor.getOtherNodesInState('draining');
  if (drained && drained.lsn !== '0/0' && !(await ctx.pg.waitForReplay(drained.lsn, LAST_WAL_TIMEOUT_MS))) {
    ctx.log.warn(`The last WAL of ${drained.name} (${drained.lsn}) did not arrive; promoting anyway, it will need pg_rewind`);
  }
  await ctx.pg.setReadOnly(true);
  await promote(ctx);
};

/** stop_replication → wait_primary: writes open; then the checkpoint a later pg_rewind needs. */
export const openWrites: Step<PgProcess & PgRecovery & PgSettings & PgPeers> = async (ctx) => {
  await ensureRunning(ctx);
  await ctx.pg.setReadOnly(false);
  await ctx.pg.checkpoint();
  await refreshPeers(ctx, false);
};

/** demoted/maintenance → catchingup: follow the primary, pg_rewind first, base backup as fallback. */
export const rewindOrInit: Step<PgProcess & PgDataCopy & PgStandbySetup & PgPeers> = async (ctx) => {
  const primary = await requirePrimary(ctx);
  await ctx.pg.stop('fast');
  if (!ctx.pg.hasData() || !(await ctx.pg.rewind(primary))) {
    ctx.log.warn('Could not rewind PGDATA with pg_rewind: taking a base backup instead', { from: primary.name });
    await ctx.pg.basebackup(primary);
  }
  await ctx.pg.writeStandbySetup({ upstream: primary });
  await ctx.pg.start();
  await ctx.pg.dropAllSlots();
  await refreshPeers(ctx, true);
};

/** Follow the current primary: rewrite primary_conninfo and restart. */
export const followNewPrimary: Step<PgProcess & PgStandbySetup & PgPeers> = async (ctx) => {
  const primary = await requirePrimary(ctx);
  await ctx.pg.writeStandbySetup({ upstream: primary });
  await ctx.pg.stop('fast');
  await ctx.pg.start();
  await refreshPeers(ctx, true);
};

/** catchingup → secondary: slots kept in line with the group. */
export const prepareForSecondary: Step<PgProcess & PgPeers> = async (ctx) => {
  await ensureRunning(ctx);
  await refreshPeers(ctx, true);
};

/** → report_lsn: restart as a standby with no upstream, so the LSN stops moving. */
export const reportLsn: Step<PgProcess & PgStandbySetup> = async (ctx) => {
  await ctx.pg.writeStandbySetup({});
  if (await ctx.pg.isRunning()) await ctx.pg.stop('fast');
  await ctx.pg.start();
};

/** draining/demoted → report_lsn: the old primary restarts as a standby, its slots dropped. */
export const reportLsnFromPrimary: Step<PgProcess & PgStandbySetup & PgPeers> = async (ctx) => {
  await reportLsn(ctx);
  await ctx.pg.dropAllSlots();
};

/** report_lsn → fast_forward: fetch the missing WAL from the most advanced standby. */
export const fastForward: Step<PgProcess & PgRecovery & PgStandbySetup> = async (ctx) => {
  const source = await ctx.monitor.getMostAdvancedStandby();
  if (!source || source.nodeId === ctx.nodeId) return; // nothing to fetch
  await ctx.pg.writeStandbySetup({ upstream: source, targetLsn: source.lsn });
  await ctx.pg.stop('fast');
  await ctx.pg.start();
  if (!(await ctx.pg.waitForReplay(source.lsn, FAST_FORWARD_TIMEOUT_MS))) {
    throw new BadState(`replay did not reach ${source.lsn} from ${source.name}`, { retryable: true });
  }
};

/** fast_forward → prepare_promotion: checkpoint, no more standby setup. */
export const cleanupAsPrimary: Step<PgProcess & PgRecovery & PgStandbySetup> = async (ctx) => {
  await ensureRunning(ctx);
  await ctx.pg.checkpoint();
  await ctx.pg.writeStandbySetup({});
};

/** report_lsn → join_secondary: checkpoint and stop, then follow the new primary. */
export const stopToJoin: Step<PgProcess & PgRecovery> = async (ctx) => {
  if (await ctx.pg.isRunning()) await ctx.pg.checkpoint().catch(() => undefined);
  await ctx.pg.stop('fast');
};

/** init → report_lsn: a new node copies the most advanced standby. */
export const initFromStandby: Step<PgProcess & PgBringUp & PgDataCopy & PgStandbySetup> = async (ctx) => {
  const source = await ctx.monitor.getMostAdvancedStandby();
  if (!source) throw new BadState('no standby to copy from yet', { retryable: true });
  if (!ctx.pg.hasData()) await ctx.pg.basebackup(source);
  await ctx.pg.writeStandbySetup({});
  await ensureRunning(ctx);
  await ctx.monitor.setSystemIdentifier(await ctx.pg.systemIdentifier());
};

/** any → dropped: stop Postgres. */
export const dropNode: Step<PgProcess> = async (ctx) => {
  await ctx.pg.stop('fast');
};
