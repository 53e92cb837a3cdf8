// Faults on container hosts. Engine-level: kill (host death), start, pause/unpause (a frozen
// host), restart (a reboot: the container's boot script resurrects PM2), disconnect/connect
// (the host loses its network). Inside a host, with nftables in a table of our own: cut
// traffic from or to some peers (both ways or one way), random packet loss; with tc: a
// throttled link (this kernel has no netem, so delay comes from a token bucket's queue); and
// a full disk (a file filling a tmpfs mount).
import type { Host } from './tier.js';

const TABLE = 'pgaf_fault';

export async function kill(h: Host): Promise<void> {
  await h.container.kill({ signal: 'SIGKILL' });
}

export async function start(h: Host): Promise<void> {
  await h.container.start();
}

/**
 * Freezes the host (cgroup freezer). Under heavy load the kernel can fail to freeze every
 * task in time ("OCI runtime pause failed: unable to freeze"): one chaos run of 140 failed so
 * on 2026-12-03, the fault never injected. Tried three times, 1 s apart, before failing.
 */
export async function pause(h: Host): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await h.container.pause();
      return;
    } catch (err) {
      if (attempt >= 3 || !/unable to freeze/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

export async function unpause(h: Host): Promise<void> {
  await h.container.unpause();
}

/** A reboot: processes get SIGTERM, then SIGKILL after `graceSec`, and the host boots again. */
export async function reboot(h: Host, graceSec = 1): Promise<void> {
  await h.container.restart({ t: graceSec });
}

export async function disconnect(h: Host): Promise<void> {
  await h.tier.net.disconnect({ Container: h.container.id, Force: true });
}

export async function connect(h: Host): Promise<void> {
  await h.tier.net.connect({ Container: h.container.id, EndpointConfig: { IPAMConfig: { IPv4Address: h.ip } } });
}

async function nft(h: Host, script: string): Promise<void> {
  await h.run(['sh', '-c', 'printf "%s\\n" "$0" | nft -f -', script]);
}

async function ensureTable(h: Host): Promise<void> {
  await nft(
    h,
    [
      `table inet ${TABLE} {`,
      '  chain in { type filter hook input priority -10; policy accept; }',
      '  chain out { type filter hook output priority -10; policy accept; }',
      '}',
    ].join('\n'),
  );
}

/**
 * Drops traffic between `h` and `peers` inside `h`: 'both' ways, 'in' only (h no longer hears
 * them) or 'out' only (they no longer hear h).
 */
export async function cut(h: Host, peers: Host[], direction: 'both' | 'in' | 'out' = 'both'): Promise<void> {
  await ensureTable(h);
  const lines: string[] = [];
  for (const p of peers) {
    if (direction !== 'out') lines.push(`add rule inet ${TABLE} in ip saddr ${p.ip} drop`);
    if (direction !== 'in') lines.push(`add rule inet ${TABLE} out ip daddr ${p.ip} drop`);
  }
  await nft(h, lines.join('\n'));
}

/** Random loss of `percent` % of the packets `h` receives. */
export async function loss(h: Host, percent: number): Promise<void> {
  if (!(percent > 0 && percent < 100)) throw new Error(`loss: percent must be in (0, 100), got ${percent}`);
  await ensureTable(h);
  await nft(h, `add rule inet ${TABLE} in numgen random mod 100 < ${Math.round(percent)} drop`);
}

/** Every nftables fault in `h` lifted. */
export async function heal(h: Host): Promise<void> {
  await h.exec(['nft', 'delete', 'table', 'inet', TABLE]);
}

/** A slow link out of `h`: a token bucket of `kbit`, whose queue adds up to `latencyMs`. */
export async function throttle(h: Host, kbit: number, latencyMs: number): Promise<void> {
  await h.run(['tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', `${kbit}kbit`, 'burst', '16kb', 'latency', `${latencyMs}ms`]);
}

export async function unthrottle(h: Host): Promise<void> {
  await h.exec(['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
}

const FILL = '.pgaf-disk-fill';

/** The filesystem holding `dir` filled up (a file written until ENOSPC). */
export async function fillDisk(h: Host, dir: string): Promise<void> {
  await h.exec(['sh', '-c', `dd if=/dev/zero of=${dir}/${FILL} bs=1M 2>/dev/null; sync`]);
}

export async function freeDisk(h: Host, dir: string): Promise<void> {
  await h.run(['rm', '-f', `${dir}/${FILL}`]);
}
