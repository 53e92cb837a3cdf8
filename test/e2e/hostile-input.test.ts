// The hostile input matrix (#10 item 7) against a real monitor created with the CLI and fake
// data nodes (their files, registered over SQL): every CLI option family with the payloads of
// the issue (HBA rules in a host, newlines, quotes, 10,000 characters, out-of-range numbers),
// malformed and hostile cluster files for `pgaf apply`, truncated and corrupt config and state
// files, and wrong credentials. Each gets a clear error naming the problem and a non-zero
// exit, and nothing changes: not a file under the test folder (size, mtime, mode, content) and
// not a row of the monitor's node and formation tables.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupUser, postgresRunAs } from '../../lib/pgbin.js';
import { stopPostgresAt, writeFakeDataNode } from '../support/fake-node.js';
import { freePort } from '../support/postgres.js';
import { packagePathFor } from '../support/readable-package.js';
import { cleanEnv, runCli, runCollect, type CliResult } from '../support/run-cli.js';

const runAs = postgresRunAs();
const dir = mkdtempSync(join(tmpdir(), 'pgaf-e2e-hostile-'));
const xdg = { XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'share'), XDG_RUNTIME_DIR: join(dir, 'run') };
const pgdata = join(dir, 'monitor');
let port = 0;
let monitorUri = '';
let db: pg.Client | undefined;
/** a registered data node with its files (config and state) */
let nodeB = '';
/** a data node whose files the corrupt-file cases break (not registered) */
let nodeC = '';

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...cleanEnv(['PG_AUTOCTL_DEBUG']), ...xdg, PGHOST: dir, ...extra };
}

function cli(args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, env(extra), 60_000);
}

async function q<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T[]> {
  return (await db!.query<T>(sql, params as any[])).rows;
}

/** Every file under the test folder but the monitor's PGDATA: size, mtime, mode and content hash. */
function diskSnapshot(): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (p === pgdata || p.startsWith(pgdata + '/')) continue;
      const s = lstatSync(p);
      if (e.isDirectory()) {
        out.push(`${p}/ ${(s.mode & 0o7777).toString(8)} ${s.uid}`);
        walk(p);
      } else {
        const hash = e.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16) : 'link';
        out.push(`${p} ${s.size} ${s.mtimeMs} ${(s.mode & 0o7777).toString(8)} ${s.uid} ${hash}`);
      }
    }
  };
  walk(dir);
  return out.sort().join('\n');
}

/** What the monitor knows: nodes, formations, and how many events it recorded. */
async function monitorSnapshot(): Promise<string> {
  const nodes = await q('SELECT nodeid, formationid, nodename, nodehost, nodeport, goalstate::text, candidatepriority, replicationquorum FROM pgautofailover.node ORDER BY nodeid');
  const formations = await q('SELECT formationid, kind, dbname, opt_secondary, number_sync_standbys FROM pgautofailover.formation ORDER BY formationid');
  const events = await q('SELECT count(*)::int AS n FROM pgautofailover.event');
  return JSON.stringify({ nodes, formations, events });
}

/** Runs the command; expects `code`, stderr matching `message`, nothing on stdout, nothing changed. */
async function refused(args: string[], code: number, message: RegExp, extra: Record<string, string> = {}): Promise<CliResult> {
  const disk = diskSnapshot();
  const monitor = await monitorSnapshot();
  const r = await cli(args, extra);
  expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(code);
  expect(r.stderr).toMatch(message);
  expect(r.stdout).toBe('');
  expect(diskSnapshot()).toBe(disk);
  expect(await monitorSnapshot()).toBe(monitor);
  return r;
}

const HOSTILE_HOSTS = ['0.0.0.0/0 trust #', '10.0.0.9\nhost all all 0.0.0.0/0 trust', 'samenet', "db'1", 'x'.repeat(10_000)];
const HOSTILE_NAMES = ['evil name', 'a#b', 'x\ny', '"quoted"', 'all', 'x'.repeat(10_000), '\u001b[31mred'];

beforeAll(async () => {
  mkdirSync(xdg.XDG_RUNTIME_DIR, { recursive: true });
  if (runAs) for (const d of [dir, xdg.XDG_RUNTIME_DIR]) chownSync(d, runAs.uid, runAs.gid);
  port = await freePort();
  const r = await cli(['create', 'monitor', '--pgdata', pgdata, '--pgport', String(port), '--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl']);
  if (r.code !== 0) throw new Error(`create monitor failed (${r.code}): ${r.stderr}`);
  monitorUri = r.stdout.trim();
  db = new pg.Client({ host: dir, port, user: runAs?.name ?? process.env.USER ?? 'postgres', database: 'pg_auto_failover' });
  await db.connect();
  const reg = await q(`SELECT assigned_node_id FROM pgautofailover.register_node('default', '127.0.0.1', 7301, 'postgres', 'node_b', 4242)`);
  nodeB = writeFakeDataNode({ dir, xdg, monitorUri, name: 'node_b', nodeId: Number(reg[0].assigned_node_id), port: 7301, role: 'single', runAs });
  nodeC = writeFakeDataNode({ dir, xdg, monitorUri, name: 'node_c', nodeId: 99, port: 7302, role: 'single', runAs });
}, 180_000);

afterAll(async () => {
  await db?.end().catch(() => undefined);
  stopPostgresAt(pgdata, runAs);
  rmSync(dir, { recursive: true, force: true });
});

describe('CLI options: hostile hosts and names are refused where they enter (exit 1)', () => {
  it('create postgres: --hostname, --name, --formation, --listen, --username, --dbname, --pghost, --pgdata', async () => {
    const base = ['create', 'postgres', '--pgdata', join(dir, 'n1'), '--monitor', monitorUri, '--auth', 'trust', '--no-ssl'];
    for (const h of HOSTILE_HOSTS) await refused([...base, '--hostname', h], 1, /--hostname must be a host name or an IP address, got ".*": it /);
    for (const n of HOSTILE_NAMES) await refused([...base, '--name', n], 1, /--name must be a node name of 1 to 63 characters/);
    for (const n of HOSTILE_NAMES) await refused([...base, '--formation', n], 1, /--formation must be a formation name/);
    await refused([...base, '--listen', "*' ; ssl = 'off"], 1, /--listen must be listen addresses/);
    await refused([...base, '--username', 'postgres; DROP'], 1, /--username must be a role or database name/);
    await refused([...base, '--dbname', "x'y"], 1, /--dbname must be a role or database name/);
    await refused([...base, '--pghost', '/tmp/a\nb'], 1, /--pghost must be an absolute path/);
    await refused(['create', 'postgres', '--pgdata', join(dir, "n'2"), '--monitor', monitorUri, '--auth', 'trust'], 1, /--pgdata must be an absolute path.*quote/);
    await refused(['create', 'postgres', '--pgdata', join(dir, 'n1'), '--monitor', 'postgres://autoctl_node@samenet:5432/pg_auto_failover', '--auth', 'trust'], 1, /the host of --monitor must be a host name or an IP address, got "samenet"/);
    expect(existsSync(join(dir, 'n1'))).toBe(false);
  }, 1_690_000);

  it('create monitor: --hostname and --pgdata', async () => {
    for (const h of HOSTILE_HOSTS) await refused(['create', 'monitor', '--pgdata', join(dir, 'm2'), '--hostname', h, '--auth', 'trust'], 1, /--hostname must be a host name/);
    await refused(['create', 'monitor', '--pgdata', join(dir, 'm#3'), '--auth', 'trust'], 1, /--pgdata must be an absolute path, got ".*m#3": it holds a "#"/);
    expect(existsSync(join(dir, 'm2'))).toBe(false);
  }, 430_000);

  it('set node metadata and run --name/--hostname: the monitor and the config file keep their values', async () => {
    for (const h of HOSTILE_HOSTS) await refused(['set', 'node', 'metadata', '--pgdata', nodeB, '--hostname', h], 1, /--hostname must be a host name/);
    for (const n of HOSTILE_NAMES) await refused(['set', 'node', 'metadata', '--pgdata', nodeB, '--name', n], 1, /--name must be a node name/);
    await refused(['run', '--pgdata', nodeB, '--hostname', '0.0.0.0/0 trust #'], 1, /--hostname must be a host name/);
  }, 890_000);

  it('node and formation lookups: get/set node, perform promotion, drop node, create formation, show', async () => {
    for (const n of HOSTILE_NAMES) {
      await refused(['get', 'node', 'candidate-priority', '--monitor', monitorUri, '--name', n], 1, /--name must be a node name/);
      await refused(['set', 'node', 'candidate-priority', '10', '--monitor', monitorUri, '--name', n], 1, /--name must be a node name/);
      await refused(['perform', 'promotion', '--monitor', monitorUri, '--name', n], 1, /--name must be a node name/);
      await refused(['drop', 'node', '--monitor', monitorUri, '--name', n], 1, /--name must be a node name/);
      await refused(['create', 'formation', '--monitor', monitorUri, '--formation', n], 1, /--formation must be a formation name/);
      await refused(['show', 'state', '--monitor', monitorUri, '--formation', n], 1, /--formation must be a formation name/);
    }
    await refused(['drop', 'node', '--monitor', monitorUri, '--hostname', '0.0.0.0/0 trust #', '--pgport', '7301'], 1, /--hostname must be a host name/);
  }, 2_870_000);

  it('numbers: negative, huge, not numbers', async () => {
    await refused(['set', 'node', 'metadata', '--pgdata', nodeB, '--pgport', '-1'], 1, /--pgport must be an integer between 1 and 65535/);
    await refused(['set', 'node', 'metadata', '--pgdata', nodeB, '--pgport', '99999999999999999999'], 1, /--pgport must be an integer between 1 and 65535/);
    await refused(['set', 'node', 'candidate-priority', '-5', '--monitor', monitorUri, '--name', 'node_b'], 1, /candidate-priority must be an integer from 0 to 100/);
    await refused(['set', 'node', 'candidate-priority', '1e9', '--monitor', monitorUri, '--name', 'node_b'], 1, /candidate-priority must be an integer from 0 to 100/);
    await refused(['set', 'formation', 'number-sync-standbys', '-1', '--monitor', monitorUri], 1, /number-sync-standbys must be a non-negative integer/);
    await refused(['show', 'events', '--monitor', monitorUri, '--count', '1e999'], 1, /--count must be a non-negative integer/);
    await refused(['show', 'state', '--monitor', monitorUri, '--group', '99999999999999999999'], 1, /--group must be a non-negative integer/);
  }, 500_000);

  it('--monitor URIs: whitespace, a hostile host', async () => {
    await refused(['show', 'state', '--monitor', 'postgres://autoctl_node@127.0.0.1:5432/pg_auto_failover\nhost all all 0.0.0.0/0 trust'], 1, /--monitor must be a postgres:\/\/ URI, but it holds a control character/);
    await refused(['show', 'state', '--monitor', 'postgres://autoctl_node@all:5432/pg_auto_failover'], 1, /the host of --monitor must be a host name or an IP address, got "all": it is a pg_hba.conf keyword/);
  }, 170_000);
});

describe('config set: the value is checked through the node schema, the file stays as it was (exit 2)', () => {
  it.each([
    ['pg_autoctl.hostname = 0.0.0.0/0', 'pg_autoctl.hostname', '0.0.0.0/0', /cannot set pg_autoctl.hostname to "0\.0\.0\.0\/0": pg_autoctl.hostname: expected a host name or an IP address/],
    ['pg_autoctl.hostname = samenet', 'pg_autoctl.hostname', 'samenet', /pg_autoctl.hostname: expected a host name or an IP address, found "samenet" \(it is a pg_hba.conf keyword\)/],
    ['pg_autoctl.name = a#b', 'pg_autoctl.name', 'a#b', /pg_autoctl.name: expected a node name/],
    ['pg_autoctl.formation = all', 'pg_autoctl.formation', 'all', /pg_autoctl.formation: expected a formation name/],
    ['postgresql.listen_addresses = *\'x', 'postgresql.listen_addresses', "*'x", /postgresql.listen_addresses: expected listen addresses/],
    ['postgresql.pgdata = relative/dir', 'postgresql.pgdata', 'relative/dir', /postgresql.pgdata: expected an absolute path/],
    ['postgresql.host = /tmp/it\'s', 'postgresql.host', "/tmp/it's", /postgresql.host: expected a Unix socket directory/],
    ['postgresql.username = a b', 'postgresql.username', 'a b', /a value cannot|postgresql.username: expected a role or database name/],
    ['pg_autoctl.name = 10,000 characters', 'pg_autoctl.name', 'x'.repeat(10_000), /pg_autoctl.name: expected a node name.*10000 characters long/],
  ])('%s', async (_label, key, value, message) => {
    await refused(['config', 'set', key, value, '--pgdata', nodeB], 2, message);
  }, 100_000);
});

describe('cluster files for pgaf apply: malformed and hostile (exit 2)', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a hostile host', `node:\n  role: monitor\n  pgdata: /var/x\n  hostname: "0.0.0.0/0 trust #"\n`, /node.hostname: expected a host name or an IP address, found "0\.0\.0\.0\/0 trust #" \(it holds whitespace\)/],
    ['a newline in a host', `node:\n  role: monitor\n  pgdata: /var/x\n  hostname: "db1\\nhost all all 0.0.0.0/0 trust"\n`, /node.hostname: expected a host name or an IP address.*control character/],
    ['a keyword as a formation', `formation:\n  name: all\n`, /formation.name: expected a formation name.*pg_hba.conf keyword/],
    ['a hostile node name', `formation:\n  nodes:\n    "evil name": { candidate_priority: 1 }\n`, /formation.nodes.evil name: expected a node name/],
    ['a 10,000-character name', `formation:\n  name: ${'x'.repeat(10_000)}\n`, /formation.name: expected a formation name.*10000 characters long/],
    ['hostile listen addresses', `node:\n  role: monitor\n  pgdata: /var/x\n  listen: "*' ; ssl = 'off"\n`, /node.listen: expected listen addresses/],
    ['a path with a quote', `node:\n  role: monitor\n  pgdata: "/var/it's"\n`, /node.pgdata: expected an absolute path.*quote/],
    ['a URI with whitespace', `monitor:\n  uri: "postgres://a@h/db x"\n`, /monitor.uri: expected a postgres:\/\/ URI.*whitespace/],
    ['a negative number', `formation:\n  number_sync_standbys: -1\n`, /formation.number_sync_standbys: expected a value >= 0, found number -1/],
    ['a huge number', `formation:\n  number_sync_standbys: 1e308\n`, /formation.number_sync_standbys: expected a value <= 16/],
    ['truncated YAML', `formation:\n  nodes:\n    node_b: { candidate_pri`, /cannot parse the configuration/],
    ['binary garbage', '\u0000\u0001\u0002\u00ff\u00fe{{{[[[', /cannot parse the configuration|expected a mapping/],
    ['a list at the top', `- formation\n- node\n`, /\(top level\): expected a mapping/],
    ['an unknown key (a secret inline)', `monitor:\n  uri: postgres://a@h/db\n  password: hunter2\n`, /monitor.password: unknown key/],
  ];
  it.each(cases)('%s', async (_name, text, message) => {
    const file = join(dir, 'bad-cluster.yaml');
    writeFileSync(file, text);
    const r = await refused(['apply', '-f', file], 2, message);
    expect(r.stderr).toContain(file);
    expect(r.stderr).not.toContain('hunter2');
  }, 100_000);

  it('a password file that cannot be read, and a missing file', async () => {
    const file = join(dir, 'bad-cluster.yaml');
    writeFileSync(file, `monitor:\n  uri: ${monitorUri}\n  password_file: ${join(dir, 'no-such-secret')}\n`);
    await refused(['apply', '-f', file], 2, /monitor.password_file: expected a readable file, found ".*no-such-secret" \(ENOENT\)/);
    await refused(['apply', '-f', join(dir, 'nowhere.yaml')], 2, /expected a configuration file, found none/);
  }, 170_000);
});

describe('truncated or corrupt config and state files', () => {
  const cfgPath = () => join(xdg.XDG_CONFIG_HOME, 'pg_autoctl', nodeC, 'pg_autoctl.cfg');
  const statePath = () => join(xdg.XDG_DATA_HOME, 'pg_autoctl', nodeC, 'pg_autoctl.state');
  let goodCfg = '';
  let goodState = '';
  beforeAll(() => {
    goodCfg = readFileSync(cfgPath(), 'utf8');
    goodState = readFileSync(statePath(), 'utf8');
  });
  afterAll(() => {
    writeFileSync(cfgPath(), goodCfg);
    writeFileSync(statePath(), goodState);
  });

  it('a config file cut in half: exit 2 naming the file and the missing keys', async () => {
    writeFileSync(cfgPath(), goodCfg.slice(0, Math.floor(goodCfg.length / 2)));
    await refused(['run', '--pgdata', nodeC], 2, /invalid keeper configuration in .*pg_autoctl\.cfg: /);
    await refused(['set', 'node', 'metadata', '--pgdata', nodeC, '--pgport', '7400'], 2, /invalid keeper configuration/);
    writeFileSync(cfgPath(), goodCfg);
  }, 170_000);

  it('a hostile host written into a config file by hand: refused when read (exit 2)', async () => {
    writeFileSync(cfgPath(), goodCfg.replace('hostname = 127.0.0.1', 'hostname = 0.0.0.0/0 trust #'));
    await refused(['run', '--pgdata', nodeC], 2, /pg_autoctl.hostname: expected a host name or an IP address, found "0\.0\.0\.0\/0 trust #" \(it holds whitespace\)/);
    writeFileSync(cfgPath(), goodCfg.replace('name = node_c', 'name = node c'));
    await refused(['show', 'state', '--local', '--pgdata', nodeC], 2, /pg_autoctl.name: expected a node name/);
    writeFileSync(cfgPath(), goodCfg);
  }, 170_000);

  it('binary garbage as the config file: exit 2, the bad line shown escaped (no control character reaches the terminal)', async () => {
    writeFileSync(cfgPath(), Buffer.concat([Buffer.from([0, 1, 2, 255, 254]), Buffer.from('\u001b[2J\u001b]0;owned\u0007\n[]')]));
    for (const args of [['run', '--pgdata', nodeC], ['show', 'state', '--local', '--pgdata', nodeC]]) {
      const r = await refused(args, 2, /cannot parse .*pg_autoctl\.cfg: line 1: expected "\[section\]" or "key = value", got "\\u0000\\u0001\\u0002/);
      expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    }
    writeFileSync(cfgPath(), goodCfg);
  }, 170_000);

  it('a truncated or corrupt state file: exit 3 naming it', async () => {
    writeFileSync(statePath(), goodState.slice(0, 20));
    await refused(['run', '--pgdata', nodeC], 3, /the state file .*pg_autoctl\.state is corrupt: it is not JSON/);
    await refused(['show', 'state', '--local', '--pgdata', nodeC], 3, /the state file .* is corrupt/);
    writeFileSync(statePath(), JSON.stringify({ ...JSON.parse(goodState), nodeId: -7, current_role: 'flying' }));
    await refused(['run', '--pgdata', nodeC], 3, /the state file .* is corrupt: current_role: expected one of /);
    writeFileSync(statePath(), goodState);
  }, 230_000);
});

describe('a node configured by another user', () => {
  // as root only: root reads every file, so the case needs a second user to run the CLI as
  it.skipIf(process.getuid?.() !== 0)('get, set and show as a user who cannot read the config: exit 2 naming the file and its owner', async () => {
    const pgUser = lookupUser('postgres');
    const pkg = mkdtempSync(join(tmpdir(), 'pgaf-e2e-pkg-'));
    try {
      chmodSync(pkg, 0o755);
      const cliAsPostgres = packagePathFor(pgUser, pkg, ['package.json', 'dist', 'node_modules', 'monitor-ext'], 'dist/cli/pgaf.cjs');
      const vars = Object.entries({ ...xdg, PGDATA: nodeC, PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/' }).map(([k, v]) => `${k}=${v}`);
      for (const args of [['get', 'node', 'candidate-priority'], ['set', 'node', 'candidate-priority', '10'], ['show', 'state']]) {
        const r = await runCollect('setpriv', [`--reuid=${pgUser.uid}`, `--regid=${pgUser.gid}`, '--init-groups', 'env', '-i', ...vars, process.execPath, cliAsPostgres, ...args], {}, 60_000);
        expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(/cannot read .*pg_autoctl\.cfg: permission denied/);
        expect(r.stderr).toMatch(/run the command as root, the user the node's configuration belongs to/);
        expect(r.stderr).not.toMatch(/--name is required|no pgaf node is configured/);
      }
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('wrong credentials and unknown ids', () => {
  it('a role the monitor does not know: exit 6, nothing changes', async () => {
    await refused(['show', 'state', '--monitor', `postgres://no_such_role@127.0.0.1:${port}/pg_auto_failover?sslmode=disable`], 6, /no_such_role/);
  }, 100_000);
  it('a database that does not exist: exit 6', async () => {
    await refused(['show', 'state', '--monitor', `postgres://autoctl_node@127.0.0.1:${port}/nosuchdb?sslmode=disable`], 6, /nosuchdb/);
  }, 100_000);
  it('an unknown node name or formation: exit 6 from the monitor, nothing changes', async () => {
    await refused(['set', 'node', 'candidate-priority', '10', '--monitor', monitorUri, '--name', 'node_zz'], 6, /no node named "node_zz"/);
    await refused(['drop', 'formation', '--monitor', monitorUri, '--formation', 'nosuch'], 6, /nosuch/);
  }, 170_000);
});

describe('as root: a symlink planted at a file pgaf rewrites is replaced, never followed', () => {
  it('config set on a pg_autoctl.cfg that is a symlink: the target keeps its bytes, the new file is 0600', async () => {
    const cfg = join(xdg.XDG_CONFIG_HOME, 'pg_autoctl', nodeC, 'pg_autoctl.cfg');
    const outside = join(dir, 'outside.cfg');
    writeFileSync(outside, readFileSync(cfg, 'utf8'), { mode: 0o644 });
    const before = readFileSync(outside, 'utf8');
    rmSync(cfg);
    symlinkSync(outside, cfg);
    const r = await cli(['config', 'set', 'pg_autoctl.name', 'node_cc', '--pgdata', nodeC]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(outside, 'utf8')).toBe(before);
    expect(lstatSync(outside).mode & 0o777).toBe(0o644);
    expect(lstatSync(cfg).isFile()).toBe(true);
    expect(lstatSync(cfg).mode & 0o777).toBe(0o600);
    expect(lstatSync(join(cfg, '..')).mode & 0o777).toBe(0o700);
    expect(readFileSync(cfg, 'utf8')).toMatch(/name = node_cc/);
    writeFileSync(cfg, before);
  }, 90_000);
});
