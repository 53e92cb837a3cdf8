// Drop-in behaviours of issue #11 checked with real processes: a monitor created with
// PG_REGRESS_SOCK_DIR set to a directory; every `do` and `show` subcommand on a monitor's PGDATA
// next to pg_auto_failover 2.0's own pg_autoctl (same exit code); the monitor service putting
// back the pgautofailover.* placeholders so that ALTER SYSTEM works; --auth skip never editing
// pg_hba.conf; and, on a running two-node formation, name/hostname/port changed with `config
// set` reaching the monitor, `do service restart postgres` returning once asked even when
// Postgres then fails to start, and --pg-hba-lan.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRunAs } from '../../lib/pgbin.js';
import { TestCluster } from '../support/cluster.js';
import { freePort } from '../support/postgres.js';
import { CLI, cleanEnv, runCli, runCollect, type CliResult } from '../support/run-cli.js';

const ORIGINAL = '/usr/bin/pg_autoctl';
const PG_CTL = '/usr/lib/postgresql/15/bin/pg_ctl';
const runAs = postgresRunAs();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function original(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return runCollect(ORIGINAL, args, env, timeoutMs);
}

function own(path: string): void {
  if (runAs) chownSync(path, runAs.uid, runAs.gid);
}

/** pg_ctl as the PGDATA owner */
function pgCtl(pgdata: string, args: string[]): void {
  const cmd = runAs ? ['setpriv', `--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--init-groups', PG_CTL] : [PG_CTL];
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), '-D', pgdata, ...args], { encoding: 'utf8', timeout: 90_000 });
  if (r.status !== 0) throw new Error(`pg_ctl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
}

describe('a monitor created with PG_REGRESS_SOCK_DIR=<dir>: do and show on its PGDATA as the original', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-e2e-dropin-'));
  const sockDir = join(dir, 'sockets');
  const pgdata = join(dir, 'monitor');
  const xdg = { XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'share'), XDG_RUNTIME_DIR: join(dir, 'run') };
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...cleanEnv(), ...xdg, PG_REGRESS_SOCK_DIR: sockDir, PG_AUTOCTL_DEBUG: '1', ...extra });
  const cli = (args: string[], timeoutMs = 60_000) => runCli(args, env(), timeoutMs);
  let port = 0;
  const started: number[] = [];

  /** a superuser session over the monitor's socket in sockDir */
  async function su<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ host: sockDir, port, user: runAs?.name ?? 'postgres', database: 'pg_auto_failover' });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  beforeAll(async () => {
    for (const d of [sockDir, xdg.XDG_RUNTIME_DIR]) mkdirSync(d, { recursive: true });
    for (const d of [dir, sockDir, xdg.XDG_RUNTIME_DIR]) own(d);
    port = await freePort();
    const r = await cli(['create', 'monitor', '--pgdata', pgdata, '--pgport', String(port), '--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl'], 120_000);
    if (r.code !== 0) throw new Error(`create monitor failed (${r.code}): ${r.stderr}`);
  }, 150_000);

  afterAll(() => {
    for (const pid of started) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const d of [pgdata, join(dir, 'skip')]) {
      if (existsSync(join(d, 'postmaster.pid'))) spawnSync('setpriv', [`--reuid=${runAs?.uid ?? 0}`, `--regid=${runAs?.gid ?? 0}`, '--init-groups', PG_CTL, '-D', d, '-m', 'immediate', 'stop']);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('Postgres has its socket in that directory, and the configuration says so', async () => {
    expect(existsSync(join(sockDir, `.s.PGSQL.${port}`))).toBe(true);
    expect(existsSync(`/tmp/.s.PGSQL.${port}`)).toBe(false);
    expect((await su((c) => c.query('SHOW unix_socket_directories'))).rows[0].unix_socket_directories).toBe(sockDir);
    expect((await cli(['config', 'get', 'postgresql.host', '--pgdata', pgdata])).stdout).toBe(`${sockDir}\n`);
  }, 90_000);

  // Every `do` and `show` subcommand on a monitor's PGDATA: the original accepts it (exit 0)
  // or refuses it (its keeper commands, exit 2 reading a monitor's file as a keeper's), and
  // pgaf answers with the same exit code. Both read PG_REGRESS_SOCK_DIR to find the socket.
  const onMonitor: string[][] = [
    ['do', 'pgsetup', 'ready'], ['do', 'pgsetup', 'wait'], ['do', 'pgsetup', 'discover'],
    ['do', 'fsm', 'state'], ['do', 'fsm', 'init'], ['do', 'fsm', 'step'], ['do', 'fsm', 'nodes', 'get'],
    ['do', 'monitor', 'get', 'others'], ['do', 'show', 'ipaddr'], ['do', 'show', 'cidr'],
    ['show', 'state'], ['show', 'events'], ['show', 'uri'], ['show', 'settings'], ['show', 'standby-names'],
    ['show', 'file'], ['show', 'file', '--all'], ['show', 'systemd'], ['show', 'state', '--local'],
  ];
  it.each(onMonitor.map((c) => [c.join(' '), c]))('%s --pgdata <monitor>: the exit code of the original', async (_name, args) => {
    const a = [...(args as string[]), '--pgdata', pgdata];
    const [theirs, ours] = [await original(a, env()), await cli(a)];
    expect(ours.code, `pgaf: ${ours.stderr}\noriginal (${theirs.code}): ${theirs.stderr}`).toBe(theirs.code);
  }, 130_000);

  it('do pgsetup ready on a stopped monitor: the original\'s exit code; wait then finds it started', async () => {
    pgCtl(pgdata, ['-m', 'fast', '-w', 'stop']);
    try {
      const [theirs, ours] = [await original(['do', 'pgsetup', 'ready', '--pgdata', pgdata], env()), await cli(['do', 'pgsetup', 'ready', '--pgdata', pgdata])];
      expect(theirs.code).not.toBe(0);
      expect(ours.code, ours.stderr).toBe(theirs.code);
    } finally {
      pgCtl(pgdata, ['-l', join(dir, 'restart.log'), '-w', 'start']);
    }
    expect((await cli(['do', 'pgsetup', 'wait', '--pgdata', pgdata])).code).toBe(0);
  }, 240_000);

  it('the monitor service puts back the pgautofailover.* placeholders at start: ALTER SYSTEM works again', async () => {
    // a server that does not know the names (what a monitor made by hand looks like):
    // placeholders gone from the settings file, Postgres restarted so that no backend knows them
    const settingsFile = join(pgdata, 'postgresql-auto-failover.conf');
    writeFileSync(settingsFile, readFileSync(settingsFile, 'utf8').split('\n').filter((l) => !l.startsWith('pgautofailover.')).join('\n'));
    pgCtl(pgdata, ['-m', 'fast', '-w', 'restart', '-l', join(dir, 'restart.log')]);
    const refused = await su((c) => c.query(`ALTER SYSTEM SET pgautofailover.primary_demote_timeout = '21s'`).then(() => undefined, (e: Error) => e));
    expect(refused?.message).toMatch(/unrecognized configuration parameter/);

    const service = spawn(process.execPath, [CLI, 'run', '--pgdata', pgdata], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(service.pid!);
    let log = '';
    service.stdout.on('data', (d) => (log += d));
    service.stderr.on('data', (d) => (log += d));
    const exited = new Promise((r) => service.once('close', r));
    try {
      const deadline = Date.now() + 60_000;
      while (!/Added the placeholders of \d+ pgautofailover\.\* settings/.test(log)) {
        if (Date.now() > deadline || service.exitCode !== null) throw new Error(`the monitor service did not add the placeholders:\n${log}`);
        await sleep(200);
      }
      // a backend forked after the reload knows the names
      let done = false;
      for (let i = 0; i < 100 && !done; i++) {
        done = await su((c) => c.query(`ALTER SYSTEM SET pgautofailover.primary_demote_timeout = '21s'`).then(() => true, () => false));
        if (!done) await sleep(100);
      }
      expect(done).toBe(true);
      const row = await su((c) => c.query(`SELECT setting, unit, source FROM pgautofailover.settings WHERE name = 'pgautofailover.primary_demote_timeout'`));
      expect(row.rows[0]).toEqual({ setting: '21000', unit: 'ms', source: 'configuration file' });
    } finally {
      service.kill('SIGTERM');
      await exited;
    }
  }, 130_000);

  it('--auth skip: pgaf never edits pg_hba.conf, not even to turn SSL on', async () => {
    const skip = join(dir, 'skip');
    const skipPort = await freePort();
    let r = await cli(['create', 'monitor', '--pgdata', skip, '--pgport', String(skipPort), '--hostname', '127.0.0.1', '--auth', 'skip', '--no-ssl'], 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect((await cli(['config', 'get', 'postgresql.hba_level', '--pgdata', skip])).stdout).toBe('skip\n');
    const hba = readFileSync(join(skip, 'pg_hba.conf'), 'utf8');
    const records = hba.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(records.filter((l) => /autoctl_node|pgautofailover|hostssl|trust/.test(l))).toEqual([]);
    r = await cli(['enable', 'ssl', '--ssl-self-signed', '--pgdata', skip], 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(skip, 'pg_hba.conf'), 'utf8')).toBe(hba);
    pgCtl(skip, ['-m', 'fast', '-w', 'stop']);
  }, 360_000);
});

describe('a running formation: config set reaches the monitor, do service restart postgres, --pg-hba-lan', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.primaryAndSecondary();
  }, 300_000);
  afterAll(async () => {
    await c?.destroy();
  }, 120_000);

  async function nodeRow(id: number): Promise<{ nodename: string; nodehost: string; nodeport: number }> {
    return (await c.monitorQuery<{ nodename: string; nodehost: string; nodeport: number }>('SELECT nodename, nodehost, nodeport FROM pgautofailover.node WHERE nodeid = $1', [id]))[0]!;
  }

  /** config set <key> <value> on node2, then until the monitor's row has it; the time it took is printed */
  async function setAndSee(id: number, key: string, value: string, seen: (r: { nodename: string; nodehost: string; nodeport: number }) => boolean): Promise<void> {
    const t0 = Date.now();
    const r = await c.cli('node2', ['config', 'set', key, value], 30_000);
    expect(r.code, r.stderr).toBe(0);
    const deadline = Date.now() + 30_000;
    let row = await nodeRow(id);
    while (!seen(row)) {
      if (Date.now() > deadline) throw new Error(`the monitor never saw ${key} = ${value}: ${JSON.stringify(row)}\n${c.logTail('node2', 20)}`);
      await sleep(100);
      row = await nodeRow(id);
    }
    console.log(`config set ${key} ${value}: on the monitor after ${Date.now() - t0} ms`);
  }

  it('config set pg_autoctl.name, pg_autoctl.hostname and postgresql.port on a running node reach the monitor', async () => {
    const id = (await c.stateOf('node2'))!.nodeid;
    const { nodehost, nodeport } = await nodeRow(id);
    await setAndSee(id, 'pg_autoctl.name', 'standby-a', (r) => r.nodename === 'standby-a');
    await setAndSee(id, 'pg_autoctl.hostname', 'localhost', (r) => r.nodehost === 'localhost');
    const otherPort = await freePort();
    await setAndSee(id, 'postgresql.port', String(otherPort), (r) => r.nodeport === otherPort);
    // and back: the keeper sends every change, not only the first
    await setAndSee(id, 'postgresql.port', String(nodeport), (r) => r.nodeport === nodeport);
    await setAndSee(id, 'pg_autoctl.hostname', nodehost, (r) => r.nodehost === nodehost);
    await setAndSee(id, 'pg_autoctl.name', 'node2', (r) => r.nodename === 'node2');
    expect(c.logTail('node2', 200)).toMatch(/The configuration changed the node metadata: the monitor now has "standby-a"/);
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
  }, 700_000);

  it('do service restart postgres returns once asked even when Postgres then fails to start; the keeper reports it, and recovers', async () => {
    const pgdata = join(c.member('node2').dir, 'pgdata');
    const auto = join(pgdata, 'postgresql.auto.conf');
    const before = readFileSync(auto, 'utf8');
    const oldPid = c.postmasterPid('node2');
    appendFileSync(auto, 'pgaf_test_not_a_setting = 1\n');
    try {
      const r = await c.cli('node2', ['do', 'service', 'restart', 'postgres']);
      expect(r.code, r.stderr).toBe(0);
      // the monitor learns that Postgres is not running on node2 (from its keeper or its health check)
      const deadline = Date.now() + 60_000;
      for (;;) {
        const row = (await c.monitorQuery<{ running: boolean; health: number }>('SELECT reportedpgisrunning AS running, health FROM pgautofailover.node WHERE nodename = $1', ['node2']))[0]!;
        if (!row.running || row.health === 0) break;
        if (Date.now() > deadline) throw new Error(`the monitor never saw node2's Postgres down: ${JSON.stringify(row)}\n${c.logTail('node2', 30)}`);
        await sleep(200);
      }
    } finally {
      writeFileSync(auto, before);
      own(auto);
    }
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 120_000);
    expect(c.postmasterPid('node2')).not.toBe(oldPid);
  }, 300_000);

  it('--pg-hba-lan opens the network of --hostname to --username on --dbname with the --auth method', async () => {
    await c.addNode('node3', ['--pg-hba-lan']);
    await c.waitForStates({ node1: 'primary', node2: 'secondary', node3: 'secondary' }, 180_000);
    const hba = readFileSync(join(c.member('node3').dir, 'pgdata', 'pg_hba.conf'), 'utf8').split('\n');
    // 127.0.0.1 is a loopback address: its network is the address itself
    expect(hba).toContain(`host postgres ${runAs?.name ?? 'postgres'} 127.0.0.1/32 trust`);
    expect((await c.cli('node3', ['config', 'get', 'postgresql.hba_level'])).stdout).toBe('lan\n');
  }, 300_000);
});
