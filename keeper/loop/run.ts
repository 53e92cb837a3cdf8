// The keeper's loop: each tick picks up outside changes (a monitor switch, a state file
// written by a command), reads the local facts, heartbeats the monitor, decides (decide.ts:
// a pure function) and acts (a transition through reachAssignedState(), or keeping the
// current state true), then saves through the state store. Wakes on a NOTIFY that may move
// its group on (decide.ts: notificationEffect) or after sleepMs.
import { Dropped } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { LocalPostgres, PeerNode, StepContext } from '../fsm/context.js';
import { reachAssignedState, type ReachOutcome } from '../fsm/reach.js';
import { canTakeWrites, type NodeState } from '../fsm/states.js';
import { isNoNodeList } from '../local-monitor/answers.js';
import type { KeeperMonitor } from '../monitor-client.js';
import type { LocalFacts } from '../pg/facts.js';
import type { KeeperState } from '../state/state-file.js';
import { StateStore } from '../state/store.js';
import { decide, fenceDueAt, notificationEffect, reportedPgIsRunning, type SeenNodes, type Decision, type EnsureAction } from './decide.js';

/** What the keeper tells its observers (keeper/integrations.ts: HTTP endpoints, metrics, hooks). */
export interface KeeperObserver {
  /** after each tick, with the state as it is now */
  tick(report: TickReport): void;
  /** before a transition; a string cancels it (a fencing hook failed), and the next tick tries again */
  beforeTransition?(from: NodeState, to: NodeState, state: KeeperState): Promise<string | undefined>;
}

export interface TickReport {
  /** seconds since the epoch */
  now: number;
  state: Readonly<KeeperState>;
  facts: LocalFacts;
  monitorReachable: boolean;
  /** the last transition this keeper ran */
  lastTransition?: { from: NodeState; to: NodeState; ms: number; at: number; ok: boolean };
}

export interface KeeperTimeouts {
  /** seconds */
  networkPartitionTimeout: number;
  restartFailureTimeout: number;
  restartFailureMaxRetries: number;
  /** milliseconds between ticks when nothing happens */
  sleepMs: number;
  /** ticks between two slot/HBA refreshes when the node list did not change */
  refreshEveryTicks: number;
}

export interface KeeperDeps {
  formation: string;
  statePath: string;
  pg: LocalPostgres & { readFacts(): Promise<LocalFacts>; close?(): Promise<void> };
  monitor: KeeperMonitor;
  log: Logger;
  timeouts: KeeperTimeouts;
  now?: () => number;
  /**
   * Called at the start of each tick (with force after a SIGHUP): a new monitor client when
   * the configuration switched monitors (enable/disable monitor), else undefined.
   */
  reloadMonitor?: (force: boolean) => KeeperMonitor | undefined;
  /**
   * Called with every reload check: sends a name, hostname or port changed in the configuration
   * file (config set, an editor) to the monitor, as `set node metadata` does.
   */
  syncMetadata?: (force: boolean) => Promise<void>;
  observer?: KeeperObserver;
}

const NO_FACTS: LocalFacts = { running: false, inRecovery: false, timeline: 1, lsn: '0/0', syncState: '', standbysConnected: 0 };

export class Keeper {
  private stopping = false;
  private wake?: () => void;
  /** the state file's one writer (the loop's saves lose to a command's write) */
  private readonly store: StateStore;
  /** the state file as the loop knows it: the monitor's goal and the contact timestamps between two saves */
  private state?: KeeperState;
  private monitor: KeeperMonitor;
  /** set by a SIGHUP: re-read the configuration at the start of the next tick */
  private reloadRequested = false;
  /** Postgres down since (s) and the restarts tried since, for reportedPgIsRunning() */
  private restart: { downSince?: number; restartAttempts: number } = { restartAttempts: 0 };
  /** set by a NOTIFY: the node list or a goal may have changed (HBA and slots are refreshed) */
  private notified = true;
  /** set by a NOTIFY that came while a tick ran: the next tick follows without the sleep */
  private notifiedDuringTick = false;
  private peersSignature = '';
  private ticksSinceRefresh = 0;
  /** heartbeats since the monitor was (re)connected: its primary_demote_timeout is re-read every 60 */
  private ticks = 0;
  /** the monitor's primary_demote_timeout (s) */
  private demoteTimeoutSec?: number;
  private droppedRounds = 0;
  private lastTransition?: TickReport['lastTransition'];
  /** the last facts read, and whether reading them fails (warned once per failure spell) */
  private lastFacts?: LocalFacts;
  private factsFailing = false;
  /** each node's reported state and health as the notifications told them (notificationEffect) */
  private readonly seenNodes: SeenNodes = new Map();

  constructor(private readonly d: KeeperDeps) {
    this.store = new StateStore(d.statePath);
    this.monitor = d.monitor;
    this.listenTo(this.monitor);
  }

  private listenTo(monitor: KeeperMonitor): void {
    monitor.listen((_channel, payload) => {
      const effect = notificationEffect(payload, { formation: this.d.formation, nodeId: this.state?.nodeId }, this.seenNodes);
      if (effect === 'ignore') return;
      this.notified = true;
      if (effect === 'peers') return;
      this.notifiedDuringTick = true;
      this.wake?.();
    });
  }

  /** The keeper's logger: every line carries the node's current state. */
  private log(): Logger {
    return this.state ? this.d.log.child({ state: this.state.current_role }) : this.d.log;
  }

  /** SIGHUP: re-read the configuration (and the state file) at the start of the next tick, now. */
  requestReload(): void {
    this.reloadRequested = true;
    this.wake?.();
  }

  /** A monitor switch (enable/disable monitor) or a state file written by a command is picked up here. */
  private async pickUpOutsideChanges(): Promise<KeeperState> {
    const force = this.reloadRequested;
    this.reloadRequested = false;
    const next = this.d.reloadMonitor?.(force);
    if (next) {
      await this.monitor.close().catch(() => undefined);
      this.monitor = next;
      this.listenTo(next);
      this.seenNodes.clear();
      this.notified = true;
      this.demoteTimeoutSec = undefined;
      this.ticks = 0;
      this.state = undefined;
    }
    await this.d.syncMetadata?.(force);
    if (this.state && this.store.changedOutside()) {
      this.log().info('The state file was changed by a command: re-reading it.');
      this.state = undefined;
    }
    this.state ??= this.store.load();
    return this.state;
  }

  private now(): number {
    return (this.d.now ?? (() => Date.now() / 1000))();
  }

  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  /** Runs until stop() or until the node is dropped (rejects with Dropped). */
  async run(): Promise<void> {
    while (!this.stopping) {
      let acted = false;
      // a NOTIFY that comes while the tick runs (another node reported the state this one
      // waits for: a switchover's draining) would find no sleep to cut short: it is kept here
      this.notifiedDuringTick = false;
      try {
        acted = await this.tick();
      } catch (err) {
        if (err instanceof Dropped) throw err;
        this.log().error(`Keeper tick failed: ${(err as Error).message}`, { stack: (err as Error).stack?.split('\n')[1]?.trim() });
      }
      if (!acted && !this.stopping && !this.notifiedDuringTick) await this.sleep(this.d.timeouts.sleepMs);
    }
    await this.monitor.close();
    await this.d.pg.close?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One iteration. Returns true when it ran a transition (the next tick follows at once). */
  async tick(): Promise<boolean> {
    const { pg, timeouts } = this.d;
    // read once; from then on the keeper writes it, and the memory copy holds the contact
    // timestamps between two saves (a command that rewrites it is noticed here)
    const state = await this.pickUpOutsideChanges();
    const log = this.log();
    const facts = await this.readFacts(log);
    const now = this.now();
    this.trackRestarts(facts.running, now);
    this.ticksSinceRefresh += 1;

    if (facts.standbysConnected > 0) state.last_secondary_contact = now;
    const partitionTimeout = fenceDeadline(timeouts.networkPartitionTimeout, this.demoteTimeoutSec);
    const fenceAt = fenceDueAt(state.current_role, state.last_monitor_contact, state.last_secondary_contact, partitionTimeout);
    const reachable = await this.heartbeat(state, facts, now, log, fenceAt);

    const decision = decide({
      // the time after the heartbeat, which may have waited for a monitor that did not answer
      now: this.now(),
      current: state.current_role,
      assigned: state.assigned_role,
      monitorReachable: reachable,
      lastMonitorContact: state.last_monitor_contact,
      lastSecondaryContact: state.last_secondary_contact,
      networkPartitionTimeout: partitionTimeout,
      pg: { running: facts.running, hasData: pg.hasData(), standbysConnected: facts.standbysConnected },
      peersChanged: this.notified,
      peersRefreshDue: this.ticksSinceRefresh >= timeouts.refreshEveryTicks,
    });
    if (decision.kind === 'dropped') {
      if (!this.store.save(state)) this.state = undefined;
      if (++this.droppedRounds > 1) throw new Dropped('this node is dropped');
      return false;
    }
    const acted = await this.execute(decision, state, facts, log);
    if (!this.store.saveIfDue(state, now)) this.state = undefined;
    if (this.d.observer) {
      // after a transition the observer (HTTP endpoints) gets Postgres as it is now: a node that
      // just opened writes answers /primary in this round, not one heartbeat later
      const seen = acted ? await pg.readFacts().catch(() => NO_FACTS) : facts;
      this.d.observer.tick({ now: this.now(), state, facts: seen, monitorReachable: reachable, lastTransition: this.lastTransition });
    }
    return acted;
  }

  /**
   * This tick's facts. When they cannot be read (readFacts reads pg_control when SQL fails, so
   * this is rare: pg_controldata itself failed), whether Postgres runs comes from its pid file
   * and the position from the last facts read: a running standby is not reported as down, nor
   * its LSN as 0/0, for a failure of ours.
   */
  private async readFacts(log: Logger): Promise<LocalFacts> {
    const { pg } = this.d;
    try {
      const facts = await pg.readFacts();
      this.lastFacts = facts;
      this.factsFailing = false;
      return facts;
    } catch (err) {
      if (!this.factsFailing) log.warn(`Cannot read the state of the local Postgres: ${(err as Error).message}`);
      this.factsFailing = true;
      const running = await pg.isRunning().catch(() => false);
      return { ...(this.lastFacts ?? NO_FACTS), running, syncState: '', standbysConnected: 0, serving: undefined };
    }
  }

  /** node_active: reports the state and the facts, records the goal. False when the monitor did not answer. */
  private async heartbeat(state: KeeperState, facts: LocalFacts, now: number, log: Logger, fenceAt?: number): Promise<boolean> {
    const pgIsRunning = reportedPgIsRunning(state.current_role, facts.running, this.restart, now, {
      timeoutSec: this.d.timeouts.restartFailureTimeout,
      maxRetries: this.d.timeouts.restartFailureMaxRetries,
    });
    try {
      const call = this.monitor.nodeActive({
        state: state.current_role,
        pgIsRunning,
        tli: facts.timeline,
        lsn: facts.lsn,
        repState: facts.syncState,
      });
      const reply = fenceAt === undefined ? await call : await answerBefore(call, Math.max(MIN_HEARTBEAT_WAIT_MS, (fenceAt - this.now()) * 1000));
      if (reply === undefined) {
        log.warn('Cannot reach the monitor: no answer before the fencing deadline.');
        return false;
      }
      state.assigned_role = reply.goal;
      state.last_monitor_contact = now;
    } catch (err) {
      if (state.current_role === 'dropped' && (err as { sqlstate?: string }).sqlstate === 'P0002') {
        throw new Dropped('this node was removed from the monitor');
      }
      log.warn(`Cannot reach the monitor: ${(err as Error).message}`);
      return false;
    }
    if (this.ticks++ % 60 === 0) {
      this.demoteTimeoutSec = await this.monitor.demoteTimeoutSec().catch(() => this.demoteTimeoutSec);
    }
    return true;
  }

  private trackRestarts(running: boolean, now: number): void {
    if (running) this.restart = { restartAttempts: 0 };
    else this.restart.downSince ??= now;
  }

  private async execute(decision: Exclude<Decision, { kind: 'dropped' }>, state: KeeperState, facts: LocalFacts, log: Logger): Promise<boolean> {
    switch (decision.kind) {
      case 'fence':
        log.warn(`Fencing: ${decision.reason}.`);
        state.assigned_role = 'demote_timeout';
        return this.transition(state, state.current_role, 'demote_timeout', decision.reason, log);
      case 'transition':
        return this.transition(state, decision.from, decision.to, decision.reason, log);
      case 'ensure':
        await this.ensure(decision.action, state, facts, decision.reason, log);
        return false;
    }
  }

  private async transition(state: KeeperState, from: NodeState, to: NodeState, reason: string, log: Logger): Promise<boolean> {
    const ctx: StepContext = { nodeId: state.nodeId, groupId: state.groupId, formation: this.d.formation, pg: this.d.pg, monitor: this.monitor, log };
    const started = Date.now();
    let outcome: ReachOutcome;
    try {
      outcome = await reachAssignedState(ctx, from, to, { reason, before: () => this.d.observer?.beforeTransition?.(from, to, state) ?? Promise.resolve(undefined) });
    } catch (err) {
      this.lastTransition = { from, to, ms: Date.now() - started, at: this.now(), ok: false };
      throw err;
    }
    if (outcome.kind === 'no-edge') {
      log.error(`The keeper does not know how to reach ${to} from ${from}; waiting for another goal.`);
      return false;
    }
    if (outcome.kind === 'cancelled') return false;
    state.current_role = to;
    this.peersSignature = '';
    this.lastTransition = { from, to, ms: outcome.ms, at: this.now(), ok: true };
    return true;
  }

  private async ensure(action: EnsureAction, state: KeeperState, facts: LocalFacts, reason: string, log: Logger): Promise<void> {
    const { pg } = this.d;
    switch (action.kind) {
      case 'start-postgres':
        this.restart.restartAttempts += 1;
        log.warn(`Postgres is not running in state ${state.current_role}: starting it (attempt ${this.restart.restartAttempts}).`);
        await pg.start();
        return;
      case 'stop-postgres':
        log.warn(`Postgres is running in state ${state.current_role}: stopping it.`);
        await pg.stop('fast');
        return;
      case 'refresh-peers':
        await this.refreshPeers(state, action.always, log);
        break;
      case 'none':
        break;
    }
    log.debug(`Nothing to do: ${reason}.`, { lsn: facts.lsn, sync: facts.syncState });
  }

  /**
   * A converged primary whose synchronous replication is off gets it back. Only that way: the
   * monitor's value follows the goals of the moment (a failover that just started makes it
   * ''), and weakening it here would let this primary acknowledge writes its standby may
   * not have. Turning synchronous replication off is the wait_primary transition's job alone.
   */
  private async ensureSyncNames(log: Logger): Promise<void> {
    const have = await this.d.pg.synchronousStandbyNames();
    if (have !== '') return;
    const want = await this.monitor.syncNamesIfStillPrimary();
    if (want !== undefined && want !== '') {
      log.warn(`Synchronous replication is off on this primary: setting synchronous_standby_names to '${want}' as the monitor wants.`);
      await this.d.pg.setSynchronousStandbyNames(want);
    }
  }

  /**
   * HBA and slots follow the monitor's node list: at once when it changes, else every N ticks
   * (`always`). A node without a monitor and without a nodes file leaves them as they are.
   */
  private async refreshPeers(state: KeeperState, always: boolean, log: Logger): Promise<void> {
    this.notified = false;
    let peers: PeerNode[];
    try {
      peers = await this.monitor.getOtherNodes();
    } catch (err) {
      if (!isNoNodeList(err)) throw err;
      this.ticksSinceRefresh = 0;
      return;
    }
    const sig = peers.map((p) => `${p.nodeId}@${p.host}:${p.port}`).join(',');
    if (sig === this.peersSignature && !always) return;
    const standby = !canTakeWrites(state.current_role);
    await this.d.pg.reconcileHba(peers);
    await this.d.pg.reconcileSlots(peers, standby);
    if (state.current_role === 'primary') await this.ensureSyncNames(log);
    if (sig !== this.peersSignature) log.info(`Peers are now: ${peers.map((p) => p.name).join(', ') || 'none'}; HBA and slots updated.`);
    this.peersSignature = sig;
    this.ticksSinceRefresh = 0;
  }
}

/** However close the fencing deadline, a heartbeat gets this long to be answered. */
const MIN_HEARTBEAT_WAIT_MS = 1_000;

/** `call`'s value, or undefined when it takes longer than `ms` (its late outcome is dropped). */
function answerBefore<T>(call: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  call.catch(() => undefined);
  return Promise.race([call, late]).finally(() => clearTimeout(timer));
}

/** Seconds a keeper waits before fencing itself, well below the monitor's demote wait. */
export const FENCE_MARGIN_SEC = 3;

export function fenceDeadline(networkPartitionTimeout: number, demoteTimeoutSec?: number): number {
  if (demoteTimeoutSec === undefined) return networkPartitionTimeout;
  return Math.max(1, Math.min(networkPartitionTimeout, demoteTimeoutSec - FENCE_MARGIN_SEC));
}
