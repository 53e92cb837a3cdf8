// pg_hba.conf lines for replication and the monitor's health check, pure: the hosts that may
// have a rule (the keeper's HBA guard), the lines we want, and a plan against the current
// file (append-only). keeper/pg/node-hba.ts writes them through lib/hba-file.ts.
import { isIP } from 'node:net';
import { hbaLine, planHbaAdditions } from '../../lib/hba.js';
import type { AuthMethod } from '../../lib/postgres-ctl.js';
import { HEALTH_CHECK_USER, REPLICATION_USER } from './names.js';
import { hbaAddressProblem, hostnameProblem } from '../../lib/identity.js';

export type HbaLevel = 'skip' | 'minimal' | 'app' | 'lan';

export type HbaStep = { kind: 'create'; line: string } | { kind: 'noop'; line: string };

export interface HbaWanted {
  peerHosts: string[];
  monitorHost?: string;
  authMethod: AuthMethod;
  hbaLevel: HbaLevel;
  /** hostssl once this server has SSL (default host) */
  hostType?: 'host' | 'hostssl';
  /** whole lines added as they are (the trust rules of test mode) */
  extra?: string[];
}

/** An address column for a host: an IP gets /32 or /128, a host name stays as it is. */
export function hbaAddress(host: string): string {
  const family = isIP(host);
  if (family === 4) return `${host}/32`;
  if (family === 6) return `${host}/128`;
  return host;
}

/** A host the keeper will not write into pg_hba.conf, and why. */
export interface RefusedHost {
  host: string;
  problem: string;
}

/**
 * The hosts that may become an HBA address (a host name or an IP literal: lib/identity.ts),
 * and the others with the reason. The monitor validates hosts too; this is the second line of
 * defence against a host like `0.0.0.0/0 trust #` or one holding a newline and a second rule.
 */
export function screenHbaHosts(hosts: readonly string[]): { hosts: string[]; refused: RefusedHost[] } {
  const ok: string[] = [];
  const refused: RefusedHost[] = [];
  for (const host of hosts) {
    const problem = hostnameProblem(host) ?? hbaAddressProblem(hbaAddress(host));
    if (problem) refused.push({ host, problem });
    else ok.push(host);
  }
  return { hosts: ok, refused };
}

/**
 * The lines this node needs: per peer, replication and any database for the replicator
 * (pg_rewind connects to `postgres`), and the monitor's health check. Duplicates (peers on
 * one host, e.g. loopback) appear once. hba_level skip: none. minimal and app: the same lines;
 * lan adds its line through `extra`.
 * A host that is not a host name or an address gets no line (screenHbaHosts).
 */
export function desiredHbaLines(w: HbaWanted): string[] {
  if (w.hbaLevel === 'skip') return [];
  const lines: string[] = [];
  const type = w.hostType ?? 'host';
  const monitorHost = w.monitorHost === undefined ? [] : screenHbaHosts([w.monitorHost]).hosts;
  for (const host of screenHbaHosts(w.peerHosts).hosts) {
    const address = hbaAddress(host);
    lines.push(hbaLine({ type, database: 'replication', user: REPLICATION_USER, address, method: w.authMethod }));
    lines.push(hbaLine({ type, database: 'all', user: REPLICATION_USER, address, method: w.authMethod }));
  }
  for (const host of monitorHost) {
    lines.push(hbaLine({ type, database: 'postgres', user: HEALTH_CHECK_USER, address: hbaAddress(host), method: w.authMethod }));
  }
  lines.push(...(w.extra ?? []));
  return [...new Set(lines)];
}

/** One step per wanted line: create when the file lacks it, noop when it has it. Never drops. */
export function planHba(currentText: string, desired: string[]): HbaStep[] {
  const missing = new Set(planHbaAdditions(currentText, desired));
  return [...new Set(desired)].map((line) => (missing.has(line) ? { kind: 'create', line } : { kind: 'noop', line }));
}
