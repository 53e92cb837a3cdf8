import { describe, expect, it } from 'vitest';
import { BadArgs } from '../../lib/errors.js';
import { monitorUri, parsePgUri } from '../../lib/pg-uri.js';

describe('monitorUri', () => {
  it('is the original monitor URI', () => {
    expect(monitorUri({ host: '127.0.0.1', port: 5400 })).toBe(
      'postgres://autoctl_node@127.0.0.1:5400/pg_auto_failover?sslmode=prefer',
    );
  });

  it('brackets IPv6 hosts and keeps sslmode', () => {
    expect(monitorUri({ host: '::1', port: 6000, sslmode: 'require' })).toBe(
      'postgres://autoctl_node@[::1]:6000/pg_auto_failover?sslmode=require',
    );
  });
});

describe('parsePgUri', () => {
  it('reads the parts back', () => {
    expect(parsePgUri('postgres://autoctl_node:p%40ss@10.0.0.1:6000/pg_auto_failover?sslmode=require')).toEqual({
      host: '10.0.0.1',
      port: 6000,
      user: 'autoctl_node',
      password: 'p@ss',
      database: 'pg_auto_failover',
      sslmode: 'require',
    });
  });

  it('defaults port 5432, sslmode prefer, and accepts host= for a socket directory', () => {
    const t = parsePgUri('postgresql://u@localhost/db?host=/tmp/sock');
    expect(t).toMatchObject({ host: '/tmp/sock', port: 5432, sslmode: 'prefer', database: 'db' });
    expect(parsePgUri('postgres://u@[::1]:7000/db').host).toBe('::1');
  });

  it('rejects non-URIs and bad ports, naming the option', () => {
    expect(() => parsePgUri('host=h port=5', '--monitor')).toThrow(BadArgs);
    expect(() => parsePgUri('host=h port=5', '--monitor')).toThrow(/--monitor/);
    expect(() => parsePgUri('postgres://h:99999/db')).toThrow(/--monitor/);
    expect(() => parsePgUri('postgres://h:0/db')).toThrow(/invalid port "0"/);
  });
});
