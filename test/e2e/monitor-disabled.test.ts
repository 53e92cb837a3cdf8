// End to end, the original's test_monitor_disabled and test_replace_monitor scenarios with
// real keepers and Postgres on 127.0.0.1:
// (a) two nodes created with --disable-monitor, driven by `do fsm assign` and `do fsm nodes set`
//     into a streaming primary/secondary pair;
// (b) a monitored pair whose monitor is replaced online: disable monitor on both nodes, drop
//     the old monitor, create a new one, enable monitor on the primary then the standby (no
//     base backup, no Postgres restart, writes going on), then a failover on the new monitor.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_MONITOR_SETTINGS, TestCluster } from '../support/cluster.js';
import { recordFigure } from '../support/figures.js';
import { Writer } from '../support/writer.js';

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function configFile(c: TestCluster, name: string): string {
  const m = c.member(name);
  return join(m.dir, 'config', 'pg_autoctl', m.dir, 'pgdata', 'pg_autoctl.cfg');
}

describe('nodes without a monitor (do fsm assign, do fsm nodes set)', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await TestCluster.create();
    await c.addNodeWithoutMonitor('node1', 1);
  }, 170_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('writes the original config representation and waits in init', async () => {
    const cfg = readFileSync(configFile(c, 'node1'), 'utf8');
    expect(cfg).toMatch(/^monitor = PG_AUTOCTL_DISABLED$/m);
    const r = await c.cli('node1', ['do', 'fsm', 'state']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).state).toMatchObject({ current_role: 'init', assigned_role: 'init', nodeId: 1 });
  }, 170_000);

  it('becomes single with do fsm assign, its running keeper doing the work', async () => {
    const r = await c.cli('node1', ['do', 'fsm', 'assign', 'single']);
    expect(r.code, r.stderr + c.logTail('node1')).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ current_role: 'single', assigned_role: 'single' });
    await c.nodeQuery('node1', 'CREATE TABLE t1(a int)');
    await c.nodeQuery('node1', 'INSERT INTO t1 VALUES (1), (2)');
  }, 170_000);

  it('says so where a monitor is needed; show state shows the local state', async () => {
    let r = await c.cli('node1', ['perform', 'failover']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/runs without a monitor/);
    r = await c.cli('node1', ['show', 'state']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/node1 .*single/);
  }, 300_000);

  it('refuses a bad nodes file and changes nothing', async () => {
    await c.addNodeWithoutMonitor('node2', 2);
    const bad = join(c.base, 'bad-nodes.json');
    writeFileSync(bad, JSON.stringify([{ node_id: 'x', node_name: 'node1' }]));
    const r = await c.cli('node2', ['do', 'fsm', 'nodes', 'set', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[0\]\.node_id: expected an integer above 0/);
    const get = await c.cli('node2', ['do', 'fsm', 'nodes', 'get']);
    expect(get.code, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual([]);
  }, 430_000);

  it('streams from node1 once given the node list and assigned wait_standby, catchingup, secondary', async () => {
    const nodes = [
      { node_id: 1, node_name: 'node1', node_host: '127.0.0.1', node_port: c.member('node1').port, node_lsn: '0/1', node_is_primary: true },
      { node_id: 2, node_name: 'node2', node_host: '127.0.0.1', node_port: c.member('node2').port, node_lsn: '0/1', node_is_primary: false },
    ];
    const file = join(c.base, 'nodes.json');
    writeFileSync(file, JSON.stringify(nodes));
    for (const n of ['node1', 'node2']) {
      const r = await c.cli(n, ['do', 'fsm', 'nodes', 'set', file]);
      expect(r.code, r.stderr).toBe(0);
    }
    const get = await c.cli('node2', ['do', 'fsm', 'nodes', 'get']);
    expect(JSON.parse(get.stdout)).toEqual(nodes);

    const assign = async (name: string, state: string) => {
      const r = await c.cli(name, ['do', 'fsm', 'assign', state]);
      expect(r.code, `${name} ${state}: ${r.stderr}\n${c.logTail(name)}`).toBe(0);
    };
    await assign('node2', 'wait_standby');
    await assign('node1', 'wait_primary');
    await assign('node2', 'catchingup');
    await assign('node1', 'primary');
    await assign('node2', 'secondary');

    const [ssn] = await c.nodeQuery<{ s: string }>('node1', "SELECT current_setting('synchronous_standby_names') AS s");
    expect(ssn!.s).toBe('*');
    const repl = await eventually('node2 streaming', async () => {
      const rows = await c.nodeQuery<{ application_name: string; state: string }>('node1', 'SELECT application_name, state FROM pg_stat_replication');
      return rows.some((r) => r.state === 'streaming') ? rows : undefined;
    });
    expect(repl.map((r) => r.application_name)).toEqual(['pgautofailover_standby_2']);
    await c.nodeQuery('node1', 'INSERT INTO t1 VALUES (3)');
    const rows = await eventually('row 3 on node2', async () => {
      const r = await c.nodeQuery<{ a: number }>('node2', 'SELECT a FROM t1 ORDER BY a');
      return r.length === 3 ? r : undefined;
    });
    expect(rows.map((r) => r.a)).toEqual([1, 2, 3]);
  }, 1_160_000);
});

describe('replacing the monitor online (disable monitor, enable monitor)', () => {
  let c: TestCluster;
  let writer: Writer | undefined;
  let node2Start = '';
  let node2Sysid = '';
  /** where node2's keeper log stood before the switch (its bring-up took a base backup) */
  let node2LogFrom = 0;

  beforeAll(async () => {
    c = await TestCluster.primaryAndSecondary();
    const [s] = await c.nodeQuery<{ start: string; sysid: string }>(
      'node2',
      'SELECT pg_postmaster_start_time()::text AS start, (SELECT system_identifier::text FROM pg_control_system()) AS sysid',
    );
    node2Start = s!.start;
    node2Sysid = s!.sysid;
    node2LogFrom = readFileSync(join(c.member('node2').dir, 'pgaf.log')).length;
    writer = new Writer([{ host: '127.0.0.1', port: c.member('node1').port }], { user: c.superuser, database: 'postgres', table: 'writes', label: 'replace' });
    await writer.createTable();
    writer.start();
    await writer.waitForAcks(10, 10_000);
  }, 340_000);
  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
    await c?.destroy();
  });

  it('refuses to take the primary off the monitor while its standby follows it, changing nothing', async () => {
    const before = readFileSync(configFile(c, 'node1'), 'utf8');
    const r = await c.cli('node1', ['disable', 'monitor', '--force']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/is the primary and node 2 "node2" still follow/);
    expect(readFileSync(configFile(c, 'node1'), 'utf8')).toBe(before);
  }, 170_000);

  it('disables the monitor on the standby, then on the primary; writes go on', async () => {
    let r = await c.cli('node2', ['disable', 'monitor', '--force']);
    expect(r.code, r.stderr).toBe(0);
    r = await c.cli('node1', ['disable', 'monitor']);
    expect(r.code, r.stderr).toBe(0);
    expect(await c.states()).toEqual([]);
    for (const n of ['node1', 'node2']) expect(readFileSync(configFile(c, n), 'utf8')).toMatch(/^monitor = PG_AUTOCTL_DISABLED$/m);
    r = await c.cli('node1', ['disable', 'monitor']);
    expect(r.code).toBe(2);
    await writer!.waitForAcks(10, 15_000);
  }, 450_000);

  it('drops the old monitor: the nodes do not care', async () => {
    await c.stopKeeper('monitor');
    const r = await c.cli('monitor', ['drop', 'monitor', '--destroy']);
    expect(r.code, r.stderr).toBe(0);
    await writer!.waitForAcks(10, 15_000);
    const rows = await eventually('a row on node2', async () => {
      const id = writer!.acked.at(-1)!.id;
      const x = await c.nodeQuery('node2', 'SELECT 1 FROM writes WHERE id = $1', [id]);
      return x.length ? x : undefined;
    });
    expect(rows.length).toBe(1);
  }, 220_000);

  it('enables a new monitor on the primary, then on the standby: primary and secondary, no base backup', async () => {
    await c.replaceMonitor();
    await c.startMonitor(FAST_MONITOR_SETTINGS);
    let r = await c.cli('node1', ['enable', 'monitor', 'http://nope']);
    expect(r.code).toBe(1);
    r = await c.cli('node1', ['enable', 'monitor', c.monitorUri]);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node1: 'single' }, 30_000);
    r = await c.cli('node1', ['enable', 'monitor', c.monitorUri]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already has a monitor/);
    r = await c.cli('node2', ['enable', 'monitor', c.monitorUri]);
    expect(r.code, r.stderr + c.logTail('node2')).toBe(0);
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 60_000);
    expect((await c.states()).map((s) => s.nodeid)).toEqual([1, 2]);

    const [s] = await c.nodeQuery<{ start: string; sysid: string }>(
      'node2',
      'SELECT pg_postmaster_start_time()::text AS start, (SELECT system_identifier::text FROM pg_control_system()) AS sysid',
    );
    expect(s).toEqual({ start: node2Start, sysid: node2Sysid });
    const switchLog = readFileSync(join(c.member('node2').dir, 'pgaf.log')).subarray(node2LogFrom).toString('utf8');
    expect(switchLog).toMatch(/A new monitor is configured/);
    expect(switchLog).not.toMatch(/pg_basebackup|base backup|Starting PostgreSQL/i);
    await writer!.waitForAcks(10, 15_000);
    const result = await writer!.stop();
    writer = undefined;
    expect(result.acked.length).toBeGreaterThan(30);
    // writes went on: node1 refused none, and each step above saw new acknowledgements
    expect(result.failed, 'write attempts that failed on node1 while its monitor was replaced').toEqual([]);
    recordFigure('monitor replaced online under writes: longest gap between two acknowledged writes', result.longestGapMs, 'ms');
  }, 810_000);

  it('fails over on the new monitor', async () => {
    const r = await c.cli('node1', ['perform', 'failover']);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 60_000);
    const rows = await c.nodeQuery<{ n: string }>('node2', "SELECT count(*)::text AS n FROM writes WHERE label = 'replace'");
    expect(Number(rows[0]!.n)).toBeGreaterThan(30);
  }, 230_000);
});
