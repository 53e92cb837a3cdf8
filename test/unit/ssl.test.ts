// SSL decisions: option choice and defaults as the original checks them, file problems, the
// [ssl] config section, Postgres settings, HBA record type, conninfo and node-postgres options.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { movedSystemCa } from '../../lib/system-ca.js';
import { switchHbaHostType } from '../../lib/hba.js';
import { monitorUri, parsePgUri, withUriSsl } from '../../lib/pg-uri.js';
import {
  hbaHostType,
  implicitSslRequest,
  nodePgSslOptions,
  optionalSslRequest,
  postgresSslLines,
  resolveSslRequest,
  sslConninfoParts,
  sslFileProblem,
  sslFromIni,
  sslToIni,
  type SslConfig,
} from '../../lib/ssl.js';
import { keeperConfigFromIni, keeperConfigToIni } from '../../config/keeper-config.js';
import { desiredHbaLines } from '../../keeper/pg/hba-plan.js';
import { parseConninfo, primaryConninfo, renderStandbySettings, withStandbySsl } from '../../keeper/pg/setup-files.js';

const files = { serverCert: '/c/server.crt', serverKey: '/c/server.key' };

describe('SSL options', () => {
  it('needs an explicit choice, as the original', () => {
    expect(() => resolveSslRequest({}, '/d')).toThrow(/Explicit SSL choice is required/);
    expect(() => resolveSslRequest({ sslMode: 'require' }, '/d')).toThrow(/Explicit SSL choice is required/);
    expect(optionalSslRequest({}, '/d')).toBeUndefined();
  });

  it('create with no SSL option (or a lone --ssl-mode) takes TLS with a self-signed certificate', () => {
    expect(implicitSslRequest('/d')).toMatchObject({ choice: 'self-signed', ssl: { active: true, sslMode: 'require', certFile: '/d/server.crt', keyFile: '/d/server.key' } });
    expect(implicitSslRequest('/d').notices[0]).toMatch(/No SSL option given: encrypting with a self-signed certificate/);
    expect(optionalSslRequest({ sslMode: 'prefer' }, '/d')).toMatchObject({ choice: 'self-signed', ssl: { active: true, sslMode: 'prefer' } });
    expect(() => optionalSslRequest({ sslMode: 'verify-full' }, '/d')).toThrow(/not compatible with self-signed/);
    expect(resolveSslRequest({ noSsl: true }, '/d').warnings?.[0]).toMatch(/--no-ssl: no encryption/);
  });

  it('defaults the sslmode per choice: prefer, require, verify-full', () => {
    expect(resolveSslRequest({ noSsl: true }, '/d').ssl).toEqual({ active: false, sslMode: 'prefer' });
    expect(resolveSslRequest({ sslSelfSigned: true }, '/d').ssl).toEqual({
      active: true,
      sslMode: 'require',
      certFile: '/d/server.crt',
      keyFile: '/d/server.key',
    });
    expect(resolveSslRequest({ ...files, sslCaFile: '/c/ca.crt' }, '/d').ssl).toEqual({
      active: true,
      sslMode: 'verify-full',
      certFile: '/c/server.crt',
      keyFile: '/c/server.key',
      caFile: '/c/ca.crt',
    });
    expect(resolveSslRequest({ noSsl: true, sslMode: 'require' }, '/d').ssl.sslMode).toBe('require');
  });

  it('refuses mixed choices, unknown modes and modes that do not fit', () => {
    expect(() => resolveSslRequest({ noSsl: true, sslSelfSigned: true }, '/d')).toThrow(/Using both --no-ssl and --ssl-self-signed/);
    expect(() => resolveSslRequest({ sslSelfSigned: true, sslCaFile: '/ca' }, '/d')).toThrow(/--ssl-self-signed and --ssl-ca-file/);
    expect(() => resolveSslRequest({ noSsl: true, sslMode: 'sometimes' }, '/d')).toThrow(/--ssl-mode must be one of disable, allow, prefer, require, verify-ca, verify-full/);
    expect(() => resolveSslRequest({ sslSelfSigned: true, sslMode: 'verify-ca' }, '/d')).toThrow(/not compatible with self-signed/);
    expect(() => resolveSslRequest({ ...files, sslMode: 'verify-ca' }, '/d')).toThrow(/--ssl-ca-file is required when --ssl-mode is "verify-ca"/);
    expect(() => resolveSslRequest(files, '/d')).toThrow(/--ssl-ca-file is required when --ssl-mode is "verify-full"/);
    expect(() => resolveSslRequest({ serverCert: '/c' }, '/d')).toThrow(/--server-cert and --server-key/);
    expect(resolveSslRequest({ ...files, sslMode: 'require' }, '/d').ssl.sslMode).toBe('require');
  });

  it('names the first file that is missing or unreadable', () => {
    const ssl: SslConfig = { active: true, sslMode: 'verify-ca', certFile: '/c/s.crt', keyFile: '/c/s.key', caFile: '/c/ca.crt' };
    expect(sslFileProblem(ssl, () => 'ok')).toBeUndefined();
    expect(sslFileProblem(ssl, (p) => (p === '/c/s.key' ? 'unreadable' : 'ok'))).toBe('--server-key file "/c/s.key" is not readable');
    expect(sslFileProblem(ssl, (p) => (p === '/c/ca.crt' ? 'missing' : 'ok'))).toBe('--ssl-ca-file file does not exist at "/c/ca.crt"');
    expect(sslFileProblem({ ...ssl, certFile: 'rel.crt' }, () => 'ok')).toMatch(/--server-cert must be an absolute path/);
    expect(sslFileProblem({ ...ssl, certFile: "/etc/ssl/it's.crt" }, () => 'ok')).toMatch(/--server-cert must be an absolute path, got ".*": it holds a quote/);
  });
});

describe('[ssl] in pg_autoctl.cfg', () => {
  it('round-trips, in the original keys', () => {
    const ssl: SslConfig = { active: true, sslMode: 'verify-ca', certFile: '/c/s.crt', keyFile: '/c/s.key', caFile: '/c/ca.crt', crlFile: '/c/crl.pem' };
    const ini = sslToIni(ssl);
    expect(ini).toEqual({ active: '1', sslmode: 'verify-ca', ca_file: '/c/ca.crt', crl_file: '/c/crl.pem', cert_file: '/c/s.crt', key_file: '/c/s.key' });
    const issues: string[] = [];
    expect(sslFromIni(ini, (i) => issues.push(i))).toEqual(ssl);
    expect(issues).toEqual([]);
    expect(sslFromIni(undefined, () => undefined)).toEqual({ active: false, sslMode: 'prefer' });
  });

  it('reports bad values', () => {
    const issues: string[] = [];
    sslFromIni({ active: '1', sslmode: 'sometimes' }, (i) => issues.push(i));
    expect(issues.join('; ')).toMatch(/ssl.sslmode: expected one of .*"sometimes"/);
    expect(issues.join('; ')).toMatch(/ssl.cert_file and ssl.key_file are required/);
  });

  it('goes through the keeper config', () => {
    const ini = {
      pg_autoctl: { role: 'keeper', monitor: 'postgres://autoctl_node@h:5000/pg_auto_failover?sslmode=require', name: 'n', hostname: 'h' },
      postgresql: { pgdata: '/d', pg_ctl: '/bin/pg_ctl', username: 'postgres', host: '/tmp', port: '5001', listen_addresses: 'h' },
      ssl: { active: '1', sslmode: 'require', cert_file: '/d/server.crt', key_file: '/d/server.key' },
    };
    const cfg = keeperConfigFromIni(ini, 'x.cfg');
    expect(cfg.ssl).toEqual({ active: true, sslMode: 'require', certFile: '/d/server.crt', keyFile: '/d/server.key' });
    expect(keeperConfigToIni(cfg).ssl).toEqual(ini.ssl);
    expect(() => keeperConfigFromIni({ ...ini, ssl: { sslmode: 'nope' } }, 'x.cfg')).toThrow(/ssl.sslmode/);
  });
});

describe('what SSL changes', () => {
  const on: SslConfig = { active: true, sslMode: 'verify-ca', certFile: '/d/s.crt', keyFile: '/d/s.key', caFile: '/d/ca.crt' };
  const q = (v: string) => `'${v}'`;

  it('writes the ssl settings, or ssl = off', () => {
    expect(postgresSslLines(on, q)).toEqual(['ssl = on', "ssl_cert_file = '/d/s.crt'", "ssl_key_file = '/d/s.key'", "ssl_ca_file = '/d/ca.crt'"]);
    expect(postgresSslLines({ active: false, sslMode: 'prefer' }, q)).toEqual(['ssl = off']);
  });

  it('uses hostssl records once the server has SSL', () => {
    expect(hbaHostType(on)).toBe('hostssl');
    expect(hbaHostType({ active: false })).toBe('host');
    expect(desiredHbaLines({ peerHosts: ['10.0.0.2'], monitorHost: '10.0.0.1', authMethod: 'md5', hbaLevel: 'app', hostType: 'hostssl' })).toEqual([
      'hostssl replication pgautofailover_replicator 10.0.0.2/32 md5',
      'hostssl all pgautofailover_replicator 10.0.0.2/32 md5',
      'hostssl postgres pgautofailover_monitor 10.0.0.1/32 md5',
    ]);
  });

  it('switches only our users between host and hostssl, keeping the rest', () => {
    const text = 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication "pgautofailover_replicator" 10.0.0.2/32 md5 # ours\n';
    const ssl = switchHbaHostType(text, ['pgautofailover_replicator'], 'hostssl');
    expect(ssl).toBe('local all all trust\nhost all all 127.0.0.1/32 trust\nhostssl replication "pgautofailover_replicator" 10.0.0.2/32 md5 # ours\n');
    expect(switchHbaHostType(ssl, ['pgautofailover_replicator'], 'host')).toBe(text);
  });

  it('puts sslmode, sslrootcert and sslcrl in conninfo and URIs', () => {
    expect(sslConninfoParts(on)).toEqual({ sslmode: 'verify-ca', sslrootcert: '/d/ca.crt', sslcrl: undefined });
    expect(primaryConninfo(2, { host: 'h', port: 1 }, undefined, on)).toMatch(/ sslmode=verify-ca sslrootcert=\/d\/ca.crt /);
    const uri = monitorUri({ host: 'm', port: 5000, sslmode: 'verify-ca', sslrootcert: '/d/ca.crt' });
    expect(uri).toBe('postgres://autoctl_node@m:5000/pg_auto_failover?sslmode=verify-ca&sslrootcert=%2Fd%2Fca.crt');
    expect(parsePgUri(uri)).toMatchObject({ sslmode: 'verify-ca', sslrootcert: '/d/ca.crt' });
    expect(withUriSsl(uri, { sslmode: 'prefer' })).toBe('postgres://autoctl_node@m:5000/pg_auto_failover?sslmode=prefer');
    expect(withUriSsl('postgres://u:pw@m/db?connect_timeout=2', { sslmode: 'require' })).toBe('postgres://u:pw@m/db?connect_timeout=2&sslmode=require');
  });

  it('rewrites the sslmode of an existing primary_conninfo, keeping the rest', () => {
    const text = renderStandbySettings({ nodeId: 2, upstream: { host: '127.0.0.1', port: 6001 }, passfile: "/d/a'b c" });
    const next = withStandbySsl(text, on);
    const words = Object.fromEntries(parseConninfo(/primary_conninfo = '(.*)'$/m.exec(next)![1]!.replace(/''/g, "'").replace(/\\\\/g, '\\')));
    expect(words).toMatchObject({ host: '127.0.0.1', port: '6001', passfile: "/d/a'b c", sslmode: 'verify-ca', sslrootcert: '/d/ca.crt' });
    expect(next).toContain("primary_slot_name = 'pgautofailover_standby_2'");
    expect(withStandbySsl(next, { active: false, sslMode: 'prefer' })).not.toMatch(/sslrootcert/);
    expect(withStandbySsl("primary_conninfo = ''\n", on)).toBe("primary_conninfo = ''\n");
  });

  it('maps sslmode to node-postgres ssl options', () => {
    const read = (p: string) => `PEM of ${p}`;
    expect(nodePgSslOptions({ sslmode: 'require' }, read)).toEqual({ rejectUnauthorized: false, ca: [] });
    expect(nodePgSslOptions({ sslmode: 'prefer' }, read)).toEqual({ rejectUnauthorized: false, ca: [] });
    const ca = nodePgSslOptions({ sslmode: 'verify-ca', sslrootcert: '/ca.crt', sslcrl: '/crl.pem' }, read);
    expect(ca).toMatchObject({ rejectUnauthorized: true, ca: 'PEM of /ca.crt', crl: 'PEM of /crl.pem' });
    expect(ca.checkServerIdentity?.()).toBeUndefined();
    const full = nodePgSslOptions({ sslmode: 'verify-full' }, read, '/home/root.crt');
    expect(full).toEqual({ rejectUnauthorized: true, ca: 'PEM of /home/root.crt' });
    // no CA file: the system CAs the caller gives (lib/sql.ts: what the launcher moved), else Node's default
    const system = () => ['ROOTS', 'EXTRA'];
    expect(nodePgSslOptions({ sslmode: 'verify-full' }, read, undefined, system)).toEqual({ rejectUnauthorized: true, ca: ['ROOTS', 'EXTRA'] });
    expect(nodePgSslOptions({ sslmode: 'verify-full' }, read, '/home/root.crt', system).ca).toBe('PEM of /home/root.crt');
    expect(nodePgSslOptions({ sslmode: 'verify-full' }, read, undefined, () => undefined)).toEqual({ rejectUnauthorized: true });
    expect(nodePgSslOptions({ sslmode: 'require' }, read, undefined, system).ca).toEqual([]);
  });
});

describe('the system CAs of a fast command (lib/system-ca.ts movedSystemCa)', () => {
  it("are Node's roots plus the file the launcher moved out of NODE_EXTRA_CA_CERTS; none when nothing was moved", () => {
    const d = mkdtempSync(join(tmpdir(), 'pgaf-extra-ca-'));
    try {
      const file = join(d, 'extra.pem');
      writeFileSync(file, '-----BEGIN CERTIFICATE-----\nEXTRA\n-----END CERTIFICATE-----\n');
      expect(movedSystemCa({})).toBeUndefined();
      expect(movedSystemCa({ PGAF_NODE_EXTRA_CA_CERTS: '' })).toBeUndefined();
      const cas = movedSystemCa({ PGAF_NODE_EXTRA_CA_CERTS: file })!;
      expect(cas.slice(0, -1)).toEqual(rootCertificates);
      expect(cas.at(-1)).toContain('EXTRA');
      // as Node: a file it cannot read adds nothing
      expect(movedSystemCa({ PGAF_NODE_EXTRA_CA_CERTS: join(d, 'missing.pem') })).toEqual(rootCertificates);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
