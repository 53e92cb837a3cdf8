// The service commands (`run`, `create postgres … --run`, a plain `create monitor`): which
// invocation is one, and how it runs from the service path's modules (cli/service-entry.ts).
// cli/bin.ts, the installed program, runs them from the code-cached bundle without loading
// cli/main.js: an ES module entry point starts Node's ES module loader, which costs a service
// 13-25 ms at start and about 2 MB of resident memory for as long as it runs
// (docs/benchmarks.md). cli/main.ts runs them the same way, from the ES modules when the build
// made no bundle.
import type { LoadedBundle } from './fast-load.js';

export const RUN_FLAGS_WITH_VALUE = new Set(['--pgdata', '--name', '--hostname', '--nodename', '--pgport']);

/** The options of a plain `run` invocation, or undefined for anything else (yargs handles it). */
export interface LeanRunArgs {
  pgdata?: string;
  verbose: number;
  quiet: boolean;
  /** --name, --hostname (or --nodename) and --pgport: node metadata to update on start */
  name?: string;
  hostname?: string;
  pgport?: string;
}

export function leanRunArgs(args: string[]): LeanRunArgs | undefined {
  if (args.find((a) => !a.startsWith('-')) !== 'run') return undefined;
  if (args.filter((a) => a === 'run').length !== 1) return undefined;
  const out: LeanRunArgs = { pgdata: undefined, verbose: 0, quiet: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === 'run') continue;
    if (/^-v+$/.test(a)) out.verbose += a.length - 1;
    else if (a === '--verbose') out.verbose += 1;
    else if (a === '-q' || a === '--quiet') out.quiet = true;
    else if (RUN_FLAGS_WITH_VALUE.has(a) && args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) {
      const v = args[i + 1]!;
      if (a === '--pgdata') out.pgdata = v;
      else if (a === '--name') out.name = v;
      else if (a === '--hostname' || a === '--nodename') out.hostname = v;
      else if (a === '--pgport') out.pgport = v;
      i++;
    } else if (a.startsWith('--pgdata=')) out.pgdata = a.slice('--pgdata='.length);
    else return undefined;
  }
  return out;
}

/** A service command: its lean `run` options, or which `create` may be one; undefined for any other command. */
export interface ServiceCommand {
  run?: LeanRunArgs;
  /** `create … monitor …`: tried as a plain `create monitor` first */
  createMonitor: boolean;
  /** `create … --run`: tried as `create postgres … --run` */
  createRun: boolean;
  /** the words naming its code cache (cli/fast-load.ts codeCacheFile) */
  words: string[];
}

export function serviceCommand(args: string[]): ServiceCommand | undefined {
  const run = leanRunArgs(args);
  if (run) return { run, createMonitor: false, createRun: false, words: ['run'] };
  const createMonitor = args[0] === 'create' && args.includes('monitor');
  const createRun = args[0] === 'create' && args.includes('--run');
  if (!createMonitor && !createRun) return undefined;
  return { createMonitor, createRun, words: ['create', createMonitor ? 'monitor' : 'postgres'] };
}

/** How long a service runs before its code cache is written (what it compiled while starting). */
const SERVICE_CODE_CACHE_AFTER_MS = 10_000;

/**
 * Runs `cmd` from the service path's modules; its exit code, or undefined when its lean parser
 * does not take these arguments (the caller hands them to the command tree: yargs).
 */
export async function runServiceCommand(
  svc: LoadedBundle<typeof import('./service-entry.js')>,
  cmd: ServiceCommand,
  args: string[],
): Promise<number | undefined> {
  const go = cmd.run
    ? () => svc.exports.loadRun().then((m) => m.runLean(cmd.run!))
    : // a plain `create monitor`: no yargs, no other command's modules (~0.2 s less before initdb)
      ((cmd.createMonitor ? (await svc.exports.loadCreateMonitor()).leanCreateMonitor(args) : undefined) ??
      (cmd.createRun ? (await svc.exports.loadCreatePostgres()).leanCreatePostgres(args) : undefined));
  if (!go) return undefined;
  // a service keeps its compiled code for the next start once it is up (timer), a command when done
  const timer = setTimeout(svc.saveCodeCache, SERVICE_CODE_CACHE_AFTER_MS);
  timer.unref();
  const code = await go();
  clearTimeout(timer);
  svc.saveCodeCache();
  return code;
}
