// Hostile arguments to the SQL API (DESIGN S5, issue #10.1 and #10.7): quotes and injection
// attempts, hostile host names (HBA rules, newlines), very long names, format characters,
// unknown ids, out-of-range numbers and NULLs. Names and hosts are validated where they enter:
// a refusal is a clear error naming the argument, and changes nothing.
import { describe, expect, it } from 'vitest';
import { type Monitor, MonitorServer, SYSID, twoNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const REGISTER = `select * from pgautofailover.register_node(
  formation_id => $1, node_host => $2, node_port => $3, dbname => $4, node_name => $5,
  sysidentifier => $6, candidate_priority => $7, node_kind => $8)`;

async function tablesIntact(m: Monitor) {
  const r = await m.q(
    `select count(*)::int as n from information_schema.tables where table_schema = 'pgautofailover'
      and table_name in ('node', 'event', 'formation')`,
  );
  expect(r[0].n).toBe(3);
}

/** Either accepted (then `check` runs) or refused with an SQL error and no state change. */
async function storedOrRefused(m: Monitor, sql: string, params: unknown[], check: () => Promise<void>) {
  const before = await m.snapshot();
  let err: any;
  try {
    await m.q(sql, params);
  } catch (e) {
    err = e;
  }
  if (err) {
    expect(err.code, `an SQL error, not a crash: ${err.message}`).toMatch(/^[0-9A-Z]{5}$/);
    expect(err.code).not.toBe('XX000');
    expect(await m.snapshot()).toBe(before);
  } else {
    await check();
  }
}

describe('quotes, injection attempts and format characters', () => {
  it.each([
    [`x'); drop table pgautofailover.node; --`],
    [`"; delete from pgautofailover.event; --`],
    [`100%s %d %1$s %% {} \\ $$ $1`],
    [`nœud-été-节点-🚀`],
    ['line1\nline2\u0007\ttab'],
    ['all'],
    ['replication'],
  ])('a node named %j is refused with an error naming node_name, nothing changes', async (name) => {
    const m = await ms.fresh();
    await m.expectRefused(REGISTER, ['default', '127.0.0.1', 5001, 'postgres', name, SYSID, 100, 'standalone'], /node_name .* is not a valid name/);
    const { b } = await twoNodes(m);
    await m.expectRefused(`select pgautofailover.update_node_metadata($1, $2, null, null)`, [b.id, name], /node_name .* is not a valid name/);
    await m.expectRefused(`select pgautofailover.set_node_candidate_priority('default', $1, 90)`, [name], /node_name .* is not a valid name/);
    await m.expectRefused(`select pgautofailover.perform_promotion('default', $1)`, [name], /node_name .* is not a valid name/);
    await tablesIntact(m);
  });

  it('a name of letters, digits, dots, dashes and underscores is stored and reported verbatim', async () => {
    const m = await ms.fresh();
    const name = 'db-1.eu_west';
    const a = await m.register(5001, { name });
    expect((await m.node(a.id)).nodename).toBe(name);
    await m.active(a.id, 'single');
    const ev = (await m.events()).filter((e) => e.nodeid === a.id);
    expect(ev.every((e) => e.nodename === name)).toBe(true);
    expect(ev[0]!.description).toContain(name);
    expect(await m.q(`select nodename from pgautofailover.current_state('default')`)).toEqual([{ nodename: name }]);
  });

  it('an injection attempt in a formation id is refused naming formation_id', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    const f = `default'; drop table pgautofailover.node; --`;
    await m.expectRefused(REGISTER, [f, '127.0.0.1', 5003, 'postgres', '', SYSID, 100, 'standalone'], /formation_id .* is not a valid name/);
    await m.expectRefused(`select pgautofailover.perform_failover($1, 0)`, [f], /formation_id .* is not a valid name/);
    await m.expectRefused(`select pgautofailover.set_formation_number_sync_standbys($1, 0)`, [f], /formation_id .* is not a valid name/);
    await m.expectRefused(`select pgautofailover.create_formation($1, 'pgsql', 'postgres', true, 0)`, [f], /formation_id .* is not a valid name/);
    expect(await m.q(`select * from pgautofailover.current_state($1)`, [f])).toEqual([]);
    await tablesIntact(m);
  });

  it('a host name with quotes is refused naming node_host', async () => {
    const m = await ms.fresh();
    await m.expectRefused(REGISTER, ['default', `db'1".example";--`, 5001, 'postgres', '', SYSID, 100, 'standalone'], /node_host .* is not a valid host/);
    await tablesIntact(m);
  });
});

describe('hostile host names (#10.1): refused where they enter, nothing changes', () => {
  const HOSTILE_HOSTS = [
    '0.0.0.0/0 trust #',
    '0.0.0.0/0',
    '10.0.0.0/8',
    '127.0.0.1\nhost all all 0.0.0.0/0 trust',
    'db1\r\nhost replication all all trust',
    'db1 # comment',
    'db1\ttrust',
    'all',
    'samehost',
    'samenet',
    '.example.com',
    'db1..example.com',
    '-db1',
    'db_1.example.com',
    `db1"`,
    `db1'`,
    'db1,db2',
    '1.2.3',
    '256.0.0.1',
    'fe80::1%eth0',
    '[::1]',
    '::1/128',
    '',
    ' ',
    'h'.repeat(254),
    `${'a'.repeat(64)}.example.com`,
  ];

  it.each(HOSTILE_HOSTS.map((h) => [JSON.stringify(h).slice(0, 60), h]))('register_node refuses %s', async (_label, host) => {
    const m = await ms.fresh();
    const err = await m.expectRefused(REGISTER, ['default', host, 5001, 'postgres', '', SYSID, 100, 'standalone'], /node_host .* is not a valid host/);
    expect(err.code).toBe('22023');
    // the message escapes what it quotes: one line, no control character
    expect(err.message).not.toMatch(/[\u0000-\u001f]/);
  });

  it.each(HOSTILE_HOSTS.map((h) => [JSON.stringify(h).slice(0, 60), h]))('update_node_metadata of a registered node refuses %s', async (_label, host) => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    for (const id of [a.id, b.id]) {
      await m.expectRefused(`select pgautofailover.update_node_metadata($1, null, $2, null)`, [id, host], /node_host .* is not a valid host/);
    }
    await m.expectRefused(`select pgautofailover.remove_node($1::text, 5001)`, [host], /node_host .* is not a valid host/);
  });

  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '::1',
    'fe80::1',
    '2001:db8::10',
    '::ffff:192.0.2.1',
    'localhost',
    'db1',
    'db-1.example.com',
    'DB1.Example.COM',
    `${'a'.repeat(63)}.example.com`,
  ])('a valid host %s is accepted and stored verbatim', async (host) => {
    const m = await ms.fresh();
    const a = await m.register(5001, { host });
    expect((await m.node(a.id)).nodehost).toBe(host);
  });
});

describe('the SQL API hostile matrix (#10.7): each a clear error naming the problem, nothing changes', () => {
  const long = 'x'.repeat(10_000);
  const cases: Array<[string, string, unknown[], RegExp]> = [
    // 10,000-character strings
    ['register_node: a 10,000-character host', REGISTER, ['default', long, 5003, 'postgres', '', SYSID, 100, 'standalone'], /node_host .* at most 253/],
    ['register_node: a 10,000-character name', REGISTER, ['default', '127.0.0.1', 5003, 'postgres', long, SYSID, 100, 'standalone'], /node_name .* at most 63/],
    ['register_node: a 10,000-character formation', REGISTER, [long, '127.0.0.1', 5003, 'postgres', '', SYSID, 100, 'standalone'], /formation_id .* at most 63/],
    ['register_node: a 10,000-character node kind', REGISTER, ['default', '127.0.0.1', 5003, 'postgres', '', SYSID, 100, long], /node_kind .* is not supported/],
    ['update_node_metadata: a 10,000-character name', `select pgautofailover.update_node_metadata(1, $1, null, null)`, [long], /node_name .* at most 63/],
    ['perform_failover: a 10,000-character formation', `select pgautofailover.perform_failover($1, 0)`, [long], /formation_id .* at most 63/],
    ['perform_promotion: a 10,000-character name', `select pgautofailover.perform_promotion('default', $1)`, [long], /node_name .* at most 63/],
    ['create_formation: a 10,000-character formation', `select pgautofailover.create_formation($1, 'pgsql', 'postgres', true, 0)`, [long], /formation_id .* at most 63/],
    ['drop_formation: a 10,000-character formation', `select pgautofailover.drop_formation($1)`, [long], /formation_id .* at most 63/],
    ['enable_secondary: a 10,000-character formation', `select pgautofailover.enable_secondary($1)`, [long], /formation_id .* at most 63/],
    ['allow_data_loss: a 10,000-character formation', `select * from pgautofailover.allow_data_loss($1, 0, 60)`, [long], /formation_id .* at most 63/],
    ['formation_uri: a 10,000-character sslmode', `select pgautofailover.formation_uri('default', 'default', $1)`, [long], /sslmode .* is not valid/],
    // quotes and semicolons
    ['create_formation: a dbname with a quote and a semicolon', `select pgautofailover.create_formation('f2', 'pgsql', $1, true, 0)`, [`postgres'; drop database x; --`], /dbname .* is not a valid name/],
    ['register_node: a dbname that is an HBA keyword', REGISTER, ['f3', '127.0.0.1', 5003, 'replication', '', SYSID, 100, 'standalone'], /dbname .* pg_hba.conf keyword/],
    ['set_node_replication_quorum: a name with a semicolon', `select pgautofailover.set_node_replication_quorum('default', $1, false)`, [`node_1;`], /node_name .* is not a valid name/],
    ['formation_uri: an sslrootcert with a query string', `select pgautofailover.formation_uri('default', 'default', 'verify-ca', $1)`, [`/ca.pem&sslmode=disable`], /sslrootcert and sslcrl/],
    ['formation_uri: a cluster name with a quote', `select pgautofailover.formation_uri('default', $1)`, [`x'y`], /cluster_name .* is not a valid name/],
    // negative and huge numbers
    ['node_active: group -1', `select * from pgautofailover.node_active('default', 1, -1, 'primary', true, 1, '0/3000000', 'quorum')`, [], /group_id -1/],
    ['node_active: a huge group', `select * from pgautofailover.node_active('default', 1, 2147483647, 'primary', true, 1, '0/3000000', 'quorum')`, [], /belongs to formation "default" group 0/],
    ['node_active: a huge node id', `select * from pgautofailover.node_active('default', 9223372036854775807, 0, 'primary', true, 1, '0/3000000', 'quorum')`, [], /node 9223372036854775807 is not registered/],
    ['node_active: a negative timeline', `select * from pgautofailover.node_active('default', 1, 0, 'primary', true, -1, '0/3000000', 'quorum')`, [], /invalid timeline -1/],
    ['perform_failover: group -1', `select pgautofailover.perform_failover('default', -1)`, [], /group_id -1/],
    ['perform_failover: a huge group', `select pgautofailover.perform_failover('default', 2147483647)`, [], /has 0 node/],
    ['register_node: desired node id -5', `select * from pgautofailover.register_node('default', '127.0.0.1', 5003, 'postgres', desired_node_id => -5)`, [], /desired_node_id -5/],
    ['register_node: group 7', `select * from pgautofailover.register_node('default', '127.0.0.1', 5003, 'postgres', desired_group_id => 7)`, [], /group 7 is not valid/],
    ['register_node: port -1', REGISTER, ['default', '127.0.0.1', -1, 'postgres', '', SYSID, 100, 'standalone'], /node_port -1 is out of range/],
    ['register_node: priority 2147483647', REGISTER, ['default', '127.0.0.1', 5003, 'postgres', '', SYSID, 2147483647, 'standalone'], /candidate_priority 2147483647 is out of range/],
    ['update_node_metadata: port 0', `select pgautofailover.update_node_metadata(1, null, null, 0)`, [], /node_port 0 is out of range/],
    ['update_node_metadata: port 70000', `select pgautofailover.update_node_metadata(1, null, null, 70000)`, [], /node_port 70000 is out of range/],
    ['set_node_candidate_priority: -1', `select pgautofailover.set_node_candidate_priority('default', 'node_2', -1)`, [], /candidate priority -1 is out of range/],
    ['set_formation_number_sync_standbys: -1', `select pgautofailover.set_formation_number_sync_standbys('default', -1)`, [], /number_sync_standbys -1 is invalid/],
    ['set_formation_number_sync_standbys: huge', `select pgautofailover.set_formation_number_sync_standbys('default', 2147483647)`, [], /needs 2147483648 quorum standbys/],
    ['create_formation: negative number_sync_standbys', `select pgautofailover.create_formation('f4', 'pgsql', 'postgres', true, -3)`, [], /number_sync_standbys -3 is invalid/],
    ['allow_data_loss: -1 seconds', `select * from pgautofailover.allow_data_loss('default', 0, -1)`, [], /1 to 3600 seconds/],
    // unknown ids
    ['update_node_metadata: an unknown node', `select pgautofailover.update_node_metadata(4242, 'ghost', null, null)`, [], /node 4242 is not registered/],
    ['remove_node: an unknown node id', `select pgautofailover.remove_node(-7::bigint)`, [], /node -7 is not registered/],
    ['remove_node: an unknown host', `select pgautofailover.remove_node('db9.example.com', 5432)`, [], /no node is registered at db9.example.com:5432/],
    ['start_maintenance: an unknown node', `select pgautofailover.start_maintenance(9223372036854775807)`, [], /node 9223372036854775807 is not registered/],
    ['enroll_keeper: an unknown node', `select pgautofailover.enroll_keeper(4242, $1)`, [`SCRAM-SHA-256$4096:c2FsdA==$${'A'.repeat(43)}=:${'B'.repeat(43)}=`], /node 4242 is not registered/],
    ['enroll_keeper: a password instead of a verifier', `select pgautofailover.enroll_keeper(1, 'hunter2')`, [], /must be a SCRAM-SHA-256 verifier/],
    ['drop_formation: an unknown formation', `select pgautofailover.drop_formation('ghost')`, [], /formation "ghost" does not exist/],
  ];

  it.each(cases)('%s', async (_label, sql, params, message) => {
    const m = await ms.fresh();
    await twoNodes(m);
    const err = await m.expectRefused(sql, params, message);
    expect(err.message.length, 'an error message of a sensible length').toBeLessThan(400);
    await tablesIntact(m);
  });
});

describe('unknown ids', () => {
  it('node_active of an unknown node id is an error naming it', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    const before = await m.snapshot();
    await expect(m.active(4242, 'secondary')).rejects.toThrow(/4242/);
    await expect(m.active(0, 'secondary')).rejects.toThrow();
    await expect(m.active(-1, 'secondary')).rejects.toThrow();
    expect(await m.snapshot()).toBe(before);
  });

  it('perform_promotion, set_node_candidate_priority and set_node_replication_quorum of an unknown name', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(`select pgautofailover.perform_promotion('default', 'ghost')`, [], /ghost/);
    await m.expectRefused(`select pgautofailover.set_node_candidate_priority('default', 'ghost', 10)`, [], /ghost/);
    await m.expectRefused(`select pgautofailover.set_node_replication_quorum('default', 'ghost', true)`, [], /ghost/);
  });

  it('update_node_metadata and set_node_system_identifier of an unknown node change nothing', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    const before = await m.snapshot();
    const r = await m.q(`select pgautofailover.update_node_metadata(4242, 'ghost', null, null) as ok`).catch(() => [{ ok: false }]);
    expect(r[0].ok).toBe(false);
    await m.q(`select * from pgautofailover.set_node_system_identifier(4242, 1)`).catch(() => undefined);
    expect(await m.snapshot()).toBe(before);
  });

  it('start_maintenance, stop_maintenance and remove_node of an unknown id are errors', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(`select pgautofailover.start_maintenance(4242)`, [], /4242/);
    await m.expectRefused(`select pgautofailover.stop_maintenance(4242)`, [], /4242/);
    await m.expectRefused(`select pgautofailover.remove_node(4242::bigint)`, [], /4242/);
  });
});

describe('out-of-range numbers', () => {
  it.each([101, -1, 2147483647, -2147483648])('register_node with candidate priority %i is refused', async (prio) => {
    const m = await ms.fresh();
    await m.expectRefused(REGISTER, ['default', '127.0.0.1', 5001, 'postgres', '', SYSID, prio, 'standalone'], /./);
  });

  it.each([0, -5, 65536, 2147483647])('register_node with port %i is refused', async (port) => {
    const m = await ms.fresh();
    await m.expectRefused(REGISTER, ['default', '127.0.0.1', port, 'postgres', '', SYSID, 100, 'standalone'], /port|./);
  });

  it('register_node with an unknown node kind is refused', async () => {
    const m = await ms.fresh();
    await m.expectRefused(REGISTER, ['default', '127.0.0.1', 5001, 'postgres', '', SYSID, 100, 'mainframe'], /./);
  });

  it('node_active with a timeline of 0 or less is refused and stores nothing', async () => {
    const m = await ms.fresh();
    const a = await m.register(5001);
    const before = await m.snapshot();
    await expect(m.active(a.id, 'single', { tli: 0 })).rejects.toThrow();
    await expect(m.active(a.id, 'single', { tli: -3 })).rejects.toThrow();
    expect(await m.snapshot()).toBe(before);
    expect((await m.node(a.id)).reportedstate).not.toBe('single');
  });

  it('set_formation_number_sync_standbys with a huge value is refused', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(`select pgautofailover.set_formation_number_sync_standbys('default', 2147483647)`, [], /./);
  });
});

describe('NULL arguments', () => {
  it('register_node with NULLs registers nothing', async () => {
    const m = await ms.fresh();
    for (const args of [
      [null, '127.0.0.1', 5001, 'postgres', '', SYSID, 100, 'standalone'],
      ['default', null, 5001, 'postgres', '', SYSID, 100, 'standalone'],
      ['default', '127.0.0.1', null, 'postgres', '', SYSID, 100, 'standalone'],
      ['default', '127.0.0.1', 5001, 'postgres', null, SYSID, 100, 'standalone'],
    ]) {
      const rows = await m.q(REGISTER, args).catch(() => [{ assigned_node_id: null }]);
      expect(rows[0].assigned_node_id ?? null).toBeNull();
    }
    expect(await m.nodes()).toEqual([]);
  });

  it('node_active and the operator APIs with NULLs change nothing', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    const before = await m.snapshot();
    for (const sql of [
      `select * from pgautofailover.node_active(null, 1, 0, 'primary', true, 1, '0/3000000', 'quorum')`,
      `select * from pgautofailover.node_active('default', null, 0, 'primary', true, 1, '0/3000000', 'quorum')`,
      `select pgautofailover.perform_failover(null, 0)`,
      `select pgautofailover.start_maintenance(null)`,
      `select pgautofailover.remove_node(null::bigint)`,
      `select pgautofailover.set_node_candidate_priority('default', 'node_2', null)`,
      `select pgautofailover.set_formation_number_sync_standbys('default', null)`,
    ]) {
      await m.q(sql).catch(() => undefined);
      expect(await m.snapshot(), sql).toBe(before);
    }
  });
});
