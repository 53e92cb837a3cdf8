// The glibc malloc settings the services run with, beside their Node flags: the pgaf shebang
// (cli/main.ts) sets them through env(1), the PM2 apps through their env (package.json apps,
// ecosystem.config.cjs); test/unit/service-node-flags.test.ts keeps the three equal. One malloc
// arena instead of one per thread, and free memory at the top of the heap given back to the
// system above 64 kB instead of kept: a keeper or a monitor at rest is 2-3 MB smaller
// (docs/benchmarks.md, "Footprint and soak").
// glibc reads them once, when the process starts. They leave our environment right after, so
// that what we start (Postgres, pg_ctl, pg_basebackup, hooks) runs with glibc's defaults: with an
// explicit trim threshold glibc stops adapting its mmap threshold, and a Postgres backend's
// large sorts would map and unmap every allocation above 128 kB.
export const SERVICE_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '1',
  MALLOC_TRIM_THRESHOLD_: '65536',
  MALLOC_TOP_PAD_: '0',
};

/** Removes the service malloc settings (with our values only: an operator's own stay) from env. */
export function dropServiceMallocEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const [k, v] of Object.entries(SERVICE_MALLOC_ENV)) if (env[k] === v) delete env[k];
}
