// The keeper's transition table (keeper/fsm/transitions.ts) as data: its rows, a snapshot of
// it (keeper-transitions.snap.txt, so that a changed edge shows in review), and the check that
// each goal the monitor can assign from each reported state has a keeper edge. The monitor's
// side is the table MONITOR_EDGES below, read off its SQL: the test fails when a set_goal()
// call in monitor-ext/sql names a (rule, goal) pair that the table lacks, or a rule id that
// monitor-ext/RULES.md does not list.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_STATES, type NodeState } from '../../keeper/fsm/states.js';
import { findTransition, TRANSITIONS } from '../../keeper/fsm/transitions.js';

const SQL_DIR = join(__dirname, '../../monitor-ext/sql');
const RULES_MD = join(__dirname, '../../monitor-ext/RULES.md');

describe('the transition table', () => {
  it('names only node states, and each step by its name', () => {
    for (const t of TRANSITIONS) {
      expect(t.from === '*' || NODE_STATES.includes(t.from), `${t.from}`).toBe(true);
      expect(NODE_STATES.includes(t.to), t.to).toBe(true);
      expect(t.run.name, `${t.from} -> ${t.to}`).toMatch(/^[a-z][A-Za-z]+$/);
      expect(t.comment, `${t.from} -> ${t.to}`).toMatch(/^[A-Z]/);
    }
  });

  it('has one row per edge', () => {
    const seen = new Map<string, number>();
    for (const t of TRANSITIONS) seen.set(`${t.from} -> ${t.to}`, (seen.get(`${t.from} -> ${t.to}`) ?? 0) + 1);
    expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
  });

  it('finds the row of an edge before the any-state row', () => {
    expect(findTransition('primary', 'demoted')).toMatchObject({ from: 'primary', to: 'demoted' });
    expect(findTransition('secondary', 'demoted')).toMatchObject({ from: '*', to: 'demoted' });
    expect(findTransition('catchingup', 'dropped')).toMatchObject({ from: '*', to: 'dropped' });
    expect(findTransition('secondary', 'catchingup')?.run.name).toBe('followNewPrimary');
    expect(findTransition('demoted', 'catchingup')?.run.name).toBe('rewindOrInit');
    expect(findTransition('single', 'primary')).toBeUndefined();
    expect(findTransition('wait_standby', 'secondary')).toBeUndefined();
  });

  it('matches the committed snapshot (a changed edge shows in review)', async () => {
    const lines = TRANSITIONS.map((t) => `${t.from.padEnd(19)} -> ${t.to.padEnd(19)} ${t.run.name.padEnd(21)} ${t.comment}`);
    await expect(lines.join('\n') + '\n').toMatchFileSnapshot('./keeper-transitions.snap.txt');
  });
});

/** States that take writes, as the monitor's can_take_writes() */
const WRITABLE = ['single', 'primary', 'wait_primary', 'join_primary', 'apply_settings'] as const;
/** is_in_primary_state() without single (the primary rules skip a node that reports single) */
const PRIMARY = ['primary', 'wait_primary', 'join_primary', 'apply_settings'] as const;
/** belongs_to_primary(): what an old primary may report while the monitor demotes it */
const OLD_PRIMARY = [...WRITABLE, 'draining', 'demote_timeout', 'prepare_maintenance'] as const;
/** what a node that is not the primary may report */
const STANDBY = [
  'wait_standby', 'catchingup', 'secondary', 'report_lsn', 'fast_forward', 'join_secondary', 'prepare_promotion',
  'stop_replication', 'wait_maintenance', 'maintenance', 'prepare_maintenance', 'demoted', 'demote_timeout', 'draining',
] as const;

interface MonitorEdge {
  readonly rule: string;
  /** the states the node whose goal changes may report when the rule fires (monitor-ext/sql) */
  readonly from: readonly NodeState[];
  readonly to: readonly NodeState[];
}

/** Every goal the monitor assigns, by rule id, with the reported states it assigns it from. */
const MONITOR_EDGES: readonly MonitorEdge[] = [
  // register_node: the first goal of a node the keeper reports as init
  { rule: 'A7', from: ['init'], to: ['single', 'wait_standby', 'report_lsn'] },
  // proceed_group_state: a lone node
  { rule: 'E4', from: ['init', ...WRITABLE, ...STANDBY], to: ['single'] },
  { rule: 'H210', from: PRIMARY, to: ['single'] },
  { rule: 'E5', from: ['init', ...STANDBY], to: ['report_lsn'] },
  // proceed_group_state: > 2 nodes, the primary unhealthy
  { rule: 'E8', from: WRITABLE.filter((s) => s !== 'wait_primary'), to: ['draining'] },
  { rule: 'E9', from: ['prepare_maintenance'], to: ['maintenance'] },
  // proceed_primary
  { rule: 'P1', from: ['single'], to: ['wait_primary'] },
  { rule: 'P3', from: ['join_primary', 'primary'], to: ['primary'] },
  { rule: 'P2a', from: ['catchingup', 'secondary'], to: ['catchingup'] },
  { rule: 'H303', from: ['primary'], to: ['wait_primary'] },
  { rule: 'H303', from: ['catchingup', 'secondary', 'report_lsn', 'join_secondary'], to: ['catchingup'] },
  { rule: 'P2b', from: PRIMARY, to: ['primary', 'wait_primary'] },
  { rule: 'P2c', from: PRIMARY.filter((s) => s !== 'wait_primary'), to: ['primary', 'wait_primary'] },
  { rule: 'P2d', from: ['wait_primary'], to: ['primary'] },
  { rule: 'P2e', from: ['apply_settings'], to: ['primary', 'wait_primary'] },
  // proceed_standby
  { rule: 'N1', from: ['report_lsn'], to: ['secondary'] },
  { rule: 'N2', from: ['report_lsn'], to: ['secondary'] },
  { rule: 'N3', from: ['fast_forward'], to: ['prepare_promotion'] },
  { rule: 'N5', from: ['wait_standby'], to: ['catchingup'] },
  { rule: 'N6', from: ['wait_standby'], to: ['catchingup'] },
  { rule: 'N6', from: ['primary'], to: ['apply_settings'] },
  { rule: 'N7', from: ['wait_standby'], to: ['catchingup'] },
  { rule: 'N8', from: ['catchingup'], to: ['secondary'] },
  { rule: 'H301', from: ['secondary'], to: ['catchingup'] },
  { rule: 'H323', from: ['secondary'], to: ['prepare_promotion'] },
  { rule: 'N9', from: ['secondary'], to: ['prepare_promotion'] },
  { rule: 'N9', from: ['primary', 'join_primary', 'apply_settings'], to: ['draining'] },
  { rule: 'N10', from: ['wait_maintenance'], to: ['maintenance'] },
  { rule: 'N11', from: ['wait_maintenance'], to: ['maintenance'] },
  { rule: 'N12', from: ['prepare_promotion'], to: ['stop_replication'] },
  { rule: 'N15', from: ['prepare_promotion'], to: ['stop_replication'] },
  { rule: 'N15', from: OLD_PRIMARY.filter((s) => s !== 'prepare_maintenance'), to: ['demote_timeout'] },
  { rule: 'N16', from: ['prepare_promotion'], to: ['wait_primary'] },
  { rule: 'N17', from: ['stop_replication'], to: ['wait_primary'] },
  { rule: 'N17', from: ['prepare_maintenance'], to: ['maintenance'] },
  { rule: 'N18', from: ['stop_replication'], to: ['wait_primary'] },
  { rule: 'N18', from: OLD_PRIMARY, to: ['demoted'] },
  { rule: 'F1', from: ['stop_replication'], to: ['wait_primary'] },
  { rule: 'F1', from: OLD_PRIMARY, to: ['demoted'] },
  { rule: 'H207', from: ['demote_timeout'], to: ['demoted'] },
  { rule: 'N21', from: ['demoted'], to: ['catchingup'] },
  { rule: 'N22', from: ['demoted'], to: ['catchingup'] },
  { rule: 'N23', from: ['join_secondary'], to: ['secondary'] },
  { rule: 'N24', from: ['join_secondary'], to: ['secondary'] },
  // proceed_election
  { rule: 'H363', from: ['report_lsn', 'fast_forward'], to: ['report_lsn'] },
  { rule: 'M1', from: ['report_lsn'], to: ['join_secondary'] },
  { rule: 'M2', from: ['secondary', 'catchingup', 'maintenance', 'draining', 'demoted'], to: ['report_lsn'] },
  { rule: 'M6', from: ['report_lsn'], to: ['prepare_promotion'] },
  { rule: 'M7', from: ['report_lsn'], to: ['fast_forward'] },
  { rule: 'H379', from: ['report_lsn'], to: ['prepare_promotion', 'fast_forward'] },
  // operator APIs
  { rule: 'A1', from: ['primary', 'single', 'join_primary'], to: ['draining'] },
  { rule: 'A1', from: ['secondary'], to: ['prepare_promotion'] },
  { rule: 'A3', from: ['primary'], to: ['prepare_maintenance', 'wait_primary'] },
  { rule: 'A3', from: ['secondary', 'catchingup'], to: ['prepare_promotion', 'wait_maintenance', 'maintenance'] },
  { rule: 'A3', from: PRIMARY, to: ['apply_settings'] },
  { rule: 'A4', from: ['maintenance'], to: ['single'] },
  { rule: 'A4', from: ['maintenance', 'prepare_maintenance'], to: ['report_lsn', 'catchingup'] },
  { rule: 'A5', from: ['init', ...WRITABLE, ...STANDBY], to: ['dropped'] },
  { rule: 'A5', from: STANDBY.filter((s) => s !== 'maintenance'), to: ['report_lsn'] },
  { rule: 'A5', from: PRIMARY, to: ['apply_settings'] },
  // a settings change: the primary whose goal and reported state are writable, but not single
  { rule: 'A6', from: PRIMARY, to: ['apply_settings'] },
];

/** set_goal(node, 'goal', 'rule', …) calls with a literal goal, and the rules whose goal is computed. */
function setGoalCallsInSql(): { literal: string[]; computed: string[] } {
  const literal = new Set<string>();
  const computed = new Set<string>();
  for (const f of readdirSync(SQL_DIR).filter((n) => n.endsWith('.sql'))) {
    const text = readFileSync(join(SQL_DIR, f), 'utf8');
    for (const m of text.matchAll(/set_goal\(\s*\w+\s*,\s*'(\w+)'\s*,\s*'(\w+)'/g)) literal.add(`${m[2]} ${m[1]}`);
    for (const m of text.matchAll(/set_goal\(\s*\w+\s*,\s*(?!')([^,]+?),[\s\n]*'(\w+)'/g)) computed.add(m[2]!);
  }
  return { literal: [...literal].sort(), computed: [...computed].sort() };
}

describe('every goal the monitor assigns has a keeper edge', () => {
  it('MONITOR_EDGES lists every literal set_goal() of monitor-ext/sql', () => {
    const listed = new Set(MONITOR_EDGES.flatMap((e) => e.to.map((to) => `${e.rule} ${to}`)));
    const { literal, computed } = setGoalCallsInSql();
    expect(literal.length).toBeGreaterThan(40);
    expect(literal.filter((k) => !listed.has(k))).toEqual([]);
    // goals computed in SQL (CASE, a variable): their rows are in MONITOR_EDGES by hand
    for (const rule of computed) expect(MONITOR_EDGES.some((e) => e.rule === rule), rule).toBe(true);
  });

  it('names only rule ids that monitor-ext/RULES.md lists', () => {
    const md = readFileSync(RULES_MD, 'utf8');
    const ids = new Set(md.split('\n').flatMap((l) => /^\| ([A-Z][A-Za-z0-9, ]*?) \|/.exec(l)?.[1]?.split(/, /) ?? []));
    expect(MONITOR_EDGES.map((e) => e.rule).filter((r) => !ids.has(r))).toEqual([]);
  });

  it('has a keeper edge for each goal the monitor can assign', () => {
    const gaps = new Map<string, Set<string>>();
    for (const e of MONITOR_EDGES) {
      for (const from of e.from) {
        for (const to of e.to) {
          const edge = `${from.padEnd(19)} -> ${to.padEnd(19)}`;
          if (from !== to && !findTransition(from, to)) gaps.set(edge, (gaps.get(edge) ?? new Set()).add(e.rule));
        }
      }
    }
    // a gap is a goal the keeper would log as unreachable and wait on, for ever
    expect([...gaps].map(([edge, rules]) => `${edge} ${[...rules].join(' ')}`).sort()).toEqual([]);
  });
});
