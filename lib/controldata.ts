// pg_controldata read as a map of its "Label: value" lines (LC_ALL=C, so the labels are English).
import { join } from 'node:path';
import type { OsUser } from './pgbin.js';
import { runProgram } from './postgres-ctl.js';

export type ControlData = Map<string, string>;

export function parseControlData(text: string): ControlData {
  const out: ControlData = new Map();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}

/** pg_controldata of PGDATA, or the error text when it cannot be read. */
export async function readControlData(binDir: string, pgdata: string, runAs?: OsUser): Promise<ControlData | { error: string }> {
  const res = await runProgram(join(binDir, 'pg_controldata'), ['-D', pgdata], { runAs, timeoutMs: 10_000, env: { LC_ALL: 'C' } });
  if (res.code !== 0) return { error: res.stderr.trim() || `pg_controldata exited with ${res.code}` };
  return parseControlData(res.stdout);
}
