// The operator's data-loss allowance ([HEAD] §2.3 rows 379–387, §6 `perform failover
// --allow-data-loss`): allow_data_loss() lifts guard_data_loss for one formation group until
// the group has a primary again or the allowance expires (rules H379 and A8, RULES.md).
import { describe, expect, it } from 'vitest';
import { expectEventsExplainGoals, type Monitor, MonitorServer, PORT_D, threeNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const PROMOTING = ['prepare_promotion', 'fast_forward'];
/** A dead old primary never confirms its demotion: the candidate does not wait for it. */
const NO_DEMOTE_WAIT = { primary_demote_timeout: '0' };

async function allow(m: Monitor, formation = 'default', group = 0, seconds = 60) {
  return m.one(`select * from pgautofailover.allow_data_loss($1, $2, $3)`, [formation, group, seconds]);
}

async function allowances(m: Monitor) {
  return m.q(`select formationid, groupid, expires_at > now() as valid from pgautofailover.data_loss_allowance order by 1, 2`);
}

/**
 * Three nodes: A primary, B (prio 100) and C (prio 50) secondaries. A dies while C, a quorum
 * standby, is unhealthy and not reporting: B reports its LSN and the guarded election waits
 * for C (missing 1), promoting nobody.
 */
async function stuckElection(m: Monitor) {
  // (the fresh monitors set primary_demote_timeout 0: A never confirms its demotion)
  const nodes = await threeNodes(m);
  const { a, b, c } = nodes;
  await m.markUnhealthy(a.id);
  await m.markUnhealthy(c.id);
  expect(await m.active(b.id, 'secondary')).toBe('report_lsn');
  await m.expectAssigned(a.id, 'draining', 'E8');
  expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
  expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
  const m3 = (await m.events()).filter((e) => e.ruleid === 'M3');
  expect(m3.length).toBe(1);
  expect(m3[0]!.description).toMatch(/waits for 1 node\(s\) to report their LSN/);
  expect((await m.nodes()).some((n) => PROMOTING.includes(n.goalstate))).toBe(false);
  return nodes;
}

describe('a guarded election stuck on a missing quorum standby', () => {
  it('H379: after allow_data_loss the reporting standby is promoted, the event says the operator lifted the guard', async () => {
    const m = await ms.fresh(NO_DEMOTE_WAIT);
    const { a, b, c } = await stuckElection(m);

    const since = await m.lastEventId();
    const r = await allow(m, 'default', 0, 60);
    // A is draining: the election already runs, perform_failover() is not needed.
    expect(r.failover_in_progress).toBe(true);
    const granted = (await m.events(since)).filter((e) => e.ruleid === 'A8');
    expect(granted.length).toBe(1);
    // valid for 60 s from the grant (same transaction: the event's time is the grant's now())
    expect(new Date(r.allowed_until).getTime() - granted[0]!.eventtime.getTime()).toBe(60_000);
    expect(granted[0]!.description).toMatch(/lifted the data-loss guard of formation "default" group 0/);
    expect(granted[0]!.description).toMatch(/acknowledged writes may be lost/);
    // Granting changes no goal.
    expect(await m.goals([a.id, b.id, c.id])).toEqual({ [a.id]: 'draining', [b.id]: 'report_lsn', [c.id]: 'secondary' });

    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    const ev = await m.expectAssigned(b.id, 'prepare_promotion', 'H379');
    expect(ev.description).toMatch(/data-loss guard was lifted by the operator/);
    expect(ev.description).toMatch(new RegExp(`had not reported their LSN \\(node_${c.id}\\)`));

    // The candidate goes on: no primary left to demote (A is dead, never drained).
    await m.settle([b.id]);
    expect(['wait_primary', 'primary']).toContain(await m.goal(b.id));
    await expectEventsExplainGoals(m);
  });

  it('the allowance still waits for a healthy standby that was asked to report and has not yet', async () => {
    const m = await ms.fresh(NO_DEMOTE_WAIT);
    const { a, b, c } = await threeNodes(m);
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('report_lsn');
    expect(await m.goal(c.id)).toBe('report_lsn'); // C is healthy: asked to report, not yet
    await allow(m);
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    expect((await m.nodes()).some((n) => PROMOTING.includes(n.goalstate))).toBe(false);
    // C reports: the election goes on under the usual rules, nothing was waived
    await m.active(c.id, 'report_lsn');
    await m.active(b.id, 'report_lsn');
    const promoted = (await m.nodes()).filter((n) => PROMOTING.includes(n.goalstate));
    expect(promoted.length).toBe(1);
    expect((await m.events()).some((e) => e.ruleid === 'H379')).toBe(false);
  });

  it('A8: the allowance ends once the new primary converged; a later election is guarded again', async () => {
    const m = await ms.fresh(NO_DEMOTE_WAIT);
    const { a, b, c } = await stuckElection(m);
    await allow(m);
    expect(await allowances(m)).toEqual([{ formationid: 'default', groupid: 0, valid: true }]);
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    // Still in force while the candidate is on its way.
    expect(await m.active(b.id, 'prepare_promotion')).not.toBe('prepare_promotion');
    expect((await allowances(m)).length).toBe(1);
    await m.settle([b.id]);
    const goal = await m.goal(b.id);
    expect(['wait_primary', 'primary']).toContain(goal);
    expect((await m.node(b.id)).reportedstate).toBe(goal);
    expect(await allowances(m)).toEqual([]);
    const ended = (await m.events()).filter((e) => e.ruleid === 'A8' && /in force again/.test(e.description));
    expect(ended.length).toBe(1);
    expect(ended[0]!.nodeid).toBe(b.id);

    // A and C come back and rejoin; then B dies while C is unhealthy again: guarded, it waits.
    await m.setHealth(a.id, 1);
    await m.setHealth(c.id, 1);
    await m.settle([a.id, b.id, c.id], 30);
    expect(await m.goals([a.id, b.id, c.id])).toEqual({ [a.id]: 'secondary', [b.id]: 'primary', [c.id]: 'secondary' });
    await m.markUnhealthy(b.id);
    await m.markUnhealthy(c.id);
    await m.active(a.id, 'secondary');
    await m.active(a.id, 'report_lsn');
    expect(await m.active(a.id, 'report_lsn')).toBe('report_lsn');
    expect((await m.nodes()).some((n) => PROMOTING.includes(n.goalstate))).toBe(false);
  });

  it('an expired allowance lifts nothing; a new one replaces it', async () => {
    const m = await ms.fresh();
    const { b } = await stuckElection(m);
    await allow(m, 'default', 0, 1);
    await m.q(`update pgautofailover.data_loss_allowance set granted_at = now() - interval '2 min', expires_at = now() - interval '1 min'`);
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    expect((await m.nodes()).some((n) => PROMOTING.includes(n.goalstate))).toBe(false);
    await allow(m, 'default', 0, 30);
    expect(await allowances(m)).toEqual([{ formationid: 'default', groupid: 0, valid: true }]);
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'H379');
  });

  it('guard_data_loss off: the election needs no allowance and keeps rule M6', async () => {
    const m = await ms.fresh();
    const { b } = await stuckElection(m);
    await m.set('guard_data_loss', 'off');
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'M6');
  });

  it('an allowance for another group or formation leaves this election guarded', async () => {
    const m = await ms.fresh();
    const { b } = await stuckElection(m);
    await m.q(`select pgautofailover.create_formation('other', 'pgsql', 'postgres', true, 0)`);
    const o = await m.register(PORT_D, { formation: 'other' });
    expect(o.state).toBe('single');
    await allow(m, 'other', 0, 60);
    // group 1 of the default formation has no node: refused
    await m.expectRefused(`select * from pgautofailover.allow_data_loss('default', 1, 60)`, [], /group 1: the group has no node/);
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    expect((await m.nodes()).some((n) => PROMOTING.includes(n.goalstate))).toBe(false);
    expect(await allowances(m)).toEqual([{ formationid: 'other', groupid: 0, valid: true }]);
  });
});

describe('allow_data_loss with a healthy primary, in the transaction of perform_failover', () => {
  it('a switchover while a quorum standby is dead goes ahead with H379; without the allowance it waits', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    // C is dead but still reported secondary/secondary: perform_failover accepts the request.
    await m.markUnhealthy(c.id);
    await m.q('begin');
    const r = await allow(m, 'default', 0, 60);
    expect(r.failover_in_progress).toBe(false);
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    await m.q('commit');
    await m.expectAssigned(a.id, 'draining', 'A1');
    await m.active(a.id, 'draining');
    await m.active(b.id, 'secondary');
    await m.active(a.id, 'report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'H379');
  });

  it('the same switchover without the allowance waits for the dead standby', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    await m.markUnhealthy(c.id);
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    await m.active(a.id, 'draining');
    await m.active(b.id, 'secondary');
    await m.active(a.id, 'report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    expect((await m.nodes()).some((n) => PROMOTING.includes(n.goalstate))).toBe(false);
  });

  it('a refused perform_failover rolls the allowance back with it', async () => {
    const m = await ms.fresh();
    await threeNodes(m);
    await m.q('begin');
    await allow(m, 'default', 0, 60);
    await m.c.query(`select pgautofailover.perform_failover('default', 7)`).catch(() => undefined);
    await m.q('rollback');
    expect(await allowances(m)).toEqual([]);
  });

  it('autoctl_node may call it, like perform_failover', async () => {
    const m = await ms.fresh({}, 'autoctl_node');
    await threeNodes(m);
    const r = await allow(m, 'default', 0, 60);
    expect(r.failover_in_progress).toBe(false);
    expect((await m.one(`select granted_by from pgautofailover.data_loss_allowance`)).granted_by).toBe('autoctl_node');
    // but may not write the table directly
    await m.expectRefused(`delete from pgautofailover.data_loss_allowance`, [], /permission denied/);
    await m.expectRefused(`select pgautofailover.end_data_loss_allowance(n) from pgautofailover.node n`, [], /permission denied/);
  });
});

describe('bad arguments are refused, nothing changes', () => {
  it.each([
    [`select * from pgautofailover.allow_data_loss('nope', 0, 60)`, /formation "nope" does not exist/],
    [`select * from pgautofailover.allow_data_loss('default', -1, 60)`, /invalid group -1/],
    [`select * from pgautofailover.allow_data_loss('default', 0, 0)`, /1 to 3600 seconds/],
    [`select * from pgautofailover.allow_data_loss('default', 0, -5)`, /1 to 3600 seconds/],
    [`select * from pgautofailover.allow_data_loss('default', 0, 3601)`, /1 to 3600 seconds/],
    [`select * from pgautofailover.allow_data_loss('default', 0, 2147483647)`, /1 to 3600 seconds/],
    [`select * from pgautofailover.allow_data_loss(NULL, 0, 60)`, /not NULL/],
    [`select * from pgautofailover.allow_data_loss('default', NULL, 60)`, /not NULL/],
    [`select * from pgautofailover.allow_data_loss('default', 0, NULL)`, /not NULL/],
    [`select * from pgautofailover.allow_data_loss('default''; drop table pgautofailover.node; --', 0, 60)`, /formation_id .* is not a valid name/],
    [`select * from pgautofailover.allow_data_loss(repeat('x', 100000), 0, 60)`, /formation_id .* at most 63/],
    [`select * from pgautofailover.allow_data_loss('default', 99, 60)`, /group 99: the group has no node/],
  ])('%s', async (sql, message) => {
    const m = await ms.fresh();
    await threeNodes(m);
    await m.expectRefused(sql, [], message);
    expect(await allowances(m)).toEqual([]);
  });

  it('an empty formation has no group to allow', async () => {
    const m = await ms.fresh();
    await m.expectRefused(`select * from pgautofailover.allow_data_loss('default', 0, 60)`, [], /the group has no node/);
    expect(await allowances(m)).toEqual([]);
  });
});
