// Repeated failures under one writer that runs throughout: host deaths (kill -9 of the
// keeper and Postgres of the current primary) that alternate between the two nodes, each
// followed by the dead node's return as a secondary, interleaved with switchovers. At the
// end no acknowledged write is missing (S1). Beside the writer, a client bound to each node
// (127.0.0.1:port, no failover logic) keeps inserting, so that a node that takes writes when
// it should not (say a dead primary coming back) is seen: the acknowledgements of all
// clients, ordered only where their timestamps prove the order, switch nodes no more often
// than the roles did (S2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type NodeState } from '../support/cluster.js';
import { DirectClient, queryDirect } from '../support/direct-client.js';
import { provenSwitches, type Stamped } from '../support/order.js';
import { Writer } from '../support/writer.js';

const WRITABLE = ['wait_primary', 'primary'];

const fmt = (s: NodeState[]) => s.map((n) => `${n.nodename}=${n.reportedstate}/${n.goalstate}`).join(' ');

describe('repeated host deaths and switchovers under a writer', () => {
  let c: TestCluster;
  let w: Writer | undefined;
  const direct: DirectClient[] = [];
  const steps: string[] = [];

  beforeAll(async () => {
    c = await TestCluster.primaryAndSecondary();
  }, 330_000);
  afterAll(async () => {
    for (const d of direct) await d.stop();
    await w?.stop();
    await c?.destroy();
  });

  const other = (n: string) => (n === 'node1' ? 'node2' : 'node1');

  async function evidence(): Promise<string> {
    const ev = await c
      .monitorQuery<{ eventtime: string; nodename: string; ruleid: string; description: string }>(
        `SELECT eventtime::text, nodename, ruleid, description FROM pgautofailover.event ORDER BY eventid DESC LIMIT 25`,
      )
      .catch(() => []);
    return [
      `steps: ${steps.join(' -> ')}`,
      `states: ${fmt(await c.states().catch(() => []))}`,
      'last events:',
      ...ev.reverse().map((e) => `  ${e.eventtime} ${e.nodename} ${e.ruleid}: ${e.description}`),
      ...[...c.nodes.keys()].map((n) => `--- ${n}\n${c.logTail(n, 20)}`),
    ].join('\n');
  }

  async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
    steps.push(what);
    try {
      return await fn();
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}\n${await evidence()}`);
    }
  }

  /** kill -9 of the primary's keeper and Postgres; the other node takes writes; the dead one returns as a secondary. */
  async function hostDeath(primary: string): Promise<void> {
    const next = other(primary);
    await step(`death of ${primary}`, async () => {
      await c.killHost(primary);
      await c.waitFor(
        `${next} converged writable`,
        (s) => s.some((n) => n.nodename === next && WRITABLE.includes(n.reportedstate) && n.reportedstate === n.goalstate),
        90_000,
      );
      await w!.waitForAcks(5, 30_000, c.member(next).port);
    });
    await step(`${primary} returns`, async () => {
      c.restartKeeper(primary);
      await c.waitForStates({ [primary]: 'secondary', [next]: 'primary' }, 120_000);
    });
  }

  async function switchover(primary: string): Promise<void> {
    const next = other(primary);
    await step(`switchover ${primary} -> ${next}`, async () => {
      const r = await c.cli(next, ['perform', 'switchover', '--formation', 'default', '--group', '0']);
      if (r.code !== 0) throw new Error(`perform switchover exited ${r.code}: ${r.stderr.trim().split('\n').slice(-5).join('\n')}`);
      await c.waitForStates({ [primary]: 'secondary', [next]: 'primary' }, 90_000);
      await w!.waitForAcks(5, 30_000, c.member(next).port);
    });
  }

  it('loses no acknowledged write across 3 alternating host deaths and 3 switchovers', async () => {
    w = Writer.fromUri(await c.formationUri(), c.superuser, 'writes', 'repeated');
    await w.createTable();
    w.start();
    await w.waitForAcks(20, 15_000);
    for (const n of ['node1', 'node2']) {
      const d = new DirectClient(c.member(n).port, { user: c.superuser, table: 'writes', label: `direct-${n}`, timeoutMs: 3000 });
      d.start();
      direct.push(d);
    }
    await direct[0]!.waitForAcks(5, 15_000);

    await hostDeath('node1'); // node2 primary
    await hostDeath('node2'); // node1 primary
    await switchover('node1'); // node2 primary
    await switchover('node2'); // node1 primary
    await hostDeath('node1'); // node2 primary
    await switchover('node2'); // node1 primary

    await w.waitForAcks(10, 30_000, c.member('node1').port);
    const writer = w;
    const res = await writer.stop();
    w = undefined;
    for (const d of direct) await d.stop();
    // the writer was served by both nodes, several times each
    const ports = new Set(res.acked.map((a) => a.port));
    expect(ports).toEqual(new Set([c.member('node1').port, c.member('node2').port]));
    let changes = 0;
    for (let i = 1; i < res.acked.length; i++) if (res.acked[i]!.port !== res.acked[i - 1]!.port) changes += 1;
    expect(changes).toBeGreaterThanOrEqual(6);
    const missing = await writer.missing();
    expect(missing, `acknowledged ids missing after ${steps.join(' -> ')} (${res.acked.length} acknowledged)\n${await evidence()}`).toEqual([]);
    // every write acknowledged directly by a node is there too
    const present = new Set(
      (await queryDirect<{ label: string; id: number }>(c.member('node1').port, c.superuser, `SELECT label, id FROM writes WHERE label LIKE 'direct-%'`)).map(
        (r) => `${r.label}/${r.id}`,
      ),
    );
    const lostDirect = direct.flatMap((d, i) => d.acks.filter((a) => !present.has(`direct-node${i + 1}/${a.id}`)).map((a) => `node${i + 1}/${a.id}`));
    expect(lostDirect, `writes acknowledged directly by a node are missing\n${await evidence()}`).toEqual([]);

    // S2: no more proven switches between the nodes than role changes (6)
    const portNode = new Map([[c.member('node1').port, 'node1'], [c.member('node2').port, 'node2']]);
    const all: Stamped[] = [
      ...res.acked.map((a) => ({ node: portNode.get(a.port)!, sentAt: a.sentAt, ackAt: a.at })),
      ...direct.flatMap((d, i) => d.acks.map((a) => ({ node: `node${i + 1}`, sentAt: a.sentAt, ackAt: a.ackAt }))),
    ];
    const proven = provenSwitches(all);
    const switchesAt = proven.chain
      .filter((x, i) => i > 0 && proven.chain[i - 1]!.node !== x.node)
      .map((x) => `${x.node} sent ${new Date(x.sentAt).toISOString()} acked ${new Date(x.ackAt).toISOString()}`);
    expect(proven.switches, `the nodes took writes in turn more often than the roles changed:\n${switchesAt.join('\n')}\n${await evidence()}`).toBeLessThanOrEqual(6);
    expect(direct.every((d) => d.acks.length > 0)).toBe(true);

    const s = await c.states();
    expect(s.filter((n) => WRITABLE.includes(n.goalstate)).map((n) => n.nodename)).toEqual(['node1']);
    console.log(
      `[repeated] writer: ${res.acked.length} acknowledged writes, ${res.failed.length} failed attempts, ${changes} changes of server, longest gap ${res.longestGapMs} ms; ` +
        `direct: ${direct.map((d, i) => `node${i + 1} ${d.acks.length} acks`).join(', ')}; proven switches ${proven.switches}`,
    );
  }, 1_820_000);
});
