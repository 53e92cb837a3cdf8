// A node without a monitor: the nodes file's parsing, the answers that stand in for the
// monitor's, and the local client reading the state and nodes files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isNoNodeList, localSyncNames, mostAdvancedStandby, otherNodes, primaryOf } from '../../keeper/local-monitor/answers.js';
import { LocalMonitorClient } from '../../keeper/local-monitor/client.js';
import type { PeerNode } from '../../keeper/fsm/context.js';
import { parseNodesJson, toPeer, writeNodesFile } from '../../keeper/state/nodes-file.js';
import { initialState, writeStateFile } from '../../keeper/state/state-file.js';

const entry = (id: number, primary = false, lsn = '0/1') => ({
  node_id: id,
  node_name: `node${id}`,
  node_host: '127.0.0.1',
  node_port: 5000 + id,
  node_lsn: lsn,
  node_is_primary: primary,
});

describe('nodes file parsing (the original format)', () => {
  it('accepts the array test_monitor_disabled writes', () => {
    const text = JSON.stringify([entry(1, true), entry(2)]);
    expect(parseNodesJson(text, 'f.json')).toEqual([entry(1, true), entry(2)]);
    expect(parseNodesJson('[]', 'f.json')).toEqual([]);
  });

  it.each([
    ['not json', /f\.json is not JSON .*expected a JSON array of objects/],
    ['{"node_id": 1}', /f\.json holds no JSON array/],
    ['[1]', /\[0\]: expected an object, found 1/],
    ['[{"node_id": "x"}]', /\[0\]\.node_id: expected an integer above 0, found "x".*\[0\]\.node_name: expected a node name.*found nothing/],
    [JSON.stringify([{ ...entry(1), node_port: 70000 }]), /\[0\]\.node_port: expected a port from 1 to 65535, found 70000/],
    [JSON.stringify([{ ...entry(1), node_lsn: 'zz' }]), /\[0\]\.node_lsn: expected an LSN/],
    [JSON.stringify([{ ...entry(1), node_is_primary: 'yes' }]), /\[0\]\.node_is_primary: expected true or false/],
    [JSON.stringify([entry(1), { ...entry(2), node_host: ' ' }]), /\[1\]\.node_host: expected a host name/],
    [JSON.stringify([entry(1), { ...entry(2), node_host: '0.0.0.0/0 trust #' }]), /\[1\]\.node_host: expected a host name or an IP address, found "0\.0\.0\.0\/0 trust #"/],
    [JSON.stringify([entry(1), { ...entry(2), node_name: 'evil\nname' }]), /\[1\]\.node_name: expected a node name/],
    [JSON.stringify([entry(1), entry(1)]), /lists node_id 1 twice/],
    [JSON.stringify([entry(1, true), entry(2, true)]), /2 nodes with node_is_primary true \(1, 2\): at most one/],
  ])('refuses %s with exit 1', (text, message) => {
    let err: { message: string; exitCode: number } | undefined;
    try {
      parseNodesJson(text, 'f.json');
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.exitCode).toBe(1);
    expect(err?.message).toMatch(message);
  });
});

describe('what a node without a monitor answers', () => {
  const nodes: PeerNode[] = [entry(1, true, '0/5000000'), entry(2, false, '0/4000000'), entry(3, false, '0/4800000')].map(toPeer);

  it('the other nodes exclude this one; an unknown list stays unknown', () => {
    expect(otherNodes(nodes, 2)!.map((n) => n.nodeId)).toEqual([1, 3]);
    expect(otherNodes(undefined, 2)).toBeUndefined();
  });

  it('the primary is the node marked so, never this node', () => {
    expect(primaryOf(nodes, 2)?.nodeId).toBe(1);
    expect(primaryOf(nodes, 1)).toBeUndefined();
    expect(primaryOf(undefined, 2)).toBeUndefined();
  });

  it('the most advanced standby has the highest LSN, ties to the lowest id', () => {
    expect(mostAdvancedStandby(nodes)?.nodeId).toBe(3);
    expect(mostAdvancedStandby([entry(4, false, '0/10'), entry(3, false, '0/10')].map(toPeer))?.nodeId).toBe(3);
    expect(mostAdvancedStandby([entry(1, true)].map(toPeer))).toBeUndefined();
  });

  it("synchronous_standby_names is '*' for a primary with standbys, as the original", () => {
    expect(localSyncNames('primary', nodes, 1)).toBe('*');
    expect(localSyncNames('primary', undefined, 1)).toBe('*');
    expect(localSyncNames('primary', [nodes[0]!], 1)).toBe('');
    expect(localSyncNames('wait_primary', nodes, 1)).toBeUndefined();
  });
});

describe('LocalMonitorClient', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-unit-local-monitor-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const statePath = join(dir, 'pg_autoctl.state');
  const nodesPath = join(dir, 'nodes.json');
  const client = new LocalMonitorClient({ statePath, nodesPath, candidatePriority: 50, replicationQuorum: true });
  const report = { state: 'init', pgIsRunning: false, tli: 1, lsn: '0/0', repState: '' } as const;

  it('answers node_active with the assigned role of the state file', async () => {
    writeStateFile(statePath, { ...initialState(2, 0, 'init'), assigned_role: 'wait_standby' });
    expect((await client.nodeActive(report)).goal).toBe('wait_standby');
  });

  it('without a nodes file, the node list is unknown (not empty)', async () => {
    const err = await client.getOtherNodes().catch((e: unknown) => e);
    expect(isNoNodeList(err)).toBe(true);
    expect(isNoNodeList(await client.getPrimary().catch((e: unknown) => e))).toBe(true);
  });

  it('reads the nodes file, and a new one counts as a notification', async () => {
    let notified = 0;
    client.listen(() => notified++);
    await client.nodeActive(report);
    expect(notified).toBe(0);
    writeNodesFile(nodesPath, [entry(1, true), entry(2)]);
    await client.nodeActive(report);
    expect(notified).toBe(1);
    await client.nodeActive(report);
    expect(notified).toBe(1);
    expect((await client.getOtherNodes()).map((n) => n.nodeId)).toEqual([1]);
    expect((await client.getPrimary())?.port).toBe(5001);
  });

  it('a corrupt nodes file is a clear error', async () => {
    writeFileSync(nodesPath, '[{');
    await expect(client.getOtherNodes()).rejects.toThrow(/the nodes file is corrupt/);
  });
});
