import { describe, expect, it } from 'vitest';
import { appendHbaLines, hbaLine, keeperNetworkCidr, planHbaAdditions } from '../../lib/hba.js';

const ifaces = {
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4' as const, mac: '', internal: true, cidr: '127.0.0.1/8' }],
  eth0: [
    { address: '10.1.2.3', netmask: '255.255.240.0', family: 'IPv4' as const, mac: '', internal: false, cidr: '10.1.2.3/20' },
    { address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6' as const, mac: '', internal: false, cidr: 'fd00::2/64', scopeid: 0 },
  ],
};

describe('hba', () => {
  it('builds the keeper line of the monitor', () => {
    expect(hbaLine({ type: 'host', database: 'pg_auto_failover', user: 'autoctl_node', address: '127.0.0.1/32', method: 'trust' })).toBe(
      'host pg_auto_failover autoctl_node 127.0.0.1/32 trust',
    );
  });

  it('plans only missing lines, ignoring spacing and comments', () => {
    const current = 'local all all trust\nhost   pg_auto_failover autoctl_node   127.0.0.1/32   trust # keepers\n';
    expect(planHbaAdditions(current, ['host pg_auto_failover autoctl_node 127.0.0.1/32 trust'])).toEqual([]);
    expect(planHbaAdditions(current, ['host pg_auto_failover autoctl_node 10.0.0.0/8 md5'])).toHaveLength(1);
  });

  it('appends under a comment', () => {
    expect(appendHbaLines('a', ['b'])).toBe('a\n\n# added by pgaf\nb\n');
    expect(appendHbaLines('a\n', [])).toBe('a\n');
  });

  it('finds the network keepers come from', () => {
    expect(keeperNetworkCidr('127.0.0.1', ifaces)).toBe('127.0.0.1/32');
    expect(keeperNetworkCidr('::1', ifaces)).toBe('::1/128');
    expect(keeperNetworkCidr('10.1.2.3', ifaces)).toBe('10.1.0.0/20');
    expect(keeperNetworkCidr('fd00::2', ifaces)).toBe('fd00::2/64');
    expect(keeperNetworkCidr('192.0.2.99', ifaces)).toBeUndefined();
    expect(keeperNetworkCidr('not-an-ip', ifaces)).toBeUndefined();
  });
});
