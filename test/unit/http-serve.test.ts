// The endpoints' server: 127.0.0.1 when only a port is given, HTTPS with the node's
// certificate when http.tls is on, a clear error without one.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startHttp } from '../../lib/http-serve.js';
import type { Logger } from '../../lib/log.js';
import { NO_SSL } from '../../lib/ssl.js';
import { freePort } from '../support/postgres.js';

const quiet: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, trace: () => undefined, child: () => quiet };
const reply = () => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok\n' });
const dir = mkdtempSync(join(tmpdir(), 'pgaf-http-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('startHttp', () => {
  it('binds 127.0.0.1 by default', async () => {
    const port = await freePort();
    const s = await startHttp({ port, listen: '127.0.0.1', tls: false }, NO_SSL, reply, quiet, 'test');
    try {
      expect(s.address).toBe(`127.0.0.1:${port}`);
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok\n');
    } finally {
      await s.close();
    }
  });

  it('serves HTTPS with the node certificate, and refuses tls without one', async () => {
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const port = await freePort();
    const s = await startHttp({ port, listen: '127.0.0.1', tls: true }, { ...NO_SSL, active: true, certFile: cert, keyFile: key }, reply, quiet, 'test');
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', ca: readFileSync(cert) }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve(b));
        });
        req.on('error', reject);
        req.end();
      });
      expect(body).toBe('ok\n');
    } finally {
      await s.close();
    }
    await expect(startHttp({ port, listen: '127.0.0.1', tls: true }, NO_SSL, reply, quiet, 'test')).rejects.toThrow(/http.tls is on but the node has no certificate/);
  });
});
