// Three parsers read pgaf's command line: the yargs command tree (cli/tree.ts and the command
// modules), the lean `run` parser (cli/main.ts leanRunArgs), the fast path of the hot read
// commands (cli/fast.ts), the lean `create postgres --run` parser (cli/create-postgres.ts
// LEAN_OPTIONS) and the lean `create monitor` parser (cli/create-monitor.ts
// LEAN_MONITOR_OPTIONS). The lean ones exist for start-up time and memory, and hand anything
// they do not know to yargs; this test proves that every option they accept exists in yargs for the same
// command, with the same type (a value, a flag, a count) and the same short alias.
import yargs, { type Argv } from 'yargs';
import { describe, expect, it } from 'vitest';
import { LEAN_OPTIONS } from '../../cli/create-postgres.js';
import { LEAN_MONITOR_OPTIONS } from '../../cli/create-monitor.js';
import { COMMANDS } from '../../cli/fast.js';
import { leanRunArgs, RUN_FLAGS_WITH_VALUE } from '../../cli/service-launch.js';
import { registerCommands, withGlobalOptions } from '../../cli/tree.js';

type Kind = 'value' | 'flag' | 'count';

interface YargsCommand {
  /** option name → its kind, as yargs will parse it */
  options: Map<string, Kind>;
  /** option name → its aliases */
  aliases: Map<string, string[]>;
  children: Map<string, YargsCommand>;
}

/**
 * The options of a yargs builder, read from a real yargs instance (getOptions()) after the
 * builder ran; sub-commands are caught on the way and explored the same way.
 */
function explore(build: (y: Argv) => unknown): YargsCommand {
  const y = yargs([]);
  const builders = new Map<string, (y: Argv) => unknown>();
  (y as unknown as { command: unknown }).command = (cmd: string | readonly string[], _desc: unknown, builder?: unknown) => {
    const names = (typeof cmd === 'string' ? [cmd] : cmd).map((c) => c.split(' ')[0]!);
    for (const name of names) {
      if (builder !== undefined && typeof builder !== 'function') throw new Error(`command ${name}: a builder that is not a function is not explored by this test`);
      builders.set(name, (builder as ((y: Argv) => unknown) | undefined) ?? ((b: Argv) => b));
    }
    return y;
  };
  build(y);
  const o = y.getOptions();
  const options = new Map<string, Kind>();
  for (const k of Object.keys(o.key)) {
    if (o.count.includes(k)) options.set(k, 'count');
    else if (o.boolean.includes(k)) options.set(k, 'flag');
    else if (o.string.includes(k) || o.number.includes(k)) options.set(k, 'value');
  }
  const aliases = new Map(Object.entries(o.alias as Record<string, string[]>));
  const children = new Map([...builders].map(([name, b]) => [name, explore(b)]));
  return { options, aliases, children };
}

const globals = explore((y) => withGlobalOptions(y as Argv));
const tree = explore((y) => registerCommands(y as Argv, 'pgaf'));

function command(words: readonly string[]): YargsCommand {
  let c = tree;
  for (const w of words) {
    const next = c.children.get(w);
    if (!next) throw new Error(`yargs has no command "${words.join(' ')}" (at "${w}")`);
    c = next;
  }
  return c;
}

/** The kind yargs gives `name` in the command of `words` (its own options, else the global ones). */
function yargsKind(words: readonly string[], name: string): Kind | undefined {
  return command(words).options.get(name) ?? globals.options.get(name);
}

function shortAlias(name: string): string | undefined {
  return globals.aliases.get(name)?.find((a) => a.length === 1);
}

describe('the lean parsers accept only what yargs accepts, with the same types', () => {
  it('the yargs tree is read (the walk itself works)', () => {
    expect(command(['create', 'postgres']).options.get('pgdata')).toBe('value');
    expect(command(['show', 'state']).options.get('local')).toBe('flag');
    expect(globals.options.get('verbose')).toBe('count');
    expect(shortAlias('quiet')).toBe('q');
  });

  it('the global -v/--verbose (a count) and -q/--quiet (a flag) that every lean parser takes', () => {
    expect(globals.options.get('verbose')).toBe('count');
    expect(shortAlias('verbose')).toBe('v');
    expect(globals.options.get('quiet')).toBe('flag');
    // the lean parsers count -v, -vv and --verbose, and take -q and --quiet
    expect(leanRunArgs(['run', '-vv', '--verbose', '-q'])).toMatchObject({ verbose: 3, quiet: true });
  });

  it('cli/fast.ts: every fast command is a yargs command, and each of its options has the same kind there', () => {
    for (const c of COMMANDS) {
      for (const [name, kind] of Object.entries(c.options)) {
        expect(yargsKind(c.words, name), `${c.words.join(' ')} --${name}`).toBe(kind);
      }
    }
  });

  it('cli/main.ts leanRunArgs: every option of run that takes a value is a value option of yargs run', () => {
    for (const flag of RUN_FLAGS_WITH_VALUE) {
      const name = flag.replace(/^--/, '');
      expect(yargsKind(['run'], name), `run ${flag}`).toBe('value');
      expect(leanRunArgs(['run', flag, 'x']), `leanRunArgs takes run ${flag} x`).toBeDefined();
    }
  });

  it('cli/create-postgres.ts LEAN_OPTIONS: every option is an option of yargs create postgres, same kind and short alias', () => {
    for (const [name, def] of Object.entries(LEAN_OPTIONS) as [string, { type: string; short?: string; multiple?: boolean }][]) {
      const kind: Kind = def.type === 'string' ? 'value' : def.multiple ? 'count' : 'flag';
      expect(yargsKind(['create', 'postgres'], name), `create postgres --${name}`).toBe(kind);
      expect(def.short, `create postgres --${name}: short alias`).toBe(shortAlias(name));
    }
  });

  it('cli/create-monitor.ts LEAN_MONITOR_OPTIONS: every option is an option of yargs create monitor, same kind and short alias', () => {
    for (const [name, def] of Object.entries(LEAN_MONITOR_OPTIONS) as [string, { type: string; short?: string; multiple?: boolean }][]) {
      const kind: Kind = def.type === 'string' ? 'value' : def.multiple ? 'count' : 'flag';
      expect(yargsKind(['create', 'monitor'], name), `create monitor --${name}`).toBe(kind);
      expect(def.short, `create monitor --${name}: short alias`).toBe(shortAlias(name));
    }
  });

  it('catches a disagreement (the check itself can fail)', () => {
    expect(yargsKind(['show', 'state'], 'local')).not.toBe('value');
    expect(yargsKind(['run'], 'formation')).toBeUndefined();
    expect(() => command(['show', 'no-such-command'])).toThrow(/yargs has no command "show no-such-command"/);
  });
});
