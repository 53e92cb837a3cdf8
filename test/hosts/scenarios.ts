// The fault scenarios of the container tier, each a function of a running formation, and
// runScenario(): a fresh formation, the writers, the fault, healing, convergence, then the
// checker's invariants on the record.
import type Docker from 'dockerode';
import * as F from './faults.js';
import { Writers, createTable, longestOutage, lostAcks, rowsOn, splitBrainWindows, timelineRegressions, type Ack, type SplitBrainWindow } from './checker.js';
import { DATA_PARENT, Formation, MODULE, PGPORT, waitFor, type FormationOptions } from './formation.js';
import type { Host } from './tier.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Ctx {
  f: Formation;
  /** the node that is primary when the fault starts */
  primary: Host;
  standbys: Host[];
  log(msg: string): void;
  /** marks the moment everything is healed: convergence is timed from here */
  healed(): void;
  /** the monitor names another primary than `old` (reported primary or wait_primary) */
  waitFailover(old: Host, timeoutMs?: number): Promise<string>;
}

export interface Scenario {
  name: string;
  nodes?: number;
  formation?: Partial<FormationOptions>;
  run(ctx: Ctx): Promise<void>;
}

async function waitFailover(f: Formation, old: Host, timeoutMs = 120_000): Promise<string> {
  return waitFor(`a primary other than ${old.name}`, timeoutMs, async () => {
    const rows = await f.nodeRows();
    const p = rows.find((r) => r.nodename !== old.name && ['primary', 'wait_primary'].includes(r.reportedstate));
    return p?.nodename;
  });
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'primary-host-death',
    async run({ f, primary, healed, waitFailover, log }) {
      await F.kill(primary);
      log(`killed ${primary.name}'s host`);
      log(`${await waitFailover(primary)} took over`);
      await sleep(5000);
      await F.start(primary);
      healed();
      log(`${primary.name}'s host is back`);
      void f;
    },
  },
  {
    name: 'primary-isolated',
    async run({ f, primary, standbys, healed, waitFailover, log }) {
      // cut from the monitor and the standbys; the test process (its clients) still reaches it
      await F.cut(primary, [f.monitor, ...standbys]);
      log(`${primary.name} cut from the monitor and ${standbys.map((s) => s.name).join(', ')}`);
      log(`${await waitFailover(primary)} took over`);
      await sleep(10_000);
      await F.heal(primary);
      healed();
    },
  },
  {
    name: 'primary-reboot',
    async run({ f, primary, healed, log }) {
      await F.reboot(primary);
      healed();
      log(`${primary.name}'s host rebooted`);
      await f.waitResurrected(primary);
      log(`PM2 resurrected the module and Postgres on ${primary.name}`);
    },
  },
  {
    name: 'primary-freeze',
    async run({ primary, healed, log, waitFailover }) {
      await F.pause(primary);
      log(`${primary.name} frozen`);
      const t0 = Date.now();
      await waitFailover(primary).catch(() => undefined);
      await sleep(Math.max(0, 30_000 - (Date.now() - t0)));
      await F.unpause(primary);
      healed();
      log(`${primary.name} thawed`);
    },
  },
  {
    name: 'primary-cut-from-monitor',
    async run({ f, primary, healed, log }) {
      await F.cut(primary, [f.monitor]);
      log(`${primary.name} cut from the monitor for 30 s`);
      await sleep(30_000);
      await F.heal(primary);
      healed();
    },
  },
  {
    name: 'standby-cut',
    async run({ standbys, healed, log }) {
      const s = standbys[0]!;
      await F.disconnect(s);
      log(`${s.name} off the network for 30 s`);
      await sleep(30_000);
      await F.connect(s);
      healed();
    },
  },
  {
    name: 'monitor-down',
    async run({ f, primary, healed, log }) {
      await F.kill(f.monitor);
      log('monitor host dead for 60 s');
      await sleep(60_000);
      await F.start(f.monitor);
      healed();
      const p = await waitFor('the monitor', 60_000, () => f.primaryName().catch(() => undefined));
      if (p !== primary.name) throw new Error(`a failover happened while the monitor was down: ${p} is primary, was ${primary.name}`);
    },
  },
  {
    name: 'monitor-down-then-primary-death',
    async run({ f, primary, healed, waitFailover, log }) {
      // documented outcome: no failover without a monitor; once it is back, the standby takes over
      await F.kill(f.monitor);
      await sleep(5000);
      await F.kill(primary);
      log('monitor, then primary dead for 20 s');
      await sleep(20_000);
      await F.start(f.monitor);
      log(`monitor back: ${await waitFailover(primary, 180_000)} took over`);
      await F.start(primary);
      healed();
    },
  },
  {
    name: 'all-reboot',
    async run({ f, healed, log }) {
      await Promise.all([...f.tier.hosts.values()].map((h) => F.reboot(h)));
      healed();
      log('every host rebooted at once');
      await Promise.all(f.nodes.map((h) => f.waitResurrected(h)));
      log('PM2 resurrected the module and Postgres on every node');
    },
  },
  {
    name: 'double-failure',
    async run({ primary, standbys, healed, waitFailover, log }) {
      await F.kill(primary);
      const second = await waitFailover(primary);
      log(`${primary.name} dead, ${second} took over`);
      await sleep(5000);
      const s = standbys.find((x) => x.name === second)!;
      await F.kill(s);
      log(`${second} dead too; ${primary.name} comes back alone for 20 s`);
      await F.start(primary);
      await sleep(20_000);
      await F.start(s);
      healed();
    },
  },
  {
    name: 'flapping-link',
    async run({ primary, healed, log }) {
      for (let i = 0; i < 5; i++) {
        await F.disconnect(primary);
        await sleep(3000);
        await F.connect(primary);
        await sleep(3000);
      }
      healed();
      log(`${primary.name}'s link flapped 5 times (3 s down, 3 s up)`);
    },
  },
  {
    name: 'standby-disk-full',
    formation: { spec: { node2: { tmpfs: { [DATA_PARENT]: 384 } } } },
    async run({ f, primary, healed, log }) {
      if (primary.name !== 'node1') throw new Error('standby-disk-full expects node1 primary');
      const s = f.node('node2');
      await F.fillDisk(s, DATA_PARENT);
      // enough WAL that the standby needs new segments (the writers alone fit in recycled ones)
      await primary.run(['psql', '-X', '-q', '-h', '/tmp', '-p', String(PGPORT), '-d', 'postgres', '-c',
        "CREATE TABLE disk_filler AS SELECT g, repeat('x', 400) AS pad FROM generate_series(1, 300000) g"], { user: 'postgres', timeoutMs: 120_000 })
        .catch((err: Error) => log(`bulk insert on ${primary.name}: ${err.message}`));
      log('node2 data disk full, 120 MB of WAL written on node1; for 30 s');
      await sleep(30_000);
      await F.freeDisk(s, DATA_PARENT);
      healed();
    },
  },
  {
    name: 'switchover-under-load',
    async run({ f, primary, healed, log, waitFailover }) {
      await primary.run(['pgbench', '-i', '-q', '-s', '5', '-h', '/tmp', '-p', String(PGPORT), 'postgres'], { user: 'postgres' });
      const bench = primary.exec(['pgbench', '-c', '8', '-j', '2', '-T', '40', '-h', '/tmp', '-p', String(PGPORT), 'postgres'], { user: 'postgres', timeoutMs: 120_000 });
      await sleep(5000);
      const r = await f.pm2(primary, ['trigger', MODULE, 'switchover']);
      log(`switchover under pgbench: ${r.trim().split('\n').pop()}`);
      log(`${await waitFailover(primary)} is the primary now`);
      await bench.catch(() => undefined);
      healed();
    },
  },
  {
    name: 'three-node-lagging-standby',
    nodes: 3,
    async run({ primary, standbys, healed, waitFailover, log }) {
      const slow = standbys[standbys.length - 1]!;
      await F.throttle(slow, 256, 2000);
      log(`${slow.name}'s link throttled to 256 kbit/s`);
      await sleep(10_000);
      await F.kill(primary);
      log(`${primary.name} dead: ${await waitFailover(primary)} took over`);
      await sleep(5000);
      await F.unthrottle(slow);
      await F.start(primary);
      healed();
    },
  },
];

export function scenario(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario "${name}"; known: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}

export interface RunResult {
  scenario: string;
  acked: number;
  lost: Ack[];
  splitBrain: SplitBrainWindow[];
  timelineRegressions: Ack[];
  longestOutageMs: number;
  convergeMs: number;
  finalPrimary: string;
  error?: string;
}

export function failed(r: RunResult): boolean {
  return !!r.error || r.lost.length > 0 || r.splitBrain.length > 0 || r.timelineRegressions.length > 0;
}

/** One run of a scenario on a fresh formation, always destroyed afterwards. */
/** A small seeded PRNG (mulberry32): the same seed gives the same fault timings. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One run of a scenario on a fresh formation, always destroyed afterwards; `seed` sets when the fault starts. */
export async function runScenario(docker: Docker, image: string, s: Scenario, log: (m: string) => void, seed = 1): Promise<RunResult> {
  const rand = prng(seed);
  const f = new Formation(docker, image, { nodes: s.nodes ?? 2, log, ...s.formation });
  const result: RunResult = { scenario: s.name, acked: 0, lost: [], splitBrain: [], timelineRegressions: [], longestOutageMs: 0, convergeMs: 0, finalPrimary: '' };
  let writers: Writers | undefined;
  try {
    await f.create();
    await f.start();
    const targets = f.uriHosts;
    await createTable(targets);
    writers = new Writers(targets);
    writers.start();
    await sleep(2000 + Math.floor(rand() * 3000));
    const pname = await f.waitConverged(60_000);
    const primary = f.node(pname);
    const standbys = f.nodes.filter((h) => h !== primary);
    let healedAt = 0;
    const faultAt = Date.now();
    await s.run({
      f,
      primary,
      standbys,
      log,
      healed: () => {
        healedAt = Date.now();
      },
      waitFailover: (old, ms) => waitFailover(f, old, ms),
    });
    if (!healedAt) healedAt = Date.now();
    result.finalPrimary = await f.waitConverged(300_000);
    result.convergeMs = Date.now() - healedAt;
    log(`converged ${result.convergeMs} ms after healing: ${result.finalPrimary} primary`);
    // writes go on for a while on the converged formation
    await sleep(3000);
    const endAt = Date.now();
    await writers.stop();
    const acks = writers.acks;
    result.acked = acks.length;
    const final = f.uriHosts.find((t) => t.name === result.finalPrimary)!;
    const present = await rowsOn(final);
    result.lost = lostAcks(acks, present);
    result.splitBrain = splitBrainWindows(acks);
    result.timelineRegressions = timelineRegressions(acks);
    result.longestOutageMs = longestOutage(acks, 'uri', faultAt, endAt);
    if (failed(result)) log(await f.logs(80));
  } catch (err) {
    result.error = (err as Error).message;
    await writers?.stop().catch(() => undefined);
    if (writers) result.acked = writers.acks.length;
    log(`${s.name} failed: ${result.error}`);
    log(await f.logs(80).catch(() => ''));
  } finally {
    await f.destroy();
  }
  return result;
}
