// The keeper's HTTP endpoints as a table: one snapshot of facts in, one status code out.
import { describe, expect, it } from 'vitest';
import { answer, parseSize } from '../../keeper/http/answers.js';
import { keeperMetricStore, keeperMetrics } from '../../keeper/http/metrics.js';
import type { KeeperSnapshot } from '../../keeper/http/snapshot.js';
import { hooksAfter, needsFencingHook } from '../../keeper/hooks/plan.js';

const NOW = 1_000_000;

function snap(over: Partial<KeeperSnapshot> & { pg?: Partial<KeeperSnapshot['postgres']> } = {}): KeeperSnapshot {
  const { pg, ...rest } = over;
  return {
    formation: 'default', group: 0, nodeId: 1, name: 'node1', at: NOW - 1,
    state: 'primary', goal: 'primary',
    postgres: { running: true, inRecovery: false, timeline: 1, lsn: '0/3000000', readOnly: false, streaming: false, upstreamLsn: null, replayLsn: null, syncState: 'quorum', standbysConnected: 1, ...pg },
    lagBytes: 0, replicationQuorum: true, candidatePriority: 50,
    monitor: { reachable: true, lastContact: NOW - 1 },
    ...rest,
  };
}

const standby = (over: Partial<KeeperSnapshot> = {}, pg: Partial<KeeperSnapshot['postgres']> = {}) =>
  snap({ state: 'secondary', goal: 'secondary', lagBytes: 1024, pg: { inRecovery: true, streaming: true, upstreamLsn: '0/3000400', replayLsn: '0/3000000', syncState: '', standbysConnected: 0, ...pg }, ...over });

const O = { livenessSec: 30, metrics: () => 'm 1\n' };
const code = (url: string, s: KeeperSnapshot | undefined, method = 'GET') => answer({ method, url }, s, NOW, O).status;

describe('keeper endpoints', () => {
  const table: Array<[string, string, KeeperSnapshot | undefined, number]> = [
    ['converged primary', '/primary', snap(), 200],
    ['primary with a pending goal (draining)', '/primary', snap({ goal: 'draining' }), 503],
    ['wait_primary converged', '/primary', snap({ state: 'wait_primary', goal: 'wait_primary' }), 200],
    ['single', '/primary', snap({ state: 'single', goal: 'single' }), 200],
    ['primary in read-only mode', '/primary', snap({ pg: { readOnly: true } }), 503],
    ['primary state but Postgres down', '/primary', snap({ pg: { running: false } }), 503],
    ['primary state but in recovery', '/primary', snap({ pg: { inRecovery: true } }), 503],
    ['demoted', '/primary', snap({ state: 'demoted', goal: 'demoted', pg: { running: false } }), 503],
    ['standby on /primary', '/primary', standby(), 503],
    ['before the first round', '/primary', undefined, 503],
    ['streaming secondary', '/replica', standby(), 200],
    ['secondary not streaming', '/replica', standby({}, { streaming: false }), 503],
    ['catchingup streaming', '/replica', standby({ state: 'catchingup', goal: 'catchingup' }), 200],
    ['report_lsn (election)', '/replica', standby({ state: 'report_lsn', goal: 'report_lsn' }), 503],
    ['primary on /replica', '/replica', snap(), 503],
    ['lag within ?lag=16MB', '/replica?lag=16MB', standby(), 200],
    ['lag above ?lag=512', '/replica?lag=512', standby(), 503],
    ['lag unknown with ?lag', '/replica?lag=1kB', standby({ lagBytes: null }), 503],
    ['bad lag', '/replica?lag=lots', standby(), 400],
    ['unknown parameter', '/primary?x=1', snap(), 400],
    ['read-only on a primary', '/read-only', snap(), 200],
    ['read-only on a standby', '/read-only', standby(), 200],
    ['read-only on a stopped node', '/read-only', snap({ state: 'demoted', goal: 'demoted', pg: { running: false } }), 503],
    ['sync on a quorum secondary', '/sync', standby(), 200],
    ['sync on an async secondary', '/sync', standby({ replicationQuorum: false }), 503],
    ['sync on a primary', '/sync', snap(), 503],
    ['health up', '/health', snap(), 200],
    ['health down', '/health', snap({ pg: { running: false } }), 503],
    ['liveness fresh', '/liveness', snap(), 200],
    ['liveness stale', '/liveness', snap({ at: NOW - 31 }), 503],
    ['liveness stale but a transition runs', '/liveness', snap({ at: NOW - 300, busy: { from: 'catchingup', to: 'secondary', since: NOW - 290 } }), 200],
    ['status', '/status', standby(), 200],
    ['status before the first round', '/status', undefined, 503],
    ['trailing slash', '/primary/', snap(), 200],
    ['metrics', '/metrics', undefined, 200],
    ['unknown path', '/leader', snap(), 404],
  ];
  it.each(table)('%s: GET %s', (_what, url, s, want) => {
    expect(code(url, s)).toBe(want);
  });

  it('HEAD and OPTIONS answer like GET without a body; other methods get 405', () => {
    for (const m of ['HEAD', 'OPTIONS']) {
      const r = answer({ method: m, url: '/primary' }, snap({ goal: 'draining' }), NOW, O);
      expect([r.status, r.body, r.headers.allow]).toEqual([503, '', 'GET, HEAD, OPTIONS']);
    }
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = answer({ method: m, url: '/primary' }, snap(), NOW, O);
      expect([r.status, r.headers.allow]).toEqual([405, 'GET, HEAD, OPTIONS']);
    }
    expect(code('/nope', snap(), 'POST')).toBe(404);
  });

  it('/status is JSON with states, LSNs, lag and the last monitor contact', () => {
    const doc = JSON.parse(answer({ method: 'GET', url: '/status' }, standby(), NOW, O).body);
    expect(doc).toMatchObject({
      name: 'node1', state: 'secondary', goal: 'secondary', role: 'replica', replication_lag_bytes: 1024,
      postgres: { lsn: '0/3000000', upstream_lsn: '0/3000400', streaming: true },
      monitor: { reachable: true, last_contact_age_seconds: 1 },
    });
  });

  it('parses sizes like Postgres (1024-based)', () => {
    expect([parseSize('16MB'), parseSize('512kB'), parseSize('100'), parseSize('1GB'), parseSize('2 mb')]).toEqual([16 * 1048576, 512 * 1024, 100, 1073741824, 2 * 1048576]);
    expect([parseSize(''), parseSize('-1'), parseSize('1XB'), parseSize('MB')]).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('keeper metrics', () => {
  it('writes state and goal as labels, lag, heartbeat age, and the counters', () => {
    const store = keeperMetricStore();
    store.inc('pgaf_transitions_total', { from: 'secondary', to: 'prepare_promotion', result: 'ok' });
    store.observe('pgaf_transition_duration_seconds', 0.3, { to: 'prepare_promotion' });
    const text = keeperMetrics(standby(), store, NOW);
    expect(text).toContain('pgaf_node_info{formation="default",group="0",node="node1",node_id="1",state="secondary",goal="secondary"} 1');
    expect(text).toContain('pgaf_replication_lag_bytes{formation="default",group="0",node="node1",node_id="1"} 1024');
    expect(text).toContain('pgaf_monitor_last_contact_age_seconds{formation="default",group="0",node="node1",node_id="1"} 1');
    expect(text).toContain('pgaf_transitions_total{from="secondary",to="prepare_promotion",result="ok"} 1');
    expect(text).toContain('pgaf_transition_duration_seconds_bucket{to="prepare_promotion",le="0.5"} 1');
    expect(text).toContain('pgaf_transition_duration_seconds_bucket{to="prepare_promotion",le="0.25"} 0');
    expect(text).toContain('pgaf_promotions_total 0');
    expect(text).toMatch(/# TYPE pgaf_transitions_total counter/);
  });
});

describe('which hooks a state change fires', () => {
  const h = { onRoleChange: 'r', onPrimary: 'p', onDemote: 'd', prePromote: 'f', timeoutSec: 5 };
  it.each([
    ['stop_replication', 'wait_primary', ['on_role_change', 'on_primary']],
    ['primary', 'draining', ['on_role_change', 'on_demote']],
    ['primary', 'demote_timeout', ['on_role_change', 'on_demote']],
    ['secondary', 'prepare_promotion', []],
    ['wait_primary', 'primary', []],
    ['demoted', 'catchingup', ['on_role_change']],
    ['init', 'single', ['on_role_change', 'on_primary']],
  ] as const)('%s -> %s', (from, to, want) => {
    expect(hooksAfter(from, to, h).map((x) => x.hook)).toEqual(want);
  });
  it('runs the fencing hook before a promotion only', () => {
    expect(needsFencingHook('stop_replication', 'wait_primary', h)).toBe('f');
    expect(needsFencingHook('demoted', 'single', h)).toBe('f');
    expect(needsFencingHook('init', 'single', h)).toBeUndefined();
    expect(needsFencingHook('wait_primary', 'primary', h)).toBeUndefined();
    expect(needsFencingHook('secondary', 'prepare_promotion', h)).toBeUndefined();
  });
});
