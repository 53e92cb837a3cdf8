import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Defaults. A test or hook that may wait longer by its own bounds (state waits, CLI calls
    // killed after their timeout, writer acknowledgements) sets its own, longer limit, so a
    // slow run fails with the test's message, not vitest's bare timeout:
    // test/unit/time-limits.test.ts checks it.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Postgres servers are heavy on 2 cores: files run one at a time.
    fileParallelism: false,
    pool: 'forks',
  },
});
