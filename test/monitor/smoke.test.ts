// Smoke test: the extension installs (CREATE EXTENSION pgaf CASCADE) and creates its schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestServer } from '../support/postgres.js';

describe('pgaf extension smoke test', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('CREATE EXTENSION pgaf CASCADE creates schema pgautofailover with its tables', async () => {
    await server.query('create database pg_auto_failover');
    await server.query('create extension pgaf cascade', [], 'pg_auto_failover');
    const ext = await server.query(`select extname from pg_extension order by extname`, [], 'pg_auto_failover');
    expect(ext.map((r) => r.extname)).toEqual(expect.arrayContaining(['btree_gist', 'pgaf']));
    const tables = await server.query(
      `select table_name from information_schema.tables where table_schema = 'pgautofailover' order by 1`,
      [],
      'pg_auto_failover',
    );
    expect(tables.map((r) => r.table_name)).toEqual(expect.arrayContaining(['event', 'formation', 'node']));
    const f = await server.query(`select * from pgautofailover.formation`, [], 'pg_auto_failover');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ formationid: 'default', kind: 'pgsql', dbname: 'postgres', number_sync_standbys: 0 });
  });
});
