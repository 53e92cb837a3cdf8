// The keeper's second line of defence, with real keepers: a peer's host on the monitor is
// rewritten behind the SQL API's back (as a compromised or older monitor could return it) to
// the payloads of issue #10. The other keeper writes no rule for it, says so in one sentence
// naming the peer, and its pg_hba.conf stays byte for byte what it was.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';

const PAYLOADS: Array<[string, string]> = [
  ['0.0.0.0/0 trust #', 'it holds whitespace'],
  ['10.0.0.9\nhost all all 0.0.0.0/0 trust', 'it holds a control character (newline, tab, escape…)'],
];

describe('a hostile peer host from the monitor', () => {
  let c: TestCluster;
  const hbaOf = (name: string) => readFileSync(join(c.member(name).dir, 'pgdata', 'pg_hba.conf'), 'utf8');
  const logOf = (name: string) => readFileSync(join(c.member(name).dir, 'pgaf.log'), 'utf8');

  beforeAll(async () => {
    c = await TestCluster.primaryAndSecondary();
  }, 330_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it.each(PAYLOADS)('%j: refused by the keeper, named in its log, pg_hba.conf unchanged', async (host, problem) => {
    const [row] = await c.monitorQuery<{ nodeid: string }>(`SELECT nodeid FROM pgautofailover.node WHERE nodename = 'node2'`);
    const id = Number(row!.nodeid);
    const before = hbaOf('node1');
    const sentence = `Refusing to write an HBA rule for node ${id} "node2": its host ${JSON.stringify(host)} is not a host name or an address (${problem})`;
    // as a monitor that skipped validation would serve it; keepers re-read their peers every few ticks
    await c.monitorQuery('UPDATE pgautofailover.node SET nodehost = $1 WHERE nodeid = $2', [host, id]);
    const deadline = Date.now() + 60_000;
    while (!logOf('node1').includes(sentence)) {
      if (Date.now() > deadline) throw new Error(`node1 never logged the refusal; last lines:\n${c.logTail('node1')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(hbaOf('node1')).toBe(before);
    for (const name of ['node1', 'node2']) expect(hbaOf(name)).not.toMatch(/0\.0\.0\.0|10\.0\.0\.9/);
    await c.monitorQuery(`UPDATE pgautofailover.node SET nodehost = '127.0.0.1' WHERE nodeid = $1`, [id]);
  }, 120_000);
});
