// The monitor worker's integrations: the status page (/, /api/status, /events as
// server-sent events), /metrics, and the on_failover hook. It LISTENs on 'state' and
// re-reads the node and event tables after each notification (and every 2 s for the ages),
// then pushes the new view to every open page. Read-only: it only runs SELECTs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MonitorConfig } from '../../config/node-config.js';
import { monitorSocketTarget } from '../../config/node-config.js';
import { HookQueue, runHook } from '../../lib/hooks.js';
import { httpSignature, startHttp, type HttpReplyLike, type RunningHttp } from '../../lib/http-serve.js';
import type { Logger } from '../../lib/log.js';
import { postgresRunAs } from '../../lib/pgbin.js';
import { openSession, type SqlSession } from '../../lib/sql.js';
import type { HealthObserver } from '../health/worker.js';
import { monitorMetricStore, monitorMetrics } from './metrics.js';
import { STATUS_PAGE_HTML } from './page.js';
import { eventViews, nodeViews, PromotionCounter, type EventRow, type NodeRow, type StatusView } from './view.js';
import { oneAtATime } from '../../lib/one-at-a-time.js';

const REFRESH_MS = 2_000;
const EVENTS_SHOWN = 60;

const NODES_SQL = `
  SELECT formationid, nodeid, groupid, nodename, nodehost, nodeport, reportedstate::text, goalstate::text, health,
         reportedlsn::text, reportedtli, reportedrepstate, reportedpgisrunning, candidatepriority, replicationquorum,
         extract(epoch FROM now() - reporttime)::float8 AS report_age,
         extract(epoch FROM now() - healthchecktime)::float8 AS health_age
    FROM pgautofailover.node ORDER BY formationid, groupid, nodeid`;

const EVENT_COLUMNS = `eventid, eventtime, formationid, nodeid, groupid, nodename, reportedstate::text, goalstate::text, description, ruleid`;

export class MonitorIntegrations implements HealthObserver {
  private session?: SqlSession;
  private listener?: SqlSession;
  private http?: RunningHttp;
  private httpSig = '';
  private view?: StatusView;
  private readonly clients = new Set<ServerResponse>();
  private readonly promotions = new PromotionCounter();
  private loaded = false;
  private timer?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  private refreshing?: Promise<void>;
  private stopped = false;
  private readonly hooks = new HookQueue();
  /** the last node seen as the primary of each formation/group */
  private readonly lastPrimary = new Map<string, string>();
  readonly metrics = monitorMetricStore();

  constructor(
    private cfg: MonitorConfig,
    private readonly log: Logger,
  ) {}

  /** Probe results from the health worker. */
  probe(nodeId: number, address: string, up: boolean, ms: number): void {
    this.metrics.inc('pgaf_health_probes_total', { node_id: nodeId, address, result: up ? 'up' : 'down' });
    this.metrics.observe('pgaf_health_probe_duration_seconds', ms / 1000, { node_id: nodeId, address });
  }

  round(ok: boolean): void {
    this.metrics.inc('pgaf_health_rounds_total', { result: ok ? 'ok' : 'failed' });
  }

  private enabled(): boolean {
    return this.cfg.http?.port !== undefined || this.cfg.hooks?.onFailover !== undefined;
  }

  /** At start and on SIGHUP, one call at a time: the HTTP server as [http] says, the refresh loop when anything is on. */
  readonly apply = oneAtATime((cfg: MonitorConfig) => this.applyNow(cfg));

  private async applyNow(cfg: MonitorConfig): Promise<void> {
    if (this.stopped) return;
    this.cfg = cfg;
    const sig = httpSignature(cfg.http, cfg.ssl);
    if (sig !== this.httpSig) {
      await this.closeHttp();
      this.httpSig = sig;
      if (sig) {
        try {
          this.http = await startHttp(cfg.http!, cfg.ssl, (req, res) => this.handle(req, res), this.log, 'The monitor status page');
        } catch (err) {
          this.httpSig = '';
          this.log.error(`Cannot serve the status page on ${cfg.http!.listen}:${cfg.http!.port}: ${(err as Error).message}`);
        }
      }
    }
    if (this.enabled() && !this.timer && !this.stopped) {
      this.schedule(0);
      this.timer = setInterval(() => this.schedule(0), REFRESH_MS);
    }
  }

  private schedule(delayMs: number): void {
    if (this.pending || this.stopped) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.refresh();
    }, delayMs);
  }

  private async db(): Promise<SqlSession> {
    if (!this.session || this.session.closed) {
      this.session = await openSession(monitorSocketTarget(this.cfg), { kind: 'monitor', connectTimeoutMs: 5_000, queryTimeoutMs: 10_000, applicationName: 'pgaf_status_page' });
    }
    if (!this.listener || this.listener.closed) {
      this.listener = await openSession(monitorSocketTarget(this.cfg), { kind: 'monitor', connectTimeoutMs: 5_000, applicationName: 'pgaf_status_page_listen' });
      // a state change: read again in 50 ms (several NOTIFYs of one transaction make one refresh)
      await this.listener.listen('state', () => this.schedule(50));
    }
    return this.session;
  }

  /** Reads nodes and new events, counts promotions, runs on_failover, pushes to the pages. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    let db: SqlSession;
    try {
      db = await this.db();
      const nodes = await db.query<NodeRow & Record<string, unknown>>(NODES_SQL);
      const fresh = await db.query<EventRow & Record<string, unknown>>(
        `SELECT ${EVENT_COLUMNS} FROM pgautofailover.event WHERE eventid > $1 ORDER BY eventid LIMIT 5000`,
        [this.promotions.lastEventId],
      );
      const found = this.promotions.add(fresh);
      this.promotions.remember(found);
      if (this.loaded) for (const f of found) this.onFailover(f.event, f.kind);
      this.loaded = fresh.length < 5000 || this.loaded;
      const recent = await db.query<EventRow & Record<string, unknown>>(`SELECT ${EVENT_COLUMNS} FROM pgautofailover.event ORDER BY eventid DESC LIMIT ${EVENTS_SHOWN}`);
      this.view = {
        generatedAt: new Date().toISOString(),
        monitor: this.cfg.hostname,
        nodes: nodeViews(nodes),
        events: eventViews(recent, (id) => this.promotions.kindOf(id)),
        counts: [...this.promotions.counts.values()],
      };
      for (const n of this.view.nodes) if (n.primary) this.lastPrimary.set(`${n.formation}/${n.group}`, n.name);
      if (fresh.length === 5000) this.schedule(0);
    } catch (err) {
      this.log.warn(`The status page cannot read the monitor database: ${(err as Error).message}`);
      await this.session?.close();
      await this.listener?.close();
      this.session = undefined;
      this.listener = undefined;
      return;
    }
    this.push();
  }

  private onFailover(e: EventRow, kind: 'failover' | 'switchover'): void {
    const command = this.cfg.hooks?.onFailover;
    const last = this.lastPrimary.get(`${e.formationid}/${e.groupid}`);
    const old = last !== undefined && last !== e.nodename ? { name: last } : undefined;
    this.log.info(`A ${kind} made ${e.nodename} the new primary of formation ${e.formationid} group ${e.groupid}: ${e.description ?? ''}`);
    if (!command) return;
    const ev = {
      hook: 'on_failover',
      formation: e.formationid,
      group: e.groupid,
      nodeId: Number(e.nodeid),
      name: e.nodename,
      oldState: e.reportedstate,
      newState: e.goalstate,
      extra: { kind, old_primary: old?.name ?? '', reason: e.description ?? '' },
    };
    this.hooks.enqueue(async () => {
      const o = await runHook(command, ev, { timeoutSec: this.cfg.hooks?.timeoutSec ?? 30, log: this.log, runAs: postgresRunAs(this.cfg.pgdata) });
      this.metrics.inc('pgaf_hook_runs_total', { hook: 'on_failover', result: o.ok ? 'ok' : 'failed' });
    });
  }

  private push(): void {
    if (!this.view || this.clients.size === 0) return;
    const msg = `event: status\ndata: ${JSON.stringify(this.view)}\n\n`;
    for (const res of this.clients) res.write(msg);
  }

  private handle(req: IncomingMessage, res: ServerResponse): HttpReplyLike | undefined {
    const url = new URL(req.url ?? '/', 'http://monitor');
    const path = url.pathname;
    const known = ['/', '/api/status', '/events', '/metrics'];
    if (!known.includes(path)) return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `no such page: ${path}\n` };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return { status: 405, headers: { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' }, body: `${req.method} is not allowed: the status page is read-only\n` };
    }
    const noStore = { 'cache-control': 'no-store' };
    if (path === '/') {
      return {
        status: 200,
        headers: {
          ...noStore,
          'content-type': 'text/html; charset=utf-8',
          // everything is inline; nothing may load from elsewhere
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:",
          'x-frame-options': 'DENY',
          'referrer-policy': 'no-referrer',
        },
        body: STATUS_PAGE_HTML,
      };
    }
    if (path === '/metrics') return { status: 200, headers: { ...noStore, 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }, body: monitorMetrics(this.view, this.metrics) };
    if (path === '/api/status') {
      if (!this.view) return { status: 503, headers: { ...noStore, 'content-type': 'application/json' }, body: '{"message":"not read yet"}\n' };
      return { status: 200, headers: { ...noStore, 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(this.view) + '\n' };
    }
    // /events: server-sent events
    res.writeHead(200, { ...noStore, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    if (req.method === 'HEAD') {
      res.end();
      return undefined;
    }
    res.write('retry: 1000\n\n');
    if (this.view) res.write(`event: status\ndata: ${JSON.stringify(this.view)}\n\n`);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    return undefined;
  }

  private async closeHttp(): Promise<void> {
    for (const c of this.clients) c.end();
    this.clients.clear();
    await this.http?.close();
    this.http = undefined;
    this.httpSig = '';
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.apply(this.cfg); // the applies in flight settle first (one at a time); later ones open nothing
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    await this.refreshing?.catch(() => undefined);
    await this.closeHttp();
    await Promise.race([this.hooks.idle(), new Promise((r) => setTimeout(r, 5_000).unref())]);
    await this.session?.close();
    await this.listener?.close();
  }
}
