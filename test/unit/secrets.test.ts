// Secrets: SCRAM verifiers (checked against RFC 7677's test vector), the derived replication
// password, pgpass lines and lookups, password files, the environment children get, and the
// HBA/ident records of the peer default.
import { lstatSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { peerMapLines, peerMapLinesFor, trustRecords, withLocalPeerRecord, withPeerMap, withSuperuserPeer } from '../../lib/hba.js';
import {
  childEnv,
  deriveReplicationPassword,
  generatePassword,
  insecureStartWarnings,
  pgpassLine,
  pgpassLookup,
  readSecretFile,
  saslprep,
  scramVerifier,
  scramVerifierMatches,
  writeSecretFile,
} from '../../lib/secrets.js';
import { loginRefused, withoutUriPassword } from '../../keeper/create-node.js';
import { MonitorFailed } from '../../lib/errors.js';
import { lookupUser } from '../../lib/pgbin.js';

const dir = mkdtempSync(join(tmpdir(), 'pgaf-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SCRAM-SHA-256 verifiers', () => {
  it('matches the RFC 7677 example (password "pencil", 4096 iterations)', () => {
    // RFC 7677 section 3: salt W22ZaJ0SNY7soEsUEjb6gQ==; the server's StoredKey/ServerKey derive from it
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const v = scramVerifier('pencil', salt, 4096);
    expect(v).toBe('SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=');
    expect(scramVerifierMatches(v, 'pencil')).toBe(true);
    expect(scramVerifierMatches(v, 'pencil2')).toBe(false);
    expect(scramVerifierMatches(null, 'pencil')).toBe(false);
    expect(scramVerifierMatches('md5abc', 'pencil')).toBe(false);
  });

  it('uses a new salt each time, and never contains the password', () => {
    const pw = generatePassword();
    expect(pw).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const a = scramVerifier(pw);
    const b = scramVerifier(pw);
    expect(a).not.toBe(b);
    expect(a).not.toContain(pw);
    expect(scramVerifierMatches(a, pw) && scramVerifierMatches(b, pw)).toBe(true);
  });

  it('prepares non-ASCII passwords as SASLprep does', () => {
    expect(saslprep('abc def')).toBe('abc def');
    expect(saslprep('a\u00a0b')).toBe('a b');
    expect(saslprep('\u2168')).toBe('IX');
    expect(saslprep('a\u00adb')).toBe('ab');
    expect(saslprep('a\u0007b')).toBe('a\u0007b');
  });
});

describe('passwords', () => {
  it('derives one replication password per monitor password and formation', () => {
    const a = deriveReplicationPassword('m0n', 'default');
    expect(a).toBe(deriveReplicationPassword('m0n', 'default'));
    expect(a).not.toBe(deriveReplicationPassword('m0n', 'other'));
    expect(a).not.toBe(deriveReplicationPassword('m0n2', 'default'));
    expect(a).not.toContain('m0n');
  });

  it('writes pgpass lines and finds passwords in them as libpq does', () => {
    expect(pgpassLine({ user: 'pgautofailover_replicator', password: 'a:b\\c' })).toBe('*:*:*:pgautofailover_replicator:a\\:b\\\\c');
    const text = ['# comment', 'db1:5000:pg_auto_failover:autoctl_node:one', '*:*:*:autoctl_node:two\\:x', ''].join('\n');
    expect(pgpassLookup(text, { host: 'db1', port: 5000, database: 'pg_auto_failover', user: 'autoctl_node' })).toBe('one');
    expect(pgpassLookup(text, { host: 'db2', port: 5000, database: 'pg_auto_failover', user: 'autoctl_node' })).toBe('two:x');
    expect(pgpassLookup(text, { host: 'db2', port: 5000, database: 'x', user: 'other' })).toBeUndefined();
  });

  it('keeps password files 0600 and reads their first line', () => {
    const f = join(dir, 'sub', 'pw');
    writeSecretFile(f, 's3cret\n');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'sub')).mode & 0o777).toBe(0o700);
    expect(readSecretFile(f)).toBe('s3cret');
    expect(readSecretFile(join(dir, 'none'))).toBeUndefined();
    writeFileSync(join(dir, 'two'), 'a\nb\n');
    expect(() => readSecretFile(join(dir, 'two'))).toThrow(/must hold one line/);
  });

  it('replaces a symlink at the target instead of following it, and sets the owner (as root) on the new file', () => {
    const target = join(dir, 'linked');
    writeFileSync(join(dir, 'victim'), 'keep me\n', { mode: 0o644 });
    symlinkSync(join(dir, 'victim'), target);
    const owner = process.getuid?.() === 0 ? lookupUser('postgres') : undefined;
    writeSecretFile(target, 'pw\n', owner);
    expect(lstatSync(target).isFile()).toBe(true);
    expect(readSecretFile(join(dir, 'victim'), 'victim')).toBe('keep me');
    expect(statSync(join(dir, 'victim')).mode & 0o777).toBe(0o644);
    if (owner) expect(lstatSync(target).uid).toBe(owner.uid);
    // no temp file left behind
    expect(readdirSync(dir).filter((f) => f.startsWith('.linked'))).toEqual([]);
  });

  it('tells a refused login (wrong password, no HBA record, no database) from a monitor not reachable yet', () => {
    const refused = (code: string) => new MonitorFailed('cannot connect to the monitor', { cause: Object.assign(new Error('x'), { code, severity: 'FATAL' }) });
    expect(loginRefused(refused('28P01'))).toBe(true);
    expect(loginRefused(refused('28000'))).toBe(true);
    expect(loginRefused(refused('3D000'))).toBe(true);
    // starting up, a network error: worth retrying
    expect(loginRefused(refused('57P03'))).toBe(false);
    expect(loginRefused(new MonitorFailed('cannot connect', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }))).toBe(false);
  });

  it('takes the password out of a monitor URI', () => {
    expect(withoutUriPassword('postgres://autoctl_node:pw@h:5/pg_auto_failover?sslmode=require')).toBe('postgres://autoctl_node@h:5/pg_auto_failover?sslmode=require');
    expect(withoutUriPassword('postgres://autoctl_node@h/db?password=x&sslmode=require')).toBe('postgres://autoctl_node@h/db?sslmode=require');
    expect(withoutUriPassword('postgres://autoctl_node@h/db?sslmode=require&password=x')).toBe('postgres://autoctl_node@h/db?sslmode=require');
    expect(withoutUriPassword('postgres://autoctl_node@h/db')).toBe('postgres://autoctl_node@h/db');
  });

  it('gives children our environment without its secrets', () => {
    expect(childEnv({ PATH: '/bin', PGPASSWORD: 'x', PG_AUTOCTL_REPLICATION_PASSWORD: 'y', PGPASSFILE: '/f' })).toEqual({ PATH: '/bin', PGPASSFILE: '/f' });
  });

  it('warns at start about trust and missing SSL', () => {
    expect(insecureStartWarnings({ authMethod: 'scram-sha-256', ssl: { active: true } })).toEqual([]);
    const w = insecureStartWarnings({ authMethod: 'trust', ssl: { active: false } });
    expect(w[0]).toMatch(/--auth trust/);
    expect(w[1]).toMatch(/SSL is off/);
  });
});

describe('peer for the superuser, no trust', () => {
  const initdbHba = [
    '# TYPE  DATABASE        USER            ADDRESS                 METHOD',
    '',
    '# "local" is for Unix domain socket connections only',
    'local   all             all                                     peer',
    'host    all             all             127.0.0.1/32            scram-sha-256',
    'local   replication     all                                     peer',
    '',
  ].join('\n');

  it('puts the superuser peer-map record first, once', () => {
    const once = withSuperuserPeer(initdbHba, 'postgres');
    expect(once.split('\n').filter((l) => !l.startsWith('#') && l.trim())[0]).toBe('local all postgres peer map=pgaf');
    expect(withSuperuserPeer(once, 'postgres')).toBe(once);
    expect(trustRecords(once)).toEqual([]);
    expect(trustRecords(once + 'host all all 0.0.0.0/0 trust # x\n')).toEqual(['host all all 0.0.0.0/0 trust']);
  });

  it("lets the monitor host's OS users in as autoctl_node over the socket, before initdb's records", () => {
    const hba = withLocalPeerRecord(withSuperuserPeer(initdbHba, 'postgres'), 'pg_auto_failover', 'autoctl_node', 'x');
    const records = hba.split('\n').filter((l) => !l.startsWith('#') && l.trim());
    expect(records.slice(0, 3)).toEqual(['local pg_auto_failover autoctl_node peer map=pgaf', 'local all postgres peer map=pgaf', 'local   all             all                                     peer']);
    expect(withLocalPeerRecord(hba, 'pg_auto_failover', 'autoctl_node', 'x')).toBe(hba);
    expect(peerMapLinesFor('autoctl_node', ['postgres', 'root', 'root'])).toEqual(['pgaf postgres autoctl_node', 'pgaf root autoctl_node']);
    expect(withPeerMap('', 'postgres', peerMapLinesFor('autoctl_node', ['root']))).toMatch(/^pgaf root autoctl_node$/m);
  });

  it('maps root and the PGDATA owner to the superuser', () => {
    expect(peerMapLines('postgres')).toEqual(['pgaf postgres postgres', 'pgaf root postgres']);
    expect(peerMapLines('root')).toEqual(['pgaf root root']);
    const ident = withPeerMap('# MAPNAME SYSTEM-USERNAME PG-USERNAME\n', 'postgres');
    expect(ident).toMatch(/^pgaf root postgres$/m);
    expect(withPeerMap(ident, 'postgres')).toBe(ident);
  });
});
