// The keeper's local state file, written atomically (temp file, fsync, rename, fsync of the
// directory), so a kill -9 at any instant leaves either the old or the new version.
import { readFileSync } from 'node:fs';
import { writeFileAs } from '../../lib/atomic-file.js';
import { BadState } from '../../lib/errors.js';
import { FieldErrors } from '../../lib/fields.js';
import { NODE_STATES, type NodeState } from '../fsm/states.js';

export const STATE_FILE_VERSION = 1;

export interface KeeperState {
  version: typeof STATE_FILE_VERSION;
  current_role: NodeState;
  assigned_role: NodeState;
  nodeId: number;
  groupId: number;
  /** seconds since the epoch, 0 = never */
  last_monitor_contact: number;
  last_secondary_contact: number;
  pgversion: number;
}

export function initialState(nodeId: number, groupId: number, assigned: NodeState): KeeperState {
  return {
    version: STATE_FILE_VERSION,
    current_role: 'init',
    assigned_role: assigned,
    nodeId,
    groupId,
    last_monitor_contact: 0,
    last_secondary_contact: 0,
    pgversion: 0,
  };
}

export function readStateFile(path: string): KeeperState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BadState(`cannot read the state file ${path}`, {
      cause: err,
      hint: 'is this node created? run pgaf create postgres',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BadState(`the state file ${path} is corrupt: it is not JSON`, { cause: err });
  }
  const j = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const f = new FieldErrors();
  const state: KeeperState = {
    version: f.number('version', j.version, { int: true, min: STATE_FILE_VERSION, max: STATE_FILE_VERSION }) as typeof STATE_FILE_VERSION,
    current_role: f.oneOf('current_role', j.current_role, NODE_STATES),
    assigned_role: f.oneOf('assigned_role', j.assigned_role, NODE_STATES),
    nodeId: f.number('nodeId', j.nodeId, { int: true }),
    groupId: f.number('groupId', j.groupId, { int: true }),
    last_monitor_contact: f.number('last_monitor_contact', j.last_monitor_contact),
    last_secondary_contact: f.number('last_secondary_contact', j.last_secondary_contact),
    pgversion: f.number('pgversion', j.pgversion, { int: true }),
  };
  if (!f.ok) throw new BadState(`the state file ${path} is corrupt: ${f.issues.join('; ')}`);
  return state;
}

export function writeStateFile(path: string, state: KeeperState): void {
  writeFileAs(path, JSON.stringify(state, null, 2) + '\n', undefined, { mkdir: true, syncDir: true });
}
