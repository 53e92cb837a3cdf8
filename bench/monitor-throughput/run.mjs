#!/usr/bin/env node
// node_active() calls per second, their latency (p50/p99) and the monitor's CPU: our `pgaf`
// extension against pg_auto_failover's C monitor (`pgautofailover`), side by side in one run,
// for several registered-node counts and client counts, flat out or at a fixed call rate
// (RATE: e.g. 500 nodes at 2 Hz = RATE=1000). Each target gets its own throwaway Postgres (same postgresql.conf, 127.0.0.1, own
// port and socket dir, run as the `postgres` OS user); the servers are measured one after the
// other, point by point, never at the same time. Prints a markdown table and writes it to
// bench/results/monitor-throughput.md.
//
// Environment:
//   DURATION=10         seconds per point (pgbench -T)
//   NODES=10,100,500    registered node counts (even: N/2 formations of primary + secondary)
//   CLIENTS=1,4,8       pgbench clients (-c and -j)
//   RATE=0              calls per second (pgbench -R) for every point; 0 = as fast as possible.
//                       Latency then counts from each call's scheduled start (queueing included)
//   TARGETS=ours,c      which monitors to run (skipped with a note when not installed); add
//                       `patched` to also run ours with PATCH_SQL applied (an extra column)
//   PATCH_SQL=file.sql  SQL run in the `patched` server after CREATE EXTENSION pgaf (e.g. a
//                       CREATE OR REPLACE FUNCTION to try): A/B-test a tuning idea side by side
//   ROUNDS=1            repeat every point, report the median
//   FSYNC=off           fsync and synchronous_commit of both servers. Off by default so the
//                       figures show the monitor's own CPU cost; with `on`, WAL flushes
//                       (held under the group lock) dominate and depend on the disk.
//   STATS=0             1: load pg_stat_statements (track=all) in both servers and write the
//                       top statements per point to bench/results/monitor-throughput-stats.md
//                       (adds overhead to both; use it to find hot spots, not for the table)
//   SEED=4242           pgbench --random-seed, the same for every target and point: each
//                       monitor is asked for the same sequence of nodes and, with RATE, on the
//                       same schedule (pgbench -R draws its delays at random: without a common
//                       seed, calls/s at a fixed rate differ by about 1 % from the draw alone)
//   PG_CONFIG           pg_config to use (default: the one on PATH); a relocated copy of the
//                       PostgreSQL tree keeps the extension files this run installs private
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const SCRIPT = join(HERE, 'node_active.sql');
const RESULTS = join(ROOT, 'bench/results');

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const cfg = {
  duration: Number(process.env.DURATION ?? 10),
  nodes: list(process.env.NODES ?? '10,100,500').map(Number),
  clients: list(process.env.CLIENTS ?? '1,4,8').map(Number),
  targets: list(process.env.TARGETS ?? 'ours,c').map((t) => t.toLowerCase()),
  rounds: Number(process.env.ROUNDS ?? 1),
  rate: Number(process.env.RATE ?? 0),
  fsync: process.env.FSYNC ?? 'off',
  stats: process.env.STATS === '1',
  seed: process.env.SEED ?? '4242',
};
for (const n of cfg.nodes) if (!(n >= 2 && n % 2 === 0)) throw new Error(`NODES: ${n} is not an even count >= 2`);
if (!(cfg.rate >= 0)) throw new Error(`RATE: ${process.env.RATE} is not a number of calls per second >= 0`);
cfg.nodes.sort((a, b) => a - b);

// What a converged node reports; node_active.sql uses the same literals.
const STEADY = { tli: 1, lsn: '0/3000000', primaryRep: 'quorum', standbyRep: '' };
const PRIMARY_SIDE = new Set(['single', 'wait_primary', 'primary', 'join_primary', 'apply_settings']);

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

// ---------------------------------------------------------------- binaries, users

function pgConfig(flag) {
  const r = spawnSync(process.env.PG_CONFIG ?? 'pg_config', [flag], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pg_config ${flag} failed: ${r.stderr}`);
  return r.stdout.trim();
}
const BINDIR = pgConfig('--bindir');
const SHAREDIR = pgConfig('--sharedir');
const PKGLIBDIR = pgConfig('--pkglibdir');
const bin = (name) => join(BINDIR, name);

function osUser(name) {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  const [, , uid, gid] = r.stdout.trim().split(':');
  if (r.status !== 0 || uid === undefined) throw new Error(`no OS user ${name}`);
  return { uid: Number(uid), gid: Number(gid) };
}
// Postgres refuses root: run server binaries as `postgres` when we are root.
const RUN_AS = process.getuid?.() === 0 ? osUser('postgres') : undefined;

function run(cmd, args, { asPg = false, allowFail = false } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    cwd: '/',
    env: { ...process.env, LC_ALL: 'C' },
    ...(asPg && RUN_AS ? { uid: RUN_AS.uid, gid: RUN_AS.gid } : {}),
  });
  if (r.status !== 0 && !allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout || r.error || '').toString().trim()}`);
  }
  return r;
}

function freePort() {
  return new Promise((ok, ko) => {
    const srv = createServer();
    srv.once('error', ko);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

// ---------------------------------------------------------------- targets

const TARGETS = {
  ours: {
    label: 'ours',
    extension: 'pgaf',
    preload: [],
    conf: [],
    check() {
      if (!existsSync(join(ROOT, 'monitor-ext/sql/grants.sql'))) return 'monitor-ext/sql/grants.sql does not exist yet (extension incomplete)';
      return null;
    },
    install() {
      // Same code path as `pgaf install-extension`: bundle monitor-ext/sql into $sharedir/extension.
      const code = `import { installExtensionFiles } from './monitor-ext/bundle.ts';
        import { pgShareDir } from './lib/pgbin.ts';
        console.log(installExtensionFiles(pgShareDir()).join(' '));`;
      const r = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['-e', code], { cwd: ROOT, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`installing the pgaf extension files failed: ${r.stderr || r.stdout}`);
      log(`installed ${r.stdout.trim()}`);
    },
  },
  patched: {
    label: 'ours+patch',
    extension: 'pgaf',
    preload: [],
    conf: [],
    check() {
      if (!process.env.PATCH_SQL) return 'PATCH_SQL is not set';
      if (!existsSync(process.env.PATCH_SQL)) return `PATCH_SQL ${process.env.PATCH_SQL} does not exist`;
      return TARGETS.ours.check();
    },
    install() {
      if (!cfg.targets.includes('ours')) TARGETS.ours.install();
    },
    async afterCreate(db) {
      await db.query(readFileSync(process.env.PATCH_SQL, 'utf8'));
      log(`ours+patch: applied ${process.env.PATCH_SQL}`);
    },
  },
  c: {
    label: 'C',
    extension: 'pgautofailover',
    preload: ['pgautofailover'],
    // Ours probes health out of process, so switch the C monitor's in-server prober off.
    conf: ['pgautofailover.enable_health_checks = off'],
    check() {
      if (!existsSync(join(PKGLIBDIR, 'pgautofailover.so')) || !existsSync(join(SHAREDIR, 'extension/pgautofailover.control')))
        return 'pg_auto_failover is not installed (apt-get install postgresql-15-auto-failover)';
      return null;
    },
    install() {},
  },
};

// ---------------------------------------------------------------- servers

const live = new Set();
let workRoot;

function stopServer(s) {
  if (!s.started) return;
  run(bin('pg_ctl'), ['-D', s.pgdata, '-m', 'fast', '-w', '-t', '30', 'stop'], { asPg: true, allowFail: true });
  if (existsSync(join(s.pgdata, 'postmaster.pid'))) {
    // pg_ctl could not stop it: kill this server's postmaster by the PID in its own pid file.
    try {
      const pid = Number(readFileSync(join(s.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {}
  }
  s.started = false;
}

function cleanup() {
  for (const s of live) {
    try { stopServer(s); } catch {}
    live.delete(s);
  }
  if (workRoot) {
    try { rmSync(workRoot, { recursive: true, force: true }); } catch {}
    workRoot = undefined;
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping servers`);
    cleanup();
    process.exit(130);
  });
}

async function startServer(key) {
  const t = TARGETS[key];
  const dir = join(workRoot, key);
  const s = { key, t, dir, pgdata: join(dir, 'data'), sock: join(dir, 'sock'), logfile: join(dir, 'postgres.log'), port: await freePort(), started: false, nodes: 0 };
  mkdirSync(s.sock, { recursive: true });
  if (RUN_AS) for (const d of [dir, s.sock]) chownSync(d, RUN_AS.uid, RUN_AS.gid);
  live.add(s);
  run(bin('initdb'), ['-D', s.pgdata, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '-N'], { asPg: true });
  const preload = [...t.preload, ...(cfg.stats ? ['pg_stat_statements'] : [])];
  const conf = [
    '# monitor-throughput bench: identical for both targets',
    "listen_addresses = '127.0.0.1'",
    `port = ${s.port}`,
    `unix_socket_directories = '${s.sock}'`,
    'max_connections = 50',
    'shared_buffers = 128MB',
    `fsync = ${cfg.fsync}`,
    `synchronous_commit = ${cfg.fsync}`,
    "log_min_messages = warning",
    ...(cfg.stats ? ['pg_stat_statements.track = all', 'pg_stat_statements.max = 1000', 'track_functions = all'] : []),
    '# target-specific',
    ...(preload.length ? [`shared_preload_libraries = '${preload.join(',')}'`] : []),
    ...t.conf,
    '',
  ];
  appendFileSync(join(s.pgdata, 'postgresql.conf'), conf.join('\n'));
  run(bin('pg_ctl'), ['-D', s.pgdata, '-l', s.logfile, '-w', '-t', '60', 'start'], { asPg: true });
  s.started = true;

  const boot = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'postgres', database: 'postgres' });
  await boot.connect();
  await boot.query('CREATE DATABASE pg_auto_failover');
  s.version = (await boot.query('SHOW server_version')).rows[0].server_version;
  await boot.end();
  s.db = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'postgres', database: 'pg_auto_failover' });
  await s.db.connect();
  await s.db.query(`CREATE EXTENSION ${t.extension} CASCADE`);
  if (t.afterCreate) await t.afterCreate(s.db);
  if (cfg.stats) await s.db.query('CREATE EXTENSION pg_stat_statements');
  s.extVersion = (await s.db.query('SELECT extversion FROM pg_extension WHERE extname = $1', [t.extension])).rows[0].extversion;
  // Keepers connect as autoctl_node; use it when the extension made it a login role.
  const role = (await s.db.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'autoctl_node'")).rows[0];
  s.benchUser = role?.rolcanlogin ? 'autoctl_node' : 'postgres';
  log(`${t.label}: PostgreSQL ${s.version}, extension ${t.extension} ${s.extVersion}, port ${s.port}, pgbench as ${s.benchUser}`);
  return s;
}

// ---------------------------------------------------------------- formations and nodes

const fid = (k) => `f${k}`;

/** One keeper heartbeat: report the goal we were last given as our current state. */
async function heartbeat(s, k, nodeId) {
  const { rows } = await s.db.query('SELECT goalstate::text AS g FROM pgautofailover.node WHERE nodeid = $1', [nodeId]);
  const cur = rows[0].g;
  const rep = PRIMARY_SIDE.has(cur) ? STEADY.primaryRep : STEADY.standbyRep;
  await s.db.query('SELECT * FROM pgautofailover.node_active($1, $2, 0, $3, true, $4, $5, $6)', [fid(k), nodeId, cur, STEADY.tli, STEADY.lsn, rep]);
}

/** Drive formation k's pair (nodes 2k-1, 2k) to converged primary / secondary. */
async function converge(s, k) {
  const a = 2 * k - 1;
  const b = 2 * k;
  for (let round = 0; round < 20; round++) {
    await heartbeat(s, k, a);
    await heartbeat(s, k, b);
    const { rows } = await s.db.query(
      'SELECT nodeid, goalstate::text AS g, reportedstate::text AS r FROM pgautofailover.node WHERE nodeid IN ($1, $2) ORDER BY nodeid',
      [a, b],
    );
    if (rows.length === 2 && rows.every((r) => r.g === r.r) && rows[0].g === 'primary' && rows[1].g === 'secondary') return;
  }
  const { rows } = await s.db.query('SELECT nodeid, goalstate, reportedstate, health FROM pgautofailover.node WHERE formationid = $1', [fid(k)]);
  throw new Error(`${s.t.label}: formation ${fid(k)} did not converge: ${JSON.stringify(rows)}`);
}

/** create_formation(); if the extension's function is broken, insert the row and say so in the output. */
async function createFormation(s, f) {
  if (!s.formationFallback) {
    try {
      await s.db.query("SELECT pgautofailover.create_formation($1, 'pgsql', 'postgres', true, 0)", [f]);
      return;
    } catch (e) {
      s.formationFallback = `${s.t.label}: create_formation() failed (${e.message}); formations were inserted into pgautofailover.formation directly`;
      log(s.formationFallback);
    }
  }
  await s.db.query("INSERT INTO pgautofailover.formation (formationid, kind, dbname, opt_secondary, number_sync_standbys) VALUES ($1, 'pgsql', 'postgres', true, 0)", [f]);
}

/** Register formations until the monitor holds n nodes, each pair converged. */
async function growTo(s, n) {
  const q = (sql, args) => s.db.query(sql, args);
  for (let k = s.nodes / 2 + 1; k <= n / 2; k++) {
    const f = fid(k);
    const sysid = String(7000000000000000000n + BigInt(k));
    await createFormation(s, f);
    for (const [i, expected] of [[2 * k - 1, 'single'], [2 * k, 'wait_standby']]) {
      const { rows } = await q(
        "SELECT assigned_node_id, assigned_group_state::text AS st FROM pgautofailover.register_node($1, '127.0.0.1', $2, 'postgres', $3, $4)",
        [f, 10000 + i, `${f}_${i % 2 ? 'a' : 'b'}`, sysid],
      );
      if (Number(rows[0].assigned_node_id) !== i || rows[0].st !== expected)
        throw new Error(`${s.t.label}: register_node in ${f} gave node ${rows[0].assigned_node_id} in ${rows[0].st}, expected ${i} in ${expected}`);
      // What the health worker (ours: out of process; C: switched off here) would have written.
      await q('UPDATE pgautofailover.node SET health = 1, healthchecktime = now() WHERE nodeid = $1', [i]);
      if (expected === 'single') await heartbeat(s, k, i); // the first keeper reaches single before the second registers
    }
    await converge(s, k);
  }
  s.nodes = n;
}

/** Fresh heartbeat from every node (a keeper would have sent one in the last second), then check the layout. */
async function refresh(s) {
  await s.db.query('UPDATE pgautofailover.node SET health = 1, healthchecktime = now()');
  for (let k = 1; k <= s.nodes / 2; k++) await converge(s, k);
  await checkLayout(s);
}

/** Node i in formation f(ceil(i/2)), odd = primary, even = secondary, all converged: what node_active.sql assumes. */
async function checkLayout(s) {
  const { rows } = await s.db.query(
    'SELECT nodeid, formationid, groupid, goalstate::text AS g, reportedstate::text AS r FROM pgautofailover.node ORDER BY nodeid',
  );
  const bad = [];
  if (rows.length !== s.nodes) bad.push(`${rows.length} nodes instead of ${s.nodes}`);
  rows.forEach((r, idx) => {
    const i = idx + 1;
    const want = i % 2 ? 'primary' : 'secondary';
    if (Number(r.nodeid) !== i || r.formationid !== fid(Math.ceil(i / 2)) || r.groupid !== 0 || r.g !== want || r.r !== want)
      bad.push(JSON.stringify(r));
  });
  if (bad.length) throw new Error(`${s.t.label}: node layout is not what node_active.sql assumes: ${bad.slice(0, 5).join('; ')}`);
}

const eventMark = async (s) => Number((await s.db.query('SELECT count(*) AS n FROM pgautofailover.event')).rows[0].n);

// ---------------------------------------------------------------- CPU accounting
// The machine may be shared: measure how much CPU went to processes that are neither the
// measured server (postmaster + its children) nor this script and its pgbench, so disturbed
// points can be spotted. Counters are in clock ticks (USER_HZ = 100 on Linux).

function procTimes(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' '); // f[0] = field 3 (state)
  return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

function cpuSample(s) {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3] - cpu[4]; // all but idle and iowait
  let server = 0;
  try {
    const pm = Number(readFileSync(join(s.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const t = procTimes(pm);
    server = t.own + t.children;
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const c = procTimes(d);
        if (c.ppid === pm) server += c.own;
      } catch {}
    }
  } catch {}
  const me = procTimes(process.pid);
  return { busy, server, me: me.own + me.children };
}

/** Cores used by everything else between two samples. */
const foreignCores = (a, b, seconds) => Math.max(0, (b.busy - a.busy) - (b.server - a.server) - (b.me - a.me)) / 100 / seconds;

// ---------------------------------------------------------------- measuring

function runAsync(cmd, args) {
  return new Promise((ok) => {
    const child = spawn(cmd, args, { env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => ok({ status: -1, stdout, stderr: stderr + String(e) }));
    child.on('close', (status) => ok({ status, stdout, stderr }));
  });
}

/** STATS mode: what the pgbench sessions wait on, sampled every 10 ms from a second connection. */
function sampleWaits(s) {
  const counts = new Map();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'postgres', database: 'pg_auto_failover' });
    await c.connect();
    while (running) {
      const { rows } = await c.query(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, count(*)::int AS n FROM pg_stat_activity
          WHERE datname = 'pg_auto_failover' AND usename = $1 AND pid <> pg_backend_pid() AND state = 'active' GROUP BY 1`,
        [s.benchUser],
      );
      samples++;
      for (const r of rows) counts.set(r.w, (counts.get(r.w) ?? 0) + r.n);
      await new Promise((res) => setTimeout(res, 10));
    }
    await c.end();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...counts].sort((a, b) => b[1] - a[1]).map(([w, n]) => ({ w, avg: n / Math.max(samples, 1) }));
    },
  };
}

async function measure(s, clients) {
  await refresh(s);
  await s.db.query('VACUUM ANALYZE pgautofailover.node');
  await s.db.query('CHECKPOINT');
  if (cfg.stats) {
    await s.db.query('SELECT pg_stat_force_next_flush()'); // our own setup calls, out of the way first
    await s.db.query('SELECT pg_stat_statements_reset(), pg_stat_reset()');
  }
  const before = await eventMark(s);
  const logDir = mkdtempSync(join(workRoot, 'latency-'));
  const args = ['-n', '-f', SCRIPT, '-c', String(clients), '-j', String(clients), '-T', String(cfg.duration), '-M', 'prepared',
    ...(cfg.rate > 0 ? ['-R', String(cfg.rate)] : []), `--random-seed=${cfg.seed}`, '-l', `--log-prefix=${join(logDir, 'tx')}`,
    '-D', `nodes=${s.nodes}`, '-h', '127.0.0.1', '-p', String(s.port), '-U', s.benchUser, 'pg_auto_failover'];
  const cpu0 = cpuSample(s);
  const t0 = Date.now();
  const waits = cfg.stats ? sampleWaits(s) : undefined;
  const r = await runAsync(bin('pgbench'), args);
  const waitHistogram = waits ? await waits.stop() : undefined;
  await new Promise((res) => setTimeout(res, 300)); // the postmaster reaps the backends (their CPU is counted then)
  const cpu1 = cpuSample(s);
  const seconds = (Date.now() - t0) / 1000;
  const foreign = foreignCores(cpu0, cpu1, seconds);
  const serverCores = (cpu1.server - cpu0.server) / 100 / seconds;
  const latency = latencyPercentiles(logDir);
  rmSync(logDir, { recursive: true, force: true });
  const out = `${r.stdout}\n${r.stderr}`;
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1] ?? NaN);
  const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
  const events = (await eventMark(s)) - before;
  let layoutOk = true;
  try { await checkLayout(s); } catch (e) { layoutOk = false; log(String(e.message)); }
  const error = r.status !== 0 || !Number.isFinite(tps) || failed > 0 ? out.trim().split('\n').slice(-6).join(' | ') : null;
  if (error) log(`${s.t.label}: pgbench: ${error}`);
  let stats;
  let funcs;
  if (cfg.stats) {
    await s.db.query('SELECT pg_stat_clear_snapshot()');
    funcs = (await s.db.query(
      `SELECT schemaname || '.' || funcname AS fn, calls, round(total_time::numeric, 1) AS total_ms, round(self_time::numeric, 1) AS self_ms
         FROM pg_stat_user_functions WHERE calls > 0 ORDER BY self_time DESC LIMIT 15`,
    )).rows;
    stats = (await s.db.query(
      `SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 4) AS mean_ms,
              rows, shared_blks_hit + shared_blks_read AS blks, toplevel, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC LIMIT 15`,
    )).rows;
  }
  return { tps, events, layoutOk, error, stats, funcs, foreign, waitHistogram, serverCores, ...latency };
}

/** p50 and p99 of the per-call latencies (ms) in pgbench's -l logs (field 3: microseconds). */
function latencyPercentiles(dir) {
  const us = [];
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const v = Number(line.split(' ')[2]);
      if (line && Number.isFinite(v)) us.push(v);
    }
  }
  us.sort((a, b) => a - b);
  const at = (q) => (us.length ? us[Math.min(us.length - 1, Math.floor(q * us.length))] / 1000 : NaN);
  return { p50: at(0.5), p99: at(0.99), calls: us.length };
}

const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

// ---------------------------------------------------------------- main

async function main() {
  const notes = [];
  const keys = [];
  for (const key of cfg.targets) {
    const t = TARGETS[key];
    if (!t) throw new Error(`TARGETS: unknown target ${key} (use ours, c)`);
    const why = t.check();
    if (why) { notes.push(`${t.label} not measured: ${why}.`); log(`skipping ${t.label}: ${why}`); continue; }
    keys.push(key);
  }
  if (!keys.length) throw new Error(`nothing to measure: ${notes.join(' ')}`);

  workRoot = mkdtempSync(join(tmpdir(), 'pgaf-bench-'));
  if (RUN_AS) chownSync(workRoot, RUN_AS.uid, RUN_AS.gid);
  const servers = {};
  for (const key of keys) {
    TARGETS[key].install();
    servers[key] = await startServer(key);
  }

  const results = {}; // key -> "n/c" -> [{tps, events, ...}]
  for (const key of keys) results[key] = {};
  const statsOut = [];
  let flip = false;
  for (const n of cfg.nodes) {
    for (const key of keys) {
      const t0 = Date.now();
      await growTo(servers[key], n);
      log(`${TARGETS[key].label}: ${n} nodes registered and converged in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    for (let round = 0; round < cfg.rounds; round++) {
      for (const c of cfg.clients) {
        // Alternate who goes first, so neither side always runs on a warmer or cooler machine.
        const order = flip ? [...keys].reverse() : keys;
        flip = !flip;
        for (const key of order) {
          const m = await measure(servers[key], c);
          (results[key][`${n}/${c}`] ??= []).push(m);
          log(`${TARGETS[key].label}: ${n} nodes, ${c} clients${cfg.rate ? ` at ${cfg.rate}/s` : ''}: ${m.tps.toFixed(0)} calls/s, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, monitor CPU ${m.serverCores.toFixed(2)} cores, ${m.events} new events, other load ${m.foreign.toFixed(2)} cores${m.layoutOk ? '' : ', GOAL STATES CHANGED'}`);
          if (m.stats) statsOut.push({ label: TARGETS[key].label, n, c, rows: m.stats, funcs: m.funcs, tps: m.tps, waits: m.waitHistogram, foreign: m.foreign });
          if (!m.layoutOk) {
            // Put the pairs back before the next point; the point itself is flagged in the table.
            for (let k = 1; k <= n / 2; k++) await converge(servers[key], k);
          }
        }
      }
    }
  }

  // ---- table
  const has = (k) => keys.includes(k);
  const fmt = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
  const cell = (key, n, c) => {
    const ms = results[key]?.[`${n}/${c}`];
    if (!ms) return { text: '—', tps: NaN, flag: '', foreign: '—', lat: '—', cpu: '—' };
    const tps = median(ms.map((m) => m.tps));
    const ev = ms.reduce((a, m) => a + m.events, 0);
    const flag = (ms.some((m) => m.error) ? ' (errors)' : '') + (ms.some((m) => !m.layoutOk) || ev ? ` (${ev} events!)` : '');
    const ms2 = (x) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 1) : 'n/a');
    const lat = `${ms2(median(ms.map((m) => m.p50)))} / ${ms2(median(ms.map((m) => m.p99)))}`;
    const cpu = median(ms.map((m) => m.serverCores)).toFixed(2);
    return { text: fmt(tps) + flag, tps, flag, foreign: Math.max(...ms.map((m) => m.foreign)).toFixed(2), lat, cpu,
             p50: median(ms.map((m) => m.p50)), p99: median(ms.map((m) => m.p99)) };
  };
  const lines = [];
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
  lines.push(`# node_active() throughput: pgaf vs pg_auto_failover (C)`);
  lines.push('');
  lines.push(`${new Date().toISOString()} · ${cpus().length} cores (${cpuModel}) · PostgreSQL ${Object.values(servers)[0].version} · ` +
    keys.map((k) => `${TARGETS[k].extension} ${servers[k].extVersion}`).join(', '));
  lines.push(`pgbench -M prepared${cfg.rate ? `, -R ${cfg.rate} (calls/s, latency from the scheduled start)` : ', as fast as possible'}, ${cfg.duration} s per point${cfg.rounds > 1 ? `, median of ${cfg.rounds} rounds` : ''}; ` +
    `shared_buffers 128MB, fsync=${cfg.fsync}, synchronous_commit=${cfg.fsync}; C: enable_health_checks=off` +
    (cfg.stats ? '; pg_stat_statements loaded in both (track=all), figures include its overhead' : ''));
  lines.push('');
  const withPatch = has('patched');
  lines.push(`| nodes | clients | ours calls/s | C calls/s | ours / C | ours p50 / p99 ms | C p50 / p99 ms | ours monitor CPU, cores | C monitor CPU, cores |${withPatch ? ' ours+patch calls/s | ours+patch / C |' : ''} other load, cores (ours / C${withPatch ? ' / patch' : ''}) |`);
  lines.push(`|---:|---:|---:|---:|---:|---:|---:|---:|---:|${withPatch ? '---:|---:|' : ''}---:|`);
  const behind = [];
  for (const n of cfg.nodes) {
    for (const c of cfg.clients) {
      const o = cell('ours', n, c);
      const k = cell('c', n, c);
      const ratio = Number.isFinite(o.tps) && Number.isFinite(k.tps) ? o.tps / k.tps : NaN;
      // at a fixed rate both are asked the same calls (SEED): behind = not keeping up, or slower calls
      if (cfg.rate > 0
        ? (o.tps < 0.98 * cfg.rate && o.tps < k.tps) || o.p50 > k.p50 || o.p99 > k.p99
        : Number.isFinite(ratio) && ratio < 1) behind.push(`${n} nodes × ${c} clients (${ratio.toFixed(2)}${cfg.rate > 0 ? `, p50 ${o.lat} vs ${k.lat} ms` : ''})`);
      const pt = cell('patched', n, c);
      const pr = pt.tps / k.tps;
      const patchCols = withPatch ? ` ${pt.text} | ${Number.isFinite(pr) ? pr.toFixed(2) : '—'} |` : '';
      lines.push(`| ${n} | ${c} | ${o.text} | ${k.text} | ${Number.isFinite(ratio) ? ratio.toFixed(2) : '—'} | ${o.lat} | ${k.lat} | ${o.cpu} | ${k.cpu} |${patchCols} ${o.foreign} / ${k.foreign}${withPatch ? ` / ${pt.foreign}` : ''} |`);
    }
  }
  lines.push('');
  const allEvents = keys.flatMap((k) => Object.values(results[k]).flat()).reduce((a, m) => a + m.events, 0);
  lines.push(allEvents === 0
    ? 'Goal states held during every measurement (no events added, layout re-checked after each point).'
    : `WARNING: ${allEvents} events were added during measurements (flagged cells): goal states changed under load.`);
  if (has('ours') && has('c')) lines.push(behind.length ? `ours < C at: ${behind.join(', ')}.` : 'ours ≥ C at every point.');
  lines.push('Monitor CPU: CPU time of the measured server (postmaster and all its processes) over the point, in cores.');
  lines.push('"Other load": CPU used during the point by processes other than the measured server, pgbench and this script (the machine may be shared; max over rounds).');
  for (const s of Object.values(servers)) if (s.formationFallback) notes.push(s.formationFallback + '.');
  if (withPatch) notes.push(`ours+patch = ours with ${process.env.PATCH_SQL} applied after CREATE EXTENSION.`);
  for (const note of notes) lines.push(note);
  lines.push('');
  const md = lines.join('\n');
  process.stdout.write(md);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'monitor-throughput.md'), md);
  if (statsOut.length) {
    const st = ['# pg_stat_statements per point (top 15 by total time, track=all)', ''];
    for (const { label, n, c, rows, funcs, tps, waits, foreign } of statsOut) {
      st.push(`## ${label}: ${n} nodes, ${c} clients (${Math.round(tps)} calls/s, other load ${foreign.toFixed(2)} cores)`, '');
      if (waits?.length) st.push(`Active pgbench sessions by wait event (average over samples): ${waits.map((x) => `${x.w} ${x.avg.toFixed(2)}`).join(', ')}`, '');
      st.push('| calls | total ms | mean ms | rows | blks | top | query |', '|---:|---:|---:|---:|---:|---|---|');
      for (const r of rows) st.push(`| ${r.calls} | ${r.total_ms} | ${r.mean_ms} | ${r.rows} | ${r.blks} | ${r.toplevel ? 'y' : ''} | \`${r.query.replace(/\|/g, '\\|')}\` |`);
      st.push('');
      if (funcs?.length) {
        st.push('| function (SQL/PL, track_functions=all) | calls | total ms | self ms |', '|---|---:|---:|---:|');
        for (const f of funcs) st.push(`| ${f.fn} | ${f.calls} | ${f.total_ms} | ${f.self_ms} |`);
        st.push('');
      }
    }
    writeFileSync(join(RESULTS, 'monitor-throughput-stats.md'), st.join('\n'));
    log(`statement statistics written to ${join(RESULTS, 'monitor-throughput-stats.md')}`);
  }
  for (const s of Object.values(servers)) await s.db.end().catch(() => {});
}

main().catch((e) => {
  log(`failed: ${e.stack ?? e}`);
  cleanup(); // open client connections would keep the event loop alive: stop the servers and leave
  process.exit(1);
});
