#!/usr/bin/env node
// Renders the failover benchmark (bench/failover/run.sh) as markdown: pgaf against
// pg_auto_failover, medians and worst case, their ratio, and pgaf against its targets.
//
//   node bench/failover/report.mjs --dir bench/results/failover-<stamp> [--docs docs/benchmarks.md]
//
// Reads <dir>/meta.txt and <dir>/<system>/<invocation>/{stdout.txt,rc,settings.txt}, where
// stdout.txt holds the harness's `name: value` lines. Per-run values (failover_run<k>_*,
// switchover_run<k>_*) are pooled over invocations; bring-up and idle figures are one sample
// per invocation. Worst case = the largest value (every metric here is lower-is-better).
// Prints the report, writes it to --docs if given and a summary.json beside the raw outputs.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SYSTEMS = [
  { id: 'pgaf', label: 'pgaf' },
  { id: 'pg_auto_failover', label: 'pg_auto_failover' },
];

function parseArgs(argv) {
  const a = { dir: '', docs: '' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dir') a.dir = argv[++i] ?? '';
    else if (argv[i] === '--docs') a.docs = argv[++i] ?? '';
    else throw new Error(`unknown argument ${argv[i]} (usage: report.mjs --dir DIR [--docs FILE])`);
  }
  if (!a.dir) throw new Error('usage: report.mjs --dir DIR [--docs FILE]');
  return a;
}

/** `name: value` lines → Map (first ": " splits; later duplicates win). */
export function parseKv(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i).trim(), line.slice(i + 2).trim());
    else if (/^[\w.]+:$/.test(line.trim())) m.set(line.trim().slice(0, -1), '');
  }
  return m;
}

/** A path relative to the checkout when inside it, else as is. */
const shown = (p) => (resolve(p).startsWith(ROOT + '/') ? relative(ROOT, p) : p);
const readIf = (p) => (existsSync(p) ? readFileSync(p, 'utf8') : '');

function loadSystem(dir, id) {
  const sdir = join(dir, id);
  if (!existsSync(sdir)) return null;
  const invs = readdirSync(sdir)
    .filter((n) => /^\d+$/.test(n))
    .sort((x, y) => Number(x) - Number(y))
    .map((n) => {
      const d = join(sdir, n);
      return {
        n: Number(n),
        dir: d,
        kv: parseKv(readIf(join(d, 'stdout.txt'))),
        rc: readIf(join(d, 'rc')).trim() || '?',
        settings: parseKv(readIf(join(d, 'settings.txt'))),
      };
    });
  return invs.length ? { id, invs } : null;
}

/** 'timeout' → Infinity, numbers → number, anything else (absent, n/a) → undefined. */
function num(v) {
  if (v === undefined || v === '' || v === 'n/a') return undefined;
  if (v === 'timeout') return Infinity;
  const x = Number(v);
  return Number.isFinite(x) ? x : undefined;
}

function median(xs) {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

// ------------------------------------------------------------------ metrics
// kind: time (s), mem (kB in, MB out), cpu (%), count. per: run | inv.
// get(kv, k) returns the sample of run k (per: run) or of the invocation (per: inv).
const runKey = (prefix, suffix) => (kv, k) => num(kv.get(`${prefix}_run${k}_${suffix}`));
const invKey = (key) => (kv) => num(kv.get(key));
const maxOf = (...fs) => (kv, k) => {
  const v = fs.map((f) => f(kv, k)).filter((x) => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
};
const sumOf = (...fs) => (kv, k) => {
  const v = fs.map((f) => f(kv, k));
  return v.some((x) => x === undefined) ? undefined : v.reduce((a, b) => a + b, 0);
};

const METRICS = [
  { section: 'Bring-up' },
  { id: 'bringup_total', label: 'bring-up: nothing → primary + sync standby (s)', kind: 'time', per: 'inv', get: invKey('bringup_total_s'), target: { max: 4, on: 'median', text: '≤ 4 s' } },
  { id: 'bringup_monitor', label: '  of which: monitor created and running (s)', kind: 'time', per: 'inv', get: invKey('bringup_monitor_ready_s') },
  { id: 'bringup_node1', label: '  of which: first node → single (s)', kind: 'time', per: 'inv', get: invKey('bringup_node1_single_s') },
  { id: 'bringup_node2', label: '  of which: second node → secondary (s)', kind: 'time', per: 'inv', get: invKey('bringup_node2_secondary_s') },
  { section: 'Unplanned failover (kill -9 of the primary host: keeper + every Postgres process)' },
  { id: 'failover', label: 'host death → first commit on the new primary (s)', kind: 'time', per: 'run', get: runKey('failover', 'write_unavailable_s'), target: { max: 2, on: 'median', text: '≤ 2 s' } },
  { id: 'failover_monitor', label: 'host death → monitor shows the new primary (s)', kind: 'time', per: 'run', get: runKey('failover', 'monitor_new_primary_reported_s') },
  { id: 'rejoin', label: 'old primary back as secondary, after its agent restarts (s)', kind: 'time', per: 'run', get: runKey('failover', 'rejoin_s'), target: { max: 1, on: 'median', text: '≤ 1 s' } },
  { id: 'failover_lost', label: 'acknowledged writes lost per failover', kind: 'count', per: 'run', get: runKey('failover', 'lost_acked_writes'), target: { max: 0, on: 'worst', text: '0 in every run', allRuns: true } },
  { id: 'failover_fbc', label: 'writes reported failed but committed per failover (not a loss)', kind: 'count', per: 'run', get: runKey('failover', 'failed_but_committed') },
  { section: 'Planned switchover (perform switchover, same writer)' },
  { id: 'so_gap', label: 'longest gap between acknowledged writes (s)', kind: 'time', per: 'run', get: runKey('switchover', 'max_write_gap_s'), target: { max: 0.25, on: 'median', text: '≤ 0.25 s' } },
  { id: 'so_handoff', label: 'last commit on the old primary → first on the new (s)', kind: 'time', per: 'run', get: runKey('switchover', 'old_to_new_primary_gap_s') },
  { id: 'so_cmd', label: 'perform switchover command duration (s)', kind: 'time', per: 'run', get: runKey('switchover', 'cmd_s') },
  { id: 'so_stable', label: 'command start → primary + secondary again (s)', kind: 'time', per: 'run', get: runKey('switchover', 'until_stable_s') },
  { id: 'so_lost', label: 'acknowledged writes lost per switchover', kind: 'count', per: 'run', get: runKey('switchover', 'lost_acked_writes'), target: { max: 0, on: 'worst', text: '0 in every run', allRuns: true } },
  { id: 'so_rc', label: 'perform switchover exit code', kind: 'count', per: 'run', get: runKey('switchover', 'cmd_rc'), target: { max: 0, on: 'worst', text: '0', allRuns: true } },
  { section: 'At rest (idle window; one sample per invocation)' },
  { id: 'keeper_rss', label: 'keeper RSS, worse of the two nodes (MB)', kind: 'mem', per: 'inv', get: maxOf(invKey('idle_keeper_primary_autoctl_rss_kb'), invKey('idle_keeper_secondary_autoctl_rss_kb')), target: { max: 45 * 1024, on: 'worst', text: '≤ 45 MB' } },
  { id: 'keeper_pss', label: 'keeper PSS, worse of the two nodes (MB)', kind: 'mem', per: 'inv', get: maxOf(invKey('idle_keeper_primary_autoctl_pss_kb'), invKey('idle_keeper_secondary_autoctl_pss_kb')) },
  { id: 'keeper_cpu', label: 'keeper CPU, worse of the two nodes (% of a core)', kind: 'cpu', per: 'inv', get: maxOf(invKey('idle_keeper_primary_autoctl_cpu_pct'), invKey('idle_keeper_secondary_autoctl_cpu_pct')), target: { max: 0.5, on: 'worst', text: '≤ 0.5 %' } },
  { id: 'keeper_procs', label: 'keeper processes per node', kind: 'count', per: 'inv', get: invKey('idle_keeper_primary_autoctl_nprocs') },
  { id: 'pg_primary_cpu', label: "primary's Postgres CPU (% of a core)", kind: 'cpu', per: 'inv', get: invKey('idle_keeper_primary_pg_cpu_pct') },
  { id: 'pg_secondary_cpu', label: "secondary's Postgres CPU (% of a core)", kind: 'cpu', per: 'inv', get: invKey('idle_keeper_secondary_pg_cpu_pct') },
  { id: 'monitor_rss', label: 'monitor agent RSS (MB)', kind: 'mem', per: 'inv', get: invKey('idle_monitor_autoctl_rss_kb'), target: { max: 45 * 1024, on: 'worst', text: '≤ 45 MB' } },
  { id: 'monitor_cpu', label: 'monitor agent CPU (% of a core)', kind: 'cpu', per: 'inv', get: invKey('idle_monitor_autoctl_cpu_pct') },
  { id: 'monitor_pg_cpu', label: "monitor's Postgres CPU (% of a core)", kind: 'cpu', per: 'inv', get: invKey('idle_monitor_pg_cpu_pct') },
  { id: 'monitor_pg_rss', label: "monitor's Postgres RSS, all processes (MB)", kind: 'mem', per: 'inv', get: invKey('idle_monitor_pg_rss_kb') },
];

/** Samples of one metric for one system: values, expected count, missing count. */
function samples(sys, m, runs) {
  const vals = [];
  let expected = 0;
  for (const inv of sys.invs) {
    if (m.per === 'run') {
      for (let k = 1; k <= runs; k++) {
        expected++;
        const v = m.get(inv.kv, k);
        if (v !== undefined) vals.push(v);
      }
    } else {
      expected++;
      const v = m.get(inv.kv);
      if (v !== undefined) vals.push(v);
    }
  }
  return { vals, expected, missing: expected - vals.length };
}

function stat(s) {
  return { n: s.vals.length, expected: s.expected, median: median(s.vals), worst: s.vals.length ? Math.max(...s.vals) : undefined };
}

function fmt(kind, v) {
  if (v === undefined) return '—';
  if (v === Infinity) return 'timeout';
  if (kind === 'mem') return (v / 1024).toFixed(1);
  if (kind === 'time') return v.toFixed(2);
  if (kind === 'cpu') return v.toFixed(2);
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function cell(kind, st) {
  if (!st || st.n === 0) return st && st.expected ? `— (0/${st.expected} runs)` : '—';
  const miss = st.n < st.expected ? ` [${st.n}/${st.expected} runs]` : '';
  if (st.n === 1) return `${fmt(kind, st.median)}${miss}`;
  return `${fmt(kind, st.median)} (${fmt(kind, st.worst)})${miss}`;
}

const WORDS = { time: ['faster', 'slower'], mem: ['smaller', 'larger'], cpu: ['less', 'more'] };
/** original ÷ pgaf of the medians, in words. */
function ratio(kind, p, o) {
  if (!WORDS[kind] || p?.median === undefined || o?.median === undefined) return '—';
  const a = p.median, b = o.median;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return '—';
  if (a === 0 && b === 0) return '=';
  if (a === 0) return `pgaf 0`;
  const r = b / a;
  const [better, worse] = WORDS[kind];
  if (Math.abs(r - 1) < 0.05) return '≈ same';
  const digits = (x) => (x >= 10 ? x.toFixed(0) : x.toFixed(1));
  return r > 1 ? `${digits(r)}× ${better}` : `${digits(1 / r)}× ${worse}`;
}

function verdict(m, st) {
  if (!m.target || !st) return '';
  if (st.n === 0) return 'FAIL (no data)';
  if (m.target.allRuns && st.n < st.expected) return `FAIL (${st.expected - st.n} runs missing)`;
  const v = m.target.on === 'median' ? st.median : st.worst;
  const partial = st.n < st.expected ? ` (${st.n}/${st.expected} runs)` : '';
  return (v <= m.target.max ? 'PASS' : 'FAIL') + partial;
}

// ------------------------------------------------------------------ rendering
function mdTable(head, rows) {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function settingsTable(loaded) {
  // name → { pgaf, pg_auto_failover }
  const rows = new Map();
  const put = (name, sys, v) => {
    if (!rows.has(name)) rows.set(name, {});
    rows.get(name)[sys] = v;
  };
  for (const sys of loaded) {
    const inv = sys.invs[0];
    for (const [k, v] of inv.kv) {
      if (k.startsWith('monitor_guc.pgautofailover.')) put(`monitor ${k.slice('monitor_guc.pgautofailover.'.length)}`, sys.id, v);
      else if (k.startsWith('keeper_config.timeout.')) put(`keeper ${k.slice('keeper_config.timeout.'.length)}`, sys.id, v);
    }
    for (const [k, v] of inv.settings) {
      if (k.startsWith('monitor_setting.')) put(`monitor ${k.slice('monitor_setting.'.length)}`, sys.id, v);
    }
  }
  if (!rows.size) return '';
  const ids = loaded.map((s) => s.id);
  const names = [...rows.keys()].sort((a, b) => (a.startsWith('monitor') === b.startsWith('monitor') ? a.localeCompare(b) : a.startsWith('monitor') ? -1 : 1));
  return mdTable(['setting', ...ids], names.map((n) => [n, ...ids.map((id) => rows.get(n)[id] ?? '')]));
}

function perRunTables(loaded, runs) {
  const cols = [
    ['failover: killed', (kv, k) => kv.get(`failover_run${k}_killed`) ?? '—'],
    ['→ first commit (s)', (kv, k) => kv.get(`failover_run${k}_write_unavailable_s`) ?? '—'],
    ['→ monitor (s)', (kv, k) => kv.get(`failover_run${k}_monitor_new_primary_reported_s`) ?? '—'],
    ['rejoin (s)', (kv, k) => kv.get(`failover_run${k}_rejoin_s`) ?? '—'],
    ['lost / acked', (kv, k) => `${kv.get(`failover_run${k}_lost_acked_writes`) ?? '—'} / ${kv.get(`failover_run${k}_acked_writes`) ?? '—'}`],
    ['switchover: max gap (s)', (kv, k) => kv.get(`switchover_run${k}_max_write_gap_s`) ?? '—'],
    ['cmd (s)', (kv, k) => kv.get(`switchover_run${k}_cmd_s`) ?? '—'],
    ['lost / acked', (kv, k) => `${kv.get(`switchover_run${k}_lost_acked_writes`) ?? '—'} / ${kv.get(`switchover_run${k}_acked_writes`) ?? '—'}`],
  ];
  const out = [];
  for (const sys of loaded) {
    const rows = [];
    for (const inv of sys.invs) {
      for (let k = 1; k <= runs; k++) {
        rows.push([sys.invs.length > 1 ? `${inv.n}.${k}` : String(k), ...cols.map(([, f]) => f(inv.kv, k))]);
      }
    }
    out.push(`**${sys.id}**\n\n${mdTable(['run', ...cols.map(([h]) => h)], rows)}`);
  }
  return out.join('\n\n');
}

export function render(dir) {
  const meta = parseKv(readIf(join(dir, 'meta.txt')));
  const runs = Number(meta.get('runs') ?? 3);
  const loaded = SYSTEMS.map((s) => loadSystem(dir, s.id)).filter(Boolean);
  if (!loaded.length) throw new Error(`no results under ${dir}`);
  const by = Object.fromEntries(loaded.map((s) => [s.id, s]));
  const hasOrig = Boolean(by.pg_auto_failover);

  const head = ['metric', 'target (pgaf)', 'pgaf: median (worst)'];
  if (hasOrig) head.push('pg_auto_failover: median (worst)', 'pgaf vs original');
  head.push('pgaf vs target');
  const rows = [];
  const summary = { meta: Object.fromEntries(meta), metrics: {}, verdicts: {} };
  for (const m of METRICS) {
    if (m.section) {
      rows.push([`**${m.section}**`, ...head.slice(1).map(() => '')]);
      continue;
    }
    const st = Object.fromEntries(loaded.map((s) => [s.id, stat(samples(s, m, runs))]));
    const row = [m.label, m.target?.text ?? '', by.pgaf ? cell(m.kind, st.pgaf) : '—'];
    if (hasOrig) row.push(cell(m.kind, st.pg_auto_failover), ratio(m.kind, st.pgaf, st.pg_auto_failover));
    const v = by.pgaf ? verdict(m, st.pgaf) : '';
    row.push(v ? `**${v}**` : '');
    rows.push(row);
    summary.metrics[m.id] = st;
    if (v) summary.verdicts[m.id] = v;
  }

  const lines = [];
  const pg = loaded[0].invs[0].kv.get('postgres_version');
  lines.push(`- Machine: ${meta.get('host_cpus') ?? '?'} CPUs (${meta.get('cpu_model') ?? '?'}), ${meta.get('mem_total') ?? '?'}, ${meta.get('os') ?? '?'}, ${meta.get('kernel') ?? '?'}; load average ${meta.get('loadavg_before') ?? '?'} before, ${meta.get('loadavg_after') ?? '?'} after (1/5/15 min; other work on the machine shows here).`);
  lines.push(`- Date: ${meta.get('date') ?? '?'}.`);
  lines.push(`- Software: ${pg ? pg.replace(/^postgres \(PostgreSQL\) /, 'PostgreSQL ') + '; ' : ''}pgaf ${meta.get('pgaf_version') ?? '?'} at commit ${meta.get('pgaf_commit') ?? '?'} (uncommitted changes in the sources: ${meta.get('pgaf_uncommitted') ?? '?'}; pgaf extension files: ${meta.get('pgaf_extension') ?? '?'}), Node ${meta.get('node_version') ?? '?'}${hasOrig ? `; pg_auto_failover: ${meta.get('original_version') ?? '?'}` : ''}.`);
  lines.push(`- Method: ${runs} failover + switchover run(s) per invocation × ${loaded[0].invs.length} invocation(s) per system; idle window ${meta.get('idle_secs') ?? '?'} s after ${meta.get('settle_secs') ?? '?'} s settling; cluster state polled via ${meta.get('state_via') === 'cli' ? '`show state` (the CLI under test)' : 'SQL on pgautofailover.node (psql)'}; harness ${meta.get('harness') ?? '?'} (sha256 ${meta.get('harness_sha256') ?? '?'}…). Systems ran one after the other, never at the same time.`);
  const cpus = Number(meta.get('host_cpus') ?? 0);
  const loads = [];
  let busy = false;
  for (const sys of loaded) {
    for (const inv of sys.invs) {
      const l = ['loadavg_at_start', 'loadavg_after_idle', 'loadavg_at_end'].map((k) => (inv.kv.get(k) ?? '?').split(' ')[0]);
      if (cpus && l.some((x) => Number(x) > cpus)) busy = true;
      loads.push(`${sys.id}${sys.invs.length > 1 ? ` #${inv.n}` : ''} ${l.join(' / ')}`);
    }
  }
  lines.push(`- Load while each system ran (1-min load average at start / after the idle window / at end): ${loads.join('; ')}.` +
    (busy ? ` **The load exceeded the ${cpus} CPUs at some point: other work shared the machine, so the figures carry extra noise (the writer commits fewer rows per second, and timings stretch); compare systems run at similar load.**` : ''));
  lines.push('');
  lines.push('Cells: median of all runs, (worst run) in parentheses; a single figure is a single sample. Every metric is lower-is-better, so the worst run is the largest value.' +
    (hasOrig ? ' "pgaf vs original" = pg_auto_failover\'s median ÷ pgaf\'s median, read "pgaf is N× faster/smaller/less" (or slower/larger/more).' : ''));
  lines.push('');
  lines.push(mdTable(head, rows));
  const warn = [];
  for (const sys of loaded) {
    for (const inv of sys.invs) {
      if (inv.rc !== '0') warn.push(`${sys.id} invocation ${inv.n}: the harness exited with ${inv.rc} (see ${shown(inv.dir)}/stderr.txt)`);
      const fr = num(inv.kv.get('failover_runs'));
      if (fr !== undefined && fr < runs) warn.push(`${sys.id} invocation ${inv.n}: only ${fr} of ${runs} failovers completed`);
    }
  }
  if (warn.length) lines.push('', ...warn.map((w) => `- warning: ${w}`));
  const st = settingsTable(loaded);
  if (st) lines.push('', 'Settings in effect (defaults: nothing was tuned):', '', st);
  lines.push('', 'Per run:', '', perRunTables(loaded, runs));
  return { markdown: lines.join('\n') + '\n', summary };
}

function docsPage(report, meta, dir) {
  return `# Benchmarks: failover, switchover, bring-up, footprint

Generated by \`bench/failover/run.sh\` (do not edit by hand; re-run it). The scenario is the one
of reference/baselines.md, measured by the shared harness \`failover-harness.sh\`: a monitor and
two data nodes with synchronous replication on 127.0.0.1; a \`psql\` writer inserting one row
per transaction through the multi-host URI (\`target_session_attrs=read-write\`) and logging
every acknowledged id and the port of the server that took it; "host death" is \`kill -9\` of
the primary's agent and every one of its Postgres processes at once, after which the old
primary's agent is started again and must rejoin as a secondary; a planned switchover under
the same writer; and the idle footprint of the keepers and of the monitor. pgaf and, when its
Debian packages are installed, pg_auto_failover run the same harness one after the other, each
with its default settings, its own ports and its own scratch directory.

How to run (as root; Postgres runs as \`postgres\`):

\`\`\`
${meta.get('command') ?? 'bash bench/failover/run.sh'}
RUNS=1 IDLE_SECS=5 SYSTEMS=pgaf bash bench/failover/run.sh   # quick pgaf-only check
\`\`\`

Raw outputs of this run: \`${shown(dir)}/\` (git-ignored; per system and invocation:
the harness's stdout/stderr, the writer logs, events and agent logs).

## Latest run

${report}`;
}

/** docs/benchmarks.md: what follows this line is not the failover report's and is kept. */
const KEPT_MARKER = '<!-- kept by bench/failover/report.mjs: sections written by other benchmarks -->';

function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = resolve(args.dir);
  const { markdown, summary } = render(dir);
  process.stdout.write(markdown);
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, (k, v) => (v === Infinity ? 'timeout' : v), 2) + '\n');
  if (args.docs) {
    const meta = parseKv(readIf(join(dir, 'meta.txt')));
    mkdirSync(dirname(resolve(args.docs)), { recursive: true });
    // the sections other benchmarks write (bench/cli, bench/soak), below KEPT_MARKER, survive
    const old = readIf(resolve(args.docs));
    const kept = old.includes(KEPT_MARKER) ? old.slice(old.indexOf(KEPT_MARKER)) : '';
    writeFileSync(resolve(args.docs), docsPage(markdown, meta, dir) + (kept ? '\n' + kept : ''));
  }
  const failed = Object.values(summary.verdicts).filter((v) => v.startsWith('FAIL')).length;
  process.stderr.write(`# pgaf vs targets: ${Object.keys(summary.verdicts).length - failed} PASS, ${failed} FAIL\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`report.mjs: ${err.message}\n`);
    process.exit(1);
  }
}
