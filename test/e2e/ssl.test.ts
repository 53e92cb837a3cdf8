// SSL on real processes: a monitor and nodes with --ssl-self-signed (replication and the
// keepers' monitor connections encrypted, a switchover), a --no-ssl node switched to SSL and
// back online (no Postgres restart), a CA-signed cluster with --ssl-mode verify-ca, and bad
// SSL options refused with exit 1 and nothing written.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRunAs } from '../../lib/pgbin.js';
import { CLI, FAST_MONITOR_SETTINGS, TestCluster } from '../support/cluster.js';

const runAs = postgresRunAs();

function pgdataOf(c: TestCluster, name: string): string {
  return join(c.member(name).dir, 'pgdata');
}

function configOf(c: TestCluster, name: string): string {
  return readFileSync(join(c.member(name).dir, 'config', 'pg_autoctl', pgdataOf(c, name), 'pg_autoctl.cfg'), 'utf8');
}

function fileOf(c: TestCluster, name: string, file: string): string {
  return readFileSync(join(pgdataOf(c, name), file), 'utf8');
}

/** One query on a node's Postgres over TCP as the superuser (plain, or SSL without verification). */
function nodeQuery<R extends pg.QueryResultRow>(c: TestCluster, name: string, sql: string, ssl = false): Promise<R[]> {
  return c.nodeQuery<R>(name, sql, [], { ssl, connectTimeoutMs: 5000 });
}

async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let err: unknown;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (e) {
      err = e;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what}: not reached in ${timeoutMs} ms; last ${JSON.stringify(last)} ${err ? String(err) : ''}`);
}

/** SSL flags of the walsenders' connections on `primary` (one per streaming standby). */
function walsenderSsl(c: TestCluster, primary: string) {
  return nodeQuery<{ application_name: string; ssl: boolean }>(
    c,
    primary,
    'SELECT r.application_name, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) ORDER BY 1',
  );
}

/** SSL flags of the keepers' connections to the monitor. */
function keeperSsl(c: TestCluster) {
  return c.monitorQuery<{ application_name: string; ssl: boolean }>(
    `SELECT a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
      WHERE a.application_name LIKE 'pgaf_keeper_%' ORDER BY 1`,
  );
}

describe('self-signed certificates', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await TestCluster.create({ ssl: ['--ssl-self-signed'], monitorUriQuery: 'sslmode=require' });
    await c.startMonitor(FAST_MONITOR_SETTINGS);
  }, 170_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('creates the monitor with SSL on: certificate, settings, hostssl rule, sslmode=require URI', async () => {
    const pgdata = pgdataOf(c, 'monitor');
    const key = statSync(join(pgdata, 'server.key'));
    expect(key.mode & 0o777).toBe(0o600);
    if (runAs) expect(key.uid).toBe(runAs.uid);
    expect(fileOf(c, 'monitor', 'postgresql-auto-failover.conf')).toContain(`ssl = on\nssl_cert_file = '${pgdata}/server.crt'\nssl_key_file = '${pgdata}/server.key'\n`);
    expect(fileOf(c, 'monitor', 'pg_hba.conf')).toMatch(/^hostssl pg_auto_failover autoctl_node 127\.0\.0\.1\/32 trust$/m);
    expect(configOf(c, 'monitor')).toContain(`[ssl]\nactive = 1\nsslmode = require\ncert_file = ${pgdata}/server.crt\nkey_file = ${pgdata}/server.key\n`);
    const uri = await c.cli('monitor', ['show', 'uri', '--formation', 'monitor']);
    expect(uri.stdout.trim()).toBe(`postgres://autoctl_node@127.0.0.1:${c.monitor.port}/pg_auto_failover?sslmode=require`);
  }, 170_000);

  it('brings up a primary and a secondary that replicate and report over SSL', async () => {
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2');
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
    expect(configOf(c, 'node2')).toMatch(/\[ssl\]\nactive = 1\nsslmode = require\n/);
    expect(fileOf(c, 'node2', 'postgresql-auto-failover-standby.conf')).toMatch(/primary_conninfo = '.*sslmode=require/);
    expect(fileOf(c, 'node1', 'pg_hba.conf')).toMatch(/^hostssl replication pgautofailover_replicator 127\.0\.0\.1\/32 trust$/m);
    // each node has its own certificate, not a copy of the primary's
    expect(fileOf(c, 'node2', 'server.key')).not.toBe(fileOf(c, 'node1', 'server.key'));
    const ws = await eventually('node2 streaming', () => walsenderSsl(c, 'node1'), (r) => r.length === 1);
    expect(ws).toEqual([{ application_name: 'pgautofailover_standby_2', ssl: true }]);
    const ks = await eventually('both keepers connected', () => keeperSsl(c), (r) => new Set(r.map((x) => x.application_name)).size === 2);
    expect(ks.every((r) => r.ssl)).toBe(true);
  }, 270_000);

  it('switches over, and the new primary streams to the old one over SSL', async () => {
    const r = await c.cli('node1', ['perform', 'switchover', '--formation', 'default', '--group', '0']);
    expect(r.code, r.stderr + JSON.stringify(await c.states()) + c.logTail('node1', 80) + c.logTail('node2', 80)).toBe(0);
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 60_000);
    const ws = await eventually('node1 streaming from node2', () => walsenderSsl(c, 'node2'), (x) => x.length === 1);
    expect(ws).toEqual([{ application_name: 'pgautofailover_standby_1', ssl: true }]);
  }, 270_000);

  it('turns SSL on and off online on a node created with --no-ssl', async () => {
    await c.addNode('node3', ['--no-ssl', '--candidate-priority', '0']);
    await c.waitForStates({ node3: 'secondary' }, 90_000);
    expect(configOf(c, 'node3')).toMatch(/\[ssl\]\nactive = 0\nsslmode = prefer\n/);
    const started = (await nodeQuery<{ t: string }>(c, 'node3', 'SELECT pg_postmaster_start_time()::text AS t'))[0]!.t;
    const showSsl = async () => (await nodeQuery<{ ssl: string }>(c, 'node3', 'SHOW ssl'))[0]!.ssl;
    expect(await showSsl()).toBe('off');

    let r = await c.cli('node3', ['enable', 'ssl', '--ssl-self-signed']);
    expect(r.code, r.stderr).toBe(0);
    expect(await eventually('ssl on', showSsl, (v) => v === 'on')).toBe('on');
    expect((await nodeQuery<{ ssl: boolean }>(c, 'node3', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', true))[0]!.ssl).toBe(true);
    const cfg = configOf(c, 'node3');
    expect(cfg).toMatch(/\[ssl\]\nactive = 1\nsslmode = require\n/);
    expect(cfg).toMatch(/^monitor = postgres:\/\/autoctl_node@127\.0\.0\.1:\d+\/pg_auto_failover\?sslmode=require$/m);
    expect(fileOf(c, 'node3', 'postgresql-auto-failover-standby.conf')).toMatch(/primary_conninfo = '.*sslmode=require/);
    const hba = fileOf(c, 'node3', 'pg_hba.conf');
    expect(hba).toMatch(/^hostssl replication pgautofailover_replicator /m);
    expect(hba).not.toMatch(/^host replication pgautofailover_replicator /m);
    // the running keeper re-read its config (SIGHUP)
    await eventually('keeper reload', async () => c.logTail('node3', 200), (t) => /reloaded the configuration.*sslmode=require/.test(t), 10_000);
    // twice is harmless
    r = await c.cli('node3', ['enable', 'ssl', '--ssl-self-signed']);
    expect(r.code, r.stderr).toBe(0);

    r = await c.cli('node3', ['disable', 'ssl']);
    expect(r.code, r.stderr).toBe(0);
    expect(await eventually('ssl off', showSsl, (v) => v === 'off')).toBe('off');
    expect(configOf(c, 'node3')).toMatch(/\[ssl\]\nactive = 0\nsslmode = prefer\n/);
    expect(configOf(c, 'node3')).toMatch(/\?sslmode=prefer$/m);
    expect(fileOf(c, 'node3', 'postgresql-auto-failover-standby.conf')).toMatch(/primary_conninfo = '.*sslmode=prefer/);
    expect(fileOf(c, 'node3', 'pg_hba.conf')).toMatch(/^host replication pgautofailover_replicator /m);
    expect((await c.cli('node3', ['disable', 'ssl'])).code).toBe(0);

    // no restart, and the node kept streaming through it all
    expect((await nodeQuery<{ t: string }>(c, 'node3', 'SELECT pg_postmaster_start_time()::text AS t'))[0]!.t).toBe(started);
    await eventually('node3 streaming', () => walsenderSsl(c, 'node2'), (x) => x.some((w) => w.application_name === 'pgautofailover_standby_3'));
    await c.waitForStates({ node3: 'secondary' }, 30_000);
  }, 810_000);

  it('refuses bad SSL options with exit 1 and changes nothing', async () => {
    const before = configOf(c, 'node3');
    const hba = fileOf(c, 'node3', 'pg_hba.conf');
    const cases: Array<[string[], RegExp]> = [
      [['--ssl-self-signed', '--ssl-mode', 'bogus'], /--ssl-mode must be one of disable, allow, prefer, require, verify-ca, verify-full, got "bogus"/],
      [['--ssl-self-signed', '--ssl-mode', 'verify-full'], /--ssl-mode "verify-full" is not compatible with self-signed/],
      [['--server-cert', '/nonexistent/server.crt', '--server-key', '/nonexistent/server.key', '--ssl-mode', 'require'], /--server-cert file does not exist at "\/nonexistent\/server.crt"/],
      [['--no-ssl', '--ssl-self-signed'], /Using both --no-ssl and --ssl-self-signed/],
      [[], /Explicit SSL choice is required/],
    ];
    for (const [opts, err] of cases) {
      const r = await c.cli('node3', ['enable', 'ssl', ...opts]);
      expect(r.code, `${opts.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(err);
    }
    expect(configOf(c, 'node3')).toBe(before);
    expect(fileOf(c, 'node3', 'pg_hba.conf')).toBe(hba);
  }, 690_000);

  it('refuses bad SSL options of create monitor and create postgres, creating nothing', async () => {
    const dir = join(c.base, 'bad');
    const xdg = join(c.monitor.dir, 'config', 'pg_autoctl', dir);
    const cert = join(pgdataOf(c, 'monitor'), 'server.crt');
    const cases: Array<[string[], RegExp]> = [
      [['create', 'monitor', '--auth', 'trust', '--ssl-mode', 'sometimes', '--no-ssl'], /--ssl-mode must be one of/],
      [['create', 'monitor', '--auth', 'trust', '--server-cert', cert, '--server-key', join(dir, 'missing.key'), '--ssl-mode', 'require'], /--server-key file does not exist/],
      [['create', 'monitor', '--auth', 'trust', '--server-cert', cert, '--server-key', cert, '--ssl-mode', 'verify-full'], /--ssl-ca-file is required when --ssl-mode is "verify-full"/],
      [['create', 'postgres', '--auth', 'trust', '--monitor', c.monitorUri, '--server-cert', cert, '--server-key', cert], /--ssl-ca-file is required when --ssl-mode is "verify-full"/],
      [['create', 'postgres', '--auth', 'trust', '--monitor', c.monitorUri, '--server-cert', join(dir, 'none.crt'), '--server-key', cert, '--ssl-mode', 'require'], /--server-cert file does not exist/],
    ];
    for (const [args, err] of cases) {
      const r = await c.cli('monitor', [...args, '--pgdata', dir, '--pgport', '1']);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(err);
      expect(existsSync(dir)).toBe(false);
      expect(existsSync(xdg)).toBe(false);
    }
  }, 690_000);

  it("the first README's form (no --auth, no SSL option) against a monitor that trusts: refused, nothing written", async () => {
    // no --auth means scram-sha-256 now; its replication password comes from the monitor
    // password, and a trusting monitor has none (the secure default path: secure-defaults.test.ts)
    const pgdata = join(c.base, 'node5-pgdata');
    const r = await c.cli('monitor', ['create', 'postgres', '--pgdata', pgdata, '--pgport', '1', '--nodename', '127.0.0.1', '--monitor', c.monitorUri], 30_000);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/needs a replication password, and there is no monitor password to derive it from/);
    expect(r.stderr).toMatch(/PG_AUTOCTL_REPLICATION_PASSWORD/);
    expect(existsSync(pgdata)).toBe(false);
  });
});

/** A test CA and, for each name, a server certificate it signed (CN 127.0.0.1), owned by the Postgres user. */
function makeCerts(dir: string, names: string[]): { ca: string; cert: (n: string) => string; key: (n: string) => string } {
  mkdirSync(dir, { recursive: true });
  const openssl = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  };
  openssl(['req', '-new', '-x509', '-days', '30', '-nodes', '-subj', '/CN=pgaf-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt']);
  for (const n of names) {
    openssl(['req', '-new', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', `${n}.key`, '-out', `${n}.csr`]);
    openssl(['x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', `${n}.crt`]);
  }
  if (runAs) {
    chownSync(dir, runAs.uid, runAs.gid);
    for (const n of names) for (const ext of ['crt', 'key']) chownSync(join(dir, `${n}.${ext}`), runAs.uid, runAs.gid);
    chownSync(join(dir, 'ca.crt'), runAs.uid, runAs.gid);
  }
  return { ca: join(dir, 'ca.crt'), cert: (n) => join(dir, `${n}.crt`), key: (n) => join(dir, `${n}.key`) };
}

describe('certificates signed by a CA, --ssl-mode verify-ca', () => {
  let c: TestCluster;
  let certs: ReturnType<typeof makeCerts>;
  const userCerts = (n: string) => ['--ssl-ca-file', certs.ca, '--server-cert', certs.cert(n), '--server-key', certs.key(n), '--ssl-mode', 'verify-ca'];

  beforeAll(async () => {
    // the nodes get a monitor URI without sslmode: create postgres adds theirs (verify-ca, sslrootcert)
    c = await TestCluster.create({ monitorUriQuery: '' });
    certs = makeCerts(join(c.base, 'certs'), ['monitor', 'node1', 'node2']);
    await c.startMonitor(FAST_MONITOR_SETTINGS, userCerts('monitor'));
  }, 170_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('runs a primary and a secondary that verify the CA on every connection', async () => {
    expect(fileOf(c, 'monitor', 'postgresql-auto-failover.conf')).toContain(`ssl_ca_file = '${certs.ca}'`);
    const uri = await c.cli('monitor', ['show', 'uri', '--formation', 'monitor']);
    expect(uri.stdout.trim()).toBe(`postgres://autoctl_node@127.0.0.1:${c.monitor.port}/pg_auto_failover?sslmode=verify-ca&sslrootcert=${encodeURIComponent(certs.ca)}`);
    await c.addNode('node1', userCerts('node1'));
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2', userCerts('node2'));
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
    expect(configOf(c, 'node2')).toContain(`monitor = postgres://autoctl_node@127.0.0.1:${c.monitor.port}/pg_auto_failover?sslmode=verify-ca&sslrootcert=${encodeURIComponent(certs.ca)}`);
    expect(fileOf(c, 'node2', 'postgresql-auto-failover-standby.conf')).toContain(`sslmode=verify-ca sslrootcert=${certs.ca}`);
    const ws = await eventually('node2 streaming', () => walsenderSsl(c, 'node1'), (r) => r.length === 1);
    expect(ws[0]!.ssl).toBe(true);
    const ks = await eventually('both keepers connected', () => keeperSsl(c), (r) => new Set(r.map((x) => x.application_name)).size === 2);
    expect(ks.every((r) => r.ssl)).toBe(true);
  }, 400_000);

  it("the installed program trusts a CA given only by NODE_EXTRA_CA_CERTS, as Node would (its launcher keeps the variable out of Node's start-up for a fast command)", () => {
    // verify-ca without sslrootcert and without ~/.postgresql/root.crt: the system CAs
    const uri = `postgres://autoctl_node@127.0.0.1:${c.monitor.port}/pg_auto_failover?sslmode=verify-ca`;
    const base = { ...c.env(c.member('node1')), HOME: c.base };
    delete base.NODE_EXTRA_CA_CERTS;
    // through the sh launcher (dist/cli/pgaf.cjs run as a program), a fast command and one of the tree
    const run = (args: string[], extra: Record<string, string>) => spawnSync(CLI, [...args, '--monitor', uri], { env: { ...base, ...extra }, encoding: 'utf8' });
    for (const args of [['show', 'uri'], ['show', 'events', '--count', '1']]) {
      const trusted = run(args, { NODE_EXTRA_CA_CERTS: certs.ca });
      expect(trusted.status, `${args.join(' ')}: ${trusted.stderr}`).toBe(0);
      const untrusted = run(args, {});
      expect(untrusted.status, args.join(' ')).toBe(6);
      expect(untrusted.stderr).toMatch(/certificate/);
    }
  }, 60_000);
});
