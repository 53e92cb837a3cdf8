// What a node without a monitor answers in place of the monitor: pure functions of the local
// state file (the goal set by `do fsm assign`) and of the nodes file (`do fsm nodes set`).
import { BadState } from '../../lib/errors.js';
import type { PeerNode } from '../fsm/context.js';
import type { NodeState } from '../fsm/states.js';
import { compareLsn } from '../../lib/lsn.js';

/** Thrown when a step needs the other nodes and no nodes file was given. */
export const NO_NODE_LIST = 'NO_NODE_LIST';

export function noNodeList(): BadState {
  return new BadState('this node has no monitor and no node list yet', {
    code: NO_NODE_LIST,
    retryable: true,
    hint: 'give it one with pgaf do fsm nodes set <file>',
  });
}

/** True for the error above: the node list is unknown (not empty), so HBA and slots are left as they are. */
export function isNoNodeList(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === NO_NODE_LIST;
}

/** The other nodes of the list; undefined when there is no list. */
export function otherNodes(nodes: readonly PeerNode[] | undefined, selfId: number): PeerNode[] | undefined {
  return nodes?.filter((n) => n.nodeId !== selfId);
}

/** The node marked primary, unless it is this node. */
export function primaryOf(nodes: readonly PeerNode[] | undefined, selfId: number): PeerNode | undefined {
  return nodes?.find((n) => n.isPrimary && n.nodeId !== selfId);
}

/** The standby (not marked primary) with the highest LSN; ties go to the lowest node id. */
export function mostAdvancedStandby(nodes: readonly PeerNode[] | undefined): PeerNode | undefined {
  let best: PeerNode | undefined;
  for (const n of nodes ?? []) {
    if (n.isPrimary) continue;
    if (!best || compareLsn(n.lsn, best.lsn) > 0 || (compareLsn(n.lsn, best.lsn) === 0 && n.nodeId < best.nodeId)) best = n;
  }
  return best;
}

/**
 * synchronous_standby_names for this node as a primary, as the original without a monitor:
 * '*' (any standby confirms) when it is assigned primary and has, or may have, standbys; ''
 * when the list says it has none; undefined when its goal is not primary.
 */
export function localSyncNames(assigned: NodeState, nodes: readonly PeerNode[] | undefined, selfId: number): string | undefined {
  if (assigned !== 'primary') return undefined;
  const others = otherNodes(nodes, selfId);
  return others !== undefined && others.length === 0 ? '' : '*';
}
