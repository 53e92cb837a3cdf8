import { describe, expect, it } from 'vitest';
import { bestSyncState, readFacts, type FactsSource } from '../../keeper/pg/facts.js';
import { desiredHbaLines, hbaAddress, planHba } from '../../keeper/pg/hba-plan.js';
import { appendHbaLines } from '../../lib/hba.js';
import { compareLsn, formatLsn, parseLsn } from '../../lib/lsn.js';
import { desiredSlots, planSlots, type SlotRow } from '../../keeper/pg/slots.js';
import { parseControlData, cleanlyShutDown } from '../../keeper/pg/ctl.js';

describe('LSNs', () => {
  it('parse, format and compare as 64-bit positions', () => {
    expect(parseLsn('1/0')).toBe(1n << 32n);
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(compareLsn('0/FFFFFFFF', '1/0')).toBe(-1);
    expect(compareLsn('0/3000060', '0/3000060')).toBe(0);
    expect(() => parseLsn('nope')).toThrow(/not an LSN/);
  });
});

describe('slot plan', () => {
  const slot = (name: string, restartLsn: string | null = '0/3000000', active = false): SlotRow => ({ name, restartLsn, active });

  it('wants one slot per other node, never our own', () => {
    const d = desiredSlots(
      [
        { nodeId: 1, lsn: '0/1' },
        { nodeId: 2, lsn: '0/2' },
        { nodeId: 3, lsn: '0/3' },
        { nodeId: 3, lsn: '0/3' },
      ],
      2,
    );
    expect(d.map((s) => s.name)).toEqual(['pgautofailover_standby_1', 'pgautofailover_standby_3']);
  });

  it('creates missing slots, drops slots of nodes that are gone, leaves other slots alone', () => {
    const steps = planSlots(
      [slot('pgautofailover_standby_3'), slot('pgautofailover_standby_9'), slot('my_logical_slot')],
      [{ name: 'pgautofailover_standby_1' }, { name: 'pgautofailover_standby_3' }],
      { advance: false },
    );
    expect(steps).toEqual([
      { kind: 'create', name: 'pgautofailover_standby_1' },
      { kind: 'noop', name: 'pgautofailover_standby_3' },
      { kind: 'drop', name: 'pgautofailover_standby_9' },
    ]);
  });

  it('on a standby, advances a slot to its node’s LSN when ahead and already replayed here', () => {
    const current = [slot('pgautofailover_standby_1', '0/3000000')];
    const want = (lsn: string) => [{ name: 'pgautofailover_standby_1', lsn }];
    expect(planSlots(current, want('0/3500000'), { advance: true, replayLsn: '0/4000000' })).toEqual([
      { kind: 'advance', name: 'pgautofailover_standby_1', from: '0/3000000', to: '0/3500000' },
    ]);
    // beyond our replay: cannot
    expect(planSlots(current, want('0/5000000'), { advance: true, replayLsn: '0/4000000' })[0]?.kind).toBe('noop');
    // behind the slot: nothing to do
    expect(planSlots(current, want('0/2000000'), { advance: true, replayLsn: '0/4000000' })[0]?.kind).toBe('noop');
    // a primary does not advance
    expect(planSlots(current, want('0/3500000'), { advance: false, replayLsn: '0/4000000' })[0]?.kind).toBe('noop');
    // a slot without WAL or an unknown LSN: noop
    expect(planSlots([slot('pgautofailover_standby_1', null)], want('0/3500000'), { advance: true, replayLsn: '0/4000000' })[0]?.kind).toBe('noop');
    expect(planSlots(current, want(''), { advance: true, replayLsn: '0/4000000' })[0]?.kind).toBe('noop');
  });
});

describe('HBA plan', () => {
  it('addresses: an IP is one host, a name stays a name', () => {
    expect(hbaAddress('10.0.0.5')).toBe('10.0.0.5/32');
    expect(hbaAddress('::1')).toBe('::1/128');
    expect(hbaAddress('db2.example.com')).toBe('db2.example.com');
  });

  it('replication and any database for each peer, the health check for the monitor, each line once', () => {
    const lines = desiredHbaLines({ peerHosts: ['127.0.0.1', '127.0.0.1'], monitorHost: '127.0.0.1', authMethod: 'scram-sha-256', hbaLevel: 'minimal' });
    expect(lines).toEqual([
      'host replication pgautofailover_replicator 127.0.0.1/32 scram-sha-256',
      'host all pgautofailover_replicator 127.0.0.1/32 scram-sha-256',
      'host postgres pgautofailover_monitor 127.0.0.1/32 scram-sha-256',
    ]);
  });

  it('hba_level skip wants nothing', () => {
    expect(desiredHbaLines({ peerHosts: ['10.0.0.2'], monitorHost: '10.0.0.1', authMethod: 'md5', hbaLevel: 'skip' })).toEqual([]);
  });

  it('appends only what is missing, ignoring spacing and comments', () => {
    const current = 'local all all trust\nhost   replication pgautofailover_replicator  10.0.0.2/32 md5 # peer\n';
    const desired = desiredHbaLines({ peerHosts: ['10.0.0.2'], authMethod: 'md5', hbaLevel: 'app' });
    const steps = planHba(current, desired);
    expect(steps).toEqual([
      { kind: 'noop', line: 'host replication pgautofailover_replicator 10.0.0.2/32 md5' },
      { kind: 'create', line: 'host all pgautofailover_replicator 10.0.0.2/32 md5' },
    ]);
    const render = (text: string, plan: typeof steps) => appendHbaLines(text, plan.filter((s) => s.kind === 'create').map((s) => s.line));
    const next = render(current, steps);
    expect(next).toBe(`${current}\n# added by pgaf\nhost all pgautofailover_replicator 10.0.0.2/32 md5\n`);
    expect(planHba(next, desired).every((s) => s.kind === 'noop')).toBe(true);
    expect(render(next, planHba(next, desired))).toBe(next);
  });
});

describe('facts', () => {
  it('reports the best sync_state among streaming standbys', () => {
    expect(bestSyncState([])).toBe('');
    expect(bestSyncState([{ state: 'catchup', syncState: 'sync' }])).toBe('');
    expect(
      bestSyncState([
        { state: 'streaming', syncState: 'async' },
        { state: 'streaming', syncState: 'quorum' },
        { state: 'streaming', syncState: 'potential' },
      ]),
    ).toBe('quorum');
    expect(bestSyncState([{ state: 'streaming', syncState: 'potential' }, { state: 'streaming', syncState: 'sync' }])).toBe('sync');
  });

  const stopped = { inRecovery: true, lsn: '0/3000028', timeline: 2 };
  const source = (running: boolean, query: FactsSource['queryFacts']): FactsSource => ({
    isRunning: async () => running,
    queryFacts: query,
    stoppedFacts: async () => stopped,
  });

  it('a stopped server: pg_control facts, no standbys', async () => {
    const f = await readFacts(source(false, () => Promise.reject(new Error('not called'))));
    expect(f).toEqual({ running: false, ...stopped, syncState: '', standbysConnected: 0 });
  });

  it('a running server: SQL facts, counting the pgaf standbys whose last reply is fresh', async () => {
    const f = await readFacts(
      source(true, async () => ({
        inRecovery: false,
        lsn: '0/5000000',
        timeline: 3,
        replication: [
          { applicationName: 'pgautofailover_standby_2', state: 'streaming', syncState: 'quorum', flushLsn: '0/5000000', replayLsn: '0/5000000', replyAgeMs: 400 },
          { applicationName: 'pgautofailover_standby_3', state: 'catchup', syncState: 'potential', flushLsn: null, replayLsn: null, replyAgeMs: 900 },
          // a walsender whose standby went silent (partition) keeps its row until wal_sender_timeout
          { applicationName: 'pgautofailover_standby_4', state: 'streaming', syncState: 'quorum', flushLsn: '0/4000000', replayLsn: '0/4000000', replyAgeMs: 12_000 },
          { applicationName: 'pgautofailover_standby_5', state: 'startup', syncState: 'async', flushLsn: null, replayLsn: null, replyAgeMs: null },
        ],
      })),
    );
    expect(f).toEqual({ running: true, inRecovery: false, lsn: '0/5000000', timeline: 3, syncState: 'quorum', standbysConnected: 2 });
  });

  it('a running server that refuses connections yet is still running', async () => {
    const f = await readFacts(source(true, () => Promise.reject(new Error('the database system is starting up'))));
    expect(f).toEqual({ running: true, ...stopped, syncState: '', standbysConnected: 0 });
  });

  it('reads pg_controldata and tells a clean shutdown', () => {
    const c = parseControlData(
      'pg_control version number:            1300\nDatabase system identifier:           7441234567890123456\nDatabase cluster state:               shut down in recovery\nLatest checkpoint location:           0/3000060\n',
    );
    expect(c['Database system identifier']).toBe('7441234567890123456');
    expect(c['Latest checkpoint location']).toBe('0/3000060');
    expect(cleanlyShutDown(c)).toBe(true);
    expect(cleanlyShutDown({ 'Database cluster state': 'in production' })).toBe(false);
  });
});
