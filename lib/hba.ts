// pg_hba.conf entries: building lines, planning additions (pure), and finding the
// network that keepers connect from.
import { isIP } from 'node:net';
import { hbaAddressProblem } from './identity.js';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export interface HbaEntry {
  type: 'local' | 'host' | 'hostssl' | 'hostnossl';
  database: string;
  user: string;
  /** CIDR, a host name, or a keyword like samenet; omitted for 'local'. */
  address?: string;
  method: string;
}

/**
 * The rule as one pg_hba.conf line. Throws when a field could change what the line means (an
 * address that is not a host name, an address, a CIDR or samenet/samehost; a database, user
 * or method with whitespace, `#`, quotes or control characters): callers screen their
 * inputs first (keeper/pg/hba-plan.ts screenHbaHosts), this is the last check.
 */
export function hbaLine(e: HbaEntry): string {
  for (const [what, v] of [['database', e.database], ['user', e.user], ['method', e.method]] as const) {
    if (!/^[A-Za-z0-9_.,$+-]+$/.test(v)) throw new Error(`refusing to write an HBA rule: its ${what} ${JSON.stringify(v)} is not a plain word`);
  }
  if (e.type !== 'local' && e.address !== undefined && e.address !== 'samenet' && e.address !== 'samehost') {
    const problem = hbaAddressProblem(e.address);
    if (problem) throw new Error(`refusing to write an HBA rule for the address ${JSON.stringify(e.address)}: ${problem}`);
  }
  return [e.type, e.database, e.user, ...(e.type === 'local' ? [] : [e.address ?? 'samenet']), e.method].join(' ');
}

function normalize(line: string): string {
  return line.replace(/#.*/, '').trim().split(/\s+/).join(' ');
}

/** The lines of `wanted` missing from the HBA file text `current` (comments and spacing ignored). */
export function planHbaAdditions(current: string, wanted: string[]): string[] {
  const have = new Set(current.split('\n').map(normalize).filter(Boolean));
  return wanted.filter((l) => !have.has(normalize(l)));
}

/** `current` with `lines` appended, under a comment saying who added them. */
export function appendHbaLines(current: string, lines: string[]): string {
  if (!lines.length) return current;
  const sep = current === '' || current.endsWith('\n') ? '' : '\n';
  return `${current}${sep}\n# added by pgaf\n${lines.join('\n')}\n`;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
}

function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/**
 * The CIDR that keepers reach this host from, given the address it listens on:
 * a loopback address is itself (/32 or /128); another local address is the network of its
 * interface; an address not found on any interface gives undefined.
 */
export function keeperNetworkCidr(
  address: string,
  ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string | undefined {
  const family = isIP(address);
  if (family === 0) return undefined;
  if (address === '::1' || (family === 4 && address.startsWith('127.'))) {
    return family === 4 ? `${address}/32` : `${address}/128`;
  }
  for (const list of Object.values(ifaces)) {
    for (const info of list ?? []) {
      if (info.address !== address || !info.cidr) continue;
      if (info.family !== 'IPv4') return info.cidr;
      const prefix = Number(info.cidr.split('/')[1]);
      const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
      return `${intToIpv4((ipv4ToInt(address) & mask) >>> 0)}/${prefix}`;
    }
  }
  return undefined;
}

/**
 * The HBA file with the host/hostssl records of `users` switched to `type` (SSL turned on
 * or off); other lines, comments and spacing stay as they are. Pure.
 */
export function switchHbaHostType(current: string, users: readonly string[], type: 'host' | 'hostssl'): string {
  const ours = new Set(users.map((u) => u.replace(/^"(.*)"$/, '$1')));
  return current
    .split('\n')
    .map((line) => {
      const m = /^(\s*)(host|hostssl)(\s+)(\S+)(\s+)(\S+)(.*)$/.exec(line);
      if (!m || m[2] === type || !ours.has(m[6]!.replace(/^"(.*)"$/, '$1'))) return line;
      return `${m[1]}${type}${m[3]}${m[4]}${m[5]}${m[6]}${m[7]}`;
    })
    .join('\n');
}
