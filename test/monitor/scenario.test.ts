// End-to-end scenarios driven only through the SQL API, the way keepers and an operator
// would: a two-node group through a switchover, a dead primary and its return, a refused
// failover; and a three-node group through an election and a dead primary.
import { describe, expect, it } from 'vitest';
import { expectEventsExplainGoals, type Monitor, MonitorServer, sleep, threeNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const WRITABLE = ['single', 'wait_primary', 'primary', 'join_primary', 'apply_settings'];

async function expectOneWriter(m: Monitor) {
  const writers = (await m.nodes()).filter((n) => WRITABLE.includes(n.goalstate));
  expect(writers.length).toBeLessThanOrEqual(1);
}

async function rules(m: Monitor, since: number) {
  return (await m.events(since)).filter((e) => !['R0'].includes(e.ruleid ?? '')).map((e) => `${e.nodeid}:${e.goalstate}:${e.ruleid}`);
}

describe('two nodes, from bring-up to a dead primary and back', () => {
  it('runs the whole story', async () => {
    const m = await ms.fresh({ primary_demote_timeout: '1s' });

    // 1. Bring-up: A primary, B secondary.
    const a = await m.register(5001, { name: 'alpha' });
    expect(a.state).toBe('single');
    expect(await m.active(a.id, 'single')).toBe('single');
    const b = await m.register(5002, { name: 'bravo' });
    expect(b.state).toBe('wait_standby');
    expect(await m.active(b.id, 'wait_standby')).toBe('wait_standby');
    expect(await m.active(a.id, 'single')).toBe('wait_primary');
    expect(await m.active(a.id, 'wait_primary')).toBe('wait_primary');
    expect(await m.active(b.id, 'wait_standby')).toBe('catchingup');
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
    expect(await m.active(a.id, 'wait_primary')).toBe('primary');
    expect(await m.active(a.id, 'primary')).toBe('primary');
    expect((await m.one(`select pgautofailover.synchronous_standby_names() as s`)).s).toBe(
      `ANY 1 (pgautofailover_standby_${b.id})`,
    );
    expect((await m.one(`select * from pgautofailover.get_primary()`)).primary_name).toBe('alpha');

    // 2. Switchover: perform_failover, the old primary rejoins as secondary.
    let since = await m.lastEventId();
    await m.q(`select pgautofailover.perform_failover()`);
    expect(await m.active(a.id, 'primary')).toBe('draining');
    expect(await m.active(a.id, 'draining')).toBe('draining');
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    expect(await m.active(a.id, 'draining')).toBe('demote_timeout');
    expect(await m.active(a.id, 'demote_timeout')).toBe('demote_timeout');
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('wait_primary');
    await expectOneWriter(m);
    expect(await m.active(a.id, 'demote_timeout')).toBe('demoted');
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('wait_primary');
    expect(await m.active(a.id, 'demoted')).toBe('catchingup');
    expect(await m.active(a.id, 'catchingup', { tli: 2 })).toBe('secondary');
    expect(await m.active(a.id, 'secondary', { tli: 2 })).toBe('secondary');
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('primary');
    expect(await m.active(b.id, 'primary', { tli: 2 })).toBe('primary');
    const order = await rules(m, since);
    for (const r of [
      `${a.id}:draining:A1`,
      `${b.id}:prepare_promotion:A1`,
      `${b.id}:stop_replication:N15`,
      `${a.id}:demote_timeout:N15`,
      `${b.id}:wait_primary:N18`,
      `${a.id}:demoted:N18`,
      `${a.id}:catchingup:N22`,
      `${a.id}:secondary:N8`,
      `${b.id}:primary:P2d`,
    ]) {
      expect(order, r).toContain(r);
    }
    expect(order.indexOf(`${b.id}:wait_primary:N18`)).toBeLessThan(order.indexOf(`${a.id}:catchingup:N22`));
    expect((await m.one(`select * from pgautofailover.get_primary()`)).primary_name).toBe('bravo');

    // 3. The operator makes A an asynchronous standby: B applies the new settings and runs
    //    with synchronous_standby_names '' (nothing proves any more that B cannot commit
    //    without A, so rule F1 cannot apply).
    expect((await m.one(`select pgautofailover.set_node_replication_quorum('default', 'alpha', false) as ok`)).ok).toBe(true);
    expect(await m.goal(b.id)).toBe('apply_settings');
    expect(await m.active(b.id, 'apply_settings', { tli: 2 })).toBe('primary');
    expect(await m.active(b.id, 'primary', { tli: 2 })).toBe('primary');
    expect(await m.active(a.id, 'secondary', { tli: 2 })).toBe('secondary');
    expect((await m.one(`select pgautofailover.synchronous_standby_names() as s`)).s).toBe('');

    // 4. The new primary B stops reporting and its health check fails: failover to A, with
    //    the demote wait (primary_demote_timeout = 1s here) since B cannot confirm.
    since = await m.lastEventId();
    await m.markUnhealthy(b.id);
    expect(await m.active(a.id, 'secondary', { tli: 2 })).toBe('prepare_promotion');
    expect(await m.goal(b.id)).toBe('draining');
    expect(await m.active(a.id, 'prepare_promotion', { tli: 2 })).toBe('stop_replication');
    expect(await m.goal(b.id)).toBe('demote_timeout');
    // The candidate waits for the old primary's demotion (1 s here); only check while that
    // second has surely not passed yet, as a loaded machine may be slow.
    const young = (await m.one(
      `select now() - statechangetime < interval '800 ms' as y from pgautofailover.node where nodeid = $1`,
      [b.id],
    )).y;
    const early = await m.active(a.id, 'stop_replication', { tli: 3 });
    if (young) expect(early).toBe('stop_replication');
    await sleep(1100);
    expect(await m.active(a.id, 'stop_replication', { tli: 3 })).toBe('wait_primary');
    expect(await m.goal(b.id)).toBe('demoted');
    await expectOneWriter(m);
    expect(await m.active(a.id, 'wait_primary', { tli: 3 })).toBe('wait_primary');
    const failover = await rules(m, since);
    expect(failover).toContain(`${a.id}:prepare_promotion:N9`);
    expect(failover).toContain(`${b.id}:draining:N9`);
    expect(failover).toContain(`${a.id}:wait_primary:N18`);
    expect(failover).toContain(`${b.id}:demoted:N18`);
    expect(failover.filter((r) => r.endsWith(':F1'))).toEqual([]);
    // The promotion happened no sooner than primary_demote_timeout after the demotion was asked.
    const evs = await m.events(since);
    const asked = evs.find((e) => e.nodeid === b.id && e.goalstate === 'demote_timeout')!;
    const done = evs.find((e) => e.nodeid === a.id && e.goalstate === 'wait_primary' && e.ruleid === 'N18')!;
    expect(done.eventtime.getTime() - asked.eventtime.getTime()).toBeGreaterThanOrEqual(1000);

    // 5. B comes back: it still thinks it is primary; it is told it was demoted, and rejoins.
    expect(await m.active(b.id, 'primary', { tli: 2 })).toBe('demoted');
    expect(await m.goal(a.id)).toBe('wait_primary');
    await expectOneWriter(m);
    expect(await m.active(b.id, 'demoted', { tli: 2 })).toBe('catchingup');

    // 6. A failover now is refused: the standby is still catching up. Nothing changes.
    await m.expectRefused(`select pgautofailover.perform_failover()`, [], /./);

    expect(await m.active(b.id, 'catchingup', { tli: 3 })).toBe('secondary');
    expect(await m.active(b.id, 'secondary', { tli: 3 })).toBe('secondary');
    expect(await m.active(a.id, 'wait_primary', { tli: 3 })).toBe('primary');
    expect(await m.active(a.id, 'primary', { tli: 3 })).toBe('primary');
    expect(await m.goals([a.id, b.id])).toEqual({ [a.id]: 'primary', [b.id]: 'secondary' });
    const cs = await m.q(`select nodename, current_group_state, assigned_group_state, reported_tli from pgautofailover.current_state()`);
    expect(cs).toEqual([
      { nodename: 'alpha', current_group_state: 'primary', assigned_group_state: 'primary', reported_tli: 3 },
      { nodename: 'bravo', current_group_state: 'secondary', assigned_group_state: 'secondary', reported_tli: 3 },
    ]);
    // Every event names its node, and the events tell every goal change.
    for (const e of await m.events()) expect(e.description).toMatch(/alpha|bravo|node \d/);
    await expectEventsExplainGoals(m);
  });
});

describe('three nodes, driven by obedient keepers', () => {
  it('a switchover, then a dead primary: one writer at every step, everybody back in the end', async () => {
    const m = await ms.fresh({ primary_demote_timeout: '1s' });
    const { a, b, c } = await threeNodes(m);
    const all = [a.id, b.id, c.id];

    await m.q(`select pgautofailover.perform_failover()`);
    await m.settle(all);
    await expectOneWriter(m);
    const after1 = await m.goals(all);
    expect(Object.values(after1).sort()).toEqual(['primary', 'secondary', 'secondary']);
    expect(after1[a.id]).toBe('secondary');
    const p1 = all.find((id) => after1[id] === 'primary')!;

    // The new primary dies; the two others elect a new one.
    await m.markUnhealthy(p1);
    const alive = all.filter((id) => id !== p1);
    await m.settle(alive);
    await expectOneWriter(m);
    // The dead primary ran with ANY 1 (the two others), and both reported their LSN in the
    // election (they stopped streaming from it): the candidate does not wait for
    // primary_demote_timeout (F1).
    const after2 = await m.goals(all);
    expect(alive.map((id) => after2[id]).sort()).toEqual(['primary', 'secondary']);
    expect(after2[p1]).toBe('demoted');
    expect((await m.goalEvents(p1, 'demoted')).map((e) => e.ruleid)).toEqual(['F1']);
    expect(await m.countRule('N18')).toBe(0);
    await expectOneWriter(m);

    // It comes back and rejoins.
    await m.active(p1, 'primary', { running: false });
    await m.settle(all);
    expect(Object.values(await m.goals(all)).sort()).toEqual(['primary', 'secondary', 'secondary']);
    await expectOneWriter(m);
    await expectEventsExplainGoals(m);
  });
});
