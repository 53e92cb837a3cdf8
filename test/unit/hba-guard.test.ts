// The keeper's second line of defence: a peer or monitor host that is not a host name or an
// address (the hostile hosts of issue #10) never reaches pg_hba.conf, and the keeper says so
// once, naming the peer. Plans are pure; the last test runs the keeper's real HBA reconcile
// on a pg_hba.conf in a temp directory (no Postgres needed: nothing is running to reload).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { desiredHbaLines, screenHbaHosts } from '../../keeper/pg/hba-plan.js';
import { PgLocalPostgres } from '../../keeper/pg/local-postgres.js';
import type { PeerNode } from '../../keeper/fsm/context.js';
import { hbaLine } from '../../lib/hba.js';
import type { Logger } from '../../lib/log.js';

const HOSTILE_HOSTS = ['0.0.0.0/0 trust #', '10.0.0.9\nhost all all 0.0.0.0/0 trust', 'all', 'samenet', '0.0.0.0/0', "db'x", 'x'.repeat(10_000)];

describe('screenHbaHosts / desiredHbaLines', () => {
  it('keeps host names and addresses, refuses the rest with a reason', () => {
    const r = screenHbaHosts(['10.0.0.2', 'db2.example.com', ...HOSTILE_HOSTS]);
    expect(r.hosts).toEqual(['10.0.0.2', 'db2.example.com']);
    expect(r.refused.map((x) => x.host)).toEqual(HOSTILE_HOSTS);
    expect(r.refused[0]!.problem).toBe('it holds whitespace');
    expect(r.refused[1]!.problem).toMatch(/control character/);
    expect(r.refused[2]!.problem).toBe('it is a pg_hba.conf keyword');
  });

  it('a hostile peer or monitor host gets no line; the others keep theirs', () => {
    const lines = desiredHbaLines({ peerHosts: ['10.0.0.2', ...HOSTILE_HOSTS], monitorHost: '0.0.0.0/0 trust #', authMethod: 'scram-sha-256', hbaLevel: 'app' });
    expect(lines).toEqual([
      'host replication pgautofailover_replicator 10.0.0.2/32 scram-sha-256',
      'host all pgautofailover_replicator 10.0.0.2/32 scram-sha-256',
    ]);
    for (const l of lines) expect(l).not.toMatch(/trust|0\.0\.0\.0|\n/);
  });

  it('hbaLine itself refuses an unsafe address or word (last check)', () => {
    for (const address of HOSTILE_HOSTS.filter((h) => h !== 'samenet')) {
      expect(() => hbaLine({ type: 'host', database: 'all', user: 'u', address, method: 'md5' }), address).toThrow(/refusing to write an HBA rule/);
    }
    expect(() => hbaLine({ type: 'host', database: 'all', user: 'u x', address: '10.0.0.1/32', method: 'md5' })).toThrow(/its user "u x"/);
    expect(() => hbaLine({ type: 'host', database: 'all', user: 'u', address: '10.0.0.1/32', method: 'md5 # x' })).toThrow(/its method/);
    expect(hbaLine({ type: 'host', database: 'pg_auto_failover', user: 'autoctl_node', address: 'samenet', method: 'scram-sha-256' })).toBe(
      'host pg_auto_failover autoctl_node samenet scram-sha-256',
    );
  });
});

describe('the keeper HBA reconcile with a hostile peer from the monitor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-hba-guard-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the good peer, refuses the hostile one, and logs one sentence naming it, once', async () => {
    const hba = join(dir, 'pg_hba.conf');
    writeFileSync(hba, 'local all all peer\n', { mode: 0o600 });
    const warnings: string[] = [];
    const log: Logger = {
      error: () => undefined,
      warn: (m) => warnings.push(m),
      info: () => undefined,
      debug: () => undefined,
      trace: () => undefined,
      child: () => log,
    };
    const pg = new PgLocalPostgres({
      pgdata: dir,
      binDir: '/nonexistent',
      port: 5999,
      host: '127.0.0.1',
      socketDir: dir,
      nodeId: 1,
      authMethod: 'scram-sha-256',
      hbaLevel: 'app',
      monitorHost: '127.0.0.1',
      logFile: join(dir, 'log'),
      log,
    });
    const peer = (nodeId: number, name: string, host: string): PeerNode => ({ nodeId, name, host, port: 5432, lsn: '0/0', isPrimary: false });
    const peers = [peer(1, 'me', '127.0.0.1'), peer(2, 'node_2', '10.0.0.2'), peer(3, 'evil\nname', '0.0.0.0/0 trust #')];
    await pg.reconcileHba(peers);
    await pg.reconcileHba(peers);
    const text = readFileSync(hba, 'utf8');
    expect(text).toContain('host replication pgautofailover_replicator 10.0.0.2/32 scram-sha-256');
    expect(text).toContain('host postgres pgautofailover_monitor 127.0.0.1/32 scram-sha-256');
    expect(text).not.toMatch(/trust|0\.0\.0\.0/);
    expect(warnings).toEqual([
      'Refusing to write an HBA rule for node 3 "evil\\nname": its host "0.0.0.0/0 trust #" is not a host name or an address (it holds whitespace)',
    ]);
  });
});

describe('a hostile upstream host never reaches primary_conninfo', () => {
  it('primaryConninfo refuses it, naming the host', async () => {
    const { primaryConninfo } = await import('../../keeper/pg/setup-files.js');
    expect(primaryConninfo(2, { host: '10.0.0.1', port: 5432 })).toMatch(/^host=10\.0\.0\.1 port=5432 /);
    for (const host of HOSTILE_HOSTS) {
      expect(() => primaryConninfo(2, { host, port: 5432 }), host).toThrow(/refusing to stream from the host .*: it is not a host name or an address/);
    }
  });
});
