// One health probe: open a TCP connection and send an SSLRequest. Any answer from the
// server ('S', 'N', or an error message) proves Postgres is up; no password and no trust
// HBA rule are needed, and the server logs nothing when we hang up after its answer.
import { connect } from 'node:net';

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

export type ProbeResult = 'answered' | 'refused' | 'timeout' | 'closed';

export function probeOnce(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const sock = connect({ host, port });
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    sock.once('connect', () => sock.write(SSL_REQUEST));
    sock.once('data', (d: Buffer) => finish(d.length > 0 ? 'answered' : 'closed'));
    sock.once('error', () => finish('refused'));
    sock.once('close', () => finish('closed'));
  });
}

export interface ProbeSettings {
  timeoutMs: number;
  maxRetries: number;
  retryDelayMs: number;
}

/** Up to 1 + maxRetries attempts, retryDelayMs apart; returns every attempt's result. */
export async function probeWithRetries(host: string, port: number, s: ProbeSettings): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  for (let i = 0; i <= s.maxRetries; i++) {
    const r = await probeOnce(host, port, s.timeoutMs);
    results.push(r);
    if (r === 'answered') break;
    if (i < s.maxRetries) await new Promise((res) => setTimeout(res, s.retryDelayMs));
  }
  return results;
}
