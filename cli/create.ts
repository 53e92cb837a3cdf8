// `pgaf create monitor` (later: create postgres, create formation).
import type { Argv } from 'yargs';
import { AUTH_CHOICES } from './options.js';
import { withSslOptions } from './ssl-options.js';
import { createMonitorCommand, type CreateMonitorArgs } from './create-monitor.js';
import { postgresCommand } from './create-postgres.js';
import { createFormationCommand } from './formation.js';

export { createMonitorRequest, type CreateMonitorArgs } from './create-monitor.js';

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
    async (args) => createMonitorCommand(args as CreateMonitorArgs, Boolean(args.run)),
  );
}

export function registerCreate(cli: Argv): Argv {
  return cli.command('create', 'create a pgaf node', (y) =>
    createFormationCommand(postgresCommand(monitorCommand(y))).demandCommand(1, 'create what? monitor, postgres or formation'),
  );
}
