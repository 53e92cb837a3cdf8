// End to end for `pgaf perform failover|switchover --allow-data-loss`: the built CLI against a
// monitor database (the pgaf extension in a throwaway Postgres), with fake data nodes driven
// over SQL like obedient keepers. Checks that the CLI really lifts the group's data-loss
// guard (allow_data_loss() in the transaction of perform_failover()), warns, and follows the
// election to the new primary; and that a refusal leaves nothing behind.
import { describe, expect, it } from 'vitest';
import { type Monitor, MonitorServer, threeNodes, useMonitorServer } from '../monitor/helpers.js';
import { cleanEnv, runCli } from '../support/run-cli.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

/** A monitor database whose settings also hold for the CLI's own connections. */
async function monitorDb(): Promise<{ m: Monitor; uri: string }> {
  const m = await ms.fresh({ primary_demote_timeout: '0' });
  for (const [k, v] of [['startup_grace_period', '0'], ['primary_demote_timeout', '0']]) {
    await ms.server.query(`alter database ${m.db} set pgautofailover.${k} = '${v}'`);
  }
  return { m, uri: `postgres://autoctl_node@127.0.0.1:${ms.server.port}/${m.db}?sslmode=disable` };
}

function cli(...args: string[]) {
  return runCli(args, cleanEnv(['PG_AUTOCTL_DEBUG']), 60_000);
}

async function allowances(m: Monitor) {
  return m.q(`select formationid, groupid, granted_by, extract(epoch from expires_at - granted_at)::int as secs
                from pgautofailover.data_loss_allowance`);
}

/** Steps the given nodes every 100 ms while `fn` runs. */
async function withKeepers<T>(m: Monitor, ids: number[], fn: () => Promise<T>): Promise<T> {
  let stop = false;
  const keepers = (async () => {
    while (!stop) {
      await m.settle(ids, 1).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return await fn();
  } finally {
    stop = true;
    await keepers;
  }
}

describe('perform failover --allow-data-loss', () => {
  it('an election stuck on a dead quorum standby: the CLI lifts the guard, warns, and follows B to primary', async () => {
    const { m, uri } = await monitorDb();
    const { a, b, c } = await threeNodes(m);
    await m.markUnhealthy(a.id);
    await m.markUnhealthy(c.id);
    await m.active(b.id, 'secondary');
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    expect(await m.countRule('M3')).toBe(1);

    const r = await withKeepers(m, [b.id], () => cli('perform', 'failover', '--monitor', uri, '--allow-data-loss', '--wait', '30'));
    const out = r.stdout + r.stderr;
    expect(r.code, out).toBe(0);
    expect(out).toMatch(/WARN .*data-loss guard of formation "default" group 0 is lifted until .*acknowledged writes may be lost/);
    expect(out).toMatch(/already in progress/);
    expect(out).toMatch(new RegExp(`Node ${b.id} "node_${b.id}" .* is now the primary`));

    expect((await m.rulesFor(b.id, 'prepare_promotion')).filter((r) => r !== 'R0')).toEqual(['H379']);
    expect(['wait_primary', 'primary']).toContain(await m.goal(b.id));
    // The allowance was granted by the CLI's role and ended once B converged.
    const a8 = (await m.events()).filter((e) => e.ruleid === 'A8').map((e) => e.description);
    expect(a8[0]).toMatch(/The operator \(autoctl_node\) lifted the data-loss guard/);
    expect(a8[1]).toMatch(/in force again/);
    expect(await allowances(m)).toEqual([]);
  }, 100_000);

  it('perform switchover --allow-data-loss --wait 0 with a dead quorum standby: one transaction, then H379', async () => {
    const { m, uri } = await monitorDb();
    const { a, b, c } = await threeNodes(m);
    await m.markUnhealthy(c.id);
    const r = await cli('perform', 'switchover', '--monitor', uri, '--allow-data-loss', '--wait', '0');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr + r.stdout).toMatch(/acknowledged writes may be lost/);
    // --wait 0 does not follow: the allowance lasts the default 60 s.
    expect(await allowances(m)).toEqual([{ formationid: 'default', groupid: 0, granted_by: 'autoctl_node', secs: 60 }]);
    await m.expectAssigned(a.id, 'draining', 'A1');
    await m.active(a.id, 'draining');
    await m.active(b.id, 'secondary');
    await m.active(a.id, 'report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
    await m.expectAssigned(b.id, 'prepare_promotion', 'H379');
  }, 100_000);

  it('a refused request exits 6 with the monitor\'s words and leaves no allowance', async () => {
    const { m, uri } = await monitorDb();
    await threeNodes(m);
    const before = await m.snapshot();
    const r = await cli('perform', 'failover', '--monitor', uri, '--group', '3', '--allow-data-loss', '--wait', '0');
    expect(r.code).toBe(6);
    expect(r.stderr + r.stdout).toMatch(/cannot lift the data-loss guard of formation "default" group 3: the group has no node/);
    expect(r.stderr + r.stdout).not.toMatch(/WARN/);
    expect(await allowances(m)).toEqual([]);
    expect(await m.snapshot()).toBe(before);
  }, 100_000);
});
