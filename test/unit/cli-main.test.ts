import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, scriptNameFrom } from '../../cli/tree.js';
import { parsePostgresVersion, versionLines } from '../../cli/version.js';
import { jsonbOrdered, typedIni } from '../../cli/output.js';
import { postgresStatus } from '../../cli/stop.js';
import { parseControlData } from '../../lib/controldata.js';
import { setLogSink } from '../../lib/log.js';

const lines: string[] = [];
const prevSink = setLogSink((l) => lines.push(l));
const dir = mkdtempSync(join(tmpdir(), 'pgaf-unit-'));
afterAll(() => {
  setLogSink(prevSink);
  rmSync(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => main(['node', '/usr/bin/pgaf', ...args]);

describe('cli main', () => {
  it('prints the name it was run as', () => {
    expect(scriptNameFrom('/usr/local/bin/pg_autoctl')).toBe('pg_autoctl');
    expect(scriptNameFrom('/usr/local/bin/pgaf')).toBe('pgaf');
    expect(scriptNameFrom('/x/dist/cli/main.js')).toBe('pgaf');
  });

  it('exits 1 on an unknown option, naming it', async () => {
    lines.length = 0;
    expect(await run('show', 'state', '--bogus')).toBe(1);
    expect(lines.join('\n')).toMatch(/Unknown argument: bogus/);
  });

  it('exits 1 without a command', async () => {
    expect(await run()).toBe(1);
    expect(await run('show')).toBe(1);
  });

  it('exits 1 on a bad port and creates nothing', async () => {
    lines.length = 0;
    const pgdata = join(dir, 'monitor');
    expect(await run('create', 'monitor', '--pgdata', pgdata, '--pgport', '0')).toBe(1);
    expect(lines.join('\n')).toMatch(/--pgport must be an integer between 1 and 65535, got "0"/);
    expect(existsSync(pgdata)).toBe(false);
  });

  it('exits 1 on a bad --auth', async () => {
    expect(await run('create', 'monitor', '--pgdata', join(dir, 'm'), '--auth', 'password')).toBe(1);
  });

  it('parses the PostgreSQL version', () => {
    expect(parsePostgresVersion('postgres (PostgreSQL) 15.10 (Debian 15.10-1.pgdg120+1)')).toEqual({
      pg_major: '15',
      pg_version: '15.10 (Debian 15.10-1.pgdg120+1)',
      pg_version_str: 'PostgreSQL 15.10 (Debian 15.10-1.pgdg120+1)',
      pg_version_num: 150010,
    });
    expect(parsePostgresVersion('postgres (PostgreSQL) 17devel').pg_major).toBe('17');
  });
});

describe('output as the original prints it', () => {
  it('version: four lines named after the program', () => {
    const v = { pg_autoctl: '0.1.0', pgautofailover: '1.0', ...parsePostgresVersion('postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)') };
    expect(versionLines('pg_autoctl', v)).toEqual([
      'pg_autoctl version 0.1.0',
      'pg_autoctl extension version 1.0',
      'compiled with PostgreSQL 15.18 (Debian 15.18-0+deb12u1)',
      'compatible with Postgres 15',
    ]);
    expect(versionLines('pgaf', { ...v, pg_version_str: null })[2]).toMatch(/not found/);
  });

  it('--json values: integers as numbers, the rest as text', () => {
    expect(typedIni({ postgresql: { port: '5432', host: '/tmp', maximum_backup_rate: '100M' }, ssl: { active: '0' } })).toEqual({
      postgresql: { port: 5432, host: '/tmp', maximum_backup_rate: '100M' },
      ssl: { active: 0 },
    });
  });

  it('jsonb key order: shorter keys first, then bytewise', () => {
    expect(Object.keys(jsonbOrdered({ nodename: 1, health: 2, node_id: 3, group_id: 4 }) as object)).toEqual(['health', 'node_id', 'group_id', 'nodename']);
    expect(jsonbOrdered([{ bb: 1, a: { dd: 1, c: 2 } }])).toEqual([{ a: { c: 2, dd: 1 }, bb: 1 }]);
  });

  it('status --json: the original postgres keys from pg_controldata', () => {
    const control = parseControlData('pg_control version number:            1300\nCatalog version number:               202209061\nDatabase system identifier:           7312345678901234567\nDatabase cluster state:               in archive recovery\n');
    const st = postgresStatus({ pgdata: '/d', pgCtl: '/bin/pg_ctl', host: '/tmp', port: 5432 }, true, 42, control, '15.18');
    expect(st).toEqual({
      pgdata: '/d', pg_ctl: '/bin/pg_ctl', version: '15.18', host: '/tmp', port: 5432, proxyport: 0, pid: 42, in_recovery: true,
      control: { version: 1300, catalog_version: 202209061, system_identifier: '7312345678901234567' },
      postmaster: { status: 'ready' }, is_running: true,
    });
    expect(postgresStatus({ pgdata: '/d', pgCtl: 'x', host: '/tmp', port: 1 }, false, null, undefined, null).control).toEqual({ version: 0, catalog_version: 0, system_identifier: '0' });
  });
});
