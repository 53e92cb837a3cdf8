// Closing the keeper's and the monitor's integrations waits for an [http] apply in flight, and
// an apply that comes after (a late SIGHUP) opens nothing: a service that stops, or that
// could not claim its pid file, leaves no listening socket behind to keep it alive.
import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import { configSet } from '../../config/config-keys.js';
import { keeperConfigFromIni } from '../../config/keeper-config.js';
import { monitorConfigFromIni } from '../../config/node-config.js';
import { KeeperIntegrations } from '../../keeper/integrations.js';
import type { Logger } from '../../lib/log.js';
import { MonitorIntegrations } from '../../monitor-ext/status-page/service.js';
import { freePort } from '../support/postgres.js';

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, trace: () => undefined, child: () => quiet } as unknown as Logger;

const keeperIni = {
  pg_autoctl: { role: 'keeper', monitor: 'postgres://autoctl_node@m/pg_auto_failover', formation: 'default', group: '0', name: 'n1', hostname: 'n1' },
  postgresql: { pgdata: '/d', pg_ctl: '/usr/bin/pg_ctl', username: 'postgres', dbname: 'postgres', host: '/tmp', port: '5432', listen_addresses: '*', auth_method: 'trust' },
};
const monitorIni = {
  pg_autoctl: { role: 'monitor', hostname: '127.0.0.1' },
  postgresql: { pgdata: '/d', pg_ctl: '/usr/bin/pg_ctl', dbname: 'pg_auto_failover', username: 'postgres', host: '/tmp', port: '5999', listen_addresses: '127.0.0.1', auth_method: 'scram-sha-256' },
};

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('closing the integrations', () => {
  it('keeper: waits for the apply in flight, and a later apply opens nothing', async () => {
    const port = await freePort();
    const plain = keeperConfigFromIni(keeperIni, 'f');
    const withHttp = keeperConfigFromIni(configSet(keeperIni, 'f', 'http.port', String(port)), 'f');
    const ki = new KeeperIntegrations(plain, quiet);
    void ki.apply(withHttp); // not awaited: in flight when close() starts
    await ki.close();
    expect(await listening(port)).toBe(false);
    await ki.apply(withHttp);
    expect(await listening(port)).toBe(false);
  });

  it('monitor: waits for the apply in flight, and a later apply opens nothing', async () => {
    const port = await freePort();
    const plain = monitorConfigFromIni(monitorIni, 'f');
    const withHttp = monitorConfigFromIni(configSet(monitorIni, 'f', 'http.port', String(port)), 'f');
    const mi = new MonitorIntegrations(plain, quiet);
    void mi.apply(withHttp);
    await mi.close();
    expect(await listening(port)).toBe(false);
    await mi.apply(withHttp);
    expect(await listening(port)).toBe(false);
  });

  it('an apply before close serves the port until close', async () => {
    const port = await freePort();
    const ki = new KeeperIntegrations(keeperConfigFromIni(keeperIni, 'f'), quiet);
    await ki.apply(keeperConfigFromIni(configSet(keeperIni, 'f', 'http.port', String(port)), 'f'));
    expect(await listening(port)).toBe(true);
    await ki.close();
    expect(await listening(port)).toBe(false);
  });
});
