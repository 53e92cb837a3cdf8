// #10.5: the keeper's superuser sessions on its own Postgres pin their search_path
// (keeper/pg/local-sql.ts PINNED_SEARCH_PATH). Another session's settings cannot be read from
// outside, so this reads the source: every session the keeper, the PM2 module or a command
// opens on a local Postgres (`kind: 'postgres'`) passes the pinned options. A new session
// that forgets them fails here, naming the file and line.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PINNED_SEARCH_PATH } from '../../keeper/pg/local-sql.js';

const ROOT = join(import.meta.dirname, '..', '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Each openSession(…)/withClient(…) call whose options say kind: 'postgres', with its text up to the options' end. */
function localSessionCalls(file: string): Array<{ where: string; text: string }> {
  const src = readFileSync(file, 'utf8');
  const out: Array<{ where: string; text: string }> = [];
  for (const m of src.matchAll(/\b(openSession|withClient)\(/g)) {
    // the call's arguments up to the closing brace of its options object
    const rest = src.slice(m.index!, m.index! + 600);
    const opts = /\{[^{}]*\}/.exec(rest.slice(rest.indexOf(',')))?.[0] ?? '';
    if (!/kind:\s*'postgres'/.test(opts)) continue;
    const line = src.slice(0, m.index!).split('\n').length;
    out.push({ where: `${relative(ROOT, file)}:${line}`, text: opts });
  }
  return out;
}

describe("the keeper's superuser sessions pin search_path", () => {
  it('pins pg_catalog first and pg_temp last', () => {
    expect(PINNED_SEARCH_PATH).toBe('-c search_path=pg_catalog,pg_temp');
  });

  it('every local session opened by keeper/, plugin/ or cli/ passes the pinned options', () => {
    const calls = ['keeper', 'plugin', 'cli'].flatMap((d) => tsFiles(join(ROOT, d))).flatMap(localSessionCalls);
    // withLocal and the kept session's openLocalSession (local-sql.ts) at least
    expect(calls.filter((c) => c.where.startsWith('keeper/pg/local-sql.ts:'))).toHaveLength(2);
    expect(calls.filter((c) => !/options:\s*(sql\.)?PINNED_SEARCH_PATH/.test(c.text)).map((c) => c.where)).toEqual([]);
  });
});
