// The keeper's local state file, written atomically (temp file, fsync, rename, fsync of the
// directory), so a kill -9 at any instant leaves either the old or the new version.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { BadState } from '../../lib/errors.js';
import { NODE_STATES, type NodeState } from '../fsm/states.js';

export const STATE_FILE_VERSION = 1;

const stateSchema = z.object({
  version: z.literal(STATE_FILE_VERSION),
  current_role: z.enum(NODE_STATES),
  assigned_role: z.enum(NODE_STATES),
  nodeId: z.number().int(),
  groupId: z.number().int(),
  /** seconds since the epoch, 0 = never */
  last_monitor_contact: z.number(),
  last_secondary_contact: z.number(),
  pgversion: z.number().int(),
});

export type KeeperState = z.infer<typeof stateSchema>;

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
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadState(`the state file ${path} is corrupt: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}

export function writeStateFile(path: string, state: KeeperState): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${process.pid}.state.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(state, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
