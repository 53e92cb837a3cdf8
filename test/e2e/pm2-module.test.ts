// The PM2 module end to end, with real PM2 daemons: one private PM2_HOME per "host" (monitor,
// node1, node2), each with the module installed offline from the packed tarball and pointed at
// its cluster file. Then: the cluster comes up under PM2, logs and metrics show in PM2,
// `pgaf apply` (check, apply, apply again), a module restart leaves Postgres running,
// `pm2 trigger` switchover, and kill -9 of the primary host's PM2 daemon, keeper and
// Postgres fails over without losing an acknowledged write. Every daemon is killed afterwards
// with `pm2 kill` on its own PM2_HOME.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupUser } from '../../lib/pgbin.js';
import { freePort } from '../support/postgres.js';
import { Writer } from '../support/writer.js';

const REPO = join(import.meta.dirname, '..', '..');
const PM2_BIN = join(REPO, 'node_modules', '.bin', 'pm2');
const PGAF = join(REPO, 'dist', 'cli', 'main.js');
const HOSTS = ['monitor', 'node1', 'node2'] as const;
type Host = (typeof HOSTS)[number];

let root = '';
let tarball = '';
const ports: Record<Host, number> = { monitor: 0, node1: 0, node2: 0 };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000, cwd = root): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env, cwd, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function hostDir(h: Host): string {
  return join(root, h);
}

function hostEnv(h: Host, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const d = hostDir(h);
  return {
    ...process.env,
    PM2_HOME: join(d, 'pm2'),
    XDG_CONFIG_HOME: join(d, 'config'),
    XDG_DATA_HOME: join(d, 'share'),
    XDG_RUNTIME_DIR: join(d, 'run'),
    // pm2 backs a module up into os.tmpdir() when it is installed again, and leaves it there
    TMPDIR: join(d, 'tmp'),
    ...extra,
  };
}

function pm2(h: Host, args: string[], extra: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<Run> {
  return run(PM2_BIN, args, hostEnv(h, extra), timeoutMs);
}

interface Pm2Proc {
  name: string;
  pid: number;
  pm2_env: { status: string; restart_time: number; pmx_module?: boolean; axm_monitor?: Record<string, { value: unknown }> };
}

async function jlist(h: Host): Promise<Pm2Proc[]> {
  const r = await pm2(h, ['jlist']);
  const i = r.stdout.indexOf('[');
  return JSON.parse(r.stdout.slice(i)) as Pm2Proc[];
}

async function proc(h: Host, name: string): Promise<Pm2Proc | undefined> {
  return (await jlist(h)).find((p) => p.name === name);
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function monitorQuery<R extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
  // the cluster runs with ssl: self-signed, so the monitor's HBA rule for autoctl_node is hostssl
  const c = new pg.Client({
    host: '127.0.0.1',
    port: ports.monitor,
    user: 'autoctl_node',
    database: 'pg_auto_failover',
    connectionTimeoutMillis: 3000,
    ssl: { rejectUnauthorized: false },
  });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as R[];
  } finally {
    await c.end().catch(() => undefined);
  }
}

type States = Record<string, string>;

/** node name → "reported/goal" */
async function states(): Promise<States> {
  const rows = await monitorQuery<{ nodename: string; reportedstate: string; goalstate: string }>(
    'SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node ORDER BY nodeid',
  );
  return Object.fromEntries(rows.map((r) => [r.nodename, `${r.reportedstate}/${r.goalstate}`]));
}

async function waitStates(want: States, timeoutMs = 90_000): Promise<void> {
  await waitFor(`states ${JSON.stringify(want)}`, timeoutMs, async () => {
    const s = await states();
    return Object.entries(want).every(([k, v]) => s[k] === v) ? s : undefined;
  });
}

function postmasterPid(h: Host): number | undefined {
  try {
    return Number(readFileSync(join(hostDir(h), 'data', 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

function writeConfig(h: Host): string {
  const file = join(hostDir(h), 'pgaf.config.yaml');
  const node =
    h === 'monitor'
      ? ['node:', '  role: monitor']
      : ['monitor:', `  uri: postgres://autoctl_node@127.0.0.1:${ports.monitor}/pg_auto_failover`, 'node:', '  role: postgres', `  name: ${h}`];
  writeFileSync(
    file,
    [
      'formation:',
      '  name: default',
      ...node,
      `  pgdata: ${join(hostDir(h), 'data', 'pgdata')}`,
      `  port: ${ports[h]}`,
      '  hostname: 127.0.0.1',
      `  socket_dir: ${join(hostDir(h), 'data')}`,
      '  auth: trust',
      '  ssl: self-signed',
      '',
    ].join('\n'),
  );
  return file;
}

function tryKill(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

beforeAll(async () => {
  root = mkdtempSync('/tmp/pgaf-pm2-');
  chmodSync(root, 0o755);
  const pgUser = lookupUser('postgres');
  for (const h of HOSTS) {
    ports[h] = await freePort();
    for (const d of ['pm2', 'config', 'share', 'run', 'tmp']) mkdirSync(join(hostDir(h), d), { recursive: true });
    mkdirSync(join(hostDir(h), 'data'));
    chownSync(join(hostDir(h), 'data'), pgUser.uid, pgUser.gid);
  }
  // the tarball users get: prepack builds dist/, bundleDependencies carries node_modules
  const pack = await run('npm', ['pack', '--pack-destination', root], process.env, 300_000, REPO);
  expect(pack.code, pack.stderr).toBe(0);
  tarball = join(root, readdirSync(root).find((f) => f.endsWith('.tgz'))!);
}, 400_000);

afterAll(async () => {
  if (!root) return;
  for (const h of HOSTS) {
    if (existsSync(join(hostDir(h), 'pm2'))) await pm2(h, ['kill'], {}, 120_000);
  }
  // anything PM2 did not stop (a host we killed and never revived): ours, by pid
  for (const h of HOSTS) tryKill(postmasterPid(h), 'SIGQUIT');
  await new Promise((r) => setTimeout(r, 1000));
  rmSync(root, { recursive: true, force: true });
}, 430_000);

describe('pgaf as a PM2 module', () => {
  it('installs from the packed tarball with no network', async () => {
    const res = await Promise.all(HOSTS.map((h) => pm2(h, ['install', tarball], { npm_config_offline: 'true' }, 300_000)));
    for (const r of res) expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of HOSTS) {
      const m = await proc(h, 'pm2-pgaf');
      expect(m?.pm2_env.pmx_module).toBe(true);
      expect(m?.pm2_env.status).toBe('online');
    }
  }, 760_000);

  it('brings a monitor and two nodes up from their cluster files', async () => {
    // a bad file first: the module says what is wrong, where, and waits
    const bad = join(hostDir('monitor'), 'bad.yaml');
    writeFileSync(bad, 'node:\n  role: monitor\n  pgdata: /nowhere\n  port: fifty\n');
    await pm2('monitor', ['set', 'pm2-pgaf:config', bad]);
    await waitFor('the configuration error in pm2 logs', 30_000, async () => {
      const logs = await pm2('monitor', ['logs', 'pm2-pgaf', '--nostream', '--lines', '20']);
      return logs.stdout.includes(`Invalid configuration: ${bad}: node.port: expected a number, found "fifty"`);
    });
    expect((await proc('monitor', 'pm2-pgaf'))?.pm2_env.status).toBe('online');
    await pm2('monitor', ['set', 'pm2-pgaf:config', writeConfig('monitor')]);
    await waitFor('the monitor to accept connections', 90_000, async () => (await monitorQuery('SELECT 1 AS one')).length === 1);
    await pm2('node1', ['set', 'pm2-pgaf:config', writeConfig('node1')]);
    await waitFor('node1 to run alone', 90_000, async () => ['single/single', 'wait_primary/wait_primary', 'primary/primary'].includes((await states()).node1 ?? ''));
    await pm2('node2', ['set', 'pm2-pgaf:config', writeConfig('node2')]);
    await waitStates({ node1: 'primary/primary', node2: 'secondary/secondary' }, 120_000);
    // ssl: self-signed from the cluster files: the keepers reach the monitor over SSL
    const keepers = await monitorQuery<{ n: string; all_ssl: boolean }>(
      `SELECT count(*) AS n, bool_and(s.ssl) AS all_ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
        WHERE a.usename = 'autoctl_node' AND a.pid <> pg_backend_pid()`,
    );
    expect(Number(keepers[0]!.n)).toBeGreaterThanOrEqual(2);
    expect(keepers[0]!.all_ssl).toBe(true);
    for (const h of HOSTS) {
      const app = await proc(h, `pgaf-postgres-${h}`);
      expect(app?.pm2_env.status, `${h}'s Postgres app`).toBe('online');
      expect(app?.pid).toBe(postmasterPid(h));
    }
  }, 1_590_000);

  it('shows keeper sentences, Postgres logs and metrics through PM2', async () => {
    const logs = await pm2('node2', ['logs', '--nostream', '--lines', '200']);
    expect(logs.stdout).toMatch(/Transition from catchingup to secondary/);
    expect(logs.stdout).toMatch(/pgaf-pos.*database system is ready to accept read-only connections|pgaf-pos.*started streaming WAL/);
    const m = await waitFor('metrics', 30_000, async () => {
      const p = await proc('node2', 'pm2-pgaf');
      return p?.pm2_env.axm_monitor?.['node state']?.value === 'secondary' ? p.pm2_env.axm_monitor : undefined;
    });
    expect(m['goal state']?.value).toBe('secondary');
    expect(m['replication lag (bytes)']).toBeDefined();
    expect(String(m['last monitor contact']?.value)).toMatch(/^\d{4}-/);
    const st = await pm2('node1', ['trigger', 'pm2-pgaf', 'status']);
    const json = JSON.parse(st.stdout.slice(st.stdout.indexOf('={') + 1).trim().split('\n')[0]!);
    expect(json).toMatchObject({ node: 'node1', state: 'primary', goal: 'primary', postgres: { app: 'pgaf-postgres-node1', running: true } });
  }, 460_000);

  it('pgaf apply: check, apply, and a second apply reports no change', async () => {
    const file = join(root, 'cluster.yaml');
    writeFileSync(
      file,
      [
        'formation:',
        '  name: default',
        '  number_sync_standbys: 0',
        '  nodes:',
        '    node1: { candidate_priority: 70 }',
        '    node2: { candidate_priority: 60, replication_quorum: true }',
        'monitor:',
        `  uri: postgres://autoctl_node@127.0.0.1:${ports.monitor}/pg_auto_failover`,
        '',
      ].join('\n'),
    );
    const check = await run('node', [PGAF, 'apply', '-f', file, '--check', '--json'], process.env);
    expect(check.code, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ changed: true, check: true });
    const first = await run('node', [PGAF, 'apply', '-f', file, '--json'], process.env);
    expect(first.code, first.stderr).toBe(0);
    const r1 = JSON.parse(first.stdout);
    expect(r1.changed).toBe(true);
    expect(r1.changes.map((c: { description: string }) => c.description)).toEqual(['node "node1" candidate_priority: 50 -> 70', 'node "node2" candidate_priority: 50 -> 60']);
    const second = await run('node', [PGAF, 'apply', '-f', file, '--json'], process.env);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ changed: false, check: false, formation: 'default', changes: [] });

    writeFileSync(join(root, 'bad.yaml'), 'formation:\n  number_sync_standbys: many\n');
    const bad = await run('node', [PGAF, 'apply', '-f', join(root, 'bad.yaml')], process.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${join(root, 'bad.yaml')}: formation.number_sync_standbys: expected a number, found "many"`);
    writeFileSync(join(root, 'unknown.yaml'), `formation:\n  nodes:\n    node9: { candidate_priority: 1 }\nmonitor:\n  uri: postgres://autoctl_node@127.0.0.1:${ports.monitor}/pg_auto_failover\n`);
    const unknown = await run('node', [PGAF, 'apply', '-f', join(root, 'unknown.yaml')], process.env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no node named "node9"/);
  }, 690_000);

  it('restarting the module leaves Postgres running', async () => {
    const before = postmasterPid('node1');
    const r = await pm2('node1', ['restart', 'pm2-pgaf']);
    expect(r.code, r.stderr).toBe(0);
    await new Promise((res) => setTimeout(res, 3000));
    expect(postmasterPid('node1')).toBe(before);
    expect((await proc('node1', 'pgaf-postgres-node1'))?.pid).toBe(before);
    await waitStates({ node1: 'primary/primary', node2: 'secondary/secondary' }, 30_000);
  }, 340_000);

  it('pm2 trigger switchover makes node2 the primary; PM2 does not restart what the keeper stops', async () => {
    const r = await pm2('node1', ['trigger', 'pm2-pgaf', 'switchover']);
    expect(r.stdout).toMatch(/"ok":true/);
    await waitStates({ node1: 'secondary/secondary', node2: 'primary/primary' }, 90_000);
    const app1 = await proc('node1', 'pgaf-postgres-node1');
    expect(app1?.pm2_env.status).toBe('online');
    expect(app1?.pid).toBe(postmasterPid('node1'));
  }, 400_000);

  it('maintenance on the primary through pm2 trigger: PM2 never brings back the Postgres the keeper stopped', async () => {
    const refused = await pm2('node2', ['trigger', 'pm2-pgaf', 'maintenance-on']);
    expect(refused.stdout).toMatch(/"ok":false.*allow-failover/);
    const r = await pm2('node2', ['trigger', 'pm2-pgaf', 'maintenance-on', 'allow-failover']);
    expect(r.stdout).toMatch(/"ok":true/);
    // node2 is the only standby: node1 takes writes without synchronous replication meanwhile
    await waitStates({ node1: 'wait_primary/wait_primary', node2: 'maintenance/maintenance' }, 90_000);
    await waitFor('node2 Postgres to be stopped', 30_000, async () => (await proc('node2', 'pgaf-postgres-node2'))?.pm2_env.status === 'stopped');
    await new Promise((res) => setTimeout(res, 5000));
    expect((await proc('node2', 'pgaf-postgres-node2'))?.pm2_env.status).toBe('stopped');
    expect(existsSync(join(hostDir('node2'), 'data', 'pgdata', 'postmaster.pid'))).toBe(false);
    const off = await pm2('node2', ['trigger', 'pm2-pgaf', 'maintenance-off']);
    expect(off.stdout).toMatch(/"ok":true/);
    await waitStates({ node1: 'primary/primary', node2: 'secondary/secondary' }, 90_000);
    expect((await proc('node2', 'pgaf-postgres-node2'))?.pm2_env.status).toBe('online');
  }, 1_060_000);

  it('kill -9 of the primary host (PM2 daemon, keeper, Postgres) fails over with no lost write', async () => {
    const formationUri = `postgres://127.0.0.1:${ports.node1},127.0.0.1:${ports.node2}/postgres?target_session_attrs=read-write`;
    const w = Writer.fromUri(formationUri, 'postgres', 'writes', 'pm2');
    await w.createTable();
    w.start();
    await w.waitForAcks(20, 30_000, ports.node1);
    const daemon = Number(readFileSync(join(hostDir('node1'), 'pm2', 'pm2.pid'), 'utf8'));
    const keeper = (await proc('node1', 'pm2-pgaf'))?.pid;
    const postgres = postmasterPid('node1');
    tryKill(daemon, 'SIGKILL');
    tryKill(keeper, 'SIGKILL');
    tryKill(postgres, 'SIGKILL');
    let seen: States = {};
    await waitFor('node2 to be primary', 90_000, async () => ['wait_primary/wait_primary', 'primary/primary'].includes((seen = await states()).node2 ?? '')).catch(async (err) => {
      const logs = await pm2('node2', ['logs', 'pm2-pgaf', '--nostream', '--lines', '40']);
      const events = await monitorQuery('SELECT eventtime, nodename, reportedstate, goalstate, description FROM pgautofailover.event ORDER BY eventid DESC LIMIT 15');
      throw new Error(`${(err as Error).message}; states ${JSON.stringify(seen)}\nevents:\n${events.map((e) => JSON.stringify(e)).join('\n')}\nnode2 log:\n${logs.stdout}`);
    });
    await w.waitForAcks(20, 60_000, ports.node2);
    const res = await w.stop();
    expect(res.acked.length).toBeGreaterThan(40);
    expect(await w.missing()).toEqual([]);
  }, 500_000);

  it('a module upgrade (pm2 install again) and pm2 uninstall leave Postgres running', async () => {
    const before = postmasterPid('node2');
    expect(before).toBeGreaterThan(0);
    const up = await pm2('node2', ['install', tarball], { npm_config_offline: 'true' }, 300_000);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    await waitFor('the upgraded module to report', 60_000, async () => {
      const st = await pm2('node2', ['trigger', 'pm2-pgaf', 'status']);
      return /"state":"(wait_primary|primary)"/.test(st.stdout);
    });
    expect(postmasterPid('node2')).toBe(before);
    const un = await pm2('node2', ['uninstall', 'pm2-pgaf']);
    expect(un.code, un.stdout + un.stderr).toBe(0);
    expect(await proc('node2', 'pm2-pgaf')).toBeUndefined();
    await new Promise((res) => setTimeout(res, 2000));
    expect(postmasterPid('node2')).toBe(before);
    expect((await proc('node2', 'pgaf-postgres-node2'))?.pm2_env.status).toBe('online');
    expect(existsSync(join(hostDir('node2'), 'data', 'pgdata', 'PG_VERSION'))).toBe(true);
  }, 960_000);
});
