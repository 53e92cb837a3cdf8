// S4: a keeper restart, a monitor restart or a monitor outage never causes a failover by
// itself, and never stops a healthy primary from serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { until } from '../support/until.js';
import { Writer } from '../support/writer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('no failover without a failure', () => {
  let c: TestCluster;
  let w: Writer;

  beforeAll(async () => {
    c = await TestCluster.primaryAndSecondary();
    w = Writer.fromUri(await c.formationUri(), c.superuser, 'writes', 'nofailover');
    await w.createTable();
    w.start();
    await w.waitForAcks(10, 10_000);
  }, 480_000);
  afterAll(async () => {
    await w?.stop();
    await c?.destroy();
  });

  it('kill -9 of the primary keeper alone: Postgres keeps serving, no failover', async () => {
    const pm = c.postmasterPid('node1');
    await c.killKeeper('node1');
    // well past node_considered_unhealthy_timeout (3 s) and the demote wait
    await sleep(10_000);
    await w.waitForAcks(10, 5_000, c.member('node1').port);
    expect(c.postmasterPid('node1')).toBe(pm);
    const s = await c.states();
    expect(s.find((n) => n.nodename === 'node1')?.goalstate).toBe('primary');
    expect(s.find((n) => n.nodename === 'node2')?.goalstate).toBe('secondary');
    c.restartKeeper('node1');
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 30_000);
    expect(c.postmasterPid('node1')).toBe(pm);
  });

  it('a monitor restart causes no failover', async () => {
    await c.killKeeper('monitor');
    const r = await c.cli('monitor', ['stop']);
    expect(r.code, r.stderr).toBe(0);
    await sleep(5_000);
    await w.waitForAcks(10, 5_000, c.member('node1').port);
    c.restartKeeper('monitor');
    await sleep(8_000);
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 30_000);
    await w.waitForAcks(10, 5_000, c.member('node1').port);
    const events = await c.monitorQuery(`SELECT ruleid FROM pgautofailover.event WHERE ruleid IN ('N9','E8','A1')`);
    expect(events).toEqual([]);
  }, 230_000);

  it('the monitor service starts its Postgres again when the postmaster dies (postmaster.pid names a dead process)', async () => {
    const before = c.postmasterPid('monitor');
    expect(before).toBeGreaterThan(0);
    c.killPostgres('monitor');
    await until('a new monitor postmaster', () => c.postmasterPid('monitor'), (pid) => pid !== undefined && pid !== before, 60_000, 250);
    await until('the monitor answering', () => c.monitorQuery<{ n: string }>('SELECT count(*) AS n FROM pgautofailover.node').catch(() => []), (r) => r[0]?.n === '2', 60_000, 500);
    expect(c.logTail('monitor', 200)).toMatch(/The monitor Postgres is not running: starting it/);
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 30_000);
    const events = await c.monitorQuery(`SELECT ruleid FROM pgautofailover.event WHERE ruleid IN ('N9','E8','A1')`);
    expect(events).toEqual([]);
    await w.stop();
    expect(await w.missing()).toEqual([]);
  }, 180_000);
});
