// No root needed: the PM2 module installed and run by the `postgres` user. Two "hosts"
// (monitor, node1), each a private PM2 daemon started as postgres (`runuser -u postgres --`)
// with a PM2_HOME, HOME and npm cache that postgres owns; the module installed offline from
// the packed tarball; the monitor and a data node brought up from their cluster files. Then:
// every PM2, keeper and Postgres process runs as postgres, nothing under the hosts' folders
// belongs to root, pg_autoctl.cfg is 0600 and the run directory 0700. Afterwards each daemon
// is killed with `pm2 kill` on its own PM2_HOME, as postgres, and Postgres by its pid.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupUser, type OsUser } from '../../lib/pgbin.js';
import { freePort } from '../support/postgres.js';
import { packagePathFor } from '../support/readable-package.js';
import { waitFor } from '../support/until.js';

const REPO = join(import.meta.dirname, '..', '..');
const HOSTS = ['monitor', 'node1'] as const;
type Host = (typeof HOSTS)[number];

let root = '';
let tarball = '';
/** pm2 as postgres can run it (the checkout's, or a copy when the checkout is closed to postgres) */
let PM2_BIN = '';
let pgUser: OsUser;
const ports: Record<Host, number> = { monitor: 0, node1: 0 };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000, cwd = root): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env, cwd, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function hostDir(h: Host): string {
  return join(root, h);
}

/** The whole environment of a postgres-user command: nothing inherited from root's. */
function hostEnv(h: Host): Record<string, string> {
  const d = hostDir(h);
  return {
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: join(d, 'home'),
    USER: 'postgres',
    LOGNAME: 'postgres',
    PM2_HOME: join(d, 'pm2'),
    XDG_CONFIG_HOME: join(d, 'config'),
    XDG_DATA_HOME: join(d, 'share'),
    XDG_RUNTIME_DIR: join(d, 'run'),
    TMPDIR: join(d, 'tmp'),
    npm_config_cache: join(d, 'npm-cache'),
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
  };
}

/** pm2 as the postgres user: runuser -u postgres -- env -i <host env> pm2 <args>. */
function pm2(h: Host, args: string[], timeoutMs = 120_000): Promise<Run> {
  const env = Object.entries(hostEnv(h)).map(([k, v]) => `${k}=${v}`);
  return run('runuser', ['-u', 'postgres', '--', 'env', '-i', ...env, PM2_BIN, ...args], { PATH: process.env.PATH }, timeoutMs, hostDir(h));
}

interface Pm2Proc {
  name: string;
  pid: number;
  pm2_env: { status: string; pmx_module?: boolean };
}

async function jlist(h: Host): Promise<Pm2Proc[]> {
  const r = await pm2(h, ['jlist']);
  const i = r.stdout.indexOf('[');
  return JSON.parse(r.stdout.slice(i)) as Pm2Proc[];
}


async function monitorQuery<R extends Record<string, unknown>>(sql: string): Promise<R[]> {
  const c = new pg.Client({ host: '127.0.0.1', port: ports.monitor, user: 'autoctl_node', database: 'pg_auto_failover', connectionTimeoutMillis: 3000, ssl: { rejectUnauthorized: false } });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(sql)).rows as R[];
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The real uid of a process, from /proc. */
function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!;
  return Number(line.split(/\s+/)[1]);
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
      ...node,
      `  pgdata: ${join(hostDir(h), 'data', 'pgdata')}`,
      `  port: ${ports[h]}`,
      '  hostname: 127.0.0.1',
      `  socket_dir: ${join(hostDir(h), 'data')}`,
      // the test is about the OS user, not authentication: it asks for trust explicitly
      '  auth: trust',
      '  ssl: self-signed',
      '',
    ].join('\n'),
  );
  chownSync(file, pgUser.uid, pgUser.gid);
  return file;
}

/** Every path under `dir` whose owner is not `uid`. */
function notOwnedBy(dir: string, uid: number): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const s = lstatSync(p);
      if (s.uid !== uid) out.push(`${p} (uid ${s.uid})`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
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
  pgUser = lookupUser('postgres');
  root = mkdtempSync('/tmp/pgaf-pm2-user-');
  chmodSync(root, 0o755);
  for (const h of HOSTS) {
    ports[h] = await freePort();
    mkdirSync(hostDir(h));
    for (const d of ['pm2', 'home', 'config', 'share', 'run', 'tmp', 'npm-cache', 'data']) mkdirSync(join(hostDir(h), d));
    for (const d of ['', 'pm2', 'home', 'config', 'share', 'run', 'tmp', 'npm-cache', 'data']) chownSync(join(hostDir(h), d), pgUser.uid, pgUser.gid);
    chmodSync(join(hostDir(h), 'run'), 0o700);
  }
  // the tarball users get (prepack builds dist/), readable by postgres
  const pack = await run('npm', ['pack', '--pack-destination', root], process.env, 300_000, REPO);
  expect(pack.code, pack.stderr).toBe(0);
  tarball = join(root, readdirSync(root).find((f) => f.endsWith('.tgz'))!);
  chmodSync(tarball, 0o644);
  PM2_BIN = packagePathFor(pgUser, root, ['node_modules'], 'node_modules/.bin/pm2');
}, 400_000);

afterAll(async () => {
  if (!root) return;
  for (const h of HOSTS) {
    if (existsSync(join(hostDir(h), 'pm2', 'pm2.pid'))) await pm2(h, ['kill'], 120_000);
  }
  for (const h of HOSTS) tryKill(postmasterPid(h), 'SIGQUIT');
  await new Promise((r) => setTimeout(r, 1000));
  rmSync(root, { recursive: true, force: true });
}, 300_000);

describe('the PM2 module run by the postgres user (no root)', () => {
  it('pm2 install of the packed tarball works as postgres, in a PM2 daemon that runs as postgres', async () => {
    const res = await Promise.all(HOSTS.map((h) => pm2(h, ['install', tarball], 300_000)));
    for (const r of res) expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of HOSTS) {
      const daemon = Number(readFileSync(join(hostDir(h), 'pm2', 'pm2.pid'), 'utf8'));
      expect(uidOf(daemon), `${h}'s PM2 daemon`).toBe(pgUser.uid);
      const m = (await jlist(h)).find((p) => p.name === 'pm2-pgaf');
      expect(m?.pm2_env.pmx_module).toBe(true);
      expect(m?.pm2_env.status).toBe('online');
      expect(uidOf(m!.pid), `${h}'s module`).toBe(pgUser.uid);
    }
  }, 630_000);

  it('brings a monitor and a data node up, every process as postgres', async () => {
    let r = await pm2('monitor', ['set', 'pm2-pgaf:config', writeConfig('monitor')]);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the monitor to accept connections', 120_000, async () => (await monitorQuery('SELECT 1 AS one')).length === 1);
    r = await pm2('node1', ['set', 'pm2-pgaf:config', writeConfig('node1')]);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('node1 to run as single', 120_000, async () => {
      const rows = await monitorQuery<{ s: string }>(`SELECT reportedstate::text || '/' || goalstate::text AS s FROM pgautofailover.node WHERE nodename = 'node1'`);
      return rows[0]?.s === 'single/single';
    });
    for (const h of HOSTS) {
      for (const p of await jlist(h)) {
        expect(p.pm2_env.status, `${h} ${p.name}`).toBe('online');
        expect(uidOf(p.pid), `${h} ${p.name}`).toBe(pgUser.uid);
      }
      const postmaster = postmasterPid(h);
      expect(postmaster, `${h}'s postmaster.pid`).toBeDefined();
      expect(uidOf(postmaster!), `${h}'s postmaster`).toBe(pgUser.uid);
    }
  }, 830_000);

  it('leaves nothing owned by root, the config file 0600 and the run directory 0700', () => {
    for (const h of HOSTS) {
      expect(notOwnedBy(hostDir(h), pgUser.uid), h).toEqual([]);
      const pgdata = join(hostDir(h), 'data', 'pgdata');
      const cfg = join(hostDir(h), 'config', 'pg_autoctl', pgdata, 'pg_autoctl.cfg');
      expect(lstatSync(cfg).mode & 0o777, cfg).toBe(0o600);
      expect(lstatSync(dirname(cfg)).mode & 0o777).toBe(0o700);
      const runDir = join(hostDir(h), 'run', 'pg_autoctl', pgdata);
      expect(lstatSync(runDir).mode & 0o777, runDir).toBe(0o700);
    }
  });
});
