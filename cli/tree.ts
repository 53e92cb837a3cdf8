// The pgaf command tree (yargs): global flags, every command, and the one place that turns
// errors into exit codes. cli/main.ts is the program.
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BadArgs } from '../lib/errors.js';
import { reportError } from './report-error.js';
import { levelFromFlags, setLogLevel } from '../lib/log.js';
import { registerConfig } from './config.js';
import { registerCreate } from './create.js';
import { registerDo } from './do.js';
import { registerDrop } from './drop.js';
import { registerRun } from './run.js';
import { registerInstallExtension } from './install-extension.js';
import { registerDisable, registerEnable } from './maintenance.js';
import { registerPerform } from './perform.js';
import { registerShow } from './show.js';
import { registerStop } from './stop.js';
import { registerVersion } from './version.js';
import { registerApply } from './apply.js';
import { registerGet, registerSet } from './settings.js';
import { registerWatch } from './watch.js';
import { registerCompletion } from './completion.js';
import { programName as scriptNameFrom } from './output.js';

export { scriptNameFrom };

export { reportError };

/** "pgaf show state --help": the help of the deepest command yargs recognised. */
export function usageOf(scriptName: string, usage: unknown): string {
  return [scriptName, usageLine(usage).replace(/\s*[<[].*$/, ''), '--help'].filter(Boolean).join(' ');
}

/** The usage line of the command yargs recognised, "show state" or "set node candidate-priority <priority>". */
function usageLine(usage: unknown): string {
  try {
    // the third argument of .fail() is yargs' usage instance: its usage line names the command
    const lines = (usage as { getUsage(): Array<[string, string]> }).getUsage();
    return (lines[0]?.[0] ?? '').replace(/^\$0\s*/, '');
  } catch {
    return '';
  }
}

/** yargs' words for a missing positional, in ours: the argument and the expected form. */
export function failMessage(scriptName: string, msg: string, usage: unknown): string {
  const line = usageLine(usage);
  if (/^Not enough non-option arguments/.test(msg) && /</.test(line)) {
    const missing = line.match(/<[^>]+>/g) ?? [];
    return `missing argument ${missing.join(' ')}: usage: ${scriptName} ${line}`;
  }
  // yargs words some refusals on two lines ("Invalid values:\n  Argument: …"): one sentence
  return msg.replace(/\s*\n\s*/g, ' ');
}

/**
 * `--` ends the options, as in every POSIX tool (`set node candidate-priority -- 99`): what
 * follows is positional. yargs keeps those words out of the positionals of a command, so they
 * are given to it without the `--`; a word after it that looks like an option stays behind it.
 */
export function endOfOptions(args: string[]): string[] {
  const at = args.indexOf('--');
  if (at < 0) return args;
  const rest = args.slice(at + 1);
  if (rest.some((a) => /^-[^\d]/.test(a))) return args;
  return [...args.slice(0, at), ...rest];
}

/**
 * -v/--verbose and -q/--quiet, taken by every command. The lean parsers (cli/main.ts,
 * cli/fast.ts, cli/create-postgres.ts) take them too: test/unit/cli-parsers-agree.test.ts.
 */
export function withGlobalOptions(cli: Argv): Argv {
  return cli
    .option('verbose', { alias: 'v', type: 'count', global: true, describe: 'more output (-v debug, -vv trace)' })
    .option('quiet', { alias: 'q', type: 'boolean', global: true, describe: 'only warnings and errors' });
}

/** Every command of the tree, with its options. */
export function registerCommands(cli: Argv, scriptName: string): Argv {
  cli = registerCompletion(cli);
  cli = registerInstallExtension(cli);
  cli = registerCreate(cli);
  cli = registerShow(cli);
  cli = registerRun(cli);
  cli = registerStop(cli);
  cli = registerPerform(cli);
  cli = registerEnable(cli);
  cli = registerDisable(cli);
  cli = registerDrop(cli);
  cli = registerGet(cli);
  cli = registerSet(cli);
  cli = registerWatch(cli);
  cli = registerConfig(cli);
  cli = registerDo(cli);
  cli = registerVersion(cli, scriptName);
  cli = registerApply(cli);
  return cli;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const scriptName = scriptNameFrom(argv[1]);
  let cli: Argv = withGlobalOptions(yargs(hideBin(argv)).scriptName(scriptName).parserConfiguration({ 'boolean-negation': false }))
    .middleware((a) => setLogLevel(levelFromFlags(Number(a.verbose ?? 0), Boolean(a.quiet))))
    // --version prints what `version` prints (the original's four lines), not a bare number
    .version(false)
    .option('version', { type: 'boolean', global: false, describe: 'print the versions (as the version command)' })
    .help()
    .alias('help', 'h')
    .strict()
    .demandCommand(1, `a command is needed: see ${scriptName} --help`)
    .recommendCommands()
    .exitProcess(false)
    .wrap(100)
    // Every parse or validation failure becomes BadArgs (exit 1); errors thrown by
    // handlers pass through unchanged.
    .fail((msg: string | null, err: Error | undefined, usage: unknown) => {
      if (err && err.name !== 'YError') throw err;
      throw new BadArgs(failMessage(scriptName, msg ?? err?.message ?? 'invalid arguments', usage), {
        hint: `see ${usageOf(scriptName, usage)}`,
      });
    });
  cli = registerCommands(cli, scriptName);
  try {
    // `--version [--json]` is the version command, as in the original
    await cli.parseAsync(argv[2] === '--version' ? ['version', ...argv.slice(3)] : endOfOptions(hideBin(argv)));
    return 0;
  } catch (err) {
    return reportError(err);
  }
}
