// The keeper and the monitor service run with the same Node flags however they are started:
// the pgaf/pg_autoctl shebang (`pgaf run`, `create … --run`, systemd units, the soak) and the
// PM2 apps (the module's package.json, ecosystem.config.cjs). The flags keep their memory
// small and flat (cli/main.ts, docs/benchmarks.md); a start path without them is ~5 MB larger.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const EXPECTED = ['--max-semi-space-size=1', '--optimize-for-size'];

function shebangFlags(): string[] {
  const first = readFileSync(join(ROOT, 'cli', 'main.ts'), 'utf8').split('\n')[0]!;
  const m = /^#!\/usr\/bin\/env -S node( .*)?$/.exec(first);
  expect(m, `cli/main.ts line 1: ${first}`).not.toBeNull();
  return (m![1] ?? '').trim().split(/\s+/).filter(Boolean);
}

describe('service Node flags', () => {
  it('the shebang carries the service flags', () => {
    expect(shebangFlags()).toEqual(EXPECTED);
  });
  it('the installed entry point (cli/bin.ts, package.json bin: `pgaf run` starts there) has the same shebang', () => {
    const line1 = (f: string) => readFileSync(join(ROOT, 'cli', f), 'utf8').split('\n')[0];
    expect(line1('bin.ts')).toBe(line1('main.ts'));
  });
  it("the PM2 module's app (package.json apps) passes the same node_args", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { apps: { node_args?: string }[] };
    expect(pkg.apps.length).toBeGreaterThan(0);
    for (const app of pkg.apps) expect((app.node_args ?? '').split(/\s+/)).toEqual(shebangFlags());
  });
  it('every app of ecosystem.config.cjs passes the same node_args', () => {
    const dir = process.env.PGAF_DEMO_DIR;
    const scratch = mkdtempSync(join(tmpdir(), 'pgaf-flags-'));
    process.env.PGAF_DEMO_DIR = scratch; // the file writes its password file there
    try {
      const eco = createRequire(import.meta.url)(join(ROOT, 'ecosystem.config.cjs')) as { apps: { name: string; node_args?: string }[] };
      expect(eco.apps.length).toBe(3);
      for (const app of eco.apps) expect((app.node_args ?? '').split(/\s+/), app.name).toEqual(shebangFlags());
    } finally {
      rmSync(scratch, { recursive: true, force: true });
      if (dir === undefined) delete process.env.PGAF_DEMO_DIR;
      else process.env.PGAF_DEMO_DIR = dir;
    }
  });
  it('node accepts the flags without a warning, and fetch() still works under them (webhooks)', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [...shebangFlags(), '-e', 'process.stdout.write(typeof WebAssembly + " " + typeof fetch)'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('object function');
    expect(r.status).toBe(0);
  });
});
