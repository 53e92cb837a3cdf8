// The keeper's connection to the monitor: one session kept open for heartbeats and LISTEN,
// reopened on the next call after a failure.
import { MonitorFailed } from '../lib/errors.js';
import type { PgTarget } from '../lib/pg-uri.js';
import { openSession, type SqlSession } from '../lib/sql.js';
import type { MonitorApi, PeerNode } from './fsm/context.js';
import { isNodeState, type NodeState } from './fsm/states.js';

export interface NodeActiveReport {
  state: NodeState;
  pgIsRunning: boolean;
  tli: number;
  lsn: string;
  repState: string;
}

export interface NodeActiveReply {
  goal: NodeState;
  candidatePriority: number;
  replicationQuorum: boolean;
}

export interface Registration {
  nodeId: number;
  groupId: number;
  goal: NodeState;
  name: string;
  candidatePriority: number;
  replicationQuorum: boolean;
}

/** What the keeper loop needs from a monitor: the real one, or LocalMonitorClient without one. */
export interface KeeperMonitor extends MonitorApi {
  /** Calls `fn` when the node list or a goal may have changed. */
  listen(fn: (channel: string, payload: string) => void): void;
  nodeActive(rep: NodeActiveReport): Promise<NodeActiveReply>;
  /** The monitor's primary_demote_timeout, in seconds; undefined when there is none. */
  demoteTimeoutSec(): Promise<number | undefined>;
  close(): Promise<void>;
}

type Row = Record<string, unknown>;

function peer(r: Row): PeerNode {
  return {
    nodeId: Number(r.node_id),
    name: String(r.node_name),
    host: String(r.node_host),
    port: Number(r.node_port),
    lsn: String(r.node_lsn ?? '0/0'),
    isPrimary: Boolean(r.node_is_primary),
  };
}

function state(v: unknown): NodeState {
  const s = String(v);
  if (!isNodeState(s)) throw new MonitorFailed(`the monitor answered an unknown state "${s}"`);
  return s;
}

export class MonitorClient implements KeeperMonitor {
  private session?: SqlSession;
  private onNotify?: (channel: string, payload: string) => void;

  constructor(
    private readonly target: PgTarget,
    private readonly ids: { nodeId: number; groupId: number; formation: string },
    private readonly connectTimeoutMs = 2_000,
  ) {}

  setIds(ids: { nodeId: number; groupId: number; formation: string }): void {
    Object.assign(this.ids, ids);
  }

  /** Calls `fn` for each NOTIFY on channel state (after the next successful query). */
  listen(fn: (channel: string, payload: string) => void): void {
    this.onNotify = fn;
  }

  private async q<R extends Row = Row>(sql: string, params: unknown[] = []): Promise<R[]> {
    if (!this.session || this.session.closed) {
      this.session = await openSession(this.target, {
        kind: 'monitor',
        connectTimeoutMs: this.connectTimeoutMs,
        queryTimeoutMs: this.connectTimeoutMs * 2,
        applicationName: `pgaf_keeper_${this.ids.nodeId}`,
      });
      if (this.onNotify) await this.session.listen('state', this.onNotify);
    }
    try {
      return await this.session.query<R>(sql, params);
    } catch (err) {
      if (this.session.closed) this.session = undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.session?.close();
    this.session = undefined;
  }

  async register(opts: {
    host: string;
    port: number;
    dbname: string;
    name: string;
    sysid: string;
    candidatePriority: number;
    replicationQuorum: boolean;
    desiredNodeId?: number;
    /** 'init' (the monitor decides), or 'single'/'wait_standby' for a node that already runs (enable monitor) */
    initialState?: NodeState;
  }): Promise<Registration> {
    const [r] = await this.q(
      `SELECT * FROM pgautofailover.register_node($1, $2, $3, $4, $5, $6::bigint, $7, -1, $10::pgautofailover.replication_state, 'standalone', $8, $9)`,
      [this.ids.formation, opts.host, opts.port, opts.dbname, opts.name, opts.sysid, opts.desiredNodeId ?? -1,
        opts.candidatePriority, opts.replicationQuorum, opts.initialState ?? 'init'],
    );
    if (!r) throw new MonitorFailed('register_node returned no row');
    return {
      nodeId: Number(r.assigned_node_id),
      groupId: Number(r.assigned_group_id),
      goal: state(r.assigned_group_state),
      name: String(r.assigned_node_name),
      candidatePriority: Number(r.assigned_candidate_priority),
      replicationQuorum: Boolean(r.assigned_replication_quorum),
    };
  }

  async nodeActive(rep: NodeActiveReport): Promise<NodeActiveReply> {
    const [r] = await this.q(
      `SELECT * FROM pgautofailover.node_active($1, $2, $3, $4, $5, $6, $7::pg_lsn, $8)`,
      [this.ids.formation, this.ids.nodeId, this.ids.groupId, rep.state, rep.pgIsRunning, rep.tli, rep.lsn, rep.repState],
    );
    if (!r) throw new MonitorFailed('node_active returned no row');
    return {
      goal: state(r.assigned_group_state),
      candidatePriority: Number(r.assigned_candidate_priority),
      replicationQuorum: Boolean(r.assigned_replication_quorum),
    };
  }

  async getPrimary(): Promise<PeerNode | undefined> {
    try {
      const [r] = await this.q(`SELECT * FROM pgautofailover.get_primary($1, $2)`, [this.ids.formation, this.ids.groupId]);
      return r
        ? peer({ node_id: r.primary_node_id, node_name: r.primary_name, node_host: r.primary_host, node_port: r.primary_port, node_is_primary: true })
        : undefined;
    } catch (err) {
      if ((err as { sqlstate?: string }).sqlstate === 'P0002') return undefined;
      throw err;
    }
  }

  async getOtherNodes(): Promise<PeerNode[]> {
    return (await this.q(`SELECT * FROM pgautofailover.get_other_nodes($1)`, [this.ids.nodeId])).map(peer);
  }

  async getOtherNodesInState(state: string): Promise<PeerNode[]> {
    return (await this.q(`SELECT * FROM pgautofailover.get_other_nodes($1, $2)`, [this.ids.nodeId, state])).map(peer);
  }

  async getMostAdvancedStandby(): Promise<PeerNode | undefined> {
    const [r] = await this.q(`SELECT * FROM pgautofailover.get_most_advanced_standby($1, $2)`, [this.ids.formation, this.ids.groupId]);
    return r ? peer(r) : undefined;
  }

  async setSystemIdentifier(sysid: string): Promise<void> {
    await this.q(`SELECT * FROM pgautofailover.set_node_system_identifier($1, $2::bigint)`, [this.ids.nodeId, sysid]);
  }

  async syncNamesIfStillPrimary(): Promise<string | undefined> {
    // one call: the names match the goal read beside them
    const [r] = await this.q(`SELECT goal_state::text AS goal, standby_names AS ssn FROM pgautofailover.get_goal_and_standby_names($1)`, [
      this.ids.nodeId,
    ]);
    return r && r.goal === 'primary' ? String(r.ssn ?? '') : undefined;
  }

  /** The monitor's primary_demote_timeout, in seconds. */
  async demoteTimeoutSec(): Promise<number> {
    const [r] = await this.q(`SELECT numeric_value FROM pgautofailover.monitor_settings() WHERE name = 'primary_demote_timeout'`);
    return Number(r?.numeric_value ?? 30_000) / 1000;
  }

  async updateMetadata(name: string | null, host: string | null, port: number | null): Promise<void> {
    await this.q(`SELECT pgautofailover.update_node_metadata($1, $2, $3, $4)`, [this.ids.nodeId, name, host, port]);
  }
}
