// Webhooks and the keeper endpoints over HTTPS, on a secure cluster (the defaults: SCRAM,
// self-signed TLS): the keepers' hooks and the monitor's on_failover POST to a small HTTP
// server the test runs on 127.0.0.1 across a switchover; a webhook that answers 500 and one
// whose port refuses connections are logged and do not block the switchover; GET /primary and
// /replica answer over HTTPS with each node's own certificate.
import { createHash, X509Certificate } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_MONITOR_SETTINGS, TestCluster } from '../support/cluster.js';
import { freePort } from '../support/postgres.js';
import { until } from '../support/until.js';

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** GET over HTTPS trusting only `certPem`; returns the status and the certificate the server showed. */
function getTls(port: number, path: string, certPem: string): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      // the self-signed certificate names the node's hostname; the test dials 127.0.0.1
      { host: '127.0.0.1', port, path, method: 'GET', ca: certPem, checkServerIdentity: () => undefined, timeout: 3000 },
      (res) => {
        const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}


describe('webhooks and HTTPS endpoints on a secure cluster', () => {
  let c: TestCluster;
  let server: Server | undefined;
  let hookPort = 0;
  let refusedPort = 0;
  const received: Received[] = [];
  const httpPorts: Record<string, number> = {};
  const certs: Record<string, string> = {};

  beforeAll(async () => {
    c = await TestCluster.create({ secure: true, passwordInEnv: ['node2'] });
    await c.startMonitor(FAST_MONITOR_SETTINGS);
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
        res.statusCode = req.url?.startsWith('/fail') ? 500 : 200;
        res.end(req.url?.startsWith('/fail') ? 'no' : 'ok');
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    hookPort = (server.address() as { port: number }).port;
    refusedPort = await freePort();
  }, 150_000);
  afterAll(async () => {
    if (server) await new Promise((r) => server!.close(r));
    await c?.destroy();
  });

  it('serves /primary and /replica over HTTPS with each node\'s certificate', async () => {
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2');
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);
    for (const n of ['node1', 'node2']) {
      const cert = await c.cli(n, ['config', 'get', 'ssl.cert_file'], 15_000);
      expect(cert.code, cert.stderr).toBe(0);
      certs[n] = readFileSync(cert.stdout.trim(), 'utf8');
      httpPorts[n] = await freePort();
      for (const [k, v] of [['http.port', String(httpPorts[n])], ['http.tls', 'true']]) {
        const r = await c.cli(n, ['config', 'set', k!, v!], 15_000);
        expect(r.code, r.stderr).toBe(0);
      }
    }
    const fp = (n: string) => new X509Certificate(certs[n]!).fingerprint256;
    const p1 = await until('node1 /primary over HTTPS', () => getTls(httpPorts.node1!, '/primary', certs.node1!), (r) => r.status === 200, 20_000);
    expect(p1.fingerprint).toBe(fp('node1'));
    const r2 = await until('node2 /replica over HTTPS', () => getTls(httpPorts.node2!, '/replica', certs.node2!), (r) => r.status === 200, 20_000);
    expect(r2.fingerprint).toBe(fp('node2'));
    expect((await getTls(httpPorts.node1!, '/replica', certs.node1!)).status).toBe(503);
    expect((await getTls(httpPorts.node2!, '/primary', certs.node2!)).status).toBe(503);
    // the other node's certificate does not verify this one: the client really checks it
    await expect(getTls(httpPorts.node1!, '/primary', certs.node2!)).rejects.toThrow();
    // no plain HTTP on the TLS port
    await expect(fetch(`http://127.0.0.1:${httpPorts.node1}/primary`, { signal: AbortSignal.timeout(3000) }).then((r) => r.status)).rejects.toThrow();
    expect(createHash('sha256').update(certs.node1!).digest('hex')).not.toBe(createHash('sha256').update(certs.node2!).digest('hex'));
  }, 330_000);

  it('posts the hooks across a switchover; a failing webhook does not block it', async () => {
    const base = `http://127.0.0.1:${hookPort}`;
    const settings: [string, string, string][] = [
      ['node1', 'hooks.on_demote', `${base}/fail/on_demote`],
      ['node1', 'hooks.on_role_change', `http://127.0.0.1:${refusedPort}/refused`],
      ['node2', 'hooks.on_primary', `${base}/ok/on_primary`],
      ['node2', 'hooks.timeout', '5'],
      ['monitor', 'hooks.on_failover', `${base}/ok/on_failover`],
    ];
    for (const [n, k, v] of settings) {
      const r = await c.cli(n, ['config', 'set', k, v], 15_000);
      expect(r.code, r.stderr).toBe(0);
    }
    const r = await c.cli('node2', ['perform', 'switchover'], 60_000);
    expect(r.code, r.stderr).toBe(0);
    await c.waitForStates({ node1: 'secondary', node2: 'primary' }, 90_000);

    const primary = await until('the on_primary webhook', () => received.filter((x) => x.path === '/ok/on_primary'), (l) => l.length > 0, 20_000);
    expect(primary[0]!.method).toBe('POST');
    expect(primary[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(primary[0]!.body)).toMatchObject({
      hook: 'on_primary', formation: 'default', group: 0, node: 'node2', node_id: 2,
      old_state: 'stop_replication', new_state: 'wait_primary', old_role: 'replica', new_role: 'primary',
    });
    const demote = await until('the on_demote webhook', () => received.filter((x) => x.path === '/fail/on_demote'), (l) => l.length > 0, 20_000);
    expect(demote[0]!.method).toBe('POST');
    expect(JSON.parse(demote[0]!.body)).toMatchObject({ hook: 'on_demote', formation: 'default', node: 'node1', old_role: 'primary' });
    const failover = await until('the on_failover webhook', () => received.filter((x) => x.path === '/ok/on_failover'), (l) => l.length > 0, 30_000);
    expect(failover[0]!.method).toBe('POST');
    expect(JSON.parse(failover[0]!.body)).toMatchObject({ hook: 'on_failover', formation: 'default', node: 'node2', kind: 'switchover', old_primary: 'node1' });

    // no secret in what the hooks sent (node2 has the monitor password in its environment)
    const secrets = [c.monitorPassword!];
    const replication = await c.cli('node2', ['config', 'get', 'replication.password'], 15_000);
    if (replication.code === 0 && replication.stdout.trim().length >= 8) secrets.push(replication.stdout.trim());
    expect(secrets[0]!.length).toBeGreaterThanOrEqual(20);
    for (const x of received) {
      const text = `${JSON.stringify(x.headers)} ${x.path} ${x.body}`;
      for (const s of secrets) expect(text).not.toContain(s);
      expect(x.headers.authorization).toBeUndefined();
    }

    // every outcome is logged, the failures as failures
    await until('the hook outcomes in the logs', () => c.logTail('node1', 2000), (l) => /Hook on_role_change .* failed/.test(l), 20_000);
    expect(c.logTail('node2', 2000)).toMatch(/Hook on_primary \(http:\/\/127\.0\.0\.1:\d+\/ok\/on_primary\) for stop_replication -> wait_primary succeeded with HTTP 200 in \d+ ms\./);
    const log1 = c.logTail('node1', 2000);
    expect(log1).toMatch(/Hook on_demote \(http:\/\/127\.0\.0\.1:\d+\/fail\/on_demote\) for primary -> \w+ failed with HTTP 500 in \d+ ms\./);
    expect(log1).toMatch(new RegExp(`Hook on_role_change \\(http://127\\.0\\.0\\.1:${refusedPort}/refused\\) for \\w+ -> \\w+ failed in \\d+ ms: `));
    expect(c.logTail('monitor', 2000)).toMatch(/Hook on_failover \(http:\/\/127\.0\.0\.1:\d+\/ok\/on_failover\) for \w+ -> \w+ succeeded with HTTP 200 in \d+ ms\./);

    // the endpoints follow over HTTPS
    expect((await until('node2 /primary over HTTPS', () => getTls(httpPorts.node2!, '/primary', certs.node2!), (x) => x.status === 200, 20_000)).status).toBe(200);
    expect((await until('node1 /replica over HTTPS', () => getTls(httpPorts.node1!, '/replica', certs.node1!), (x) => x.status === 200, 20_000)).status).toBe(200);
  }, 400_000);
});
