// Calls of an async function that must not overlap (reconfiguring a server on SIGHUP while the
// start-up still configures it): each call starts once the previous one has settled, in order.

/** `fn`, with each call queued behind the calls before it; a failed call does not stop the queue. */
export function oneAtATime<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  let last: Promise<void> = Promise.resolve();
  return (...args: A) => {
    const run = last.then(() => fn(...args));
    last = run.catch(() => undefined);
    return run;
  };
}
