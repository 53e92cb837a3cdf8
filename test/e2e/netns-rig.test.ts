// pgaf in pg_auto_failover's own test topology (tests/pgautofailover_utils.py and network.py
// of the original): one network namespace per node on a private bridge, every node on port 5432
// of its own address, PG_REGRESS_SOCK_DIR="" and PGHOST=localhost, pgaf installed as
// `pg_autoctl`, driven with the original's commands and options, and the monitor read over SQL
// as its tooling reads it. The scenarios follow the original's basic-operation and multi-standby
// documentation: create, rename, maintenance, failover and failback, primary and standby
// failures, an interface taken down on the primary until it fences itself, drop and re-add,
// monitor restart, and synchronous_standby_names with candidate priorities.
//
// Needs root (ip netns). Every namespace, link, process and file it creates is removed in
// afterAll, and by the rig's exit handler if the run is interrupted.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_MONITOR_SETTINGS } from '../support/cluster.js';
import { ensureGuardRoute, NetnsRig, SUBNET, type NetnsNode } from '../support/netns.js';

const PG_CTL = '/usr/lib/postgresql/15/bin/pg_ctl';
/** root, iproute2, and the right to create a network namespace (a container may lack it): then the rig runs */
function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  // the guard route exists before any namespace does, the probe's included
  try {
    ensureGuardRoute();
  } catch {
    return false;
  }
  const probe = `pgafprobe${process.pid % 100000}`;
  if (spawnSync('ip', ['netns', 'add', probe]).status !== 0) return false;
  spawnSync('ip', ['netns', 'del', probe]);
  return true;
}
const canRun = netnsAvailable();
if (!canRun) console.warn('netns-rig: skipped, this machine cannot create network namespaces (needs root and iproute2)');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** the bound of each step: longer than every wait inside it (each wait bounds itself, with its own message) */
const LIMIT = 15 * 60_000;

describe.skipIf(!canRun)('the original\'s namespace-per-node rig, with pgaf as pg_autoctl', () => {
  const rig = new NetnsRig();
  let monitor: NetnsNode;
  const ids = new Map<NetnsNode, number>();
  let monitorUri = '';

  /** pg_autoctl <args> --pgdata <node's>, failing the test with its output when it fails */
  async function autoctl(node: NetnsNode, args: string[], expectCode = 0): Promise<string> {
    // as the rig's set_command: --pgdata goes before a `--`, else at the end
    const at = args.indexOf('--');
    const argv = at < 0 ? [...args, '--pgdata', node.pgdata] : [...args.slice(0, at), '--pgdata', node.pgdata, ...args.slice(at)];
    const r = await node.autoctl(argv);
    if (r.code !== expectCode) throw new Error(`pg_autoctl ${argv.join(' ')} on ${node.name} exited ${r.code}, expected ${expectCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  function monitorSql<R extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R[]> {
    // the rig's MonitorNode.run_sql_query: autoctl_node on pg_auto_failover over the network
    return monitor.sql<R>(text, params, { user: 'autoctl_node', database: 'pg_auto_failover' });
  }

  async function stateOf(node: NetnsNode): Promise<string | undefined> {
    try {
      const rows = await monitorSql<{ reportedstate: string }>('SELECT reportedstate FROM pgautofailover.node WHERE nodeid = $1 AND groupid = 0', [ids.get(node)]);
      return rows[0]?.reportedstate;
    } catch {
      return undefined;
    }
  }

  /** the rig's wait_until_state: poll the monitor until the node reports `state` */
  async function waitState(node: NetnsNode, state: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: string | undefined;
    while (Date.now() < deadline) {
      last = await stateOf(node);
      if (last === state) return;
      await sleep(250);
    }
    throw new Error(`${node.name} did not reach ${state} (last reported: ${last ?? 'nothing'})\n--- its log:\n${node.serviceLog.slice(-3000)}`);
  }

  async function createNode(name: string, extra: string[] = []): Promise<NetnsNode> {
    const node = rig.addNamespaceNode(name);
    // the rig's DataNode.create(): no --hostname (found from the route to the monitor)
    await autoctl(node, ['create', 'postgres', '-v', '--pghost', 'localhost', '--pgport', '5432', '--pgctl', PG_CTL, '--auth', 'trust', '--monitor', monitorUri, '--no-ssl', ...extra]);
    const st = JSON.parse(await autoctl(node, ['do', 'fsm', 'state'])) as { state: { nodeId: number } };
    ids.set(node, st.state.nodeId);
    node.startService();
    return node;
  }

  /** until the monitor's health check sees the node's Postgres down (0) or up (1) */
  async function waitHealth(node: NetnsNode, health: 0 | 1, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const rows = await monitorSql<{ health: number }>('SELECT health FROM pgautofailover.node WHERE nodeid = $1', [ids.get(node)]);
      if (Number(rows[0]?.health) === health) return;
      await sleep(250);
    }
    throw new Error(`the monitor never saw ${node.name} with health ${health}`);
  }

  async function writeRow(primary: NetnsNode, value: number): Promise<void> {
    await primary.sql('INSERT INTO t VALUES ($1)', [value]);
  }

  async function rowsOn(node: NetnsNode): Promise<number[]> {
    const rows = await node.sql<{ a: number }>('SELECT a FROM t ORDER BY a');
    return rows.map((r) => Number(r.a));
  }

  /** the rows of t on a node, once it has them all (a standby may replay a moment later) */
  async function waitRows(node: NetnsNode, want: number[], timeoutMs = 30_000): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    let last: number[] | string = 'nothing';
    while (Date.now() < deadline) {
      try {
        last = await rowsOn(node);
        if (JSON.stringify(last) === JSON.stringify(want)) return last;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(250);
    }
    return typeof last === 'string' ? [] : last;
  }

  beforeAll(() => {
    rig.build();
  });

  afterAll(async () => {
    await rig.teardown();
    expect(await rig.leftovers()).toEqual([]);
  }, LIMIT);

  it('creates the monitor with the original\'s options and runs it; do pgsetup wait works on it', async () => {
    monitor = rig.addNamespaceNode('monitor');
    const out = await autoctl(monitor, ['create', 'monitor', '-vv', '--pgport', '5432', '--auth', 'trust', '--nodename', monitor.address, '--no-ssl']);
    monitorUri = out.trim();
    expect(monitorUri).toBe(`postgres://autoctl_node@${monitor.address}:5432/pg_auto_failover?sslmode=prefer`);
    monitor.startService();
    await autoctl(monitor, ['do', 'pgsetup', 'wait', '-vvv']);
    // no Unix socket; Postgres on its address and on the namespace's loopback
    const settings = await monitor.sql<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('unix_socket_directories', 'listen_addresses', 'port') ORDER BY name",
    );
    expect(Object.fromEntries(settings.map((s) => [s.name, s.setting]))).toEqual({
      listen_addresses: `${monitor.address},localhost`,
      port: '5432',
      unix_socket_directories: '',
    });
    // tooling on the monitor host connects to localhost without a password (test mode's trust)
    const local = await monitor.nsExec(['psql', '-X', '-At', '-h', 'localhost', '-d', 'pg_auto_failover', '-c', 'SELECT count(*) FROM pgautofailover.formation']);
    expect(local.stdout.trim()).toBe('1');
    expect(monitor.serviceLog + out).toBeDefined();
    for (const [k, v] of Object.entries(FAST_MONITOR_SETTINGS)) await monitor.sql(`ALTER SYSTEM SET pgautofailover.${k} = '${v}'`);
    await monitor.sql('SELECT pg_reload_conf()');
  }, LIMIT);

  let node1: NetnsNode;
  let node2: NetnsNode;

  it('creates node1 (single) and node2 (secondary), every node on port 5432 of its own address', async () => {
    node1 = await createNode('node1');
    await waitState(node1, 'single');
    node2 = await createNode('node2');
    await waitState(node2, 'secondary');
    await waitState(node1, 'primary');
    const hosts = await monitorSql<{ nodehost: string; nodeport: number }>('SELECT nodehost, nodeport FROM pgautofailover.node ORDER BY nodeid');
    expect(hosts.map((h) => `${h.nodehost}:${h.nodeport}`)).toEqual([`${node1.address}:5432`, `${node2.address}:5432`]);
    expect(node1.serviceLog).toMatch(/PG_REGRESS_SOCK_DIR is set to "": test mode/);
    await node1.sql('CREATE TABLE t(a int)');
    await writeRow(node1, 1);
    await autoctl(node2, ['do', 'pgsetup', 'ready']);
  }, LIMIT);

  it('renames a node with config set pg_autoctl.name: the monitor has the new name', async () => {
    await autoctl(node2, ['config', 'set', 'pg_autoctl.name', 'standby-a']);
    const deadline = Date.now() + 30_000;
    let name = '';
    while (Date.now() < deadline) {
      name = (await monitorSql<{ nodename: string }>('SELECT nodename FROM pgautofailover.node WHERE nodeid = $1', [ids.get(node2)]))[0]!.nodename;
      if (name === 'standby-a') break;
      await sleep(250);
    }
    expect(name).toBe('standby-a');
  }, LIMIT);

  it('maintenance on the standby and back', async () => {
    await autoctl(node2, ['enable', 'maintenance']);
    await waitState(node2, 'maintenance');
    await autoctl(node2, ['disable', 'maintenance']);
    await waitState(node2, 'secondary');
    await waitState(node1, 'primary');
  }, LIMIT);

  it('fails over with perform_failover() over SQL, then fails back; no row lost', async () => {
    await monitorSql("SELECT pgautofailover.perform_failover('default', 0)");
    await waitState(node2, 'primary');
    await waitState(node1, 'secondary');
    await writeRow(node2, 2);
    await monitorSql("SELECT pgautofailover.perform_failover('default', 0)");
    await waitState(node1, 'primary');
    await waitState(node2, 'secondary');
    await writeRow(node1, 3);
    expect(await waitRows(node1, [1, 2, 3])).toEqual([1, 2, 3]);
  }, LIMIT);

  it('primary failure (keeper terminated, Postgres stopped): the standby takes over; the old primary rejoins', async () => {
    await node1.failNode();
    await waitState(node2, 'wait_primary');
    await writeRow(node2, 4);
    node1.startService();
    await waitState(node1, 'secondary');
    await waitState(node2, 'primary');
    expect(await waitRows(node1, [1, 2, 3, 4])).toEqual([1, 2, 3, 4]);
  }, LIMIT);

  it('the primary\'s interface goes down: it fences itself, the standby is promoted; back up, it rejoins', async () => {
    node2.ifdown();
    await waitState(node1, 'wait_primary');
    // isolated from the monitor and its standby, the old primary stops serving
    const deadline = Date.now() + 60_000;
    while (node2.livePostmaster() !== undefined && Date.now() < deadline) {
      const r = await node2.nsExec(['psql', '-X', '-At', '-h', 'localhost', '-c', 'SELECT pg_is_in_recovery()'], 10_000);
      if (r.code === 0 && r.stdout.trim() === 't') break;
      await sleep(250);
    }
    const fenced = node2.livePostmaster() === undefined || (await node2.nsExec(['psql', '-X', '-At', '-h', 'localhost', '-c', 'SELECT pg_is_in_recovery()'])).stdout.trim() === 't';
    expect(fenced, `node2 still serves as a primary:\n${node2.serviceLog.slice(-3000)}`).toBe(true);
    await writeRow(node1, 5);
    node2.ifup();
    await waitState(node2, 'secondary');
    await waitState(node1, 'primary');
    expect(await waitRows(node2, [1, 2, 3, 4, 5])).toEqual([1, 2, 3, 4, 5]);
  }, LIMIT);

  let node3: NetnsNode;

  it('drops a standby and adds a new node in its place', async () => {
    await autoctl(node2, ['drop', 'node']);
    await new Promise<void>((resolve) => {
      if (!node2.service) return resolve();
      node2.service.once('exit', () => resolve());
      setTimeout(resolve, 30_000);
    });
    expect(node2.service).toBeUndefined();
    await node2.stopPostgres();
    expect((await monitorSql('SELECT 1 FROM pgautofailover.node WHERE nodeid = $1', [ids.get(node2)])).length).toBe(0);
    await waitState(node1, 'single');
    node3 = await createNode('node3');
    await waitState(node3, 'secondary');
    await waitState(node1, 'primary');
    expect(await waitRows(node3, [1, 2, 3, 4, 5])).toEqual([1, 2, 3, 4, 5]);
  }, LIMIT);

  let node4: NetnsNode;

  it('multi-standby: a third node, candidate priorities set with `--`, synchronous_standby_names in priority order', async () => {
    node4 = await createNode('node4', ['--pg-hba-lan']);
    await waitState(node4, 'secondary');
    // --pg-hba-lan: the network of the node's address, for --username on --dbname with --auth
    expect(readFileSync(join(node4.pgdata, 'pg_hba.conf'), 'utf8').split('\n')).toContain(`host postgres postgres ${SUBNET}.0/24 trust`);
    await waitState(node1, 'primary');
    await autoctl(node4, ['set', 'node', 'candidate-priority', '--', '90']);
    // the rig's set_candidate_priority(): a refused value is exit 1
    await autoctl(node4, ['set', 'node', 'candidate-priority', '--', '-1'], 1);
    expect((await autoctl(node4, ['get', 'node', 'candidate-priority'])).trim()).toBe('90');
    const want = `ANY 1 (pgautofailover_standby_${ids.get(node4)}, pgautofailover_standby_${ids.get(node3)})`;
    // the original prints the value as a quoted literal
    expect((await autoctl(monitor, ['show', 'standby-names'])).trim()).toBe(`'${want}'`);
    const deadline = Date.now() + 30_000;
    let onPrimary = '';
    while (Date.now() < deadline) {
      onPrimary = (await node1.sql<{ s: string }>('SELECT current_setting(\'synchronous_standby_names\') AS s'))[0]!.s;
      if (onPrimary === want) break;
      await sleep(250);
    }
    expect(onPrimary).toBe(want);
  }, LIMIT);

  it('a standby fails: the primary stays primary and keeps committing; the standby comes back', async () => {
    await node3.failNode();
    await writeRow(node1, 6);
    await waitHealth(node3, 0);
    expect(await stateOf(node1)).toBe('primary');
    node3.startService();
    await waitHealth(node3, 1);
    await waitState(node3, 'secondary');
    expect(await waitRows(node3, [1, 2, 3, 4, 5, 6])).toEqual([1, 2, 3, 4, 5, 6]);
  }, LIMIT);

  it('do service restart postgres returns once asked; the keeper starts Postgres again', async () => {
    const before = node4.livePostmaster();
    expect(before).toBeDefined();
    await autoctl(node4, ['do', 'service', 'restart', 'postgres']);
    await autoctl(node4, ['do', 'pgsetup', 'wait']);
    expect(node4.livePostmaster()).not.toBe(before);
    await waitState(node4, 'secondary');
    expect(await stateOf(node1)).toBe('primary');
  }, LIMIT);

  it('the monitor restarts (service and Postgres): no failover, writes go on, states are kept', async () => {
    await monitor.failNode();
    await writeRow(node1, 7);
    monitor.startService();
    await autoctl(monitor, ['do', 'pgsetup', 'wait']);
    await waitState(node1, 'primary');
    await waitState(node3, 'secondary');
    await waitState(node4, 'secondary');
    const events = await monitorSql<{ n: string }>("SELECT count(*) AS n FROM pgautofailover.event WHERE goalstate IN ('prepare_promotion', 'stop_replication') AND eventtime > now() - interval '30 seconds'");
    expect(Number(events[0]!.n)).toBe(0);
    expect(await waitRows(node4, [1, 2, 3, 4, 5, 6, 7])).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // the table kept every reported state across the restart, so the waits above pass before the
    // keepers have heartbeated the new monitor; show state must list all three as primary or
    // secondary once they have (what it showed first, and the events, go to the log otherwise)
    const settled = (out: string) => out.split('\n').filter((l) => / primary | secondary /.test(l)).length === 3;
    let shown = await autoctl(monitor, ['show', 'state']);
    if (!settled(shown)) {
      console.log(`show state right after the monitor restart:\n${shown}\nevents:\n${await autoctl(monitor, ['show', 'events', '--count', '15'])}\nnode_3's log:\n${node3.serviceLog.slice(-2500)}\nnode_4's log:\n${node4.serviceLog.slice(-2500)}`);
      const deadline = Date.now() + 30_000;
      while (!settled(shown) && Date.now() < deadline) {
        await sleep(250);
        shown = await autoctl(monitor, ['show', 'state']);
      }
    }
    expect(settled(shown), shown).toBe(true);
  }, LIMIT);
});
