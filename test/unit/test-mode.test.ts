import { describe, expect, it } from 'vitest';
import { defaultListenAddresses, localHostFor, socketDirectories, tcpTestMode, testModeTrustLines } from '../../lib/test-mode.js';

describe('PG_REGRESS_SOCK_DIR', () => {
  it('unset: PGHOST as a socket directory, else the fallback; no trust rules', () => {
    expect(tcpTestMode({})).toBe(false);
    expect(localHostFor('/run/pg', '/tmp', {})).toBe('/run/pg');
    expect(localHostFor('localhost', '/tmp', {})).toBe('/tmp');
    expect(testModeTrustLines('10.1.0.0/24', 'localhost', {})).toEqual([]);
  });
  it('a directory: that directory is the socket directory', () => {
    expect(localHostFor('localhost', '/tmp', { PG_REGRESS_SOCK_DIR: '/srv/sock' })).toBe('/srv/sock');
    expect(() => localHostFor(undefined, '/tmp', { PG_REGRESS_SOCK_DIR: 'rel' })).toThrow(/absolute directory/);
  });
  it('empty: --pghost is the TCP host of local connections, and is required', () => {
    const env = { PG_REGRESS_SOCK_DIR: '' };
    expect(tcpTestMode(env)).toBe(true);
    expect(localHostFor('localhost', '/tmp', env)).toBe('localhost');
    expect(() => localHostFor(undefined, '/tmp', env)).toThrow(/--pghost \(or PGHOST\) is required/);
    expect(() => localHostFor('/tmp', '/tmp', env)).toThrow(/socket directory/);
    expect(socketDirectories('localhost')).toBe('');
    expect(socketDirectories('/tmp')).toBe('/tmp');
  });
  it('empty: trust rules for the network of the node and for --pghost, nothing else', () => {
    const env = { PG_REGRESS_SOCK_DIR: '' };
    expect(testModeTrustLines('172.29.0.0/24', 'localhost', env)).toEqual([
      'host all all 172.29.0.0/24 trust',
      'host all all 127.0.0.1/32 trust',
      'host all all ::1/128 trust',
    ]);
    expect(testModeTrustLines(undefined, '172.29.0.11', env)).toEqual(['host all all 172.29.0.11/32 trust']);
  });
});

describe('default listen_addresses', () => {
  it('the hostname and loopback, each once', () => {
    expect(defaultListenAddresses('172.29.0.11')).toBe('172.29.0.11,localhost');
    expect(defaultListenAddresses('127.0.0.1')).toBe('127.0.0.1');
    expect(defaultListenAddresses('127.0.0.1', 'localhost')).toBe('127.0.0.1');
    expect(defaultListenAddresses('172.29.0.11', 'localhost')).toBe('172.29.0.11,localhost');
    expect(defaultListenAddresses('db1.example', '/tmp')).toBe('db1.example,localhost');
    expect(defaultListenAddresses('172.29.0.11', '172.29.0.11')).toBe('172.29.0.11,localhost');
  });
});
