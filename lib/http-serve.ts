// The small read-only HTTP(S) server of the keeper (endpoints, /metrics) and of the
// monitor's worker (status page): node:http, bound where the node's [http] section says,
// HTTPS with the node's certificate and key when http.tls is on. The answers are the
// caller's (pure functions); this file only moves bytes. node:http and node:https are loaded
// when a server starts: a service without [http] never has them in memory.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { BadConfig } from './errors.js';
import type { Logger } from './log.js';
import type { SslConfig } from './ssl.js';

/** A node's [http] section (config/integrations-config.ts reads and writes it). */
export interface HttpConfig {
  /** undefined: no HTTP server */
  port?: number;
  /** the address to bind (default 127.0.0.1; 0.0.0.0 or :: only when written here) */
  listen: string;
  /** serve HTTPS with the node's [ssl] certificate and key */
  tls: boolean;
}

export interface HttpReplyLike {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Returns the reply, or undefined when it wrote the response itself (server-sent events). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => HttpReplyLike | undefined;

export interface RunningHttp {
  /** host:port it listens on */
  readonly address: string;
  close(): Promise<void>;
}

/** The listen/port/tls triple as one string, to tell whether a reload changes anything. */
export function httpSignature(h: HttpConfig | undefined, ssl: SslConfig): string {
  if (!h?.port) return '';
  return `${h.listen}:${h.port}:${h.tls ? `tls:${ssl.certFile}:${ssl.keyFile}` : 'plain'}`;
}

export async function startHttp(h: HttpConfig, ssl: SslConfig, handler: HttpHandler, log: Logger, what: string): Promise<RunningHttp> {
  if (!h.port) throw new BadConfig(`${what}: http.port is not set`);
  let server: Server;
  if (h.tls) {
    if (!ssl.certFile || !ssl.keyFile) {
      throw new BadConfig(`${what}: http.tls is on but the node has no certificate (ssl.cert_file and ssl.key_file); enable SSL first or set http.tls to false`);
    }
    const https = createRequire(import.meta.url)('node:https') as typeof import('node:https');
    server = https.createServer({ cert: readFileSync(ssl.certFile), key: readFileSync(ssl.keyFile) }, (req, res) => serve(handler, req, res, log));
  } else {
    const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
    server = http.createServer((req, res) => serve(handler, req, res, log));
  }
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(h.port, h.listen, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error(`${what}: HTTP server error: ${err.message}`));
  const address = `${h.listen.includes(':') ? `[${h.listen}]` : h.listen}:${h.port}`;
  log.info(`${what} listens on ${h.tls ? 'https' : 'http'}://${address}`);
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function serve(handler: HttpHandler, req: IncomingMessage, res: ServerResponse, log: Logger): void {
  let reply: HttpReplyLike | undefined;
  try {
    reply = handler(req, res);
  } catch (err) {
    log.error(`HTTP ${req.method} ${req.url}: ${(err as Error).message}`);
    reply = { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'internal error\n' };
  }
  // a request body is never read: drain it
  req.resume();
  if (!reply) return;
  const body = Buffer.from(reply.body, 'utf8');
  const headers = { ...reply.headers, 'x-content-type-options': 'nosniff' } as Record<string, string | number>;
  headers['content-length'] = req.method === 'HEAD' && reply.body === '' ? headers['content-length'] ?? 0 : body.length;
  res.writeHead(reply.status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
