// `pgaf enable|disable monitor`: the original's online monitor replacement (not supported yet:
// the commands refuse with exit 1 and say why).
import type { Argv } from 'yargs';
import { BadArgs } from '../lib/errors.js';
import { localNode } from './options.js';

export function enableMonitorCommand(cli: Argv): Argv {
  return cli.command(
    'monitor <uri>',
    'register the node of PGDATA with a new monitor (not supported)',
    (y) =>
      y
        .positional('uri', { type: 'string', describe: 'the new monitor URI' })
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' }),
    (args) => {
      if (!/^postgres(ql)?:\/\//.test(String(args.uri))) throw new BadArgs(`the monitor URI must be a postgres:// URI, got "${String(args.uri)}"`);
      localNode(args.pgdata);
      throw new BadArgs('enable monitor is not supported: a pgaf node keeps the monitor it was created with', {
        hint: 'to move to another monitor: drop node, then create postgres --monitor <uri> on the existing PGDATA',
      });
    },
  );
}

export function disableMonitorCommand(cli: Argv): Argv {
  return cli.command(
    'monitor',
    'let the node of PGDATA run without a monitor (not supported)',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('force', { type: 'boolean', describe: 'even when the monitor cannot be reached' }),
    (args) => {
      localNode(args.pgdata);
      throw new BadArgs('disable monitor is not supported: pgaf nodes always run with a monitor');
    },
  );
}
