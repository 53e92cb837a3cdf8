import { describe, expect, it } from 'vitest';
import { monitorConfigFromIni, monitorConfigToIni, type MonitorConfig } from '../../config/node-config.js';
import { configFilePath } from '../../config/paths.js';
import { BadConfig } from '../../lib/errors.js';
import { parseIni, stringifyIni } from '../../lib/ini.js';

const cfg: MonitorConfig = {
  role: 'monitor',
  hostname: '127.0.0.1',
  pgdata: '/var/lib/pgaf/monitor',
  pgCtl: '/usr/lib/postgresql/15/bin/pg_ctl',
  dbname: 'pg_auto_failover',
  username: 'postgres',
  host: '/tmp',
  port: 5400,
  listenAddresses: '127.0.0.1',
  authMethod: 'trust',
  hbaLevel: 'app',
  ssl: { active: false, sslMode: 'prefer' },
};

describe('pg_autoctl.cfg', () => {
  it('is written in the original layout', () => {
    const text = stringifyIni(monitorConfigToIni(cfg));
    expect(text).toMatch(/^\[pg_autoctl\]\nrole = monitor\nhostname = 127.0.0.1\n\n\[postgresql\]\npgdata = \/var\/lib\/pgaf\/monitor\n/);
    expect(text).toContain('port = 5400\n');
    expect(text).toContain('[ssl]\nactive = 0\nsslmode = prefer\n');
  });

  it('round-trips', () => {
    const ini = parseIni(stringifyIni(monitorConfigToIni(cfg)));
    expect(monitorConfigFromIni(ini, 'x.cfg')).toEqual(cfg);
  });

  it('ignores comments and rejects garbage', () => {
    expect(parseIni('# c\n[a]\n; c\nk = v = w\n')).toEqual({ a: { k: 'v = w' } });
    expect(() => parseIni('k = v\n')).toThrow(/line 1/);
  });

  it('shows a bad line escaped and cut, and never one that may hold a password', () => {
    expect(() => parseIni('[a]\n\u0000\u0001\u001b[31mred\n')).toThrow('line 2: expected "[section]" or "key = value", got "\\u0000\\u0001\\u001b[31mred"');
    expect(() => parseIni(`[a]\n${'x'.repeat(100)}\n`)).toThrow(`got "${'x'.repeat(40)}…"`);
    let message = '';
    try {
      parseIni('[replication]\npassword: s3cret-value\n');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('line 2: expected "[section]" or "key = value", got a line of 22 characters that mentions a password (not shown)');
    expect(message).not.toContain('s3cret');
  });

  it('validates values', () => {
    const ini = monitorConfigToIni(cfg);
    ini.postgresql!.port = '99999';
    expect(() => monitorConfigFromIni(ini, 'x.cfg')).toThrow(BadConfig);
    expect(() => monitorConfigFromIni(ini, 'x.cfg')).toThrow(/postgresql|port/);
  });

  it('lives under XDG_CONFIG_HOME/pg_autoctl/<PGDATA>', () => {
    expect(configFilePath('/data/mon', { XDG_CONFIG_HOME: '/xdg' }, '/home/u')).toBe('/xdg/pg_autoctl/data/mon/pg_autoctl.cfg');
    expect(configFilePath('/data/mon', {}, '/home/u')).toBe('/home/u/.config/pg_autoctl/data/mon/pg_autoctl.cfg');
  });
});
