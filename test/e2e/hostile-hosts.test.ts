// Regression test of issue #10.1 against a real monitor with real keepers running: a node's
// host is copied into every peer's pg_hba.conf, so a host such as `0.0.0.0/0 trust #`, or one
// holding a newline and a second rule, would let anyone in as superuser. Registered through the
// SQL API, or given to an existing node through update_node_metadata, each one is refused, and
// no peer's pg_hba.conf changes (file bytes compared before and after a few keeper ticks). A
// valid host registered the same way does reach the peers' files: the test can fail.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';

const HOSTILE = [
  '0.0.0.0/0 trust #',
  '0.0.0.0/0',
  '::/0',
  '127.0.0.1\nhost all all 0.0.0.0/0 trust',
  '127.0.0.1\r\nhost replication all 0.0.0.0/0 trust',
  '127.0.0.1 trust',
  '127.0.0.1\ttrust',
  'samenet',
  'samehost',
  'all',
  '.example.com',
  'db1"',
  "db1' trust",
  'x'.repeat(300),
];

/** Polls `cond` every 200 ms until it holds; fails naming `what` after `ms`. */
async function until(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('hostile hosts through the SQL API, with real keepers running', () => {
  let c: TestCluster;
  let api: pg.Client;

  const hba = (name: string) => readFileSync(join(c.member(name).dir, 'pgdata', 'pg_hba.conf'));

  /** Waits until every keeper has called node_active `n` more times (its reporttime moved on). */
  async function keeperTicks(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const before = await c.monitorQuery<{ nodeid: string; t: string }>(`SELECT nodeid, reporttime::text AS t FROM pgautofailover.node`);
      await until(
        'a keeper tick of every node',
        async () => {
          const now = await c.monitorQuery<{ nodeid: string; t: string }>(`SELECT nodeid, reporttime::text AS t FROM pgautofailover.node`);
          return now.every((r) => before.find((b) => b.nodeid === r.nodeid)?.t !== r.t);
        },
        30_000,
      );
    }
  }

  beforeAll(async () => {
    c = await TestCluster.primaryAndSecondary();
    // the operator's role, over TCP, as a keeper or a script would call the API
    api = new pg.Client({ connectionString: c.monitorUri.replace(/\?.*$/, '') });
    api.on('error', () => undefined);
    await api.connect();
  }, 300_000);

  afterAll(async () => {
    await api?.end().catch(() => undefined);
    await c?.destroy();
  });

  it('each keeper logs in to the monitor as its own role, which may change its own node only', async () => {
    await keeperTicks(1);
    const sessions = await c.monitorQuery<{ usename: string; app: string }>(
      `SELECT usename::text, application_name AS app FROM pg_stat_activity WHERE application_name LIKE 'pgaf_keeper_%' ORDER BY 2`,
    );
    const ids = await c.monitorQuery<{ nodeid: string; nodename: string }>(`SELECT nodeid, nodename FROM pgautofailover.node ORDER BY nodeid`);
    expect(sessions.map((s) => s.app)).toEqual(expect.arrayContaining(ids.map((n) => `pgaf_keeper_${n.nodeid}`)));
    for (const s of sessions) expect(s.usename).toMatch(new RegExp(`^pgaf_keeper_\\d+_${s.app.replace('pgaf_keeper_', '')}$`));
    const creds = await c.monitorQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pgautofailover.node_credential`);
    expect(creds[0]!.n).toBe(2);
  }, 60_000);

  it('register_node and update_node_metadata refuse every hostile host; no pg_hba.conf changes', async () => {
    await keeperTicks(2);
    const before = { node1: hba('node1'), node2: hba('node2') };
    const nodesBefore = await c.monitorQuery(`SELECT nodeid, nodename, nodehost, nodeport FROM pgautofailover.node ORDER BY nodeid`);
    const node2 = (await c.monitorQuery<{ nodeid: string }>(`SELECT nodeid FROM pgautofailover.node WHERE nodename = 'node2'`))[0]!.nodeid;

    for (const [i, host] of HOSTILE.entries()) {
      const reg = await api
        .query(`SELECT * FROM pgautofailover.register_node('default', $1, $2, 'postgres', sysidentifier => 0)`, [host, 6100 + i])
        .then(() => undefined, (e: pg.DatabaseError) => e);
      expect(reg, `register_node refuses ${JSON.stringify(host)}`).toBeInstanceOf(Error);
      expect(reg!.message).toMatch(/node_host .* is not a valid host/);
      const upd = await api
        .query(`SELECT pgautofailover.update_node_metadata($1, NULL, $2, NULL)`, [node2, host])
        .then(() => undefined, (e: pg.DatabaseError) => e);
      expect(upd, `update_node_metadata refuses ${JSON.stringify(host)}`).toBeInstanceOf(Error);
      expect(upd!.message).toMatch(/node_host .* is not a valid host/);
    }

    expect(await c.monitorQuery(`SELECT nodeid, nodename, nodehost, nodeport FROM pgautofailover.node ORDER BY nodeid`)).toEqual(nodesBefore);
    await keeperTicks(3);
    expect(hba('node1').equals(before.node1), 'node1 pg_hba.conf unchanged').toBe(true);
    expect(hba('node2').equals(before.node2), 'node2 pg_hba.conf unchanged').toBe(true);
    for (const f of [hba('node1').toString(), hba('node2').toString()]) {
      const rules = f.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
      expect(rules.join('\n')).not.toMatch(/0\.0\.0\.0\/0|::\/0|samenet|samehost|example\.com/);
    }
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 30_000);
  }, 180_000);

  it('control: a valid host registered the same way does reach the peers (and leaves with its node)', async () => {
    const before = hba('node1');
    const r = await api.query(`SELECT assigned_node_id FROM pgautofailover.register_node('default', '127.0.0.77', 6199, 'postgres', sysidentifier => 0)`);
    const id = r.rows[0].assigned_node_id;
    try {
      await until('node1 allowing 127.0.0.77 in its pg_hba.conf', async () => hba('node1').toString().includes('127.0.0.77'), 30_000);
      expect(hba('node1').equals(before)).toBe(false);
    } finally {
      await api.query(`SELECT pgautofailover.remove_node($1::bigint, true)`, [id]);
    }
  }, 120_000);
});
