// `pgaf do …`: debug commands of the original (listed in --help when PG_AUTOCTL_DEBUG is set,
// always accepted): fsm init|state|list|assign|step|nodes get|set, monitor get
// primary|others, pgsetup ready|wait|discover, service restart postgres, show
// ipaddr|cidr|hostname.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Argv } from 'yargs';
import { json } from './output.js';
import { requireMonitorUri, type KeeperConfig } from '../config/keeper-config.js';
import type { NodePaths } from '../config/node-paths.js';
import { BadArgs, BadConfig, BadState, PgSql } from '../lib/errors.js';
import { parseNodesJson, readNodesFile, writeNodesFile } from '../keeper/state/nodes-file.js';
import { loadKeeperConfig, localPostgres, openNode } from '../keeper/open-node.js';
import { findTransition, TRANSITIONS } from '../keeper/fsm/transitions.js';
import { isNodeState, NODE_STATES, type NodeState } from '../keeper/fsm/states.js';
import { initialState, readStateFile, type KeeperState } from '../keeper/state/state-file.js';
import { StateStore } from '../keeper/state/store.js';
import { reachAssignedState } from '../keeper/fsm/reach.js';
import { log } from '../lib/log.js';
import { servicePid } from '../lib/pid-file.js';
import { nodeMonitorTarget } from '../keeper/monitor-target.js';
import { withClient } from '../lib/sql.js';
import { parseFormation, parseNonNegativeInt, resolveMonitor, resolvePgdata } from './options.js';
import { cidrOf, localIpAddress } from './show-more.js';
import { renderTable } from './tables.js';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { nodePaths } from '../config/node-paths.js';
import { PostgresCtl, resolveBinDir } from '../lib/postgres-ctl.js';
import { monitorConfigFromIni, monitorSocketTarget, requireNodeIni } from '../config/node-config.js';
import { postgresRunAs } from '../lib/pgbin.js';
import type { PgTarget } from '../lib/pg-uri.js';
import { localTarget, PINNED_SEARCH_PATH } from '../keeper/pg/local-sql.js';
import { postmasterRunning } from '../lib/postmaster-pid.js';

const pgdataOption = { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' } as const;

async function pgsetup(pgdata: string) {
  const { config, paths } = loadKeeperConfig(pgdata);
  const state = readStateFile(paths.state);
  const pg = localPostgres(config, paths, state.nodeId, log);
  return { config, paths, state, pg };
}

/** Runs fn with the local Postgres of PGDATA, always closing its connection. */
async function withLocalPostgres<T>(pgdata: string, fn: (s: Awaited<ReturnType<typeof pgsetup>>) => Promise<T>): Promise<T> {
  const s = await pgsetup(pgdata);
  try {
    return await fn(s);
  } finally {
    await s.pg.close();
  }
}

async function pgsetupJson(pgdata: string) {
  const { config, facts } = await withLocalPostgres(pgdata, async ({ config, pg }) => ({ config, facts: await pg.readFacts() }));
  return {
    pgdata,
    pg_ctl: config.pgCtl,
    host: config.host,
    port: config.port,
    username: config.username,
    dbname: config.dbname,
    is_running: facts.running,
    in_recovery: facts.inRecovery,
    timeline: facts.timeline,
    lsn: facts.lsn,
  };
}

interface LocalSetup {
  role: 'monitor' | 'keeper';
  pgdata: string;
  pgCtl: string;
  host: string;
  port: number;
  username: string;
  dbname: string;
  /** the superuser's local connection (socket, or TCP in test mode) */
  target: PgTarget;
}

/** What `do pgsetup` needs of the pgaf node of PGDATA, a data node or a monitor (as the original). */
function localSetup(pgdata: string): LocalSetup {
  const node = requireNodeIni(pgdata);
  if (node.role === 'monitor') {
    const cfg = monitorConfigFromIni(node.ini, node.path);
    return { role: 'monitor', pgdata, pgCtl: cfg.pgCtl, host: cfg.host, port: cfg.port, username: cfg.username, dbname: cfg.dbname, target: monitorSocketTarget(cfg, 'postgres') };
  }
  const { config } = loadKeeperConfig(pgdata);
  const superuser = postgresRunAs(pgdata)?.name ?? userInfo().username;
  return { role: 'keeper', pgdata, pgCtl: config.pgCtl, host: config.host, port: config.port, username: config.username, dbname: config.dbname, target: localTarget(config.host, config.port, superuser) };
}

/** Postgres runs (postmaster.pid names a live process) and accepts a connection. */
async function postgresReady(setup: LocalSetup): Promise<boolean> {
  if (!postmasterRunning(setup.pgdata)) return false;
  try {
    await withClient(setup.target, { kind: 'postgres', connectTimeoutMs: 2_000, options: PINNED_SEARCH_PATH }, (q) => q('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}

async function monitorPgsetupJson(pgdata: string, setup: LocalSetup) {
  const running = await postgresReady(setup);
  const facts = running
    ? (
        await withClient(setup.target, { kind: 'postgres', options: PINNED_SEARCH_PATH }, (q) =>
          q<{ in_recovery: boolean; timeline: number; lsn: string }>(
            'SELECT pg_is_in_recovery() AS in_recovery, (pg_control_checkpoint()).timeline_id AS timeline, pg_current_wal_lsn()::text AS lsn',
          ),
        )
      )[0]
    : undefined;
  return {
    pgdata,
    pg_ctl: setup.pgCtl,
    host: setup.host,
    port: setup.port,
    username: setup.username,
    dbname: setup.dbname,
    is_running: running,
    in_recovery: facts?.in_recovery ?? null,
    timeline: facts ? Number(facts.timeline) : null,
    lsn: facts?.lsn ?? null,
  };
}

/** The local keeper must not run while a debug command drives the state machine by hand. */
function refuseWhenKeeperRuns(pidFile: string): void {
  const pid = servicePid(pidFile);
  if (pid !== undefined) {
    throw new BadState(`the keeper runs (pid ${pid}): stop it before driving the state machine by hand`, { hint: 'pgaf stop' });
  }
}

/**
 * A node without a monitor whose keeper runs: write the goal into the state file and let the
 * keeper reach it (SIGHUP wakes it), until it did or `waitSec` passed. The goal is written
 * again if the keeper's own save replaced it meanwhile.
 */
async function assignThroughKeeper(paths: NodePaths, pid: number, to: NodeState, waitSec: number): Promise<KeeperState> {
  const store = new StateStore(paths.state);
  const deadline = Date.now() + waitSec * 1000;
  let announced = false;
  for (;;) {
    const state = store.read();
    if (state.current_role === to && state.assigned_role === to) return state;
    if (state.assigned_role !== to) {
      if (!findTransition(state.current_role, to)) {
        throw new BadState(`the keeper does not know how to reach "${to}" from "${state.current_role}"`, { hint: 'see pgaf do fsm list' });
      }
      store.write({ ...state, assigned_role: to });
      process.kill(pid, 'SIGHUP');
      if (!announced) log.info(`Assigned ${to} to the running keeper (pid ${pid}), current state ${state.current_role}`);
      announced = true;
    }
    if (Date.now() > deadline) {
      throw new BadState(`the keeper did not reach ${to} within ${waitSec}s (it is in ${state.current_role})`, { hint: 'see the keeper log' });
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** get_other_nodes() of the node of PGDATA, as its monitor lists them (do fsm nodes get, do monitor get others). */
async function otherNodesOnMonitor(config: KeeperConfig, paths: NodePaths): Promise<Array<Record<string, unknown>>> {
  const state = readStateFile(paths.state);
  const rows = await withClient(nodeMonitorTarget(requireMonitorUri(config, paths.config), config.pgdata), { kind: 'monitor' }, (q) =>
    q('SELECT node_id, node_name, node_host, node_port, node_lsn::text, node_is_primary FROM pgautofailover.get_other_nodes($1::bigint)', [state.nodeId]),
  );
  return rows.map((r) => ({ ...r, node_id: Number(r.node_id) }));
}

function fsmCommands(f: Argv): Argv {
  return f
    .command('init', 'write a fresh state file (init) for the node of PGDATA', (s) => s.option('pgdata', pgdataOption), (args) => {
      const { paths } = loadKeeperConfig(resolvePgdata(args.pgdata));
      refuseWhenKeeperRuns(paths.pid);
      let prev: KeeperState | undefined;
      try {
        prev = readStateFile(paths.state);
      } catch {
        prev = undefined;
      }
      const state = initialState(prev?.nodeId ?? 0, prev?.groupId ?? 0, 'init');
      new StateStore(paths.state).write(state);
      json(state);
    })
    .command('state', 'print the local state as JSON', (s) => s.option('pgdata', pgdataOption), async (args) => {
      const pgdata = resolvePgdata(args.pgdata);
      const { config, paths } = loadKeeperConfig(pgdata);
      const state = readStateFile(paths.state);
      const pg = localPostgres(config, paths, state.nodeId, log);
      const facts = await pg.readFacts().finally(() => pg.close());
      json({
        postgres: { pgdata, pg_ctl: config.pgCtl, host: config.host, port: config.port, is_running: facts.running, in_recovery: facts.inRecovery, timeline: facts.timeline, lsn: facts.lsn },
        state: { ...state },
      });
    })
    .command('list', 'print the transitions the keeper knows', (s) => s.option('json', { type: 'boolean', default: false }), (args) => {
      const rows = TRANSITIONS.map((t) => ({ current: t.from, assigned: t.to, comment: t.comment }));
      if (args.json) return json(rows);
      process.stdout.write(
        renderTable(
          [{ header: 'Current State', minWidth: 19 }, { header: 'Assigned State', minWidth: 19 }, { header: 'Comment', align: 'left' }],
          rows.map((r) => [r.current, r.assigned, r.comment]),
        ),
      );
    })
    .command(
      'assign <state>',
      'reach a state locally; on a node without a monitor, its running keeper reaches it',
      (s) =>
        s
          .option('pgdata', pgdataOption)
          .option('wait', { type: 'string', requiresArg: true, default: '300', describe: 'seconds to wait for a running keeper (no monitor) to reach the state' })
          .positional('state', { type: 'string', describe: `one of ${NODE_STATES.join(', ')}` }),
      async (args) => {
        const to = String(args.state);
        if (!isNodeState(to)) throw new BadArgs(`unknown state "${to}": expected one of ${NODE_STATES.join(', ')}`);
        const waitSec = parseNonNegativeInt(args.wait, '--wait');
        const pgdata = resolvePgdata(args.pgdata);
        const { config, paths } = loadKeeperConfig(pgdata);
        const pid = servicePid(paths.pid);
        if (config.monitor === undefined && pid !== undefined) return json(await assignThroughKeeper(paths, pid, to, waitSec));
        const node = openNode(pgdata, log);
        try {
          refuseWhenKeeperRuns(node.paths.pid);
          const store = new StateStore(node.paths.state);
          const state = store.read();
          const from = state.current_role;
          if (from !== to) {
            const ctx = { nodeId: state.nodeId, groupId: state.groupId, formation: node.config.formation, pg: node.pg, monitor: node.monitor, log: log.child({ node: node.config.name, state: from }) };
            const outcome = await reachAssignedState(ctx, from, to, { reason: 'assigned by hand' });
            if (outcome.kind === 'no-edge') throw new BadState(`the keeper does not know how to reach "${to}" from "${from}"`, { hint: 'see pgaf do fsm list' });
          }
          state.current_role = to;
          state.assigned_role = to;
          store.write(state);
          json(state);
        } finally {
          await node.monitor.close();
          await node.pg.close();
        }
      },
    )
    .command('step', 'run one keeper iteration: report to the monitor and move toward its goal', (s) => s.option('pgdata', pgdataOption), async (args) => {
      const node = openNode(resolvePgdata(args.pgdata), log);
      try {
        refuseWhenKeeperRuns(node.paths.pid);
        const before = readStateFile(node.paths.state);
        await node.keeper.tick();
        const after = readStateFile(node.paths.state);
        process.stdout.write(`${before.current_role} ➜ ${after.current_role} (assigned ${after.assigned_role})\n`);
      } finally {
        await node.monitor.close();
        await node.pg.close();
      }
    })
    .command('nodes', 'the other nodes of the group', (n) =>
      n
        .command('get', 'print the other nodes (the monitor\'s list), or the nodes file of a node without a monitor', (s) => s.option('pgdata', pgdataOption), async (args) => {
          const { config, paths } = loadKeeperConfig(resolvePgdata(args.pgdata));
          if (config.monitor === undefined) {
            const nodes = readNodesFile(paths.nodes);
            if (!nodes) log.warn(`This node has no monitor and no nodes file yet (${paths.nodes}): see pgaf do fsm nodes set <file>`);
            return json(nodes ?? []);
          }
          json(await otherNodesOnMonitor(config, paths));
        })
        .command(
          'set <file>',
          'give a node without a monitor its node list: a JSON array of {node_id, node_name, node_host, node_port, node_lsn, node_is_primary}',
          (s) => s.option('pgdata', pgdataOption).positional('file', { type: 'string', describe: 'JSON file, this node included' }),
          (args) => {
            const { config, paths } = loadKeeperConfig(resolvePgdata(args.pgdata));
            if (config.monitor !== undefined) {
              throw new BadConfig('this node has a monitor, which gives it its node list', { hint: 'pgaf disable monitor first' });
            }
            const file = String(args.file);
            let text: string;
            try {
              text = readFileSync(file, 'utf8');
            } catch (err) {
              throw new BadArgs(`cannot read the nodes file ${file}: ${(err as Error).message}`);
            }
            const nodes = parseNodesJson(text, file);
            writeNodesFile(paths.nodes, nodes);
            const pid = servicePid(paths.pid);
            if (pid !== undefined) process.kill(pid, 'SIGHUP');
            log.info(`Stored ${nodes.length} node(s) in ${paths.nodes}`);
            json(nodes);
          },
        )
        .demandCommand(1, 'do fsm nodes what? get or set'),
    )
    .demandCommand(1, 'do fsm what? init, state, list, assign, step or nodes');
}

function monitorCommands(m: Argv): Argv {
  const opts = <T>(y: Argv<T>) =>
    y
      .option('pgdata', pgdataOption)
      .option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI (default: from the config of --pgdata)' })
      .option('formation', { type: 'string', requiresArg: true, default: 'default', describe: 'formation' })
      .option('group', { type: 'string', requiresArg: true, default: '0', describe: 'group id' })
      .option('json', { type: 'boolean', default: false, describe: 'output JSON' });
  return m
    .command('get', 'read from the monitor', (g) =>
      g
        .command('primary', 'print the primary of a group', (s) => opts(s), async (args) => {
          const formation = parseFormation(args.formation);
          const group = parseNonNegativeInt(args.group, '--group');
          const rows = await withClient(resolveMonitor(args).target, { kind: 'monitor' }, (q) =>
            q('SELECT * FROM pgautofailover.get_primary($1::text, $2::int)', [formation, group]),
          );
          const p = rows[0];
          if (!p || p.primary_node_id === null) throw new BadState(`formation "${formation}" group ${group} has no primary`);
          const out = { node_id: Number(p.primary_node_id), name: p.primary_name, host: p.primary_host, port: p.primary_port };
          if (args.json) json(out);
          else process.stdout.write(`${formation}/${group} ${out.host}:${out.port}\n`);
        })
        .command('others', 'print the nodes other than the node of PGDATA', (s) => opts(s), async (args) => {
          const { config, paths } = loadKeeperConfig(resolvePgdata(args.pgdata));
          const list = await otherNodesOnMonitor(config, paths);
          if (args.json) return json(list);
          process.stdout.write(
            renderTable(
              [{ header: 'ID' }, { header: 'Name' }, { header: 'Host:Port' }, { header: 'LSN' }, { header: 'Primary', align: 'left' }],
              list.map((r) => [String(r.node_id), String(r.node_name), `${r.node_host}:${r.node_port}`, String(r.node_lsn), String(r.node_is_primary)]),
            ),
          );
        })
        .demandCommand(1, 'do monitor get what? primary or others'),
    )
    .demandCommand(1, 'do monitor what? get');
}

function pgsetupCommands(p: Argv): Argv {
  return p
    .command('ready', 'exit 0 when Postgres runs and accepts connections', (s) => s.option('pgdata', pgdataOption), async (args) => {
      // not ready is a Postgres error (exit 4), as the original reports it
      if (!(await postgresReady(localSetup(resolvePgdata(args.pgdata))))) throw new PgSql('Postgres is not ready');
      log.info('Postgres status is: "ready"');
    })
    .command(
      'wait',
      'wait until Postgres runs and accepts connections',
      (s) => s.option('pgdata', pgdataOption).option('timeout', { type: 'string', requiresArg: true, default: '60', describe: 'seconds' }),
      async (args) => {
        const timeout = parseNonNegativeInt(args.timeout, '--timeout');
        const setup = localSetup(resolvePgdata(args.pgdata));
        const deadline = Date.now() + timeout * 1000;
        while (!(await postgresReady(setup))) {
          if (Date.now() > deadline) throw new BadState(`Postgres is not ready after ${timeout}s`);
          await new Promise((r) => setTimeout(r, 200));
        }
        log.info('Postgres status is: "ready"');
      },
    )
    .command('discover', 'print what pgaf knows about the local Postgres, as JSON', (s) => s.option('pgdata', pgdataOption), async (args) => {
      const pgdata = resolvePgdata(args.pgdata);
      const setup = localSetup(pgdata);
      json(setup.role === 'monitor' ? await monitorPgsetupJson(pgdata, setup) : await pgsetupJson(pgdata));
    })
    .demandCommand(1, 'do pgsetup what? ready, wait or discover');
}

function serviceCommands(s: Argv): Argv {
  return s
    .command('restart', 'restart a service', (r) =>
      r
        .command(
          'postgres',
          'restart the local Postgres: with the node\'s service running, stop it and let the service start it again; otherwise stop and start',
          (c) => c.option('pgdata', pgdataOption),
          async (args) => {
            const pgdata = resolvePgdata(args.pgdata);
            const setup = localSetup(pgdata);
            const pid = servicePid(nodePaths(pgdata).pid);
            const ctl = new PostgresCtl({ pgdata, binDir: resolveBinDir(setup.pgCtl), runAs: postgresRunAs(pgdata), log });
            if (pid !== undefined) {
              // as the original: ask the supervisor, return once asked; it reports a failed start
              await ctl.stop({ mode: 'fast' });
              log.info(`Stopped Postgres; the pgaf service (pid ${pid}) starts it again`);
              return;
            }
            if (setup.role === 'monitor') {
              await ctl.stop({ mode: 'fast' });
              await ctl.start({ logFile: join(pgdata, 'startup.log') });
            } else {
              await withLocalPostgres(pgdata, async ({ pg }) => {
                await pg.stop('fast');
                await pg.start();
              });
            }
            log.info('Restarted Postgres');
          },
        )
        .demandCommand(1, 'do service restart what? postgres'),
    )
    .demandCommand(1, 'do service what? restart');
}

function showCommands(s: Argv): Argv {
  const opts = <T>(y: Argv<T>) =>
    y.option('pgdata', pgdataOption).option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI' });
  return s
    .command('ipaddr', 'the local IP address used to reach the monitor', (y) => opts(y), async (args) => {
      process.stdout.write((await localIpAddress(args)) + '\n');
    })
    .command('cidr', 'the network of that address, for pg_hba.conf', (y) => opts(y), async (args) => {
      const ip = await localIpAddress(args);
      const cidr = cidrOf(ip) ?? (ip.includes(':') ? `${ip}/128` : `${ip}/32`);
      process.stdout.write(cidr + '\n');
    })
    .command('hostname', 'the host name of this machine', (y) => y, () => {
      process.stdout.write(hostname() + '\n');
    })
    .demandCommand(1, 'do show what? ipaddr, cidr or hostname');
}

export function registerDo(cli: Argv): Argv {
  const hidden = !process.env.PG_AUTOCTL_DEBUG;
  return cli.command('do', (hidden ? false : 'debug commands (PG_AUTOCTL_DEBUG)') as string, (y) =>
    y
      .command('fsm', 'the keeper state machine', fsmCommands)
      .command('monitor', 'query the monitor', monitorCommands)
      .command('pgsetup', 'the local Postgres', pgsetupCommands)
      .command('service', 'the local services', serviceCommands)
      .command('show', 'local network facts', showCommands)
      .demandCommand(1, 'do what? fsm, monitor, pgsetup, service or show'),
  );
}


