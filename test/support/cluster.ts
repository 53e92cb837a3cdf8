// A pgaf cluster of real processes for end-to-end tests: a monitor (`pgaf run`) and data
// nodes (`pgaf create postgres --run`), each with its own folders as if on its own host,
// all on 127.0.0.1. Everything started here is stopped by PID in destroy(), even after a
// failed test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pgBin, postgresRunAs } from '../../lib/pgbin.js';
import { freePort } from './postgres.js';
import { CLI, runCli, type CliResult } from './run-cli.js';
import { pgConnectionKind, TcpProxy, type ProxyMode } from './proxy.js';

export { CLI };

export interface NodeState {
  nodeid: number;
  nodename: string;
  nodeport: number;
  reportedstate: string;
  goalstate: string;
  health: number;
}

interface Member {
  name: string;
  dir: string;
  port: number;
  proc?: ChildProcess;
  /** the address the node registered with (the monitor and the standbys use it) */
  host?: string;
  /** proxied clusters: 127.0.0.(10+N):port -> 127.0.0.1:port (monitor->node, standby->node,
   *  clients of the formation URI) and 127.0.0.(50+N):monitor port -> the monitor (this
   *  node's keeper->monitor) */
  proxies?: { postgres: TcpProxy; monitor: TcpProxy };
}

export interface ClusterOptions {
  /**
   * Put each data node behind its own address: node N registers with --hostname
   * 127.0.0.(10+N) and listens on 127.0.0.1, and a proxy on 127.0.0.(10+N):pgport forwards
   * to it; its keeper reaches the monitor through a proxy on 127.0.0.(50+N):monitorport.
   * A client can still reach any node directly at 127.0.0.1:pgport.
   */
  proxied?: boolean;
  /** SSL options of create monitor and create postgres (default --no-ssl) */
  ssl?: string[];
  /** query string of the monitor URI the nodes are given (default sslmode=prefer; '' for none) */
  monitorUriQuery?: string;
}

const SSL_CHOICE = /^--(no-ssl|ssl-self-signed|ssl-ca-file|ssl-crl-file|server-cert|server-key)$/;

/** Which of a node's links partition()/heal() switch. */
export type NodeLink =
  /** everything that reaches this node's Postgres through its address: health checks, replication from it, formation-URI clients */
  | 'postgres'
  /** only the replication connections to this node (its standbys streaming from it) */
  | 'replication'
  /** this node's keeper -> monitor */
  | 'monitor';

const liveClusters = new Set<TestCluster>();

/** Short monitor timeouts that keep the e2e tests quick; the rules are the same as with the defaults. */
export const FAST_MONITOR_SETTINGS: Record<string, string> = Object.freeze({
  node_considered_unhealthy_timeout: '3s',
  primary_demote_timeout: '5s',
  health_check_period: '1s',
  health_check_timeout: '1s',
  health_check_max_retries: '1',
  health_check_retry_delay: '500ms',
  startup_grace_period: '0',
});

export class TestCluster {
  readonly base: string;
  /** the current monitor; replaceMonitor() retires it (destroy() still cleans it up) */
  monitor: Member;
  private readonly retiredMonitors: Member[] = [];
  readonly nodes = new Map<string, Member>();
  private readonly runAs = postgresRunAs();
  private monitorClient?: pg.Client;
  readonly proxied: boolean;
  private readonly sslArgs: string[];
  private readonly monitorUriQuery: string;
  private nodeCount = 0;

  private constructor(base: string, monitorPort: number, opts: ClusterOptions = {}) {
    this.base = base;
    this.proxied = opts.proxied ?? false;
    this.sslArgs = opts.ssl ?? ['--no-ssl'];
    this.monitorUriQuery = opts.monitorUriQuery ?? 'sslmode=prefer';
    this.monitor = { name: 'monitor', dir: join(base, 'monitor'), port: monitorPort };
    liveClusters.add(this);
  }

  static async create(opts: ClusterOptions = {}): Promise<TestCluster> {
    const base = mkdtempSync(join(tmpdir(), 'pgaf-e2e-'));
    const c = new TestCluster(base, await freePort(), opts);
    c.mkdirs(c.monitor.dir);
    return c;
  }

  get monitorUri(): string {
    return this.monitorUriAt('127.0.0.1', this.monitor.port);
  }

  private monitorUriAt(host: string, port: number): string {
    const q = this.monitorUriQuery;
    return `postgres://autoctl_node@${host}:${port}/pg_auto_failover${q ? `?${q}` : ''}`;
  }

  private mkdirs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    if (this.runAs) {
      chownSync(this.base, this.runAs.uid, this.runAs.gid);
      chownSync(dir, this.runAs.uid, this.runAs.gid);
    }
  }

  env(m: Member): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PGDATA: join(m.dir, 'pgdata'),
      XDG_CONFIG_HOME: join(m.dir, 'config'),
      XDG_DATA_HOME: join(m.dir, 'share'),
      XDG_RUNTIME_DIR: join(m.dir, 'run'),
      PGHOST: m.dir,
      PG_AUTOCTL_DEBUG: '1',
    };
  }

  member(name: string): Member {
    if (name === 'monitor') return this.monitor;
    const m = this.nodes.get(name);
    if (!m) throw new Error(`no node ${name}`);
    return m;
  }

  /** Runs a pgaf command for a member and waits for it (asynchronously: services keep logging). */
  cli(name: string, args: string[], timeoutMs = 120_000): Promise<CliResult> {
    return runCli(args, this.env(this.member(name)), timeoutMs);
  }


  private startService(m: Member, args: string[]): void {
    const log = createWriteStream(join(m.dir, 'pgaf.log'), { flags: 'a' });
    const verbose = process.env.PGAF_TEST_QUIET ? [] : ['-v'];
    const proc = spawn(process.execPath, [CLI, ...verbose, ...args], { env: this.env(m), stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.pipe(log);
    proc.stderr!.pipe(log);
    m.proc = proc;
  }

  /**
   * create monitor, then `pgaf run` on it; `settings` are ALTER SYSTEM pgautofailover.* values;
   * `ssl` replaces the cluster's SSL options for the monitor.
   */
  async startMonitor(settings: Record<string, string> = {}, ssl = this.sslArgs): Promise<void> {
    const r = await this.cli('monitor', ['create', 'monitor', '--pgport', String(this.monitor.port), '--hostname', '127.0.0.1', '--auth', 'trust', ...ssl]);
    if (r.code !== 0) throw new Error(`create monitor failed (${r.code}): ${r.stderr}`);
    for (const [k, v] of Object.entries(settings)) {
      await this.monitorQuery(`ALTER SYSTEM SET pgautofailover.${k} = '${v}'`);
    }
    if (Object.keys(settings).length) await this.monitorQuery('SELECT pg_reload_conf()');
    this.startService(this.monitor, ['run']);
  }

  /**
   * A new monitor member (its own folders and port) in place of the current one, which the
   * caller stopped or dropped; startMonitor() then creates and runs it.
   */
  async replaceMonitor(): Promise<void> {
    await this.monitorClient?.end().catch(() => undefined);
    this.monitorClient = undefined;
    this.retiredMonitors.push(this.monitor);
    this.monitor = { name: 'monitor', dir: join(this.base, `monitor${this.retiredMonitors.length + 1}`), port: await freePort() };
    this.mkdirs(this.monitor.dir);
  }

  /**
   * `create postgres --disable-monitor --node-id <id>` for a new node, then `pgaf run` on it:
   * it stays in init until `do fsm assign` gives it a goal.
   */
  async addNodeWithoutMonitor(name: string, nodeId: number): Promise<void> {
    if (this.nodes.has(name)) throw new Error(`node ${name} exists`);
    const m: Member = { name, dir: join(this.base, name), port: await freePort(), host: '127.0.0.1' };
    this.mkdirs(m.dir);
    this.nodes.set(name, m);
    const r = await this.cli(name, [
      'create', 'postgres', '--disable-monitor', '--node-id', String(nodeId), '--pgport', String(m.port), '--hostname', '127.0.0.1',
      '--listen', '127.0.0.1', '--name', name, '--auth', 'trust', '--no-ssl',
    ]);
    if (r.code !== 0) throw new Error(`create postgres --disable-monitor failed (${r.code}): ${r.stderr}`);
    this.startService(m, ['run']);
  }

  /** One statement on a data node's Postgres (127.0.0.1, database postgres, as the superuser; plain unless opts.ssl). */
  async nodeQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
    name: string,
    sql: string,
    params: unknown[] = [],
    opts: { ssl?: boolean; connectTimeoutMs?: number } = {},
  ): Promise<R[]> {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: this.member(name).port,
      user: this.superuser,
      database: 'postgres',
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 3000,
      // SSL without verification (the test's own connection, to see pg_stat_ssl)
      ssl: opts.ssl ? { rejectUnauthorized: false } : false,
    });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query(sql, params as unknown[])).rows as R[];
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /**
   * Starts `create postgres --run` for a new node (behind its proxies in a proxied cluster);
   * SSL options in `extra` replace the cluster's.
   */
  async addNode(name: string, extra: string[] = [], opts: { firstReadme?: boolean } = {}): Promise<void> {
    if (this.nodes.has(name)) throw new Error(`node ${name} exists`);
    const m: Member = { name, dir: join(this.base, name), port: await freePort(), host: '127.0.0.1' };
    let monitorUri = this.monitorUri;
    if (this.proxied) {
      const n = ++this.nodeCount;
      if (n > 39) throw new Error('at most 39 proxied nodes');
      m.host = `127.0.0.${10 + n}`;
      const postgres = await TcpProxy.start({
        name: `${name} postgres`,
        listenHost: m.host,
        listenPort: m.port,
        targetPort: m.port,
        classify: pgConnectionKind,
      });
      let monitor: TcpProxy;
      try {
        monitor = await TcpProxy.start({ name: `${name} keeper->monitor`, listenHost: `127.0.0.${50 + n}`, listenPort: this.monitor.port, targetPort: this.monitor.port });
      } catch (err) {
        await postgres.close();
        throw err;
      }
      m.proxies = { postgres, monitor };
      monitorUri = this.monitorUriAt(monitor.listenHost, monitor.listenPort);
    }
    this.mkdirs(m.dir);
    this.nodes.set(name, m);
    if (opts.firstReadme) {
      // the form of pg_auto_failover's first README: --nodename, no --auth, no SSL option
      this.startService(m, ['create', 'postgres', '--pgport', String(m.port), '--nodename', m.host!, '--monitor', monitorUri, '--run', ...extra]);
      return;
    }
    this.startService(m, [
      'create', 'postgres', '--pgport', String(m.port), '--hostname', m.host!, '--listen', '127.0.0.1',
      '--name', name, '--auth', 'trust', ...(extra.some((a) => SSL_CHOICE.test(a)) ? [] : this.sslArgs),
      '--monitor', monitorUri, '--run', ...extra,
    ]);
  }

  /** The address `name` registered with: 127.0.0.(10+N) in a proxied cluster, else 127.0.0.1. */
  hostOf(name: string): string {
    return this.member(name).host ?? '127.0.0.1';
  }

  private proxiesOf(name: string): { postgres: TcpProxy; monitor: TcpProxy } {
    const p = this.member(name).proxies;
    if (!p) throw new Error(`${name} has no proxies: create the cluster with { proxied: true }`);
    return p;
  }

  /** The proxy of one link of a node (proxied clusters). */
  proxy(name: string, link: 'postgres' | 'monitor'): TcpProxy {
    return this.proxiesOf(name)[link];
  }

  /**
   * Cuts (or slows) a node off: by default both of its proxies (everything that reaches its
   * Postgres by its registered address, and its keeper's link to the monitor), else only the
   * links named. A client connected to 127.0.0.1:port directly is not affected.
   */
  partition(name: string, mode: ProxyMode = 'blackhole', opts: { links?: NodeLink[]; delayMs?: number } = {}): void {
    const p = this.proxiesOf(name);
    const links = opts.links ?? ['postgres', 'monitor'];
    for (const link of links) {
      if (link === 'monitor') p.monitor.setMode(mode, { delayMs: opts.delayMs });
      else if (link === 'postgres') p.postgres.setMode(mode, { delayMs: opts.delayMs });
      else p.postgres.setMode(mode, { delayMs: opts.delayMs, kind: 'replication' });
    }
  }

  /** Every link of the node passes again. */
  heal(name: string): void {
    const p = this.proxiesOf(name);
    p.postgres.setMode('pass');
    p.monitor.setMode('pass');
  }

  /** `pgaf run` again for a node whose keeper was stopped or killed. */
  restartKeeper(name: string): void {
    const m = this.member(name);
    if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null) throw new Error(`${name}'s keeper still runs`);
    this.startService(m, ['run']);
  }

  keeperPid(name: string): number | undefined {
    return this.member(name).proc?.pid;
  }

  postmasterPid(name: string): number | undefined {
    return postmasterPidIn(this.member(name).dir);
  }

  /** SIGKILL the keeper (or monitor service) process of `name`. */
  async killKeeper(name: string): Promise<void> {
    const m = this.member(name);
    const proc = m.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM the keeper and wait for it to exit. */
  async stopKeeper(name: string): Promise<void> {
    const proc = this.member(name).proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }

  /** SIGKILL the postmaster of `name` (its children exit by themselves). */
  killPostgres(name: string): void {
    const pid = this.postmasterPid(name);
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Host death: keeper and Postgres killed at once. */
  async killHost(name: string): Promise<void> {
    this.killPostgres(name);
    await this.killKeeper(name);
  }

  async monitorQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    if (!this.monitorClient) {
      const user = this.runAs?.name ?? process.env.USER ?? 'postgres';
      const c = new pg.Client({ host: '127.0.0.1', port: this.monitor.port, user, database: 'pg_auto_failover', connectionTimeoutMillis: 3000 });
      c.on('error', () => undefined);
      await c.connect();
      this.monitorClient = c;
    }
    try {
      return (await this.monitorClient.query(sql, params as unknown[])).rows as R[];
    } catch (err) {
      await this.monitorClient.end().catch(() => undefined);
      this.monitorClient = undefined;
      throw err;
    }
  }

  async states(): Promise<NodeState[]> {
    const rows = await this.monitorQuery<NodeState>(
      `SELECT nodeid::int, nodename, nodeport, reportedstate::text, goalstate::text, health FROM pgautofailover.node ORDER BY nodeid`,
    );
    return rows;
  }

  async stateOf(name: string): Promise<NodeState | undefined> {
    return (await this.states()).find((s) => s.nodename === name);
  }

  /** Polls until `pred` holds; the error names what was expected and the last states seen. */
  async waitFor(what: string, pred: (s: NodeState[]) => boolean, timeoutMs = 60_000): Promise<NodeState[]> {
    const deadline = Date.now() + timeoutMs;
    let last: NodeState[] = [];
    for (;;) {
      try {
        last = await this.states();
        if (pred(last)) return last;
      } catch {
        // monitor restarting
      }
      if (Date.now() > deadline) {
        const logs = [...this.nodes.keys()].map((n) => `--- ${n}\n${this.logTail(n, 12)}`).join('\n');
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; states: ${last.map((s) => `${s.nodename}=${s.reportedstate}/${s.goalstate}`).join(' ')}\n${logs}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async waitForStates(want: Record<string, string>, timeoutMs = 60_000): Promise<NodeState[]> {
    return this.waitFor(
      Object.entries(want).map(([n, s]) => `${n}=${s}`).join(' '),
      (states) => Object.entries(want).every(([n, s]) => states.some((x) => x.nodename === n && x.reportedstate === s && x.goalstate === s)),
      timeoutMs,
    );
  }

  async primaryName(): Promise<string | undefined> {
    return (await this.states()).find((s) => ['primary', 'wait_primary', 'single'].includes(s.goalstate))?.nodename;
  }

  async formationUri(): Promise<string> {
    const r = await this.cli('monitor', ['show', 'uri', '--formation', 'default']);
    const uri = r.stdout.trim().split('\n').pop() ?? '';
    if (!uri.startsWith('postgres')) throw new Error(`show uri printed no URI: ${r.stdout} ${r.stderr}`);
    return uri;
  }

  get superuser(): string {
    return this.runAs?.name ?? process.env.USER ?? 'postgres';
  }

  /** Stops everything started here (by PID) and removes the folders. */
  async destroy(): Promise<void> {
    await this.monitorClient?.end().catch(() => undefined);
    this.monitorClient = undefined;
    for (const m of this.nodes.values()) {
      if (m.proxies) {
        await m.proxies.postgres.close().catch(() => undefined);
        await m.proxies.monitor.close().catch(() => undefined);
      }
    }
    const members = this.allMembers();
    for (const m of members) {
      if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null) m.proc.kill('SIGKILL');
    }
    for (const m of members) {
      const pgdata = join(m.dir, 'pgdata');
      if (existsSync(join(pgdata, 'postmaster.pid'))) {
        spawnSync(pgBin('pg_ctl'), ['-D', pgdata, '-m', 'immediate', '-w', '-t', '20', 'stop'], {
          uid: this.runAs?.uid,
          gid: this.runAs?.gid,
          cwd: '/',
          stdio: 'ignore',
        });
        const pid = postmasterPidIn(m.dir);
        if (pid) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
    }
    rmSync(this.base, { recursive: true, force: true });
    liveClusters.delete(this);
  }

  /** Data nodes, the current monitor and the retired ones. */
  allMembers(): Member[] {
    return [...this.nodes.values(), this.monitor, ...this.retiredMonitors];
  }

  /** The last lines of a member's pgaf log, for failure messages. */
  logTail(name: string, lines = 30): string {
    try {
      return readFileSync(join(this.member(name).dir, 'pgaf.log'), 'utf8')
        .split('\n')
        .filter((l) => !l.includes(' DEBUG ') && !l.includes(' TRACE '))
        .slice(-lines)
        .join('\n');
    } catch {
      return '';
    }
  }
}

function postmasterPidIn(memberDir: string): number | undefined {
  const f = join(memberDir, 'pgdata', 'postmaster.pid');
  if (!existsSync(f)) return undefined;
  const pid = Number(readFileSync(f, 'utf8').split('\n')[0]);
  return pid > 0 ? pid : undefined;
}

process.once('exit', () => {
  for (const c of liveClusters) {
    for (const m of c.allMembers()) {
      if (m.proc && m.proc.exitCode === null) m.proc.kill('SIGKILL');
      const pid = postmasterPidIn(m.dir);
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    rmSync(c.base, { recursive: true, force: true });
  }
});
