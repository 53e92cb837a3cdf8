// `create postgres`: validate everything first (nothing written), register with the monitor,
// write the config and state files, then the keeper reaches its first state.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname, join } from 'node:path';
import { keeperConfigFromIni, keeperConfigToIni, type KeeperConfig } from '../config/keeper-config.js';
import { readNodeIni, writeNodeIni } from '../config/node-config.js';
import { BadArgs, BadConfig, MonitorFailed } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { readControlData } from '../lib/controldata.js';
import { ensurePrivateDir } from '../lib/private-dir.js';
import { localAddressToward } from '../lib/net.js';
import { parsePgUri, uriHasSslmode, withUriSsl } from '../lib/pg-uri.js';
import { implicitSslRequest, logSslRequest, sslConninfoParts, type SslRequest } from '../lib/ssl.js';
import { deriveReplicationPassword, generatePassword, pgpassLookup, TRUST_WARNING, writeSecretFile } from '../lib/secrets.js';
import { secretFilePath } from '../config/paths.js';
import { homedir } from 'node:os';
import { readFileSync } from 'node:fs';
import { checkSslFiles, opensslPath } from '../lib/ssl-files.js';
import { postgresRunAs, type OsUser } from '../lib/pgbin.js';
import { resolveBinDir } from '../lib/postgres-ctl.js';
import { defaultListenAddresses } from '../lib/test-mode.js';
import { keeperNetworkCidr } from '../lib/hba.js';
import { isIP } from 'node:net';
import { MonitorClient } from './monitor-client.js';
import { enrollKeeper } from './monitor-credentials.js';
import { nodePaths, type NodePaths } from '../config/node-paths.js';
import { initialState, readStateFile, type KeeperState } from './state/state-file.js';
import { StateStore } from './state/store.js';

export interface CreateNodeRequest {
  pgdata: string;
  port: number;
  /** undefined: a node without a monitor (--disable-monitor), whose id is nodeId */
  monitor: string | undefined;
  nodeId?: number;
  formation: string;
  name?: string;
  hostname?: string;
  listen?: string;
  socketDir: string;
  username?: string;
  dbname: string;
  pgctl?: string;
  /** undefined: scram-sha-256 */
  auth?: KeeperConfig['authMethod'];
  hbaLevel: KeeperConfig['hbaLevel'];
  candidatePriority: number;
  replicationQuorum: boolean;
  /** PG_AUTOCTL_REPLICATION_PASSWORD or node.replication_password_file; else derived from the monitor password */
  replicationPassword?: string;
  /** the password for the monitor when the URI has none: PGPASSWORD or monitor.password_file (else a pgpass file) */
  monitorPassword?: string;
  maximumBackupRate: string;
  networkPartitionTimeout: number;
  /** the SSL options; undefined when none was given (a new node then takes TLS with a self-signed certificate) */
  ssl?: SslRequest;
}

export interface CreatedNode {
  config: KeeperConfig;
  paths: NodePaths;
  /** true when this call registered the node; false when it existed already */
  registered: boolean;
}

/** Reads the sysid of an existing cluster: pg_controldata "Database system identifier". */
async function systemIdentifierOf(binDir: string, pgdata: string, runAs?: OsUser): Promise<string> {
  const control = await readControlData(binDir, pgdata, runAs);
  const sysid = control instanceof Map ? control.get('Database system identifier') : undefined;
  if (!sysid || !/^\d+$/.test(sysid)) throw new BadConfig(`cannot read the system identifier of ${pgdata}: ${'error' in control ? control.error : 'no identifier'}`);
  return sysid;
}

/** Validates the request against the disk; returns the config to write. Changes nothing. */
export async function planCreateNode(req: CreateNodeRequest): Promise<{ config: KeeperConfig; binDir: string; runAs?: OsUser; hasData: boolean; monitorPassword?: string; sslRequest: SslRequest }> {
  const target = req.monitor === undefined ? undefined : parsePgUri(req.monitor, '--monitor');
  const binDir = resolveBinDir(req.pgctl);
  const hasData = existsSync(join(req.pgdata, 'PG_VERSION'));
  if (!hasData && existsSync(req.pgdata) && readdirSync(req.pgdata).length > 0) {
    throw new BadArgs(`--pgdata ${req.pgdata} is not empty and holds no Postgres cluster`, {
      hint: 'give an empty or missing directory, or an existing data directory',
    });
  }
  if (!existsSync(dirname(req.pgdata))) {
    throw new BadArgs(`the parent directory of --pgdata ${req.pgdata} does not exist`);
  }
  const runAs = postgresRunAs(hasData ? req.pgdata : dirname(req.pgdata));
  // no SSL option on a first create (the first README's form): TLS with a self-signed certificate
  const sslRequest = req.ssl ?? implicitSslRequest(req.pgdata);
  const ssl = sslRequest.ssl;
  if (sslRequest.choice === 'user-provided') checkSslFiles(ssl, runAs);
  if (sslRequest.choice === 'self-signed') opensslPath();
  // A monitor URI without an sslmode gets this node's (and its CA/CRL files); its password
  // (if any) goes to the node's 0600 monitor.password file, not into pg_autoctl.cfg.
  const bare = req.monitor === undefined ? undefined : withoutUriPassword(req.monitor);
  const monitor = bare === undefined || uriHasSslmode(bare) ? bare : withUriSsl(bare, sslConninfoParts(ssl));
  const monitorPassword = target ? (target.password ?? req.monitorPassword ?? pgpassPassword(target)) : undefined;
  const auth = req.auth ?? 'scram-sha-256';
  const replicationPassword = auth === 'trust' ? req.replicationPassword : (req.replicationPassword ?? replicationPasswordFor(req, monitorPassword));
  const hostname = req.hostname ?? (target ? await localAddressToward(target.host, target.port) : osHostname());
  if (req.hbaLevel === 'lan' && !(isIP(hostname) && keeperNetworkCidr(hostname))) {
    throw new BadArgs(`--pg-hba-lan opens the network of this node's address, but ${hostname} is not an IP address of a local interface`, {
      hint: 'give --hostname as this node\'s IP address',
    });
  }
  const config: KeeperConfig = {
    role: 'keeper',
    monitor,
    formation: req.formation,
    group: 0,
    name: req.name ?? '',
    hostname,
    nodekind: 'standalone',
    pgdata: req.pgdata,
    pgCtl: join(binDir, 'pg_ctl'),
    username: req.username ?? runAs?.name ?? process.env.USER ?? 'postgres',
    dbname: req.dbname,
    host: req.socketDir,
    port: req.port,
    listenAddresses: req.listen ?? defaultListenAddresses(hostname, req.socketDir),
    authMethod: auth,
    hbaLevel: req.hbaLevel,
    replicationPassword,
    maximumBackupRate: req.maximumBackupRate,
    candidatePriority: req.candidatePriority,
    replicationQuorum: req.replicationQuorum,
    networkPartitionTimeout: req.networkPartitionTimeout,
    restartFailureTimeout: 20,
    restartFailureMaxRetries: 3,
    ssl,
  };
  return { config, binDir, runAs, hasData, monitorPassword, sslRequest };
}

/** The URI without a password in its user info or query. */
export function withoutUriPassword(uri: string): string {
  return uri.replace(/^(postgres(?:ql)?:\/\/[^\s:/?#@]*):[^\s@/]*@/, '$1@').replace(/([?&])password=[^&#]*(&?)/, (_m, sep: string, next: string) => (next ? sep : '')).replace(/[?&]$/, '');
}

/** The password libpq would find for the monitor in PGPASSFILE or ~/.pgpass. */
function pgpassPassword(t: { host: string; port: number; database: string; user?: string }): string | undefined {
  const file = process.env.PGPASSFILE || join(homedir(), '.pgpass');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return pgpassLookup(text, { host: t.host, port: t.port, database: t.database, user: t.user ?? process.env.PGUSER ?? '' });
}

/**
 * No replication password given: derived from the monitor password (every node given that one
 * secret agrees on it), or generated for a node without a monitor; refused when neither exists.
 */
function replicationPasswordFor(req: CreateNodeRequest, monitorPassword: string | undefined): string {
  if (monitorPassword !== undefined) return deriveReplicationPassword(monitorPassword, req.formation);
  if (req.monitor === undefined) return generatePassword();
  throw new BadArgs(`--auth ${req.auth ?? 'scram-sha-256 (the default)'} needs a replication password, and there is no monitor password to derive it from`, {
    hint: 'set PG_AUTOCTL_REPLICATION_PASSWORD (the same on every node), or give the monitor password (PGPASSWORD, a pgpass file, monitor.password_file)',
  });
}

/**
 * The server refused the login itself: a wrong password or user, no pg_hba.conf record
 * (SQLSTATE class 28), or no such database (3D000). Trying again changes nothing.
 */
export function loginRefused(err: unknown): boolean {
  const code = (err as { cause?: { code?: unknown; severity?: unknown } }).cause;
  return typeof code?.code === 'string' && typeof code.severity === 'string' && (code.code.startsWith('28') || code.code === '3D000');
}

/**
 * How long a refused login is retried: a monitor being created accepts connections a few
 * seconds before its database, its autoctl_node password and its HBA rules exist.
 */
export const LOGIN_REFUSED_GRACE_MS = 30_000;

/**
 * Registers with the monitor, retrying while it says "retry registering" (no primary ready
 * yet) or cannot be reached (2 minutes); a refused login only for LOGIN_REFUSED_GRACE_MS, then
 * it is the error (a wrong password does not hang the command).
 */
export async function registerWithRetry(client: MonitorClient, args: Parameters<MonitorClient['register']>[0], log: Logger) {
  const started = Date.now();
  const deadline = started + 120_000;
  for (;;) {
    try {
      return await client.register(args);
    } catch (err) {
      const sqlstate = (err as { sqlstate?: string }).sqlstate;
      const refused = loginRefused(err);
      const retry =
        sqlstate === '55006' ||
        (err instanceof MonitorFailed && err.retryable !== false && !sqlstate && (!refused || Date.now() - started < LOGIN_REFUSED_GRACE_MS));
      if (!retry || Date.now() > deadline) throw err;
      log.info(
        refused
          ? `The monitor refused the login (it may still be being created), retrying for up to ${LOGIN_REFUSED_GRACE_MS / 1000} s: ${(err as Error).message}`
          : `The monitor is not ready for this node yet, retrying: ${(err as Error).message}`,
      );
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export async function createNode(req: CreateNodeRequest, log: Logger): Promise<CreatedNode> {
  const paths = nodePaths(req.pgdata);
  const existing = readNodeIni(req.pgdata, paths.config);
  if (existing && existsSync(paths.state)) {
    if (existing.role !== 'keeper') throw new BadConfig(`PGDATA ${req.pgdata} belongs to a ${existing.role} node`);
    const config = keeperConfigFromIni(existing.ini, existing.path);
    log.info(`Node ${config.name} is already registered; continuing where it stopped`, { state: readStateFile(paths.state).current_role });
    return { config, paths, registered: false };
  }
  const plan = await planCreateNode(req);
  if (!req.ssl) logSslRequest(plan.sslRequest, log);
  if (plan.config.authMethod === 'trust') log.warn(TRUST_WARNING);
  if (req.monitor === undefined && req.replicationPassword === undefined && plan.config.replicationPassword !== undefined) {
    log.warn('Generated a replication password for this node without a monitor: the other nodes need the same one (config get replication.password, PG_AUTOCTL_REPLICATION_PASSWORD)');
  }
  if (req.monitor === undefined) return createWithoutMonitor(req, plan, paths, log);
  const sysid = plan.hasData ? await systemIdentifierOf(plan.binDir, req.pgdata, plan.runAs) : '0';

  const target = { ...parsePgUri(plan.config.monitor ?? req.monitor, '--monitor'), ...(plan.monitorPassword !== undefined ? { password: plan.monitorPassword } : {}) };
  const client = new MonitorClient(target, { nodeId: 0, groupId: 0, formation: req.formation });
  try {
    const reg = await registerWithRetry(
      client,
      {
        host: plan.config.hostname,
        port: req.port,
        dbname: req.dbname,
        name: req.name ?? '',
        sysid,
        candidatePriority: req.candidatePriority,
        replicationQuorum: req.replicationQuorum,
      },
      log,
    );
    const config: KeeperConfig = { ...plan.config, name: reg.name, group: reg.groupId };
    writeNodeFiles(paths, plan.runAs, config, initialState(reg.nodeId, reg.groupId, reg.goal));
    if (plan.monitorPassword !== undefined) {
      const file = secretFilePath(req.pgdata, 'monitor.password');
      writeSecretFile(file, plan.monitorPassword + '\n');
      log.info(`Stored the monitor password in ${file} (mode 0600)`);
    }
    log.info(`Registered node ${reg.nodeId} "${reg.name}" (${config.hostname}:${req.port}) in formation "${req.formation}", goal ${reg.goal}`);
    await enrollKeeper(target, reg.nodeId, paths.state, plan.runAs, log);
    return { config, paths, registered: true };
  } finally {
    await client.close();
  }
}

function writeNodeFiles(paths: NodePaths, runAs: OsUser | undefined, config: KeeperConfig, state: KeeperState): void {
  mkdirSync(dirname(paths.state), { recursive: true, mode: 0o700 });
  ensurePrivateDir(paths.runBase, paths.runDir, runAs);
  writeNodeIni(paths.config, keeperConfigToIni(config));
  new StateStore(paths.state).write(state);
}

/**
 * --disable-monitor: nothing is registered and nothing runs yet. The node stays in init until
 * `do fsm assign` gives it a goal (single: initdb; wait_standby then catchingup: base backup
 * from the primary of the nodes file).
 */
function createWithoutMonitor(req: CreateNodeRequest, plan: { config: KeeperConfig; runAs?: OsUser }, paths: NodePaths, log: Logger): CreatedNode {
  const nodeId = req.nodeId;
  if (nodeId === undefined || !Number.isInteger(nodeId) || nodeId < 1) throw new BadArgs('--disable-monitor needs --node-id <n>, an integer above 0');
  const config: KeeperConfig = { ...plan.config, monitor: undefined, name: req.name ?? `node_${nodeId}`, group: 0 };
  writeNodeFiles(paths, plan.runAs, config, initialState(nodeId, 0, 'init'));
  log.info(`Created node ${nodeId} "${config.name}" (${config.hostname}:${req.port}) without a monitor, in state init`);
  return { config, paths, registered: false };
}
