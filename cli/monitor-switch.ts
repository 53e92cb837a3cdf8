// `pgaf enable|disable monitor`: the original's online monitor replacement. disable: leave the
// monitor (or forget one that is gone, --force) and run on without one; enable: register the
// running node with a new monitor in its current role. Postgres keeps running throughout.
import type { Argv } from 'yargs';
import { disableMonitor, enableMonitor, parseMonitorUri } from '../keeper/monitor-switch/apply.js';
import { log } from '../lib/log.js';
import { requireLocalNodeIni } from './options.js';

export function enableMonitorCommand(cli: Argv): Argv {
  return cli.command(
    'monitor <uri>',
    'register the node of PGDATA, which runs without a monitor, with a new monitor (primary first, then its standbys)',
    (y) =>
      y
        .positional('uri', { type: 'string', describe: 'the new monitor URI, postgres://autoctl_node@host:port/pg_auto_failover' })
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' }),
    async (args) => {
      parseMonitorUri(String(args.uri));
      const { pgdata } = requireLocalNodeIni(args.pgdata);
      await enableMonitor(pgdata, String(args.uri), log);
    },
  );
}

export function disableMonitorCommand(cli: Argv): Argv {
  return cli.command(
    'monitor',
    'remove the node of PGDATA from its monitor and run it without one (standbys first, then the primary)',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('force', { type: 'boolean', default: false, describe: 'forget the monitor even when it cannot be reached' }),
    async (args) => {
      const { pgdata } = requireLocalNodeIni(args.pgdata);
      await disableMonitor(pgdata, { force: Boolean(args.force) }, log);
    },
  );
}
