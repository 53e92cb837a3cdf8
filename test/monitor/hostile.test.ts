// Hostile arguments to the SQL API (DESIGN S5): quotes and injection attempts, very long
// names, format characters, unknown ids, out-of-range numbers and NULLs. Each one must be
// stored verbatim or refused with a clear error, and a refusal must change nothing.
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
  ])('a node named %j is stored and reported verbatim', async (name) => {
    const m = await ms.fresh();
    const a = await m.register(5001, { name });
    expect(a.name).toBe(name);
    expect((await m.node(a.id)).nodename).toBe(name);
    await m.active(a.id, 'single');
    const ev = (await m.events()).filter((e) => e.nodeid === a.id);
    expect(ev.length).toBeGreaterThan(0);
    expect(ev.every((e) => e.nodename === name)).toBe(true);
    expect(ev[0]!.description).toContain(name);
    const cs = await m.q(`select nodename from pgautofailover.current_state('default')`);
    expect(cs).toEqual([{ nodename: name }]);
    // The name also works as an API argument.
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    await m.active(a.id, 'single');
    expect((await m.one(`select pgautofailover.set_node_candidate_priority('default', $1, 90) as ok`, [name])).ok).toBe(true);
    expect((await m.node(a.id)).candidatepriority).toBe(90);
    await tablesIntact(m);
  });

  it('an injection attempt in a formation id is an unknown formation', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    const f = `default'; drop table pgautofailover.node; --`;
    await m.expectRefused(REGISTER, [f, '127.0.0.1', 5003, 'postgres', '', SYSID, 100, 'standalone'], /./);
    await m.expectRefused(`select pgautofailover.perform_failover($1, 0)`, [f], /./);
    await m.expectRefused(`select pgautofailover.set_formation_number_sync_standbys($1, 0)`, [f], /./);
    expect(await m.q(`select * from pgautofailover.current_state($1)`, [f])).toEqual([]);
    await tablesIntact(m);
  });

  it('a host name with quotes is stored verbatim or refused', async () => {
    const m = await ms.fresh();
    const host = `db'1".example";--`;
    await storedOrRefused(m, REGISTER, ['default', host, 5001, 'postgres', '', SYSID, 100, 'standalone'], async () => {
      expect((await m.node(1)).nodehost).toBe(host);
    });
    await tablesIntact(m);
  });

  it('control characters in a node name are stored verbatim or refused', async () => {
    const m = await ms.fresh();
    const name = 'line1\nline2\u0007\ttab';
    await storedOrRefused(m, REGISTER, ['default', '127.0.0.1', 5001, 'postgres', name, SYSID, 100, 'standalone'], async () => {
      expect((await m.node(1)).nodename).toBe(name);
    });
  });
});

describe('very long names', () => {
  it('a 63-character node name is stored verbatim and fits the notifications', async () => {
    const m = await ms.fresh();
    const listener = await m.connect();
    const got: string[] = [];
    listener.on('notification', (n) => n.channel === 'state' && got.push(n.payload ?? ''));
    await listener.query('listen state');
    const name = 'n'.repeat(63);
    const a = await m.register(5001, { name });
    expect((await m.node(a.id)).nodename).toBe(name);
    await m.active(a.id, 'single');
    for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got.length).toBeGreaterThan(0);
    expect(JSON.parse(got[0]!).name).toBe(name);
  });

  it('a 1000-character node name is stored verbatim or refused with an error naming node_name', async () => {
    const m = await ms.fresh();
    const name = 'y'.repeat(1000);
    let err: any;
    await m.q(REGISTER, ['default', '127.0.0.1', 5001, 'postgres', name, SYSID, 100, 'standalone']).catch((e) => (err = e));
    if (err) {
      expect(err.message).toMatch(/node_name|name/);
      expect(await m.nodes()).toEqual([]);
    } else {
      expect((await m.node(1)).nodename).toBe(name);
    }
  });

  it('a 100 000-character node name is stored verbatim or refused cleanly', async () => {
    const m = await ms.fresh();
    const name = 'x'.repeat(100_000);
    await storedOrRefused(m, REGISTER, ['default', '127.0.0.1', 5001, 'postgres', name, SYSID, 100, 'standalone'], async () => {
      expect((await m.node(1)).nodename).toBe(name);
      // And the node can keep working.
      expect(await m.active(1, 'single')).toBe('single');
    });
  });

  it('a 100 000-character host name is stored verbatim or refused cleanly', async () => {
    const m = await ms.fresh();
    const host = 'h'.repeat(100_000);
    await storedOrRefused(m, REGISTER, ['default', host, 5001, 'postgres', '', SYSID, 100, 'standalone'], async () => {
      expect((await m.node(1)).nodehost).toBe(host);
      expect(await m.active(1, 'single')).toBe('single');
    });
  });

  it('a 10 000-character formation id is an unknown formation', async () => {
    const m = await ms.fresh();
    await twoNodes(m);
    await m.expectRefused(`select pgautofailover.perform_failover($1, 0)`, ['f'.repeat(10_000)], /./);
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
