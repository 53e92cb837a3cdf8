// Debian's HAProxy in front of a real cluster, configured as docs/integrations.md shows, with
// health checks on the keepers' /primary and /replica endpoints: a client connected through
// it writes to the primary, then to the new primary after a switchover and after the
// primary's host dies. The keepers' hooks fire on the way (on_primary, on_demote,
// on_role_change, and the fencing hook pre_promote that holds a promotion back until it
// succeeds) and /metrics counts the promotions.
import { chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRunAs } from '../../lib/pgbin.js';
import { FAST_MONITOR_SETTINGS, TestCluster } from '../support/cluster.js';
import { Haproxy, haproxyConfigFor } from '../support/haproxy.js';
import { recordFigure } from '../support/figures.js';
import { freePort } from '../support/postgres.js';
import { PromotionWatch, type PromotionTimes } from '../support/promotion-watch.js';
import { until } from '../support/until.js';

async function http(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text() };
}

/** One write through HAProxy on a fresh connection: the port of the server that took it. */
async function writeThrough(port: number, user: string, label: string): Promise<number> {
  const c = new pg.Client({ host: '127.0.0.1', port, user, database: 'postgres', connectionTimeoutMillis: 1500, query_timeout: 3000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const r = await c.query<{ port: number }>('INSERT INTO through_haproxy (label) VALUES ($1) RETURNING inet_server_port() AS port', [label]);
    return r.rows[0]!.port;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Figures, not checks (bench/test-figures prints them): from the new primary opening writes to its /primary and to HAProxy. */
function recordPromotion(what: string, t: PromotionTimes): void {
  recordFigure(`haproxy ${what}: new primary out of recovery -> it opens writes`, t.promotedAt - t.outOfRecoveryAt, 'ms');
  recordFigure(`haproxy ${what}: new primary opens writes -> its keeper's /primary answers 200`, t.endpointAt - t.promotedAt, 'ms');
  recordFigure(`haproxy ${what}: new primary opens writes -> first write through HAProxy lands on it`, t.routedAt - t.promotedAt, 'ms');
}

describe('HAProxy routes to the primary by the keepers\' /primary endpoint', () => {
  let c: TestCluster;
  let haproxy: Haproxy | undefined;
  let hookDir: string;
  const httpPort: Record<string, number> = {};
  let writePort = 0;
  let readPort = 0;

  beforeAll(async () => {
    c = await TestCluster.create();
    await c.startMonitor(FAST_MONITOR_SETTINGS);
    hookDir = join(c.base, 'hooks');
    mkdirSync(hookDir);
    const runAs = postgresRunAs();
    if (runAs) chownSync(hookDir, runAs.uid, runAs.gid);
  }, 150_000);
  afterAll(async () => {
    await haproxy?.stop();
    await c?.destroy();
  });

  it('serves the endpoints once http.port is set, and HAProxy sends writes to the primary', async () => {
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2');
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
    const record = `cat > ${hookDir}/$PGAF_HOOK-$PGAF_NODE_NAME-$PGAF_NEW_STATE.json && env > ${hookDir}/env-$PGAF_HOOK-$PGAF_NODE_NAME`;
    for (const n of ['node1', 'node2']) {
      httpPort[n] = await freePort();
      for (const [k, v] of [['http.port', String(httpPort[n])], ['hooks.on_primary', record], ['hooks.on_demote', record], ['hooks.on_role_change', record]]) {
        const r = await c.cli(n, ['config', 'set', k!, v!], 15_000);
        expect(r.code, r.stderr).toBe(0);
      }
    }
    // the running keepers were signalled: no restart needed
    await until('node1 /primary = 200', () => http(httpPort.node1!, '/primary'), (r) => r.status === 200, 20_000);
    await until('node2 /replica = 200', () => http(httpPort.node2!, '/replica'), (r) => r.status === 200, 20_000);
    expect((await http(httpPort.node2!, '/primary')).status).toBe(503);
    expect((await http(httpPort.node1!, '/replica')).status).toBe(503);
    const lagged = await http(httpPort.node2!, '/replica?lag=16MB');
    expect(lagged.status, lagged.body).toBe(200);
    expect((await http(httpPort.node2!, '/sync')).status).toBe(200);
    expect((await http(httpPort.node1!, '/sync')).status).toBe(503);
    expect((await http(httpPort.node1!, '/read-only')).status).toBe(200);
    expect((await http(httpPort.node2!, '/read-only', 'HEAD')).status).toBe(200);
    expect((await http(httpPort.node2!, '/primary', 'HEAD')).status).toBe(503);
    expect((await http(httpPort.node2!, '/health')).status).toBe(200);
    expect((await http(httpPort.node2!, '/liveness')).status).toBe(200);
    expect((await http(httpPort.node1!, '/health', 'HEAD')).status).toBe(200);
    expect((await http(httpPort.node1!, '/liveness', 'OPTIONS')).status).toBe(200);
    expect((await http(httpPort.node1!, '/primary', 'POST')).status).toBe(405);
    expect((await http(httpPort.node1!, '/leader')).status).toBe(404);
    const status = JSON.parse((await http(httpPort.node2!, '/status')).body);
    expect(status).toMatchObject({ name: 'node2', state: 'secondary', goal: 'secondary', role: 'replica', postgres: { streaming: true, in_recovery: true } });
    expect(typeof status.replication_lag_bytes).toBe('number');
    expect(status.monitor.reachable).toBe(true);

    await c.nodeQuery('node1', 'CREATE TABLE through_haproxy (id bigserial PRIMARY KEY, label text, at timestamptz DEFAULT clock_timestamp())');
    writePort = await freePort();
    readPort = await freePort();
    haproxy = Haproxy.start(c.base, haproxyConfigFor(writePort, readPort, ['node1', 'node2'].map((n) => ({ name: n, pgPort: c.member(n).port, httpPort: httpPort[n]! }))));
    const took = await until('a write through HAProxy', () => writeThrough(writePort, c.superuser, 'first'), (p) => p > 0, 20_000);
    expect(took).toBe(c.member('node1').port);
  }, 360_000);

  it('follows a switchover: writes go to the new primary, hooks fire on both nodes, metrics count it', async () => {
    const watch = new PromotionWatch({
      user: c.superuser, pgPort: c.member('node2').port, httpPort: httpPort.node2!, proxyPort: writePort,
      writeThrough: (p) => writeThrough(p, c.superuser, 'during switchover'),
    });
    try {
      const r = await c.cli('node1', ['perform', 'switchover', '--formation', 'default', '--group', '0'], 30_000);
      expect(r.code, r.stderr).toBe(0);
      await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 60_000);
      recordPromotion('switchover', await watch.times(20_000));
    } finally {
      watch.stop();
    }
    const took = await until('a write through HAProxy to node2', () => writeThrough(writePort, c.superuser, 'after switchover'), (p) => p === c.member('node2').port, 20_000);
    expect(took).toBe(c.member('node2').port);
    // hooks: node2 became primary (on_primary, with JSON on stdin), node1 stopped being one
    const files = await until('hook files', async () => readdirSync(hookDir), (f) => f.includes('on_primary-node2-wait_primary.json') && f.includes('on_demote-node1-draining.json'), 20_000);
    expect(files).toContain('on_role_change-node2-wait_primary.json');
    const ev = JSON.parse(readFileSync(join(hookDir, 'on_primary-node2-wait_primary.json'), 'utf8'));
    expect(ev).toMatchObject({ hook: 'on_primary', formation: 'default', node: 'node2', old_state: 'stop_replication', new_state: 'wait_primary', new_role: 'primary' });
    const env = readFileSync(join(hookDir, 'env-on_primary-node2'), 'utf8');
    expect(env).toContain('PGAF_OLD_STATE=stop_replication');
    expect(env).toContain('PGAF_NODE_NAME=node2');
    // only the allow-listed environment: nothing the keeper was started with (PGDATA, PG_AUTOCTL_DEBUG, ...)
    expect(env).not.toMatch(/^PG_AUTOCTL_DEBUG=|^PGDATA=|^XDG_CONFIG_HOME=|^PGPASSWORD=/m);
    expect(c.logTail('node2', 400)).toMatch(/Hook on_primary \(cat\) for stop_replication -> wait_primary succeeded in \d+ ms\./);

    const metrics = (await http(httpPort.node2!, '/metrics')).body;
    expect(metrics).toMatch(/^pgaf_node_info\{formation="default",group="0",node="node2",node_id="2",state="primary",goal="primary"\} 1$/m);
    expect(metrics).toMatch(/^pgaf_promotions_total 1$/m);
    expect(metrics).toMatch(/^pgaf_transitions_total\{from="stop_replication",to="wait_primary",result="ok"\} 1$/m);
    expect(metrics).toMatch(/^pgaf_monitor_last_contact_age_seconds\{[^}]*\} \d/m);
    expect(metrics).toMatch(/^pgaf_hook_runs_total\{hook="on_primary",result="ok"\} 1$/m);
    expect((await http(httpPort.node1!, '/metrics')).body).toMatch(/^pgaf_demotions_total 1$/m);
  }, 180_000);

  it('holds a promotion back while the fencing hook fails, then routes to the new primary once it is promoted', async () => {
    const allow = join(hookDir, 'allow-promote');
    const r = await c.cli('node1', ['config', 'set', 'hooks.pre_promote', `test -f ${allow}`], 15_000);
    expect(r.code, r.stderr).toBe(0);
    await c.killHost('node2');
    await until('node1 cancelling its promotion', async () => c.logTail('node1', 200), (t) => /Transition from stop_replication to wait_primary cancelled: the fencing hook pre_promote failed/.test(t), 60_000);
    const st = await c.stateOf('node1');
    expect(st?.reportedstate).toBe('stop_replication');
    expect((await http(httpPort.node1!, '/primary')).status).toBe(503);
    expect(c.logTail('node1', 200)).toMatch(/Hook pre_promote \(test\) for stop_replication -> wait_primary failed with exit code 1 in \d+ ms: the promotion is cancelled\./);

    const watch = new PromotionWatch({
      user: c.superuser, pgPort: c.member('node1').port, httpPort: httpPort.node1!, proxyPort: writePort,
      writeThrough: (p) => writeThrough(p, c.superuser, 'during failover'),
    });
    try {
      writeFileSync(allow, '');
      await c.waitFor('node1 promoted', (s) => s.some((n) => n.nodename === 'node1' && n.reportedstate === 'wait_primary'), 30_000);
      recordPromotion('failover', await watch.times(20_000));
    } finally {
      watch.stop();
    }
    const took = await until('a write through HAProxy to node1', () => writeThrough(writePort, c.superuser, 'after failover'), (p) => p === c.member('node1').port, 20_000);
    expect(took).toBe(c.member('node1').port);
    // the hooks fired on the failover too: node1's on_primary got the promotion on stdin
    await until('on_primary of node1', async () => readdirSync(hookDir), (f) => f.includes('on_primary-node1-wait_primary.json'), 20_000);
    expect(JSON.parse(readFileSync(join(hookDir, 'on_primary-node1-wait_primary.json'), 'utf8'))).toMatchObject({ hook: 'on_primary', node: 'node1', old_state: 'stop_replication', new_state: 'wait_primary', new_role: 'primary' });
    const metrics = (await http(httpPort.node1!, '/metrics')).body;
    expect(metrics).toMatch(/^pgaf_promotions_cancelled_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^pgaf_promotions_total 1$/m);
  }, 200_000);
});
