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

// What a keeper does to its local Postgres, one interface per concern (keeper/pg/ holds one
// implementation part per concern); a step declares the ones it uses. Every method is idempotent.

/** The postmaster: up or down. */
export interface PgProcess {
  /** PGDATA holds an initialized cluster. */
  hasData(): boolean;
  isRunning(): Promise<boolean>;
  start(): Promise<void>;
  stop(mode: 'fast' | 'immediate'): Promise<void>;
}

/** A cluster of this node's own: created or completed, and named. */
export interface PgBringUp {
  /** initdb, then our settings (postgresql-auto-failover.conf). */
  initdb(): Promise<void>;
  /** Our settings, users and HBA on an existing cluster. */
  configure(): Promise<void>;
  systemIdentifier(): Promise<string>;
}

/** Recovery and promotion. */
export interface PgRecovery {
  isInRecovery(): Promise<boolean>;
  promote(): Promise<void>;
  checkpoint(): Promise<void>;
  /** Waits until replay reached `lsn` (fast_forward). */
  waitForReplay(lsn: string, timeoutMs: number): Promise<boolean>;
}

/** A primary's settings, changed online (ALTER SYSTEM and a reload). */
export interface PgSettings {
  setSynchronousStandbyNames(value: string): Promise<void>;
  synchronousStandbyNames(): Promise<string>;
  /** Waits until a standby in pg_stat_replication confirmed the LSN the primary has now. */
  waitForStandbyCatchUp(timeoutMs: number): Promise<boolean>;
  setReadOnly(on: boolean): Promise<void>;
}

/** standby.signal and primary_conninfo. */
export interface PgStandbySetup {
  writeStandbySetup(setup: StandbySetup): Promise<void>;
  removeStandbySetup(): Promise<void>;
}

/** PGDATA replaced by, or rewound to, another node's. */
export interface PgDataCopy {
  /** Replaces PGDATA with a copy of `from` taken over the replication protocol. */
  basebackup(from: PeerNode): Promise<void>;
  /** pg_rewind from `from`; false when it could not (the caller falls back to basebackup). */
  rewind(from: PeerNode): Promise<boolean>;
}

/** What the other nodes of the group need here: slots and HBA. */
export interface PgPeers {
  /** Physical slots pgautofailover_standby_<id> for `peers`, dropping the others. */
  reconcileSlots(peers: PeerNode[], advance: boolean): Promise<void>;
  dropAllSlots(): Promise<void>;
  /** HBA lines for the replication user from each peer. */
  reconcileHba(peers: PeerNode[]): Promise<void>;
}

/** All of it: what the keeper loop holds (keeper/pg/local-postgres.ts). */
export interface LocalPostgres extends PgProcess, PgBringUp, PgRecovery, PgSettings, PgStandbySetup, PgDataCopy, PgPeers {}

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

/** What a step runs with; `P` is the part of LocalPostgres it uses. */
export interface StepContext<P = LocalPostgres> {
  nodeId: number;
  groupId: number;
  formation: string;
  pg: P;
  monitor: MonitorApi;
  log: Logger;
}

export type Step<P = LocalPostgres> = (ctx: StepContext<P>) => Promise<void>;
