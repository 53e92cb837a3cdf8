// The keeper's decision for one tick (keeper/loop/decide.ts) as a table: given the roles, the
// contact timestamps, the local facts and whether the peers changed, what the tick does.
import { describe, expect, it } from 'vitest';
import { decide, fenceDueAt, isolatedPrimary, notificationEffect, reportedPgIsRunning, type TickInput } from '../../keeper/loop/decide.js';

const NOW = 1_000_000;

/** A converged, healthy tick; each row changes what it is about. */
function tick(over: Partial<Omit<TickInput, 'pg'>> & { pg?: Partial<TickInput['pg']> } = {}): TickInput {
  const { pg, ...rest } = over;
  return {
    now: NOW,
    current: 'secondary',
    assigned: 'secondary',
    monitorReachable: true,
    lastMonitorContact: NOW,
    lastSecondaryContact: 0,
    networkPartitionTimeout: 20,
    peersChanged: false,
    peersRefreshDue: false,
    ...rest,
    pg: { running: true, hasData: true, standbysConnected: 0, ...pg },
  };
}

/** What a decision comes to, in one word or two: the table's right-hand side. */
function outcome(t: TickInput): string {
  const d = decide(t);
  switch (d.kind) {
    case 'transition':
      return `transition ${d.from} -> ${d.to}`;
    case 'fence':
      return `fence ${d.from}`;
    case 'dropped':
      return 'dropped';
    case 'ensure':
      return d.action.kind === 'refresh-peers' ? `ensure refresh-peers${d.action.always ? ' always' : ''}` : `ensure ${d.action.kind}`;
  }
}

const CUT_OFF = { monitorReachable: false, lastMonitorContact: NOW - 30, lastSecondaryContact: NOW - 30 } as const;

describe('decide()', () => {
  it.each<[string, TickInput, string]>([
    // a goal different from the state: a transition, reachable monitor or not
    ['a new goal', tick({ current: 'secondary', assigned: 'prepare_promotion' }), 'transition secondary -> prepare_promotion'],
    ['the last goal while the monitor is away', tick({ current: 'catchingup', assigned: 'secondary', monitorReachable: false }), 'transition catchingup -> secondary'],
    ['a new goal with Postgres down', tick({ current: 'demoted', assigned: 'catchingup', pg: { running: false } }), 'transition demoted -> catchingup'],
    // dropped and converged: the keeper exits
    ['dropped, converged', tick({ current: 'dropped', assigned: 'dropped' }), 'dropped'],
    ['dropped, converged, monitor away', tick({ current: 'dropped', assigned: 'dropped', ...CUT_OFF }), 'dropped'],
    ['goal dropped', tick({ current: 'secondary', assigned: 'dropped' }), 'transition secondary -> dropped'],
    // fencing: a writable node with standbys, cut off from the monitor and every standby
    ['primary cut off', tick({ current: 'primary', assigned: 'primary', ...CUT_OFF }), 'fence primary'],
    ['wait_primary cut off', tick({ current: 'wait_primary', assigned: 'wait_primary', ...CUT_OFF }), 'fence wait_primary'],
    ['apply_settings cut off', tick({ current: 'apply_settings', assigned: 'apply_settings', ...CUT_OFF }), 'fence apply_settings'],
    ['primary cut off, with a new goal', tick({ current: 'primary', assigned: 'draining', ...CUT_OFF }), 'fence primary'],
    ['single cut off: no standby to fail over to', tick({ current: 'single', assigned: 'single', ...CUT_OFF }), 'ensure none'],
    ['primary cut off from the monitor only', tick({ current: 'primary', assigned: 'primary', ...CUT_OFF, pg: { standbysConnected: 1 } }), 'ensure none'],
    ['primary with a recent standby contact', tick({ current: 'primary', assigned: 'primary', ...CUT_OFF, lastSecondaryContact: NOW - 5 }), 'ensure none'],
    ['primary with a recent monitor contact', tick({ current: 'primary', assigned: 'primary', ...CUT_OFF, lastMonitorContact: NOW - 5 }), 'ensure none'],
    ['primary just within the timeout', tick({ current: 'primary', assigned: 'primary', ...CUT_OFF, lastMonitorContact: NOW - 20, lastSecondaryContact: NOW - 20 }), 'ensure none'],
    ['primary cut off, the monitor answered this tick', tick({ current: 'primary', assigned: 'primary', ...CUT_OFF, monitorReachable: true }), 'ensure none'],
    ['secondary cut off', tick({ current: 'secondary', assigned: 'secondary', ...CUT_OFF }), 'ensure none'],
    // ensure: Postgres as the state wants it
    ['primary, Postgres down', tick({ current: 'primary', assigned: 'primary', pg: { running: false } }), 'ensure start-postgres'],
    ['secondary, Postgres down', tick({ current: 'secondary', pg: { running: false } }), 'ensure start-postgres'],
    ['catchingup, Postgres down, monitor away', tick({ current: 'catchingup', assigned: 'catchingup', monitorReachable: false, pg: { running: false } }), 'ensure start-postgres'],
    ['secondary, no PGDATA', tick({ current: 'secondary', pg: { running: false, hasData: false } }), 'ensure none'],
    ['demoted, Postgres up', tick({ current: 'demoted', assigned: 'demoted' }), 'ensure stop-postgres'],
    ['draining, Postgres up', tick({ current: 'draining', assigned: 'draining' }), 'ensure stop-postgres'],
    ['demoted, Postgres down', tick({ current: 'demoted', assigned: 'demoted', pg: { running: false } }), 'ensure none'],
    ['maintenance, Postgres up: left alone', tick({ current: 'maintenance', assigned: 'maintenance' }), 'ensure none'],
    ['maintenance, Postgres down: left alone', tick({ current: 'maintenance', assigned: 'maintenance', pg: { running: false } }), 'ensure none'],
    ['init, Postgres down: left alone', tick({ current: 'init', assigned: 'init', pg: { running: false, hasData: false } }), 'ensure none'],
    // ensure: HBA and slots follow the node list
    ['peers changed', tick({ peersChanged: true }), 'ensure refresh-peers'],
    ['refresh due', tick({ peersRefreshDue: true }), 'ensure refresh-peers always'],
    ['peers changed and refresh due', tick({ current: 'primary', assigned: 'primary', peersChanged: true, peersRefreshDue: true }), 'ensure refresh-peers always'],
    ['peers changed, monitor away', tick({ peersChanged: true, monitorReachable: false }), 'ensure none'],
    ['peers changed, Postgres down', tick({ peersChanged: true, pg: { running: false } }), 'ensure start-postgres'],
    ['peers changed, Postgres stopped on purpose', tick({ current: 'demoted', assigned: 'demoted', peersChanged: true, pg: { running: false } }), 'ensure none'],
    ['peers changed in maintenance', tick({ current: 'maintenance', assigned: 'maintenance', peersChanged: true }), 'ensure none'],
  ])('%s', (_what, input, expected) => {
    expect(outcome(input)).toBe(expected);
  });

  it('says why: the monitor assigned the goal, or it is unreachable', () => {
    expect(decide(tick({ assigned: 'catchingup' }))).toMatchObject({ reason: 'the monitor assigned catchingup' });
    expect(decide(tick({ assigned: 'catchingup', monitorReachable: false }))).toMatchObject({ reason: 'reaching catchingup while the monitor is unreachable' });
    expect(decide(tick())).toMatchObject({ kind: 'ensure', expect: 'running-standby', reason: 'secondary as the monitor wants' });
    const fence = decide(tick({ current: 'primary', assigned: 'primary', ...CUT_OFF }));
    expect(fence).toMatchObject({ kind: 'fence' });
    expect(fence.kind === 'fence' && fence.reason).toMatch(/^no contact with the monitor for 30s and with any standby for 30s \(network_partition_timeout 20s\)/);
  });

  it('isolatedPrimary() is the fencing condition', () => {
    expect(isolatedPrimary(tick({ current: 'primary', ...CUT_OFF }))).toBe(true);
    expect(isolatedPrimary(tick({ current: 'join_primary', ...CUT_OFF }))).toBe(true);
    expect(isolatedPrimary(tick({ current: 'single', ...CUT_OFF }))).toBe(false);
    expect(isolatedPrimary(tick({ current: 'stop_replication', ...CUT_OFF }))).toBe(false);
  });
});

describe('reportedPgIsRunning()', () => {
  const limits = { timeoutSec: 20, maxRetries: 3 };
  it.each<[string, Parameters<typeof reportedPgIsRunning>, boolean]>([
    ['running', ['secondary', true, { restartAttempts: 0 }, NOW, limits], true],
    ['a standby down', ['secondary', false, { downSince: NOW, restartAttempts: 0 }, NOW, limits], false],
    ['a primary just seen down', ['primary', false, { restartAttempts: 0 }, NOW, limits], true],
    ['a primary down for less than the timeout', ['primary', false, { downSince: NOW - 10, restartAttempts: 1 }, NOW, limits], true],
    ['a primary down for the timeout', ['primary', false, { downSince: NOW - 20, restartAttempts: 1 }, NOW, limits], false],
    ['a primary after its retries', ['wait_primary', false, { downSince: NOW - 1, restartAttempts: 3 }, NOW, limits], false],
    ['a single node restarting', ['single', false, { downSince: NOW - 1, restartAttempts: 1 }, NOW, limits], true],
    ['a draining node down', ['draining', false, { downSince: NOW - 1, restartAttempts: 0 }, NOW, limits], false],
  ])('%s', (_what, args, expected) => {
    expect(reportedPgIsRunning(...args)).toBe(expected);
  });
});

describe('fenceDueAt(): how long a tick may wait for the monitor', () => {
  it.each([
    ['primary', 100, 98, 5, 105],
    ['wait_primary', 90, 100, 5, 105],
    ['apply_settings', 100, 0, 3, 103],
    ['single', 100, 100, 5, undefined],
    ['secondary', 100, 100, 5, undefined],
    ['demote_timeout', 100, 100, 5, undefined],
  ] as const)('%s, monitor heard at %d, a standby at %d, timeout %ds: %s', (state, monitor, standby, npt, want) => {
    expect(fenceDueAt(state, monitor, standby, npt)).toBe(want);
  });
});

describe('notificationEffect', () => {
  const self = { formation: 'default', nodeId: 3 };
  const payload = (p: Record<string, unknown>) =>
    JSON.stringify({ type: 'state', formation: 'default', groupId: 0, reportedState: 'secondary', goalState: 'secondary', health: 'good', ...p });
  it('wakes for a peer that reports a new state or changes health, not for a goal given to it alone', () => {
    const seen = new Map();
    expect(notificationEffect(payload({ nodeId: 4 }), self, seen)).toBe('wake'); // first heard of
    expect(notificationEffect(payload({ nodeId: 4, goalState: 'prepare_promotion' }), self, seen)).toBe('peers');
    expect(notificationEffect(payload({ nodeId: 4, reportedState: 'prepare_promotion', goalState: 'prepare_promotion' }), self, seen)).toBe('wake');
    expect(notificationEffect(payload({ nodeId: 4, reportedState: 'prepare_promotion', goalState: 'stop_replication' }), self, seen)).toBe('peers');
    expect(notificationEffect(payload({ nodeId: 4, reportedState: 'prepare_promotion', goalState: 'stop_replication', health: 'bad' }), self, seen)).toBe('wake');
  });
  it('wakes for every change of its own node, and ignores other formations', () => {
    const seen = new Map();
    expect(notificationEffect(payload({ nodeId: 3 }), self, seen)).toBe('wake');
    expect(notificationEffect(payload({ nodeId: 3, goalState: 'report_lsn' }), self, seen)).toBe('wake');
    expect(notificationEffect(payload({ nodeId: 4, formation: 'sales' }), self, seen)).toBe('ignore');
    expect(seen.has(4)).toBe(false);
  });
  it('wakes when it cannot tell: a payload it cannot read, no formation, no node id, no health, a keeper without its node id', () => {
    const seen = new Map();
    expect(notificationEffect('', self, seen)).toBe('wake');
    expect(notificationEffect('null', self, seen)).toBe('wake');
    expect(notificationEffect(JSON.stringify({ nodeId: 4, health: 'good' }), self, seen)).toBe('wake');
    expect(notificationEffect(payload({ nodeId: undefined }), self, seen)).toBe('wake');
    for (let i = 0; i < 2; i++) expect(notificationEffect(payload({ nodeId: 5, health: undefined }), self, seen)).toBe('wake');
    for (let i = 0; i < 2; i++) expect(notificationEffect(payload({ nodeId: 6 }), { formation: 'default' }, seen)).toBe('wake');
  });
});
