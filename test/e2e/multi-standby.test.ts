// Three nodes: the election (report_lsn, prepare_promotion or fast_forward, join_secondary)
// with real keepers, after a manual failover and after the death of the primary host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_MONITOR_SETTINGS, TestCluster, type NodeState } from '../support/cluster.js';
import { Writer } from '../support/writer.js';

const stable = (s: NodeState[]) =>
  s.filter((n) => n.reportedstate === 'primary' && n.goalstate === 'primary').length === 1 &&
  s.filter((n) => n.reportedstate === 'secondary' && n.goalstate === 'secondary').length === s.length - 1;

describe('one primary, two standbys', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await TestCluster.create();
    await c.startMonitor(FAST_MONITOR_SETTINGS);
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2');
    await c.addNode('node3');
    await c.waitForStates({ node1: 'primary', node2: 'secondary', node3: 'secondary' }, 120_000);
  }, 370_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('elects a new primary on perform failover; the old primary follows it', async () => {
    const r = await c.monitorQuery(`SELECT pgautofailover.perform_failover()`);
    expect(r).toHaveLength(1);
    const s = await c.waitFor('a new stable primary', (st) => stable(st) && st.find((n) => n.nodename === 'node1')?.goalstate === 'secondary', 120_000);
    expect(s.find((n) => n.goalstate === 'primary')?.nodename).not.toBe('node1');
    const rules = (await c.monitorQuery<{ ruleid: string }>(`SELECT DISTINCT ruleid FROM pgautofailover.event`)).map((x) => x.ruleid);
    expect(rules).toEqual(expect.arrayContaining(['A1', 'M2', 'M1']));
  }, 180_000);

  it('elects a new primary when the primary host dies, losing no acknowledged write', async () => {
    const primary = (await c.primaryName())!;
    const w = Writer.fromUri(await c.formationUri(), c.superuser, 'writes', 'ms-hostdeath');
    await w.createTable();
    w.start();
    await w.waitForAcks(20, 10_000);
    await c.killHost(primary);
    const s = await c.waitFor(
      'a new primary taking writes',
      (st) => st.some((n) => n.nodename !== primary && ['wait_primary', 'primary'].includes(n.reportedstate) && n.reportedstate === n.goalstate),
      90_000,
    );
    const next = s.find((n) => n.nodename !== primary && ['wait_primary', 'primary'].includes(n.goalstate))!;
    await w.waitForAcks(10, 20_000, next.nodeport);
    await w.stop();
    expect(await w.missing()).toEqual([]);
    const third = s.find((n) => n.nodename !== primary && n.nodename !== next.nodename)!;
    await c.waitForStates({ [next.nodename]: 'primary', [third.nodename]: 'secondary' }, 90_000);
    c.restartKeeper(primary);
    await c.waitFor('all three stable again', stable, 120_000);
  }, 530_000);
});
