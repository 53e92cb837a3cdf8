// A start-up cache for facts that cost a child process and change only when a file changes:
// what `postgres --version` prints, which `pgaf --version` would otherwise run on every call
// (a process start of the 9 MB server binary, 15-100 ms here), and what `pg_config --bindir`
// prints (on Debian a shell script that lists /usr/lib/postgresql/*, 10-20 ms). Each value is
// kept with the identity of the file it came from (real path, size, mtime): a new or upgraded
// binary is a new key, so a stale answer cannot be served. The cache is a small JSON file in
// $XDG_CACHE_HOME/pgaf (else ~/.cache/pgaf); when it cannot be read or written the value is
// simply computed.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

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

/** The pg_config that would run: $PG_CONFIG, else the first pg_config on $PATH. */
export function pgConfigPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = env.PG_CONFIG ?? 'pg_config';
  if (name.includes('/')) return name;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Debian's /usr/bin/pg_config: a script that runs the newest /usr/lib/postgresql/<major>/bin/pg_config. */
const DEBIAN_WRAPPER = /PGBINROOT="\/usr\/lib\/postgresql\/"/;

/**
 * The key of what `pg_config --bindir` answers, or undefined when it cannot be known without
 * running it: a compiled pg_config answers from where it is (its identity), Debian's wrapper
 * from the pg_config programs under /usr/lib/postgresql (their identities, so installing or
 * removing a major changes the key). Any other script may read anything: not cached.
 */
export function pgConfigKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const path = pgConfigPath(env);
  const id = path && fileIdentity(path);
  if (!path || !id) return undefined;
  const head = Buffer.alloc(2048);
  let n = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  if (head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return id; // ELF
  if (!DEBIAN_WRAPPER.test(head.subarray(0, n).toString('latin1'))) return undefined;
  let majors: string[] = [];
  try {
    majors = readdirSync('/usr/lib/postgresql').sort();
  } catch {
    // none installed: the wrapper falls back to libpq-dev's
  }
  const under = majors.map((m) => fileIdentity(join('/usr/lib/postgresql', m, 'bin', 'pg_config')) ?? `${m}:-`);
  return [id, ...under, fileIdentity('/usr/bin/pg_config.libpq-dev') ?? '-'].join('|');
}
