// Schema of the pgaf extension: spec §1 (the replication_state enum), §3.1 (roles, schema),
// §3.2 (tables and constraints) and §3.3 (function names, arguments and result columns).
import { describe, expect, it } from 'vitest';
import { type Monitor, MonitorServer, STATES, twoNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

async function columns(m: Monitor, table: string): Promise<string[]> {
  const rows = await m.q(
    `select column_name, udt_name from information_schema.columns
      where table_schema = 'pgautofailover' and table_name = $1 order by ordinal_position`,
    [table],
  );
  return rows.map((r) => `${r.column_name}:${r.udt_name}`);
}

describe('schema pgautofailover', () => {
  it('has the replication_state enum with the states of spec §1, in order', async () => {
    const m = await ms.fresh();
    const rows = await m.q(`select unnest(enum_range(null::pgautofailover.replication_state))::text as s`);
    expect(rows.map((r) => r.s)).toEqual(STATES);
  });

  it('has table formation with the columns of spec §3.2 and the row "default"', async () => {
    const m = await ms.fresh();
    expect(await columns(m, 'formation')).toEqual([
      'formationid:text',
      'kind:text',
      'dbname:name',
      'opt_secondary:bool',
      'number_sync_standbys:int4',
    ]);
    const rows = await m.q(`select * from pgautofailover.formation`);
    expect(rows).toEqual([
      { formationid: 'default', kind: 'pgsql', dbname: 'postgres', opt_secondary: true, number_sync_standbys: 0 },
    ]);
  });

  it('has table node with the columns of spec §3.2 plus replication_stall_since and the sync fencing columns (F1)', async () => {
    const m = await ms.fresh();
    const cols = await columns(m, 'node');
    const expected = [
      'formationid:text',
      'nodeid:int8',
      'groupid:int4',
      'nodename:text',
      'nodehost:text',
      'nodeport:int4',
      'sysidentifier:int8',
      'goalstate:replication_state',
      'reportedstate:replication_state',
      'reportedpgisrunning:bool',
      'reportedrepstate:text',
      'reporttime:timestamptz',
      'reportedtli:int4',
      'reportedlsn:pg_lsn',
      'walreporttime:timestamptz',
      'health:int4',
      'healthchecktime:timestamptz',
      'statechangetime:timestamptz',
      'candidatepriority:int4',
      'replicationquorum:bool',
      'nodecluster:text',
      'replication_stall_since:timestamptz',
      // rule F1: the primary's synchronous standbys when it last converged, and who confirmed
      'sync_standby_ids:_int8',
      'sync_quorum:int4',
      'fence_confirmed_ids:_int8',
    ];
    expect([...cols].sort()).toEqual([...expected].sort());
    // The original's columns come first, in its order (SELECT * consumers rely on it).
    expect(cols.slice(0, 21)).toEqual(expected.slice(0, 21));
  });

  it('has table event with the columns of spec §3.2 plus ruleid', async () => {
    const m = await ms.fresh();
    const cols = await columns(m, 'event');
    const expected = [
      'eventid:int8',
      'eventtime:timestamptz',
      'formationid:text',
      'nodeid:int8',
      'groupid:int4',
      'nodename:text',
      'nodehost:text',
      'nodeport:int4',
      'reportedstate:replication_state',
      'goalstate:replication_state',
      'reportedrepstate:text',
      'reportedtli:int4',
      'reportedlsn:pg_lsn',
      'candidatepriority:int4',
      'replicationquorum:bool',
      'description:text',
      'ruleid:text',
    ];
    expect([...cols].sort()).toEqual([...expected].sort());
    expect(cols.slice(0, 16)).toEqual(expected.slice(0, 16));
  });

  it('node has the unique, check and deferrable exclusion constraints of spec §3.2', async () => {
    const m = await ms.fresh();
    const rows = await m.q(
      `select contype, condeferrable, condeferred,
              array(select a.attname::text from unnest(conkey) k join pg_attribute a
                     on a.attrelid = conrelid and a.attnum = k order by a.attname) as cols
         from pg_constraint where conrelid = 'pgautofailover.node'::regclass`,
    );
    const has = (type: string, cols: string[]) =>
      rows.find((r) => r.contype === type && JSON.stringify(r.cols) === JSON.stringify([...cols].sort()));
    expect(has('p', ['nodeid'])).toBeTruthy();
    expect(has('u', ['formationid', 'nodename'])).toBeTruthy();
    expect(has('u', ['nodehost', 'nodeport'])).toBeTruthy();
    expect(has('f', ['formationid'])).toBeTruthy();
    const excl = has('x', ['formationid', 'groupid', 'sysidentifier']);
    expect(excl, 'EXCLUDE (formationid =, groupid =, sysidentifier <>)').toBeTruthy();
    expect(excl.condeferrable).toBe(true);
    expect(excl.condeferred).toBe(true);
    expect(rows.some((r) => r.contype === 'c' && r.cols.includes('sysidentifier'))).toBe(true);
  });

  it('node defaults: goal init, priority 100, quorum true, health -1, cluster default, rep state async, no sync snapshot', async () => {
    const m = await ms.fresh();
    const rows = await m.q(
      `select column_name, column_default, is_nullable from information_schema.columns
        where table_schema = 'pgautofailover' and table_name = 'node'`,
    );
    const def = Object.fromEntries(rows.map((r) => [r.column_name, r.column_default ?? '']));
    const nullable = Object.fromEntries(rows.map((r) => [r.column_name, r.is_nullable]));
    expect(def.goalstate).toMatch(/'init'/);
    expect(def.candidatepriority).toBe('100');
    expect(def.replicationquorum).toBe('true');
    expect(def.health).toMatch(/-1/);
    expect(def.nodecluster).toMatch(/'default'/);
    expect(def.reportedrepstate).toMatch(/'async'/);
    // F1: no snapshot until the node converges primary; nobody confirmed yet
    expect(def.sync_standby_ids).toBe('');
    expect(nullable.sync_standby_ids).toBe('YES');
    expect(def.sync_quorum).toBe('');
    expect(nullable.sync_quorum).toBe('YES');
    expect(def.fence_confirmed_ids).toMatch(/'\{\}'/);
    expect(nullable.fence_confirmed_ids).toBe('NO');
  });

  it('the node table is created with fillfactor 25', async () => {
    const m = await ms.fresh();
    const r = await m.one(`select reloptions from pg_class where oid = 'pgautofailover.node'::regclass`);
    expect(r.reloptions).toContain('fillfactor=25');
  });
});

describe('roles', () => {
  it('creates the login role autoctl_node and the role autoctl', async () => {
    const m = await ms.fresh();
    const rows = await m.q(`select rolname, rolcanlogin from pg_roles where rolname in ('autoctl_node', 'autoctl')`);
    const byName = Object.fromEntries(rows.map((r) => [r.rolname, r.rolcanlogin]));
    expect(byName.autoctl_node).toBe(true);
    expect('autoctl' in byName).toBe(true);
  });

  it('CREATE EXTENSION works in a second database of the same server (roles already exist)', async () => {
    await ms.server.query(`drop database if exists second_monitor`);
    await ms.server.query(`create database second_monitor`);
    try {
      await ms.server.query(`create extension pgaf cascade`, [], 'second_monitor');
      const rows = await ms.server.query(`select formationid from pgautofailover.formation`, [], 'second_monitor');
      expect(rows).toEqual([{ formationid: 'default' }]);
      // DROP EXTENSION removes its objects, and the extension can be created again.
      await ms.server.query(`drop extension pgaf cascade`, [], 'second_monitor');
      const left = await ms.server.query(
        `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'pgautofailover' and c.relkind in ('r', 'v')`,
        [],
        'second_monitor',
      );
      expect(left).toEqual([]);
      await ms.server.query(`create extension pgaf cascade`, [], 'second_monitor');
      const again = await ms.server.query(`select formationid from pgautofailover.formation`, [], 'second_monitor');
      expect(again).toEqual([{ formationid: 'default' }]);
    } finally {
      await ms.server.query(`drop database if exists second_monitor with (force)`);
    }
  });
});

// Spec §3.3, v2.2 (the same as the 2.0 SQL shipped in Debian): identity arguments (IN and OUT) and result.
const FUNCTIONS: [string, string, string][] = [
  ['create_formation', 'formation_id text, kind text, dbname name, opt_secondary boolean, number_sync_standbys integer, OUT formation_id text, OUT kind text, OUT dbname name, OUT opt_secondary boolean, OUT number_sync_standbys integer', 'record'],
  ['current_state', 'formation_id text, OUT formation_kind text, OUT nodename text, OUT nodehost text, OUT nodeport integer, OUT group_id integer, OUT node_id bigint, OUT current_group_state pgautofailover.replication_state, OUT assigned_group_state pgautofailover.replication_state, OUT candidate_priority integer, OUT replication_quorum boolean, OUT reported_tli integer, OUT reported_lsn pg_lsn, OUT health integer, OUT nodecluster text', 'SETOF record'],
  ['current_state', 'formation_id text, group_id integer, OUT formation_kind text, OUT nodename text, OUT nodehost text, OUT nodeport integer, OUT group_id integer, OUT node_id bigint, OUT current_group_state pgautofailover.replication_state, OUT assigned_group_state pgautofailover.replication_state, OUT candidate_priority integer, OUT replication_quorum boolean, OUT reported_tli integer, OUT reported_lsn pg_lsn, OUT health integer, OUT nodecluster text', 'SETOF record'],
  ['disable_secondary', 'formation_id text', 'boolean'],
  ['drop_formation', 'formation_id text', 'void'],
  ['enable_secondary', 'formation_id text', 'boolean'],
  ['formation_settings', 'formation_id text, OUT context text, OUT group_id integer, OUT node_id bigint, OUT nodename text, OUT setting text, OUT value text', 'SETOF record'],
  ['formation_uri', 'formation_id text, cluster_name text, sslmode text, sslrootcert text, sslcrl text', 'text'],
  ['get_coordinator', 'formation_id text, OUT node_host text, OUT node_port integer', 'SETOF record'],
  ['get_most_advanced_standby', 'formationid text, groupid integer, OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port integer, OUT node_lsn pg_lsn, OUT node_is_primary boolean', 'SETOF record'],
  ['get_nodes', 'formation_id text, group_id integer, OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port integer, OUT node_lsn pg_lsn, OUT node_is_primary boolean', 'SETOF record'],
  ['get_other_nodes', 'nodeid bigint, OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port integer, OUT node_lsn pg_lsn, OUT node_is_primary boolean', 'SETOF record'],
  ['get_other_nodes', 'nodeid bigint, current_state pgautofailover.replication_state, OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port integer, OUT node_lsn pg_lsn, OUT node_is_primary boolean', 'SETOF record'],
  ['get_primary', 'formation_id text, group_id integer, OUT primary_node_id bigint, OUT primary_name text, OUT primary_host text, OUT primary_port integer', 'record'],
  ['last_events', 'count integer', 'SETOF pgautofailover.event'],
  ['last_events', 'formation_id text, count integer', 'SETOF pgautofailover.event'],
  ['last_events', 'formation_id text, group_id integer, count integer', 'SETOF pgautofailover.event'],
  ['node_active', 'formation_id text, node_id bigint, group_id integer, current_group_role pgautofailover.replication_state, current_pg_is_running boolean, current_tli integer, current_lsn pg_lsn, current_rep_state text, OUT assigned_node_id bigint, OUT assigned_group_id integer, OUT assigned_group_state pgautofailover.replication_state, OUT assigned_candidate_priority integer, OUT assigned_replication_quorum boolean', 'record'],
  ['perform_failover', 'formation_id text, group_id integer', 'void'],
  ['perform_promotion', 'formation_id text, node_name text', 'boolean'],
  ['register_node', 'formation_id text, node_host text, node_port integer, dbname name, node_name text, sysidentifier bigint, desired_node_id bigint, desired_group_id integer, initial_group_role pgautofailover.replication_state, node_kind text, candidate_priority integer, replication_quorum boolean, node_cluster text, OUT assigned_node_id bigint, OUT assigned_group_id integer, OUT assigned_group_state pgautofailover.replication_state, OUT assigned_candidate_priority integer, OUT assigned_replication_quorum boolean, OUT assigned_node_name text', 'record'],
  ['remove_node', 'node_host text, node_port integer, force boolean', 'boolean'],
  ['remove_node', 'node_id bigint, force boolean', 'boolean'],
  ['set_formation_number_sync_standbys', 'formation_id text, number_sync_standbys integer', 'boolean'],
  ['set_group_system_identifier', 'group_id bigint, node_sysidentifier bigint, OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port integer', 'SETOF record'],
  ['set_node_candidate_priority', 'formation_id text, node_name text, candidate_priority integer', 'boolean'],
  ['set_node_replication_quorum', 'formation_id text, node_name text, replication_quorum boolean', 'boolean'],
  ['set_node_system_identifier', 'node_id bigint, node_sysidentifier bigint, OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port integer', 'record'],
  ['start_maintenance', 'node_id bigint', 'boolean'],
  ['stop_maintenance', 'node_id bigint', 'boolean'],
  ['synchronous_standby_names', 'formation_id text, group_id integer', 'text'],
  ['update_node_metadata', 'node_id bigint, node_name text, node_host text, node_port integer', 'boolean'],
];

describe('SQL API signatures (spec §3.3)', () => {
  it.each(FUNCTIONS.map(([n, a, r]) => ({ n, a, r })))('$n($a)', async ({ n, a, r }) => {
    const rows = await ms.server.query(
      `select pg_get_function_result(p.oid) as result
         from pg_proc p join pg_namespace ns on ns.oid = p.pronamespace
        where ns.nspname = 'pgautofailover' and p.proname = $1
          and pg_get_function_identity_arguments(p.oid) = $2`,
      [n, a],
      'pgaf_template',
    );
    expect(rows, `pgautofailover.${n}(${a})`).toHaveLength(1);
    expect(rows[0].result).toBe(r);
  });

  it('defaults let keepers and operators call the short forms', async () => {
    const m = await ms.fresh();
    // register_node with the 4 mandatory arguments, node_active with 3.
    const reg = await m.one(`select * from pgautofailover.register_node('default', '127.0.0.1', 5001, 'postgres')`);
    expect(reg.assigned_group_state).toBe('single');
    expect(reg.assigned_candidate_priority).toBe(100);
    expect(reg.assigned_replication_quorum).toBe(true);
    expect(reg.assigned_node_name).toBe(`node_${reg.assigned_node_id}`);
    const act = await m.one(`select * from pgautofailover.node_active('default', $1, 0)`, [reg.assigned_node_id]);
    expect(act.assigned_node_id).toBe(reg.assigned_node_id);
    // node_active's defaults: current_group_role init, running true, tli 1, lsn 0/0.
    const n = await m.node(reg.assigned_node_id);
    expect(n.reportedstate).toBe('init');
    expect(n.reportedtli).toBe(1);
    expect(n.reportedlsn).toBe('0/0');
    for (const sql of [
      `select * from pgautofailover.current_state()`,
      `select * from pgautofailover.get_nodes()`,
      `select * from pgautofailover.get_primary()`,
      `select pgautofailover.formation_uri()`,
      `select pgautofailover.synchronous_standby_names()`,
      `select * from pgautofailover.last_events(10)`,
      `select * from pgautofailover.last_events('default')`,
      `select * from pgautofailover.get_most_advanced_standby()`,
      `select * from pgautofailover.formation_settings()`,
    ]) {
      await expect(m.q(sql), sql).resolves.toBeDefined();
    }
  });
});

describe('privileges of autoctl_node (spec §3.1)', () => {
  it('can run the keeper protocol and the operator API', async () => {
    const m = await ms.fresh({}, 'autoctl_node');
    expect((await m.one(`select current_user as u`)).u).toBe('autoctl_node');
    const { a, b } = await twoNodes(m);
    for (const sql of [
      `select * from pgautofailover.current_state('default')`,
      `select * from pgautofailover.last_events('default', count => 5)`,
      `select pgautofailover.formation_uri('default')`,
      `select pgautofailover.synchronous_standby_names('default', 0)`,
      `select * from pgautofailover.get_primary('default', 0)`,
      `select * from pgautofailover.get_other_nodes(${a.id})`,
      `select * from pgautofailover.get_nodes('default')`,
      `select * from pgautofailover.formation_settings('default')`,
      `select pgautofailover.set_node_candidate_priority('default', '${b.name}', 90)`,
      `select * from pgautofailover.set_node_system_identifier(${b.id}, 424242)`,
    ]) {
      await expect(m.q(sql), sql).resolves.toBeDefined();
    }
    await m.active(a.id, 'apply_settings');
    await m.active(a.id, 'primary');
    await m.q(`select pgautofailover.perform_failover('default', 0)`);
    expect(await m.goal(a.id)).toBe('draining');
  });

  it('can read the tables', async () => {
    const m = await ms.fresh({}, 'autoctl_node');
    await m.register(5001);
    for (const t of ['formation', 'node', 'event']) {
      expect((await m.q(`select * from pgautofailover.${t}`)).length).toBeGreaterThan(0);
    }
  });

  it.each([
    [`insert into pgautofailover.formation (formationid) values ('evil')`],
    [`update pgautofailover.formation set number_sync_standbys = 5`],
    [`delete from pgautofailover.formation`],
    [`update pgautofailover.node set goalstate = 'primary'`],
    [`delete from pgautofailover.node`],
    [`insert into pgautofailover.event (formationid, nodeid, groupid, nodename, nodehost, nodeport, reportedstate, goalstate, description) values ('default', 1, 0, 'x', 'x', 1, 'single', 'single', 'forged')`],
    [`update pgautofailover.event set description = 'forged'`],
    [`delete from pgautofailover.event`],
    [`truncate pgautofailover.event`],
  ])('cannot write the tables directly: %s', async (sql) => {
    const m = await ms.fresh({}, 'autoctl_node');
    await m.register(5001);
    const err = await m.expectRefused(sql, [], /permission denied/);
    expect(err.code).toBe('42501');
  });
});
