// docs/ansible.md shows the files of examples/ansible/ (the ones test/hosts/ansible.test.ts
// runs): each block under a heading that names a file must be that file, byte for byte, and
// every file of the example (but files/, where the tarball goes) must be shown.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'ansible');

/** Heading `### \`examples/ansible/<file>\`` followed by a fenced block: file → block text. */
export function docBlocks(md: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of md.matchAll(/^#+ `(examples\/ansible\/[^`]+)`[^\n]*\n+```[a-z]*\n([\s\S]*?)^```$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

function exampleFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return relative(EXAMPLE, p) === 'files' ? [] : exampleFiles(p);
    return [relative(ROOT, p)];
  });
}

describe('docs/ansible.md and examples/ansible/', () => {
  const blocks = docBlocks(readFileSync(join(ROOT, 'docs', 'ansible.md'), 'utf8'));

  it('shows every file of the example', () => {
    expect([...blocks.keys()].sort()).toEqual(exampleFiles(EXAMPLE).sort());
  });

  it.each(exampleFiles(EXAMPLE))('%s is shown as it is', (f) => {
    expect(blocks.get(f)).toBe(readFileSync(join(ROOT, f), 'utf8'));
  });

  it('finds a block that differs from its file', () => {
    const md = '### `examples/ansible/inventory.ini`\n\n```ini\n[pgaf_monitor]\n```\n';
    expect(docBlocks(md).get('examples/ansible/inventory.ini')).toBe('[pgaf_monitor]\n');
  });
});
