// The keeper and the monitor service run with the same Node flags and glibc malloc settings
// however they are started: the pgaf/pg_autoctl shebang (`pgaf run`, `create … --run`, systemd
// units, the soak) and the PM2 apps (the module's package.json, ecosystem.config.cjs). They keep
// their memory small and flat (cli/main.ts, lib/service-env.ts, docs/benchmarks.md); a start
// path without them is ~5-8 MB larger.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropServiceMallocEnv, SERVICE_MALLOC_ENV } from '../../lib/service-env.js';

const ROOT = join(import.meta.dirname, '..', '..');
const EXPECTED = ['--max-semi-space-size=1', '--optimize-for-size'];

function shebang(): { env: Record<string, string>; flags: string[] } {
  const first = readFileSync(join(ROOT, 'cli', 'main.ts'), 'utf8').split('\n')[0]!;
  const m = /^#!\/usr\/bin\/env -S ((?:[A-Z_]+=\S* )*)node( .*)?$/.exec(first);
  expect(m, `cli/main.ts line 1: ${first}`).not.toBeNull();
  // Linux reads at most 255 bytes of a #! line (BINPRM_BUF_SIZE); beyond, the rest is cut off
  expect(first.length).toBeLessThan(256);
  const env = Object.fromEntries(m![1]!.trim().split(/\s+/).filter(Boolean).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
  return { env, flags: (m![2] ?? '').trim().split(/\s+/).filter(Boolean) };
}
const shebangFlags = () => shebang().flags;

/** The service malloc settings among an app's environment. */
function mallocEnvOf(env: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(env ?? {}).filter(([k]) => k.startsWith('MALLOC_') || k === 'GLIBC_TUNABLES'));
}

describe('service Node flags', () => {
  it('the shebang carries the service flags and malloc settings', () => {
    expect(shebangFlags()).toEqual(EXPECTED);
    expect(shebang().env).toEqual(SERVICE_MALLOC_ENV);
  });
  it('the installed entry point (cli/bin.ts, package.json bin: `pgaf run` starts there) passes them to every command but the fast ones', () => {
    const [l1, l2] = readFileSync(join(ROOT, 'cli', 'bin.ts'), 'utf8').split('\n');
    expect(l1).toBe('#!/bin/sh');
    const m = /^':' \/\/; case "\$\{NODE_EXTRA_CA_CERTS\+set\}" in set\) export PGAF_NODE_EXTRA_CA_CERTS="\$NODE_EXTRA_CA_CERTS"; unset NODE_EXTRA_CA_CERTS;; esac; case "\$1" in [^)]+\) exec node "\$0" "\$@";; esac; ((?:[A-Z_]+=\S* )*)exec node (.*) "\$0" "\$@"$/.exec(l2!);
    expect(m, `cli/bin.ts line 2: ${l2}`).not.toBeNull();
    expect(m![2]!.split(' ')).toEqual(shebangFlags());
    const env = Object.fromEntries(m![1]!.trim().split(' ').filter(Boolean).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
    expect(env).toEqual(SERVICE_MALLOC_ENV);
  });
  it("the PM2 module's app (package.json apps) passes the same node_args and malloc settings", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { apps: { node_args?: string; env?: Record<string, string> }[] };
    expect(pkg.apps.length).toBeGreaterThan(0);
    for (const app of pkg.apps) {
      expect((app.node_args ?? '').split(/\s+/)).toEqual(shebangFlags());
      expect(mallocEnvOf(app.env)).toEqual(SERVICE_MALLOC_ENV);
    }
  });
  it('every app of ecosystem.config.cjs passes the same node_args', () => {
    const dir = process.env.PGAF_DEMO_DIR;
    const scratch = mkdtempSync(join(tmpdir(), 'pgaf-flags-'));
    process.env.PGAF_DEMO_DIR = scratch; // the file writes its password file there
    try {
      const eco = createRequire(import.meta.url)(join(ROOT, 'ecosystem.config.cjs')) as { apps: { name: string; node_args?: string; env?: Record<string, string> }[] };
      expect(eco.apps.length).toBe(3);
      for (const app of eco.apps) {
        expect((app.node_args ?? '').split(/\s+/), app.name).toEqual(shebangFlags());
        expect(mallocEnvOf(app.env), app.name).toEqual(SERVICE_MALLOC_ENV);
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
      if (dir === undefined) delete process.env.PGAF_DEMO_DIR;
      else process.env.PGAF_DEMO_DIR = dir;
    }
  });
  it('node accepts the flags without a warning, and fetch() still works under them (webhooks)', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [...shebangFlags(), '-e', 'process.stdout.write(typeof WebAssembly + " " + typeof fetch)'], {
      encoding: 'utf8',
      env: { ...process.env, ...shebang().env },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('object function');
    expect(r.status).toBe(0);
  });
  it('pgaf started through its shebang has the malloc settings, and what it starts does not', async () => {
    const { spawnSync } = await import('node:child_process');
    const { existsSync, writeFileSync } = await import('node:fs');
    // the installed program (sh launcher) and dist/cli/main.js run by its own shebang
    const programs = [join(ROOT, 'dist', 'cli', 'pgaf.cjs'), join(ROOT, 'dist', 'cli', 'main.js')];
    for (const p of programs) expect(existsSync(p), `${p}: npm run build makes it`).toBe(true);
    const scratch = mkdtempSync(join(tmpdir(), 'pgaf-malloc-env-'));
    try {
      // at exit: the environment the process was started with (what glibc read) and the one a
      // child would get now (process.env)
      const preload = join(scratch, 'probe.cjs');
      writeFileSync(
        preload,
        `process.on('exit', () => {
          const pick = (lines) => Object.fromEntries(lines.filter((l) => l.startsWith('MALLOC_')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
          const started = pick(require('node:fs').readFileSync('/proc/self/environ', 'utf8').split('\\0'));
          const now = pick(Object.entries(process.env).map(([k, v]) => k + '=' + v));
          process.stderr.write('PROBE ' + JSON.stringify({ started, now }) + '\\n');
        });`,
      );
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: `--require ${preload}` };
      for (const k of Object.keys(SERVICE_MALLOC_ENV)) delete env[k];
      for (const program of programs) {
        const r = spawnSync(program, ['run', '--pgdata', join(scratch, 'nothing')], { encoding: 'utf8', env });
        expect(r.status, program).toBe(2); // no node there: a clear error, after the environment was handled
        const probe = JSON.parse(/PROBE (.*)/.exec(r.stderr)![1]!);
        expect(probe, program).toEqual({ started: SERVICE_MALLOC_ENV, now: {} });
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
  it('drops only the service values: an operator\'s own malloc settings stay', () => {
    const ours = { ...SERVICE_MALLOC_ENV, OTHER: 'x' } as NodeJS.ProcessEnv;
    dropServiceMallocEnv(ours);
    expect(ours).toEqual({ OTHER: 'x' });
    const theirs = { MALLOC_ARENA_MAX: '4' } as NodeJS.ProcessEnv;
    dropServiceMallocEnv(theirs);
    expect(theirs).toEqual({ MALLOC_ARENA_MAX: '4' });
  });
});
