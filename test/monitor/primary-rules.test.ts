// Primary rules (spec §2.4, [HEAD] 303) and synchronous_standby_names (§2.4 table).
import { describe, expect, it } from 'vitest';
import { type Monitor, MonitorServer, threeNodes, twoNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const ssn = async (m: Monitor) =>
  (await m.one(`select pgautofailover.synchronous_standby_names('default', 0) as s`)).s as string;

describe('P2a/P2b/P2c: losing standbys', () => {
  it('P2a + P2c: an unhealthy secondary → catchingup, and with nss = 0 the primary → wait_primary', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.markUnhealthy(b.id);
    expect(await m.active(a.id, 'primary')).toBe('wait_primary');
    await m.expectAssigned(b.id, 'catchingup', 'P2a');
    await m.expectAssigned(a.id, 'wait_primary', 'P2c');
  });

  it('P2a also when the standby keeper reports Postgres is not running', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect(await m.active(b.id, 'secondary', { running: false })).toBe('secondary');
    expect(await m.active(a.id, 'primary')).toBe('wait_primary');
    await m.expectAssigned(b.id, 'catchingup', 'P2a');
  });

  it('a healthy secondary is left alone', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    const since = await m.lastEventId();
    expect(await m.active(a.id, 'primary')).toBe('primary');
    expect(await m.goal(b.id)).toBe('secondary');
    expect((await m.events(since)).filter((e) => e.ruleid !== 'R0')).toEqual([]);
  });

  it('P2b: with only async standbys the primary is primary when one is secondary', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m, { b: { quorum: false } });
    await m.expectAssigned(a.id, 'primary', 'P2b');
    expect(await ssn(m)).toBe('');
    await m.markUnhealthy(b.id);
    expect(await m.active(a.id, 'primary')).toBe('wait_primary');
    await m.expectAssigned(b.id, 'catchingup', 'P2a');
    await m.expectAssigned(a.id, 'wait_primary', 'P2b');
  });

  it('P2c: with number_sync_standbys = 1 and no quorum secondary left, the primary stays primary (writes block)', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    expect(await m.nss()).toBe(1);
    await m.markUnhealthy(b.id);
    await m.markUnhealthy(c.id);
    expect(await m.active(a.id, 'primary')).toBe('primary');
    await m.expectAssigned(b.id, 'catchingup', 'P2a');
    await m.expectAssigned(c.id, 'catchingup', 'P2a');
  });

  it('P2c: with number_sync_standbys = 0 and no quorum secondary left, the primary → wait_primary', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    await m.q(`select pgautofailover.set_formation_number_sync_standbys('default', 0)`);
    expect(await m.active(a.id, 'apply_settings')).toBe('primary');
    await m.active(a.id, 'primary');
    await m.markUnhealthy(b.id);
    await m.markUnhealthy(c.id);
    expect(await m.active(a.id, 'primary')).toBe('wait_primary');
    await m.expectAssigned(a.id, 'wait_primary', 'P2c');
  });

  it('one quorum secondary left out of two: the primary stays primary and the other stays secondary', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    await m.markUnhealthy(b.id);
    expect(await m.active(a.id, 'primary')).toBe('primary');
    expect(await m.goals([b.id, c.id])).toEqual({ [b.id]: 'catchingup', [c.id]: 'secondary' });
  });
});

describe('P2d/P2e/P3: back to primary', () => {
  it('P2e: a primary converged apply_settings after a settings change (A6) → primary', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect((await m.one(`select pgautofailover.set_node_candidate_priority('default', $1, 50) as ok`, [b.name])).ok).toBe(
      true,
    );
    await m.expectAssigned(a.id, 'apply_settings', 'A6');
    expect(await m.active(a.id, 'apply_settings')).toBe('primary');
    await m.expectAssigned(a.id, 'primary', 'P2e');
  });

  it('P2e: with nss = 0 and no quorum secondary, apply_settings → wait_primary', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    expect(await m.active(b.id, 'wait_standby')).toBe('catchingup');
    await m.q(`select pgautofailover.set_node_candidate_priority('default', $1, 50)`, [b.name]);
    expect(await m.goal(a.id)).toBe('apply_settings');
    expect(await m.active(a.id, 'apply_settings')).toBe('wait_primary');
    await m.expectAssigned(a.id, 'wait_primary', ['P2e', 'P2c']);
  });

  it('N6 + P2e: a quorum standby joining a primary sends it to apply_settings, then back to primary', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    const c = await m.register(5003);
    expect(await m.active(c.id, 'wait_standby')).toBe('catchingup');
    await m.expectAssigned(c.id, 'catchingup', 'N6');
    await m.expectAssigned(a.id, 'apply_settings', 'N6');
    expect(await m.active(a.id, 'apply_settings')).toBe('primary');
    await m.expectAssigned(a.id, 'primary', 'P2e');
  });

  it('N7: a non-quorum standby joining a primary leaves the primary alone', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    const c = await m.register(5003, { quorum: false });
    const since = await m.lastEventId();
    expect(await m.active(c.id, 'wait_standby')).toBe('catchingup');
    await m.expectAssigned(c.id, 'catchingup', 'N7');
    expect(await m.goal(a.id)).toBe('primary');
    expect((await m.events(since)).filter((e) => e.nodeid === a.id && e.ruleid !== 'R0')).toEqual([]);
  });

  it('a node reporting join_primary (deprecated) is recorded as primary (spec §1)', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    expect(await m.active(a.id, 'join_primary')).toBe('primary');
    expect((await m.node(a.id)).reportedstate).toBe('primary');
  });

  it('P3: a primary in join_primary (deprecated state, goal left from an old monitor) → primary', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    await m.craft(a.id, { goalstate: 'join_primary', reportedstate: 'join_primary' });
    expect(await m.active(a.id, 'join_primary')).toBe('primary');
    await m.expectAssigned(a.id, 'primary', 'P3');
  });
});

describe('H303: replication stall', () => {
  async function stalled(m: Monitor, a: number) {
    await m.active(a, 'primary', { rep: '' });
    await m.q(
      `update pgautofailover.node set replication_stall_since = now() - interval '1 hour' where nodeid = $1`,
      [a],
    );
    return m.active(a, 'primary', { rep: '' });
  }

  it('nss = 0 and no standby streaming for replication_stall_timeout: primary → wait_primary, secondaries → catchingup', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect(await stalled(m, a.id)).toBe('wait_primary');
    await m.expectAssigned(a.id, 'wait_primary', 'H303');
    await m.expectAssigned(b.id, 'catchingup', 'H303');
  });

  it('not before replication_stall_timeout (a short stall is tolerated)', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect(await m.active(a.id, 'primary', { rep: '' })).toBe('primary');
    expect(await m.active(a.id, 'primary', { rep: '' })).toBe('primary');
    expect(await m.goal(b.id)).toBe('secondary');
  });

  it('a standby streaming again resets the stall clock', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    await m.active(a.id, 'primary', { rep: '' });
    await m.q(`update pgautofailover.node set replication_stall_since = now() - interval '1 hour' where nodeid = $1`, [
      a.id,
    ]);
    expect(await m.active(a.id, 'primary', { rep: 'quorum' })).toBe('primary');
    expect(await m.active(a.id, 'primary', { rep: '' })).toBe('primary');
  });

  it('not with number_sync_standbys > 0 (writes block by design)', async () => {
    const m = await ms.fresh();
    const { a } = await threeNodes(m);
    expect(await stalled(m, a.id)).toBe('primary');
  });
});

describe('synchronous_standby_names (spec §2.4 table)', () => {
  it("1 node: ''", async () => {
    const m = await ms.fresh();
    await m.register(5001);
    await m.active(1, 'single');
    expect(await ssn(m)).toBe('');
  });

  it("2 nodes: 'ANY 1 (pgautofailover_standby_<id>)' with a quorum secondary", async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    expect(await ssn(m)).toBe('ANY 1 (pgautofailover_standby_2)');
  });

  it("2 nodes: '' while the standby is not secondary", async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    await m.active(b.id, 'wait_standby');
    expect(await m.goal(b.id)).toBe('catchingup');
    expect(await ssn(m)).toBe('');
  });

  it("2 nodes: ANY 1 as soon as the standby's goal is secondary (before it reports it)", async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    await m.active(b.id, 'wait_standby');
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
    expect((await m.node(b.id)).reportedstate).toBe('catchingup');
    expect(await ssn(m)).toBe(`ANY 1 (pgautofailover_standby_${b.id})`);
  });

  it("2 nodes: '' when the standby has replication quorum false", async () => {
    const m = await ms.fresh();
    await twoNodes(m, { b: { quorum: false } });
    expect(await ssn(m)).toBe('');
  });

  it('3 nodes: ANY 1 over the quorum standbys, by candidate priority descending', async () => {
    const m = await ms.fresh();
    const { b } = await threeNodes(m);
    expect(await ssn(m)).toBe('ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)');
    await m.q(`select pgautofailover.set_node_candidate_priority('default', $1, 10)`, [b.name]);
    expect(await ssn(m)).toBe('ANY 1 (pgautofailover_standby_3, pgautofailover_standby_2)');
  });

  it('3 nodes with number_sync_standbys 0: still ANY 1; a non-quorum standby is left out', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    await m.q(`select pgautofailover.set_formation_number_sync_standbys('default', 0)`);
    expect(await ssn(m)).toBe('ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)');
    await m.active(a.id, 'apply_settings');
    await m.active(a.id, 'primary');
    await m.q(`select pgautofailover.set_node_replication_quorum('default', $1, false)`, [b.name]);
    expect(await ssn(m)).toBe('ANY 1 (pgautofailover_standby_3)');
    await m.active(a.id, 'apply_settings');
    await m.active(a.id, 'primary');
    await m.q(`select pgautofailover.set_node_replication_quorum('default', $1, false)`, [c.name]);
    expect(await ssn(m)).toBe('');
  });

  it("3 nodes: '' while the primary is converged wait_primary", async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    const c = await m.register(5003, { priority: 50 });
    await m.active(b.id, 'wait_standby');
    await m.active(c.id, 'wait_standby');
    await m.active(a.id, 'single');
    expect(await m.active(a.id, 'wait_primary')).toBe('wait_primary');
    await m.active(b.id, 'wait_standby');
    await m.active(c.id, 'wait_standby');
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
    expect(await m.active(c.id, 'catchingup')).toBe('secondary');
    expect(await ssn(m)).toBe('');
  });

  it('4 nodes with number_sync_standbys 2: ANY 2 (three standbys)', async () => {
    const m = await ms.fresh();
    const { a } = await threeNodes(m);
    const d = await m.register(5004, { priority: 70 });
    await m.settle([a.id, 2, 3, d.id]);
    expect(await m.goals([a.id, d.id])).toEqual({ [a.id]: 'primary', [d.id]: 'secondary' });
    expect((await m.one(`select pgautofailover.set_formation_number_sync_standbys('default', 2) as ok`)).ok).toBe(true);
    expect(await ssn(m)).toBe('ANY 2 (pgautofailover_standby_2, pgautofailover_standby_4, pgautofailover_standby_3)');
  });

  it('formation_settings lists number_sync_standbys, the primary sync names and every node setting', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    const rows = await m.q(`select * from pgautofailover.formation_settings('default')`);
    const find = (ctx: string, setting: string, node?: number) =>
      rows.find((r) => r.context === ctx && r.setting === setting && (node === undefined || r.node_id === node));
    expect(find('formation', 'number_sync_standbys')?.value).toBe('0');
    expect(find('primary', 'synchronous_standby_names')?.value).toBe(`'ANY 1 (pgautofailover_standby_2)'`);
    expect(find('primary', 'synchronous_standby_names')?.node_id).toBe(1);
    expect(find('node', 'replication quorum', 2)?.value).toBe('true');
    expect(find('node', 'candidate priority', 1)?.value).toBe('100');
  });
});
