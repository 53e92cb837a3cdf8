// `pgaf apply`: the pure diff of what the monitor has against what the cluster file wants.
// planApply() returns ordered steps (or blockers: things no step can fix); cli/apply-formation.ts
// executes them through the monitor's SQL API. No I/O here.
import type { FormationSection } from './cluster-config.js';

export interface FormationFacts {
  formation: string;
  exists: boolean;
  numberSyncStandbys: number;
  secondary: boolean;
  nodes: Array<{ nodeId: number; name: string; candidatePriority: number; replicationQuorum: boolean; maintenance: boolean }>;
}

export type ApplyStep =
  | { kind: 'candidate_priority'; node: string; nodeId: number; from: number; to: number }
  | { kind: 'replication_quorum'; node: string; nodeId: number; from: boolean; to: boolean }
  | { kind: 'number_sync_standbys'; from: number; to: number }
  | { kind: 'secondary'; from: boolean; to: boolean }
  | { kind: 'maintenance'; node: string; nodeId: number; from: boolean; to: boolean };

export interface ApplyPlan {
  steps: ApplyStep[];
  /** why the formation cannot be made to match (unknown formation or node names) */
  blockers: string[];
}

const MAINTENANCE_STATES = new Set(['maintenance', 'wait_maintenance', 'prepare_maintenance']);

export function inMaintenance(reported: string, goal: string): boolean {
  return MAINTENANCE_STATES.has(goal) || (MAINTENANCE_STATES.has(reported) && goal === reported);
}

export function describeStep(s: ApplyStep): string {
  const who = 'node' in s ? `node "${s.node}" ` : 'formation ';
  if (s.kind === 'maintenance') return `${who}maintenance: ${s.from ? 'on' : 'off'} -> ${s.to ? 'on' : 'off'}`;
  return `${who}${s.kind}: ${String(s.from)} -> ${String(s.to)}`;
}

/**
 * Order: priorities, quorum turned on, number_sync_standbys, quorum turned off, secondary,
 * maintenance last (it may cause a failover, which is best done on the final settings).
 */
export function planApply(facts: FormationFacts, want: FormationSection): ApplyPlan {
  const blockers: string[] = [];
  if (!facts.exists) return { steps: [], blockers: [`formation "${facts.formation}" does not exist on the monitor`] };
  const prio: ApplyStep[] = [];
  const quorumOn: ApplyStep[] = [];
  const quorumOff: ApplyStep[] = [];
  const maint: ApplyStep[] = [];
  for (const [name, w] of Object.entries(want.nodes)) {
    const n = facts.nodes.find((x) => x.name === name);
    if (!n) {
      blockers.push(`formation "${facts.formation}" has no node named "${name}" (nodes: ${facts.nodes.map((x) => x.name).join(', ') || 'none'})`);
      continue;
    }
    if (w.candidate_priority !== undefined && w.candidate_priority !== n.candidatePriority) {
      prio.push({ kind: 'candidate_priority', node: name, nodeId: n.nodeId, from: n.candidatePriority, to: w.candidate_priority });
    }
    if (w.replication_quorum !== undefined && w.replication_quorum !== n.replicationQuorum) {
      (w.replication_quorum ? quorumOn : quorumOff).push({ kind: 'replication_quorum', node: name, nodeId: n.nodeId, from: n.replicationQuorum, to: w.replication_quorum });
    }
    if (w.maintenance !== undefined && w.maintenance !== n.maintenance) {
      maint.push({ kind: 'maintenance', node: name, nodeId: n.nodeId, from: n.maintenance, to: w.maintenance });
    }
  }
  const steps: ApplyStep[] = [...prio, ...quorumOn];
  if (want.number_sync_standbys !== undefined && want.number_sync_standbys !== facts.numberSyncStandbys) {
    steps.push({ kind: 'number_sync_standbys', from: facts.numberSyncStandbys, to: want.number_sync_standbys });
  }
  steps.push(...quorumOff);
  if (want.secondary !== undefined && want.secondary !== facts.secondary) steps.push({ kind: 'secondary', from: facts.secondary, to: want.secondary });
  // leaving maintenance before entering it: never two nodes in maintenance at once by our order
  steps.push(...maint.filter((s) => !s.to), ...maint.filter((s) => s.to));
  return { steps, blockers };
}
