#!/usr/bin/env -S MALLOC_ARENA_MAX=1 MALLOC_TRIM_THRESHOLD_=65536 MALLOC_TOP_PAD_=0 node --max-semi-space-size=1 --optimize-for-size
// The pgaf program (also installed as pg_autoctl). `run` and `create postgres … --run`, which
// become the long-running keeper or monitor service, take a lean path that loads neither
// yargs nor the other commands (a keeper's memory counts); so do a plain `create monitor`
// (cli/create-monitor.ts) and the hot commands of cli/fast.ts (`--version`, `show state|uri`,
// `status`, `get …`, `set …`, `config get|set`); everything else goes through the command tree
// (cli/tree.ts).
// Node flags (the PM2 apps' node_args in package.json and ecosystem.config.cjs repeat them:
// test/unit/service-node-flags.test.ts; figures in docs/benchmarks.md, bench/soak):
// --max-semi-space-size=1 (MB): V8's young generation otherwise grows from 1 MB towards 16 MB
// per semi-space as a long-running keeper or monitor allocates, and keeps it.
// --optimize-for-size: V8 otherwise lets the old generation fill with garbage up to about twice
// the live data (6-7 MB here) before a full collection, and keeps the pages: a service's resident
// memory climbed 7-8 MB in its first 10-20 minutes and stayed there (bench/soak's in-process
// samples: old space committed 7 → 14 MB, live data flat). With it, V8 collects at ~1.3× and the
// heap stays at 10-11 MB committed.
// Not --no-opt --no-sparkplug (interpreter only): 8 MB less RSS and no compiled-code growth,
// but about 0.2 % of a core more per process, and under a loaded machine a switchover's write
// gap went 0.64 → 1.23 s and a rejoin 4.0 → 7.0 s (bench/failover, docs/benchmarks.md).
// Not --lite-mode/--jitless either: interpreter only as well (the same cost on the failover
// path). Webhooks no longer need WebAssembly (lib/webhook-post.ts: node:http, not fetch()).
// MALLOC_*: glibc malloc with one arena and free memory above 64 kB at the top of its heap given
// back, 1-2 MB less at rest (lib/service-env.ts; entry() removes them from our environment, so
// Postgres and the other programs we start run with glibc's defaults).
import { realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropServiceMallocEnv } from '../lib/service-env.js';
import { runServiceCommand, serviceCommand } from './service-launch.js';

/**
 * Runs the command of process.argv; the exit code (cli/bin.ts, the installed program, calls it
 * for what is not a fast command, with `serviceTried` when it already offered the arguments to
 * the service bundle's lean parsers and they refused them).
 */
export async function entry(opts: { serviceTried?: boolean } = {}): Promise<number> {
  // glibc read the launcher's malloc settings at exec: what we start runs without them
  dropServiceMallocEnv();
  const args = process.argv.slice(2);
  const cmd = opts.serviceTried ? undefined : serviceCommand(args);
  if (cmd) {
    const code = await runServiceCommand(await serviceEntry(cmd.words), cmd, args);
    if (code !== undefined) return code;
  }
  // the hot read commands skip the command tree (cli/fast.ts); yargs parses everything else
  const { fastInvocation, quietOnClosedPipe } = await import('./fast.js');
  quietOnClosedPipe();
  const fast = fastInvocation(args);
  if (fast) return (await import('./fast-load.js')).runFastLoaded(args, fast, process.argv[1]);
  const { main } = await import('./tree.js');
  return main();
}

/**
 * The service path's modules (cli/service-entry.ts): from the code-cached bundle when the build
 * made one (cli/fast-load.ts), else as ES modules.
 */
async function serviceEntry(words: string[]): Promise<{ exports: typeof import('./service-entry.js'); saveCodeCache(): void }> {
  const { loadBundle } = await import('./fast-load.js');
  const loaded = loadBundle<typeof import('./service-entry.js')>(dirname(fileURLToPath(import.meta.url)), 'service', words);
  return loaded ?? { exports: await import('./service-entry.js'), saveCodeCache: () => {} };
}

function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  entry().then((code) => {
    process.exitCode = code;
  });
}
