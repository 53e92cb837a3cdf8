// `pgaf show ipaddr | file | systemd`, `show state --local`, and the --watch loop of
// `show state` and `show events`.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { networkInterfaces, userInfo } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { json, typedIni } from './output.js';
import { keeperConfigFromIni } from '../config/keeper-config.js';
import { nodePaths } from '../config/node-paths.js';
import { readNodeIni, requireNodeIni } from '../config/node-config.js';
import { BadArgs, BadConfig, NotOnMonitor } from '../lib/errors.js';
import { completeIni, maskedIni } from '../config/config-keys.js';
import { stringifyIni } from '../lib/ini.js';
import { passwdEntry } from '../lib/os-users.js';
import { log } from '../lib/log.js';
import type { NodeStateRow } from '../lib/monitor-queries.js';
import { localAddressToward } from '../lib/net.js';
import { readStateFile } from '../keeper/state/state-file.js';
import { resolveMonitor, resolvePgdata } from './options.js';

/** Where `show ipaddr` looks when no monitor is known: the original's default lookup target. */
export const DEFAULT_LOOKUP = { host: '8.8.8.8', port: 53 };

/** The monitor host and port to look toward, or the default lookup service. */
export function lookupTarget(args: { monitor?: unknown; pgdata?: unknown }, env: NodeJS.ProcessEnv = process.env) {
  try {
    const m = resolveMonitor(args, env);
    if (m.monitorConfig) return { host: m.monitorConfig.hostname, port: m.monitorConfig.port };
    if (!m.target.host.startsWith('/')) return { host: m.target.host, port: m.target.port };
  } catch (err) {
    if (args.monitor !== undefined) throw err;
    log.debug(`No monitor to look toward: ${(err as Error).message}`);
  }
  return DEFAULT_LOOKUP;
}

export async function localIpAddress(args: { monitor?: unknown; pgdata?: unknown }): Promise<string> {
  const t = lookupTarget(args);
  try {
    return await localAddressToward(t.host, t.port);
  } catch (err) {
    throw new BadConfig(`cannot find the local IP address used to reach ${t.host}:${t.port}: ${(err as Error).message}`);
  }
}

/** The network (CIDR) of a local address, from the interface that has it. */
export function cidrOf(address: string, ifaces = networkInterfaces()): string | undefined {
  for (const list of Object.values(ifaces)) {
    for (const i of list ?? []) {
      if (i.address !== address || !i.cidr) continue;
      const [, bits] = i.cidr.split('/');
      if (i.family === 'IPv4') {
        const prefix = Number(bits);
        const ip = address.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
        const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
        const net = (ip & mask) >>> 0;
        return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${prefix}`;
      }
      return i.cidr;
    }
  }
  return undefined;
}

export function ipaddrCommand(cli: Argv): Argv {
  return cli.command(
    'ipaddr',
    'print the local IP address used to reach the monitor (or the internet)',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory of a local node (default: $PGDATA)' })
        .option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI (default: from the config of --pgdata)' }),
    async (args) => {
      process.stdout.write((await localIpAddress(args)) + '\n');
    },
  );
}

export interface FileSet {
  config: string;
  state?: string;
  init?: string;
  pid: string;
}

export function nodeFiles(pgdata: string, role: string | undefined): FileSet {
  const p = nodePaths(pgdata);
  return role === 'monitor' ? { config: p.config, pid: p.pid } : { config: p.config, state: p.state, init: p.init, pid: p.pid };
}

/** The original's layout: "%7s | %s" rows under a fixed header, then an empty line. */
export function renderFileTable(files: FileSet): string {
  const row = (k: string, v: string) => `${k.padStart(7)} | ${v}\n`;
  let out = row('File', 'Path') + `${'-'.repeat(7)}-+-${'-'.repeat(15)}\n`;
  out += row('Config', files.config);
  if (files.state) out += row('State', files.state);
  if (files.init) out += row('Init', files.init);
  out += row('Pid', files.pid);
  return out + '\n';
}

export function fileCommand(cli: Argv): Argv {
  return cli.command(
    'file',
    'print the paths of the files pgaf keeps for PGDATA (or one of them, or its contents)',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('all', { type: 'boolean', describe: 'all the files (the default)' })
        .option('config', { type: 'boolean', describe: 'the configuration file' })
        .option('state', { type: 'boolean', describe: 'the state file' })
        .option('init', { type: 'boolean', describe: 'the init state file' })
        .option('pid', { type: 'boolean', describe: 'the pid file' })
        .option('contents', { type: 'boolean', describe: 'print the contents of the file instead of its path' })
        .option('json', { type: 'boolean', default: false, describe: 'output JSON' }),
    (args) => {
      const pgdata = resolvePgdata(args.pgdata);
      const node = readNodeIni(pgdata);
      const files = nodeFiles(pgdata, node?.role);
      const chosen = (['config', 'state', 'init', 'pid'] as const).filter((k) => args[k]);
      if (chosen.length > 1 || (chosen.length === 1 && args.all)) {
        throw new BadArgs('Please use only one of --config --state --init --pid');
      }
      if (chosen.length === 0) {
        if (args.contents) log.warn('Ignoring option --contents with --all');
        if (args.json) json(files);
        else process.stdout.write(renderFileTable(files));
        return;
      }
      const which = chosen[0]!;
      const path = files[which];
      if (!path) throw new BadArgs(`A monitor has no ${which === 'init' ? 'init state' : which} file`);
      if (!args.contents) {
        // the original prints the bare path, --json or not
        process.stdout.write(path + '\n');
        return;
      }
      if (!existsSync(path)) throw new BadConfig(`${path} does not exist`);
      const text = readFileSync(path, 'utf8');
      if (args.json && which === 'config' && node) json(typedIni(maskedIni(completeIni(node.ini, node.path))));
      else if (args.json && which === 'state') json(JSON.parse(text));
      // the original follows the contents with a newline of its own; passwords are masked
      else if (which === 'config' && node) process.stdout.write(stringifyIni(maskedIni(node.ini)) + '\n');
      else process.stdout.write(text + '\n');
    },
  );
}

export interface SystemdUnit {
  pgdata: string;
  user: string;
  home: string;
  program: string;
}

export function renderSystemdUnit(u: SystemdUnit): string {
  return [
    '[Unit]',
    'Description = pg_auto_failover',
    '',
    '[Service]',
    `WorkingDirectory = ${u.home}`,
    `Environment = 'PGDATA=${u.pgdata}'`,
    `User = ${u.user}`,
    `ExecStart = ${u.program} run`,
    'Restart = always',
    'StartLimitBurst = 0',
    `ExecReload = ${u.program} reload`,
    '',
    '[Install]',
    'WantedBy = multi-user.target',
    '',
  ].join('\n');
}

function programPath(): string {
  const argv1 = process.argv[1] ?? 'pg_autoctl';
  // keep the name we were run as (pg_autoctl or pgaf); resolve the directory only
  const abs = isAbsolute(argv1) ? argv1 : resolve(argv1);
  try {
    return resolve(realpathSync(dirname(abs)), abs.split('/').pop()!);
  } catch {
    return abs;
  }
}

export function systemdCommand(cli: Argv): Argv {
  return cli.command(
    'systemd',
    'print a systemd unit file that runs pgaf for PGDATA',
    (y) => y.option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' }),
    (args) => {
      const pgdata = resolvePgdata(args.pgdata);
      let user = userInfo().username;
      let home = userInfo().homedir;
      try {
        const uid = statSync(pgdata).uid;
        const entry = uid !== process.getuid?.() ? passwdEntry(uid) : undefined;
        if (entry) {
          user = entry.name;
          home = entry.home || home;
        }
      } catch {
        // PGDATA not there yet: the current user
      }
      const unit = renderSystemdUnit({ pgdata, user, home, program: programPath() });
      log.info('HINT: to complete a systemd integration, run the following commands (as root):');
      log.info(`pg_autoctl -q show systemd --pgdata "${pgdata}" | tee /etc/systemd/system/pgautofailover.service`);
      for (const step of ['daemon-reload', 'enable pgautofailover', 'start pgautofailover']) log.info(`systemctl ${step}`);
      process.stdout.write(unit);
    },
  );
}

/** `show state --local`: this node's row from its config and state files, no monitor. */
export async function localStateRow(pgdata: string): Promise<NodeStateRow> {
  const node = requireNodeIni(pgdata);
  if (node.role === 'monitor') throw new NotOnMonitor('pgaf show state --local is not supported on a monitor');
  if (node.role !== 'keeper') throw new BadConfig(`${node.path}: unknown node role ${node.role ?? '(none)'}`);
  const cfg = keeperConfigFromIni(node.ini, node.path);
  const paths = nodePaths(pgdata);
  const state = readStateFile(paths.state);
  // timeline and LSN from the local Postgres when it runs, as the original
  let tli = 0;
  let lsn = '0/0';
  // the keeper's modules load only here: `show state` without --local does not need them
  const { localPostgres } = await import('../keeper/open-node.js');
  const pg = localPostgres(cfg, paths, state.nodeId, log);
  try {
    const facts = await pg.readFacts();
    if (facts.running) {
      tli = facts.timeline;
      lsn = facts.lsn || '0/0';
    }
  } catch (err) {
    log.warn(`Failed to read the local Postgres metadata: ${(err as Error).message}`);
  } finally {
    await pg.close();
  }
  return {
    formation_kind: 'pgsql',
    nodename: cfg.name,
    nodehost: cfg.hostname,
    nodeport: cfg.port,
    group_id: state.groupId,
    node_id: state.nodeId,
    current_group_state: state.current_role,
    assigned_group_state: state.assigned_role,
    candidate_priority: cfg.candidatePriority,
    replication_quorum: cfg.replicationQuorum,
    reported_tli: tli,
    reported_lsn: lsn,
    health: -1,
    nodecluster: 'default',
  };
}

