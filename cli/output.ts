// What commands print on stdout: text as is, and --json documents indented by 4 spaces as the
// original prints them.
import { basename } from 'node:path';
import type { Ini } from '../lib/ini.js';

export function out(text: string): void {
  process.stdout.write(text);
}

export function json(value: unknown): void {
  out(JSON.stringify(value, null, 4) + '\n');
}

/** Object keys in jsonb's order (shorter first, then bytewise): the original prints rows it builds with jsonb that way. */
export function jsonbOrdered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonbOrdered);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value).sort((a, b) => Buffer.byteLength(a) - Buffer.byteLength(b) || Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return Object.fromEntries(keys.map((k) => [k, jsonbOrdered((value as Record<string, unknown>)[k])]));
}

/** --json of rows the original takes from the monitor as jsonb (show state|events|uri|settings). */
export function jsonRows(value: unknown): void {
  json(jsonbOrdered(value));
}

/** The name we were run as (pg_autoctl or pgaf), for messages that name the program. */
export function programName(argv1: string | undefined = process.argv[1]): string {
  return basename(argv1 ?? 'pgaf') === 'pg_autoctl' ? 'pg_autoctl' : 'pgaf';
}

/** A value as the original's --json prints it: integers as numbers, everything else as text. */
export function typedValue(value: string): string | number {
  return /^-?\d{1,15}$/.test(value) ? Number(value) : value;
}

export function typedIni(ini: Ini): Record<string, Record<string, string | number>> {
  return Object.fromEntries(Object.entries(ini).map(([section, kv]) => [section, Object.fromEntries(Object.entries(kv).map(([k, v]) => [k, typedValue(v)]))]));
}
