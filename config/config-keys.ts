// `config get | set section.option` over a node's pg_autoctl.cfg (monitor or data node):
// key lookup, validation of a new value through the node's schema before anything is
// written, and the masked view printed by `config get` without a key. Pure: no file access.
import { BadArgs, BadConfig } from '../lib/errors.js';
import type { Ini } from '../lib/ini.js';
import { maskSecrets } from '../lib/log.js';
import { integrationKeys } from './integrations-config.js';
import { keeperConfigFromIni, keeperConfigToIni } from './keeper-config.js';
import { monitorConfigFromIni, monitorConfigToIni } from './node-config.js';

export type NodeRole = 'monitor' | 'keeper';

export interface ConfigKey {
  section: string;
  option: string;
  /** "section.option" */
  key: string;
}

/** Keys that exist for a role even when the file does not spell them out. */
const OPTIONAL_KEYS: Record<NodeRole, string[]> = {
  monitor: integrationKeys('monitor'),
  keeper: ['replication.password', ...integrationKeys('keeper')],
};

/** Keys `config set` refuses to change: they say what the file is. */
const READ_ONLY_KEYS = new Set(['pg_autoctl.role']);

/** Values printed as **** by `config get` without a key. */
const SECRET_KEYS = new Set(['replication.password']);

export function parseConfigKey(text: unknown): ConfigKey {
  const key = String(text ?? '');
  const m = /^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(key);
  if (!m) throw new BadArgs(`expected a configuration key of the form section.option (e.g. postgresql.port), got "${key}"`);
  return { section: m[1]!, option: m[2]!, key };
}

export function roleOf(ini: Ini, path: string): NodeRole {
  const role = ini.pg_autoctl?.role;
  if (role === 'monitor' || role === 'keeper') return role;
  throw new BadConfig(`${path} is not a pgaf node configuration: pg_autoctl.role is ${role === undefined ? 'missing' : `"${role}"`}`);
}

/** Parses the file through the role's schema; BadConfig (exit 2) when something is invalid. */
export function validateConfig(role: NodeRole, ini: Ini, path: string): void {
  if (role === 'monitor') monitorConfigFromIni(ini, path);
  else keeperConfigFromIni(ini, path);
}

/** The file with every default filled in, as the node reads it; {} when the file is invalid. */
function effectiveIni(role: NodeRole, ini: Ini, path: string): Ini {
  try {
    return role === 'monitor' ? monitorConfigToIni(monitorConfigFromIni(ini, path)) : keeperConfigToIni(keeperConfigFromIni(ini, path));
  } catch {
    return {};
  }
}

/** Every key `config get/set` knows for this file. */
export function knownKeys(role: NodeRole, ini: Ini, path: string): Set<string> {
  const keys = new Set<string>(OPTIONAL_KEYS[role]);
  for (const source of [ini, effectiveIni(role, ini, path)]) {
    for (const [section, kv] of Object.entries(source)) for (const option of Object.keys(kv)) keys.add(`${section}.${option}`);
  }
  return keys;
}

function unknownKey(k: ConfigKey, role: NodeRole, path: string): BadConfig {
  return new BadConfig(`unknown configuration key ${k.key} for a ${role === 'monitor' ? 'monitor' : 'data node'} (${path})`);
}

/** The value of one key: the file's, else the default the node uses; '' for an unset optional key. */
export function configGet(ini: Ini, path: string, keyText: unknown): string {
  const k = parseConfigKey(keyText);
  const role = roleOf(ini, path);
  if (!knownKeys(role, ini, path).has(k.key)) throw unknownKey(k, role, path);
  const value = ini[k.section]?.[k.option] ?? effectiveIni(role, ini, path)[k.section]?.[k.option] ?? '';
  // secrets are never printed: the file (mode 0600) holds them
  return SECRET_KEYS.has(k.key) && value !== '' ? '****' : maskSecrets(value);
}

/**
 * The file with `key` set to `value`, validated through the node's schema; throws (and the
 * caller writes nothing) when the key is unknown or read-only, or the value is invalid.
 */
export function configSet(ini: Ini, path: string, keyText: unknown, valueText: unknown): Ini {
  const k = parseConfigKey(keyText);
  const value = String(valueText ?? '');
  const role = roleOf(ini, path);
  if (!knownKeys(role, ini, path).has(k.key)) throw unknownKey(k, role, path);
  if (READ_ONLY_KEYS.has(k.key)) throw new BadConfig(`${k.key} cannot be changed: it says which kind of node this is`);
  if (/[\r\n]/.test(value)) throw new BadConfig(`${k.key}: a value cannot span several lines`);
  if (value !== value.trim()) throw new BadConfig(`${k.key}: a value cannot start or end with spaces`);
  const next: Ini = {};
  for (const [section, kv] of Object.entries(ini)) next[section] = { ...kv };
  (next[k.section] ??= {})[k.option] = value;
  try {
    validateConfig(role, next, path);
  } catch (err) {
    const detail = (err as Error).message.replace(/^invalid (keeper|monitor) configuration in \S+: /, '');
    const shown = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    throw new BadConfig(`cannot set ${k.key} to ${shown}: ${detail}`, { cause: err });
  }
  return next;
}

/** The file with the defaults the node uses filled in (the file's own values win, its extra keys stay). */
export function completeIni(ini: Ini, path: string): Ini {
  const out: Ini = {};
  const effective = effectiveIni(roleOf(ini, path), ini, path);
  for (const [section, kv] of Object.entries(effective)) out[section] = { ...kv, ...(ini[section] ?? {}) };
  for (const [section, kv] of Object.entries(ini)) out[section] = { ...(out[section] ?? {}), ...kv };
  return out;
}

/** The file as `config get` prints it: passwords as ****, in keys and in URIs. */
export function maskedIni(ini: Ini): Ini {
  const out: Ini = {};
  for (const [section, kv] of Object.entries(ini)) {
    out[section] = {};
    for (const [option, value] of Object.entries(kv)) {
      out[section]![option] = SECRET_KEYS.has(`${section}.${option}`) && value !== '' ? '****' : maskSecrets(value);
    }
  }
  return out;
}
