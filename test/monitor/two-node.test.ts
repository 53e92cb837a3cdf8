// Rules for a non-primary node in a two-node group (spec §2.2 early rules, §2.3 rows 5–24,
// [HEAD] rows 207, 301, 323), with the rule id each event must carry (monitor-ext/RULES.md).
import { describe, expect, it } from 'vitest';
import { type Monitor, MonitorServer, twoNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

/** Non-R0 events since `since` (goal assignments). */
async function assignments(m: Monitor, since: number) {
  return (await m.events(since)).filter((e) => e.ruleid !== 'R0');
}

describe('bring-up of a two-node group', () => {
  it('P1, N5, N8, P2d: single → wait_primary, wait_standby → catchingup → secondary, wait_primary → primary', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    expect(await m.active(a.id, 'single')).toBe('single');
    const b = await m.register(5002);
    expect(await m.active(b.id, 'wait_standby')).toBe('wait_standby');
    expect(await m.active(a.id, 'single')).toBe('wait_primary');
    await m.expectAssigned(a.id, 'wait_primary', 'P1');
    // The standby waits until the primary converged wait_primary.
    expect(await m.active(b.id, 'wait_standby')).toBe('wait_standby');
    expect(await m.active(a.id, 'wait_primary')).toBe('wait_primary');
    expect(await m.active(b.id, 'wait_standby')).toBe('catchingup');
    await m.expectAssigned(b.id, 'catchingup', 'N5');
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
    await m.expectAssigned(b.id, 'secondary', 'N8');
    // The primary waits until the secondary converged.
    expect(await m.active(a.id, 'wait_primary')).toBe('wait_primary');
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
    expect(await m.active(a.id, 'wait_primary')).toBe('primary');
    await m.expectAssigned(a.id, 'primary', 'P2d');
    expect(await m.active(a.id, 'primary')).toBe('primary');
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
  });

  it('R0: a newly reported state is an event without a goal change', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    const since = await m.lastEventId();
    expect(await m.active(a.id, 'single')).toBe('single');
    const evs = await m.events(since);
    expect(evs.map((e) => [e.ruleid, e.reportedstate, e.goalstate])).toEqual([['R0', 'single', 'single']]);
    expect(evs[0]!.description).toMatch(/single/);
    // The same report again is no event at all.
    await m.active(a.id, 'single');
    expect(await m.events(evs[0]!.eventid)).toEqual([]);
  });

  it('node_active returns the node id, group, goal, priority and quorum', async () => {
    const m = await ms.fresh();
    await m.register(5001, { priority: 42 });
    const r = await m.activeRow(1, 'single');
    expect(r).toEqual({
      assigned_node_id: 1,
      assigned_group_id: 0,
      assigned_group_state: 'single',
      assigned_candidate_priority: 42,
      assigned_replication_quorum: true,
    });
  });

  it('node_active stores what the node reported', async () => {
    const m = await ms.fresh();
    await m.register(5001);
    await m.active(1, 'single', { tli: 3, lsn: '0/5000060', running: true, rep: '' });
    expect(await m.node(1)).toMatchObject({
      reportedstate: 'single',
      reportedtli: 3,
      reportedlsn: '0/5000060',
      reportedpgisrunning: true,
    });
    const n = await m.one(`select now() - reporttime < interval '1 minute' as fresh from pgautofailover.node`);
    expect(n.fresh).toBe(true);
  });
});

describe('N8: catchingup → secondary only when caught up', () => {
  async function catchingUp(m: Monitor, primaryLsn: string) {
    const a = await m.register(5001);
    m.lsn.set(a.id, primaryLsn);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    expect(await m.active(b.id, 'wait_standby')).toBe('catchingup');
    return { a, b };
  }

  it('not when more than enable_sync_wal_log_threshold behind', async () => {
    const m = await ms.fresh();
    const { b } = await catchingUp(m, '0/5000000');
    expect(await m.active(b.id, 'catchingup', { lsn: '0/3000000' })).toBe('catchingup');
    expect(await m.active(b.id, 'catchingup', { lsn: '0/4F00000' })).toBe('secondary');
  });

  it('not on another timeline than the primary', async () => {
    const m = await ms.fresh();
    const { b } = await catchingUp(m, '0/3000000');
    expect(await m.active(b.id, 'catchingup', { tli: 2 })).toBe('catchingup');
    expect(await m.active(b.id, 'catchingup', { tli: 1 })).toBe('secondary');
  });

  it('not while the standby reports Postgres is not running', async () => {
    const m = await ms.fresh();
    const { b } = await catchingUp(m, '0/3000000');
    expect(await m.active(b.id, 'catchingup', { running: false })).toBe('catchingup');
  });

  it('not when the standby reports LSN 0/0 (WalDiffWithin is false for a zero LSN)', async () => {
    const m = await ms.fresh();
    const { b } = await catchingUp(m, '0/3000000');
    expect(await m.active(b.id, 'catchingup', { lsn: '0/0' })).toBe('catchingup');
  });
});

describe('health (spec §2.1 IsHealthy / IsUnhealthy)', () => {
  async function catchingUp(m: Monitor) {
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    expect(await m.active(b.id, 'wait_standby')).toBe('catchingup');
    return { a, b };
  }

  it('a bad health check older than the keeper report: the keeper is trusted (healthy)', async () => {
    const m = await ms.fresh();
    const { b } = await catchingUp(m);
    await m.q(`update pgautofailover.node set health = 0, healthchecktime = now() - interval '1 minute' where nodeid = $1`, [
      b.id,
    ]);
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
  });

  it('a bad health check newer than the keeper report: not healthy', async () => {
    const m = await ms.fresh();
    const { b } = await catchingUp(m);
    await m.q(`update pgautofailover.node set health = 0, healthchecktime = now() + interval '1 minute' where nodeid = $1`, [
      b.id,
    ]);
    expect(await m.active(b.id, 'catchingup')).toBe('catchingup');
  });

  it('a good health check: healthy', async () => {
    const m = await ms.fresh();
    const { b } = await catchingUp(m);
    await m.setHealth(b.id, 1);
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
  });

  it('unknown health and a silent keeper is not unhealthy: no failover without a bad check (S4)', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(`update pgautofailover.node set health = -1, reporttime = now() - interval '1 hour' where nodeid = $1`, [a.id]);
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
    expect(await m.goal(a.id)).toBe('primary');
  });
});

describe('N9: two-node failover when the primary is unhealthy', () => {
  it('a dead primary (health bad, silent keeper): standby → prepare_promotion, primary → draining', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'N9');
    await m.expectAssigned(a.id, 'draining', 'N9');
  });

  it('a primary whose keeper reports Postgres is not running', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.active(a.id, 'primary', { running: false });
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    await m.expectAssigned(a.id, 'draining', 'N9');
  });

  it('not while the monitor is within startup_grace_period', async () => {
    const m = await ms.fresh({ startup_grace_period: '1h' });
    const { a, b } = await twoNodes(m);
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
    expect(await m.goal(a.id)).toBe('primary');
  });

  it('not while the primary keeper still reports (health check alone is not enough)', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.setHealth(a.id, 0);
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
    expect(await m.goal(a.id)).toBe('primary');
  });

  it('not when the bad health check is older than the monitor start', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(
      `update pgautofailover.node set health = 0, reporttime = now() - interval '2 hours',
              healthchecktime = pg_postmaster_start_time() - interval '1 minute' where nodeid = $1`,
      [a.id],
    );
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
  });

  it('not when the standby has candidate priority 0', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m, { b: { priority: 0 } });
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
    expect(await m.goal(a.id)).toBe('primary');
  });

  it('not when the standby is more than promote_wal_log_threshold behind', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.active(a.id, 'primary', { lsn: '0/9000000' });
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('secondary');
    expect(await m.goal(a.id)).toBe('primary');
  });

  it('not when the standby itself is unhealthy', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary', { running: false })).toBe('secondary');
    expect(await m.goal(a.id)).toBe('primary');
  });
});

describe('promotion: N15, N18, N22', () => {
  // With a synchronous standby, rule F1 promotes without the demote wait: test/monitor/sync-fencing.test.ts.
  it('dead primary with an asynchronous standby (no proof it stopped, no F1): stop_replication waits for primary_demote_timeout, then N18 → wait_primary, old primary demoted', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m, { b: { quorum: false } });
    // A ran with synchronous_standby_names '': it could commit without B.
    expect((await m.one(`select pgautofailover.synchronous_standby_names() as s`)).s).toBe('');
    expect((await m.node(a.id) as any).sync_standby_ids).toBeNull();
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await m.expectAssigned(b.id, 'stop_replication', 'N15');
    await m.expectAssigned(a.id, 'demote_timeout', 'N15');
    // The dead primary cannot confirm: the candidate waits (default 10 s) …
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('stop_replication');
    await m.q(`update pgautofailover.node set statechangetime = now() - interval '8 seconds' where nodeid = $1`, [a.id]);
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('stop_replication');
    // … until the drain time expired.
    await m.q(`update pgautofailover.node set statechangetime = now() - interval '11 seconds' where nodeid = $1`, [a.id]);
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('wait_primary');
    const ev = await m.expectAssigned(b.id, 'wait_primary', 'N18');
    expect(ev.description).toMatch(/primary_demote_timeout/);
    await m.expectAssigned(a.id, 'demoted', 'N18');
    expect(await m.countRule('F1')).toBe(0);
  });

  it('perform_failover (A1): the old primary converges draining → demote_timeout → demoted, then rejoins (N22, N8, P2d)', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    await m.expectAssigned(a.id, 'draining', 'A1');
    await m.expectAssigned(b.id, 'prepare_promotion', 'A1');
    expect(await m.active(a.id, 'draining')).toBe('draining');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await m.expectAssigned(b.id, 'stop_replication', 'N15');
    await m.expectAssigned(a.id, 'demote_timeout', 'N15');
    // The old primary confirms before the candidate reports: N18 (its confirmation) takes
    // precedence over F1, although B's report also proves A fenced.
    expect(await m.active(a.id, 'demote_timeout')).toBe('demote_timeout');
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('wait_primary');
    const ev = await m.expectAssigned(b.id, 'wait_primary', 'N18');
    expect(ev.description).toMatch(/confirmed it stopped/);
    await m.expectAssigned(a.id, 'demoted', 'N18');
    expect(await m.countRule('F1')).toBe(0);
    // The old primary waits until the new one converged wait_primary.
    expect(await m.active(a.id, 'demoted')).toBe('demoted');
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('wait_primary');
    expect(await m.active(a.id, 'demoted')).toBe('catchingup');
    await m.expectAssigned(a.id, 'catchingup', 'N22');
    expect(await m.active(a.id, 'catchingup', { tli: 2 })).toBe('secondary');
    await m.expectAssigned(a.id, 'secondary', 'N8');
    expect(await m.active(a.id, 'secondary', { tli: 2 })).toBe('secondary');
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('primary');
    await m.expectAssigned(b.id, 'primary', 'P2d');
  });

  it('perform_failover (A1) with an asynchronous standby: the candidate waits in stop_replication until the old primary confirms demote_timeout (N18)', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m, { b: { quorum: false } });
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    await m.expectAssigned(a.id, 'draining', 'A1');
    expect(await m.active(a.id, 'draining')).toBe('draining');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await m.expectAssigned(a.id, 'demote_timeout', 'N15');
    // No proof that A cannot commit: B waits for A's confirmation.
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('stop_replication');
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('stop_replication');
    expect(await m.active(a.id, 'demote_timeout')).toBe('demote_timeout');
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('wait_primary');
    await m.expectAssigned(b.id, 'wait_primary', 'N18');
    await m.expectAssigned(a.id, 'demoted', 'N18');
    expect(await m.countRule('F1')).toBe(0);
  });

  it('perform_failover (A1): the candidate waits in prepare_promotion while the live old primary still drains, up to primary_demote_timeout', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    // A is healthy and reporting but has not stopped yet: its last WAL is worth waiting for.
    expect(await m.active(a.id, 'primary')).toBe('draining');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('prepare_promotion');
    expect(await m.goal(a.id)).toBe('draining');
    // Once A stopped (reports draining), B moves on (N15).
    expect(await m.active(a.id, 'draining')).toBe('draining');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await m.expectAssigned(b.id, 'stop_replication', 'N15');
    await m.expectAssigned(a.id, 'demote_timeout', 'N15');
  });

  it('perform_failover (A1): an old primary that does not stop within primary_demote_timeout is not waited for', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    expect(await m.active(a.id, 'primary')).toBe('draining');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('prepare_promotion');
    await m.q(`update pgautofailover.node set statechangetime = now() - interval '11 seconds' where nodeid = $1`, [a.id]);
    expect(await m.active(a.id, 'primary')).toBe('draining');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await m.expectAssigned(b.id, 'stop_replication', 'N15');
    await m.expectAssigned(a.id, 'demote_timeout', 'N15');
  });

  it('H323: when the primary had only converged wait_primary, only the standby moves', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    await m.active(b.id, 'wait_standby');
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
    // A dies before it could move to primary.
    await m.markUnhealthy(a.id);
    const since = await m.lastEventId();
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'H323');
    expect(await m.goal(a.id)).toBe('wait_primary');
    expect((await assignments(m, since)).filter((e) => e.nodeid === a.id)).toEqual([]);
  });

  it('H207: an old primary that self-fenced to demote_timeout while assigned draining → demoted', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    expect(await m.goal(a.id)).toBe('draining');
    // Its keeper comes back after a partition: it stopped Postgres on its own.
    expect(await m.active(a.id, 'demote_timeout', { running: false })).toBe('demoted');
    await m.expectAssigned(a.id, 'demoted', 'H207');
  });
});

describe('H301: timeline guard', () => {
  it('a converged secondary reporting another timeline than the primary → catchingup', async () => {
    const m = await ms.fresh();
    const { b } = await twoNodes(m);
    expect(await m.active(b.id, 'secondary', { tli: 2 })).toBe('catchingup');
    await m.expectAssigned(b.id, 'catchingup', 'H301');
  });

  it('the same timeline keeps it secondary', async () => {
    const m = await ms.fresh();
    const { b } = await twoNodes(m);
    const since = await m.lastEventId();
    expect(await m.active(b.id, 'secondary', { tli: 1 })).toBe('secondary');
    expect(await assignments(m, since)).toEqual([]);
  });
});

describe('early rules', () => {
  it('E1: a node that converged to dropped is removed; A.goal = dropped does nothing', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect((await m.one(`select pgautofailover.remove_node($1::bigint) as ok`, [b.id])).ok).toBe(true);
    await m.expectAssigned(b.id, 'dropped', 'A5');
    // While it has not reported dropped, nothing happens to it.
    const since = await m.lastEventId();
    expect(await m.active(b.id, 'secondary')).toBe('dropped');
    expect((await assignments(m, since)).filter((e) => e.nodeid === b.id)).toEqual([]);
    await m.active(b.id, 'dropped');
    expect(await m.nodeOrNull(b.id)).toBeNull();
    const evs = (await m.events(since)).filter((e) => e.nodeid === b.id && e.ruleid === 'E1');
    expect(evs).toHaveLength(1);
    expect(evs[0]!.description).toMatch(new RegExp(`node_${b.id}|node ${b.id}`));
    expect(await m.nodeOrNull(a.id)).not.toBeNull();
  });

  it('E4: the primary is removed; the lone standby becomes single', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect((await m.one(`select pgautofailover.remove_node($1::bigint) as ok`, [a.id])).ok).toBe(true);
    await m.expectAssigned(a.id, 'dropped', 'A5');
    await m.expectAssigned(b.id, 'report_lsn', 'A5');
    await m.active(a.id, 'dropped');
    expect(await m.nodeOrNull(a.id)).toBeNull();
    expect(await m.active(b.id, 'report_lsn')).toBe('single');
    await m.expectAssigned(b.id, 'single', 'E4');
  });

  it('E4: the standby is removed with force; the lone primary becomes single', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect((await m.one(`select pgautofailover.remove_node($1::bigint, true) as ok`, [b.id])).ok).toBe(true);
    expect(await m.nodeOrNull(b.id)).toBeNull();
    expect(await m.active(a.id, 'primary')).toBe('single');
    await m.expectAssigned(a.id, 'single', 'E4');
  });

  it('H210: a lone primary with candidate priority 0 becomes single', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(`select pgautofailover.set_node_candidate_priority('default', $1, 0)`, [a.name]);
    expect(await m.active(a.id, 'apply_settings')).toBe('primary');
    await m.active(a.id, 'primary');
    await m.q(`select pgautofailover.remove_node($1::bigint, true)`, [b.id]);
    expect(await m.active(a.id, 'primary')).toBe('single');
    await m.expectAssigned(a.id, 'single', 'H210');
  });

  it('E5: a lone node with candidate priority 0 that is not writable → report_lsn', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.craft(a.id, { candidatepriority: 0, goalstate: 'catchingup', reportedstate: 'catchingup' });
    expect(await m.active(a.id, 'catchingup')).toBe('report_lsn');
    await m.expectAssigned(a.id, 'report_lsn', 'E5');
  });

  it('a node converged in maintenance is left alone', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(`select pgautofailover.start_maintenance($1)`, [b.id]);
    await m.active(a.id, 'wait_primary');
    expect(await m.active(b.id, 'wait_maintenance')).toBe('maintenance');
    const since = await m.lastEventId();
    for (let i = 0; i < 3; i++) expect(await m.active(b.id, 'maintenance', { running: false })).toBe('maintenance');
    expect(await assignments(m, since)).toEqual([]);
  });

  it('no primary and no failover in progress: node_active is an error and its report is rolled back', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.craft(a.id, { goalstate: 'catchingup', reportedstate: 'catchingup' });
    const before = await m.node(b.id);
    await expect(m.active(b.id, 'secondary', { lsn: '0/3000100' })).rejects.toThrow();
    const after = await m.node(b.id);
    expect(after.reportedlsn).toBe(before.reportedlsn);
    expect(after.reporttime).toEqual(before.reporttime);
  });
});
