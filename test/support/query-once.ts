// One query on a connection of its own, closed afterwards: for tests that look at a server
// now and then (a monitor's node table, pg_stat_ssl on a node) without holding a connection.
import pg from 'pg';
import { waitFor } from './until.js';

export async function queryOnce<R extends Record<string, unknown>>(config: pg.ClientConfig, sql: string): Promise<R[]> {
  const c = new pg.Client({ connectionTimeoutMillis: 3000, ...config });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(sql)).rows as R[];
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Until the monitor's node table shows every `name: reported/goal` of `want`. */
export function statesAre(rows: Array<{ nodename: string; s: string }>, want: Record<string, string>): boolean {
  const s = Object.fromEntries(rows.map((r) => [r.nodename, r.s]));
  return Object.entries(want).every(([k, v]) => s[k] === v);
}

export const NODE_STATES_SQL = `SELECT nodename, reportedstate::text || '/' || goalstate::text AS s FROM pgautofailover.node`;

/** One query on a monitor at 127.0.0.1:`port` as autoctl_node (TLS, its self-signed certificate accepted). */
export function queryMonitor<R extends Record<string, unknown>>(port: number, password: string, sql: string): Promise<R[]> {
  const c = { host: '127.0.0.1', port, user: 'autoctl_node', password, database: 'pg_auto_failover', ssl: { rejectUnauthorized: false } };
  return queryOnce<R>(c, sql);
}

/** Until that monitor's node table shows every `name: reported/goal` of `want`. */
export async function waitNodeStates(port: number, password: string, want: Record<string, string>, timeoutMs: number): Promise<void> {
  await waitFor(`states ${JSON.stringify(want)}`, timeoutMs, async () => statesAre(await queryMonitor<{ nodename: string; s: string }>(port, password, NODE_STATES_SQL), want));
}
