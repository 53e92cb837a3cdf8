// A real HAProxy (Debian's /usr/sbin/haproxy) in the foreground for e2e tests, with the
// configuration of docs/integrations.md where the addresses are replaced by the test's.
// Stopped by PID.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const HAPROXY = '/usr/sbin/haproxy';

/** The ```haproxy block of docs/integrations.md. */
export function documentedHaproxyConfig(): string {
  const doc = readFileSync(join(import.meta.dirname, '../../docs/integrations.md'), 'utf8');
  const m = /```haproxy\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error('docs/integrations.md has no ```haproxy block');
  return m[1]!;
}

export interface HaproxyServer {
  name: string;
  pgPort: number;
  httpPort: number;
}

/** The documented config with our bind ports and servers (127.0.0.1). */
export function haproxyConfigFor(primaryPort: number, replicaPort: number, servers: HaproxyServer[]): string {
  const text = documentedHaproxyConfig()
    .replace('bind 127.0.0.1:5000', `bind 127.0.0.1:${primaryPort}`)
    .replace('bind 127.0.0.1:5001', `bind 127.0.0.1:${replicaPort}`);
  const out: string[] = [];
  let serversDone = false;
  for (const line of text.split('\n')) {
    if (/^\s*listen /.test(line)) serversDone = false;
    if (/^\s*server \S+ \S+ check port \d+/.test(line)) {
      if (!serversDone) for (const s of servers) out.push(`    server ${s.name} 127.0.0.1:${s.pgPort} check port ${s.httpPort}`);
      serversDone = true;
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

export class Haproxy {
  private constructor(private readonly proc: ChildProcess) {}

  static start(dir: string, config: string): Haproxy {
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, config);
    const check = spawnSync(HAPROXY, ['-c', '-f', cfg], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy -c rejected the configuration: ${check.stdout}${check.stderr}`);
    const log = createWriteStream(join(dir, 'haproxy.log'));
    const proc = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.pipe(log);
    proc.stderr!.pipe(log);
    return new Haproxy(proc);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }
}
