#!/usr/bin/env node
// The project's test command: builds, runs every vitest file (one file at a time: real
// Postgres servers on 2 cores), and ends with two lines: how many tests did not run (a file
// whose setup failed, a file that failed to load), then `N passed, N failed`, where failed
// includes the tests that did not run. Counting: test/run-count.mjs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countReport, namePatternOf, summaryLines } from './run-count.mjs';

const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (build.status !== 0) {
  for (const line of summaryLines({ passed: 0, failed: 1, didNotRun: 0 })) console.log(line);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'pgaf-vitest-'));
const report = join(dir, 'report.json');
const vitestArgs = process.argv.slice(2);
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...vitestArgs];
const run = spawnSync('npx', args, { stdio: 'inherit' });

let count = { passed: 0, failed: 0, didNotRun: 0 };
try {
  count = countReport(JSON.parse(readFileSync(report, 'utf8')), { namePattern: namePatternOf(vitestArgs) });
} catch (err) {
  console.log(`no readable vitest report (${err instanceof Error ? err.message : err})`);
  count.failed = 1;
}
rmSync(dir, { recursive: true, force: true });
// vitest failed for a reason the report does not show (an unhandled error between tests)
if (run.status !== 0 && count.failed === 0) count.failed = 1;
for (const line of summaryLines(count)) console.log(line);
process.exit(count.failed > 0 || count.passed === 0 ? 1 : 0);
