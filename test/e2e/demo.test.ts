// The README's first command, `bash bin/demo.sh`, as a newcomer runs it: it installs what is
// missing, builds, and starts a monitor and two data nodes; the switchover it suggests; `stop`;
// and the same command again, which must start the existing cluster in the roles it now has
// (it waited for node1 to be the primary, and failed after 60 s, once a switchover had made
// node2 the primary), and must not return before the cluster has settled (it once returned on
// the monitor's view from before the stop, while the keepers' first reports were moving node2
// to wait_primary and node1 to catchingup). Its own directory and ports (PGAF_DEMO_DIR,
// PGAF_DEMO_PORT), never the default demo's.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** Whether 127.0.0.1:port can be bound now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

/** A port p with p, p+1 and p+2 free on 127.0.0.1. */
async function threeFreePorts(): Promise<number> {
  for (let p = 20000 + Math.floor(Math.random() * 20000); p < 60000; p += 3) {
    if ((await bindable(p)) && (await bindable(p + 1)) && (await bindable(p + 2))) return p;
  }
  throw new Error('no three consecutive free ports');
}

describe('bash bin/demo.sh (the README)', () => {
  let dir: string;
  let demo: string;
  let env: NodeJS.ProcessEnv;
  const demoSh = (...args: string[]) =>
    spawnSync('bash', [join(ROOT, 'bin/demo.sh'), ...args], { env, encoding: 'utf8', timeout: 240_000 });
  const nodeEnv = (n: string) => ({
    ...env,
    PGDATA: `${demo}/${n}/pgdata`,
    XDG_CONFIG_HOME: `${demo}/${n}/config`,
    XDG_DATA_HOME: `${demo}/${n}/share`,
    XDG_RUNTIME_DIR: `${demo}/${n}/run`,
    PGHOST: `${demo}/${n}`,
    PGPASSFILE: `${demo}/keepers.pgpass`,
  });
  const states = () => {
    const r = spawnSync(join(ROOT, 'dist/cli/pgaf.cjs'), ['show', 'state', '--json'], { env: nodeEnv('monitor'), encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as Array<{ nodename: string; current_group_state: string; assigned_group_state: string }>)
      .map((s) => `${s.nodename}:${s.current_group_state}/${s.assigned_group_state}`)
      .sort();
  };

  /** Goal-state changes the monitor made after `since` (ms since the epoch), once 3 s have gone by. */
  const goalChangesAfter = (since: number) => {
    spawnSync('sleep', ['3']);
    const r = spawnSync(join(ROOT, 'dist/cli/pgaf.cjs'), ['show', 'events', '--count', '40', '--json'], { env: nodeEnv('monitor'), encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as Array<{ eventtime: string; description: string }>)
      .filter((e) => Date.parse(e.eventtime) > since && e.description.startsWith('Setting goal state'))
      .map((e) => e.description);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgaf-demo-test-'));
    chmodSync(dir, 0o755); // run as root, the demo's Postgres runs as postgres and must reach it
    demo = join(dir, 'demo');
    const { PGDATA: _d, PGPORT: _p, PGHOST: _h, PGPASSFILE: _f, ...rest } = process.env;
    env = { ...rest, PGAF_DEMO_DIR: demo, PGAF_DEMO_PORT: String(await threeFreePorts()) };
  });

  afterAll(() => {
    if (dir) {
      if (existsSync(demo)) demoSh('clean');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts a primary and a secondary, survives the switchover it suggests, stop, and starting again', () => {
    const first = demoSh();
    expect(first.status, `${first.stdout}\n${first.stderr}`).toBe(0);
    expect(goalChangesAfter(Date.now())).toEqual([]);
    expect(states()).toEqual(['node1:primary/primary', 'node2:secondary/secondary']);
    expect(first.stdout).toMatch(/perform switchover/);

    const sw = spawnSync(join(ROOT, 'dist/cli/pgaf.cjs'), ['perform', 'switchover'], { env: nodeEnv('node1'), encoding: 'utf8', timeout: 90_000 });
    expect(sw.status, sw.stderr).toBe(0);
    expect(states()).toEqual(['node1:secondary/secondary', 'node2:primary/primary']);

    const stop = demoSh('stop');
    expect(stop.status, stop.stderr).toBe(0);
    for (const n of ['monitor', 'node1', 'node2']) expect(existsSync(`${demo}/${n}/pgdata/postmaster.pid`), `${n} still runs`).toBe(false);

    const again = demoSh();
    expect(again.status, `${again.stdout}\n${again.stderr}`).toBe(0);
    expect(goalChangesAfter(Date.now())).toEqual([]);
    expect(states()).toEqual(['node1:secondary/secondary', 'node2:primary/primary']);

    const clean = demoSh('clean');
    expect(clean.status, clean.stderr).toBe(0);
    expect(existsSync(demo)).toBe(false);
  }, 900_000);

  it('refuses a directory it cannot use and a port out of range, before touching anything', () => {
    for (const [k, v, msg] of [
      ['PGAF_DEMO_DIR', 'relative/dir', /must be an absolute path/],
      ['PGAF_DEMO_DIR', '/tmp/pgaf demo', /must not contain white space/],
      ['PGAF_DEMO_DIR', `/tmp/${'d'.repeat(90)}`, /longer than 80 characters/],
      ['PGAF_DEMO_PORT', '70000', /between 1 and 65533/],
      ['PGAF_DEMO_PORT', '54x', /must be a port number/],
    ] as const) {
      const r = spawnSync('bash', [join(ROOT, 'bin/demo.sh')], { env: { ...env, [k]: v }, encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(msg);
    }
    expect(existsSync(join(ROOT, 'relative'))).toBe(false);
    expect(existsSync('/tmp/pgaf demo')).toBe(false);
  });
});
