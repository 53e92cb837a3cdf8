// The checker: writers that record every acknowledged write, and the invariants checked on
// the record after a run.
//
// Writers run in the test process and reach the hosts over the bridge: one through the
// multi-host URI (try the nodes in order, keep the first writable one, as libpq's
// target_session_attrs=read-write does) and one direct client per node (only that server,
// whatever its role: it sees an old primary that still accepts writes). Each write is one
// transaction inserting (writer, id) and returning the timeline the server writes on; an
// acknowledgement is recorded with the server, that timeline, when the statement was sent and
// when it was acknowledged (the commit happened in between).
//
// Invariants (pure functions below):
// - lost: an acknowledged (writer, id) missing on the final primary;
// - split-brain windows: two servers wrote on the same timeline, or a server acknowledged a
//   commit certainly after (sent after the acknowledgement of) a commit that another server
//   made on a later timeline; one window per offending (server, timeline);
// - timeline regressions: an acknowledgement on a lower timeline sent after the
//   acknowledgement of a write on a higher one (a primary's timeline only moves forward).
import type { Socket } from 'node:net';
import pg from 'pg';

export const TABLE = 'chaos_writes';
const TL_SQL = `('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int`;
const INSERT = `INSERT INTO ${TABLE} (writer, id, tl) VALUES ($1, $2, ${TL_SQL}) RETURNING tl`;

export interface Ack {
  writer: string;
  id: number;
  server: string;
  tl: number;
  sentAt: number;
  at: number;
}

export interface Target {
  name: string;
  host: string;
  port: number;
  /** the test clients' role and its password (scram-sha-256 over SSL) */
  user: string;
  password: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(t: Target, database = 'postgres'): pg.Client {
  const c = new pg.Client({
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    database,
    ssl: { rejectUnauthorized: false },
    connectionTimeoutMillis: 2000,
    keepAlive: true,
  });
  c.on('error', () => undefined);
  return c;
}

/** No cancel request, no Terminate: the socket just goes away (a client whose network died). */
function drop(c: pg.Client | undefined): void {
  if (!c) return;
  (c as unknown as { connection?: { stream?: Socket } }).connection?.stream?.destroy();
  c.end().catch(() => undefined);
}

/** A query with a client-side deadline: past it, the connection is dropped and the call fails. */
async function withDeadline<T>(c: pg.Client, ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => {
          drop(c);
          reject(new Error(`no answer within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function createTable(targets: Target[]): Promise<void> {
  for (const t of targets) {
    const c = client(t);
    try {
      await c.connect();
      if ((await c.query('SELECT pg_is_in_recovery() AS r')).rows[0]?.r) continue;
      await c.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (writer text, id int, tl int, at timestamptz DEFAULT clock_timestamp(), PRIMARY KEY (writer, id))`);
      return;
    } catch {
      // the next one
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  throw new Error('no writable node to create the checker table on');
}

/** One writer loop: `targets` tried in order (one target for a direct client). */
class WriterLoop {
  private running = false;
  private loop?: Promise<void>;
  attempts = 0;

  constructor(
    readonly name: string,
    private readonly targets: Target[],
    private readonly acks: Ack[],
    private readonly deadlineMs: number,
  ) {}

  private async connect(): Promise<{ c: pg.Client; t: Target } | undefined> {
    for (const t of this.targets) {
      const c = client(t);
      try {
        await c.connect();
        const r = await withDeadline(c, 3000, () => c.query('SHOW transaction_read_only'));
        if (r.rows[0]?.transaction_read_only === 'off') return { c, t };
      } catch {
        // the next one
      }
      drop(c);
    }
    return undefined;
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      let id = 0;
      let cur: { c: pg.Client; t: Target } | undefined;
      while (this.running) {
        if (!cur) {
          cur = await this.connect();
          if (!cur) {
            await sleep(250);
            continue;
          }
        }
        id += 1;
        this.attempts += 1;
        const sentAt = Date.now();
        const conn = cur;
        try {
          const r = await withDeadline(conn.c, this.deadlineMs, () => conn.c.query(INSERT, [this.name, id]));
          this.acks.push({ writer: this.name, id, server: conn.t.name, tl: Number(r.rows[0].tl), sentAt, at: Date.now() });
        } catch {
          drop(conn.c);
          cur = undefined;
          await sleep(100);
        }
      }
      drop(cur?.c);
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

export class Writers {
  readonly acks: Ack[] = [];
  private readonly loops: WriterLoop[];

  /** `direct: false`: the URI writer alone (bench/failover's host mode). */
  constructor(targets: Target[], opts: { direct?: boolean } = {}) {
    const direct = opts.direct === false ? [] : targets.map((t) => new WriterLoop(`direct-${t.name}`, [t], this.acks, 5000));
    this.loops = [new WriterLoop('uri', targets, this.acks, 5000), ...direct];
  }

  start(): void {
    for (const l of this.loops) l.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()));
  }
}

/** Every (writer, id) row on one server. */
export async function rowsOn(t: Target): Promise<Set<string>> {
  const c = client(t);
  await c.connect();
  try {
    const r = await c.query(`SELECT writer, id FROM ${TABLE}`);
    return new Set(r.rows.map((x: { writer: string; id: number }) => `${x.writer}/${x.id}`));
  } finally {
    await c.end().catch(() => undefined);
  }
}

// ---- the invariants: pure functions of the record ----

export function lostAcks(acks: Ack[], present: Set<string>): Ack[] {
  return acks.filter((a) => !present.has(`${a.writer}/${a.id}`));
}

interface Epoch {
  server: string;
  tl: number;
  firstAt: number;
  lastSentAt: number;
}

function epochs(acks: Ack[]): Epoch[] {
  const m = new Map<string, Epoch>();
  for (const a of acks) {
    const k = `${a.server}@${a.tl}`;
    const e = m.get(k) ?? { server: a.server, tl: a.tl, firstAt: Infinity, lastSentAt: -Infinity };
    e.firstAt = Math.min(e.firstAt, a.at);
    e.lastSentAt = Math.max(e.lastSentAt, a.sentAt);
    m.set(k, e);
  }
  return [...m.values()];
}

export interface SplitBrainWindow {
  server: string;
  tl: number;
  /** the other server's epoch it conflicts with */
  other: string;
  otherTl: number;
}

/** Offending (server, timeline) epochs, each reported once. */
export function splitBrainWindows(acks: Ack[]): SplitBrainWindow[] {
  const es = epochs(acks);
  const out: SplitBrainWindow[] = [];
  for (const e of es) {
    const bad = es.find(
      (o) => o.server !== e.server && (o.tl === e.tl || (o.tl > e.tl && e.lastSentAt > o.firstAt)),
    );
    if (bad) out.push({ server: e.server, tl: e.tl, other: bad.server, otherTl: bad.tl });
  }
  return out;
}

/** Acknowledgements on a lower timeline sent after a write on a higher timeline was acknowledged. */
export function timelineRegressions(acks: Ack[]): Ack[] {
  const byAt = [...acks].sort((a, b) => a.at - b.at);
  const out: Ack[] = [];
  // for each ack, the highest timeline acknowledged before it was sent
  const sorted = [...acks].sort((a, b) => a.sentAt - b.sentAt);
  let i = 0;
  let maxTl = -Infinity;
  for (const a of sorted) {
    while (i < byAt.length && byAt[i]!.at < a.sentAt) maxTl = Math.max(maxTl, byAt[i++]!.tl);
    if (a.tl < maxTl) out.push(a);
  }
  return out;
}

/** The longest time without any acknowledgement of `writer`, between `from` and `to`. */
export function longestOutage(acks: Ack[], writer: string, from: number, to: number): number {
  const ts = acks.filter((a) => a.writer === writer && a.at >= from && a.at <= to).map((a) => a.at).sort((a, b) => a - b);
  let prev = from;
  let longest = 0;
  for (const t of [...ts, to]) {
    longest = Math.max(longest, t - prev);
    prev = t;
  }
  return longest;
}
