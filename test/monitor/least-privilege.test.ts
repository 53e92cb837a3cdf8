// Least privilege on the monitor (issue #10.5): SECURITY DEFINER functions pin a search_path
// that ends with pg_temp; the safety settings count only where the owner sets them (a session's
// SET, set_config, ALTER ROLE and connection options change nothing); a keeper role acts on
// its own node only while the operator's role keeps the whole API; CONNECT on the monitor
// database is not granted to PUBLIC.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { scramVerifier } from '../../keeper/monitor-credentials.js';
import { type Monitor, MonitorServer, PORT_C, SYSID, threeNodes, twoNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

/** A valid SCRAM-SHA-256 verifier (the keeper computes one from its password). */
const VERIFIER = scramVerifier('a keeper password');

async function client(m: Monitor, user: string, options?: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: m.server.url(m.db, user), ...(options ? { options } : {}) });
  await c.connect();
  c.on('error', () => undefined);
  return c;
}

describe('SECURITY DEFINER functions', () => {
  it('every one pins search_path, with pg_temp last', async () => {
    const m = await ms.fresh();
    const rows = await m.q<{ fn: string; config: string[] | null }>(
      `select p.oid::regprocedure::text as fn, p.proconfig as config
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'pgautofailover' and p.prosecdef order by 1`,
    );
    expect(rows.length).toBeGreaterThan(30);
    for (const r of rows) {
      const path = (r.config ?? []).find((c) => c.startsWith('search_path='));
      expect(path, `${r.fn} pins search_path`).toBeDefined();
      const parts = path!.slice('search_path='.length).split(',').map((s) => s.trim());
      expect(parts[parts.length - 1], `${r.fn}: ${path}`).toBe('pg_temp');
      expect(parts, `${r.fn}: ${path}`).toContain('pg_catalog');
    }
  });
});

describe('safety settings count only where the owner sets them', () => {
  /** A's keeper is silent for 0.6 s and its health check failed: dead only if the timeout is below 0.6 s (the default is 1.2 s). */
  async function silentPrimary(m: Monitor) {
    const { a, b } = await twoNodes(m);
    await m.q(
      `update pgautofailover.node set health = 0, healthchecktime = now(), reporttime = now() - interval '600 milliseconds' where nodeid = $1`,
      [a.id],
    );
    return { a, b };
  }
  const report = (c: pg.Client, id: number) =>
    c.query(`select assigned_group_state::text as goal from pgautofailover.node_active('default', $1, 0, 'secondary', true, 1, '0/3000000', '')`, [id]);

  it('a keeper session that SETs a shrunk timeout, or set_config()s it, changes nothing', async () => {
    const m = await ms.fresh();
    const { b } = await silentPrimary(m);
    const keeper = await client(m, 'autoctl_node');
    await keeper.query(`set pgautofailover.node_considered_unhealthy_timeout = '1ms'`);
    await keeper.query(`select set_config('pgautofailover.startup_grace_period', '0', false)`);
    expect((await report(keeper, b.id)).rows[0].goal).toBe('secondary');
    await keeper.query(`begin`);
    await keeper.query(`set local pgautofailover.node_considered_unhealthy_timeout = '0'`);
    expect((await report(keeper, b.id)).rows[0].goal).toBe('secondary');
    await keeper.query(`commit`);
    const s = await keeper.query(`select value, is_default from pgautofailover.monitor_settings() where name = 'node_considered_unhealthy_timeout'`);
    expect(s.rows[0]).toEqual({ value: '1200ms', is_default: true });
    await keeper.end();
    // the owner's value counts: ALTER DATABASE … SET
    await m.set('node_considered_unhealthy_timeout', '300ms');
    const k2 = await client(m, 'autoctl_node');
    expect((await report(k2, b.id)).rows[0].goal).toBe('prepare_promotion');
    await k2.end();
  });

  it('ALTER ROLE … SET and connection options change nothing either', async () => {
    const m = await ms.fresh();
    const { b } = await silentPrimary(m);
    await ms.server.query(`alter role autoctl_node in database ${m.db} set pgautofailover.node_considered_unhealthy_timeout = '1ms'`);
    try {
      const keeper = await client(m, 'autoctl_node', '-c pgautofailover.primary_demote_timeout=0');
      expect((await keeper.query(`show pgautofailover.node_considered_unhealthy_timeout`)).rows[0]).toBeDefined();
      expect((await report(keeper, b.id)).rows[0].goal).toBe('secondary');
      const s = await keeper.query(`select name, source from pgautofailover.settings where source <> 'default' order by name`);
      expect(s.rows).toEqual([{ name: 'pgautofailover.startup_grace_period', source: 'database' }]);
      await keeper.end();
    } finally {
      await ms.server.query(`alter role autoctl_node in database ${m.db} reset all`);
    }
  });

  it("a keeper session's SET pgautofailover.guard_data_loss = off does not unblock a guarded election", async () => {
    const m = await ms.fresh({ primary_demote_timeout: '0' });
    const { a, b, c } = await threeNodes(m);
    await m.markUnhealthy(a.id);
    await m.markUnhealthy(c.id);
    expect(await m.active(b.id, 'secondary')).toBe('report_lsn');
    expect(await m.active(b.id, 'report_lsn')).toBe('report_lsn');
    const keeper = await client(m, 'autoctl_node');
    await keeper.query(`set pgautofailover.guard_data_loss = off`);
    const r = await keeper.query(
      `select assigned_group_state::text as goal from pgautofailover.node_active('default', $1, 0, 'report_lsn', true, 1, '0/3000000', '')`,
      [b.id],
    );
    expect(r.rows[0].goal).toBe('report_lsn');
    // an operator failover from that session is still guarded too
    await keeper.query(`select pgautofailover.perform_failover('default', 0)`).catch(() => undefined);
    expect((await m.nodes()).some((n) => ['prepare_promotion', 'fast_forward', 'wait_primary'].includes(n.goalstate))).toBe(false);
    await keeper.end();
    // the owner turning the guard off (ALTER DATABASE) does unblock it
    await m.set('guard_data_loss', 'off');
    expect(await m.active(b.id, 'report_lsn')).toBe('prepare_promotion');
  });

  it('the settings view tells the value in force and where it comes from; ALTER SYSTEM counts', async () => {
    const m = await ms.fresh({ primary_demote_timeout: '30s' });
    const rows = await m.q(`select name, setting, unit, source, description from pgautofailover.settings order by name`);
    expect(rows.length).toBe(11);
    expect(rows.find((r) => r.name === 'pgautofailover.primary_demote_timeout')).toMatchObject({ setting: '30000', unit: 'ms', source: 'database' });
    expect(rows.find((r) => r.name === 'pgautofailover.guard_data_loss')).toMatchObject({ setting: 'on', unit: null, source: 'default' });
    expect(rows.find((r) => r.name === 'pgautofailover.enable_sync_wal_log_threshold')).toMatchObject({ setting: '16777216', unit: 'B' });
    expect(rows.every((r) => typeof r.description === 'string' && r.description.length > 10)).toBe(true);
    // ALTER SYSTEM (postgresql.auto.conf): PostgreSQL 15 knows the names once postgresql.conf
    // has the one line CREATE EXTENSION and install-extension tell
    const su = await client(m, ms.server.superuser);
    const refused = await su.query(`alter system set pgautofailover.replication_stall_timeout = '42s'`).then(() => undefined, (e: Error) => e);
    expect(refused?.message).toMatch(/unrecognized configuration parameter/);
    const sharedir = (await su.query(`select setting from pg_config where name = 'SHAREDIR'`)).rows[0].setting;
    appendFileSync(join(ms.server.pgdata, 'postgresql.conf'), `\ninclude_if_exists = '${sharedir}/extension/pgaf-settings.conf'\n`);
    await su.query(`select pg_reload_conf()`);
    await su.end();
    // a backend forked once the postmaster has reloaded knows the names
    let su2 = await client(m, ms.server.superuser);
    for (let i = 0; i < 100; i++) {
      const known = (await su2.query(`select current_setting('pgautofailover.replication_stall_timeout', true) is not null as k`)).rows[0].k;
      if (known) break;
      await su2.end();
      await new Promise((r) => setTimeout(r, 50));
      su2 = await client(m, ms.server.superuser);
    }
    try {
      await su2.query(`alter system set pgautofailover.replication_stall_timeout = '42s'`);
      const r = await m.one(`select setting, source from pgautofailover.settings where name = 'pgautofailover.replication_stall_timeout'`);
      expect(r).toEqual({ setting: '42000', source: 'configuration file' });
      // ALTER DATABASE wins over the file, as it does for a new session
      await m.set('replication_stall_timeout', '7s');
      expect((await m.one(`select setting, source from pgautofailover.settings where name = 'pgautofailover.replication_stall_timeout'`))).toEqual({
        setting: '7000',
        source: 'database',
      });
    } finally {
      await su2.query(`alter system reset pgautofailover.replication_stall_timeout`);
      await su2.end();
    }
    // the view is readable by the operator's role
    const op = await client(m, 'autoctl_node');
    expect((await op.query(`select count(*)::int as n from pgautofailover.settings`)).rows[0].n).toBe(11);
    await op.end();
  });

  it('a bad value set by the owner is an error naming the setting', async () => {
    const m = await ms.fresh({ primary_demote_timeout: 'soon' });
    await expect(m.q(`select * from pgautofailover.settings`)).rejects.toThrow(/primary_demote_timeout/);
  });
});

describe('CONNECT on the monitor database', () => {
  it('is revoked from PUBLIC by CREATE EXTENSION, granted to the roles of pgaf', async () => {
    await ms.server.query(`drop database if exists connect_check with (force)`);
    await ms.server.query(`create database connect_check`);
    await ms.server.query(`drop role if exists someone_else`);
    await ms.server.query(`create role someone_else login`);
    try {
      expect((await ms.server.query(`select has_database_privilege('someone_else', 'connect_check', 'CONNECT') as ok`))[0].ok).toBe(true);
      await ms.server.query(`create extension pgaf cascade`, [], 'connect_check');
      const can = async (role: string) =>
        (await ms.server.query(`select has_database_privilege($1, 'connect_check', 'CONNECT') as ok`, [role]))[0].ok;
      expect(await can('someone_else')).toBe(false);
      expect(await can('autoctl_node')).toBe(true);
      expect(await can('autoctl')).toBe(true);
      expect(await can('pgautofailover_keeper')).toBe(true);
      const c = new pg.Client({ connectionString: ms.server.url('connect_check', 'someone_else') });
      await expect(c.connect()).rejects.toThrow(/permission denied for database/);
      await c.end().catch(() => undefined);
    } finally {
      await ms.server.query(`drop database if exists connect_check with (force)`);
      await ms.server.query(`drop role if exists someone_else`);
    }
  });
});

describe('per-node keeper roles: a keeper changes its own node only', () => {
  async function enrolled(m: Monitor) {
    const nodes = await threeNodes(m);
    const op = await client(m, 'autoctl_node');
    const role = (await op.query(`select pgautofailover.enroll_keeper($1, $2) as r`, [nodes.b.id, VERIFIER])).rows[0].r as string;
    await op.end();
    expect(role).toMatch(new RegExp(`^pgaf_keeper_\\d+_${nodes.b.id}$`));
    const keeper = await client(m, role);
    return { ...nodes, role, keeper };
  }

  it('enroll_keeper creates a login role in the keeper group from a SCRAM verifier, never a password', async () => {
    const m = await ms.fresh();
    const { b, role, keeper } = await enrolled(m);
    const r = await ms.server.query(
      `select r.rolcanlogin, r.rolsuper, r.rolcreaterole, pg_has_role(r.rolname, 'pgautofailover_keeper', 'MEMBER') as member, a.rolpassword
         from pg_roles r join pg_authid a on a.oid = r.oid where r.rolname = $1`,
      [role],
    );
    expect(r[0]).toEqual({ rolcanlogin: true, rolsuper: false, rolcreaterole: false, member: true, rolpassword: VERIFIER });
    // a keeper role re-keys its own node
    expect((await keeper.query(`select pgautofailover.enroll_keeper($1, $2) as r`, [b.id, VERIFIER])).rows[0].r).toBe(role);
    await m.expectRefused(`select pgautofailover.enroll_keeper($1, 'my-password')`, [b.id], /must be a SCRAM-SHA-256 verifier/);
    await keeper.end();
  });

  it('its own node: heartbeats, metadata, system identifier, priority, maintenance', async () => {
    const m = await ms.fresh();
    const { b, keeper } = await enrolled(m);
    const r = await keeper.query(`select * from pgautofailover.node_active('default', $1, 0, 'secondary', true, 1, '0/3000000', '')`, [b.id]);
    expect(r.rows[0].assigned_group_state).toBe('secondary');
    await keeper.query(`select pgautofailover.update_node_metadata($1, 'b-renamed', null, null)`, [b.id]);
    await keeper.query(`select * from pgautofailover.set_node_system_identifier($1, $2)`, [b.id, SYSID]);
    await keeper.query(`select pgautofailover.set_node_candidate_priority('default', 'b-renamed', 90)`);
    expect(await m.node(b.id)).toMatchObject({ nodename: 'b-renamed', candidatepriority: 90 });
    expect((await keeper.query(`select count(*)::int as n from pgautofailover.get_other_nodes($1)`, [b.id])).rows[0].n).toBe(2);
    expect((await keeper.query(`select count(*)::int as n from pgautofailover.settings`)).rows[0].n).toBe(11);
    await keeper.end();
  });

  it("another node: every change is refused naming the role and the node, nothing changes", async () => {
    const m = await ms.fresh();
    const { a, c, keeper } = await enrolled(m);
    const refusals: Array<[string, unknown[], RegExp]> = [
      [`select * from pgautofailover.node_active('default', $1, 0, 'primary', true, 1, '0/3000000', 'quorum')`, [a.id], /cannot report for node/],
      [`select pgautofailover.update_node_metadata($1, null, '10.9.9.9', null)`, [a.id], /cannot update the metadata of node/],
      [`select * from pgautofailover.set_node_system_identifier($1, 1)`, [c.id], /cannot set the system identifier of node/],
      [`select pgautofailover.set_node_candidate_priority('default', 'node_3', 0)`, [], /cannot set the candidate priority of node/],
      [`select pgautofailover.set_node_replication_quorum('default', 'node_1', false)`, [], /cannot set the replication quorum of node/],
      [`select pgautofailover.start_maintenance($1)`, [a.id], /cannot start maintenance on node/],
      [`select pgautofailover.remove_node($1::bigint)`, [a.id], /cannot remove node/],
      [`select pgautofailover.remove_node('127.0.0.1'::text, $1::int)`, [PORT_C], /cannot remove node/],
      [`select pgautofailover.enroll_keeper($1, $2)`, [a.id, VERIFIER], /cannot enroll a keeper role for node/],
      // the operator's API is not granted to keeper roles at all
      [`select pgautofailover.perform_failover('default', 0)`, [], /permission denied for function perform_failover/],
      [`select * from pgautofailover.perform_promotion('default', 'node_3')`, [], /permission denied for function perform_promotion/],
      [`select * from pgautofailover.register_node('default', '127.0.0.1', 5099, 'postgres')`, [], /permission denied for function register_node/],
      [`select pgautofailover.set_formation_number_sync_standbys('default', 0)`, [], /permission denied/],
      [`select * from pgautofailover.allow_data_loss('default', 0, 60)`, [], /permission denied/],
      [`select pgautofailover.drop_formation('default')`, [], /permission denied/],
      [`select * from pgautofailover.set_group_system_identifier(0, 1)`, [], /permission denied/],
      [`update pgautofailover.node set goalstate = 'primary'`, [], /permission denied for table node/],
      [`select * from pgautofailover.node_credential`, [], /permission denied for table node_credential/],
    ];
    for (const [sql, params, message] of refusals) {
      const before = await m.snapshot();
      const err = await keeper.query(sql, params as unknown[]).then(
        () => undefined,
        (e: pg.DatabaseError) => e,
      );
      expect(err, `refused: ${sql}`).toBeInstanceOf(Error);
      expect(err!.code, `${sql}: ${err!.message}`).toBe('42501');
      expect(err!.message, sql).toMatch(message);
      expect(await m.snapshot(), `nothing changed after: ${sql}`).toBe(before);
    }
    await keeper.end();
  });

  it('the operator role keeps the whole API; removing the node drops its keeper role', async () => {
    const m = await ms.fresh();
    const { b, role, keeper } = await enrolled(m);
    await keeper.end();
    const op = await client(m, 'autoctl_node');
    await op.query(`select pgautofailover.set_node_candidate_priority('default', 'node_3', 40)`);
    await op.query(`select pgautofailover.remove_node($1::bigint, true)`, [b.id]);
    await op.end();
    expect(await ms.server.query(`select 1 from pg_roles where rolname = $1`, [role])).toEqual([]);
  });
});

describe('secrets (#10.6): keeper passwords never reach the monitor, its events, notifications or log', () => {
  it("the keeper's verifier is the one PostgreSQL computes for its password", async () => {
    await ms.server.query(`drop role if exists verifier_check`);
    await ms.server.query(`set password_encryption = 'scram-sha-256'; create role verifier_check password 'S3cret-pa$$'`);
    try {
      const stored = (await ms.server.query(`select rolpassword from pg_authid where rolname = 'verifier_check'`))[0].rolpassword as string;
      const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored)!;
      expect(scramVerifier('S3cret-pa$$', Buffer.from(m[2]!, 'base64'), Number(m[1]))).toBe(stored);
    } finally {
      await ms.server.query(`drop role if exists verifier_check`);
    }
  });

  it('enrolling a keeper puts no verifier or password into events, NOTIFY payloads or the server log', async () => {
    const m = await ms.fresh();
    const { b } = await twoNodes(m);
    const password = 'keeper-password-that-must-stay-local';
    const verifier = scramVerifier(password);
    // the salt and both keys (not the SCRAM-SHA-256 prefix nor the iteration count)
    const secrets = [password, verifier, ...verifier.split(/[$:]/).slice(2)];
    const listener = await m.connect();
    const payloads: string[] = [];
    listener.on('notification', (n) => payloads.push(`${n.channel}: ${n.payload ?? ''}`));
    await listener.query('listen state; listen log');
    const op = await client(m, 'autoctl_node');
    const role = (await op.query(`select pgautofailover.enroll_keeper($1, $2) as r`, [b.id, verifier])).rows[0].r as string;
    // a refused enrollment (a password instead of a verifier) does not echo it either
    const err = await op.query(`select pgautofailover.enroll_keeper($1, $2)`, [b.id, password]).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/must be a SCRAM-SHA-256 verifier/);
    expect(err?.message).not.toContain(password);
    await op.end();
    const keeper = await client(m, role);
    await keeper.query(`select * from pgautofailover.node_active('default', $1, 0, 'secondary', true, 1, '0/3000000', '')`, [b.id]);
    await keeper.end();
    for (let i = 0; i < 50 && !payloads.some((p) => p.startsWith('log:')); i++) await new Promise((r) => setTimeout(r, 20));
    expect(payloads.some((p) => p.includes(role)), 'the enrollment is announced by role name').toBe(true);
    const events = JSON.stringify(await m.q(`select * from pgautofailover.event`));
    const log = readFileSync(join(ms.server.dir, 'postgres.log'), 'utf8');
    for (const secret of secrets) {
      expect(payloads.join('\n')).not.toContain(secret);
      expect(events).not.toContain(secret);
      expect(log).not.toContain(secret);
    }
  });
});
