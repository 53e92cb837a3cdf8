// The keeper's pg_ctl path (`pgaf run`: cli/run.ts) must not load pm2, zod or cosmiconfig:
// they belong to plugin/ and config/cluster-config.ts. Walks the static imports.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const HEAVY = ['pm2', 'zod', 'cosmiconfig', 'tx2'];

function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  // `import ... from 'x'` and `export ... from 'x'`, not `import type` and not dynamic import()
  return [...text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+'([^']+)'/gms)].map((m) => m[1]!);
}

function closure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const spec of staticImports(f)) {
      if (spec.startsWith('.')) todo.push(resolve(dirname(f), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.add(spec.split('/')[0]!);
    }
  }
  return { files, packages };
}

describe('keeper memory: the pg_ctl path stays lean', () => {
  it('cli/run.ts (pgaf run) loads none of pm2, zod, cosmiconfig', () => {
    const { packages, files } = closure('cli/run.ts');
    expect(files.has(resolve(ROOT, 'keeper/pg/supervisor.ts'))).toBe(true);
    for (const p of HEAVY) expect(packages.has(p), `${p} is imported on the keeper path`).toBe(false);
  });
  it('the PM2 module does load pm2 (sanity check of the walk)', () => {
    expect(closure('plugin/module.ts').packages.has('pm2')).toBe(true);
  });
});
