#!/usr/bin/env node
// Runs vitest with the given arguments and prints the count of test/run.mjs: how many tests
// did not run, then `N passed, N failed` (failed includes them). Exit 0 only when something
// passed and nothing failed. test/run.mjs calls it after the build; test/unit/run-count.test.ts
// runs this script itself on a fixture suite, so the lines CI reads are the ones tested.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countReport, namePatternOf, summaryLines } from './run-count.mjs';

/**
 * @param {string[]} vitestArgs
 * @returns {number} the exit code
 */
export function runCounted(vitestArgs) {
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-vitest-'));
  const report = join(dir, 'report.json');
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
  return count.failed > 0 || count.passed === 0 ? 1 : 0;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(runCounted(process.argv.slice(2)));
}
