// Which keeper hooks a state change fires: pure. A node's role follows from its state:
// primary (takes writes), replica (a standby that runs), stopped (demoted, draining, ...),
// none (init, maintenance, dropped, ...).
import type { HooksConfig } from '../../config/integrations-config.js';
import { canTakeWrites, expectationOf, type NodeState } from '../fsm/states.js';

export type NodeRole = 'primary' | 'replica' | 'stopped' | 'none';

export function roleOf(s: NodeState): NodeRole {
  if (canTakeWrites(s)) return 'primary';
  const e = expectationOf(s);
  if (e === 'running-standby' || e === 'running') return 'replica';
  if (e === 'stopped') return 'stopped';
  return 'none';
}

export interface PlannedHook {
  hook: 'on_role_change' | 'on_primary' | 'on_demote';
  command: string;
}

/** The hooks to run after the node went from `from` to `to` (in this order). */
export function hooksAfter(from: NodeState, to: NodeState, h: HooksConfig | undefined): PlannedHook[] {
  if (!h || from === to) return [];
  const a = roleOf(from);
  const b = roleOf(to);
  const out: PlannedHook[] = [];
  if (a !== b && h.onRoleChange) out.push({ hook: 'on_role_change', command: h.onRoleChange });
  if (b === 'primary' && a !== 'primary' && h.onPrimary) out.push({ hook: 'on_primary', command: h.onPrimary });
  if (a === 'primary' && b !== 'primary' && h.onDemote) out.push({ hook: 'on_demote', command: h.onDemote });
  return out;
}

/** The fencing hook runs before a transition that makes a node take writes (not a new node's first start). */
export function needsFencingHook(from: NodeState, to: NodeState, h: HooksConfig | undefined): string | undefined {
  if (!h?.prePromote) return undefined;
  if (from === 'init' || canTakeWrites(from) || !canTakeWrites(to)) return undefined;
  return h.prePromote;
}
