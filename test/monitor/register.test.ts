// register_node (spec §2.6 last row, §3.3) and the node metadata functions
// set_node_system_identifier, set_group_system_identifier, update_node_metadata.
import { describe, expect, it } from 'vitest';
import { MonitorServer, SYSID, twoNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const REGISTER = `select * from pgautofailover.register_node(
  formation_id => $1, node_host => $2, node_port => $3, dbname => $4, node_name => $5,
  sysidentifier => $6, initial_group_role => $7::pgautofailover.replication_state,
  candidate_priority => $8, replication_quorum => $9)`;
const reg = (formation: string, host: string, port: number, dbname = 'postgres', name = '', sysid = SYSID, role = 'init', prio = 100, quorum = true) => [
  formation,
  host,
  port,
  dbname,
  name,
  sysid,
  role,
  prio,
  quorum,
];

describe('register_node', () => {
  it('the first node of a group is assigned single (A7), gets id 1, group 0 and the name node_1', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    expect(a).toEqual({ id: 1, group: 0, state: 'single', priority: 100, quorum: true, name: 'node_1' });
    const n = await m.node(1);
    expect(n).toMatchObject({
      formationid: 'default',
      groupid: 0,
      nodename: 'node_1',
      nodehost: '127.0.0.1',
      nodeport: 5001,
      goalstate: 'single',
      sysidentifier: SYSID,
      candidatepriority: 100,
      replicationquorum: true,
      nodecluster: 'default',
    });
    const ev = await m.expectAssigned(1, 'single', 'A7');
    expect(ev).toMatchObject({
      formationid: 'default',
      nodeid: 1,
      groupid: 0,
      nodename: 'node_1',
      nodehost: '127.0.0.1',
      nodeport: 5001,
      goalstate: 'single',
      candidatepriority: 100,
      replicationquorum: true,
    });
    expect(ev.eventtime).toBeInstanceOf(Date);
  });

  it('the next nodes are assigned wait_standby (A7), ids follow the registration order', async () => {
    const m = await ms.fresh();
    await m.register(5001);
    await m.active(1, 'single');
    const b = await m.register(5002);
    const c = await m.register(5003);
    expect([b.id, b.state, b.name]).toEqual([2, 'wait_standby', 'node_2']);
    expect([c.id, c.state, c.name]).toEqual([3, 'wait_standby', 'node_3']);
    await m.expectAssigned(2, 'wait_standby', 'A7');
    await m.expectAssigned(3, 'wait_standby', 'A7');
  });

  it('a standby may register before the first node reported single', async () => {
    const m = await ms.fresh();
    await m.register(5001);
    expect((await m.register(5002)).state).toBe('wait_standby');
  });

  it('a node registering while a standby is being promoted is assigned wait_standby', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    expect((await m.register(5003)).state).toBe('wait_standby');
  });

  it('keeps the given node name, candidate priority and replication quorum', async () => {
    const m = await ms.fresh();
    await m.register(5001, { name: 'alpha' });
    const b = await m.register(5002, { name: 'beta', priority: 0, quorum: false });
    expect(b).toMatchObject({ name: 'beta', priority: 0, quorum: false, state: 'wait_standby' });
    expect(await m.node(b.id)).toMatchObject({ nodename: 'beta', candidatepriority: 0, replicationquorum: false });
  });

  it('the second quorum standby sets number_sync_standbys from 0 to 1; later ones leave it', async () => {
    const m = await ms.fresh();
    await m.register(5001);
    await m.active(1, 'single');
    await m.register(5002);
    expect(await m.nss()).toBe(0);
    await m.register(5003);
    expect(await m.nss()).toBe(1);
    await m.register(5004);
    expect(await m.nss()).toBe(1);
  });

  it('the first node sets the formation dbname; a node with another dbname is refused', async () => {
    const m = await ms.fresh();
    await m.register(5001, { dbname: 'appdb' });
    expect((await m.formation()).dbname).toBe('appdb');
    await m.expectRefused(REGISTER, reg('default', '127.0.0.1', 5002, 'otherdb'), /appdb|otherdb|dbname/);
    expect((await m.register(5002, { dbname: 'appdb' })).state).toBe('wait_standby');
  });

  it('refuses an unknown formation', async () => {
    const m = await ms.fresh();
    await m.expectRefused(REGISTER, reg('nosuchformation', '127.0.0.1', 5001), /nosuchformation/);
  });

  it('refuses a host:port that is already registered', async () => {
    const m = await ms.fresh();
    await m.register(5001);
    await m.expectRefused(REGISTER, reg('default', '127.0.0.1', 5001), /./);
  });

  it('refuses a node name that is already used in the formation', async () => {
    const m = await ms.fresh();
    await m.register(5001, { name: 'alpha' });
    await m.expectRefused(REGISTER, reg('default', '127.0.0.1', 5002, 'postgres', 'alpha'), /alpha|name|unique|exists/i);
  });

  it('refuses a requested initial state that differs from the assigned one', async () => {
    const m = await ms.fresh();
    expect((await m.register(5001, { role: 'single' })).state).toBe('single');
    await m.active(1, 'single');
    await m.expectRefused(
      REGISTER,
      reg('default', '127.0.0.1', 5002, 'postgres', '', SYSID, 'single'),
      /single|wait_standby/,
    );
  });

  it('refuses a system identifier different from the one of the group', async () => {
    const m = await ms.fresh();
    await m.register(5001, { sysid: 1111 });
    await m.active(1, 'single');
    await m.expectRefused(REGISTER, reg('default', '127.0.0.1', 5002, 'postgres', '', 2222), /./);
  });

  it('accepts sysidentifier 0 for a standby that has not cloned yet', async () => {
    const m = await ms.fresh();
    await m.register(5001, { sysid: 1111 });
    await m.active(1, 'single');
    expect((await m.register(5002, { sysid: 0 })).state).toBe('wait_standby');
  });

  it('refuses a second node when the formation has secondaries disabled', async () => {
    const m = await ms.fresh();
    await m.register(5001);
    await m.active(1, 'single');
    expect((await m.one(`select pgautofailover.disable_secondary('default') as ok`)).ok).toBe(true);
    await m.expectRefused(REGISTER, reg('default', '127.0.0.1', 5002), /./);
  });

  it('refuses with SQLSTATE 55006 ("retry registering") when the group has no primary', async () => {
    const m = await ms.fresh();
    await m.register(5001);
    // The only node is neither writable nor being promoted (a demoted node, e.g. after a crash).
    await m.craft(1, { goalstate: 'demoted', reportedstate: 'demoted' });
    const err = await m.expectRefused(REGISTER, reg('default', '127.0.0.1', 5002), /./);
    expect(err.code).toBe('55006');
  });
});

describe('system identifier and metadata updates', () => {
  it('set_node_system_identifier publishes the sysid of a node and returns it', async () => {
    const m = await ms.fresh();
    await m.register(5001, { sysid: 0 });
    const r = await m.one(`select * from pgautofailover.set_node_system_identifier(1, 98765)`);
    expect(r).toEqual({ node_id: 1, node_name: 'node_1', node_host: '127.0.0.1', node_port: 5001 });
    expect((await m.node(1)).sysidentifier).toBe(98765);
  });

  it('set_group_system_identifier fills in the nodes of a group registered with sysid 0', async () => {
    const m = await ms.fresh();
    await m.register(5001, { sysid: 0 });
    await m.register(5002, { sysid: 0 });
    const rows = await m.q(`select * from pgautofailover.set_group_system_identifier(0, 4242) order by node_id`);
    expect(rows.map((r) => r.node_id)).toEqual([1, 2]);
    expect((await m.nodes()).map((n) => n.sysidentifier)).toEqual([4242, 4242]);
    // Nodes that already have one are left alone.
    expect(await m.q(`select * from pgautofailover.set_group_system_identifier(0, 5555)`)).toEqual([]);
  });

  it('update_node_metadata renames and re-addresses a node; NULL keeps a field', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    expect((await m.one(`select pgautofailover.update_node_metadata(2, 'bravo', null, null) as ok`)).ok).toBe(true);
    expect(await m.node(2)).toMatchObject({ nodename: 'bravo', nodehost: '127.0.0.1', nodeport: 5002 });
    expect((await m.one(`select pgautofailover.update_node_metadata(2, null, 'localhost', 6002) as ok`)).ok).toBe(true);
    expect(await m.node(2)).toMatchObject({ nodename: 'bravo', nodehost: 'localhost', nodeport: 6002 });
  });

  it('update_node_metadata refuses a name or an address another node has', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(`select pgautofailover.update_node_metadata(2, 'node_1', null, null)`, [], /./);
    await m.expectRefused(`select pgautofailover.update_node_metadata(2, null, '127.0.0.1', 5001)`, [], /./);
  });
});
