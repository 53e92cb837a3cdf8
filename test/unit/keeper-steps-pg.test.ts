// The keeper's transition steps against fakes of only the parts of LocalPostgres each one
// declares (keeper/fsm/context.ts): the calls a step makes, in order. A step that starts using
// another part no longer compiles against its fake here.
import { describe, expect, it } from 'vitest';
import type { MonitorApi, PeerNode, PgDataCopy, PgPeers, PgProcess, PgRecovery, PgSettings, PgStandbySetup, StandbySetup, StepContext } from '../../keeper/fsm/context.js';
import { checkpointAndStop, disableSyncRep, followNewPrimary, rewindOrInit } from '../../keeper/fsm/steps.js';
import type { Logger } from '../../lib/log.js';

const peer = (nodeId: number, isPrimary = false): PeerNode => ({ nodeId, name: `node_${nodeId}`, host: `10.0.0.${nodeId}`, port: 5432, lsn: '0/0', isPrimary });
const PRIMARY = peer(1, true);
const OTHERS = [PRIMARY, peer(3)];

const silent: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, trace: () => undefined, child: () => silent };

/** The monitor as the steps here read it: node 1 is the primary, nodes 1 and 3 the others. */
function monitor(opts: { noNodeList?: boolean } = {}): MonitorApi {
  const unused = () => Promise.reject(new Error('not used by these steps'));
  return {
    getPrimary: async () => PRIMARY,
    getOtherNodes: async () => {
      if (opts.noNodeList) throw Object.assign(new Error('no node list'), { code: 'NO_NODE_LIST' });
      return OTHERS;
    },
    getOtherNodesInState: unused,
    getMostAdvancedStandby: unused,
    setSystemIdentifier: unused,
    syncNamesIfStillPrimary: unused,
  };
}

/** Every call, as "method(args)". */
class Calls {
  readonly list: string[] = [];
  add(name: string, ...args: unknown[]): void {
    this.list.push(`${name}(${args.map((a) => JSON.stringify(a)).join(', ')})`);
  }
}

function process(calls: Calls, state: { running: boolean; hasData?: boolean }): PgProcess {
  return {
    hasData: () => state.hasData ?? true,
    isRunning: async () => state.running,
    start: async () => {
      calls.add('start');
      state.running = true;
    },
    stop: async (mode) => {
      calls.add('stop', mode);
      state.running = false;
    },
  };
}

function peers(calls: Calls): PgPeers {
  return {
    reconcileSlots: async (p, advance) => calls.add('reconcileSlots', p.map((n) => n.nodeId), advance),
    dropAllSlots: async () => calls.add('dropAllSlots'),
    reconcileHba: async (p) => calls.add('reconcileHba', p.map((n) => n.nodeId)),
  };
}

function settings(calls: Calls): PgSettings {
  return {
    setSynchronousStandbyNames: async (v) => calls.add('setSynchronousStandbyNames', v),
    synchronousStandbyNames: async () => '',
    waitForStandbyCatchUp: async () => true,
    setReadOnly: async (on) => calls.add('setReadOnly', on),
  };
}

function standbySetup(calls: Calls): PgStandbySetup {
  return {
    writeStandbySetup: async (s: StandbySetup) => calls.add('writeStandbySetup', s.upstream?.nodeId ?? null),
    removeStandbySetup: async () => calls.add('removeStandbySetup'),
  };
}

function ctx<P>(pg: P, opts: { noNodeList?: boolean } = {}): StepContext<P> {
  return { nodeId: 2, groupId: 0, formation: 'default', pg, monitor: monitor(opts), log: silent };
}

describe('keeper steps on narrow Postgres fakes', () => {
  it('disableSyncRep starts a stopped primary, turns synchronous replication off, refreshes the peers', async () => {
    const calls = new Calls();
    await disableSyncRep(ctx({ ...process(calls, { running: false }), ...settings(calls), ...peers(calls) }));
    expect(calls.list).toEqual(['start()', 'setSynchronousStandbyNames("")', 'reconcileHba([1,3])', 'reconcileSlots([1,3], false)']);
  });

  it('disableSyncRep leaves HBA and slots alone when there is no node list', async () => {
    const calls = new Calls();
    await disableSyncRep(ctx({ ...process(calls, { running: true }), ...settings(calls), ...peers(calls) }, { noNodeList: true }));
    expect(calls.list).toEqual(['setSynchronousStandbyNames("")']);
  });

  it('followNewPrimary writes the standby setup, restarts, then refreshes peers advancing slots', async () => {
    const calls = new Calls();
    await followNewPrimary(ctx({ ...process(calls, { running: true }), ...standbySetup(calls), ...peers(calls) }));
    expect(calls.list).toEqual(['writeStandbySetup(1)', 'stop("fast")', 'start()', 'reconcileHba([1,3])', 'reconcileSlots([1,3], true)']);
  });

  it('rewindOrInit takes a base backup when pg_rewind is not possible, then follows the primary', async () => {
    const calls = new Calls();
    const copy: PgDataCopy = {
      rewind: async (from) => (calls.add('rewind', from.nodeId), false),
      basebackup: async (from) => calls.add('basebackup', from.nodeId),
    };
    await rewindOrInit(ctx({ ...process(calls, { running: true }), ...copy, ...standbySetup(calls), ...peers(calls) }));
    expect(calls.list).toEqual([
      'stop("fast")',
      'rewind(1)',
      'basebackup(1)',
      'writeStandbySetup(1)',
      'start()',
      'dropAllSlots()',
      'reconcileHba([1,3])',
      'reconcileSlots([1,3], true)',
    ]);
  });

  it('checkpointAndStop checkpoints only a running server', async () => {
    const calls = new Calls();
    const recovery: PgRecovery = { checkpoint: async () => calls.add('checkpoint'), isInRecovery: async () => false, promote: async () => undefined, waitForReplay: async () => true };
    await checkpointAndStop(ctx({ ...process(calls, { running: true }), ...recovery }));
    await checkpointAndStop(ctx({ ...process(calls, { running: false }), ...recovery }));
    expect(calls.list).toEqual(['checkpoint()', 'stop("fast")', 'stop("fast")']);
  });
});
