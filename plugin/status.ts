// What the PM2 module shows and does on request: the status object (`pm2 trigger pm2-pgaf
// status`), the `pm2 show` metrics, and the operator actions. Actions only ask the monitor
// (perform_failover, start/stop_maintenance); the monitor's and keepers' loops do the work.
import { existsSync } from 'node:fs';
import { readStateFile } from '../keeper/state/state-file.js';
import { parseLsn } from '../lib/lsn.js';
import { readPostmasterPid, pidAlive } from '../lib/postmaster-pid.js';
import { BadArgs } from '../lib/errors.js';
import { currentState, type NodeStateRow } from '../lib/monitor-queries.js';
import { parsePgUri, type PgTarget } from '../lib/pg-uri.js';
import { readSecretFile } from '../lib/secrets.js';
import { secretFilePath } from '../config/paths.js';
import { withStoredMonitorPassword } from '../keeper/monitor-target.js';
import { withClient, type Query } from '../lib/sql.js';
import type { RunningNode } from './node-runner.js';

export interface NodeStatus {
  node: string;
  role: 'monitor' | 'postgres';
  formation: string;
  /** the keeper's current and assigned states (monitor: "monitor") */
  state: string;
  goal: string;
  postgres: { app: string; running: boolean; pid: number | null };
  /** bytes this node's reported LSN is behind the primary's (0 on the primary) */
  replication_lag_bytes: number | null;
  /** ISO time of the last successful node_active call */
  last_monitor_contact: string | null;
  /** the formation as the monitor sees it */
  nodes: Array<Pick<NodeStateRow, 'node_id' | 'nodename' | 'nodehost' | 'nodeport' | 'current_group_state' | 'assigned_group_state' | 'reported_lsn'>>;
  monitor_error?: string;
}

const PRIMARY = new Set(['primary', 'wait_primary', 'single', 'join_primary', 'apply_settings']);

export class NodeStatusSource {
  constructor(
    private readonly node: RunningNode,
    private readonly formation: string,
    private readonly monitorUri: string,
    /** monitor.password_file or PGPASSWORD, from the cluster file's secrets */
    private readonly monitorPassword?: string,
  ) {}

  /** The monitor, with the password of the URI, the cluster file, or the node's own file. */
  private target(): PgTarget {
    const t = parsePgUri(this.monitorUri, 'monitor.uri');
    if (t.password !== undefined) return t;
    if (this.monitorPassword !== undefined) return { ...t, password: this.monitorPassword };
    if (this.node.role === 'postgres') return withStoredMonitorPassword(t, this.node.pgdata);
    const own = readSecretFile(secretFilePath(this.node.pgdata, 'autoctl_node.password'), "autoctl_node's password file");
    return own === undefined ? t : { ...t, password: own };
  }

  private monitor<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    return withClient(this.target(), { kind: 'monitor', connectTimeoutMs: 3_000, queryTimeoutMs: 10_000 }, fn);
  }

  private localState(): { state: string; goal: string; nodeId?: number; contact: number } {
    if (this.node.role === 'monitor' || !existsSync(this.node.paths.state)) return { state: this.node.role === 'monitor' ? 'monitor' : 'unknown', goal: this.node.role === 'monitor' ? 'monitor' : 'unknown', contact: 0 };
    const s = readStateFile(this.node.paths.state);
    return { state: s.current_role, goal: s.assigned_role, nodeId: s.nodeId, contact: s.last_monitor_contact };
  }

  async status(): Promise<NodeStatus> {
    const local = this.localState();
    // the keeper's snapshot when it has one: the same figures as its /status and /metrics
    const snap = this.node.snapshot?.();
    if (snap) Object.assign(local, { state: snap.state, goal: snap.goal, nodeId: snap.nodeId, contact: snap.monitor.lastContact });
    const pm = readPostmasterPid(this.node.pgdata);
    const running = pm !== undefined && pidAlive(pm.pid);
    const out: NodeStatus = {
      node: this.node.name,
      role: this.node.role,
      formation: this.formation,
      state: local.state,
      goal: local.goal,
      postgres: { app: this.node.appName, running, pid: running ? pm!.pid : null },
      replication_lag_bytes: null,
      last_monitor_contact: local.contact ? new Date(local.contact * 1000).toISOString() : null,
      nodes: [],
    };
    if (snap) out.replication_lag_bytes = snap.lagBytes;
    try {
      const rows = await this.monitor((q) => currentState(q, this.formation));
      out.nodes = rows.map((r) => ({
        node_id: r.node_id,
        nodename: r.nodename,
        nodehost: r.nodehost,
        nodeport: r.nodeport,
        current_group_state: r.current_group_state,
        assigned_group_state: r.assigned_group_state,
        reported_lsn: r.reported_lsn,
      }));
      const me = rows.find((r) => r.node_id === local.nodeId);
      const primary = rows.find((r) => PRIMARY.has(r.current_group_state));
      if (me && primary && !snap) out.replication_lag_bytes = Math.max(0, Number(parseLsn(primary.reported_lsn) - parseLsn(me.reported_lsn)));
    } catch (err) {
      out.monitor_error = (err as Error).message;
    }
    return out;
  }

  /** perform_failover of the formation's group 0: a switchover when the primary is healthy. */
  async switchover(): Promise<string> {
    await this.monitor((q) => q('SELECT pgautofailover.perform_failover($1::text, 0)', [this.formation]));
    return `a switchover of formation "${this.formation}" has started`;
  }

  async maintenance(on: boolean, allowFailover: boolean): Promise<string> {
    if (this.node.role !== 'postgres') throw new BadArgs('maintenance applies to data nodes; trigger it on the node’s module');
    const local = this.localState();
    if (local.nodeId === undefined) throw new BadArgs('this node is not registered yet');
    if (on && !allowFailover && (PRIMARY.has(local.state) || PRIMARY.has(local.goal))) {
      throw new BadArgs(`node "${this.node.name}" is a primary: maintenance causes a failover; trigger "maintenance-on allow-failover" to proceed`);
    }
    const fn = on ? 'start_maintenance' : 'stop_maintenance';
    await this.monitor((q) => q(`SELECT pgautofailover.${fn}($1::bigint)`, [local.nodeId]));
    return `maintenance ${on ? 'enabled' : 'disabled'} for node "${this.node.name}"`;
  }
}
