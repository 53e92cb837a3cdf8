// Runs the transition from the current state to the assigned one: the keeper's loop and
// `pgaf do fsm assign` both move a node through here, and it logs the one sentence a
// transition gets.
import type { StepContext } from './context.js';
import type { NodeState } from './states.js';
import { findTransition } from './transitions.js';

export type ReachOutcome =
  | { readonly kind: 'reached'; readonly ms: number }
  /** the table has no edge from → to */
  | { readonly kind: 'no-edge' }
  /** `before` said no (a fencing hook failed) */
  | { readonly kind: 'cancelled'; readonly why: string };

export interface ReachOptions {
  /** why the node goes there, for the log */
  readonly reason?: string;
  /** asked first; a string cancels the transition (logged) */
  readonly before?: () => Promise<string | undefined>;
}

/**
 * Runs the step of the edge from → to. A step that throws leaves the node in `from` (the
 * steps are idempotent: the next attempt runs it again); the caller records the new state.
 */
export async function reachAssignedState(ctx: StepContext, from: NodeState, to: NodeState, opts: ReachOptions = {}): Promise<ReachOutcome> {
  const t = findTransition(from, to);
  if (!t) return { kind: 'no-edge' };
  const why = await opts.before?.();
  if (why) {
    ctx.log.warn(`Transition from ${from} to ${to} cancelled: ${why}.`);
    return { kind: 'cancelled', why };
  }
  const started = Date.now();
  await t.run(ctx);
  const ms = Date.now() - started;
  ctx.log.info(`Transition from ${from} to ${to}: ${t.comment}${opts.reason ? ` (${opts.reason})` : ''}.`, { ms });
  return { kind: 'reached', ms };
}
