// Typed errors with the exit codes of pg_auto_failover (its defaults.h EXIT_CODE_*).
// Code raises these; only cli/main.ts turns them into a process exit code.

export interface PgafErrorOptions {
  /** A stable machine-readable code, e.g. 'BAD_ARGS'. Defaults to the class's. */
  code?: string;
  /** Whether trying the same thing again later may succeed. */
  retryable?: boolean;
  /** What the user can do about it, printed after the message. */
  hint?: string;
  cause?: unknown;
}

export class PgafError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly retryable: boolean;
  readonly hint?: string;

  constructor(message: string, exitCode: number, defaultCode: string, opts: PgafErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.code = opts.code ?? defaultCode;
    this.retryable = opts.retryable ?? false;
    this.hint = opts.hint;
  }
}

/** Bad command line: unknown option, out-of-range value, missing argument. */
export class BadArgs extends PgafError {
  constructor(message: string, opts?: PgafErrorOptions) {
    super(message, 1, 'BAD_ARGS', opts);
  }
}

/** Bad or missing configuration (config file, binaries, environment). */
export class BadConfig extends PgafError {
  constructor(message: string, opts?: PgafErrorOptions) {
    super(message, 2, 'BAD_CONFIG', opts);
  }
}

/** The local state does not allow the operation (wrong node role, corrupt state file). */
export class BadState extends PgafError {
  constructor(message: string, opts?: PgafErrorOptions) {
    super(message, 3, 'BAD_STATE', opts);
  }
}

/**
 * A SQL statement failed; keeps the server's SQLSTATE and detail. Exit 4, or 6 when the
 * statement ran on the monitor (the original reports every failed monitor call as 6).
 */
export class PgSql extends PgafError {
  readonly sqlstate?: string;
  readonly detail?: string;
  constructor(message: string, opts: PgafErrorOptions & { sqlstate?: string; detail?: string; onMonitor?: boolean } = {}) {
    super(message, opts.onMonitor ? 6 : 4, 'PGSQL', opts);
    this.sqlstate = opts.sqlstate;
    this.detail = opts.detail;
  }
}

/** initdb / pg_ctl / postgres failed or timed out. */
export class PgCtl extends PgafError {
  constructor(message: string, opts?: PgafErrorOptions) {
    super(message, 5, 'PGCTL', opts);
  }
}

/** The monitor could not be reached or refused a call. */
export class MonitorFailed extends PgafError {
  constructor(message: string, opts?: PgafErrorOptions) {
    super(message, 6, 'MONITOR', { retryable: true, ...opts });
  }
}

/**
 * A command for a data node was run on a monitor's PGDATA (`show state --local`). Exit 6 as the
 * original (EXIT_CODE_MONITOR) there, though nothing failed on the monitor.
 */
export class NotOnMonitor extends PgafError {
  constructor(message: string, opts?: PgafErrorOptions) {
    super(message, 6, 'NOT_ON_MONITOR', opts);
  }
}

/** The local pgaf service (keeper or monitor service) did not do what it was asked, e.g. stop. */
export class KeeperFailed extends PgafError {
  constructor(message: string, opts?: PgafErrorOptions) {
    super(message, 8, 'KEEPER', opts);
  }
}

/** This node was dropped from its formation. */
export class Dropped extends PgafError {
  constructor(message: string, opts?: PgafErrorOptions) {
    super(message, 121, 'DROPPED', opts);
  }
}

/** Unrecoverable: stop now. Also the exit code of unexpected errors. */
export class Fatal extends PgafError {
  constructor(message: string, opts?: PgafErrorOptions) {
    super(message, 122, 'FATAL', opts);
  }
}

/** The exit code a thrown value maps to: its own for a PgafError, Fatal's otherwise. */
export function exitCodeOf(err: unknown): number {
  return err instanceof PgafError ? err.exitCode : 122;
}
