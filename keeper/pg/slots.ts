// Physical replication slots pgautofailover_standby_<id>, one per other node: a pure plan
// against the slots the server has, and applying it step by step.
import type { Logger } from '../../lib/log.js';
import type { Query } from '../../lib/sql.js';
import { compareLsn, isLsn } from '../../lib/lsn.js';
import { STANDBY_PREFIX, standbyName } from './names.js';
import * as sql from './local-sql.js';

export interface SlotRow {
  name: string;
  /** null while the slot reserves no WAL */
  restartLsn: string | null;
  active: boolean;
}

export interface WantedSlot {
  name: string;
  /** The LSN its node last reported to the monitor (standbys advance the slot to it). */
  lsn?: string;
}

export type SlotStep =
  | { kind: 'create'; name: string }
  | { kind: 'drop'; name: string }
  | { kind: 'advance'; name: string; from: string; to: string }
  | { kind: 'noop'; name: string };

/** One slot per other node; our own id never gets one. */
export function desiredSlots(peers: Array<{ nodeId: number; lsn?: string }>, selfId: number): WantedSlot[] {
  const seen = new Set<string>();
  const out: WantedSlot[] = [];
  for (const p of peers) {
    if (p.nodeId === selfId) continue;
    const name = standbyName(p.nodeId);
    if (seen.has(name)) continue;
    seen.add(name);
    out.push({ name, lsn: p.lsn });
  }
  return out;
}

/**
 * Create missing slots, drop pgautofailover_standby_* slots nobody wants (other slots are not
 * ours and stay). With `advance` (a standby), move an existing slot forward to its node's
 * LSN when that is ahead of the slot and not beyond what we replayed (`replayLsn`).
 */
export function planSlots(
  current: SlotRow[],
  desired: WantedSlot[],
  opts: { advance: boolean; replayLsn?: string },
): SlotStep[] {
  const ours = current.filter((s) => s.name.startsWith(STANDBY_PREFIX));
  const have = new Map(ours.map((s) => [s.name, s]));
  const want = new Set(desired.map((d) => d.name));
  const steps: SlotStep[] = [];
  for (const d of desired) {
    const slot = have.get(d.name);
    if (!slot) {
      steps.push({ kind: 'create', name: d.name });
      continue;
    }
    if (
      opts.advance &&
      isLsn(d.lsn) &&
      isLsn(slot.restartLsn) &&
      isLsn(opts.replayLsn) &&
      compareLsn(d.lsn, slot.restartLsn) > 0 &&
      compareLsn(d.lsn, opts.replayLsn) <= 0
    ) {
      steps.push({ kind: 'advance', name: d.name, from: slot.restartLsn, to: d.lsn });
      continue;
    }
    steps.push({ kind: 'noop', name: d.name });
  }
  for (const s of ours) if (!want.has(s.name)) steps.push({ kind: 'drop', name: s.name });
  return steps;
}

export interface SlotApplyResult {
  created: string[];
  dropped: string[];
  advanced: string[];
  failed: Array<{ step: SlotStep; error: string }>;
}

/** Runs the steps; a step that fails (a slot in use, a race) is logged and skipped. */
export async function applySlots(q: Query, steps: SlotStep[], log: Logger): Promise<SlotApplyResult> {
  const res: SlotApplyResult = { created: [], dropped: [], advanced: [], failed: [] };
  for (const step of steps) {
    try {
      switch (step.kind) {
        case 'create':
          await sql.createPhysicalSlot(q, step.name);
          res.created.push(step.name);
          log.info('Created replication slot', { slot: step.name });
          break;
        case 'drop':
          await sql.dropSlot(q, step.name);
          res.dropped.push(step.name);
          log.info('Dropped replication slot', { slot: step.name });
          break;
        case 'advance':
          await sql.advanceSlot(q, step.name, step.to);
          res.advanced.push(step.name);
          log.debug('Advanced replication slot', { slot: step.name, from: step.from, to: step.to });
          break;
        case 'noop':
          break;
      }
    } catch (err) {
      res.failed.push({ step, error: (err as Error).message });
      log.warn(`Could not ${step.kind} replication slot ${step.name}: ${(err as Error).message}`);
    }
  }
  return res;
}
