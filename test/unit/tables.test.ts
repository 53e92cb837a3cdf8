import { describe, expect, it } from 'vitest';
import { connectionCell, nodeCell, pgTimestampText, renderEventsTable, renderStateTable, renderTable, renderUriTable, settingsInOriginalOrder, settingsJson } from '../../cli/tables.js';
import type { NodeStateRow } from '../../lib/monitor-queries.js';

function node(over: Partial<NodeStateRow>): NodeStateRow {
  return {
    formation_kind: 'pgsql',
    nodename: 'node_1',
    nodehost: 'localhost',
    nodeport: 5501,
    group_id: 0,
    node_id: 1,
    current_group_state: 'primary',
    assigned_group_state: 'primary',
    candidate_priority: 50,
    replication_quorum: true,
    reported_tli: 1,
    reported_lsn: '0/4000678',
    health: 1,
    nodecluster: 'default',
    ...over,
  };
}

describe('show state table', () => {
  it('prints the original layout for an empty formation', () => {
    expect(renderStateTable([])).toBe(
      'Name |  Node |  Host:Port |  TLI: LSN |   Connection |      Reported State |      Assigned State\n' +
        '-----+-------+------------+-----------+--------------+---------------------+--------------------\n\n',
    );
  });

  it('prints the original layout for a primary and a secondary', () => {
    const rows = [
      node({}),
      node({ nodename: 'node_2', nodeport: 5502, node_id: 2, current_group_state: 'secondary', assigned_group_state: 'secondary' }),
    ];
    expect(renderStateTable(rows)).toBe(
      [
        '  Name |  Node |      Host:Port |       TLI: LSN |   Connection |      Reported State |      Assigned State',
        '-------+-------+----------------+----------------+--------------+---------------------+--------------------',
        'node_1 |     1 | localhost:5501 |   1: 0/4000678 |   read-write |             primary |             primary',
        'node_2 |     2 | localhost:5502 |   1: 0/4000678 |    read-only |           secondary |           secondary',
        '',
        '',
      ].join('\n'),
    );
  });

  it('marks unhealthy (!) and unknown (?) nodes in Connection', () => {
    expect(connectionCell('primary', 0)).toBe('read-write !');
    expect(connectionCell('secondary', -1)).toBe('read-only ?');
    expect(connectionCell('secondary', 1)).toBe('read-only');
    expect(connectionCell('demoted', 1)).toBe('none');
    expect(connectionCell('whatever', 1)).toBe('unknown');
  });

  it('shows group/node for Citus formations, the node id otherwise', () => {
    expect(nodeCell({ formation_kind: 'pgsql', group_id: 0, node_id: 3 })).toBe('3');
    expect(nodeCell({ formation_kind: 'citus', group_id: 1, node_id: 3 })).toBe('1/3');
  });
});

describe('tables', () => {
  it('right-aligns, separates with " | " and draws a -+- line', () => {
    expect(renderTable([{ header: 'A' }, { header: 'Bee', align: 'left' }], [['xx', 'y']])).toBe(' A | Bee\n---+----\nxx | y\n\n');
  });

  it('prints show uri as Type | Name | Connection String', () => {
    const text = renderUriTable([
      { type: 'monitor', name: 'monitor', uri: 'postgres://autoctl_node@h:5400/pg_auto_failover?sslmode=prefer' },
      { type: 'formation', name: 'default', uri: 'postgres://h:5401,h:5402/postgres?target_session_attrs=read-write&sslmode=prefer' },
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toBe('        Type |    Name | Connection String');
    // the original draws 30 dashes under the connection strings, whatever their length
    expect(lines[1]).toBe('-------------+---------+-' + '-'.repeat(30));
    expect(lines[2]).toBe('     monitor | monitor | postgres://autoctl_node@h:5400/pg_auto_failover?sslmode=prefer');
    expect(lines[3]).toBe('   formation | default | postgres://h:5401,h:5402/postgres?target_session_attrs=read-write&sslmode=prefer');
  });
});

describe('show events table', () => {
  it('prints Postgres timestamps, the original widths and 10 dashes under Comment', () => {
    const text = renderEventsTable([
      { eventid: 1, eventtime: '2026-11-26T04:20:09.090551+00:00', formationid: 'default', nodeid: 2, groupid: 0, nodename: 'node2', nodehost: 'h', nodeport: 5402,
        reportedstate: 'wait_standby', goalstate: 'catchingup', reportedrepstate: '', reportedtli: 1, reportedlsn: '0/0', candidatepriority: 50, replicationquorum: true,
        description: 'a long comment that is wider than the dashes' },
    ]);
    expect(text.split('\n')).toEqual([
      '                    Event Time |   Node |       Current State |      Assigned State | Comment',
      '-------------------------------+--------+---------------------+---------------------+-----------',
      ' 2026-11-26 04:20:09.090551+00 |    0/2 |        wait_standby |          catchingup | a long comment that is wider than the dashes',
      '',
      '',
    ]);
  });

  it('turns the JSON form of a timestamptz into its text form', () => {
    expect(pgTimestampText('2026-11-26T04:20:09.090551+00:00')).toBe('2026-11-26 04:20:09.090551+00');
    expect(pgTimestampText('2026-11-26T04:20:09+05:30')).toBe('2026-11-26 04:20:09+05:30');
  });
});

describe('show settings --json', () => {
  it('groups the rows by context as the original, keeping their order', () => {
    const rows = [
      { context: 'formation', group_id: null, node_id: null, nodename: 'default', setting: 'number_sync_standbys', value: '0' },
      { context: 'primary', group_id: 0, node_id: 1, nodename: 'n1', setting: 'synchronous_standby_names', value: "''" },
      { context: 'node', group_id: 0, node_id: 1, nodename: 'n1', setting: 'replication quorum', value: 'true' },
      { context: 'node', group_id: 0, node_id: 1, nodename: 'n1', setting: 'candidate priority', value: '50' },
    ];
    expect(settingsJson(rows)).toEqual({ formation: [rows[0]], primary: [rows[1]], nodes: [rows[2], rows[3]] });
    // the text table puts candidate priority first, as the original
    expect(settingsInOriginalOrder(rows).map((r) => r.setting)).toEqual(['number_sync_standbys', 'synchronous_standby_names', 'candidate priority', 'replication quorum']);
  });
});
