// A client bound to one server (no failover logic): it keeps inserting one row per
// transaction into 127.0.0.1:port and records, for every insert, when it was sent and when
// (if ever) the server acknowledged it. Used to watch an old primary during a partition.
//
// Each insert has a client-side deadline: when it passes, the client drops its socket and
// reconnects. It does not use the server's statement_timeout on purpose: a statement_timeout
// that fires while a commit waits for synchronous replication turns that wait into a success
// with a WARNING ("canceling wait for synchronous replication", the transaction "has already
// committed locally"), which is PostgreSQL's documented behaviour and not something a
// failover manager can prevent. Dropping the connection leaves the backend waiting, like a
// client whose network went away.
import type { Socket } from 'node:net';
import pg from 'pg';

export interface DirectAck {
  id: number;
  sentAt: number;
  ackAt: number;
  /** notices received with this statement (a sync-rep cancellation would show here) */
  notices: string[];
}

export interface DirectFailure {
  id: number;
  sentAt: number;
  at: number;
  error: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** No cancel request, no Terminate message: just the socket going away. */
function destroyClient(c: pg.Client): void {
  (c as unknown as { connection?: { stream?: Socket } }).connection?.stream?.destroy();
  c.end().catch(() => undefined);
}

/** One query on a fresh connection to 127.0.0.1:port, closed afterwards. */
export async function queryDirect<R extends pg.QueryResultRow = pg.QueryResultRow>(
  port: number,
  user: string,
  sql: string,
  params: unknown[] = [],
  opts: { database?: string; timeoutMs?: number } = {},
): Promise<R[]> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user,
    database: opts.database ?? 'postgres',
    connectionTimeoutMillis: opts.timeoutMs ?? 3000,
    query_timeout: opts.timeoutMs ?? 3000,
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.query<R>(sql, params as unknown[])).rows;
  } finally {
    destroyClient(c);
  }
}

export class DirectClient {
  readonly acks: DirectAck[] = [];
  readonly failures: DirectFailure[] = [];
  private running = false;
  private loop?: Promise<void>;
  private client?: pg.Client;
  private notices: string[] = [];

  constructor(
    readonly port: number,
    private readonly opts: { user: string; database?: string; table: string; label: string; timeoutMs?: number },
  ) {}

  private async connect(): Promise<pg.Client> {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: this.opts.user,
      database: this.opts.database ?? 'postgres',
      connectionTimeoutMillis: this.opts.timeoutMs ?? 2000,
    });
    c.on('error', () => undefined);
    c.on('notice', (n) => this.notices.push(`${n.severity ?? ''} ${n.message}`.trim()));
    await c.connect();
    return c;
  }

  private drop(): void {
    const c = this.client;
    this.client = undefined;
    if (c) destroyClient(c);
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      let id = 0;
      const timeoutMs = this.opts.timeoutMs ?? 2000;
      while (this.running) {
        id += 1;
        const sentAt = Date.now();
        let timer: NodeJS.Timeout | undefined;
        let abandoned = false;
        try {
          const deadline = new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              abandoned = true;
              reject(new Error(`no answer in ${timeoutMs} ms`));
            }, timeoutMs);
          });
          const work = (async () => {
            let c = this.client;
            if (!c) {
              c = await this.connect();
              if (abandoned) {
                destroyClient(c);
                throw new Error('abandoned');
              }
              this.client = c;
            }
            this.notices = [];
            await c.query(`INSERT INTO ${this.opts.table} (label, id, port) VALUES ($1, $2, inet_server_port())`, [this.opts.label, id]);
            return [...this.notices];
          })();
          work.catch(() => undefined);
          const notices = await Promise.race([work, deadline]);
          this.acks.push({ id, sentAt, ackAt: Date.now(), notices });
        } catch (err) {
          this.failures.push({ id, sentAt, at: Date.now(), error: (err as Error).message });
          this.drop();
          await sleep(100);
        } finally {
          clearTimeout(timer);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.drop();
  }

  async waitForAcks(n: number, timeoutMs: number): Promise<void> {
    const want = this.acks.length + n;
    const deadline = Date.now() + timeoutMs;
    while (this.acks.length < want) {
      if (Date.now() > deadline) throw new Error(`direct client on port ${this.port}: fewer than ${n} acknowledgements in ${timeoutMs} ms; last failures: ${JSON.stringify(this.failures.slice(-3))}`);
      await sleep(50);
    }
  }
}
