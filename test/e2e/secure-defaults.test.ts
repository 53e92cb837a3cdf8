// The defaults, on real processes: a monitor and two nodes created with no --auth and no SSL
// option (node2 in the first README's form). Passwords (scram-sha-256, generated for
// autoctl_node, derived for the replication user), TLS with self-signed certificates on every
// pgaf connection (pg_stat_ssl on every server), no trust record in any pg_hba.conf, and the
// actual secret values nowhere: not in logs, outputs, files other than the 0600 ones that
// hold them, the environment of the Postgres servers, nor the SQL the servers saw. A wrong
// password is refused with nothing written and nothing registered. Then a cluster that asks
// for --auth trust and --no-ssl explicitly: warned at create and at every start.
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRunAs } from '../../lib/pgbin.js';
import { FAST_MONITOR_SETTINGS, TestCluster } from '../support/cluster.js';
import { freePort } from '../support/postgres.js';
import { cleanEnv, runCli } from '../support/run-cli.js';
import { waitFor } from '../support/until.js';

const NODES = ['node1', 'node2'];
const SERVERS = ['monitor', ...NODES];
const TRUST_WARNING = /Authentication is off \(--auth trust\)/g;
const NO_SSL_WARNING = /SSL is off \(--no-ssl\)/g;

/** How many times `re` occurs in a member's pgaf.log (create --run and every run append to it). */
function countInLog(c: TestCluster, name: string, re: RegExp): number {
  const f = join(c.member(name).dir, 'pgaf.log');
  return existsSync(f) ? (readFileSync(f, 'utf8').match(re) ?? []).length : 0;
}

function pgdataOf(c: TestCluster, name: string): string {
  return join(c.member(name).dir, 'pgdata');
}

/** Every file under `dir` (symlinks and sockets skipped). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function environOf(pid: number | undefined): string {
  if (!pid) return '';
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return '';
  }
}

/** The TCP sessions on a server (Unix-socket sessions are local, not links) with their SSL flag. */
function tcpSessions(c: TestCluster, name: string) {
  return c.nodeQuery<{ usename: string | null; application_name: string; backend_type: string; ssl: boolean }>(
    name,
    `SELECT a.usename, a.application_name, a.backend_type, s.ssl
       FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
      WHERE a.client_addr IS NOT NULL ORDER BY a.application_name`,
  );
}

/** The file a server logs to: its postmaster's stderr (logging_collector is off). */
function serverLogOf(c: TestCluster, name: string): string {
  return readlinkSync(`/proc/${c.postmasterPid(name)}/fd/2`);
}

/**
 * The TCP logins in a piece of a server log (log_connections = on, the default prefix
 * '%m [%p] '): each "connection received" from a host, paired by pid with its "connection
 * authorized" line. Unix-socket logins ([local]) are not links; a TCP connection that never
 * logs in (the monitor's SSLRequest health probe, a refused password) has no authorized line.
 */
function tcpLogins(text: string): Array<{ pid: string; host: string; authorized: string }> {
  const hosts = new Map<string, string>();
  const out: Array<{ pid: string; host: string; authorized: string }> = [];
  for (const line of text.split('\n')) {
    const rec = /\[(\d+)\] LOG:  connection received: host=(\S+)/.exec(line);
    if (rec) hosts.set(rec[1]!, rec[2]!);
    const auth = /\[(\d+)\] LOG:  ((?:replication )?connection authorized: .*)$/.exec(line);
    if (auth && hosts.has(auth[1]!) && hosts.get(auth[1]!) !== '[local]') out.push({ pid: auth[1]!, host: hosts.get(auth[1]!)!, authorized: auth[2]! });
  }
  return out;
}

describe('a cluster created with the defaults (no --auth, no SSL option)', () => {
  let c: TestCluster;
  let replicationPassword = '';

  beforeAll(async () => {
    c = await TestCluster.create({ secure: true, passwordInEnv: ['node1'] });
    await c.startMonitor(FAST_MONITOR_SETTINGS);
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2', ['--name', 'node2'], { firstReadme: true });
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 120_000);
  }, 320_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('generates autoctl_node\'s password into a 0600 file and prints it nowhere', async () => {
    const file = c.configFile('monitor', 'autoctl_node.password');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(c.monitorPassword).toMatch(/^[A-Za-z0-9_-]{32}$/);
    for (const n of NODES) {
      expect(statSync(c.configFile(n, 'monitor.password')).mode & 0o777).toBe(0o600);
      expect(readFileSync(c.configFile(n, 'monitor.password'), 'utf8').trim()).toBe(c.monitorPassword);
      const cfg = readFileSync(c.configFile(n, 'pg_autoctl.cfg'), 'utf8');
      expect(statSync(c.configFile(n, 'pg_autoctl.cfg')).mode & 0o777).toBe(0o600);
      expect(cfg).toMatch(/^auth_method = scram-sha-256$/m);
      expect(cfg).toMatch(/^monitor = postgres:\/\/autoctl_node@127\.0\.0\.1:\d+\/pg_auto_failover\?sslmode=require$/m);
      const pw = /^password = (.+)$/m.exec(cfg)?.[1];
      expect(pw).toBeDefined();
      replicationPassword ||= pw!;
      // both nodes derived the same replication password from the one monitor password
      expect(pw).toBe(replicationPassword);
      expect(statSync(join(pgdataOf(c, n), 'pgaf-replication.pgpass')).mode & 0o777).toBe(0o600);
    }
    // the server holds SCRAM verifiers, set without the password in any SQL text
    const roles = await c.nodeQuery<{ rolname: string; rolpassword: string }>(
      'node1',
      "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = 'pgautofailover_replicator'",
    );
    expect(roles[0]!.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    const mon = await c.monitorQuery<{ rolpassword: string }>("SELECT rolpassword FROM pg_authid WHERE rolname = 'autoctl_node'");
    expect(mon[0]!.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
  });

  it('has no trust record in any pg_hba.conf: peer for the superuser locally, scram on hostssl for pgaf users', () => {
    for (const s of SERVERS) {
      const hba = readFileSync(join(pgdataOf(c, s), 'pg_hba.conf'), 'utf8');
      const records = hba.split('\n').map((l) => l.replace(/#.*/, '').trim().split(/\s+/).join(' ')).filter(Boolean);
      expect(records.filter((r) => /(^| )trust( |$)/.test(r)), `${s}'s pg_hba.conf`).toEqual([]);
      expect(records).toContain('local all postgres peer map=pgaf');
      expect(records.indexOf('local all postgres peer map=pgaf')).toBeLessThan(records.indexOf('local all all peer'));
      expect(readFileSync(join(pgdataOf(c, s), 'pg_ident.conf'), 'utf8')).toMatch(/^pgaf root postgres$/m);
    }
    expect(readFileSync(join(pgdataOf(c, 'monitor'), 'pg_hba.conf'), 'utf8')).toMatch(/^hostssl pg_auto_failover autoctl_node 127\.0\.0\.1\/32 scram-sha-256$/m);
    // the monitor host's own OS users reach autoctl_node over the socket by peer (the original's local commands)
    expect(readFileSync(join(pgdataOf(c, 'monitor'), 'pg_hba.conf'), 'utf8')).toMatch(/^local pg_auto_failover autoctl_node peer map=pgaf$/m);
    expect(readFileSync(join(pgdataOf(c, 'node1'), 'pg_hba.conf'), 'utf8')).toMatch(/^hostssl replication pgautofailover_replicator 127\.0\.0\.1\/32 scram-sha-256$/m);
  });

  it('refuses a TCP login without the password, even from the same host', async () => {
    for (const [user, db, port] of [
      ['postgres', 'postgres', c.member('node1').port],
      ['autoctl_node', 'pg_auto_failover', c.monitor.port],
      ['pgautofailover_replicator', 'postgres', c.member('node1').port],
    ] as const) {
      const client = new pg.Client({ host: '127.0.0.1', port, user, database: db, password: 'wrong', ssl: { rejectUnauthorized: false }, connectionTimeoutMillis: 5000 });
      client.on('error', () => undefined);
      await expect(client.connect(), `${user}@${port}`).rejects.toThrow(/password authentication failed/);
      await client.end().catch(() => undefined);
    }
  });

  it('encrypts every pgaf connection: keepers to the monitor and replication, on every server', async () => {
    const monitor = await tcpSessions(c, 'monitor');
    const keepers = monitor.filter((r) => r.application_name.startsWith('pgaf_keeper_'));
    expect(new Set(keepers.map((k) => k.application_name)).size).toBe(2);
    // registered with autoctl_node's password, they then log in as their own per-node roles
    expect(keepers.every((k) => k.usename?.startsWith('pgaf_keeper_')), JSON.stringify(keepers)).toBe(true);
    expect(monitor.length).toBeGreaterThanOrEqual(2);
    expect(monitor.filter((r) => !r.ssl), JSON.stringify(monitor)).toEqual([]);
    const primary = await tcpSessions(c, 'node1');
    expect(primary.some((r) => r.backend_type === 'walsender' && r.application_name === 'pgautofailover_standby_2')).toBe(true);
    expect(primary.filter((r) => !r.ssl), JSON.stringify(primary)).toEqual([]);
    const standby = await tcpSessions(c, 'node2');
    expect(standby.filter((r) => !r.ssl), JSON.stringify(standby)).toEqual([]);
    const receiver = await c.nodeQuery<{ conninfo: string }>('node2', "SELECT conninfo FROM pg_stat_wal_receiver WHERE status = 'streaming'");
    expect(receiver[0]!.conninfo).toMatch(/sslmode=require/);
    expect(receiver[0]!.conninfo).toMatch(/passfile=/);
  });

  it('switches over: node1 streams from node2 with the same derived password, over SSL', async () => {
    const r = await c.cli('node2', ['perform', 'switchover'], 60_000);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 90_000);
    const sessions = await tcpSessions(c, 'node2');
    const ws = sessions.filter((s) => s.backend_type === 'walsender');
    expect(ws.map((s) => [s.application_name, s.ssl])).toEqual([['pgautofailover_standby_1', true]]);
  }, 160_000);

  it('logs in over TLS on every link: CLI → monitor, keeper → monitor, standby → primary (log_connections on every server)', async () => {
    for (const s of SERVERS) {
      await c.nodeQuery(s, 'ALTER SYSTEM SET log_connections = on');
      await c.nodeQuery(s, 'SELECT pg_reload_conf()');
    }
    const logs = Object.fromEntries(SERVERS.map((s) => [s, serverLogOf(c, s)]));
    // a new session sees the setting once the postmaster has it (sessions inherit its settings)
    for (const s of SERVERS) {
      await waitFor(`${s} to log connections`, 30_000, async () => (await c.nodeQuery<{ v: string }>(s, "SELECT current_setting('log_connections') AS v"))[0]!.v === 'on');
    }
    const from = Object.fromEntries(SERVERS.map((s) => [s, statSync(logs[s]!).size]));
    // the CLI on both nodes (autoctl_node, with the stored password), keeper restarts (their own
    // roles), and the replication connection made again (the standby's walreceiver reconnects)
    for (const n of NODES) {
      for (const args of [['show', 'state'], ['show', 'uri']]) {
        const r = await c.cli(n, args, 30_000);
        expect(r.code, `${n} ${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
    }
    for (const n of NODES) {
      await c.stopKeeper(n);
      c.restartKeeper(n);
    }
    await c.nodeQuery('node2', "SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'pgautofailover_standby_1'");
    const text = (s: string) => readFileSync(logs[s]!, 'utf8').slice(from[s]);
    await waitFor('both keepers back on the monitor and node1 streaming again', 90_000, async () => {
      const monitor = tcpLogins(text('monitor')).map((l) => l.authorized);
      const keepers = new Set(monitor.map((a) => /user=(pgaf_keeper_\S+)/.exec(a)?.[1]).filter(Boolean));
      return keepers.size === 2 && tcpLogins(text('node2')).some((l) => /^replication connection authorized: user=pgautofailover_replicator application_name=pgautofailover_standby_1/.test(l.authorized));
    });
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 60_000);
    const logins = SERVERS.flatMap((s) => tcpLogins(text(s)).map((l) => ({ server: s, ...l })));
    expect(logins.filter((l) => / user=autoctl_node database=pg_auto_failover /.test(` ${l.authorized}`)).length).toBeGreaterThanOrEqual(4);
    expect(logins.filter((l) => !/ SSL enabled \(protocol=TLSv1\.[23]/.test(l.authorized)), JSON.stringify(logins, null, 1)).toEqual([]);
    for (const s of SERVERS) {
      await c.nodeQuery(s, 'ALTER SYSTEM RESET log_connections');
      await c.nodeQuery(s, 'SELECT pg_reload_conf()');
    }
  }, 360_000);

  it('shows no secret in any output, log, file or Postgres environment', async () => {
    const secrets = [c.monitorPassword!, replicationPassword];
    expect(secrets.every((s) => s.length >= 20)).toBe(true);
    const outputs: string[] = [];
    for (const n of NODES) {
      for (const args of [
        ['show', 'file', '--config', '--contents'],
        ['show', 'file', '--config', '--contents', '--json'],
        ['config', 'get'],
        ['config', 'get', 'replication.password'],
        ['show', 'state'],
        ['show', 'uri'],
        ['show', 'settings'],
      ]) {
        const r = await c.cli(n, ['-v', ...args], 15_000);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
        outputs.push(r.stdout + r.stderr);
      }
    }
    const shown = outputs.join('\n');
    expect(shown).toContain('password = ****');
    // files: everything under the cluster's folders but the 0600 files whose job is to hold a secret
    const holders = new Set([
      c.configFile('monitor', 'autoctl_node.password'),
      ...NODES.flatMap((n) => [c.configFile(n, 'monitor.password'), c.configFile(n, 'pg_autoctl.cfg'), join(pgdataOf(c, n), 'pgaf-replication.pgpass')]),
      c.pgpassFile!,
    ]);
    const files = filesUnder(c.base).filter((f) => !holders.has(f) && !/\/(base|global|pg_wal|pg_xact|pg_multixact|pg_subtrans)\//.test(f));
    expect(files.some((f) => f.endsWith('pgaf.log'))).toBe(true);
    const leaks: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'latin1');
      for (const s of secrets) if (text.includes(s)) leaks.push(f);
    }
    for (const s of secrets) if (shown.includes(s)) leaks.push('command output');
    // the Postgres servers (started by keepers, one of which got PGPASSWORD) inherit no secret
    for (const n of SERVERS) {
      const env = environOf(c.postmasterPid(n));
      expect(env, `${n}'s postmaster environment`).toMatch(/PATH=/);
      for (const s of secrets) if (env.includes(s)) leaks.push(`environment of ${n}'s postmaster`);
      expect(env).not.toMatch(/PGPASSWORD/);
    }
    // node2's keeper was given the password in a file: its environment has none either
    for (const s of secrets) if (environOf(c.keeperPid('node2')).includes(s)) leaks.push("environment of node2's keeper");
    expect(environOf(c.keeperPid('node1'))).toContain(`PGPASSWORD=${c.monitorPassword}`);
    expect(leaks).toEqual([]);
    // the group and event tables and the servers' view of statements: no password
    const stmts = await c.nodeQuery<{ q: string }>('node2', "SELECT string_agg(query, ' ') AS q FROM pg_stat_activity");
    for (const s of secrets) expect(stmts[0]!.q ?? '').not.toContain(s);
  }, 240_000);

  it('warns about nothing insecure: no trust or no-SSL warning in any log', () => {
    for (const s of SERVERS) {
      expect(countInLog(c, s, TRUST_WARNING), s).toBe(0);
      expect(countInLog(c, s, NO_SSL_WARNING), s).toBe(0);
    }
  });

  it('a wrong autoctl_node password: refused naming the failure, the password not echoed, nothing written or registered', async () => {
    const runAs = postgresRunAs();
    const dir = join(c.base, 'wrong');
    mkdirSync(dir);
    if (runAs) chownSync(dir, runAs.uid, runAs.gid);
    const wrong = 'not-the-password-7f3a9c1e5b';
    const env = {
      ...cleanEnv(['PGPASSFILE', 'PGPASSWORD', 'PG_AUTOCTL_DEBUG']),
      PGPASSWORD: wrong,
      PGPASSFILE: join(dir, 'no-pgpass'),
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_DATA_HOME: join(dir, 'share'),
      XDG_RUNTIME_DIR: join(dir, 'run'),
      // the CLI's start-up cache (cli/startup-cache.ts) is not node state: kept out of the folder checked below
      XDG_CACHE_HOME: join(c.base, 'wrong-cache'),
    };
    const uri = `postgres://autoctl_node@127.0.0.1:${c.monitor.port}/pg_auto_failover?sslmode=require`;
    const nodesBefore = await c.monitorQuery<{ n: number }>('SELECT count(*)::int AS n FROM pgautofailover.node');
    const show = await runCli(['show', 'state', '--monitor', uri], env, 30_000);
    expect(show.code, show.stderr).toBe(6);
    expect(show.stderr).toMatch(/password authentication failed for user "autoctl_node"/);
    expect(show.stdout).toBe('');
    const pgdata = join(dir, 'pgdata');
    // a refused login is retried for 30 s (LOGIN_REFUSED_GRACE_MS), then it is the error
    const create = await runCli(
      ['create', 'postgres', '--pgdata', pgdata, '--pgport', String(await freePort()), '--hostname', '127.0.0.1', '--name', 'node9', '--monitor', uri],
      env,
      90_000,
    );
    expect(create.code, create.stderr).toBe(6);
    expect(create.stderr).toMatch(/password authentication failed for user "autoctl_node"/);
    for (const r of [show, create]) expect(r.stdout + r.stderr).not.toContain(wrong);
    // nothing on disk: no PGDATA, no config, no state, no run directory
    expect(readdirSync(dir)).toEqual([]);
    expect(await c.monitorQuery<{ n: number }>('SELECT count(*)::int AS n FROM pgautofailover.node')).toEqual(nodesBefore);
  }, 200_000);
});

describe('explicit --auth trust and --no-ssl: warned at create and at every start', () => {
  let c: TestCluster;

  beforeAll(async () => {
    // the test clusters' usual options: --auth trust --no-ssl, asked for explicitly
    c = await TestCluster.create();
    await c.startMonitor(FAST_MONITOR_SETTINGS);
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
  }, 200_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('create monitor warns about both', async () => {
    const r = await c.cli('monitor', ['create', 'monitor', '--pgport', String(c.monitor.port), '--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl']);
    expect(r.code, r.stderr).toBe(0);
    expect((r.stderr.match(TRUST_WARNING) ?? []).length).toBe(1);
    expect(r.stderr).toMatch(/--no-ssl: no encryption is used for network traffic/);
  }, 150_000);

  it('create postgres and its first start warn; so does each start of the keeper and of the monitor', async () => {
    // create postgres --run: once at create, once at the start
    expect(countInLog(c, 'node1', TRUST_WARNING)).toBe(2);
    expect(countInLog(c, 'node1', NO_SSL_WARNING)).toBe(1);
    expect(countInLog(c, 'monitor', TRUST_WARNING)).toBe(1);
    expect(countInLog(c, 'monitor', NO_SSL_WARNING)).toBe(1);
    for (const [name, trust, ssl] of [['node1', 2, 1], ['monitor', 1, 1]] as const) {
      for (let start = 1; start <= 2; start++) {
        await c.stopKeeper(name);
        c.restartKeeper(name);
        await waitFor(`${name}'s start #${start + 1} to warn`, 60_000, async () => countInLog(c, name, NO_SSL_WARNING) === ssl + start);
        expect(countInLog(c, name, TRUST_WARNING), name).toBe(trust + start);
      }
    }
    await c.waitForStates({ node1: 'single' }, 60_000);
  }, 450_000);
});
