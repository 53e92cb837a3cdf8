// A webhook's POST over node:http or node:https. Not fetch(): it loads undici and its
// WebAssembly HTTP parser, which stay resident for the life of the keeper or monitor service
// (12 MB against 3 MB for node:http in a bare Node: docs/benchmarks.md).
import { createRequire } from 'node:module';
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { movedSystemCa } from './system-ca.js';

type RequestFn = (url: URL, opts: RequestOptions, cb: (res: IncomingMessage) => void) => ClientRequest;

/**
 * POSTs `body` to `url` (credentials in the URL go as Basic authentication; redirects are not
 * followed) and resolves with the HTTP status once the answer is read; rejects on a connection
 * error, and with an error named TimeoutError after `timeoutMs` in all.
 */
export function postWebhook(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<number> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  if (!secure && u.protocol !== 'http:') return Promise.reject(new Error(`not an http(s) URL: ${u.protocol}`));
  // loaded on the first webhook only: a keeper without webhooks never loads them
  const request = createRequire(import.meta.url)(secure ? 'node:https' : 'node:http').request as RequestFn;
  const ca = secure ? movedSystemCa() : undefined;
  return new Promise<number>((resolve, reject) => {
    let res: IncomingMessage | undefined;
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    const req = request(u, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, ...(ca ? { ca } : {}) }, (r) => {
      res = r;
      r.on('error', fail);
      r.on('end', () => {
        clearTimeout(timer);
        resolve(r.statusCode ?? 0);
      });
      r.resume();
    });
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`timed out after ${timeoutMs} ms`), { name: 'TimeoutError' });
      res?.destroy(err);
      req.destroy(err);
    }, timeoutMs);
    req.on('error', fail);
    req.end(body);
  });
}
