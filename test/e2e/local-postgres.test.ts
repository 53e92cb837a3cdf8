// PgLocalPostgres against real servers: two nodes on 127.0.0.1. A is initialised and serves
// as primary; B is cloned from A and streams; synchronous replication; B is promoted; A,
// crashed and diverged, is rewound and follows B.
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { log, setLogLevel, setLogSink, logLevel } from '../../lib/log.js';
import { postgresRunAs } from '../../lib/pgbin.js';
import { resolveBinDir } from '../../lib/postgres-ctl.js';
import type { PeerNode } from '../../keeper/fsm/context.js';
import { PgLocalPostgres } from '../../keeper/pg/local-postgres.js';
import { freePort } from '../support/postgres.js';

const PASSWORD = 'rep s3cret!';
const runAs = postgresRunAs();
const superuser = runAs?.name ?? userInfo().username;

interface Node {
  peer: PeerNode;
  pg: PgLocalPostgres;
  dir: string;
  socketDir: string;
  pgdata: string;
}

let root: string;
const nodes: Node[] = [];
const lines: string[] = [];
let prevSink: ((line: string) => void) | undefined;
const prevLevel = logLevel();

function mkdirOwned(dir: string): void {
  mkdirSync(dir, { recursive: true });
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);
}

async function makeNode(nodeId: number): Promise<Node> {
  const dir = join(root, `node${nodeId}`);
  const socketDir = join(dir, 'sock');
  mkdirOwned(dir);
  mkdirOwned(socketDir);
  const port = await freePort();
  const pgdata = join(dir, 'pgdata');
  const peer: PeerNode = { nodeId, name: `node_${nodeId}`, host: '127.0.0.1', port, lsn: '0/0', isPrimary: false };
  const node: Node = {
    peer,
    dir,
    socketDir,
    pgdata,
    pg: new PgLocalPostgres({
      pgdata,
      binDir: resolveBinDir(),
      port,
      host: '127.0.0.1',
      socketDir,
      nodeId,
      runAs,
      replicationPassword: PASSWORD,
      authMethod: 'scram-sha-256',
      hbaLevel: 'minimal',
      monitorHost: '127.0.0.1',
      logFile: join(dir, 'postgres.log'),
      log: log.child({ node: `node_${nodeId}` }),
    }),
  };
  nodes.push(node);
  return node;
}

/** Runs statements as the superuser over the node's socket; returns the last one's rows. */
async function sql<T extends pg.QueryResultRow = any>(n: Node, ...stmts: string[]): Promise<T[]> {
  const c = new pg.Client({ host: n.socketDir, port: n.peer.port, user: superuser, database: 'postgres', statement_timeout: 20_000 });
  await c.connect();
  try {
    let rows: T[] = [];
    for (const s of stmts) rows = (await c.query<T>(s)).rows;
    return rows;
  } finally {
    await c.end();
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function streamingFrom(upstream: Node, standbyId: number) {
  return () =>
    sql(upstream, `SELECT state FROM pg_stat_replication WHERE application_name = 'pgautofailover_standby_${standbyId}'`).then(
      (rows) => rows[0]?.state === 'streaming',
    );
}

/** The session id of a process (field 6 of /proc/<pid>/stat). */
function sessionOf(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

function killByPidFile(pgdata: string): void {
  try {
    const pid = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // not running
  }
}

let A: Node;
let B: Node;

beforeAll(async () => {
  setLogLevel('debug');
  prevSink = setLogSink((line) => lines.push(line));
  root = mkdtempSync(join(tmpdir(), 'pgaf-local-pg-'));
  if (runAs) chownSync(root, runAs.uid, runAs.gid);
  A = await makeNode(1);
  B = await makeNode(2);
});

afterAll(async () => {
  for (const n of nodes) {
    await n.pg.stop('immediate').catch(() => undefined);
    killByPidFile(n.pgdata);
  }
  if (prevSink) setLogSink(prevSink);
  setLogLevel(prevLevel);
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('PgLocalPostgres on two nodes', () => {
  it('initialises node A, starts it in its own session, creates roles, slot and HBA lines for B', async () => {
    await A.pg.initdb();
    expect(A.pg.hasData()).toBe(true);
    expect(await A.pg.isRunning()).toBe(false);
    const conf = readFileSync(join(A.pgdata, 'postgresql.conf'), 'utf8');
    expect(conf.match(/^include 'postgresql-auto-failover\.conf'/gm)).toHaveLength(1);
    expect(readFileSync(join(A.pgdata, 'postgresql-auto-failover.conf'), 'utf8')).toContain(`port = ${A.peer.port}`);

    await A.pg.start();
    await A.pg.start(); // idempotent
    expect(await A.pg.isRunning()).toBe(true);
    const pid = Number(readFileSync(join(A.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(sessionOf(pid)).not.toBe(sessionOf('self'));

    await A.pg.reconcileHba([B.peer]);
    await A.pg.reconcileSlots([B.peer], false);
    await A.pg.reconcileHba([B.peer]); // no duplicates
    const hba = readFileSync(join(A.pgdata, 'pg_hba.conf'), 'utf8');
    expect(hba.match(/^host replication pgautofailover_replicator 127\.0\.0\.1\/32 scram-sha-256$/gm)).toHaveLength(1);
    expect(hba.match(/^host all pgautofailover_replicator 127\.0\.0\.1\/32 scram-sha-256$/gm)).toHaveLength(1);
    expect(hba.match(/^host postgres pgautofailover_monitor 127\.0\.0\.1\/32 scram-sha-256$/gm)).toHaveLength(1);

    const roles = await sql(A, `SELECT rolname, rolreplication, rolconnlimit FROM pg_roles WHERE rolname LIKE 'pgautofailover%' ORDER BY 1`);
    expect(roles).toEqual([
      { rolname: 'pgautofailover_monitor', rolreplication: false, rolconnlimit: 1 },
      { rolname: 'pgautofailover_replicator', rolreplication: true, rolconnlimit: -1 },
    ]);
    const slots = await sql(A, `SELECT slot_name, restart_lsn IS NOT NULL AS reserved FROM pg_replication_slots`);
    expect(slots).toEqual([{ slot_name: 'pgautofailover_standby_2', reserved: true }]);
    expect(await A.pg.systemIdentifier()).toMatch(/^\d{10,}$/);
  });

  it('node B takes a base backup from A and streams from it as a standby', async () => {
    await B.pg.basebackup(A.peer);
    expect(B.pg.hasData()).toBe(true);
    expect(readFileSync(join(B.pgdata, 'postgresql-auto-failover.conf'), 'utf8')).toContain(`port = ${B.peer.port}`);
    expect(existsSync(join(B.dir, '.pgdata.pgaf-basebackup'))).toBe(false);
    expect(await B.pg.systemIdentifier()).toBe(await A.pg.systemIdentifier());

    await B.pg.writeStandbySetup({ upstream: A.peer });
    const standbyConf = readFileSync(join(B.pgdata, 'postgresql-auto-failover-standby.conf'), 'utf8');
    expect(standbyConf).toContain("primary_slot_name = 'pgautofailover_standby_2'");
    expect(existsSync(join(B.pgdata, 'standby.signal'))).toBe(true);
    await B.pg.start();

    await until('B streaming from A', streamingFrom(A, 2));
    const [slot] = await sql(A, `SELECT active FROM pg_replication_slots WHERE slot_name = 'pgautofailover_standby_2'`);
    expect(slot?.active).toBe(true);

    const fa = await A.pg.readFacts();
    expect(fa).toMatchObject({ running: true, inRecovery: false, timeline: 1, syncState: 'async', standbysConnected: 1 });
    const fb = await B.pg.readFacts();
    expect(fb).toMatchObject({ running: true, inRecovery: true, timeline: 1, syncState: '', standbysConnected: 0 });
    expect(fb.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(await B.pg.isInRecovery()).toBe(true);

    // the standby keeps a slot for A too, advanced as A reports its LSN
    await B.pg.reconcileSlots([A.peer], true);
    expect(await sql(B, `SELECT slot_name FROM pg_replication_slots`)).toEqual([{ slot_name: 'pgautofailover_standby_1' }]);
  });

  it('a node without a slot on A is cloned without one; a second clone keeps its own config files', async () => {
    const C = await makeNode(3);
    await C.pg.basebackup(A.peer);
    expect(C.pg.hasData()).toBe(true);
    expect(lines.some((l) => l.includes('has no slot pgautofailover_standby_3 yet'))).toBe(true);
    const hbaFile = join(C.pgdata, 'pg_hba.conf');
    writeFileSync(hbaFile, readFileSync(hbaFile, 'utf8') + '# local to node 3\n');
    await C.pg.basebackup(A.peer);
    expect(readFileSync(hbaFile, 'utf8')).toContain('# local to node 3');
    expect(readFileSync(join(C.pgdata, 'postgresql-auto-failover.conf'), 'utf8')).toContain(`port = ${C.peer.port}`);
    expect(readdirSync(C.dir).sort()).toEqual(['pgdata', 'sock']);
    if (runAs) expect(statSync(join(C.pgdata, 'base')).uid).toBe(runAs.uid);
    expect(await C.pg.isRunning()).toBe(false);
  });

  it('with synchronous_standby_names on A, a write commits and the standby confirms it', async () => {
    await A.pg.setSynchronousStandbyNames('ANY 1 (pgautofailover_standby_2)');
    expect((await sql(A, 'SHOW synchronous_standby_names'))[0]).toEqual({ synchronous_standby_names: 'ANY 1 (pgautofailover_standby_2)' });
    await until('B a quorum standby', async () => (await A.pg.readFacts()).syncState === 'quorum');

    await sql(A, 'CREATE TABLE t (v text)', "INSERT INTO t VALUES ('before failover')");
    expect(await A.pg.waitForStandbyCatchUp(10_000)).toBe(true);
    const [{ lsn }] = await sql<{ lsn: string }>(A, 'SELECT pg_current_wal_flush_lsn()::text AS lsn');
    expect(await B.pg.waitForReplay(lsn, 10_000)).toBe(true);
    expect(await sql(B, 'SELECT v FROM t')).toEqual([{ v: 'before failover' }]);

    // the slot for A on B moves to the LSN A reports, never beyond B's replay
    await B.pg.reconcileSlots([{ ...A.peer, lsn }], true);
    const [s] = await sql(B, `SELECT restart_lsn >= '${lsn}'::pg_lsn AS moved FROM pg_replication_slots`);
    expect(s?.moved).toBe(true);
  });

  it('B is promoted to timeline 2 while A, diverged, crashes', async () => {
    await A.pg.setSynchronousStandbyNames('');
    await B.pg.setReadOnly(true); // allowed on a standby, as in stop_replication
    await B.pg.promote();
    await B.pg.promote(); // idempotent
    await B.pg.removeStandbySetup();
    await B.pg.checkpoint();
    expect(existsSync(join(B.pgdata, 'standby.signal'))).toBe(false);
    expect(await B.pg.readFacts()).toMatchObject({ running: true, inRecovery: false, timeline: 2 });
    await expect(sql(B, "INSERT INTO t VALUES ('read-only')")).rejects.toThrow(/read-only/);
    await B.pg.setReadOnly(false);
    await B.pg.reconcileSlots([A.peer], false);
    await B.pg.reconcileHba([A.peer]);
    expect(await sql(B, `SELECT slot_name FROM pg_replication_slots`)).toEqual([{ slot_name: 'pgautofailover_standby_1' }]);

    await sql(A, "INSERT INTO t VALUES ('diverged on A')");
    await sql(B, "INSERT INTO t VALUES ('after failover')");
    await A.pg.stop('immediate');
    expect(await A.pg.isRunning()).toBe(false);
    expect((await A.pg.ctl.controlData())['Database cluster state']).toBe('in production');
  });

  it('a setting that ALTER SYSTEM already holds and that is in effect is not written again; one reset behind its back is', async () => {
    const auto = join(B.pgdata, 'postgresql.auto.conf');
    await B.pg.setReadOnly(true);
    const written = statSync(auto).ino; // ALTER SYSTEM writes a new file and renames it over the old one
    await B.pg.setReadOnly(true);
    expect(statSync(auto).ino).toBe(written);
    await expect(sql(B, "INSERT INTO t VALUES ('read-only again')")).rejects.toThrow(/read-only/);
    // in effect, but no longer in postgresql.auto.conf: a restart would lose it, so it is written
    await sql(B, 'ALTER SYSTEM RESET default_transaction_read_only');
    expect(readFileSync(auto, 'utf8')).not.toMatch(/default_transaction_read_only/);
    await B.pg.setReadOnly(true);
    expect(readFileSync(auto, 'utf8')).toMatch(/default_transaction_read_only = 'on'/);
    await B.pg.setReadOnly(false);
    expect(await sql(B, 'SHOW default_transaction_read_only')).toEqual([{ default_transaction_read_only: 'off' }]);
  });

  it('A is rewound from B and follows it as a standby on timeline 2', async () => {
    // stopped: the facts come from pg_controldata, run again only when pg_control changed
    const controlData = vi.spyOn(A.pg.ctl, 'controlData');
    const crashed = await A.pg.readFacts();
    expect(crashed).toMatchObject({ running: false, inRecovery: false, timeline: 1 });
    expect(await A.pg.readFacts()).toEqual(crashed);
    expect(controlData).toHaveBeenCalledTimes(1);
    controlData.mockClear();
    expect(await A.pg.rewind(B.peer)).toBe(true);
    const reads = controlData.mock.calls.length;
    const rewound = await A.pg.readFacts(); // pg_rewind wrote pg_control: read again
    expect(controlData.mock.calls.length).toBe(reads + 1);
    expect(rewound.lsn).not.toBe(crashed.lsn);
    controlData.mockRestore();
    // pg_rewind leaves it to finish recovery from B's WAL
    expect((await A.pg.ctl.controlData())['Database cluster state']).toBe('in archive recovery');
    // pg_rewind copied B's files: our settings are A's again
    expect(readFileSync(join(A.pgdata, 'postgresql-auto-failover.conf'), 'utf8')).toContain(`port = ${A.peer.port}`);

    await A.pg.writeStandbySetup({ upstream: B.peer });
    await A.pg.start();
    await until('A streaming from B', streamingFrom(B, 1));
    const [{ lsn }] = await sql<{ lsn: string }>(B, 'SELECT pg_current_wal_flush_lsn()::text AS lsn');
    expect(await A.pg.waitForReplay(lsn, 10_000)).toBe(true);
    expect((await sql(A, 'SELECT v FROM t ORDER BY v')).map((r) => r.v)).toEqual(['after failover', 'before failover']);

    const fa = await A.pg.readFacts();
    expect(fa).toMatchObject({ running: true, inRecovery: true, timeline: 2 });
    const fb = await B.pg.readFacts();
    expect(fb).toMatchObject({ running: true, inRecovery: false, timeline: 2, syncState: 'async', standbysConnected: 1 });

    await A.pg.stop('fast');
    const stopped = await A.pg.readFacts();
    expect(stopped).toMatchObject({ running: false, inRecovery: true, syncState: '', standbysConnected: 0 });
  });

  it('the keeper keeps one session to its Postgres across ticks and steps, and opens another after a restart', async () => {
    const keeperBackends = async () =>
      (await sql<{ pid: number }>(B, "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgaf keeper' ORDER BY pid")).map((r) => r.pid);
    await B.pg.readFacts(); // a tick: from now on the steps use the same session
    const kept = await keeperBackends();
    expect(kept).toHaveLength(1);
    expect(await B.pg.isInRecovery()).toBe(false);
    await B.pg.synchronousStandbyNames();
    await B.pg.checkpoint();
    await B.pg.readFacts();
    expect(await keeperBackends()).toEqual(kept);
    await B.pg.stop('fast');
    await B.pg.start();
    // the kept session ended with the server: the next step gets a new one, not an error
    expect(await B.pg.isInRecovery()).toBe(false);
    const after = await keeperBackends();
    expect(after).toHaveLength(1);
    expect(after).not.toEqual(kept);
    await B.pg.close();
    await until('the kept session gone after close()', async () => (await keeperBackends()).length === 0);
  });

  it('never logged the replication password', () => {
    if (process.env.PGAF_TEST_LOG) process.stderr.write(lines.join('\n') + '\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.filter((l) => l.includes(PASSWORD) || l.includes('s3cret'))).toEqual([]);
  });
});
