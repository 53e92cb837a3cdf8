// The [http] and [hooks] sections of a node's pg_autoctl.cfg (keeper and monitor): the
// read-only HTTP endpoints (off unless http.port is set; 127.0.0.1 unless http.listen says
// otherwise) and the commands or webhooks run on state changes. Plain checks, no schema
// library: the keeper reads them (memory).
import type { FieldErrors } from '../lib/fields.js';
import type { HttpConfig } from '../lib/http-serve.js';

/** The [http] section's shape is the server's (lib/http-serve.ts): defined there, once. */
export type { HttpConfig };

export const HTTP_DEFAULT_LISTEN = '127.0.0.1';

/** Keeper hooks, plus the monitor's on_failover. A value is a command (sh -c) or an http(s):// URL (POST). */
export interface HooksConfig {
  onRoleChange?: string;
  onPrimary?: string;
  onDemote?: string;
  /** the fencing hook: runs before a promotion, and a failure cancels it */
  prePromote?: string;
  onFailover?: string;
  /** seconds a hook may run before it is killed */
  timeoutSec: number;
}

export const HOOK_TIMEOUT_DEFAULT_SEC = 30;

export const KEEPER_HOOK_KEYS = ['on_role_change', 'on_primary', 'on_demote', 'pre_promote'] as const;
export const MONITOR_HOOK_KEYS = ['on_failover'] as const;
const FIELD: Record<string, keyof HooksConfig> = {
  on_role_change: 'onRoleChange',
  on_primary: 'onPrimary',
  on_demote: 'onDemote',
  pre_promote: 'prePromote',
  on_failover: 'onFailover',
};

/** Keys `config get/set` knows even when the file does not spell them out. */
export function integrationKeys(role: 'keeper' | 'monitor'): string[] {
  const hooks = role === 'keeper' ? KEEPER_HOOK_KEYS : MONITOR_HOOK_KEYS;
  return ['http.port', 'http.listen', 'http.tls', 'hooks.timeout', ...hooks.map((k) => `hooks.${k}`)];
}

// a host name or an IPv4/IPv6 literal, nothing that could smuggle another option
const LISTEN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f:.]+)$/;

export function httpFromIni(sec: Record<string, string> | undefined, f: FieldErrors): HttpConfig {
  const s = sec ?? {};
  const port = s.port === undefined || s.port === '' ? undefined : f.number('http.port', s.port, { int: true, min: 1, max: 65535 });
  const listen = s.listen === undefined || s.listen === '' ? HTTP_DEFAULT_LISTEN : f.string('http.listen', s.listen, { pattern: LISTEN, what: 'an IP address or a host name' });
  const tls = s.tls === undefined || s.tls === '' ? false : f.bool('http.tls', s.tls);
  return { port, listen, tls };
}

export function httpToIni(h: HttpConfig): Record<string, string> | undefined {
  if (h.port === undefined && h.listen === HTTP_DEFAULT_LISTEN && !h.tls) return undefined;
  const out: Record<string, string> = {};
  if (h.port !== undefined) out.port = String(h.port);
  out.listen = h.listen;
  out.tls = String(h.tls);
  return out;
}

export function hooksFromIni(sec: Record<string, string> | undefined, role: 'keeper' | 'monitor', f: FieldErrors): HooksConfig {
  const s = sec ?? {};
  const keys: readonly string[] = role === 'keeper' ? KEEPER_HOOK_KEYS : MONITOR_HOOK_KEYS;
  const out: HooksConfig = {
    timeoutSec: s.timeout === undefined || s.timeout === '' ? HOOK_TIMEOUT_DEFAULT_SEC : f.number('hooks.timeout', s.timeout, { positive: true, max: 3600 }),
  };
  for (const [key, value] of Object.entries(s)) {
    if (key === 'timeout') continue;
    if (!keys.includes(key)) {
      f.issues.push(`hooks.${key}: expected one of ${keys.join(', ')}, timeout (a ${role === 'keeper' ? 'data node' : 'monitor'} hook), found an unknown hook`);
      continue;
    }
    if (value === '') continue;
    out[FIELD[key] as 'onPrimary'] = f.string(`hooks.${key}`, value, { min: 1, max: 4096 });
  }
  return out;
}

export function hooksToIni(h: HooksConfig): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [key, field] of Object.entries(FIELD)) {
    const v = h[field];
    if (typeof v === 'string') out[key] = v;
  }
  if (Object.keys(out).length === 0 && h.timeoutSec === HOOK_TIMEOUT_DEFAULT_SEC) return undefined;
  out.timeout = String(h.timeoutSec);
  return out;
}
