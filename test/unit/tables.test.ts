import { describe, expect, it } from 'vitest';
import { connectionCell, nodeCell, renderStateTable, renderTable, renderUriTable } from '../../cli/tables.js';
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
        '-----+-------+------------+-----------+--------------+---------------------+--------------------\n',
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
    expect(renderTable([{ header: 'A' }, { header: 'Bee', align: 'left' }], [['xx', 'y']])).toBe(' A | Bee\n---+----\nxx | y\n');
  });

  it('prints show uri as Type | Name | Connection String', () => {
    const text = renderUriTable([
      { type: 'monitor', name: 'monitor', uri: 'postgres://autoctl_node@h:5400/pg_auto_failover?sslmode=prefer' },
      { type: 'formation', name: 'default', uri: 'postgres://h:5401,h:5402/postgres?target_session_attrs=read-write&sslmode=prefer' },
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toBe('        Type |    Name | Connection String');
    expect(lines[1]).toMatch(/^-------------\+---------\+-+$/);
    expect(lines[2]).toBe('     monitor | monitor | postgres://autoctl_node@h:5400/pg_auto_failover?sslmode=prefer');
    expect(lines[3]).toBe('   formation | default | postgres://h:5401,h:5402/postgres?target_session_attrs=read-write&sslmode=prefer');
  });
});
