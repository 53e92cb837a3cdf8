// How long after a node's Postgres starts taking writes its keeper answers /primary with 200,
// and a client's write through HAProxy lands on it. Started before a switchover or a failover:
// one poller asks the node's Postgres directly whether it takes writes (out of recovery, and
// default_transaction_read_only off: the keeper promotes read-only in stop_replication and
// opens writes on its way to wait_primary), one asks its
// keeper's /primary, and a writer opens a new connection through HAProxy every 50 ms (in
// parallel, so that a connection stuck on the old primary delays nothing). Figures only
// (test/support/figures.ts): a test asserts where the writes go, never how fast.
import pg from 'pg';

export interface PromotionTimes {
  /** Date.now() when the node was first seen out of recovery (promoted, maybe still read-only) */
  outOfRecoveryAt: number;
  /** when it was first seen taking writes (out of recovery and not read-only) */
  promotedAt: number;
  /** when its /primary first answered 200 */
  endpointAt: number;
  /** when a write through HAProxy first landed on it (the write's completion) */
  routedAt: number;
}

export interface WatchTarget {
  user: string;
  pgPort: number;
  httpPort: number;
  proxyPort: number;
  /** one write on a new connection through the proxy: the port of the server that took it */
  writeThrough: (proxyPort: number) => Promise<number>;
}

const POLL_MS = 10;
const WRITE_EVERY_MS = 50;
const MAX_IN_FLIGHT = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PromotionWatch {
  private stopped = false;
  private outOfRecoveryAt?: number;
  private readonly promoted: Promise<number | undefined>;
  private readonly endpoint: Promise<number | undefined>;
  private readonly routed: Promise<number | undefined>;

  constructor(private readonly t: WatchTarget) {
    this.promoted = this.pollPostgres();
    this.endpoint = this.pollEndpoint();
    this.routed = this.writeUntilRouted();
  }

  /** Waits (up to timeoutMs) until all three were seen; the times, or an error naming what was not. */
  async times(timeoutMs: number): Promise<PromotionTimes> {
    const deadline = sleep(timeoutMs).then(() => undefined);
    const [promotedAt, endpointAt, routedAt] = await Promise.all([this.promoted, this.endpoint, this.routed].map((p) => Promise.race([p, deadline])));
    this.stop();
    const missing = Object.entries({ promotedAt, endpointAt, routedAt }).filter(([, v]) => v === undefined).map(([k]) => k);
    if (missing.length) throw new Error(`promotion watch: not seen within ${timeoutMs} ms: ${missing.join(', ')}`);
    return { outOfRecoveryAt: this.outOfRecoveryAt ?? promotedAt!, promotedAt: promotedAt!, endpointAt: endpointAt!, routedAt: routedAt! };
  }

  stop(): void {
    this.stopped = true;
  }

  private async pollPostgres(): Promise<number | undefined> {
    let client: pg.Client | undefined;
    try {
      while (!this.stopped) {
        try {
          if (!client) {
            client = new pg.Client({ host: '127.0.0.1', port: this.t.pgPort, user: this.t.user, database: 'postgres', connectionTimeoutMillis: 1000, query_timeout: 1000 });
            client.on('error', () => undefined);
            await client.connect();
          }
          const r = await client.query<{ rec: boolean; ro: boolean }>(`SELECT pg_is_in_recovery() AS rec, current_setting('default_transaction_read_only')::bool AS ro`);
          const { rec, ro } = r.rows[0]!;
          if (!rec) this.outOfRecoveryAt ??= Date.now();
          if (!rec && !ro) return Date.now();
        } catch {
          await client?.end().catch(() => undefined);
          client = undefined;
        }
        await sleep(POLL_MS);
      }
      return undefined;
    } finally {
      await client?.end().catch(() => undefined);
    }
  }

  private async pollEndpoint(): Promise<number | undefined> {
    while (!this.stopped) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.t.httpPort}/primary`, { method: 'HEAD', signal: AbortSignal.timeout(1000) });
        if (res.status === 200) return Date.now();
      } catch {
        // not answering: keep asking
      }
      await sleep(POLL_MS);
    }
    return undefined;
  }

  private writeUntilRouted(): Promise<number | undefined> {
    return new Promise((resolve) => {
      let inFlight = 0;
      let first: number | undefined;
      const timer = setInterval(() => {
        if (this.stopped || first !== undefined) {
          clearInterval(timer);
          if (inFlight === 0 || first !== undefined) resolve(first);
          return;
        }
        if (inFlight >= MAX_IN_FLIGHT) return;
        inFlight += 1;
        this.t
          .writeThrough(this.t.proxyPort)
          .then((port) => {
            if (port === this.t.pgPort && first === undefined) first = Date.now();
          })
          .catch(() => undefined)
          .finally(() => {
            inFlight -= 1;
            if (first !== undefined || (this.stopped && inFlight === 0)) {
              clearInterval(timer);
              resolve(first);
            }
          });
      }, WRITE_EVERY_MS);
    });
  }
}
