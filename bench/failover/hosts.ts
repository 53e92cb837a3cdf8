// bench/failover's host mode: the failover and switchover of bench/failover/run.sh on the
// container tier (test/hosts/), pgaf and pg_auto_failover 2.0 on the same image, one after
// the other. Each system gets a monitor host and two node hosts on a private bridge; a writer
// in this process inserts one row per transaction through the multi-host URI (the first
// writable node) and records every acknowledgement with the server that made it. Per cycle:
//   - host death: the primary's container is killed (its address stops answering: no RST,
//     no refused connection); timed to the first commit on another node and to the monitor
//     showing another node as primary (or wait_primary);
//   - the dead host is started again: pgaf comes back through `pm2 resurrect` of the module,
//     pg_auto_failover through `pm2 resurrect` of `pg_autoctl run`; timed to the monitor
//     showing it secondary again;
//   - a planned switchover (pgaf: `pm2 trigger pm2-pgaf switchover`; pg_auto_failover:
//     `pg_autoctl perform switchover`), timed as the longest gap between acknowledged writes;
//   - acknowledged writes of the cycle missing on the primary after the failover, and after the
//     switchover (not counted twice): lost, with the server and time of each in the JSON.
// Both systems run with their default settings and `auth: trust` inside the formation; the
// writer logs in with scram-sha-256 as the formation's client role (test/hosts/formation.ts).
//
//   npx tsx bench/failover/hosts.ts [--runs N] [--systems pgaf,pg_auto_failover] [--json FILE]
//   npx tsx bench/failover/hosts.ts --report FILE.json [--report FILE.json]   (pools earlier runs)
// Run it under /work/tools/pgaf-slot (it holds a formation of three hosts for minutes).
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type Docker from 'dockerode';
import { engine } from '../../test/hosts/engine.js';
import { Writers, createTable, longestOutage, lostAcks, rowsOn } from '../../test/hosts/checker.js';
import * as F from '../../test/hosts/faults.js';
import { DATA_PARENT, Formation, MODULE, PGDATA, PGPORT, monitorConverged, waitFor } from '../../test/hosts/formation.js';
import { removeLabelled, type Host } from '../../test/hosts/tier.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** pg_auto_failover 2.0 on the same hosts: `pg_autoctl create`, then `pg_autoctl run` as a PM2 app, saved. */
class PafFormation extends Formation {
  override async create(): Promise<void> {
    const specs = [{ name: 'monitor', octet: 10 }, ...this.nodeNames.map((n, i) => ({ name: n, octet: 11 + i }))];
    await this.tier.create(specs);
    await Promise.all(
      [...this.tier.hosts.values()].map(async (h) => {
        await waitFor(`${h.name} to boot`, 60_000, async () => (await h.exec(['test', '-e', '/run/pgaf-boot.done'])).code === 0);
        await h.sh(`mkdir -p ${DATA_PARENT} && chown postgres:postgres ${DATA_PARENT} && chmod 700 ${DATA_PARENT}`);
      }),
    );
  }

  private async autoctl(h: Host, args: string[]): Promise<string> {
    return h.run(['pg_autoctl', ...args], { user: 'postgres', timeoutMs: 300_000 });
  }

  private async runUnderPm2(h: Host, pgdata: string): Promise<void> {
    await this.pm2(h, ['start', '/usr/bin/pg_autoctl', '--name', 'pg_autoctl', '--interpreter', 'none', '--', 'run', '--pgdata', pgdata]);
  }

  override async start(): Promise<void> {
    const common = ['--pgport', String(PGPORT), '--auth', 'trust', '--ssl-self-signed'];
    const mon = `${DATA_PARENT}/monitor`;
    await this.autoctl(this.monitor, ['create', 'monitor', '--pgdata', mon, '--hostname', this.monitor.ip, ...common]);
    await this.runUnderPm2(this.monitor, mon);
    await waitFor('the monitor to answer', 120_000, async () => (await this.monitorQuery('SELECT 1 AS one')).length === 1);
    const uri = `postgres://autoctl_node@${this.monitor.ip}:${PGPORT}/pg_auto_failover?sslmode=require`;
    for (const [i, n] of this.nodeNames.entries()) {
      const h = this.node(n);
      await this.autoctl(h, ['create', 'postgres', '--pgdata', PGDATA, '--hostname', h.ip, '--name', n, '--monitor', uri, ...common]);
      await this.runUnderPm2(h, PGDATA);
      await waitFor(`${n} to join`, 300_000, async () => {
        const r = (await this.nodeRows()).find((x) => x.nodename === n);
        return !!r && (i === 0 ? ['single', 'wait_primary', 'primary'].includes(r.reportedstate) : r.reportedstate === 'secondary');
      });
    }
    const primary = await waitFor('one primary and a secondary on the monitor', 120_000, async () => monitorConverged(await this.nodeRows(), this.nodeNames.length));
    await this.allowClients(this.node(primary));
    await this.waitConverged(120_000);
    for (const h of this.tier.hosts.values()) await this.pm2(h, ['save']);
  }

  override async nodeRows() {
    return this.monitorQuery<{ nodeid: number; nodename: string; nodehost: string; reportedstate: string; goalstate: string; reportedtli: number | null }>(
      'SELECT nodeid, nodename, nodehost, reportedstate::text, goalstate::text, NULL::int AS reportedtli FROM pgautofailover.node ORDER BY nodeid',
    );
  }
}

interface Cycle {
  killed: string;
  firstCommitS: number;
  monitorS: number;
  rejoinS: number;
  failoverLost: number;
  /** the acknowledged writes lost in this cycle: server, timeline, ms from the kill (or the switchover) to the ack */
  lostDetail: Array<{ phase: string; server: string; tl: number; msAfter: number }>;
  switchoverGapS: number;
  switchoverCmdS: number;
  switchoverLost: number;
  acked: number;
}

interface SystemRun {
  system: string;
  cycles: Cycle[];
  load: [number, number, number];
  error?: string;
}

const secs = (ms: number) => Math.round(ms) / 1000;

/** `from`: the first acknowledgement this cycle answers for (the first cycle: every one since the writer started). */
async function cycle(f: Formation, system: string, writers: Writers, log: (m: string) => void, from: number): Promise<Cycle> {
  const pname = await f.waitConverged(180_000);
  const old = f.node(pname);
  const acked0 = from;
  // failover: the primary's host dies
  const killAt = Date.now();
  await F.kill(old);
  const monitorAt = await waitFor(
    'the monitor to show a new primary',
    300_000,
    async () => ((await f.nodeRows()).some((r) => r.nodename !== old.name && ['primary', 'wait_primary'].includes(r.reportedstate)) ? Date.now() : undefined),
    100,
  );
  const firstAt = await waitFor(
    'a commit on another node',
    120_000,
    async () => writers.acks.find((a) => a.writer === 'uri' && a.at > killAt && a.server !== old.name)?.at,
    100,
  );
  log(`${system}: ${old.name} killed; monitor ${secs(monitorAt - killAt)} s, first commit ${secs(firstAt - killAt)} s`);
  // the dead host comes back and must rejoin as a secondary
  const startAt = Date.now();
  await F.start(old);
  const rejoinAt = await waitFor(
    `${old.name} back as a secondary`,
    300_000,
    async () => {
      const r = (await f.nodeRows()).find((x) => x.nodename === old.name);
      return r?.reportedstate === 'secondary' && r.goalstate === 'secondary' ? Date.now() : undefined;
    },
    100,
  );
  const newPrimary = await f.waitConverged(180_000);
  await sleep(1000);
  // lost: acknowledged writes of this cycle missing on the primary after each phase, each counted once
  const cycleAcks = writers.acks.slice(acked0);
  const lostF = lostAcks(cycleAcks, await rowsOn(f.uriHosts.find((t) => t.name === newPrimary)!));
  const failoverLost = lostF.length;
  // planned switchover
  const swAt = Date.now();
  const np = f.node(newPrimary);
  if (system === 'pgaf') await f.pm2(np, ['trigger', MODULE, 'switchover']);
  else await np.run(['pg_autoctl', 'perform', 'switchover', '--pgdata', PGDATA], { user: 'postgres', timeoutMs: 300_000 });
  const cmdAt = Date.now();
  const after = await waitFor('the switchover to end', 180_000, async () => {
    const p = await f.converged();
    return p && p !== newPrimary ? p : undefined;
  });
  await sleep(2000);
  const swEnd = Date.now();
  const seen = new Set(lostF.map((a) => a.id));
  const lostS = lostAcks(writers.acks.slice(acked0), await rowsOn(f.uriHosts.find((t) => t.name === after)!)).filter((a) => !seen.has(a.id));
  const switchoverLost = lostS.length;
  const c: Cycle = {
    killed: old.name,
    firstCommitS: secs(firstAt - killAt),
    monitorS: secs(monitorAt - killAt),
    rejoinS: secs(rejoinAt - startAt),
    failoverLost,
    lostDetail: [
      ...lostF.map((a) => ({ phase: 'failover', server: a.server, tl: a.tl, msAfter: a.at - killAt })),
      ...lostS.map((a) => ({ phase: 'switchover', server: a.server, tl: a.tl, msAfter: a.at - swAt })),
    ],
    switchoverGapS: secs(longestOutage(writers.acks, 'uri', swAt, swEnd)),
    switchoverCmdS: secs(cmdAt - swAt),
    switchoverLost,
    acked: writers.acks.length - acked0,
  };
  log(`${system}: rejoin ${c.rejoinS} s; switchover gap ${c.switchoverGapS} s, command ${c.switchoverCmdS} s; lost ${failoverLost} + ${switchoverLost}`);
  return c;
}

async function runSystem(docker: Docker, image: string, system: string, runs: number, log: (m: string) => void): Promise<SystemRun> {
  const f = system === 'pgaf' ? new Formation(docker, image, { nodes: 2, log }) : new PafFormation(docker, image, { nodes: 2, log });
  const out: SystemRun = { system, cycles: [], load: loadavg().map((x) => Math.round(x * 100) / 100) as [number, number, number] };
  let writers: Writers | undefined;
  try {
    await f.create();
    await f.start();
    const prim = f.node(await f.waitConverged(60_000));
    const sync = await prim.run(['sh', '-c', `psql -X -A -t -h "$(sed -n 5p ${PGDATA}/postmaster.pid)" -p ${PGPORT} -d postgres -c 'SHOW synchronous_standby_names' -c 'SHOW synchronous_commit'`], { user: 'postgres' });
    log(`${system}: formation up on ${f.tier.subnetPrefix}.0/24; on the primary synchronous_standby_names, synchronous_commit: ${sync.trim().split('\n').join(', ')}`);
    await createTable(f.uriHosts);
    writers = new Writers(f.uriHosts, { direct: false });
    writers.start();
    await sleep(3000);
    for (let i = 0; i < runs; i++) out.cycles.push(await cycle(f, system, writers, log, i === 0 ? 0 : writers.acks.length));
  } catch (err) {
    out.error = (err as Error).message;
    log(`${system} failed: ${out.error}`);
    log(await f.logs(40).catch(() => ''));
  } finally {
    await writers?.stop().catch(() => undefined);
    await f.destroy();
  }
  return out;
}

// ---- the report ----

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const cell = (xs: number[]) => (xs.length ? `${median(xs).toFixed(2)} (${Math.max(...xs).toFixed(2)})` : '—');

export function report(all: SystemRun[]): string[] {
  const results = [...all].sort((a, b) => Number(b.system === 'pgaf') - Number(a.system === 'pgaf'));
  const rows: Array<[string, (c: Cycle) => number]> = [
    ['host death → first commit on the new primary (s)', (c) => c.firstCommitS],
    ['host death → monitor shows the new primary (s)', (c) => c.monitorS],
    ['dead host started → back as secondary (s)', (c) => c.rejoinS],
    ['acknowledged writes lost per failover', (c) => c.failoverLost],
    ['switchover: longest gap between acknowledged writes (s)', (c) => c.switchoverGapS],
    ['switchover command duration (s)', (c) => c.switchoverCmdS],
    ['acknowledged writes lost per switchover', (c) => c.switchoverLost],
  ];
  const lines = [
    `| metric | ${results.map((r) => `${r.system}: median (worst), ${r.cycles.length} cycle(s)`).join(' | ')} |`,
    `|---|${results.map(() => '---:').join('|')}|`,
    ...rows.map(([name, get]) => `| ${name} | ${results.map((r) => cell(r.cycles.map(get))).join(' | ')} |`),
  ];
  for (const r of results) if (r.error) lines.push('', `${r.system} stopped early: ${r.error}`);
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      systems: { type: 'string', default: 'pgaf,pg_auto_failover' },
      json: { type: 'string' },
      report: { type: 'string', multiple: true },
    },
  });
  if (values.report) {
    // --report FILE.json...: one table from the --json outputs of several invocations
    const pooled = values.report.flatMap((f) => (JSON.parse(readFileSync(f, 'utf8')) as { results: SystemRun[] }).results);
    for (const l of report(pooled)) console.log(l);
    return;
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer, found "${values.runs}"`);
  const systems = values.systems!.split(',');
  for (const s of systems) if (!['pgaf', 'pg_auto_failover'].includes(s)) throw new Error(`--systems: unknown system "${s}" (pgaf, pg_auto_failover)`);
  const t0 = Date.now();
  const log = (m: string) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(7)}s] ${m}`);
  const { docker, image } = await engine();
  process.on('SIGINT', () => void removeLabelled(docker, undefined, `${process.pid}-`).finally(() => process.exit(1)));
  const startedAt = new Date().toISOString();
  const results: SystemRun[] = [];
  for (const s of systems) results.push(await runSystem(docker, image, s, runs, log));
  const paf = execFileSync('pg_autoctl', ['--version']).toString().split('\n')[0];
  console.log(`Run ${startedAt.slice(0, 16).replace('T', ' ')} UTC, image ${image}, ${paf}; 1-min load average at each system's start: ${results.map((r) => `${r.system} ${r.load[0]}`).join(', ')}.`);
  console.log('');
  for (const l of report(results)) console.log(l);
  if (values.json) writeFileSync(values.json, JSON.stringify({ startedAt, image, results }, null, 2));
  process.exit(results.some((r) => r.error || r.cycles.some((c) => c.failoverLost + c.switchoverLost > 0)) ? 1 : 0);
}

await main();
