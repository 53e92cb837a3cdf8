// Proving from client-side timestamps alone that writes were taken by two nodes in turn.
// An acknowledged write was committed somewhere in [sentAt, ackAt]; when one write was sent
// after another was acknowledged, the first commit happened before the second. A chain of
// such proven-ordered writes that goes A, B, A means A took writes both before and after B
// did: with a single primary at any instant, that needs two role changes. So the number of
// node switches along the longest proven chain is at most the number of role changes.
export interface Stamped {
  node: string;
  sentAt: number;
  ackAt: number;
}

/**
 * The most node switches along a chain of acknowledgements whose order is proven by the
 * timestamps alone (each one sent after the previous one was acknowledged: in a later millisecond, as Date.now() counts in ms), with the chain.
 */
export function provenSwitches(acks: Stamped[]): { switches: number; chain: Stamped[] } {
  const bySent = [...acks].sort((a, b) => a.sentAt - b.sentAt);
  const byAck = [...acks].sort((a, b) => a.ackAt - b.ackAt);
  const len = new Map<Stamped, { n: number; prev?: Stamped }>();
  const best = new Map<string, Stamped>();
  let j = 0;
  let top: Stamped | undefined;
  for (const x of bySent) {
    while (j < byAck.length && byAck[j]!.ackAt < x.sentAt) {
      const y = byAck[j++]!;
      const ly = len.get(y);
      const b = best.get(y.node);
      if (ly && (!b || len.get(b)!.n < ly.n)) best.set(y.node, y);
    }
    let prev: Stamped | undefined;
    for (const [node, y] of best) if (node !== x.node && (!prev || len.get(y)!.n > len.get(prev)!.n)) prev = y;
    const n = prev ? len.get(prev)!.n + 1 : 1;
    len.set(x, { n, prev });
    if (!top || n > len.get(top)!.n) top = x;
  }
  const chain: Stamped[] = [];
  for (let x = top; x; x = len.get(x)!.prev) chain.unshift(x);
  return { switches: Math.max(0, chain.length - 1), chain };
}
