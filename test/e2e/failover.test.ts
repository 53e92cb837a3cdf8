// A real cluster on 127.0.0.1: bring-up, host death of the primary under a writer (no
// acknowledged write lost), and the old primary's return as a secondary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_MONITOR_SETTINGS, TestCluster } from '../support/cluster.js';
import { Writer } from '../support/writer.js';

describe('a monitor and two nodes', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await TestCluster.create();
    await c.startMonitor(FAST_MONITOR_SETTINGS);
  }, 170_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('brings itself up: node1 primary, node2 secondary', async () => {
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2');
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
    const ssn = await c.monitorQuery(`SELECT pgautofailover.synchronous_standby_names() AS s`);
    expect(ssn[0]!.s).toBe('ANY 1 (pgautofailover_standby_2)');
  }, 200_000);

  it('survives the death of the primary host without losing an acknowledged write', async () => {
    const w = Writer.fromUri(await c.formationUri(), c.superuser, 'writes', 'hostdeath');
    await w.createTable();
    w.start();
    await w.waitForAcks(20, 10_000);
    const oldPrimaryPort = c.member('node1').port;
    await c.killHost('node1');
    await c.waitFor('node2 taking writes', (s) => s.some((n) => n.nodename === 'node2' && n.reportedstate === 'wait_primary' && n.goalstate === 'wait_primary'), 60_000);
    await w.waitForAcks(10, 20_000, c.member('node2').port);
    const res = await w.stop();
    expect(res.acked.some((a) => a.port === oldPrimaryPort)).toBe(true);
    expect(await w.missing()).toEqual([]);
  }, 270_000);

  it('takes the old primary back as a secondary when its keeper restarts', async () => {
    c.restartKeeper('node1');
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 90_000);
  }, 130_000);
});
