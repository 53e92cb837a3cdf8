// The one module that runs initdb, pg_ctl and postgres, and (through runProgram) every other
// tool: openssl, pg_basebackup, pg_rewind, pg_controldata. Each call has a timeout and runs as
// the OS user that owns PGDATA when we are root. A tool's output never reaches the info level:
// its lines go to debug prefixed by the program name, the caller logs one sentence saying what
// was done, and a run that fails logs the tool's stderr in full on one warning line.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PgCtl, BadConfig } from './errors.js';
import { log as rootLog, type Logger } from './log.js';
import { pgBinDir, type OsUser } from './pgbin.js';
import { writeFileAs } from './atomic-file.js';
import { withPeerMap, withSuperuserPeer } from './hba.js';
import { editHbaFile, hbaFileOf } from './hba-file.js';
import { childEnv } from './secrets.js';
import { pidAlive, postmasterRunning, readPostmasterPid, signalPostmaster } from './postmaster-pid.js';

import type { AuthMethod } from './auth-method.js';

/** keeper/pg/ imports it from here; defined in lib/auth-method.ts. */
export type { AuthMethod };
export type StopMode = 'smart' | 'fast' | 'immediate';
export type PgStatus = 'running' | 'stopped' | 'no-pgdata';

/** how often start and stop look at postmaster.pid while pg_ctl waits (pg_ctl: 100 ms) */
const REACHED_POLL_MS = 10;
/** how often a stop looks whether the postmaster is gone (its pid file is removed last thing) */
const STOP_POLL_MS = 5;
/** the postmaster's shutdown signals, as pg_ctl stop -m sends them */
const STOP_SIGNALS: Record<StopMode, NodeJS.Signals> = { smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT' };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The directory of the Postgres binaries: beside `--pgctl` when given, else from pg_config. */
export function resolveBinDir(pgctl?: string): string {
  if (pgctl) {
    try {
      accessSync(pgctl, constants.X_OK);
    } catch {
      throw new BadConfig(`--pgctl ${pgctl} is not an executable file`);
    }
    return dirname(realpathSync(pgctl));
  }
  let dir: string;
  try {
    dir = pgBinDir();
  } catch (err) {
    throw new BadConfig('cannot find the PostgreSQL binaries: pg_config is not on PATH', {
      cause: err,
      hint: 'pass --pgctl /path/to/pg_ctl, or set PG_CONFIG=/path/to/pg_config',
    });
  }
  if (!existsSync(join(dir, 'pg_ctl'))) {
    throw new BadConfig(`pg_config says the binaries are in ${dir}, but there is no pg_ctl there`, {
      hint: 'install the PostgreSQL server package, or pass --pgctl /path/to/pg_ctl',
    });
  }
  return dir;
}

const homes = new Map<number, string>();

/** The home directory of `user` (getent passwd), else / when it has none. */
export function homeOf(user: OsUser): string {
  let home = homes.get(user.uid);
  if (home === undefined) {
    try {
      home = execFileSync('getent', ['passwd', String(user.uid)], { encoding: 'utf8' }).split(':')[5]?.trim() || '/';
    } catch {
      home = '/';
    }
    homes.set(user.uid, home);
  }
  return home;
}

/** The lines of a tool's output: debug (trace when the caller runs it every tick). */
function toolLines(logger: Logger, quiet: boolean): (line: string) => void {
  return quiet ? (line) => logger.trace(line) : (line) => logger.debug(line);
}

/**
 * Runs `file args` and resolves with its exit code and output; never rejects on a non-zero
 * exit. Rejects with PgCtl when it cannot start or exceeds `timeoutMs`. Output lines are logged
 * at debug (trace with `quiet`); when `ok` says the run failed (default: exit code not 0), one
 * warning names the program and exit code and carries its whole stderr.
 */
export function runProgram(
  file: string,
  args: string[],
  opts: {
    runAs?: OsUser;
    timeoutMs: number;
    log?: Logger;
    env?: NodeJS.ProcessEnv;
    /** Run in a new session (setsid): signals to our process group never reach it or its children. */
    detached?: boolean;
    /** Output at trace instead of debug (for calls made every tick). */
    quiet?: boolean;
    /** Whether a finished run succeeded (default: exit code 0); a failed one logs its stderr. */
    ok?: (res: RunResult) => boolean;
    /** Ends the program (SIGTERM) when aborted, without a warning: its answer is no longer wanted. */
    signal?: AbortSignal;
  },
): Promise<RunResult> {
  const logger = opts.log ?? rootLog;
  const prog = basename(file);
  const outputLine = toolLines(logger, opts.quiet ?? false);
  outputLine(`Running ${prog} ${args.join(' ')}${opts.runAs ? ` as ${opts.runAs.name}` : ''}`);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: '/',
      uid: opts.runAs?.uid,
      gid: opts.runAs?.gid,
      // libpq in a program run as another user looks for ~/.postgresql (client certificates,
      // root.crt): that must be its own home, not ours, which it may not even enter.
      env: { ...childEnv(process.env), ...(opts.runAs ? { HOME: homeOf(opts.runAs) } : {}), ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.detached ?? false,
    });
    let stdout = '';
    let stderr = '';
    // Output arrives in chunks that may split lines: log whole lines, the rest on close.
    const pending = { out: '', err: '' };
    const emit = (line: string) => {
      if (line.trim()) outputLine(`${prog}: ${line}`);
    };
    const stream = (chunk: Buffer, isErr: boolean) => {
      const text = chunk.toString('utf8');
      if (isErr) stderr += text;
      else stdout += text;
      const key = isErr ? 'err' : 'out';
      const lines = (pending[key] + text).split('\n');
      pending[key] = lines.pop() ?? '';
      for (const line of lines) emit(line);
    };
    let aborted = false;
    opts.signal?.addEventListener('abort', () => {
      aborted = true;
      child.kill('SIGTERM');
    });
    child.stdout.on('data', (c: Buffer) => stream(c, false));
    child.stderr.on('data', (c: Buffer) => stream(c, true));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new PgCtl(`cannot run ${file}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      emit(pending.out);
      emit(pending.err);
      if (timedOut) {
        logger.warn(`${prog} did not finish within ${Math.round(opts.timeoutMs / 1000)} s and was killed`, { stderr: stderr.trim() || undefined });
        reject(new PgCtl(`${prog} did not finish within ${Math.round(opts.timeoutMs / 1000)}s and was killed`, { retryable: true }));
        return;
      }
      const res = { code: code ?? (signal ? 128 : -1), stdout, stderr };
      if (!aborted && !(opts.ok ?? exitedZero)(res)) {
        logger.warn(`${prog} failed with exit code ${res.code}${signal ? ` (${signal})` : ''}`, { stderr: stderr.trim() || lastLines(stdout) || undefined });
      }
      resolve(res);
    });
  });
}

function exitedZero(res: RunResult): boolean {
  return res.code === 0;
}

/** `pg_ctl status` answers with its exit code: 0 running, 3 stopped, 4 no data directory. */
export function statusAnswered(res: RunResult): boolean {
  return res.code === 0 || res.code === 3 || res.code === 4;
}

/** The last `n` lines of a tool's output, for an error message. */
export function lastLines(text: string, n = 5): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

export interface PostgresCtlOptions {
  pgdata: string;
  binDir: string;
  /** OS user to run the binaries as (set when we are root). */
  runAs?: OsUser;
  log?: Logger;
  /** Environment for every binary run (the keeper: the C locale, see keeper/pg/ctl.ts). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The one pg_ctl wrapper: verb methods over one data directory (initdb, start, stop, status,
 * reload), for the CLI, the monitor and the keeper. The keeper's other tools
 * (pg_basebackup, pg_rewind, pg_controldata, single-user recovery) extend it in keeper/pg/ctl.ts.
 */
export class PostgresCtl {
  readonly pgdata: string;
  readonly binDir: string;
  readonly runAs?: OsUser;
  protected readonly log: Logger;
  private readonly env?: NodeJS.ProcessEnv;

  constructor(opts: PostgresCtlOptions) {
    this.pgdata = opts.pgdata;
    this.binDir = opts.binDir;
    this.runAs = opts.runAs;
    this.log = opts.log ?? rootLog;
    this.env = opts.env;
  }

  get pgCtlPath(): string {
    return join(this.binDir, 'pg_ctl');
  }

  /** Runs one of the binaries of binDir as runAs, logging through this wrapper's logger. */
  protected run(
    program: string,
    args: string[],
    timeoutMs: number,
    extra: { detached?: boolean; quiet?: boolean; ok?: (r: RunResult) => boolean; signal?: AbortSignal } = {},
  ): Promise<RunResult> {
    return runProgram(join(this.binDir, program), args, { runAs: this.runAs, timeoutMs, log: this.log, env: this.env, ...extra });
  }

  private async mustRun(
    program: string,
    args: string[],
    timeoutMs: number,
    what: string,
    extra: { detached?: boolean; retryable?: boolean } = {},
  ): Promise<RunResult> {
    const res = await this.run(program, args, timeoutMs, { detached: extra.detached });
    if (res.code !== 0) {
      throw new PgCtl(`${what} failed (${program} exit ${res.code}): ${lastLines(res.stderr || res.stdout)}`, { retryable: extra.retryable });
    }
    return res;
  }

  /**
   * initdb with no trust anywhere: local connections by peer (the superuser through the pgaf
   * map, see lib/hba.ts), host connections by `authHost` (scram-sha-256 unless --auth says
   * otherwise). We connect as the superuser over the socket.
   */
  async initdb(opts: { authHost: AuthMethod; timeoutMs?: number }): Promise<void> {
    this.log.info('Initialising a PostgreSQL cluster', { pgdata: this.pgdata });
    await this.mustRun(
      'initdb',
      ['-D', this.pgdata, '--auth-local=peer', `--auth-host=${opts.authHost}`, '-E', 'UTF8', '--locale=C', '--no-sync'],
      opts.timeoutMs ?? 120_000,
      `initdb of ${this.pgdata}`,
    );
    const superuser = this.runAs?.name ?? userInfo().username;
    const hbaFile = hbaFileOf(this.pgdata);
    const identFile = join(this.pgdata, 'pg_ident.conf');
    editHbaFile(hbaFile, (text) => withSuperuserPeer(text, superuser), this.runAs);
    writeFileAs(identFile, withPeerMap(readFileSync(identFile, 'utf8'), superuser), this.runAs);
    await this.syncDataDir();
  }

  /**
   * Makes everything under `dir` (PGDATA by default) durable. initdb, pg_basebackup and
   * pg_rewind of PostgreSQL 15 fsync every file of the cluster one by one when they finish
   * (0.2-0.5 s on a fresh cluster here: most of a pg_rewind's time); we run them with their
   * no-sync switch and call this instead: syncfs(2) of each filesystem holding the directory,
   * its pg_wal and its tablespaces (`sync -f`, coreutils), the method PostgreSQL itself offers
   * as recovery_init_sync_method=syncfs. It also flushes whatever else is dirty on those
   * filesystems. Where `sync -f` is missing or fails, `initdb --sync-only` fsyncs file by file.
   */
  async syncDataDir(dir = this.pgdata): Promise<void> {
    const paths = syncTargets(dir);
    try {
      const res = await runProgram(syncProgram(), ['-f', ...paths], { timeoutMs: 600_000, log: this.log });
      if (res.code === 0) return;
    } catch (err) {
      this.log.warn(`sync -f is not available (${(err as Error).message}): fsyncing ${dir} file by file`);
    }
    await this.mustRun('initdb', ['--sync-only', '-D', dir], 600_000, `fsync of ${dir}`);
  }

  /** `pg_ctl status`: running (0), stopped (3), or not a data directory (4); supervisors call it every few seconds, so its output goes to trace. */
  async status(timeoutMs = 10_000): Promise<PgStatus> {
    const res = await this.run('pg_ctl', ['-D', this.pgdata, 'status'], timeoutMs, { ok: statusAnswered, quiet: true });
    if (res.code === 0) return 'running';
    if (res.code === 3) return 'stopped';
    return 'no-pgdata';
  }

  /**
   * `pg_ctl start -w`, server output appended to `logFile`. With `ownSession` (the keeper) it
   * runs in a session of its own (setsid), so that a signal to the caller's process group, or
   * the caller's death, never reaches Postgres, and a failure is retryable (the next tick).
   */
  async start(opts: { logFile: string; timeoutSec?: number; ownSession?: boolean }): Promise<void> {
    const secs = opts.timeoutSec ?? 60;
    this.log.info('Starting PostgreSQL', { pgdata: this.pgdata });
    const launchedAt = Math.floor(Date.now() / 1000);
    const res = await this.runUntil(
      ['-D', this.pgdata, '-l', opts.logFile, '-w', '-t', String(secs), 'start'],
      (secs + 10) * 1000,
      () => {
        // pg_ctl's own test: a postmaster started by this call, alive, accepting connections
        const p = readPostmasterPid(this.pgdata);
        return p !== undefined && p.startedAt >= launchedAt - 1 && (p.status === 'ready' || p.status === 'standby') && pidAlive(p.pid);
      },
      { detached: opts.ownSession },
    );
    if (res && res.code !== 0) {
      throw new PgCtl(`starting Postgres in ${this.pgdata} (see ${opts.logFile}) failed (pg_ctl exit ${res.code}): ${lastLines(res.stderr || res.stdout)}`, {
        retryable: opts.ownSession,
      });
    }
  }

  /**
   * Stops the server as `pg_ctl stop -w -m mode` does (the mode's signal to the pid in
   * postmaster.pid, then a wait for that file to go); a server that is not running is
   * already stopped.
   */
  async stop(opts: { mode?: StopMode; timeoutSec?: number } = {}): Promise<'stopped' | 'was-stopped'> {
    if (!postmasterRunning(this.pgdata)) return 'was-stopped';
    const mode = opts.mode ?? 'fast';
    const secs = opts.timeoutSec ?? 60;
    this.log.info('Stopping PostgreSQL', { pgdata: this.pgdata, mode });
    // the signal pg_ctl would send, without starting pg_ctl (a switchover's write gap waits on
    // this stop); pg_ctl when signalPostmaster cannot
    if (signalPostmaster(this.pgdata, STOP_SIGNALS[mode])) {
      const deadline = Date.now() + secs * 1000;
      while (postmasterRunning(this.pgdata)) {
        if (Date.now() >= deadline) throw new PgCtl(`Postgres in ${this.pgdata} did not stop within ${secs}s (${mode} shutdown)`);
        await sleep(STOP_POLL_MS);
      }
      return 'stopped';
    }
    const res = await this.runUntil(
      ['-D', this.pgdata, '-m', mode, '-w', '-t', String(secs), 'stop'],
      (secs + 10) * 1000,
      // the postmaster removes its pid file last thing before it exits: pg_ctl's own test
      () => !postmasterRunning(this.pgdata),
      { endLingering: true },
    );
    if (res && res.code !== 0 && postmasterRunning(this.pgdata)) {
      throw new PgCtl(`stopping Postgres in ${this.pgdata} failed (pg_ctl exit ${res.code}): ${lastLines(res.stderr || res.stdout)}`);
    }
    return 'stopped';
  }

  /**
   * Runs `pg_ctl args` and resolves as soon as `reached()` holds, checked every 10 ms, or when
   * pg_ctl ends, whichever comes first (undefined in the first case). pg_ctl's own -w wait
   * looks at the same files only every 100 ms, and those 100 ms sit in every switchover and
   * failover. With `endLingering`, a pg_ctl still waiting then is ended: a `stop` would
   * otherwise wait on for the next postmaster of the same PGDATA (a restart) and time out.
   */
  private async runUntil(
    args: string[],
    timeoutMs: number,
    reached: () => boolean,
    extra: { detached?: boolean; endLingering?: boolean } = {},
  ): Promise<RunResult | undefined> {
    const abort = new AbortController();
    const run = this.run('pg_ctl', args, timeoutMs, { detached: extra.detached, signal: extra.endLingering ? abort.signal : undefined });
    let ended = false;
    const done = run.then(
      (r) => ((ended = true), r),
      (err: unknown) => {
        ended = true;
        throw err;
      },
    );
    done.catch(() => undefined); // rejections are handled below or by the race's loser
    while (!ended) {
      if (reached()) {
        abort.abort();
        return undefined;
      }
      const r = await Promise.race([done, sleep(REACHED_POLL_MS).then(() => undefined)]);
      if (r) return r;
    }
    return done;
  }

  /**
   * `pg_ctl reload`: re-read postgresql.conf and pg_hba.conf. Its SIGHUP goes straight to the
   * postmaster when signalPostmaster can (a promotion waits on reloads), else through pg_ctl.
   */
  async reload(): Promise<void> {
    if (signalPostmaster(this.pgdata, 'SIGHUP')) return;
    await this.mustRun('pg_ctl', ['-D', this.pgdata, 'reload'], 10_000, `reloading Postgres in ${this.pgdata}`);
  }
}

/** A data directory and where its pg_wal and tablespaces live (symlinks followed by `sync -f`). */
export function syncTargets(dir: string): string[] {
  const out = [dir];
  if (existsSync(join(dir, 'pg_wal'))) out.push(join(dir, 'pg_wal') + '/');
  let spaces: string[] = [];
  try {
    spaces = readdirSync(join(dir, 'pg_tblspc'));
  } catch {
    // no tablespace directory (not a data directory yet): nothing more to flush
  }
  for (const t of spaces) out.push(join(dir, 'pg_tblspc', t) + '/');
  return out;
}

/** `postgres --version`, e.g. "postgres (PostgreSQL) 15.10 (Debian 15.10-1)". */
export async function postgresVersion(binDir: string): Promise<string> {
  const res = await runProgram(join(binDir, 'postgres'), ['--version'], { timeoutMs: 10_000 });
  if (res.code !== 0) throw new PgCtl(`postgres --version failed: ${lastLines(res.stderr)}`);
  return res.stdout.trim();
}

/**
 * coreutils' sync by its full path: a keeper that runs as root does not run whatever `sync`
 * comes first in the PATH it was started with. The PATH lookup is left for systems that keep
 * it elsewhere.
 */
export function syncProgram(candidates = ['/usr/bin/sync', '/bin/sync']): string {
  return candidates.find((p) => existsSync(p)) ?? 'sync';
}
