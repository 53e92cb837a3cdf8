// `pgaf apply -f cluster.yaml`: reads the formation from the monitor, plans (config/apply-plan.ts)
// and, unless checking, runs each step through the monitor's SQL API. Idempotent: a second
// run finds nothing to change.
import { PgSql } from '../lib/errors.js';
import type { PgTarget } from '../lib/pg-uri.js';
import { withClient, type Query } from '../lib/sql.js';
import { describeStep, inMaintenance, planApply, type ApplyStep, type FormationFacts } from '../config/apply-plan.js';
import type { FormationSection } from '../config/cluster-config.js';

export interface ApplyChange {
  kind: ApplyStep['kind'];
  node?: string;
  from: unknown;
  to: unknown;
  description: string;
}

export interface ApplyResult {
  changed: boolean;
  check: boolean;
  formation: string;
  changes: ApplyChange[];
  /** set when the formation cannot be made to match */
  error?: string;
}

export async function readFormationFacts(q: Query, formation: string): Promise<FormationFacts> {
  const f = await q<{ number_sync_standbys: number; opt_secondary: boolean }>(
    'SELECT number_sync_standbys, opt_secondary FROM pgautofailover.formation WHERE formationid = $1',
    [formation],
  );
  const nodes = await q<{ nodeid: string; nodename: string; candidatepriority: number; replicationquorum: boolean; reportedstate: string; goalstate: string }>(
    'SELECT nodeid, nodename, candidatepriority, replicationquorum, reportedstate::text, goalstate::text FROM pgautofailover.node WHERE formationid = $1 ORDER BY nodeid',
    [formation],
  );
  return {
    formation,
    exists: f.length > 0,
    numberSyncStandbys: f[0]?.number_sync_standbys ?? 0,
    secondary: f[0]?.opt_secondary ?? true,
    nodes: nodes.map((n) => ({
      nodeId: Number(n.nodeid),
      name: n.nodename,
      candidatePriority: n.candidatepriority,
      replicationQuorum: n.replicationquorum,
      maintenance: inMaintenance(n.reportedstate, n.goalstate),
    })),
  };
}

async function runStep(q: Query, formation: string, s: ApplyStep): Promise<void> {
  switch (s.kind) {
    case 'candidate_priority':
      await q('SELECT pgautofailover.set_node_candidate_priority($1::text, $2::text, $3::int)', [formation, s.node, s.to]);
      return;
    case 'replication_quorum':
      await q('SELECT pgautofailover.set_node_replication_quorum($1::text, $2::text, $3::bool)', [formation, s.node, s.to]);
      return;
    case 'number_sync_standbys':
      await q('SELECT pgautofailover.set_formation_number_sync_standbys($1::text, $2::int)', [formation, s.to]);
      return;
    case 'secondary':
      await q(`SELECT pgautofailover.${s.to ? 'enable' : 'disable'}_secondary($1::text)`, [formation]);
      return;
    case 'maintenance':
      await q(`SELECT pgautofailover.${s.to ? 'start' : 'stop'}_maintenance($1::bigint)`, [s.nodeId]);
      return;
  }
}

function change(s: ApplyStep): ApplyChange {
  return { kind: s.kind, ...('node' in s ? { node: s.node } : {}), from: s.from, to: s.to, description: describeStep(s) };
}

/**
 * Plans and (unless `check`) applies. Resolves with the result, also when the formation
 * cannot match (result.error set: the caller exits non-zero).
 */
export async function applyFormation(target: PgTarget, want: FormationSection, check: boolean): Promise<ApplyResult> {
  const formation = want.name;
  return withClient(target, { kind: 'monitor', connectTimeoutMs: 5_000, queryTimeoutMs: 30_000, applicationName: 'pgaf apply' }, async (q) => {
    const plan = planApply(await readFormationFacts(q, formation), want);
    const result: ApplyResult = { changed: false, check, formation, changes: [] };
    if (plan.blockers.length) {
      result.error = plan.blockers.join('; ');
      return result;
    }
    for (const s of plan.steps) {
      if (!check) {
        try {
          await runStep(q, formation, s);
        } catch (err) {
          const reason = err instanceof PgSql ? `the monitor refused ${describeStep(s)}: ${err.message}` : (err as Error).message;
          result.error = reason;
          return result;
        }
      }
      result.changes.push(change(s));
      result.changed = true;
    }
    return result;
  });
}
