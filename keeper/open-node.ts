// Wires a data node's keeper from its config and state files: the only place that builds
// the real PgLocalPostgres and MonitorClient.
import { keeperConfigFromIni, type KeeperConfig } from '../config/keeper-config.js';
import { requireNodeIni } from '../config/node-config.js';
import { BadConfig, PgSql } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { parsePgUri } from '../lib/pg-uri.js';
import { nodeMonitorTarget } from './monitor-target.js';
import { postgresRunAs } from '../lib/pgbin.js';
import { resolveBinDir } from '../lib/postgres-ctl.js';
import { fileStamp } from '../lib/atomic-file.js';
import { withClient } from '../lib/sql.js';
import { isIP } from 'node:net';
import { hbaLine, keeperNetworkCidr } from '../lib/hba.js';
import { hbaHostType } from '../lib/ssl.js';
import { tcpTestMode, testModeTrustLines, testModeWarning, usesTcpLocally } from '../lib/test-mode.js';
import { Keeper } from './loop/run.js';
import { LocalMonitorClient } from './local-monitor/client.js';
import { keeperTarget } from './monitor-credentials.js';
import { MonitorClient, type KeeperMonitor } from './monitor-client.js';
import { PgLocalPostgres } from './pg/local-postgres.js';
import type { KeeperCtl } from './pg/ctl.js';
import type { PostgresSupervisor } from './pg/supervisor.js';
import { nodePaths, type NodePaths } from '../config/node-paths.js';
import { readStateFile } from './state/state-file.js';
import { KeeperIntegrations } from './integrations.js';

/** Builds the node's Postgres supervisor (PM2 in module mode); default pg_ctl. */
export type SupervisorFactory = (ctl: KeeperCtl, config: KeeperConfig, paths: NodePaths) => PostgresSupervisor;

export interface OpenNode {
  /** as last read (a SIGHUP re-reads it) */
  config: KeeperConfig;
  paths: NodePaths;
  pg: PgLocalPostgres;
  /** the monitor client the node started with (the keeper swaps it when the monitor changes) */
  monitor: KeeperMonitor;
  keeper: Keeper;
  /** HTTP endpoints, metrics and hooks (started by the service: integrations.apply) */
  integrations: KeeperIntegrations;
}

export function loadKeeperConfig(pgdata: string): { config: KeeperConfig; paths: NodePaths } {
  const paths = nodePaths(pgdata);
  const node = requireNodeIni(pgdata, { path: paths.config });
  if (node.role !== 'keeper') throw new BadConfig(`PGDATA ${pgdata} is a ${node.role ?? 'unknown'} node, not a data node`);
  return { config: keeperConfigFromIni(node.ini, node.path), paths };
}

/** The network of the node's address (for the trust rules of test mode); undefined for a host name. */
export function nodeNetworkCidr(config: KeeperConfig): string | undefined {
  return isIP(config.hostname) ? keeperNetworkCidr(config.hostname) : undefined;
}

/**
 * --pg-hba-lan (hba_level lan): the local network of the node's address opened to its
 * --username on its --dbname with its auth method, as the original. A host name is looked up
 * in the interfaces through its address only: a name gives no line (and a warning at create).
 */
export function lanHbaLines(config: KeeperConfig): string[] {
  if (config.hbaLevel !== 'lan') return [];
  const cidr = nodeNetworkCidr(config);
  if (!cidr) return [];
  return [hbaLine({ type: hbaHostType(config.ssl), database: config.dbname, user: config.username, address: cidr, method: config.authMethod })];
}

/** The warning of test mode (PG_REGRESS_SOCK_DIR=""), logged at each start of a node. */
export function warnIfTestMode(config: KeeperConfig, log: Logger): void {
  // a node created in test mode keeps its trust rules: say so even when the variable is gone
  if (tcpTestMode() || usesTcpLocally(config.host)) log.warn(testModeWarning(config.host, nodeNetworkCidr(config)));
}

export function localPostgres(config: KeeperConfig, paths: NodePaths, nodeId: number, log: Logger, supervisor?: SupervisorFactory): PgLocalPostgres {
  const monitorHost = config.monitor === undefined ? '/' : parsePgUri(config.monitor, 'pg_autoctl.monitor').host;
  return new PgLocalPostgres({
    pgdata: config.pgdata,
    binDir: resolveBinDir(config.pgCtl),
    port: config.port,
    host: config.listenAddresses,
    socketDir: config.host,
    nodeId,
    runAs: postgresRunAs(config.pgdata),
    replicationPassword: config.replicationPassword,
    authMethod: config.authMethod,
    hbaLevel: config.hbaLevel,
    monitorHost: monitorHost.startsWith('/') ? undefined : monitorHost,
    ssl: config.ssl,
    hostname: config.hostname,
    testTrustLines: testModeTrustLines(nodeNetworkCidr(config), config.host),
    extraHbaLines: lanHbaLines(config),
    logFile: paths.postgresLog,
    log,
    supervisor: supervisor ? (ctl) => supervisor(ctl, config, paths) : undefined,
  });
}

/** The monitor of the config, or the local stand-in of a node without one. */
export function monitorClientFor(config: KeeperConfig, paths: NodePaths): KeeperMonitor {
  if (config.monitor === undefined) {
    return new LocalMonitorClient({
      statePath: paths.state,
      nodesPath: paths.nodes,
      candidatePriority: config.candidatePriority,
      replicationQuorum: config.replicationQuorum,
    });
  }
  const state = readStateFile(paths.state);
  return new MonitorClient(keeperTarget(nodeMonitorTarget(config.monitor, config.pgdata), paths.state), {
    nodeId: state.nodeId,
    groupId: state.groupId,
    formation: config.formation,
  });
}

/**
 * Watches the config file for a monitor switch (enable/disable monitor): returns a new client
 * when pg_autoctl.monitor changed. A config that no longer parses is logged and ignored.
 */
function monitorReloader(pgdata: string, initial: KeeperConfig, paths: NodePaths, log: Logger): (force: boolean) => KeeperMonitor | undefined {
  let seen = fileStamp(paths.config);
  let current = initial.monitor;
  return (force) => {
    const now = fileStamp(paths.config);
    if (!force && now === seen) return undefined;
    seen = now;
    let config: KeeperConfig;
    try {
      config = loadKeeperConfig(pgdata).config;
    } catch (err) {
      log.error(`The configuration changed but cannot be used, keeping the current one: ${(err as Error).message}`);
      return undefined;
    }
    if (config.monitor === current) return undefined;
    current = config.monitor;
    log.info(config.monitor === undefined ? 'The monitor is disabled: goals now come from the state file.' : 'A new monitor is configured: connecting to it.', {
      monitor: config.monitor === undefined ? 'none' : parsePgUri(config.monitor, 'pg_autoctl.monitor').host,
    });
    return monitorClientFor(config, paths);
  };
}

/**
 * Watches the config file for a changed pg_autoctl.name, pg_autoctl.hostname or
 * postgresql.port and sends it to the monitor (update_node_metadata), as the original's keeper
 * does on reload. A failed update is retried on the next check; a node without a monitor has
 * nothing to tell.
 */
export function metadataSyncer(pgdata: string, initial: KeeperConfig, paths: NodePaths, nodeId: number, log: Logger): (force: boolean) => Promise<void> {
  let seen = fileStamp(paths.config);
  let synced = { name: initial.name, hostname: initial.hostname, port: initial.port };
  let pending = false;
  return async (force) => {
    const now = fileStamp(paths.config);
    if (!force && !pending && now === seen) return;
    seen = now;
    let config: KeeperConfig;
    try {
      config = loadKeeperConfig(pgdata).config;
    } catch {
      return; // monitorReloader logs an unusable file
    }
    const changed = {
      name: config.name !== synced.name ? config.name : null,
      hostname: config.hostname !== synced.hostname ? config.hostname : null,
      port: config.port !== synced.port ? config.port : null,
    };
    if (config.monitor === undefined || (changed.name === null && changed.hostname === null && changed.port === null)) {
      pending = false;
      synced = { name: config.name, hostname: config.hostname, port: config.port };
      return;
    }
    try {
      await withClient(parsePgUri(config.monitor, 'pg_autoctl.monitor'), { kind: 'monitor', connectTimeoutMs: 2_000 }, (q) =>
        q('SELECT pgautofailover.update_node_metadata($1::bigint, $2::text, $3::text, $4::int)', [nodeId, changed.name, changed.hostname, changed.port]),
      );
      log.info(`The configuration changed the node metadata: the monitor now has "${config.name}" at ${config.hostname}:${config.port}`);
      if (changed.port !== null) log.warn(`Postgres listens on the new postgresql.port ${config.port} once restarted`);
      synced = { name: config.name, hostname: config.hostname, port: config.port };
      pending = false;
    } catch (err) {
      if (err instanceof PgSql) {
        // a refusal (a name or address another node has) is not retried: the file keeps the value the monitor refused
        log.error(`The monitor refused the node metadata of the configuration file: ${err.message}`);
        synced = { name: config.name, hostname: config.hostname, port: config.port };
        pending = false;
        return;
      }
      if (!pending) log.warn(`Cannot send the changed node metadata to the monitor yet: ${(err as Error).message}`);
      pending = true;
    }
  };
}

export function openNode(pgdata: string, parentLog: Logger, supervisor?: SupervisorFactory): OpenNode {
  const { config, paths } = loadKeeperConfig(pgdata);
  // every line of this node's keeper names the node (and the loop adds its state)
  const log = parentLog.child({ node: config.name });
  const state = readStateFile(paths.state);
  const pg = localPostgres(config, paths, state.nodeId, log, supervisor);
  const monitor = monitorClientFor(config, paths);
  const integrations = new KeeperIntegrations(config, log, postgresRunAs(config.pgdata));
  const keeper = new Keeper({
    formation: config.formation,
    statePath: paths.state,
    pg,
    monitor,
    log,
    timeouts: {
      networkPartitionTimeout: config.networkPartitionTimeout,
      restartFailureTimeout: config.restartFailureTimeout,
      restartFailureMaxRetries: config.restartFailureMaxRetries,
      sleepMs: 500,
      refreshEveryTicks: 10,
    },
    reloadMonitor: monitorReloader(pgdata, config, paths, log),
    syncMetadata: metadataSyncer(pgdata, config, paths, state.nodeId, log),
    observer: integrations,
  });
  return { config, paths, pg, monitor, keeper, integrations };
}
