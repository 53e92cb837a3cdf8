// End to end: the built CLI creates a monitor in a temp PGDATA on a free 127.0.0.1 port,
// shows its URI and state, stops and restarts it; bad input changes nothing.
import { spawn, spawnSync } from 'node:child_process';
import { stopPostgresAt } from '../support/fake-node.js';
import { cleanEnv, runCli, type CliResult } from '../support/run-cli.js';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXTENSION_VERSION } from '../../monitor-ext/bundle.js';
import { packageRoot } from '../../lib/package-root.js';
import { postgresRunAs } from '../../lib/pgbin.js';
import { freePort } from '../support/postgres.js';

const root = packageRoot();
const mainJs = join(root, 'dist', 'cli', 'main.js');
const runAs = postgresRunAs();
const dir = mkdtempSync(join(tmpdir(), 'pgaf-e2e-'));
const xdg = join(dir, 'xdg');
// state and pid files inside the test folder too, so nothing is left in ~/.local/share or /tmp
const xdgRest = { XDG_DATA_HOME: join(dir, 'share'), XDG_RUNTIME_DIR: join(dir, 'run') };
const pgdata = join(dir, 'monitor');
let port = 0;
const started: string[] = [];

type Result = CliResult;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return runCli(args, { ...cleanEnv(), XDG_CONFIG_HOME: xdg, ...xdgRest, PGHOST: dir, ...env });
}

/** Stops a Postgres we started: pg_ctl by its PGDATA, then SIGKILL by postmaster.pid. */
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
});

afterAll(() => {
  for (const data of started) stopPostgres(data);
  rmSync(dir, { recursive: true, force: true });
});

describe('create monitor', () => {
  it('exits 1 on a bad port and creates nothing', async () => {
    const r = await cli(['create', 'monitor', '--pgdata', pgdata, '--pgport', '70000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--pgport must be an integer between 1 and 65535/);
    expect(existsSync(pgdata)).toBe(false);
    expect(existsSync(xdg)).toBe(false);
  }, 170_000);

  it('exits 1 on a non-empty directory that is not a monitor, and leaves it alone', async () => {
    const other = join(dir, 'not-a-monitor');
    mkdirSync(other);
    writeFileSync(join(other, 'keep.txt'), 'data');
    const r = await cli(['create', 'monitor', '--pgdata', other, '--pgport', String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not empty/);
    expect(readdirSync(other)).toEqual(['keep.txt']);
    expect(existsSync(xdg)).toBe(false);
  }, 170_000);

  it('creates a monitor and prints its URI', async () => {
    started.push(pgdata);
    const r = await cli(['create', 'monitor', '--pgdata', pgdata, '--pgport', String(port), '--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl']);
    expect(r.stderr).not.toMatch(/ERROR/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`postgres://autoctl_node@127.0.0.1:${port}/pg_auto_failover?sslmode=prefer`);
    const cfg = readFileSync(join(xdg, 'pg_autoctl', pgdata, 'pg_autoctl.cfg'), 'utf8');
    expect(cfg).toMatch(/\[pg_autoctl\]\nrole = monitor\n/);
    expect(cfg).toContain(`port = ${port}\n`);
    expect(readFileSync(join(pgdata, 'pg_hba.conf'), 'utf8')).toContain('host pg_auto_failover autoctl_node 127.0.0.1/32 trust');
    if (runAs) expect(statSync(pgdata).uid).toBe(runAs.uid);
  }, 170_000);

  it('show uri prints the monitor URI', async () => {
    const uri = `postgres://autoctl_node@127.0.0.1:${port}/pg_auto_failover?sslmode=prefer`;
    const table = await cli(['show', 'uri', '--pgdata', pgdata]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ +Type \| +Name \| Connection String\n/);
    expect(table.stdout).toContain(`     monitor | monitor | ${uri}`);
    const only = await cli(['show', 'uri', '--pgdata', pgdata, '--formation', 'monitor']);
    expect(only.stdout).toBe(uri + '\n');
    const js = JSON.parse((await cli(['show', 'uri', '--pgdata', pgdata, '--json'])).stdout);
    expect(js[0]).toEqual({ type: 'monitor', name: 'monitor', uri });
  }, 430_000);

  it('show state prints an empty formation, as a table and as JSON', async () => {
    const table = await cli(['show', 'state', '--pgdata', pgdata]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toBe(
      'Name |  Node |  Host:Port |  TLI: LSN |   Connection |      Reported State |      Assigned State',
    );
    const js = await cli(['show', 'state', '--pgdata', pgdata, '--json']);
    expect(js.code).toBe(0);
    expect(JSON.parse(js.stdout)).toEqual([]);
    const events = await cli(['show', 'events', '--pgdata', pgdata, '--json']);
    expect(events.code).toBe(0);
    expect(Array.isArray(JSON.parse(events.stdout))).toBe(true);
  }, 430_000);

  it('lets keepers in: show state over TCP as autoctl_node with --monitor', async () => {
    const r = await cli(['show', 'state', '--json', '--monitor', `postgres://autoctl_node@127.0.0.1:${port}/pg_auto_failover?sslmode=prefer`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  }, 170_000);

  it('re-runs on the existing monitor without initdb, and refuses a different port', async () => {
    const again = await cli(['create', 'monitor', '--pgdata', pgdata]);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/Initialising/);
    const other = await cli(['create', 'monitor', '--pgdata', pgdata, '--pgport', String(port === 65535 ? port - 1 : port + 1)]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/differs from the existing monitor/);
  }, 300_000);

  it('updates a monitor still on extension 1.0 to the shipped version: a re-run of create monitor, and the monitor service at start', async () => {
    const superuser = runAs?.name ?? userInfo().username;
    const sql = async (text: string) => {
      const c = new pg.Client({ connectionString: `postgresql://${superuser}@127.0.0.1:${port}/pg_auto_failover` });
      await c.connect();
      try {
        return (await c.query(text)).rows;
      } finally {
        await c.end();
      }
    };
    const back1 = () => sql(`DROP EXTENSION pgaf CASCADE; CREATE EXTENSION pgaf VERSION '1.0' CASCADE`);
    const version = async () => (await sql(`SELECT extversion FROM pg_extension WHERE extname = 'pgaf'`))[0]?.extversion;
    const sentence = new RegExp(`Updated extension pgaf from version 1\\.0 to ${EXTENSION_VERSION.replace('.', '\\.')}`);

    await back1();
    expect(await version()).toBe('1.0');
    const again = await cli(['create', 'monitor', '--pgdata', pgdata]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(sentence);
    expect(await version()).toBe(EXTENSION_VERSION);

    await back1();
    const svc = spawn(process.execPath, [mainJs, 'run', '--pgdata', pgdata], {
      env: { ...cleanEnv(), XDG_CONFIG_HOME: xdg, ...xdgRest, PGHOST: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    svc.stdout!.on('data', (d) => (out += d));
    svc.stderr!.on('data', (d) => (out += d));
    const exited = new Promise((res) => svc.on('close', res));
    try {
      const deadline = Date.now() + 30_000;
      while (!/Monitor service runs/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(sentence);
      expect(out.match(new RegExp(sentence, 'g'))).toHaveLength(1);
      expect(await version()).toBe(EXTENSION_VERSION);
    } finally {
      if (svc.pid) process.kill(svc.pid, 'SIGTERM');
      await exited;
    }
  }, 170_000);

  it('refuses a port that is taken, creating nothing', async () => {
    const second = join(dir, 'second');
    const r = await cli(['create', 'monitor', '--pgdata', second, '--pgport', String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already in use/);
    expect(existsSync(second)).toBe(false);
  }, 170_000);

  it('stops, then a re-run starts it again', async () => {
    expect((await cli(['stop', '--pgdata', pgdata])).code).toBe(0);
    expect(existsSync(join(pgdata, 'postmaster.pid'))).toBe(false);
    const down = await cli(['show', 'state', '--pgdata', pgdata]);
    expect(down.code).toBe(6);
    const up = await cli(['create', 'monitor', '--pgdata', pgdata]);
    expect(up.code).toBe(0);
    expect((await cli(['show', 'state', '--pgdata', pgdata, '--json'])).code).toBe(0);
  }, 560_000);
});
