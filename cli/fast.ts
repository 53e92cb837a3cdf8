// The fast path of the hot commands (`--version`/`version`, `show state`, `show uri`,
// `status`, `get node|formation …`, `set node|formation …`, `config get|set`): scripts, HAProxy
// checks and set-up scripts run them in loops, and
// building the yargs command tree costs more than the command itself. A plain invocation of one of them (command words first,
// then only the options that command knows, each at most once) is parsed here and runs the very
// handler the tree runs, importing only that command's module; anything else (help, an unknown
// or repeated option, a missing value, --watch) returns undefined and goes through yargs, whose
// answer (and error message) stays the reference.

/** The options a fast command accepts: name → whether it takes a value. */
type Spec = Record<string, 'value' | 'flag'>;

export interface FastCommand {
  words: string[];
  options: Spec;
  /** the names of the positional values after the words, in order (`set … <value>`, `config set <key> <value>`) */
  positionals?: string[];
  /** whether the last positional may be left out (`config get [key]`) */
  lastOptional?: boolean;
  run(args: Record<string, string | boolean | undefined>, program: string): Promise<void>;
}

const TARGET: Spec = { pgdata: 'value', monitor: 'value', json: 'flag' };

export const COMMANDS: FastCommand[] = [
  {
    words: ['version'],
    options: { json: 'flag', pgctl: 'value' },
    run: async (a, program) => (await import('./version.js')).printVersion(program, Boolean(a.json), a.pgctl as string | undefined),
  },
  {
    words: ['show', 'state'],
    options: { ...TARGET, formation: 'value', group: 'value', local: 'flag' },
    run: async (a) => (await import('./show.js')).showState(a as Parameters<typeof import('./show.js').showState>[0]),
  },
  {
    words: ['show', 'uri'],
    options: { ...TARGET, formation: 'value' },
    run: async (a) => (await import('./show.js')).showUri(a as Parameters<typeof import('./show.js').showUri>[0]),
  },
  ...(
    [
      ['node', 'candidate-priority', 'getNodeCandidatePriority'],
      ['node', 'replication-quorum', 'getNodeReplicationQuorum'],
      ['formation', 'number-sync-standbys', 'getFormationNumberSyncStandbys'],
      ['formation', 'settings', 'getFormationSettings'],
    ] as const
  ).map(([what, property, handler]) => ({
    words: ['get', what, property],
    options: { ...TARGET, formation: 'value', ...(what === 'node' ? { name: 'value' } : {}) } as Spec,
    run: async (a: Record<string, string | boolean | undefined>) =>
      (await import('./settings.js'))[handler](a as Parameters<typeof import('./settings.js').getNodeCandidatePriority>[0]),
  })),
  ...(
    [
      ['node', 'candidate-priority', 'priority', 'setNodeCandidatePriority'],
      ['node', 'replication-quorum', 'quorum', 'setNodeReplicationQuorum'],
      ['formation', 'number-sync-standbys', 'number', 'setFormationNumberSyncStandbys'],
    ] as const
  ).map(([what, property, positional, handler]) => ({
    words: ['set', what, property],
    positionals: [positional],
    options: { ...TARGET, formation: 'value', wait: 'value', ...(what === 'node' ? { name: 'value' } : {}) } as Spec,
    run: async (a: Record<string, string | boolean | undefined>) =>
      (await import('./settings.js'))[handler](a as Parameters<typeof import('./settings.js').setNodeCandidatePriority>[0]),
  })),
  {
    words: ['config', 'get'],
    options: { pgdata: 'value', json: 'flag' },
    positionals: ['key'],
    lastOptional: true,
    run: async (a) => (await import('./config.js')).configGetCommand(a as Parameters<typeof import('./config.js').configGetCommand>[0]),
  },
  {
    words: ['config', 'set'],
    options: { pgdata: 'value' },
    positionals: ['key', 'value'],
    run: async (a) => (await import('./config.js')).configSetCommand(a as Parameters<typeof import('./config.js').configSetCommand>[0]),
  },
  {
    words: ['status'],
    options: { pgdata: 'value', json: 'flag' },
    run: async (a) => (await import('./stop.js')).showStatus(a as Parameters<typeof import('./stop.js').showStatus>[0]),
  },
];

export interface FastInvocation {
  command: FastCommand;
  /** options as yargs would hand them to the handler: flags default to false */
  args: Record<string, string | boolean | undefined>;
  verbose: number;
  quiet: boolean;
}

/** The fast command of argv (without node and script), or undefined when yargs must parse it. */
export function fastInvocation(argv: string[]): FastInvocation | undefined {
  // `--version …` is the version command, as the tree treats it
  const words = argv[0] === '--version' ? ['version', ...argv.slice(1)] : argv;
  const command = COMMANDS.find((c) => c.words.every((w, i) => words[i] === w));
  if (!command) return undefined;
  const args: Record<string, string | boolean | undefined> = {};
  for (const [name, kind] of Object.entries(command.options)) if (kind === 'flag') args[name] = false;
  const seen = new Set<string>();
  const positionals: string[] = [];
  const wanted = command.positionals ?? [];
  let verbose = 0;
  let quiet = false;
  const rest = words.slice(command.words.length);
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (/^-v+$/.test(a)) verbose += a.length - 1;
    else if (a === '--verbose') verbose += 1;
    else if (a === '-q' || a === '--quiet') quiet = true;
    else if (!a.startsWith('-') && positionals.length < wanted.length) {
      if (a === '') return undefined; // yargs' answer for an empty value stays the reference
      positionals.push(a);
    }
    else {
      const m = /^--([a-z]+)(?:=(.*))?$/.exec(a);
      const kind = m ? command.options[m[1]!] : undefined;
      if (!m || !kind || seen.has(m[1]!)) return undefined;
      seen.add(m[1]!);
      if (kind === 'flag') {
        if (m[2] !== undefined) return undefined;
        args[m[1]!] = true;
      } else if (m[2] !== undefined) {
        if (m[2] === '') return undefined;
        args[m[1]!] = m[2];
      } else {
        const v = rest[i + 1];
        if (v === undefined || v.startsWith('-')) return undefined;
        args[m[1]!] = v;
        i++;
      }
    }
  }
  if (positionals.length < wanted.length - (command.lastOptional ? 1 : 0)) return undefined;
  positionals.forEach((v, i) => (args[wanted[i]!] = v));
  return { command, args, verbose, quiet };
}

/** Runs a fast invocation as the tree would: log level from -v/-q, errors reported, exit code. */
export async function runFast(f: FastInvocation, argv1: string | undefined): Promise<number> {
  const [{ levelFromFlags, setLogLevel }, { programName }, { reportError }] = await Promise.all([
    import('../lib/log.js'),
    import('./output.js'),
    import('./report-error.js'),
  ]);
  setLogLevel(levelFromFlags(f.verbose, f.quiet));
  try {
    await f.command.run(f.args, programName(argv1));
    return 0;
  } catch (err) {
    return reportError(err);
  }
}

/**
 * `pgaf show events --watch | head`: once the reader is gone, stop quietly (as a C program
 * killed by SIGPIPE would) instead of dying on an unhandled EPIPE. Not for the services:
 * a keeper keeps running when its log pipe breaks.
 */
export function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}
