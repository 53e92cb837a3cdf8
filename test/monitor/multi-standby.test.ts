// Groups of more than two nodes: the multi-standby failover (spec §2.5, §2.2 extra rows E8/E9,
// §2.3 rows 1–4, 16, 21–24, [HEAD] 363), perform_failover / perform_promotion with 3 nodes.
import { describe, expect, it } from 'vitest';
import { type Monitor, MonitorServer, threeNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const WRITABLE = ['single', 'wait_primary', 'primary', 'join_primary', 'apply_settings'];

/** At most one node of the group may have a writable goal at any time (S2). */
async function expectOneWriter(m: Monitor) {
  const writers = (await m.nodes()).filter((n) => WRITABLE.includes(n.goalstate));
  expect(writers.length, `writable goals: ${JSON.stringify(writers.map((n) => [n.nodeid, n.goalstate]))}`).toBeLessThanOrEqual(1);
}

describe('bring-up of three nodes', () => {
  it('A primary, B and C secondary; the third node set number_sync_standbys to 1', async () => {
    const m = await ms.fresh();
    await threeNodes(m);
    expect(await m.nss()).toBe(1);
  });
});

describe('perform_failover with three nodes: an election', () => {
  /** A primary at 0/3000000, B (prio 100) ahead at 0/3000100, C (prio 50) at 0/3000000. */
  async function cluster(m: Monitor) {
    const nodes = await threeNodes(m);
    m.lsn.set(nodes.b.id, '0/3000100');
    return nodes;
  }

  it('A1, M2, M6, N16, M1, N23, P2d: draining → report_lsn → prepare_promotion → wait_primary; others join', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await cluster(m);
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    await m.expectAssigned(a.id, 'draining', 'A1');
    // The old primary loses the election: its priority is lowered by 101.
    expect((await m.node(a.id)).candidatepriority).toBe(100 - 101);
    await expectOneWriter(m);

    // The old primary drains; every node is asked to report its LSN.
    await m.active(a.id, 'draining');
    await m.active(b.id, 'secondary');
    await m.active(c.id, 'secondary');
    expect(await m.goals([a.id, b.id, c.id])).toEqual({ [a.id]: 'report_lsn', [b.id]: 'report_lsn', [c.id]: 'report_lsn' });
    await m.expectAssigned(a.id, 'report_lsn', 'M2');
    await m.expectAssigned(b.id, 'report_lsn', 'M2');
    await m.expectAssigned(c.id, 'report_lsn', 'M2');

    await m.active(a.id, 'report_lsn');
    await m.active(c.id, 'report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'M6');
    // The lowered priority is given back at election time.
    expect((await m.node(a.id)).candidatepriority).toBe(100);
    expect(await m.goals([a.id, c.id])).toEqual({ [a.id]: 'report_lsn', [c.id]: 'report_lsn' });

    // No primary is left (the old one is in report_lsn): the candidate goes straight to wait_primary.
    expect(await m.active(b.id, 'prepare_promotion')).toBe('wait_primary');
    await m.expectAssigned(b.id, 'wait_primary', 'N16');
    await expectOneWriter(m);

    // The candidate is ready to stream: the others rejoin through join_secondary.
    expect(await m.active(c.id, 'report_lsn')).toBe('join_secondary');
    await m.expectAssigned(c.id, 'join_secondary', 'M1');
    expect(await m.active(a.id, 'report_lsn')).toBe('join_secondary');
    await m.expectAssigned(a.id, 'join_secondary', 'M1');

    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('wait_primary');
    expect(await m.active(c.id, 'join_secondary', { tli: 2 })).toBe('secondary');
    await m.expectAssigned(c.id, 'secondary', 'N23');
    expect(await m.active(a.id, 'join_secondary', { tli: 2 })).toBe('secondary');
    await m.expectAssigned(a.id, 'secondary', 'N23');
    await m.active(c.id, 'secondary', { tli: 2 });
    await m.active(a.id, 'secondary', { tli: 2 });
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('primary');
    await m.expectAssigned(b.id, 'primary', 'P2d');
    await expectOneWriter(m);
  });

  it('N1, N2: a standby still in report_lsn when the new primary converged goes straight to secondary', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await cluster(m);
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    await m.active(a.id, 'draining');
    await m.active(b.id, 'secondary');
    await m.active(c.id, 'secondary');
    await m.active(a.id, 'report_lsn');
    await m.active(c.id, 'report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('wait_primary');
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('wait_primary');
    // N1: the new primary converged wait_primary.
    expect(await m.active(a.id, 'report_lsn')).toBe('secondary');
    await m.expectAssigned(a.id, 'secondary', 'N1');
    expect(await m.active(a.id, 'secondary', { tli: 2 })).toBe('secondary');
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('primary');
    expect(await m.active(b.id, 'primary', { tli: 2 })).toBe('primary');
    // N2: the new primary converged primary.
    expect(await m.active(c.id, 'report_lsn')).toBe('secondary');
    await m.expectAssigned(c.id, 'secondary', 'N2');
  });

  it('N24: join_secondary → secondary once the new primary converged primary', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await cluster(m);
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    await m.active(a.id, 'draining');
    await m.active(b.id, 'secondary');
    await m.active(c.id, 'secondary');
    await m.active(a.id, 'report_lsn');
    await m.active(c.id, 'report_lsn');
    await m.active(b.id, 'report_lsn');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('wait_primary');
    expect(await m.active(c.id, 'report_lsn')).toBe('join_secondary');
    expect(await m.active(a.id, 'report_lsn')).toBe('join_secondary');
    await m.active(b.id, 'wait_primary', { tli: 2 });
    expect(await m.active(a.id, 'join_secondary', { tli: 2 })).toBe('secondary');
    await m.active(a.id, 'secondary', { tli: 2 });
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('primary');
    expect(await m.active(b.id, 'primary', { tli: 2 })).toBe('primary');
    expect(await m.active(c.id, 'join_secondary', { tli: 2 })).toBe('secondary');
    await m.expectAssigned(c.id, 'secondary', 'N24');
  });

  it('A2: perform_promotion of the lower-priority standby makes it win the election', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    const r = await m.one(`select pgautofailover.perform_promotion('default', $1) as ok`, [c.name]);
    expect(r.ok).toBe(true);
    expect((await m.node(c.id)).candidatepriority).toBe(50 + 101);
    expect(await m.goal(a.id)).toBe('draining');
    await m.settle([a.id, b.id, c.id]);
    expect(await m.goals([a.id, b.id, c.id])).toEqual({ [a.id]: 'secondary', [b.id]: 'secondary', [c.id]: 'primary' });
    // Boosts are removed at election time.
    expect((await m.nodes()).map((n) => n.candidatepriority)).toEqual([100, 100, 50]);
    // The boost is an event with rule id A2, naming the promoted node.
    const a2 = (await m.events()).filter((e) => e.ruleid === 'A2');
    expect(a2.map((e) => e.nodeid), 'events with rule id A2').toContain(c.id);
  });

  it('perform_promotion of the primary itself: NOTICE, false, nothing changes', async () => {
    const m = await ms.fresh();
    const { a } = await threeNodes(m);
    const before = await m.snapshot();
    const r = await m.one(`select pgautofailover.perform_promotion('default', $1) as ok`, [a.name]);
    expect(r.ok).toBe(false);
    expect(await m.snapshot()).toBe(before);
  });
});

describe('failover of a dead primary with three nodes', () => {
  /** B (prio 100) at 0/3000000, C (prio 50) ahead at 0/3000100, A dies. */
  async function deadPrimary(m: Monitor) {
    const nodes = await threeNodes(m);
    m.lsn.set(nodes.c.id, '0/3000100');
    await m.active(nodes.c.id, 'secondary');
    await m.markUnhealthy(nodes.a.id);
    return nodes;
  }

  it('E8, M2, M3 (once), M7, N3, N15, M1, F1, N23, P2d, then the old primary rejoins (N21, N8)', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await deadPrimary(m);
    expect(await m.active(b.id, 'secondary')).toBe('report_lsn');
    await m.expectAssigned(b.id, 'report_lsn', 'M2');
    await m.expectAssigned(c.id, 'report_lsn', 'M2');
    await m.expectAssigned(a.id, 'draining', 'E8');

    // B reported, C did not yet: the election waits, and says so once.
    const since = await m.lastEventId();
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    expect(await m.countRule('M3', since)).toBe(1);
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    expect(await m.countRule('M3', since)).toBe(1);
    const m3 = (await m.events(since)).find((e) => e.ruleid === 'M3')!;
    expect(m3.description).toMatch(new RegExp(`node_${c.id}|node ${c.id}|1|missing|wait`, 'i'));

    // C is the most advanced, B has the higher priority: B is selected and fast-forwards.
    expect(await m.active(c.id, 'report_lsn')).toBe('report_lsn');
    expect(await m.goal(b.id)).toBe('fast_forward');
    await m.expectAssigned(b.id, 'fast_forward', 'M7');
    const adv = await m.q(`select * from pgautofailover.get_most_advanced_standby('default', 0)`);
    expect(adv.map((r) => [r.node_id, r.node_lsn, r.node_is_primary])).toEqual([[c.id, '0/3000100', false]]);

    expect(await m.active(b.id, 'report_lsn')).toBe('fast_forward');
    // C waits while the candidate is still fetching WAL.
    expect(await m.active(c.id, 'report_lsn')).toBe('report_lsn');
    expect(await m.active(b.id, 'fast_forward', { lsn: '0/3000100' })).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'N3');
    expect(await m.active(b.id, 'prepare_promotion', { lsn: '0/3000100' })).toBe('stop_replication');
    await m.expectAssigned(b.id, 'stop_replication', 'N15');
    await m.expectAssigned(a.id, 'demote_timeout', 'N15');
    expect(await m.active(c.id, 'report_lsn')).toBe('join_secondary');
    await m.expectAssigned(c.id, 'join_secondary', 'M1');

    // The dead primary cannot confirm, but it ran with ANY 1 (B, C) and both reported
    // report_lsn (they stopped streaming from it): it cannot commit any more, so B becomes
    // writable at once, without waiting for primary_demote_timeout (F1). The drain-time
    // fallback with three nodes: sync-fencing.test.ts.
    expect(await m.active(b.id, 'stop_replication', { tli: 2, lsn: '0/3000100' })).toBe('wait_primary');
    await m.expectAssigned(b.id, 'wait_primary', 'F1');
    await m.expectAssigned(a.id, 'demoted', 'F1');
    expect(await m.countRule('N18')).toBe(0);
    await expectOneWriter(m);

    expect(await m.active(c.id, 'join_secondary', { tli: 2 })).toBe('join_secondary');
    expect(await m.active(b.id, 'wait_primary', { tli: 2, lsn: '0/3000100' })).toBe('wait_primary');
    expect(await m.active(c.id, 'join_secondary', { tli: 2 })).toBe('secondary');
    await m.expectAssigned(c.id, 'secondary', 'N23');
    await m.active(c.id, 'secondary', { tli: 2 });
    expect(await m.active(b.id, 'wait_primary', { tli: 2, lsn: '0/3000100' })).toBe('primary');
    await m.expectAssigned(b.id, 'primary', 'P2d');

    // The old primary comes back while B has not yet reported primary (goal primary,
    // reported wait_primary): it is told it was demoted, then catches up (N21).
    expect(await m.active(a.id, 'primary', { running: false })).toBe('demoted');
    expect(await m.goal(b.id)).toBe('primary');
    expect(await m.active(a.id, 'demoted')).toBe('catchingup');
    await m.expectAssigned(a.id, 'catchingup', 'N21');
    expect(await m.active(a.id, 'catchingup', { tli: 2, lsn: '0/3000100' })).toBe('secondary');
    await m.expectAssigned(a.id, 'secondary', 'N8');
    await expectOneWriter(m);
  });

  it('H363: a fast_forward candidate whose WAL sources are all unhealthy → report_lsn', async () => {
    const m = await ms.fresh();
    const { b, c } = await deadPrimary(m);
    await m.active(b.id, 'secondary');
    await m.active(c.id, 'report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('fast_forward');
    await m.markUnhealthy(c.id);
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    await m.expectAssigned(b.id, 'report_lsn', 'H363');
  });

  it('N16: the old primary is removed during the election; the candidate → wait_primary', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    await m.markUnhealthy(a.id);
    await m.active(b.id, 'secondary');
    await m.active(c.id, 'report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'M6');
    expect((await m.one(`select pgautofailover.remove_node($1::bigint, true) as ok`, [a.id])).ok).toBe(true);
    expect(await m.nodeOrNull(a.id)).toBeNull();
    expect(await m.active(b.id, 'prepare_promotion')).toBe('wait_primary');
    await m.expectAssigned(b.id, 'wait_primary', 'N16');
  });

  it('M4: the election is refused when the best standby is more than promote_wal_log_threshold behind', async () => {
    const m = await ms.fresh({ promote_wal_log_threshold: '1MB' });
    const { a, b, c } = await threeNodes(m);
    // The primary wrote 2 MB that no standby received, then died.
    await m.active(a.id, 'primary', { lsn: '0/3200000' });
    await m.markUnhealthy(a.id);
    await m.active(b.id, 'secondary');
    await m.active(c.id, 'secondary');
    const since = await m.lastEventId();
    await m.active(b.id, 'report_lsn');
    await m.active(c.id, 'report_lsn');
    expect(await m.countRule('M4', since)).toBe(1);
    const m4 = (await m.events(since)).find((e) => e.ruleid === 'M4')!;
    expect(m4.description.length).toBeGreaterThan(10);
    await m.active(b.id, 'report_lsn');
    await m.active(c.id, 'report_lsn');
    expect(await m.countRule('M4', since)).toBe(1);
    expect(await m.goals([b.id, c.id])).toEqual({ [b.id]: 'report_lsn', [c.id]: 'report_lsn' });
    await expectOneWriter(m);
    expect((await m.nodes()).some((n) => ['prepare_promotion', 'fast_forward', 'stop_replication'].includes(n.goalstate))).toBe(
      false,
    );
    // With a threshold that covers the gap, the same election goes ahead.
    await m.set('promote_wal_log_threshold', '4MB');
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
  });

  it('the election waits for a quorum standby that is unhealthy (missing report)', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    await m.markUnhealthy(a.id);
    await m.active(b.id, 'secondary');
    await m.markUnhealthy(c.id);
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    expect((await m.nodes()).some((n) => ['prepare_promotion', 'fast_forward'].includes(n.goalstate))).toBe(false);
  });
});

describe('removing the primary of three nodes', () => {
  it('A5: the others report their LSN; no other node gets a writable goal before the old primary confirmed dropped', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    expect((await m.one(`select pgautofailover.remove_node($1::bigint) as ok`, [a.id])).ok).toBe(true);
    await m.expectAssigned(a.id, 'dropped', 'A5');
    await m.expectAssigned(b.id, 'report_lsn', 'A5');
    await m.expectAssigned(c.id, 'report_lsn', 'A5');
    // The removed primary's keeper has not stopped Postgres yet: it may still take writes.
    await m.settle([b.id, c.id]);
    const early = await m.goals([b.id, c.id]);
    expect(Object.values(early).filter((g) => WRITABLE.includes(g!)), JSON.stringify(early)).toEqual([]);
    // A node being removed is never given another goal: the removal is not undone.
    expect(await m.goal(a.id)).toBe('dropped');
    // Once it confirmed, the election completes.
    await m.active(a.id, 'dropped', { running: false });
    expect(await m.nodeOrNull(a.id)).toBeNull();
    await m.settle([b.id, c.id]);
    expect(await m.goals([b.id, c.id])).toEqual({ [b.id]: 'primary', [c.id]: 'secondary' });
  });
});

describe('maintenance of the primary with three nodes', () => {
  it('A3, E9: primary → prepare_maintenance, an election runs, the primary → maintenance, then back (A4)', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    expect((await m.one(`select pgautofailover.start_maintenance($1) as ok`, [a.id])).ok).toBe(true);
    await m.expectAssigned(a.id, 'prepare_maintenance', 'A3');
    await m.active(a.id, 'prepare_maintenance');
    await m.active(b.id, await m.goal(b.id));
    await m.active(c.id, await m.goal(c.id));
    expect(await m.goal(a.id)).toBe('maintenance');
    await m.expectAssigned(a.id, 'maintenance', 'E9');
    await m.settle([a.id, b.id, c.id]);
    expect(await m.goals([a.id, b.id, c.id])).toEqual({ [a.id]: 'maintenance', [b.id]: 'primary', [c.id]: 'secondary' });
    expect((await m.one(`select pgautofailover.stop_maintenance($1) as ok`, [a.id])).ok).toBe(true);
    await m.expectAssigned(a.id, 'catchingup', 'A4');
    await m.settle([a.id, b.id, c.id]);
    expect(await m.goals([a.id, b.id, c.id])).toEqual({ [a.id]: 'secondary', [b.id]: 'primary', [c.id]: 'secondary' });
  });
});
