// The Postgres supervision seam: who starts and stops the postmaster of a PGDATA.
// Two implementations behind one interface: PgCtlSupervisor here (a detached `pg_ctl start`,
// for `pgaf run` in a terminal and for tests) and plugin/pm2-supervisor.ts (a PM2 app, module
// mode). This file must not import pm2: the keeper's pg_ctl path stays lean.
import { postmasterRunning } from '../../lib/postmaster-pid.js';
import type { KeeperCtl } from './ctl.js';

export interface PostgresSupervisor {
  /** 'pg_ctl' or 'pm2', for logs and status */
  readonly kind: string;
  /** Starts the postmaster and waits until it accepts connections; no-op when it runs. */
  start(): Promise<void>;
  /** Stops it (fast: SIGINT, immediate: SIGQUIT) and waits; no-op when it is stopped. */
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /** postmaster.pid names a live process. */
  isRunning(): Promise<boolean>;
}

/** The pg_ctl supervisor: `pg_ctl start -w` in its own session, `pg_ctl stop -m mode`. */
export class PgCtlSupervisor implements PostgresSupervisor {
  readonly kind = 'pg_ctl';

  constructor(
    private readonly ctl: KeeperCtl,
    private readonly o: { logFile: string; startSec?: number; stopSec?: number },
  ) {}

  async isRunning(): Promise<boolean> {
    return postmasterRunning(this.ctl.pgdata);
  }

  async start(): Promise<void> {
    if (await this.isRunning()) return;
    await this.ctl.start({ logFile: this.o.logFile, timeoutSec: this.o.startSec ?? 60, ownSession: true });
  }

  async stop(mode: 'fast' | 'immediate'): Promise<void> {
    await this.ctl.stop({ mode, timeoutSec: this.o.stopSec ?? 60 });
  }
}
