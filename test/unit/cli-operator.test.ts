// Operator commands: argument validation (pure request builders), config keys, the tables
// they print, notification payloads and pid-file helpers. No server needed.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropNodeRequest } from '../../cli/drop.js';
import { parseStatePayload } from '../../cli/follow.js';
import { main } from '../../cli/tree.js';
import { checkMaintenanceAllowed, maintenanceRequest } from '../../cli/maintenance.js';
import { performFailoverRequest, performPromotionRequest, requestFailover } from '../../cli/perform.js';
import { quoteLiteral, showFormationRequest } from '../../cli/show.js';
import { stopRequest } from '../../cli/stop.js';
import { renderSettingsTable, stateEventColumns, tableStream } from '../../cli/tables.js';
import { completeIni, configGet, configSet, knownKeys, maskedIni, parseConfigKey } from '../../config/config-keys.js';
import { BadArgs, BadConfig, MonitorFailed, PgSql } from '../../lib/errors.js';
import { parseIni, type Ini } from '../../lib/ini.js';
import { setLogSink } from '../../lib/log.js';
import { servicePid, waitForExit } from '../../lib/pid-file.js';

const lines: string[] = [];
const prevSink = setLogSink((l) => lines.push(l));
const dir = mkdtempSync(join(tmpdir(), 'pgaf-unit-op-'));
afterAll(() => {
  setLogSink(prevSink);
  rmSync(dir, { recursive: true, force: true });
});

const MONITOR = 'postgres://autoctl_node@127.0.0.1:1/pg_auto_failover';
const run = (...args: string[]) => main(['node', '/usr/bin/pgaf', ...args]);

describe('perform failover / switchover / promotion', () => {
  it('defaults: formation and group of this node, else default and 0; wait 60', () => {
    expect(performFailoverRequest({})).toEqual({ formation: 'default', group: 0, waitSec: 60 });
    expect(performFailoverRequest({}, { formation: 'f1', group: 0 })).toEqual({ formation: 'f1', group: 0, waitSec: 60 });
    expect(performFailoverRequest({ formation: 'f2', group: '0', wait: '0' }, { formation: 'f1' })).toEqual({
      formation: 'f2',
      group: 0,
      waitSec: 0,
    });
  });

  it.each([
    [{ group: '-1' }, /--group must be a non-negative integer/],
    [{ group: 'x' }, /--group/],
    [{ wait: '-5' }, /--wait must be a non-negative integer/],
    [{ wait: '1.5' }, /--wait/],
    [{ wait: 'soon' }, /--wait/],
    [{ formation: 'bad name' }, /--formation must be a formation name/],
  ])('rejects %j naming the option', (args, msg) => {
    expect(() => performFailoverRequest(args)).toThrow(BadArgs);
    expect(() => performFailoverRequest(args)).toThrow(msg);
  });

  it('promotion needs a name: --name, else this node', () => {
    expect(() => performPromotionRequest({})).toThrow(/--name is required/);
    expect(performPromotionRequest({}, { name: 'node_2', formation: 'f' })).toEqual({ formation: 'f', name: 'node_2', waitSec: 60 });
    expect(performPromotionRequest({ name: 'a', wait: '5' }, { name: 'b' })).toEqual({ formation: 'default', name: 'a', waitSec: 5 });
    expect(() => performPromotionRequest({ name: '' })).toThrow(/--name must be a node name of 1 to 63 characters/);
    expect(() => performPromotionRequest({ name: 'x'.repeat(64) })).toThrow(BadArgs);
  });

  it('exits 1 on a bad --wait before connecting anywhere', async () => {
    lines.length = 0;
    expect(await run('perform', 'failover', '--monitor', MONITOR, '--wait', 'x')).toBe(1);
    expect(lines.join('\n')).toMatch(/--wait must be a non-negative integer, got "x"/);
    expect(await run('perform', 'switchover', '--monitor', MONITOR, '--group', '-2')).toBe(1);
    expect(await run('perform', 'promotion', '--monitor', MONITOR)).toBe(1);
    expect(await run('perform', 'takeover', '--monitor', MONITOR)).toBe(1);
  });
});

describe('perform failover / switchover --allow-data-loss', () => {
  it('lifts the guard for --wait seconds; --wait 0 (no wait) lifts it for the default 60 s', () => {
    expect(performFailoverRequest({ allowDataLoss: true })).toEqual({ formation: 'default', group: 0, waitSec: 60, allowDataLossSec: 60 });
    expect(performFailoverRequest({ allowDataLoss: true, wait: '120' })).toMatchObject({ waitSec: 120, allowDataLossSec: 120 });
    expect(performFailoverRequest({ allowDataLoss: true, wait: '0' })).toMatchObject({ waitSec: 0, allowDataLossSec: 60 });
    expect(performFailoverRequest({ allowDataLoss: false })).not.toHaveProperty('allowDataLossSec');
    expect(() => performFailoverRequest({ allowDataLoss: true, wait: '3601' })).toThrow(/--allow-data-loss .* at most 3600: got --wait 3601/);
  });

  /** A fake monitor session: records each statement, answers allow_data_loss with `inProgress`. */
  function fakeMonitor(inProgress: boolean, failOn?: RegExp) {
    const sql: string[] = [];
    const q = (async (text: string) => {
      sql.push(text.replace(/\s+/g, ' ').replace(/ FROM .*| \(.*/, ''));
      if (failOn?.test(text)) throw new PgSql('cannot fail over: primary node_1 is not in a stable state', { sqlstate: '55000' });
      if (/allow_data_loss/.test(text)) return [{ allowed_until: '2026-11-26 05:10:00+00', failover_in_progress: inProgress }];
      return [];
    }) as any;
    return { q, sql };
  }

  it('one transaction: allow_data_loss, then perform_failover; a WARN says acknowledged writes may be lost', async () => {
    const { q, sql } = fakeMonitor(false);
    lines.length = 0;
    await requestFailover(q, { formation: 'default', group: 0, waitSec: 60, allowDataLossSec: 60 }, 'failover');
    expect(sql).toEqual(['BEGIN', 'SELECT allowed_until::text, failover_in_progress', 'SELECT pgautofailover.perform_failover($1::text, $2::int)', 'COMMIT']);
    expect(lines.join('\n')).toMatch(/WARN .*data-loss guard of formation "default" group 0 is lifted until .*acknowledged writes may be lost/);
  });

  it('a failover already in progress: the allowance alone, no perform_failover', async () => {
    const { q, sql } = fakeMonitor(true);
    await requestFailover(q, { formation: 'default', group: 0, waitSec: 60, allowDataLossSec: 60 }, 'failover');
    expect(sql).toEqual(['BEGIN', 'SELECT allowed_until::text, failover_in_progress', 'COMMIT']);
  });

  it('a refusal rolls the allowance back and exits 6 with the monitor\'s words; no WARN', async () => {
    const { q, sql } = fakeMonitor(false, /perform_failover/);
    lines.length = 0;
    const err = await requestFailover(q, { formation: 'default', group: 0, waitSec: 60, allowDataLossSec: 60 }, 'switchover').catch((e) => e);
    expect(err).toBeInstanceOf(MonitorFailed);
    expect(err.message).toMatch(/cannot perform a switchover of formation "default" group 0: the monitor refused: .*not in a stable state/);
    expect(sql[sql.length - 1]).toBe('ROLLBACK');
    expect(lines.join('\n')).not.toMatch(/WARN/);
  });

  it('without the option: perform_failover alone, no transaction', async () => {
    const { q, sql } = fakeMonitor(false);
    await requestFailover(q, { formation: 'f', group: 1, waitSec: 60 }, 'failover');
    expect(sql).toEqual(['SELECT pgautofailover.perform_failover($1::text, $2::int)']);
  });

  it('the command line: accepted by failover and switchover, refused by promotion naming it (exit 1)', async () => {
    lines.length = 0;
    expect(await run('perform', 'failover', '--monitor', MONITOR, '--allow-data-loss', '--wait', '5000')).toBe(1);
    expect(lines.join('\n')).toMatch(/--allow-data-loss .* at most 3600/);
    lines.length = 0;
    expect(await run('perform', 'switchover', '--monitor', MONITOR, '--allow-data-loss', '--wait', '9999')).toBe(1);
    expect(lines.join('\n')).toMatch(/--allow-data-loss .* at most 3600/);
    lines.length = 0;
    expect(await run('perform', 'promotion', '--monitor', MONITOR, '--name', 'n', '--allow-data-loss')).toBe(1);
    expect(lines.join('\n')).toMatch(/Unknown argument.*allow-data-loss/);
  });
});

describe('enable / disable maintenance', () => {
  it('needs PGDATA; parses --wait', () => {
    expect(() => maintenanceRequest({}, {})).toThrow(/--pgdata is required/);
    expect(maintenanceRequest({ pgdata: '/tmp/n1' }, {})).toEqual({ pgdata: '/tmp/n1', allowFailover: false, waitSec: 60 });
    expect(maintenanceRequest({ pgdata: '/tmp/n1', allowFailover: true, wait: '0' }, {})).toEqual({
      pgdata: '/tmp/n1',
      allowFailover: true,
      waitSec: 0,
    });
    expect(() => maintenanceRequest({ pgdata: '/tmp/n1', wait: '-1' }, {})).toThrow(/--wait/);
  });

  it('refuses a primary without --allow-failover (by the state file or by the monitor)', () => {
    expect(() => checkMaintenanceAllowed('primary', undefined, false, 'node 1')).toThrow(BadArgs);
    expect(() => checkMaintenanceAllowed('primary', undefined, false, 'node 1')).toThrow(/node 1 is a primary/);
    expect(() => checkMaintenanceAllowed('secondary', { reportedstate: 'primary', goalstate: 'primary' }, false, 'n')).toThrow(BadArgs);
    expect(() => checkMaintenanceAllowed('secondary', { reportedstate: 'secondary', goalstate: 'wait_primary' }, false, 'n')).toThrow(BadArgs);
    expect(() => checkMaintenanceAllowed('primary', { reportedstate: 'primary', goalstate: 'primary' }, true, 'n')).not.toThrow();
    expect(() => checkMaintenanceAllowed('secondary', { reportedstate: 'secondary', goalstate: 'secondary' }, false, 'n')).not.toThrow();
    expect(() => checkMaintenanceAllowed('catchingup', undefined, false, 'n')).not.toThrow();
  });

  it('exits 1 on an unknown option of enable maintenance', async () => {
    expect(await run('enable', 'maintenance', '--pgdata', join(dir, 'none'), '--allow-it')).toBe(1);
    expect(await run('enable', 'turbo')).toBe(1);
  });
});

describe('drop node', () => {
  it('local by default; remote with --hostname/--pgport or --formation/--name', () => {
    expect(dropNodeRequest({}, {})).toEqual({ target: undefined, destroy: false, force: false, waitSec: 60 });
    expect(dropNodeRequest({ destroy: true, wait: '30' }, {})).toEqual({ target: undefined, destroy: true, force: false, waitSec: 30 });
    expect(dropNodeRequest({ hostname: '127.0.0.1', pgport: '5433', force: true }, {}).target).toEqual({ host: '127.0.0.1', port: 5433 });
    expect(dropNodeRequest({ hostname: 'db1' }, { PGPORT: '6000' }).target).toEqual({ host: 'db1', port: 6000 });
    expect(dropNodeRequest({ hostname: 'db1' }, {}).target).toEqual({ host: 'db1', port: 5432 });
    expect(dropNodeRequest({ name: 'node_3' }, {}).target).toEqual({ formation: 'default', name: 'node_3' });
    expect(dropNodeRequest({ name: 'node_3', formation: 'f' }, {}).target).toEqual({ formation: 'f', name: 'node_3' });
  });

  it.each([
    [{ hostname: 'h', name: 'n' }, /either with --hostname and --pgport, or with --formation and --name/],
    [{ pgport: '5432' }, /--pgport needs --hostname/],
    [{ formation: 'f' }, /--formation needs --name/],
    [{ hostname: 'h', pgport: '0' }, /--pgport must be an integer between 1 and 65535/],
    [{ hostname: 'bad host' }, /--hostname must be a host name/],
    [{ name: 'n', destroy: true }, /--destroy only applies to the local node/],
    [{ destroy: true, wait: '0' }, /--destroy needs the node dropped first/],
    [{ wait: 'never' }, /--wait/],
  ])('rejects %j', (args, msg) => {
    expect(() => dropNodeRequest(args, {})).toThrow(BadArgs);
    expect(() => dropNodeRequest(args, {})).toThrow(msg);
  });

  it('exits 1 on conflicting targets', async () => {
    expect(await run('drop', 'node', '--monitor', MONITOR, '--hostname', 'h', '--name', 'n')).toBe(1);
    expect(await run('drop', 'node', '--monitor', MONITOR)).toBe(1);
  });
});

describe('show settings / standby-names', () => {
  it('formation and group default to this node, else default/0', () => {
    expect(showFormationRequest({})).toEqual({ formation: 'default', group: 0 });
    expect(showFormationRequest({}, { formation: 'f', group: 0 })).toEqual({ formation: 'f', group: 0 });
    expect(showFormationRequest({ formation: 'g', group: '1' }, { formation: 'f' })).toEqual({ formation: 'g', group: 1 });
    expect(() => showFormationRequest({ group: 'a' })).toThrow(/--group/);
  });

  it('prints synchronous_standby_names quoted like the original', () => {
    expect(quoteLiteral('ANY 1 (pgautofailover_standby_2)')).toBe("'ANY 1 (pgautofailover_standby_2)'");
    expect(quoteLiteral('')).toBe("''");
    expect(quoteLiteral("it's")).toBe("'it''s'");
  });

  it('settings table: Context | Name | Setting | Value', () => {
    const t = renderSettingsTable([
      { context: 'formation', group_id: null, node_id: null, nodename: 'default', setting: 'number_sync_standbys', value: '0' },
      { context: 'primary', group_id: 0, node_id: 1, nodename: 'node_1', setting: 'synchronous_standby_names', value: "'ANY 1 (pgautofailover_standby_2)'" },
      { context: 'node', group_id: 0, node_id: 1, nodename: 'node_1', setting: 'candidate priority', value: '50' },
    ]);
    // the original pads the Value column to its width
    const w = "'ANY 1 (pgautofailover_standby_2)'".length;
    expect(t.split('\n')).toEqual([
      '  Context |    Name |                   Setting | ' + 'Value'.padEnd(w),
      '----------+---------+---------------------------+-' + '-'.repeat(w),
      'formation | default |      number_sync_standbys | ' + '0'.padEnd(w),
      "  primary |  node_1 | synchronous_standby_names | 'ANY 1 (pgautofailover_standby_2)'",
      '     node |  node_1 |        candidate priority | ' + '50'.padEnd(w),
      '',
      '',
    ]);
    // the harness splits on | and reads Context, Name, Setting, Value
    const cells = t.split('\n')[3]!.split('|').map((c) => c.trim());
    expect(cells).toEqual(['primary', 'node_1', 'synchronous_standby_names', "'ANY 1 (pgautofailover_standby_2)'"]);
  });

  it('notification table: fixed widths from the group, one line per event', () => {
    const s = tableStream(stateEventColumns([{ name: 'node_1', node: '1', hostPort: 'localhost:5501' }]));
    expect(s.header).toBe(
      '    Time |   Name |  Node |      Host:Port |       Current State |      Assigned State\n' +
        '---------+--------+-------+----------------+---------------------+--------------------\n',
    );
    expect(s.line(['12:57:30', 'node_1', '1', 'localhost:5501', 'primary', 'draining'])).toBe(
      '12:57:30 | node_1 |     1 | localhost:5501 |             primary |            draining\n',
    );
  });
});

describe('state notifications', () => {
  it('parses the monitor payload', () => {
    const e = parseStatePayload(
      JSON.stringify({ type: 'state', formation: 'default', groupId: 0, nodeId: 2, name: 'node_2', host: 'h', port: 5432, reportedState: 'secondary', goalState: 'prepare_promotion', health: 'good' }),
      new Date(2026, 0, 1, 9, 5, 7),
    );
    expect(e).toEqual({
      time: '09:05:07',
      formation: 'default',
      groupId: 0,
      nodeId: 2,
      name: 'node_2',
      host: 'h',
      port: 5432,
      reportedState: 'secondary',
      goalState: 'prepare_promotion',
      health: 'good',
    });
  });

  it.each(['not json', '[]', '{"type":"log"}', '{"type":"state","nodeId":"x","groupId":0}'])('ignores %s', (p) => {
    expect(parseStatePayload(p)).toBeUndefined();
  });
});

const KEEPER_INI = `[pg_autoctl]
role = keeper
monitor = postgres://autoctl_node:monpw@127.0.0.1:6000/pg_auto_failover?sslmode=prefer
formation = default
group = 0
name = node_1
hostname = 127.0.0.1
nodekind = standalone

[postgresql]
pgdata = /var/lib/pg/n1
pg_ctl = /usr/lib/postgresql/15/bin/pg_ctl
username = postgres
dbname = postgres
host = /tmp
port = 6001
listen_addresses = 127.0.0.1
auth_method = trust
hba_level = app

[replication]
password = s3cret
`;

const MONITOR_INI = `[pg_autoctl]
role = monitor
hostname = 127.0.0.1

[postgresql]
pgdata = /var/lib/pg/monitor
pg_ctl = /usr/lib/postgresql/15/bin/pg_ctl
dbname = pg_auto_failover
username = postgres
host = /tmp
port = 6000
listen_addresses = 127.0.0.1
auth_method = trust
hba_level = app

[ssl]
active = 0
sslmode = prefer
`;

describe('config get / set', () => {
  const keeper: Ini = parseIni(KEEPER_INI);
  const monitor: Ini = parseIni(MONITOR_INI);
  const P = '/x/pg_autoctl.cfg';

  it('keys are section.option', () => {
    expect(parseConfigKey('postgresql.port')).toEqual({ section: 'postgresql', option: 'port', key: 'postgresql.port' });
    for (const bad of ['port', 'a.b.c', '.port', 'postgresql.', '', 'post gresql.port']) {
      expect(() => parseConfigKey(bad)).toThrow(BadArgs);
    }
  });

  it('gets a value of the file, or the default the node uses', () => {
    expect(configGet(keeper, P, 'postgresql.port')).toBe('6001');
    expect(configGet(keeper, P, 'timeout.network_partition_timeout')).toBe('5');
    expect(configGet(keeper, P, 'replication.password')).toBe('****');
    expect(configGet(monitor, P, 'postgresql.listen_addresses')).toBe('127.0.0.1');
    expect(knownKeys('keeper', keeper, P).has('replication.candidate_priority')).toBe(true);
  });

  it('an unknown key is a config error (exit 2) naming it', () => {
    expect(() => configGet(keeper, P, 'postgresql.nope')).toThrow(BadConfig);
    expect(() => configGet(keeper, P, 'postgresql.nope')).toThrow(/unknown configuration key postgresql\.nope/);
    expect(() => configGet(monitor, P, 'replication.password')).toThrow(/unknown configuration key replication\.password/);
    expect(() => configSet(keeper, P, 'bogus.key', '1')).toThrow(/unknown configuration key bogus\.key/);
  });

  it('sets a valid value and leaves the input untouched', () => {
    const next = configSet(monitor, P, 'postgresql.listen_addresses', '0.0.0.0');
    expect(next.postgresql!.listen_addresses).toBe('0.0.0.0');
    expect(monitor.postgresql!.listen_addresses).toBe('127.0.0.1');
    expect(configSet(keeper, P, 'timeout.network_partition_timeout', '5').timeout!.network_partition_timeout).toBe('5');
    expect(configSet(keeper, P, 'pg_autoctl.name', 'node_9').pg_autoctl!.name).toBe('node_9');
  });

  it.each([
    ['postgresql.port', '70000', /cannot set postgresql\.port to "70000"/],
    ['postgresql.port', 'abc', /cannot set postgresql\.port/],
    ['replication.candidate_priority', '101', /cannot set replication\.candidate_priority to "101"/],
    ['replication.replication_quorum', 'maybe', /cannot set replication\.replication_quorum/],
    ['postgresql.auth_method', 'password', /cannot set postgresql\.auth_method/],
    ['pg_autoctl.monitor', 'http://x', /cannot set pg_autoctl\.monitor/],
    ['pg_autoctl.role', 'monitor', /pg_autoctl\.role cannot be changed/],
    ['postgresql.listen_addresses', 'a\nb', /cannot span several lines/],
  ])('refuses %s = %j (exit 2, naming the key)', (key, value, msg) => {
    expect(() => configSet(keeper, P, key, value)).toThrow(BadConfig);
    expect(() => configSet(keeper, P, key, value)).toThrow(msg);
  });

  it('prints the whole file with defaults, passwords masked', () => {
    const full = maskedIni(completeIni(keeper, P));
    expect(full.replication!.password).toBe('****');
    expect(full.pg_autoctl!.monitor).toBe('postgres://autoctl_node:****@127.0.0.1:6000/pg_auto_failover?sslmode=prefer');
    expect(full.timeout!.network_partition_timeout).toBe('5');
    expect(full.postgresql!.port).toBe('6001');
    expect(JSON.stringify(full)).not.toContain('s3cret');
    expect(JSON.stringify(full)).not.toContain('monpw');
  });
});

describe('stop', () => {
  it('fast by default, --immediate on request; --fast and --immediate conflict', async () => {
    expect(stopRequest({ pgdata: '/tmp/n' }, {})).toEqual({ pgdata: '/tmp/n', mode: 'fast' });
    expect(stopRequest({ pgdata: '/tmp/n', immediate: true }, {})).toEqual({ pgdata: '/tmp/n', mode: 'immediate' });
    expect(() => stopRequest({}, {})).toThrow(/--pgdata is required/);
    expect(await run('stop', '--pgdata', join(dir, 'n'), '--fast', '--immediate')).toBe(1);
  });
});

describe('service pid files', () => {
  it('ignores missing, stale and own pids', () => {
    const f = join(dir, 'run', 'pg_autoctl.pid');
    mkdirSync(join(dir, 'run'), { recursive: true });
    expect(servicePid(f)).toBeUndefined();
    writeFileSync(f, `${process.pid}\n`);
    expect(servicePid(f)).toBeUndefined();
    writeFileSync(f, '999999999\n');
    expect(servicePid(f)).toBeUndefined();
    writeFileSync(f, 'garbage\n');
    expect(servicePid(f)).toBeUndefined();
  });

  it('finds a live node process and waits for it to exit', async () => {
    const f = join(dir, 'run', 'child.pid');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 300)'], { stdio: 'ignore' });
    writeFileSync(f, `${child.pid}\n`);
    expect(servicePid(f)).toBe(child.pid);
    expect(await waitForExit(child.pid!, 5_000)).toBe(true);
    expect(servicePid(f)).toBeUndefined();
  });

  it('gives up waiting after the timeout', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
    try {
      expect(await waitForExit(child.pid!, 200)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
