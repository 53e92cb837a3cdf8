// What a name, a host or a path may be before it enters pgaf: the one set of rules used by the
// CLI options, the node config files, the cluster file (`pgaf apply`, the PM2 module) and the
// keeper's pg_hba.conf guard. Such strings end up in files (INI, postgresql.conf, pg_hba.conf),
// in log lines and on terminals, so none may hold whitespace, control characters, `#`, quotes
// or an HBA keyword. Pure: each `*Problem` returns why a value is refused, or undefined.
import { isIP } from 'node:net';

/** RFC 1123: a host name is at most 253 characters, each dot-separated label 1 to 63. */
export const MAX_HOSTNAME_LENGTH = 253;
/** Postgres NAMEDATALEN - 1, as the original's node and formation names. */
export const MAX_NAME_LENGTH = 63;
export const MAX_PATH_LENGTH = 1024;

/**
 * Words with a meaning of their own in pg_hba.conf columns: as an address, `all`, `samehost`
 * and `samenet` match whole networks; the others are database or user keywords. A host or a
 * name spelled like one of them is refused.
 */
export const HBA_KEYWORDS = ['all', 'samehost', 'samenet', 'sameuser', 'samerole', 'samegroup', 'replication'] as const;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function shown(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
}

/** Characters no value of ours may hold (what breaks a file line, a rule or a terminal). */
function unsafeCharacter(v: string): string | undefined {
  if (CONTROL.test(v)) return 'a control character (newline, tab, escape…)';
  if (/\s/.test(v)) return 'whitespace';
  if (v.includes('#')) return 'a "#"';
  if (/['"`]/.test(v)) return 'a quote';
  if (v.includes('\\')) return 'a backslash';
  return undefined;
}

function isKeyword(v: string): boolean {
  return (HBA_KEYWORDS as readonly string[]).includes(v.toLowerCase()) || v.startsWith('+') || v.startsWith('@');
}

/** An IP literal, v4 or v6, without a zone id. */
export function isIpLiteral(v: string): boolean {
  return isIP(v) !== 0 && !v.includes('%');
}

/** Why `v` is not an RFC 1123 host name or an IP literal; undefined when it is one. */
export function hostnameProblem(v: string): string | undefined {
  if (v === '') return 'it is empty';
  if (v.length > MAX_HOSTNAME_LENGTH) return `it is ${v.length} characters long (at most ${MAX_HOSTNAME_LENGTH})`;
  const bad = unsafeCharacter(v);
  if (bad) return `it holds ${bad}`;
  if (isIpLiteral(v)) return undefined;
  if (isKeyword(v)) return 'it is a pg_hba.conf keyword';
  if (v.includes(':')) return 'it is not a valid IPv6 address';
  const name = v.endsWith('.') ? v.slice(0, -1) : v;
  const labels = name.split('.');
  if (labels.some((l) => !LABEL.test(l))) {
    return 'it is not a host name (labels of letters, digits and inner hyphens, 1 to 63 characters, separated by dots) or an IP address';
  }
  if (/^[0-9.]+$/.test(name)) return 'it looks like an IPv4 address but is not a valid one';
  return undefined;
}

/** Why `v` is not a node name (1 to 63 of letters, digits, `_ . -`, starting with a letter, digit or `_`). */
export function nodeNameProblem(v: string): string | undefined {
  return simpleNameProblem(v);
}

/** Why `v` is not a formation name (same rules as node names). */
export function formationNameProblem(v: string): string | undefined {
  return simpleNameProblem(v);
}

function simpleNameProblem(v: string): string | undefined {
  if (v === '') return 'it is empty';
  if (v.length > MAX_NAME_LENGTH) return `it is ${v.length} characters long (at most ${MAX_NAME_LENGTH})`;
  const bad = unsafeCharacter(v);
  if (bad) return `it holds ${bad}`;
  if (isKeyword(v)) return 'it is a pg_hba.conf keyword';
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(v)) return 'only letters, digits, "_", "." and "-" are allowed, and it must not start with "." or "-"';
  return undefined;
}

/** Why `v` is not a Postgres role or database name we accept (letters, digits, `_ $ -`, at most 63). */
export function roleNameProblem(v: string): string | undefined {
  if (v === '') return 'it is empty';
  if (v.length > MAX_NAME_LENGTH) return `it is ${v.length} characters long (at most ${MAX_NAME_LENGTH})`;
  const bad = unsafeCharacter(v);
  if (bad) return `it holds ${bad}`;
  if (isKeyword(v)) return 'it is a pg_hba.conf keyword';
  if (!/^[A-Za-z_][A-Za-z0-9_$-]*$/.test(v)) return 'only letters, digits, "_", "$" and "-" are allowed, starting with a letter or "_"';
  return undefined;
}

/** Why `v` is not listen_addresses: `*`, or host names / IP addresses separated by commas. */
export function listenAddressesProblem(v: string): string | undefined {
  if (v === '') return 'it is empty';
  if (v.length > MAX_PATH_LENGTH) return `it is ${v.length} characters long (at most ${MAX_PATH_LENGTH})`;
  for (const part of v.split(',').map((s) => s.trim())) {
    if (part === '*') continue;
    const p = hostnameProblem(part);
    if (p) return `${shown(part)}: ${p}`;
  }
  return undefined;
}

/** Why `v` is not an absolute path we write into files (no control characters, quotes or `#`; spaces are fine). */
export function pathProblem(v: string): string | undefined {
  if (v === '') return 'it is empty';
  if (v.length > MAX_PATH_LENGTH) return `it is ${v.length} characters long (at most ${MAX_PATH_LENGTH})`;
  if (!v.startsWith('/')) return 'it is not an absolute path';
  if (CONTROL.test(v)) return 'it holds a control character (newline, tab, escape…)';
  if (/['"`\\]/.test(v)) return 'it holds a quote or a backslash';
  if (v.includes('#')) return 'it holds a "#"';
  return undefined;
}

/** Why `v` is not something we put in a URI or a file line: no control characters or whitespace. */
export function tokenProblem(v: string, max = MAX_PATH_LENGTH): string | undefined {
  if (v.length > max) return `it is ${v.length} characters long (at most ${max})`;
  if (CONTROL.test(v)) return 'it holds a control character (newline, tab, escape…)';
  if (/\s/.test(v)) return 'it holds whitespace';
  return undefined;
}

/**
 * The address column of a pg_hba.conf rule we write: a host name or an IP literal, optionally
 * an IP with a prefix length (CIDR). Anything else (a keyword, `0.0.0.0/0 trust #`, a
 * newline and a second rule) is refused: the keeper's second line of defence.
 */
export function hbaAddressProblem(v: string): string | undefined {
  const slash = v.indexOf('/');
  if (slash < 0) return hostnameProblem(v);
  const ip = v.slice(0, slash);
  const bits = v.slice(slash + 1);
  if (!isIpLiteral(ip)) return 'it has a prefix length but no IP address before it';
  const max = isIP(ip) === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `its prefix length is not 0 to ${max}`;
  // a rule for a whole network is never what a peer's address means
  if (Number(bits) < (max === 32 ? 8 : 16)) return `it covers a network of /${bits}, not one host`;
  return undefined;
}

/** `label must be <what>, got "<value>": <problem>`, the message of every refusal. */
export function refusal(label: string, what: string, value: string, problem: string): string {
  return `${label} must be ${what}, got ${shown(value)}: ${problem}`;
}

export const WHAT = {
  hostname: 'a host name or an IP address',
  nodeName: 'a node name of 1 to 63 characters (letters, digits, _ . -)',
  formation: 'a formation name of 1 to 63 characters (letters, digits, _ . -)',
  roleName: 'a role or database name',
  listen: 'listen addresses (*, or host names and IP addresses separated by commas)',
  path: 'an absolute path',
} as const;
