// `pgaf run`: the monitor service (Postgres + health worker) or a data node's keeper.
import type { Argv } from 'yargs';
import { readNodeIni } from '../config/node-config.js';
import { monitorConfigFromIni } from '../config/node-config.js';
import { BadConfig } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { runDataNode } from '../keeper/service.js';
import { runMonitor } from '../monitor-ext/service.js';
import { resolvePgdata } from './options.js';

export function registerRun(cli: Argv): Argv {
  return cli.command(
    'run',
    'run the pgaf service of PGDATA: the keeper of a data node, or the monitor',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('name', { type: 'string', requiresArg: true, hidden: true, describe: 'accepted for compatibility' })
        .option('hostname', { type: 'string', requiresArg: true, hidden: true, describe: 'accepted for compatibility' })
        .option('pgport', { type: 'string', requiresArg: true, hidden: true, describe: 'accepted for compatibility' }),
    async (args) => {
      const pgdata = resolvePgdata(args.pgdata);
      const node = readNodeIni(pgdata);
      if (!node) throw new BadConfig(`no pgaf node is configured for PGDATA ${pgdata}`, { hint: 'run pgaf create monitor|postgres first' });
      if (node.role === 'monitor') await runMonitor(monitorConfigFromIni(node.ini, node.path), log);
      else await runDataNode(pgdata, log);
    },
  );
}
