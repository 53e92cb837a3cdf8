// How test/run.mjs counts a vitest JSON report. A pure function, so a unit test can feed it
// real reports (test/unit/run-count.test.ts) and the count cannot silently drift.
//
// - passed / failed: the tests vitest ran and judged.
// - didNotRun: tests that never ran although the run selected them: the tests of a file whose
//   beforeAll failed (vitest reports them as skipped), skipped or todo tests, and one per file
//   that failed to load (it reports no test at all). They are counted as failed.
// - a file that failed although every test in it passed (a failing afterAll) adds one failure.
// - with a name filter (-t), a skipped test whose full name the filter does not match was left
//   out by the caller, not lost: it is not counted.

/**
 * @param {any} report vitest's JSON report (what `--reporter=json` writes)
 * @param {{ namePattern?: RegExp }} [options]
 * @returns {{ passed: number, failed: number, didNotRun: number }} failed includes didNotRun
 */
export function countReport(report, options = {}) {
  const { namePattern } = options;
  let passed = 0;
  let failed = 0;
  let didNotRun = 0;
  for (const file of report.testResults ?? []) {
    const tests = file.assertionResults ?? [];
    if (file.status === 'failed' && tests.length === 0) {
      didNotRun += 1;
      continue;
    }
    let judgedFailed = 0;
    let lost = 0;
    for (const t of tests) {
      if (t.status === 'passed') passed += 1;
      else if (t.status === 'failed') judgedFailed += 1;
      else if (!namePattern || namePattern.test(t.fullName ?? '')) lost += 1;
    }
    failed += judgedFailed;
    didNotRun += lost;
    if (file.status === 'failed' && judgedFailed === 0 && lost === 0) failed += 1;
  }
  return { passed, failed: failed + didNotRun, didNotRun };
}

/**
 * The -t / --testNamePattern value among vitest's arguments, as vitest compiles it.
 * @param {string[]} args
 * @returns {RegExp | undefined}
 */
export function namePatternOf(args) {
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i];
    if (a === '-t' || a === '--testNamePattern' || a === '--test-name-pattern') {
      if (args[i + 1] !== undefined) return new RegExp(args[i + 1]);
    }
    const m = /^(?:-t|--testNamePattern|--test-name-pattern)=(.*)$/s.exec(a);
    if (m) return new RegExp(m[1]);
  }
  return undefined;
}

/**
 * The closing lines of a run. The last one stays exactly `N passed, N failed` (CI parses it).
 * @param {{ passed: number, failed: number, didNotRun: number }} c
 * @returns {string[]}
 */
export function summaryLines(c) {
  return [`${c.didNotRun} tests did not run (counted as failed)`, `${c.passed} passed, ${c.failed} failed`];
}
