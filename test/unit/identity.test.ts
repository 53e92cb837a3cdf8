// lib/identity.ts: what a host, a name or a path may be before it enters pgaf (CLI options,
// config files, cluster files), and the keeper's HBA address guard.
import { describe, expect, it } from 'vitest';
import {
  formationNameProblem,
  hbaAddressProblem,
  hostnameProblem,
  listenAddressesProblem,
  nodeNameProblem,
  pathProblem,
  roleNameProblem,
} from '../../lib/identity.js';
import { parseFormation, parseHostname, parseListen, parseNodeName, resolvePgdata } from '../../cli/options.js';
import { BadArgs } from '../../lib/errors.js';

/** The payloads of issue #10: each must be refused wherever a host, a name or an address enters. */
export const HOSTILE = [
  '0.0.0.0/0 trust #',
  '0.0.0.0/0',
  'all',
  'samenet',
  'SameHost',
  '10.0.0.1\nhost all all 0.0.0.0/0 trust',
  'db1\rhost',
  'db1 # comment',
  'a\tb',
  "db'1",
  'db"1',
  'db`1',
  'db\\1',
  '\u001b[2Jdb1',
  'x'.repeat(10_000),
  '',
  '+admins',
  '@file',
];

describe('host names', () => {
  it.each(['127.0.0.1', '::1', 'fe80::1', '10.1.2.3', 'localhost', 'db-1.example.com', 'db1.example.com.', 'a', '1node', 'x'.repeat(63)])(
    'accepts %j',
    (h) => expect(hostnameProblem(h)).toBeUndefined(),
  );
  it.each([...HOSTILE, '-db', 'db-', 'db..x', 'db_1', 'x'.repeat(64), `${'a'.repeat(63)}.`.repeat(4) + 'b', '999.1.1.1', '1.2.3', 'fe80::1%eth0', '::g', 'db/32'])(
    'refuses %j',
    (h) => expect(hostnameProblem(h)).toBeDefined(),
  );
  it('says why', () => {
    expect(hostnameProblem('a b')).toBe('it holds whitespace');
    expect(hostnameProblem('a\nb')).toMatch(/control character/);
    expect(hostnameProblem('samenet')).toBe('it is a pg_hba.conf keyword');
    expect(hostnameProblem('x'.repeat(300))).toMatch(/300 characters long \(at most 253\)/);
  });
});

describe('node and formation names, roles, listen addresses, paths', () => {
  it('names: letters, digits, _ . -, 1 to 63', () => {
    for (const ok of ['node_1', 'node-a', 'db1.example.com', 'default', '_x']) {
      expect(nodeNameProblem(ok)).toBeUndefined();
      expect(formationNameProblem(ok)).toBeUndefined();
    }
    for (const bad of [...HOSTILE, '-x', '.x', 'x'.repeat(64), 'naïve', 'a,b', 'a;b']) {
      expect(nodeNameProblem(bad), bad).toBeDefined();
      expect(formationNameProblem(bad), bad).toBeDefined();
    }
  });
  it('roles and databases', () => {
    for (const ok of ['postgres', 'pg_auto_failover', 'app-db', 'a$b']) expect(roleNameProblem(ok)).toBeUndefined();
    for (const bad of [...HOSTILE, '1db', 'a.b']) expect(roleNameProblem(bad), bad).toBeDefined();
  });
  it('listen addresses: *, or hosts separated by commas', () => {
    for (const ok of ['*', '127.0.0.1', '127.0.0.1, ::1', 'localhost,10.0.0.1']) expect(listenAddressesProblem(ok)).toBeUndefined();
    for (const bad of ["*' ; ssl = 'off", '127.0.0.1,', 'a b,c', ...HOSTILE.filter((h) => h !== '')]) expect(listenAddressesProblem(bad), bad).toBeDefined();
  });
  it('paths: absolute, no control characters, quotes or #', () => {
    expect(pathProblem('/var/lib/postgresql/15/main')).toBeUndefined();
    expect(pathProblem('/srv/my data')).toBeUndefined();
    for (const bad of ['relative', '/a\nb', "/a'b", '/a#b', '/a\\b', '/' + 'x'.repeat(2000)]) expect(pathProblem(bad), bad).toBeDefined();
  });
});

describe('HBA addresses (the keeper guard)', () => {
  it('a host, an IP, or one host as a CIDR', () => {
    for (const ok of ['10.0.0.2/32', '::1/128', 'db2.example.com', '10.1.0.0/16', '127.0.0.1']) expect(hbaAddressProblem(ok)).toBeUndefined();
  });
  it('never a keyword, a whole network or a second rule', () => {
    for (const bad of [...HOSTILE, '0.0.0.0/0', '::/0', '10.0.0.0/4', '10.0.0.1/33', 'db/24']) expect(hbaAddressProblem(bad), bad).toBeDefined();
  });
});

describe('CLI options use the same rules, naming the option', () => {
  it('refuses each hostile payload with BadArgs (exit 1)', () => {
    for (const bad of HOSTILE) {
      expect(() => parseHostname(bad), bad).toThrow(BadArgs);
      expect(() => parseNodeName(bad), bad).toThrow(/--name must be a node name/);
      expect(() => parseFormation(bad), bad).toThrow(/--formation must be a formation name/);
    }
    expect(() => parseHostname('0.0.0.0/0 trust #')).toThrow(/--hostname must be a host name or an IP address, got "0\.0\.0\.0\/0 trust #": it holds whitespace/);
    expect(() => parseListen("*' ; x")).toThrow(/--listen must be listen addresses/);
    expect(() => resolvePgdata('/tmp/a\nb')).toThrow(/--pgdata must be an absolute path.*control character/);
    expect(() => resolvePgdata(undefined, { PGDATA: "/tmp/it's" })).toThrow(/PGDATA must be an absolute path.*quote/);
  });
  it('a long value is cut in the message', () => {
    let message = '';
    try {
      parseHostname('x'.repeat(10_000));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.length).toBeLessThan(300);
  });
});

describe('cluster files use the same rules (config/cluster-config.ts)', () => {
  it('refuses hostile hosts, names and node keys, naming the file, the key and why', async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadClusterConfig } = await import('../../config/cluster-config.js');
    const dir = mkdtempSync(join(tmpdir(), 'pgaf-identity-'));
    try {
      const cases: Array<[string, RegExp]> = [
        ['node:\n  role: monitor\n  pgdata: /x\n  hostname: "0.0.0.0/0 trust #"\n', /node\.hostname: expected a host name or an IP address, found "0\.0\.0\.0\/0 trust #" \(it holds whitespace\)/],
        ['formation:\n  nodes:\n    "evil name": { candidate_priority: 1 }\n', /formation\.nodes\.evil name: expected a node name .* as a key, found "evil name" \(it holds whitespace\)/],
        [`formation:\n  name: ${'x'.repeat(10_000)}\n`, /formation\.name: expected a formation name .*found "x{80}…" \(it is 10000 characters long \(at most 63\)\)/],
        ['node:\n  role: monitor\n  pgdata: /x\n  listen: "*\' ; ssl = \'off"\n', /node\.listen: expected listen addresses/],
      ];
      for (const [text, message] of cases) {
        const file = join(dir, 'pgaf.config.yaml');
        writeFileSync(file, text);
        const err = await loadClusterConfig({ file, env: {} }).catch((e: Error) => e);
        expect(String(err), text).toMatch(message);
        expect((err as { exitCode?: number }).exitCode).toBe(2);
        expect(String(err).length).toBeLessThan(600);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
