// Webhooks over node:http / node:https (lib/webhook-post.ts) against servers on 127.0.0.1:
// the POST itself, the outcomes a hook reports, and https:// with a CA that only the moved
// NODE_EXTRA_CA_CERTS (PGAF_NODE_EXTRA_CA_CERTS, the launcher's doing) provides.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runHook, type HookEvent } from '../../lib/hooks.js';
import type { Logger } from '../../lib/log.js';
import { postWebhook } from '../../lib/webhook-post.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
const ev: HookEvent = { hook: 'on_primary', formation: 'default', group: 0, nodeId: 2, name: 'node2', oldState: 'stop_replication', newState: 'wait_primary' };

interface Seen {
  method?: string;
  headers?: IncomingMessage['headers'];
  body?: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A server on 127.0.0.1 answering with `handle`; its URL and what it received. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void, make: (h: (req: IncomingMessage, res: ServerResponse) => void) => Server = createServer, scheme = 'http') {
  const seen: Seen = {};
  const server = make((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      Object.assign(seen, { method: req.method, headers: req.headers, body });
      handle(req, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}/hook?k=1`, seen };
}

describe('a webhook POST', () => {
  it('sends the event as JSON and reports success on 2xx', async () => {
    const { url, seen } = await serve((_q, res) => res.writeHead(204).end());
    const o = await runHook(url, ev, { timeoutSec: 5, log: quiet });
    expect(o.ok).toBe(true);
    expect(o.sentence).toMatch(/succeeded with HTTP 204 in \d+ ms\.$/);
    expect(seen.method).toBe('POST');
    expect(seen.headers?.['content-type']).toBe('application/json');
    expect(seen.headers?.['user-agent']).toBe('pgaf-hook');
    expect(JSON.parse(seen.body!)).toMatchObject({ hook: 'on_primary', node: 'node2', new_state: 'wait_primary' });
  });

  it('reports a failure on 5xx, and on a redirect (not followed)', async () => {
    const bad = await serve((_q, res) => res.writeHead(500).end('no'));
    expect((await runHook(bad.url, ev, { timeoutSec: 5, log: quiet })).sentence).toMatch(/failed with HTTP 500/);
    const moved = await serve((_q, res) => res.writeHead(302, { location: bad.url }).end());
    const o = await runHook(moved.url, ev, { timeoutSec: 5, log: quiet });
    expect(o.ok).toBe(false);
    expect(o.sentence).toMatch(/failed with HTTP 302/);
  });

  it('sends credentials in the URL as Basic authentication, and names the hook without them', async () => {
    const { url, seen } = await serve((_q, res) => res.writeHead(200).end());
    const o = await runHook(url.replace('http://', 'http://bot:tok3n@'), ev, { timeoutSec: 5, log: quiet });
    expect(o.ok).toBe(true);
    expect(seen.headers?.authorization).toBe(`Basic ${Buffer.from('bot:tok3n').toString('base64')}`);
    expect(o.sentence).not.toContain('tok3n');
  });

  it('times out on a server that never answers, and fails on a refused connection', async () => {
    const { url } = await serve(() => undefined);
    const t0 = Date.now();
    const o = await runHook(url, ev, { timeoutSec: 0.3, log: quiet });
    expect(o.sentence).toMatch(/timed out after 0.3 s/);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const gone = await serve(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    expect((await runHook(gone.url, ev, { timeoutSec: 5, log: quiet })).sentence).toMatch(/failed in \d+ ms: .*ECONNREFUSED/);
  });
});

describe('an https:// webhook', () => {
  let dir = '';
  let key = '';
  let cert = '';
  let ca = '';
  const saved = process.env.PGAF_NODE_EXTRA_CA_CERTS;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgaf-webhook-ca-'));
    const openssl = (args: string[]) => {
      const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
    };
    openssl(['req', '-new', '-x509', '-days', '2', '-nodes', '-subj', '/CN=pgaf-webhook-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt']);
    openssl(['req', '-new', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr']);
    writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.cnf', '-out', 'server.crt']);
    key = readFileSync(join(dir, 'server.key'), 'utf8');
    cert = readFileSync(join(dir, 'server.crt'), 'utf8');
    ca = join(dir, 'ca.crt');
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.PGAF_NODE_EXTRA_CA_CERTS;
    else process.env.PGAF_NODE_EXTRA_CA_CERTS = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('trusts a CA given only by the moved NODE_EXTRA_CA_CERTS, and refuses the server without it', async () => {
    const { url } = await serve((_q, res) => res.writeHead(200).end(), (h) => createHttpsServer({ key, cert }, h), 'https');
    delete process.env.PGAF_NODE_EXTRA_CA_CERTS;
    await expect(postWebhook(url, '{}', {}, 5_000)).rejects.toThrow(/certificate/);
    process.env.PGAF_NODE_EXTRA_CA_CERTS = ca;
    expect(await postWebhook(url, '{}', {}, 5_000)).toBe(200);
  });
});
