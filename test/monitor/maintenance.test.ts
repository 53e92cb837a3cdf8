// start_maintenance / stop_maintenance (spec §2.6) and the maintenance rules
// (§2.3 rows 10, 11, 12, 17), rule ids A3, A4, N10, N11, N12, N17.
import { describe, expect, it } from 'vitest';
import { type Monitor, MonitorServer, threeNodes, twoNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const START = `select pgautofailover.start_maintenance($1) as ok`;
const STOP = `select pgautofailover.stop_maintenance($1) as ok`;
const ssn = async (m: Monitor) => (await m.one(`select pgautofailover.synchronous_standby_names() as s`)).s as string;

describe('maintenance of a secondary', () => {
  it('two nodes, nss = 0: the last sync standby → wait_maintenance, primary → wait_primary, then N10 → maintenance; back with A4', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect((await m.one(START, [b.id])).ok).toBe(true);
    await m.expectAssigned(b.id, 'wait_maintenance', 'A3');
    await m.expectAssigned(a.id, 'wait_primary', 'A3');
    // The standby waits until the primary stopped requiring it.
    expect(await m.active(b.id, 'wait_maintenance')).toBe('wait_maintenance');
    expect(await m.active(a.id, 'wait_primary')).toBe('wait_primary');
    expect(await ssn(m)).toBe('');
    expect(await m.active(b.id, 'wait_maintenance')).toBe('maintenance');
    await m.expectAssigned(b.id, 'maintenance', 'N10');
    expect(await m.active(b.id, 'maintenance')).toBe('maintenance');
    expect(await m.active(a.id, 'wait_primary')).toBe('wait_primary');

    expect((await m.one(STOP, [b.id])).ok).toBe(true);
    await m.expectAssigned(b.id, 'catchingup', 'A4');
    expect(await m.active(b.id, 'catchingup')).toBe('secondary');
    await m.active(b.id, 'secondary');
    expect(await m.active(a.id, 'wait_primary')).toBe('primary');
    expect(await ssn(m)).toBe('ANY 1 (pgautofailover_standby_2)');
  });

  it('N11: wait_maintenance → maintenance when the primary goal is no longer wait_primary', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.one(START, [b.id]);
    expect(await m.goal(b.id)).toBe('wait_maintenance');
    // The primary was moved on meanwhile (e.g. by an operator command).
    await m.craft(a.id, { goalstate: 'primary', reportedstate: 'primary' });
    expect(await m.active(b.id, 'wait_maintenance')).toBe('maintenance');
    await m.expectAssigned(b.id, 'maintenance', 'N11');
  });

  it('three nodes, nss = 1: a secondary goes straight to maintenance, the primary stays primary', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    expect((await m.one(START, [c.id])).ok).toBe(true);
    await m.expectAssigned(c.id, 'maintenance', 'A3');
    expect(await m.goal(b.id)).toBe('secondary');
    await m.settle([a.id, b.id, c.id]);
    expect(await m.goals([a.id, b.id, c.id])).toEqual({ [a.id]: 'primary', [b.id]: 'secondary', [c.id]: 'maintenance' });
    // Putting the last quorum secondary in maintenance too only warns: writes would block.
    expect((await m.one(START, [b.id])).ok).toBe(true);
    expect(await m.goal(b.id)).toBe('maintenance');
    await m.settle([a.id, b.id, c.id]);
    expect(await m.goals([a.id, b.id, c.id])).toEqual({ [a.id]: 'primary', [b.id]: 'maintenance', [c.id]: 'maintenance' });
    expect((await m.one(STOP, [c.id])).ok).toBe(true);
    expect((await m.one(STOP, [b.id])).ok).toBe(true);
    await m.settle([a.id, b.id, c.id]);
    expect(await m.goals([a.id, b.id, c.id])).toEqual({ [a.id]: 'primary', [b.id]: 'secondary', [c.id]: 'secondary' });
  });

  it('stop_maintenance during a failover with three nodes → report_lsn (A4)', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    await m.one(START, [c.id]);
    await m.active(c.id, 'maintenance');
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('report_lsn');
    expect((await m.one(STOP, [c.id])).ok).toBe(true);
    await m.expectAssigned(c.id, 'report_lsn', 'A4');
  });
});

describe('maintenance of the primary (two nodes)', () => {
  it('A3, N12, N17: primary → prepare_maintenance, standby promoted; A4 brings the old primary back', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect((await m.one(START, [a.id])).ok).toBe(true);
    await m.expectAssigned(a.id, 'prepare_maintenance', 'A3');
    await m.expectAssigned(b.id, 'prepare_promotion', 'A3');
    expect(await m.active(a.id, 'prepare_maintenance')).toBe('prepare_maintenance');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    await m.expectAssigned(b.id, 'stop_replication', 'N12');
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('wait_primary');
    await m.expectAssigned(b.id, 'wait_primary', 'N17');
    await m.expectAssigned(a.id, 'maintenance', 'N17');
    expect(await m.active(a.id, 'maintenance')).toBe('maintenance');
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('wait_primary');

    expect((await m.one(STOP, [a.id])).ok).toBe(true);
    await m.expectAssigned(a.id, 'catchingup', 'A4');
    expect(await m.active(a.id, 'catchingup', { tli: 2 })).toBe('secondary');
    await m.active(a.id, 'secondary', { tli: 2 });
    expect(await m.active(b.id, 'wait_primary', { tli: 2 })).toBe('primary');
  });
});

describe('refusals (a clear error and no state change)', () => {
  it('start_maintenance of an unknown node', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(START, [99], /99/);
  });

  it('start_maintenance of the primary without a healthy candidate', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.active(b.id, 'secondary', { running: false });
    await m.expectRefused(START, [a.id], /./);
  });

  it('start_maintenance of a primary that is not converged primary (wait_primary)', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    await m.expectRefused(START, [a.id], /./);
  });

  it('start_maintenance of a lone node', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    await m.expectRefused(START, [a.id], /./);
  });

  it('start_maintenance of a node already in maintenance: an error, or a no-op', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.one(START, [b.id]);
    await m.active(b.id, 'wait_maintenance');
    await m.active(a.id, 'wait_primary');
    await m.active(b.id, 'wait_maintenance');
    await m.active(b.id, 'maintenance');
    const before = await m.snapshot();
    await m.q(START, [b.id]).catch((e: Error) => expect(e.message.length).toBeGreaterThan(0));
    expect(await m.snapshot()).toBe(before);
  });

  it('stop_maintenance of a node that is not in maintenance', async () => {
    const m = await ms.fresh();
    const { b } = await twoNodes(m);
    await m.expectRefused(STOP, [b.id], /./);
  });

  it('stop_maintenance of an unknown node', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(STOP, [42], /42/);
  });

  it('stop_maintenance with two nodes and no primary', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.one(START, [b.id]);
    await m.active(b.id, 'wait_maintenance');
    await m.active(a.id, 'wait_primary');
    await m.active(b.id, 'wait_maintenance');
    await m.active(b.id, 'maintenance');
    // The primary is gone meanwhile (crashed and demoted by hand).
    await m.craft(a.id, { goalstate: 'demoted', reportedstate: 'demoted' });
    await m.craft(a.id, { goalstate: 'catchingup', reportedstate: 'catchingup' });
    await m.expectRefused(STOP, [b.id], /./);
  });
});
