// plugin/module-config.ts: where the PM2 module finds its cluster file.
import { describe, expect, it } from 'vitest';
import { configPathFrom } from '../../plugin/module-config.js';

describe('configPathFrom', () => {
  it('reads the module setting, from its own variable or the module JSON', () => {
    expect(configPathFrom({ config: '/etc/pgaf/a.yaml' }, [])).toBe('/etc/pgaf/a.yaml');
    expect(configPathFrom({ 'pm2-pgaf': JSON.stringify({ config: '/etc/pgaf/b.yaml' }) }, [])).toBe('/etc/pgaf/b.yaml');
  });
  it('an empty setting (the package default) means no file', () => {
    expect(configPathFrom({ config: '', 'pm2-pgaf': '{"config":""}' }, [])).toBeUndefined();
  });
  it('--config, then $PGAF_CONFIG, win over the module setting', () => {
    expect(configPathFrom({ config: '/a', PGAF_CONFIG: '/b' }, ['node', 'module.js', '--config', '/c'])).toBe('/c');
    expect(configPathFrom({ config: '/a', PGAF_CONFIG: '/b' }, [])).toBe('/b');
  });
});
