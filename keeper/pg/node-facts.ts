// The facts of each keeper tick (facts.ts readFacts) from this node's Postgres: SQL on one
// connection kept open across ticks (reopened after a failure) while it runs, pg_control and
// standby.signal while it is down.
import { existsSync, statSync } from 'node:fs';
import { openSession, type Query, type SqlSession } from '../../lib/sql.js';
import { readFacts, type LocalFacts } from './facts.js';
import * as sql from './local-sql.js';
import { STANDBY_SIGNAL } from './names.js';
import type { PgNode } from './node.js';

export class NodeFacts {
  private session?: SqlSession;
  /** pg_controldata's position of a stopped server, by the pg_control file it was read from */
  private stopped?: { file: string; lsn: string; timeline: number };

  constructor(private readonly node: PgNode) {}

  /** The keeper's every-tick queries share one connection, reopened after a failure. */
  private async persistent<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    if (!this.session || this.session.closed) {
      this.session = await openSession(this.node.target, {
        kind: 'postgres',
        connectTimeoutMs: 2_000,
        queryTimeoutMs: 5_000,
        applicationName: 'pgaf keeper',
        // a superuser session, like every other of the keeper's (local-sql.ts)
        options: sql.PINNED_SEARCH_PATH,
      });
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

  async read(): Promise<LocalFacts> {
    const { node } = this;
    return readFacts({
      isRunning: () => node.isRunning(),
      queryFacts: () => this.persistent(sql.tickFacts),
      stoppedFacts: async () => {
        if (!node.hasData()) return { inRecovery: false, lsn: '0/0', timeline: 1 };
        const inRecovery = existsSync(node.file(STANDBY_SIGNAL));
        // a stopped server's pg_control changes only when something writes it (a start, a
        // rewind, a base backup): pg_controldata runs again only then, not at every tick (a
        // stopped old primary reports draining sooner, so its successor is promoted sooner)
        const file = controlFileStamp(node.file(PG_CONTROL));
        if (file && this.stopped?.file === file) return { inRecovery, lsn: this.stopped.lsn, timeline: this.stopped.timeline };
        const c = await node.ctl.controlData();
        const lsn = c['Latest checkpoint location'] ?? '0/0';
        const timeline = Number(c["Latest checkpoint's TimeLineID"] ?? 1);
        this.stopped = file ? { file, lsn, timeline } : undefined;
        return { inRecovery, lsn, timeline };
      },
    });
  }
}

const PG_CONTROL = 'global/pg_control';

/** What identifies one write of pg_control (inode, size, change time in ns); undefined when it cannot be read. */
function controlFileStamp(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.ino}:${st.size}:${st.ctimeNs}:${st.mtimeNs}`;
  } catch {
    return undefined;
  }
}
