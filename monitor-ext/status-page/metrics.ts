// The monitor's Prometheus metrics: every node as the monitor sees it (state and goal as
// labels, health, lag behind its primary, heartbeat age), the health probes' results and
// durations, and the failovers and switchovers counted from the event table.
import { Exposition, MetricStore } from '../../lib/prometheus.js';
import type { StatusView } from './view.js';

export const PROBE_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10];

export function monitorMetricStore(): MetricStore {
  const m = new MetricStore();
  m.counter('pgaf_health_probes_total', 'Health probes of the monitor\'s worker, by node and result (up: the postmaster answered).');
  m.histogram('pgaf_health_probe_duration_seconds', 'How long a node\'s health probe took, retries included.', PROBE_BUCKETS);
  m.counter('pgaf_health_rounds_total', 'Health check rounds of the monitor\'s worker, by result.');
  m.counter('pgaf_hook_runs_total', 'Monitor hooks (on_failover) run, by hook and result.');
  return m;
}

export function monitorMetrics(v: StatusView | undefined, store: MetricStore): string {
  const out = new Exposition();
  // each family's samples together, after its HELP and TYPE (the text format asks for one group per family)
  const nodes = v?.nodes ?? [];
  const id = (n: StatusView['nodes'][number]) => ({ formation: n.formation, group: n.group, node: n.name, node_id: n.nodeId });
  out.family('pgaf_monitor_node_info', 'gauge', 'Each node as the monitor sees it, with its reported state, goal and health as labels (always 1).');
  for (const n of nodes) out.sample('pgaf_monitor_node_info', 1, { ...id(n), state: n.state, goal: n.goal, health: n.health });
  out.family('pgaf_monitor_node_healthy', 'gauge', 'Health of each node: 1 good, 0 bad, -1 not checked yet.');
  for (const n of nodes) out.sample('pgaf_monitor_node_healthy', n.health === 'good' ? 1 : n.health === 'bad' ? 0 : -1, id(n));
  out.family('pgaf_monitor_replication_lag_bytes', 'gauge', 'Bytes between the LSN a node reported and the one its primary reported.');
  for (const n of nodes) if (n.lagBytes !== null) out.sample('pgaf_monitor_replication_lag_bytes', n.lagBytes, id(n));
  out.family('pgaf_monitor_heartbeat_age_seconds', 'gauge', 'Seconds since the node\'s keeper last called node_active.');
  for (const n of nodes) out.sample('pgaf_monitor_heartbeat_age_seconds', n.heartbeatAgeSec, id(n));
  const counts = v?.counts ?? [];
  out.family('pgaf_failovers_total', 'counter', 'Promotions of a standby that no operator asked for, by formation and group (from the event table).');
  for (const c of counts) out.sample('pgaf_failovers_total', c.failovers, { formation: c.formation, group: c.group });
  out.family('pgaf_switchovers_total', 'counter', 'Promotions an operator asked for (perform failover/switchover/promotion, maintenance of the primary).');
  for (const c of counts) out.sample('pgaf_switchovers_total', c.switchovers, { formation: c.formation, group: c.group });
  store.write(out);
  return out.text();
}
