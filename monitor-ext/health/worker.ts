// The health worker: probes every registered node in parallel each health_check_period and
// records the round with pgautofailover.report_health(), which NOTIFYs on changes.
import type { Logger } from '../../lib/log.js';
import type { PgTarget } from '../../lib/pg-uri.js';
import { openSession, type SqlSession } from '../../lib/sql.js';
import { healthOf, roundSentence, type NodeRound } from './decide.js';
import { probeWithRetries, type ProbeResult, type ProbeSettings } from './probe.js';

export interface HealthSettings extends ProbeSettings {
  periodMs: number;
}

const SETTING_NAMES: Record<string, keyof HealthSettings> = {
  health_check_period: 'periodMs',
  health_check_timeout: 'timeoutMs',
  health_check_max_retries: 'maxRetries',
  health_check_retry_delay: 'retryDelayMs',
};

/** Told of every probe and round (the status page's /metrics). */
export interface HealthObserver {
  probe(nodeId: number, address: string, up: boolean, ms: number): void;
  round(ok: boolean): void;
}

export class HealthWorker {
  observer?: HealthObserver;

  private session?: SqlSession;
  private stopping = false;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;

  constructor(
    private readonly target: PgTarget,
    private readonly log: Logger,
  ) {}

  stop(): void {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }

  private async db(): Promise<SqlSession> {
    if (!this.session || this.session.closed) {
      this.session = await openSession(this.target, { kind: 'monitor', connectTimeoutMs: 5_000, queryTimeoutMs: 10_000, applicationName: 'pgaf_health_worker' });
    }
    return this.session;
  }

  async settings(): Promise<HealthSettings> {
    const rows = await (await this.db()).query<{ name: string; numeric_value: string }>(
      `SELECT name, numeric_value FROM pgautofailover.monitor_settings() WHERE name LIKE 'health_check_%'`,
    );
    const s: HealthSettings = { periodMs: 5000, timeoutMs: 5000, maxRetries: 2, retryDelayMs: 2000 };
    for (const r of rows) {
      const key = SETTING_NAMES[r.name];
      if (key) s[key] = Number(r.numeric_value);
    }
    return s;
  }

  /** One round: probe all nodes, record the results. Returns the settings used. */
  async round(): Promise<HealthSettings> {
    const db = await this.db();
    const s = await this.settings();
    const targets = await db.query<{ node_id: string; node_host: string; node_port: number; health: number }>(
      `SELECT * FROM pgautofailover.health_check_targets()`,
    );
    const round: NodeRound[] = await Promise.all(
      targets.map(async (t) => ({
        nodeId: Number(t.node_id),
        host: t.node_host,
        port: t.node_port,
        before: t.health,
        attempts: await this.timedProbe(Number(t.node_id), t.node_host, t.node_port, s),
      })),
    );
    let changed: number[] = [];
    if (round.length > 0) {
      const rows = await db.query<{ report_health: string }>(`SELECT * FROM pgautofailover.report_health($1::bigint[], $2::int[])`, [
        round.map((n) => n.nodeId),
        round.map((n) => healthOf(n.attempts)),
      ]);
      changed = rows.map((r) => Number(r.report_health));
    }
    const sentence = roundSentence(round, changed);
    if (changed.length > 0) this.log.info(sentence);
    else this.log.debug(sentence);
    return s;
  }

  private async timedProbe(nodeId: number, host: string, port: number, s: HealthSettings): Promise<ProbeResult[]> {
    const started = Date.now();
    const attempts = await probeWithRetries(host, port, s);
    this.observer?.probe(nodeId, `${host}:${port}`, healthOf(attempts) === 1, Date.now() - started);
    return attempts;
  }

  /** Runs rounds until stop(); a failed round is logged and the next one follows. */
  async run(): Promise<void> {
    while (!this.stopping) {
      const started = Date.now();
      let period = 5000;
      try {
        period = (await this.round()).periodMs;
        this.observer?.round(true);
      } catch (err) {
        this.observer?.round(false);
        this.log.error(`Health check round failed: ${(err as Error).message}`);
        this.session = undefined;
      }
      const wait = Math.max(0, period - (Date.now() - started));
      if (this.stopping) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, wait);
      });
    }
    await this.session?.close();
  }
}
