// Operator APIs (spec §2.6) and their refusals, formations, the query functions of §3.3
// and the notifications of §3.4.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type Monitor, MonitorServer, threeNodes, twoNodes, until, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const FAILOVER = `select pgautofailover.perform_failover($1, $2)`;
const PROMOTE = `select pgautofailover.perform_promotion($1, $2) as ok`;
const PRIORITY = `select pgautofailover.set_node_candidate_priority($1, $2, $3) as ok`;
const QUORUM = `select pgautofailover.set_node_replication_quorum($1, $2, $3) as ok`;
const NSS = `select pgautofailover.set_formation_number_sync_standbys($1, $2) as ok`;

/** A second formation, inserted directly (create_formation has its own test). */
async function addFormation(m: Monitor, id: string, dbname = 'postgres') {
  await m.q(`insert into pgautofailover.formation (formationid, kind, dbname) values ($1, 'pgsql', $2)`, [id, dbname]);
}

describe('perform_failover refusals', () => {
  it('a lone node', async () => {
    const m = await ms.fresh();
    await m.register(5001);
    await m.active(1, 'single');
    await m.expectRefused(FAILOVER, ['default', 0], /./);
  });

  it('two nodes while the standby is still catching up', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    expect(await m.active(b.id, 'wait_standby')).toBe('catchingup');
    await m.expectRefused(FAILOVER, ['default', 0], /./);
  });

  it('two nodes while the primary has not converged primary yet', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    await m.active(b.id, 'wait_standby');
    await m.active(b.id, 'catchingup');
    await m.active(b.id, 'secondary');
    expect(await m.goal(a.id)).toBe('wait_primary');
    await m.expectRefused(FAILOVER, ['default', 0], /./);
  });

  it('while a failover is already in progress', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.q(FAILOVER, ['default', 0]);
    await m.expectRefused(FAILOVER, ['default', 0], /./);
  });

  it('an unknown formation or group', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(FAILOVER, ['nosuch', 0], /nosuch/);
    await m.expectRefused(FAILOVER, ['default', 7], /./);
  });
});

describe('perform_promotion', () => {
  it('two nodes: the standby is promoted through a failover', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect((await m.one(PROMOTE, ['default', b.name])).ok).toBe(true);
    await m.expectAssigned(a.id, 'draining', ['A1', 'A2']);
    await m.expectAssigned(b.id, 'prepare_promotion', ['A1', 'A2']);
  });

  it('refuses an unknown node name', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(PROMOTE, ['default', 'nosuchnode'], /nosuchnode/);
  });

  it('refuses a node that is not secondary', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    await m.active(a.id, 'wait_primary');
    await m.active(b.id, 'wait_standby');
    await m.expectRefused(PROMOTE, ['default', b.name], /./);
  });

  it('the primary itself: false and nothing changes', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    const before = await m.snapshot();
    expect((await m.one(PROMOTE, ['default', a.name])).ok).toBe(false);
    expect(await m.snapshot()).toBe(before);
  });
});

describe('set_node_candidate_priority', () => {
  it('stores the priority and sends the primary to apply_settings (A6)', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect((await m.one(PRIORITY, ['default', b.name, 50])).ok).toBe(true);
    expect((await m.node(b.id)).candidatepriority).toBe(50);
    await m.expectAssigned(a.id, 'apply_settings', 'A6');
    // node_active returns the new priority to the keeper.
    expect((await m.activeRow(b.id, 'secondary')).assigned_candidate_priority).toBe(50);
  });

  it('accepts 0 (with a notice when fewer than two candidates remain)', async () => {
    const m = await ms.fresh();
    const { b } = await twoNodes(m);
    expect((await m.one(PRIORITY, ['default', b.name, 0])).ok).toBe(true);
    expect((await m.node(b.id)).candidatepriority).toBe(0);
  });

  it.each([101, -1, 1000, -2147483648, 2147483647])('refuses priority %i', async (prio) => {
    const m = await ms.fresh();
    const { b } = await twoNodes(m);
    await m.expectRefused(PRIORITY, ['default', b.name, prio], /./);
  });

  it('refuses an unknown node or formation', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(PRIORITY, ['default', 'nosuchnode', 50], /nosuchnode/);
    await m.expectRefused(PRIORITY, ['nosuchformation', 'node_2', 50], /./);
  });

  it('a primary still on its way (reports stop_replication, goal wait_primary) keeps its goal: no keeper edge leads from there to apply_settings', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.craft(a.id, { goalstate: 'wait_primary', reportedstate: 'stop_replication' });
    expect((await m.one(PRIORITY, ['default', b.name, 50])).ok).toBe(true);
    expect((await m.node(b.id)).candidatepriority).toBe(50);
    expect(await m.goal(a.id)).toBe('wait_primary');
  });

  it('a primary converged join_primary → apply_settings (A6)', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.craft(a.id, { goalstate: 'join_primary', reportedstate: 'join_primary' });
    expect((await m.one(PRIORITY, ['default', b.name, 50])).ok).toBe(true);
    await m.expectAssigned(a.id, 'apply_settings', 'A6');
  });

  it('refuses while the primary is converged apply_settings', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.craft(a.id, { goalstate: 'apply_settings', reportedstate: 'apply_settings' });
    await m.expectRefused(PRIORITY, ['default', b.name, 50], /./);
  });
});

describe('set_node_replication_quorum', () => {
  it('two nodes: quorum false is accepted, the primary → apply_settings (A6)', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect((await m.one(QUORUM, ['default', b.name, false])).ok).toBe(true);
    expect((await m.node(b.id)).replicationquorum).toBe(false);
    await m.expectAssigned(a.id, 'apply_settings', 'A6');
    expect((await m.activeRow(b.id, 'secondary')).assigned_replication_quorum).toBe(false);
  });

  it('refuses quorum false when fewer than number_sync_standbys + 1 quorum standbys would remain', async () => {
    const m = await ms.fresh();
    const { b } = await threeNodes(m);
    expect(await m.nss()).toBe(1);
    await m.expectRefused(QUORUM, ['default', b.name, false], /./);
  });

  it('refuses an unknown node', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(QUORUM, ['default', 'nosuchnode', false], /nosuchnode/);
  });
});

describe('set_formation_number_sync_standbys', () => {
  it('0 is always valid; the primary → apply_settings (A6)', async () => {
    const m = await ms.fresh();
    const { a } = await threeNodes(m);
    expect((await m.one(NSS, ['default', 0])).ok).toBe(true);
    expect(await m.nss()).toBe(0);
    await m.expectAssigned(a.id, 'apply_settings', 'A6');
  });

  it('refuses more than the quorum standbys allow (nss + 1 ≤ quorum standbys)', async () => {
    const m = await ms.fresh();
    await threeNodes(m);
    await m.expectRefused(NSS, ['default', 2], /./);
  });

  it('refuses a negative value and an unknown formation', async () => {
    const m = await ms.fresh();
    await threeNodes(m);
    await m.expectRefused(NSS, ['default', -1], /./);
    await m.expectRefused(NSS, ['nosuchformation', 0], /nosuchformation/);
  });

  it('refuses while the primary is not converged primary or wait_primary', async () => {
    const m = await ms.fresh();
    await threeNodes(m);
    expect((await m.one(NSS, ['default', 0])).ok).toBe(true);
    // The primary has not applied the previous change yet.
    await m.expectRefused(NSS, ['default', 1], /./);
  });
});

describe('remove_node', () => {
  it('by host and port', async () => {
    const m = await ms.fresh();
    const { b } = await twoNodes(m);
    expect((await m.one(`select pgautofailover.remove_node('127.0.0.1', 5002) as ok`)).ok).toBe(true);
    await m.expectAssigned(b.id, 'dropped', 'A5');
  });

  it('with force, the row is deleted at once', async () => {
    const m = await ms.fresh();
    const { b } = await twoNodes(m);
    expect((await m.one(`select pgautofailover.remove_node($1::bigint, true) as ok`, [b.id])).ok).toBe(true);
    expect(await m.nodeOrNull(b.id)).toBeNull();
  });

  it('a node already assigned dropped: no-op', async () => {
    const m = await ms.fresh();
    const { b } = await twoNodes(m);
    await m.q(`select pgautofailover.remove_node($1::bigint)`, [b.id]);
    const before = await m.snapshot();
    await m.q(`select pgautofailover.remove_node($1::bigint)`, [b.id]);
    expect(await m.snapshot()).toBe(before);
  });

  it('refuses an unknown node id or address', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(`select pgautofailover.remove_node(99::bigint)`, [], /99/);
    await m.expectRefused(`select pgautofailover.remove_node('10.0.0.1', 5432)`, [], /./);
  });

  it('removing a standby of three lowers number_sync_standbys and sends the primary to apply_settings', async () => {
    const m = await ms.fresh();
    const { a, c } = await threeNodes(m);
    expect(await m.nss()).toBe(1);
    await m.q(`select pgautofailover.remove_node($1::bigint)`, [c.id]);
    expect(await m.nss()).toBe(0);
    expect(await m.goal(c.id)).toBe('dropped');
    expect(await m.goal(a.id)).toBe('apply_settings');
  });

  it('removing a standby of four with number_sync_standbys 2 lowers it to 1', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    const d = await m.register(5004, { priority: 70 });
    await m.settle([a.id, b.id, c.id, d.id]);
    await m.q(NSS, ['default', 2]);
    await m.settle([a.id, b.id, c.id, d.id]);
    await m.q(`select pgautofailover.remove_node($1::bigint)`, [d.id]);
    expect(await m.nss()).toBe(1);
  });
});

describe('formations', () => {
  it('create_formation returns the new formation; nodes can join it; drop_formation removes it', async () => {
    const m = await ms.fresh();
    const r = await m.one(`select * from pgautofailover.create_formation('f2', 'pgsql', 'appdb', true, 0)`);
    expect(r).toEqual({ formation_id: 'f2', kind: 'pgsql', dbname: 'appdb', opt_secondary: true, number_sync_standbys: 0 });
    expect(await m.formation('f2')).toMatchObject({ kind: 'pgsql', dbname: 'appdb', opt_secondary: true });
    const n = await m.register(6001, { formation: 'f2', dbname: 'appdb' });
    expect(n.state).toBe('single');
    expect(await m.active(n.id, 'single', { formation: 'f2' })).toBe('single');
    // The formations are separate: the default one has no node.
    expect(await m.q(`select * from pgautofailover.current_state('default')`)).toEqual([]);
    expect((await m.q(`select * from pgautofailover.current_state('f2')`)).map((x) => x.node_id)).toEqual([n.id]);
  });

  it('drop_formation refuses a formation with nodes, and removes an empty one', async () => {
    const m = await ms.fresh();
    await addFormation(m, 'f2', 'appdb');
    const n = await m.register(6001, { formation: 'f2', dbname: 'appdb' });
    await m.expectRefused(`select pgautofailover.drop_formation('f2')`, [], /./);
    await m.q(`select pgautofailover.remove_node($1::bigint, true)`, [n.id]);
    await m.q(`select pgautofailover.drop_formation('f2')`);
    expect(await m.formation('f2')).toBeUndefined();
  });

  it('create_formation refuses a duplicate formation and an unknown kind', async () => {
    const m = await ms.fresh();
    await m.expectRefused(
      `select * from pgautofailover.create_formation('default', 'pgsql', 'postgres', true, 0)`,
      [],
      /default|exists|duplicate/i,
    );
    await m.expectRefused(`select * from pgautofailover.create_formation('f3', 'mysql', 'postgres', true, 0)`, [], /mysql|kind/i);
  });

  it('drop_formation refuses an unknown formation', async () => {
    const m = await ms.fresh();
    await m.expectRefused(`select pgautofailover.drop_formation('nosuch')`, [], /nosuch/);
  });

  it('node_active refuses a node of another formation', async () => {
    const m = await ms.fresh();
    await addFormation(m, 'f2');
    const n = await m.register(6001);
    await expect(m.active(n.id, 'single', { formation: 'f2' })).rejects.toThrow();
  });
});

describe('enable_secondary / disable_secondary', () => {
  it('toggles opt_secondary while the only node is single', async () => {
    const m = await ms.fresh();
    await m.register(5001);
    await m.active(1, 'single');
    expect((await m.one(`select pgautofailover.disable_secondary('default') as ok`)).ok).toBe(true);
    expect((await m.formation()).opt_secondary).toBe(false);
    expect((await m.one(`select pgautofailover.enable_secondary('default') as ok`)).ok).toBe(true);
    expect((await m.formation()).opt_secondary).toBe(true);
  });

  it('refuses to disable secondaries while a node is not single', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(`select pgautofailover.disable_secondary('default')`, [], /single|secondar/i);
  });

  it('refuses an unknown formation', async () => {
    const m = await ms.fresh();
    await m.expectRefused(`select pgautofailover.enable_secondary('nosuch')`, [], /nosuch/);
    await m.expectRefused(`select pgautofailover.disable_secondary('nosuch')`, [], /nosuch/);
  });
});

describe('query functions', () => {
  it('formation_uri: hosts of group 0, the formation dbname, target_session_attrs, sslmode', async () => {
    const m = await ms.fresh();
    await twoNodes(m, { a: { dbname: 'appdb' }, b: { dbname: 'appdb' } });
    const u = (await m.one(`select pgautofailover.formation_uri() as u`)).u as string;
    const match = /^postgres:\/\/([^/]+)\/appdb\?target_session_attrs=read-write&sslmode=prefer$/.exec(u);
    expect(match, u).not.toBeNull();
    expect(match![1]!.split(',').sort()).toEqual(['127.0.0.1:5001', '127.0.0.1:5002']);
    const ssl = (await m.one(
      `select pgautofailover.formation_uri('default', 'default', 'verify-full', '/etc/ca.crt', '/etc/crl.pem') as u`,
    )).u as string;
    expect(ssl).toMatch(/\?target_session_attrs=read-write&sslmode=verify-full&sslrootcert=\/etc\/ca\.crt&sslcrl=\/etc\/crl\.pem$/);
  });

  it('formation_uri of another node cluster: only its nodes, without target_session_attrs (as the original)', async () => {
    const m = await ms.fresh();
    await twoNodes(m, { a: { dbname: 'appdb' }, b: { dbname: 'appdb' } });
    await m.register(5003, { cluster: 'readers', dbname: 'appdb' });
    expect((await m.one(`select pgautofailover.formation_uri('default', 'readers') as u`)).u).toBe(
      'postgres://127.0.0.1:5003/appdb?sslmode=prefer',
    );
  });

  it('formation_uri of a formation or cluster without nodes is NULL (not a host-less URI)', async () => {
    const m = await ms.fresh();
    expect((await m.one(`select pgautofailover.formation_uri() as u`)).u).toBeNull();
    await twoNodes(m);
    expect((await m.one(`select pgautofailover.formation_uri('default', 'nosuchcluster') as u`)).u).toBeNull();
  });

  it('current_state: one row per node with the §3.3 columns, ordered by group and node; the group form filters', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m, { b: { priority: 60 } });
    const rows = await m.q(`select * from pgautofailover.current_state('default')`);
    expect(rows).toHaveLength(2);
    expect(Object.keys(rows[0]!)).toEqual([
      'formation_kind',
      'nodename',
      'nodehost',
      'nodeport',
      'group_id',
      'node_id',
      'current_group_state',
      'assigned_group_state',
      'candidate_priority',
      'replication_quorum',
      'reported_tli',
      'reported_lsn',
      'health',
      'nodecluster',
    ]);
    expect(rows[0]).toEqual({
      formation_kind: 'pgsql',
      nodename: a.name,
      nodehost: '127.0.0.1',
      nodeport: 5001,
      group_id: 0,
      node_id: a.id,
      current_group_state: 'primary',
      assigned_group_state: 'primary',
      candidate_priority: 100,
      replication_quorum: true,
      reported_tli: 1,
      reported_lsn: '0/3000000',
      health: -1,
      nodecluster: 'default',
    });
    expect(rows[1]).toMatchObject({ node_id: b.id, current_group_state: 'secondary', candidate_priority: 60 });
    expect(await m.q(`select * from pgautofailover.current_state('default', 0)`)).toEqual(rows);
    expect(await m.q(`select * from pgautofailover.current_state('default', 1)`)).toEqual([]);
    expect(await m.q(`select * from pgautofailover.current_state('nosuch')`)).toEqual([]);
  });

  it('last_events: the last N events, oldest first, in its three forms', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await addFormation(m, 'f2');
    const n = await m.register(6001, { formation: 'f2' });
    await m.active(n.id, 'single', { formation: 'f2' });
    const all = await m.events();
    const ids = (rows: any[]) => rows.map((r) => Number(r.eventid));
    const last3 = await m.q(`select * from pgautofailover.last_events(3)`);
    expect(ids(last3)).toEqual(ids(all.slice(-3)));
    const dflt = all.filter((e) => e.formationid === 'default');
    // The form pg_autoctl uses: last_events('default', count => N).
    const f1 = await m.q(`select * from pgautofailover.last_events('default', count => 4)`);
    expect(ids(f1)).toEqual(ids(dflt.slice(-4)));
    const f2 = await m.q(`select * from pgautofailover.last_events('f2', 0, 100)`);
    expect(ids(f2)).toEqual(ids(all.filter((e) => e.formationid === 'f2')));
    expect(await m.q(`select * from pgautofailover.last_events('default', 1, 10)`)).toEqual([]);
    // The default count is 10.
    expect(await m.q(`select * from pgautofailover.last_events('default')`)).toHaveLength(Math.min(10, dflt.length));
    expect(f1[0]).toHaveProperty('description');
    expect(f1[0]).toHaveProperty('ruleid');
  });

  it('get_primary: the writable node; an error when there is none', async () => {
    const m = await ms.fresh();
    await m.expectRefused(`select * from pgautofailover.get_primary('default', 0)`, [], /./);
    const { a } = await twoNodes(m);
    expect(await m.one(`select * from pgautofailover.get_primary('default', 0)`)).toEqual({
      primary_node_id: a.id,
      primary_name: a.name,
      primary_host: '127.0.0.1',
      primary_port: 5001,
    });
  });

  it('get_primary during a failover: the node being demoted, then the new primary', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(FAILOVER, ['default', 0]);
    expect((await m.one(`select * from pgautofailover.get_primary('default', 0)`)).primary_node_id).toBe(a.id);
    await m.active(a.id, 'draining');
    await m.active(b.id, 'prepare_promotion');
    await m.active(a.id, 'demote_timeout');
    expect(await m.active(b.id, 'stop_replication', { tli: 2 })).toBe('wait_primary');
    await m.active(b.id, 'wait_primary', { tli: 2 });
    expect((await m.one(`select * from pgautofailover.get_primary('default', 0)`)).primary_node_id).toBe(b.id);
  });

  it('get_nodes and get_other_nodes: node_is_primary follows the reported state', async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    const nodes = await m.q(`select * from pgautofailover.get_nodes('default') order by node_id`);
    expect(nodes.map((r) => [r.node_id, r.node_name, r.node_host, r.node_port, r.node_lsn, r.node_is_primary])).toEqual([
      [a.id, a.name, '127.0.0.1', 5001, '0/3000000', true],
      [b.id, b.name, '127.0.0.1', 5002, '0/3000000', false],
      [c.id, c.name, '127.0.0.1', 5003, '0/3000000', false],
    ]);
    const others = await m.q(`select * from pgautofailover.get_other_nodes($1::bigint) order by node_id`, [b.id]);
    expect(others.map((r) => [r.node_id, r.node_is_primary])).toEqual([
      [a.id, true],
      [c.id, false],
    ]);
    const secondaries = await m.q(
      `select * from pgautofailover.get_other_nodes($1::bigint, 'secondary') order by node_id`,
      [a.id],
    );
    expect(secondaries.map((r) => r.node_id)).toEqual([b.id, c.id]);
    expect(await m.q(`select * from pgautofailover.get_other_nodes($1::bigint, 'primary')`, [a.id])).toEqual([]);
  });

  it('get_most_advanced_standby: empty without report_lsn nodes; the highest LSN, then the better health', async () => {
    const m = await ms.fresh();
    const { b, c } = await threeNodes(m);
    expect(await m.q(`select * from pgautofailover.get_most_advanced_standby('default', 0)`)).toEqual([]);
    await m.craft(b.id, { reportedstate: 'report_lsn', goalstate: 'report_lsn', reportedlsn: '0/3000000', health: 1 });
    await m.craft(c.id, { reportedstate: 'report_lsn', goalstate: 'report_lsn', reportedlsn: '0/3000000', health: 0 });
    let r = await m.q(`select * from pgautofailover.get_most_advanced_standby('default', 0)`);
    expect(r.map((x) => x.node_id)).toEqual([b.id]);
    await m.craft(c.id, { reportedlsn: '0/3000100' });
    r = await m.q(`select * from pgautofailover.get_most_advanced_standby('default', 0)`);
    expect(r.map((x) => [x.node_id, x.node_lsn, x.node_is_primary])).toEqual([[c.id, '0/3000100', false]]);
  });
});

describe('notifications (spec §3.4)', () => {
  async function listener(m: Monitor): Promise<{ client: pg.Client; got: pg.Notification[] }> {
    const client = await m.connect();
    const got: pg.Notification[] = [];
    client.on('notification', (n) => got.push(n));
    await client.query('listen state');
    await client.query('listen log');
    return { client, got };
  }

  it("every goal change NOTIFYs 'state' with the JSON payload of §3.4, and 'log' with a sentence", async () => {
    const m = await ms.fresh();
    const { got } = await listener(m);
    const a = await m.register(5001, { name: 'alpha' });
    const state = await until('a state notification', () => got.filter((n) => n.channel === 'state'), (x) => x.length > 0);
    const payload = JSON.parse(state[0]!.payload!);
    expect(Object.keys(payload)).toEqual(
      expect.arrayContaining(['formation', 'goalState', 'groupId', 'health', 'host', 'name', 'nodeId', 'port', 'reportedState', 'type']),
    );
    expect(payload).toMatchObject({
      type: 'state',
      formation: 'default',
      groupId: 0,
      nodeId: a.id,
      name: 'alpha',
      host: '127.0.0.1',
      port: 5001,
      goalState: 'single',
      health: 'unknown',
    });
    expect(typeof payload.reportedState).toBe('string');
    const log = await until('a log notification', () => got.filter((n) => n.channel === 'log'), (x) => x.length > 0);
    expect(log[0]!.payload).toMatch(/alpha|node 1\b/);
  });

  it('a reported state change and a goal change each notify; health is good/bad/unknown', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    const { got } = await listener(m);
    await m.setHealth(a.id, 1);
    await m.setHealth(b.id, 0);
    await m.markUnhealthy(b.id);
    expect(await m.active(a.id, 'primary')).toBe('wait_primary');
    const payloads = () => got.filter((n) => n.channel === 'state').map((n) => JSON.parse(n.payload!));
    const all = await until('state notifications', payloads, (x) => x.some((p) => p.nodeId === b.id && p.goalState === 'catchingup'));
    const forB = all.find((p) => p.nodeId === b.id && p.goalState === 'catchingup')!;
    expect(forB).toMatchObject({ reportedState: 'secondary', health: 'bad', port: 5002 });
    await until('notification for the primary', payloads, (x) => x.some((p) => p.nodeId === a.id && p.goalState === 'wait_primary'));
    expect(all.concat(payloads()).find((p) => p.nodeId === a.id && p.goalState === 'wait_primary')!.health).toBe('good');
  });

  it('a name with every allowed punctuation gives valid JSON', async () => {
    const m = await ms.fresh();
    const { got } = await listener(m);
    const name = `_we.ird-name_1`;
    await m.register(5001, { name });
    const state = await until('a state notification', () => got.filter((n) => n.channel === 'state'), (x) => x.length > 0);
    expect(JSON.parse(state[0]!.payload!).name).toBe(name);
  });
});
