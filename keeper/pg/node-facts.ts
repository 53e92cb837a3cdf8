// The facts of each keeper tick (facts.ts readFacts) from this node's Postgres: SQL on the
// keeper's kept session (local-session.ts) while it runs, pg_control and standby.signal while
// it is down.
import { existsSync, statSync } from 'node:fs';
import type { Query } from '../../lib/sql.js';
import { readFacts, type LocalFacts } from './facts.js';
import * as sql from './local-sql.js';
import { STANDBY_SIGNAL } from './names.js';
import type { PgNode } from './node.js';

export class NodeFacts {
  /** pg_controldata's position of a stopped server, by the pg_control file it was read from */
  private stopped?: { file: string; lsn: string; timeline: number };

  constructor(private readonly node: PgNode) {}

  /** The keeper's every-tick queries go on its kept session (local-session.ts), limited in time. */
  private persistent<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    return this.node.kept(fn, { connectTimeoutMs: 2_000, timeoutMs: 5_000 });
  }

  close(): Promise<void> {
    return this.node.closeSession();
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
