// Test helpers for the SQL tests of the pgaf monitor extension.
//
// One Postgres server per test file (MonitorServer). Each test gets a fresh database,
// copied from a template database in which `CREATE EXTENSION pgaf CASCADE` ran once, and a
// `Monitor`: a pg client on that database with short methods for the SQL API
// (register, active, perform_failover, …) and for reading what the monitor decided
// (nodes, goal states, events and their rule ids).
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { startPostgres, type TestServer } from '../support/postgres.js';

export const SCHEMA = 'pgautofailover';
/** One system identifier shared by the nodes of a group (the EXCLUDE constraint wants one). */
export const SYSID = 424242;
/** The LSN every node reports unless a test says otherwise. */
export const LSN = '0/3000000';

export type State =
  | 'unknown'
  | 'init'
  | 'single'
  | 'wait_primary'
  | 'primary'
  | 'draining'
  | 'demote_timeout'
  | 'demoted'
  | 'catchingup'
  | 'secondary'
  | 'prepare_promotion'
  | 'stop_replication'
  | 'wait_standby'
  | 'maintenance'
  | 'join_primary'
  | 'apply_settings'
  | 'prepare_maintenance'
  | 'wait_maintenance'
  | 'report_lsn'
  | 'fast_forward'
  | 'join_secondary'
  | 'dropped';

/** Spec §1: the enum, in this order. */
export const STATES: State[] = [
  'unknown',
  'init',
  'single',
  'wait_primary',
  'primary',
  'draining',
  'demote_timeout',
  'demoted',
  'catchingup',
  'secondary',
  'prepare_promotion',
  'stop_replication',
  'wait_standby',
  'maintenance',
  'join_primary',
  'apply_settings',
  'prepare_maintenance',
  'wait_maintenance',
  'report_lsn',
  'fast_forward',
  'join_secondary',
  'dropped',
];

/** States in which the keeper has stopped Postgres (pgIsRunning = false). */
const STOPPED_STATES = new Set<State>(['draining', 'demoted', 'demote_timeout', 'prepare_maintenance', 'maintenance']);

export interface NodeRow {
  formationid: string;
  nodeid: number;
  groupid: number;
  nodename: string;
  nodehost: string;
  nodeport: number;
  sysidentifier: number | null;
  goalstate: State;
  reportedstate: State;
  reportedpgisrunning: boolean;
  reportedrepstate: string;
  reportedtli: number;
  reportedlsn: string;
  health: number;
  candidatepriority: number;
  replicationquorum: boolean;
  nodecluster: string;
  statechangetime: Date;
  reporttime: Date;
  healthchecktime: Date;
}

export interface EventRow {
  eventid: number;
  eventtime: Date;
  formationid: string;
  nodeid: number;
  groupid: number;
  nodename: string;
  nodehost: string;
  nodeport: number;
  reportedstate: State;
  goalstate: State;
  description: string;
  ruleid: string | null;
  candidatepriority: number | null;
  replicationquorum: boolean | null;
}

export interface Registered {
  id: number;
  group: number;
  state: State;
  priority: number;
  quorum: boolean;
  name: string;
}

export interface RegisterOpts {
  formation?: string;
  host?: string;
  dbname?: string;
  name?: string;
  sysid?: number;
  desiredNodeId?: number;
  group?: number;
  role?: State;
  kind?: string;
  priority?: number;
  quorum?: boolean;
  cluster?: string;
}

export interface ActiveOpts {
  formation?: string;
  group?: number;
  running?: boolean;
  tli?: number;
  lsn?: string;
  rep?: string;
}

/** bigint columns as JS numbers: every id and sysid in these tests is small. */
const types = {
  getTypeParser(oid: number, format?: any) {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

/** What a keeper passes as current_rep_state in each state, unless a test says otherwise. */
function defaultRepState(role: State): string {
  switch (role) {
    case 'primary':
    case 'apply_settings':
    case 'join_primary':
      return 'quorum';
    case 'wait_primary':
      return 'async';
    default:
      return '';
  }
}

/**
 * SQLSTATEs that reveal a bug rather than a refusal: internal error, a PL/pgSQL INTO STRICT
 * that found too many rows, an undefined function/column/table, an ambiguous column,
 * a subquery returning several rows, a function ending without RETURN, a type mismatch.
 */
export const BUG_SQLSTATES = ['XX000', 'P0003', '42883', '42703', '42P01', '42702', '21000', '2F005', '42804'];

/** Rule ids of events that change no goal (RULES.md): a report, an election that waits or refuses, a data-loss allowance. */
export const EVENT_ONLY_RULES = ['R0', 'M3', 'M4', 'A8'];

export class Monitor {
  private readonly extra: pg.Client[] = [];
  /** Per-node facts the keeper simulator (`step`/`settle`) reports. */
  readonly tli = new Map<number, number>();
  readonly lsn = new Map<number, string>();

  constructor(
    readonly server: TestServer,
    readonly db: string,
    readonly c: pg.Client,
  ) {}

  /** Another connection to this monitor database (closed with the monitor). */
  async connect(user?: string, settings: Record<string, string> = {}): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.server.url(this.db, user), types });
    await client.connect();
    client.on('error', () => undefined);
    for (const [k, v] of Object.entries(settings)) await this.set(k, v);
    this.extra.push(client);
    return client;
  }

  async close(): Promise<void> {
    for (const client of [this.c, ...this.extra]) {
      await client.end().catch(() => undefined);
    }
  }

  async q<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.c.query<T>(sql, params as any[])).rows;
  }

  async one<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T> {
    const rows = await this.q<T>(sql, params);
    expect(rows.length, `one row from: ${sql}`).toBe(1);
    return rows[0]!;
  }

  /**
   * pgautofailover.<name> for this monitor database, set where only the owner writes
   * (ALTER DATABASE … SET, by the superuser): the monitor ignores session values (#10.5).
   */
  async set(name: string, value: string): Promise<void> {
    if (!/^[a-z_]+$/.test(name)) throw new Error(`bad setting name ${name}`);
    // one ALTER DATABASE at a time (concurrent ones fail with "tuple concurrently updated")
    const run = this.settingChain.then(() =>
      this.server.query(`alter database ${this.db} set ${SCHEMA}.${name} = '${value.replace(/'/g, "''")}'`),
    );
    this.settingChain = run.then(
      () => undefined,
      () => undefined,
    );
    await run;
  }
  private settingChain: Promise<unknown> = Promise.resolve();

  /** Back to the default: ALTER DATABASE … RESET. */
  async reset(name: string): Promise<void> {
    if (!/^[a-z_]+$/.test(name)) throw new Error(`bad setting name ${name}`);
    await this.server.query(`alter database ${this.db} reset ${SCHEMA}.${name}`);
  }

  // ---------------------------------------------------------------- the keeper protocol

  async register(port: number, o: RegisterOpts = {}): Promise<Registered> {
    const row = await this.one(
      `select * from pgautofailover.register_node(
          formation_id => $1, node_host => $2, node_port => $3, dbname => $4,
          node_name => $5, sysidentifier => $6, desired_node_id => $7, desired_group_id => $8,
          initial_group_role => $9::pgautofailover.replication_state, node_kind => $10,
          candidate_priority => $11, replication_quorum => $12, node_cluster => $13)`,
      [
        o.formation ?? 'default',
        o.host ?? '127.0.0.1',
        port,
        o.dbname ?? 'postgres',
        o.name ?? '',
        o.sysid ?? SYSID,
        o.desiredNodeId ?? -1,
        o.group ?? -1,
        o.role ?? 'init',
        o.kind ?? 'standalone',
        o.priority ?? 100,
        o.quorum ?? true,
        o.cluster ?? 'default',
      ],
    );
    return {
      id: Number(row.assigned_node_id),
      group: row.assigned_group_id,
      state: row.assigned_group_state,
      priority: row.assigned_candidate_priority,
      quorum: row.assigned_replication_quorum,
      name: row.assigned_node_name,
    };
  }

  /** node_active: returns the whole result row. */
  async activeRow(id: number, role: State, o: ActiveOpts = {}): Promise<any> {
    const running = o.running ?? !STOPPED_STATES.has(role);
    return this.one(
      `select * from pgautofailover.node_active($1, $2, $3, $4::pgautofailover.replication_state,
                                                $5, $6, $7::pg_lsn, $8)`,
      [
        o.formation ?? 'default',
        id,
        o.group ?? 0,
        role,
        running,
        o.tli ?? this.tli.get(id) ?? 1,
        o.lsn ?? this.lsn.get(id) ?? LSN,
        o.rep ?? defaultRepState(role),
      ],
    );
  }

  /** node_active: a keeper heartbeat reporting `role`; returns the assigned goal state. */
  async active(id: number, role: State, o: ActiveOpts = {}): Promise<State> {
    return (await this.activeRow(id, role, o)).assigned_group_state;
  }

  /** The keeper reaches its goal and reports it; returns the next goal. */
  async step(id: number, o: ActiveOpts = {}): Promise<State> {
    const goal = await this.goal(id);
    return this.active(id, goal, o);
  }

  /**
   * Drive every node like an obedient keeper until no goal changes for a whole round.
   * A promoted node gets the next timeline; a node following a primary takes its timeline.
   */
  async settle(ids: number[], maxRounds = 12): Promise<void> {
    const states = async () =>
      JSON.stringify((await this.nodes()).filter((n) => ids.includes(n.nodeid)).map((n) => [n.goalstate, n.reportedstate]));
    for (let round = 0; round < maxRounds; round++) {
      const before = await states();
      for (const id of ids) {
        const n = await this.nodeOrNull(id);
        if (!n) continue;
        this.simulateTimeline(n, await this.nodes());
        await this.active(id, n.goalstate);
      }
      if ((await states()) === before) return;
    }
    throw new Error(`nodes ${ids.join(',')} did not settle: ${JSON.stringify(await this.nodes())}`);
  }

  private simulateTimeline(n: NodeRow, all: NodeRow[]): void {
    const tliOf = (x: NodeRow) => this.tli.get(x.nodeid) ?? x.reportedtli;
    const others = Math.max(1, ...all.filter((x) => x.nodeid !== n.nodeid).map(tliOf));
    // A standby being promoted (pg_ctl promote) starts the next timeline, once.
    const promoting =
      ['stop_replication', 'wait_primary', 'single'].includes(n.goalstate) &&
      ['prepare_promotion', 'stop_replication', 'report_lsn', 'fast_forward', 'secondary', 'catchingup'].includes(
        n.reportedstate,
      );
    if (promoting) {
      if (tliOf(n) <= others) this.tli.set(n.nodeid, others + 1);
      return;
    }
    // A standby following a primary (or a promoted candidate) is on its timeline.
    if (['catchingup', 'secondary', 'join_secondary'].includes(n.goalstate)) {
      const upstream =
        all.find((x) => x.nodeid !== n.nodeid && ['primary', 'wait_primary', 'single', 'apply_settings'].includes(x.goalstate)) ??
        all.find((x) => x.nodeid !== n.nodeid && x.goalstate === 'stop_replication');
      if (upstream) this.tli.set(n.nodeid, tliOf(upstream));
    }
  }

  // ---------------------------------------------------------------- reading state

  async nodes(formation?: string): Promise<NodeRow[]> {
    return formation
      ? this.q<NodeRow>(`select * from pgautofailover.node where formationid = $1 order by nodeid`, [formation])
      : this.q<NodeRow>(`select * from pgautofailover.node order by nodeid`);
  }

  async nodeOrNull(id: number): Promise<NodeRow | null> {
    const rows = await this.q<NodeRow>(`select * from pgautofailover.node where nodeid = $1`, [id]);
    return rows[0] ?? null;
  }

  async node(id: number): Promise<NodeRow> {
    const n = await this.nodeOrNull(id);
    if (!n) throw new Error(`node ${id} is not in pgautofailover.node`);
    return n;
  }

  async goal(id: number): Promise<State> {
    return (await this.node(id)).goalstate;
  }

  async goals(ids: number[]): Promise<Record<number, State | null>> {
    const out: Record<number, State | null> = {};
    for (const id of ids) out[id] = (await this.nodeOrNull(id))?.goalstate ?? null;
    return out;
  }

  async formation(id = 'default'): Promise<any> {
    return (await this.q(`select * from pgautofailover.formation where formationid = $1`, [id]))[0];
  }

  async nss(formation = 'default'): Promise<number> {
    return (await this.formation(formation)).number_sync_standbys;
  }

  async events(sinceId = 0): Promise<EventRow[]> {
    return this.q<EventRow>(`select * from pgautofailover.event where eventid > $1 order by eventid`, [sinceId]);
  }

  async lastEventId(): Promise<number> {
    const r = await this.one(`select coalesce(max(eventid), 0) as id from pgautofailover.event`);
    return Number(r.id);
  }

  /** Events that assigned `goal` to node `id` (optionally only after event `sinceId`). */
  async goalEvents(id: number, goal: State, sinceId = 0): Promise<EventRow[]> {
    return this.q<EventRow>(
      `select * from pgautofailover.event
        where nodeid = $1 and goalstate = $2 and eventid > $3 order by eventid`,
      [id, goal, sinceId],
    );
  }

  /** Rule ids of the events that assigned `goal` to node `id`. */
  async rulesFor(id: number, goal: State, sinceId = 0): Promise<(string | null)[]> {
    return (await this.goalEvents(id, goal, sinceId)).map((e) => e.ruleid);
  }

  /** The most recent event for node `id` whose goal is `goal`, and whose rule is `rule`. */
  async expectAssigned(id: number, goal: State, rule: string | string[], sinceId = 0): Promise<EventRow> {
    expect((await this.node(id)).goalstate, `goal state of node ${id}`).toBe(goal);
    const evs = (await this.goalEvents(id, goal, sinceId)).filter((e) => !EVENT_ONLY_RULES.includes(e.ruleid ?? ''));
    expect(evs.length, `an event assigning ${goal} to node ${id}`).toBeGreaterThan(0);
    const ev = evs[evs.length - 1]!;
    const rules = Array.isArray(rule) ? rule : [rule];
    expect(rules, `rule id of the event assigning ${goal} to node ${id}: ${ev.description}`).toContain(ev.ruleid);
    expectNamesNode(ev, id);
    return ev;
  }

  async countRule(rule: string, sinceId = 0): Promise<number> {
    const r = await this.one(`select count(*)::int as n from pgautofailover.event where ruleid = $1 and eventid > $2`, [
      rule,
      sinceId,
    ]);
    return r.n;
  }

  // ---------------------------------------------------------------- health

  /**
   * Fake a dead node (spec §2.1 IsUnhealthy (a)): the health check says bad, and the keeper
   * has not reported for an hour. The session must have startup_grace_period = 0.
   */
  async markUnhealthy(id: number): Promise<void> {
    await this.q(
      `update pgautofailover.node
          set health = 0, healthchecktime = now(), reporttime = now() - interval '1 hour'
        where nodeid = $1`,
      [id],
    );
  }

  async setHealth(id: number, health: -1 | 0 | 1): Promise<void> {
    await this.q(`update pgautofailover.node set health = $2, healthchecktime = now() where nodeid = $1`, [id, health]);
  }

  /** Overwrite the state of a node, to reach a situation no API call produces directly. */
  async craft(id: number, fields: Partial<Record<keyof NodeRow, unknown>>): Promise<void> {
    const keys = Object.keys(fields);
    const sets = keys.map((k, i) => `${k} = $${i + 2}`).join(', ');
    await this.q(`update pgautofailover.node set ${sets} where nodeid = $1`, [id, ...keys.map((k) => (fields as any)[k])]);
  }

  // ---------------------------------------------------------------- refusals

  /** Everything an API call could change: nodes, formations, and the number of events. */
  async snapshot(): Promise<string> {
    const nodes = await this.q(
      `select nodeid, formationid, groupid, nodename, nodehost, nodeport, sysidentifier, goalstate, reportedstate,
              candidatepriority, replicationquorum, nodecluster, statechangetime
         from pgautofailover.node order by nodeid`,
    );
    const formations = await this.q(`select * from pgautofailover.formation order by formationid`);
    const events = await this.one(`select count(*)::int as n from pgautofailover.event`);
    return JSON.stringify({ nodes, formations, events: events.n });
  }

  /**
   * The statement must fail with an SQL error whose message matches `message`, and leave the
   * monitor as it was.
   */
  async expectRefused(sql: string, params: unknown[], message: RegExp): Promise<pg.DatabaseError> {
    const before = await this.snapshot();
    let err: unknown;
    try {
      await this.c.query(sql, params as any[]);
    } catch (e) {
      err = e;
    }
    expect(err, `expected an error from: ${sql}`).toBeInstanceOf(Error);
    const dbErr = err as pg.DatabaseError;
    expect(dbErr.code, `SQLSTATE of: ${dbErr.message}`).toBeTruthy();
    // A refusal is a deliberate error, not a bug surfacing (internal error, missing row, …).
    expect(BUG_SQLSTATES, `a deliberate refusal, not ${dbErr.code}: ${dbErr.message}`).not.toContain(dbErr.code);
    expect(dbErr.message).toMatch(message);
    expect(await this.snapshot(), `no state change after the refused call: ${sql}`).toBe(before);
    return dbErr;
  }
}

/**
 * Every goal change writes an event carrying the new goal: replaying the goal-changing events
 * must give each node's current goal state.
 */
export async function expectEventsExplainGoals(m: Monitor): Promise<void> {
  const replay = new Map<number, string>();
  for (const e of await m.events()) {
    if (EVENT_ONLY_RULES.includes(e.ruleid ?? '')) continue;
    expect(e.ruleid, `event ${e.eventid} has a rule id: ${e.description}`).toBeTruthy();
    replay.set(e.nodeid, e.goalstate);
  }
  for (const n of await m.nodes()) {
    expect(replay.get(n.nodeid), `goal of node ${n.nodeid} as told by the events`).toBe(n.goalstate);
  }
}

/** An event description must be a sentence naming its node: by name, or as "node <id>". */
export function expectNamesNode(ev: EventRow, id: number): void {
  const d = ev.description ?? '';
  const named = d.includes(ev.nodename) || new RegExp(`\\bnode ${id}\\b`, 'i').test(d);
  expect(named, `event ${ev.eventid} (${ev.ruleid}) description names node ${id}: "${d}"`).toBe(true);
}

let dbCounter = 0;

/** One Postgres server per test file, with a template database holding the extension. */
/**
 * One MonitorServer for the test file: started before its tests, cleaned after each test,
 * stopped at the end; `set` receives it once started.
 */
export function useMonitorServer(set: (server: MonitorServer) => void): void {
  let server: MonitorServer | undefined;
  beforeAll(async () => {
    server = await MonitorServer.start();
    set(server);
  });
  afterEach(async () => {
    await server?.cleanup();
  });
  afterAll(async () => {
    await server?.stop();
  });
}

export class MonitorServer {
  private readonly monitors: Monitor[] = [];
  private static readonly TEMPLATE = 'pgaf_template';

  private constructor(readonly server: TestServer) {}

  static async start(): Promise<MonitorServer> {
    const server = await startPostgres();
    try {
      await server.query(`create database ${MonitorServer.TEMPLATE}`);
      await server.query(`create extension pgaf cascade`, [], MonitorServer.TEMPLATE);
    } catch (e) {
      await server.stop();
      throw e;
    }
    return new MonitorServer(server);
  }

  /**
   * A fresh monitor database with the extension. By default startup_grace_period = 0 (the
   * server was started seconds ago), and `settings` too, for the database (ALTER DATABASE).
   */
  async fresh(settings: Record<string, string> = {}, user?: string): Promise<Monitor> {
    const db = `m_${process.pid}_${++dbCounter}`;
    await this.server.query(`create database ${db} template ${MonitorServer.TEMPLATE} strategy file_copy`);
    const c = new pg.Client({ connectionString: this.server.url(db, user), types });
    await c.connect();
    c.on('error', () => undefined);
    const m = new Monitor(this.server, db, c);
    this.monitors.push(m);
    await m.set('startup_grace_period', '0');
    for (const [k, v] of Object.entries(settings)) await m.set(k, v);
    return m;
  }

  /** Close the clients of every monitor made so far and drop their databases. */
  async cleanup(): Promise<void> {
    const ms = this.monitors.splice(0);
    for (const m of ms) {
      await m.close();
      await this.server.query(`drop database if exists ${m.db} with (force)`).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    await this.cleanup().catch(() => undefined);
    await this.server.stop();
  }
}

// ---------------------------------------------------------------- group builders

export const PORT_A = 5001;
export const PORT_B = 5002;
export const PORT_C = 5003;
export const PORT_D = 5004;

/**
 * Two nodes converged: A primary, B secondary (spec §2.3/§2.4 bring-up, step by step).
 */
export async function twoNodes(
  m: Monitor,
  o: { a?: RegisterOpts; b?: RegisterOpts } = {},
): Promise<{ a: Registered; b: Registered }> {
  const a = await m.register(PORT_A, o.a);
  expect(a.state).toBe('single');
  expect(await m.active(a.id, 'single')).toBe('single');
  const b = await m.register(PORT_B, o.b);
  expect(b.state).toBe('wait_standby');
  expect(await m.active(b.id, 'wait_standby')).toBe('wait_standby');
  expect(await m.active(a.id, 'single')).toBe('wait_primary');
  expect(await m.active(a.id, 'wait_primary')).toBe('wait_primary');
  expect(await m.active(b.id, 'wait_standby')).toBe('catchingup');
  expect(await m.active(b.id, 'catchingup')).toBe('secondary');
  expect(await m.active(b.id, 'secondary')).toBe('secondary');
  const quorum = o.b?.quorum ?? true;
  expect(await m.active(a.id, 'wait_primary')).toBe('primary');
  expect(await m.active(a.id, 'primary')).toBe('primary');
  if (quorum) expect(await m.active(b.id, 'secondary')).toBe('secondary');
  return { a, b };
}

/**
 * Three nodes converged: A primary, B and C secondaries. C gets priority 50 unless told,
 * so that elections are deterministic (B wins).
 */
export async function threeNodes(
  m: Monitor,
  o: { a?: RegisterOpts; b?: RegisterOpts; c?: RegisterOpts } = {},
): Promise<{ a: Registered; b: Registered; c: Registered }> {
  const a = await m.register(PORT_A, o.a);
  expect(a.state).toBe('single');
  expect(await m.active(a.id, 'single')).toBe('single');
  const b = await m.register(PORT_B, o.b);
  const c = await m.register(PORT_C, { priority: 50, ...o.c });
  expect(b.state).toBe('wait_standby');
  expect(c.state).toBe('wait_standby');
  await m.settle([a.id, b.id, c.id]);
  const g = await m.goals([a.id, b.id, c.id]);
  expect(g).toEqual({ [a.id]: 'primary', [b.id]: 'secondary', [c.id]: 'secondary' });
  return { a, b, c };
}

/** Wait (polling, bounded) until `cond` holds. */
export async function until<T>(what: string, fn: () => Promise<T> | T, cond: (v: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (cond(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
