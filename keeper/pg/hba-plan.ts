// pg_hba.conf lines for replication and the monitor's health check: the lines we want
// (pure), a plan against the current file (pure, append-only), and applying it.
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { appendHbaLines, hbaLine, planHbaAdditions } from '../../lib/hba.js';
import type { AuthMethod } from '../../lib/postgres-ctl.js';
import type { OsUser } from '../../lib/pgbin.js';
import { HEALTH_CHECK_USER, REPLICATION_USER } from './names.js';
import { writeFileAs } from '../../lib/atomic-file.js';

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

/**
 * The lines this node needs: per peer, replication and any database for the replicator
 * (pg_rewind connects to `postgres`), and the monitor's health check. Duplicates (peers on
 * one host, e.g. loopback) appear once. hba_level skip: none. minimal and app: the same lines;
 * lan adds its line through `extra`.
 */
export function desiredHbaLines(w: HbaWanted): string[] {
  if (w.hbaLevel === 'skip') return [];
  const lines: string[] = [];
  const type = w.hostType ?? 'host';
  for (const host of w.peerHosts) {
    const address = hbaAddress(host);
    lines.push(hbaLine({ type, database: 'replication', user: REPLICATION_USER, address, method: w.authMethod }));
    lines.push(hbaLine({ type, database: 'all', user: REPLICATION_USER, address, method: w.authMethod }));
  }
  if (w.monitorHost) {
    lines.push(hbaLine({ type, database: 'postgres', user: HEALTH_CHECK_USER, address: hbaAddress(w.monitorHost), method: w.authMethod }));
  }
  lines.push(...(w.extra ?? []));
  return [...new Set(lines)];
}

/** One step per wanted line: create when the file lacks it, noop when it has it. Never drops. */
export function planHba(currentText: string, desired: string[]): HbaStep[] {
  const missing = new Set(planHbaAdditions(currentText, desired));
  return [...new Set(desired)].map((line) => (missing.has(line) ? { kind: 'create', line } : { kind: 'noop', line }));
}

/** The file text after the plan (unchanged when there is nothing to create). */
export function renderHba(currentText: string, steps: HbaStep[]): string {
  return appendHbaLines(currentText, steps.filter((s) => s.kind === 'create').map((s) => s.line));
}

/** Appends the created lines to the HBA file; returns how many lines were added. */
export function applyHba(hbaFile: string, steps: HbaStep[], runAs?: OsUser): number {
  const created = steps.filter((s) => s.kind === 'create').length;
  if (!created) return 0;
  writeFileAs(hbaFile, renderHba(readFileSync(hbaFile, 'utf8'), steps), runAs);
  return created;
}
