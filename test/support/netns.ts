// The topology of pg_auto_failover's own integration tests: one Linux network namespace per
// node on a private bridge, every node on port 5432 of its own address, PG_REGRESS_SOCK_DIR=""
// (no Unix socket: local connections over TCP to localhost), partitions by bringing a node's
// interface down. Addresses in 172.29.0.0/24, behind the guard route that makes the rest of
// 172.16.0.0/12 unreachable (added when absent, never removed: it is shared).
//
// Every name (bridge, veth, namespace, firewall rule comment) carries this run's id, and
// destroy() removes all of it, processes first; a process exit handler runs it too, so an
// interrupted run leaves nothing behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { packagePathFor } from './readable-package.js';

export const SUBNET = '172.29.0';
const GUARD = '172.16.0.0/12';
const PG_BIN = '/usr/lib/postgresql/15/bin';

function sh(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function pgUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres OS user');
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** A process that exists and is not a zombie waiting to be reaped. */
function liveProcess(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The shared guard route: every 172.16.0.0/12 address this machine has no more specific
 * route for is unreachable. Added when absent (before any namespace exists), never removed.
 */
export function ensureGuardRoute(): void {
  if (!/unreachable 172\.16\.0\.0\/12/.test(sh('ip', ['route', 'show', 'type', 'unreachable']))) {
    sh('ip', ['route', 'add', 'unreachable', GUARD]);
  }
}

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class NetnsNode {
  /** the pg_autoctl run (or create --run) process, while it runs */
  service?: ChildProcess;
  serviceLog = '';
  constructor(
    readonly rig: NetnsRig,
    readonly name: string,
    readonly ns: string,
    readonly veth: string,
    readonly address: string,
    readonly pgdata: string,
  ) {}

  /** argv that runs `cmd` in this node's namespace as the postgres OS user with the rig's environment */
  argv(cmd: string[]): string[] {
    const u = pgUser();
    return ['netns', 'exec', this.ns, 'setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', 'env', ...this.rig.envList(), ...cmd];
  }

  /** Runs `pg_autoctl …` (pgaf under the original's name) in the namespace and waits. */
  autoctl(args: string[], timeoutMs = 120_000): Promise<CmdResult> {
    return this.nsExec(['pg_autoctl', ...args], timeoutMs);
  }

  nsExec(cmd: string[], timeoutMs = 120_000): Promise<CmdResult> {
    return new Promise((resolve) => {
      const p = spawn('ip', this.argv(cmd), { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.stdout!.on('data', (d) => (stdout += d));
      p.stderr!.on('data', (d) => (stderr += d));
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  }

  /** Starts `pg_autoctl <args>` (default: run) in the background, as the rig's PGAutoCtl.run() does. */
  startService(args: string[] = ['run', '--pgdata', this.pgdata]): void {
    if (this.service) throw new Error(`${this.name}: already running`);
    // setpriv and ip netns exec exec(): the child's pid is pg_autoctl's own
    const p = spawn('ip', this.argv(['pg_autoctl', ...args]), { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (d) => (this.serviceLog += d));
    p.stderr!.on('data', (d) => (this.serviceLog += d));
    p.on('exit', () => {
      if (this.service === p) this.service = undefined;
    });
    this.service = p;
  }

  /** SIGTERM to the service process (by pid), then wait for it to exit. */
  async stopService(): Promise<void> {
    const p = this.service;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  }

  /** pid of the postmaster of this node, from postmaster.pid, when that process lives */
  livePostmaster(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) {
        process.kill(pid, 0);
        return pid;
      }
    } catch {
      // no file or no process
    }
    return undefined;
  }

  /** pg_ctl stop (fast), as the rig's stop_postgres */
  async stopPostgres(): Promise<void> {
    if (!this.livePostmaster()) return;
    await this.nsExec([join(PG_BIN, 'pg_ctl'), '-D', this.pgdata, '--wait', '--mode', 'fast', 'stop'], 60_000);
  }

  /** a node failure as the rig's fail(): the keeper terminated, Postgres stopped */
  async failNode(): Promise<void> {
    await this.stopService();
    await this.stopPostgres();
  }

  ifdown(): void {
    sh('ip', ['-n', this.ns, 'link', 'set', 'eth0', 'down']);
  }

  ifup(): void {
    sh('ip', ['-n', this.ns, 'link', 'set', 'eth0', 'up']);
  }

  /** One query against this node's Postgres on its address, port 5432. */
  async sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = [], opts: { user?: string; database?: string } = {}): Promise<R[]> {
    const c = new pg.Client({
      host: this.address,
      port: 5432,
      user: opts.user ?? 'postgres',
      database: opts.database ?? 'postgres',
      connectionTimeoutMillis: 3000,
      query_timeout: 10_000,
    });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.query<R>(text, params as unknown[])).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

export class NetnsRig {
  readonly id: string;
  readonly bridge: string;
  readonly base: string;
  readonly nodes: NetnsNode[] = [];
  private readonly binDir: string;
  private readonly fwComment: string;
  private fwRule = false;
  private destroyed = false;
  /** postmasters found running at destroy time: leftovers() checks they are gone */
  private readonly postmasters: number[] = [];
  private readonly onExit = () => this.destroySync();

  constructor() {
    this.id = `${process.pid % 100000}`;
    this.bridge = `pgafbr${this.id}`;
    this.fwComment = `pgaf-netns-${this.id}`;
    this.base = mkdtempSync(join(tmpdir(), 'pgaf-netns-'));
    this.binDir = join(this.base, 'bin');
    process.once('exit', this.onExit);
  }

  /** The environment of every command: the original rig's, plus private XDG directories. */
  envList(): string[] {
    return [
      'PG_REGRESS_SOCK_DIR=',
      'PG_AUTOCTL_DEBUG=1',
      'PGHOST=localhost',
      `PATH=${this.binDir}:${PG_BIN}:/usr/bin:/bin:/usr/sbin:/sbin`,
      `HOME=${this.base}`,
      `XDG_CONFIG_HOME=${join(this.base, 'config')}`,
      `XDG_DATA_HOME=${join(this.base, 'share')}`,
      `XDG_RUNTIME_DIR=${join(this.base, 'run')}`,
    ];
  }

  /** Guard route, bridge, `pg_autoctl` on PATH (a symlink to pgaf's CLI). */
  build(): void {
    ensureGuardRoute();
    const u = pgUser();
    chownSync(this.base, u.uid, u.gid);
    mkdirSync(this.binDir);
    symlinkSync(packagePathFor(u, this.base, ['package.json', 'dist', 'node_modules', 'monitor-ext'], 'dist/cli/main.js'), join(this.binDir, 'pg_autoctl'));
    for (const d of ['config', 'share', 'run', 'data']) {
      mkdirSync(join(this.base, d), { mode: 0o700 });
      chownSync(join(this.base, d), u.uid, u.gid);
    }
    sh('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${SUBNET}.1/24`, 'dev', this.bridge]);
    sh('ip', ['link', 'set', this.bridge, 'up']);
    // bridged traffic may cross iptables' FORWARD chain (br_netfilter): let this bridge's own through
    const r = spawnSync('iptables', ['-I', 'FORWARD', '-i', this.bridge, '-o', this.bridge, '-m', 'comment', '--comment', this.fwComment, '-j', 'ACCEPT']);
    this.fwRule = r.status === 0;
  }

  /** A namespace with lo and eth0 (address 172.29.0.<10+n>) on the bridge. */
  addNamespaceNode(name: string): NetnsNode {
    const n = this.nodes.length;
    const ns = `pgaf${this.id}n${n}`;
    const veth = `pv${this.id}n${n}`;
    const address = `${SUBNET}.${10 + n}`;
    sh('ip', ['netns', 'add', ns]);
    const node = new NetnsNode(this, name, ns, veth, address, join(this.base, 'data', name));
    this.nodes.push(node);
    sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`]);
    sh('ip', ['link', 'set', `${veth}p`, 'netns', ns]);
    sh('ip', ['-n', ns, 'link', 'set', `${veth}p`, 'name', 'eth0']);
    sh('ip', ['link', 'set', veth, 'master', this.bridge, 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    return node;
  }

  /** Everything this rig created: services, Postgres servers, namespaces, links, the firewall rule, files. */
  async teardown(): Promise<void> {
    for (const n of this.nodes) await n.stopService().catch(() => undefined);
    this.destroySync();
  }

  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.onExit);
    for (const n of this.nodes) {
      if (n.service && n.service.exitCode === null) n.service.kill('SIGKILL');
      const pid = n.livePostmaster();
      if (pid) {
        this.postmasters.push(pid);
        spawnSync('ip', n.argv([join(PG_BIN, 'pg_ctl'), '-D', n.pgdata, '--wait', '--mode', 'immediate', 'stop']), { timeout: 30_000 });
        try {
          process.kill(pid, 0);
          process.kill(pid, 'SIGKILL');
        } catch {
          // stopped
        }
      }
    }
    for (const n of this.nodes) {
      sh('ip', ['link', 'del', n.veth], { allowFail: true });
      sh('ip', ['netns', 'del', n.ns], { allowFail: true });
    }
    sh('ip', ['link', 'del', this.bridge], { allowFail: true });
    if (this.fwRule) {
      spawnSync('iptables', ['-D', 'FORWARD', '-i', this.bridge, '-o', this.bridge, '-m', 'comment', '--comment', this.fwComment, '-j', 'ACCEPT']);
    }
    rmSync(this.base, { recursive: true, force: true });
  }

  /** What is left of this rig on the machine (for the test's own check after destroy). */
  async leftovers(): Promise<string[]> {
    const left: string[] = [];
    // a postmaster stopped by pg_ctl may take a moment to exit, and to be reaped by init
    const deadline = Date.now() + 15_000;
    while (this.postmasters.some(liveProcess) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const netns = sh('ip', ['netns', 'list'], { allowFail: true });
    for (const n of this.nodes) if (netns.includes(n.ns)) left.push(`netns ${n.ns}`);
    if (sh('ip', ['link', 'show', this.bridge], { allowFail: true }).trim()) left.push(`bridge ${this.bridge}`);
    for (const pid of this.postmasters) if (liveProcess(pid)) left.push(`postgres pid ${pid}`);
    for (const n of this.nodes) if (n.service && n.service.exitCode === null) left.push(`pg_autoctl of ${n.name}`);
    if (existsSync(this.base)) left.push(this.base);
    return left;
  }
}

/** Writes a file readable by the postgres OS user (a nodes file, a script). */
export function writeShared(path: string, text: string): void {
  writeFileSync(path, text);
  const u = pgUser();
  chownSync(path, u.uid, u.gid);
}
