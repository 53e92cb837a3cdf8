// Postgres connection URIs: building the monitor URI and reading one into connection parts.
import { BadArgs } from './errors.js';
import { hostnameProblem, pathProblem, refusal, tokenProblem, WHAT } from './identity.js';

export const MONITOR_USER = 'autoctl_node';

export interface PgTarget {
  /** Host name, IP address, or a Unix socket directory (starts with '/'). */
  host: string;
  port: number;
  user?: string;
  password?: string;
  database: string;
  sslmode: string;
  /** CA certificate file (libpq sslrootcert) for verify-ca / verify-full */
  sslrootcert?: string;
  /** certificate revocation list (libpq sslcrl) */
  sslcrl?: string;
}

/** IPv6 literals go in brackets inside a URI. */
function uriHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The query string of SSL parameters: sslmode, then sslrootcert and sslcrl when set. */
function sslQuery(o: { sslmode?: string; sslrootcert?: string; sslcrl?: string }): string {
  let q = `sslmode=${encodeURIComponent(o.sslmode ?? 'prefer')}`;
  if (o.sslrootcert) q += `&sslrootcert=${encodeURIComponent(o.sslrootcert)}`;
  if (o.sslcrl) q += `&sslcrl=${encodeURIComponent(o.sslcrl)}`;
  return q;
}

/** postgres://autoctl_node@<host>:<port>/pg_auto_failover?sslmode=<sslmode>, as the original prints it. */
export function monitorUri(opts: {
  host: string;
  port: number;
  sslmode?: string;
  sslrootcert?: string;
  sslcrl?: string;
  dbname?: string;
  user?: string;
}): string {
  const user = encodeURIComponent(opts.user ?? MONITOR_USER);
  const db = encodeURIComponent(opts.dbname ?? 'pg_auto_failover');
  return `postgres://${user}@${uriHost(opts.host)}:${opts.port}/${db}?${sslQuery(opts)}`;
}

/**
 * `uri` with its sslmode, sslrootcert and sslcrl replaced (a missing sslrootcert/sslcrl is
 * removed); everything else, user and password included, kept as written.
 */
export function withUriSsl(uri: string, ssl: { sslmode: string; sslrootcert?: string; sslcrl?: string }): string {
  const [base, query = ''] = uri.split(/\?(.*)/s, 2) as [string, string?];
  const kept = query
    .split('&')
    .filter((kv) => kv !== '' && !/^(sslmode|sslrootcert|sslcrl)=/.test(kv));
  return `${base}?${[...kept, sslQuery(ssl)].join('&')}`;
}

/** Whether the URI says its sslmode itself. */
export function uriHasSslmode(uri: string): boolean {
  return /[?&]sslmode=/.test(uri);
}

/** Parses a single-host postgres:// or postgresql:// URI; `what` names the option for errors. */
export function parsePgUri(uri: string, what = '--monitor'): PgTarget {
  if (!/^postgres(ql)?:\/\//.test(uri)) {
    throw new BadArgs(`${what} must be a postgres:// URI, got "${uri}"`);
  }
  const bad = tokenProblem(uri, 4096);
  if (bad) throw new BadArgs(`${what} must be a postgres:// URI, but ${bad}`);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new BadArgs(`${what} is not a valid URI: "${uri}"`);
  }
  const q = url.searchParams;
  const host = q.get('host') ?? decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, '$1');
  const portText = q.get('port') ?? (url.port || '5432');
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BadArgs(`${what} has an invalid port "${portText}"`);
  }
  if (!host) throw new BadArgs(`${what} has no host: "${uri}"`);
  const hostBad = host.startsWith('/') ? pathProblem(host) : hostnameProblem(host);
  if (hostBad) throw new BadArgs(refusal(`the host of ${what}`, host.startsWith('/') ? 'a socket directory' : WHAT.hostname, host, hostBad));
  return {
    host,
    port,
    user: url.username ? decodeURIComponent(url.username) : (q.get('user') ?? undefined),
    password: url.password ? decodeURIComponent(url.password) : (q.get('password') ?? undefined),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || q.get('dbname') || 'postgres',
    sslmode: q.get('sslmode') ?? 'prefer',
    ...(q.get('sslrootcert') ? { sslrootcert: q.get('sslrootcert')! } : {}),
    ...(q.get('sslcrl') ? { sslcrl: q.get('sslcrl')! } : {}),
  };
}
