// `pgaf drop node`: remove a node from its formation.
//  local:  drop node [--pgdata D] [--destroy] [--force] [--wait N]: remove_node(this node), let
//          its keeper (or, when none runs, this command) reach the dropped state; --destroy
//          then stops Postgres and removes PGDATA, the config and the state files.
//  remote: drop node --monitor URI (--hostname H [--pgport P] | [--formation F] --name N)
//          [--force] [--wait N]: remove_node on the monitor, then wait until the node is gone.
import { requireMonitorUri } from '../config/keeper-config.js';
import { existsSync, rmSync } from 'node:fs';
import type { Argv } from 'yargs';
import { readNodeIni, requireNodeIni } from '../config/node-config.js';
import { BadArgs, KeeperFailed, MonitorFailed } from '../lib/errors.js';
import { Dropped } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { findNode, type NodeRow, type NodeSelector } from '../lib/monitor-queries.js';
import { claimPidFileListening, servicePid, waitForExit } from '../lib/pid-file.js';
import { postgresRunAs } from '../lib/pgbin.js';
import type { PgTarget } from '../lib/pg-uri.js';
import { nodeMonitorTarget } from '../keeper/monitor-target.js';
import { withClient, type Query } from '../lib/sql.js';
import { loadKeeperConfig, localPostgres, openNode } from '../keeper/open-node.js';
import { readStateFile } from '../keeper/state/state-file.js';
import { actAndFollow, monitorRefusal } from './follow.js';
import { parseFormation, parseHostname, parseNodeName, parsePort, parseWait, resolveMonitor, resolvePgdata } from './options.js';
import { DEFAULT_WAIT_SEC } from './perform.js';
import { dropMonitorCommand } from './drop-monitor.js';
import { dropFormationCommand } from './formation.js';

export interface DropNodeArgs {
  pgdata?: string;
  monitor?: string;
  hostname?: string;
  pgport?: string | number;
  formation?: string;
  name?: string;
  destroy?: boolean;
  force?: boolean;
  wait?: string | number;
}

export interface DropNodeRequest {
  /** The node to drop on the monitor; undefined: the local node of PGDATA. */
  target?: { host: string; port: number } | { formation: string; name: string };
  destroy: boolean;
  force: boolean;
  waitSec: number;
}

/** Validates the flag combinations (pure apart from the environment's PGPORT). */
export function dropNodeRequest(a: DropNodeArgs, env: NodeJS.ProcessEnv = process.env): DropNodeRequest {
  const waitSec = a.wait !== undefined ? parseWait(a.wait) : DEFAULT_WAIT_SEC;
  const byName = a.name !== undefined;
  const byAddress = a.hostname !== undefined;
  if (byName && byAddress) {
    throw new BadArgs('drop node targets a node either with --hostname and --pgport, or with --formation and --name: not both');
  }
  if (a.pgport !== undefined && !byAddress) throw new BadArgs('--pgport needs --hostname: drop node --hostname H --pgport P');
  if (a.formation !== undefined && !byName) throw new BadArgs('--formation needs --name: drop node --formation F --name N');
  let target: DropNodeRequest['target'];
  if (byAddress) {
    const port = a.pgport !== undefined ? parsePort(a.pgport, '--pgport') : env.PGPORT ? parsePort(env.PGPORT, 'PGPORT') : 5432;
    target = { host: parseHostname(a.hostname), port };
  } else if (byName) {
    target = { formation: a.formation !== undefined ? parseFormation(a.formation) : 'default', name: parseNodeName(a.name) };
  }
  if (target && a.destroy) {
    throw new BadArgs('--destroy only applies to the local node (drop node --pgdata D --destroy), not to --hostname or --name');
  }
  if (!target && a.destroy && waitSec === 0) {
    throw new BadArgs('--destroy needs the node dropped first: use a --wait above 0');
  }
  return { target, destroy: Boolean(a.destroy), force: Boolean(a.force), waitSec };
}

function selectorOf(t: NonNullable<DropNodeRequest['target']>): NodeSelector {
  return 'name' in t ? { formation: t.formation, name: t.name } : { host: t.host, port: t.port };
}

function describeTarget(t: NonNullable<DropNodeRequest['target']>): string {
  return 'name' in t ? `--formation ${t.formation} --name ${t.name}` : `--hostname ${t.host} --pgport ${t.port}`;
}

async function removeNode(q: Query, node: NodeRow, force: boolean): Promise<void> {
  try {
    await q('SELECT pgautofailover.remove_node($1::bigint, $2::bool)', [node.nodeid, force]);
  } catch (err) {
    throw monitorRefusal(err, `cannot drop node ${node.nodeid} "${node.nodename}"`);
  }
}

const gone = (id: number) => (rows: Array<{ node_id: number }>) => !rows.some((r) => r.node_id === id);

async function dropRemote(req: DropNodeRequest & { target: NonNullable<DropNodeRequest['target']> }, target: PgTarget): Promise<void> {
  const node = await withClient(target, { kind: 'monitor' }, (q) => findNode(q, selectorOf(req.target)));
  // the monitor has no such node: a monitor error (exit 6), as the original reports it
  if (!node) throw new MonitorFailed(`${describeTarget(req.target)}: no such node is registered on the monitor`, { retryable: false });
  log.info(`Removing node ${node.nodeid} "${node.nodename}" (${node.nodehost}:${node.nodeport}) from formation "${node.formationid}"`);
  if (req.force || req.waitSec === 0) {
    await withClient(target, { kind: 'monitor' }, (q) => removeNode(q, node, req.force));
    if (req.force) log.info(`Node ${node.nodeid} "${node.nodename}" has been removed from the monitor`);
    return;
  }
  await actAndFollow({
    target,
    formation: node.formationid,
    group: node.groupid,
    timeoutSec: req.waitSec,
    waitingFor: `node ${node.nodeid} to be dropped`,
    action: async (q) => {
      await removeNode(q, node, false);
      return true;
    },
    done: gone(node.nodeid),
  }).catch((err) => {
    if (err instanceof MonitorFailed && /timed out/.test(err.message)) {
      throw new MonitorFailed(`${err.message}: its keeper has not reported the dropped state`, {
        hint: 'the node is removed once its keeper reports it; drop node --force removes it at once',
        retryable: false,
      });
    }
    throw err;
  });
  log.info(`Node ${node.nodeid} "${node.nodename}" has been dropped from the monitor`);
}

/** Runs keeper ticks here (no keeper runs) until the monitor has forgotten the node. */
async function finishDropLocally(pgdata: string, deadline: number): Promise<void> {
  const node = openNode(pgdata, log);
  // the drop has nothing to reload
  const release = claimPidFileListening(node.paths.pid, node.paths.runBase, postgresRunAs(pgdata), () =>
    log.info('Received SIGHUP: ignored while the node is being dropped'),
  );
  try {
    for (;;) {
      try {
        await node.keeper.tick();
      } catch (err) {
        if (err instanceof Dropped) return;
        log.warn(`Dropping the node: ${(err as Error).message}; retrying`);
      }
      if (Date.now() > deadline) {
        throw new MonitorFailed('timed out waiting for the monitor to confirm that this node is dropped', {
          hint: 'check that the monitor is reachable, then run drop node again',
          retryable: false,
        });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    release();
    await node.monitor.close();
  }
}

async function stopService(pid: number, timeoutMs: number): Promise<void> {
  log.info(`Sending SIGTERM to the keeper (pid ${pid})`);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (!(await waitForExit(pid, timeoutMs))) {
    throw new KeeperFailed(`the keeper (pid ${pid}) did not stop within ${Math.round(timeoutMs / 1000)}s`);
  }
}

async function dropLocal(req: DropNodeRequest, pgdata: string): Promise<void> {
  const { config, paths } = loadKeeperConfig(pgdata);
  const state = readStateFile(paths.state);
  const target = nodeMonitorTarget(requireMonitorUri(config, paths.config), config.pgdata, `pg_autoctl.monitor in ${paths.config}`);
  const label = `node ${state.nodeId} "${config.name}"`;
  const started = Date.now();
  const deadline = started + req.waitSec * 1000;

  const node = await withClient(target, { kind: 'monitor' }, async (q) => {
    const n = await findNode(q, { id: state.nodeId });
    if (n && (n.goalstate !== 'dropped' || req.force)) {
      log.info(`Removing ${label} from formation "${n.formationid}" on the monitor`);
      await removeNode(q, n, req.force);
    }
    return n;
  });
  if (!node) log.info(`${label} is not registered on the monitor any more`);
  if (req.waitSec === 0) return;

  const pid = servicePid(paths.pid);
  if (pid !== undefined) {
    if (req.force) {
      await stopService(pid, 10_000);
    } else {
      log.info(`Waiting up to ${req.waitSec}s for the keeper (pid ${pid}) to reach the dropped state and exit`);
      if (!(await waitForExit(pid, Math.max(0, deadline - Date.now())))) {
        log.warn(`The keeper (pid ${pid}) is still running after ${req.waitSec}s`);
        await stopService(pid, 10_000);
      }
    }
  }

  const still = node && !req.force ? await withClient(target, { kind: 'monitor' }, (q) => findNode(q, { id: state.nodeId })) : undefined;
  if (still) {
    log.info(`Reaching the dropped state of ${label} here, as no keeper runs`);
    await finishDropLocally(pgdata, Math.max(deadline, Date.now() + 10_000));
  }
  log.info(`${label} in formation "${config.formation}" and group ${config.group} has been dropped from the monitor`);

  if (!req.destroy) {
    log.warn(`Preserving configuration file: "${paths.config}"`);
    if (existsSync(pgdata)) log.warn(`Preserving Postgres data directory: "${pgdata}"`);
    log.info('drop node keeps the data and setup: to remove them too, use drop node --destroy');
    return;
  }
  log.info(`Stopping PostgreSQL at "${pgdata}"`);
  await localPostgres(config, paths, state.nodeId, log).stop('fast');
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
}

export function registerDrop(cli: Argv): Argv {
  return cli.command('drop', 'drop a node, a monitor or a formation', (y) =>
    dropFormationCommand(dropMonitorCommand(y))
      .command(
        'node',
        'remove a node from its formation (the local node of PGDATA, or one named on the monitor)',
        (n) =>
          n
            .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
            .option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI, to drop another node' })
            .option('hostname', { type: 'string', requiresArg: true, describe: 'host of the node to drop' })
            .option('nodename', { type: 'string', requiresArg: true, hidden: true, describe: 'older name of --hostname' })
            .option('pgport', { type: 'string', requiresArg: true, describe: 'port of the node to drop (default: $PGPORT, else 5432)' })
            .option('formation', { type: 'string', requiresArg: true, describe: 'formation of the node to drop (default "default")' })
            .option('name', { type: 'string', requiresArg: true, describe: 'name of the node to drop' })
            .option('destroy', { type: 'boolean', default: false, describe: 'also stop Postgres and remove PGDATA, config and state' })
            .option('force', { type: 'boolean', default: false, describe: 'remove the node now, without waiting for its keeper' })
            .option('wait', { type: 'string', requiresArg: true, describe: `seconds to wait (default ${DEFAULT_WAIT_SEC}, 0: do not wait)` }),
        async (args) => {
          if (args.hostname === undefined && args.nodename !== undefined) args.hostname = args.nodename;
          const req = dropNodeRequest(args as DropNodeArgs);
          const explicitMonitor = typeof args.monitor === 'string' && args.monitor !== '';
          if (req.target) {
            if (!explicitMonitor) {
              const pgdata = resolvePgdata(args.pgdata);
              const local = readNodeIni(pgdata);
              if (local?.role === 'keeper') {
                throw new BadArgs('with the --pgdata of a data node, drop node drops that node only: --hostname and --name need --monitor', {
                  hint: 'run drop node --monitor <URI> ... or from the monitor host',
                });
              }
            }
            await dropRemote({ ...req, target: req.target }, resolveMonitor(args).target);
            return;
          }
          if (explicitMonitor) throw new BadArgs('with --monitor, name the node to drop: --hostname H --pgport P, or --formation F --name N');
          const pgdata = resolvePgdata(args.pgdata);
          const local = requireNodeIni(pgdata);
          if (local.role !== 'keeper') {
            throw new BadArgs(`PGDATA ${pgdata} is a ${local.role ?? 'unknown'} node: name the node to drop with --hostname and --pgport, or --formation and --name`);
          }
          await dropLocal(req, pgdata);
        },
      )
      .demandCommand(1, 'drop what? node, monitor or formation'),
  );
}
