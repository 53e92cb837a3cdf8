// Planned operations on a real cluster: switchover under a writer, maintenance on the
// standby and on the primary, a third node added then dropped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';
import { Writer } from '../support/writer.js';

describe('planned operations', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await TestCluster.primaryAndSecondary();
  }, 330_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('switches over with no lost write', async () => {
    const w = Writer.fromUri(await c.formationUri(), c.superuser, 'writes', 'switchover');
    await w.createTable();
    w.start();
    await w.waitForAcks(20, 10_000);
    const r = await c.cli('node1', ['perform', 'switchover', '--formation', 'default', '--group', '0']);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 60_000);
    await w.waitForAcks(10, 20_000, c.member('node2').port);
    await w.stop();
    expect(await w.missing()).toEqual([]);
  }, 400_000);

  it('puts the standby in maintenance and takes it back', async () => {
    let r = await c.cli('node1', ['enable', 'maintenance']);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node1: 'maintenance', node2: 'wait_primary' }, 60_000);
    r = await c.cli('node1', ['disable', 'maintenance']);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 60_000);
  }, 430_000);

  it('puts the primary in maintenance: the standby takes over', async () => {
    let r = await c.cli('node2', ['enable', 'maintenance']);
    expect(r.code).toBe(1); // a primary needs --allow-failover
    r = await c.cli('node2', ['enable', 'maintenance', '--allow-failover']);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node2: 'maintenance', node1: 'wait_primary' }, 60_000);
    r = await c.cli('node2', ['disable', 'maintenance']);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node2: 'secondary', node1: 'primary' }, 90_000);
  }, 600_000);

  it('adds a third node, then drops it', async () => {
    await c.addNode('node3');
    await c.waitForStates({ node1: 'primary', node2: 'secondary', node3: 'secondary' }, 90_000);
    const ssn = await c.monitorQuery(`SELECT pgautofailover.synchronous_standby_names() AS s`);
    expect(ssn[0]!.s).toMatch(/^ANY 1 \(pgautofailover_standby_\d, pgautofailover_standby_\d\)$/);
    const r = await c.cli('node3', ['drop', 'node', '--destroy']);
    expect(r.code, r.stderr).toBe(0);
    await c.waitFor('node3 gone', (s) => !s.some((n) => n.nodename === 'node3'), 60_000);
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 60_000);
    const after = await c.monitorQuery(`SELECT pgautofailover.synchronous_standby_names() AS s`);
    expect(after[0]!.s).toMatch(/^ANY 1 \(pgautofailover_standby_\d\)$/);
  }, 400_000);
  it('pg_autoctl commands against running keepers: get/set default to the local node, do commands, status', async () => {
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 60_000);
    let r = await c.cli('node2', ['get', 'node', 'candidate-priority']);
    expect(r.code, r.stderr).toBe(0);
    const before = r.stdout;
    expect(before).toMatch(/^\d+\n$/);
    // waits until the primary has applied the change (apply_settings, then primary again)
    r = await c.cli('node2', ['set', 'node', 'candidate-priority', '40']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('40\n');
    expect((await c.cli('node2', ['get', 'node', 'candidate-priority'])).stdout).toBe('40\n');
    r = await c.cli('node2', ['set', 'node', 'candidate-priority', before.trim()]);
    expect(r.code, r.stderr).toBe(0);
    r = await c.cli('node2', ['set', 'formation', 'number-sync-standbys', '1']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/the monitor refused/);

    r = await c.cli('node2', ['do', 'pgsetup', 'ready']);
    expect(r.code, r.stderr).toBe(0);
    r = await c.cli('node2', ['do', 'pgsetup', 'wait', '--timeout', '5']);
    expect(r.code, r.stderr).toBe(0);
    r = await c.cli('node2', ['do', 'fsm', 'state'], 20_000);
    expect(r.code, r.stderr).toBe(0);
    const st = JSON.parse(r.stdout);
    expect(st.state).toMatchObject({ current_role: 'secondary', assigned_role: 'secondary' });
    expect(st.postgres.is_running).toBe(true);
    r = await c.cli('node2', ['show', 'state', '--local']);
    expect(r.stdout).toMatch(/node2 \| .* \| +\d+: [0-9A-F]+\/[0-9A-F]+ \| .* \| +secondary \| +secondary\n\n$/);
    expect(r.stdout).not.toMatch(/ 0: 0\/0 /);
    r = await c.cli('node2', ['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).pg_autoctl.status).toBe('running');
    expect(JSON.parse(r.stdout).postgres.in_recovery).toBe(true); // a standby, from pg_controldata
    r = await c.cli('node2', ['do', 'fsm', 'step']);
    expect(r.code).toBe(3); // the keeper runs: no stepping by hand
    r = await c.cli('node2', ['do', 'service', 'restart', 'postgres']);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 60_000);
  }, 1_640_000);
});
