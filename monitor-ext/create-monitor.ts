// `create monitor`: first validate everything and make a plan (nothing written), then run
// idempotent steps: data directory, config file, initdb, settings, start, database,
// extension, HBA. Re-running on an existing monitor starts it and re-checks each step.
import { lookup } from 'node:dns/promises';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { configFilePath, secretFilePath } from '../config/paths.js';
import {
  MONITOR_DBNAME,
  monitorConfigFromIni,
  monitorConfigToIni,
  monitorSocketTarget,
  monitorUriForKeepers,
  readNodeIni,
  writeNodeIni,
  type MonitorConfig,
} from '../config/node-config.js';
import { settingPlaceholderLines } from './settings.js';
import { BadArgs } from '../lib/errors.js';
import { appendHbaLines, hbaLine, keeperNetworkCidr, peerMapLinesFor, planHbaAdditions, switchHbaHostType, withLocalPeerRecord, withPeerMap } from '../lib/hba.js';
import { chownNoFollow, readFileNoFollow, writeFileAs } from '../lib/atomic-file.js';
import { editHbaFile } from '../lib/hba-file.js';
import { log as rootLog, type Logger } from '../lib/log.js';
import { MONITOR_USER } from '../lib/pg-uri.js';
import { postgresRunAs, type OsUser } from '../lib/pgbin.js';
import type { AuthMethod } from '../lib/auth-method.js';
import { PostgresCtl, resolveBinDir } from '../lib/postgres-ctl.js';
import { withClient } from '../lib/sql.js';
import { isRunning } from '../lib/pid-file.js';
import { hbaHostType, implicitSslRequest, logSslRequest, postgresSslLines, type SslConfig, type SslRequest } from '../lib/ssl.js';
import { TRUST_WARNING, generatePassword, readSecretFile, scramVerifier, scramVerifierMatches, writeSecretFile } from '../lib/secrets.js';
import { type Query } from '../lib/sql.js';
import { checkSslFiles, ensureSelfSignedCert, opensslPath } from '../lib/ssl-files.js';
import { ensureExtension } from './extension.js';
import { defaultListenAddresses, socketDirectories, tcpTestMode, testModeTrustLines, testModeWarning, usesTcpLocally } from '../lib/test-mode.js';

export const DEFAULT_PORT = 5432;
/** The group of the per-node keeper roles on the monitor (monitor-ext/sql/keepers.sql). */
export const KEEPER_GROUP = '+pgautofailover_keeper';
export const DEFAULT_HOSTNAME = '127.0.0.1';
export const DEFAULT_SOCKET_DIR = '/tmp';
/** The settings file included from postgresql.conf, named as the original names it. */
export const SETTINGS_FILE = 'postgresql-auto-failover.conf';

export interface CreateMonitorRequest {
  /** Canonical absolute PGDATA. */
  pgdata: string;
  /** Explicit values; undefined means "default, or what the existing monitor has". */
  port?: number;
  hostname?: string;
  auth?: AuthMethod;
  socketDir?: string;
  pgctl?: string;
  skipPgHba: boolean;
  /** The SSL options; undefined when none was given (a first create then takes TLS with a self-signed certificate). */
  ssl?: SslRequest;
  /** autoctl_node's password when given (PGPASSWORD, monitor.password_file); else generated once */
  monitorPassword?: string;
}

export interface CreateMonitorPlan {
  config: MonitorConfig;
  binDir: string;
  runAs?: OsUser;
  /** PGDATA already holds a cluster (a re-run): no initdb. */
  initialized: boolean;
  /** The address `hostname` resolves to. */
  address: string;
  /** --ssl-self-signed (or no SSL option): create the certificate (once). */
  selfSigned?: boolean;
  monitorPassword?: string;
}

function sameSsl(a: SslConfig, b: SslConfig): boolean {
  return a.active === b.active && a.sslMode === b.sslMode && (!a.active || (a.certFile === b.certFile && a.keyFile === b.keyFile && a.caFile === b.caFile && a.crlFile === b.crlFile));
}

function isEmptyDir(dir: string): boolean {
  return readdirSync(dir).length === 0;
}

async function resolveAddress(hostname: string): Promise<string> {
  try {
    return (await lookup(hostname)).address;
  } catch {
    throw new BadArgs(`--hostname ${hostname} does not resolve to an address`);
  }
}

/** Fails when something already listens on address:port, or the address is not local. */
export function probePort(address: string, port: number, hostname = address): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new BadArgs(`--pgport ${port} is already in use on ${hostname}`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new BadArgs(`--hostname ${hostname} (${address}) is not an address of this machine`));
      else reject(new BadArgs(`cannot listen on ${hostname}:${port}: ${err.message}`));
    });
    srv.listen({ port, host: address, exclusive: true }, () => srv.close(() => resolve()));
  });
}

/** A live Postgres holding the socket lock for this port in socketDir means the port is taken. */
function socketLockHolder(socketDir: string, port: number): number | undefined {
  try {
    const pid = Number(readFileSync(join(socketDir, `.s.PGSQL.${port}.lock`), 'utf8').split('\n')[0]);
    if (pid > 0 && isRunning(pid)) return pid;
  } catch {
    // no lock, or its process is gone
  }
  return undefined;
}

/**
 * The first existing directory on the way to `path` that `user` may not enter (owner,
 * group, then other x bit; supplementary groups are not considered), or undefined.
 */
export function unsearchableAncestor(path: string, user: OsUser, stat = statSync): string | undefined {
  const chain: string[] = [];
  for (let dir = existingAncestor(path); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of chain) {
    const st = stat(dir);
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return dir;
  }
  return undefined;
}

/** Checks the request against the machine and returns what to do; writes nothing. */
export async function planCreateMonitor(req: CreateMonitorRequest, log: Logger = rootLog): Promise<CreateMonitorPlan> {
  const { pgdata } = req;
  const binDir = resolveBinDir(req.pgctl);

  const node = readNodeIni(pgdata);
  if (node && node.role !== 'monitor') {
    throw new BadArgs(`PGDATA ${pgdata} is already a pgaf ${node.role ?? 'unknown'} node (${node.path}), not a monitor`);
  }
  const previous = node ? monitorConfigFromIni(node.ini, node.path) : undefined;

  let initialized = false;
  if (existsSync(pgdata)) {
    if (!statSync(pgdata).isDirectory()) throw new BadArgs(`--pgdata ${pgdata} exists and is not a directory`);
    initialized = existsSync(join(pgdata, 'PG_VERSION'));
    if (initialized && !previous) {
      throw new BadArgs(`--pgdata ${pgdata} already holds a Postgres cluster that is not a pgaf monitor`, {
        hint: 'choose an empty or new directory',
      });
    }
    if (!initialized && !isEmptyDir(pgdata)) {
      throw new BadArgs(`--pgdata ${pgdata} is not empty and is not a Postgres data directory`);
    }
  }

  // On a re-run, explicit options must agree with the monitor that exists.
  if (previous && initialized) {
    const mismatch = (opt: string, given: unknown, has: unknown) => {
      if (given !== undefined && given !== has) {
        throw new BadArgs(`${opt} ${String(given)} differs from the existing monitor in ${pgdata}, which has ${String(has)}`);
      }
    };
    mismatch('--pgport', req.port, previous.port);
    mismatch('--hostname', req.hostname, previous.hostname);
    mismatch('--auth', req.auth, previous.authMethod);
    if (req.ssl && !sameSsl(req.ssl.ssl, previous.ssl)) {
      throw new BadArgs(`the SSL options differ from the existing monitor in ${pgdata}`, {
        hint: 'change SSL on an existing monitor with pgaf enable ssl or pgaf disable ssl',
      });
    }
  }
  // no SSL option on a first create: TLS with a self-signed certificate
  const sslRequest = req.ssl ?? (previous ? undefined : implicitSslRequest(pgdata));
  const ssl = sslRequest?.ssl ?? previous!.ssl;

  const hostname = req.hostname ?? previous?.hostname ?? DEFAULT_HOSTNAME;
  const port = req.port ?? previous?.port ?? DEFAULT_PORT;
  const socketDir = req.socketDir ?? previous?.host ?? DEFAULT_SOCKET_DIR;
  if (!socketDir.startsWith('/') && !tcpTestMode()) throw new BadArgs(`the socket directory must be an absolute path, got "${socketDir}"`);
  const address = await resolveAddress(hostname);

  // Without root we cannot hand directories over: we must be able to create them ourselves.
  if (process.getuid?.() !== 0) {
    for (const dir of [pgdata, socketDir].filter((d) => d.startsWith('/') && !existsSync(d))) {
      const parent = existingAncestor(dir);
      try {
        accessSync(parent, constants.W_OK);
      } catch {
        throw new BadArgs(`cannot create ${dir}: ${parent} is not writable by ${userInfo().username}`);
      }
    }
  }

  const runAs = postgresRunAs(pgdata);
  if (sslRequest?.choice === 'user-provided') checkSslFiles(sslRequest.ssl, runAs);
  if (sslRequest?.choice === 'self-signed') opensslPath();
  if (runAs) {
    for (const dir of [pgdata, socketDir].filter((d) => d.startsWith('/'))) {
      const blocked = unsearchableAncestor(dir, runAs);
      if (blocked) {
        throw new BadArgs(`${dir} is out of reach of the ${runAs.name} OS user that runs Postgres: ${blocked} is not searchable by it`, {
          hint: 'choose a directory under one that user can enter, e.g. /var/lib/postgresql or /tmp',
        });
      }
    }
  }
  const ctl = new PostgresCtl({ pgdata, binDir, runAs, log });
  const running = initialized && existsSync(join(pgdata, 'postmaster.pid')) && (await ctl.status()) === 'running';
  if (!running) {
    const holder = usesTcpLocally(socketDir) ? undefined : socketLockHolder(socketDir, port);
    if (holder) throw new BadArgs(`--pgport ${port} is already in use: Postgres pid ${holder} holds ${socketDir}/.s.PGSQL.${port}`);
    await probePort(address, port, hostname);
  }

  if (!req.ssl) logSslRequest(sslRequest, log);
  if ((req.auth ?? previous?.authMethod) === 'trust') log.warn(TRUST_WARNING);
  const config: MonitorConfig = Object.freeze({
    role: 'monitor',
    hostname,
    pgdata,
    pgCtl: join(binDir, 'pg_ctl'),
    dbname: MONITOR_DBNAME,
    username: previous?.username ?? runAs?.name ?? userInfo().username,
    host: socketDir,
    port,
    listenAddresses: previous?.listenAddresses ?? defaultListenAddresses(hostname, socketDir),
    // no --auth: passwords (scram-sha-256), never a silent trust
    authMethod: req.auth ?? previous?.authMethod ?? 'scram-sha-256',
    hbaLevel: req.skipPgHba ? 'skip' : 'app',
    ssl,
  });
  return { config, binDir, runAs, initialized, address, selfSigned: sslRequest?.choice === 'self-signed', monitorPassword: req.monitorPassword };
}

/** The nearest existing directory at or above `path`. */
function existingAncestor(path: string): string {
  let dir = path;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/**
 * Creates `dir` (parents traversable, `dir` itself with `mode`) owned by `runAs`; an
 * existing directory is handed to `runAs` only when `chownExisting` (an empty PGDATA).
 */
function ensureDir(dir: string, mode: number, runAs: OsUser | undefined, chownExisting: boolean): void {
  if (existsSync(dir)) {
    if (chownExisting && runAs && statSync(dir).uid !== runAs.uid) chownNoFollow(dir, runAs);
    return;
  }
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
  mkdirSync(dir, { mode });
  chownNoFollow(dir, runAs);
}

export function monitorSettings(cfg: MonitorConfig): string {
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  return [
    '# written by pgaf create monitor; edit with care, it is rewritten on every create',
    `listen_addresses = ${quote(cfg.listenAddresses)}`,
    `port = ${cfg.port}`,
    `unix_socket_directories = ${quote(socketDirectories(cfg.host))}`,
    `cluster_name = ${quote('pgaf monitor')}`,
    `password_encryption = ${quote(cfg.authMethod === 'md5' ? 'md5' : 'scram-sha-256')}`,
    // crash recovery makes PGDATA durable with one syncfs per filesystem, not an fsync per file
    // (keeper/pg/setup-files.ts says why)
    `recovery_init_sync_method = 'syncfs'`,
    ...postgresSslLines(cfg.ssl, quote),
    ...settingPlaceholderLines(),
    '',
  ].join('\n');
}

/** Rewrites the monitor's settings file from its config and reloads a running Postgres; true when it reloaded. */
export async function rewriteMonitorSettings(cfg: MonitorConfig, runAs: OsUser | undefined, log: Logger): Promise<boolean> {
  const path = join(cfg.pgdata, SETTINGS_FILE);
  writeFileAs(path, monitorSettings(cfg), runAs);
  log.info(`Updated ${path}`);
  const ctl = new PostgresCtl({ pgdata: cfg.pgdata, binDir: resolveBinDir(cfg.pgCtl), runAs, log });
  if ((await ctl.status()) !== 'running') return false;
  await ctl.reload();
  log.info('Reloaded the monitor Postgres');
  return true;
}

/** postgresql.conf with our include line, once. */
export function withInclude(postgresqlConf: string): string {
  const line = `include '${SETTINGS_FILE}'`;
  if (postgresqlConf.split('\n').some((l) => l.trim() === line)) return postgresqlConf;
  const sep = postgresqlConf.endsWith('\n') ? '' : '\n';
  return `${postgresqlConf}${sep}\n# pgaf monitor settings\n${line}\n`;
}

/** Runs the plan; returns the monitor URI. */
export async function createMonitor(plan: CreateMonitorPlan, log: Logger = rootLog): Promise<string> {
  const { config: cfg, runAs } = plan;
  const ctl = new PostgresCtl({ pgdata: cfg.pgdata, binDir: plan.binDir, runAs, log });

  ensureDir(cfg.pgdata, 0o700, runAs, true);
  if (!usesTcpLocally(cfg.host)) ensureDir(cfg.host, 0o755, runAs, false);
  writeNodeIni(configFilePath(cfg.pgdata), monitorConfigToIni(cfg));
  log.info('Wrote the monitor configuration', { path: configFilePath(cfg.pgdata) });

  // test mode: local TCP connections are trusted as the original's initdb --auth=trust does
  if (!plan.initialized) await ctl.initdb({ authHost: tcpTestMode() ? 'trust' : cfg.authMethod });
  if (plan.selfSigned && cfg.ssl.certFile && cfg.ssl.keyFile) {
    await ensureSelfSignedCert({ certFile: cfg.ssl.certFile, keyFile: cfg.ssl.keyFile, hostname: cfg.hostname, runAs, log });
  }

  writeFileAs(join(cfg.pgdata, SETTINGS_FILE), monitorSettings(cfg), runAs);
  const confPath = join(cfg.pgdata, 'postgresql.conf');
  const conf = readFileNoFollow(confPath);
  const included = withInclude(conf);
  if (included !== conf) writeFileAs(confPath, included, runAs);

  if ((await ctl.status()) !== 'running') {
    await ctl.start({ logFile: join(cfg.pgdata, 'startup.log') });
  } else {
    log.info('PostgreSQL is already running', { pgdata: cfg.pgdata });
  }

  await withClient(monitorSocketTarget(cfg, 'postgres'), { kind: 'postgres' }, async (q) => {
    const rows = await q('SELECT 1 FROM pg_database WHERE datname = $1', [cfg.dbname]);
    if (rows.length === 0) {
      log.info(`Creating database ${cfg.dbname}`);
      await q(`CREATE DATABASE ${cfg.dbname}`);
    }
  });

  const hbaFile = await withClient(monitorSocketTarget(cfg), { kind: 'postgres' }, async (q) => {
    await ensureExtension(q, log);
    if (cfg.authMethod !== 'trust') await ensureMonitorPassword(q, cfg.pgdata, plan.monitorPassword, log);
    const rows = await q<{ hba_file: string }>('SHOW hba_file');
    return rows[0]!.hba_file;
  });

  if (cfg.hbaLevel !== 'skip') {
    let cidr = keeperNetworkCidr(plan.address);
    if (!cidr) {
      log.warn(`${plan.address} is not on a local interface: allowing keepers from samenet`, { hostname: cfg.hostname });
      cidr = 'samenet';
    }
    // the monitor's OS users (the superuser's, and root) as autoctl_node over the socket, by
    // peer: the original pg_autoctl's local commands (show state --pgdata) connect that way
    const identFile = join(cfg.pgdata, 'pg_ident.conf');
    const ident = readFileNoFollow(identFile);
    const identNext = withPeerMap(ident, cfg.username, peerMapLinesFor(MONITOR_USER, [cfg.username, 'root']));
    if (identNext !== ident) writeFileAs(identFile, identNext, runAs);
    const type = hbaHostType(cfg.ssl);
    // keepers register as autoctl_node, then log in as their own role (group pgautofailover_keeper)
    const users = [MONITOR_USER, KEEPER_GROUP];
    const wanted = [
      ...users.map((user) => hbaLine({ type, database: cfg.dbname, user, address: cidr!, method: cfg.authMethod })),
      ...testModeTrustLines(cidr === 'samenet' ? undefined : cidr, cfg.host),
    ];
    if (tcpTestMode()) log.warn(testModeWarning(cfg.host, cidr));
    let added = 0;
    const changed = editHbaFile(
      hbaFile,
      (read) => {
        const current = withLocalPeerRecord(switchHbaHostType(read, users, type), cfg.dbname, MONITOR_USER, `${MONITOR_USER} over the Unix socket for the monitor host's own OS users (map pgaf)`);
        const missing = planHbaAdditions(current, wanted);
        added = missing.length;
        return appendHbaLines(current, missing);
      },
      runAs,
    );
    if (changed || identNext !== ident) {
      log.info('Added HBA rules for keepers', { file: hbaFile, rules: added });
      await ctl.reload();
    }
  }

  const uri = monitorUriForKeepers(cfg);
  log.info(`pgaf monitor is ready at ${uri}`);
  return uri;
}

/**
 * autoctl_node's password: the one given, else the one pgaf generated before (its file), else
 * a new one, unless the role already has a password pgaf did not set (kept). The server gets
 * a SCRAM verifier computed here, never the password; the password goes to a 0600 file
 * beside pg_autoctl.cfg, for the operator to hand to the keepers. Returns the file.
 */
export async function ensureMonitorPassword(q: Query, pgdata: string, given: string | undefined, log: Logger): Promise<string | undefined> {
  const file = secretFilePath(pgdata, 'autoctl_node.password');
  const stored = readSecretFile(file, "autoctl_node's password file");
  const [row] = await q<{ rolpassword: string | null }>('SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1', [MONITOR_USER]);
  let password = given ?? stored;
  if (password === undefined && row?.rolpassword) {
    log.info(`${MONITOR_USER} already has a password that pgaf did not set: keeping it`);
    return undefined;
  }
  if (password === undefined) {
    password = generatePassword();
    log.info(`Generated a password for ${MONITOR_USER}`);
  }
  if (stored !== password) {
    writeSecretFile(file, password + '\n');
    log.info(`${MONITOR_USER}'s password is in ${file} (mode 0600): give it to the keepers (monitor.password_file, PGPASSWORD or a pgpass file)`);
  }
  if (!scramVerifierMatches(row?.rolpassword, password)) {
    await q(`ALTER ROLE ${MONITOR_USER} PASSWORD '${scramVerifier(password)}'`);
    log.info(`Set the password of ${MONITOR_USER} (as a SCRAM-SHA-256 verifier)`);
  }
  return file;
}
