import { describe, expect, it } from 'vitest';
import { createMonitorRequest } from '../../cli/create.js';
import { parseHostname, parseNonNegativeInt, parsePort, resolveMonitor, resolvePgdata } from '../../cli/options.js';
import { BadArgs } from '../../lib/errors.js';

describe('parsePort', () => {
  it.each(['1', '5432', '65535', 5400])('accepts %s', (v) => {
    expect(parsePort(v)).toBe(Number(v));
  });

  it.each(['0', '65536', '-1', '54x', '', '5.5', 'abc'])('rejects %j naming the option', (v) => {
    expect(() => parsePort(v, '--pgport')).toThrow(BadArgs);
    expect(() => parsePort(v, '--pgport')).toThrow(/--pgport must be an integer between 1 and 65535/);
  });
});

describe('other values', () => {
  it('hostnames and addresses', () => {
    expect(parseHostname('127.0.0.1')).toBe('127.0.0.1');
    expect(parseHostname('db-1.example.com')).toBe('db-1.example.com');
    expect(parseHostname('::1')).toBe('::1');
    expect(() => parseHostname('bad host')).toThrow(/--hostname/);
    expect(() => parseHostname('')).toThrow(BadArgs);
  });

  it('counts and groups', () => {
    expect(parseNonNegativeInt('0', '--group')).toBe(0);
    expect(() => parseNonNegativeInt('-1', '--group')).toThrow(/--group/);
  });

  it('PGDATA from the flag, else the environment, made absolute', () => {
    expect(resolvePgdata('/tmp/a/../b', {})).toBe('/tmp/b');
    expect(resolvePgdata(undefined, { PGDATA: '/tmp/env' })).toBe('/tmp/env');
    expect(() => resolvePgdata(undefined, {})).toThrow(/--pgdata is required/);
  });
});

describe('create monitor flags', () => {
  it('keeps unset options undefined so an existing monitor supplies them', () => {
    const req = createMonitorRequest({ pgdata: '/tmp/m' }, {});
    expect(req).toMatchObject({ pgdata: '/tmp/m', port: undefined, hostname: undefined, auth: undefined, skipPgHba: false });
  });

  it('takes the port from PGPORT and the socket directory from PGHOST', () => {
    const req = createMonitorRequest({ pgdata: '/tmp/m' }, { PGPORT: '6000', PGHOST: '/run/pg' });
    expect(req.port).toBe(6000);
    expect(req.socketDir).toBe('/run/pg');
    expect(createMonitorRequest({ pgdata: '/tmp/m' }, { PGHOST: 'db.example.com' }).socketDir).toBeUndefined();
  });

  it('rejects a bad port before anything else', () => {
    expect(() => createMonitorRequest({ pgdata: '/tmp/m', pgport: '70000' }, {})).toThrow(/--pgport/);
    expect(() => createMonitorRequest({ pgdata: '/tmp/m' }, { PGPORT: 'x' })).toThrow(/PGPORT/);
  });
});

describe('resolveMonitor', () => {
  it('prefers --monitor, then PG_AUTOCTL_MONITOR', () => {
    const uri = 'postgres://autoctl_node@127.0.0.1:5400/pg_auto_failover?sslmode=prefer';
    expect(resolveMonitor({ monitor: uri }, {}).target).toMatchObject({ host: '127.0.0.1', port: 5400, user: 'autoctl_node' });
    expect(resolveMonitor({}, { PG_AUTOCTL_MONITOR: uri }).uri).toBe(uri);
  });

  it('asks for a monitor or a PGDATA', () => {
    expect(() => resolveMonitor({}, {})).toThrow(/--monitor/);
  });
});
