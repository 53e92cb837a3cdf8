// The pgbouncer recipe of docs/integrations.md, run: Debian's pgbouncer in front of a real
// cluster, and the documented on_primary hook script (paths replaced by the test's) that
// points it at the new primary and reloads it. A client of pgbouncer writes to the new
// primary after a switchover.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgBin, postgresRunAs } from '../../lib/pgbin.js';
import { FAST_MONITOR_SETTINGS, TestCluster } from '../support/cluster.js';
import { freePort } from '../support/postgres.js';
import { until } from '../support/until.js';

const PGBOUNCER = '/usr/sbin/pgbouncer';

/** The ```sh block of the pgbouncer section of docs/integrations.md. */
function documentedHook(): string {
  const doc = readFileSync(join(import.meta.dirname, '../../docs/integrations.md'), 'utf8');
  const m = /## pgbouncer[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error('docs/integrations.md has no pgbouncer hook script');
  return m[1]!;
}

async function writeThrough(port: number, user: string): Promise<number> {
  const c = new pg.Client({ host: '127.0.0.1', port, user, database: 'appdb', connectionTimeoutMillis: 1500, query_timeout: 3000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const r = await c.query<{ port: number }>('INSERT INTO through_pgbouncer DEFAULT VALUES RETURNING inet_server_port() AS port');
    return r.rows[0]!.port;
  } finally {
    await c.end().catch(() => undefined);
  }
}


describe('pgbouncer follows the primary through the on_primary hook', () => {
  let c: TestCluster;
  let bouncer: ChildProcess | undefined;
  let dir = '';
  let port = 0;

  beforeAll(async () => {
    c = await TestCluster.create();
    await c.startMonitor(FAST_MONITOR_SETTINGS);
    dir = join(c.base, 'pgbouncer');
    mkdirSync(dir);
    const runAs = postgresRunAs();
    if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  }, 150_000);
  afterAll(async () => {
    if (bouncer && bouncer.exitCode === null && bouncer.signalCode === null) {
      const exited = new Promise((r) => bouncer!.once('exit', r));
      bouncer.kill('SIGKILL');
      await exited;
    }
    await c?.destroy();
  });

  it('points pgbouncer at the new primary after a switchover', async () => {
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2');
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
    await c.nodeQuery('node1', 'CREATE TABLE through_pgbouncer (id bigserial PRIMARY KEY)');

    const runAs = postgresRunAs();
    const user = c.superuser;
    port = await freePort();
    const ini = join(dir, 'pgbouncer.ini');
    // this pooler is the test's own, on loopback: it asks for trust explicitly
    writeFileSync(ini, [
      '[databases]',
      `appdb = host=127.0.0.1 port=${c.member('node1').port} dbname=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `admin_users = ${user}`,
      'pool_mode = session',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'));
    writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`);
    const script = join(dir, 'pgbouncer-follow');
    writeFileSync(script, documentedHook()
      .replace('ini=/etc/pgbouncer/pgbouncer.ini', `ini=${ini}`)
      .replace('dbname=appdb', 'dbname=postgres')
      .replace('psql -h /var/run/postgresql -p 6432 -U pgbouncer', `${pgBin('psql')} -h ${dir} -p ${port} -U ${user}`));
    chmodSync(script, 0o755);
    for (const f of [ini, join(dir, 'userlist.txt'), script]) if (runAs) chownSync(f, runAs.uid, runAs.gid);
    const log = createWriteStream(join(dir, 'stdout.log'));
    bouncer = spawn(PGBOUNCER, [ini], { uid: runAs?.uid, gid: runAs?.gid, stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    bouncer.stdout!.pipe(log);
    bouncer.stderr!.pipe(log);
    expect(await until('a write through pgbouncer', () => writeThrough(port, user), (p) => p > 0, 20_000)).toBe(c.member('node1').port);

    for (const n of ['node1', 'node2']) {
      const r = await c.cli(n, ['config', 'set', 'hooks.on_primary', script], 15_000);
      expect(r.code, r.stderr).toBe(0);
    }
    const r = await c.cli('node1', ['perform', 'switchover', '--formation', 'default', '--group', '0'], 30_000);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 60_000);
    expect(await until('a write through pgbouncer to node2', () => writeThrough(port, user), (p) => p === c.member('node2').port, 20_000)).toBe(c.member('node2').port);
    expect(readFileSync(ini, 'utf8')).toContain(`appdb = host=${c.hostOf('node2')} port=${c.member('node2').port} dbname=postgres`);
    expect(c.logTail('node2', 400)).toMatch(/Hook on_primary \(\S+pgbouncer-follow\) for stop_replication -> wait_primary succeeded in \d+ ms\./);
  }, 360_000);
});
