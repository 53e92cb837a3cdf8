// Logs an operator can read, on one SSL cluster (--ssl-self-signed): 30 s of health probes
// (one a second) add no line to any Postgres log, and every line pgaf writes during a whole
// cluster life (create, failover, rejoin, switchover, maintenance) is a sentence with
// key=value details, with tool output (openssl, initdb, pg_ctl, pg_basebackup, pg_rewind)
// at debug level only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_MONITOR_SETTINGS, TestCluster } from '../support/cluster.js';
import { badLines, parseLine } from '../support/log-lines.js';

const PROBE_WINDOW_MS = 30_000;

/** Where a member's Postgres writes its log: the monitor's pg_ctl -l file, a node's under XDG_RUNTIME_DIR. */
function postgresLogOf(c: TestCluster, name: string): string {
  const dir = c.member(name).dir;
  const pgdata = join(dir, 'pgdata');
  return name === 'monitor' ? join(pgdata, 'startup.log') : join(dir, 'run', 'pg_autoctl', pgdata, 'postgres.log');
}

function linesOf(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
}

function pgafLogOf(c: TestCluster, name: string): string {
  return readFileSync(join(c.member(name).dir, 'pgaf.log'), 'utf8');
}

/** Lines Postgres writes on its own schedule, whoever connects (log_checkpoints is on in PG 15). */
const SCHEDULED = /LOG: +checkpoint (starting|complete)/;

describe('quiet logs on a self-signed SSL cluster', () => {
  let c: TestCluster;
  /** stderr of every pgaf command the test runs (their log lines) */
  const cliStderr: string[] = [];

  async function cli(name: string, args: string[]): Promise<void> {
    const r = await c.cli(name, args);
    cliStderr.push(r.stderr);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  }

  beforeAll(async () => {
    c = await TestCluster.create({ ssl: ['--ssl-self-signed'] });
    await c.startMonitor(FAST_MONITOR_SETTINGS);
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2');
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
  }, 300_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it(`adds no line to any Postgres log in ${PROBE_WINDOW_MS / 1000} s of health probes`, async () => {
    await c.waitFor('both nodes healthy', (s) => s.length === 2 && s.every((n) => n.health === 1), 30_000);
    // node1's walsender logs once that node2 is now a quorum standby: start after that line
    const quorumDeadline = Date.now() + 60_000;
    while (!linesOf(postgresLogOf(c, 'node1')).some((l) => /is now a candidate for quorum synchronous standby/.test(l))) {
      if (Date.now() > quorumDeadline) throw new Error('node1 never logged that node2 is a quorum standby');
      await new Promise((r) => setTimeout(r, 200));
    }
    const ssl = await c.nodeQuery<{ ssl: boolean }>('node1', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', [], { ssl: true });
    expect(ssl).toEqual([{ ssl: true }]);
    const members = ['monitor', 'node1', 'node2'];
    const before = new Map(members.map((m) => [m, linesOf(postgresLogOf(c, m)).length]));
    const roundsBefore = pgafLogOf(c, 'monitor').split('\n').length;
    const checkedBefore = await c.monitorQuery<{ t: string }>(`SELECT max(healthchecktime)::text AS t FROM pgautofailover.node`);

    await new Promise((r) => setTimeout(r, PROBE_WINDOW_MS));

    // the probes did run (one round a second), every node answering: at least 20 rounds in the
    // window, which grows on a slow machine rather than asserting a rate
    const rounds = () => pgafLogOf(c, 'monitor').split('\n').slice(roundsBefore - 1).filter((l) => /All 2 node\(s\) answered\./.test(l));
    const roundsDeadline = Date.now() + 60_000;
    while (rounds().length < 20) {
      if (Date.now() > roundsDeadline) throw new Error(`${rounds().length} health-probe rounds with every node answering in ${PROBE_WINDOW_MS / 1000 + 60} s (20 wanted)`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const checkedAfter = await c.monitorQuery<{ t: string }>(`SELECT max(healthchecktime)::text AS t FROM pgautofailover.node`);
    expect(checkedAfter[0]!.t > checkedBefore[0]!.t).toBe(true);
    const gained: Record<string, string[]> = {};
    for (const m of members) {
      gained[m] = linesOf(postgresLogOf(c, m))
        .slice(before.get(m))
        .filter((l) => !SCHEDULED.test(l));
    }
    expect(gained).toEqual({ monitor: [], node1: [], node2: [] });
  }, PROBE_WINDOW_MS + 210_000);

  it('lives a whole life: failover, rejoin, switchover, maintenance', async () => {
    // failover: the primary's host dies, node2 takes over
    await c.killHost('node1');
    await c.waitForStates({ node2: 'wait_primary' }, 60_000);
    // rejoin: node1's keeper comes back, rewinds and follows node2
    c.restartKeeper('node1');
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 120_000);
    // switchover back to node1
    await cli('node1', ['perform', 'switchover', '--formation', 'default', '--group', '0']);
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
    // maintenance of the standby, and back
    await cli('node2', ['enable', 'maintenance']);
    await c.waitForStates({ node2: 'maintenance', node1: 'wait_primary' }, 60_000);
    await cli('node2', ['disable', 'maintenance']);
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
  }, 480_000);

  it('wrote every line of that life as a sentence with key=value details, tool output at debug only', () => {
    const logs: Record<string, string> = {
      monitor: pgafLogOf(c, 'monitor'),
      node1: pgafLogOf(c, 'node1'),
      node2: pgafLogOf(c, 'node2'),
      commands: cliStderr.join('\n'),
    };
    const problems = Object.entries(logs).flatMap(([who, text]) => badLines(text).map((b) => `${who}: ${b.problem}: ${b.line}`));
    expect(problems).toEqual([]);

    const all = Object.values(logs).join('\n').split('\n').map(parseLine).filter((p) => p !== undefined);
    const loud = all.filter((p) => p.level !== 'DEBUG' && p.level !== 'TRACE');
    // the life was logged at info: each step said what it did, with details as key=value
    for (const step of [/Created a self-signed certificate/, /Initialising a PostgreSQL cluster/, /Taking a base backup/, /Rewound PGDATA|Rewinding PGDATA/, /Starting PostgreSQL/]) {
      expect(loud.some((p) => step.test(p.sentence)), String(step)).toBe(true);
    }
    expect(loud.some((p) => Object.keys(p.fields).length > 0)).toBe(true);
    // the tools did talk, at debug level (the services run with -v)
    const tools = all.filter((p) => /^(openssl|initdb|pg_ctl|pg_basebackup|pg_rewind): /.test(p.sentence));
    expect(tools.length).toBeGreaterThan(0);
    expect(new Set(tools.map((p) => p.level))).toEqual(new Set(['DEBUG']));
    expect(all.some((p) => p.level === 'DEBUG' && /^openssl: /.test(p.sentence))).toBe(true);
  });
});
