// The partition proxy of the e2e tests, against a tiny echo server on 127.0.0.1.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pgConnectionKind, TcpProxy } from '../support/proxy.js';
import { freePort } from '../support/postgres.js';
import { recordFigure } from '../support/figures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let echo: Server;
let echoPort: number;
const echoSockets = new Set<Socket>();

beforeAll(async () => {
  echo = createServer((s) => {
    echoSockets.add(s);
    s.on('close', () => echoSockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of echoSockets) s.destroy();
  await new Promise((r) => echo.close(r));
});

const proxies: TcpProxy[] = [];
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const p of proxies.splice(0)) await p.close();
});

async function proxy(opts: Partial<ConstructorParameters<typeof TcpProxy>[0]> = {}): Promise<TcpProxy> {
  const p = await TcpProxy.start({ listenHost: '127.0.0.2', listenPort: await freePort(), targetPort: echoPort, ...opts });
  proxies.push(p);
  return p;
}

/** A client socket that records what it received and whether it was closed. */
interface Peer {
  sock: Socket;
  received: () => string;
  closed: () => boolean;
  connected: Promise<void>;
}

function client(p: TcpProxy): Peer {
  const sock = connect({ host: p.listenHost, port: p.listenPort });
  clients.push(sock);
  let data = '';
  let closed = false;
  sock.on('data', (d) => (data += d.toString()));
  sock.on('error', () => undefined);
  sock.on('close', () => (closed = true));
  const connected = new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  return { sock, received: () => data, closed: () => closed, connected };
}

async function until(what: string, pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('TcpProxy', () => {
  it('pass: forwards both ways', async () => {
    const p = await proxy();
    const c = client(p);
    await c.connected;
    c.sock.write('hello');
    await until('echo', () => c.received() === 'hello');
    c.sock.write(' world');
    await until('echo', () => c.received() === 'hello world');
    expect(p.openConnections).toBe(1);
    expect(p.accepted).toBe(1);
  });

  it('pass: closing the client closes the upstream connection', async () => {
    const p = await proxy();
    const c = client(p);
    await c.connected;
    c.sock.write('x');
    await until('echo', () => c.received() === 'x');
    c.sock.end();
    await until('proxy connection gone', () => p.openConnections === 0);
  });

  it('delay: adds the delay per chunk each way and keeps the order; pass releases what it held', async () => {
    const p = await proxy();
    p.setMode('delay', { delayMs: 150 });
    const c = client(p);
    await c.connected;
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      c.sock.write(String(i));
      await sleep(5);
    }
    await until('echo', () => c.received() === '01234', 15_000);
    const took = Date.now() - t0;
    // a lower bound (a slow machine cannot make it pass): the delay applies both ways
    expect(took).toBeGreaterThanOrEqual(290);
    recordFigure('proxy: 5 chunks 5 ms apart echoed through a 150 ms delay each way', took, 'ms');
    // a chunk held by a long delay goes out when the mode is pass again, long before its delay
    p.setMode('delay', { delayMs: 120_000 });
    c.sock.write('5');
    await sleep(300);
    expect(c.received()).toBe('01234');
    p.setMode('pass');
    const t1 = Date.now();
    await until('the held chunk, released by pass', () => c.received() === '012345', 15_000);
    recordFigure('proxy: a held chunk echoed after the mode is back to pass', Date.now() - t1, 'ms');
  });

  it('delay needs a delay', async () => {
    const p = await proxy();
    expect(() => p.setMode('delay')).toThrow(/delayMs/);
  });

  it('blackhole: a new connection is accepted and never answered', async () => {
    const p = await proxy();
    p.setMode('blackhole');
    const c = client(p);
    await c.connected;
    c.sock.write('ping');
    await sleep(400);
    expect(c.received()).toBe('');
    expect(c.closed()).toBe(false);
    expect(echoSockets.size).toBe(0);
  });

  it('blackhole: an open connection stops forwarding both ways and stays open; heal resumes it in order', async () => {
    const p = await proxy();
    const c = client(p);
    await c.connected;
    c.sock.write('a');
    await until('echo', () => c.received() === 'a');
    p.setMode('blackhole');
    c.sock.write('b');
    c.sock.write('c');
    await sleep(400);
    expect(c.received()).toBe('a');
    expect(c.closed()).toBe(false);
    // the server side is silent too: what it sends now is not delivered
    const [srv] = [...echoSockets];
    srv!.write('S');
    await sleep(200);
    expect(c.received()).toBe('a');
    p.setMode('pass');
    await until('held data', () => c.received().length === 4);
    expect(c.received().split('').sort().join('')).toBe('Sabc');
    expect(c.received().indexOf('b')).toBeLessThan(c.received().indexOf('c'));
  });

  it('blackhole: the connection of a client that gave up while black-holed is closed once healed', async () => {
    const p = await proxy();
    p.setMode('blackhole');
    const c = client(p);
    await c.connected;
    c.sock.destroy();
    await sleep(100);
    p.setMode('pass');
    await until('proxy connection gone', () => p.openConnections === 0);
  });

  it('drop: closes open connections at once, and new ones as they come', async () => {
    const p = await proxy();
    const c = client(p);
    await c.connected;
    c.sock.write('a');
    await until('echo', () => c.received() === 'a');
    p.setMode('drop');
    await until('closed', () => c.closed(), 1000);
    await until('echo side closed', () => echoSockets.size === 0, 1000);
    const d = client(p);
    await until('new connection closed', () => d.closed(), 1000);
    expect(d.received()).toBe('');
    p.setMode('pass');
    const e = client(p);
    await e.connected;
    e.sock.write('back');
    await until('echo', () => e.received() === 'back');
  });

  it('a refused upstream closes the client connection', async () => {
    const p = await proxy({ targetPort: await freePort() });
    const c = client(p);
    await c.connected.catch(() => undefined);
    c.sock.write('x');
    await until('closed', () => c.closed());
  });

  it('per-kind modes: only the connections of that kind are black-holed', async () => {
    const p = await proxy({ classify: (h) => (h.length >= 1 ? (h[0] === 0x52 ? 'repl' : 'other') : undefined) });
    const r = client(p);
    const o = client(p);
    await Promise.all([r.connected, o.connected]);
    r.sock.write('R1');
    o.sock.write('O1');
    await until('echoes', () => r.received() === 'R1' && o.received() === 'O1');
    expect(p.connectionKinds().sort()).toEqual(['other', 'repl']);
    p.setMode('blackhole', { kind: 'repl' });
    r.sock.write('R2');
    o.sock.write('O2');
    await until('other still passes', () => o.received() === 'O1O2');
    await sleep(300);
    expect(r.received()).toBe('R1');
    // a new connection of that kind is black-holed as soon as it is recognised
    const r2 = client(p);
    await r2.connected;
    r2.sock.write('Rnew');
    await sleep(300);
    expect(r2.received()).toBe('');
    // a proxy-wide mode replaces the per-kind ones
    p.setMode('pass');
    await until('held data flows', () => r.received() === 'R1R2' && r2.received() === 'Rnew');
    p.setMode('drop', { kind: 'other' });
    await until('other dropped', () => o.closed());
    expect(r.closed()).toBe(false);
  });

  it('close(): closes every connection and the listener', async () => {
    const p = await TcpProxy.start({ listenHost: '127.0.0.2', listenPort: await freePort(), targetPort: echoPort });
    const a = client(p);
    const b = client(p);
    await Promise.all([a.connected, b.connected]);
    p.setMode('blackhole', { kind: 'x' });
    a.sock.write('1');
    await until('echo', () => a.received() === '1');
    await p.close();
    await until('closed', () => a.closed() && b.closed());
    expect(p.openConnections).toBe(0);
    const late = client(p);
    await expect(late.connected).rejects.toThrow(/ECONNREFUSED/);
  });
});

function startupPacket(params: Record<string, string>): Buffer {
  const body = Buffer.from(Object.entries(params).map(([k, v]) => `${k}\0${v}\0`).join('') + '\0');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

function request(code: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(code, 4);
  return b;
}

describe('pgConnectionKind', () => {
  const ssl = request(80877103);

  it('does not know the kind of a lone SSLRequest (the health probe) or of a partial packet', () => {
    expect(pgConnectionKind(Buffer.alloc(0))).toBeUndefined();
    expect(pgConnectionKind(ssl)).toBeUndefined();
    const p = startupPacket({ user: 'pgautofailover_replicator', replication: 'true' });
    expect(pgConnectionKind(Buffer.concat([ssl, p.subarray(0, 12)]))).toBeUndefined();
  });

  it('recognises replication connections, with or without an SSLRequest first', () => {
    const p = startupPacket({ user: 'pgautofailover_replicator', replication: 'true', application_name: 'pgautofailover_standby_2' });
    expect(pgConnectionKind(p)).toBe('replication');
    expect(pgConnectionKind(Buffer.concat([ssl, p]))).toBe('replication');
    expect(pgConnectionKind(startupPacket({ user: 'u', replication: 'database', database: 'd' }))).toBe('replication');
  });

  it('calls other connections client', () => {
    expect(pgConnectionKind(startupPacket({ user: 'postgres', database: 'postgres' }))).toBe('client');
    expect(pgConnectionKind(startupPacket({ user: 'postgres', replication: 'false' }))).toBe('client');
    expect(pgConnectionKind(Buffer.concat([ssl, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])]))).toBe('client');
    expect(pgConnectionKind(request(80877102))).toBe('cancel');
  });
});
