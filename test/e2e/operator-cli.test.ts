// End to end: the operator commands of the built CLI against a real monitor created with the
// CLI (temp XDG dirs, a free 127.0.0.1 port). Two fake data nodes are registered and driven
// through node_active() over SQL, like obedient keepers; no keeper or data Postgres runs.
import { spawnSync } from 'node:child_process';
import { stopPostgresAt, writeFakeDataNode } from '../support/fake-node.js';
import { cleanEnv, runCli, type CliResult } from '../support/run-cli.js';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
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
const dir = mkdtempSync(join(tmpdir(), 'pgaf-e2e-ops-'));
const xdg = { XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'share'), XDG_RUNTIME_DIR: join(dir, 'run') };
const pgdata = join(dir, 'monitor');
const configFile = join(xdg.XDG_CONFIG_HOME, 'pg_autoctl', pgdata, 'pg_autoctl.cfg');
let port = 0;
let monitorUri = '';
let db: pg.Client | undefined;

type Result = CliResult;

function cli(args: string[], timeoutMs = 60_000): Promise<Result> {
  return runCli(args, { ...cleanEnv(), ...xdg, PGHOST: dir }, timeoutMs);
}

const { q, register, step, states, settle } = sqlKeepers(() => db);

function fakeDataNode(name: string, nodeId: number, nodePort: number, role: string): string {
  return writeFakeDataNode({ dir, xdg, monitorUri, name, nodeId, port: nodePort, role, runAs });
}

function stopPostgres(data: string): void {
  stopPostgresAt(data, runAs);
}

beforeAll(async () => {
  if (!existsSync(mainJs)) {
    const build = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr}`);
  }
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  port = await freePort();
  const r = await cli(['create', 'monitor', '--pgdata', pgdata, '--pgport', String(port), '--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl'], 120_000);
  if (r.code !== 0) throw new Error(`create monitor failed (${r.code}): ${r.stderr}`);
  monitorUri = r.stdout.trim();
  db = new pg.Client({ host: dir, port, user: runAs?.name ?? process.env.USER ?? 'postgres', database: 'pg_auto_failover' });
  await db.connect();
}, 170_000);

afterAll(async () => {
  await db?.end().catch(() => undefined);
  stopPostgres(pgdata);
  rmSync(dir, { recursive: true, force: true });
});

describe('config get / set on a monitor', () => {
  it('prints the whole file, and single values', async () => {
    const all = await cli(['config', 'get', '--pgdata', pgdata]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^\[pg_autoctl\]\nrole = monitor\n/);
    expect(all.stdout).toContain(`\n[postgresql]\n`);
    expect(all.stdout).toContain(`\nport = ${port}\n`);
    const one = await cli(['config', 'get', 'postgresql.port', '--pgdata', pgdata]);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe(`${port}\n`);
    const js = await cli(['config', 'get', '--json', '--pgdata', pgdata]);
    expect(JSON.parse(js.stdout).postgresql.port).toBe(port); // integers as numbers, as the original
  }, 230_000);

  it('sets a value and reads it back; listen_addresses also goes to the Postgres settings file', async () => {
    let r = await cli(['config', 'set', 'ssl.sslmode', 'require', '--pgdata', pgdata]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('require\n');
    expect((await cli(['config', 'get', 'ssl.sslmode', '--pgdata', pgdata])).stdout).toBe('require\n');
    r = await cli(['config', 'set', 'ssl.sslmode', 'prefer', '--pgdata', pgdata]);
    expect(r.stdout).toBe('prefer\n');

    r = await cli(['config', 'set', 'postgresql.listen_addresses', '127.0.0.1', '--pgdata', pgdata]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('127.0.0.1\n');
    expect(readFileSync(join(pgdata, 'postgresql-auto-failover.conf'), 'utf8')).toContain("listen_addresses = '127.0.0.1'\n");
    expect(r.stderr).toMatch(/Reloaded the monitor Postgres/);
    // the file keeps its owner
    expect(statSync(configFile).uid).toBe(process.getuid?.());
  }, 300_000);

  it('refuses an invalid value: exit 2 naming the key, file unchanged', async () => {
    const before = readFileSync(configFile, 'utf8');
    const mtime = statSync(configFile).mtimeMs;
    let r = await cli(['config', 'set', 'postgresql.port', '70000', '--pgdata', pgdata]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/postgresql\.port/);
    expect(r.stdout).toBe('');
    r = await cli(['config', 'set', 'postgresql.bogus', '1', '--pgdata', pgdata]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown configuration key postgresql\.bogus/);
    r = await cli(['config', 'set', 'pg_autoctl.role', 'keeper', '--pgdata', pgdata]);
    expect(r.code).toBe(2);
    r = await cli(['config', 'set', 'port', '5', '--pgdata', pgdata]);
    expect(r.code).toBe(1);
    r = await cli(['config', 'set', 'postgresql.port', '--pgdata', pgdata]);
    expect(r.code).toBe(1);
    r = await cli(['config', 'get', 'postgresql.nope', '--pgdata', pgdata]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/postgresql\.nope/);
    expect(readFileSync(configFile, 'utf8')).toBe(before);
    expect(statSync(configFile).mtimeMs).toBe(mtime);
  }, 430_000);
});

describe('status and reload of a monitor without its service', () => {
  it('status: Postgres runs but pgaf run does not: exit 3, JSON says so', async () => {
    const r = await cli(['status', '--pgdata', pgdata, '--json']);
    expect(r.code).toBe(3);
    const js = JSON.parse(r.stdout);
    expect(js.pg_autoctl).toMatchObject({ pid: null, status: 'not running', role: 'monitor' });
    expect(js.postgres).toMatchObject({ pgdata, port, is_running: true });
    expect(js.postgres.pid).toBeGreaterThan(0);
    // the original's keys, read from pg_controldata
    expect(js.postgres).toMatchObject({ in_recovery: false, proxyport: 0, postmaster: { status: 'ready' }, version: expect.stringMatching(/^\d+\.\d+$/) });
    expect(js.postgres.control.system_identifier).toMatch(/^\d{10,}$/);
    expect(js.postgres.control.catalog_version).toBeGreaterThan(200000000);
    expect(js.pg_autoctl.services).toEqual([]);
    expect(r.stderr).toMatch(/pgaf is not running/);
  }, 100_000);

  it('reload reloads the monitor Postgres', async () => {
    const r = await cli(['reload', '--pgdata', pgdata]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Reloaded the monitor Postgres/);
  }, 100_000);
});

describe('operator commands with two fake nodes', () => {
  let n1 = 0;
  let n2 = 0;
  const p1 = 7101;
  const p2 = 7102;

  it('refuses a failover with a single node: exit 6 with the monitor’s message', async () => {
    n1 = await register(p1, 'node_a');
    await settle([n1], { node_a: 'single/single' });
    const r = await cli(['perform', 'failover', '--pgdata', pgdata]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/the monitor refused: cannot fail over formation "default" group 0: it has 1 node\(s\), at least 2 are needed/);
    expect(r.stdout).toBe('');
    expect(await states()).toEqual({ node_a: 'single/single' });
  }, 100_000);

  it('show settings and show standby-names print the original layouts', async () => {
    n2 = await register(p2, 'node_b');
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
    const r = await cli(['show', 'settings', '--pgdata', pgdata]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ +Context \| +Name \| +Setting \| Value +$/);
    expect(lines[1]).toMatch(/^-+\+-+\+-+\+-+$/);
    const rows = lines.slice(2).map((l) => l.split('|').map((c) => c.trim()));
    expect(rows).toEqual([
      ['formation', 'default', 'number_sync_standbys', '0'],
      ['primary', 'node_a', 'synchronous_standby_names', `'ANY 1 (pgautofailover_standby_${n2})'`],
      ['node', 'node_a', 'candidate priority', '100'],
      ['node', 'node_b', 'candidate priority', '100'],
      ['node', 'node_a', 'replication quorum', 'true'],
      ['node', 'node_b', 'replication quorum', 'true'],
    ]);
    const js = JSON.parse((await cli(['show', 'settings', '--json', '--monitor', monitorUri])).stdout);
    expect(js.formation).toHaveLength(1);
    expect(js.nodes).toHaveLength(4);
    expect(js.primary[0]).toMatchObject({ context: 'primary', nodename: 'node_a', setting: 'synchronous_standby_names' });

    const ssn = await cli(['show', 'standby-names', '--pgdata', pgdata]);
    expect(ssn.code, ssn.stderr).toBe(0);
    expect(ssn.stdout).toBe(`'ANY 1 (pgautofailover_standby_${n2})'\n`);
    const ssnJs = JSON.parse((await cli(['show', 'standby-names', '--json', '--monitor', monitorUri, '--group', '0'])).stdout);
    expect(ssnJs).toEqual({ formation: 'default', group: 0, synchronous_standby_names: `ANY 1 (pgautofailover_standby_${n2})` });
  }, 300_000);

  it('show uri --formation prints one usable line', async () => {
    const f = await cli(['show', 'uri', '--pgdata', pgdata, '--formation', 'default']);
    expect(f.code).toBe(0);
    expect(f.stdout).toBe(`postgres://127.0.0.1:${p1},127.0.0.1:${p2}/postgres?target_session_attrs=read-write&sslmode=prefer\n`);
    const m = await cli(['show', 'uri', '--pgdata', pgdata, '--formation', 'monitor']);
    expect(m.stdout).toBe(`${monitorUri}\n`);
    const table = await cli(['show', 'uri', '--pgdata', pgdata]);
    expect(table.stdout.split('\n')).toHaveLength(6); // header, dashes, 2 rows, the original's empty line
  }, 230_000);

  it('enable maintenance on the primary without --allow-failover: exit 1, nothing changes', async () => {
    const a = fakeDataNode('node_a', n1, p1, 'primary');
    let r = await cli(['enable', 'maintenance', '--pgdata', a]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is a primary: enabling maintenance on it causes a failover/);
    expect(r.stderr).toMatch(/--allow-failover/);
    // a state file that lags behind: the monitor's view refuses too
    fakeDataNode('node_a', n1, p1, 'secondary');
    r = await cli(['enable', 'maintenance', '--pgdata', a]);
    expect(r.code).toBe(1);
    expect(await states()).toEqual({ node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 170_000);

  it('enable and disable maintenance on the standby, following the group', async () => {
    const b = fakeDataNode('node_b', n2, p2, 'secondary');
    let stop = false;
    const driver = (async () => {
      while (!stop) {
        await step([n1, n2]);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    try {
      let r = await cli(['enable', 'maintenance', '--pgdata', b, '--wait', '30']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^ +Time \| +Name \| +Node \| +Host:Port \| +Current State \| +Assigned State\n/);
      expect(r.stdout).toMatch(/\| node_b \| +\d+ \| 127\.0\.0\.1:7102 \| +maintenance \| +maintenance\n/);
      expect((await states()).node_b).toBe('maintenance/maintenance');
      r = await cli(['disable', 'maintenance', '--pgdata', b, '--wait', '30']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/\| node_b \| +\d+ \| 127\.0\.0\.1:7102 \| +secondary \| +secondary\n/);
    } finally {
      stop = true;
      await driver;
    }
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
  }, 170_000);

  it('accepts a failover with --wait 0 and returns at once', async () => {
    const r = await cli(['perform', 'failover', '--monitor', monitorUri, '--wait', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ formation: 'default', group: 0, waited: false, primary: null, events: [] });
    expect(await states()).toEqual({ node_a: 'primary/draining', node_b: 'secondary/prepare_promotion' });
    await settle([n1, n2], { node_a: 'secondary/secondary', node_b: 'primary/primary' });
  }, 100_000);

  /** The CLI, while the fake nodes report their goals every 100 ms once `first` is done (given: whether the CLI ended). */
  async function cliWhileStepping(args: string[], first: (ended: () => boolean) => Promise<void>): Promise<Result> {
    let ended = false;
    const driver = (async () => {
      await first(() => ended);
      while (!ended) {
        await step([n1, n2]);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    try {
      return await cli(args);
    } finally {
      ended = true;
      await driver;
    }
  }

  it('a switchover follows the notifications until the new primary (exit 0)', async () => {
    const r = await cliWhileStepping(['perform', 'switchover', '--pgdata', pgdata, '--formation', 'default', '--group', '0', '--wait', '30'], () =>
      new Promise((res) => setTimeout(res, 300)),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Waiting 30 secs for a notification with state "primary" in formation "default" and group 0/);
    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(/^ +Time \| +Name \| +Node \| +Host:Port \| +Current State \| +Assigned State$/);
    expect(r.stdout).toMatch(/\| node_b \| +\d+ \| 127\.0\.0\.1:7102 \| +primary \| +draining\n/);
    expect(r.stdout).toMatch(/\| node_a \| +\d+ \| 127\.0\.0\.1:7101 \| +primary \| +primary\n/);
    expect(r.stderr).toMatch(/Node \d+ "node_a" \(127\.0\.0\.1:7101\) is now the primary/);
    const s = await states();
    expect(s.node_a).toBe('primary/primary');
  }, 100_000);

  it('a failover that does not finish in time exits 6', async () => {
    await settle([n1, n2], { node_a: 'primary/primary', node_b: 'secondary/secondary' });
    const r = await cli(['perform', 'failover', '--monitor', monitorUri, '--wait', '1']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/timed out after 1s waiting for a notification with state "primary"/);
    await settle([n1, n2], { node_a: 'secondary/secondary', node_b: 'primary/primary' });
  }, 100_000);

  it('a wait whose monitor session is cut reconnects and still ends, the last states printed (set candidate-priority)', async () => {
    await settle([n1, n2], { node_a: 'secondary/secondary', node_b: 'primary/primary' });
    const cut: number[] = [];
    // the CLI waits for the primary's apply_settings: cut its monitor session first
    const r = await cliWhileStepping(['set', 'node', 'candidate-priority', '40', '--monitor', monitorUri, '--name', 'node_a', '--wait', '30'], async (ended) => {
      while (!ended() && cut.length === 0) {
        const waiting = await q<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity a, pgautofailover.node n
            WHERE a.application_name LIKE 'pgaf cli%' AND a.state = 'idle' AND n.nodename = 'node_b' AND n.goalstate = 'apply_settings'`,
        );
        for (const w of waiting) if ((await q(`SELECT pg_terminate_backend($1)`, [w.pid]))[0]) cut.push(w.pid);
        await new Promise((res) => setTimeout(res, 20));
      }
      await new Promise((res) => setTimeout(res, 300));
    });
    expect(cut.length, 'the CLI session was cut while it waited').toBeGreaterThan(0);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\| node_b \| +\d+ \| 127\.0\.0\.1:7102 \| +primary \| +primary\n/);
    expect(r.stdout).toBe('40\n');
    expect(await states()).toEqual({ node_a: 'secondary/secondary', node_b: 'primary/primary' });
  }, 100_000);

  it('drop node names the node on the monitor; --force removes it at once', async () => {
    let r = await cli(['drop', 'node', '--monitor', monitorUri, '--name', 'nobody']);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/--formation default --name nobody: no such node/);
    r = await cli(['drop', 'node', '--pgdata', pgdata, '--hostname', '127.0.0.1', '--pgport', String(p1), '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(await states())).toEqual(['node_b']);
  }, 170_000);
});
