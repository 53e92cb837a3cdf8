// A keeper's "monitor" when the node has none (--disable-monitor, disable monitor): the goal
// is the assigned_role of the local state file (`do fsm assign`), the other nodes come from
// the nodes file (`do fsm nodes set`). Same interface as MonitorClient, so the keeper loop and
// the transition table do not know the difference. The only file reads of this mode.
import { fileStamp } from '../../lib/atomic-file.js';
import type { PeerNode } from '../fsm/context.js';
import type { KeeperMonitor, NodeActiveReply, NodeActiveReport } from '../monitor-client.js';
import { readNodesFile, toPeer } from '../state/nodes-file.js';
import { readStateFile } from '../state/state-file.js';
import { localSyncNames, mostAdvancedStandby, noNodeList, otherNodes, primaryOf } from './answers.js';

export interface LocalMonitorOptions {
  statePath: string;
  nodesPath: string;
  candidatePriority: number;
  replicationQuorum: boolean;
}

export class LocalMonitorClient implements KeeperMonitor {
  private onChange?: (channel: string, payload: string) => void;
  private nodesStamp = '';

  constructor(private readonly o: LocalMonitorOptions) {}

  listen(fn: (channel: string, payload: string) => void): void {
    this.onChange = fn;
  }

  private selfId(): number {
    return readStateFile(this.o.statePath).nodeId;
  }

  private nodes(): PeerNode[] | undefined {
    return readNodesFile(this.o.nodesPath)?.map(toPeer);
  }

  /** The goal is whatever `do fsm assign` wrote; a new nodes file counts as a notification. */
  async nodeActive(_rep: NodeActiveReport): Promise<NodeActiveReply> {
    const s = fileStamp(this.o.nodesPath);
    if (s !== this.nodesStamp) {
      this.nodesStamp = s;
      this.onChange?.('state', 'nodes file');
    }
    return {
      goal: readStateFile(this.o.statePath).assigned_role,
      candidatePriority: this.o.candidatePriority,
      replicationQuorum: this.o.replicationQuorum,
    };
  }

  async getPrimary(): Promise<PeerNode | undefined> {
    const nodes = this.nodes();
    if (!nodes) throw noNodeList();
    return primaryOf(nodes, this.selfId());
  }

  async getOtherNodes(): Promise<PeerNode[]> {
    const others = otherNodes(this.nodes(), this.selfId());
    if (!others) throw noNodeList();
    return others;
  }

  /** Nodes report no state to anyone here: the list holds none. */
  async getOtherNodesInState(_state: string): Promise<PeerNode[]> {
    return [];
  }

  async getMostAdvancedStandby(): Promise<PeerNode | undefined> {
    const nodes = this.nodes();
    if (!nodes) throw noNodeList();
    return mostAdvancedStandby(nodes);
  }

  async setSystemIdentifier(_sysid: string): Promise<void> {}

  async syncNamesIfStillPrimary(): Promise<string | undefined> {
    const state = readStateFile(this.o.statePath);
    return localSyncNames(state.assigned_role, this.nodes(), state.nodeId);
  }

  /** No monitor, no demote wait: the keeper keeps its network_partition_timeout. */
  async demoteTimeoutSec(): Promise<number | undefined> {
    return undefined;
  }

  async close(): Promise<void> {}
}
