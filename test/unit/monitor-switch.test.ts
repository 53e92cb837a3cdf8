// enable/disable monitor and --disable-monitor: the decisions and the config representation.
import { describe, expect, it } from 'vitest';
import { createPostgresRequest } from '../../cli/create-postgres.js';
import { keeperConfigFromIni, keeperConfigToIni, requireMonitorUri, MONITOR_DISABLED } from '../../config/keeper-config.js';
import { conninfoHostPort, planDisableMonitor, registrationStateFor, stateAfterRegistration, streamsFrom, type GroupMember } from '../../keeper/monitor-switch/plan.js';
import { maskSecrets } from '../../lib/log.js';
import { initialState } from '../../keeper/state/state-file.js';
import { parseIni } from '../../lib/ini.js';

const members: GroupMember[] = [
  { nodeId: 1, name: 'node1', goal: 'primary' },
  { nodeId: 2, name: 'node2', goal: 'secondary' },
];

describe('disable monitor', () => {
  it('removes a standby from a monitor it can reach', () => {
    expect(planDisableMonitor(2, members, false).kind).toBe('remove');
    expect(planDisableMonitor(2, members, true).kind).toBe('remove');
  });

  it('removes a primary once it is alone on the monitor', () => {
    expect(planDisableMonitor(1, [members[0]!, { nodeId: 2, name: 'node2', goal: 'dropped' }], false).kind).toBe('remove');
  });

  it('refuses to remove a primary whose standbys still follow the monitor (exit 3), even with --force', () => {
    for (const force of [false, true]) {
      const p = planDisableMonitor(1, members, force);
      expect(p.kind).toBe('refuse');
      if (p.kind === 'refuse') {
        expect(p.error.exitCode).toBe(3);
        expect(p.error.message).toMatch(/node 1 "node1" is the primary and node 2 "node2" still follow the monitor/);
      }
    }
  });

  it('an unreachable monitor: exit 6 without --force, forgotten with it', () => {
    const p = planDisableMonitor(1, undefined, false, 'connection refused');
    expect(p.kind === 'refuse' && p.error.exitCode).toBe(6);
    expect(planDisableMonitor(1, undefined, true, 'connection refused')).toMatchObject({ kind: 'forget' });
  });

  it('a monitor that does not know the node is just forgotten', () => {
    expect(planDisableMonitor(7, members, false).kind).toBe('forget');
  });
});

describe('enable monitor', () => {
  it('registers a standby as wait_standby and a primary as single, as the original', () => {
    expect(registrationStateFor(true)).toBe('wait_standby');
    expect(registrationStateFor(false)).toBe('single');
  });

  it('a primary keeps its state, assigned single; a standby moved to catchingup is catchingup', () => {
    const primary = { ...initialState(1, 0, 'primary'), current_role: 'primary' as const };
    expect(stateAfterRegistration(primary, { nodeId: 1, groupId: 0, goal: 'single' }, 100)).toMatchObject({
      current_role: 'primary',
      assigned_role: 'single',
      last_monitor_contact: 100,
    });
    const standby = { ...initialState(2, 0, 'secondary'), current_role: 'secondary' as const };
    expect(stateAfterRegistration(standby, { nodeId: 2, groupId: 0, goal: 'catchingup' }, 100)).toMatchObject({
      nodeId: 2,
      current_role: 'catchingup',
      assigned_role: 'catchingup',
    });
  });

  it('a standby that streams from another node is pointed at the primary (secondary → catchingup)', () => {
    const standby = { ...initialState(2, 0, 'secondary'), current_role: 'secondary' as const };
    expect(stateAfterRegistration(standby, { nodeId: 2, groupId: 0, goal: 'catchingup' }, 100, false)).toMatchObject({
      current_role: 'secondary',
      assigned_role: 'catchingup',
    });
  });

  it('reads where the WAL receiver streams from', () => {
    const ci = "user=pgautofailover_replicator password=******** dbname=replication host=127.0.0.1 port=6001 application_name=pgautofailover_standby_2 sslmode=prefer";
    expect(conninfoHostPort(ci)).toEqual({ host: '127.0.0.1', port: 6001 });
    expect(conninfoHostPort("host='db 1' user=x")).toEqual({ host: 'db 1', port: 5432 });
    expect(conninfoHostPort(undefined)).toBeUndefined();
    expect(streamsFrom(ci, { host: '127.0.0.1', port: 6001 })).toBe(true);
    expect(streamsFrom(ci, { host: '127.0.0.1', port: 6002 })).toBe(false);
    expect(streamsFrom(undefined, { host: '127.0.0.1', port: 6001 })).toBe(false);
  });

  it('hides passwords in URIs it prints', () => {
    expect(maskSecrets('postgres://autoctl_node:s3cret@h:5432/pg_auto_failover')).toBe('postgres://autoctl_node:****@h:5432/pg_auto_failover');
    expect(maskSecrets('postgres://h/db?password=s3cret&sslmode=require')).toBe('postgres://h/db?password=****&sslmode=require');
  });
});

describe('the config of a node without a monitor', () => {
  const original = `[pg_autoctl]
role = keeper
monitor = PG_AUTOCTL_DISABLED
formation = default
group = -1
name = a
hostname = 127.0.0.1
nodekind = standalone

[postgresql]
pgdata = /tmp/x/n1
pg_ctl = /usr/lib/postgresql/15/bin/pg_ctl
username = postgres
dbname = postgres
host = /tmp
port = 6791
listen_addresses = *
auth_method = trust
hba_level = minimal
`;

  it('reads the file the original writes (monitor PG_AUTOCTL_DISABLED, group -1)', () => {
    const c = keeperConfigFromIni(parseIni(original), 'x.cfg');
    expect(c.monitor).toBeUndefined();
    expect(c.group).toBe(0);
    expect(keeperConfigToIni(c).pg_autoctl!.monitor).toBe(MONITOR_DISABLED);
  });

  it('commands that need a monitor say so (exit 2)', () => {
    const c = keeperConfigFromIni(parseIni(original), 'x.cfg');
    expect(() => requireMonitorUri(c, 'x.cfg')).toThrow(/runs without a monitor/);
    try {
      requireMonitorUri(c, 'x.cfg');
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(2);
    }
  });

  it('create postgres --disable-monitor --node-id N needs no monitor URI', () => {
    const req = createPostgresRequest({ pgdata: '/tmp/x/n1', disableMonitor: true, nodeId: '3', auth: 'trust' }, {});
    expect(req).toMatchObject({ monitor: undefined, nodeId: 3 });
  });
});
