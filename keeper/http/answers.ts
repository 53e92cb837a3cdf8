// What the keeper's HTTP endpoints answer: pure functions of one snapshot, the request and
// the time. For load balancers (HAProxy `option httpchk GET /primary`), orchestrators and
// people: GET answers with the status JSON, HEAD and OPTIONS with the same code and no body.
import { canTakeWrites } from '../fsm/states.js';
import type { KeeperSnapshot } from './snapshot.js';

export interface HttpRequestLine {
  method: string;
  /** path and query, as received */
  url: string;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface AnswerOptions {
  /** seconds without a finished tick after which /liveness fails */
  livenessSec: number;
  /** the Prometheus exposition of /metrics */
  metrics?: () => string;
}

export const ALLOWED = 'GET, HEAD, OPTIONS';

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

/** "16MB", "512kB", "1048576" -> bytes (1024-based, as Postgres); undefined when not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.floor(Number(m[1]) * unit);
}

/** A writable primary whose goal and reported state agree. */
export function isPrimary(s: KeeperSnapshot): boolean {
  return s.postgres.running && !s.postgres.inRecovery && !s.postgres.readOnly && s.state === s.goal && canTakeWrites(s.state);
}

/** A standby that streams from its upstream, in a state that serves reads. */
export function isStreamingReplica(s: KeeperSnapshot): boolean {
  return s.postgres.running && s.postgres.inRecovery && s.postgres.streaming && (s.state === 'secondary' || s.state === 'catchingup');
}

/** A streaming secondary that counts in the primary's synchronous_standby_names quorum. */
export function isSyncStandby(s: KeeperSnapshot): boolean {
  return isStreamingReplica(s) && s.state === 'secondary' && s.goal === 'secondary' && s.replicationQuorum;
}

/** The /status document. */
export function statusDocument(s: KeeperSnapshot, now: number): Record<string, unknown> {
  return {
    formation: s.formation,
    group: s.group,
    node_id: s.nodeId,
    name: s.name,
    state: s.state,
    goal: s.goal,
    role: isPrimary(s) ? 'primary' : isStreamingReplica(s) ? 'replica' : 'none',
    postgres: {
      running: s.postgres.running,
      in_recovery: s.postgres.inRecovery,
      read_only: s.postgres.readOnly,
      timeline: s.postgres.timeline,
      lsn: s.postgres.lsn,
      replay_lsn: s.postgres.replayLsn,
      upstream_lsn: s.postgres.upstreamLsn,
      streaming: s.postgres.streaming,
      sync_state: s.postgres.syncState || null,
      standbys_connected: s.postgres.standbysConnected,
    },
    replication_lag_bytes: s.lagBytes,
    replication_quorum: s.replicationQuorum,
    candidate_priority: s.candidatePriority,
    monitor: {
      reachable: s.monitor.reachable,
      last_contact: s.monitor.lastContact ? new Date(s.monitor.lastContact * 1000).toISOString() : null,
      last_contact_age_seconds: s.monitor.lastContact ? round(now - s.monitor.lastContact) : null,
    },
    last_tick: new Date(s.at * 1000).toISOString(),
    last_tick_age_seconds: round(now - s.at),
    transition_running: s.busy ? { from: s.busy.from, to: s.busy.to, since: new Date(s.busy.since * 1000).toISOString() } : null,
    last_transition: s.lastTransition
      ? { from: s.lastTransition.from, to: s.lastTransition.to, ok: s.lastTransition.ok, ms: s.lastTransition.ms, at: new Date(s.lastTransition.at * 1000).toISOString() }
      : null,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function json(status: number, doc: unknown): HttpReply {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, body: JSON.stringify(doc) + '\n' };
}

function text(status: number, body: string, extra: Record<string, string> = {}): HttpReply {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra }, body };
}

type Check = (s: KeeperSnapshot, query: URLSearchParams, now: number, o: AnswerOptions) => boolean | string;

/** Each check: true (200), false (503), or a string: 400 with that message. */
const CHECKS: Record<string, Check> = {
  '/primary': (s) => isPrimary(s),
  '/replica': (s, q) => {
    if (!isStreamingReplica(s)) return false;
    const lag = q.get('lag');
    if (lag === null) return true;
    const max = parseSize(lag);
    if (max === undefined) return `lag: expected a size such as 16MB or 1048576, found ${JSON.stringify(lag)}`;
    return s.lagBytes !== null && s.lagBytes <= max;
  },
  '/read-only': (s) => isPrimary(s) || isStreamingReplica(s),
  '/sync': (s) => isSyncStandby(s),
  '/health': (s) => s.postgres.running,
  // a long transition (pg_basebackup) keeps the loop busy: alive, for up to an hour
  '/liveness': (s, _q, now, o) => now - s.at <= o.livenessSec || (s.busy !== undefined && now - s.busy.since <= 3600),
  '/status': () => true,
};

const QUERY_KEYS: Record<string, string[]> = { '/replica': ['lag'] };

/** The reply to one request, given the latest snapshot (undefined before the first tick). */
export function answer(req: HttpRequestLine, snap: KeeperSnapshot | undefined, now: number, o: AnswerOptions): HttpReply {
  let url: URL;
  try {
    url = new URL(req.url, 'http://keeper');
  } catch {
    return text(400, 'bad request line\n');
  }
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
  const known = path in CHECKS || (path === '/metrics' && o.metrics !== undefined);
  if (!known) return text(404, `no such endpoint: ${path}; try /primary, /replica, /read-only, /sync, /health, /liveness, /status${o.metrics ? ', /metrics' : ''}\n`);
  if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method)) return text(405, `${req.method} is not allowed: this endpoint is read-only (${ALLOWED})\n`, { allow: ALLOWED });
  for (const key of url.searchParams.keys()) {
    if (!(QUERY_KEYS[path] ?? []).includes(key)) return text(400, `${path} takes no parameter ${JSON.stringify(key)}\n`);
  }
  const reply = respond(path, url.searchParams, snap, now, o);
  reply.headers.allow = ALLOWED;
  if (req.method !== 'GET') reply.body = '';
  return reply;
}

function respond(path: string, q: URLSearchParams, snap: KeeperSnapshot | undefined, now: number, o: AnswerOptions): HttpReply {
  if (path === '/metrics') return text(200, o.metrics!(), { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  if (!snap) return json(503, { state: 'starting', message: 'the keeper has not finished its first round yet' });
  const ok = CHECKS[path]!(snap, q, now, o);
  if (typeof ok === 'string') return text(400, ok + '\n');
  return json(ok ? 200 : 503, statusDocument(snap, now));
}
