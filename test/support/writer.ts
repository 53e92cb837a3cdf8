// A client that writes one row per transaction through a multi-host URI the way libpq's
// target_session_attrs=read-write does (try each host in order, keep the first writable one),
// and records every acknowledged id with the port of the server that took it.
import pg from 'pg';

export interface Ack {
  id: number;
  port: number;
  /** when the acknowledgement arrived */
  at: number;
  /** when the attempt began (before connecting, if it had to): the commit happened in [sentAt, at] */
  sentAt: number;
}

export interface WriterResult {
  acked: Ack[];
  failed: number[];
  /** longest time between two consecutive acknowledgements, ms */
  longestGapMs: number;
}

export class Writer {
  readonly acked: Ack[] = [];
  readonly failed: number[] = [];
  private running = false;
  private loop?: Promise<void>;
  private client?: pg.Client;
  private clientPort = 0;

  constructor(
    private readonly hosts: Array<{ host: string; port: number }>,
    private readonly opts: { user: string; database: string; table: string; label: string; password?: string },
  ) {}

  static fromUri(uri: string, user: string, table = 'writes', label = 'run', password?: string): Writer {
    const m = /^postgres(?:ql)?:\/\/([^/]+)\/([^?]+)/.exec(uri);
    if (!m) throw new Error(`not a multi-host URI: ${uri}`);
    const hosts = m[1]!.split(',').map((hp) => {
      const i = hp.lastIndexOf(':');
      return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
    });
    return new Writer(hosts, { user, database: decodeURIComponent(m[2]!), table, label, password });
  }

  private async connectWritable(): Promise<void> {
    for (const h of this.hosts) {
      const c = new pg.Client({
        host: h.host,
        port: h.port,
        user: this.opts.user,
        password: this.opts.password,
        database: this.opts.database,
        connectionTimeoutMillis: 2000,
        query_timeout: 10_000,
        keepAlive: true,
      });
      c.on('error', () => undefined);
      try {
        await c.connect();
        const r = await c.query('SHOW transaction_read_only');
        if (r.rows[0]?.transaction_read_only === 'off') {
          this.client = c;
          this.clientPort = h.port;
          return;
        }
      } catch {
        // try the next host
      }
      await c.end().catch(() => undefined);
    }
    throw new Error('no writable host');
  }

  async createTable(): Promise<void> {
    await this.connectWritable();
    await this.client!.query(`CREATE TABLE IF NOT EXISTS ${this.opts.table} (label text, id int, port int, PRIMARY KEY (label, id))`);
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      let id = 0;
      while (this.running) {
        id += 1;
        const sentAt = Date.now();
        try {
          if (!this.client) await this.connectWritable();
          await this.client!.query(`INSERT INTO ${this.opts.table} (label, id, port) VALUES ($1, $2, inet_server_port())`, [this.opts.label, id]);
          this.acked.push({ id, port: this.clientPort, at: Date.now(), sentAt });
        } catch {
          this.failed.push(id);
          await this.client?.end().catch(() => undefined);
          this.client = undefined;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();
  }

  async stop(): Promise<WriterResult> {
    this.running = false;
    await this.loop;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
    let longestGapMs = 0;
    for (let i = 1; i < this.acked.length; i++) {
      longestGapMs = Math.max(longestGapMs, this.acked[i]!.at - this.acked[i - 1]!.at);
    }
    return { acked: [...this.acked], failed: [...this.failed], longestGapMs };
  }

  /** Acknowledged ids that the current primary does not have. */
  async missing(): Promise<number[]> {
    await this.connectWritable();
    const r = await this.client!.query(`SELECT id FROM ${this.opts.table} WHERE label = $1`, [this.opts.label]);
    await this.client!.end().catch(() => undefined);
    this.client = undefined;
    const present = new Set(r.rows.map((x) => Number(x.id)));
    return this.acked.filter((a) => !present.has(a.id)).map((a) => a.id);
  }

  /** Waits until at least `n` more acknowledgements arrived (on port `port` if given). */
  async waitForAcks(n: number, timeoutMs: number, port?: number): Promise<void> {
    const start = this.acked.filter((a) => port === undefined || a.port === port).length;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.filter((a) => port === undefined || a.port === port).length < start + n) {
      if (Date.now() > deadline) throw new Error(`writer: fewer than ${n} acknowledgements in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
