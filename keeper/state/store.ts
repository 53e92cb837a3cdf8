// The one writer of a node's state file (state-file.ts: its format): the keeper's loop saves
// its copy through it, commands (create, do fsm, enable monitor) write theirs. The loop's
// copy loses to a command's: a file that changed since the loop read it is re-read, not
// overwritten.
import { fileStamp } from '../../lib/atomic-file.js';
import { readStateFile, writeStateFile, type KeeperState } from './state-file.js';

/** The loop rewrites the file when the roles change, and this often for the contact timestamps. */
export const STATE_TIMESTAMPS_EVERY_SEC = 10;

function rolesOf(s: KeeperState): string {
  return `${s.current_role}/${s.assigned_role}`;
}

export class StateStore {
  /** the file's version as the loop last read or wrote it */
  private stamp = '';
  private savedRoles = '';
  private savedAt = 0;

  constructor(readonly path: string) {}

  /** The file as it is now. */
  read(): KeeperState {
    return readStateFile(this.path);
  }

  /** A command's write: replaces the file, whoever wrote it last. */
  write(state: KeeperState): void {
    writeStateFile(this.path, state);
  }

  /** A command's change of the file as it is now; returns what was written. */
  update(change: (s: KeeperState) => KeeperState): KeeperState {
    const next = change(this.read());
    this.write(next);
    return next;
  }

  /** The loop's copy: read, remembering its version. */
  load(): KeeperState {
    const state = readStateFile(this.path);
    this.stamp = fileStamp(this.path);
    this.savedRoles = rolesOf(state);
    return state;
  }

  /** A command wrote the file since the loop last read or wrote it. */
  changedOutside(): boolean {
    return fileStamp(this.path) !== this.stamp;
  }

  /** The loop's save: false (nothing written) when a command replaced the file meanwhile: load() it again. */
  save(state: KeeperState): boolean {
    if (this.changedOutside()) return false;
    writeStateFile(this.path, state);
    this.stamp = fileStamp(this.path);
    return true;
  }

  /**
   * The loop's save at the end of a tick: only when the roles changed or the timestamps are
   * STATE_TIMESTAMPS_EVERY_SEC old, not on every tick. False when a command replaced the file.
   */
  saveIfDue(state: KeeperState, now: number): boolean {
    const roles = rolesOf(state);
    if (roles === this.savedRoles && now - this.savedAt < STATE_TIMESTAMPS_EVERY_SEC) return true;
    if (!this.save(state)) return false;
    this.savedRoles = roles;
    this.savedAt = now;
    return true;
  }
}
