// config/apply-plan.ts: the diff between the monitor's formation and the cluster file.
import { describe, expect, it } from 'vitest';
import { describeStep, inMaintenance, planApply, type FormationFacts } from '../../config/apply-plan.js';
import { FormationSchema } from '../../config/cluster-config.js';

const facts: FormationFacts = {
  formation: 'default',
  exists: true,
  numberSyncStandbys: 0,
  secondary: true,
  nodes: [
    { nodeId: 1, name: 'node1', candidatePriority: 50, replicationQuorum: true, maintenance: false },
    { nodeId: 2, name: 'node2', candidatePriority: 50, replicationQuorum: false, maintenance: true },
  ],
};
const want = (w: unknown) => FormationSchema.parse(w);

describe('planApply', () => {
  it('finds nothing to do when the formation matches', () => {
    expect(planApply(facts, want({ number_sync_standbys: 0, nodes: { node1: { candidate_priority: 50 } } }))).toEqual({ steps: [], blockers: [] });
    expect(planApply(facts, want({}))).toEqual({ steps: [], blockers: [] });
  });

  it('orders priorities, quorum on, number_sync_standbys, secondary, then maintenance', () => {
    const plan = planApply(
      facts,
      want({ number_sync_standbys: 1, secondary: false, nodes: { node1: { maintenance: true, candidate_priority: 90 }, node2: { replication_quorum: true, maintenance: false } } }),
    );
    expect(plan.blockers).toEqual([]);
    expect(plan.steps.map(describeStep)).toEqual([
      'node "node1" candidate_priority: 50 -> 90',
      'node "node2" replication_quorum: false -> true',
      'formation number_sync_standbys: 0 -> 1',
      'formation secondary: true -> false',
      'node "node2" maintenance: on -> off',
      'node "node1" maintenance: off -> on',
    ]);
  });

  it('reports unknown nodes and formations as blockers', () => {
    expect(planApply(facts, want({ nodes: { node9: { candidate_priority: 1 } } })).blockers[0]).toMatch(/no node named "node9" \(nodes: node1, node2\)/);
    expect(planApply({ ...facts, exists: false }, want({})).blockers[0]).toMatch(/formation "default" does not exist/);
  });

  it('counts a node as in maintenance from its goal state', () => {
    expect(inMaintenance('secondary', 'wait_maintenance')).toBe(true);
    expect(inMaintenance('maintenance', 'catchingup')).toBe(false);
    expect(inMaintenance('primary', 'primary')).toBe(false);
  });
});
