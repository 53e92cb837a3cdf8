// The keeper's pg_ctl path (`pgaf run`: cli/run.ts) must not load pm2, zod or cosmiconfig:
// they belong to plugin/ and config/cluster-config.ts; each service loads only its own role's
// modules, and the monitor service not the creation code. Walks the static imports (what a
// process imports stays in its memory for as long as it runs).
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

function closure(entry: string): { files: Set<string>; packages: Set<string>; builtins: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const builtins = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const spec of staticImports(f)) {
      if (spec.startsWith('.')) todo.push(resolve(dirname(f), spec.replace(/\.js$/, '.ts')));
      else if (spec.startsWith('node:')) builtins.add(spec);
      else packages.add(spec.split('/')[0]!);
    }
  }
  return { files, packages, builtins };
}

const has = (c: { files: Set<string> }, f: string) => c.files.has(resolve(ROOT, f));

describe('keeper memory: the pg_ctl path stays lean', () => {
  it('pgaf run (cli/run.ts, then the keeper or the monitor service) loads none of pm2, zod, cosmiconfig', () => {
    for (const entry of ['cli/run.ts', 'keeper/service.ts', 'monitor-ext/service.ts']) {
      const { packages } = closure(entry);
      for (const p of HEAVY) expect(packages.has(p), `${p} is imported by ${entry}`).toBe(false);
    }
    expect(has(closure('keeper/service.ts'), 'keeper/pg/supervisor.ts')).toBe(true);
  });
  it('a service without [http] does not load node:http or node:https (lib/http-serve.ts loads them when a server starts)', () => {
    for (const entry of ['keeper/service.ts', 'monitor-ext/service.ts']) {
      const { builtins } = closure(entry);
      expect(builtins.has('node:child_process'), `sanity: ${entry} reaches node:child_process (lib/postgres-ctl.ts)`).toBe(true);
      for (const b of ['node:http', 'node:https']) expect(builtins.has(b), `${b} is a static import on ${entry}'s path`).toBe(false);
    }
  });
  it('cli/service-entry.ts (the service bundle\'s entry) imports each command only when it runs', () => {
    expect([...closure('cli/service-entry.ts').files]).toEqual([resolve(ROOT, 'cli/service-entry.ts')]);
    expect(readFileSync(join(ROOT, 'cli/service-entry.ts'), 'utf8')).toMatch(/import\('\.\/run\.js'\)/);
  });
  it('cli/run.ts imports the service of the node\'s role only when it runs it', () => {
    const run = closure('cli/run.ts');
    expect(has(run, 'keeper/service.ts')).toBe(false);
    expect(has(run, 'monitor-ext/service.ts')).toBe(false);
    expect(readFileSync(join(ROOT, 'cli/run.ts'), 'utf8')).toMatch(/await import\('\.\.\/keeper\/service\.js'\)/);
  });
  it('a keeper does not load the monitor service, the monitor neither the keeper loop nor its own creation code', () => {
    expect(has(closure('keeper/service.ts'), 'monitor-ext/health/worker.ts')).toBe(false);
    const monitor = closure('monitor-ext/service.ts');
    expect(has(monitor, 'keeper/loop/run.ts')).toBe(false);
    expect(has(monitor, 'monitor-ext/create-monitor.ts')).toBe(false);
    expect(has(monitor, 'lib/ssl-files.ts')).toBe(false);
  });
  it('the PM2 module imports each role\'s service and creation code only for that role', () => {
    const runner = closure('plugin/node-runner.ts');
    for (const f of ['keeper/service.ts', 'keeper/create-node.ts', 'monitor-ext/service.ts', 'monitor-ext/create-monitor.ts']) {
      expect(has(runner, f), `${f} is a static import of plugin/node-runner.ts`).toBe(false);
    }
  });
  it('the PM2 module does load pm2 (sanity check of the walk)', () => {
    expect(closure('plugin/module.ts').packages.has('pm2')).toBe(true);
  });
});
