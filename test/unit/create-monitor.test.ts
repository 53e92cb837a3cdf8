import type { Stats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MonitorConfig } from '../../config/node-config.js';
import { monitorSettings, unsearchableAncestor, withInclude } from '../../monitor-ext/create-monitor.js';

describe('create monitor pieces', () => {
  it('includes the settings file once', () => {
    const once = withInclude('max_connections = 100\n');
    expect(once).toContain("include 'postgresql-auto-failover.conf'\n");
    expect(withInclude(once)).toBe(once);
  });

  it('writes listen_addresses, port and the socket directory', () => {
    const base = { listenAddresses: '127.0.0.1', port: 5400, host: '/tmp/pgaf-demo', authMethod: 'trust' };
    const text = monitorSettings({ ...base, ssl: { active: false, sslMode: 'prefer' } } as MonitorConfig);
    expect(text).toContain("listen_addresses = '127.0.0.1'\n");
    expect(text).toContain('port = 5400\n');
    expect(text).toContain("unix_socket_directories = '/tmp/pgaf-demo'\n");
    expect(text).toContain('ssl = off\n');
    expect(text).toContain("recovery_init_sync_method = 'syncfs'\n");
    const ssl = monitorSettings({ ...base, ssl: { active: true, sslMode: 'require', certFile: '/m/server.crt', keyFile: '/m/server.key' } } as MonitorConfig);
    expect(ssl).toContain("ssl = on\nssl_cert_file = '/m/server.crt'\nssl_key_file = '/m/server.key'\n");
  });

  it('finds a directory the postgres user cannot enter', () => {
    const pg = { name: 'postgres', uid: 101, gid: 104 };
    const modes: Record<string, { uid: number; gid: number; mode: number }> = {
      '/': { uid: 0, gid: 0, mode: 0o40755 },
      '/root': { uid: 0, gid: 0, mode: 0o40700 },
      '/srv': { uid: 0, gid: 104, mode: 0o40750 },
    };
    const stat = ((p: string) => {
      const m = modes[p];
      if (!m) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return m as unknown as Stats;
    }) as unknown as typeof import('node:fs').statSync;
    // existingAncestor uses existsSync on the real disk: /root and /srv exist on Linux.
    expect(unsearchableAncestor('/root/x/y', pg, stat)).toBe('/root');
    expect(unsearchableAncestor('/srv/pgaf-unit-none', pg, stat)).toBeUndefined();
  });
});
