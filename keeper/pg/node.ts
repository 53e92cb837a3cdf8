// What the parts of the keeper's local Postgres share (keeper/pg/local-postgres.ts puts them
// together): the node's options, its pg_ctl and supervisor, the SSL setup in force, paths in
// PGDATA, and SQL on the local server. It is also the PgProcess part: up or down.
import { existsSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { chownNoFollow } from '../../lib/atomic-file.js';
import type { Logger } from '../../lib/log.js';
import type { OsUser } from '../../lib/pgbin.js';
import type { PgTarget } from '../../lib/pg-uri.js';
import type { AuthMethod } from '../../lib/auth-method.js';
import type { Query } from '../../lib/sql.js';
import { NO_SSL, type SslConfig } from '../../lib/ssl.js';
import { usesTcpLocally } from '../../lib/test-mode.js';
import type { PgProcess } from '../fsm/context.js';
import { KeeperCtl } from './ctl.js';
import type { HbaLevel } from './hba-plan.js';
import * as sql from './local-sql.js';
import { postmasterRunning } from '../../lib/postmaster-pid.js';
import { PgCtlSupervisor, type PostgresSupervisor } from './supervisor.js';
import { LocalSession, type RunLimits } from './local-session.js';

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

const LOCAL_CONNECT_TIMEOUT_MS = 5_000;

export class PgNode implements PgProcess {
  readonly pgdata: string;
  readonly ctl: KeeperCtl;
  readonly supervisor: PostgresSupervisor;
  readonly o: PgLocalPostgresOptions;
  readonly log: Logger;
  readonly target: PgTarget;
  /** the SSL setup from now on (keeper/pg/node-ssl.ts changes it on a reload of the config) */
  ssl: SslConfig;

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

  /** A path in PGDATA. */
  file(name: string): string {
    return join(this.pgdata, name);
  }

  /** The keeper's kept session (local-session.ts); each tick's facts keep it open. */
  private readonly session = new LocalSession((ms) => sql.openLocalSession(this.target, ms));
  private keepSession = false;

  /**
   * SQL for `fn` (over the Unix socket, as the superuser): on the kept session once the keeper
   * reads its facts with `kept` (the service), on a connection of its own before that (a
   * command that ends when it is done).
   */
  local<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    if (!this.keepSession) return sql.withLocal(this.target, fn);
    return this.session.run(fn, { connectTimeoutMs: LOCAL_CONNECT_TIMEOUT_MS });
  }

  /** `fn` on the kept session, which stays open for what follows until closeSession(). */
  kept<T>(fn: (q: Query) => Promise<T>, limits: RunLimits): Promise<T> {
    this.keepSession = true;
    return this.session.run(fn, limits);
  }

  async closeSession(): Promise<void> {
    this.keepSession = false;
    await this.session.close();
  }

  /** `dir` created with `mode` and owned by the Postgres OS user, when missing. */
  mkdirOwned(dir: string, mode: number): void {
    if (existsSync(dir)) return;
    mkdirSync(dir, { recursive: true, mode });
    chownNoFollow(dir, this.o.runAs);
  }

  /** A reload when the server runs (a stopped one reads its files when it starts). */
  async reloadIfRunning(): Promise<void> {
    if (postmasterRunning(this.pgdata)) await this.ctl.reload();
  }

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
}
