// A monitor's SSL setup put on disk, online: certificate (self-signed), the ssl settings in
// postgresql-auto-failover.conf, the keepers' HBA record as host or hostssl, then a reload.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAs } from './atomic-file.js';
import { join } from 'node:path';
import type { MonitorConfig } from '../config/node-config.js';
import { monitorSettings, SETTINGS_FILE } from './create-monitor.js';
import { switchHbaHostType } from './hba.js';
import type { Logger } from './log.js';
import { MONITOR_USER } from './pg-uri.js';
import type { OsUser } from './pgbin.js';
import { PostgresCtl, resolveBinDir } from './postgres-ctl.js';
import { hbaHostType, selfSignedFiles } from './ssl.js';
import { ensureSelfSignedCert } from './ssl-files.js';

export async function applyMonitorSsl(cfg: MonitorConfig, runAs: OsUser | undefined, log: Logger): Promise<void> {
  if (!existsSync(join(cfg.pgdata, 'PG_VERSION'))) return;
  const own = selfSignedFiles(cfg.pgdata);
  if (cfg.ssl.active && cfg.ssl.certFile === own.certFile && cfg.ssl.keyFile === own.keyFile) {
    await ensureSelfSignedCert({ ...own, hostname: cfg.hostname, runAs, log });
  }
  writeFileAs(join(cfg.pgdata, SETTINGS_FILE), monitorSettings(cfg), runAs);
  const hbaFile = join(cfg.pgdata, 'pg_hba.conf');
  if (cfg.hbaLevel !== 'skip' && existsSync(hbaFile)) {
    const text = readFileSync(hbaFile, 'utf8');
    const next = switchHbaHostType(text, [MONITOR_USER], hbaHostType(cfg.ssl));
    if (next !== text) {
      writeFileAs(hbaFile, next, runAs);
      log.info(`Switched the HBA rules of ${MONITOR_USER} to ${hbaHostType(cfg.ssl)}`);
    }
  }
  const ctl = new PostgresCtl({ pgdata: cfg.pgdata, binDir: resolveBinDir(cfg.pgCtl), runAs, log });
  if ((await ctl.status()) === 'running') {
    await ctl.reload();
    log.info('Reloaded the monitor Postgres');
  }
}
