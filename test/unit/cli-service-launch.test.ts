// cli/service-launch.ts: which invocations are service commands, and the installed program
// (dist/cli/pgaf.cjs, from cli/bin.ts) running them from the service bundle without cli/main.js,
// whose ES module loader a service would carry for as long as it runs.
import { spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serviceCommand } from '../../cli/service-launch.js';
import { scratchDirs } from '../support/scratch-dirs.js';

const ROOT = resolve(import.meta.dirname, '../..');
const scratch = scratchDirs('pgaf-service-launch-');

describe('serviceCommand', () => {
  it('names run, create postgres … --run and create monitor, and nothing else', () => {
    expect(serviceCommand(['run', '--pgdata', '/d', '-v'])).toMatchObject({ run: { pgdata: '/d', verbose: 1 }, words: ['run'] });
    expect(serviceCommand(['create', 'postgres', '--pgport', '5', '--run'])).toMatchObject({ createMonitor: false, createRun: true, words: ['create', 'postgres'] });
    expect(serviceCommand(['create', 'monitor', '--pgport', '5'])).toMatchObject({ createMonitor: true, createRun: false, words: ['create', 'monitor'] });
    // a node named monitor: tried as create monitor first, then as create postgres (as before)
    expect(serviceCommand(['create', 'postgres', '--name', 'monitor', '--run'])).toMatchObject({ createMonitor: true, createRun: true });
    for (const args of [['create', 'postgres'], ['run', '--bogus'], ['show', 'state'], ['perform', 'switchover'], []]) {
      expect(serviceCommand(args), args.join(' ')).toBeUndefined();
    }
  });
});

describe('the installed program (npm run build; the test command builds first)', () => {
  it('runs a service command from the service bundle without loading cli/main.js, and hands what its lean parser refuses to main.js', () => {
    const d = scratch();
    cpSync(join(ROOT, 'dist'), join(d, 'dist'), { recursive: true, preserveTimestamps: true }); // a bundle older than its tsc output is not used
    cpSync(join(ROOT, 'package.json'), join(d, 'package.json'));
    writeFileSync(join(d, 'dist/cli/main.js'), "throw new Error('cli/main.js was loaded');\n");
    const pgaf = join(d, 'dist/cli/pgaf.cjs');
    const env = { ...process.env, XDG_CONFIG_HOME: join(d, 'config'), XDG_CACHE_HOME: join(d, 'cache'), PGDATA: undefined };

    const run = spawnSync(pgaf, ['run', '--pgdata', join(d, 'none')], { env, encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toMatch(/no pgaf node is configured for PGDATA/);
    expect(run.stderr).not.toMatch(/main\.js was loaded/);
    expect(run.status).not.toBe(0);

    const refused = spawnSync(pgaf, ['create', 'postgres', '--run', '--pgdata', join(d, 'x'), '--bogus'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(refused.stderr).toMatch(/cli\/main\.js was loaded/);
  });
});
