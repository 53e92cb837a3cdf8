// bench/soak/report.mjs <samples.tsv> <warmup_s> <limit_kb>: per pgaf process, RSS at start,
// at the end of the warm-up and at the end, growth after the warm-up; exit 1 when any process
// grew by more than limit_kb after the warm-up (or none was sampled after it). With a samples
// directory (bench/soak/sampler.cjs), also each process's own view at the warm-up and at the
// end: V8 heap committed/used, code space, external and array buffers, what is left of RSS
// (Node, libuv, malloc), and its active handles.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [file, warmupArg = '600', limitArg = '2048', samplesDir] = process.argv.slice(2);
const warmup = Number(warmupArg);
const limit = Number(limitArg);
const rows = readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => {
  const [t, role, pid, args, rss, hwm, threads, fds, pss, anon, cpu] = l.split('\t');
  return { t: Number(t), role, pid, args, rss: Number(rss), hwm: Number(hwm), threads: Number(threads), fds: Number(fds), pss: Number(pss), anon: Number(anon), cpu: Number(cpu) };
});
const TICKS = 100; // clock ticks a second (getconf CLK_TCK on Linux)
const byPid = new Map();
for (const r of rows) byPid.set(r.pid, [...(byPid.get(r.pid) ?? []), r]);
let failed = false;
const mb = (kb) => (kb / 1024).toFixed(1);
console.log('| process | pid | RSS first (MB) | RSS at warm-up (MB) | RSS last (MB) | growth after warm-up (MB) | PSS at warm-up → last (MB) | CPU after warm-up (% of a core) | fds first→last | samples |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|');
for (const [pid, s] of byPid) {
  const first = s[0];
  const last = s[s.length - 1];
  const atWarm = s.find((r) => r.t >= warmup);
  const growth = atWarm && last.t > atWarm.t ? last.rss - atWarm.rss : NaN;
  const bad = Number.isNaN(growth) ? last.t >= warmup : growth > limit;
  if (bad) failed = true;
  console.log(`| ${first.role} ${first.args.trim()} | ${pid} | ${mb(first.rss)} | ${atWarm ? mb(atWarm.rss) : 'n/a'} | ${mb(last.rss)} | ${Number.isNaN(growth) ? 'n/a' : mb(growth)}${bad ? ' FAIL' : ''} | ${atWarm ? mb(atWarm.pss) : 'n/a'} → ${mb(last.pss)} | ${atWarm && last.t > atWarm.t ? ((100 * (last.cpu - atWarm.cpu)) / TICKS / (last.t - atWarm.t)).toFixed(2) : 'n/a'} | ${first.fds}→${last.fds} | ${s.length} |`);
}
for (const [pid, s] of byPid) console.log(`${pid} RSS each interval (MB): ${s.map((r) => mb(r.rss)).join(' ')}`);
if (samplesDir && existsSync(samplesDir)) inProcess(samplesDir, [...byPid.keys()]);
console.log(failed ? `soak: FAIL (a process grew by more than ${mb(limit)} MB after ${warmup} s)` : `soak: ok (no process grew by more than ${mb(limit)} MB after ${warmup} s)`);
process.exit(failed ? 1 : 0);

/** Each sampled process's own split of its memory, at the warm-up and at the end (MB). */
function inProcess(dir, pids) {
  const m = (b) => (b / 1048576).toFixed(1);
  const d = (a, b) => `${m(a)} → ${m(b)}`;
  console.log('');
  console.log('In-process (bench/soak/sampler.cjs), at the warm-up → at the end, MB:');
  console.log('| pid | RSS | heap committed | heap used | code space committed | external | array buffers | malloced by V8 | RSS − heap committed − external | handles |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const pid of pids) {
    const f = join(dir, `${pid}.jsonl`);
    if (!existsSync(f)) continue;
    const s = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const a = s.find((r) => r.t >= warmup) ?? s[0];
    const z = s[s.length - 1];
    const rest = (r) => r.rss - r.heapTotal - r.external;
    const code = (r) => (r.spaces.code_space?.[0] ?? 0) + (r.spaces.code_large_object_space?.[0] ?? 0);
    const h = (r) => Object.entries(r.handles).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`| ${pid} | ${d(a.rss, z.rss)} | ${d(a.heapTotal, z.heapTotal)} | ${d(a.heapUsed, z.heapUsed)} | ${d(code(a), code(z))} | ${d(a.external, z.external)} | ${d(a.arrayBuffers, z.arrayBuffers)} | ${d(a.mallocedMemory, z.mallocedMemory)} | ${d(rest(a), rest(z))} | ${h(a)} → ${h(z)} |`);
  }
}
