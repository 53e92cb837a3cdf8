// `pgaf run` on the monitor: keep its Postgres running and run the health worker.
// Stopping the service leaves Postgres running (`pgaf stop` stops it).
import { nodePaths } from '../config/node-paths.js';
import { monitorSocketTarget, type MonitorConfig } from '../config/node-config.js';
import type { Logger } from '../lib/log.js';
import { claimPidFileListening } from '../lib/pid-file.js';
import { insecureStartWarnings } from '../lib/secrets.js';
import { postgresRunAs } from '../lib/pgbin.js';
import { PostgresCtl, resolveBinDir } from '../lib/postgres-ctl.js';
import { updateExtensionIfOlder } from './extension.js';
import { withClient } from '../lib/sql.js';
import { HealthWorker } from './health/worker.js';
import { MonitorIntegrations } from './status-page/service.js';
import { loadMonitorConfig } from '../config/node-config.js';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { keeperNetworkCidr } from '../lib/hba.js';
import { tcpTestMode, testModeWarning, usesTcpLocally } from '../lib/test-mode.js';
import { readFileSync } from 'node:fs';
import { writeFileAs } from '../lib/atomic-file.js';
import { MONITOR_SETTING_NAMES } from './settings.js';
import { postmasterRunning } from '../lib/postmaster-pid.js';

const SUPERVISE_EVERY_MS = 2_000;

/** Who keeps the monitor's Postgres running: default `pg_ctl start`; PM2 in module mode. */
export interface MonitorPostgresSupervisor {
  readonly kind: string;
  isRunning(): Promise<boolean>;
  start(): Promise<void>;
}

export interface RunMonitorOptions {
  supervisor?: MonitorPostgresSupervisor;
  /** false: the caller handles SIGINT/SIGTERM and calls the returned stop (default true) */
  handleSignals?: boolean;
  /** receives the function that stops the service */
  onStop?: (stop: () => void) => void;
}

export async function runMonitor(cfg: MonitorConfig, log: Logger, opts: RunMonitorOptions = {}): Promise<void> {
  const paths = nodePaths(cfg.pgdata);
  for (const w of insecureStartWarnings(cfg)) log.warn(w);
  if (tcpTestMode() || usesTcpLocally(cfg.host)) log.warn(testModeWarning(cfg.host, isIP(cfg.hostname) ? keeperNetworkCidr(cfg.hostname) : undefined));
  const ctl = new PostgresCtl({ pgdata: cfg.pgdata, binDir: resolveBinDir(cfg.pgCtl), runAs: postgresRunAs(cfg.pgdata), log });
  const logFile = join(cfg.pgdata, 'startup.log');
  const supervisor: MonitorPostgresSupervisor = opts.supervisor ?? {
    kind: 'pg_ctl',
    // what `pg_ctl status` checks (postmaster.pid names a live process), without spawning it
    // every 2 s: 1,800 child processes an hour were most of the service's CPU at rest and
    // kept its resident memory creeping up (bench/soak)
    isRunning: async () => postmasterRunning(cfg.pgdata),
    start: () => ctl.start({ logFile }),
  };
  const worker = new HealthWorker(monitorSocketTarget(cfg), log);
  // the status page, /metrics and on_failover ([http], [hooks]); a SIGHUP re-reads them
  const integrations = new MonitorIntegrations(cfg, log);
  worker.observer = integrations;
  // the configuration as last read: a `config set http.port` right after the service was
  // started is neither undone by the start-up applying what it read first (a SIGHUP during the
  // start-up) nor lost (written before the pid file below existed, so nobody was signalled):
  // the file is read again once SIGHUP is handled
  let latest = cfg;
  const onHup = () => {
    try {
      latest = loadMonitorConfig(cfg.pgdata);
      void integrations.apply(latest);
      log.info('Received SIGHUP: reloaded the [http] and [hooks] settings');
    } catch (err) {
      log.error(`Received SIGHUP but cannot reload the configuration: ${(err as Error).message}`);
    }
  };
  let releasePidFile: () => void;
  try {
    releasePidFile = claimPidFileListening(paths.pid, paths.runBase, postgresRunAs(cfg.pgdata), onHup);
  } catch (err) {
    await integrations.close(); // a SIGHUP sent to us directly may have opened the page
    throw err;
  }
  try {
    latest = loadMonitorConfig(cfg.pgdata);
  } catch (err) {
    log.warn(`Cannot read the configuration again: ${(err as Error).message}; using the one read at start`);
  }
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  const supervise = async () => {
    if (stopping) return;
    try {
      if (!(await supervisor.isRunning())) {
        log.warn('The monitor Postgres is not running: starting it', { supervisor: supervisor.kind });
        await supervisor.start();
      }
    } catch (err) {
      log.error(`Cannot start the monitor Postgres: ${(err as Error).message}`);
    }
    if (!stopping) timer = setTimeout(supervise, SUPERVISE_EVERY_MS);
  };
  const stop = (sig: string) => {
    log.info(`Received ${sig}: the monitor service stops, Postgres keeps running`);
    stopping = true;
    if (timer) clearTimeout(timer);
    worker.stop();
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  opts.onStop?.(() => stop('a stop request'));
  if (opts.handleSignals !== false) {
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  }
  try {
    await supervise();
    await updateExtensionAtStart(cfg, log);
    await ensureSettingPlaceholders(cfg, log);
    await integrations.apply(latest);
    log.info('Monitor service runs: Postgres supervised, health checks started', { pgdata: cfg.pgdata, port: cfg.port });
    await worker.run();
  } finally {
    await integrations.close();
    stopping = true;
    if (timer) clearTimeout(timer);
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    releasePidFile();
  }
}

/**
 * Like the original's monitor, update the extension at start when the installed version is
 * older than the shipped one (new extension files from a package upgrade). A failure is
 * logged and the service goes on: the old version keeps working.
 */
async function updateExtensionAtStart(cfg: MonitorConfig, log: Logger): Promise<void> {
  try {
    await withClient(monitorSocketTarget(cfg), { kind: 'postgres', connectTimeoutMs: 10_000 }, (q) => updateExtensionIfOlder(q, log));
  } catch (err) {
    log.warn(`Cannot update the pgaf extension of the monitor database: ${(err as Error).message}`);
  }
}

/**
 * PostgreSQL 15 accepts ALTER SYSTEM SET pgautofailover.<name> only for names the server knows:
 * when the monitor's Postgres does not know them all (its settings file lost them, or its
 * postgresql.conf does not include it), rewrite the settings file, include it, and reload.
 */
async function ensureSettingPlaceholders(cfg: MonitorConfig, log: Logger): Promise<void> {
  try {
    const missing = await withClient(monitorSocketTarget(cfg), { kind: 'postgres', connectTimeoutMs: 10_000 }, async (q) =>
      (await q<{ n: string }>(`SELECT n FROM unnest($1::text[]) n WHERE current_setting('pgautofailover.' || n, true) IS NULL`, [[...MONITOR_SETTING_NAMES]])).map((r) => r.n),
    );
    if (missing.length === 0) return;
    // the creation code (initdb, certificates, HBA planning) loads only for this repair
    const { rewriteMonitorSettings, withInclude } = await import('./create-monitor.js');
    const runAs = postgresRunAs(cfg.pgdata);
    const confPath = join(cfg.pgdata, 'postgresql.conf');
    const conf = readFileSync(confPath, 'utf8');
    const included = withInclude(conf);
    if (included !== conf) writeFileAs(confPath, included, runAs, { mode: 0o600 });
    await rewriteMonitorSettings(cfg, runAs, log);
    log.info(`Added the placeholders of ${missing.length} pgautofailover.* settings, so that ALTER SYSTEM SET pgautofailover.<name> works`);
  } catch (err) {
    log.warn(`Cannot add the pgautofailover.* setting placeholders: ${(err as Error).message}`);
  }
}
