// The keeper's Prometheus metrics: gauges written from the latest snapshot at each scrape,
// counters and histograms kept since the keeper started (transitions, hooks).
import { Exposition, MetricStore } from '../../lib/prometheus.js';
import { parseLsn } from '../../lib/lsn.js';
import { isPrimary, isStreamingReplica, isSyncStandby } from './answers.js';
import type { KeeperSnapshot } from './snapshot.js';

export const TRANSITION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800];
export const HOOK_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120];

export function keeperMetricStore(): MetricStore {
  const m = new MetricStore();
  m.counter('pgaf_transitions_total', 'State transitions run by this keeper, by from/to state and result.');
  m.histogram('pgaf_transition_duration_seconds', 'How long the keeper took to run a transition, by target state.', TRANSITION_BUCKETS);
  m.counter('pgaf_promotions_total', 'Transitions that made this node take writes (failovers and switchovers seen from this node).');
  m.counter('pgaf_demotions_total', 'Transitions that made this node stop taking writes.');
  m.counter('pgaf_hook_runs_total', 'State-change hooks run, by hook and result.');
  m.histogram('pgaf_hook_duration_seconds', 'How long hooks ran, by hook.', HOOK_BUCKETS);
  m.counter('pgaf_promotions_cancelled_total', 'Promotions cancelled because the fencing hook (pre_promote) failed.');
  m.touch('pgaf_promotions_total');
  m.touch('pgaf_demotions_total');
  m.touch('pgaf_promotions_cancelled_total');
  return m;
}

function lsnBytes(lsn: string): number | null {
  try {
    return Number(parseLsn(lsn));
  } catch {
    return null;
  }
}

/** One scrape. */
export function keeperMetrics(s: KeeperSnapshot | undefined, store: MetricStore, now: number): string {
  const out = new Exposition();
  if (s) {
    const id = { formation: s.formation, group: s.group, node: s.name, node_id: s.nodeId };
    out.gauge('pgaf_node_info', 'The node with its reported state and its goal as labels (always 1).', 1, { ...id, state: s.state, goal: s.goal });
    out.gauge('pgaf_node_converged', 'Whether the reported state equals the goal (1) or a transition is pending (0).', s.state === s.goal ? 1 : 0, id);
    out.gauge('pgaf_postgres_up', 'Whether Postgres runs (1) or not (0).', s.postgres.running ? 1 : 0, id);
    out.gauge('pgaf_postgres_in_recovery', 'Whether Postgres is a standby (1) or a primary (0).', s.postgres.inRecovery ? 1 : 0, id);
    out.gauge('pgaf_postgres_timeline', 'The timeline of this node.', s.postgres.timeline, id);
    out.gauge('pgaf_postgres_lsn_bytes', 'The LSN this node reports (flush LSN on a primary, received/replayed on a standby), as bytes.', lsnBytes(s.postgres.lsn), id);
    out.gauge('pgaf_replication_lag_bytes', 'Bytes this standby has not replayed yet of what its upstream has (0 on a primary).', s.lagBytes, id);
    out.gauge('pgaf_standbys_connected', 'pgaf standbys that replied within the last seconds (primaries).', s.postgres.standbysConnected, id);
    out.gauge('pgaf_monitor_reachable', 'Whether the last node_active call reached the monitor.', s.monitor.reachable ? 1 : 0, id);
    out.gauge('pgaf_monitor_last_contact_age_seconds', 'Seconds since the last successful heartbeat (node_active) to the monitor.', s.monitor.lastContact ? round(now - s.monitor.lastContact) : null, id);
    out.gauge('pgaf_keeper_last_tick_age_seconds', 'Seconds since the keeper loop last finished a round.', round(now - s.at), id);
    out.family('pgaf_endpoint_up', 'gauge', 'What the HTTP health endpoints answer: 1 for 200, 0 for 503.');
    out.sample('pgaf_endpoint_up', isPrimary(s) ? 1 : 0, { ...id, endpoint: '/primary' });
    out.sample('pgaf_endpoint_up', isStreamingReplica(s) ? 1 : 0, { ...id, endpoint: '/replica' });
    out.sample('pgaf_endpoint_up', isSyncStandby(s) ? 1 : 0, { ...id, endpoint: '/sync' });
  }
  store.write(out);
  return out.text();
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
