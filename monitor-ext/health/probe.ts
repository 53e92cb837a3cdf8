// One health probe: TCP connect, send a GSSENCRequest, read the one-byte answer, hang up
// with a FIN. Measured on PostgreSQL 15 (every way to hang up early: docs/health-probe.md):
// - The answer ('G', or 'N' on builds without GSSAPI) comes from the backend the postmaster
//   forked for us; a hung postmaster whose kernel still accepts TCP gives 'timeout'.
// - The backend then waits for a GSSAPI token (after 'N', a startup packet); EOF there ends it
//   without a line down to log_min_messages = debug1, whatever ssl, the certificates,
//   ssl_min_protocol_version or pg_hba.conf say (read_or_wait in be-secure-gssapi.c,
//   ProcessStartupPacket in postmaster.c): no HBA rule, no login.
// - Not an SSLRequest: after 'S' every hang-up short of a full handshake plus close_notify logs
//   "could not accept SSL connection". A CancelRequest or any startup packet logs too.
// - We read the answer before closing: a RST would log "Connection reset by peer" after 'N'.
// log_connections = on logs "connection received" for this as for any TCP connection.
import { connect } from 'node:net';

/** GSSENCRequest: length 8, code 80877104 (1234 << 16 | 5680). */
export const GSSENC_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);

/**
 * answered: a Postgres backend answered ('G', 'N', or an ErrorResponse 'E');
 * not-postgres: something answered with another byte; refused: connection error;
 * timeout: no answer in time (nobody forked a backend); closed: hung up without a byte.
 */
export type ProbeResult = 'answered' | 'not-postgres' | 'refused' | 'timeout' | 'closed';

/** The result a first answer byte means. */
export function classifyAnswer(first: number): ProbeResult {
  return first === 0x47 /* G */ || first === 0x4e /* N */ || first === 0x45 /* E */ ? 'answered' : 'not-postgres';
}

export function probeOnce(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const sock = connect({ host, port });
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    function finish(r: ProbeResult): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (r === 'answered' || r === 'not-postgres') {
        // Our FIN; the socket goes once the server closes its side too (or after timeoutMs).
        sock.end();
        sock.resume();
        const linger = setTimeout(() => sock.destroy(), timeoutMs);
        linger.unref();
        sock.once('close', () => clearTimeout(linger));
      } else {
        sock.destroy();
      }
      resolve(r);
    }
    sock.once('connect', () => sock.write(GSSENC_REQUEST));
    sock.once('data', (d: Buffer) => finish(classifyAnswer(d[0]!)));
    sock.on('error', () => finish('refused'));
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
