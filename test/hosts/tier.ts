// Containers as hosts: one private bridge network with a fixed /24 inside 172.30.0.0/16
// (under the guard route), one container per host with a fixed address, docker's init as
// PID 1 and NET_ADMIN (nftables and tc inside the host only), exec as root or postgres, and
// files copied in. Everything created carries the label pgaf.tier=<id>, and destroy()
// removes it all (the image stays for the next run).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';

export const PG_HOME = '/var/lib/postgresql';
export const LABEL = 'pgaf.tier';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HostSpec {
  name: string;
  /** last octet of the address on the tier's /24 */
  octet: number;
  /** tmpfs mounts: path → size in MB (the disk-full fault) */
  tmpfs?: Record<string, number>;
}

export class Host {
  constructor(
    readonly tier: Tier,
    readonly name: string,
    readonly ip: string,
    readonly container: Docker.Container,
  ) {}

  async exec(cmd: string[], opts: { user?: 'root' | 'postgres'; env?: string[]; timeoutMs?: number; stdin?: string } = {}): Promise<ExecResult> {
    const user = opts.user ?? 'root';
    const env = user === 'postgres' ? [`HOME=${PG_HOME}`, `PM2_HOME=${PG_HOME}/.pm2`, ...(opts.env ?? [])] : (opts.env ?? []);
    const ex = await this.container.exec({
      Cmd: cmd,
      User: user,
      Env: env,
      WorkingDir: user === 'postgres' ? PG_HOME : '/',
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await ex.start({ hijack: true, stdin: false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const o = new PassThrough();
    const e = new PassThrough();
    o.on('data', (b: Buffer) => out.push(b));
    e.on('data', (b: Buffer) => err.push(b));
    this.tier.docker.modem.demuxStream(stream, o, e);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        stream.destroy();
        reject(new Error(`${this.name}: ${cmd.join(' ')}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      stream.on('end', () => {
        clearTimeout(t);
        resolve();
      });
      stream.on('error', (x) => {
        clearTimeout(t);
        reject(x);
      });
    });
    const info = await ex.inspect();
    return { code: info.ExitCode ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  }

  /** exec that must succeed */
  async run(cmd: string[], opts: Parameters<Host['exec']>[1] = {}): Promise<string> {
    const r = await this.exec(cmd, opts);
    if (r.code !== 0) throw new Error(`${this.name}: ${cmd.join(' ')} exited ${r.code}: ${(r.stderr + r.stdout).trim().slice(-2000)}`);
    return r.stdout;
  }

  async sh(script: string, opts: Parameters<Host['exec']>[1] = {}): Promise<string> {
    return this.run(['sh', '-c', script], opts);
  }

  /** Copies a local file into the host at `dest` (a full path), owned by `owner`. */
  async copyIn(local: string, dest: string, owner = 'root'): Promise<void> {
    const archive = await new Promise<Buffer>((resolve, reject) => {
      execFile('tar', ['-c', '-C', dirname(local), basename(local)], { encoding: 'buffer', maxBuffer: 256 << 20 }, (err, out) =>
        err ? reject(err) : resolve(out),
      );
    });
    await this.run(['mkdir', '-p', dirname(dest)]);
    await this.container.putArchive(archive, { path: dirname(dest) });
    if (basename(local) !== basename(dest)) await this.run(['mv', join(dirname(dest), basename(local)), dest]);
    await this.run(['chown', `${owner}:${owner}`, dest]);
  }

  async writeFile(dest: string, text: string, owner = 'root'): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'pgaf-tier-file-'));
    try {
      const f = join(dir, basename(dest));
      writeFileSync(f, text);
      await this.copyIn(f, dest, owner);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async running(): Promise<boolean> {
    const i = await this.container.inspect();
    return i.State.Running && !i.State.Paused;
  }
}

export class Tier {
  readonly hosts = new Map<string, Host>();
  private network?: Docker.Network;
  readonly id = `${process.pid}-${randomBytes(3).toString('hex')}`;
  subnetPrefix = '';
  /** container and network names start with it (another helper's tiers use their own) */
  namePrefix = 'pgaf';
  /** the tier's /24 is `${subnetBase}.N.0/24`, N in 100..199 */
  subnetBase = '172.30';

  constructor(
    readonly docker: Docker,
    public image: string,
  ) {}

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name} in this tier`);
    return h;
  }

  get networkName(): string {
    return `${this.namePrefix}-${this.id}`;
  }

  /** The host side of the bridge (the test process reaches the hosts from there). */
  get gateway(): string {
    return `${this.subnetPrefix}.1`;
  }

  /** A free <subnetBase>.N.0/24 (N in 100..199: the engine's own pool hands out low numbers first). */
  private async freeSubnet(): Promise<string> {
    const used = new Set<string>();
    for (const n of await this.docker.listNetworks()) {
      for (const c of n.IPAM?.Config ?? []) if (c.Subnet) used.add(c.Subnet);
    }
    const start = 100 + (process.pid % 100);
    for (let i = 0; i < 100; i++) {
      const k = 100 + ((start - 100 + i) % 100);
      if (!used.has(`${this.subnetBase}.${k}.0/24`)) return `${this.subnetBase}.${k}`;
    }
    throw new Error(`no free ${this.subnetBase}.N.0/24 for a tier network`);
  }

  async create(specs: HostSpec[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      this.subnetPrefix = await this.freeSubnet();
      try {
        this.network = await this.docker.createNetwork({
          Name: this.networkName,
          Driver: 'bridge',
          Internal: false,
          IPAM: { Config: [{ Subnet: `${this.subnetPrefix}.0/24`, Gateway: this.gateway }] },
          Labels: { [LABEL]: this.id },
        });
        break;
      } catch (err) {
        if (attempt >= 3) throw err; // another tier took that subnet in the meantime
      }
    }
    for (const s of specs) {
      const ip = `${this.subnetPrefix}.${s.octet}`;
      const c = await this.docker.createContainer({
        Image: this.image,
        name: `${this.namePrefix}-${this.id}-${s.name}`,
        Hostname: s.name,
        Labels: { [LABEL]: this.id },
        HostConfig: {
          Init: true,
          CapAdd: ['NET_ADMIN'],
          NetworkMode: this.networkName,
          ShmSize: 128 << 20,
          ...(s.tmpfs ? { Tmpfs: Object.fromEntries(Object.entries(s.tmpfs).map(([p, mb]) => [p, `size=${mb}m,mode=0755`])) } : {}),
        },
        NetworkingConfig: { EndpointsConfig: { [this.networkName]: { IPAMConfig: { IPv4Address: ip } } } },
      });
      this.hosts.set(s.name, new Host(this, s.name, ip, c));
    }
    await Promise.all([...this.hosts.values()].map((h) => h.container.start()));
  }

  get net(): Docker.Network {
    if (!this.network) throw new Error('tier not created');
    return this.network;
  }

  /** Removes this tier's containers and network (whatever state they are in). */
  async destroy(): Promise<void> {
    await removeLabelled(this.docker, this.id);
  }
}

/**
 * Containers and networks labelled pgaf.tier=<id>, removed: `id` exactly, or every tier whose
 * id starts with `prefix` (this process's tiers: `${process.pid}-`), or every tier.
 */
export async function removeLabelled(docker: Docker, id?: string, prefix?: string): Promise<number> {
  const filters = JSON.stringify({ label: [id ? `${LABEL}=${id}` : LABEL] });
  const ours = (labels: Record<string, string> | undefined) => !prefix || (labels?.[LABEL] ?? '').startsWith(prefix);
  const cs = (await docker.listContainers({ all: true, filters })).filter((c) => ours(c.Labels));
  await Promise.all(
    cs.map(async (c) => {
      const ct = docker.getContainer(c.Id);
      if (c.State === 'paused') await ct.unpause().catch(() => undefined);
      await ct.remove({ force: true, v: true }).catch(() => undefined);
    }),
  );
  const ns = (await docker.listNetworks({ filters })).filter((n) => ours(n.Labels));
  await Promise.all(ns.map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
  return cs.length;
}
