// Regression: a primary's keeper read synchronous_standby_names from the monitor right after a
// switchover had started (the standby's goal was prepare_promotion, so the monitor's value
// was '') and applied it: for about a second the old primary acknowledged commits without
// its standby. The names are now read with the node's goal in one snapshot, and the keeper
// never turns synchronous replication off outside the wait_primary transition.
import { describe, expect, it } from 'vitest';
import type { LocalPostgres, MonitorApi, StepContext } from '../../keeper/fsm/context.js';
import { enableSyncRep } from '../../keeper/fsm/steps.js';
import { log } from '../../lib/log.js';

function fakes(syncNames: string | undefined) {
  const calls: string[] = [];
  let ssn = 'ANY 1 (pgautofailover_standby_2)';
  const pg = {
    isRunning: async () => true,
    start: async () => undefined,
    reconcileHba: async () => undefined,
    reconcileSlots: async () => undefined,
    setSynchronousStandbyNames: async (v: string) => {
      calls.push(`ssn=${v}`);
      ssn = v;
    },
    synchronousStandbyNames: async () => ssn,
    waitForStandbyCatchUp: async () => true,
  } as unknown as LocalPostgres;
  const monitor = {
    getOtherNodes: async () => [],
    syncNamesIfStillPrimary: async () => syncNames,
  } as unknown as MonitorApi;
  const ctx: StepContext = { nodeId: 1, groupId: 0, formation: 'default', pg, monitor, log };
  return { ctx, calls, current: () => ssn };
}

describe('enableSyncRep', () => {
  it('applies the names read with a goal that is still primary', async () => {
    const f = fakes('ANY 1 (pgautofailover_standby_3)');
    await enableSyncRep(f.ctx);
    expect(f.current()).toBe('ANY 1 (pgautofailover_standby_3)');
  });

  it('changes nothing when the goal moved on (a failover started): no empty synchronous_standby_names', async () => {
    const f = fakes(undefined);
    await expect(enableSyncRep(f.ctx)).rejects.toThrow(/goal of this node changed/);
    expect(f.calls).toEqual([]);
    expect(f.current()).toBe('ANY 1 (pgautofailover_standby_2)');
  });
});
