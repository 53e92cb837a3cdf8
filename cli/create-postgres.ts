// `pgaf create postgres`: register a data node with the monitor and bring it up
// (initdb for the first node, a base backup for a standby); --run goes on as `run`.
import type { Argv } from 'yargs';
import { KEEPER_DEFAULTS } from '../config/keeper-config.js';
import { AUTH_METHODS } from '../lib/auth-method.js';
import { BadArgs } from '../lib/errors.js';
import { parseArgs } from 'node:util';
import { levelFromFlags, log, setLogLevel } from '../lib/log.js';
import { createNode, type CreateNodeRequest } from '../keeper/create-node.js';
import { initDataNode, runDataNode } from '../keeper/service.js';
import { logSslRequest, optionalSslRequest, type SslArgs } from '../lib/ssl.js';
import { parsePgUri } from '../lib/pg-uri.js';
import { AUTH_CHOICES, checkedPghost, parseFormation, parseHostname, parseListen, parseNodeName, parsePath, parsePort, parseRoleName, resolvePgdata } from './options.js';
import { withSslOptions } from './ssl-options.js';
import { localHostFor } from '../lib/test-mode.js';
import { reportError } from './report-error.js';

export interface CreatePostgresArgs extends SslArgs {
  disableMonitor?: boolean;
  nodeId?: string;
  citusCluster?: string;
  pgdata?: string;
  pgport?: string;
  pghost?: string;
  pgctl?: string;
  listen?: string;
  hostname?: string;
  nodename?: string;
  name?: string;
  formation?: string;
  group?: string;
  monitor?: string;
  auth?: string;
  skipPgHba?: boolean;
  pgHbaLan?: boolean;
  username?: string;
  dbname?: string;
  candidatePriority?: string;
  replicationQuorum?: string;
  maximumBackupRate?: string;
}

function parsePriority(v: unknown): number {
  const t = String(v).trim();
  if (!/^\d+$/.test(t) || Number(t) > 100) throw new BadArgs(`--candidate-priority must be an integer from 0 to 100, got "${String(v)}"`);
  return Number(t);
}

function parseBool(v: unknown, option: string): boolean {
  const t = String(v).trim().toLowerCase();
  if (['true', 'on', 'yes', '1'].includes(t)) return true;
  if (['false', 'off', 'no', '0'].includes(t)) return false;
  throw new BadArgs(`${option} must be true or false, got "${String(v)}"`);
}

/** Validates the flags (pure apart from the environment). */
export function createPostgresRequest(args: CreatePostgresArgs, env: NodeJS.ProcessEnv = process.env): CreateNodeRequest {
  // --auth skip is --skip-pg-hba, as in the original
  const a: CreatePostgresArgs = args.auth === 'skip' ? { ...args, auth: undefined, skipPgHba: true } : args;
  if (a.citusCluster !== undefined) throw new BadArgs('--citus-cluster is not supported: pgaf manages pgsql formations only');
  let monitor: string | undefined;
  let nodeId: number | undefined;
  if (a.disableMonitor) {
    if (a.monitor !== undefined) throw new BadArgs('--disable-monitor and --monitor are mutually exclusive');
    if (a.nodeId === undefined) throw new BadArgs('--disable-monitor needs --node-id <n>: without a monitor, nothing assigns node ids');
    if (!/^\d+$/.test(String(a.nodeId).trim()) || Number(a.nodeId) < 1) throw new BadArgs(`--node-id must be an integer above 0, got "${String(a.nodeId)}"`);
    nodeId = Number(a.nodeId);
  } else {
    if (a.nodeId !== undefined) throw new BadArgs('--node-id is only for --disable-monitor: the monitor assigns node ids');
    monitor = a.monitor ?? env.PG_AUTOCTL_MONITOR;
    if (!monitor) throw new BadArgs('--monitor is required: the monitor URI, postgres://autoctl_node@host:port/pg_auto_failover (or --disable-monitor --node-id <n>)');
    if (!/^postgres(ql)?:\/\//.test(monitor)) throw new BadArgs(`--monitor must be a postgres:// URI, got "${monitor}"`);
    parsePgUri(monitor, a.monitor !== undefined ? '--monitor' : 'PG_AUTOCTL_MONITOR');
  }
  if (a.auth !== undefined && !(AUTH_METHODS as readonly string[]).includes(a.auth)) {
    throw new BadArgs(`--auth must be one of ${AUTH_METHODS.join(', ')}, got "${a.auth}"`);
  }
  const hostnameArg = a.hostname ?? a.nodename;
  const pghost = a.pghost ?? env.PGHOST;
  if (a.pgHbaLan && a.skipPgHba) throw new BadArgs('--pg-hba-lan and --skip-pg-hba (or --auth skip) are mutually exclusive');
  if (a.group !== undefined && String(a.group) !== '0') throw new BadArgs('--group must be 0: pgsql formations have one group');
  const rate = a.maximumBackupRate ?? KEEPER_DEFAULTS.maximumBackupRate;
  if (!/^\d+[kMG]?$/.test(rate)) throw new BadArgs(`--maximum-backup-rate must look like 100M, got "${rate}"`);
  const pgdata = resolvePgdata(a.pgdata, env);
  return {
    pgdata,
    port: parsePort(a.pgport ?? env.PGPORT ?? 5432, '--pgport'),
    monitor,
    nodeId,
    formation: a.formation !== undefined ? parseFormation(a.formation) : KEEPER_DEFAULTS.formation,
    name: a.name !== undefined ? parseNodeName(a.name) : undefined,
    hostname: hostnameArg !== undefined ? parseHostname(hostnameArg) : undefined,
    listen: a.listen !== undefined ? parseListen(a.listen) : undefined,
    socketDir: localHostFor(checkedPghost(pghost, a.pghost !== undefined ? '--pghost' : 'PGHOST', env), '/tmp', env)!,
    username: a.username !== undefined ? parseRoleName(a.username, '--username') : undefined,
    dbname: a.dbname !== undefined ? parseRoleName(a.dbname, '--dbname') : KEEPER_DEFAULTS.dbname,
    pgctl: a.pgctl !== undefined ? parsePath(a.pgctl, '--pgctl') : undefined,
    // no --auth: scram-sha-256 (keeper/create-node.ts), never a silent trust
    auth: a.auth as CreateNodeRequest['auth'],
    hbaLevel: a.skipPgHba ? 'skip' : a.pgHbaLan ? 'lan' : 'app',
    candidatePriority: a.candidatePriority !== undefined ? parsePriority(a.candidatePriority) : KEEPER_DEFAULTS.candidatePriority,
    replicationQuorum: a.replicationQuorum !== undefined ? parseBool(a.replicationQuorum, '--replication-quorum') : true,
    replicationPassword: env.PG_AUTOCTL_REPLICATION_PASSWORD || undefined,
    monitorPassword: env.PGPASSWORD || undefined,
    maximumBackupRate: rate,
    networkPartitionTimeout: KEEPER_DEFAULTS.networkPartitionTimeout,
    ssl: optionalSslRequest(a, pgdata),
  };
}

export function postgresCommand(cli: Argv): Argv {
  return cli.command(
    'postgres',
    'initialise a pgaf data node: register it with the monitor, then initdb or clone the primary',
    (y) =>
      withSslOptions(y)
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('pgport', { type: 'string', requiresArg: true, describe: 'Postgres port (default: $PGPORT, else 5432)' })
        .option('pghost', { type: 'string', requiresArg: true, describe: 'Unix socket directory for local connections (default /tmp); with PG_REGRESS_SOCK_DIR="" the TCP host' })
        .option('pgctl', { type: 'string', requiresArg: true, describe: 'path to pg_ctl (default: from pg_config)' })
        .option('listen', { type: 'string', requiresArg: true, describe: 'listen_addresses (default: --hostname and localhost)' })
        .option('hostname', { type: 'string', requiresArg: true, describe: 'address other nodes and the monitor use to reach this node' })
        .option('nodename', { type: 'string', requiresArg: true, hidden: true, describe: 'older name of --hostname' })
        .option('name', { type: 'string', requiresArg: true, describe: 'node name (default node_<id>)' })
        .option('formation', { type: 'string', requiresArg: true, describe: 'formation (default "default")' })
        .option('group', { type: 'string', requiresArg: true, describe: 'group id (0)' })
        .option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI (default: $PG_AUTOCTL_MONITOR)' })
        .option('auth', { type: 'string', choices: AUTH_CHOICES, describe: 'authentication method in pg_hba.conf (default scram-sha-256; trust only when you mean it; skip: as --skip-pg-hba)' })
        .option('skip-pg-hba', { type: 'boolean', describe: 'do not edit pg_hba.conf' })
        .option('pg-hba-lan', { type: 'boolean', describe: 'also open the local network (CIDR of --hostname) to --username on --dbname with --auth' })
        .option('username', { type: 'string', requiresArg: true, describe: 'Postgres superuser (default: the PGDATA owner)' })
        .option('dbname', { type: 'string', requiresArg: true, describe: 'database of the formation (default postgres)' })
        .option('candidate-priority', { type: 'string', requiresArg: true, describe: 'promotion priority 0..100 (default 50)' })
        .option('replication-quorum', { type: 'string', requiresArg: true, describe: 'counts for synchronous replication (default true)' })
        .option('maximum-backup-rate', { type: 'string', requiresArg: true, describe: 'pg_basebackup rate limit (default 100M)' })
        .option('disable-monitor', { type: 'boolean', describe: 'run without a monitor: goals from do fsm assign, other nodes from do fsm nodes set' })
        .option('node-id', { type: 'string', requiresArg: true, describe: 'the node id, with --disable-monitor' })
        .option('citus-cluster', { type: 'string', requiresArg: true, hidden: true, describe: 'Citus: not supported' })
        .option('run', { type: 'boolean', describe: 'go on running the keeper' }),
    async (args) => createPostgres(args as CreatePostgresArgs, Boolean(args.run)),
  );
}

async function createPostgres(args: CreatePostgresArgs, run: boolean): Promise<void> {
  const req = createPostgresRequest(args);
  logSslRequest(req.ssl, log);
  const created = await createNode(req, log);
  if (created.config.monitor === undefined && !run) {
    log.info(`Node ${created.config.name} has no monitor: start it with \`pgaf run --pgdata ${req.pgdata}\`, then give it a goal with \`pgaf do fsm assign single\` (or wait_standby, after \`pgaf do fsm nodes set <file>\`)`);
    return;
  }
  if (run) {
    await runDataNode(req.pgdata, log);
    return;
  }
  const state = await initDataNode(req.pgdata, log);
  log.info(`Node ${created.config.name} is ${state}; run \`pgaf run --pgdata ${req.pgdata}\` to keep it managed`);
}

export const LEAN_OPTIONS = {
  pgdata: { type: 'string' }, pgport: { type: 'string' }, pghost: { type: 'string' }, pgctl: { type: 'string' },
  listen: { type: 'string' }, hostname: { type: 'string' }, nodename: { type: 'string' }, name: { type: 'string' },
  formation: { type: 'string' }, group: { type: 'string' }, monitor: { type: 'string' }, auth: { type: 'string' },
  'skip-pg-hba': { type: 'boolean' }, 'pg-hba-lan': { type: 'boolean' }, username: { type: 'string' },
  dbname: { type: 'string' }, 'candidate-priority': { type: 'string' }, 'replication-quorum': { type: 'string' },
  'maximum-backup-rate': { type: 'string' }, 'no-ssl': { type: 'boolean' }, 'ssl-self-signed': { type: 'boolean' },
  'ssl-mode': { type: 'string' }, 'ssl-ca-file': { type: 'string' }, 'ssl-crl-file': { type: 'string' },
  'server-cert': { type: 'string' }, 'server-key': { type: 'string' }, run: { type: 'boolean' },
  'disable-monitor': { type: 'boolean' }, 'node-id': { type: 'string' },
  verbose: { type: 'boolean', short: 'v', multiple: true }, quiet: { type: 'boolean', short: 'q' },
} as const;

/**
 * `create postgres … --run` becomes the keeper: like `run`, it parses its options without
 * yargs (util.parseArgs), so the long-running process stays small. Anything it does not
 * recognise (help, unknown options) returns undefined and goes through the command tree.
 */
export function leanCreatePostgres(argv: string[]): (() => Promise<number>) | undefined {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: LEAN_OPTIONS, allowPositionals: true, strict: true });
  } catch {
    return undefined;
  }
  const v = parsed.values;
  if (parsed.positionals.join(' ') !== 'create postgres' || !v.run) return undefined;
  const camel = Object.fromEntries(
    Object.entries(v).map(([k, val]) => [k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), val]),
  ) as CreatePostgresArgs;
  return async () => {
    setLogLevel(levelFromFlags(v.verbose?.length ?? 0, Boolean(v.quiet)));
    try {
      await createPostgres(camel, true);
      return 0;
    } catch (err) {
      return reportError(err);
    }
  };
}
