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

/** The pg_ident.conf map that lets the PGDATA owner, and root, connect over the socket as the superuser. */
export const PEER_MAP = 'pgaf';

/**
 * pg_ident.conf lines of PEER_MAP: the superuser's own OS user, and root (pgaf run as root
 * runs Postgres as the PGDATA owner but opens its local sessions itself; root may become that
 * user anyway, so this grants root nothing it does not have).
 */
export function peerMapLines(superuser: string): string[] {
  const lines = [`${PEER_MAP} ${superuser} ${superuser}`];
  if (superuser !== 'root') lines.push(`${PEER_MAP} root ${superuser}`);
  return lines;
}

/** pg_ident.conf with the PEER_MAP lines (each once). Pure. */
export function withPeerMap(ident: string, superuser: string, extra: string[] = []): string {
  return appendHbaLines(ident, planHbaAdditions(ident, [...peerMapLines(superuser), ...extra]));
}

/**
 * `hba` with `local <database> <user> peer map=pgaf` before its first record (once): local OS
 * users of the map reach `database` as `user` over the socket. Pure.
 */
export function withLocalPeerRecord(hba: string, database: string, user: string, comment: string): string {
  // the method with its option (hbaLine takes plain words only; PEER_MAP is ours)
  const line = `${hbaLine({ type: 'local', database, user, method: 'peer' })} map=${PEER_MAP}`;
  if (hba.split('\n').some((l) => normalize(l) === line)) return hba;
  const lines = hba.split('\n');
  const first = lines.findIndex((l) => normalize(l) !== '');
  lines.splice(first < 0 ? lines.length : first, 0, `# added by pgaf: ${comment}`, line);
  return lines.join('\n');
}

/**
 * initdb's pg_hba.conf (local peer, host scram or as asked) with, before its first record,
 * `local all <superuser> peer map=pgaf`: the superuser over the socket by peer through the
 * map; every other local user by plain peer, and nobody by trust. Pure; idempotent.
 */
export function withSuperuserPeer(hba: string, superuser: string): string {
  return withLocalPeerRecord(hba, 'all', superuser, 'the superuser over the Unix socket, as its OS user or root (pg_ident.conf map pgaf)');
}

/** pg_ident.conf lines that let `osUsers` log in as `role` through PEER_MAP. */
export function peerMapLinesFor(role: string, osUsers: string[]): string[] {
  return [...new Set(osUsers)].map((u) => `${PEER_MAP} ${u} ${role}`);
}

/** The records of an HBA file whose method is trust (comments ignored). */
export function trustRecords(hba: string): string[] {
  return hba
    .split('\n')
    .map(normalize)
    .filter((l) => l !== '' && /(^|\s)trust(\s|$)/.test(l));
}
