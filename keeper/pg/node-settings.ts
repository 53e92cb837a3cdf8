// The keeper's settings on its local Postgres: our files in PGDATA (postgresql-auto-failover
// .conf, the standby file with primary_conninfo, standby.signal, the include lines, the
// replication pgpass file; contents from setup-files.ts) and the settings a primary changes
// online through ALTER SYSTEM. Settings written to a running server are reloaded.
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAs } from '../../lib/atomic-file.js';
import { PgSql } from '../../lib/errors.js';
import { pgpassLine } from '../../lib/secrets.js';
import type { PgSettings, PgStandbySetup, StandbySetup } from '../fsm/context.js';
import * as sql from './local-sql.js';
import { REPLICATION_PASSFILE, REPLICATION_USER, SETTINGS_FILE, STANDBY_SETTINGS_FILE, STANDBY_SIGNAL } from './names.js';
import type { PgNode } from './node.js';
import { renderNoStandbySettings, renderSettings, renderStandbySettings, withIncludes, withStandbySsl } from './setup-files.js';

/** how often a primary turning synchronous replication on looks whether a standby confirmed its LSN: every wait_primary → primary (end of a bring-up, a rejoin, a `set`) waits on it */
const CATCH_UP_POLL_MS = 10;

export class NodeSettings implements PgSettings, PgStandbySetup {
  constructor(private readonly node: PgNode) {}

  /** The replication password in a 0600 pgpass file in PGDATA (created when missing); undefined without a password. */
  replicationPassfile(): string | undefined {
    const { node } = this;
    const password = node.o.replicationPassword;
    if (!password) return undefined;
    node.mkdirOwned(node.pgdata, 0o700);
    const path = node.file(REPLICATION_PASSFILE);
    const text = pgpassLine({ user: REPLICATION_USER, password }) + '\n';
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileAs(path, text, node.o.runAs);
    return path;
  }

  /** postgresql-auto-failover.conf (always rewritten: it may come from another node), the includes, a standby file. */
  writeSettings(): void {
    const { node } = this;
    const { o } = node;
    this.replicationPassfile();
    writeFileAs(
      node.file(SETTINGS_FILE),
      renderSettings({ listenAddresses: o.host, port: o.port, socketDir: o.socketDir, authMethod: o.authMethod, ssl: node.ssl }),
      o.runAs,
    );
    if (!existsSync(node.file(STANDBY_SETTINGS_FILE))) writeFileAs(node.file(STANDBY_SETTINGS_FILE), renderNoStandbySettings(), o.runAs);
    this.writeIncludes();
  }

  private writeIncludes(): void {
    const conf = this.node.file('postgresql.conf');
    const current = existsSync(conf) ? readFileSync(conf, 'utf8') : '';
    const next = withIncludes(current);
    if (next.changed) {
      writeFileAs(conf, next.text, this.node.o.runAs);
      this.node.log.info(`Added include lines for ${SETTINGS_FILE} and ${STANDBY_SETTINGS_FILE} to postgresql.conf`);
    }
  }

  /** The sslmode of primary_conninfo in the standby file as the SSL setup says (no reload). */
  rewriteStandbySsl(): void {
    const { node } = this;
    const standbyFile = node.file(STANDBY_SETTINGS_FILE);
    if (!existsSync(standbyFile)) return;
    const text = readFileSync(standbyFile, 'utf8');
    const next = withStandbySsl(text, node.ssl);
    if (next !== text) {
      writeFileAs(standbyFile, next, node.o.runAs);
      node.log.info(`primary_conninfo now uses sslmode ${node.ssl.sslMode}`);
    }
  }

  async writeStandbySetup(setup: StandbySetup): Promise<void> {
    const { node } = this;
    const { runAs } = node.o;
    this.writeIncludes();
    writeFileAs(
      node.file(STANDBY_SETTINGS_FILE),
      renderStandbySettings({
        nodeId: node.o.nodeId,
        upstream: setup.upstream ? { host: setup.upstream.host, port: setup.upstream.port } : undefined,
        targetLsn: setup.targetLsn,
        passfile: this.replicationPassfile(),
        ssl: node.ssl,
      }),
      runAs,
    );
    if (!existsSync(node.file(STANDBY_SIGNAL))) writeFileAs(node.file(STANDBY_SIGNAL), '', runAs);
    node.log.info('Wrote the standby setup', {
      upstream: setup.upstream ? `${setup.upstream.name} (${setup.upstream.host}:${setup.upstream.port})` : 'none',
      target_lsn: setup.targetLsn,
    });
    await node.reloadIfRunning();
  }

  async removeStandbySetup(): Promise<void> {
    const { node } = this;
    rmSync(node.file(STANDBY_SIGNAL), { force: true });
    writeFileAs(node.file(STANDBY_SETTINGS_FILE), renderNoStandbySettings(), node.o.runAs);
    await node.reloadIfRunning();
  }

  /**
   * ALTER SYSTEM, reload, and wait until our session sees the value. Nothing is written when
   * postgresql.auto.conf already has the last word on it with this value and it is in effect
   * (a promotion finds what prepare_promotion set): one read of the files instead of a write,
   * an fsync and a reload on the way to taking writes.
   */
  private async alterAndReload(name: string, value: string, timeoutMs = 10_000): Promise<void> {
    const changed = await this.node.local(async (q) => {
      if ((await sql.showSetting(q, name)) === value && (await sql.autoConfSetting(q, name)) === value) return false;
      await sql.alterSystem(q, name, value);
      // already in effect (a standby's empty synchronous_standby_names before a promotion):
      // the file now says the same, no reload to wait for
      if ((await sql.showSetting(q, name)) === value) return false;
      await sql.reloadConf(q);
      const deadline = Date.now() + timeoutMs;
      let seen = await sql.showSetting(q, name);
      while (seen !== value && Date.now() < deadline) {
        await sleep(2); // a backend applies a reload between two statements: a few ms
        seen = await sql.showSetting(q, name);
      }
      if (seen !== value) {
        throw new PgSql(`${name} is still "${seen}" after ALTER SYSTEM and a reload (wanted "${value}")`, { retryable: true });
      }
      return true;
    });
    if (changed) this.node.log.info(`Set ${name}`, { value });
  }

  async setSynchronousStandbyNames(value: string): Promise<void> {
    await this.alterAndReload('synchronous_standby_names', value);
  }

  async synchronousStandbyNames(): Promise<string> {
    return this.node.local((q) => sql.showSetting(q, 'synchronous_standby_names'));
  }

  async setReadOnly(on: boolean): Promise<void> {
    await this.alterAndReload('default_transaction_read_only', on ? 'on' : 'off');
  }

  async waitForStandbyCatchUp(timeoutMs: number): Promise<boolean> {
    return this.node.local(async (q) => {
      const lsn = await sql.currentFlushLsn(q);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (await sql.standbyConfirmed(q, lsn)) return true;
        if (Date.now() >= deadline) {
          this.node.log.warn('No standby confirmed the current LSN in time', { lsn, timeoutMs });
          return false;
        }
        await sleep(CATCH_UP_POLL_MS);
      }
    });
  }
}
