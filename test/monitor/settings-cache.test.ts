// The settings cache (issue #12.4, monitor-ext/sql/settings.sql): a heartbeat reads the
// owner's settings from pgautofailover.settings_cache while nothing they were read from
// changed. These tests check that every owner's source still counts at the next heartbeat
// without a reload (a file edit, also one in the same second that keeps the file's size;
// ALTER DATABASE SET, also rolled back; ALTER SYSTEM), that a bad value stays an error naming
// the setting, that the documented remaining case (a setting put into an included file that
// held none) counts after pg_reload_conf(), and that a keeper can neither read, write nor
// change what the cache holds (#10.5). Each decision is a real node_active() on real Postgres.
import { chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scramVerifier } from '../../keeper/monitor-credentials.js';
import { type Monitor, MonitorServer, type State, twoNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const SETTING = 'pgautofailover.node_considered_unhealthy_timeout';
const confPath = () => join(ms.server.pgdata, 'postgresql.conf');
let originalConf: string;
beforeEach(() => {
  originalConf = readFileSync(confPath(), 'utf8');
});
afterEach(() => {
  writeFileSync(confPath(), originalConf);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Append lines to postgresql.conf (the server runs as its owner: the file keeps its owner). */
function appendConf(line: string): void {
  writeFileSync(confPath(), readFileSync(confPath(), 'utf8') + `\n${line}\n`);
}
/** Replace text in postgresql.conf, checking that the file's size does not change. */
function editConfSameSize(from: string, to: string): void {
  const before = readFileSync(confPath(), 'utf8');
  expect(before).toContain(from);
  expect(to.length).toBe(from.length);
  writeFileSync(confPath(), before.replace(from, to));
}

/** Whether the cache holds a read that the next heartbeat will use (the check fsm_settings() makes). */
async function cacheCurrent(m: Monitor): Promise<boolean> {
  const r = await m.one(
    `select c.filled_at > pg_conf_load_time()
            and c.db_config is not distinct from pgautofailover.database_config()
            and c.file_stamps = (pgautofailover.config_file_stamps(c.files)).stamps as current
       from pgautofailover.settings_cache c`,
  );
  return r.current;
}

/** Read the settings until the read is kept (2 s after the last change of a watched file). */
async function warm(m: Monitor): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await m.q(`select pgautofailover.fsm_settings()`);
    if (await cacheCurrent(m)) return;
    await sleep(200);
  }
  throw new Error('the settings cache was not filled within 12 s');
}

const cachedTimeout = async (m: Monitor) =>
  (await m.one(`select (extract(epoch from (c.fsm).unhealthy_timeout) * 1000)::int as ms from pgautofailover.settings_cache c`)).ms;

/**
 * A (primary) failed its health check just now and its keeper has been silent for 0.6 s: B's
 * heartbeat gets prepare_promotion when node_considered_unhealthy_timeout is below 0.6 s,
 * secondary with the default 1.2 s. Rolled back, so it can be asked again.
 */
async function decide(m: Monitor, a: number, b: number): Promise<State> {
  await m.q('begin');
  try {
    await m.q(
      `update pgautofailover.node set health = 0, healthchecktime = now(),
              reporttime = now() - interval '600 milliseconds' where nodeid = $1`,
      [a],
    );
    return await m.active(b, 'secondary');
  } finally {
    await m.q('rollback');
  }
}

describe('the settings cache sees every change the owner makes, at the next heartbeat', () => {
  it('a configuration file edit, without a reload; also a second edit in the same second keeping the size', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await warm(m);
    expect(await decide(m, a.id, b.id)).toBe('secondary');

    appendConf(`${SETTING} = '300ms'`);
    expect(await decide(m, a.id, b.id)).toBe('prepare_promotion');
    // same size, at once: pg_stat_file's times have whole seconds, a read this recent is not kept
    editConfSameSize(`${SETTING} = '300ms'`, `${SETTING} = '900ms'`);
    expect(await decide(m, a.id, b.id)).toBe('secondary');

    // once the read is kept, an edit keeping the size is seen too
    await warm(m);
    expect(await cachedTimeout(m)).toBe(900);
    expect(await decide(m, a.id, b.id)).toBe('secondary');
    editConfSameSize(`${SETTING} = '900ms'`, `${SETTING} = '300ms'`);
    expect(await decide(m, a.id, b.id)).toBe('prepare_promotion');
    await warm(m);
    expect(await cachedTimeout(m)).toBe(300);
  });

  it('ALTER DATABASE SET and RESET; one rolled back leaves the cache as it was', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await warm(m);
    await m.set('node_considered_unhealthy_timeout', '300ms');
    expect(await decide(m, a.id, b.id)).toBe('prepare_promotion');
    await warm(m);
    expect(await cachedTimeout(m)).toBe(300);
    await m.reset('node_considered_unhealthy_timeout');
    expect(await decide(m, a.id, b.id)).toBe('secondary');
    await warm(m);
    expect(await cachedTimeout(m)).toBe(1200);

    // in one transaction: the change counts for that transaction, and is gone with it
    const before = (await m.one(`select filled_at::text as t from pgautofailover.settings_cache`)).t;
    await m.q('begin');
    try {
      await m.q(`alter database ${m.db} set ${SETTING} = '300ms'`);
      await m.q(
        `update pgautofailover.node set health = 0, healthchecktime = now(),
                reporttime = now() - interval '600 milliseconds' where nodeid = $1`,
        [a.id],
      );
      expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    } finally {
      await m.q('rollback');
    }
    expect((await m.one(`select filled_at::text as t from pgautofailover.settings_cache`)).t).toBe(before);
    expect(await cacheCurrent(m)).toBe(true);
    expect(await decide(m, a.id, b.id)).toBe('secondary');
  });

  it('ALTER SYSTEM SET and RESET (postgresql.auto.conf), without a reload', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    // PostgreSQL 15 takes ALTER SYSTEM for the names once postgresql.conf includes pgaf-settings.conf
    const sharedir = (await m.one(`select setting from pg_config where name = 'SHAREDIR'`)).setting;
    appendConf(`include_if_exists = '${sharedir}/extension/pgaf-settings.conf'`);
    await m.q(`select pg_reload_conf()`);
    let su: pg.Client | undefined;
    try {
      for (let i = 0; i < 100; i++) {
        su = await m.connect();
        if ((await su.query(`select current_setting($1, true) is not null as k`, [SETTING])).rows[0].k) break;
        await su.end();
        su = undefined;
        await sleep(50);
      }
      expect(su, 'a new backend knows the pgautofailover.* names after the reload').toBeDefined();
      await warm(m);
      expect(await decide(m, a.id, b.id)).toBe('secondary');
      await su!.query(`alter system set ${SETTING} = '300ms'`);
      expect(await decide(m, a.id, b.id)).toBe('prepare_promotion');
      await warm(m);
      expect(await cachedTimeout(m)).toBe(300);
      await su!.query(`alter system reset ${SETTING}`);
      expect(await decide(m, a.id, b.id)).toBe('secondary');
    } finally {
      await su?.query(`alter system reset ${SETTING}`).catch(() => undefined);
    }
  });

  it('a bad value is an error naming the setting at every heartbeat, never cached; fixing it counts', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await warm(m);
    const before = (await m.one(`select filled_at::text as t from pgautofailover.settings_cache`)).t;
    appendConf(`${SETTING} = 'banana'`);
    await expect(decide(m, a.id, b.id)).rejects.toThrow(/invalid value for setting "pgautofailover.node_considered_unhealthy_timeout": "banana"/);
    await sleep(2500); // past the 2 s in which a read is not kept: a bad one is not kept either
    await expect(decide(m, a.id, b.id)).rejects.toThrow(/node_considered_unhealthy_timeout/);
    await expect(decide(m, a.id, b.id)).rejects.toThrow(/node_considered_unhealthy_timeout/);
    expect((await m.one(`select filled_at::text as t from pgautofailover.settings_cache`)).t).toBe(before);
    writeFileSync(confPath(), originalConf);
    expect(await decide(m, a.id, b.id)).toBe('secondary');

    await warm(m);
    await m.set('primary_demote_timeout', 'soon');
    await expect(decide(m, a.id, b.id)).rejects.toThrow(/primary_demote_timeout/);
    await m.reset('primary_demote_timeout');
    expect(await decide(m, a.id, b.id)).toBe('secondary');
  });

  it('documented: a setting put into an included file that held none counts after pg_reload_conf()', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    // a directory of its own, readable by the server's user: no file there is watched
    const dir = join(ms.server.pgdata, 'extra-conf');
    mkdirSync(dir);
    const owner = statSync(ms.server.pgdata);
    chownSync(dir, owner.uid, owner.gid);
    const extra = join(dir, 'extra.conf');
    appendConf(`include_if_exists = '${extra}'`);
    await warm(m);
    writeFileSync(extra, `${SETTING} = '300ms'\n`);
    chownSync(extra, owner.uid, owner.gid);
    expect(await decide(m, a.id, b.id)).toBe('secondary'); // not seen: the file was not listed
    const loaded = (await m.one(`select pg_conf_load_time()::text as t`)).t;
    await m.q(`select pg_reload_conf()`);
    for (let i = 0; i < 100 && (await m.one(`select pg_conf_load_time()::text as t`)).t === loaded; i++) await sleep(50);
    expect(await decide(m, a.id, b.id)).toBe('prepare_promotion');
    // and from then on the file is watched: an edit counts without a reload
    await warm(m);
    writeFileSync(extra, `${SETTING} = '900ms'\n`);
    expect(await decide(m, a.id, b.id)).toBe('secondary');
  });
});

describe('a keeper cannot affect the settings cache', () => {
  async function client(m: Monitor, user: string): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: m.server.url(m.db, user) });
    await c.connect();
    c.on('error', () => undefined);
    return c;
  }

  it('keeper roles can neither read nor write it, nor call what fills it', async () => {
    const m = await ms.fresh();
    const { b } = await twoNodes(m);
    const op = await client(m, 'autoctl_node');
    const role = (await op.query(`select pgautofailover.enroll_keeper($1, $2) as r`, [b.id, scramVerifier('a keeper password')])).rows[0].r;
    const keeper = await client(m, role);
    try {
      for (const c of [op, keeper]) {
        for (const sql of [
          `select * from pgautofailover.settings_cache`,
          `update pgautofailover.settings_cache set filled_at = 'infinity'`,
          `delete from pgautofailover.settings_cache`,
          `insert into pgautofailover.settings_cache (singleton, filled_at, files, file_stamps) values (true, 'infinity', '{}', '')`,
          `truncate pgautofailover.settings_cache`,
        ]) {
          await expect(c.query(sql), sql).rejects.toThrow(/permission denied for table settings_cache/);
        }
        for (const fn of ['fsm_settings()', 'read_fsm_settings()', 'config_files()', `config_file_stamps('{}')`]) {
          await expect(c.query(`select pgautofailover.${fn}`), fn).rejects.toThrow(/permission denied for function/);
        }
      }
    } finally {
      await keeper.end();
      await op.end();
    }
  });

  it("a keeper's session settings neither end up in the cache nor make it re-read", async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    const keeper = await client(m, 'autoctl_node');
    try {
      await keeper.query(`set ${SETTING} = '1ms'`);
      await keeper.query(`select set_config('pgautofailover.primary_demote_timeout', '0', false)`);
      await keeper.query(`set timezone = 'Pacific/Kiritimati'`);
      await keeper.query(`set datestyle = 'SQL, DMY'`);
      await keeper.query(`set intervalstyle = 'sql_standard'`);
      const report = async () =>
        (await keeper.query(`select assigned_group_state::text as goal from pgautofailover.node_active('default', $1, 0, 'secondary', true, 1, '0/3000000', '')`, [b.id]))
          .rows[0].goal;
      // the cache is filled by the keeper's own heartbeats
      await m.q(`update pgautofailover.settings_cache set filled_at = '-infinity'`);
      let filled = false;
      for (let i = 0; i < 60 && !filled; i++) {
        expect(await report()).toBe('secondary');
        filled = await cacheCurrent(m);
        if (!filled) await sleep(200);
      }
      expect(filled, 'the keeper heartbeats filled the cache').toBe(true);
      const row = await m.one(
        `select filled_at::text as t, (extract(epoch from (fsm).unhealthy_timeout) * 1000)::int as unhealthy,
                (extract(epoch from (fsm).demote_timeout) * 1000)::int as demote from pgautofailover.settings_cache`,
      );
      expect([row.unhealthy, row.demote]).toEqual([1200, 10000]);
      // another session (other time zone and styles) uses that read as it is
      await report();
      expect(await decide(m, a.id, b.id)).toBe('secondary');
      expect((await m.one(`select filled_at::text as t from pgautofailover.settings_cache`)).t).toBe(row.t);
    } finally {
      await keeper.end();
    }
  });
});
