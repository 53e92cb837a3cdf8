// The PM2 Postgres supervisor (module mode): the postmaster runs as the PM2 app
// `pgaf-postgres-<node>` (script <bindir>/postgres -D PGDATA, settings from PGDATA's files),
// started, stopped and restarted by the keeper through the PM2 API. PM2 never brings it back
// by itself (autorestart off): after a crash the keeper decides, and a Postgres the keeper
// stopped (demotion, maintenance) stays stopped. A keeper or module restart leaves it running.
import { join } from 'node:path';
import pm2 from 'pm2';
import { PgCtl } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { OsUser } from '../lib/pgbin.js';
import { pidAlive, postmasterRunning, readPostmasterPid } from '../lib/postmaster-pid.js';
import type { PostgresSupervisor } from '../keeper/pg/supervisor.js';

/** pm2 kill_timeout: time for a fast shutdown (checkpoint) before SIGKILL. */
export const POSTGRES_KILL_TIMEOUT_MS = 60_000;

export function postgresAppName(node: string): string {
  return `pgaf-postgres-${node.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export interface Pm2SupervisorOptions {
  appName: string;
  pgdata: string;
  binDir: string;
  runAs?: OsUser;
  log: Logger;
  /** stops a postmaster that PM2 did not start (pg_ctl), before adopting it */
  foreignStop: (mode: 'fast' | 'immediate') => Promise<void>;
  startSec?: number;
  stopSec?: number;
}

interface AppStatus {
  pid: number;
  status: string;
}

let connected: Promise<void> | undefined;

/** One connection to the PM2 daemon of $PM2_HOME per process. */
export function connectPm2(): Promise<void> {
  connected ??= new Promise<void>((resolve, reject) => pm2.connect((err) => (err ? reject(err) : resolve()))).catch((err) => {
    connected = undefined;
    throw err;
  });
  return connected;
}

export function disconnectPm2(): void {
  if (connected) pm2.disconnect();
  connected = undefined;
}

function call<T>(fn: (cb: (err: Error | null, res: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The PM2 app's pid and status ('online', 'stopped', 'errored', ...), or undefined. */
export async function describeApp(name: string): Promise<AppStatus | undefined> {
  await connectPm2();
  const list = await call<pm2.ProcessDescription[]>((cb) => pm2.describe(name, cb as never));
  const p = list[0];
  if (!p) return undefined;
  return { pid: p.pid ?? 0, status: p.pm2_env?.status ?? 'unknown' };
}

export class Pm2Supervisor implements PostgresSupervisor {
  readonly kind = 'pm2';

  constructor(private readonly o: Pm2SupervisorOptions) {}

  get appName(): string {
    return this.o.appName;
  }

  async isRunning(): Promise<boolean> {
    return postmasterRunning(this.o.pgdata);
  }

  /** The PM2 app definition: PGDATA's config files carry every setting. */
  appOptions(): pm2.StartOptions & Record<string, unknown> {
    return {
      name: this.o.appName,
      script: join(this.o.binDir, 'postgres'),
      args: ['-D', this.o.pgdata],
      interpreter: 'none',
      exec_mode: 'fork',
      cwd: '/',
      autorestart: false,
      kill_timeout: POSTGRES_KILL_TIMEOUT_MS,
      // SIGINT to the postmaster only (a fast shutdown), never to its backends
      treekill: false,
      merge_logs: true,
      // PM2 copies our environment into the app's (and into `pm2 save`): plugin/module.ts
      // removes the secrets from it first
      env: { LC_ALL: 'C', LANG: 'C' },
      ...(this.o.runAs ? { uid: this.o.runAs.name } : {}),
    };
  }

  async start(): Promise<void> {
    if (postmasterRunning(this.o.pgdata)) return;
    await connectPm2();
    const app = await describeApp(this.o.appName);
    // a stopped app is started afresh so that its definition is always the current one
    if (app) await call((cb) => pm2.delete(this.o.appName, cb as never)).catch(() => undefined);
    this.o.log.info(`Starting PostgreSQL as PM2 app ${this.o.appName}`, { pgdata: this.o.pgdata });
    await call((cb) => pm2.start(this.appOptions() as pm2.StartOptions, cb as never));
    await this.waitReady(this.o.startSec ?? 60);
  }

  /** Until postmaster.pid says ready (or standby) for a live PM2-started postmaster. */
  private async waitReady(timeoutSec: number): Promise<void> {
    const deadline = Date.now() + timeoutSec * 1000;
    // postmaster.pid every 10 ms (a failover waits on it), PM2 about every 100 ms
    for (let i = 0; ; i++) {
      const p = readPostmasterPid(this.o.pgdata);
      if (p && pidAlive(p.pid) && (p.status === 'ready' || p.status === 'standby')) return;
      if (i % 10 === 0) {
        const app = await describeApp(this.o.appName);
        if (!app || (app.status !== 'online' && app.status !== 'launching')) {
          throw new PgCtl(`Postgres (PM2 app ${this.o.appName}) exited while starting (status ${app?.status ?? 'gone'})`, {
            retryable: true,
            hint: `see pm2 logs ${this.o.appName}`,
          });
        }
      }
      if (Date.now() > deadline) {
        throw new PgCtl(`Postgres (PM2 app ${this.o.appName}) did not become ready within ${timeoutSec}s`, { retryable: true });
      }
      await sleep(10);
    }
  }

  async stop(mode: 'fast' | 'immediate'): Promise<void> {
    const p = readPostmasterPid(this.o.pgdata);
    const app = await describeApp(this.o.appName).catch(() => undefined);
    if (!p || !pidAlive(p.pid)) {
      if (app?.status === 'online') await call((cb) => pm2.stop(this.o.appName, cb as never)).catch(() => undefined);
      return;
    }
    if (!app || app.pid !== p.pid) {
      this.o.log.info('Postgres runs outside PM2: stopping it with pg_ctl', { pid: p.pid, mode });
      await this.o.foreignStop(mode);
      return;
    }
    this.o.log.info(`Stopping PostgreSQL (PM2 app ${this.o.appName})`, { mode });
    if (mode === 'immediate') process.kill(p.pid, 'SIGQUIT');
    // pm2 sends SIGINT (a fast shutdown) and waits up to kill_timeout
    await call((cb) => pm2.stop(this.o.appName, cb as never)).catch((err: Error) => {
      this.o.log.warn(`pm2 stop ${this.o.appName}: ${err.message}`);
    });
    const deadline = Date.now() + (this.o.stopSec ?? 60) * 1000;
    while (pidAlive(p.pid)) {
      if (Date.now() > deadline) throw new PgCtl(`Postgres (pid ${p.pid}) did not stop within ${this.o.stopSec ?? 60}s`, { retryable: true });
      await sleep(10);
    }
  }

  /**
   * A postmaster started outside PM2 (by `create monitor`, or an earlier `pgaf run`) becomes
   * the PM2 app: fast shutdown, then start under PM2. Nothing to do when PM2 runs it already.
   */
  async adopt(): Promise<void> {
    const p = readPostmasterPid(this.o.pgdata);
    if (!p || !pidAlive(p.pid)) return;
    const app = await describeApp(this.o.appName);
    if (app && app.pid === p.pid && app.status === 'online') return;
    this.o.log.info(`Postgres (pid ${p.pid}) runs outside PM2: restarting it as PM2 app ${this.o.appName}`);
    await this.o.foreignStop('fast');
    await this.start();
  }
}
