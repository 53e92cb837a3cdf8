// The keeper's integrations in one observer of its loop: after each tick it keeps one
// snapshot (keeper/http/snapshot.ts) from which the HTTP endpoints, /metrics, `pm2 show`
// and the state-change hooks all read; before a promotion it runs the fencing hook.
import type { KeeperConfig } from '../config/keeper-config.js';
import { HookQueue, runHook, type HookEvent } from '../lib/hooks.js';
import { httpSignature, startHttp, type RunningHttp } from '../lib/http-serve.js';
import type { Logger } from '../lib/log.js';
import type { OsUser } from '../lib/pgbin.js';
import { canTakeWrites, type NodeState } from './fsm/states.js';
import { hooksAfter, needsFencingHook, roleOf } from './hooks/plan.js';
import { answer } from './http/answers.js';
import { keeperMetricStore, keeperMetrics } from './http/metrics.js';
import { snapshotOf, type KeeperSnapshot } from './http/snapshot.js';
import type { KeeperObserver, TickReport } from './loop/run.js';
import type { KeeperState } from './state/state-file.js';
import { oneAtATime } from '../lib/one-at-a-time.js';

/** /liveness fails when no round finished for this long (and no transition is running). */
export const LIVENESS_SEC = 30;

export class KeeperIntegrations implements KeeperObserver {
  private snap?: KeeperSnapshot;
  private busy?: { from: NodeState; to: NodeState; since: number };
  private http?: RunningHttp;
  private httpSig = '';
  private readonly hooks = new HookQueue();
  readonly metrics = keeperMetricStore();

  constructor(
    private config: KeeperConfig,
    private readonly log: Logger,
    private readonly runAs?: OsUser,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  /** The latest snapshot (undefined before the first round). */
  snapshot(): KeeperSnapshot | undefined {
    return this.snap && { ...this.snap, busy: this.busy };
  }

  tick(r: TickReport): void {
    const next = snapshotOf(r, {
      formation: this.config.formation,
      name: this.config.name,
      replicationQuorum: this.config.replicationQuorum,
      candidatePriority: this.config.candidatePriority,
    });
    const prev = this.snap;
    this.snap = next;
    this.busy = undefined;
    const t = next.lastTransition;
    if (t && t !== prev?.lastTransition) this.countTransition(t.from, t.to, t.ms, t.ok);
    if (prev && prev.state !== next.state) {
      for (const h of hooksAfter(prev.state, next.state, this.config.hooks)) {
        const ev = this.event(h.hook, prev.state, next.state, next);
        this.hooks.enqueue(() => this.run(h.command, ev, false));
      }
    }
  }

  async beforeTransition(from: NodeState, to: NodeState, state: KeeperState): Promise<string | undefined> {
    this.busy = { from, to, since: this.now() };
    const command = needsFencingHook(from, to, this.config.hooks);
    if (!command) return undefined;
    const base = this.snap ?? ({ formation: this.config.formation, group: state.groupId, nodeId: state.nodeId, name: this.config.name } as KeeperSnapshot);
    const ok = await this.run(command, this.event('pre_promote', from, to, base), true);
    if (ok) return undefined;
    this.busy = undefined;
    this.metrics.inc('pgaf_promotions_cancelled_total');
    return 'the fencing hook pre_promote failed';
  }

  private countTransition(from: NodeState, to: NodeState, ms: number, ok: boolean): void {
    this.metrics.inc('pgaf_transitions_total', { from, to, result: ok ? 'ok' : 'failed' });
    this.metrics.observe('pgaf_transition_duration_seconds', ms / 1000, { to });
    if (!ok) return;
    if (!canTakeWrites(from) && canTakeWrites(to) && from !== 'init') this.metrics.inc('pgaf_promotions_total');
    if (canTakeWrites(from) && !canTakeWrites(to)) this.metrics.inc('pgaf_demotions_total');
  }

  private event(hook: string, from: NodeState, to: NodeState, s: Pick<KeeperSnapshot, 'formation' | 'group' | 'nodeId' | 'name'>): HookEvent {
    return {
      hook,
      formation: s.formation,
      group: s.group,
      nodeId: s.nodeId,
      name: s.name,
      oldState: from,
      newState: to,
      oldRole: roleOf(from),
      newRole: roleOf(to),
      extra: { hostname: this.config.hostname, pgport: this.config.port, pgdata: this.config.pgdata },
    };
  }

  private async run(command: string, ev: HookEvent, fencing: boolean): Promise<boolean> {
    const o = await runHook(command, ev, { timeoutSec: this.config.hooks?.timeoutSec ?? 30, log: this.log, runAs: this.runAs, fencing });
    this.metrics.inc('pgaf_hook_runs_total', { hook: ev.hook, result: o.ok ? 'ok' : 'failed' });
    this.metrics.observe('pgaf_hook_duration_seconds', o.ms / 1000, { hook: ev.hook });
    return o.ok;
  }

  /** Waits for queued hooks (tests, shutdown). */
  hooksIdle(): Promise<void> {
    return this.hooks.idle();
  }

  /**
   * Starts, moves or stops the HTTP server to match the configuration ([http]); at start and
   * on SIGHUP, one call at a time. A port that cannot be bound is logged: the keeper goes on
   * without endpoints.
   */
  readonly apply = oneAtATime((config: KeeperConfig) => this.applyNow(config));

  private async applyNow(config: KeeperConfig): Promise<void> {
    if (this.closed) return;
    this.config = config;
    const sig = httpSignature(config.http, config.ssl);
    if (sig === this.httpSig) return;
    await this.http?.close();
    this.http = undefined;
    this.httpSig = sig;
    if (!sig) return;
    try {
      this.http = await startHttp(config.http!, config.ssl, (req) => this.reply(req.method ?? 'GET', req.url ?? '/'), this.log, `The HTTP endpoints of node ${config.name}`);
    } catch (err) {
      this.httpSig = '';
      this.log.error(`Cannot serve the HTTP endpoints on ${config.http!.listen}:${config.http!.port}: ${(err as Error).message}`);
    }
  }

  reply(method: string, url: string) {
    const now = this.now();
    return answer({ method, url }, this.snapshot(), now, {
      livenessSec: LIVENESS_SEC,
      metrics: () => keeperMetrics(this.snapshot(), this.metrics, now),
    });
  }

  /** set by close(): an apply queued behind it (a late SIGHUP) opens nothing */
  private closed = false;

  async close(): Promise<void> {
    this.closed = true;
    await this.apply(this.config); // the applies in flight settle first (one at a time)
    await this.http?.close();
    this.http = undefined;
    this.httpSig = '';
    await Promise.race([this.hooks.idle(), new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
}
