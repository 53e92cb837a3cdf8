// The layering of our top-level source folders, written once as data (LAYERS), and a check
// that every import in every .ts file keeps to it: static `import … from`, `export … from`,
// `import type`, `import x = require()`, type-position `import('…')` and dynamic `import()`.
// docs/architecture.md explains the rule; a failure names the file and the import.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Which of our folders each folder may import (its own files are always allowed). lib/ is the
 * floor: it imports nothing of ours. config/ parses and validates on top of lib/. The monitor
 * (monitor-ext/) and the keeper (keeper/) each stand on config/ and lib/ and never on each
 * other. The PM2 module (plugin/) and the commands (cli/) sit on top, and neither imports the
 * other (the CLI must not load pm2; the module runs nodes, not commands).
 */
export const LAYERS: Record<string, readonly string[]> = {
  lib: [],
  config: ['lib'],
  'monitor-ext': ['lib', 'config'],
  keeper: ['lib', 'config'],
  plugin: ['lib', 'config', 'keeper', 'monitor-ext'],
  cli: ['lib', 'config', 'keeper', 'monitor-ext'],
};

/**
 * Imports that break the rule today, each with its owner and the way out. Keep this list
 * short and temporary: an entry whose import no longer exists fails the test too.
 */
export const EXCEPTIONS: readonly { from: string; to: string; owner: string; why: string }[] = [];

export interface ImportRef {
  /** the specifier as written */
  spec: string;
  /** 1-based line */
  line: number;
  /** false for an import() whose argument is not a string literal (it cannot be checked) */
  literal: boolean;
}

/** Every module specifier a TypeScript file names, static or dynamic. */
export function importsOf(fileName: string, text: string): ImportRef[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: ImportRef[] = [];
  const add = (node: ts.Node, arg: ts.Node | undefined) => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    if (arg && ts.isStringLiteralLike(arg)) out.push({ spec: arg.text, line, literal: true });
    else out.push({ spec: arg ? arg.getText(sf) : '', line, literal: false });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier) add(node, node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0]);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The top-level folder a repo-relative path lies in ('' for a file at the root). */
function folderOf(path: string): string {
  const parts = path.split(sep);
  return parts.length > 1 ? parts[0]! : '';
}

/** Repo-relative path of the file a relative specifier names (`.js` written for the `.ts` source). */
function target(from: string, spec: string): string {
  return relative(ROOT, resolve(ROOT, dirname(from), spec)).replace(/\.js$/, '.ts');
}

export interface Violation {
  file: string;
  line: number;
  spec: string;
  reason: string;
}

/** The imports of `file` (repo-relative) that the layering forbids. */
export function violations(file: string, refs: readonly ImportRef[], layers = LAYERS, exceptions = EXCEPTIONS): Violation[] {
  const from = folderOf(file);
  const allowed = layers[from];
  const out: Violation[] = [];
  for (const r of refs) {
    const bad = (reason: string) => out.push({ file, line: r.line, spec: r.spec, reason });
    if (!r.literal) {
      bad('an import() whose module is not a string literal cannot be checked');
      continue;
    }
    if (!r.spec.startsWith('.')) continue; // node: built-ins and packages
    const to = target(file, r.spec);
    const toFolder = folderOf(to);
    if (toFolder === from) continue;
    if (allowed === undefined) {
      bad(`${from || 'the repository root'}/ has no row in LAYERS`);
      continue;
    }
    if (allowed.includes(toFolder)) continue;
    if (exceptions.some((e) => e.from === file && e.to === to)) continue;
    const may = allowed.length ? allowed.map((f) => `${f}/`).join(', ') : 'nothing of ours';
    bad(layers[toFolder] ? `${from}/ may import ${may}, not ${toFolder}/` : `${to} is not in a source folder (${from}/ may import ${may})`);
  }
  return out;
}

/** The source folders tsconfig.json compiles ("cli/**\/*.ts" → "cli"). */
function sourceFolders(): string[] {
  const tsconfig = ts.parseConfigFileTextToJson('tsconfig.json', readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).config as { include: string[] };
  return [...new Set(tsconfig.include.map((p) => p.split('/')[0]!))];
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

describe('layering: which of our folders may import which', () => {
  const folders = sourceFolders();
  const files = folders.flatMap(tsFiles);
  const refsOf = new Map(files.map((f) => [f, importsOf(f, readFileSync(join(ROOT, f), 'utf8'))]));

  it('has one row per source folder, naming only source folders', () => {
    expect(Object.keys(LAYERS).sort()).toEqual([...folders].sort());
    for (const [f, deps] of Object.entries(LAYERS)) {
      for (const d of deps) expect(folders, `LAYERS.${f} names ${d}`).toContain(d);
    }
  });

  it('finds the files and their imports (the walk itself works)', () => {
    expect(files).toContain(join('lib', 'errors.ts'));
    expect(files.length).toBeGreaterThan(100);
    expect([...refsOf.values()].flat().length).toBeGreaterThan(500);
  });

  it('every import keeps to the layering', () => {
    const found = files.flatMap((f) => violations(f, refsOf.get(f)!));
    const lines = found.map((v) => `${v.file}:${v.line} imports '${v.spec}': ${v.reason}`);
    expect(lines, `imports that break the layering (test/unit/layering.test.ts LAYERS):\n${lines.join('\n')}`).toEqual([]);
  });

  it('every exception is still needed (an import that is gone takes its exception with it)', () => {
    for (const e of EXCEPTIONS) {
      const still = (refsOf.get(e.from) ?? []).some((r) => r.literal && r.spec.startsWith('.') && target(e.from, r.spec) === e.to);
      expect(still, `EXCEPTIONS: ${e.from} no longer imports ${e.to}; remove the entry`).toBe(true);
    }
  });
});

describe('layering check: it catches what it must', () => {
  const text = [
    "import { a } from '../config/node-config.js';",
    "import type { B } from '../keeper/state/state-file.js';",
    "export { c } from '../monitor-ext/bundle.js';",
    "import x = require('../plugin/module.js');",
    "type T = import('../cli/main.js').T;",
    "const m = await import('../keeper/service.js');",
    'const n = await import(name);',
    "import { ok } from './errors.js';",
    "import { pkg } from 'yargs';",
    "import { readFileSync } from 'node:fs';",
  ].join('\n');

  it('reads static, type, re-export, require, type-position and dynamic imports', () => {
    expect(importsOf('lib/x.ts', text).map((r) => r.spec)).toEqual([
      '../config/node-config.js',
      '../keeper/state/state-file.js',
      '../monitor-ext/bundle.js',
      '../plugin/module.js',
      '../cli/main.js',
      '../keeper/service.js',
      'name',
      './errors.js',
      'yargs',
      'node:fs',
    ]);
  });

  it('names file, line and import for each one a folder must not make', () => {
    const v = violations(join('lib', 'x.ts'), importsOf('lib/x.ts', text));
    expect(v.map((x) => `${x.line} ${x.spec}`)).toEqual([
      '1 ../config/node-config.js',
      '2 ../keeper/state/state-file.js',
      '3 ../monitor-ext/bundle.js',
      '4 ../plugin/module.js',
      '5 ../cli/main.js',
      '6 ../keeper/service.js',
      '7 name',
    ]);
    expect(v[0]!.reason).toBe('lib/ may import nothing of ours, not config/');
  });

  it('lets a folder import what its row allows, and nothing else', () => {
    const refs = importsOf('keeper/x.ts', "import '../lib/log.js';\nimport '../config/paths.js';\nimport '../monitor-ext/bundle.js';\nimport '../test/support/x.js';");
    expect(violations(join('keeper', 'x.ts'), refs).map((x) => x.reason)).toEqual([
      'keeper/ may import lib/, config/, not monitor-ext/',
      'test/support/x.ts is not in a source folder (keeper/ may import lib/, config/)',
    ]);
  });

  it('an exception covers its one file and import only', () => {
    const refs = importsOf('monitor-ext/status-page/view.ts', "import { a } from '../../keeper/pg/lsn.js';\nimport { b } from '../../keeper/pg/ctl.js';");
    const one = [{ from: 'monitor-ext/status-page/view.ts', to: 'keeper/pg/lsn.ts', owner: 'test', why: 'test' }];
    expect(violations(join('monitor-ext', 'status-page', 'view.ts'), refs, LAYERS, one).map((x) => x.spec)).toEqual(['../../keeper/pg/ctl.js']);
  });
});
