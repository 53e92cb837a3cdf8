// The monitor's view for the status page, /metrics and on_failover: lag behind the primary,
// and promotions told apart (failover: nobody asked; switchover: an operator did).
import { describe, expect, it } from 'vitest';
import { integrationSettingsOf, ClusterFileSchema } from '../../config/cluster-config.js';
import { monitorMetricStore, monitorMetrics } from '../../monitor-ext/status-page/metrics.js';
import { nodeViews, PromotionCounter, type EventRow, type NodeRow } from '../../monitor-ext/status-page/view.js';

const node = (id: number, name: string, state: string, goal: string, lsn: string, health = 1): NodeRow => ({
  formationid: 'default', nodeid: id, groupid: 0, nodename: name, nodehost: '127.0.0.1', nodeport: 5000 + id, reportedstate: state, goalstate: goal,
  health, reportedlsn: lsn, reportedtli: 1, reportedrepstate: 'quorum', reportedpgisrunning: true, candidatepriority: 50, replicationquorum: true, report_age: 0.4, health_age: 1,
});
let id = 0;
const ev = (name: string, state: string, goal: string, rule: string): EventRow => ({
  eventid: ++id, eventtime: new Date(0), formationid: 'default', nodeid: name === 'node1' ? 1 : 2, groupid: 0, nodename: name, reportedstate: state, goalstate: goal, description: rule, ruleid: rule,
});

describe('status view', () => {
  it('measures each node against its group primary', () => {
    const v = nodeViews([node(1, 'node1', 'primary', 'primary', '0/3000400'), node(2, 'node2', 'secondary', 'secondary', '0/3000000'), node(3, 'node3', 'catchingup', 'catchingup', '0/5000000')]);
    expect(v.map((n) => [n.name, n.primary, n.lagBytes])).toEqual([['node1', true, 0], ['node2', false, 1024], ['node3', false, 0]]);
    expect(nodeViews([node(1, 'node1', 'primary', 'draining', '0/1'), node(2, 'node2', 'secondary', 'prepare_promotion', '0/1')]).map((n) => n.lagBytes)).toEqual([null, null]);
  });

  it('counts a promotion after an operator request as a switchover, else as a failover', () => {
    const p = new PromotionCounter();
    const found = p.add([
      ev('node1', 'primary', 'draining', 'A1'), ev('node2', 'secondary', 'prepare_promotion', 'A1'),
      ev('node2', 'prepare_promotion', 'stop_replication', 'N15'), ev('node2', 'stop_replication', 'wait_primary', 'N18'),
      ev('node1', 'secondary', 'secondary', 'HC'), ev('node1', 'secondary', 'prepare_promotion', 'N9'),
      ev('node1', 'stop_replication', 'wait_primary', 'N18'),
      ev('node2', 'secondary', 'prepare_maintenance', 'A3'), ev('node1', 'stop_replication', 'wait_primary', 'N17'),
    ]);
    expect(found.map((f) => [f.event.nodename, f.kind])).toEqual([['node2', 'switchover'], ['node1', 'failover'], ['node1', 'switchover']]);
    expect([...p.counts.values()]).toEqual([{ formation: 'default', group: 0, failovers: 1, switchovers: 2 }]);
    // the same events again change nothing
    expect(p.add([ev('node1', 'stop_replication', 'wait_primary', 'N18')].map((e) => ({ ...e, eventid: 1 })))).toEqual([]);
    const m = monitorMetrics({ generatedAt: '', monitor: 'm', nodes: nodeViews([node(1, 'node1', 'primary', 'primary', '0/1')]), events: [], counts: [...p.counts.values()] }, monitorMetricStore());
    expect(m).toContain('pgaf_failovers_total{formation="default",group="0"} 1');
    expect(m).toContain('pgaf_switchovers_total{formation="default",group="0"} 2');
    expect(m).toContain('pgaf_monitor_node_info{formation="default",group="0",node="node1",node_id="1",state="primary",goal="primary",health="good"} 1');
  });
});

describe('[http] and [hooks] in the cluster file', () => {
  it('become pg_autoctl.cfg keys, and hooks must fit the node role', () => {
    const c = ClusterFileSchema.parse({ node: { role: 'postgres', pgdata: '/d' }, monitor: { uri: 'postgres://m/pg_auto_failover' }, http: { port: '8008' }, hooks: { on_primary: '/bin/true', timeout: 5 } });
    expect(integrationSettingsOf(c)).toEqual([['http.port', '8008'], ['hooks.on_primary', '/bin/true'], ['hooks.timeout', '5']]);
    expect(ClusterFileSchema.safeParse({ node: { role: 'postgres', pgdata: '/d' }, monitor: { uri: 'postgres://m/x' }, hooks: { on_failover: 'x' } }).success).toBe(false);
    expect(ClusterFileSchema.safeParse({ node: { role: 'monitor', pgdata: '/d' }, http: { listen: '0.0.0.0; rm' } }).success).toBe(false);
  });
});
