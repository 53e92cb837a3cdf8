// How an error reaches the user: its message (and hint) in the log, and its exit code.
import { exitCodeOf, PgafError } from '../lib/errors.js';
import { log } from '../lib/log.js';

/** Logs an error the way users should read it; returns the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof PgafError) {
    log.error(err.message);
    if (err.hint) log.error(`Hint: ${err.hint}`);
  } else {
    log.error(`unexpected error: ${(err as Error)?.stack ?? String(err)}`);
  }
  return exitCodeOf(err);
}
