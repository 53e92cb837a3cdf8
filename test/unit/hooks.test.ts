// State-change hooks: the environment a hook gets (allow-listed: no secrets), its JSON on
// stdin, its timeout, and the one sentence that tells its outcome; the [http]/[hooks] keys.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSet } from '../../config/config-keys.js';
import { keeperConfigFromIni } from '../../config/keeper-config.js';
import { hookEnv, hookLabel, runHook, type HookEvent } from '../../lib/hooks.js';
import type { Logger } from '../../lib/log.js';

const ev: HookEvent = { hook: 'on_primary', formation: 'default', group: 0, nodeId: 2, name: 'node2', oldState: 'stop_replication', newState: 'wait_primary', oldRole: 'replica', newRole: 'primary' };

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const put = (m: string) => lines.push(m);
  const log: Logger = { error: put, warn: put, info: put, debug: () => undefined, trace: () => undefined, child: () => log };
  return { log, lines };
}

describe('hooks', () => {
  it('get the event in PGAF_* variables and nothing secret from our environment', () => {
    const env = hookEnv(ev, { PATH: '/bin', PGPASSWORD: 's3cret', PG_AUTOCTL_REPLICATION_PASSWORD: 'r3pl', PGDATA: '/d', AWS_SECRET_ACCESS_KEY: 'x', LANG: 'C.UTF-8' });
    expect(env).toMatchObject({ PATH: '/bin', LANG: 'C.UTF-8', PGAF_HOOK: 'on_primary', PGAF_NODE_NAME: 'node2', PGAF_OLD_STATE: 'stop_replication', PGAF_NEW_STATE: 'wait_primary', PGAF_NEW_ROLE: 'primary' });
    expect(Object.values(env).join(' ')).not.toMatch(/s3cret|r3pl/);
    expect(Object.keys(env).filter((k) => !k.startsWith('PGAF_'))).toEqual(['PATH', 'LANG']);
  });

  it('runs a command with the JSON on stdin and logs one sentence', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgaf-hook-'));
    const { log, lines } = capture();
    let input: string;
    try {
      const o = await runHook(`cat > ${dir}/in.json`, ev, { timeoutSec: 10, log });
      expect(o.ok).toBe(true);
      input = readFileSync(join(dir, 'in.json'), 'utf8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(JSON.parse(input)).toMatchObject({ hook: 'on_primary', node: 'node2', old_state: 'stop_replication', new_state: 'wait_primary' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Hook on_primary \(cat\) for stop_replication -> wait_primary succeeded in \d+ ms\.$/);
  });

  it('reports a failure with its exit code and stderr, and kills a hook that overruns', async () => {
    const { log, lines } = capture();
    expect((await runHook('echo no route >&2; exit 3', ev, { timeoutSec: 10, log, fencing: true })).ok).toBe(false);
    expect(lines[0]).toMatch(/failed with exit code 3 in \d+ ms \(no route\): the promotion is cancelled\.$/);
    const o = await runHook('sleep 30', ev, { timeoutSec: 0.3, log });
    expect(o.ok).toBe(false);
    expect(lines[1]).toMatch(/timed out after 0.3 s and was killed/);
  });

  it('names a webhook without its credentials', () => {
    expect(hookLabel('https://bot:tok3n@hooks.example.com/pgaf?key=abc')).toBe('https://hooks.example.com/pgaf?…');
  });
});

describe('[http] and [hooks] in pg_autoctl.cfg', () => {
  const ini = {
    pg_autoctl: { role: 'keeper', monitor: 'postgres://autoctl_node@127.0.0.1:5000/pg_auto_failover', formation: 'default', group: '0', name: 'node1', hostname: '127.0.0.1', nodekind: 'standalone' },
    postgresql: { pgdata: '/d', pg_ctl: '/usr/bin/pg_ctl', username: 'postgres', dbname: 'postgres', host: '/tmp', port: '5432', listen_addresses: '*', auth_method: 'trust' },
  };
  it('are off by default and bind 127.0.0.1 when only the port is given', () => {
    expect(keeperConfigFromIni(ini, 'f').http).toBeUndefined();
    const next = configSet(ini, 'f', 'http.port', '8008');
    expect(keeperConfigFromIni(next, 'f').http).toEqual({ port: 8008, listen: '127.0.0.1', tls: false });
  });
  it('refuse bad values and unknown hooks before anything is written', () => {
    expect(() => configSet(ini, 'f', 'http.port', '70000')).toThrow(/http.port: expected an integer from 1 to 65535/);
    expect(() => configSet(ini, 'f', 'http.listen', '1.2.3.4 -x')).toThrow(/http.listen/);
    expect(() => configSet(ini, 'f', 'hooks.on_failover', 'x')).toThrow(/unknown configuration key hooks.on_failover/);
    expect(() => configSet(ini, 'f', 'hooks.timeout', '0')).toThrow(/hooks.timeout/);
    expect(keeperConfigFromIni(configSet(ini, 'f', 'hooks.pre_promote', '/usr/local/bin/fence'), 'f').hooks).toMatchObject({ prePromote: '/usr/local/bin/fence', timeoutSec: 30 });
  });
});
