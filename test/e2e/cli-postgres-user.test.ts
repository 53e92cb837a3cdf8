// No root needed, with the defaults, from the CLI: `pgaf create monitor`, then `pgaf create
// postgres --run` for a primary and a standby, every command run as the `postgres` OS user
// (setpriv, a login's environment only: HOME, USER, LOGNAME, PATH, XDG_RUNTIME_DIR), no --auth
// and no SSL option, autoctl_node's password handed to the nodes in postgres's ~/.pgpass (0600).
// Then: every keeper and Postgres process runs as postgres, nothing under the hosts' folders
// belongs to root, no pg_hba.conf has a trust record, and pg_stat_ssl on every server shows
// every TCP session (keepers → monitor, replication) encrypted. Afterwards each keeper gets
// SIGTERM by its pid and any Postgres left SIGQUIT by its pid; the folders are removed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupUser, type OsUser } from '../../lib/pgbin.js';
import { freePort } from '../support/postgres.js';
import { packagePathFor } from '../support/readable-package.js';
import { waitFor } from '../support/until.js';
import { queryMonitor, queryOnce, waitNodeStates } from '../support/query-once.js';

const HOSTS = ['monitor', 'node1', 'node2'] as const;
type Host = (typeof HOSTS)[number];

let root = '';
let CLI = '';
let pgUser: OsUser;
const ports: Record<Host, number> = { monitor: 0, node1: 0, node2: 0 };
const services = new Map<Host, ChildProcess>();
let monitorPassword = '';

const hostDir = (h: Host) => join(root, h);
const homeOf = (h: Host) => join(hostDir(h), 'home');
const pgdataOf = (h: Host) => join(hostDir(h), 'pgdata');

function hostEnv(h: Host): Record<string, string> {
  return {
    PATH: `${dirname(process.execPath)}:/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin`,
    HOME: homeOf(h),
    USER: 'postgres',
    LOGNAME: 'postgres',
    XDG_RUNTIME_DIR: join(hostDir(h), 'run'),
    PGHOST: hostDir(h),
  };
}

/** setpriv … env -i <env> node <cli> <args>: the CLI as postgres (exec all the way: the pid is pgaf's). */
function asPostgres(h: Host, args: string[]): string[] {
  const vars = Object.entries(hostEnv(h)).map(([k, v]) => `${k}=${v}`);
  return [`--reuid=${pgUser.uid}`, `--regid=${pgUser.gid}`, '--init-groups', 'env', '-i', ...vars, process.execPath, CLI, ...args];
}

function cli(h: Host, args: string[]): { code: number; out: string } {
  const r = spawnSync('setpriv', asPostgres(h, args), { cwd: '/', encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function startService(h: Host, args: string[]): void {
  const log = join(hostDir(h), 'pgaf.log');
  const p = spawn('setpriv', asPostgres(h, args), { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout!.on('data', (d) => writeFileSync(log, d, { flag: 'a' }));
  p.stderr!.on('data', (d) => writeFileSync(log, d, { flag: 'a' }));
  services.set(h, p);
}

function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!;
  return Number(line.split(/\s+/)[1]);
}

function postmasterPid(h: Host): number | undefined {
  try {
    const pid = Number(readFileSync(join(pgdataOf(h), 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function notOwnedBy(dir: string, uid: number): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const s = lstatSync(p);
    if (s.uid !== uid) out.push(`${p} (uid ${s.uid})`);
    if (e.isDirectory()) out.push(...notOwnedBy(p, uid));
  }
  return out;
}

/** As the superuser over the Unix socket: peer, root mapped to postgres by the pgaf map. */
async function localQuery<R extends Record<string, unknown>>(h: Host, sql: string): Promise<R[]> {
  return queryOnce<R>({ host: hostDir(h), port: ports[h], user: 'postgres', database: 'postgres' }, sql);
}

/** A query on the monitor as autoctl_node over TCP: scram with the generated password, TLS. */
function monitorQuery<R extends Record<string, unknown>>(sql: string): Promise<R[]> {
  return queryMonitor<R>(ports.monitor, monitorPassword, sql);
}

function waitStates(want: Record<string, string>, timeoutMs: number): Promise<void> {
  return waitNodeStates(ports.monitor, monitorPassword, want, timeoutMs);
}

beforeAll(async () => {
  pgUser = lookupUser('postgres');
  root = mkdtempSync('/tmp/pgaf-cli-user-');
  chmodSync(root, 0o755);
  for (const h of HOSTS) {
    ports[h] = await freePort();
    for (const d of ['', 'home', 'run']) {
      mkdirSync(join(hostDir(h), d), { recursive: true });
      chownSync(join(hostDir(h), d), pgUser.uid, pgUser.gid);
    }
    chmodSync(homeOf(h), 0o700);
    chmodSync(join(hostDir(h), 'run'), 0o700);
  }
  CLI = packagePathFor(pgUser, root, ['dist', 'node_modules', 'package.json'], 'dist/cli/main.js');
}, 120_000);

afterAll(async () => {
  if (!root) return;
  const exits = [...services.values()].filter((p) => p.exitCode === null && p.signalCode === null).map((p) => new Promise((r) => p.once('exit', r)));
  for (const p of services.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 60_000))]);
  for (const p of services.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const h of HOSTS) {
    const pid = postmasterPid(h);
    if (pid) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // gone
      }
    }
  }
  await new Promise((r) => setTimeout(r, 1000));
  rmSync(root, { recursive: true, force: true });
}, 120_000);

describe('a cluster created by the CLI as the postgres user (no root), with the defaults', () => {
  it('create monitor, then create postgres --run for a primary and a standby, all as postgres', async () => {
    const m = cli('monitor', ['create', 'monitor', '--pgdata', pgdataOf('monitor'), '--pgport', String(ports.monitor), '--hostname', '127.0.0.1']);
    expect(m.code, m.out).toBe(0);
    const file = join(homeOf('monitor'), '.config', 'pg_autoctl', pgdataOf('monitor'), 'autoctl_node.password');
    expect(lstatSync(file).mode & 0o777).toBe(0o600);
    expect(lstatSync(file).uid).toBe(pgUser.uid);
    monitorPassword = readFileSync(file, 'utf8').trim();
    expect(m.out).not.toContain(monitorPassword);
    startService('monitor', ['run', '--pgdata', pgdataOf('monitor')]);
    await waitFor('the monitor to accept connections', 60_000, async () => (await monitorQuery('SELECT 1 AS one')).length === 1);
    const uri = `postgres://autoctl_node@127.0.0.1:${ports.monitor}/pg_auto_failover`;
    for (const n of ['node1', 'node2'] as const) {
      // the operator hands the password over in postgres's ~/.pgpass
      const pgpass = join(homeOf(n), '.pgpass');
      writeFileSync(pgpass, `*:*:pg_auto_failover:autoctl_node:${monitorPassword}\n`, { mode: 0o600 });
      chownSync(pgpass, pgUser.uid, pgUser.gid);
      startService(n, ['create', 'postgres', '--pgdata', pgdataOf(n), '--pgport', String(ports[n]), '--hostname', '127.0.0.1', '--name', n, '--monitor', uri, '--run']);
      await waitStates(n === 'node1' ? { node1: 'single/single' } : { node1: 'primary/primary', node2: 'secondary/secondary' }, 180_000);
    }
  }, 600_000);

  it('every keeper and Postgres process runs as postgres; nothing under the hosts belongs to root', () => {
    for (const h of HOSTS) {
      const keeper = services.get(h)!;
      expect(keeper.exitCode, `${h}'s pgaf`).toBeNull();
      expect(uidOf(keeper.pid!), `${h}'s pgaf`).toBe(pgUser.uid);
      expect(uidOf(postmasterPid(h)!), `${h}'s postmaster`).toBe(pgUser.uid);
      expect(notOwnedBy(hostDir(h), pgUser.uid).filter((p) => !p.endsWith('/pgaf.log (uid 0)')), h).toEqual([]);
      const cfg = join(homeOf(h), '.config', 'pg_autoctl', pgdataOf(h), 'pg_autoctl.cfg');
      expect(lstatSync(cfg).mode & 0o777).toBe(0o600);
      expect(lstatSync(join(hostDir(h), 'run', 'pg_autoctl', pgdataOf(h))).mode & 0o777).toBe(0o700);
    }
  });

  it('no trust record in any pg_hba.conf, and every TCP session on every server encrypted', async () => {
    for (const h of HOSTS) {
      const records = readFileSync(join(pgdataOf(h), 'pg_hba.conf'), 'utf8')
        .split('\n')
        .map((l) => l.replace(/#.*/, '').trim().split(/\s+/).join(' '))
        .filter(Boolean);
      expect(records.filter((r) => /(^| )trust( |$)/.test(r)), `${h}'s pg_hba.conf`).toEqual([]);
    }
    const sessions = async (h: Host) =>
      localQuery<{ application_name: string; backend_type: string; ssl: boolean }>(
        h,
        'SELECT a.application_name, a.backend_type, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.client_addr IS NOT NULL',
      );
    const monitor = await waitFor('both keepers on the monitor', 60_000, async () => {
      const rows = await sessions('monitor');
      return new Set(rows.filter((r) => r.application_name.startsWith('pgaf_keeper_')).map((r) => r.application_name)).size === 2 ? rows : undefined;
    });
    expect(monitor.filter((r) => !r.ssl)).toEqual([]);
    const primary = await sessions('node1');
    expect(primary.filter((r) => r.backend_type === 'walsender').map((r) => [r.application_name, r.ssl])).toEqual([['pgautofailover_standby_2', true]]);
    expect(primary.filter((r) => !r.ssl)).toEqual([]);
    expect((await sessions('node2')).filter((r) => !r.ssl)).toEqual([]);
  }, 120_000);
});
