// Polling helpers for end-to-end tests: wait for a condition with a deadline, and say in the
// error what was awaited and what was last seen.

/** Calls `fn` until `pred` holds for its value; the error names `what` and the last value or error. */
export async function until<T>(what: string, fn: () => Promise<T> | T, pred: (v: T) => boolean, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'nothing yet';
  for (;;) {
    try {
      last = await fn();
      if (pred(last as T)) return last as T;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Calls `fn` until it returns a truthy value, and returns it; the error names `what` and the last error. */
export async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
