// Options shared by several commands, their validation (pure, throws BadArgs), and how a
// command finds the monitor: --monitor, $PG_AUTOCTL_MONITOR, or the config file of --pgdata.
import { keeperConfigFromIni, MONITOR_DISABLED } from '../config/keeper-config.js';
import { canonicalPgdata } from '../config/paths.js';
import { monitorConfigFromIni, monitorSocketTarget, monitorUriForKeepers, readNodeIni, requireNodeIni, type MonitorConfig } from '../config/node-config.js';
import { AUTH_METHODS } from '../lib/auth-method.js';
import { BadArgs, BadConfig } from '../lib/errors.js';
import { parsePgUri, type PgTarget } from '../lib/pg-uri.js';
import { nodeMonitorTarget } from '../keeper/monitor-target.js';
import {
  formationNameProblem,
  hostnameProblem,
  listenAddressesProblem,
  nodeNameProblem,
  pathProblem,
  refusal,
  roleNameProblem,
  WHAT,
} from '../lib/identity.js';

/** --auth: a method, or `skip` (as the original: pgaf never edits pg_hba.conf, as --skip-pg-hba) */
export const AUTH_CHOICES = [...AUTH_METHODS, 'skip'] as const;

/** An integer port in 1..65535; `option` names the flag in the error. */
export function parsePort(value: unknown, option = '--pgport'): number {
  const text = String(value).trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new BadArgs(`${option} must be an integer between 1 and 65535, got "${String(value)}"`);
  }
  return n;
}

/** A non-negative integer (group ids, counts). */
export function parseNonNegativeInt(value: unknown, option: string): number {
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new BadArgs(`${option} must be a non-negative integer, got "${String(value)}"`);
  }
  return Number(text);
}

/** PGDATA from --pgdata, else $PGDATA, as a canonical absolute path. */
export function resolvePgdata(arg: unknown, env: NodeJS.ProcessEnv = process.env): string {
  const raw = typeof arg === 'string' && arg !== '' ? arg : env.PGDATA;
  if (!raw) throw new BadArgs('--pgdata is required (or set the PGDATA environment variable)');
  const label = typeof arg === 'string' && arg !== '' ? '--pgdata' : 'PGDATA';
  // checked before and after resolving: a control character must not reach the file system either
  checked(raw.startsWith('/') ? raw : `/${raw}`, label, WHAT.path, pathProblem);
  return checked(canonicalPgdata(raw), label, WHAT.path, pathProblem);
}

/** A host name (RFC 1123) or IP address that Postgres can listen on and keepers can connect to. */
export function parseHostname(value: unknown, option = '--hostname'): string {
  return checked(String(value).trim(), option, WHAT.hostname, hostnameProblem);
}

export function parseFormation(value: unknown, option = '--formation'): string {
  return checked(String(value), option, WHAT.formation, formationNameProblem);
}

/** A node name: 1 to 63 of letters, digits, _ . - (lib/identity.ts). */
export function parseNodeName(value: unknown, option = '--name'): string {
  return checked(String(value), option, WHAT.nodeName, nodeNameProblem);
}

/** listen_addresses: *, or host names and addresses separated by commas. */
export function parseListen(value: unknown, option = '--listen'): string {
  return checked(String(value).trim(), option, WHAT.listen, listenAddressesProblem);
}

/** A Postgres role or database name (--username, --dbname). */
export function parseRoleName(value: unknown, option: string): string {
  return checked(String(value), option, WHAT.roleName, roleNameProblem);
}

/** An absolute path that goes into our files (--pghost, --pgctl, SSL files). */
export function parsePath(value: unknown, option: string): string {
  return checked(String(value), option, WHAT.path, pathProblem);
}

/**
 * --pghost or PGHOST as given: a socket directory is checked as a path; in test mode
 * (PG_REGRESS_SOCK_DIR="") a TCP host is checked as a host name; otherwise a host is not ours
 * to use (local connections take the default socket directory).
 */
export function checkedPghost(value: string | undefined, option: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (value === undefined) return undefined;
  if (value.startsWith('/')) return parsePath(value, option);
  return env.PG_REGRESS_SOCK_DIR === '' ? parseHostname(value, option) : value;
}

function checked(text: string, option: string, what: string, problem: (v: string) => string | undefined): string {
  const p = problem(text);
  if (p) throw new BadArgs(refusal(option, what, text, p));
  return text;
}

export interface MonitorTarget {
  /** How we connect: the URI's parts, or the monitor's own socket when run on it. */
  target: PgTarget;
  /** The monitor URI, as keepers use it. */
  uri: string;
  /** Set when --pgdata pointed at a monitor. */
  monitorConfig?: MonitorConfig;
}

/** On the monitor host, connect over its Unix socket as the superuser. */
export function monitorTargetOnItsHost(cfg: MonitorConfig): MonitorTarget {
  return {
    target: monitorSocketTarget(cfg),
    uri: monitorUriForKeepers(cfg),
    monitorConfig: cfg,
  };
}

export function resolveMonitor(
  args: { monitor?: unknown; pgdata?: unknown },
  env: NodeJS.ProcessEnv = process.env,
): MonitorTarget {
  const uri = typeof args.monitor === 'string' && args.monitor ? args.monitor : undefined;
  if (uri) return { target: parsePgUri(uri, '--monitor'), uri };
  if (!args.pgdata && !env.PGDATA && env.PG_AUTOCTL_MONITOR) {
    return { target: parsePgUri(env.PG_AUTOCTL_MONITOR, 'PG_AUTOCTL_MONITOR'), uri: env.PG_AUTOCTL_MONITOR };
  }
  if (!args.pgdata && !env.PGDATA) {
    throw new BadArgs('pass --monitor <postgres:// URI> or --pgdata <dir> (or set PGDATA or PG_AUTOCTL_MONITOR)');
  }
  const pgdata = resolvePgdata(args.pgdata, env);
  const node = requireNodeIni(pgdata, { hint: 'pass --monitor <URI>' });
  if (node.role === 'monitor') return monitorTargetOnItsHost(monitorConfigFromIni(node.ini, node.path));
  const keeperMonitor = node.ini.pg_autoctl?.monitor;
  if (!keeperMonitor) throw new BadConfig(`${node.path} has no pg_autoctl.monitor URI`);
  if (keeperMonitor === MONITOR_DISABLED) {
    throw new BadConfig(`the node of PGDATA ${pgdata} runs without a monitor (pg_autoctl.monitor is ${MONITOR_DISABLED})`, {
      hint: 'pass --monitor <postgres:// URI>, or register the node with pgaf enable monitor <URI>',
    });
  }
  return { target: nodeMonitorTarget(keeperMonitor, pgdata, `pg_autoctl.monitor in ${node.path}`), uri: keeperMonitor };
}

/** --wait: seconds, a non-negative integer (0: do not wait). */
export function parseWait(value: unknown, option = '--wait'): number {
  return parseNonNegativeInt(value, option);
}

/** What the local data node's config says, for options that default to it. */
export interface LocalNodeDefaults {
  formation?: string;
  group?: number;
  name?: string;
}

/**
 * Formation, group and name of the data node of --pgdata (or $PGDATA), like the original's
 * commands that default to "this node". Nothing when --monitor is given or PGDATA is not a
 * data node; a broken config file is an error (exit 2).
 */
export function localNodeDefaults(args: { monitor?: unknown; pgdata?: unknown }, env: NodeJS.ProcessEnv = process.env): LocalNodeDefaults {
  if (typeof args.monitor === 'string' && args.monitor) return {};
  const raw = typeof args.pgdata === 'string' && args.pgdata ? args.pgdata : env.PGDATA;
  if (!raw) return {};
  const node = readNodeIni(canonicalPgdata(raw));
  if (!node || node.role !== 'keeper') return {};
  const cfg = keeperConfigFromIni(node.ini, node.path);
  return { formation: cfg.formation, group: cfg.group, name: cfg.name };
}

/** PGDATA (from the argument or $PGDATA) and its pgaf node's config file (keeper or monitor), or a BadConfig naming it */
export function requireLocalNodeIni(pgdataArg: unknown) {
  const pgdata = resolvePgdata(pgdataArg);
  return { pgdata, node: requireNodeIni(pgdata) };
}
