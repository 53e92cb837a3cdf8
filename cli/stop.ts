// `pgaf stop | reload | status`: the local service of PGDATA (a data node's keeper or the
// monitor's `pgaf run`, found by its pid file) and its Postgres.
//   stop:   SIGTERM to the service (waits up to 10 s for it to exit), then pg_ctl stop.
//   reload: SIGHUP to a data node's keeper; on a monitor, pg_ctl reload.
//   status: is the service running, is Postgres running (exit 3 / 5 when not, like the original).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { keeperConfigFromIni } from '../config/keeper-config.js';
import { monitorConfigFromIni, requireNodeIni } from '../config/node-config.js';
import { nodePaths } from '../config/node-paths.js';
import { BadConfig, BadState, KeeperFailed, PgCtl } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { servicePid, waitForExit } from '../lib/pid-file.js';
import { postgresRunAs } from '../lib/pgbin.js';
import { PostgresCtl, postgresVersion, resolveBinDir, type StopMode } from '../lib/postgres-ctl.js';
import { readControlData, type ControlData } from '../lib/controldata.js';
import { json, programName } from './output.js';
import { parsePostgresVersion } from './version.js';
import { resolvePgdata } from './options.js';

export const SERVICE_STOP_TIMEOUT_MS = 10_000;

export interface StopArgs {
  pgdata?: string;
  fast?: boolean;
  immediate?: boolean;
}

export function stopRequest(a: StopArgs, env: NodeJS.ProcessEnv = process.env): { pgdata: string; mode: StopMode } {
  return { pgdata: resolvePgdata(a.pgdata, env), mode: a.immediate ? 'immediate' : 'fast' };
}

interface LocalService {
  role: 'monitor' | 'keeper';
  what: string;
  pgdata: string;
  port: number;
  pgCtl: string;
  /** Unix socket directory */
  host: string;
  pidFile: string;
  ctl: PostgresCtl;
}

/** The node of PGDATA: its kind, pid file and Postgres control. */
export function localService(pgdata: string): LocalService {
  const node = requireNodeIni(pgdata);
  let port: number;
  let pgCtl: string;
  let host: string;
  if (node.role === 'monitor') {
    const cfg = monitorConfigFromIni(node.ini, node.path);
    ({ port, pgCtl, host } = cfg);
  } else if (node.role === 'keeper') {
    const cfg = keeperConfigFromIni(node.ini, node.path);
    ({ port, pgCtl, host } = cfg);
  } else {
    throw new BadConfig(`${node.path} is not a pgaf node configuration: pg_autoctl.role is ${node.role ?? 'missing'}`);
  }
  const role = node.role;
  return {
    role,
    what: role === 'monitor' ? 'the monitor service' : 'the keeper',
    pgdata,
    port,
    pgCtl,
    host,
    pidFile: nodePaths(pgdata).pid,
    ctl: new PostgresCtl({ pgdata, binDir: resolveBinDir(pgCtl), runAs: postgresRunAs(pgdata), log }),
  };
}

function postmasterPid(pgdata: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function stopCommand(cli: Argv): Argv {
  return cli.command(
    'stop',
    'stop the pgaf service of PGDATA (keeper or monitor service) and its Postgres',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('fast', { type: 'boolean', describe: 'fast shutdown (the default)' })
        .option('immediate', { type: 'boolean', describe: 'immediate shutdown' })
        .conflicts('fast', 'immediate'),
    async (args) => {
      const req = stopRequest(args as StopArgs);
      const svc = localService(req.pgdata);
      const pid = servicePid(svc.pidFile);
      if (pid !== undefined) {
        log.info(`Stopping ${svc.what} (pid ${pid})`);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // it just exited
        }
        if (!(await waitForExit(pid, SERVICE_STOP_TIMEOUT_MS))) {
          throw new KeeperFailed(`${svc.what} (pid ${pid}) did not exit within ${SERVICE_STOP_TIMEOUT_MS / 1000}s: Postgres left running`, {
            hint: `see ${svc.pidFile}`,
          });
        }
      }
      const res = await svc.ctl.stop({ mode: req.mode });
      const name = svc.role === 'monitor' ? 'the monitor' : 'Postgres';
      log.info(res === 'stopped' ? `Stopped ${name}` : `${name} was not running`, { pgdata: req.pgdata });
    },
  );
}

function reloadCommand(cli: Argv): Argv {
  return cli.command(
    'reload',
    'make the pgaf service of PGDATA re-read its configuration',
    (y) => y.option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' }),
    async (args) => {
      const svc = localService(resolvePgdata(args.pgdata));
      if (svc.role === 'monitor') {
        // The monitor service re-reads nothing yet; its Postgres does.
        if ((await svc.ctl.status()) !== 'running') throw new BadState(`the monitor Postgres is not running at "${svc.pgdata}"`);
        await svc.ctl.reload();
        log.info('Reloaded the monitor Postgres');
        return;
      }
      const pid = servicePid(svc.pidFile);
      if (pid === undefined) throw new BadState(`the keeper is not running at "${svc.pgdata}"`, { hint: `no live pid in ${svc.pidFile}` });
      process.kill(pid, 'SIGHUP');
      log.info(`Signalled the keeper (pid ${pid}) to reload its configuration`);
    },
  );
}

/** status --json: the original's keys (postgres.control, postmaster, services…) plus pidfile, role, is_running. */
export interface ServiceStatus {
  postgres: {
    pgdata: string;
    pg_ctl: string;
    version: string | null;
    host: string;
    port: number;
    proxyport: number;
    pid: number | null;
    in_recovery: boolean;
    control: { version: number; catalog_version: number; system_identifier: string };
    postmaster: { status: 'ready' | 'stopped' };
    is_running: boolean;
  };
  pg_autoctl: { pid: number | null; status: 'running' | 'not running'; pidfile: string; role: string; services: string[] };
}

/** The postgres part of status --json from pg_controldata (when readable) and what we know. */
export function postgresStatus(
  svc: Pick<LocalService, 'pgdata' | 'pgCtl' | 'host' | 'port'>,
  running: boolean,
  pid: number | null,
  control: ControlData | undefined,
  version: string | null,
): ServiceStatus['postgres'] {
  const num = (label: string) => Number(control?.get(label) ?? 0) || 0;
  const state = control?.get('Database cluster state') ?? '';
  return {
    pgdata: svc.pgdata,
    pg_ctl: svc.pgCtl,
    version,
    host: svc.host,
    port: svc.port,
    proxyport: 0,
    pid,
    in_recovery: /recovery/.test(state),
    control: {
      version: num('pg_control version number'),
      catalog_version: num('Catalog version number'),
      system_identifier: control?.get('Database system identifier') ?? '0',
    },
    postmaster: { status: running ? 'ready' : 'stopped' },
    is_running: running,
  };
}

/** `status`: exit 0 when the service of PGDATA and its Postgres run (yargs or cli/fast.ts parse the options). */
export async function showStatus(args: { pgdata?: string; json?: boolean }): Promise<void> {
  const svc = localService(resolvePgdata(args.pgdata));
  const pid = servicePid(svc.pidFile);
  const pgRunning = (await svc.ctl.status()) === 'running';
  const pmPid = pgRunning ? (postmasterPid(svc.pgdata) ?? null) : null;
  const binDir = resolveBinDir(svc.pgCtl);
  const control = args.json ? await readControlData(binDir, svc.pgdata, postgresRunAs(svc.pgdata)) : undefined;
  const version = args.json ? await postgresVersion(binDir).then((t) => parsePostgresVersion(t).pg_version?.split(' ')[0] ?? null, () => null) : null;
  const status: ServiceStatus = {
    postgres: postgresStatus(svc, pgRunning, pmPid, control instanceof Map ? control : undefined, version),
    pg_autoctl: { pid: pid ?? null, status: pid !== undefined ? 'running' : 'not running', pidfile: svc.pidFile, role: svc.role, services: [] },
  };
  if (pid !== undefined) log.info(`${programName()} is running with pid ${pid}`);
  if (pgRunning) log.info(`Postgres is serving PGDATA "${svc.pgdata}" on port ${svc.port} with pid ${pmPid ?? '?'}`);
  if (args.json) json(status);
  if (pid === undefined) throw new BadState(`${programName()} is not running at "${svc.pgdata}"`);
  if (!pgRunning) throw new PgCtl(`Postgres is not running at "${svc.pgdata}"`);
}

function statusCommand(cli: Argv): Argv {
  return cli.command(
    'status',
    'tell whether the pgaf service of PGDATA and its Postgres are running',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('json', { type: 'boolean', default: false, describe: 'output JSON' }),
    (args) => showStatus(args),
  );
}

export function registerStop(cli: Argv): Argv {
  return statusCommand(reloadCommand(stopCommand(cli)));
}
