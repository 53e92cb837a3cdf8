// The rule ids of the monitor's SQL agree with monitor-ext/RULES.md (#15.3): every id that an
// event can carry (a string literal of monitor-ext/sql/ shaped like a rule id) is documented
// in the rules table; every id documented there is produced somewhere; the ids listed as
// "write no event" are produced nowhere; and every id a comment of the SQL names is in one of
// the two tables. Reads the files only: no server.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extensionSourceDir } from '../../monitor-ext/bundle.js';

/** A rule id as a whole string literal: a capital and digits with an optional letter (P2a), or HC. */
const LITERAL_ID = /^(?:[A-Z][0-9]+[a-z]?|HC)$/;
/** A rule id inside a comment (the families of RULES.md). */
const COMMENT_ID = /\b(?:[AEFHMNPR][0-9]+[a-z]?|HC)\b/g;

/** The string literals and the comments of SQL text ('…' with '' escapes, -- to the end of the line). */
function splitSql(sql: string): { literals: string[]; comments: string[] } {
  const literals: string[] = [];
  const comments: string[] = [];
  let i = 0;
  while (i < sql.length) {
    if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i);
      comments.push(sql.slice(i + 2, end < 0 ? sql.length : end));
      i = end < 0 ? sql.length : end + 1;
    } else if (sql[i] === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw new Error('unterminated string literal');
        if (sql[i] === "'" && sql[i + 1] === "'") {
          value += "'";
          i += 2;
        } else if (sql[i] === "'") {
          i++;
          break;
        } else {
          value += sql[i++];
        }
      }
      literals.push(value);
    } else {
      i++;
    }
  }
  return { literals, comments };
}

/** The ids of the rules table and of the "write no event" table of RULES.md. */
function documentedIds(md: string): { produced: Set<string>; notProduced: Set<string> } {
  const produced = new Set<string>();
  const notProduced = new Set<string>();
  let target = produced;
  for (const line of md.split('\n')) {
    if (line.startsWith('## ')) target = /write no event/i.test(line) ? notProduced : produced;
    const m = /^\|\s*([^|]+?)\s*\|/.exec(line);
    if (!m || m[1] === 'id' || /^-+$/.test(m[1]!)) continue;
    for (const id of m[1]!.split(/,\s*/)) target.add(id);
  }
  return { produced, notProduced };
}

const root = extensionSourceDir();
const sqlFiles = readdirSync(join(root, 'sql')).filter((f) => f.endsWith('.sql'));
const fromSql = { literal: new Map<string, string[]>(), comment: new Map<string, string[]>() };
for (const f of sqlFiles) {
  const { literals, comments } = splitSql(readFileSync(join(root, 'sql', f), 'utf8'));
  for (const l of literals.filter((x) => LITERAL_ID.test(x))) fromSql.literal.set(l, [...(fromSql.literal.get(l) ?? []), f]);
  for (const c of comments) for (const id of c.match(COMMENT_ID) ?? []) fromSql.comment.set(id, [...(fromSql.comment.get(id) ?? []), f]);
}
const docs = documentedIds(readFileSync(join(root, 'RULES.md'), 'utf8'));

describe('rule ids: monitor-ext/sql/ against monitor-ext/RULES.md', () => {
  it('the parser sees literals and comments apart', () => {
    const { literals, comments } = splitSql(`-- N4: don't\nSELECT set_goal(a, 'secondary', 'N8', 'it''s -- not a comment'); -- E2\n`);
    expect(literals).toEqual(['secondary', 'N8', "it's -- not a comment"]);
    expect(comments).toEqual([" N4: don't", ' E2']);
  });

  it('both tables of RULES.md were found, and no id is in both', () => {
    expect(docs.produced.size).toBeGreaterThan(40);
    expect(docs.produced).toContain('P2a');
    expect(docs.produced).toContain('HC');
    expect(docs.notProduced).toContain('N4');
    expect([...docs.produced].filter((id) => docs.notProduced.has(id))).toEqual([]);
  });

  it('every id the SQL writes into an event is documented in the rules table', () => {
    expect(fromSql.literal.size).toBeGreaterThan(40);
    const undocumented = [...fromSql.literal].filter(([id]) => !docs.produced.has(id)).map(([id, files]) => `${id} (${files.join(', ')})`);
    expect(undocumented).toEqual([]);
  });

  it('every id of the rules table is produced by the SQL', () => {
    expect([...docs.produced].filter((id) => !fromSql.literal.has(id))).toEqual([]);
  });

  it('the ids that write no event are produced nowhere', () => {
    expect([...docs.notProduced].filter((id) => fromSql.literal.has(id))).toEqual([]);
  });

  it('every id a comment names is documented in one of the tables', () => {
    const unknown = [...fromSql.comment]
      .filter(([id]) => !docs.produced.has(id) && !docs.notProduced.has(id))
      .map(([id, files]) => `${id} (${files.join(', ')})`);
    expect(unknown).toEqual([]);
  });
});
