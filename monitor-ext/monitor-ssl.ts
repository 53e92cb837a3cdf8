// A monitor's SSL setup put on disk, online: certificate (self-signed), the keepers' HBA record
// as host or hostssl, the ssl settings in postgresql-auto-failover.conf, then a reload.
import { existsSync } from 'node:fs';
import { hbaFileOf, switchHbaRules } from '../lib/hba-file.js';
import { join } from 'node:path';
import type { MonitorConfig } from '../config/node-config.js';
import { rewriteMonitorSettings } from './create-monitor.js';
import type { Logger } from '../lib/log.js';
import { MONITOR_USER } from '../lib/pg-uri.js';
import type { OsUser } from '../lib/pgbin.js';
import { hbaHostType, selfSignedFiles, usesSelfSignedCert } from '../lib/ssl.js';
import { ensureSelfSignedCert } from '../lib/ssl-files.js';

export async function applyMonitorSsl(cfg: MonitorConfig, runAs: OsUser | undefined, log: Logger): Promise<void> {
  if (!existsSync(join(cfg.pgdata, 'PG_VERSION'))) return;
  if (usesSelfSignedCert(cfg.ssl, cfg.pgdata)) {
    await ensureSelfSignedCert({ ...selfSignedFiles(cfg.pgdata), hostname: cfg.hostname, runAs, log });
  }
  const hbaFile = hbaFileOf(cfg.pgdata);
  if (cfg.hbaLevel !== 'skip' && existsSync(hbaFile)) {
    if (switchHbaRules(hbaFile, [MONITOR_USER], hbaHostType(cfg.ssl), runAs)) {
      log.info(`Switched the HBA rules of ${MONITOR_USER} to ${hbaHostType(cfg.ssl)}`);
    }
  }
  await rewriteMonitorSettings(cfg, runAs, log);
}
