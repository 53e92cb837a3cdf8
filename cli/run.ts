// `pgaf run`: the monitor service (Postgres + health worker) or a data node's keeper.
import type { Argv } from 'yargs';
import { monitorConfigFromIni, requireNodeIni } from '../config/node-config.js';
import { PgafError } from '../lib/errors.js';
import { levelFromFlags, log, setLogLevel } from '../lib/log.js';
import { resolvePgdata } from './options.js';
import { reportError } from './report-error.js';

export function registerRun(cli: Argv): Argv {
  return cli.command(
    'run',
    'run the pgaf service of PGDATA: the keeper of a data node, or the monitor',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('name', { type: 'string', requiresArg: true, hidden: true, describe: 'accepted for compatibility' })
        .option('hostname', { type: 'string', requiresArg: true, hidden: true, describe: 'accepted for compatibility' })
        .option('nodename', { type: 'string', requiresArg: true, hidden: true, describe: 'older name of --hostname' })
        .option('pgport', { type: 'string', requiresArg: true, hidden: true, describe: 'accepted for compatibility' }),
    async (args) => runService(args.pgdata, { name: args.name, hostname: args.hostname ?? args.nodename, pgport: args.pgport }),
  );
}

interface RunMetadata {
  name?: string;
  hostname?: string;
  pgport?: string;
}

async function runService(pgdataArg: unknown, meta: RunMetadata = {}): Promise<void> {
  const pgdata = resolvePgdata(pgdataArg);
  const node = requireNodeIni(pgdata, { hint: 'run pgaf create monitor|postgres first' });
  // each service loads only its own modules: a keeper never carries the health worker and the
  // status page, the monitor never the keeper's ~45 modules (about 1 MB of resident memory each)
  if (node.role === 'monitor') {
    const { runMonitor } = await import('../monitor-ext/service.js');
    await runMonitor(monitorConfigFromIni(node.ini, node.path), log);
    return;
  }
  if (meta.name !== undefined || meta.hostname !== undefined || meta.pgport !== undefined) {
    // As the original: run --name/--hostname/--pgport updates the node metadata first.
    const { metadataRequest, updateNodeMetadata } = await import('./node-metadata.js');
    const req = metadataRequest(meta);
    try {
      const r = await updateNodeMetadata(pgdata, req);
      log.info(`Node ${r.nodeId} metadata: "${r.name}" at ${r.hostname}:${r.port}`);
    } catch (err) {
      // an unreachable monitor must not keep the keeper from running; a refusal must
      if (!(err instanceof PgafError && err.exitCode === 6 && err.retryable)) throw err;
      log.warn(`Cannot update the node metadata now, the monitor is unreachable: ${err.message}`);
    }
  }
  const { runDataNode } = await import('../keeper/service.js');
  await runDataNode(pgdata, log);
}

/** `run` without yargs (cli/main.ts): the same service, errors mapped to exit codes. */
export async function runLean(opts: { pgdata?: string; verbose: number; quiet: boolean } & RunMetadata): Promise<number> {
  setLogLevel(levelFromFlags(opts.verbose, opts.quiet));
  try {
    await runService(opts.pgdata, opts);
    return 0;
  } catch (err) {
    return reportError(err);
  }
}
