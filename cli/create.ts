// `pgaf create monitor` (later: create postgres, create formation).
import type { Argv } from 'yargs';
import { createMonitor, planCreateMonitor } from '../monitor-ext/create-monitor.js';
import { log } from '../lib/log.js';
import type { AuthMethod } from '../lib/auth-method.js';
import { logSslRequest, optionalSslRequest, type SslArgs } from '../lib/ssl.js';
import { AUTH_CHOICES, checkedPghost, parseHostname, parsePath, parsePort, resolvePgdata } from './options.js';
import { withSslOptions } from './ssl-options.js';
import { localHostFor } from '../lib/test-mode.js';
import { postgresCommand } from './create-postgres.js';
import { createFormationCommand } from './formation.js';

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

function monitorCommand(cli: Argv): Argv {
  return cli.command(
    'monitor',
    'initialise a pgaf monitor: a Postgres with database pg_auto_failover and the pgaf extension',
    (y) =>
      withSslOptions(y)
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('pgport', { type: 'string', requiresArg: true, describe: 'Postgres port (default: $PGPORT, else 5432)' })
        .option('pgctl', { type: 'string', requiresArg: true, describe: 'path to pg_ctl (default: from pg_config)' })
        .option('hostname', {
          type: 'string',
          requiresArg: true,
          describe: 'address keepers use to reach the monitor (default 127.0.0.1); Postgres listens on it and on localhost',
        })
        .option('nodename', { type: 'string', requiresArg: true, hidden: true, describe: 'older name of --hostname' })
        .option('auth', {
          type: 'string',
          choices: AUTH_CHOICES,
          describe: 'authentication method for keepers in pg_hba.conf (default scram-sha-256, with a generated password for autoctl_node; skip: as --skip-pg-hba)',
        })
        .option('skip-pg-hba', { type: 'boolean', describe: 'do not edit pg_hba.conf' })
        .option('run', { type: 'boolean', describe: 'go on running the monitor service (as pgaf run)' }),
    async (args) => {
      const req = createMonitorRequest(args as CreateMonitorArgs);
      logSslRequest(req.ssl, log);
      const plan = await planCreateMonitor(req);
      const uri = await createMonitor(plan);
      process.stdout.write(uri + '\n');
      if (args.run) {
        const { runMonitor } = await import('../monitor-ext/service.js');
        const { loadMonitorConfig } = await import('./options.js');
        await runMonitor(loadMonitorConfig(req.pgdata), log);
      }
    },
  );
}

export function registerCreate(cli: Argv): Argv {
  return cli.command('create', 'create a pgaf node', (y) =>
    createFormationCommand(postgresCommand(monitorCommand(y))).demandCommand(1, 'create what? monitor, postgres or formation'),
  );
}
