#!/usr/bin/env node
// The project's test command: builds, runs every vitest file (one file at a time: real
// Postgres servers on 2 cores), and ends with two lines: how many tests did not run (a file
// whose setup failed, a file that failed to load), then `N passed, N failed`, where failed
// includes the tests that did not run. Running and printing: test/run-vitest.mjs; counting:
// test/run-count.mjs.
import { spawnSync } from 'node:child_process';
import { summaryLines } from './run-count.mjs';
import { runCounted } from './run-vitest.mjs';

const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (build.status !== 0) {
  for (const line of summaryLines({ passed: 0, failed: 1, didNotRun: 0 })) console.log(line);
  process.exit(1);
}
process.exit(runCounted(process.argv.slice(2)));
