// Concurrent calls (spec §2.1: node_active takes a formation lock, then an exclusive group
// lock, both held to the end of the transaction): keepers of one group heartbeating at once,
// duplicate keepers, racing operator calls, registrations in parallel.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { expectEventsExplainGoals, LSN, type Monitor, MonitorServer, type State, SYSID, twoNodes, until, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

const WRITABLE = new Set(['single', 'wait_primary', 'primary', 'join_primary', 'apply_settings']);
const ACTIVE = `select * from pgautofailover.node_active($1, $2, 0, $3::pgautofailover.replication_state, $4, 1, $5::pg_lsn, $6)`;

/** An obedient keeper on its own connection: reports its goal as reached, `rounds` times. */
async function keeper(c: pg.Client, id: number, rounds: number): Promise<State> {
  let reported: State = 'init';
  for (let i = 0; i < rounds; i++) {
    const rep = reported === 'primary' ? 'quorum' : reported === 'wait_primary' ? 'async' : '';
    const r: pg.QueryResult = await c.query(ACTIVE, ['default', id, reported, true, LSN, rep]);
    reported = r.rows[0].assigned_group_state;
    await new Promise((res) => setTimeout(res, Math.random() * 3));
  }
  return reported;
}

/** Replays the event log: at no point may two nodes hold a writable goal. */
async function expectSingleWriterHistory(m: Monitor) {
  const goal = new Map<number, string>();
  for (const e of await m.events()) {
    goal.set(e.nodeid, e.goalstate);
    const writers = [...goal.entries()].filter(([, g]) => WRITABLE.has(g));
    expect(writers.length, `after event ${e.eventid} (${e.ruleid}): ${JSON.stringify(writers)}`).toBeLessThanOrEqual(1);
  }
}

describe('concurrent node_active calls for one group', () => {
  it('three keepers heartbeating at once bring the group up without errors', async () => {
    const m = await ms.fresh();
    const ids: number[] = [];
    for (const port of [5001, 5002, 5003]) ids.push((await m.register(port, { priority: port === 5003 ? 50 : 100 })).id);
    const clients = await Promise.all(ids.map(() => m.connect()));
    const finals = await Promise.all(ids.map((id, i) => keeper(clients[i]!, id, 25)));
    expect(finals).toEqual(['primary', 'secondary', 'secondary']);
    expect(await m.goals(ids)).toEqual({ [ids[0]!]: 'primary', [ids[1]!]: 'secondary', [ids[2]!]: 'secondary' });
    await expectSingleWriterHistory(m);
    await expectEventsExplainGoals(m);
  });

  it('duplicate keepers of a standby racing on a dead primary promote it exactly once', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await m.markUnhealthy(a.id);
    const since = await m.lastEventId();
    const clients = await Promise.all(Array.from({ length: 6 }, () => m.connect(undefined, { startup_grace_period: '0' })));
    const results = await Promise.all(
      clients.map((c) => c.query(ACTIVE, ['default', b.id, 'secondary', true, LSN, '']).then((r) => r.rows[0].assigned_group_state)),
    );
    expect(new Set(results)).toEqual(new Set(['prepare_promotion']));
    const evs = (await m.events(since)).filter((e) => e.ruleid !== 'R0');
    expect(evs.filter((e) => e.nodeid === b.id && e.goalstate === 'prepare_promotion')).toHaveLength(1);
    expect(evs.filter((e) => e.nodeid === a.id && e.goalstate === 'draining')).toHaveLength(1);
  });

  it('the group lock is held until the end of the transaction', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    const s1 = await m.connect();
    const s2 = await m.connect();
    const pid2 = (await s2.query('select pg_backend_pid() as pid')).rows[0].pid;
    await s1.query('begin');
    await s1.query(ACTIVE, ['default', a.id, 'primary', true, LSN, 'quorum']);
    let done = false;
    const second = s2.query(ACTIVE, ['default', b.id, 'secondary', true, LSN, '']).then((r) => {
      done = true;
      return r.rows[0].assigned_group_state;
    });
    // s2 waits on a lock while s1's transaction is open.
    await until(
      'the second node_active to wait on a lock',
      async () => (await m.q(`select wait_event_type from pg_stat_activity where pid = $1`, [pid2]))[0]?.wait_event_type,
      (w) => w === 'Lock',
    );
    expect(done).toBe(false);
    await s1.query('commit');
    expect(await second).toBe('secondary');
  });

  it('another formation is not blocked by a group lock', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    await m.q(`insert into pgautofailover.formation (formationid) values ('f2')`);
    const other = await m.register(6001, { formation: 'f2' });
    const s1 = await m.connect();
    const s2 = await m.connect();
    await s1.query('begin');
    await s1.query(ACTIVE, ['default', a.id, 'primary', true, LSN, 'quorum']);
    const r = await Promise.race([
      s2.query(ACTIVE, ['f2', other.id, 'single', true, LSN, '']).then((x) => x.rows[0].assigned_group_state),
      new Promise((res) => setTimeout(() => res('blocked'), 3000)),
    ]);
    await s1.query('commit');
    expect(r).toBe('single');
  });
});

describe('racing operator calls', () => {
  it('two perform_failover at once: one succeeds, the other is refused', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    const [c1, c2] = [await m.connect(), await m.connect()];
    const results = await Promise.allSettled([
      c1.query(`select pgautofailover.perform_failover('default', 0)`),
      c2.query(`select pgautofailover.perform_failover('default', 0)`),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect((await m.events()).filter((e) => e.nodeid === a.id && e.goalstate === 'draining' && e.ruleid === 'A1')).toHaveLength(1);
  });

  it('node registrations in parallel: distinct ids, one single, the others wait_standby', async () => {
    const m = await ms.fresh();
    const clients = await Promise.all(Array.from({ length: 5 }, () => m.connect()));
    const rows = await Promise.all(
      clients.map((c, i) =>
        c
          .query(`select * from pgautofailover.register_node('default', '127.0.0.1', $1, 'postgres', sysidentifier => $2)`, [
            5001 + i,
            SYSID,
          ])
          .then((r) => r.rows[0]),
      ),
    );
    const ids = rows.map((r) => Number(r.assigned_node_id));
    expect(new Set(ids).size).toBe(5);
    const states = rows.map((r) => r.assigned_group_state).sort();
    expect(states).toEqual(['single', 'wait_standby', 'wait_standby', 'wait_standby', 'wait_standby']);
    expect(await m.nss()).toBe(1);
  });

  it('settings changes racing with heartbeats leave the group consistent', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    const c1 = await m.connect();
    const c2 = await m.connect();
    const beats = (async () => {
      let reported: State = 'primary';
      for (let i = 0; i < 30; i++) {
        const r: pg.QueryResult = await c1.query(ACTIVE, ['default', a.id, reported, true, LSN, 'quorum']);
        reported = r.rows[0].assigned_group_state;
      }
      return reported;
    })();
    const changes = (async () => {
      let ok = 0;
      for (let i = 0; i < 10; i++) {
        await c2
          .query(`select pgautofailover.set_node_candidate_priority('default', $1, $2)`, [b.name, 50 + i])
          .then(() => ok++)
          .catch(() => undefined); // refused while the primary is converged apply_settings
      }
      return ok;
    })();
    const [final, ok] = await Promise.all([beats, changes]);
    expect(ok).toBeGreaterThan(0);
    expect(await m.active(a.id, final)).toMatch(/^(primary|apply_settings)$/);
    await m.settle([a.id, b.id]);
    expect(await m.goals([a.id, b.id])).toEqual({ [a.id]: 'primary', [b.id]: 'secondary' });
  });
});
