// One keeper tick (keeper/loop/run.ts) with a recording stand-in for Postgres and the monitor:
// a transition is run through reachAssignedState() and logged in one sentence carrying the
// node's state, the state file is saved through the store, a command's write wins, and a
// goal without an edge or a cancelled transition leaves the state as it was.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { log, setLogSink } from '../../lib/log.js';
import type { NodeState } from '../../keeper/fsm/states.js';
import { Keeper, type KeeperDeps } from '../../keeper/loop/run.js';
import type { KeeperMonitor } from '../../keeper/monitor-client.js';
import { initialState } from '../../keeper/state/state-file.js';
import { StateStore } from '../../keeper/state/store.js';
import { parseLine } from '../support/log-lines.js';

/** An object whose every method resolves to `answers[name]` (undefined by default) and is recorded. */
function recorder<T extends object>(answers: Record<string, unknown>, calls: string[]): T {
  return new Proxy({} as T, {
    get: (_t, name) => {
      if (typeof name !== 'string' || name === 'then') return undefined;
      return (..._args: unknown[]) => {
        calls.push(name);
        const a = answers[name];
        return name === 'hasData' ? (a ?? true) : Promise.resolve(typeof a === 'function' ? (a as () => unknown)() : a);
      };
    },
  });
}

describe('Keeper.tick()', () => {
  let dir: string;
  let lines: string[];
  let restoreSink: (line: string) => void;
  let goal: NodeState;
  let pgCalls: string[];
  let store: StateStore;
  let cancel: string | undefined;
  let observed: Array<{ state: NodeState; running: boolean }>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgaf-tick-'));
    lines = [];
    restoreSink = setLogSink((l) => lines.push(l));
    pgCalls = [];
    cancel = undefined;
    observed = [];
    store = new StateStore(join(dir, 'pg_autoctl.state'));
    store.write(initialState(1, 0, 'single'));
  });
  afterEach(() => {
    setLogSink(restoreSink);
    rmSync(dir, { recursive: true, force: true });
  });

  function keeper(o: { monitor?: KeeperMonitor; sleepMs?: number; readFacts?: () => unknown } = {}): Keeper {
    const facts = { running: true, inRecovery: false, timeline: 1, lsn: '0/3000000', syncState: '', standbysConnected: 0 };
    // Postgres is down before the first transition (init), up after it
    let reads = 0;
    const readFacts = o.readFacts ?? (() => ({ ...facts, running: reads++ > 0 }));
    const pg = recorder<KeeperDeps['pg']>({ readFacts, isRunning: true, isInRecovery: false, systemIdentifier: '7', synchronousStandbyNames: '' }, pgCalls);
    const monitor = o.monitor ?? recorder<KeeperMonitor>({ nodeActive: () => ({ goal }), getOtherNodes: [], demoteTimeoutSec: 30 }, []);
    return new Keeper({
      formation: 'default',
      statePath: store.path,
      pg,
      monitor,
      log: log.child({ node: 'node_1' }),
      timeouts: { networkPartitionTimeout: 20, restartFailureTimeout: 20, restartFailureMaxRetries: 3, sleepMs: o.sleepMs ?? 1000, refreshEveryTicks: 10 },
      observer: { tick: (r) => void observed.push({ state: r.state.current_role, running: r.facts.running }), beforeTransition: async () => cancel },
    });
  }

  const infoAndUp = () => lines.map(parseLine).filter((p) => p && p.level !== 'DEBUG' && p.level !== 'TRACE');

  it('runs the transition to the goal, logs it once with node and state, and saves the new state', async () => {
    goal = 'single';
    expect(await keeper().tick()).toBe(true);
    expect(store.read()).toMatchObject({ current_role: 'single', assigned_role: 'single' });
    expect(pgCalls).toContain('configure');
    const said = infoAndUp();
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 'INFO', sentence: 'Transition from init to single: Start as a single node (the monitor assigned single).' });
    expect(said[0]!.fields).toMatchObject({ node: 'node_1', state: 'init' });
    expect(Number(said[0]!.fields.ms)).toBeGreaterThanOrEqual(0);
  });

  it('tells the observer what Postgres is after the transition, not before it', async () => {
    goal = 'single';
    const k = keeper();
    expect(await k.tick()).toBe(true);
    expect(observed).toEqual([{ state: 'single', running: true }]);
    expect(pgCalls.filter((c) => c === 'readFacts')).toHaveLength(2);
    // a round without a transition reads the facts once
    expect(await k.tick()).toBe(false);
    expect(pgCalls.filter((c) => c === 'readFacts')).toHaveLength(3);
  });

  it('keeps the state when the table has no edge to the goal', async () => {
    goal = 'secondary';
    expect(await keeper().tick()).toBe(false);
    expect(store.read()).toMatchObject({ current_role: 'init', assigned_role: 'secondary' });
    expect(infoAndUp()).toEqual([
      expect.objectContaining({ level: 'ERROR', sentence: 'The keeper does not know how to reach secondary from init; waiting for another goal.' }),
    ]);
  });

  it('keeps the state when the observer cancels the transition', async () => {
    goal = 'single';
    cancel = 'the fencing hook pre_promote failed';
    expect(await keeper().tick()).toBe(false);
    expect(store.read().current_role).toBe('init');
    expect(pgCalls).not.toContain('configure');
    expect(infoAndUp()).toEqual([
      expect.objectContaining({ level: 'WARN', sentence: 'Transition from init to single cancelled: the fencing hook pre_promote failed.' }),
    ]);
  });

  it('re-reads a state file a command wrote between two ticks instead of overwriting it', async () => {
    goal = 'single';
    const k = keeper();
    await k.tick();
    await new Promise((r) => setTimeout(r, 20));
    store.update((s) => ({ ...s, current_role: 'maintenance', assigned_role: 'maintenance' }));
    goal = 'maintenance';
    lines.length = 0;
    expect(await k.tick()).toBe(false);
    expect(infoAndUp().map((p) => p!.sentence)).toEqual(['The state file was changed by a command: re-reading it.']);
    expect(store.read()).toMatchObject({ current_role: 'maintenance', assigned_role: 'maintenance' });
  });

  /** A converged single whose first heartbeat brings `payload` (a notification), sleeping an hour between ticks and stopped after `stopAfterMs`: its heartbeats. */
  async function heartbeatsAfter(payload: string, stopAfterMs: number): Promise<number> {
    goal = 'single';
    store.update((s) => ({ ...s, current_role: 'single', assigned_role: 'single' }));
    let notify: ((channel: string, payload: string) => void) | undefined;
    let heartbeats = 0;
    let k: Keeper | undefined;
    const monitor = {
      getOtherNodes: async () => [],
      demoteTimeoutSec: async () => 30,
      listen: (fn: (channel: string, payload: string) => void) => void (notify = fn),
      nodeActive: async () => {
        heartbeats += 1;
        if (heartbeats === 1) {
          notify?.('state', payload);
          setTimeout(() => k?.stop(), stopAfterMs);
        }
        return { goal };
      },
      close: async () => undefined,
    } as unknown as KeeperMonitor;
    k = keeper({ monitor, sleepMs: 3_600_000 });
    await k.run();
    return heartbeats;
  }
  const about = (formation: string, nodeId: number) =>
    JSON.stringify({ type: 'state', formation, groupId: 0, nodeId, name: `node${nodeId}`, reportedState: 'primary', goalState: 'apply_settings', health: 'good' });

  it('a NOTIFY that may move the group on, coming while a tick runs, is not lost: the next tick follows without the sleep', async () => {
    // during its heartbeat another node's report wakes it; a second tick must follow at once,
    // although the sleep between ticks is an hour (stop() then ends the sleep after it)
    expect(await heartbeatsAfter(about('default', 2), 200)).toBe(2);
    expect(await heartbeatsAfter('not json', 200)).toBe(2);
  });

  it("another formation's NOTIFY does not wake the keeper", async () => {
    expect(await heartbeatsAfter(about('other', 1), 200)).toBe(1);
  });

  it('facts it cannot read: Postgres reported as its pid file says, at the last position read, with one warning', async () => {
    // a running standby whose pg_controldata failed once was reported as not running, and the
    // monitor took it out of the synchronous standbys for that
    goal = 'secondary';
    store.update((s) => ({ ...s, current_role: 'secondary', assigned_role: 'secondary' }));
    const reports: Array<{ pgIsRunning: boolean; lsn: string; tli: number }> = [];
    let reads = 0;
    const readFacts = () => {
      if (reads++ === 0) return { running: true, inRecovery: true, timeline: 2, lsn: '0/5000060', syncState: '', standbysConnected: 0 };
      throw new Error('pg_controldata: could not open file "global/pg_control"');
    };
    const monitor = {
      getOtherNodes: async () => [],
      demoteTimeoutSec: async () => 30,
      listen: () => undefined,
      nodeActive: async (r: { pgIsRunning: boolean; lsn: string; tli: number }) => {
        reports.push(r);
        return { goal };
      },
    } as unknown as KeeperMonitor;
    const k = keeper({ monitor, readFacts });
    for (let i = 0; i < 3; i++) await k.tick();
    expect(reports.map((r) => [r.pgIsRunning, r.lsn, r.tli])).toEqual([
      [true, '0/5000060', 2],
      [true, '0/5000060', 2],
      [true, '0/5000060', 2],
    ]);
    const warnings = infoAndUp().filter((p) => p!.level === 'WARN');
    expect(warnings.map((p) => p!.sentence)).toEqual(['Cannot read the state of the local Postgres: pg_controldata: could not open file "global/pg_control"']);
  });
});
