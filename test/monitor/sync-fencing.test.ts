// Rule F1 "sync fencing" (monitor-ext/RULES.md): a primary that converged in primary ran with
// synchronous_standby_names = ANY k (n standbys); the monitor records that set on its row
// (sync_standby_ids, sync_quorum) and, as its standbys report a state in which they cannot be
// streaming from it (report_lsn, join_secondary, stop_replication, wait_primary), their ids
// (fence_confirmed_ids). Once n−k+1 of them confirmed, no commit can succeed on the old
// primary any more: the candidate in stop_replication goes to wait_primary at once, and the
// old primary to demoted, without waiting for primary_demote_timeout. Without that proof the
// drain-time rule N18 still applies (after primary_demote_timeout).
import { describe, expect, it } from 'vitest';
import { expectEventsExplainGoals, MonitorServer, PORT_A, PORT_B, PORT_D, threeNodes, twoNodes, useMonitorServer, type Monitor } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const WRITABLE = ['single', 'wait_primary', 'primary', 'join_primary', 'apply_settings'];

async function expectOneWriter(m: Monitor) {
  const writers = (await m.nodes()).filter((n) => WRITABLE.includes(n.goalstate));
  expect(writers.length, `writable goals: ${JSON.stringify(writers.map((n) => [n.nodeid, n.goalstate]))}`).toBeLessThanOrEqual(1);
}

interface Fence {
  ids: number[] | null;
  quorum: number | null;
  confirmed: number[];
}

/** The F1 bookkeeping on node `id`'s row. */
async function fence(m: Monitor, id: number): Promise<Fence> {
  const r = await m.one(
    `select sync_standby_ids, sync_quorum, fence_confirmed_ids from pgautofailover.node where nodeid = $1`,
    [id],
  );
  return {
    ids: r.sync_standby_ids === null ? null : r.sync_standby_ids.map(Number),
    quorum: r.sync_quorum,
    confirmed: r.fence_confirmed_ids.map(Number),
  };
}

const NO_SNAPSHOT: Fence = { ids: null, quorum: null, confirmed: [] };

async function ssn(m: Monitor): Promise<string> {
  return (await m.one(`select pgautofailover.synchronous_standby_names() as s`)).s;
}

/**
 * Candidate `b` reported stop_replication, old primary `a` (dead) has goal demote_timeout and
 * nothing proves it fenced: `b` keeps waiting, F1 never fires; once primary_demote_timeout
 * ('1s' here) has passed since `a` was asked to demote, N18 (drain time expired) promotes `b`.
 */
async function expectDemoteWaitThenN18(m: Monitor, a: number, b: number, tli: number) {
  expect(await m.goal(a)).toBe('demote_timeout');
  expect(await m.active(b, 'stop_replication', { tli })).toBe('stop_replication');
  expect(await m.active(b, 'stop_replication', { tli })).toBe('stop_replication');
  expect(await m.goal(a)).toBe('demote_timeout');
  await m.set('primary_demote_timeout', '1s');
  expect(await m.active(b, 'stop_replication', { tli })).toBe('stop_replication');
  await m.q(`update pgautofailover.node set statechangetime = now() - interval '2 seconds' where nodeid = $1`, [a]);
  expect(await m.active(b, 'stop_replication', { tli })).toBe('wait_primary');
  const ev = await m.expectAssigned(b, 'wait_primary', 'N18');
  expect(ev.description).toMatch(/did not confirm it stopped, and primary_demote_timeout/);
  await m.expectAssigned(a, 'demoted', 'N18');
  expect(await m.countRule('F1')).toBe(0);
  await expectOneWriter(m);
}

describe('the synchronous standby snapshot of a primary', () => {
  it('two nodes: recorded when the primary converges primary (ANY 1 (B)), nothing before, nobody confirmed', async () => {
    const m = await ms.fresh();
    const a = await m.register(PORT_A);
    await m.active(a.id, 'single');
    expect(await fence(m, a.id)).toEqual(NO_SNAPSHOT);
    const b = await m.register(PORT_B);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    await m.active(b.id, 'wait_standby');
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
    expect(await m.active(a.id, 'wait_primary')).toBe('primary');
    // goal primary, still reporting wait_primary (synchronous_standby_names ''): no snapshot
    expect(await fence(m, a.id)).toEqual(NO_SNAPSHOT);
    expect(await m.active(a.id, 'primary')).toBe('primary');
    expect(await ssn(m)).toBe(`ANY 1 (pgautofailover_standby_${b.id})`);
    expect(await fence(m, a.id)).toEqual({ ids: [b.id], quorum: 1, confirmed: [] });
    expect(await fence(m, b.id)).toEqual(NO_SNAPSHOT);
    // B streams from A: its reports confirm nothing
    await m.active(b.id, 'secondary');
    await m.active(a.id, 'primary');
    expect(await fence(m, a.id)).toEqual({ ids: [b.id], quorum: 1, confirmed: [] });
  });

  it('three nodes: ANY 1 (B, C), in the order of synchronous_standby_names', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    expect(await ssn(m)).toBe(`ANY 1 (pgautofailover_standby_${b.id}, pgautofailover_standby_${c.id})`);
    expect(await fence(m, a.id)).toEqual({ ids: [b.id, c.id], quorum: 1, confirmed: [] });
  });
});

describe('F1 fires: the old primary is fenced by synchronous replication', () => {
  it('dead 2-node primary: as soon as the candidate reports stop_replication → wait_primary (F1), old primary demoted (F1)', async () => {
    // primary_demote_timeout of an hour: a promotion now (F1, not N18) did not wait for it
    const m = await ms.fresh({ primary_demote_timeout: '1h' });
    const { a, b } = await twoNodes(m);
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'N9');
    expect(await m.goal(a.id)).toBe('draining');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await m.expectAssigned(b.id, 'stop_replication', 'N15');
    await m.expectAssigned(a.id, 'demote_timeout', 'N15');
    // prepare_promotion does not confirm: B may still stream from A
    expect(await fence(m, a.id)).toEqual({ ids: [b.id], quorum: 1, confirmed: [] });

    // B promoted itself (stop_replication): A can no longer get a synchronous acknowledgement.
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('wait_primary');
    expect(await fence(m, a.id)).toEqual({ ids: [b.id], quorum: 1, confirmed: [b.id] });
    const evB = await m.expectAssigned(b.id, 'wait_primary', 'F1');
    expect(evB.description).toContain(`old primary node ${a.id} `);
    expect(evB.description).toContain(`ANY 1 (${b.id})`);
    expect(evB.description).toMatch(/\b1 of those standbys confirmed they stopped streaming from it \(1 needed\)/);
    const evA = await m.expectAssigned(a.id, 'demoted', 'F1');
    expect(evA.description).toMatch(/can no longer commit/);
    expect(evA.description).toContain(`node ${b.id} `);
    expect(await m.countRule('N18')).toBe(0);
    await expectOneWriter(m);

    // A comes back: it learns it was demoted and rejoins B (the snapshot goes with demoted).
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('wait_primary');
    expect(await m.active(a.id, 'primary', { running: false })).toBe('demoted');
    expect(await m.active(a.id, 'demoted')).toBe('catchingup');
    expect(await fence(m, a.id)).toEqual(NO_SNAPSHOT);
    expect(await m.active(a.id, 'catchingup', { tli: 2 })).toBe('secondary');
    await m.active(a.id, 'secondary', { tli: 2 });
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('primary');
    expect(await m.active(b.id, 'primary', { tli: 2 })).toBe('primary');
    expect(await fence(m, b.id)).toEqual({ ids: [a.id], quorum: 1, confirmed: [] });
    await expectOneWriter(m);
    await expectEventsExplainGoals(m);
  });

  it('perform_failover: the candidate reports stop_replication before the draining old primary confirmed demote_timeout → F1', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    // draining keeps the snapshot: the old primary has not left the primary role yet
    expect(await m.active(a.id, 'draining')).toBe('draining');
    expect(await fence(m, a.id)).toEqual({ ids: [b.id], quorum: 1, confirmed: [] });
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('wait_primary');
    await m.expectAssigned(b.id, 'wait_primary', 'F1');
    await m.expectAssigned(a.id, 'demoted', 'F1');
    await expectOneWriter(m);
    // The old primary was still assigned demote_timeout: it moves on to demoted.
    expect(await m.active(a.id, 'draining')).toBe('demoted');
    expect(await m.active(a.id, 'demoted')).toBe('demoted');
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('wait_primary');
    expect(await m.active(a.id, 'demoted')).toBe('catchingup');
    await m.expectAssigned(a.id, 'catchingup', 'N22');
    await expectEventsExplainGoals(m);
  });

  it('N18 (the old primary converged demote_timeout) has precedence over F1', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    await m.active(a.id, 'draining');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    expect(await m.active(a.id, 'demote_timeout')).toBe('demote_timeout');
    // demote_timeout keeps the snapshot, and B's report proves A fenced: both rules hold
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('wait_primary');
    expect(await fence(m, a.id)).toEqual({ ids: [b.id], quorum: 1, confirmed: [b.id] });
    const ev = await m.expectAssigned(b.id, 'wait_primary', 'N18');
    expect(ev.description).toMatch(/confirmed it stopped \(demote_timeout\)/);
    await m.expectAssigned(a.id, 'demoted', 'N18');
    expect(await m.countRule('F1')).toBe(0);
  });

  it.each([
    [2, true],
    [1, false],
  ])(
    'four nodes, number_sync_standbys %s: B and C confirmed, D is dead (guard_data_loss off) → F1 %s',
    async (nss, fires) => {
      const m = await ms.fresh({ guard_data_loss: 'off' });
      const { a, b, c } = await threeNodes(m);
      const d = await m.register(PORT_D);
      await m.settle([a.id, b.id, c.id, d.id]);
      if (nss !== 1) {
        expect((await m.one(`select pgautofailover.set_formation_number_sync_standbys('default', $1) as ok`, [nss])).ok).toBe(true);
        await m.settle([a.id, b.id, c.id, d.id]);
      }
      expect(await m.goals([a.id, b.id, c.id, d.id])).toEqual({
        [a.id]: 'primary',
        [b.id]: 'secondary',
        [c.id]: 'secondary',
        [d.id]: 'secondary',
      });
      // priority order: B (100), D (100), C (50)
      expect(await ssn(m)).toBe(
        `ANY ${nss} (pgautofailover_standby_${b.id}, pgautofailover_standby_${d.id}, pgautofailover_standby_${c.id})`,
      );
      expect(await fence(m, a.id)).toEqual({ ids: [b.id, d.id, c.id], quorum: nss, confirmed: [] });

      // A and D die; B and C run the election without D (B reports first and wins).
      await m.markUnhealthy(a.id);
      await m.markUnhealthy(d.id);
      expect(await m.active(b.id, 'secondary')).toBe('report_lsn');
      expect(await m.active(c.id, 'secondary')).toBe('report_lsn');
      expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
      expect(await m.active(c.id, 'report_lsn')).toBe('report_lsn');
      expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
      expect(await m.goal(a.id)).toBe('demote_timeout');
      expect((await fence(m, a.id)).confirmed.sort()).toEqual([b.id, c.id].sort());
      if (fires) {
        // ANY 2 of 3: once 2 stopped streaming, no commit can gather 2 acknowledgements.
        expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('wait_primary');
        const ev = await m.expectAssigned(b.id, 'wait_primary', 'F1');
        expect(ev.description).toContain(`ANY 2 (${b.id}, ${d.id}, ${c.id})`);
        expect(ev.description).toMatch(/\b2 of those standbys confirmed .*\(2 needed\)/);
        await m.expectAssigned(a.id, 'demoted', 'F1');
        await expectOneWriter(m);
      } else {
        // ANY 1 of 3: D alone may still acknowledge A's commits.
        await expectDemoteWaitThenN18(m, a.id, b.id, 2);
      }
    },
  );
});

describe('F1 does not fire without proof: N18 after primary_demote_timeout', () => {
  it('the old primary had only converged wait_primary (no snapshot)', async () => {
    const m = await ms.fresh();
    const a = await m.register(PORT_A);
    await m.active(a.id, 'single');
    const b = await m.register(PORT_B);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    await m.active(b.id, 'wait_standby');
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
    expect(await fence(m, a.id)).toEqual(NO_SNAPSHOT);
    // A dies before it could move to primary.
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'H323');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await m.expectAssigned(a.id, 'demote_timeout', 'N15');
    await expectDemoteWaitThenN18(m, a.id, b.id, 2);
    expect(await fence(m, a.id)).toEqual(NO_SNAPSHOT);
  });

  it('the old primary had left primary for wait_primary since (its snapshot is cleared)', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect(await fence(m, a.id)).toEqual({ ids: [b.id], quorum: 1, confirmed: [] });
    // B is lost for a while: A turns synchronous replication off (P2a, P2c).
    await m.markUnhealthy(b.id);
    expect(await m.active(a.id, 'primary')).toBe('wait_primary');
    expect(await m.goal(b.id)).toBe('catchingup');
    // still reporting primary: Postgres still runs with ANY 1 (B)
    expect(await fence(m, a.id)).toEqual({ ids: [b.id], quorum: 1, confirmed: [] });
    expect(await m.active(a.id, 'wait_primary')).toBe('wait_primary');
    expect(await fence(m, a.id)).toEqual(NO_SNAPSHOT);
    // B is back and catches up; A dies before it turned synchronous replication on again.
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
    expect(await m.goal(a.id)).toBe('wait_primary');
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'H323');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await expectDemoteWaitThenN18(m, a.id, b.id, 2);
  });

  it('the standby is asynchronous (replication quorum false): the primary re-records an empty set', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect(await fence(m, a.id)).toEqual({ ids: [b.id], quorum: 1, confirmed: [] });
    expect((await m.one(`select pgautofailover.set_node_replication_quorum('default', $1, false) as ok`, [b.name])).ok).toBe(true);
    await m.expectAssigned(a.id, 'apply_settings', 'A6');
    expect(await m.active(a.id, 'apply_settings')).toBe('primary');
    expect(await fence(m, a.id)).toEqual(NO_SNAPSHOT);
    expect(await m.active(a.id, 'primary')).toBe('primary');
    expect(await ssn(m)).toBe('');
    expect(await fence(m, a.id)).toEqual(NO_SNAPSHOT);
    await m.active(b.id, 'secondary');
    // A dies: B's promotion proves nothing, A may commit without it.
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'N9');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await expectDemoteWaitThenN18(m, a.id, b.id, 2);
    expect(await fence(m, a.id)).toEqual(NO_SNAPSHOT);
  });

  it('three nodes, ANY 1 (B, C) needs 2 confirmations: only B confirmed (C dead, guard_data_loss off)', async () => {
    const m = await ms.fresh({ guard_data_loss: 'off' });
    const { a, b, c } = await threeNodes(m);
    expect(await fence(m, a.id)).toEqual({ ids: [b.id, c.id], quorum: 1, confirmed: [] });
    // A and C die: C may still be streaming from A and acknowledging its commits.
    await m.markUnhealthy(a.id);
    await m.markUnhealthy(c.id);
    expect(await m.active(b.id, 'secondary')).toBe('report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await m.expectAssigned(a.id, 'demote_timeout', 'N15');
    expect(await fence(m, a.id)).toEqual({ ids: [b.id, c.id], quorum: 1, confirmed: [b.id] });
    await expectDemoteWaitThenN18(m, a.id, b.id, 2);
    expect(await m.goal(c.id)).toBe('secondary');
  });

  it('confirmations from an earlier failover do not count after the node converged primary again', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    const all = [a.id, b.id, c.id];

    // 1. A dies; B and C report their LSN (both confirm), B wins: F1.
    await m.markUnhealthy(a.id);
    await m.settle([b.id, c.id]);
    expect(await m.goals(all)).toEqual({ [a.id]: 'demoted', [b.id]: 'primary', [c.id]: 'secondary' });
    await m.expectAssigned(a.id, 'demoted', 'F1');
    expect((await fence(m, a.id)).confirmed.sort()).toEqual([b.id, c.id].sort());

    // 2. A comes back and rejoins; then a switchover makes it primary again.
    await m.active(a.id, 'primary', { running: false });
    await m.settle(all);
    expect(await m.goals(all)).toEqual({ [a.id]: 'secondary', [b.id]: 'primary', [c.id]: 'secondary' });
    expect((await m.one(`select pgautofailover.perform_promotion('default', $1) as ok`, [`node_${a.id}`])).ok).toBe(true);
    await m.settle(all);
    expect(await m.goals(all)).toEqual({ [a.id]: 'primary', [b.id]: 'secondary', [c.id]: 'secondary' });
    // a fresh snapshot: B's and C's confirmations from step 1 are gone
    expect(await fence(m, a.id)).toEqual({ ids: [b.id, c.id], quorum: 1, confirmed: [] });

    // 3. A and C die; only B confirms this time (guard_data_loss off: the election goes on
    //    without C): no F1.
    await m.set('guard_data_loss', 'off');
    await m.markUnhealthy(a.id);
    await m.markUnhealthy(c.id);
    const tli = m.tli.get(b.id) ?? 1;
    expect(await m.active(b.id, 'secondary', { tli })).toBe('report_lsn');
    expect(await m.active(b.id, 'report_lsn', { tli })).toBe('prepare_promotion');
    expect(await m.active(b.id, 'prepare_promotion', { tli })).toBe('stop_replication');
    const since = await m.lastEventId();
    expect(await fence(m, a.id)).toEqual({ ids: [b.id, c.id], quorum: 1, confirmed: [b.id] });
    expect(await m.active(b.id, 'stop_replication', { tli: tli + 1 })).toBe('stop_replication');
    expect(await m.countRule('F1', since)).toBe(0);
    await m.set('primary_demote_timeout', '1s');
    await m.q(`update pgautofailover.node set statechangetime = now() - interval '2 seconds' where nodeid = $1`, [a.id]);
    expect(await m.active(b.id, 'stop_replication', { tli: tli + 1 })).toBe('wait_primary');
    await m.expectAssigned(b.id, 'wait_primary', 'N18', since);
    await m.expectAssigned(a.id, 'demoted', 'N18', since);
    await expectOneWriter(m);
  });

  // Regression (monitor-ext/sql/protocol.sql record_sync_fencing): a standby that is still in
  // report_lsn (N2) or join_secondary (N24) after the election's winner converged primary
  // reports that state once more, and is appended to the winner's fence_confirmed_ids,
  // although it is about to stream from it (and its acknowledgement counts for
  // ANY 1 (A, C)). That confirmation belongs to the earlier failover; it survives, and a later
  // failover of the winner fired F1 with one real confirmation out of the two needed.
  it.each([
    ['report_lsn', 'N2'],
    ['join_secondary', 'N24'],
  ])('a standby still in %s after the new primary converged primary (%s) does not confirm for it', async (late) => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    m.lsn.set(b.id, '0/3000100');
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    await m.active(a.id, 'draining');
    await m.active(b.id, 'secondary');
    await m.active(c.id, 'secondary');
    await m.active(a.id, 'report_lsn');
    await m.active(c.id, 'report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('wait_primary');
    if (late === 'join_secondary') expect(await m.active(c.id, 'report_lsn')).toBe('join_secondary');
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('wait_primary');
    expect(await m.active(a.id, 'report_lsn')).toBe('secondary');
    expect(await m.active(a.id, 'secondary', { tli: 2 })).toBe('secondary');
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('primary');
    expect(await m.active(b.id, 'primary', { tli: 2 })).toBe('primary');
    expect(await fence(m, b.id)).toEqual({ ids: [a.id, c.id], quorum: 1, confirmed: [] });
    // C reports its old state once more (N2 / N24), then streams from B.
    expect(await m.active(c.id, late as any, { tli: 2 })).toBe('secondary');
    expect(await m.active(c.id, 'secondary', { tli: 2 })).toBe('secondary');
    expect(await m.active(b.id, 'primary', { tli: 2 })).toBe('primary');
    // C streams from B: it has confirmed nothing about B.
    expect(await fence(m, b.id)).toEqual({ ids: [a.id, c.id], quorum: 1, confirmed: [] });

    // B and C are cut off from the monitor (C may still acknowledge B's commits); A wins the
    // election on its own (guard_data_loss off) and must wait for primary_demote_timeout.
    await m.set('guard_data_loss', 'off');
    await m.markUnhealthy(b.id);
    await m.markUnhealthy(c.id);
    expect(await m.active(a.id, 'secondary', { tli: 2 })).toBe('report_lsn');
    expect(await m.active(a.id, 'report_lsn', { tli: 2 })).toBe('prepare_promotion');
    expect(await m.active(a.id, 'prepare_promotion', { tli: 2 })).toBe('stop_replication');
    expect(await m.active(a.id, 'stop_replication', { tli: 3 })).toBe('stop_replication');
    expect(await m.countRule('F1')).toBe(0);
  });
});
