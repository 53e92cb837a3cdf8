// Extension versions: a monitor created with an older pgaf is updated by
// `ALTER EXTENSION pgaf UPDATE` (monitor-ext/upgrade/pgaf--<from>--<to>.sql), and must then hold
// exactly the catalog of a fresh CREATE EXTENSION of the target version: functions (signatures,
// bodies, options, privileges), tables and columns, constraints, indexes, triggers, types and
// enum values, grants. Each step is checked (1.0 → 1.1, 1.1 → 1.2) and so is the whole chain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXTENSION_VERSION } from '../../monitor-ext/bundle.js';
import type { Logger } from '../../lib/log.js';
import { compareExtensionVersions, ensureExtension, updateExtensionIfOlder } from '../../monitor-ext/extension.js';
import { withClient } from '../../lib/sql.js';
import { startPostgres, type TestServer } from '../support/postgres.js';

let server: TestServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

/** Everything the extension defines, as sorted text lines (OIDs left out). */
const CATALOG: Record<string, string> = {
  functions: `
    select p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') → ' || pg_get_function_result(p.oid)
           || ' lang=' || l.lanname || ' kind=' || p.prokind::text || ' volatile=' || p.provolatile::text
           || ' strict=' || p.proisstrict || ' secdef=' || p.prosecdef
           || ' config=' || coalesce(array_to_string(p.proconfig, ';'), '')
           || ' acl=' || coalesce(p.proacl::text, 'default')
           || ' defaults=' || coalesce(pg_get_expr(p.proargdefaults, 0), '')
           || ' body=' || md5(p.prosrc) as line
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang
     where n.nspname = 'pgautofailover'`,
  relations: `
    select c.relname || ' kind=' || c.relkind::text || ' acl=' || coalesce(c.relacl::text, 'default')
           || ' options=' || coalesce(array_to_string(c.reloptions, ','), '') as line
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'pgautofailover'`,
  columns: `
    select c.relname || '.' || a.attname || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
           || ' acl=' || coalesce(a.attacl::text, '') as line
      from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
     where n.nspname = 'pgautofailover' and a.attnum > 0 and not a.attisdropped`,
  constraints: `
    select c.relname || ' ' || k.conname || ': ' || pg_get_constraintdef(k.oid) as line
      from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'pgautofailover'`,
  indexes: `select indexdef as line from pg_indexes where schemaname = 'pgautofailover'`,
  triggers: `
    select pg_get_triggerdef(t.oid) as line
      from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'pgautofailover' and not t.tgisinternal`,
  types: `
    select t.typname || ' type=' || t.typtype::text || ' acl=' || coalesce(t.typacl::text, 'default') as line
      from pg_type t join pg_namespace n on n.oid = t.typnamespace
     where n.nspname = 'pgautofailover'`,
  enums: `
    select t.typname || ' ' || string_agg(e.enumlabel, ',' order by e.enumsortorder) as line
      from pg_enum e join pg_type t on t.oid = e.enumtypid join pg_namespace n on n.oid = t.typnamespace
     where n.nspname = 'pgautofailover' group by t.typname`,
  schema: `select nspname || ' acl=' || coalesce(nspacl::text, 'default') as line from pg_namespace where nspname = 'pgautofailover'`,
  members: `
    select pg_describe_object(d.classid, d.objid, d.objsubid) as line
      from pg_depend d join pg_extension x on x.oid = d.refobjid
     where d.refclassid = 'pg_extension'::regclass and d.deptype = 'e' and x.extname = 'pgaf'`,
  rows: `select 'formation ' || row_to_json(f)::text as line from pgautofailover.formation f`,
};

async function catalog(db: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [name, sql] of Object.entries(CATALOG)) {
    out[name] = (await server.query<{ line: string }>(sql, [], db)).map((r) => r.line).sort();
  }
  return out;
}

async function freshDb(name: string): Promise<void> {
  await server.query(`drop database if exists ${name} with (force)`);
  await server.query(`create database ${name}`);
}

const silent: Logger & { lines: string[] } = {
  lines: [],
  error(m) {
    this.lines.push(m);
  },
  warn(m) {
    this.lines.push(m);
  },
  info(m) {
    this.lines.push(m);
  },
  debug() {},
  trace() {},
  child() {
    return this;
  },
};

/** Released versions, oldest first; the last one is the one shipped. */
const VERSIONS = ['1.0', '1.1', '1.2'];
const LATEST = VERSIONS[VERSIONS.length - 1]!;
/** Each upgrade script, and the whole chain from the oldest version. */
const STEPS: Array<[string, string]> = [
  ...VERSIONS.slice(1).map((to, i): [string, string] => [VERSIONS[i]!, to]),
  [VERSIONS[0]!, LATEST],
];

describe('pgaf versions and update paths', () => {
  it(`the shipped version is ${LATEST}; every older version is still available to CREATE`, async () => {
    expect(EXTENSION_VERSION).toBe(LATEST);
    const rows = await server.query(`select version from pg_available_extension_versions where name = 'pgaf' order by version`);
    expect(rows.map((r) => r.version)).toEqual(VERSIONS);
    for (const [i, to] of VERSIONS.slice(1).entries()) {
      const from = VERSIONS[i]!;
      const path = await server.query(`select path from pg_extension_update_paths('pgaf') where source = $1 and target = $2`, [from, to]);
      expect(path, `update path ${from} → ${to}`).toEqual([{ path: `${from}--${to}` }]);
    }
  });
});

describe.each(STEPS)('pgaf %s → %s', (from, to) => {
  const db = (s: string) => `${s}_${from}_${to}`.replace(/\./g, '');

  it(`ALTER EXTENSION pgaf UPDATE TO ${to} gives the catalog of a fresh CREATE EXTENSION pgaf VERSION ${to}`, async () => {
    await freshDb(db('upgraded'));
    await freshDb(db('fresh'));
    await server.query(`create extension pgaf version '${from}' cascade`, [], db('upgraded'));
    const old = await catalog(db('upgraded'));
    if (from === '1.0') {
      expect(old.functions.some((l) => l.startsWith('allow_data_loss('))).toBe(false);
      expect(old.relations.some((l) => l.startsWith('data_loss_allowance '))).toBe(false);
    }

    await server.query(`alter extension pgaf update to '${to}'`, [], db('upgraded'));
    await server.query(`create extension pgaf version '${to}' cascade`, [], db('fresh'));
    const [upgraded, fresh] = [await catalog(db('upgraded')), await catalog(db('fresh'))];
    for (const key of Object.keys(CATALOG)) {
      expect(upgraded[key], `catalog part "${key}" after the update`).toEqual(fresh[key]);
    }
    expect(fresh.functions.some((l) => l.startsWith('allow_data_loss(formation_id text, group_id integer, valid_for_seconds integer'))).toBe(true);
    expect(fresh.relations.some((l) => l.startsWith('data_loss_allowance '))).toBe(true);
    const v = await server.query(`select extversion from pg_extension where extname = 'pgaf'`, [], db('upgraded'));
    expect(v).toEqual([{ extversion: to }]);
  });

  it(`data of a ${from} monitor survives the update to ${to}, and the updated monitor runs its API`, async () => {
    await freshDb(db('withdata'));
    await server.query(`create extension pgaf version '${from}' cascade`, [], db('withdata'));
    await server.query(`select * from pgautofailover.register_node('default', '127.0.0.1', 5001, 'postgres', sysidentifier => 1)`, [], db('withdata'));
    await server.query(`alter extension pgaf update to '${to}'`, [], db('withdata'));
    const nodes = await server.query(`select nodeid, nodename, nodehost, goalstate::text from pgautofailover.node`, [], db('withdata'));
    expect(nodes).toEqual([{ nodeid: '1', nodename: 'node_1', nodehost: '127.0.0.1', goalstate: 'single' }]);
    const r = await server.query(`select failover_in_progress from pgautofailover.allow_data_loss('default', 0, 60)`, [], db('withdata'));
    expect(r).toEqual([{ failover_in_progress: false }]);
    if (compareExtensionVersions(to, '1.2') >= 0) {
      // 1.2: hosts are validated, settings have their view, CONNECT is not PUBLIC's any more
      await expect(
        server.query(`select * from pgautofailover.register_node('default', '0.0.0.0/0 trust #', 5002, 'postgres')`, [], db('withdata')),
      ).rejects.toThrow(/node_host .* is not a valid host/);
      const s = await server.query(`select count(*)::int as n from pgautofailover.settings`, [], db('withdata'));
      expect(s).toEqual([{ n: 11 }]);
      const c = await server.query(`select has_database_privilege('public', $1, 'CONNECT') as ok`, [db('withdata')]);
      expect(c).toEqual([{ ok: false }]);
    }
  });
});

describe('updating an installed monitor', () => {
  it('create monitor (re-run) and the monitor service update an older extension, saying so once', async () => {
    for (const from of VERSIONS.slice(0, -1)) {
      await freshDb('service');
      await server.query(`create extension pgaf version '${from}' cascade`, [], 'service');
      const target = { host: '127.0.0.1', port: server.port, user: server.superuser, database: 'service', sslmode: 'disable' };
      silent.lines = [];
      const v = await withClient(target, { kind: 'postgres' }, (q) => updateExtensionIfOlder(q, silent));
      expect(v).toBe(LATEST);
      expect(silent.lines).toEqual([`Updated extension pgaf from version ${from} to ${LATEST}`]);
      // Already current: nothing to do, nothing said; ensureExtension neither creates nor updates.
      silent.lines = [];
      expect(await withClient(target, { kind: 'postgres' }, (q) => updateExtensionIfOlder(q, silent))).toBe(LATEST);
      await withClient(target, { kind: 'postgres' }, (q) => ensureExtension(q, silent));
      expect(silent.lines).toEqual([]);
    }
  });

  it('compares versions numerically', () => {
    expect(compareExtensionVersions('1.0', '1.1')).toBe(-1);
    expect(compareExtensionVersions('1.1', '1.1')).toBe(0);
    expect(compareExtensionVersions('1.1', '1.2')).toBe(-1);
    expect(compareExtensionVersions('1.10', '1.9')).toBe(1);
    expect(compareExtensionVersions('2', '1.9')).toBe(1);
  });
});
