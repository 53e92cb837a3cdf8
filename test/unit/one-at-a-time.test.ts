import { describe, expect, it } from 'vitest';
import { oneAtATime } from '../../lib/one-at-a-time.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('oneAtATime', () => {
  it('runs the calls one after the other, in the order they were made, past a failed one', async () => {
    const log: string[] = [];
    const apply = oneAtATime(async (name: string, ms: number) => {
      log.push(`start ${name}`);
      await tick(ms);
      if (name === 'b') throw new Error('b failed');
      log.push(`end ${name}`);
    });
    const calls = [apply('a', 30), apply('b', 1), apply('c', 1)];
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'start c', 'end c']);
  });
});
