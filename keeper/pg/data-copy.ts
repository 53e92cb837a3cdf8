// PGDATA made a copy of another node: a base backup (taken beside PGDATA, then moved in with
// PG_VERSION last) or pg_rewind (after single-user crash recovery when the cluster was not
// shut down cleanly). Both copy the source's files: this node's postgresql.conf, pg_hba.conf,
// pg_ident.conf and self-signed certificate are put back, our settings file rewritten.
import { cpSync, existsSync, lchownSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAs } from '../../lib/atomic-file.js';
import { PgCtl } from '../../lib/errors.js';
import type { OsUser } from '../../lib/pgbin.js';
import { selfSignedFiles, sslConninfoParts } from '../../lib/ssl.js';
import type { PeerNode, PgDataCopy } from '../fsm/context.js';
import { cleanlyShutDown, NO_SUCH_SLOT } from './ctl.js';
import { REPLICATION_USER, STANDBY_SIGNAL, standbyName } from './names.js';
import type { NodeHba } from './node-hba.js';
import type { NodeSettings } from './node-settings.js';
import type { NodeSsl } from './node-ssl.js';
import type { PgNode } from './node.js';
import { conninfo } from './setup-files.js';

/** Config files of this node kept across pg_rewind and base backups (they carry the source's). */
const NODE_LOCAL_FILES = ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf'];

export interface DataCopyParts {
  settings: NodeSettings;
  hba: NodeHba;
  ssl: NodeSsl;
  /** our settings, users and HBA on the copied cluster (PgBringUp.configure) */
  configure(): Promise<void>;
}

export class DataCopy implements PgDataCopy {
  constructor(
    private readonly node: PgNode,
    private readonly parts: DataCopyParts,
  ) {}

  /**
   * Reads this node's own config files (and its self-signed certificate, which a copy of the
   * source must not replace); the returned function writes them back, dropping the source's.
   */
  private keepLocalConfig(): () => void {
    const { node } = this;
    const own = selfSignedFiles(node.pgdata);
    const certs = node.ssl.certFile === own.certFile ? ['server.crt', 'server.key'] : [];
    const saved = [...NODE_LOCAL_FILES, ...certs].filter((f) => existsSync(node.file(f))).map((f) => [f, readFileSync(node.file(f), 'utf8')] as const);
    return () => {
      for (const f of certs) rmSync(node.file(f), { force: true });
      for (const [f, text] of saved) {
        if (f === 'pg_hba.conf') this.parts.hba.restore(text);
        else writeFileAs(node.file(f), text, node.o.runAs);
      }
    };
  }

  async basebackup(from: PeerNode): Promise<void> {
    const { node } = this;
    if (await node.isRunning()) await node.stop('fast');
    const tmp = join(dirname(node.pgdata), `.${basename(node.pgdata)}.pgaf-basebackup`);
    rmSync(tmp, { recursive: true, force: true });
    const args = {
      host: from.host,
      port: from.port,
      user: REPLICATION_USER,
      targetDir: tmp,
      sslConninfo: conninfo({ ...sslConninfoParts(node.ssl), passfile: this.parts.settings.replicationPassfile() }),
      timeoutMs: node.o.timeouts?.basebackupMs ?? 2 * 3600_000,
    };
    let res = await node.ctl.basebackup({ ...args, slot: standbyName(node.o.nodeId) });
    if (res.code !== 0 && NO_SUCH_SLOT.test(res.stderr)) {
      node.log.info(`${from.name} has no slot ${standbyName(node.o.nodeId)} yet: taking the base backup without one`);
      rmSync(tmp, { recursive: true, force: true });
      res = await node.ctl.basebackup(args);
    }
    if (res.code !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new PgCtl(`pg_basebackup from ${from.name} (${from.host}:${from.port}) failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-3).join(' ')}`, {
        retryable: true,
      });
    }
    // durable before it replaces PGDATA (pg_basebackup ran with --no-sync)
    await node.ctl.syncDataDir(tmp);
    const restore = this.keepLocalConfig();
    this.replaceDataDir(tmp);
    restore();
    node.log.info('Base backup in place', { from: from.name, pgdata: node.pgdata });
    await this.parts.configure();
  }

  /**
   * PGDATA's contents replaced by `src`'s, keeping PGDATA itself (path, owner, mode, mount
   * point). PG_VERSION goes first and comes back last: hasData() is false until it is whole.
   */
  private replaceDataDir(src: string): void {
    const { node } = this;
    node.mkdirOwned(node.pgdata, 0o700);
    rmSync(node.file('PG_VERSION'), { force: true });
    for (const e of readdirSync(node.pgdata)) rmSync(join(node.pgdata, e), { recursive: true, force: true });
    const entries = readdirSync(src).filter((e) => e !== 'PG_VERSION');
    for (const e of [...entries, 'PG_VERSION']) this.moveInto(join(src, e), join(node.pgdata, e));
    rmSync(src, { recursive: true, force: true });
  }

  private moveInto(from: string, to: string): void {
    try {
      renameSync(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      cpSync(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
      if (this.node.o.runAs) chownTree(to, this.node.o.runAs);
      rmSync(from, { recursive: true, force: true });
    }
  }

  async rewind(from: PeerNode): Promise<boolean> {
    const { node } = this;
    if (!node.hasData()) return false;
    if (await node.isRunning()) await node.stop('fast');
    try {
      if (!cleanlyShutDown(await node.ctl.controlData())) {
        // postgres --single refuses standby mode; the caller writes the standby setup again.
        rmSync(node.file(STANDBY_SIGNAL), { force: true });
        rmSync(node.file('recovery.signal'), { force: true });
        await node.ctl.singleUserRecovery();
        const state = (await node.ctl.controlData())['Database cluster state'];
        if (!cleanlyShutDown({ 'Database cluster state': state ?? '' })) {
          node.log.warn(`After crash recovery the cluster state is "${state}": cannot rewind`);
          return false;
        }
      }
    } catch (err) {
      node.log.warn(`Cannot bring PGDATA to a clean shutdown for pg_rewind: ${(err as Error).message}`);
      return false;
    }
    const restore = this.keepLocalConfig();
    const source = conninfo({
      host: from.host,
      port: from.port,
      user: REPLICATION_USER,
      dbname: 'postgres',
      application_name: `${standbyName(node.o.nodeId)}_rewind`,
      // pg_rewind lists the source's files with one recursive query whose estimated cost
      // (millions: set-returning functions) sets off JIT compilation, 0.2-0.3 s of a 6 ms query
      options: '-c jit=off',
      ...sslConninfoParts(node.ssl),
      passfile: this.parts.settings.replicationPassfile(),
      connect_timeout: 5,
    });
    const res = await node.ctl.rewind({ sourceConninfo: source, timeoutMs: node.o.timeouts?.rewindMs ?? 3600_000 });
    restore();
    await this.parts.ssl.ensureCert();
    this.parts.settings.writeSettings();
    if (res.code !== 0) {
      node.log.warn(`pg_rewind from ${from.name} failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-2).join(' ')}`);
      return false;
    }
    // pg_rewind ran with --no-sync, and single-user recovery with fsync off: flush it all
    // before Postgres starts on it (also when pg_rewind found nothing to rewind)
    try {
      await node.ctl.syncDataDir();
    } catch (err) {
      node.log.warn(`Cannot flush the rewound PGDATA to disk: ${(err as Error).message}`);
      return false;
    }
    node.log.info('Rewound PGDATA', { from: from.name });
    return true;
  }
}

function chownTree(path: string, user: OsUser): void {
  lchownSync(path, user.uid, user.gid);
  if (lstatSync(path).isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), user);
}
