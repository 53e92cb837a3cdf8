#!/usr/bin/env node
// Speed figures the tests measure but do not assert (a test asserts behaviour; a stopwatch on
// 2 shared cores is flakiness): runs the tests that record figures (test/support/figures.ts)
// and prints what they measured. Run it where no other test run uses the machine (the e2e
// file starts Postgres servers, and global setup installs this checkout's extension), e.g.
//   npm run build && flock /tmp/pgaf-test.lock node bench/test-figures/run.mjs
// Extra arguments go to vitest (a subset of the files, -t).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FILES = ['test/unit/proxy.test.ts', 'test/e2e/monitor-disabled.test.ts', 'test/e2e/haproxy.test.ts'];

const dir = mkdtempSync(join(tmpdir(), 'pgaf-figures-'));
const out = join(dir, 'figures.jsonl');
const args = process.argv.slice(2);
const run = spawnSync('npx', ['vitest', 'run', ...(args.length ? args : FILES)], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, PGAF_FIGURES: out },
});
let lines = [];
try {
  lines = readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
} catch {
  // no figure recorded
}
rmSync(dir, { recursive: true, force: true });
for (const f of lines) console.log(`${f.name}: ${f.value} ${f.unit}`);
if (run.status !== 0) console.log(`(some of the tests failed: vitest exited with ${run.status}; figures above are from what ran)`);
process.exit(lines.length ? 0 : 1);
