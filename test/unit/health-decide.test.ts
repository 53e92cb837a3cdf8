// The health worker's pure decisions: a node is healthy when an attempt got a Postgres answer,
// and each round logs one sentence.
import { describe, expect, it } from 'vitest';
import { healthOf, roundSentence, type NodeRound } from '../../monitor-ext/health/decide.js';
import { classifyAnswer } from '../../monitor-ext/health/probe.js';

const node = (nodeId: number, attempts: NodeRound['attempts'], before = 1): NodeRound => ({ nodeId, host: '10.0.0.' + nodeId, port: 5432, before, attempts });

describe('health decisions', () => {
  it('counts only a Postgres answer as healthy', () => {
    expect(healthOf(['timeout', 'answered'])).toBe(1);
    expect(healthOf(['not-postgres', 'not-postgres', 'not-postgres'])).toBe(0);
    expect(healthOf(['refused', 'closed', 'timeout'])).toBe(0);
  });

  it('reads G, N and E as a Postgres answer, anything else as not Postgres', () => {
    expect(['G', 'N', 'E'].map((c) => classifyAnswer(c.charCodeAt(0)))).toEqual(['answered', 'answered', 'answered']);
    expect(['S', 'H', '\0'].map((c) => classifyAnswer(c.charCodeAt(0)))).toEqual(['not-postgres', 'not-postgres', 'not-postgres']);
  });

  it('says what changed in one sentence that starts with a capital letter', () => {
    const round = [node(1, ['answered'], 0), node(2, ['timeout', 'not-postgres'])];
    expect(roundSentence(round, [1, 2])).toBe(
      'Node 1 (10.0.0.1:5432) is healthy again; node 2 (10.0.0.2:5432) is unhealthy after 2 attempt(s): timeout, not-postgres.',
    );
    expect(roundSentence(round, [])).toBe('1 of 2 node(s) still unhealthy: 10.0.0.2:5432.');
    expect(roundSentence([node(1, ['answered'])], [])).toBe('All 1 node(s) answered.');
  });
});
