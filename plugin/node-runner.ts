// What the PM2 module runs for one cluster file: creates the node the file describes when it
// does not exist yet (create monitor / create postgres), then runs the monitor service or the
// keeper in-process, with Postgres supervised as the PM2 app pgaf-postgres-<node>.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { integrationSettingsOf, sslArgsOf, type ClusterConfig, type NodeSection } from '../config/cluster-config.js';
import { configGet, configSet } from '../config/config-keys.js';
import { monitorConfigFromIni, readNodeIni, writeNodeIni } from '../config/node-config.js';
import { nodePaths, type NodePaths } from '../config/node-paths.js';
import type { KeeperConfig } from '../config/keeper-config.js';
import type { OpenNode } from '../keeper/open-node.js';
import type { KeeperSnapshot } from '../keeper/http/snapshot.js';
import { KeeperCtl } from '../keeper/pg/ctl.js';
import { BadConfig } from '../lib/errors.js';
import { implicitSslRequest, logSslRequest, resolveSslRequest, sslChoiceOf, type SslRequest } from '../lib/ssl.js';
import type { Logger } from '../lib/log.js';
import { pgShareDir, postgresRunAs } from '../lib/pgbin.js';
import { resolveBinDir } from '../lib/postgres-ctl.js';
import { Pm2Supervisor, postgresAppName } from './pm2-supervisor.js';

export interface RunningNode {
  role: 'monitor' | 'postgres';
  /** the node name (data node: as registered; monitor: node.name or "monitor") */
  name: string;
  pgdata: string;
  paths: NodePaths;
  appName: string;
  /** set once a data node is open */
  keeper?: KeeperConfig;
  /** the keeper's latest snapshot (the one its HTTP endpoints and /metrics answer from) */
  snapshot?: () => KeeperSnapshot | undefined;
  stop(): void;
}

/**
 * The cluster file's [http] and [hooks] keys into the node's pg_autoctl.cfg (validated like
 * `pgaf config set`; written only when something differs): the keeper and the monitor read
 * them from there. Keys the cluster file does not set are left as they are.
 */
function syncIntegrationSettings(c: ClusterConfig, pgdata: string, log: Logger): void {
  const wanted = integrationSettingsOf(c);
  if (wanted.length === 0) return;
  const node = readNodeIni(pgdata);
  if (!node) return;
  let ini = node.ini;
  const changed: string[] = [];
  for (const [key, value] of wanted) {
    if (configGet(ini, node.path, key) === value) continue;
    ini = configSet(ini, node.path, key, value);
    changed.push(key);
  }
  if (changed.length === 0) return;
  writeNodeIni(node.path, ini);
  log.info(`Took ${changed.join(', ')} from ${c.file ?? 'the cluster configuration'} into ${node.path}`);
}

/** The extension files, when we may write them and they are missing or older (root installs). */
async function ensureExtensionFiles(log: Logger): Promise<void> {
  const { EXTENSION_NAME, EXTENSION_VERSION, installExtensionFiles } = await import('../monitor-ext/bundle.js');
  let share: string;
  try {
    share = pgShareDir();
  } catch {
    return;
  }
  const control = join(share, 'extension', `${EXTENSION_NAME}.control`);
  if (existsSync(control) && readFileSync(control, 'utf8').includes(`default_version = '${EXTENSION_VERSION}'`)) return;
  if (process.getuid?.() !== 0) return;
  const written = installExtensionFiles(share);
  log.info(`Installed the ${EXTENSION_NAME} extension files`, { into: join(share, 'extension'), files: written.length });
}

function pm2Supervisor(appName: string, ctl: KeeperCtl, log: Logger): Pm2Supervisor {
  return new Pm2Supervisor({
    appName,
    pgdata: ctl.pgdata,
    binDir: ctl.binDir,
    runAs: ctl.runAs,
    log,
    foreignStop: async (mode) => {
      await ctl.stop({ mode });
    },
  });
}

/** The node's SSL keys checked and completed as create's options (no ssl key: TLS, self-signed); the defaults taken are logged for a new node. */
function sslRequestOf(node: NodeSection, log: Logger): SslRequest {
  const args = sslArgsOf(node);
  const req = sslChoiceOf(args) === undefined ? implicitSslRequest(node.pgdata, args.sslMode) : resolveSslRequest(args, node.pgdata);
  if (!readNodeIni(node.pgdata)) logSslRequest(req, log);
  return req;
}

// Each role imports its own modules when it starts (a monitor process never loads the keeper,
// a keeper never the monitor's), and a monitor loads its creation code only to create: what
// a process imports stays in its memory for as long as it runs.
async function runMonitorNode(c: ClusterConfig, node: NodeSection, log: Logger, started: (r: RunningNode) => void): Promise<void> {
  await ensureExtensionFiles(log);
  let ini = readNodeIni(node.pgdata);
  if (!ini) {
    const { createMonitor, planCreateMonitor } = await import('../monitor-ext/create-monitor.js');
    log.info('No monitor in PGDATA yet: creating it', { pgdata: node.pgdata, port: node.port });
    const plan = await planCreateMonitor(
      {
        pgdata: node.pgdata,
        port: node.port,
        hostname: node.hostname,
        auth: node.auth,
        socketDir: node.socket_dir,
        pgctl: node.pg_ctl,
        skipPgHba: node.skip_pg_hba,
        ssl: sslRequestOf(node, log),
        monitorPassword: c.secrets.monitorPassword,
      },
      log,
    );
    const uri = await createMonitor(plan, log);
    log.info(`Monitor created: ${uri}`);
    ini = readNodeIni(node.pgdata);
  }
  if (!ini || ini.role !== 'monitor') throw new BadConfig(`PGDATA ${node.pgdata} is a ${ini?.role ?? 'unknown'} node, but the cluster file says monitor`);
  syncIntegrationSettings(c, node.pgdata, log);
  ini = readNodeIni(node.pgdata)!;
  const cfg = monitorConfigFromIni(ini.ini, ini.path);
  const name = node.name ?? 'monitor';
  const appName = postgresAppName(name);
  const ctl = new KeeperCtl({ pgdata: cfg.pgdata, binDir: resolveBinDir(cfg.pgCtl), runAs: postgresRunAs(cfg.pgdata), log });
  const sup = pm2Supervisor(appName, ctl, log);
  await sup.adopt();
  let stopFn: () => void = () => undefined;
  const { runMonitor } = await import('../monitor-ext/service.js');
  started({ role: 'monitor', name, pgdata: cfg.pgdata, paths: nodePaths(cfg.pgdata), appName, stop: () => stopFn() });
  await runMonitor(cfg, log, { supervisor: sup, handleSignals: false, onStop: (s) => (stopFn = s) });
}

async function runDataNodeFromFile(c: ClusterConfig, node: NodeSection, log: Logger, started: (r: RunningNode) => void): Promise<void> {
  const monitor = c.monitorUri!;
  const { createNode } = await import('../keeper/create-node.js');
  const { runDataNode } = await import('../keeper/service.js');
  const created = await createNode(
    {
      pgdata: node.pgdata,
      port: node.port,
      monitor,
      formation: c.formation.name,
      name: node.name,
      hostname: node.hostname,
      listen: node.listen,
      socketDir: node.socket_dir,
      dbname: 'postgres',
      pgctl: node.pg_ctl,
      auth: node.auth,
      hbaLevel: node.skip_pg_hba ? 'skip' : 'app',
      candidatePriority: node.candidate_priority,
      replicationQuorum: node.replication_quorum,
      replicationPassword: c.secrets.replicationPassword,
      monitorPassword: c.secrets.monitorPassword,
      maximumBackupRate: '100M',
      networkPartitionTimeout: 5,
      ssl: sslRequestOf(node, log),
    },
    log,
  );
  syncIntegrationSettings(c, node.pgdata, log);
  const appName = postgresAppName(created.config.name);
  const running: RunningNode = {
    role: 'postgres',
    name: created.config.name,
    pgdata: node.pgdata,
    paths: created.paths,
    appName,
    keeper: created.config,
    stop: () => undefined,
  };
  // a postmaster started outside PM2 becomes the PM2 app before the keeper's first tick
  const ctl = new KeeperCtl({ pgdata: node.pgdata, binDir: resolveBinDir(created.config.pgCtl), runAs: postgresRunAs(node.pgdata), log });
  await pm2Supervisor(appName, ctl, log).adopt();
  await runDataNode(node.pgdata, log, {
    handleSignals: false,
    supervisor: (ctl) => pm2Supervisor(appName, ctl, log),
    onOpen: (open: OpenNode) => {
      running.stop = () => open.keeper.stop();
      running.snapshot = () => open.integrations.snapshot();
      started(running);
    },
  });
}

/** Creates (when needed) and runs the node of the cluster file until stopped. */
export async function runNodeFromConfig(c: ClusterConfig, log: Logger, started: (r: RunningNode) => void): Promise<void> {
  if (!c.node) throw new BadConfig(`${c.file ?? 'the configuration'}: node: expected a node section (role, pgdata, port), found nothing`);
  // secrets go in connection configs and 0600 files, never into our environment (PM2 would
  // copy it into the Postgres app's env and its saved process list)
  if (c.node.role === 'monitor') await runMonitorNode(c, c.node, log, started);
  else await runDataNodeFromFile(c, c.node, log, started);
}
