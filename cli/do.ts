// `pgaf do …`: debug commands of the original (listed in --help when PG_AUTOCTL_DEBUG is set,
// always accepted): fsm init|state|list|assign|step|nodes get|set, monitor get
// primary|others, pgsetup ready|wait|discover, service restart postgres, show
// ipaddr|cidr|hostname.
import { hostname } from 'node:os';
import type { Argv } from 'yargs';
import { BadArgs, BadState } from '../lib/errors.js';
import { loadKeeperConfig, localPostgres, openNode } from '../keeper/open-node.js';
import { findTransition, TRANSITIONS } from '../keeper/fsm/transitions.js';
import { isNodeState, NODE_STATES } from '../keeper/fsm/states.js';
import { initialState, readStateFile, writeStateFile, type KeeperState } from '../keeper/state/state-file.js';
import { log } from '../lib/log.js';
import { servicePid } from '../lib/pid-file.js';
import { parsePgUri } from '../lib/pg-uri.js';
import { withClient } from '../lib/sql.js';
import { parseFormation, parseNonNegativeInt, resolveMonitor, resolvePgdata } from './options.js';
import { cidrOf, localIpAddress } from './show-more.js';
import { renderTable } from './tables.js';

const pgdataOption = { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' } as const;

function json(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 4) + '\n');
}

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

/** The local keeper must not run while a debug command drives the state machine by hand. */
function refuseWhenKeeperRuns(pidFile: string): void {
  const pid = servicePid(pidFile);
  if (pid !== undefined) {
    throw new BadState(`the keeper runs (pid ${pid}): stop it before driving the state machine by hand`, { hint: 'pgaf stop' });
  }
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
      writeStateFile(paths.state, state);
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
      'reach a state locally, without asking the monitor (the keeper must not run)',
      (s) => s.option('pgdata', pgdataOption).positional('state', { type: 'string', describe: `one of ${NODE_STATES.join(', ')}` }),
      async (args) => {
        const to = String(args.state);
        if (!isNodeState(to)) throw new BadArgs(`unknown state "${to}": expected one of ${NODE_STATES.join(', ')}`);
        const node = openNode(resolvePgdata(args.pgdata), log);
        try {
          refuseWhenKeeperRuns(node.paths.pid);
          const state = readStateFile(node.paths.state);
          const from = state.current_role;
          if (from !== to) {
            const t = findTransition(from, to);
            if (!t) throw new BadState(`the keeper does not know how to reach "${to}" from "${from}"`, { hint: 'see pgaf do fsm list' });
            log.info(`Transition from ${from} to ${to}: ${t.comment}`);
            await t.run({ nodeId: state.nodeId, groupId: state.groupId, formation: node.config.formation, pg: node.pg, monitor: node.monitor, log });
          }
          state.current_role = to;
          state.assigned_role = to;
          writeStateFile(node.paths.state, state);
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
        .command('get', 'print the other nodes of the group, as the monitor lists them', (s) => s.option('pgdata', pgdataOption), async (args) => {
          const { config, paths } = loadKeeperConfig(resolvePgdata(args.pgdata));
          const state = readStateFile(paths.state);
          const rows = await withClient(parsePgUri(config.monitor, 'pg_autoctl.monitor'), { kind: 'monitor' }, (q) =>
            q('SELECT node_id, node_name, node_host, node_port, node_lsn::text, node_is_primary FROM pgautofailover.get_other_nodes($1::bigint)', [state.nodeId]),
          );
          json(rows.map((r) => ({ ...r, node_id: Number(r.node_id) })));
        })
        .command('set <file>', 'monitor-less mode: not supported', (s) => s.option('pgdata', pgdataOption).positional('file', { type: 'string' }), () => {
          throw new BadArgs('do fsm nodes set is for nodes without a monitor (--disable-monitor), which pgaf does not support');
        })
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
          const state = readStateFile(paths.state);
          const rows = await withClient(parsePgUri(config.monitor, 'pg_autoctl.monitor'), { kind: 'monitor' }, (q) =>
            q<Record<string, unknown>>('SELECT node_id, node_name, node_host, node_port, node_lsn::text, node_is_primary FROM pgautofailover.get_other_nodes($1::bigint)', [state.nodeId]),
          );
          const list = rows.map((r) => ({ ...r, node_id: Number(r.node_id) }) as Record<string, unknown>);
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
    .command('ready', 'exit 0 when Postgres runs', (s) => s.option('pgdata', pgdataOption), async (args) => {
      const running = await withLocalPostgres(resolvePgdata(args.pgdata), ({ pg }) => pg.isRunning());
      if (!running) throw new BadState('Postgres is not running');
      log.info('Postgres status is: "ready"');
    })
    .command(
      'wait',
      'wait until Postgres runs',
      (s) => s.option('pgdata', pgdataOption).option('timeout', { type: 'string', requiresArg: true, default: '60', describe: 'seconds' }),
      async (args) => {
        const timeout = parseNonNegativeInt(args.timeout, '--timeout');
        await withLocalPostgres(resolvePgdata(args.pgdata), async ({ pg }) => {
          const deadline = Date.now() + timeout * 1000;
          while (!(await pg.isRunning())) {
            if (Date.now() > deadline) throw new BadState(`Postgres is not running after ${timeout}s`);
            await new Promise((r) => setTimeout(r, 200));
          }
        });
        log.info('Postgres status is: "ready"');
      },
    )
    .command('discover', 'print what pgaf knows about the local Postgres, as JSON', (s) => s.option('pgdata', pgdataOption), async (args) => {
      json(await pgsetupJson(resolvePgdata(args.pgdata)));
    })
    .demandCommand(1, 'do pgsetup what? ready, wait or discover');
}

function serviceCommands(s: Argv): Argv {
  return s
    .command('restart', 'restart a service', (r) =>
      r
        .command('postgres', 'restart the local Postgres (fast stop, then start)', (c) => c.option('pgdata', pgdataOption), async (args) => {
          await withLocalPostgres(resolvePgdata(args.pgdata), async ({ pg }) => {
            await pg.stop('fast');
            await pg.start();
          });
          log.info('Restarted Postgres');
        })
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


