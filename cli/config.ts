// `pgaf config get [section.option]` and `pgaf config set section.option value` on the local
// pg_autoctl.cfg of --pgdata (a monitor or a data node). set validates the whole file through
// the node's schema before writing; on a monitor, Postgres settings also go to
// postgresql-auto-failover.conf, and a running Postgres reloads.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { json, out, typedIni, typedValue } from './output.js';
import { completeIni, configGet, configSet, maskedIni, roleOf, validateConfig } from '../config/config-keys.js';
import { keeperConfigFromIni } from '../config/keeper-config.js';
import { monitorConfigFromIni, requireNodeIni, writeNodeIni, type NodeIni } from '../config/node-config.js';
import { nodePaths } from '../config/node-paths.js';
import { BadConfig } from '../lib/errors.js';
import { stringifyIni } from '../lib/ini.js';
import { log } from '../lib/log.js';
import { servicePid } from '../lib/pid-file.js';
import { postgresRunAs } from '../lib/pgbin.js';
import { PostgresCtl, resolveBinDir } from '../lib/postgres-ctl.js';
import { resolvePgdata } from './options.js';

/** Monitor keys that go into the Postgres settings file. */
const MONITOR_PG_KEYS = new Set(['postgresql.listen_addresses', 'postgresql.port', 'postgresql.host', 'postgresql.auth_method']);
/** Of those, the ones Postgres only applies at a restart. */
const RESTART_KEYS = new Set(['postgresql.listen_addresses', 'postgresql.port', 'postgresql.host']);


/** Writes the config file keeping its owner (we may run as root on a file the postgres user owns). */
export function writeKeepingOwner(path: string, ini: NodeIni['ini']): void {
  writeNodeIni(path, ini);
}

async function applyMonitorSettings(pgdata: string, ini: NodeIni['ini'], path: string, key: string): Promise<void> {
  const cfg = monitorConfigFromIni(ini, path);
  if (!existsSync(join(pgdata, 'PG_VERSION'))) return;
  const { rewriteMonitorSettings } = await import('../monitor-ext/create-monitor.js');
  const reloaded = await rewriteMonitorSettings({ ...cfg, pgdata }, postgresRunAs(pgdata), log);
  if (reloaded && RESTART_KEYS.has(key)) log.warn(`${key} takes effect when the monitor Postgres restarts (pgaf stop, then pgaf run)`);
}

/** `config get [key]`: the whole file (secrets masked), or one value (the yargs tree and cli/fast.ts run it). */
export function configGetCommand(args: { pgdata?: string; json?: boolean; key?: string }): void {
  const pgdata = resolvePgdata(args.pgdata);
  const node = requireNodeIni(pgdata);
  roleOf(node.ini, node.path);
  if (args.key !== undefined) {
    const value = configGet(node.ini, node.path, args.key);
    out((args.json ? JSON.stringify(typedValue(value)) : value) + '\n');
    return;
  }
  const masked = maskedIni(completeIni(node.ini, node.path));
  if (args.json) json(typedIni(masked));
  else out(stringifyIni(masked));
}

/** `config set <key> <value>`: checked through the node's schema before anything is written. */
export async function configSetCommand(args: { pgdata?: string; key?: string; value?: string }): Promise<void> {
  const pgdata = resolvePgdata(args.pgdata);
  const node = requireNodeIni(pgdata);
  const role = roleOf(node.ini, node.path);
  const next = configSet(node.ini, node.path, args.key, args.value);
  writeKeepingOwner(node.path, next);
  const key = String(args.key);
  if (role === 'monitor' && MONITOR_PG_KEYS.has(key)) await applyMonitorSettings(pgdata, next, node.path, key);
  // a keeper re-reads everything on SIGHUP; the monitor's service its [http] and [hooks]
  if (role === 'keeper' || /^(http|hooks)\./.test(key)) {
    const pid = servicePid(nodePaths(pgdata).pid);
    if (pid !== undefined) {
      process.kill(pid, 'SIGHUP');
      log.info(`Signalled the ${role === 'keeper' ? 'keeper' : 'monitor service'} (pid ${pid}) to reload its configuration`);
    }
  }
  process.stdout.write(configGet(next, node.path, key) + '\n');
}

function getCommand(cli: Argv): Argv {
  return cli.command(
    'get [key]',
    'print the configuration file, or the value of one section.option',
    (y) =>
      y
        .positional('key', { type: 'string', describe: 'section.option, e.g. postgresql.port' })
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('json', { type: 'boolean', default: false, describe: 'output JSON' }),
    (args) => configGetCommand(args),
  );
}

function setCommand(cli: Argv): Argv {
  return cli.command(
    'set <key> <value>',
    'set section.option in the configuration file (validated before it is written)',
    (y) =>
      y
        .positional('key', { type: 'string', describe: 'section.option, e.g. postgresql.listen_addresses' })
        .positional('value', { type: 'string', describe: 'the new value' })
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' }),
    (args) => configSetCommand(args),
  );
}

function checkCommand(cli: Argv): Argv {
  return cli.command(
    'check',
    'check the configuration file, the Postgres binaries, and whether Postgres runs',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('json', { type: 'boolean', default: false, describe: 'output JSON' }),
    async (args) => {
      const pgdata = resolvePgdata(args.pgdata);
      const node = requireNodeIni(pgdata);
      const role = roleOf(node.ini, node.path);
      validateConfig(role, node.ini, node.path);
      const c = role === 'monitor' ? monitorConfigFromIni(node.ini, node.path) : keeperConfigFromIni(node.ini, node.path);
      let binDir: string;
      try {
        binDir = resolveBinDir(c.pgCtl);
      } catch (err) {
        throw new BadConfig(`postgresql.pg_ctl: ${(err as Error).message}`);
      }
      const pgCtlPath = join(binDir, 'pg_ctl');
      if (!existsSync(pgCtlPath)) throw new BadConfig(`postgresql.pg_ctl: ${pgCtlPath} does not exist`);
      const ctl = new PostgresCtl({ pgdata, binDir, runAs: postgresRunAs(pgdata), log });
      const status = await ctl.status();
      log.info(`Configuration file "${node.path}" is valid for a ${role === 'monitor' ? 'monitor' : 'data node'}`);
      log.info(`pg_ctl: ${pgCtlPath}`);
      log.info(status === 'running' ? `Postgres is running at "${pgdata}" on port ${c.port}` : `Postgres is not running at "${pgdata}"`);
      if (args.json) {
        process.stdout.write(
          JSON.stringify(
            {
              config: node.path,
              role,
              postgres: { pgdata, pg_ctl: pgCtlPath, port: c.port, is_running: status === 'running', pgdata_exists: status !== 'no-pgdata' },
            },
            null,
            2,
          ) + '\n',
        );
      }
    },
  );
}

export function registerConfig(cli: Argv): Argv {
  return cli.command('config', 'check, read or change the local configuration file', (y) =>
    checkCommand(setCommand(getCommand(y))).demandCommand(1, 'config what? check, get or set'),
  );
}
