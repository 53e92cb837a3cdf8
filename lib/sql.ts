// Every SQL connection goes through here: the only module that imports `pg`.
// Server errors become PgSql (keeping SQLSTATE and detail); connection failures become
// MonitorFailed errors for the monitor and PgSql errors for a local Postgres.
import './pg-runtime.js';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { BadConfig, MonitorFailed, PgSql, type PgafError } from './errors.js';
import type { PgTarget } from './pg-uri.js';
import { nodePgSslOptions } from './ssl.js';
import { movedSystemCa } from './system-ca.js';

export type Query = <R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<R[]>;

export interface ConnectOptions {
  /** Who we are talking to, for error messages: 'monitor' maps connection failures to exit code 6. */
  kind: 'monitor' | 'postgres';
  connectTimeoutMs?: number;
  /** client-side limit for each query (a black-holed server must not hang the caller) */
  queryTimeoutMs?: number;
  applicationName?: string;
  /** server options of the session (libpq options), e.g. '-c search_path=pg_catalog,pg_temp' */
  options?: string;
}

/** libpq's default CA file, used by verify-ca/verify-full when the target names none. */
function defaultRootCert(): string | undefined {
  const path = join(homedir(), '.postgresql', 'root.crt');
  return existsSync(path) ? path : undefined;
}

function readCertFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new BadConfig(`cannot read ${path} (sslrootcert/sslcrl): ${(err as Error).message}`, { cause: err });
  }
}

function sslFor(target: PgTarget, attempt: 'ssl' | 'plain'): pg.ClientConfig['ssl'] {
  if (attempt === 'plain') return false;
  return nodePgSslOptions(target, readCertFile, defaultRootCert(), movedSystemCa);
}

/** libpq's order of attempts per sslmode: prefer tries SSL then plain, allow the reverse. */
function attempts(sslmode: string): Array<'ssl' | 'plain'> {
  switch (sslmode) {
    case 'disable':
      return ['plain'];
    case 'allow':
      return ['plain', 'ssl'];
    case 'prefer':
      return ['ssl', 'plain'];
    default:
      return ['ssl'];
  }
}

function describe(target: PgTarget): string {
  return target.host.startsWith('/') ? `socket ${target.host}/.s.PGSQL.${target.port}` : `${target.host}:${target.port}`;
}

function wrapQueryError(err: unknown, kind: ConnectOptions['kind']): PgafError {
  const e = err as pg.DatabaseError;
  const onMonitor = kind === 'monitor';
  if (e && typeof e.code === 'string' && e.severity) {
    return new PgSql(e.message, { sqlstate: e.code, detail: e.detail, hint: e.hint, cause: err, onMonitor });
  }
  return new PgSql((err as Error)?.message ?? String(err), { cause: err, onMonitor });
}

async function connect(target: PgTarget, opts: ConnectOptions): Promise<pg.Client> {
  let lastErr: unknown;
  for (const attempt of attempts(target.sslmode)) {
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      database: target.database,
      ssl: sslFor(target, attempt),
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      query_timeout: opts.queryTimeoutMs,
      keepAlive: true,
      application_name: opts.applicationName ?? 'pgaf',
      ...(opts.options ? { options: opts.options } : {}),
    });
    client.on('error', () => undefined); // a dropped connection surfaces on the next query
    try {
      await client.connect();
      return client;
    } catch (err) {
      lastErr = err;
      await client.end().catch(() => undefined);
      // An authentication or missing-database refusal won't change without SSL.
      if ((err as pg.DatabaseError).severity) break;
    }
  }
  const message = `cannot connect to ${opts.kind === 'monitor' ? 'the monitor' : 'Postgres'} at ${describe(target)} as ${target.user ?? 'default user'}, database ${target.database}: ${(lastErr as Error)?.message}`;
  const e = lastErr as pg.DatabaseError;
  // pg's words when the server asks for a password and we have none.
  const hint = /password must be a string/.test(String(e?.message))
    ? `the server wants a password for ${target.user ?? 'this user'}: put it in the URI, in PGPASSWORD, or in ~/.pgpass`
    : undefined;
  if (opts.kind === 'monitor') return Promise.reject(new MonitorFailed(message, { cause: lastErr, hint }));
  return Promise.reject(new PgSql(message, { sqlstate: e?.code, cause: lastErr, retryable: !e?.severity, hint }));
}

/** A Query over `client`: rows out, server errors as PgSql. */
function queryOf(client: pg.Client, kind: ConnectOptions['kind']): Query {
  return async (sql, params) => {
    try {
      return (await client.query(sql, params as unknown[])).rows;
    } catch (err) {
      throw wrapQueryError(err, kind);
    }
  };
}

/** Connects, runs `fn` with a query function, and always disconnects. */
export async function withClient<T>(target: PgTarget, opts: ConnectOptions, fn: (q: Query) => Promise<T>): Promise<T> {
  const client = await connect(target, opts);
  try {
    return await fn(queryOf(client, opts.kind));
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface SqlSession {
  query: Query;
  /** LISTEN on `channel`; `fn` gets every notification's payload. */
  listen(channel: string, fn: (channel: string, payload: string) => void): Promise<void>;
  close(): Promise<void>;
  /** true once the connection is gone (error, end, or close()) */
  readonly closed: boolean;
}

/** A connection kept open (keeper heartbeats, LISTEN); `closed` tells when to open another. */
export async function openSession(target: PgTarget, opts: ConnectOptions): Promise<SqlSession> {
  const client = await connect(target, opts);
  let closed = false;
  client.on('error', () => {
    closed = true;
  });
  client.on('end', () => {
    closed = true;
  });
  const query = queryOf(client, opts.kind);
  return {
    query,
    async listen(channel, fn) {
      client.on('notification', (n) => fn(n.channel, n.payload ?? ''));
      await query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    },
    async close() {
      closed = true;
      await client.end().catch(() => undefined);
    },
    get closed() {
      return closed;
    },
  };
}
