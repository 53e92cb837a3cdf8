// PgLocalPostgres: the keeper's LocalPostgres (keeper/fsm/context.ts) over a real PGDATA, put
// together from one part per concern:
//   node.ts           shared ground: options, pg_ctl, supervisor, SQL; start and stop (PgProcess)
//   node-settings.ts  our settings files, the standby setup, ALTER SYSTEM (PgSettings, PgStandbySetup)
//   node-hba.ts       the keeper's writes to pg_hba.conf, peer hosts screened first
//   node-ssl.ts       the self-signed certificate and a changed SSL setup put on disk
//   data-copy.ts      base backup and pg_rewind (PgDataCopy)
//   node-facts.ts     the facts of each tick
// This file holds the bring-up (initdb, configure, roles: PgBringUp), recovery and promotion
// (PgRecovery) and the slots and HBA of the peers (PgPeers).
//
// Roles: pgautofailover_replicator and pgautofailover_monitor (and the pg_rewind grants)
// can only be created on a running primary. configure() creates them when the server runs
// as a primary; otherwise the first reconcileSlots() on a primary does (every primary step
// reaches it through refreshPeers), once per process. initdb() does not start Postgres.
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { PgCtl } from '../../lib/errors.js';
import type { Query } from '../../lib/sql.js';
import type { SslConfig } from '../../lib/ssl.js';
import type { LocalPostgres, PeerNode, StandbySetup } from '../fsm/context.js';
import type { KeeperCtl } from './ctl.js';
import { DataCopy } from './data-copy.js';
import type { LocalFacts } from './facts.js';
import * as sql from './local-sql.js';
import { STANDBY_SIGNAL } from './names.js';
import { PgNode, type PgLocalPostgresOptions } from './node.js';
import { NodeFacts } from './node-facts.js';
import { NodeHba } from './node-hba.js';
import { NodeSettings } from './node-settings.js';
import { NodeSsl } from './node-ssl.js';
import { applySlots, desiredSlots, planSlots } from './slots.js';
import type { PostgresSupervisor } from './supervisor.js';

export type { PgLocalPostgresOptions } from './node.js';

const POLL_MS = 100;
/** how often a wait for replay looks (a switchover waits on it) */
const REPLAY_POLL_MS = 10;
/** how often a promotion looks whether it is done: PostgreSQL 15 promotes in 30-50 ms here */
const PROMOTE_POLL_MS = 2;

export class PgLocalPostgres implements LocalPostgres {
  readonly pgdata: string;
  readonly ctl: KeeperCtl;
  readonly supervisor: PostgresSupervisor;
  private readonly node: PgNode;
  private readonly settings: NodeSettings;
  private readonly hba: NodeHba;
  private readonly ssl: NodeSsl;
  private readonly copy: DataCopy;
  private readonly facts: NodeFacts;
  private rolesEnsured = false;

  constructor(opts: PgLocalPostgresOptions) {
    const node = new PgNode(opts);
    this.node = node;
    this.pgdata = node.pgdata;
    this.ctl = node.ctl;
    this.supervisor = node.supervisor;
    this.settings = new NodeSettings(node);
    this.hba = new NodeHba(node);
    this.ssl = new NodeSsl(node, this.settings, this.hba);
    this.copy = new DataCopy(node, { settings: this.settings, hba: this.hba, ssl: this.ssl, configure: () => this.configure() });
    this.facts = new NodeFacts(node);
  }

  private local<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    return this.node.local(fn);
  }

  async close(): Promise<void> {
    await this.facts.close();
  }

  readFacts(): Promise<LocalFacts> {
    return this.facts.read();
  }

  // ---- PgProcess: node.ts -----------------------------------------------------------------

  hasData(): boolean {
    return this.node.hasData();
  }

  isRunning(): Promise<boolean> {
    return this.node.isRunning();
  }

  start(): Promise<void> {
    return this.node.start();
  }

  stop(mode: 'fast' | 'immediate'): Promise<void> {
    return this.node.stop(mode);
  }

  // ---- PgBringUp --------------------------------------------------------------------------

  /** initdb (local trust, host as configured), then configure(). Leaves Postgres stopped. */
  async initdb(): Promise<void> {
    const { o } = this.node;
    if (this.hasData()) {
      this.node.log.info('PGDATA already holds a cluster; not running initdb', { pgdata: this.pgdata });
    } else {
      this.node.mkdirOwned(this.pgdata, 0o700);
      // test mode (PG_REGRESS_SOCK_DIR=""): local TCP connections trusted, as the original's initdb --auth=trust
      await this.ctl.initdb({ authHost: o.testTrustLines?.length ? 'trust' : o.authMethod });
    }
    await this.configure();
  }

  /** Our settings files and includes, HBA lines; roles when it runs as a primary; reload. */
  async configure(): Promise<void> {
    await this.ssl.ensureCert();
    this.settings.writeSettings();
    this.hba.reconcile(this.hba.peers);
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
    const created = await sql.ensureRoles(q, this.node.o.replicationPassword);
    if (created.length) this.node.log.info(`Created roles ${created.join(', ')}`);
    this.rolesEnsured = true;
  }

  async systemIdentifier(): Promise<string> {
    const id = (await this.ctl.controlData())['Database system identifier'];
    if (!id) throw new PgCtl(`pg_controldata shows no system identifier for ${this.pgdata}`);
    return id;
  }

  // ---- SSL: node-ssl.ts -------------------------------------------------------------------

  /** The SSL setup from now on (a reload of the node's config); applySsl() puts it on disk. */
  setSsl(ssl: SslConfig): void {
    this.ssl.set(ssl);
  }

  /** The current SSL setup on disk, online (no restart). */
  applySsl(): Promise<void> {
    return this.ssl.apply();
  }

  // ---- PgRecovery -------------------------------------------------------------------------

  async isInRecovery(): Promise<boolean> {
    if (!(await this.isRunning())) return existsSync(this.node.file(STANDBY_SIGNAL));
    return this.local(sql.isInRecovery);
  }

  /** The primary_conninfo this standby streams with now; undefined when it does not stream. */
  async streamingConninfo(): Promise<string | undefined> {
    if (!(await this.isRunning())) return undefined;
    return this.local(sql.walReceiverConninfo);
  }

  /**
   * Promotes this standby over one session: pg_promote() without its own wait (which looks
   * only every 100 ms), then pg_is_in_recovery() every 2 ms until the server takes writes:
   * every switchover and failover waits on this. Nothing to do on a running primary.
   */
  async promote(): Promise<void> {
    if (!(await this.isRunning())) throw new PgCtl(`Postgres in ${this.node.pgdata} is not running: cannot promote it`, { retryable: true });
    const timeoutSec = this.node.o.timeouts?.startSec ?? 60;
    const outcome = await this.local(async (q) => {
      if (!(await sql.isInRecovery(q))) return 'primary';
      this.node.log.info('Promoting PostgreSQL', { pgdata: this.node.pgdata });
      await sql.promoteNoWait(q);
      const deadline = Date.now() + timeoutSec * 1000;
      while (await sql.isInRecovery(q)) {
        if (Date.now() >= deadline) return 'timeout';
        await sleep(PROMOTE_POLL_MS);
      }
      return 'promoted';
    });
    if (outcome === 'primary') this.node.log.debug('Postgres is not in recovery: nothing to promote');
    if (outcome === 'timeout') throw new PgCtl(`Postgres in ${this.node.pgdata} was still in recovery ${timeoutSec}s after pg_promote()`, { retryable: true });
  }

  async checkpoint(): Promise<void> {
    await this.local(sql.checkpoint);
  }

  /**
   * Until this standby replayed `lsn` (true) or `timeoutMs` passed (false). A promotion waits
   * on it, so it looks every 10 ms, over one connection while the server answers.
   */
  async waitForReplay(lsn: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await this.local(async (q) => {
        for (;;) {
          if (await sql.replayReached(q, lsn)) return true;
          if (Date.now() >= deadline) return false;
          await sleep(REPLAY_POLL_MS);
        }
      }).catch((err: Error) => {
        this.node.log.debug(`Cannot read the replay LSN yet: ${err.message}`);
        return false;
      });
      if (ok) return true;
      if (Date.now() >= deadline) return false;
      await sleep(POLL_MS);
    }
  }

  // ---- PgSettings and PgStandbySetup: node-settings.ts ------------------------------------

  setSynchronousStandbyNames(value: string): Promise<void> {
    return this.settings.setSynchronousStandbyNames(value);
  }

  synchronousStandbyNames(): Promise<string> {
    return this.settings.synchronousStandbyNames();
  }

  setReadOnly(on: boolean): Promise<void> {
    return this.settings.setReadOnly(on);
  }

  waitForStandbyCatchUp(timeoutMs: number): Promise<boolean> {
    return this.settings.waitForStandbyCatchUp(timeoutMs);
  }

  writeStandbySetup(setup: StandbySetup): Promise<void> {
    return this.settings.writeStandbySetup(setup);
  }

  removeStandbySetup(): Promise<void> {
    return this.settings.removeStandbySetup();
  }

  // ---- PgDataCopy: data-copy.ts -----------------------------------------------------------

  basebackup(from: PeerNode): Promise<void> {
    return this.copy.basebackup(from);
  }

  rewind(from: PeerNode): Promise<boolean> {
    return this.copy.rewind(from);
  }

  // ---- PgPeers: slots here, HBA in node-hba.ts --------------------------------------------

  async reconcileSlots(peers: PeerNode[], advance: boolean): Promise<void> {
    this.hba.peers = peers;
    await this.local(async (q) => {
      const inRecovery = await sql.isInRecovery(q);
      if (!inRecovery) await this.ensureRolesWith(q, false);
      const current = await sql.listSlots(q);
      const replayLsn = inRecovery ? ((await sql.replayLsn(q)) ?? undefined) : undefined;
      const steps = planSlots(current, desiredSlots(peers, this.node.o.nodeId), { advance: advance && inRecovery, replayLsn });
      await applySlots(q, steps, this.node.log);
    });
  }

  async dropAllSlots(): Promise<void> {
    await this.local(async (q) => {
      const names = await sql.ourSlotNames(q);
      await applySlots(
        q,
        names.map((name) => ({ kind: 'drop', name })),
        this.node.log,
      );
    });
  }

  async reconcileHba(peers: PeerNode[]): Promise<void> {
    if (this.hba.reconcile(peers) > 0) await this.node.reloadIfRunning();
  }
}
