// How long a test (or hook) may wait by its own bounds, read from its source: the sum of the
// timeouts of the bounded waits it calls (a state wait, a writer's acknowledgements, a CLI
// child killed after its timeout, a sleep), so test/unit/time-limits.test.ts can check that
// vitest's limit for it is longer. Otherwise vitest kills a slow test first and its own
// message (what it waited for, the states and logs it saw) is lost.
//
// Reading rules, deliberately simple:
// - a wait function is known by name: from WAITS below (test/support's helpers), or a
//   function of the same file or of test/support whose parameter is a timeout (named
//   timeoutMs, ms or timeout: its cost is the argument at that place, else the parameter's
//   default), or any other function of the same file or test/support, whose cost is the sum of
//   the waits in its body (functions of the file first), counted where it is called, not
//   where it is defined; a function passed as an argument (a poll, a .catch) counts in place;
//   a plain call (`waitFor(…)`, not `c.waitFor(…)`) of a function the test file imports from
//   one of the helper files is that function, even when WAITS has a wait of the same name;
// - a loop's waits count once per round when the rounds can be read (`for (…; i < N; …)`,
//   `for (… of [a, b])` or of a constant array of the file), else once (a `while` or `for (;;)`
//   polls under a deadline that is itself one of the waits);
// - a deadline written in place, `Date.now() + N` (N readable as below), is a wait of N ms;
// - a numeric argument is a literal, possibly with `_` and `*`/`+` of literals, or a constant
//   of the file (`const X = 30_000`); a timeout that cannot be read counts as the default.
import { posix } from 'node:path';
import ts from 'typescript';

/** Known waits of test/support whose timeout is a parameter (index, default ms). */
const WAITS: Record<string, { index: number; default?: number }> = {
  cli: { index: 2, default: 120_000 }, // TestCluster.cli: the child is killed after it
  runCli: { index: 2, default: 120_000 },
  waitFor: { index: 2, default: 60_000 }, // TestCluster.waitFor
  waitForStates: { index: 1, default: 60_000 },
  waitForAcks: { index: 1 }, // Writer, DirectClient
  sleep: { index: 0 },
  setTimeout: { index: 1 }, // only as a sleep: `new Promise((r) => setTimeout(r, ms))`
};

const VITEST_TESTS = new Set(['it', 'test']);
const VITEST_HOOKS = new Set(['beforeAll', 'afterAll', 'beforeEach', 'afterEach']);
const TIMEOUT_PARAM = /^(timeoutMs|ms|timeout)$/;

export interface Block {
  file: string;
  line: number;
  kind: 'test' | 'hook';
  name: string;
  /** the limit vitest applies: the block's own, else the config's */
  limitMs: number;
  /** the sum of the bounded waits inside */
  waitsMs: number;
  waits: string[];
  /** where the block's own limit goes: after the function (at fnEnd), or in place of limitSpan */
  fnEnd: number;
  limitSpan?: [number, number];
}

interface FnInfo {
  node: ts.FunctionLikeDeclaration;
  consts: Map<string, number>;
}

/** Numeric constants of a file, and the lengths of its constant arrays (as `[]name`). */
function constsOf(sf: ts.SourceFile): Map<string, number> {
  const consts = new Map<string, number>();
  const visit = (n: ts.Node): void => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer) {
      const v = numberOf(n.initializer, consts);
      if (v !== undefined) consts.set(n.name.text, v);
      let init: ts.Expression = n.initializer;
      while (ts.isAsExpression(init) || ts.isParenthesizedExpression(init)) init = init.expression;
      if (ts.isArrayLiteralExpression(init)) consts.set(`[]${n.name.text}`, init.elements.length);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return consts;
}

function numberOf(e: ts.Expression, consts: Map<string, number>): number | undefined {
  if (ts.isNumericLiteral(e)) return Number(e.text.replace(/_/g, ''));
  if (ts.isParenthesizedExpression(e)) return numberOf(e.expression, consts);
  if (ts.isIdentifier(e)) return consts.get(e.text);
  if (ts.isBinaryExpression(e)) {
    const a = numberOf(e.left, consts);
    const b = numberOf(e.right, consts);
    if (a === undefined || b === undefined) return undefined;
    if (e.operatorToken.kind === ts.SyntaxKind.AsteriskToken) return a * b;
    if (e.operatorToken.kind === ts.SyntaxKind.PlusToken) return a + b;
  }
  return undefined;
}

/** How many rounds a loop makes, when it can be read; 1 otherwise. */
function roundsOf(n: ts.Node, consts: Map<string, number>): number {
  if (ts.isForStatement(n) && n.condition) {
    let c: ts.Expression = n.condition;
    while (ts.isBinaryExpression(c) && c.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken) c = c.left;
    if (ts.isBinaryExpression(c) && c.operatorToken.kind === ts.SyntaxKind.LessThanToken) return numberOf(c.right, consts) ?? 1;
    if (ts.isBinaryExpression(c) && c.operatorToken.kind === ts.SyntaxKind.LessThanEqualsToken) return (numberOf(c.right, consts) ?? 0) + 1;
  }
  if (ts.isForOfStatement(n)) {
    let e: ts.Expression = n.expression;
    while (ts.isAsExpression(e) || ts.isParenthesizedExpression(e)) e = e.expression;
    if (ts.isArrayLiteralExpression(e)) return e.elements.length;
    if (ts.isIdentifier(e)) return consts.get(`[]${e.text}`) ?? 1;
  }
  return 1;
}

/** `Date.now()` */
function isDateNow(e: ts.Expression): boolean {
  return ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && ts.isIdentifier(e.expression.expression) &&
    e.expression.expression.text === 'Date' && e.expression.name.text === 'now' && e.arguments.length === 0;
}

function calleeName(call: ts.CallExpression): string | undefined {
  const e = call.expression;
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return undefined;
}

/** Named functions and methods of a source file. */
function functionsOf(sf: ts.SourceFile): Map<string, FnInfo> {
  const consts = constsOf(sf);
  const fns = new Map<string, FnInfo>();
  const visit = (n: ts.Node): void => {
    if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) && n.name && ts.isIdentifier(n.name) && n.body) {
      fns.set(n.name.text, { node: n, consts });
    } else if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer && (ts.isArrowFunction(n.initializer) || ts.isFunctionExpression(n.initializer))) {
      fns.set(n.name.text, { node: n.initializer, consts });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return fns;
}

export class WaitBudget {
  private readonly support = new Map<string, FnInfo>();
  private readonly supportByFile = new Map<string, Map<string, FnInfo>>();
  private readonly bodyCost = new Map<ts.Node, number>();

  /** `supportSources`: path → text of the shared helpers (test/support, test/monitor/helpers.ts). */
  constructor(supportSources: Record<string, string>) {
    for (const [path, text] of Object.entries(supportSources)) {
      const sf = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
      const fns = functionsOf(sf);
      this.supportByFile.set(posix.normalize(path), fns);
      for (const [k, v] of fns) if (!this.support.has(k)) this.support.set(k, v);
    }
  }

  /** Every test and hook of a test file, with its limit and the waits inside. */
  blocks(file: string, text: string, defaults: { testTimeout: number; hookTimeout: number }): Block[] {
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    const local = functionsOf(sf);
    const consts = constsOf(sf);
    const imported = this.importsOf(file, sf);
    const out: Block[] = [];
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n)) {
        // it(name, fn, limit), and it.each(table)(name, fn, limit)
        const each = ts.isCallExpression(n.expression) && ts.isPropertyAccessExpression(n.expression.expression) &&
          n.expression.expression.name.text === 'each' && ts.isIdentifier(n.expression.expression.expression) &&
          VITEST_TESTS.has(n.expression.expression.expression.text);
        const name = each ? 'it' : calleeName(n);
        const isTest = each || (name !== undefined && VITEST_TESTS.has(name) && ts.isIdentifier(n.expression));
        const isHook = name !== undefined && VITEST_HOOKS.has(name);
        if (isTest || isHook) {
          const fnIndex = isTest ? 1 : 0;
          const fn = n.arguments[fnIndex];
          if (fn && (ts.isArrowFunction(fn) || ts.isFunctionExpression(fn))) {
            const limitArg = n.arguments[fnIndex + 1];
            const own = limitArg ? numberOf(limitArg, consts) : undefined;
            const waits: string[] = [];
            const waitsMs = this.cost(fn.body, local, consts, waits, new Set(), false, imported);
            out.push({
              file,
              line: sf.getLineAndCharacterOfPosition(n.getStart()).line + 1,
              kind: isTest ? 'test' : 'hook',
              name: isTest && n.arguments[0] && ts.isStringLiteralLike(n.arguments[0]) ? n.arguments[0].text : name!,
              limitMs: own ?? (isTest ? defaults.testTimeout : defaults.hookTimeout),
              waitsMs,
              waits,
              fnEnd: fn.getEnd(),
              limitSpan: limitArg ? [limitArg.getStart(), limitArg.getEnd()] : undefined,
            });
            return;
          }
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
    return out;
  }

  /** The helper functions a test file imports by name (`import { waitFor } from '../support/until.js'`). */
  private importsOf(file: string, sf: ts.SourceFile): Map<string, FnInfo> {
    const out = new Map<string, FnInfo>();
    for (const st of sf.statements) {
      if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier) || !st.moduleSpecifier.text.startsWith('.')) continue;
      const from = this.supportByFile.get(posix.normalize(posix.join(posix.dirname(file), st.moduleSpecifier.text)).replace(/\.js$/, '.ts'));
      const named = st.importClause?.namedBindings;
      if (!from || !named || !ts.isNamedImports(named)) continue;
      for (const el of named.elements) {
        const fn = from.get((el.propertyName ?? el.name).text);
        if (fn) out.set(el.name.text, fn);
      }
    }
    return out;
  }

  /** The sum of the bounded waits in `body` (see the rules at the top). */
  private cost(body: ts.Node, local: Map<string, FnInfo>, consts: Map<string, number>, waits: string[], seen: Set<ts.Node>, loopBody = false, imported: Map<string, FnInfo> = new Map()): number {
    let total = 0;
    const visit = (n: ts.Node): void => {
      const rounds = roundsOf(n, consts);
      if (rounds !== 1) {
        const inner: string[] = [];
        const c = this.cost(n, local, consts, inner, seen, true, imported);
        if (c > 0) {
          total += c * rounds;
          waits.push(`${rounds} × (${inner.join(', ')})`);
        }
        return;
      }
      // a deadline written in place (`const deadline = Date.now() + 30_000`, polled by a loop)
      if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken && isDateNow(n.left)) {
        const ms = numberOf(n.right, consts);
        if (ms !== undefined && ms > 0) {
          total += ms;
          waits.push(`deadline ${ms} ms`);
        }
      }
      if (ts.isCallExpression(n)) {
        const c = this.callCost(n, local, consts, waits, seen, imported);
        if (c > 0) {
          total += c;
          waits.push(`${calleeName(n)} ${c} ms`);
        }
      }
      // a named function defined here runs only if called: counted where it is called
      if (ts.isFunctionDeclaration(n)) return;
      if (ts.isVariableDeclaration(n) && n.initializer && (ts.isArrowFunction(n.initializer) || ts.isFunctionExpression(n.initializer))) return;
      ts.forEachChild(n, visit);
    };
    if (loopBody) ts.forEachChild(body, visit);
    else visit(body);
    return total;
  }

  private callCost(call: ts.CallExpression, local: Map<string, FnInfo>, consts: Map<string, number>, waits: string[], seen: Set<ts.Node>, imported: Map<string, FnInfo>): number {
    const name = calleeName(call);
    if (!name) return 0;
    const fn = local.get(name) ?? (ts.isIdentifier(call.expression) ? imported.get(name) : undefined) ?? (WAITS[name] ? undefined : this.support.get(name));
    if (fn) {
      const i = fn.node.parameters.findIndex((p) => ts.isIdentifier(p.name) && TIMEOUT_PARAM.test(p.name.text));
      if (i >= 0) {
        const arg = call.arguments[i];
        const given = arg ? numberOf(arg, consts) : undefined;
        const init = fn.node.parameters[i]!.initializer;
        return given ?? (init ? numberOf(init, fn.consts) ?? 0 : 0);
      }
      if (seen.has(fn.node) || !fn.node.body) return 0;
      const known = this.bodyCost.get(fn.node);
      if (known !== undefined) return known;
      seen.add(fn.node);
      const c = this.cost(fn.node.body, local.get(name) ? local : new Map(), fn.consts, [], seen, false, local.get(name) ? imported : new Map());
      seen.delete(fn.node);
      this.bodyCost.set(fn.node, c);
      return c;
    }
    const w = WAITS[name];
    if (!w) return 0;
    // a timer that runs a function later (a kill, a cleanup) is not a wait; one that resolves
    // a promise is
    if (name === 'setTimeout' && !(call.arguments[0] && ts.isIdentifier(call.arguments[0]))) return 0;
    const arg = call.arguments[w.index];
    const given = arg ? numberOf(arg, consts) : undefined;
    return given ?? w.default ?? 0;
  }
}
