// The keeper's Postgres binaries: lib/postgres-ctl.ts PostgresCtl (every pg_ctl verb, initdb)
// extended with the tools only the keeper runs: pg_basebackup, pg_rewind, pg_controldata and
// single-user crash recovery. Each has a timeout.
import { PgCtl } from '../../lib/errors.js';
import { lastLines, PostgresCtl, type PostgresCtlOptions, type RunResult } from '../../lib/postgres-ctl.js';

const C_LOCALE = { LC_ALL: 'C', LANG: 'C' };
/** pg_basebackup's complaint when we ask for a slot the upstream does not have yet. */
export const NO_SUCH_SLOT = /replication slot .* does not exist/;

/**
 * lib/postgres-ctl.ts PostgresCtl (pg_ctl and initdb: one copy for the CLI, the monitor and
 * the keeper) plus the tools only the keeper runs. Everything runs with the C
 * locale (pg_controldata's labels are parsed; the postmaster inherits it).
 */
export class KeeperCtl extends PostgresCtl {
  constructor(opts: Omit<PostgresCtlOptions, 'env'>) {
    super({ ...opts, env: C_LOCALE });
  }

  /** pg_controldata as a map of its "Label: value" lines. */
  async controlData(): Promise<Record<string, string>> {
    const res = await this.run('pg_controldata', ['-D', this.pgdata], 30_000, { quiet: true });
    if (res.code !== 0) throw new PgCtl(`pg_controldata ${this.pgdata} failed (exit ${res.code}): ${lastLines(res.stderr)}`);
    return parseControlData(res.stdout);
  }

  /**
   * Crash recovery without letting anyone connect: `postgres --single` with no input replays
   * the WAL, writes a shutdown checkpoint and exits. It refuses to run with standby.signal.
   */
  async singleUserRecovery(timeoutMs = 600_000): Promise<void> {
    this.log.info('Finishing crash recovery in single-user mode', { pgdata: this.pgdata });
    const res = await this.run('postgres', ['--single', '-F', '-D', this.pgdata, 'postgres'], timeoutMs);
    if (res.code !== 0) {
      throw new PgCtl(`crash recovery of ${this.pgdata} in single-user mode failed (exit ${res.code}): ${lastLines(res.stderr || res.stdout)}`);
    }
  }

  /** pg_basebackup into `targetDir` (which must not exist); the password comes from the passfile of `conninfo`. */
  basebackup(a: {
    host: string;
    port: number;
    user: string;
    targetDir: string;
    slot?: string;
    /** conninfo words for SSL and the password file (sslmode=… passfile=…), merged with -h -p -U */
    sslConninfo?: string;
    timeoutMs: number;
  }): Promise<RunResult> {
    const args = [
      '-w',
      ...(a.sslConninfo ? ['-d', a.sslConninfo] : []),
      '-h', a.host,
      '-p', String(a.port),
      '-U', a.user,
      '-D', a.targetDir,
      '--wal-method=stream',
      '--checkpoint=fast',
      // the caller flushes the copy with syncDataDir(): one syncfs instead of an fsync per file
      '--no-sync',
      ...(a.slot ? ['--slot', a.slot] : []),
    ];
    this.log.info('Taking a base backup', { from: `${a.host}:${a.port}`, slot: a.slot ?? 'none', into: a.targetDir });
    return this.run('pg_basebackup', args, a.timeoutMs, {
      // a missing slot is the caller's cue to go without one, not a failure
      ok: (r) => r.code === 0 || (a.slot !== undefined && NO_SUCH_SLOT.test(r.stderr)),
    });
  }

  /**
   * pg_rewind of our PGDATA (shut down cleanly) from a running source server, without its
   * file-by-file fsync: the caller flushes PGDATA with syncDataDir() before starting it.
   */
  rewind(a: { sourceConninfo: string; timeoutMs: number }): Promise<RunResult> {
    this.log.info('Rewinding PGDATA', { pgdata: this.pgdata, source: a.sourceConninfo });
    return this.run('pg_rewind', ['--target-pgdata', this.pgdata, '--source-server', a.sourceConninfo, '--no-sync'], a.timeoutMs);
  }
}

export function parseControlData(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** A cluster pg_rewind accepts as a target: shut down cleanly, as a primary or a standby. */
export function cleanlyShutDown(control: Record<string, string>): boolean {
  const state = control['Database cluster state'];
  return state === 'shut down' || state === 'shut down in recovery';
}
