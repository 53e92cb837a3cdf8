// `pgaf drop monitor [--destroy]`: stop the monitor service of PGDATA and its Postgres; with
// --destroy, also remove PGDATA and the monitor's configuration and state files.
import { existsSync, rmSync } from 'node:fs';
import type { Argv } from 'yargs';
import { nodePaths } from '../config/node-paths.js';
import { requireNodeIni } from '../config/node-config.js';
import { BadArgs, KeeperFailed } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { servicePid, waitForExit } from '../lib/pid-file.js';
import { resolvePgdata } from './options.js';
import { localService, SERVICE_STOP_TIMEOUT_MS } from './stop.js';

export function dropMonitorCommand(cli: Argv): Argv {
  return cli.command(
    'monitor',
    'stop the monitor of PGDATA; with --destroy, also remove its data and configuration',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory of the monitor (default: $PGDATA)' })
        .option('destroy', { type: 'boolean', default: false, describe: 'also remove PGDATA, the configuration and state files' }),
    async (args) => {
      const pgdata = resolvePgdata(args.pgdata);
      const node = requireNodeIni(pgdata);
      if (node.role !== 'monitor') {
        throw new BadArgs(`PGDATA ${pgdata} is a ${node.role ?? 'unknown'} node, not a monitor: use drop node`);
      }
      const svc = localService(pgdata);
      const pid = servicePid(svc.pidFile);
      if (pid !== undefined) {
        log.info(`Stopping the monitor service (pid ${pid})`);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
        if (!(await waitForExit(pid, SERVICE_STOP_TIMEOUT_MS))) {
          throw new KeeperFailed(`the monitor service (pid ${pid}) did not exit within ${SERVICE_STOP_TIMEOUT_MS / 1000}s`);
        }
      }
      const res = await svc.ctl.stop({ mode: 'fast' });
      log.info(res === 'stopped' ? 'Stopped the monitor Postgres' : 'The monitor Postgres was not running');
      const paths = nodePaths(pgdata);
      if (!args.destroy) {
        log.warn(`Preserving configuration file: "${paths.config}"`);
        if (existsSync(pgdata)) log.warn(`Preserving Postgres data directory: "${pgdata}"`);
        log.info('drop monitor keeps the data and setup: to remove them too, use drop monitor --destroy');
        return;
      }
      if (existsSync(pgdata)) {
        log.info(`Removing "${pgdata}"`);
        rmSync(pgdata, { recursive: true, force: true });
      }
      for (const f of [paths.init, paths.state, paths.config]) {
        if (existsSync(f)) {
          log.info(`Removing "${f}"`);
          rmSync(f, { force: true });
        }
      }
    },
  );
}
