// A start-up cache for facts that cost a child process and change only when a file changes:
// what `postgres --version` prints, which `pgaf --version` would otherwise run on every call
// (a process start of the 9 MB server binary, 15-100 ms here). Each value is
// kept with the identity of the file it came from (real path, size, mtime): a new or upgraded
// binary is a new key, so a stale answer cannot be served. The cache is a small JSON file in
// $XDG_CACHE_HOME/pgaf (else ~/.cache/pgaf); when it cannot be read or written the value is
// simply computed.
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

type Entries = Record<string, { key: string; value: string }>;

/** The cache file, or undefined when the user has no home and no XDG_CACHE_HOME. */
export function cacheFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = env.XDG_CACHE_HOME || (safeHome() ? join(safeHome()!, '.cache') : undefined);
  return base ? join(base, 'pgaf', 'startup.json') : undefined;
}

function safeHome(): string | undefined {
  try {
    const h = homedir();
    return h && h !== '/' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** "realpath:size:mtime" of a file, or undefined when it does not exist. */
export function fileIdentity(path: string): string | undefined {
  try {
    const real = realpathSync(path);
    const s = statSync(real);
    return s.isFile() ? `${real}:${s.size}:${s.mtimeMs}` : undefined;
  } catch {
    return undefined;
  }
}

function readEntries(file: string): Entries {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Entries) : {};
  } catch {
    return {};
  }
}

/**
 * The value of `name` for `key` (undefined: not cacheable, always computed): from the cache
 * when it holds that key, else computed and stored.
 */
export async function cached(name: string, key: string | undefined, compute: () => Promise<string>, file = cacheFile()): Promise<string> {
  if (!key || !file) return compute();
  const entries = readEntries(file);
  const hit = entries[name];
  if (hit && hit.key === key && typeof hit.value === 'string') return hit.value;
  const value = await compute();
  try {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    // a random name created exclusively (O_EXCL refuses a planted name or symlink), then renamed
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, JSON.stringify({ ...entries, [name]: { key, value } }), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  } catch {
    // a read-only home: no cache, same answer
  }
  return value;
}
