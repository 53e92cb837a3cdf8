// config/cluster-config.ts: discovery, precedence, secrets and error messages.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadClusterConfig, sslArgsOf } from '../../config/cluster-config.js';
import { resolveSslRequest } from '../../lib/ssl.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgaf-cc-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const NODE_YAML = `
formation:
  name: prod
  number_sync_standbys: 1
monitor:
  uri: postgres://autoctl_node@127.0.0.1:5000/pg_auto_failover
node:
  role: postgres
  name: node1
  pgdata: /srv/node1
  port: 5001
`;

describe('loadClusterConfig', () => {
  it('finds pgaf.config.yaml and applies defaults', async () => {
    writeFileSync(join(dir, 'pgaf.config.yaml'), NODE_YAML);
    const c = await loadClusterConfig({ cwd: dir, env: {} });
    expect(c.file).toBe(join(dir, 'pgaf.config.yaml'));
    expect(c.formation).toMatchObject({ name: 'prod', number_sync_standbys: 1, nodes: {} });
    expect(c.node).toMatchObject({ role: 'postgres', port: 5001, hostname: '127.0.0.1', socket_dir: '/tmp', candidate_priority: 50 });
    // no auth and no ssl key: the secure defaults (scram-sha-256, TLS self-signed) are the create code's
    expect(c.node?.auth).toBeUndefined();
    expect(c.node?.ssl).toBeUndefined();
    expect(Object.isFrozen(c.node)).toBe(true);
  });

  it('finds .pgafrc.json and an explicit path', async () => {
    writeFileSync(join(dir, '.pgafrc.json'), JSON.stringify({ node: { role: 'monitor', pgdata: '/srv/mon', port: 5000 } }));
    const a = await loadClusterConfig({ cwd: dir, env: {} });
    expect(a.monitorUri).toBe('postgres://autoctl_node@127.0.0.1:5000/pg_auto_failover?sslmode=prefer');
    writeFileSync(join(dir, 'cluster.yml'), 'formation: { number_sync_standbys: 0 }\n');
    const b = await loadClusterConfig({ cwd: dir, file: 'cluster.yml', env: {} });
    expect(b.formation.number_sync_standbys).toBe(0);
    expect(b.node).toBeUndefined();
  });

  it('node.ssl: none, self-signed or files, as create\'s SSL options; keys that do not fit are errors', async () => {
    writeFileSync(join(dir, 'pgaf.config.yaml'), NODE_YAML);
    const dflt = await loadClusterConfig({ cwd: dir, env: {} });
    expect(dflt.node?.ssl).toBeUndefined();
    expect(sslArgsOf(dflt.node!)).toEqual({});
    const none = await loadClusterConfig({ cwd: dir, env: { PGAF_NODE_SSL: 'none' } });
    expect(sslArgsOf(none.node!)).toEqual({ noSsl: true });
    const self = await loadClusterConfig({ cwd: dir, env: { PGAF_NODE_SSL: 'self-signed' } });
    expect(sslArgsOf(self.node!)).toEqual({ sslSelfSigned: true });
    expect(resolveSslRequest(sslArgsOf(self.node!), '/srv/n1').ssl).toMatchObject({ active: true, sslMode: 'require', certFile: '/srv/n1/server.crt' });
    const files = await loadClusterConfig({
      cwd: dir,
      env: { PGAF_NODE_SSL: 'files', PGAF_NODE_SSL_CERT_FILE: '/etc/ssl/n.crt', PGAF_NODE_SSL_KEY_FILE: '/etc/ssl/n.key', PGAF_NODE_SSL_CA_FILE: '/etc/ssl/ca.crt', PGAF_NODE_SSL_MODE: 'verify-ca' },
    });
    expect(sslArgsOf(files.node!)).toEqual({ serverCert: '/etc/ssl/n.crt', serverKey: '/etc/ssl/n.key', sslCaFile: '/etc/ssl/ca.crt', sslCrlFile: undefined, sslMode: 'verify-ca' });
    await expect(loadClusterConfig({ cwd: dir, env: { PGAF_NODE_SSL: 'files' } })).rejects.toThrow(/node\.ssl_cert_file: expected a file \(ssl: files needs the certificate and its key\), found nothing/);
    await expect(loadClusterConfig({ cwd: dir, env: { PGAF_NODE_SSL_CERT_FILE: '/etc/ssl/n.crt' } })).rejects.toThrow(/node\.ssl_cert_file: expected nothing: it goes with ssl: files \(ssl is self-signed, the default\), found "\/etc\/ssl\/n\.crt"/);
    await expect(loadClusterConfig({ cwd: dir, env: { PGAF_NODE_SSL: 'always' } })).rejects.toThrow(/node\.ssl: expected one of "none", "self-signed", "files"/);
  });

  it('flags > environment > file > defaults', async () => {
    writeFileSync(join(dir, 'pgaf.config.yaml'), NODE_YAML);
    const env = { PGAF_NODE_PORT: '6001', PGAF_FORMATION_NAME: 'envname', PGAF_NODE_REPLICATION_QUORUM: 'false' };
    const c = await loadClusterConfig({ cwd: dir, env, flags: { 'formation.name': 'flagname' } });
    expect(c.node?.port).toBe(6001);
    expect(c.node?.replication_quorum).toBe(false);
    expect(c.formation.name).toBe('flagname');
  });

  it('errors name the source, the key path, what was expected and what was found', async () => {
    writeFileSync(join(dir, 'pgaf.config.yaml'), NODE_YAML.replace('port: 5001', 'port: lots'));
    await expect(loadClusterConfig({ cwd: dir, env: {} })).rejects.toThrow(`${join(dir, 'pgaf.config.yaml')}: node.port: expected a number, found "lots"`);
    await expect(loadClusterConfig({ cwd: dir, env: { PGAF_NODE_PORT: '70000' } })).rejects.toThrow(
      'environment PGAF_NODE_PORT: node.port: expected a value <= 65535',
    );
    writeFileSync(join(dir, 'pgaf.config.yaml'), NODE_YAML.replace('role: postgres', 'role: standby'));
    await expect(loadClusterConfig({ cwd: dir, env: {} })).rejects.toThrow(/node\.role: expected one of "monitor", "postgres", found "standby"/);
    writeFileSync(join(dir, 'pgaf.config.yaml'), NODE_YAML + '  replication_password: hunter2\n');
    await expect(loadClusterConfig({ cwd: dir, env: {} })).rejects.toThrow(/node\.replication_password: unknown key/);
    writeFileSync(join(dir, 'pgaf.config.yaml'), 'node:\n  role: postgres\n  pgdata: relative/dir\n');
    const err = await loadClusterConfig({ cwd: dir, env: {} }).catch((e: Error) => e);
    expect(String(err)).toMatch(/node\.pgdata: expected an absolute path, found "relative\/dir"/);
    expect(String(err)).toMatch(/monitor\.uri: expected a data node needs monitor\.uri|monitor\.uri/);
    expect((err as { exitCode: number }).exitCode).toBe(2);
  });

  it('reports YAML syntax errors and a missing explicit file with the file name', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'node: [unclosed\n');
    await expect(loadClusterConfig({ cwd: dir, file: 'bad.yaml', env: {} })).rejects.toThrow(join(dir, 'bad.yaml'));
    await expect(loadClusterConfig({ cwd: dir, file: 'missing.yaml', env: {} })).rejects.toThrow(`${join(dir, 'missing.yaml')}: expected a configuration file`);
  });

  it('reads secrets from a file or the environment', async () => {
    writeFileSync(join(dir, 'pw'), 's3cret\n');
    writeFileSync(join(dir, 'pgaf.config.yaml'), NODE_YAML + `  replication_password_file: ${join(dir, 'pw')}\n`);
    const c = await loadClusterConfig({ cwd: dir, env: {} });
    expect(c.secrets.replicationPassword).toBe('s3cret');
    writeFileSync(join(dir, 'pgaf.config.yaml'), NODE_YAML);
    const d = await loadClusterConfig({ cwd: dir, env: { PG_AUTOCTL_REPLICATION_PASSWORD: 'fromenv' } });
    expect(d.secrets.replicationPassword).toBe('fromenv');
    writeFileSync(join(dir, 'pgaf.config.yaml'), NODE_YAML + `  replication_password_file: ${join(dir, 'nope')}\n`);
    await expect(loadClusterConfig({ cwd: dir, env: {} })).rejects.toThrow(/node\.replication_password_file: expected a readable file/);
  });
});
