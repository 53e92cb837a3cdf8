// Runs a fast command (cli/fast.ts) from dist/cli/fast.bundle.cjs, the one-file build of the fast
// path (bin/bundle-cli.mjs), compiled with a V8 code cache: reading one file and reusing the
// bytecode of the previous call costs less than resolving and compiling ~70 ES modules (pg and
// its dependencies, the command's modules) on every call (docs/benchmarks.md, CLI section).
// cli/main.ts loads the service path (`run`, `create monitor|postgres`: cli/service-entry.ts) from
// dist/cli/service.bundle.cjs the same way; a service writes its cache once it has run 10 s.
//
// The code cache is a file per command in $XDG_CACHE_HOME/pgaf (else ~/.cache/pgaf), written after
// the first call of that command. V8 checks a cache against the source's length only, so each
// file starts with a key naming the bundle (length, content hash written by the build), Node's
// version and its flags: a rebuilt bundle or another Node never runs stale bytecode. A cache is used only
// when the file and its directory are ours and nobody else can write them (bytecode is code).
// Without a bundle (sources run by tsx, a build without esbuild), or with a bundle older than
// dist/cli/fast.js (tsc ran alone since), the ES modules run as before.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import type { FastInvocation } from './fast.js';

type FastModule = typeof import('./fast.js');

/** The bundles of bin/bundle-cli.mjs: the fast path, and the service path (`run`, `create monitor|postgres`). */
export const BUNDLES = {
  fast: { file: 'fast.bundle.cjs', builtFrom: 'fast.js' },
  service: { file: 'service.bundle.cjs', builtFrom: 'service-entry.js' },
} as const;
export type BundleName = keyof typeof BUNDLES;

/** A bundle beside this module when it is at least as new as the tsc output it was built from. */
export function usableBundle(dir: string, name: BundleName = 'fast'): { path: string } | undefined {
  try {
    const path = realpathSync(join(dir, BUNDLES[name].file));
    if (statSync(path).mtimeMs < statSync(join(dir, BUNDLES[name].builtFrom)).mtimeMs) return undefined;
    return { path };
  } catch {
    return undefined;
  }
}

/**
 * What identifies a bundle's source for its code cache: its length and the content hash that
 * bin/bundle-cli.mjs writes as its last line (npm pack gives every file the same mtime, and V8
 * checks only the source's length); undefined without one: no cache. Not its path: the same
 * bundle copied elsewhere (bench/failover snapshots dist/ into a new directory every run, an
 * upgrade that reinstalls the same version) has the same source and the same bytecode.
 */
export function bundleIdentity(_path: string, source: string): string | undefined {
  const m = /\/\/# pgaf-bundle-sha256=([0-9a-f]{64})\n?$/.exec(source.slice(-100));
  return m ? `${source.length}:${m[1]}` : undefined;
}

/** The code cache directory: $XDG_CACHE_HOME/pgaf, else ~/.cache/pgaf, else none. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  let base = env.XDG_CACHE_HOME;
  if (!base) {
    try {
      const h = homedir();
      if (h && h !== '/') base = join(h, '.cache');
    } catch {
      // no home: no cache
    }
  }
  return base ? join(base, 'pgaf') : undefined;
}

/**
 * The cache file of a command: words of the command (never a path), and a hash of Node's flags
 * (V8 rejects a cache made under other flags: `node main.js` and the shebang's
 * `node --max-semi-space-size=1` each keep their own instead of overwriting each other's).
 */
export function codeCacheFile(dir: string, words: string[], execArgv: string[] = process.execArgv, bundle: BundleName = 'fast'): string {
  let h = 0x811c9dc5; // FNV-1a
  for (const c of JSON.stringify(execArgv)) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return join(dir, `${bundle}-${words.join('-').replace(/[^a-z-]/g, '')}-${h.toString(16).padStart(8, '0')}.v8`);
}

/** What a cache must have been made for: this bundle, this Node, these V8 flags. */
export function codeCacheKey(bundleIdentity: string): string {
  return `pgaf-v8-cache 1 ${process.version} ${process.arch} ${JSON.stringify(process.execArgv)} ${bundleIdentity}\n`;
}

/** A directory or file only we may write: ours (uid), no group/other write bit, not a link. */
function onlyOurs(s: { uid: number; mode: number }): boolean {
  return s.uid === process.getuid?.() && (s.mode & 0o022) === 0;
}

/** The cached bytecode for `key`, or undefined (none, stale, or not safely ours). */
export function readCodeCache(file: string, key: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    const d = lstatSync(dirname(file));
    if (!d.isDirectory() || !onlyOurs(d)) return undefined;
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const s = fstatSync(fd);
    if (!s.isFile() || !onlyOurs(s)) return undefined;
    const data = readFileSync(fd);
    const head = Buffer.from(key);
    return data.length > head.length && data.subarray(0, head.length).equals(head) ? data.subarray(head.length) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes key + bytecode atomically (0600, directory 0700); a read-only home means no cache. */
export function writeCodeCache(file: string, key: string, data: Buffer): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // a random name created exclusively (O_EXCL refuses a planted name or symlink), then renamed
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, Buffer.concat([Buffer.from(key), data]), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  } catch {
    // no cache: the next call compiles again
  }
}

/** A bundle's exports, and how to keep its compiled code for the next call. */
export interface LoadedBundle<T> {
  exports: T;
  /**
   * writes the code cache (once the command has run: it then holds the functions it compiled)
   * when there was none or V8 rejected it; once per process, later calls do nothing
   */
  saveCodeCache(): void;
}

/**
 * The bundle `name` in `dir` (dist/cli), compiled with the code cache of the command named by
 * `words`; undefined without a usable bundle (the caller imports the ES modules).
 */
export function loadBundle<T>(dir: string, name: BundleName, words: string[]): LoadedBundle<T> | undefined {
  const bundle = usableBundle(dir, name);
  if (!bundle) return undefined;
  const source = readFileSync(bundle.path, 'utf8');
  const identity = bundleIdentity(bundle.path, source);
  const cacheDir = identity ? codeCacheDir() : undefined;
  const file = cacheDir ? codeCacheFile(cacheDir, words, process.execArgv, name) : undefined;
  const key = codeCacheKey(identity ?? '');
  const cachedData = file ? readCodeCache(file, key) : undefined;
  let script: Script | undefined = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle.path,
    cachedData,
  });
  const module = { exports: {} as T };
  script.runInThisContext()(module.exports, createRequire(bundle.path), module, bundle.path, dirname(bundle.path));
  // a service keeps running: hold no reference to the cache's bytes, nor to the script once saved
  let save = file !== undefined && (cachedData === undefined || script.cachedDataRejected === true);
  return {
    exports: module.exports,
    saveCodeCache: () => {
      if (save && file && script) writeCodeCache(file, key, script.createCachedData());
      save = false;
      script = undefined;
    },
  };
}

/** The fast path compiled from its bundle, and how to keep the compiled code for the next call. */
export interface LoadedFast {
  fast: FastModule;
  saveCodeCache(): void;
}

/** The fast path from its bundle in `dir` (loadBundle), undefined without one. */
export function loadFastBundle(dir: string, words: string[]): LoadedFast | undefined {
  const b = loadBundle<FastModule>(dir, 'fast', words);
  return b && { fast: b.exports, saveCodeCache: b.saveCodeCache };
}

/**
 * The first words of the fast commands (cli/fast.ts; test/unit/cli-fast-load.test.ts checks them):
 * cli/bin.ts loads the bundle only for these, never for `run` (a keeper's memory counts).
 */
export const FAST_FIRST_WORDS = new Set(['--version', 'version', 'show', 'status', 'get', 'set', 'config']);

/**
 * The words that name a command's code cache before the bundle (and its parser) is loaded: the
 * leading lower-case words, at most three (`--version` is `version`). For a fast command these
 * are its words (cli/bin.ts writes a cache only then), so each command has one file.
 */
export function leadingWords(argv: string[]): string[] {
  const words = argv[0] === '--version' ? ['version'] : [];
  for (const a of argv) {
    if (words.length >= 3 || !/^[a-z][a-z-]*$/.test(a)) break;
    words.push(a);
  }
  return words;
}

/** Runs `f` from the bundle when there is one, else from the ES modules; the exit code. */
export async function runFastLoaded(argv: string[], f: FastInvocation, argv1: string | undefined): Promise<number> {
  const loaded = loadFastBundle(dirname(fileURLToPath(import.meta.url)), f.command.words);
  const again = loaded?.fast.fastInvocation(argv);
  if (!loaded || !again) return (await import('./fast.js')).runFast(f, argv1); // no bundle (the same parser: `again` is there)
  const code = await loaded.fast.runFast(again, argv1);
  loaded.saveCodeCache();
  return code;
}
