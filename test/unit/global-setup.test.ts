// test/support/global-setup.ts: the tests never run against an installed extension that is
// not this checkout's. Run as the postgres user (not root), with a pg_config that points at a
// share directory of the test's own: one it cannot write, one it can (the setup installs), and
// one it can write but holding a file it may not overwrite (the install fails: the run stops).
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extensionFiles } from '../../monitor-ext/bundle.js';
import { lookupUser } from '../../lib/pgbin.js';
import { staleExtensionFiles } from '../support/global-setup.js';
import { packagePathFor } from '../support/readable-package.js';

const base = mkdtempSync(join(tmpdir(), 'pgaf-global-setup-'));
chmodSync(base, 0o755);
// the checkout, or a copy of what the setup loads when the checkout is closed to postgres
const root = resolve(packagePathFor(lookupUser('postgres'), base, ['package.json', 'tsconfig.json', 'node_modules', 'lib', 'monitor-ext', 'test'], '.'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A share directory with `files` installed (owned by root, the extension directory by
 * `dirOwner` when given), and a pg_config that reports it. */
function share(name: string, files: Map<string, string>, dirOwner?: { uid: number; gid: number }): string {
  const dir = join(base, name);
  mkdirSync(join(dir, 'share', 'extension'), { recursive: true, mode: 0o755 });
  for (const [f, text] of files) writeFileSync(join(dir, 'share', 'extension', f), text);
  if (dirOwner) chownSync(join(dir, 'share', 'extension'), dirOwner.uid, dirOwner.gid);
  const pgConfig = join(dir, 'pg_config');
  writeFileSync(pgConfig, `#!/bin/sh\n[ "$1" = --sharedir ] && echo ${join(dir, 'share')}\n`, { mode: 0o755 });
  return pgConfig;
}

/** Runs the global setup as the postgres user (it cannot write a root-owned directory). */
function setupAsPostgres(pgConfig: string) {
  const pg = lookupUser('postgres');
  const script = `import(${JSON.stringify(join(root, 'test/support/global-setup.ts'))}).then((m) => m.default())`;
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: root,
    uid: pg.uid,
    gid: pg.gid,
    env: { PATH: process.env.PATH, HOME: base, PG_CONFIG: pgConfig },
    encoding: 'utf8',
  });
}

describe('global setup', () => {
  it('names the files whose installed copy is missing or different', () => {
    const wanted = new Map([['a.sql', 'A'], ['b.sql', 'B'], ['c.sql', 'C']]);
    const installed = new Map([['a.sql', 'A'], ['b.sql', 'B old']]);
    expect(staleExtensionFiles(wanted, (n) => installed.get(n))).toEqual(['b.sql', 'c.sql']);
  });

  it('not root, installed copy identical to the sources: accepted', () => {
    const r = setupAsPostgres(share('same', extensionFiles()));
    expect(r.status, r.stderr).toBe(0);
  }, 60_000);

  it('not root, installed copy older than the sources: the run stops and says what to do', () => {
    const old = new Map(extensionFiles());
    const [first] = [...old.keys()].filter((f) => f.endsWith('.control'));
    old.set(first!, `${old.get(first!)}# an older copy\n`);
    const r = setupAsPostgres(share('old', old));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/the pgaf extension installed in \S+ is not this checkout's \(1 file\(s\) missing or different: pgaf\.control\)/);
    expect(r.stderr).toMatch(/install-extension/);
  }, 60_000);

  it('not root, nothing installed: the run stops', () => {
    const r = setupAsPostgres(share('none', new Map()));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/is not this checkout's/);
  }, 60_000);

  it('not root, an extension directory it may write: it installs the sources, and the run goes on', () => {
    const old = new Map(extensionFiles());
    const [first] = [...old.keys()].filter((f) => f.endsWith('.control'));
    old.set(first!, `${old.get(first!)}# an older copy\n`);
    old.delete([...old.keys()].find((f) => f.endsWith('.sql'))!);
    const pg = lookupUser('postgres');
    const pgConfig = share('writable', old, pg);
    const installed = join(base, 'writable', 'share', 'extension');
    for (const f of old.keys()) chownSync(join(installed, f), pg.uid, pg.gid);
    const r = setupAsPostgres(pgConfig);
    expect(r.status, r.stderr).toBe(0);
    expect(staleExtensionFiles(extensionFiles(), (f) => {
      try {
        return readFileSync(join(installed, f), 'utf8');
      } catch {
        return undefined;
      }
    })).toEqual([]);
  }, 60_000);

  it('installing fails (a file there it may not overwrite): the run stops, naming the file and why', () => {
    const old = new Map(extensionFiles());
    const [first] = [...old.keys()].filter((f) => f.endsWith('.control'));
    old.set(first!, `${old.get(first!)}# an older copy, owned by root\n`);
    const r = setupAsPostgres(share('cannot-write', old, lookupUser('postgres')));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/could not install this checkout's pgaf extension into \S+ \(EACCES: permission denied, open '\S+pgaf\.control'\): the tests would run against another copy/);
  }, 60_000);
});
