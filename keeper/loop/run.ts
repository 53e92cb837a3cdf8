// The keeper's loop: each tick reads local facts, heartbeats the monitor, decides (decide.ts)
// and acts, then writes the state file and logs one sentence. Wakes on NOTIFY or after 1 s.
import { fileStamp } from '../../lib/atomic-file.js';
import { Dropped } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { LocalPostgres, PeerNode, StepContext } from '../fsm/context.js';
import { findTransition } from '../fsm/transitions.js';
import { canTakeWrites, expectationOf, type NodeState } from '../fsm/states.js';
import { isNoNodeList } from '../local-monitor/answers.js';
import type { KeeperMonitor } from '../monitor-client.js';
import { readStateFile, writeStateFile, type KeeperState } from '../state/state-file.js';
import { decide, reportedPgIsRunning, type Decision } from './decide.js';
import type { ServingRow } from '../pg/local-sql.js';

export interface LocalFacts {
  running: boolean;
  inRecovery: boolean;
  timeline: number;
  lsn: string;
  syncState: string;
  standbysConnected: number;
  serving?: ServingRow;
}

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

const STATE_TIMESTAMPS_EVERY_SEC = 10;

const NO_FACTS: LocalFacts = { running: false, inRecovery: false, timeline: 1, lsn: '0/0', syncState: '', standbysConnected: 0 };

export class Keeper {
  private stopping = false;
  private wake?: () => void;
  private downSince?: number;
  private restartAttempts = 0;
  private peersSignature = '';
  private ticksSinceRefresh = 0;
  private droppedRounds = 0;
  private state?: KeeperState;
  private savedRoles = '';
  private savedAt = 0;
  /** the monitor's primary_demote_timeout (s), refreshed now and then */
  private demoteTimeoutSec?: number;
  private ticks = 0;
  /** the state file as this keeper last read or wrote it: another version was written by a command */
  private stateStamp = '';
  private reloadRequested = false;
  private monitor: KeeperMonitor;
  private lastTransition?: TickReport['lastTransition'];

  /** set by a NOTIFY: the node list or a goal may have changed */
  private notified = true;

  constructor(private readonly d: KeeperDeps) {
    this.monitor = d.monitor;
    this.listenTo(this.monitor);
  }

  private listenTo(monitor: KeeperMonitor): void {
    monitor.listen(() => {
      this.notified = true;
      this.wake?.();
    });
  }

  /** SIGHUP: re-read the configuration (and the state file) at the start of the next tick, now. */
  requestReload(): void {
    this.reloadRequested = true;
    this.wake?.();
  }

  /** A monitor switch (enable/disable monitor) or a state file written by a command is picked up here. */
  private async pickUpOutsideChanges(): Promise<void> {
    const force = this.reloadRequested;
    this.reloadRequested = false;
    const next = this.d.reloadMonitor?.(force);
    if (next) {
      await this.monitor.close().catch(() => undefined);
      this.monitor = next;
      this.listenTo(next);
      this.notified = true;
      this.demoteTimeoutSec = undefined;
      this.ticks = 0;
      this.state = undefined;
    }
    await this.d.syncMetadata?.(force);
    if (this.state && fileStamp(this.d.statePath) !== this.stateStamp) {
      this.d.log.info('The state file was changed by a command: re-reading it.');
      this.state = undefined;
    }
    if (!this.state) {
      this.state = readStateFile(this.d.statePath);
      this.stateStamp = fileStamp(this.d.statePath);
      this.savedRoles = `${this.state.current_role}/${this.state.assigned_role}`;
    }
  }

  /** Writes the state file unless a command replaced it since we read it (theirs wins, re-read next tick). */
  private writeState(state: KeeperState): boolean {
    if (fileStamp(this.d.statePath) !== this.stateStamp) {
      this.state = undefined;
      return false;
    }
    writeStateFile(this.d.statePath, state);
    this.stateStamp = fileStamp(this.d.statePath);
    return true;
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
      try {
        acted = await this.tick();
      } catch (err) {
        if (err instanceof Dropped) throw err;
        this.d.log.error(`Keeper tick failed: ${(err as Error).message}`, { stack: (err as Error).stack?.split('\n')[1]?.trim() });
      }
      if (!acted && !this.stopping) await this.sleep(this.d.timeouts.sleepMs);
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
    const { log, pg } = this.d;
    // read once; from then on the keeper writes it, and the memory copy holds the contact
    // timestamps between two saves (a command that rewrites it is noticed here)
    await this.pickUpOutsideChanges();
    const monitor = this.monitor;
    const state = this.state!;
    const facts = await pg.readFacts().catch(() => NO_FACTS);
    const now = this.now();
    this.trackRestarts(facts.running, now);

    const pgIsRunning = reportedPgIsRunning(state.current_role, facts.running, { downSince: this.downSince, restartAttempts: this.restartAttempts }, now, {
      timeoutSec: this.d.timeouts.restartFailureTimeout,
      maxRetries: this.d.timeouts.restartFailureMaxRetries,
    });
    let reachable = true;
    try {
      const reply = await monitor.nodeActive({
        state: state.current_role,
        pgIsRunning,
        tli: facts.timeline,
        lsn: facts.lsn,
        repState: facts.syncState,
      });
      state.assigned_role = reply.goal;
      state.last_monitor_contact = now;
    } catch (err) {
      reachable = false;
      if (state.current_role === 'dropped' && (err as { sqlstate?: string }).sqlstate === 'P0002') {
        throw new Dropped('this node was removed from the monitor');
      }
      log.warn(`Cannot reach the monitor: ${(err as Error).message}`);
    }
    if (facts.standbysConnected > 0) state.last_secondary_contact = now;
    if (reachable && this.ticks++ % 60 === 0) {
      this.demoteTimeoutSec = await monitor.demoteTimeoutSec().catch(() => this.demoteTimeoutSec);
    }

    if (state.current_role === 'dropped' && state.assigned_role === 'dropped') {
      this.writeState(state);
      if (++this.droppedRounds > 1) throw new Dropped('this node is dropped');
      return false;
    }

    const decision = decide({
      now,
      current: state.current_role,
      assigned: state.assigned_role,
      monitorReachable: reachable,
      lastMonitorContact: state.last_monitor_contact,
      lastSecondaryContact: state.last_secondary_contact,
      standbysConnected: facts.standbysConnected,
      networkPartitionTimeout: fenceDeadline(this.d.timeouts.networkPartitionTimeout, this.demoteTimeoutSec),
    });
    const acted = await this.execute(decision, state, facts, reachable);
    this.saveState(state, now);
    this.d.observer?.tick({ now: this.now(), state, facts, monitorReachable: reachable, lastTransition: this.lastTransition });
    return acted;
  }

  /**
   * The state file is rewritten (atomically, with fsync) when the roles change, and every
   * STATE_TIMESTAMPS_EVERY_SEC for the contact timestamps: not on every tick.
   */
  private saveState(state: KeeperState, now: number): void {
    const roles = `${state.current_role}/${state.assigned_role}`;
    if (roles === this.savedRoles && now - this.savedAt < STATE_TIMESTAMPS_EVERY_SEC) return;
    if (!this.writeState(state)) return;
    this.savedRoles = roles;
    this.savedAt = now;
  }

  private trackRestarts(running: boolean, now: number): void {
    if (running) {
      this.downSince = undefined;
      this.restartAttempts = 0;
    } else if (this.downSince === undefined) {
      this.downSince = now;
    }
  }

  private ctx(state: KeeperState): StepContext {
    return { nodeId: state.nodeId, groupId: state.groupId, formation: this.d.formation, pg: this.d.pg, monitor: this.monitor, log: this.d.log };
  }

  private async execute(decision: Decision, state: KeeperState, facts: LocalFacts, reachable: boolean): Promise<boolean> {
    const { log } = this.d;
    switch (decision.kind) {
      case 'fence':
        log.warn(`Fencing: ${decision.reason}.`, { state: state.current_role });
        state.assigned_role = 'demote_timeout';
        return this.transition(state, state.current_role, 'demote_timeout', decision.reason);
      case 'transition':
        return this.transition(state, decision.from, decision.to, decision.reason);
      case 'ensure':
        await this.ensure(state, facts, reachable, decision.reason);
        return false;
    }
  }

  private async transition(state: KeeperState, from: NodeState, to: NodeState, reason: string): Promise<boolean> {
    const t = findTransition(from, to);
    if (!t) {
      this.d.log.error(`The keeper does not know how to reach ${to} from ${from}; waiting for another goal.`);
      return false;
    }
    const cancel = await this.d.observer?.beforeTransition?.(from, to, state);
    if (cancel) {
      this.d.log.warn(`Transition from ${from} to ${to} cancelled: ${cancel}.`);
      return false;
    }
    this.d.log.info(`Transition from ${from} to ${to}: ${t.comment} (${reason}).`);
    const started = Date.now();
    try {
      await t.run(this.ctx(state));
    } catch (err) {
      this.lastTransition = { from, to, ms: Date.now() - started, at: this.now(), ok: false };
      throw err;
    }
    state.current_role = to;
    this.peersSignature = '';
    this.lastTransition = { from, to, ms: Date.now() - started, at: this.now(), ok: true };
    this.d.log.info(`Reached ${to} in ${Date.now() - started} ms.`);
    return true;
  }

  private async ensure(state: KeeperState, facts: LocalFacts, reachable: boolean, reason: string): Promise<void> {
    const { pg, log } = this.d;
    const s = state.current_role;
    const shouldRun = ['running-primary', 'running-standby', 'running'].includes(expectationOf(s));
    if (shouldRun && !facts.running && pg.hasData()) {
      this.restartAttempts += 1;
      log.warn(`Postgres is not running in state ${s}: starting it (attempt ${this.restartAttempts}).`);
      await pg.start();
      return;
    }
    if (expectationOf(s) === 'stopped' && facts.running) {
      log.warn(`Postgres is running in state ${s}: stopping it.`);
      await pg.stop('fast');
      return;
    }
    if (reachable && facts.running && shouldRun) {
      await this.refreshPeers(state);
    }
    log.debug(`Nothing to do: ${reason}.`, { lsn: facts.lsn, sync: facts.syncState });
  }

  /**
   * A converged primary whose synchronous replication is off gets it back. Only that way: the
   * monitor's value follows the goals of the moment (a failover that just started makes it
   * ''), and weakening it here would let this primary acknowledge writes its standby may
   * not have. Turning synchronous replication off is the wait_primary transition's job alone.
   */
  private async ensureSyncNames(): Promise<void> {
    const have = await this.d.pg.synchronousStandbyNames();
    if (have !== '') return;
    const want = await this.monitor.syncNamesIfStillPrimary();
    if (want !== undefined && want !== '') {
      this.d.log.warn(`synchronous_standby_names is '', the monitor wants '${want}': setting it.`);
      await this.d.pg.setSynchronousStandbyNames(want);
    }
  }

  /**
   * HBA and slots follow the monitor's node list: at once when it changes, else every N ticks.
   * A node without a monitor and without a nodes file leaves them as they are.
   */
  private async refreshPeers(state: KeeperState): Promise<void> {
    this.ticksSinceRefresh += 1;
    if (!this.notified && this.ticksSinceRefresh < this.d.timeouts.refreshEveryTicks) return;
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
    if (sig === this.peersSignature && this.ticksSinceRefresh < this.d.timeouts.refreshEveryTicks) return;
    const standby = !canTakeWrites(state.current_role);
    await this.d.pg.reconcileHba(peers);
    await this.d.pg.reconcileSlots(peers, standby);
    if (state.current_role === 'primary') await this.ensureSyncNames();
    if (sig !== this.peersSignature) this.d.log.info(`Peers are now: ${peers.map((p) => p.name).join(', ') || 'none'}; HBA and slots updated.`);
    this.peersSignature = sig;
    this.ticksSinceRefresh = 0;
  }
}

/** Seconds a keeper waits before fencing itself, well below the monitor's demote wait. */
export const FENCE_MARGIN_SEC = 3;

export function fenceDeadline(networkPartitionTimeout: number, demoteTimeoutSec?: number): number {
  if (demoteTimeoutSec === undefined) return networkPartitionTimeout;
  return Math.max(1, Math.min(networkPartitionTimeout, demoteTimeoutSec - FENCE_MARGIN_SEC));
}
