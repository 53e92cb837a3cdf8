// vitest's time limit of every test and hook of the Postgres tiers (e2e, monitor, regressions)
// is longer than the waits inside it, so a slow run fails on the test's own bound, with its
// message (what it waited for, the states and logs it saw), not on vitest's bare timeout.
// The waits are read from the sources (test/support/wait-budget.ts says how).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import config from '../../vitest.config.js';
import { WaitBudget, type Block } from '../support/wait-budget.js';

const root = resolve(import.meta.dirname, '../..');
const ts = (dir: string) => readdirSync(join(root, dir)).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
const read = (f: string) => readFileSync(join(root, f), 'utf8');

const defaults = { testTimeout: config.test!.testTimeout!, hookTimeout: config.test!.hookTimeout! };
const supportFiles = [...ts('test/support'), 'test/monitor/helpers.ts'];
const budget = new WaitBudget(Object.fromEntries(supportFiles.map((f) => [f, read(f)])));
const testFiles = ['test/e2e', 'test/monitor', 'test/regressions'].flatMap(ts).filter((f) => f.endsWith('.test.ts'));

describe('time limits', () => {
  it.each(testFiles)('%s: every limit exceeds the waits inside', (file) => {
    const blocks = budget.blocks(file, read(file), defaults);
    const short = blocks
      .filter((b: Block) => b.limitMs <= b.waitsMs)
      .map((b) => `${relative(root, join(root, b.file))}:${b.line} ${b.kind} "${b.name}": limit ${b.limitMs} ms, waits ${b.waitsMs} ms (${b.waits.join(', ')})`);
    expect(short).toEqual([]);
  });

  it('reads a plain call of an imported helper as that helper, even when a wait of the same name is known', () => {
    const b = new WaitBudget({
      'test/support/until.ts': `export async function waitFor(what: string, timeoutMs: number, fn: unknown, everyMs = 500) {}`,
    });
    const src = `
      import { waitFor } from '../support/until.js';
      it('a', async () => {
        await waitFor('x', 90_000, async () => true);
        await c.waitFor('y', () => true, 30_000);
      }, 200_000);`;
    const [test] = b.blocks('test/e2e/x.test.ts', src, { testTimeout: 60_000, hookTimeout: 120_000 });
    expect(test).toMatchObject({ limitMs: 200_000, waitsMs: 90_000 + 30_000 });
  });

  it('reads the waits of a test the way the rules say', () => {
    const b = new WaitBudget({
      'support.ts': `export class C {
        async waitFor(what: string, pred: unknown, timeoutMs = 60_000) {}
        async startMonitor() { await this.cli('monitor', ['create', 'monitor']); }
      }`,
    });
    const src = `
      const LONG = 2 * 60_000;
      async function settle(c) { await c.waitForStates({ a: 'primary' }, 30_000); await sleep(500); }
      function poll(what, fn, ms = 10_000) {}
      beforeAll(async () => { await c.startMonitor(); });
      it('a', async () => {
        await c.waitFor('x', () => true);
        await settle(c);
        for (let i = 0; i < 3; i++) await w.waitForAcks(5, LONG);
        poll('y', () => 1);
        poll('z', () => 1, 1_000);
        await c.cli('n', ['x'], 5_000);
        for (const n of ['a', 'b']) await c.cli(n, ['y']);
        while (true) await sleep(250);
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) await sleep(100);
      }, 300_000);`;
    const [hook, test] = b.blocks('x.test.ts', src, { testTimeout: 60_000, hookTimeout: 120_000 });
    expect(hook).toMatchObject({ kind: 'hook', limitMs: 120_000, waitsMs: 120_000 });
    expect(test).toMatchObject({ kind: 'test', name: 'a', limitMs: 300_000, waitsMs: 60_000 + 30_500 + 3 * 120_000 + 10_000 + 1_000 + 5_000 + 2 * 120_000 + 250 + 15_000 + 100 });
  });
});
