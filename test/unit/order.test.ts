// provenSwitches: node switches proven by client timestamps (the S2 check of the e2e tests).
import { describe, expect, it } from 'vitest';
import { provenSwitches } from '../support/order.js';

const ack = (node: string, sentAt: number, ackAt: number) => ({ node, sentAt, ackAt });

describe('provenSwitches', () => {
  it('counts one switch for a clean handover', () => {
    const r = provenSwitches([ack('a', 0, 1), ack('a', 2, 3), ack('b', 10, 11), ack('b', 12, 13)]);
    expect(r.switches).toBe(1);
    expect(r.chain.map((x) => x.node)).toEqual(['a', 'b']);
  });

  it('is 0 for one node and for no write', () => {
    expect(provenSwitches([]).switches).toBe(0);
    expect(provenSwitches([ack('a', 0, 1), ack('a', 1, 2)]).switches).toBe(0);
  });

  it('does not count overlapping intervals: their order is not proven', () => {
    // a's last write was in flight while b's first one was acknowledged
    const r = provenSwitches([ack('a', 0, 1), ack('a', 2, 6), ack('b', 3, 4), ack('b', 7, 8)]);
    expect(r.switches).toBe(1);
  });

  it('sees two nodes taking writes in turn', () => {
    const r = provenSwitches([ack('a', 0, 1), ack('b', 2, 3), ack('a', 4, 5), ack('b', 6, 7), ack('a', 8, 9)]);
    expect(r.switches).toBe(4);
  });

  it('finds the longest chain among interleaved clients', () => {
    // two clients on a, one on b; a write on a sent at 5 proves a after b
    const r = provenSwitches([ack('a', 0, 10), ack('a', 0, 1), ack('b', 2, 3), ack('a', 5, 6), ack('b', 4, 20)]);
    expect(r.switches).toBe(2);
    expect(r.chain.map((x) => x.node)).toEqual(['a', 'b', 'a']);
  });
});

describe('provenSwitches at millisecond resolution', () => {
  it('does not take an acknowledgement and a send in the same millisecond as ordered', () => {
    expect(provenSwitches([ack('a', 0, 5), ack('b', 5, 6)]).switches).toBe(0);
    expect(provenSwitches([ack('a', 0, 5), ack('b', 6, 7)]).switches).toBe(1);
  });
});
