// PgLocalPostgres: the keeper's LocalPostgres (keeper/fsm/context.ts) over a real PGDATA.
// Binaries go through ctl.ts, SQL through local-sql.ts (over the Unix socket, as the
// superuser), file contents come from setup-files.ts, slots and HBA from their plans.
//
// Roles: pgautofailover_replicator and pgautofailover_monitor (and the pg_rewind grants)
// can only be created on a running primary. configure() creates them when the server runs
// as a primary; otherwise the first reconcileSlots() on a primary does (every primary step
// reaches it through refreshPeers), once per process. initdb() does not start Postgres.
import { cpSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { switchHbaHostType } from '../../lib/hba.js';
import { hbaHostType, NO_SSL, selfSignedFiles, sslConninfoParts, usesSelfSignedCert, type SslConfig } from '../../lib/ssl.js';
import { ensureSelfSignedCert } from '../../lib/ssl-files.js';
import { userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PgCtl, PgSql } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { OsUser } from '../../lib/pgbin.js';
import type { AuthMethod } from '../../lib/postgres-ctl.js';
import type { PgTarget } from '../../lib/pg-uri.js';
import { openSession, type Query, type SqlSession } from '../../lib/sql.js';
import type { LocalPostgres, PeerNode, StandbySetup } from '../fsm/context.js';
import { cleanlyShutDown, KeeperCtl, NO_SUCH_SLOT } from './ctl.js';
import { readFacts, type LocalFacts } from './facts.js';
import { chownNoFollow, writeFileAs } from '../../lib/atomic-file.js';
import { editHbaFile } from '../../lib/hba-file.js';
import { applyHba, desiredHbaLines, planHba, screenHbaHosts, type HbaLevel } from './hba-plan.js';
import * as sql from './local-sql.js';
import { HEALTH_CHECK_USER, REPLICATION_PASSFILE, REPLICATION_USER, SETTINGS_FILE, STANDBY_SETTINGS_FILE, STANDBY_SIGNAL, standbyName } from './names.js';
import { pgpassLine } from '../../lib/secrets.js';
import { conninfo, renderNoStandbySettings, renderSettings, renderStandbySettings, withIncludes, withStandbySsl } from './setup-files.js';
import { usesTcpLocally } from '../../lib/test-mode.js';
import { applySlots, desiredSlots, planSlots } from './slots.js';
import { PgCtlSupervisor, postmasterRunning, type PostgresSupervisor } from './supervisor.js';

export interface PgLocalPostgresOptions {
  pgdata: string;
  binDir: string;
  port: number;
  /** listen_addresses, e.g. 127.0.0.1 */
  host: string;
  /** unix_socket_directories: a directory the Postgres OS user owns */
  socketDir: string;
  nodeId: number;
  /** the OS user that runs the binaries, when we are root (lib/pgbin.ts postgresRunAs) */
  runAs?: OsUser;
  replicationPassword?: string;
  authMethod: AuthMethod;
  hbaLevel: HbaLevel;
  /** where the monitor's health checks come from (one HBA line) */
  monitorHost?: string;
  /** the node's [ssl] section (default: no SSL, sslmode prefer) */
  ssl?: SslConfig;
  /** the certificate's CN when a self-signed one is created (default: host) */
  hostname?: string;
  /** the server log (pg_ctl -l) */
  logFile: string;
  log: Logger;
  /** test mode (PG_REGRESS_SOCK_DIR=""): trust lines for the node's network and --pghost (lib/test-mode.ts) */
  testTrustLines?: string[];
  /** more lines the node's config asks for (--pg-hba-lan) */
  extraHbaLines?: string[];
  /** the superuser to connect as; default: the OS user that owns PGDATA */
  superuser?: string;
  timeouts?: { startSec?: number; stopSec?: number; basebackupMs?: number; rewindMs?: number };
  /** who starts and stops the postmaster; default pg_ctl (keeper/pg/supervisor.ts) */
  supervisor?: (ctl: KeeperCtl) => PostgresSupervisor;
}

/** Config files of this node kept across pg_rewind and base backups (they carry the source's). */
const NODE_LOCAL_FILES = ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf'];
const POLL_MS = 100;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class PgLocalPostgres implements LocalPostgres {
  readonly pgdata: string;
  readonly ctl: KeeperCtl;
  readonly supervisor: PostgresSupervisor;
  private readonly o: PgLocalPostgresOptions;
  private readonly log: Logger;
  private readonly target: PgTarget;
  /** the peers of the last reconcile, for configure()'s HBA */
  private peers: PeerNode[] = [];
  private rolesEnsured = false;
  private session?: SqlSession;
  private ssl: SslConfig;

  constructor(opts: PgLocalPostgresOptions) {
    this.o = opts;
    this.pgdata = opts.pgdata;
    this.log = opts.log;
    this.ssl = opts.ssl ?? NO_SSL;
    this.ctl = new KeeperCtl({ pgdata: opts.pgdata, binDir: opts.binDir, runAs: opts.runAs, log: opts.log });
    this.supervisor =
      opts.supervisor?.(this.ctl) ??
      new PgCtlSupervisor(this.ctl, { logFile: opts.logFile, startSec: opts.timeouts?.startSec, stopSec: opts.timeouts?.stopSec });
    const superuser = opts.superuser ?? opts.runAs?.name ?? userInfo().username;
    this.target = sql.localTarget(opts.socketDir, opts.port, superuser);
  }

  private file(name: string): string {
    return join(this.pgdata, name);
  }

  private local<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    return sql.withLocal(this.target, fn);
  }

  /** The keeper's every-tick queries share one connection, reopened after a failure. */
  private async persistent<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    if (!this.session || this.session.closed) {
      this.session = await openSession(this.target, { kind: 'postgres', connectTimeoutMs: 2_000, queryTimeoutMs: 5_000, applicationName: 'pgaf keeper' });
    }
    try {
      return await fn(this.session.query);
    } catch (err) {
      await this.session.close();
      this.session = undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.session?.close();
    this.session = undefined;
  }

  /** the refusals logRefusedHosts said last */
  private refusedHostsLogged = '';

  private mkdirOwned(dir: string, mode: number): void {
    if (existsSync(dir)) return;
    mkdirSync(dir, { recursive: true, mode });
    chownNoFollow(dir, this.o.runAs);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  hasData(): boolean {
    return existsSync(this.file('PG_VERSION'));
  }

  /** Like `pg_ctl status` (postmaster.pid names a live process) without spawning it each tick. */
  async isRunning(): Promise<boolean> {
    if (!this.hasData()) return false;
    return postmasterRunning(this.pgdata);
  }

  async start(): Promise<void> {
    if (await this.isRunning()) return;
    if (!usesTcpLocally(this.o.socketDir)) this.mkdirOwned(this.o.socketDir, 0o755);
    await this.supervisor.start();
  }

  async stop(mode: 'fast' | 'immediate'): Promise<void> {
    if (!this.hasData()) return;
    await this.supervisor.stop(mode);
  }

  /** initdb (local trust, host as configured), then configure(). Leaves Postgres stopped. */
  async initdb(): Promise<void> {
    if (this.hasData()) {
      this.log.info('PGDATA already holds a cluster; not running initdb', { pgdata: this.pgdata });
    } else {
      this.mkdirOwned(this.pgdata, 0o700);
      // test mode (PG_REGRESS_SOCK_DIR=""): local TCP connections trusted, as the original's initdb --auth=trust
      await this.ctl.initdb({ authHost: this.o.testTrustLines?.length ? 'trust' : this.o.authMethod });
    }
    await this.configure();
  }

  /** Our settings files and includes, HBA lines; roles when it runs as a primary; reload. */
  async configure(): Promise<void> {
    await this.ensureSelfSignedCert();
    this.writeSettings();
    this.reconcileHbaFile(this.peers);
    if (!(await this.isRunning())) return;
    await this.ctl.reload();
    await this.local(async (q) => {
      if (!(await sql.isInRecovery(q))) await this.ensureRolesWith(q, true);
    });
  }

  /** The roles (and pg_rewind grants) on a running primary; idempotent. */
  async ensureRoles(): Promise<void> {
    await this.local((q) => this.ensureRolesWith(q, true));
  }

  private async ensureRolesWith(q: Query, force: boolean): Promise<void> {
    if (this.rolesEnsured && !force) return;
    const created = await sql.ensureRoles(q, this.o.replicationPassword);
    if (created.length) this.log.info(`Created roles ${created.join(', ')}`);
    this.rolesEnsured = true;
  }

  // ---- SSL --------------------------------------------------------------------------------

  /** The SSL setup from now on (a reload of the node's config); applySsl() puts it on disk. */
  setSsl(ssl: SslConfig): void {
    this.ssl = ssl;
  }

  /** The self-signed certificate in PGDATA when the config names it and it is missing. */
  private async ensureSelfSignedCert(): Promise<void> {
    if (!usesSelfSignedCert(this.ssl, this.pgdata) || !this.hasData()) return;
    await ensureSelfSignedCert({ ...selfSignedFiles(this.pgdata), hostname: this.o.hostname ?? this.o.host, runAs: this.o.runAs, log: this.log });
  }

  /**
   * The current SSL setup on disk, online: certificate (self-signed), ssl settings, HBA records
   * of our users as host or hostssl, the sslmode of primary_conninfo; then a reload (no restart).
   */
  async applySsl(): Promise<void> {
    await this.ensureSelfSignedCert();
    this.writeSettings();
    const hbaFile = this.file('pg_hba.conf');
    if (this.o.hbaLevel !== 'skip' && existsSync(hbaFile)) {
      const type = hbaHostType(this.ssl);
      if (editHbaFile(hbaFile, (text) => switchHbaHostType(text, [REPLICATION_USER, HEALTH_CHECK_USER], type), this.o.runAs)) {
        this.log.info(`Switched the HBA rules of ${REPLICATION_USER} and ${HEALTH_CHECK_USER} to ${type}`);
      }
      this.reconcileHbaFile(this.peers);
    }
    const standbyFile = this.file(STANDBY_SETTINGS_FILE);
    if (existsSync(standbyFile)) {
      const text = readFileSync(standbyFile, 'utf8');
      const next = withStandbySsl(text, this.ssl);
      if (next !== text) {
        writeFileAs(standbyFile, next, this.o.runAs);
        this.log.info(`primary_conninfo now uses sslmode ${this.ssl.sslMode}`);
      }
    }
    if (await this.isRunning()) await this.ctl.reload();
  }

  /** The replication password in a 0600 pgpass file in PGDATA (created when missing); undefined without a password. */
  private replicationPassfile(): string | undefined {
    const password = this.o.replicationPassword;
    if (!password) return undefined;
    this.mkdirOwned(this.pgdata, 0o700);
    const path = this.file(REPLICATION_PASSFILE);
    const text = pgpassLine({ user: REPLICATION_USER, password }) + '\n';
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileAs(path, text, this.o.runAs);
    return path;
  }

  /** postgresql-auto-failover.conf (always rewritten: it may come from another node), the includes, a standby file. */
  private writeSettings(): void {
    const { runAs } = this.o;
    this.replicationPassfile();
    writeFileAs(
      this.file(SETTINGS_FILE),
      renderSettings({ listenAddresses: this.o.host, port: this.o.port, socketDir: this.o.socketDir, authMethod: this.o.authMethod, ssl: this.ssl }),
      runAs,
    );
    if (!existsSync(this.file(STANDBY_SETTINGS_FILE))) writeFileAs(this.file(STANDBY_SETTINGS_FILE), renderNoStandbySettings(), runAs);
    this.writeIncludes();
  }

  private writeIncludes(): void {
    const conf = this.file('postgresql.conf');
    const current = existsSync(conf) ? readFileSync(conf, 'utf8') : '';
    const next = withIncludes(current);
    if (next.changed) {
      writeFileAs(conf, next.text, this.o.runAs);
      this.log.info(`Added include lines for ${SETTINGS_FILE} and ${STANDBY_SETTINGS_FILE} to postgresql.conf`);
    }
  }

  async systemIdentifier(): Promise<string> {
    const id = (await this.ctl.controlData())['Database system identifier'];
    if (!id) throw new PgCtl(`pg_controldata shows no system identifier for ${this.pgdata}`);
    return id;
  }

  async isInRecovery(): Promise<boolean> {
    if (!(await this.isRunning())) return existsSync(this.file(STANDBY_SIGNAL));
    return this.local(sql.isInRecovery);
  }

  /** The primary_conninfo this standby streams with now; undefined when it does not stream. */
  async streamingConninfo(): Promise<string | undefined> {
    if (!(await this.isRunning())) return undefined;
    return this.local(sql.walReceiverConninfo);
  }

  /** `pg_ctl promote -w`; nothing to do on a running primary. */
  async promote(): Promise<void> {
    if ((await this.isRunning()) && !(await this.local(sql.isInRecovery))) {
      this.log.info('Postgres is not in recovery: nothing to promote');
      return;
    }
    const res = await this.ctl.promote(this.o.timeouts?.startSec ?? 60);
    if (res === 'not-in-recovery') this.log.info('Postgres is not in recovery: nothing to promote');
  }

  async checkpoint(): Promise<void> {
    await this.local(sql.checkpoint);
  }

  // ---- settings through ALTER SYSTEM ------------------------------------------------------

  /** ALTER SYSTEM, reload, and wait until our session sees the value. */
  private async alterAndReload(name: string, value: string, timeoutMs = 10_000): Promise<void> {
    await this.local(async (q) => {
      await sql.alterSystem(q, name, value);
      await sql.reloadConf(q);
      const deadline = Date.now() + timeoutMs;
      let seen = await sql.showSetting(q, name);
      while (seen !== value && Date.now() < deadline) {
        await sleep(50);
        seen = await sql.showSetting(q, name);
      }
      if (seen !== value) {
        throw new PgSql(`${name} is still "${seen}" after ALTER SYSTEM and a reload (wanted "${value}")`, { retryable: true });
      }
    });
    this.log.info(`Set ${name}`, { value });
  }

  async setSynchronousStandbyNames(value: string): Promise<void> {
    await this.alterAndReload('synchronous_standby_names', value);
  }

  async synchronousStandbyNames(): Promise<string> {
    return this.local((q) => sql.showSetting(q, 'synchronous_standby_names'));
  }

  async setReadOnly(on: boolean): Promise<void> {
    await this.alterAndReload('default_transaction_read_only', on ? 'on' : 'off');
  }

  async waitForStandbyCatchUp(timeoutMs: number): Promise<boolean> {
    return this.local(async (q) => {
      const lsn = await sql.currentFlushLsn(q);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (await sql.standbyConfirmed(q, lsn)) return true;
        if (Date.now() >= deadline) {
          this.log.warn('No standby confirmed the current LSN in time', { lsn, timeoutMs });
          return false;
        }
        await sleep(POLL_MS);
      }
    });
  }

  async waitForReplay(lsn: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await this.local((q) => sql.replayReached(q, lsn)).catch((err: Error) => {
        this.log.debug(`Cannot read the replay LSN yet: ${err.message}`);
        return false;
      });
      if (ok) return true;
      if (Date.now() >= deadline) return false;
      await sleep(POLL_MS);
    }
  }

  // ---- standby setup ----------------------------------------------------------------------

  async writeStandbySetup(setup: StandbySetup): Promise<void> {
    const { runAs } = this.o;
    this.writeIncludes();
    writeFileAs(
      this.file(STANDBY_SETTINGS_FILE),
      renderStandbySettings({
        nodeId: this.o.nodeId,
        upstream: setup.upstream ? { host: setup.upstream.host, port: setup.upstream.port } : undefined,
        targetLsn: setup.targetLsn,
        passfile: this.replicationPassfile(),
        ssl: this.ssl,
      }),
      runAs,
    );
    if (!existsSync(this.file(STANDBY_SIGNAL))) writeFileAs(this.file(STANDBY_SIGNAL), '', runAs);
    this.log.info('Wrote the standby setup', {
      upstream: setup.upstream ? `${setup.upstream.name} (${setup.upstream.host}:${setup.upstream.port})` : 'none',
      target_lsn: setup.targetLsn,
    });
    if (await this.isRunning()) await this.ctl.reload();
  }

  async removeStandbySetup(): Promise<void> {
    rmSync(this.file(STANDBY_SIGNAL), { force: true });
    writeFileAs(this.file(STANDBY_SETTINGS_FILE), renderNoStandbySettings(), this.o.runAs);
    if (await this.isRunning()) await this.ctl.reload();
  }

  // ---- copies of another node -------------------------------------------------------------

  /**
   * Reads this node's own config files (and its self-signed certificate, which a copy of the
   * source must not replace); the returned function writes them back, dropping the source's.
   */
  private keepLocalConfig(): () => void {
    const own = selfSignedFiles(this.pgdata);
    const certs = this.ssl.certFile === own.certFile ? ['server.crt', 'server.key'] : [];
    const saved = [...NODE_LOCAL_FILES, ...certs].filter((f) => existsSync(this.file(f))).map((f) => [f, readFileSync(this.file(f), 'utf8')] as const);
    return () => {
      for (const f of certs) rmSync(this.file(f), { force: true });
      for (const [f, text] of saved) {
        if (f === 'pg_hba.conf') editHbaFile(this.file(f), () => text, this.o.runAs);
        else writeFileAs(this.file(f), text, this.o.runAs);
      }
    };
  }

  async basebackup(from: PeerNode): Promise<void> {
    if (await this.isRunning()) await this.stop('fast');
    const tmp = join(dirname(this.pgdata), `.${basename(this.pgdata)}.pgaf-basebackup`);
    rmSync(tmp, { recursive: true, force: true });
    const args = {
      host: from.host,
      port: from.port,
      user: REPLICATION_USER,
      targetDir: tmp,
      sslConninfo: conninfo({ ...sslConninfoParts(this.ssl), passfile: this.replicationPassfile() }),
      timeoutMs: this.o.timeouts?.basebackupMs ?? 2 * 3600_000,
    };
    let res = await this.ctl.basebackup({ ...args, slot: standbyName(this.o.nodeId) });
    if (res.code !== 0 && NO_SUCH_SLOT.test(res.stderr)) {
      this.log.info(`${from.name} has no slot ${standbyName(this.o.nodeId)} yet: taking the base backup without one`);
      rmSync(tmp, { recursive: true, force: true });
      res = await this.ctl.basebackup(args);
    }
    if (res.code !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new PgCtl(`pg_basebackup from ${from.name} (${from.host}:${from.port}) failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-3).join(' ')}`, {
        retryable: true,
      });
    }
    const restore = this.keepLocalConfig();
    this.replaceDataDir(tmp);
    restore();
    this.log.info('Base backup in place', { from: from.name, pgdata: this.pgdata });
    await this.configure();
  }

  /**
   * PGDATA's contents replaced by `src`'s, keeping PGDATA itself (path, owner, mode, mount
   * point). PG_VERSION goes first and comes back last: hasData() is false until it is whole.
   */
  private replaceDataDir(src: string): void {
    this.mkdirOwned(this.pgdata, 0o700);
    rmSync(this.file('PG_VERSION'), { force: true });
    for (const e of readdirSync(this.pgdata)) rmSync(join(this.pgdata, e), { recursive: true, force: true });
    const entries = readdirSync(src).filter((e) => e !== 'PG_VERSION');
    for (const e of [...entries, 'PG_VERSION']) this.moveInto(join(src, e), join(this.pgdata, e));
    rmSync(src, { recursive: true, force: true });
  }

  private moveInto(from: string, to: string): void {
    try {
      renameSync(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      cpSync(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
      if (this.o.runAs) chownTree(to, this.o.runAs);
      rmSync(from, { recursive: true, force: true });
    }
  }

  async rewind(from: PeerNode): Promise<boolean> {
    if (!this.hasData()) return false;
    if (await this.isRunning()) await this.stop('fast');
    try {
      if (!cleanlyShutDown(await this.ctl.controlData())) {
        // postgres --single refuses standby mode; the caller writes the standby setup again.
        rmSync(this.file(STANDBY_SIGNAL), { force: true });
        rmSync(this.file('recovery.signal'), { force: true });
        await this.ctl.singleUserRecovery();
        const state = (await this.ctl.controlData())['Database cluster state'];
        if (!cleanlyShutDown({ 'Database cluster state': state ?? '' })) {
          this.log.warn(`After crash recovery the cluster state is "${state}": cannot rewind`);
          return false;
        }
      }
    } catch (err) {
      this.log.warn(`Cannot bring PGDATA to a clean shutdown for pg_rewind: ${(err as Error).message}`);
      return false;
    }
    const restore = this.keepLocalConfig();
    const source = conninfo({
      host: from.host,
      port: from.port,
      user: REPLICATION_USER,
      dbname: 'postgres',
      application_name: `${standbyName(this.o.nodeId)}_rewind`,
      ...sslConninfoParts(this.ssl),
      passfile: this.replicationPassfile(),
      connect_timeout: 5,
    });
    const res = await this.ctl.rewind({ sourceConninfo: source, timeoutMs: this.o.timeouts?.rewindMs ?? 3600_000 });
    restore();
    await this.ensureSelfSignedCert();
    this.writeSettings();
    if (res.code !== 0) {
      this.log.warn(`pg_rewind from ${from.name} failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-2).join(' ')}`);
      return false;
    }
    this.log.info('Rewound PGDATA', { from: from.name });
    return true;
  }

  // ---- slots and HBA ----------------------------------------------------------------------

  async reconcileSlots(peers: PeerNode[], advance: boolean): Promise<void> {
    this.peers = peers;
    await this.local(async (q) => {
      const inRecovery = await sql.isInRecovery(q);
      if (!inRecovery) await this.ensureRolesWith(q, false);
      const current = await sql.listSlots(q);
      const replayLsn = inRecovery ? ((await sql.replayLsn(q)) ?? undefined) : undefined;
      const steps = planSlots(current, desiredSlots(peers, this.o.nodeId), { advance: advance && inRecovery, replayLsn });
      await applySlots(q, steps, this.log);
    });
  }

  async dropAllSlots(): Promise<void> {
    await this.local(async (q) => {
      const names = await sql.ourSlotNames(q);
      await applySlots(
        q,
        names.map((name) => ({ kind: 'drop', name })),
        this.log,
      );
    });
  }

  async reconcileHba(peers: PeerNode[]): Promise<void> {
    this.peers = peers;
    if (this.reconcileHbaFile(peers) > 0 && (await this.isRunning())) await this.ctl.reload();
  }

  /**
   * One warning per peer (or monitor) whose host the keeper will not put in pg_hba.conf, said
   * again only when the set of refused hosts changes (not every tick).
   */
  private logRefusedHosts(others: PeerNode[]): void {
    const sentences: string[] = [];
    for (const r of screenHbaHosts(others.map((p) => p.host)).refused) {
      for (const p of others.filter((o) => o.host === r.host)) {
        sentences.push(`Refusing to write an HBA rule for node ${p.nodeId} ${JSON.stringify(p.name)}: its host ${JSON.stringify(r.host)} is not a host name or an address (${r.problem})`);
      }
    }
    for (const r of screenHbaHosts(this.o.monitorHost === undefined ? [] : [this.o.monitorHost]).refused) {
      sentences.push(`Refusing to write an HBA rule for the monitor: its host ${JSON.stringify(r.host)} is not a host name or an address (${r.problem})`);
    }
    const key = sentences.join('\n');
    if (key === this.refusedHostsLogged) return;
    this.refusedHostsLogged = key;
    for (const s of sentences) this.log.warn(s);
  }

  /** Appends missing HBA lines; returns how many. */
  private reconcileHbaFile(peers: PeerNode[]): number {
    const hbaFile = this.file('pg_hba.conf');
    if (this.o.hbaLevel === 'skip' || !existsSync(hbaFile)) return 0;
    const others = peers.filter((p) => p.nodeId !== this.o.nodeId);
    this.logRefusedHosts(others);
    const desired = desiredHbaLines({
      peerHosts: others.map((p) => p.host),
      monitorHost: this.o.monitorHost,
      authMethod: this.o.authMethod,
      hbaLevel: this.o.hbaLevel,
      hostType: hbaHostType(this.ssl),
      extra: [...(this.o.extraHbaLines ?? []), ...(this.o.testTrustLines ?? [])],
    });
    const steps = planHba(readFileSync(hbaFile, 'utf8'), desired);
    const added = applyHba(hbaFile, steps, this.o.runAs);
    if (added) this.log.info(`Added ${added} line(s) to pg_hba.conf`, { lines: steps.filter((s) => s.kind === 'create').map((s) => s.line).join('; ') });
    return added;
  }

  // ---- facts ------------------------------------------------------------------------------

  async readFacts(): Promise<LocalFacts> {
    return readFacts({
      isRunning: () => this.isRunning(),
      queryFacts: () =>
        this.persistent(async (q) => {
          const pos = await sql.position(q);
          return { ...pos, replication: await sql.standbyReplication(q), serving: await sql.serving(q) };
        }),
      stoppedFacts: async () => {
        if (!this.hasData()) return { inRecovery: false, lsn: '0/0', timeline: 1 };
        const c = await this.ctl.controlData();
        return {
          inRecovery: existsSync(this.file(STANDBY_SIGNAL)),
          lsn: c['Latest checkpoint location'] ?? '0/0',
          timeline: Number(c["Latest checkpoint's TimeLineID"] ?? 1),
        };
      },
    });
  }
}

function chownTree(path: string, user: OsUser): void {
  lchownSync(path, user.uid, user.gid);
  if (lstatSync(path).isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), user);
}
