// `pgaf enable|disable ssl`: change the SSL setup of the node of PGDATA (monitor or data node)
// online. Everything is checked first (options, files, config); then the config file, the
// certificate, the Postgres ssl settings, the HBA record type and, on a data node, the
// monitor URI and primary_conninfo sslmode are rewritten, Postgres reloads (no restart) and
// a running keeper is signalled (SIGHUP) to use the new setup. Running it twice is harmless.
import type { Argv } from 'yargs';
import { keeperConfigFromIni } from '../config/keeper-config.js';
import { monitorConfigFromIni, type NodeIni } from '../config/node-config.js';
import { nodePaths } from '../config/node-paths.js';
import { localPostgres } from '../keeper/open-node.js';
import { readStateFile } from '../keeper/state/state-file.js';
import { BadConfig } from '../lib/errors.js';
import type { Ini } from '../lib/ini.js';
import { log } from '../lib/log.js';
import { applyMonitorSsl } from '../monitor-ext/monitor-ssl.js';
import { withUriSsl } from '../lib/pg-uri.js';
import { postgresRunAs } from '../lib/pgbin.js';
import { servicePid } from '../lib/pid-file.js';
import { NO_SSL, resolveSslRequest, sslConninfoParts, sslToIni, type SslArgs, type SslConfig } from '../lib/ssl.js';
import { checkSslFiles, opensslPath } from '../lib/ssl-files.js';
import { existsSync } from 'node:fs';
import { writeKeepingOwner } from './config.js';
import { requireLocalNodeIni } from './options.js';
import { withSslOptions } from './ssl-options.js';

/** The config file with `ssl` in [ssl] (and, on a data node, in the monitor URI); validated. */
export function iniWithSsl(node: NodeIni, ssl: SslConfig): Ini {
  const next: Ini = {};
  for (const [section, kv] of Object.entries(node.ini)) next[section] = { ...kv };
  next.ssl = sslToIni(ssl);
  if (node.role === 'keeper') {
    const monitor = next.pg_autoctl?.monitor;
    if (monitor) next.pg_autoctl!.monitor = withUriSsl(monitor, sslConninfoParts(ssl));
    keeperConfigFromIni(next, node.path);
  } else if (node.role === 'monitor') {
    monitorConfigFromIni(next, node.path);
  } else {
    throw new BadConfig(`${node.path} is not a pgaf node configuration: pg_autoctl.role is ${node.role ?? 'missing'}`);
  }
  return next;
}

async function applySsl(pgdata: string, node: NodeIni, ssl: SslConfig): Promise<void> {
  const next = iniWithSsl(node, ssl);
  writeKeepingOwner(node.path, next);
  log.info(`Wrote the [ssl] section of ${node.path}`, { active: ssl.active ? 1 : 0, sslmode: ssl.sslMode });
  const runAs = postgresRunAs(pgdata);
  if (node.role === 'monitor') {
    await applyMonitorSsl(monitorConfigFromIni(next, node.path), runAs, log);
    return;
  }
  const config = keeperConfigFromIni(next, node.path);
  const paths = nodePaths(pgdata);
  const nodeId = existsSync(paths.state) ? readStateFile(paths.state).nodeId : 0;
  const pg = localPostgres(config, paths, nodeId, log);
  try {
    if (pg.hasData()) await pg.applySsl();
  } finally {
    await pg.close();
  }
  // log lines hide passwords (lib/log.ts maskSecrets)
  if (config.monitor !== undefined) log.info(`The monitor URI is now ${config.monitor}`);
  const pid = servicePid(paths.pid);
  if (pid !== undefined) {
    process.kill(pid, 'SIGHUP');
    log.info(`Signalled the keeper (pid ${pid}) to reload its configuration`);
  }
}

export function enableSslCommand(cli: Argv): Argv {
  return cli.command(
    'ssl',
    'turn SSL on (or change it) for the node of PGDATA, online: certificate, Postgres settings, HBA, sslmode of connections',
    (y) => withSslOptions(y).option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' }),
    async (args) => {
      const { pgdata, node } = requireLocalNodeIni(args.pgdata);
      const req = resolveSslRequest(args as SslArgs, pgdata);
      const runAs = postgresRunAs(pgdata);
      if (req.choice === 'user-provided') checkSslFiles(req.ssl, runAs);
      if (req.choice === 'self-signed') opensslPath();
      iniWithSsl(node, req.ssl); // a config that would not load stops us before any write
      for (const notice of req.notices) log.info(notice);
      await applySsl(pgdata, node, req.ssl);
      log.info(req.ssl.active ? `SSL is now active, sslmode ${req.ssl.sslMode}` : `SSL is now off, sslmode ${req.ssl.sslMode}`);
    },
  );
}

export function disableSslCommand(cli: Argv): Argv {
  return cli.command(
    'ssl',
    'turn SSL off for the node of PGDATA, online (sslmode prefer; certificate files are left in place)',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('no-ssl', { type: 'boolean', hidden: true }),
    async (args) => {
      const { pgdata, node } = requireLocalNodeIni(args.pgdata);
      iniWithSsl(node, NO_SSL);
      await applySsl(pgdata, node, NO_SSL);
      log.info('SSL is now off, sslmode prefer');
    },
  );
}
