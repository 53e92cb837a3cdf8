// The state file's one writer (keeper/state/store.ts): the loop saves when the roles change or
// the timestamps are old, and loses to a command that wrote the file since the loop read it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initialState } from '../../keeper/state/state-file.js';
import { STATE_TIMESTAMPS_EVERY_SEC, StateStore } from '../../keeper/state/store.js';
import { scratchDirs } from '../support/scratch-dirs.js';

const ROOT = join(__dirname, '../..');

describe('StateStore', () => {
  const scratch = scratchDirs('pgaf-state-');
  function store(): StateStore {
    const dir = scratch();
    const s = new StateStore(join(dir, 'sub', 'pg_autoctl.state'));
    s.write({ ...initialState(3, 0, 'single') });
    return s;
  }

  it('saves the loop\'s copy when the roles change, the timestamps only every few seconds', () => {
    const s = store();
    const state = s.load();
    state.last_monitor_contact = 100;
    expect(s.saveIfDue(state, 100)).toBe(true);
    expect(s.read().last_monitor_contact).toBe(100);
    state.last_monitor_contact = 101;
    expect(s.saveIfDue(state, 101)).toBe(true);
    expect(s.read().last_monitor_contact).toBe(100);
    state.current_role = 'single';
    expect(s.saveIfDue(state, 102)).toBe(true);
    expect(s.read()).toMatchObject({ current_role: 'single', last_monitor_contact: 101 });
    state.last_monitor_contact = 100 + STATE_TIMESTAMPS_EVERY_SEC + 3;
    expect(s.saveIfDue(state, 100 + STATE_TIMESTAMPS_EVERY_SEC + 3)).toBe(true);
    expect(s.read().last_monitor_contact).toBe(100 + STATE_TIMESTAMPS_EVERY_SEC + 3);
  });

  it('does not overwrite a command\'s write: the loop reads the file again', async () => {
    const s = store();
    const state = s.load();
    expect(s.changedOutside()).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    const command = new StateStore(s.path);
    command.update((st) => ({ ...st, assigned_role: 'maintenance' }));
    expect(s.changedOutside()).toBe(true);
    state.current_role = 'single';
    expect(s.save(state)).toBe(false);
    expect(s.saveIfDue(state, 500)).toBe(false);
    expect(s.read()).toMatchObject({ current_role: 'init', assigned_role: 'maintenance' });
    const again = s.load();
    expect(again.assigned_role).toBe('maintenance');
    again.current_role = 'maintenance';
    expect(s.save(again)).toBe(true);
    expect(s.read().current_role).toBe('maintenance');
  });
});

/** Our TypeScript sources, tests and build output left out. */
function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (['node_modules', 'dist', 'test', '.git', 'bench'].includes(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts')) out.push(relative(ROOT, p));
  }
  return out;
}

it('only the state store writes the state file', () => {
  const writers = sources(ROOT).filter((f) => /\bwriteStateFile\(/.test(readFileSync(join(ROOT, f), 'utf8')));
  expect(writers.sort()).toEqual(['keeper/state/state-file.ts', 'keeper/state/store.ts']);
});
