// A TCP proxy for partition tests: listens on one loopback address:port and forwards to
// another (by default 127.0.0.1:port). Its mode says what the "network" does:
//   pass       forward everything
//   drop       close new connections at once and every existing one (a refused/reset link)
//   blackhole  accept new connections and never forward or answer; existing connections stop
//              forwarding in both directions and are not closed (a silent partition). The
//              proxy stops reading, so senders fill their socket buffers and stall; what it
//              had read is held, and flows again, in order, when the mode allows it (as TCP
//              retransmission would after a short partition).
//   delay      forward each chunk `delayMs` after it arrived, in order
// A mode can be set for the whole proxy or for one kind of connection, e.g. only the
// replication connections of a Postgres server (see pgConnectionKind): a connection's kind is
// known once `classify` recognised the first bytes its client sent; until then, and for kinds
// with no mode of their own, the proxy-wide mode applies.
// close() closes the listener and destroys every connection it made.
import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'drop' | 'blackhole' | 'delay';

interface Setting {
  mode: ProxyMode;
  delayMs: number;
}

export interface ProxyOptions {
  listenHost: string;
  listenPort: number;
  targetHost?: string;
  targetPort: number;
  /** Names a connection from the bytes its client sent so far; undefined while unsure. */
  classify?: (head: Buffer) => string | undefined;
  /** for messages */
  name?: string;
}

type Dir = 'up' | 'down';
interface Item {
  at: number;
  /** undefined = the source side closed */
  data?: Buffer;
}

const CLASSIFY_LIMIT = 64 * 1024;

class Conn {
  kind?: string;
  upstream?: Socket;
  private head = Buffer.alloc(0);
  private readonly queue: Record<Dir, Item[]> = { up: [], down: [] };
  private readonly timer: Record<Dir, NodeJS.Timeout | undefined> = { up: undefined, down: undefined };
  private readonly blocked: Record<Dir, boolean> = { up: false, down: false };
  /** the source side of a direction ended or closed (a close item is queued) */
  private readonly sourceDone: Record<Dir, boolean> = { up: false, down: false };
  closed = false;

  constructor(
    private readonly proxy: TcpProxy,
    readonly client: Socket,
  ) {
    client.setNoDelay(true);
    client.on('error', () => undefined);
    client.on('data', (d: Buffer) => this.fromClient(d));
    client.on('end', () => this.push('up', undefined));
    client.on('close', () => this.push('up', undefined));
  }

  private fromClient(d: Buffer): void {
    if (this.kind === undefined && this.proxy.classify && this.head.length < CLASSIFY_LIMIT) {
      this.head = Buffer.concat([this.head, d]);
      this.kind = this.proxy.classify(this.head);
      if (this.kind !== undefined) this.head = Buffer.alloc(0);
    }
    this.push('up', d);
  }

  private push(dir: Dir, data: Buffer | undefined): void {
    if (this.closed || this.sourceDone[dir]) return;
    if (data === undefined) this.sourceDone[dir] = true;
    this.queue[dir].push({ at: Date.now(), data });
    this.pump(dir);
  }

  private connectUpstream(): void {
    const u = connect({ host: this.proxy.targetHost, port: this.proxy.targetPort });
    this.upstream = u;
    u.setNoDelay(true);
    u.on('error', () => undefined);
    u.on('data', (d: Buffer) => this.push('down', d));
    u.on('end', () => this.push('down', undefined));
    u.on('close', () => this.push('down', undefined));
  }

  private source(dir: Dir): Socket | undefined {
    return dir === 'up' ? this.client : this.upstream;
  }

  private dest(dir: Dir): Socket | undefined {
    return dir === 'up' ? this.upstream : this.client;
  }

  /** Applies the current mode to one direction: forwards what is due, holds or closes. */
  pump(dir: Dir): void {
    if (this.closed) return;
    const s = this.proxy.settingFor(this.kind);
    if (s.mode === 'drop') {
      this.destroy();
      return;
    }
    if (s.mode === 'blackhole') {
      this.client.pause();
      this.upstream?.pause();
      if (this.timer[dir]) clearTimeout(this.timer[dir]);
      this.timer[dir] = undefined;
      return;
    }
    if (!this.upstream) this.connectUpstream();
    const delay = s.mode === 'delay' ? s.delayMs : 0;
    const q = this.queue[dir];
    const dest = this.dest(dir)!;
    while (q.length && !this.blocked[dir]) {
      const due = q[0]!.at + delay;
      const now = Date.now();
      if (due > now) {
        if (!this.timer[dir]) {
          this.timer[dir] = setTimeout(() => {
            this.timer[dir] = undefined;
            this.pump(dir);
          }, due - now);
        }
        break;
      }
      const item = q.shift()!;
      if (item.data === undefined) {
        // the source closed: pass the close on once what was written before it is sent
        dest.end(() => this.destroy());
        setTimeout(() => this.destroy(), 2000).unref();
        q.length = 0;
        return;
      }
      if (!dest.write(item.data)) {
        this.blocked[dir] = true;
        dest.once('drain', () => {
          this.blocked[dir] = false;
          this.pump(dir);
        });
      }
    }
    const src = this.source(dir);
    if (src && !this.blocked[dir] && q.length < 64) src.resume();
    else src?.pause();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const d of ['up', 'down'] as const) {
      if (this.timer[d]) clearTimeout(this.timer[d]);
      this.queue[d] = [];
    }
    this.client.destroy();
    this.upstream?.destroy();
    this.proxy.forget(this);
  }
}

export class TcpProxy {
  readonly listenHost: string;
  readonly listenPort: number;
  readonly targetHost: string;
  readonly targetPort: number;
  readonly classify?: (head: Buffer) => string | undefined;
  readonly name: string;
  /** connections accepted since start, and those open now */
  accepted = 0;
  private readonly conns = new Set<Conn>();
  private setting: Setting = { mode: 'pass', delayMs: 0 };
  private readonly byKind = new Map<string, Setting>();
  private server?: Server;

  constructor(opts: ProxyOptions) {
    this.listenHost = opts.listenHost;
    this.listenPort = opts.listenPort;
    this.targetHost = opts.targetHost ?? '127.0.0.1';
    this.targetPort = opts.targetPort;
    this.classify = opts.classify;
    this.name = opts.name ?? `${opts.listenHost}:${opts.listenPort}`;
  }

  static async start(opts: ProxyOptions): Promise<TcpProxy> {
    const p = new TcpProxy(opts);
    await p.listen();
    return p;
  }

  async listen(): Promise<void> {
    const server = createServer({ pauseOnConnect: true }, (sock) => this.accept(sock));
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  private accept(sock: Socket): void {
    this.accepted += 1;
    if (this.setting.mode === 'drop') {
      sock.on('error', () => undefined);
      sock.destroy();
      return;
    }
    const c = new Conn(this, sock);
    this.conns.add(c);
    c.pump('up');
    c.pump('down');
  }

  /** @internal */
  forget(c: Conn): void {
    this.conns.delete(c);
  }

  /** @internal the setting for a connection of this kind */
  settingFor(kind: string | undefined): Setting {
    return (kind !== undefined && this.byKind.get(kind)) || this.setting;
  }

  get mode(): ProxyMode {
    return this.setting.mode;
  }

  get openConnections(): number {
    return this.conns.size;
  }

  /** Kinds of the open connections (undefined: not classified yet). */
  connectionKinds(): Array<string | undefined> {
    return [...this.conns].map((c) => c.kind);
  }

  /**
   * Sets the mode of every connection (and forgets per-kind modes), or with `kind` only of
   * the connections of that kind. Applies at once to open connections.
   */
  setMode(mode: ProxyMode, opts: { delayMs?: number; kind?: string } = {}): void {
    if (mode === 'delay' && !(opts.delayMs !== undefined && opts.delayMs >= 0)) throw new Error('delay mode needs delayMs');
    const s: Setting = { mode, delayMs: opts.delayMs ?? 0 };
    if (opts.kind === undefined) {
      this.setting = s;
      this.byKind.clear();
    } else {
      this.byKind.set(opts.kind, s);
    }
    for (const c of [...this.conns]) {
      c.pump('up');
      c.pump('down');
    }
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const c of [...this.conns]) c.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

/**
 * Names a PostgreSQL connection from its first client bytes: 'replication' for a physical or
 * logical replication connection (walreceiver, pg_basebackup), 'cancel' for a cancel request,
 * 'client' for anything else that sent a startup packet (a TLS connection is 'client': its
 * startup packet is encrypted; test nodes run without SSL). An SSLRequest alone (the
 * monitor's health probe) leaves the kind unknown.
 */
export function pgConnectionKind(head: Buffer): string | undefined {
  let off = 0;
  for (;;) {
    if (head.length < off + 8) return undefined;
    const len = head.readInt32BE(off);
    const code = head.readInt32BE(off + 4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      if (len !== 8) return 'client';
      off += 8;
      continue;
    }
    if (code === CANCEL_REQUEST) return 'cancel';
    if (code !== PROTOCOL_3 || len < 8 || len > 10_000) return 'client';
    if (head.length < off + len) return undefined;
    const parts = head.subarray(off + 8, off + len).toString('utf8').split('\0');
    for (let i = 0; i + 1 < parts.length; i += 2) {
      if (parts[i] === 'replication') {
        return ['false', 'off', 'no', '0'].includes(parts[i + 1]!.toLowerCase()) ? 'client' : 'replication';
      }
    }
    return 'client';
  }
}
