// The pg_autoctl-compatible command line, without a monitor: request validation, renderers
// of watch/show file/show systemd, and --help on every command (in process, fast).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/tree.js';
import { leanRunArgs } from '../../cli/service-launch.js';
import { createFormationRequest } from '../../cli/formation.js';
import { metadataRequest, nodeTarget, parseBoolean, parseCandidatePriority } from '../../cli/settings.js';
import { cidrOf, DEFAULT_LOOKUP, lookupTarget, renderFileTable, renderSystemdUnit } from '../../cli/show-more.js';
import { frame, lagCells, lsnBytes, prettyBytes, renderWatchScreen, type WatchData } from '../../cli/watch.js';
import { bashCompletionScript } from '../../cli/completion.js';
import { createMonitorRequest } from '../../cli/create.js';
import { parsePgUri } from '../../lib/pg-uri.js';
import { setLogSink } from '../../lib/log.js';
import type { NodeStateRow } from '../../lib/monitor-queries.js';

const dir = mkdtempSync(join(tmpdir(), 'pgaf-unit-compat-'));
const logLines: string[] = [];
let prevSink: (l: string) => void;
beforeAll(() => {
  prevSink = setLogSink((l) => logLines.push(l));
});
afterAll(() => {
  setLogSink(prevSink);
  rmSync(dir, { recursive: true, force: true });
});

function node(over: Partial<NodeStateRow>): NodeStateRow {
  return {
    formation_kind: 'pgsql',
    nodename: 'node_1',
    nodehost: '10.0.0.1',
    nodeport: 5432,
    group_id: 0,
    node_id: 1,
    current_group_state: 'primary',
    assigned_group_state: 'primary',
    candidate_priority: 50,
    replication_quorum: true,
    reported_tli: 1,
    reported_lsn: '0/3000000',
    health: 1,
    nodecluster: 'default',
    ...over,
  };
}

describe('value parsing', () => {
  it('candidate priority: 0..100 integers only', () => {
    expect(parseCandidatePriority('0')).toBe(0);
    expect(parseCandidatePriority(' 100 ')).toBe(100);
    for (const bad of ['101', '-1', '1.5', 'high', '']) expect(() => parseCandidatePriority(bad)).toThrow(/from 0 to 100/);
  });

  it('booleans as Postgres spells them', () => {
    expect(parseBoolean('on', 'x')).toBe(true);
    expect(parseBoolean('FALSE', 'x')).toBe(false);
    expect(() => parseBoolean('maybe', 'replication-quorum')).toThrow(/replication-quorum must be true or false, got "maybe"/);
  });

  it('the node of get/set: --name, else the local node; --name required otherwise', () => {
    expect(nodeTarget({ name: 'n' }, {})).toEqual({ formation: 'default', name: 'n' });
    expect(nodeTarget({}, { formation: 'f', name: 'local' })).toEqual({ formation: 'f', name: 'local' });
    expect(() => nodeTarget({}, {})).toThrow(/--name is required/);
    expect(() => nodeTarget({ name: 'x'.repeat(64) }, {})).toThrow(/1 to 63/);
  });

  it('set node metadata needs something to change; --nodename is --hostname', () => {
    expect(() => metadataRequest({})).toThrow(/at least one of --name, --hostname and --pgport/);
    expect(metadataRequest({ nodename: 'db1.example.com' })).toEqual({ name: undefined, hostname: 'db1.example.com', port: undefined });
    expect(() => metadataRequest({ pgport: '70000' })).toThrow(/--pgport must be an integer between 1 and 65535/);
  });

  it('create formation: --formation required, pgsql only, secondary flags exclusive', () => {
    expect(createFormationRequest({ formation: 'f' })).toEqual({ formation: 'f', kind: 'pgsql', dbname: 'postgres', secondary: true, numberSyncStandbys: 0 });
    expect(createFormationRequest({ formation: 'f', disableSecondary: true, numberSyncStandbys: '2' })).toMatchObject({ secondary: false, numberSyncStandbys: 2 });
    expect(() => createFormationRequest({})).toThrow(/--formation is required/);
    expect(() => createFormationRequest({ formation: 'f', kind: 'citus' })).toThrow(/citus is not supported/);
    expect(() => createFormationRequest({ formation: 'f', enableSecondary: true, disableSecondary: true })).toThrow(/mutually exclusive/);
    expect(() => createFormationRequest({ formation: 'f', numberSyncStandbys: '-1' })).toThrow(/--number-sync-standbys must be a non-negative integer/);
  });

  it('older forms: a monitor URI without a port means 5432; --nodename on create monitor and run', () => {
    expect(parsePgUri('postgres://autoctl_node@host/pg_auto_failover')).toMatchObject({ host: 'host', port: 5432, database: 'pg_auto_failover', user: 'autoctl_node' });
    expect(createMonitorRequest({ pgdata: join(dir, 'm'), nodename: '10.1.2.3' }, {}).hostname).toBe('10.1.2.3');
    expect(() => createMonitorRequest({ pgdata: join(dir, 'm'), nodename: 'bad host' }, {})).toThrow(/--nodename must be a host name/);
    expect(leanRunArgs(['run', '--pgdata', '/d', '--nodename', 'h'])).toEqual({ pgdata: '/d', verbose: 0, quiet: false, hostname: 'h' });
  });

  it('show ipaddr looks toward the monitor, else the default lookup service', () => {
    expect(lookupTarget({ monitor: 'postgres://autoctl_node@10.9.8.7:6000/pg_auto_failover' }, {})).toEqual({ host: '10.9.8.7', port: 6000 });
    expect(lookupTarget({}, {})).toEqual(DEFAULT_LOOKUP);
    expect(lookupTarget({}, { PG_AUTOCTL_MONITOR: 'postgres://m/pg_auto_failover' })).toEqual({ host: 'm', port: 5432 });
    expect(() => lookupTarget({ monitor: 'http://x' }, {})).toThrow(/postgres:\/\/ URI/);
  });

  it('cidr of a local address', () => {
    const ifaces = { eth0: [{ address: '192.168.1.17', cidr: '192.168.1.17/24', family: 'IPv4', netmask: '255.255.255.0', mac: '', internal: false }] } as any;
    expect(cidrOf('192.168.1.17', ifaces)).toBe('192.168.1.0/24');
    expect(cidrOf('10.0.0.1', ifaces)).toBeUndefined();
  });
});

describe('renderers', () => {
  it('show file table', () => {
    expect(renderFileTable({ config: '/c/pg_autoctl.cfg', pid: '/r/pg_autoctl.pid' })).toBe(
      '   File | Path\n--------+----------------\n Config | /c/pg_autoctl.cfg\n    Pid | /r/pg_autoctl.pid\n\n',
    );
  });

  it('show systemd unit', () => {
    const u = renderSystemdUnit({ pgdata: '/var/lib/pg/data', user: 'postgres', home: '/var/lib/postgresql', program: '/usr/bin/pg_autoctl' });
    expect(u).toContain("Environment = 'PGDATA=/var/lib/pg/data'\nUser = postgres\nExecStart = /usr/bin/pg_autoctl run\nRestart = always\n");
    expect(u.endsWith('[Install]\nWantedBy = multi-user.target\n')).toBe(true);
  });

  it('LSN arithmetic and lag cells', () => {
    expect(lsnBytes('1/0')).toBe(1n << 32n);
    expect(lsnBytes('nope')).toBeUndefined();
    expect(prettyBytes(4096n)).toBe('4096 bytes');
    expect(prettyBytes(50n * 1024n * 1024n)).toBe('50 MB');
    const rows = [
      node({}),
      node({ nodename: 'node_2', node_id: 2, current_group_state: 'secondary', assigned_group_state: 'secondary', reported_lsn: '0/2000000' }),
      node({ nodename: 'node_3', node_id: 3, current_group_state: 'catchingup', assigned_group_state: 'secondary', reported_lsn: '' }),
    ];
    expect(lagCells(rows)).toEqual(['primary', '16 MB', '-']);
  });

  it('the watch screen fits the terminal and keeps the newest events', () => {
    const events = Array.from({ length: 50 }, (_, i) => ({
      eventid: i,
      eventtime: new Date(2024, 0, 1, 10, 0, i).toISOString(),
      formationid: 'default',
      nodeid: 1,
      groupid: 0,
      nodename: 'node_1',
      nodehost: 'h',
      nodeport: 1,
      reportedstate: 'primary',
      goalstate: 'primary',
      reportedrepstate: 'quorum',
      reportedtli: 1,
      reportedlsn: '0/1',
      candidatepriority: 50,
      replicationquorum: true,
      description: `event number ${i} with a long description that will not fit on a narrow terminal at all`,
    }));
    const d: WatchData = {
      formation: 'default',
      monitor: 'm:5432',
      nodes: [node({}), node({ nodename: 'node_2', node_id: 2, current_group_state: 'secondary', assigned_group_state: 'secondary', health: 0 })],
      events,
      at: new Date(),
    };
    for (const [cols, rows] of [[120, 40], [60, 15], [200, 60]] as const) {
      const lines = renderWatchScreen(d, cols, rows);
      expect(lines.length).toBeLessThanOrEqual(rows);
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(cols);
      expect(lines.join('\n')).toMatch(/node_2/);
      expect(lines[lines.length - 1]).toMatch(/^10:00:49 /);
    }
    const wide = renderWatchScreen(d, 200, 60).join('\n');
    expect(wide).toMatch(/node_2 \| +2 \| +10\.0\.0\.1:5432 \| +1: 0\/3000000 \| +0 bytes \| +read-only \| +down \| +secondary \| secondary/);
    expect(renderWatchScreen({ ...d, error: 'connection refused' }, 80, 20)[1]).toBe('monitor error: connection refused');
    expect(frame(['a', 'b'])).toBe('\x1b[Ha\x1b[K\r\nb\x1b[K\r\n\x1b[J');
  });

  it('bash completion covers both program names', () => {
    const s = bashCompletionScript();
    expect(s).toMatch(/complete -o bashdefault -o default -F _pgaf_completions pgaf\n/);
    expect(s).toMatch(/complete -o bashdefault -o default -F _pgaf_completions pg_autoctl\n/);
  });
});

describe('bad command lines: exit 1, what is wrong, and where the usage is', () => {
  const run = async (...args: string[]) => {
    logLines.length = 0;
    const code = await main(['node', '/usr/bin/pg_autoctl', ...args]);
    return { code, text: logLines.join('\n') };
  };
  it.each([
    [['frobnicate'], /Unknown argument: frobnicate[\s\S]*Hint: see pg_autoctl --help/],
    [['show', 'nodes'], /Unknown argument: nodes[\s\S]*Hint: see pg_autoctl show --help/],
    [['show', 'state', '--bogus'], /Unknown argument: bogus[\s\S]*Hint: see pg_autoctl show state --help/],
    [['set', 'node', 'candidate-priority'], /missing argument <priority>: usage: pg_autoctl set node candidate-priority <priority>/],
    [['get', 'formation', 'number-sync-standbys', '--formation'], /Not enough arguments following: formation/],
    [['set', 'node', 'candidate-priority', '101', '--name', 'n', '--monitor', 'postgres://h/db'], /candidate-priority must be an integer from 0 to 100, got "101"/],
    [['show', 'state', '--monitor', 'postgres://h/db', '--watch', '--local'], /--local and --watch are mutually exclusive/],
    [['create', 'formation', '--monitor', 'postgres://h/db', '--formation', 'f', '--enable-secondary', '--disable-secondary'], /mutually exclusive/],
    [['enable', 'monitor', 'http://nope'], /must be a postgres:\/\/ URI/],
    [['create', 'postgres', '--pgdata', '/tmp/nowhere', '--disable-monitor'], /--disable-monitor needs --node-id/],
    [['create', 'postgres', '--pgdata', '/tmp/nowhere', '--disable-monitor', '--node-id', '0'], /--node-id must be an integer above 0, got "0"/],
    [['create', 'postgres', '--pgdata', '/tmp/nowhere', '--node-id', '3', '--monitor', 'postgres://h/db'], /--node-id is only for --disable-monitor/],
    [['create', 'postgres', '--pgdata', '/tmp/nowhere', '--disable-monitor', '--node-id', '3', '--monitor', 'postgres://h/db'], /mutually exclusive/],
    [['enable', 'monitor', 'http://u:secret@nope'], /must be a postgres:\/\/ URI[^\n]*"http:\/\/u:\*\*\*\*@nope"/],
  ])('%j', async (args, message) => {
    const r = await run(...(args as string[]));
    expect(r.code).toBe(1);
    expect(r.text).toMatch(message);
  });
});

describe('--help on every command, in process', () => {
  let out = '';
  afterEach(() => vi.restoreAllMocks());
  const capture = () => {
    out = '';
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      out += a.join(' ') + '\n';
    });
    vi.spyOn(process.stdout, 'write').mockImplementation((c: any) => {
      out += String(c);
      return true;
    });
  };
  const commands = [
    [], ['create'], ['create', 'monitor'], ['create', 'postgres'], ['create', 'formation'],
    ['drop'], ['drop', 'node'], ['drop', 'monitor'], ['drop', 'formation'],
    ['run'], ['stop'], ['reload'], ['status'],
    ['config'], ['config', 'check'], ['config', 'get'], ['config', 'set'],
    ['show'], ['show', 'uri'], ['show', 'state'], ['show', 'events'], ['show', 'settings'], ['show', 'standby-names'],
    ['show', 'file'], ['show', 'systemd'], ['show', 'ipaddr'],
    ['enable'], ['enable', 'secondary'], ['enable', 'maintenance'], ['enable', 'ssl'], ['enable', 'monitor'],
    ['disable'], ['disable', 'secondary'], ['disable', 'maintenance'], ['disable', 'ssl'], ['disable', 'monitor'],
    ['get'], ['get', 'node'], ['get', 'node', 'candidate-priority'], ['get', 'node', 'replication-quorum'],
    ['get', 'formation'], ['get', 'formation', 'number-sync-standbys'], ['get', 'formation', 'settings'],
    ['set'], ['set', 'node'], ['set', 'node', 'candidate-priority'], ['set', 'node', 'replication-quorum'], ['set', 'node', 'metadata'],
    ['set', 'formation'], ['set', 'formation', 'number-sync-standbys'],
    ['perform'], ['perform', 'failover'], ['perform', 'switchover'], ['perform', 'promotion'],
    ['watch'], ['version'], ['completion'], ['install-extension'],
    ['do'], ['do', 'fsm'], ['do', 'fsm', 'init'], ['do', 'fsm', 'state'], ['do', 'fsm', 'list'], ['do', 'fsm', 'assign'], ['do', 'fsm', 'step'],
    ['do', 'fsm', 'nodes', 'get'], ['do', 'fsm', 'nodes', 'set'],
    ['do', 'monitor', 'get', 'primary'], ['do', 'monitor', 'get', 'others'],
    ['do', 'pgsetup', 'ready'], ['do', 'pgsetup', 'wait'], ['do', 'pgsetup', 'discover'],
    ['do', 'service', 'restart', 'postgres'], ['do', 'show', 'ipaddr'], ['do', 'show', 'cidr'], ['do', 'show', 'hostname'],
  ];
  it.each(commands.map((c) => [c.join(' ') || '(top)', c]))('%s --help', async (_name, c) => {
    capture();
    const code = await main(['node', '/usr/bin/pg_autoctl', ...(c as string[]), '--help']);
    vi.restoreAllMocks();
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`^pg_autoctl ${(c as string[]).join(' ')}`));
    expect(out).toMatch(/--help +Show help/);
  });

  it('every option of a command is described', async () => {
    capture();
    await main(['node', '/usr/bin/pgaf', 'show', 'state', '--help']);
    vi.restoreAllMocks();
    for (const o of ['--pgdata', '--monitor', '--json', '--formation', '--group', '--local', '--watch', '-v, --verbose', '-q, --quiet']) expect(out).toContain(o);
  });

  it('perform failover and switchover describe --allow-data-loss; bash completion offers it', async () => {
    for (const verb of ['failover', 'switchover']) {
      capture();
      await main(['node', '/usr/bin/pgaf', 'perform', verb, '--help']);
      vi.restoreAllMocks();
      expect(out).toMatch(/--allow-data-loss +lift the data-loss guard of the group/);
      expect(out).toMatch(/acknowledged writes may be\s+lost/);
    }
    capture();
    await main(['node', '/usr/bin/pgaf', '--get-yargs-completions', 'perform', 'failover', '--al']);
    vi.restoreAllMocks();
    expect(out.split('\n')).toContain('--allow-data-loss');
  });
});
