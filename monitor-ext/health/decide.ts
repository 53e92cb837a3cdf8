// Health decisions, pure: a node is good when any attempt of the round got an answer.
import type { ProbeResult } from './probe.js';

export type Health = 0 | 1;

export function healthOf(attempts: readonly ProbeResult[]): Health {
  return attempts.includes('answered') ? 1 : 0;
}

export interface NodeRound {
  nodeId: number;
  host: string;
  port: number;
  before: number;
  attempts: readonly ProbeResult[];
}

/** The one sentence a round logs. */
export function roundSentence(round: readonly NodeRound[], changed: readonly number[]): string {
  if (round.length === 0) return 'No node to check.';
  const bad = round.filter((n) => healthOf(n.attempts) === 0);
  if (changed.length === 0) {
    return bad.length === 0
      ? `All ${round.length} node(s) answered.`
      : `${bad.length} of ${round.length} node(s) still unhealthy: ${bad.map((n) => `${n.host}:${n.port}`).join(', ')}.`;
  }
  const parts = round
    .filter((n) => changed.includes(n.nodeId))
    .map((n) =>
      healthOf(n.attempts) === 1
        ? `node ${n.nodeId} (${n.host}:${n.port}) is healthy again`
        : `node ${n.nodeId} (${n.host}:${n.port}) is unhealthy after ${n.attempts.length} attempt(s): ${n.attempts.join(', ')}`,
    );
  const text = parts.join('; ');
  return text.charAt(0).toUpperCase() + text.slice(1) + '.';
}
