// The keeper's reads go through the monitor's API, not the table pgautofailover.node (#15.1):
// get_goal_and_standby_names(node) for a primary's synchronous_standby_names, and
// current_state(formation, group) for the group's members when the monitor is switched. Both
// run as SECURITY DEFINER, so a per-node keeper role may call them (reading the group, like
// get_nodes and get_other_nodes, is open to every keeper role), and a role pgaf did not grant
// them to may not.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { scramVerifier } from '../../keeper/monitor-credentials.js';
import { type Monitor, MonitorServer, threeNodes, twoNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

async function login(m: Monitor, user: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: m.server.url(m.db, user) });
  await c.connect();
  c.on('error', () => undefined);
  return c;
}

const NAMES = `select goal_state::text as goal, standby_names as names from pgautofailover.get_goal_and_standby_names($1)`;

describe('get_goal_and_standby_names', () => {
  it("gives the node's goal and its group's synchronous_standby_names, as synchronous_standby_names() does", async () => {
    const m = await ms.fresh();
    const { a, b, c } = await threeNodes(m);
    const expected = (await m.one(`select pgautofailover.synchronous_standby_names('default', 0) as s`)).s;
    expect(expected).toMatch(/^ANY 1 \(pgautofailover_standby_\d+, pgautofailover_standby_\d+\)$/);
    expect(await m.q(NAMES, [a.id])).toEqual([{ goal: 'primary', names: expected }]);
    // on a standby the names are those of its group too; the keeper applies them only when the goal is primary
    expect(await m.q(NAMES, [b.id])).toEqual([{ goal: 'secondary', names: expected }]);
    expect((await m.q(NAMES, [c.id]))[0].goal).toBe('secondary');
  });

  it('no row for a node that is not registered; NULL is no node', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    expect(await m.q(NAMES, [9999])).toEqual([]);
    expect(await m.q(NAMES, [null])).toEqual([]);
  });

  it('is empty while synchronous replication is off (a lone primary)', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    expect(await m.active(a.id, 'single')).toBe('single');
    expect(await m.q(NAMES, [a.id])).toEqual([{ goal: 'single', names: '' }]);
  });
});

describe('current_state(formation, group): the members the monitor switch reads', () => {
  it('lists node id, name and goal of the group only, in node id order', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(`select pgautofailover.create_formation('other', 'pgsql', 'postgres', false, 0)`);
    await m.register(5009, { formation: 'other' });
    const read = `select node_id as nodeid, nodename, assigned_group_state::text as goalstate
                    from pgautofailover.current_state($1, $2) order by node_id`;
    expect(await m.q(read, ['default', 0])).toEqual([
      { nodeid: a.id, nodename: a.name, goalstate: 'primary' },
      { nodeid: b.id, nodename: b.name, goalstate: 'secondary' },
    ]);
    expect(await m.q(read, ['nope', 0])).toEqual([]);
  });
});

describe('who may call them', () => {
  it("a per-node keeper role reads its own node and its group, another formation's too (reads are open to keeper roles)", async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.q(`select pgautofailover.create_formation('other', 'pgsql', 'postgres', false, 0)`);
    const x = await m.register(5009, { formation: 'other' });
    const op = await login(m, 'autoctl_node');
    const role = (await op.query(`select pgautofailover.enroll_keeper($1, $2) as r`, [b.id, scramVerifier('a keeper password')])).rows[0].r;
    await op.end();
    const keeper = await login(m, role);
    try {
      expect((await keeper.query(NAMES, [b.id])).rows).toEqual([{ goal: 'secondary', names: 'ANY 1 (pgautofailover_standby_' + b.id + ')' }]);
      expect((await keeper.query(NAMES, [a.id])).rows[0].goal).toBe('primary');
      expect((await keeper.query(NAMES, [x.id])).rows[0].goal).toBe('single');
      expect((await keeper.query(`select count(*)::int as n from pgautofailover.current_state('default', 0)`)).rows[0].n).toBe(2);
    } finally {
      await keeper.end();
    }
  });

  it('a role pgaf did not grant them to is refused, even with CONNECT on the monitor database', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    await ms.server.query(`drop role if exists not_a_keeper`);
    await ms.server.query(`create role not_a_keeper login`);
    try {
      await ms.server.query(`grant connect on database ${m.db} to not_a_keeper`);
      await ms.server.query(`grant usage on schema pgautofailover to not_a_keeper`, [], m.db);
      const c = await login(m, 'not_a_keeper');
      try {
        await expect(c.query(NAMES, [a.id])).rejects.toThrow(/permission denied for function get_goal_and_standby_names/);
        await expect(c.query(`select * from pgautofailover.current_state('default', 0)`)).rejects.toThrow(/permission denied for function current_state/);
      } finally {
        await c.end();
      }
    } finally {
      await ms.server.query(`revoke all on schema pgautofailover from not_a_keeper`, [], m.db).catch(() => undefined);
      await ms.server.query(`revoke connect on database ${m.db} from not_a_keeper`).catch(() => undefined);
      await ms.server.query(`drop role if exists not_a_keeper`);
    }
  });
});
