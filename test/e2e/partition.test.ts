// Network partitions (TCP proxies between the processes that talk; see TestCluster
// { proxied: true }). Safety only, never timings:
//  - a primary whose keeper cannot reach the monitor, while its Postgres answers the health
//    check and streams to its standby, is not failed over (S4);
//  - a standby cut off from the primary's replication is never promoted over a live,
//    reporting primary;
//  - an old primary cut off from the monitor and its standby (but not from its clients)
//    acknowledges no commit once the new primary takes writes (S2), fences itself, and
//    rejoins as a secondary with no acknowledged write lost (S1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEEPER_DEFAULTS } from '../../config/keeper-config.js';
import { TestCluster, type NodeState } from '../support/cluster.js';
import { DirectClient, queryDirect, type DirectAck } from '../support/direct-client.js';
import { Writer } from '../support/writer.js';

// Short monitor timeouts like the other e2e tests. primary_demote_timeout is the wait the
// monitor falls back to when it cannot prove the old primary fenced: it must exceed the
// keepers' self-fencing deadline (network_partition_timeout), so it follows the keeper default.
const UNHEALTHY_S = 3;
const SETTINGS = {
  node_considered_unhealthy_timeout: `${UNHEALTHY_S}s`,
  primary_demote_timeout: `${Math.max(5, Number(KEEPER_DEFAULTS.networkPartitionTimeout) + 3)}s`,
  health_check_period: '1s',
  health_check_timeout: '1s',
  health_check_max_retries: '1',
  health_check_retry_delay: '500ms',
  startup_grace_period: '0',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WRITABLE = ['wait_primary', 'primary'];
const fmt = (s: NodeState[]) => s.map((n) => `${n.nodename}=${n.reportedstate}/${n.goalstate}`).join(' ');
const iso = (t: number) => new Date(t).toISOString();

describe('network partitions of a primary and its standby', () => {
  let c: TestCluster;
  let npt = Number(KEEPER_DEFAULTS.networkPartitionTimeout);

  async function events(sinceId = 0): Promise<Array<{ eventid: number; eventtime: string; nodename: string; ruleid: string; description: string }>> {
    return c.monitorQuery(
      `SELECT eventid::int, eventtime::text, nodename, ruleid, description FROM pgautofailover.event WHERE eventid > $1 ORDER BY eventid`,
      [sinceId],
    );
  }

  async function lastEventId(): Promise<number> {
    const [r] = await c.monitorQuery<{ id: number }>(`SELECT coalesce(max(eventid), 0)::int AS id FROM pgautofailover.event`);
    return r!.id;
  }

  async function evidence(sinceId: number): Promise<string> {
    const ev = await events(sinceId).catch((e) => [{ eventid: 0, eventtime: '', nodename: '', ruleid: '?', description: String(e) }]);
    const st = await c.states().catch(() => []);
    return [
      `states: ${fmt(st)}`,
      'events:',
      ...ev.map((e) => `  ${e.eventtime} ${e.nodename} ${e.ruleid}: ${e.description}`),
      ...[...c.nodes.keys()].map((n) => `--- ${n} log\n${c.logTail(n, 25)}`),
      `--- monitor log\n${c.logTail('monitor', 15)}`,
    ].join('\n');
  }

  /** Samples the states every 200 ms for `ms`; returns the samples that break `ok`. */
  async function watch(ms: number, ok: (s: NodeState[]) => boolean, seen = new Set<string>()): Promise<string[]> {
    const bad: string[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      try {
        const s = await c.states();
        seen.add(fmt(s));
        if (!ok(s)) bad.push(`${iso(Date.now())} ${fmt(s)}`);
      } catch {
        // the monitor is not partitioned here; a failed read is just retried
      }
      await sleep(200);
    }
    return bad;
  }

  beforeAll(async () => {
    c = await TestCluster.create({ proxied: true });
    await c.startMonitor(SETTINGS);
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2');
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
    const r = await c.cli('node1', ['config', 'get', 'timeout.network_partition_timeout']);
    if (r.code === 0 && Number(r.stdout.trim()) > 0) npt = Number(r.stdout.trim());
  }, 460_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('registers each node behind its own address, reachable through its proxies', async () => {
    const s = await c.monitorQuery<{ nodename: string; nodehost: string }>(`SELECT nodename, nodehost FROM pgautofailover.node ORDER BY nodeid`);
    expect(s).toEqual([
      { nodename: 'node1', nodehost: '127.0.0.11' },
      { nodename: 'node2', nodehost: '127.0.0.12' },
    ]);
    // the standby streams through node1's proxy, the keepers talk to the monitor through theirs
    expect(c.proxy('node1', 'postgres').connectionKinds()).toContain('replication');
    expect(c.proxy('node1', 'monitor').openConnections).toBeGreaterThan(0);
    expect(c.proxy('node2', 'monitor').openConnections).toBeGreaterThan(0);
    expect(await c.formationUri()).toContain(`127.0.0.11:${c.member('node1').port}`);
  }, 170_000);

  it('a primary whose keeper cannot reach the monitor, while its Postgres answers and streams, is not failed over', async () => {
    const w = Writer.fromUri(await c.formationUri(), c.superuser, 'writes', 'keeper-cut');
    await w.createTable();
    w.start();
    try {
      await w.waitForAcks(10, 15_000);
      const since = await lastEventId();
      const pm = c.postmasterPid('node1');
      c.partition('node1', 'blackhole', { links: ['monitor'] });
      // several times node_considered_unhealthy_timeout, and past the keeper's own
      // network_partition_timeout: it must not fence itself while its standby streams
      const windowStart = Date.now();
      const seenKeeperCut = new Set<string>();
      const bad = await watch(
        Math.max(4 * UNHEALTHY_S, npt + 3) * 1000,
        (s) => s.some((n) => n.nodename === 'node1' && n.goalstate === 'primary') && s.some((n) => n.nodename === 'node2' && n.goalstate === 'secondary'),
        seenKeeperCut,
      );
      const windowEnd = Date.now();
      console.log(`[keeper cut] states seen: ${[...seenKeeperCut].join(' | ')}`);
      const postmasterAfter = c.postmasterPid('node1');
      const ev = await evidence(since);
      c.heal('node1');
      expect(bad, `goal states changed while only node1's keeper was cut off from the monitor:\n${bad.slice(0, 5).join('\n')}\n${ev}`).toEqual([]);
      expect(postmasterAfter, `node1's Postgres was stopped while it served its standby\n${ev}`).toBe(pm);
      // it kept serving writes all along (S4)
      const served = w.acked.filter((x) => x.port === c.member('node1').port && x.at > windowStart + 5_000 && x.at < windowEnd).length;
      expect(served, `node1 took no write while its keeper was cut off\n${ev}`).toBeGreaterThan(0);
      await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 60_000);
      const promotions = (await events(since)).filter((e) => ['N9', 'A1', 'E8', 'M6', 'N15', 'N16', 'N18', 'F1', 'H323'].includes(e.ruleid));
      expect(promotions, await evidence(since)).toEqual([]);
    } finally {
      c.heal('node1');
      await w.stop();
    }
    expect(await w.missing()).toEqual([]);
  }, 250_000);

  it('a standby cut off from the primary\'s replication is never promoted over the live, reporting primary', async () => {
    const since = await lastEventId();
    const PROMOTING = ['prepare_promotion', 'stop_replication', 'wait_primary', 'primary', 'single', 'fast_forward'];
    const ok = (s: NodeState[]) =>
      s.some((n) => n.nodename === 'node1' && ['primary', 'wait_primary', 'apply_settings'].includes(n.goalstate)) &&
      s.some((n) => n.nodename === 'node2' && !PROMOTING.includes(n.goalstate) && !PROMOTING.includes(n.reportedstate));
    // 1. black hole: the stream stalls, nothing is closed
    const seen1 = new Set<string>();
    const seen2 = new Set<string>();
    c.partition('node1', 'blackhole', { links: ['replication'] });
    const bad1 = await watch(Math.max(5 * UNHEALTHY_S, 15) * 1000, ok, seen1);
    // 2. dropped: the stream breaks and every reconnection is closed at once
    c.partition('node1', 'drop', { links: ['replication'] });
    const bad2 = await watch(Math.max(4 * UNHEALTHY_S, 12) * 1000, ok, seen2);
    console.log(`[replication cut] states seen while black-holed: ${[...seen1].join(' | ')}; while dropped: ${[...seen2].join(' | ')}`);
    const ev = await evidence(since);
    c.heal('node1');
    expect([...bad1, ...bad2], `node2 moved towards promotion (or node1 away from primary) while node1 was alive and reporting:\n${[...bad1, ...bad2].slice(0, 5).join('\n')}\n${ev}`).toEqual([]);
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
    const promotions = (await events(since)).filter((e) => ['N9', 'A1', 'E8', 'M6', 'N15', 'N16', 'N18', 'F1', 'H323'].includes(e.ruleid));
    expect(promotions, await evidence(since)).toEqual([]);
  }, 150_000);

  /**
   * Isolates `oldName` (its Postgres proxy and its keeper's monitor link black-holed) while a
   * client connected to it directly (127.0.0.1:port) keeps inserting, waits for `nextName` to
   * take writes, and checks that the old primary acknowledged nothing from then on, that it
   * fenced itself, and that it rejoins as a secondary once healed.
   */
  async function isolateOldPrimary(oldName: string, nextName: string, opts: { sync: boolean; label: string }): Promise<void> {
    const pOld = c.member(oldName).port;
    const pNext = c.member(nextName).port;
    const user = c.superuser;
    await c.waitForStates({ [oldName]: 'primary', [nextName]: 'secondary' }, 60_000);
    // the old primary's replication mode before the partition
    const want = opts.sync ? /^ANY 1 \(pgautofailover_standby_\d+\)$/ : /^$/;
    let ssn = '?';
    for (let i = 0; i < 100 && !want.test(ssn); i++) {
      if (i) await sleep(200);
      ssn = (await queryDirect<{ s: string }>(pOld, user, "SELECT current_setting('synchronous_standby_names') AS s"))[0]!.s;
    }
    expect(ssn).toMatch(want);
    const walSenderTimeoutMs = Number(
      (await queryDirect<{ ms: string }>(pOld, user, `SELECT setting::int * CASE unit WHEN 's' THEN 1000 ELSE 1 END AS ms FROM pg_settings WHERE name = 'wal_sender_timeout'`))[0]!.ms,
    );

    const a = Writer.fromUri(await c.formationUri(), user, 'writes', `${opts.label}-uri`);
    await a.createTable();
    a.start();
    const d = new DirectClient(pOld, { user, table: 'writes', label: `${opts.label}-direct`, timeoutMs: 2000 });
    let partitionAt = 0;
    let T = 0;
    let fencedAt = 0;
    let fencedHow = '';
    let probeAt = 0;
    const since = await lastEventId();
    try {
      await a.waitForAcks(10, 15_000);
      d.start();
      await d.waitForAcks(10, 15_000);

      partitionAt = Date.now();
      c.partition(oldName, 'blackhole');

      // the candidate takes writes: converged writable, and an insert into it succeeds
      try {
        await c.waitFor(
          `${nextName} converged writable`,
          (s) => s.some((n) => n.nodename === nextName && WRITABLE.includes(n.reportedstate) && n.reportedstate === n.goalstate),
          120_000,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${await evidence(since)}`);
      }
      const probeDeadline = Date.now() + 30_000;
      for (;;) {
        try {
          await queryDirect(pNext, user, `INSERT INTO writes (label, id, port) VALUES ($1, 1, inet_server_port()) ON CONFLICT DO NOTHING`, [`${opts.label}-probe`]);
          probeAt = Date.now();
          break;
        } catch (err) {
          if (Date.now() > probeDeadline) throw new Error(`${nextName} is reported writable but refuses an insert: ${(err as Error).message}\n${await evidence(since)}`);
          await sleep(200);
        }
      }
      // T: the first moment the new primary acknowledged a write
      const firstA = a.acked.find((x) => x.port === pNext)?.at ?? Infinity;
      T = Math.min(firstA, probeAt);

      // keep watching the old primary's direct client for 5 s more, then until the old
      // primary fenced itself: stopped, or refusing writes. Its keeper stops Postgres once it
      // has had no monitor and no standby for network_partition_timeout (a black-holed
      // walsender only goes away after wal_sender_timeout).
      await sleep(5_000);
      const fenceDeadline = partitionAt + walSenderTimeoutMs + npt * 1000 + 40_000;
      while (Date.now() < fenceDeadline) {
        try {
          const [r] = await queryDirect<{ ro: string }>(pOld, user, "SELECT current_setting('transaction_read_only') AS ro", [], { timeoutMs: 2000 });
          if (r!.ro === 'on') {
            fencedAt = Date.now();
            fencedHow = 'read-only';
            break;
          }
        } catch (err) {
          const msg = (err as Error).message;
          if (/ECONNREFUSED|the database system is shutting down|terminating connection|Connection terminated/i.test(msg) || !c.postmasterPid(oldName)) {
            fencedAt = Date.now();
            fencedHow = `stopped (${msg})`;
            break;
          }
        }
        await sleep(500);
      }
    } finally {
      await d.stop();
    }

    const late: DirectAck[] = d.acks.filter((x) => x.ackAt >= T);
    const afterPartition = d.acks.filter((x) => x.sentAt > partitionAt + 1000);
    const ev = await evidence(since);
    const firstUriAck = a.acked.find((x) => x.port === pNext)?.at;
    const timeline =
      `[${opts.label}] ${oldName} (${opts.sync ? `synchronous: ${ssn}` : 'asynchronous'}) partitioned at ${iso(partitionAt)}; ` +
      `${nextName} first acknowledged a write at ${iso(T)} (formation-URI writer ${firstUriAck ? iso(firstUriAck) : 'none yet'}, probe ${iso(probeAt)}); ` +
      `${oldName} fenced ${fencedAt ? `at ${iso(fencedAt)}: ${fencedHow}` : 'never'} (network_partition_timeout ${npt}s, wal_sender_timeout ${walSenderTimeoutMs} ms); ` +
      `direct client: ${d.acks.length} acks, last at ${iso(d.acks[d.acks.length - 1]?.ackAt ?? 0)}, ${d.failures.length} failures; ` +
      `${afterPartition.length} acks of inserts sent > 1 s after the partition, ${late.length} at or after T`;
    // S2: once the new primary takes writes, the old one acknowledges nothing
    const show = (x: DirectAck) => `id ${x.id} sent ${iso(x.sentAt)} acknowledged ${iso(x.ackAt)}${x.notices.length ? ` notices ${JSON.stringify(x.notices)}` : ''}`;
    const lateShown = late.length > 6 ? [...late.slice(0, 3).map(show), '...', ...late.slice(-3).map(show)] : late.map(show);
    expect(late.length, `${oldName} acknowledged ${late.length} commits after ${nextName} took writes:\n${lateShown.join('\n')}\n${timeline}\n${ev}`).toBe(0);
    // and it fences itself eventually
    expect(fencedAt, `${oldName} never fenced itself\n${timeline}\n${ev}`).toBeGreaterThan(0);

    // heal: the old primary comes back as a secondary
    c.heal(oldName);
    try {
      await c.waitForStates({ [oldName]: 'secondary', [nextName]: 'primary' }, 120_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await evidence(since)}`);
    }
    await a.waitForAcks(5, 20_000, pNext);
    await a.stop();
    console.log(timeline);
    if (!opts.sync) return;
    // S1 (the standby was a healthy synchronous standby): nothing acknowledged is lost,
    // neither through the formation URI nor directly on the old primary
    expect(await a.missing(), `${timeline}\n${await evidence(since)}`).toEqual([]);
    const present = new Set(
      (await queryDirect<{ id: number }>(pNext, user, `SELECT id FROM writes WHERE label = $1`, [`${opts.label}-direct`])).map((r) => Number(r.id)),
    );
    const lost = d.acks.filter((x) => !present.has(x.id)).map((x) => ({ id: x.id, ack: iso(x.ackAt) }));
    expect(lost, `writes acknowledged by ${oldName} (synchronous) missing on ${nextName}\n${timeline}`).toEqual([]);
  }

  it('an old primary with a synchronous standby, cut off from the monitor and the standby but not from its clients, acknowledges no commit once the new primary takes writes; it fences itself and rejoins', async () => {
    await isolateOldPrimary('node1', 'node2', { sync: true, label: 'iso-sync' });
  }, 580_000);

  it('the same with an asynchronous standby (replication-quorum false): the promotion waits for the old primary to fence itself', async () => {
    // node1 (now the standby) stops counting for synchronous replication: node2 runs with
    // synchronous_standby_names '' and no proof of fencing exists
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 60_000);
    await c.monitorQuery(`SELECT pgautofailover.set_node_replication_quorum('default', 'node1', false)`);
    await isolateOldPrimary('node2', 'node1', { sync: false, label: 'iso-async' });
  }, 650_000);
});
