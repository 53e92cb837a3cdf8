// `pgaf stop`: stop the node of PGDATA. For now a monitor: pg_ctl stop.
import type { Argv } from 'yargs';
import { log } from '../lib/log.js';
import { postgresRunAs } from '../lib/pgbin.js';
import { PostgresCtl, resolveBinDir } from '../lib/postgres-ctl.js';
import { loadMonitorConfig, resolvePgdata } from './options.js';

export function registerStop(cli: Argv): Argv {
  return cli.command(
    'stop',
    'stop the pgaf node of PGDATA (a monitor: its Postgres)',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('fast', { type: 'boolean', describe: 'fast shutdown (the default)' })
        .option('immediate', { type: 'boolean', describe: 'immediate shutdown' })
        .conflicts('fast', 'immediate'),
    async (args) => {
      const pgdata = resolvePgdata(args.pgdata);
      const cfg = loadMonitorConfig(pgdata);
      const ctl = new PostgresCtl({ pgdata, binDir: resolveBinDir(cfg.pgCtl), runAs: postgresRunAs(pgdata) });
      const res = await ctl.stop({ mode: args.immediate ? 'immediate' : 'fast' });
      log.info(res === 'stopped' ? 'Stopped the monitor' : 'The monitor was not running', { pgdata });
    },
  );
}
