// Keepers played over SQL, for CLI tests that need a formation's states without real
// keepers: register nodes with the monitor and send each one heartbeat reporting its goal,
// as a keeper that reached it would, until the states settle.
import type pg from 'pg';

export interface SqlKeepers {
  q<T extends pg.QueryResultRow = any>(sql: string, params?: unknown[]): Promise<T[]>;
  /** register_node in formation default at 127.0.0.1:<port>; the node id */
  register(nodePort: number, name: string): Promise<number>;
  /** one heartbeat per node reporting its goal state */
  step(ids: number[]): Promise<void>;
  /** name → "reported/goal" */
  states(): Promise<Record<string, string>>;
  /** heartbeats until every named node is in the wanted "reported/goal", or throws */
  settle(ids: number[], want: Record<string, string>, rounds?: number): Promise<void>;
}

/** `db` is read on each call (tests connect in beforeAll); `secondaryLsn` is what secondaries report. */
export function sqlKeepers(db: () => pg.Client | undefined, o: { secondaryLsn?: string } = {}): SqlKeepers {
  const secondaryLsn = o.secondaryLsn ?? '0/3000000';
  async function q<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = db();
    if (!client) throw new Error('no monitor connection yet');
    return (await client.query<T>(sql, params as any[])).rows;
  }
  async function register(nodePort: number, name: string): Promise<number> {
    const rows = await q(
      `SELECT assigned_node_id FROM pgautofailover.register_node('default', '127.0.0.1', $1, 'postgres', $2, 424242)`,
      [nodePort, name],
    );
    return Number(rows[0].assigned_node_id);
  }
  async function step(ids: number[]): Promise<void> {
    for (const id of ids) {
      const rows = await q<{ goalstate: string }>('SELECT goalstate::text FROM pgautofailover.node WHERE nodeid = $1', [id]);
      const goal = rows[0]?.goalstate;
      if (!goal) continue;
      const rep = ['primary', 'apply_settings', 'join_primary'].includes(goal) ? 'quorum' : goal === 'wait_primary' ? 'async' : '';
      const lsn = goal === 'secondary' ? secondaryLsn : '0/3000000';
      await q(`SELECT pgautofailover.node_active('default', $1, 0, $2::pgautofailover.replication_state, true, 1, $3::pg_lsn, $4)`, [id, goal, lsn, rep]);
    }
  }
  async function states(): Promise<Record<string, string>> {
    const rows = await q<{ nodename: string; reportedstate: string; goalstate: string }>(
      'SELECT nodename, reportedstate::text, goalstate::text FROM pgautofailover.node ORDER BY nodeid',
    );
    return Object.fromEntries(rows.map((r) => [r.nodename, `${r.reportedstate}/${r.goalstate}`]));
  }
  async function settle(ids: number[], want: Record<string, string>, rounds = 20): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      await step(ids);
      const s = await states();
      if (Object.entries(want).every(([k, v]) => s[k] === v)) return;
    }
    throw new Error(`did not settle to ${JSON.stringify(want)}: ${JSON.stringify(await states())}`);
  }
  return { q, register, step, states, settle };
}
