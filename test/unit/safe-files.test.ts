// Root safety of our file writes (lib/atomic-file.ts, lib/private-dir.ts, lib/hba-file.ts):
// symlinks planted at the target and temp names are replaced or refused, never followed;
// modes and owners of what we create; a run directory someone else made is refused. Run as
// root (as CI does) the owner checks are real; as another user they check what they can.
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chownNoFollow, writeFileAs } from '../../lib/atomic-file.js';
import { BadState } from '../../lib/errors.js';
import { editHbaFile } from '../../lib/hba-file.js';
import { claimPidFile, releasePidFile } from '../../lib/pid-file.js';
import { lookupUser } from '../../lib/pgbin.js';
import { ensurePrivateDir } from '../../lib/private-dir.js';
import { writeNodeIni } from '../../config/node-config.js';

const root = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), 'pgaf-safe-files-'));
const outside = join(dir, 'outside');
mkdirSync(outside);
const victim = join(outside, 'victim');
const postgres = root ? lookupUser('postgres') : undefined;
const nobody = root ? lookupUser('nobody') : undefined;

function plantVictim(): void {
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  chownSync(victim, process.getuid!(), process.getgid!());
}

function victimUntouched(): void {
  expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  const s = statSync(victim);
  expect(s.mode & 0o777).toBe(0o644);
  expect(s.uid).toBe(process.getuid!());
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAs: exclusive random temp files, no symlink followed', () => {
  it('a symlink at the target is replaced by the file, its target untouched; mode 0600, owner set on the descriptor', () => {
    plantVictim();
    const work = mkdtempSync(join(dir, 'w-'));
    const target = join(work, 'pg_hba.conf');
    symlinkSync(victim, target);
    writeFileAs(target, 'host all all 127.0.0.1/32 scram-sha-256\n', postgres);
    victimUntouched();
    const s = lstatSync(target);
    expect(s.isFile()).toBe(true);
    expect(s.mode & 0o777).toBe(0o600);
    if (postgres) expect([s.uid, s.gid]).toEqual([postgres.uid, postgres.gid]);
    expect(readdirSync(work)).toEqual(['pg_hba.conf']);
  });

  it('symlinks planted at the old predictable temp names are never written through', () => {
    plantVictim();
    const work = mkdtempSync(join(dir, 'w-'));
    const target = join(work, 'pg_autoctl.state');
    for (const name of [`.pg_autoctl.state.${process.pid}.pgaf-tmp`, 'pg_autoctl.state.new', `.pg_autoctl.state.tmp`]) symlinkSync(victim, join(work, name));
    writeFileAs(target, '{}\n', undefined, { syncDir: true });
    victimUntouched();
    expect(readFileSync(target, 'utf8')).toBe('{}\n');
  });

  it('temp names are random: two writes never share one, and none is left behind', () => {
    const work = mkdtempSync(join(dir, 'w-'));
    const target = join(work, 'f');
    for (let i = 0; i < 20; i++) writeFileAs(target, String(i));
    expect(readdirSync(work)).toEqual(['f']);
    expect(readFileSync(target, 'utf8')).toBe('19');
  });

  it('keepOwner gives the new version the owner of the old one', () => {
    if (!postgres) return;
    const work = mkdtempSync(join(dir, 'w-'));
    const target = join(work, 'pg_autoctl.cfg');
    writeFileSync(target, 'old');
    chownSync(target, postgres.uid, postgres.gid);
    writeFileAs(target, 'new', undefined, { keepOwner: true });
    expect(statSync(target).uid).toBe(postgres.uid);
  });

  it('chownNoFollow refuses a symlink (ELOOP) and leaves its target alone', () => {
    plantVictim();
    const link = join(dir, 'link-to-victim');
    symlinkSync(victim, link);
    expect(() => chownNoFollow(link, nobody ?? { uid: 12345, gid: 12345 }, 0o600)).toThrow(/ELOOP/);
    victimUntouched();
  });
});

describe('pg_hba.conf: one writer, no symlink followed', () => {
  it('editHbaFile refuses an HBA file that is a symlink', () => {
    plantVictim();
    const work = mkdtempSync(join(dir, 'w-'));
    const hba = join(work, 'pg_hba.conf');
    symlinkSync(victim, hba);
    expect(() => editHbaFile(hba, (t) => t + 'host all all 0.0.0.0/0 trust\n')).toThrow(/ELOOP/);
    victimUntouched();
  });

  it('editHbaFile writes only when the text changes, mode 0600', () => {
    const work = mkdtempSync(join(dir, 'w-'));
    const hba = join(work, 'pg_hba.conf');
    writeFileSync(hba, 'local all all peer\n', { mode: 0o600 });
    const before = statSync(hba).ino;
    expect(editHbaFile(hba, (t) => t)).toBe(false);
    expect(statSync(hba).ino).toBe(before);
    expect(editHbaFile(hba, (t) => t + 'host replication r 10.0.0.2/32 scram-sha-256\n')).toBe(true);
    expect(readFileSync(hba, 'utf8')).toBe('local all all peer\nhost replication r 10.0.0.2/32 scram-sha-256\n');
    expect(statSync(hba).mode & 0o777).toBe(0o600);
  });

  it('no other module writes pg_hba.conf', () => {
    const src = join(import.meta.dirname, '..', '..');
    const writers: string[] = [];
    for (const top of ['cli', 'config', 'keeper', 'lib', 'plugin', 'monitor-ext']) {
      const walk = (d: string): void => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          const p = join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (p.endsWith('.ts') && !p.endsWith('lib/hba-file.ts')) {
            const text = readFileSync(p, 'utf8');
            if (/(writeFileAs|writeFileSync|appendFileSync|openSync|createWriteStream)\(\s*[\w.]*hba/i.test(text)) writers.push(p);
            // a write whose path names pg_hba.conf in any other way
            for (const m of text.matchAll(/(writeFileAs|writeFileSync|appendFileSync|createWriteStream)\(([^;]*)/g)) if (/pg_hba/.test(m[2]!)) writers.push(`${p}: ${m[0].slice(0, 60)}`);
          }
        }
      };
      walk(join(src, top));
    }
    expect(writers).toEqual([]);
  });
});

describe('run directory and pid file', () => {
  it('claimPidFile makes the run directory 0700 for the node user; a symlink at the pid file is not followed', () => {
    plantVictim();
    const base = mkdtempSync(join(dir, 'run-'));
    const runDir = join(base, 'pg_autoctl', 'var', 'lib', 'pg', 'data');
    mkdirSync(runDir, { recursive: true, mode: 0o755 });
    symlinkSync(victim, join(runDir, 'pg_autoctl.pid'));
    claimPidFile(join(runDir, 'pg_autoctl.pid'), base, postgres);
    victimUntouched();
    const s = lstatSync(runDir);
    expect(s.mode & 0o777).toBe(0o700);
    if (postgres) expect(s.uid).toBe(postgres.uid);
    expect(readFileSync(join(runDir, 'pg_autoctl.pid'), 'utf8')).toBe(`${process.pid}\n`);
    releasePidFile(join(runDir, 'pg_autoctl.pid'));
  });

  it('refuses a level that is a symlink (a planted /tmp/pg_autoctl)', () => {
    const base = mkdtempSync(join(dir, 'run-'));
    const elsewhere = mkdtempSync(join(dir, 'elsewhere-'));
    symlinkSync(elsewhere, join(base, 'pg_autoctl'));
    expect(() => ensurePrivateDir(base, join(base, 'pg_autoctl', 'data'), postgres)).toThrow(BadState);
    expect(() => ensurePrivateDir(base, join(base, 'pg_autoctl', 'data'), postgres)).toThrow(/refusing to use the directory .*pg_autoctl: it is a symbolic link/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('refuses a directory that belongs to someone else, or that others can write to', () => {
    const base = mkdtempSync(join(dir, 'run-'));
    const level = join(base, 'pg_autoctl');
    mkdirSync(level, { mode: 0o777 });
    chmodSync(level, 0o777);
    expect(() => ensurePrivateDir(base, join(level, 'data'), postgres)).toThrow(/other users can write to it \(mode 777\)/);
    expect(existsSync(join(level, 'data'))).toBe(false);
    if (!nobody || !postgres) return;
    chmodSync(level, 0o755);
    chownSync(level, nobody.uid, nobody.gid);
    expect(() => ensurePrivateDir(base, join(level, 'data'), postgres)).toThrow(new RegExp(`belongs to uid ${nobody.uid}, not to postgres`));
    expect(existsSync(join(level, 'data'))).toBe(false);
  });
});

describe('pg_autoctl.cfg (holds the replication password)', () => {
  it('is 0600 in a 0700 directory, and a symlink at its name is replaced, not followed', () => {
    plantVictim();
    const cfgDir = join(dir, 'config', 'pg_autoctl', 'var', 'lib', 'pg');
    mkdirSync(cfgDir, { recursive: true, mode: 0o755 });
    const path = join(cfgDir, 'pg_autoctl.cfg');
    symlinkSync(victim, path);
    writeNodeIni(path, { replication: { password: 'secret' } });
    victimUntouched();
    expect(lstatSync(path).isFile()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(cfgDir).mode & 0o777).toBe(0o700);
  });
});

describe('a missing $XDG_RUNTIME_DIR', () => {
  it('is created private to the node user, then the run directory inside it', () => {
    const base = join(mkdtempSync(join(dir, 'xdg-')), 'run');
    ensurePrivateDir(base, join(base, 'pg_autoctl', 'data'), postgres);
    expect(statSync(base).mode & 0o777).toBe(0o700);
    expect(statSync(join(base, 'pg_autoctl', 'data')).mode & 0o777).toBe(0o700);
    if (postgres) expect(statSync(base).uid).toBe(postgres.uid);
  });
});
