// test/run.mjs's count, fed real vitest JSON reports: vitest runs the fixture files in
// test/fixtures/run-count/ (a failing beforeAll, a file that fails to load, a failing afterAll,
// skipped and todo tests, a pass and a failure) and the count must say exactly what happened.
// The last tests run the test command's own script (test/run-vitest.mjs, what test/run.mjs
// runs after the build) on those files and read the lines CI reads.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript module without type declarations
import { countReport, namePatternOf, summaryLines } from '../run-count.mjs';

const root = resolve(import.meta.dirname, '../..');
const fixtures = join(root, 'test/fixtures/run-count');
const dir = mkdtempSync(join(tmpdir(), 'pgaf-run-count-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// the environment of a vitest run of its own (not this one's worker variables)
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));

/** Runs vitest on the fixture suite and returns its JSON report. */
function fixtureReport(name: string, extraArgs: string[] = []): unknown {
  const out = join(dir, `${name}.json`);
  const run = spawnSync(
    process.execPath,
    [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', join(fixtures, 'vitest.config.ts'),
      '--reporter=json', `--outputFile.json=${out}`, ...extraArgs],
    { cwd: root, env, encoding: 'utf8' },
  );
  expect(run.status, run.stderr).toBe(1); // the fixtures fail on purpose
  return JSON.parse(readFileSync(out, 'utf8'));
}

describe('counting a vitest report', () => {
  it('counts the tests of a file whose beforeAll failed, and a file that failed to load, as not run and failed', () => {
    const c = countReport(fixtureReport('all'));
    // passed: mixed 2, after-all-fails 1, skipped 1
    // failed: mixed 1 + after-all-fails' cleanup 1 + did not run
    // did not run: before-all-fails 3, load-fails 1, skipped 1 + todo 1
    expect(c).toEqual({ passed: 4, failed: 2 + 6, didNotRun: 6 });
    expect(summaryLines(c)).toEqual(['6 tests did not run (counted as failed)', '4 passed, 8 failed']);
  }, 60_000);

  it('does not count the tests a name filter left out, but still counts a selected test whose setup failed', () => {
    const args = ['-t', 'setup fails first|also passes'];
    const c = countReport(fixtureReport('filtered', args), { namePattern: namePatternOf(args) });
    // passed: 'also passes'; did not run: before-all-fails' first test (selected, its setup
    // failed) and load-fails; everything else was filtered out (after-all-fails ran no test,
    // so its failing afterAll never ran either)
    expect(c).toEqual({ passed: 1, failed: 2, didNotRun: 2 });
  }, 60_000);

  it('finds the -t pattern in every spelling vitest accepts', () => {
    for (const args of [['-t', 'a b'], ['-t=a b'], ['--testNamePattern', 'a b'], ['--testNamePattern=a b'], ['x.test.ts', '--test-name-pattern', 'a b']]) {
      expect(namePatternOf(args)?.source).toBe('a b');
    }
    expect(namePatternOf(['test/unit'])).toBeUndefined();
  });

  it('keeps the last line exactly `N passed, N failed`', () => {
    expect(summaryLines({ passed: 3, failed: 0, didNotRun: 0 }).at(-1)).toBe('3 passed, 0 failed');
  });
});

describe('the test command run on the fixture suite (test/run-vitest.mjs, as test/run.mjs runs it)', () => {
  /** Its exit status and the last two lines it printed. */
  function runCommand(args: string[]): { status: number | null; lines: string[] } {
    const run = spawnSync(process.execPath, [join(root, 'test/run-vitest.mjs'), '--config', join(fixtures, 'vitest.config.ts'), ...args], {
      cwd: root,
      env,
      encoding: 'utf8',
    });
    return { status: run.status, lines: run.stdout.trimEnd().split('\n').slice(-2) };
  }

  it('a file whose beforeAll throws: its three tests did not run, and they are failures', () => {
    expect(runCommand(['before-all-fails'])).toEqual({
      status: 1,
      lines: ['3 tests did not run (counted as failed)', '0 passed, 3 failed'],
    });
  }, 60_000);

  it('the whole fixture suite: the same count as its report gives', () => {
    expect(runCommand([])).toEqual({ status: 1, lines: ['6 tests did not run (counted as failed)', '4 passed, 8 failed'] });
  }, 60_000);

  it('a run where everything selected passed: nothing did not run, exit 0', () => {
    expect(runCommand(['mixed', '-t', '^passes$'])).toEqual({ status: 0, lines: ['0 tests did not run (counted as failed)', '1 passed, 0 failed'] });
  }, 60_000);
});
