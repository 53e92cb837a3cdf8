// A pgaf formation on container hosts, set up the way README's "Run it with PM2" says: the
// packed module tarball installed offline with `pm2 install` as the postgres user on every
// host, one cluster file per host (/etc/pgaf/pgaf.config.yaml), `pm2 set pm2-pgaf:config`,
// monitor first, then the nodes one by one, then `pm2 save` so that a reboot resurrects it.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import pg from 'pg';
import type Docker from 'dockerode';
import { scramVerifier } from '../../lib/secrets.js';
import type { Target } from './checker.js';
import { PG_HOME, Tier, type Host, type HostSpec } from './tier.js';
import { waitFor } from '../support/until.js';

export { waitFor };

const REPO = join(import.meta.dirname, '..', '..');
export const PGPORT = 5432;
export const MODULE = 'pm2-pgaf';
export const CONFIG_FILE = '/etc/pgaf/pgaf.config.yaml';
export const DATA_PARENT = `${PG_HOME}/pgaf`;
export const PGDATA = `${DATA_PARENT}/data`;
const MODULE_DIR = `${PG_HOME}/.pm2/modules/${MODULE}/node_modules/${MODULE}`;
export const PGAF_CLI = `${MODULE_DIR}/dist/cli/main.js`;
/** The role the test's clients (writers, checks) log in as, with scram-sha-256 over SSL. */
export const CLIENT_ROLE = 'tier_client';

let packed: Promise<string> | undefined;
const packDirs: string[] = [];

/** Removes the tarballs packModule() made (a test file's afterAll: vitest may end a worker without 'exit'). */
export function removePackedModule(): void {
  for (const dir of packDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  packed = undefined;
}

/** The module tarball users get (`npm pack`: prepack builds dist/), once per process. */
export function packModule(): Promise<string> {
  packed ??= new Promise((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), 'pgaf-tier-pack-'));
    packDirs.push(dir);
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    execFile('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: REPO, timeout: 300_000, maxBuffer: 64 << 20 }, (err, _o, stderr) => {
      const f = existsSync(dir) ? readdirSync(dir).find((x) => x.endsWith('.tgz')) : undefined;
      if (err || !f) reject(new Error(`npm pack failed: ${String(stderr).trim() || err?.message}`));
      else resolve(join(dir, f));
    });
  });
  return packed;
}

/**
 * The host image with the packed module installed the way README says (`pm2 install` of the
 * tarball, offline, as the postgres user; `pgaf install-extension` as root), PM2 stopped, and
 * committed; tagged by the tarball's hash, so a new build of the module makes a new image.
 */
export async function moduleImage(docker: Docker, base: string, log: (m: string) => void = () => undefined): Promise<string> {
  const tarball = await packModule();
  const hash = createHash('sha256').update(base).update(readFileSync(tarball)).digest('hex').slice(0, 12);
  const tag = `pgaf-host-module:${hash}`;
  try {
    await docker.getImage(tag).inspect();
    return tag;
  } catch {
    // not built yet
  }
  const tier = new Tier(docker, base);
  try {
    await tier.create([{ name: 'installer', octet: 2 }]);
    const h = tier.host('installer');
    await waitFor('the installer host to boot', 60_000, async () => (await h.exec(['test', '-e', '/run/pgaf-boot.done'])).code === 0);
    const file = `/tmp/${basename(tarball)}`;
    await h.copyIn(tarball, file, 'postgres');
    await h.run(['pm2', 'install', file], { user: 'postgres', env: ['npm_config_offline=true'], timeoutMs: 300_000 });
    await h.run(['node', PGAF_CLI, '-q', 'install-extension']);
    await h.run(['pm2', 'kill'], { user: 'postgres' });
    await h.run(['rm', '-f', file]);
    const [repo, t] = tag.split(':') as [string, string];
    await h.container.commit({ repo, tag: t, comment: `pm2 install ${basename(tarball)}` });
    log(`built ${tag} (the module installed with pm2 install)`);
    return tag;
  } finally {
    await tier.destroy();
  }
}

export interface NodeRow {
  nodeid: number;
  nodename: string;
  nodehost: string;
  reportedstate: string;
  goalstate: string;
  reportedtli: number | null;
}

/** The primary's name when the monitor shows one primary and secondaries only, reported = goal. */
export function monitorConverged(rows: NodeRow[], nodes: number): string | undefined {
  if (rows.length !== nodes) return undefined;
  const prim = rows.filter((r) => r.reportedstate === 'primary' && r.goalstate === 'primary');
  const sec = rows.filter((r) => r.reportedstate === 'secondary' && r.goalstate === 'secondary');
  return prim.length === 1 && sec.length === rows.length - 1 ? prim[0]!.nodename : undefined;
}

export interface FormationOptions {
  nodes: number;
  /** extra host spec fields per node name (tmpfs for disk-full) */
  spec?: Record<string, Partial<HostSpec>>;
  /** extra cluster-file lines for the formation section */
  formationExtra?: string[];
  /** per node: candidate_priority */
  priority?: Record<string, number>;
  log?: (msg: string) => void;
}


/**
 * The test clients' password, generated per formation into a file of its own (mode 0600,
 * removed at exit); only its SCRAM verifier reaches the servers.
 */
function clientPasswordFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-tier-client-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'client.password');
  writeFileSync(file, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  return file;
}

export class Formation {
  readonly tier: Tier;
  readonly nodeNames: string[];
  private readonly log: (msg: string) => void;
  readonly passwordFile = clientPasswordFile();

  constructor(
    docker: Docker,
    image: string,
    private readonly o: FormationOptions,
  ) {
    this.tier = new Tier(docker, image);
    this.nodeNames = Array.from({ length: o.nodes }, (_, i) => `node${i + 1}`);
    this.log = o.log ?? (() => undefined);
  }

  get monitor(): Host {
    return this.tier.host('monitor');
  }

  node(name: string): Host {
    return this.tier.host(name);
  }

  get nodes(): Host[] {
    return this.nodeNames.map((n) => this.tier.host(n));
  }

  /** Client-side view of a node: the multi-host URI's host list, with the clients' credentials. */
  get uriHosts(): Target[] {
    const password = readFileSync(this.passwordFile, 'utf8').trim();
    return this.nodes.map((h) => ({ name: h.name, host: h.ip, port: PGPORT, user: CLIENT_ROLE, password }));
  }

  async pm2(h: Host, args: string[], env: string[] = [], timeoutMs = 300_000): Promise<string> {
    return h.run(['pm2', ...args], { user: 'postgres', env, timeoutMs });
  }

  private clusterFile(h: Host): string {
    const common = [`  pgdata: ${h.name === 'monitor' ? `${DATA_PARENT}/monitor` : PGDATA}`, `  port: ${PGPORT}`, `  hostname: ${h.ip}`, '  auth: trust', '  ssl: self-signed'];
    if (h.name === 'monitor') return ['node:', '  role: monitor', ...common, ''].join('\n');
    const prio = this.o.priority?.[h.name];
    return [
      'formation:',
      '  name: default',
      ...(this.o.formationExtra ?? []),
      'monitor:',
      `  uri: postgres://autoctl_node@${this.monitor.ip}:${PGPORT}/pg_auto_failover?sslmode=require`,
      'node:',
      '  role: postgres',
      `  name: ${h.name}`,
      ...common,
      ...(prio !== undefined ? [`  candidate_priority: ${prio}`] : []),
      '',
    ].join('\n');
  }

  /** Hosts created from the module image, cluster files written; nothing started yet. */
  async create(): Promise<void> {
    const specs: HostSpec[] = [{ name: 'monitor', octet: 10 }, ...this.nodeNames.map((n, i) => ({ name: n, octet: 11 + i, ...this.o.spec?.[n] }))];
    const image = await moduleImage(this.tier.docker, this.tier.image, this.log);
    this.tier.image = image;
    await this.tier.create(specs);
    this.log(`hosts up on ${this.tier.subnetPrefix}.0/24: ${specs.map((s) => s.name).join(', ')}`);
    await Promise.all(
      [...this.tier.hosts.values()].map(async (h) => {
        await h.sh(`mkdir -p ${DATA_PARENT} && chown postgres:postgres ${DATA_PARENT} && chmod 700 ${DATA_PARENT}`);
        await h.writeFile(CONFIG_FILE, this.clusterFile(h), 'postgres');
      }),
    );
    // the module came back with PM2 at boot (host-boot.sh), waiting for its configuration
    await Promise.all([...this.tier.hosts.values()].map((h) => waitFor(`PM2 and the module on ${h.name}`, 60_000, () => this.moduleOnline(h))));
  }

  async moduleOnline(h: Host): Promise<boolean> {
    return (await this.pm2Apps(h))?.[MODULE]?.status === 'online';
  }

  /** PM2's processes on a booted host: name → status and pid (undefined while it boots). */
  async pm2Apps(h: Host): Promise<Record<string, { status: string; pid: number }> | undefined> {
    if ((await h.exec(['test', '-e', '/run/pgaf-boot.done'])).code !== 0) return undefined;
    const r = await h.exec(['pm2', 'jlist'], { user: 'postgres', timeoutMs: 20_000 });
    const i = r.stdout.indexOf('[');
    if (r.code !== 0 || i < 0) return undefined;
    const list = JSON.parse(r.stdout.slice(i)) as Array<{ name: string; pid: number; pm2_env: { status: string } }>;
    return Object.fromEntries(list.map((p) => [p.name, { status: p.pm2_env.status, pid: p.pid }]));
  }

  /** After a reboot: PM2 resurrected the module, and Postgres runs as the module's PM2 app. */
  async waitResurrected(h: Host, timeoutMs = 180_000): Promise<void> {
    await waitFor(`PM2 to resurrect pgaf on ${h.name}`, timeoutMs, async () => {
      const apps = await this.pm2Apps(h);
      const pgApp = apps?.[`pgaf-postgres-${h.name}`];
      if (apps?.[MODULE]?.status !== 'online' || pgApp?.status !== 'online') return false;
      const pid = Number((await h.exec(['head', '-1', `${PGDATA}/postmaster.pid`])).stdout.trim());
      return pid === pgApp.pid;
    });
  }

  /**
   * The application's access, as an operator adds it: a role for the test's clients, created on
   * the primary (it replicates) with the SCRAM verifier of the password file's password,
   * allowed to create its table and read the replication status; and an HBA record on every
   * data node for that role from the test process (the bridge's gateway), over SSL, with
   * scram-sha-256.
   */
  async allowClients(primary: Host): Promise<void> {
    // the verifier goes in the environment (not in a command line an error would show), the
    // socket directory is the server's own (postmaster.pid's fifth line)
    const verifier = scramVerifier(readFileSync(this.passwordFile, 'utf8').trim());
    await primary.sh(
      [
        `psql -X -q -v ON_ERROR_STOP=1 -h "$(sed -n 5p ${PGDATA}/postmaster.pid)" -p ${PGPORT} -d postgres -v verifier="$TIER_CLIENT_VERIFIER" <<'SQL'`,
        `CREATE ROLE ${CLIENT_ROLE} LOGIN IN ROLE pg_read_all_stats PASSWORD :'verifier';`,
        `GRANT CREATE ON SCHEMA public TO ${CLIENT_ROLE};`,
        'SQL',
      ].join('\n'),
      { user: 'postgres', env: [`TIER_CLIENT_VERIFIER=${verifier}`] },
    );
    const line = `hostssl all ${CLIENT_ROLE} ${this.tier.gateway}/32 scram-sha-256`;
    await Promise.all(
      this.nodes.map((h) =>
        h.sh(`grep -qxF '${line}' ${PGDATA}/pg_hba.conf || echo '${line}' >> ${PGDATA}/pg_hba.conf; pg_ctl reload -s -D ${PGDATA}`, { user: 'postgres' }),
      ),
    );
  }

  /** Monitor, then each node in turn, then `pm2 save` everywhere (what `pm2 startup` resurrects). */
  async start(): Promise<void> {
    await this.pm2(this.monitor, ['set', `${MODULE}:config`, CONFIG_FILE]);
    await waitFor('the monitor to answer', 120_000, async () => (await this.monitorQuery('SELECT 1 AS one')).length === 1);
    for (const [i, n] of this.nodeNames.entries()) {
      await this.pm2(this.node(n), ['set', `${MODULE}:config`, CONFIG_FILE]);
      await waitFor(`${n} to join`, 180_000, async () => {
        const rows = await this.nodeRows();
        const r = rows.find((x) => x.nodename === n);
        if (!r) return false;
        return i === 0 ? ['single', 'wait_primary', 'primary'].includes(r.reportedstate) : r.reportedstate === 'secondary';
      });
    }
    const primary = await waitFor('one primary and secondaries on the monitor', 180_000, async () => monitorConverged(await this.nodeRows(), this.nodeNames.length));
    await this.allowClients(this.node(primary));
    await this.waitConverged(60_000);
    for (const h of this.tier.hosts.values()) await this.pm2(h, ['save']);
    this.log('formation up and saved');
  }

  async monitorQuery<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    const c = new pg.Client({
      host: this.monitor.ip,
      port: PGPORT,
      user: 'autoctl_node',
      database: 'pg_auto_failover',
      connectionTimeoutMillis: 2000,
      query_timeout: 5000,
      ssl: { rejectUnauthorized: false },
    });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query<R>(sql, params)).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async nodeRows(): Promise<NodeRow[]> {
    return this.monitorQuery<NodeRow>(
      `SELECT nodeid, nodename, nodehost, reportedstate::text, goalstate::text, reportedtli FROM pgautofailover.node ORDER BY nodeid`,
    );
  }

  /**
   * One primary and every other node secondary, reported = goal on the monitor, and the
   * servers agree: the primary's Postgres accepts writes, each secondary's is in recovery and
   * streaming. Returns the primary's name.
   */
  async converged(): Promise<string | undefined> {
    const rows = await this.nodeRows();
    const prim = monitorConverged(rows, this.nodeNames.length);
    if (!prim) return undefined;
    for (const r of rows) {
      const s = await this.serverState(this.node(r.nodename));
      if (r.nodename === prim ? s !== 'primary' : s !== 'streaming') return undefined;
    }
    return prim;
  }

  /** What a node's Postgres says: 'primary', 'streaming' (a standby receiving WAL), 'recovery' or undefined. */
  async serverState(h: Host): Promise<string | undefined> {
    const t = this.uriHosts.find((x) => x.name === h.name)!;
    const c = new pg.Client({ ...t, database: 'postgres', connectionTimeoutMillis: 2000, query_timeout: 3000, ssl: { rejectUnauthorized: false } });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const r = await c.query<{ rec: boolean; st: string | null }>('SELECT pg_is_in_recovery() AS rec, (SELECT status FROM pg_stat_wal_receiver) AS st');
      const row = r.rows[0]!;
      return !row.rec ? 'primary' : row.st === 'streaming' ? 'streaming' : 'recovery';
    } catch {
      return undefined;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async waitConverged(timeoutMs: number): Promise<string> {
    return waitFor('one primary and secondaries', timeoutMs, () => this.converged());
  }

  async primaryName(): Promise<string | undefined> {
    const rows = await this.nodeRows();
    return rows.find((r) => r.goalstate === 'primary' || r.reportedstate === 'primary')?.nodename;
  }

  async destroy(): Promise<void> {
    try {
      await this.tier.destroy();
    } finally {
      rmSync(dirname(this.passwordFile), { recursive: true, force: true });
    }
  }

  /** The last lines of every host's pgaf logs (for a failure report). */
  async logs(lines = 60): Promise<string> {
    const out: string[] = [];
    for (const h of this.tier.hosts.values()) {
      const r = await h.exec(['sh', '-c', `tail -n ${lines} ${PG_HOME}/.pm2/logs/${MODULE}-out.log ${PG_HOME}/.pm2/logs/${MODULE}-error.log 2>&1; tail -n 20 /var/log/pgaf/boot.log 2>/dev/null`]).catch((e: Error) => ({ stdout: e.message, stderr: '', code: 1 }));
      out.push(`==== ${h.name} ====\n${r.stdout}${r.stderr}`);
    }
    return out.join('\n');
  }
}
