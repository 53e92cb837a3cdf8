// Regression: after perform_failover with 3 nodes, the old primary (reported draining, goal
// report_lsn) was skipped by the election instead of counted as missing, so a standby that
// lacked the old primary's shutdown checkpoint was promoted without fast_forward, and the old
// primary could never follow it ("requested timeline 2 is not a child of this server's history").
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { MonitorServer, threeNodes } from '../monitor/helpers.js';

let ms: MonitorServer;
beforeAll(async () => {
  ms = await MonitorServer.start();
});
afterEach(async () => {
  await ms.cleanup();
});
afterAll(async () => {
  await ms?.stop();
});

it('waits for the old primary to report its LSN, then fast-forwards the candidate from it', async () => {
  const m = await ms.fresh();
  const { a, b, c } = await threeNodes(m);
  await m.q(`select pgautofailover.perform_failover('default', 0)`);
  // the standbys go to report_lsn before the old primary has stopped
  await m.active(b.id, 'secondary');
  await m.active(a.id, 'draining', { running: false, lsn: '0/3000028' });
  expect(await m.goal(a.id)).toBe('report_lsn');
  await m.active(b.id, 'report_lsn');
  await m.active(c.id, 'report_lsn');
  // the old primary has not reported report_lsn yet: nobody is elected
  expect(await m.goals([b.id, c.id])).toEqual({ [b.id]: 'report_lsn', [c.id]: 'report_lsn' });
  // it comes back as a standby with the WAL the others lack
  await m.active(a.id, 'report_lsn', { lsn: '0/30000A0' });
  const goals = Object.values(await m.goals([b.id, c.id]));
  expect(goals).toContain('fast_forward');
  expect(goals).not.toContain('prepare_promotion');
});
