// `pgaf create monitor`: its flags, checked (createMonitorRequest), and the command itself.
// The yargs tree (cli/create.ts) and the lean parser below (cli/main.ts, for a plain invocation:
// no yargs, no other command's modules, ~0.2 s less before initdb) run the same handler.
import { parseArgs } from 'node:util';
import { createMonitor, planCreateMonitor } from '../monitor-ext/create-monitor.js';
import { levelFromFlags, log, setLogLevel } from '../lib/log.js';
import type { AuthMethod } from '../lib/auth-method.js';
import { logSslRequest, optionalSslRequest, type SslArgs } from '../lib/ssl.js';
import { AUTH_CHOICES, checkedPghost, parseHostname, parsePath, parsePort, resolvePgdata } from './options.js';
import { localHostFor } from '../lib/test-mode.js';
import { reportError } from './report-error.js';

export interface CreateMonitorArgs extends SslArgs {
  pgdata?: string;
  pgport?: string;
  pgctl?: string;
  hostname?: string;
  nodename?: string;
  auth?: string;
  skipPgHba?: boolean;
}

/** Validates the flags of `create monitor` (pure apart from reading the environment). */
export function createMonitorRequest(args: CreateMonitorArgs, env: NodeJS.ProcessEnv = process.env) {
  const pgdata = resolvePgdata(args.pgdata, env);
  const port =
    args.pgport !== undefined ? parsePort(args.pgport, '--pgport') : env.PGPORT ? parsePort(env.PGPORT, 'PGPORT') : undefined;
  const hostArg = args.hostname ?? args.nodename;
  const hostname = hostArg !== undefined ? parseHostname(hostArg, args.hostname !== undefined ? '--hostname' : '--nodename') : undefined;
  // Our Unix socket goes where libpq looks for it: $PGHOST when that is a directory path.
  // PG_REGRESS_SOCK_DIR="" (test mode): no socket, local connections over TCP to $PGHOST.
  const socketDir = localHostFor(checkedPghost(env.PGHOST, 'PGHOST', env), undefined, env);
  const ssl = optionalSslRequest(args, pgdata);
  return {
    pgdata,
    port,
    hostname,
    auth: args.auth === 'skip' ? undefined : (args.auth as AuthMethod | undefined),
    monitorPassword: env.PGPASSWORD || undefined,
    socketDir,
    pgctl: args.pgctl !== undefined ? parsePath(args.pgctl, '--pgctl') : undefined,
    skipPgHba: Boolean(args.skipPgHba) || args.auth === 'skip',
    ssl,
  };
}

/** Creates the monitor of `args`, prints its URI, and with `run` goes on as `pgaf run`. */
export async function createMonitorCommand(args: CreateMonitorArgs, run: boolean): Promise<void> {
  const req = createMonitorRequest(args);
  logSslRequest(req.ssl, log);
  const plan = await planCreateMonitor(req);
  const uri = await createMonitor(plan);
  process.stdout.write(uri + '\n');
  if (run) {
    const { runMonitor } = await import('../monitor-ext/service.js');
    const { loadMonitorConfig } = await import('../config/node-config.js');
    await runMonitor(loadMonitorConfig(req.pgdata), log);
  }
}

/** The options of yargs' `create monitor` (cli/create.ts, cli/ssl-options.ts) and the global -v/-q. */
export const LEAN_MONITOR_OPTIONS = {
  pgdata: { type: 'string' }, pgport: { type: 'string' }, pgctl: { type: 'string' }, hostname: { type: 'string' },
  nodename: { type: 'string' }, auth: { type: 'string' }, 'skip-pg-hba': { type: 'boolean' }, run: { type: 'boolean' },
  'no-ssl': { type: 'boolean' }, 'ssl-self-signed': { type: 'boolean' }, 'ssl-mode': { type: 'string' },
  'ssl-ca-file': { type: 'string' }, 'ssl-crl-file': { type: 'string' }, 'server-cert': { type: 'string' },
  'server-key': { type: 'string' },
  verbose: { type: 'boolean', short: 'v', multiple: true }, quiet: { type: 'boolean', short: 'q' },
} as const;

/**
 * A plain `create monitor …` (each known option at most once, with a non-empty value where it
 * takes one, --auth one of its choices) parsed without yargs; anything else (help, an unknown,
 * repeated or empty option, a bad --auth) returns undefined and goes through the command tree,
 * whose answer and error message stay the reference.
 */
export function leanCreateMonitor(argv: string[]): (() => Promise<number>) | undefined {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: LEAN_MONITOR_OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch {
    return undefined;
  }
  const v = parsed.values;
  if (parsed.positionals.join(' ') !== 'create monitor') return undefined;
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind === 'option-terminator') return undefined;
    if (t.kind !== 'option' || t.name === 'verbose') continue;
    if (seen.has(t.name) || t.value === '') return undefined;
    seen.add(t.name);
  }
  if (v.auth !== undefined && !(AUTH_CHOICES as readonly string[]).includes(v.auth)) return undefined;
  const camel = Object.fromEntries(
    Object.entries(v).map(([k, val]) => [k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), val]),
  ) as CreateMonitorArgs & { run?: boolean };
  return async () => {
    setLogLevel(levelFromFlags(v.verbose?.length ?? 0, Boolean(v.quiet)));
    try {
      await createMonitorCommand(camel, Boolean(v.run));
      return 0;
    } catch (err) {
      return reportError(err);
    }
  };
}
