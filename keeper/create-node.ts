// `create postgres`: validate everything first (nothing written), register with the monitor,
// write the config and state files, then the keeper reaches its first state.
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { keeperConfigFromIni, keeperConfigToIni, type KeeperConfig } from '../config/keeper-config.js';
import { readNodeIni, writeNodeIni } from '../config/node-config.js';
import { BadArgs, BadConfig, Monitor } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { localAddressToward } from '../lib/net.js';
import { parsePgUri, uriHasSslmode, withUriSsl } from '../lib/pg-uri.js';
import { EXPLICIT_SSL_CHOICE, sslConninfoParts, type SslRequest } from '../lib/ssl.js';
import { checkSslFiles, opensslPath } from '../lib/ssl-files.js';
import { postgresRunAs, type OsUser } from '../lib/pgbin.js';
import { resolveBinDir, runProgram } from '../lib/postgres-ctl.js';
import { MonitorClient } from './monitor-client.js';
import { nodePaths, type NodePaths } from '../config/node-paths.js';
import { initialState, readStateFile, writeStateFile } from './state/state-file.js';

export interface CreateNodeRequest {
  pgdata: string;
  port: number;
  monitor: string;
  formation: string;
  name?: string;
  hostname?: string;
  listen?: string;
  socketDir: string;
  username?: string;
  dbname: string;
  pgctl?: string;
  auth: KeeperConfig['authMethod'];
  hbaLevel: KeeperConfig['hbaLevel'];
  candidatePriority: number;
  replicationQuorum: boolean;
  replicationPassword?: string;
  maximumBackupRate: string;
  networkPartitionTimeout: number;
  /** the SSL options; undefined when none was given (allowed only when the node exists) */
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
  const res = await runProgram(join(binDir, 'pg_controldata'), ['-D', pgdata], { runAs, timeoutMs: 10_000, env: { LC_ALL: 'C' } });
  const m = /Database system identifier:\s+(\d+)/.exec(res.stdout);
  if (res.code !== 0 || !m) throw new BadConfig(`cannot read the system identifier of ${pgdata}: ${res.stderr.trim()}`);
  return m[1]!;
}

/** Validates the request against the disk; returns the config to write. Changes nothing. */
export async function planCreateNode(req: CreateNodeRequest): Promise<{ config: KeeperConfig; binDir: string; runAs?: OsUser; hasData: boolean }> {
  const target = parsePgUri(req.monitor, '--monitor');
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
  if (!req.ssl) throw new BadArgs(EXPLICIT_SSL_CHOICE);
  const ssl = req.ssl.ssl;
  if (req.ssl.choice === 'user-provided') checkSslFiles(ssl, runAs);
  if (req.ssl.choice === 'self-signed') opensslPath();
  // A monitor URI without an sslmode gets this node's (and its CA/CRL files).
  const monitor = uriHasSslmode(req.monitor) ? req.monitor : withUriSsl(req.monitor, sslConninfoParts(ssl));
  const hostname = req.hostname ?? (await localAddressToward(target.host, target.port));
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
    listenAddresses: req.listen ?? hostname,
    authMethod: req.auth,
    hbaLevel: req.hbaLevel,
    replicationPassword: req.replicationPassword,
    maximumBackupRate: req.maximumBackupRate,
    candidatePriority: req.candidatePriority,
    replicationQuorum: req.replicationQuorum,
    networkPartitionTimeout: req.networkPartitionTimeout,
    restartFailureTimeout: 20,
    restartFailureMaxRetries: 3,
    ssl,
  };
  return { config, binDir, runAs, hasData };
}

/** Registers with the monitor, retrying while it says "retry registering" (no primary ready yet). */
async function registerWithRetry(client: MonitorClient, args: Parameters<MonitorClient['register']>[0], log: Logger) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await client.register(args);
    } catch (err) {
      const sqlstate = (err as { sqlstate?: string }).sqlstate;
      const retry = sqlstate === '55006' || (err instanceof Monitor && err.retryable !== false && !sqlstate);
      if (!retry || Date.now() > deadline) throw err;
      log.info(`The monitor is not ready for this node yet, retrying: ${(err as Error).message}`);
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
  const sysid = plan.hasData ? await systemIdentifierOf(plan.binDir, req.pgdata, plan.runAs) : '0';

  const client = new MonitorClient(parsePgUri(plan.config.monitor, '--monitor'), { nodeId: 0, groupId: 0, formation: req.formation });
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
    mkdirSync(dirname(paths.state), { recursive: true, mode: 0o700 });
    mkdirSync(paths.runDir, { recursive: true, mode: 0o755 });
    if (plan.runAs) chownSync(paths.runDir, plan.runAs.uid, plan.runAs.gid);
    writeNodeIni(paths.config, keeperConfigToIni(config));
    writeStateFile(paths.state, initialState(reg.nodeId, reg.groupId, reg.goal));
    log.info(`Registered node ${reg.nodeId} "${reg.name}" (${config.hostname}:${req.port}) in formation "${req.formation}", goal ${reg.goal}`);
    return { config, paths, registered: true };
  } finally {
    await client.close();
  }
}
