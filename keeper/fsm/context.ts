// The seams the keeper's transition steps (steps.ts) depend on: the local Postgres and the
// monitor, declared here by their consumer. keeper/open-node.ts wires the real ones
// (keeper/pg/local-postgres.ts, keeper/monitor-client.ts or, without a monitor,
// keeper/local-monitor/client.ts); `pgaf do fsm assign` passes the same to reachAssignedState().
import type { Logger } from '../../lib/log.js';

export interface PeerNode {
  nodeId: number;
  name: string;
  host: string;
  port: number;
  lsn: string;
  isPrimary: boolean;
}

export interface StandbySetup {
  /** The node to stream from; none = a standby with no upstream (its LSN freezes). */
  upstream?: PeerNode;
  /** Stop replay at this LSN (fast_forward). */
  targetLsn?: string;
}

/** What a keeper does to its local Postgres. Every method is idempotent. */
export interface LocalPostgres {
  /** PGDATA holds an initialized cluster. */
  hasData(): boolean;
  isRunning(): Promise<boolean>;
  start(): Promise<void>;
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /** initdb, then our settings (postgresql-auto-failover.conf). */
  initdb(): Promise<void>;
  /** Our settings, users and HBA on an existing cluster. */
  configure(): Promise<void>;
  systemIdentifier(): Promise<string>;
  isInRecovery(): Promise<boolean>;
  promote(): Promise<void>;
  checkpoint(): Promise<void>;
  setSynchronousStandbyNames(value: string): Promise<void>;
  synchronousStandbyNames(): Promise<string>;
  /** Waits until a standby in pg_stat_replication confirmed the LSN the primary has now. */
  waitForStandbyCatchUp(timeoutMs: number): Promise<boolean>;
  setReadOnly(on: boolean): Promise<void>;
  writeStandbySetup(setup: StandbySetup): Promise<void>;
  removeStandbySetup(): Promise<void>;
  /** Replaces PGDATA with a copy of `from` taken over the replication protocol. */
  basebackup(from: PeerNode): Promise<void>;
  /** pg_rewind from `from`; false when it could not (the caller falls back to basebackup). */
  rewind(from: PeerNode): Promise<boolean>;
  /** Waits until replay reached `lsn` (fast_forward). */
  waitForReplay(lsn: string, timeoutMs: number): Promise<boolean>;
  /** Physical slots pgautofailover_standby_<id> for `peers`, dropping the others. */
  reconcileSlots(peers: PeerNode[], advance: boolean): Promise<void>;
  dropAllSlots(): Promise<void>;
  /** HBA lines for the replication user from each peer. */
  reconcileHba(peers: PeerNode[]): Promise<void>;
}

export interface MonitorApi {
  getPrimary(): Promise<PeerNode | undefined>;
  getOtherNodes(): Promise<PeerNode[]>;
  /** The other nodes that last reported `state` (with their last reported LSN). */
  getOtherNodesInState(state: string): Promise<PeerNode[]>;
  getMostAdvancedStandby(): Promise<PeerNode | undefined>;
  setSystemIdentifier(sysid: string): Promise<void>;
  /**
   * synchronous_standby_names for this node as a primary, read in one statement with this
   * node's goal: undefined when the goal is no longer primary (a failover started).
   */
  syncNamesIfStillPrimary(): Promise<string | undefined>;
}

export interface StepContext {
  nodeId: number;
  groupId: number;
  formation: string;
  pg: LocalPostgres;
  monitor: MonitorApi;
  log: Logger;
}

export type Step = (ctx: StepContext) => Promise<void>;
