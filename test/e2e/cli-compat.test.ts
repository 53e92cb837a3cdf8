// End to end: the pg_autoctl command line as scripts use it, against a real monitor created
// with the CLI (temp XDG dirs, a free 127.0.0.1 port) and fake data nodes registered and
// driven over SQL (no keeper, no data Postgres): output shapes, --json, exit codes, error
// paths that change nothing on disk, --help everywhere, and `watch` driven through tmux.
import { spawn, spawnSync } from 'node:child_process';
import { stopPostgresAt, writeFakeDataNode } from '../support/fake-node.js';
import { CLI, cleanEnv, runCli, runCollect, type CliResult } from '../support/run-cli.js';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../lib/package-root.js';
import { postgresRunAs } from '../../lib/pgbin.js';
import { freePort } from '../support/postgres.js';
import { sqlKeepers } from '../support/sql-keepers.js';

const root = packageRoot();
const mainJs = join(root, 'dist', 'cli', 'main.js');
const runAs = postgresRunAs();
const dir = mkdtempSync(join(tmpdir(), 'pgaf-e2e-compat-'));
const xdg = { XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'share'), XDG_RUNTIME_DIR: join(dir, 'run') };
const pgdata = join(dir, 'monitor');
const tmuxSocket = `pgaf-watch-${process.pid}`;
let port = 0;
let monitorUri = '';
let db: pg.Client | undefined;
const p1 = 7201;
const p2 = 7202;
let n1 = 0;
let n2 = 0;

type Result = CliResult;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...cleanEnv(['PG_AUTOCTL_DEBUG']), ...xdg, PGHOST: dir, ...extra };
}

function cli(args: string[], extra: Record<string, string> = {}, timeoutMs = 60_000): Promise<Result> {
  return runCli(args, env(extra), timeoutMs);
}

const { q, register, step, states, settle } = sqlKeepers(() => db, { secondaryLsn: '0/2FFF000' });

/** Steps every node every 100 ms while `fn` runs: obedient keepers. */
async function withDriver<T>(fn: () => Promise<T>): Promise<T> {
  let stop = false;
  const driver = (async () => {
    while (!stop) {
      await step([n1, n2]).catch(() => undefined);
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  try {
    return await fn();
  } finally {
    stop = true;
    await driver;
  }
}

function fakeDataNode(name: string, nodeId: number, nodePort: number, role: string): string {
  return writeFakeDataNode({ dir, xdg, monitorUri, name, nodeId, port: nodePort, role, runAs });
}

function stopPostgres(data: string): void {
  stopPostgresAt(data, runAs);
}

/** Every file under the temp dir but PGDATA's, with its size and mtime: "nothing on disk changes". */
function snapshot(): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (p === pgdata || p.startsWith(pgdata + '/')) continue;
      if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p);
        out.push(`${p} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.sort().join('\n');
}

function tmux(...args: string[]) {
  return spawnSync('tmux', ['-L', tmuxSocket, ...args], { encoding: 'utf8' });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function paneUntil(pred: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = tmux('capture-pane', '-p', '-t', 'watch').stdout ?? '';
    if (pred(text)) return text;
    await sleep(200);
  }
  throw new Error(`the watch pane never matched; last capture:\n${text}`);
}

beforeAll(async () => {
  if (!existsSync(mainJs)) {
    const build = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr}`);
  }
  // XDG_RUNTIME_DIR exists on a real system (/run/user/<uid>); the original falls back to /tmp without it
  mkdirSync(xdg.XDG_RUNTIME_DIR, { recursive: true });
  if (runAs) for (const d of [dir, xdg.XDG_RUNTIME_DIR]) chownSync(d, runAs.uid, runAs.gid);
  port = await freePort();
  const r = await cli(['create', 'monitor', '--pgdata', pgdata, '--pgport', String(port), '--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl'], {}, 120_000);
  if (r.code !== 0) throw new Error(`create monitor failed (${r.code}): ${r.stderr}`);
  monitorUri = r.stdout.trim();
  db = new pg.Client({ host: dir, port, user: runAs?.name ?? process.env.USER ?? 'postgres', database: 'pg_auto_failover' });
  await db.connect();
  n1 = await register(p1, 'node_a');
  await settle([n1], { node_a: 'single/single' });
  n2 = await register(p2, 'node_b');
  await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
}, 170_000);

afterAll(async () => {
  tmux('kill-server');
  // kill-server leaves its socket file behind
  const uid = process.getuid?.() ?? 0;
  rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, tmuxSocket), { force: true });
  await db?.end().catch(() => undefined);
  stopPostgres(pgdata);
  rmSync(dir, { recursive: true, force: true });
});

/** pg_auto_failover 2.0's own pg_autoctl (Debian package pg-auto-failover-cli, installed by .ci/run). */
const ORIGINAL = '/usr/bin/pg_autoctl';

describe('the same output as the original pg_autoctl, run against our monitor', () => {
  /** The original, as `cli` runs ours: same environment, killed after `timeoutMs`. */
  const original = (args: string[], extra: Record<string, string> = {}, timeoutMs = 60_000): Promise<Result> =>
    runCollect(ORIGINAL, args, env(extra), timeoutMs);

  /** Both programs on the same arguments: the original must succeed, and ours the same way. */
  async function sideBySide(args: string[], extra: Record<string, string> = {}): Promise<{ theirs: Result; ours: Result }> {
    const theirs = await original(args, extra);
    const ours = await cli(args, extra);
    expect(theirs.code, `the original pg_autoctl ${args.join(' ')}: ${theirs.stderr}`).toBe(0);
    expect(ours.code, ours.stderr).toBe(0);
    return { theirs, ours };
  }

  it('is installed (apt-get install pg-auto-failover-cli)', () => {
    expect(existsSync(ORIGINAL), `${ORIGINAL} is missing: .ci/run installs pg-auto-failover-cli`).toBe(true);
  });

  // Monitor-side commands: byte for byte in text, the same document with --json (the
  // original escapes "/" as "\/", so JSON is compared parsed), and the same exit code.
  const commands: string[][] = [
    ['show', 'state'], ['show', 'state', '--json'], ['show', 'state', '--group', '0'], ['show', 'state', '--formation', 'nosuch'],
    ['show', 'uri'], ['show', 'uri', '--json'], ['show', 'uri', '--formation', 'monitor'], ['show', 'uri', '--formation', 'default'],
    ['show', 'events'], ['show', 'events', '--json'], ['show', 'events', '--count', '3'], ['show', 'events', '--group', '0', '--count', '2'],
    ['show', 'settings'], ['show', 'settings', '--json'], ['get', 'formation', 'settings'], ['get', 'formation', 'settings', '--json'],
    ['get', 'formation', 'number-sync-standbys'], ['get', 'formation', 'number-sync-standbys', '--json'],
    ['get', 'node', 'candidate-priority', '--name', 'node_a'], ['get', 'node', 'candidate-priority', '--name', 'node_a', '--json'],
    ['get', 'node', 'replication-quorum', '--name', 'node_b'], ['get', 'node', 'replication-quorum', '--name', 'node_b', '--json'],
    ['show', 'standby-names'], ['show', 'standby-names', '--json'],
  ];
  it.each(commands.map((c) => [c.join(' '), c]))('%s', async (_name, args) => {
    const { theirs, ours } = await sideBySide([...(args as string[]), '--monitor', monitorUri]);
    if ((args as string[]).includes('--json')) expect(JSON.parse(ours.stdout)).toEqual(JSON.parse(theirs.stdout));
    else expect(ours.stdout).toBe(theirs.stdout);
  }, 130_000);

  // Local commands reading the monitor's own files through --pgdata: the original reads our
  // configuration file as its own.
  const local: string[][] = [
    ['show', 'file'], ['show', 'file', '--json'], ['show', 'file', '--config'], ['show', 'file', '--config', '--contents'],
    ['show', 'file', '--config', '--json'], ['show', 'file', '--pid'], ['config', 'get', 'pg_autoctl.role'],
    ['config', 'get', 'postgresql.port'], ['config', 'get', 'postgresql.port', '--json'], ['show', 'uri'], ['show', 'state'],
    ['show', 'file', '--all'], ['show', 'systemd'],
  ];
  it.each(local.map((c) => [c.join(' '), c]))('%s --pgdata <monitor>', async (_name, args) => {
    const { theirs, ours } = await sideBySide([...(args as string[]), '--pgdata', pgdata]);
    if ((args as string[]).includes('--json') && !(args as string[]).includes('--config')) expect(JSON.parse(ours.stdout)).toEqual(JSON.parse(theirs.stdout));
    // show systemd names the program that runs the service: each its own (ours: the installed entry point)
    else expect(ours.stdout.split(CLI).join('<program>')).toBe(theirs.stdout.split(ORIGINAL).join('<program>'));
  }, 130_000);

  // Commands run on a data node: the original reads the node's configuration file (as our
  // `create postgres` writes it) and asks the monitor. Not its state file: the keeper's state
  // file is ours (JSON), the original's is a C struct, so `do fsm state`, `show state
  // --local` and `do monitor get others` are not compared.
  const onDataNode: string[][] = [
    ['show', 'file'], ['show', 'file', '--all'], ['config', 'get', 'postgresql.port'], ['config', 'get', 'pg_autoctl.name'],
    ['show', 'state'], ['show', 'events', '--count', '4'], ['show', 'standby-names'], ['show', 'settings'],
    ['get', 'node', 'candidate-priority'], ['get', 'node', 'replication-quorum'], ['get', 'formation', 'settings'],
    ['get', 'formation', 'number-sync-standbys'], ['do', 'monitor', 'get', 'primary'],
  ];
  it.each(onDataNode.map((c) => [c.join(' '), c]))('%s --pgdata <data node>', async (_name, args) => {
    const a = fakeDataNode('node_a', n1, p1, 'primary');
    const { theirs, ours } = await sideBySide([...(args as string[]), '--pgdata', a], { PG_AUTOCTL_DEBUG: '1' });
    expect(ours.stdout).toBe(theirs.stdout);
  }, 130_000);

  // The machine's own facts (the original finds the default route's address without sending
  // a packet: a UDP socket connected to 8.8.8.8, never written to).
  it.each([['ipaddr'], ['cidr'], ['hostname']])('do show %s', async (what) => {
    const { theirs, ours } = await sideBySide(['do', 'show', what], { PG_AUTOCTL_DEBUG: '1' });
    expect(ours.stdout).toBe(theirs.stdout);
  }, 130_000);

  it('status of a monitor whose service does not run: the same exit code (3) and output', async () => {
    const [theirs, ours] = [await original(['status', '--pgdata', pgdata]), await cli(['status', '--pgdata', pgdata])];
    expect(theirs.code, theirs.stderr).toBe(3);
    expect(ours.code, ours.stderr).toBe(3);
    expect(ours.stdout).toBe(theirs.stdout);
  }, 130_000);

  it('status of a monitor whose service runs: both exit 0, the same output', async () => {
    // the service's health checks find no Postgres behind the fake nodes: their health is put
    // back afterwards, so that no later heartbeat starts a failover
    const health = await q('SELECT nodeid, health, healthchecktime FROM pgautofailover.node ORDER BY nodeid');
    const service = spawn(process.execPath, [mainJs, 'run', '--pgdata', pgdata], { env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    service.stderr.on('data', (d) => (log += d));
    const exited = new Promise((res) => service.on('close', res));
    try {
      const deadline = Date.now() + 30_000;
      while ((await cli(['status', '--pgdata', pgdata], {}, 10_000)).code !== 0) {
        if (Date.now() > deadline) throw new Error(`the monitor service did not start:\n${log}`);
        await sleep(250);
      }
      const { theirs, ours } = await sideBySide(['status', '--pgdata', pgdata]);
      expect(ours.stdout).toBe(theirs.stdout);
    } finally {
      service.kill('SIGTERM');
      await exited;
      for (const h of health) {
        await q('UPDATE pgautofailover.node SET health = $2, healthchecktime = $3 WHERE nodeid = $1', [h.nodeid, h.health, h.healthchecktime]);
      }
    }
    expect(await states()).toEqual({ node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 250_000);

  it('set node candidate-priority on a data node: the original and pgaf wait for the primary the same way', async () => {
    const b = fakeDataNode('node_b', n2, p2, 'secondary');
    const theirs = await withDriver(() => original(['set', 'node', 'candidate-priority', '30', '--pgdata', b]));
    expect(theirs.code, theirs.stderr).toBe(0);
    expect((await q('SELECT candidatepriority FROM pgautofailover.node WHERE nodeid = $1', [n2]))[0].candidatepriority).toBe(30);
    const ours = await withDriver(() => cli(['set', 'node', 'candidate-priority', '50', '--pgdata', b]));
    expect(ours.code, ours.stderr).toBe(0);
    expect((await q('SELECT candidatepriority FROM pgautofailover.node WHERE nodeid = $1', [n2]))[0].candidatepriority).toBe(50);
    expect(ours.stdout.replace('50', '30')).toBe(theirs.stdout);
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 250_000);

  it('set node replication-quorum on a data node, false and true: the same output and effect', async () => {
    const b = fakeDataNode('node_b', n2, p2, 'secondary');
    const quorum = async () => (await q('SELECT replicationquorum FROM pgautofailover.node WHERE nodeid = $1', [n2]))[0].replicationquorum;
    const set = (run: typeof original, value: string) => withDriver(() => run(['set', 'node', 'replication-quorum', value, '--pgdata', b]));
    const theirsOff = await set(original, 'false');
    expect(theirsOff.code, `the original: ${theirsOff.stderr}`).toBe(0);
    expect(await quorum()).toBe(false);
    const oursOn = await set(cli, 'true');
    expect(oursOn.code, oursOn.stderr).toBe(0);
    expect(await quorum()).toBe(true);
    const oursOff = await set(cli, 'false');
    expect(oursOff.code, oursOff.stderr).toBe(0);
    expect(await quorum()).toBe(false);
    const theirsOn = await set(original, 'true');
    expect(theirsOn.code, `the original: ${theirsOn.stderr}`).toBe(0);
    expect(await quorum()).toBe(true);
    expect(oursOff.stdout).toBe(theirsOff.stdout);
    expect(oursOn.stdout).toBe(theirsOn.stdout);
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 500_000);

  it('config check of the monitor: both exit 0 (the original also prints a summary, pgaf does not)', async () => {
    const theirs = await original(['config', 'check', '--pgdata', pgdata]);
    const ours = await cli(['config', 'check', '--pgdata', pgdata]);
    expect(theirs.code, `the original: ${theirs.stderr}`).toBe(0);
    expect(ours.code, ours.stderr).toBe(0);
  }, 130_000);

  it('version --json: both exit 0, the same keys in the same order, values of the same types', async () => {
    const { theirs, ours } = await sideBySide(['version', '--json']);
    const shape = (r: Result) => Object.entries(JSON.parse(r.stdout) as Record<string, unknown>).map(([k, v]) => `${k}: ${typeof v}`);
    expect(shape(ours)).toEqual(shape(theirs));
  }, 130_000);

  it('create formation, disable/enable secondary, a duplicate, drop formation: the same exit codes, output and effect', async () => {
    const row = async (f: string) =>
      q('SELECT kind, dbname, opt_secondary, number_sync_standbys FROM pgautofailover.formation WHERE formationid = $1', [f]);
    const steps: Array<[(f: string) => string[], number]> = [
      [(f) => ['create', 'formation', '--formation', f, '--kind', 'pgsql', '--dbname', 'app'], 0],
      [(f) => ['disable', 'secondary', '--formation', f], 0],
      [(f) => ['enable', 'secondary', '--formation', f], 0],
      [(f) => ['create', 'formation', '--formation', f, '--kind', 'pgsql'], 6],
      [(f) => ['drop', 'formation', '--formation', f], 0],
    ];
    try {
      // on the monitor's host (--pgdata): the original's enable|disable secondary take no --monitor
      for (const [step, code] of steps) {
        const theirs = await original([...step('theirs'), '--pgdata', pgdata]);
        const ours = await cli([...step('ours'), '--pgdata', pgdata]);
        expect(theirs.code, `the original pg_autoctl ${step('theirs').join(' ')}: ${theirs.stderr}`).toBe(code);
        expect(ours.code, `${step('ours').join(' ')}: ${ours.stderr}`).toBe(code);
        expect(ours.stdout).toBe(theirs.stdout);
        expect(await row('ours')).toEqual(await row('theirs'));
      }
      expect(await row('ours')).toEqual([]);
    } finally {
      // a failed step leaves no formation behind for the tests after this one
      for (const f of ['theirs', 'ours']) await q('SELECT pgautofailover.drop_formation($1)', [f]).catch(() => undefined);
    }
  }, 1_400_000);

  it('drop node --name --force: the same exit code, output and effect', async () => {
    await register(7204, 'node_x');
    await register(7205, 'node_y');
    const drop = (name: string) => ['drop', 'node', '--monitor', monitorUri, '--formation', 'default', '--name', name, '--force'];
    const theirs = await original(drop('node_x'));
    const ours = await cli(drop('node_y'));
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(ours.code, ours.stderr).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(await q(`SELECT nodename FROM pgautofailover.node WHERE nodename IN ('node_x', 'node_y')`)).toEqual([]);
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 170_000);

  // Refusals: the same exit code (the messages are ours).
  const refusals: string[][] = [
    ['show', 'uri', '--formation', 'nosuch'], ['show', 'settings', '--formation', 'nosuch'], ['show', 'standby-names', '--group', '3'],
    ['get', 'node', 'candidate-priority', '--name', 'nosuch'], ['get', 'formation', 'number-sync-standbys', '--formation', 'nosuch'],
    ['set', 'formation', 'number-sync-standbys', '5'], ['set', 'node', 'candidate-priority', '101', '--name', 'node_b'],
    ['show', 'events', '--count', 'abc'], ['show', 'state', '--bogus'], ['perform', 'failover', '--group', '4'],
    ['drop', 'node', '--formation', 'default', '--name', 'nosuch', '--force'],
  ];
  it.each(refusals.map((c) => [c.join(' '), c]))('refuses %s with the same exit code', async (_name, args) => {
    const withMonitor = [...(args as string[]), '--monitor', monitorUri];
    const [theirs, ours] = [await original(withMonitor), await cli(withMonitor)];
    expect(theirs.code).not.toBe(0);
    expect(ours.code, ours.stderr).toBe(theirs.code);
    expect(await states()).toEqual({ node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 130_000);

  it('the original pg_autoctl drives a switchover on our monitor (SQL API and NOTIFY payloads), and pgaf switches back', async () => {
    const theirs = await withDriver(() => original(['perform', 'switchover', '--monitor', monitorUri, '--wait', '30']));
    expect(theirs.code, theirs.stderr).toBe(0);
    // it followed our notifications until node_b was primary: its table shows every step
    expect(theirs.stdout).toMatch(/\| +node_b \| .*\| +wait_primary \| +primary\n/);
    await settle([n1, n2], { node_a: 'secondary/secondary', node_b: 'primary/primary' });
    const ours = await withDriver(() => cli(['perform', 'switchover', '--monitor', monitorUri, '--wait', '30']));
    expect(ours.code, ours.stderr).toBe(0);
    expect(ours.stdout.split('\n')[0]!.split('|').map((c) => c.trim())).toEqual(theirs.stdout.split('\n')[0]!.split('|').map((c) => c.trim()));
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 300_000);

  it('the original pg_autoctl performs a failover on our monitor, and pgaf fails back: the same table', async () => {
    const theirs = await withDriver(() => original(['perform', 'failover', '--monitor', monitorUri, '--wait', '30']));
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(theirs.stdout).toMatch(/\| +node_b \| .*\| +wait_primary \| +primary\n/);
    await settle([n1, n2], { node_a: 'secondary/secondary', node_b: 'primary/primary' });
    const ours = await withDriver(() => cli(['perform', 'failover', '--monitor', monitorUri, '--wait', '30']));
    expect(ours.code, ours.stderr).toBe(0);
    expect(ours.stdout).toMatch(/\| +node_a \| .*\| +wait_primary \| +primary\n/);
    const header = (r: Result) => r.stdout.split('\n')[0]!.split('|').map((c) => c.trim());
    expect(header(ours)).toEqual(header(theirs));
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 300_000);
});

describe('show: the original table layouts and --json', () => {
  it('show state: columns, one row per node, --json = current_state() rows', async () => {
    const r = await cli(['show', 'state', '--pgdata', pgdata]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ *Name \| +Node \| +Host:Port \| +TLI: LSN \| +Connection \| +Reported State \| +Assigned State$/);
    expect(lines[1]).toMatch(/^-+(-\+-+)+$/);
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/node_a \| +\d+ \| 127\.0\.0\.1:7201 \| +1: 0\/3000000 \| +read-write[ !?]* \| +primary \| +primary$/);
    const js = JSON.parse((await cli(['show', 'state', '--json', '--monitor', monitorUri])).stdout);
    expect(js.map((n: any) => n.nodename)).toEqual(['node_a', 'node_b']);
    expect(js[0]).toMatchObject({ nodehost: '127.0.0.1', nodeport: p1, current_group_state: 'primary', assigned_group_state: 'primary' });
  }, 170_000);

  it('show events: columns and --json', async () => {
    const r = await cli(['show', 'events', '--pgdata', pgdata, '--count', '3']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ +Event Time \| +Node \| +Current State \| +Assigned State \| Comment$/);
    expect(lines).toHaveLength(5);
    const js = JSON.parse((await cli(['show', 'events', '--json', '--monitor', monitorUri, '--count', '2'])).stdout);
    expect(js).toHaveLength(2);
    expect(js[0]).toHaveProperty('description');
  }, 170_000);

  it('show uri: table, --json, --formation monitor', async () => {
    const r = await cli(['show', 'uri', '--pgdata', pgdata]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ +Type \| +Name \| Connection String$/);
    expect(lines[2]).toMatch(/^ +monitor \| +monitor \| postgres:\/\/autoctl_node@127\.0\.0\.1:\d+\/pg_auto_failover\?sslmode=prefer$/);
    expect(lines[3]).toMatch(/^ +formation \| +default \| postgres:\/\/127\.0\.0\.1:7201,127\.0\.0\.1:7202\/postgres\?/);
    const js = JSON.parse((await cli(['show', 'uri', '--json', '--pgdata', pgdata])).stdout);
    expect(js.map((x: any) => x.type)).toEqual(['monitor', 'formation']);
    expect(JSON.parse((await cli(['show', 'uri', '--json', '--pgdata', pgdata, '--formation', 'monitor'])).stdout)).toEqual({ monitor: monitorUri });
    const f = JSON.parse((await cli(['show', 'uri', '--json', '--pgdata', pgdata, '--formation', 'default'])).stdout);
    expect(Object.keys(f)).toEqual(['monitor', 'default']);
    expect(f.default).toMatch(/^postgres:\/\/127\.0\.0\.1:7201,127\.0\.0\.1:7202\/postgres\?/);
  }, 300_000);

  it('show file, show systemd, show ipaddr, do show ipaddr/cidr/hostname', async () => {
    let r = await cli(['show', 'file', '--pgdata', pgdata]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^   File \| Path\n--------\+----------------\n Config \| .*pg_autoctl\.cfg\n    Pid \| .*pg_autoctl\.pid\n\n$/);
    expect(Object.keys(JSON.parse((await cli(['show', 'file', '--json', '--pgdata', pgdata])).stdout))).toEqual(['config', 'pid']);
    expect((await cli(['show', 'file', '--config', '--json', '--pgdata', pgdata])).stdout).toBe(join(xdg.XDG_CONFIG_HOME, 'pg_autoctl', pgdata, 'pg_autoctl.cfg') + '\n');
    expect(JSON.parse((await cli(['show', 'file', '--config', '--contents', '--json', '--pgdata', pgdata])).stdout).pg_autoctl.role).toBe('monitor');
    r = await cli(['show', 'file', '--config', '--pgdata', pgdata]);
    expect(r.stdout.trim()).toBe(join(xdg.XDG_CONFIG_HOME, 'pg_autoctl', pgdata, 'pg_autoctl.cfg'));
    r = await cli(['show', 'file', '--config', '--contents', '--pgdata', pgdata]);
    expect(r.stdout).toMatch(/^\[pg_autoctl\]\nrole = monitor/);
    r = await cli(['show', 'file', '--state', '--pgdata', pgdata]);
    expect(r.code).toBe(1);
    r = await cli(['show', 'systemd', '--pgdata', pgdata]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Environment = 'PGDATA=${pgdata}'`);
    expect(r.stdout).toMatch(/ExecStart = .* run\n/);
    expect(r.stdout).toContain('WantedBy = multi-user.target');
    r = await cli(['show', 'ipaddr', '--pgdata', pgdata]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('127.0.0.1\n');
    r = await cli(['do', 'show', 'ipaddr', '--monitor', monitorUri]);
    expect(r.stdout).toBe('127.0.0.1\n');
    r = await cli(['do', 'show', 'cidr', '--monitor', monitorUri]);
    expect(r.stdout).toBe('127.0.0.0/8\n');
    r = await cli(['do', 'show', 'hostname']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().length).toBeGreaterThan(0);
  }, 830_000);

  it('show state --local reads the state file of a data node; PGDATA from the environment', async () => {
    const a = fakeDataNode('node_a', n1, p1, 'primary');
    const r = await cli(['show', 'state', '--local'], { PGDATA: a });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/node_a \| +\d+ \| 127\.0\.0\.1:7201 \| .* \| +primary \| +primary\n\n$/);
    // settings default to the node of $PGDATA
    const g = await cli(['get', 'node', 'candidate-priority'], { PGDATA: a });
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toBe('50\n'.replace('50', String((await q('SELECT candidatepriority FROM pgautofailover.node WHERE nodeid=$1', [n1]))[0].candidatepriority)));
  }, 170_000);

  it('version --json has the original keys', async () => {
    const r = await cli(['version', '--json']);
    expect(r.code).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout)).sort()).toEqual(['pg_autoctl', 'pg_major', 'pg_version', 'pg_version_num', 'pg_version_str', 'pgautofailover'].sort());
  }, 100_000);
});

describe('get / set node and formation properties', () => {
  it('get prints bare values; --json objects', async () => {
    let r = await cli(['get', 'node', 'candidate-priority', '--monitor', monitorUri, '--name', 'node_b']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\d+\n$/);
    r = await cli(['get', 'node', 'replication-quorum', '--monitor', monitorUri, '--name', 'node_b']);
    expect(r.stdout).toBe('true\n');
    r = await cli(['get', 'node', 'replication-quorum', '--monitor', monitorUri, '--name', 'node_b', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ name: 'node_b', 'replication-quorum': true });
    r = await cli(['get', 'formation', 'number-sync-standbys', '--monitor', monitorUri]);
    expect(r.stdout).toBe('0\n');
    r = await cli(['get', 'formation', 'number-sync-standbys', '--monitor', monitorUri, '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ 'number-sync-standbys': 0 });
    r = await cli(['get', 'formation', 'settings', '--monitor', monitorUri]);
    expect(r.stdout.split('\n')[0]).toMatch(/^ +Context \| +Name \| +Setting \| Value +$/);
    r = await cli(['get', 'formation', 'settings', '--monitor', monitorUri, '--json']);
    expect(JSON.parse(r.stdout).formation[0]).toMatchObject({ context: 'formation', setting: 'number_sync_standbys' });
  }, 500_000);

  it('set candidate-priority waits for the primary to apply it, and prints the value', async () => {
    const r = await withDriver(() => cli(['set', 'node', 'candidate-priority', '30', '--monitor', monitorUri, '--name', 'node_b', '--wait', '30']));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('30\n');
    expect((await cli(['get', 'node', 'candidate-priority', '--monitor', monitorUri, '--name', 'node_b'])).stdout).toBe('30\n');
    const js = await withDriver(() =>
      cli(['set', 'node', 'candidate-priority', '50', '--monitor', monitorUri, '--name', 'node_b', '--json', '--wait', '30']),
    );
    expect(js.code, js.stderr).toBe(0);
    expect(JSON.parse(js.stdout)).toEqual({ 'candidate-priority': 50 });
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 230_000);

  it('set replication-quorum false then true', async () => {
    let r = await withDriver(() => cli(['set', 'node', 'replication-quorum', 'false', '--monitor', monitorUri, '--name', 'node_b', '--wait', '30']));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('false\n');
    r = await withDriver(() => cli(['set', 'node', 'replication-quorum', 'true', '--monitor', monitorUri, '--name', 'node_b', '--wait', '30']));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('true\n');
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 170_000);

  it('a value the command line rejects: exit 1 naming it, before any change', async () => {
    const before = await q('SELECT nodeid, candidatepriority, replicationquorum FROM pgautofailover.node ORDER BY nodeid');
    let r = await cli(['set', 'node', 'candidate-priority', '101', '--monitor', monitorUri, '--name', 'node_b']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/candidate-priority must be an integer from 0 to 100, got "101"/);
    r = await cli(['set', 'node', 'candidate-priority', 'high', '--monitor', monitorUri, '--name', 'node_b']);
    expect(r.code).toBe(1);
    r = await cli(['set', 'node', 'replication-quorum', 'maybe', '--monitor', monitorUri, '--name', 'node_b']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/replication-quorum must be true or false, got "maybe"/);
    r = await cli(['set', 'formation', 'number-sync-standbys', 'x', '--monitor', monitorUri]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/number-sync-standbys must be a non-negative integer/);
    r = await cli(['set', 'node', 'candidate-priority', '--monitor', monitorUri, '--name', 'node_b']);
    expect(r.code).toBe(1);
    r = await cli(['get', 'node', 'candidate-priority', '--monitor', monitorUri, '--name', 'nobody']);
    expect(r.code).toBe(6); // the monitor has no such node: a monitor error, as the original
    expect(r.stderr).toMatch(/no node named "nobody"/);
    expect(await q('SELECT nodeid, candidatepriority, replicationquorum FROM pgautofailover.node ORDER BY nodeid')).toEqual(before);
  }, 430_000);

  it('a value the monitor refuses: exit 6 with its reason, nothing changes', async () => {
    const r = await cli(['set', 'formation', 'number-sync-standbys', '1', '--monitor', monitorUri, '--wait', '5']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/the monitor refused: cannot set number_sync_standbys of formation "default" to 1: it needs 2 quorum standbys and has 1/);
    expect((await cli(['get', 'formation', 'number-sync-standbys', '--monitor', monitorUri])).stdout).toBe('0\n');
    const ok = await withDriver(() => cli(['set', 'formation', 'number-sync-standbys', '0', '--monitor', monitorUri, '--json', '--wait', '30']));
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ 'number-sync-standbys': 0, synchronous_standby_names: `ANY 1 (pgautofailover_standby_${n2})` });
    expect(ok.stderr).toMatch(/primary node has now set synchronous_standby_names = 'ANY 1 \(pgautofailover_standby_\d+\)'/);
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 230_000);

  it('set node metadata updates the monitor and the local configuration', async () => {
    const b = fakeDataNode('node_b', n2, p2, 'secondary');
    let r = await cli(['set', 'node', 'metadata', '--pgdata', b, '--name', 'node_bee']);
    expect(r.code, r.stderr).toBe(0);
    expect((await q('SELECT nodename FROM pgautofailover.node WHERE nodeid = $1', [n2]))[0].nodename).toBe('node_bee');
    expect((await cli(['config', 'get', 'pg_autoctl.name', '--pgdata', b])).stdout).toBe('node_bee\n');
    r = await cli(['set', 'node', 'metadata', '--pgdata', b, '--name', 'node_b', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ pg_autoctl: { name: 'node_b', hostname: '127.0.0.1' }, postgresql: { port: String(p2) } });
    // run --name updates the metadata before the keeper starts, as the original
    const keeper = spawn(process.execPath, [mainJs, 'run', '--pgdata', b, '--name', 'node_run'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let keeperErr = '';
    keeper.stderr.on('data', (d) => (keeperErr += d));
    const deadline = Date.now() + 15_000;
    // the metadata is written (monitor, then config file) before the keeper starts
    while (Date.now() < deadline && !/Keeper of node node_run starts/.test(keeperErr)) await sleep(100);
    keeper.kill('SIGTERM');
    await new Promise((res) => keeper.on('close', res));
    expect((await q('SELECT nodename FROM pgautofailover.node WHERE nodeid = $1', [n2]))[0].nodename, keeperErr).toBe('node_run');
    expect((await cli(['config', 'get', 'pg_autoctl.name', '--pgdata', b])).stdout).toBe('node_run\n');
    r = await cli(['set', 'node', 'metadata', '--pgdata', b, '--name', 'node_b']);
    expect(r.code, r.stderr).toBe(0);
    r = await cli(['set', 'node', 'metadata', '--pgdata', b]);
    expect(r.code).toBe(1);
    r = await cli(['set', 'node', 'metadata', '--pgdata', b, '--pgport', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--pgport must be an integer between 1 and 65535/);
  }, 500_000);
});

describe('formations', () => {
  it('create formation, refuse a duplicate, disable/enable secondary, drop formation', async () => {
    let r = await cli(['create', 'formation', '--monitor', monitorUri, '--formation', 'reports', '--number-sync-standbys', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ formation: 'reports', kind: 'pgsql', dbname: 'postgres', opt_secondary: true, number_sync_standbys: 0 });
    r = await cli(['create', 'formation', '--monitor', monitorUri, '--formation', 'reports']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/formation "reports" already exists/);
    r = await cli(['disable', 'secondary', '--monitor', monitorUri, '--formation', 'reports']);
    expect(r.code, r.stderr).toBe(0);
    expect((await q(`SELECT opt_secondary FROM pgautofailover.formation WHERE formationid = 'reports'`))[0].opt_secondary).toBe(false);
    r = await cli(['enable', 'secondary', '--monitor', monitorUri, '--formation', 'reports']);
    expect(r.code, r.stderr).toBe(0);
    expect((await q(`SELECT opt_secondary FROM pgautofailover.formation WHERE formationid = 'reports'`))[0].opt_secondary).toBe(true);
    r = await cli(['drop', 'formation', '--monitor', monitorUri, '--formation', 'reports']);
    expect(r.code, r.stderr).toBe(0);
    expect(await q(`SELECT 1 FROM pgautofailover.formation WHERE formationid = 'reports'`)).toHaveLength(0);
    r = await cli(['drop', 'formation', '--monitor', monitorUri, '--formation', 'default']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/it still has nodes/);
    r = await cli(['create', 'formation', '--monitor', monitorUri]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--formation is required/);
    r = await cli(['create', 'formation', '--monitor', monitorUri, '--formation', 'c', '--kind', 'citus']);
    expect(r.code).toBe(1);
  }, 560_000);
});

describe('older forms of the first README', () => {
  it('drop node --nodename (for --hostname), show state --group, a monitor URI without a port', async () => {
    const id = await register(7203, 'node_c');
    let r = await cli(['show', 'state', '--monitor', monitorUri, '--group', '0', '--json']);
    expect(JSON.parse(r.stdout).map((n: any) => n.nodename)).toContain('node_c');
    r = await cli(['drop', 'node', '--monitor', monitorUri, '--nodename', '127.0.0.1', '--pgport', '7203', '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(await q('SELECT 1 FROM pgautofailover.node WHERE nodeid = $1', [id])).toHaveLength(0);
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
    // no port in the URI: 5432, where no monitor listens here
    r = await cli(['show', 'state', '--monitor', 'postgres://autoctl_node@127.0.0.1/pg_auto_failover']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/cannot connect to the monitor at 127\.0\.0\.1:5432/);
  }, 230_000);
});

describe('bad input: exit 1, a message naming the option, nothing on disk changes', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown command', ['frobnicate'], /Unknown argument: frobnicate/],
    ['unknown subcommand', ['show', 'nodes'], /Unknown argument: nodes/],
    ['unknown option', ['show', 'state', '--frobnicate'], /Unknown argument(s)?: frobnicate/],
    ['missing command', [], /a command is needed/],
    ['missing subcommand', ['perform'], /perform what\?/],
    ['option without its value', ['show', 'state', '--formation'], /Not enough arguments following: formation/],
    ['bad port', ['create', 'monitor', '--pgdata', join(dir, 'm2'), '--pgport', '99999'], /--pgport must be an integer between 1 and 65535, got "99999"/],
    ['bad port text', ['drop', 'node', '--monitor', 'postgres://x@127.0.0.1/pg_auto_failover', '--hostname', 'h', '--pgport', 'abc'], /--pgport must be an integer/],
    ['bad priority', ['create', 'postgres', '--pgdata', join(dir, 'n9'), '--monitor', 'postgres://autoctl_node@127.0.0.1/pg_auto_failover', '--auth', 'trust', '--candidate-priority', '200'], /--candidate-priority must be an integer from 0 to 100/],
    ['bad state', ['do', 'fsm', 'assign', 'flying'], /unknown state "flying"/],
    ['bad URI', ['show', 'state', '--monitor', 'http://example.com/'], /--monitor must be a postgres:\/\/ URI/],
    ['bad URI port', ['show', 'state', '--monitor', 'postgres://h:0/db'], /--monitor has an invalid port "0"/],
    ['bad group', ['show', 'state', '--monitor', 'postgres://h/db', '--group', '-1'], /--group must be a non-negative integer/],
    ['bad auth', ['create', 'monitor', '--pgdata', join(dir, 'm3'), '--auth', 'password'], /Invalid values:\s+Argument: auth/],
    ['bad wait', ['perform', 'failover', '--monitor', 'postgres://h/db', '--wait', 'soon'], /--wait must be a non-negative integer/],
    ['bad formation name', ['show', 'state', '--monitor', 'postgres://h/db', '--formation', 'a b'], /--formation must be a formation name/],
    // hostile input (#10): the full matrix is test/e2e/hostile-input.test.ts
    ['hostile host', ['drop', 'node', '--monitor', 'postgres://h/db', '--hostname', '0.0.0.0/0 trust #', '--pgport', '5432'], /--hostname must be a host name or an IP address, got "0\.0\.0\.0\/0 trust #": it holds whitespace/],
    ['hostile node name', ['get', 'node', 'candidate-priority', '--monitor', 'postgres://h/db', '--name', 'a\nb'], /--name must be a node name of 1 to 63 characters/],
    ['HBA keyword as a formation', ['show', 'state', '--monitor', 'postgres://h/db', '--formation', 'all'], /--formation must be a formation name .*: it is a pg_hba.conf keyword/],
    ['conflicting options', ['stop', '--fast', '--immediate', '--pgdata', pgdata], /mutually exclusive/],
    ['no pgdata', ['status'], /--pgdata is required \(or set the PGDATA environment variable\)/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const before = snapshot();
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(snapshot()).toBe(before);
  }, 100_000);

  it('exit codes of the other classes: 2 configuration, 3 state, 6 monitor', async () => {
    let r = await cli(['config', 'get', '--pgdata', join(dir, 'nowhere')]);
    expect(r.code).toBe(2);
    r = await cli(['status', '--pgdata', pgdata]);
    expect(r.code).toBe(3);
    const dead = await freePort();
    r = await cli(['show', 'state', '--monitor', `postgres://autoctl_node@127.0.0.1:${dead}/pg_auto_failover`]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/cannot connect to the monitor at 127\.0\.0\.1:\d+/);
  }, 230_000);

  it('-q silences info lines, -v adds debug lines', async () => {
    const quiet = await cli(['-q', 'enable', 'secondary', '--monitor', monitorUri]);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    const loud = await cli(['enable', 'secondary', '--monitor', monitorUri]);
    expect(loud.stderr).toMatch(/INFO/);
    const debug = await cli(['-v', 'show', 'ipaddr']);
    expect(debug.stderr).toMatch(/DEBUG/);
  }, 230_000);
});

describe('--help through the program', () => {
  // Every command's --help is checked in process by test/unit/cli-compat.test.ts; here a
  // sample goes through the installed program.
  const commands = [[], ['show', 'state'], ['set', 'node', 'candidate-priority'], ['watch'], ['do', 'fsm', 'assign']];
  it('prints usage and exits 0', async () => {
    const queue = [...commands];
    const worker = async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const r = await cli([...c, '--help'], { PG_AUTOCTL_DEBUG: '1' });
        expect(r.code, `${c.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.stdout, c.join(' ')).toMatch(/^pg(af|_autoctl) /);
        expect(r.stdout, c.join(' ')).toMatch(/--help/);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  }, 230_000);

  it('stops quietly, exit 0, when the reader of its output is gone (| head)', async () => {
    const child = spawn(process.execPath, [mainJs, 'show', 'events', '--count', '50', '--monitor', monitorUri], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((res) => child.on('close', res));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });

  it('runs under the name pg_autoctl', async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(CLI, join(bin, 'pg_autoctl')); // as npm links the installed program
    const r = spawnSync(join(bin, 'pg_autoctl'), ['show', 'uri', '--formation', 'monitor', '--pgdata', pgdata], { env: env(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${monitorUri}\n`);
    const h = spawnSync(join(bin, 'pg_autoctl'), ['--help'], { env: env(), encoding: 'utf8' });
    expect(h.stdout).toMatch(/^pg_autoctl <command>/);
  });

  it('do is listed only when PG_AUTOCTL_DEBUG is set', async () => {
    expect((await cli(['--help'])).stdout).not.toMatch(/^ +pgaf do /m);
    expect((await cli(['--help'], { PG_AUTOCTL_DEBUG: '1' })).stdout).toMatch(/^ +pgaf do /m);
  }, 170_000);

  it('bash completion script and completions', async () => {
    const r = await cli(['completion']);
    expect(r.stdout).toMatch(/complete .* pgaf\n/);
    expect(r.stdout).toMatch(/complete .* pg_autoctl\n/);
    const c = await cli(['--get-yargs-completions', 'pgaf', 'get', 'node', '']);
    expect(c.stdout.split('\n')).toEqual(expect.arrayContaining(['candidate-priority', 'replication-quorum']));
  }, 170_000);
});

describe('debug do commands (PG_AUTOCTL_DEBUG)', () => {
  it('do monitor get primary|others, do fsm list|state|nodes get|init, do pgsetup ready|discover', async () => {
    const dbg = { PG_AUTOCTL_DEBUG: '1' };
    let r = await cli(['do', 'monitor', 'get', 'primary', '--monitor', monitorUri], dbg);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`default/0 127.0.0.1:${p1}\n`);
    r = await cli(['do', 'monitor', 'get', 'primary', '--monitor', monitorUri, '--json'], dbg);
    expect(JSON.parse(r.stdout)).toEqual({ node_id: n1, name: 'node_a', host: '127.0.0.1', port: p1 });
    const b = fakeDataNode('node_b', n2, p2, 'secondary');
    r = await cli(['do', 'monitor', 'get', 'others', '--pgdata', b, '--json'], dbg);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ node_id: n1, node_name: 'node_a', node_port: p1, node_is_primary: true })]);
    r = await cli(['do', 'fsm', 'nodes', 'get', '--pgdata', b], dbg);
    expect(JSON.parse(r.stdout)[0].node_id).toBe(n1);
    r = await cli(['do', 'fsm', 'list'], dbg);
    expect(r.stdout.split('\n')[0]).toMatch(/^ +Current State \| +Assigned State \| Comment$/);
    expect(r.stdout).toMatch(/init \| +single \| /);
    r = await cli(['do', 'fsm', 'state', '--pgdata', b], dbg);
    expect(r.code, r.stderr).toBe(0);
    const st = JSON.parse(r.stdout);
    expect(st.state).toMatchObject({ current_role: 'secondary', assigned_role: 'secondary', nodeId: n2, groupId: 0 });
    expect(st.postgres).toMatchObject({ pgdata: b, port: p2, is_running: false });
    r = await cli(['do', 'pgsetup', 'ready', '--pgdata', b], dbg);
    expect(r.code).toBe(4); // the original's exit code for a Postgres that is not ready
    r = await cli(['do', 'pgsetup', 'discover', '--pgdata', b], dbg);
    expect(JSON.parse(r.stdout)).toMatchObject({ pgdata: b, port: p2, is_running: false });
    r = await cli(['do', 'fsm', 'nodes', 'set', '/dev/null', '--pgdata', b], dbg);
    expect(r.code).toBe(2); // the node list of a node with a monitor comes from the monitor
    expect(r.stderr).toMatch(/this node has a monitor/);
    const c = fakeDataNode('node_c', 99, 7299, 'secondary');
    r = await cli(['do', 'fsm', 'init', '--pgdata', c], dbg);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ current_role: 'init', assigned_role: 'init', nodeId: 99 });
  }, 690_000);
});

describe('config check and the --watch of show', () => {
  it('config check validates the monitor configuration', async () => {
    const r = await cli(['config', 'check', '--pgdata', pgdata, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ role: 'monitor', postgres: { pgdata, port, is_running: true } });
  }, 100_000);

  it('show events --watch is the live view, until interrupted', async () => {
    const p = spawn(process.execPath, [mainJs, 'show', 'events', '--watch', '--monitor', monitorUri], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    p.stdout.on('data', (d) => (stdout += d));
    const deadline = Date.now() + 10_000;
    while ((stdout.match(/\x1b\[H/g) ?? []).length < 2 && Date.now() < deadline) await sleep(100);
    p.kill('SIGINT');
    const code = await new Promise<number | null>((res) => p.on('close', res));
    expect(code).toBe(0);
    expect((stdout.match(/\x1b\[H/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(stdout).toMatch(/Last events:/);
    const r = await cli(['show', 'state', '--watch', '--json', '--monitor', monitorUri]);
    expect(r.code).toBe(1);
  }, 100_000);
});

describe('watch in tmux', () => {
  it('shows the nodes, refreshes on a goal change, follows a resize, quits on q', async () => {
    if (spawnSync('tmux', ['-V']).status !== 0) throw new Error('tmux is required for this test');
    const rcFile = join(dir, 'watch.rc');
    const vars = Object.entries(env())
      .filter(([k]) => /^(PATH|HOME|USER|XDG_.*|PGHOST|LANG)$/.test(k))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(' ');
    const cmd = `env ${vars} TERM=xterm-256color ${JSON.stringify(process.execPath)} ${JSON.stringify(mainJs)} watch --monitor ${JSON.stringify(monitorUri)}; echo $? > ${JSON.stringify(rcFile)}`;
    const started = tmux('new-session', '-d', '-s', 'watch', '-x', '120', '-y', '40', cmd);
    expect(started.status, started.stderr).toBe(0);
    let pane = await paneUntil((t) => /node_a/.test(t) && /node_b/.test(t));
    expect(pane).toMatch(/Name \| +Node \| +Host:Port \| +TLI: LSN \| +Lag \| +Connection \| +Health \| +Reported State \| +Assigned State/);
    expect(pane).toMatch(/node_b .*127\.0\.0\.1:7202 .* secondary \| secondary/);
    expect(pane).toMatch(/Last events:/);

    // a goal change shows without any key press
    await q('SELECT pgautofailover.start_maintenance($1::bigint)', [n2]);
    pane = await paneUntil((t) => /node_b .*\| +(wait_maintenance|maintenance) *$/m.test(t), 5000);

    // resize: lines fit the new width
    expect(tmux('resize-window', '-t', 'watch', '-x', '70', '-y', '20').status).toBe(0);
    pane = await paneUntil((t) => t.split('\n').every((l) => l.length <= 70) && /node_a/.test(t) && /…/.test(t));

    tmux('send-keys', '-t', 'watch', 'q');
    const deadline = Date.now() + 10_000;
    while (!existsSync(rcFile) && Date.now() < deadline) await sleep(100);
    expect(readFileSync(rcFile, 'utf8').trim()).toBe('0');
    expect(tmux('has-session', '-t', 'watch').status).not.toBe(0);
    await settle([n1, n2], { node_b: 'maintenance/maintenance' });
    await q('SELECT pgautofailover.stop_maintenance($1::bigint)', [n2]);
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
  });
});

describe('drop monitor', () => {
  it('--destroy stops the monitor and removes PGDATA and its configuration', async () => {
    await db?.end().catch(() => undefined);
    db = undefined;
    const cfg = join(xdg.XDG_CONFIG_HOME, 'pg_autoctl', pgdata, 'pg_autoctl.cfg');
    const r = await cli(['drop', 'monitor', '--pgdata', pgdata, '--destroy']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(pgdata)).toBe(false);
    expect(existsSync(cfg)).toBe(false);
  }, 100_000);
});
