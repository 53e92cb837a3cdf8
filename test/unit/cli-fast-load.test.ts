// cli/fast-load.ts: when the bundle of the fast path is used, and when a V8 code cache is trusted.
import { chmodSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, fastInvocation } from '../../cli/fast.js';
import { bundleIdentity, codeCacheDir, codeCacheFile, codeCacheKey, FAST_FIRST_WORDS, leadingWords, readCodeCache, usableBundle, writeCodeCache } from '../../cli/fast-load.js';
import { scratchDirs } from '../support/scratch-dirs.js';

const scratch = scratchDirs('pgaf-fast-load-');

describe('usableBundle', () => {
  it('uses a bundle at least as new as dist/cli/fast.js, and none when tsc ran alone since', () => {
    const d = scratch();
    expect(usableBundle(d)).toBeUndefined();
    writeFileSync(join(d, 'fast.js'), 'x');
    writeFileSync(join(d, 'fast.bundle.cjs'), 'y');
    utimesSync(join(d, 'fast.js'), 1000, 1000);
    utimesSync(join(d, 'fast.bundle.cjs'), 2000, 2000);
    expect(usableBundle(d)?.path).toMatch(/fast\.bundle\.cjs$/);
    utimesSync(join(d, 'fast.js'), 2000, 2000); // npm pack: every file the same mtime
    expect(usableBundle(d)).toBeDefined();
    utimesSync(join(d, 'fast.js'), 3000, 3000);
    expect(usableBundle(d)).toBeUndefined();
  });

  it('the service bundle the same way, against dist/cli/service-entry.js', () => {
    const d = scratch();
    writeFileSync(join(d, 'service-entry.js'), 'x');
    writeFileSync(join(d, 'service.bundle.cjs'), 'y');
    utimesSync(join(d, 'service-entry.js'), 1000, 1000);
    utimesSync(join(d, 'service.bundle.cjs'), 2000, 2000);
    expect(usableBundle(d, 'service')?.path).toMatch(/service\.bundle\.cjs$/);
    expect(usableBundle(d)).toBeUndefined(); // not the fast path's
    utimesSync(join(d, 'service-entry.js'), 3000, 3000);
    expect(usableBundle(d, 'service')).toBeUndefined();
  });

  it('names a bundle by its content hash: same length, other content, other identity; no hash, no cache', () => {
    const h1 = 'a'.repeat(64);
    const h2 = 'b'.repeat(64);
    const a = bundleIdentity('/b.cjs', `code\n//# pgaf-bundle-sha256=${h1}\n`);
    const b = bundleIdentity('/b.cjs', `code\n//# pgaf-bundle-sha256=${h2}\n`);
    expect(a).toContain(h1);
    expect(a).not.toBe(b);
    expect(bundleIdentity('/b.cjs', 'code without a hash')).toBeUndefined();
    // the same bundle copied elsewhere (a new snapshot of dist/) keeps its cache
    expect(bundleIdentity('/x/dist/cli/b.cjs', `code\n//# pgaf-bundle-sha256=${h1}\n`)).toBe(a);
  });
});

describe('code cache files', () => {
  it('live in $XDG_CACHE_HOME/pgaf (else ~/.cache/pgaf), one per command, named by its words only', () => {
    expect(codeCacheDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/pgaf');
    expect(codeCacheFile('/c/pgaf', ['show', 'state'], [])).toMatch(/^\/c\/pgaf\/fast-show-state-[0-9a-f]{8}\.v8$/);
    expect(codeCacheFile('/c/pgaf', ['../x', 'y'], [])).toMatch(/^\/c\/pgaf\/fast-x-y-[0-9a-f]{8}\.v8$/);
    expect(codeCacheFile('/c/pgaf', ['run'], [], 'service')).toMatch(/^\/c\/pgaf\/service-run-[0-9a-f]{8}\.v8$/);
    // one file per set of Node flags
    expect(codeCacheFile('/c/pgaf', ['status'], [])).not.toBe(codeCacheFile('/c/pgaf', ['status'], ['--max-semi-space-size=1']));
    expect(codeCacheFile('/c/pgaf', ['status'], ['--x'])).toBe(codeCacheFile('/c/pgaf', ['status'], ['--x']));
  });

  it('are keyed by the bundle identity and Node: another key reads nothing', () => {
    const dir = join(scratch(), 'pgaf');
    const file = codeCacheFile(dir, ['status']);
    const key = codeCacheKey('/b.cjs:10:1');
    writeCodeCache(file, key, Buffer.from('bytecode'));
    expect(readCodeCache(file, key)?.toString()).toBe('bytecode');
    expect(readCodeCache(file, codeCacheKey('/b.cjs:10:2'))).toBeUndefined();
    expect(codeCacheKey('/b.cjs:10:1')).toContain(process.version);
  });

  it('are not trusted when others may write them or their directory', () => {
    const dir = join(scratch(), 'pgaf');
    const file = codeCacheFile(dir, ['status']);
    const key = codeCacheKey('/b.cjs:10:1');
    writeCodeCache(file, key, Buffer.from('bytecode'));
    chmodSync(file, 0o666);
    expect(readCodeCache(file, key)).toBeUndefined();
    chmodSync(file, 0o600);
    chmodSync(dir, 0o777);
    expect(readCodeCache(file, key)).toBeUndefined();
    chmodSync(dir, 0o700);
    expect(readCodeCache(file, key)?.toString()).toBe('bytecode');
  });

  it('are simply not written where the directory cannot be made', () => {
    const d = scratch();
    writeFileSync(join(d, 'pgaf'), 'a file where the directory would be');
    expect(() => writeCodeCache(codeCacheFile(join(d, 'pgaf'), ['status']), 'k\n', Buffer.from('x'))).not.toThrow();
  });
});

describe('the installed entry point (cli/bin.ts)', () => {
  it('loads the bundle for the first words of every fast command, and for no other word', () => {
    expect([...FAST_FIRST_WORDS].sort()).toEqual([...new Set(['--version', ...COMMANDS.map((c) => c.words[0]!)])].sort());
    expect(FAST_FIRST_WORDS.has('run')).toBe(false);
    // the sh launcher (line 2 of cli/bin.ts) runs the same words without the services' Node flags
    const launcher = readFileSync(join(import.meta.dirname, '..', '..', 'cli', 'bin.ts'), 'utf8').split('\n')[1]!;
    expect(/case "\$1" in ([^)]+)\)/.exec(launcher)?.[1]?.split('|').sort()).toEqual([...FAST_FIRST_WORDS].sort());
  });

  it('names the code cache of a fast command by its words before parsing it', () => {
    const argvs = [
      ['--version'], ['version', '--json'], ['show', 'state', '--pgdata', '/d'], ['show', 'uri', '--formation', 'default'], ['status'],
      ['get', 'node', 'candidate-priority', '--name', 'a'], ['get', 'formation', 'settings'], ['set', 'node', 'replication-quorum', 'true'],
      ['set', 'formation', 'number-sync-standbys', '1', '--json'], ['config', 'get'], ['config', 'get', 'postgresql.port'],
      ['config', 'set', 'postgresql.listen_addresses', '127.0.0.1'],
    ];
    for (const argv of argvs) expect(leadingWords(argv), argv.join(' ')).toEqual(fastInvocation(argv)!.command.words);
    // not fast commands: some words, bounded, never a path or a value with other characters
    expect(leadingWords(['show', 'events', '--count', '3'])).toEqual(['show', 'events']);
    expect(leadingWords(['show', '../x'])).toEqual(['show']);
    expect(leadingWords(['a', 'b', 'c', 'd'])).toEqual(['a', 'b', 'c']);
  });
});

describe('the built bundles (npm run build; the test command builds first)', () => {
  // V8 keeps a running script's source; one character beyond Latin-1 stores all of it two bytes
  // a character (a dash in one of pg's comments made a service's 0.5 MB of source 1 MB of heap)
  it.each(['fast.bundle.cjs', 'service.bundle.cjs'])('%s is ASCII', (name) => {
    const text = readFileSync(join(import.meta.dirname, '../../dist/cli', name), 'utf8');
    expect(text.search(/[^\x00-\x7f]/)).toBe(-1);
  });
});
