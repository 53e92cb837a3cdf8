// Ways a client can end a connection to Postgres before logging in, for the experiments
// behind monitor-ext/health/probe.ts (docs/health-probe.md): each opens one TCP connection,
// does its step and hangs up, and resolves with the first byte the server answered (or '').
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const GSSENC_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);

function packet(code: number, ...ints: number[]): Buffer {
  const b = Buffer.alloc(8 + 4 * ints.length);
  b.writeInt32BE(b.length, 0);
  b.writeInt32BE(code, 4);
  ints.forEach((v, i) => b.writeInt32BE(v, 8 + 4 * i));
  return b;
}

/** A v3 StartupMessage with the given parameters (user=..., database=...). */
function startupMessage(params: Record<string, string>, version = 196608): Buffer {
  const body = Buffer.from(Object.entries(params).map(([k, v]) => `${k}\0${v}\0`).join('') + '\0');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(version, 4);
  return Buffer.concat([head, body]);
}

function open(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function firstByte(s: Socket, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(''), timeoutMs);
    s.once('data', (d: Buffer) => {
      clearTimeout(t);
      // Put back whatever followed the first byte; callers only look at the first.
      resolve(String.fromCharCode(d[0]!));
    });
    s.once('close', () => {
      clearTimeout(t);
      resolve('');
    });
  });
}

/** Waits until the server closes its side (or 3 s). */
function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve();
    const t = setTimeout(() => {
      s.destroy();
      resolve();
    }, 3000);
    s.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    s.resume();
  });
}

/** FIN: end our side, wait for the server's. */
async function hangUp(s: Socket): Promise<void> {
  s.end();
  await closed(s);
}

/** RST: close with SO_LINGER 0. */
function reset(s: Socket): void {
  s.resetAndDestroy();
}

export interface EarlyClose {
  name: string;
  run(host: string, port: number): Promise<string>;
}

async function tlsAfterSslRequest(host: string, port: number, how: 'mid-handshake' | 'after-handshake-fin' | 'after-handshake-close-notify' | 'after-handshake-rst'): Promise<string> {
  const s = await open(host, port);
  s.write(SSL_REQUEST);
  const answer = await firstByte(s);
  if (answer !== 'S') {
    await hangUp(s);
    return answer;
  }
  if (how === 'mid-handshake') {
    // Node's TLS takes over the socket's reads, so "mid-handshake" is the moment our side
    // derives its first keys (after the ServerHello, before our Finished reaches the server).
    const t = tlsConnect({ socket: s, rejectUnauthorized: false });
    t.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      t.once('keylog', () => resolve());
      t.once('secureConnect', () => resolve());
      t.once('close', () => resolve());
    });
    t.destroy();
    await closed(s);
    return answer;
  }
  const t = tlsConnect({ socket: s, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    t.once('secureConnect', () => resolve());
    t.once('error', reject);
  });
  if (how === 'after-handshake-close-notify') {
    t.end(); // close_notify, then FIN
    await closed(s);
  } else if (how === 'after-handshake-fin') {
    t.destroy(); // FIN without close_notify
    await closed(s);
  } else {
    s.resetAndDestroy();
  }
  return answer;
}

export const EARLY_CLOSES: readonly EarlyClose[] = [
  { name: 'close before sending anything (FIN)', run: async (h, p) => (await hangUp(await open(h, p)), '') },
  { name: 'close before sending anything (RST)', run: async (h, p) => (reset(await open(h, p)), '') },
  {
    name: 'half a length word, then close',
    run: async (h, p) => {
      const s = await open(h, p);
      s.write(Buffer.from([0, 0]));
      await hangUp(s);
      return '';
    },
  },
  {
    name: "SSLRequest, read the answer, close (FIN)",
    run: async (h, p) => {
      const s = await open(h, p);
      s.write(SSL_REQUEST);
      const a = await firstByte(s);
      await hangUp(s);
      return a;
    },
  },
  {
    name: 'SSLRequest, read the answer, close (RST)',
    run: async (h, p) => {
      const s = await open(h, p);
      s.write(SSL_REQUEST);
      const a = await firstByte(s);
      reset(s);
      return a;
    },
  },
  { name: "SSLRequest 'S', ClientHello, close mid-handshake", run: (h, p) => tlsAfterSslRequest(h, p, 'mid-handshake') },
  { name: "SSLRequest 'S', full handshake, close (FIN, no close_notify)", run: (h, p) => tlsAfterSslRequest(h, p, 'after-handshake-fin') },
  { name: "SSLRequest 'S', full handshake, close_notify + FIN", run: (h, p) => tlsAfterSslRequest(h, p, 'after-handshake-close-notify') },
  { name: "SSLRequest 'S', full handshake, close (RST)", run: (h, p) => tlsAfterSslRequest(h, p, 'after-handshake-rst') },
  {
    name: 'GSSENCRequest, read the answer, close (FIN)',
    run: async (h, p) => {
      const s = await open(h, p);
      s.write(GSSENC_REQUEST);
      const a = await firstByte(s);
      await hangUp(s);
      return a;
    },
  },
  {
    name: 'GSSENCRequest, read the answer, close (RST)',
    run: async (h, p) => {
      const s = await open(h, p);
      s.write(GSSENC_REQUEST);
      const a = await firstByte(s);
      reset(s);
      return a;
    },
  },
  {
    name: 'GSSENCRequest, close without reading the answer',
    run: async (h, p) => {
      const s = await open(h, p);
      s.write(GSSENC_REQUEST);
      s.end();
      await closed(s);
      return '';
    },
  },
  {
    name: 'CancelRequest with a bogus pid and key',
    run: async (h, p) => {
      const s = await open(h, p);
      s.write(packet(80877102, 1, 42));
      await closed(s);
      return '';
    },
  },
  {
    name: 'StartupMessage with protocol 9.9',
    run: async (h, p) => {
      const s = await open(h, p);
      s.write(startupMessage({ user: 'nobody' }, (9 << 16) | 9));
      const a = await firstByte(s);
      await hangUp(s);
      return a;
    },
  },
  {
    name: 'StartupMessage without a user',
    run: async (h, p) => {
      const s = await open(h, p);
      s.write(startupMessage({ database: 'postgres' }));
      const a = await firstByte(s);
      await hangUp(s);
      return a;
    },
  },
  {
    name: 'StartupMessage, close before answering the auth request',
    run: async (h, p) => {
      const s = await open(h, p);
      s.write(startupMessage({ user: 'probe_nobody', database: 'postgres' }));
      const a = await firstByte(s);
      await hangUp(s);
      return a;
    },
  },
];

/**
 * Resolves once no child of the postmaster of `pgdata` is still a backend in startup (such a
 * child still shows the postmaster's own command line), so every line those backends log is
 * in the log file. Rejects after `timeoutMs`.
 */
export async function startupBackendsGone(pgdata: string, timeoutMs = 10_000): Promise<void> {
  const pm = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pmCmd = readFileSync(`/proc/${pm}/cmdline`, 'utf8');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const starting = readdirSync('/proc').filter((d) => {
      if (!/^\d+$/.test(d)) return false;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === pm && readFileSync(`/proc/${d}/cmdline`, 'utf8') === pmCmd;
      } catch {
        return false;
      }
    });
    if (starting.length === 0) return;
    if (Date.now() > deadline) throw new Error(`backends ${starting.join(', ')} of postmaster ${pm} still starting after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
