// The Ansible example (examples/ansible/) run for real: Debian's ansible-playbook, the
// community.docker connection plugin (docker exec, no SSH) into three container hosts of
// the tier (db-mon, db-1, db-2) built from the base image plus python3 (ansible-image.sh),
// with nothing of pgaf on them: the play copies and installs the packed module. The example
// directory is copied to a private work directory with the tarball in files/, a vault file
// holding autoctl_node's password (encrypted with ansible-vault) and an inventory overlay
// that maps the example's host names to the containers.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type Docker from 'dockerode';
import { packModule, waitFor } from './formation.js';
import { PG_HOME, Tier, type Host } from './tier.js';

const HERE = import.meta.dirname;
export const EXAMPLE_DIR = join(HERE, '..', '..', 'examples', 'ansible');
export const PGDATA = `${PG_HOME}/pgaf`;
const PM2_HOME = `${PG_HOME}/.pm2`;
const CLI = `${PM2_HOME}/modules/pm2-pgaf/node_modules/pm2-pgaf/dist/cli/main.js`;
export const HOSTS = [
  { name: 'db-mon', octet: 10 },
  { name: 'db-1', octet: 11 },
  { name: 'db-2', octet: 12 },
];

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === -1 ? err.message : '') });
    });
  });
}

/** The base image plus python3 (built once, tagged by the base and the script). */
export async function ansibleImage(base: string): Promise<string> {
  const r = await run('bash', [join(HERE, 'ansible-image.sh'), base], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`ansible-image.sh failed: ${r.stderr.trim()}`);
  return r.stdout.trim().split('\n').pop()!;
}

export interface HostStats {
  ok: number;
  changed: number;
  failures: number;
  unreachable: number;
  skipped: number;
}

export interface TaskResult {
  task: string;
  host: string;
  changed: boolean;
  failed: boolean;
  skipped: boolean;
  diff: Array<{ before?: string; after?: string; before_header?: string; after_header?: string }>;
  stdout?: string;
  /** a failed task's message and stderr's end */
  error?: string;
}

export interface PlayRun {
  code: number;
  stats: Record<string, HostStats>;
  tasks: TaskResult[];
  /** ansible-playbook's whole output (the json callback), for a failure message */
  output: string;
}

interface JsonCallback {
  plays: Array<{ tasks: Array<{ task: { name: string }; hosts: Record<string, Record<string, unknown>> }> }>;
  stats: Record<string, HostStats>;
}

/** The json callback's document, read into per-host stats and per-task results. */
export function parsePlayOutput(code: number, stdout: string, stderr: string): PlayRun {
  const i = stdout.indexOf('{');
  let doc: JsonCallback;
  try {
    doc = JSON.parse(stdout.slice(i)) as JsonCallback;
  } catch {
    throw new Error(`ansible-playbook exited ${code} without a JSON report: ${(stderr + stdout).trim().slice(-3000)}`);
  }
  const tasks: TaskResult[] = [];
  for (const p of doc.plays) {
    for (const t of p.tasks) {
      for (const [host, r] of Object.entries(t.hosts)) {
        const d = r.diff;
        tasks.push({
          task: t.task.name,
          host,
          changed: r.changed === true,
          failed: r.failed === true || r.unreachable === true,
          skipped: r.skipped === true,
          diff: (Array.isArray(d) ? d : d ? [d] : []) as TaskResult['diff'],
          stdout: typeof r.stdout === 'string' ? r.stdout : undefined,
          error: r.failed || r.unreachable ? `${String(r.msg ?? '')} ${String(r.stderr ?? '').slice(-1500)}`.trim() : undefined,
        });
      }
    }
  }
  return { code, stats: doc.stats, tasks, output: stdout + stderr };
}

export class AnsibleLab {
  readonly tier: Tier;
  /** the example's copy this lab runs (inventory, templates, play, files/, the vault) */
  readonly dir: string;
  /** autoctl_node's password: in the vault only */
  readonly secret = randomBytes(18).toString('base64url');
  private readonly vaultPass = randomBytes(18).toString('base64url');

  constructor(
    docker: Docker,
    image: string,
    private readonly log: (m: string) => void = () => undefined,
  ) {
    this.tier = new Tier(docker, image);
    this.tier.namePrefix = 'pgaf-ans';
    this.tier.subnetBase = '172.28';
    this.dir = mkdtempSync(join(tmpdir(), 'pgaf-ansible-'));
  }

  host(name: string): Host {
    return this.tier.host(name);
  }

  /** Hosts up (base image + python3), the example copied with the tarball, the vault and the overlay. */
  async create(): Promise<void> {
    cpSync(EXAMPLE_DIR, this.dir, { recursive: true });
    const tarball = await packModule();
    copyFileSync(tarball, join(this.dir, 'files', basename(tarball)));
    const vars = readFileSync(join(this.dir, 'group_vars/pgaf/vars.yml'), 'utf8');
    if (!vars.includes(`pgaf_tarball: ${basename(tarball)}`)) throw new Error(`group_vars/pgaf/vars.yml does not name the packed tarball ${basename(tarball)}`);
    const passFile = join(this.dir, '.vault-pass');
    writeFileSync(passFile, this.vaultPass + '\n', { mode: 0o600 });
    const vault = join(this.dir, 'group_vars/pgaf/vault.yml');
    writeFileSync(vault, `vault_pgaf_autoctl_node_password: ${this.secret}\n`, { mode: 0o600 });
    const enc = await run('ansible-vault', ['encrypt', '--vault-password-file', passFile, vault], { cwd: this.dir, env: this.env(), timeoutMs: 60_000 });
    if (enc.code !== 0) throw new Error(`ansible-vault encrypt failed: ${enc.stderr}`);
    await this.tier.create(HOSTS);
    this.log(`hosts up on ${this.tier.subnetPrefix}.0/24: ${HOSTS.map((h) => h.name).join(', ')}`);
    // the containers' own address for the hosts to reach each other; docker exec to get in;
    // root becomes postgres with su (no sudo in the image); the container's boot script
    // (host-boot.sh) brings PM2 back, in place of `pm2 startup systemd`
    const overlay = HOSTS.map((h) => {
      const host = this.host(h.name);
      return `${h.name} ansible_connection=community.docker.docker ansible_host=${host.container.id} pgaf_address=${host.ip} ansible_become_method=su ansible_python_interpreter=/usr/bin/python3 pgaf_pm2_startup=false`;
    });
    writeFileSync(join(this.dir, 'containers.ini'), overlay.join('\n') + '\n');
    await Promise.all(HOSTS.map((h) => waitFor(`${h.name} to boot`, 60_000, async () => (await this.host(h.name).exec(['test', '-e', '/run/pgaf-boot.done'])).code === 0)));
  }

  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      ANSIBLE_CONFIG: join(this.dir, 'ansible.cfg'),
      ANSIBLE_STDOUT_CALLBACK: 'json',
      ANSIBLE_LOCAL_TEMP: join(this.dir, '.ansible-tmp'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_RETRY_FILES_ENABLED: '0',
    };
  }

  /** One ansible-playbook run of the example's play, with the vault. */
  async play(extra: string[] = [], timeoutMs = 600_000): Promise<PlayRun> {
    const args = ['-i', 'inventory.ini', '-i', 'containers.ini', '--vault-password-file', '.vault-pass', ...extra, 'playbook.yml'];
    const r = await run('ansible-playbook', args, { cwd: this.dir, env: this.env(), timeoutMs });
    const res = parsePlayOutput(r.code, r.stdout, r.stderr);
    const changed = Object.entries(res.stats).map(([h, s]) => `${h} changed=${s.changed} failed=${s.failures} unreachable=${s.unreachable}`);
    this.log(`ansible-playbook ${extra.join(' ')}: exit ${r.code}; ${changed.join(', ')}`);
    return res;
  }

  /** Sets a node's candidate priority in the lab's inventory (the operator's edit). */
  setPriority(node: string, priority: number): void {
    const f = join(this.dir, 'inventory.ini');
    const before = readFileSync(f, 'utf8');
    const after = before.replace(new RegExp(`^(${node} .*pgaf_candidate_priority=)\\d+`, 'm'), `$1${priority}`);
    if (after === before) throw new Error(`no pgaf_candidate_priority for ${node} in the inventory`);
    writeFileSync(f, after);
  }

  /** `pgaf <args>` as postgres on a host (the module's copy of the CLI). */
  async pgaf(h: string, args: string[]): Promise<string> {
    return this.host(h).run(['node', CLI, ...args], { user: 'postgres', timeoutMs: 60_000 });
  }

  /** The formation as the monitor sees it: node name → [reported, goal]. */
  async states(): Promise<Record<string, [string, string]>> {
    const rows = JSON.parse(await this.pgaf('db-mon', ['show', 'state', '--pgdata', PGDATA, '--json'])) as Array<{
      nodename: string;
      current_group_state: string;
      assigned_group_state: string;
    }>;
    return Object.fromEntries(rows.map((r) => [r.nodename, [r.current_group_state, r.assigned_group_state]]));
  }

  /** The names of the nodes the monitor shows as primary and secondary, each with reported = goal. */
  async roles(): Promise<{ primary?: string; secondaries: string[] }> {
    const s = await this.states();
    const stable = (want: string) => Object.keys(s).filter((n) => s[n]![0] === want && s[n]![1] === want);
    return { primary: stable('primary')[0], secondaries: stable('secondary') };
  }

  /** `pgaf show settings --json` on the monitor host. */
  async settings(): Promise<Settings> {
    return JSON.parse(await this.pgaf('db-mon', ['show', 'settings', '--pgdata', PGDATA, '--json'])) as Settings;
  }

  /** The pid of the host's postmaster (postmaster.pid's first line) and of the module. */
  async pids(h: string): Promise<{ postgres: number; module: number }> {
    const pg = Number((await this.host(h).run(['head', '-1', `${PGDATA}/postmaster.pid`])).trim());
    const list = await this.host(h).run(['pm2', 'jlist'], { user: 'postgres', timeoutMs: 20_000 });
    const apps = JSON.parse(list.slice(list.indexOf('['))) as Array<{ name: string; pid: number }>;
    return { postgres: pg, module: apps.find((a) => a.name === 'pm2-pgaf')?.pid ?? 0 };
  }

  /** Where a secret must never be: every process's command line and every log on the host, and the cluster files. */
  async exposedText(h: string): Promise<string> {
    const ps = await this.host(h).run(['ps', '-eww', '-o', 'args']);
    const logs = await this.host(h).sh(
      `cat ${PM2_HOME}/logs/* ${PM2_HOME}/pm2.log /var/log/pgaf/* ${PGDATA}/log/* ${PGDATA}/pg_log/* /etc/pgaf/*.yaml /var/lib/postgresql/.pm2/module_conf.json 2>/dev/null; true`,
    );
    return `${ps}\n${logs}`;
  }

  async destroy(): Promise<void> {
    await this.tier.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface SettingRow {
  context: string;
  nodename: string;
  setting: string;
  value: string;
}
/** `pgaf show settings --json`: rows grouped as the original groups them. */
export type Settings = Record<string, SettingRow[]>;

/** A node's candidate priority in `pgaf show settings` (undefined when it has no such row). */
export function priorityOf(s: Settings, node: string): string | undefined {
  return Object.values(s)
    .flat()
    .find((r) => r.nodename === node && /candidate.priority/.test(r.setting))?.value;
}

/** The settings with one node's candidate priority replaced (a copy). */
export function withPriority(s: Settings, node: string, value: string): Settings {
  const copy = structuredClone(s);
  for (const r of Object.values(copy).flat()) if (r.nodename === node && /candidate.priority/.test(r.setting)) r.value = value;
  return copy;
}

/** Per-host stats whose `changed` is not zero. */
export function changedHosts(r: PlayRun): string[] {
  return Object.entries(r.stats)
    .filter(([, s]) => s.changed > 0)
    .map(([h]) => h);
}
