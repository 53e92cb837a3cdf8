// Small command-line behaviours existing pg_autoctl scripts rely on.
import { describe, expect, it } from 'vitest';
import { endOfOptions } from '../../cli/tree.js';
import { createPostgresRequest } from '../../cli/create-postgres.js';
import { createMonitorRequest } from '../../cli/create.js';

const base = { pgdata: '/tmp/pgaf-unit-x', monitor: 'postgres://autoctl_node@10.1.0.5:5432/pg_auto_failover', noSsl: true } as const;

describe('`--` ends the options', () => {
  it('what follows is positional', () => {
    expect(endOfOptions(['set', 'node', 'candidate-priority', '--pgdata', '/d', '--', '99'])).toEqual(['set', 'node', 'candidate-priority', '--pgdata', '/d', '99']);
    expect(endOfOptions(['show', 'state'])).toEqual(['show', 'state']);
  });
  it('a word after it that looks like an option stays behind it', () => {
    expect(endOfOptions(['set', 'node', 'candidate-priority', '--', '--json'])).toEqual(['set', 'node', 'candidate-priority', '--', '--json']);
  });
});

describe('--auth skip and --pg-hba-lan', () => {
  it('--auth skip is --skip-pg-hba', () => {
    const r = createPostgresRequest({ ...base, auth: 'skip' }, {});
    expect(r.hbaLevel).toBe('skip');
    const m = createMonitorRequest({ pgdata: '/tmp/pgaf-unit-m', auth: 'skip', noSsl: true }, {});
    expect(m.skipPgHba).toBe(true);
    expect(m.auth).toBeUndefined();
  });
  it('--pg-hba-lan asks for the lan level; with --skip-pg-hba it is refused', () => {
    expect(createPostgresRequest({ ...base, auth: 'scram-sha-256', pgHbaLan: true }, {}).hbaLevel).toBe('lan');
    expect(() => createPostgresRequest({ ...base, auth: 'skip', pgHbaLan: true }, {})).toThrow(/mutually exclusive/);
  });
  it('PG_REGRESS_SOCK_DIR="" needs --pghost, a host for local TCP connections', () => {
    expect(createPostgresRequest({ ...base, auth: 'trust', pghost: 'localhost' }, { PG_REGRESS_SOCK_DIR: '' }).socketDir).toBe('localhost');
    expect(() => createPostgresRequest({ ...base, auth: 'trust' }, { PG_REGRESS_SOCK_DIR: '' })).toThrow(/--pghost/);
    expect(createMonitorRequest({ pgdata: '/tmp/pgaf-unit-m', noSsl: true }, { PG_REGRESS_SOCK_DIR: '', PGHOST: 'localhost' }).socketDir).toBe('localhost');
  });
});
