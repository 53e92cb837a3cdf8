// The container tier's checker invariants (test/hosts/checker.ts), as pure functions of a
// record of acknowledged writes.
import { describe, expect, it } from 'vitest';
import { monitorConverged, type NodeRow } from '../hosts/formation.js';
import { longestOutage, lostAcks, splitBrainWindows, timelineRegressions, type Ack } from '../hosts/checker.js';

describe('the checker', () => {
  const a = (server: string, tl: number, sentAt: number, at: number, id = sentAt): Ack => ({ writer: 'w', id, server, tl, sentAt, at });

  it('finds acknowledged writes missing on the final primary', () => {
    expect(lostAcks([a('n1', 1, 0, 1, 1), a('n1', 1, 2, 3, 2)], new Set(['w/1']))).toEqual([a('n1', 1, 2, 3, 2)]);
  });

  it('measures the longest time without an acknowledgement', () => {
    expect(longestOutage([a('n1', 1, 0, 5), a('n1', 1, 5, 7), a('n1', 1, 8, 20)], 'w', 0, 22)).toBe(13);
  });

  it('sees an old primary acknowledging after the new one, and two servers on one timeline', () => {
    // n1 on tl 1 until 10, n2 on tl 2 from 12: a clean failover
    const clean = [a('n1', 1, 0, 1), a('n1', 1, 9, 10), a('n2', 2, 11, 12), a('n2', 2, 20, 21)];
    expect(splitBrainWindows(clean)).toEqual([]);
    expect(timelineRegressions(clean)).toEqual([]);
    // n1 acknowledges a write sent at 15, after n2's acknowledgement at 12
    const late = [...clean, a('n1', 1, 15, 16)];
    expect(splitBrainWindows(late)).toEqual([{ server: 'n1', tl: 1, other: 'n2', otherTl: 2 }]);
    expect(timelineRegressions(late)).toEqual([a('n1', 1, 15, 16)]);
    // two servers promoted onto the same timeline
    expect(splitBrainWindows([a('n1', 2, 0, 1), a('n2', 2, 5, 6)])).toHaveLength(2);
    // overlapping in flight but not certainly after: not counted
    expect(splitBrainWindows([a('n2', 2, 11, 12), a('n1', 1, 10, 13)])).toEqual([]);
  });
});


describe('convergence on the monitor', () => {
  const row = (nodename: string, reportedstate: string, goalstate = reportedstate): NodeRow => ({
    nodeid: 0,
    nodename,
    nodehost: '',
    reportedstate,
    goalstate,
    reportedtli: 1,
  });

  it('needs one primary and every other node secondary, reported = goal', () => {
    expect(monitorConverged([row('node1', 'primary'), row('node2', 'secondary')], 2)).toBe('node1');
    expect(monitorConverged([row('node1', 'primary'), row('node2', 'catchingup', 'secondary')], 2)).toBeUndefined();
    expect(monitorConverged([row('node1', 'primary', 'draining'), row('node2', 'secondary')], 2)).toBeUndefined();
    expect(monitorConverged([row('node1', 'primary'), row('node2', 'primary')], 2)).toBeUndefined();
    expect(monitorConverged([row('node1', 'primary')], 2)).toBeUndefined();
  });
});
