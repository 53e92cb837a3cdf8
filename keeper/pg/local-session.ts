// The keeper's one connection to its own Postgres, kept open across ticks and transitions.
// A fresh connection costs a backend start (fork, peer authentication, catalog caches: 3-5 ms
// on an idle machine, more under load), and a switchover's steps used to open a dozen of them,
// most inside the write gap. The session is reopened after any failure, so a server that
// restarted in between is met with a new connection, never with the dead one.
import { PgSql } from '../../lib/errors.js';
import type { Query, SqlSession } from '../../lib/sql.js';

export interface RunLimits {
  /** for a (re)connection made by this call */
  connectTimeoutMs: number;
  /** the whole of `fn`; on expiry the session is closed (default: no limit) */
  timeoutMs?: number;
}

/**
 * A session that ended before this call could use it: the server restarted or ended it, the
 * socket broke. Not a server's answer to our SQL (those carry a SQLSTATE outside classes 08
 * and 57P0x), and not a timeout of ours.
 */
export function isConnectionLoss(err: unknown): boolean {
  if (!(err instanceof PgSql)) return false;
  const s = err.sqlstate;
  if (s === undefined) return !/did not answer within/.test(err.message);
  return s.startsWith('08') || s === '57P01' || s === '57P02';
}

export class LocalSession {
  private session?: SqlSession;

  /** `open` connects anew (lib/sql.ts openSession on the local socket, as the superuser). */
  constructor(private readonly open: (connectTimeoutMs: number) => Promise<SqlSession>) {}

  /** true while a connection is open (a tick opened it; transitions then use it too) */
  get isOpen(): boolean {
    return this.session !== undefined && !this.session.closed;
  }

  /**
   * `fn` on the session, opened when there is none. Session settings that `fn` makes stay for
   * later calls (the keeper's only ones are ensureRoles': synchronous_commit = local and
   * default_transaction_read_only = off, which every keeper session may have). When a
   * session kept from before turns out dead at its first query, `fn` runs once more on a
   * new one: nothing of it ran on the old.
   */
  async run<T>(fn: (q: Query) => Promise<T>, limits: RunLimits): Promise<T> {
    const kept = this.isOpen;
    let answered = false;
    const s = kept ? this.session! : await this.reopen(limits.connectTimeoutMs);
    const q: Query = async <R extends Record<string, unknown>>(text: string, params?: unknown[]) => {
      const rows = await s.query<R>(text, params);
      answered = true;
      return rows;
    };
    try {
      return await limited(fn(q), limits.timeoutMs);
    } catch (err) {
      await this.drop(s);
      if (kept && !answered && isConnectionLoss(err)) return this.run(fn, limits);
      throw err;
    }
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.close();
  }

  private async reopen(connectTimeoutMs: number): Promise<SqlSession> {
    await this.close();
    this.session = await this.open(connectTimeoutMs);
    return this.session;
  }

  private async drop(s: SqlSession): Promise<void> {
    if (this.session === s) this.session = undefined;
    await s.close();
  }
}

/** `work`, or an error once `ms` passed (the caller then closes the session, which ends the query). */
function limited<T>(work: Promise<T>, ms: number | undefined): Promise<T> {
  if (ms === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PgSql(`the local Postgres did not answer within ${ms} ms`, { retryable: true })), ms);
  });
  work.catch(() => undefined); // it settles once the session is closed
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
