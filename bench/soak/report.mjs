// bench/soak/report.mjs <samples.tsv> <warmup_s> <limit_kb>: per pgaf process, RSS at start,
// at the end of the warm-up and at the end, growth after the warm-up; exit 1 when any process
// grew by more than limit_kb after the warm-up (or none was sampled after it).
import { readFileSync } from 'node:fs';

const [file, warmupArg = '600', limitArg = '2048'] = process.argv.slice(2);
const warmup = Number(warmupArg);
const limit = Number(limitArg);
const rows = readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => {
  const [t, role, pid, args, rss, hwm, threads, fds] = l.split('\t');
  return { t: Number(t), role, pid, args, rss: Number(rss), hwm: Number(hwm), threads: Number(threads), fds: Number(fds) };
});
const byPid = new Map();
for (const r of rows) byPid.set(r.pid, [...(byPid.get(r.pid) ?? []), r]);
let failed = false;
const mb = (kb) => (kb / 1024).toFixed(1);
console.log('| process | pid | RSS first (MB) | RSS at warm-up (MB) | RSS last (MB) | growth after warm-up (MB) | fds first→last | samples |');
console.log('|---|---:|---:|---:|---:|---:|---|---:|');
for (const [pid, s] of byPid) {
  const first = s[0];
  const last = s[s.length - 1];
  const atWarm = s.find((r) => r.t >= warmup);
  const growth = atWarm && last.t > atWarm.t ? last.rss - atWarm.rss : NaN;
  const bad = Number.isNaN(growth) ? last.t >= warmup : growth > limit;
  if (bad) failed = true;
  console.log(`| ${first.role} ${first.args.trim()} | ${pid} | ${mb(first.rss)} | ${atWarm ? mb(atWarm.rss) : 'n/a'} | ${mb(last.rss)} | ${Number.isNaN(growth) ? 'n/a' : mb(growth)}${bad ? ' FAIL' : ''} | ${first.fds}→${last.fds} | ${s.length} |`);
}
console.log(failed ? `soak: FAIL (a process grew by more than ${mb(limit)} MB after ${warmup} s)` : `soak: ok (no process grew by more than ${mb(limit)} MB after ${warmup} s)`);
process.exit(failed ? 1 : 0);
