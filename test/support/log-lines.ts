// What a pgaf log line must look like (lib/log.ts): "HH:MM:SS pid LEVEL sentence key=value ...".
// At info, warn and error the sentence is a sentence: it starts with a capital letter, has
// words, and is not a tool's output; tool output is allowed at debug and trace only, prefixed
// with the program's name.

export interface ParsedLine {
  level: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' | 'TRACE';
  sentence: string;
  fields: Record<string, string>;
}

const LINE = /^\d\d:\d\d:\d\d \d+ (ERROR|WARN |INFO |DEBUG|TRACE) (.*)$/;
/** One trailing ` key=value` or ` key="json string"` field. */
const FIELD = / ([a-z][a-z0-9_.]*)=("(?:[^"\\]|\\.)*"|[^\s"]+)$/i;

/** The programs whose output runProgram logs, as "<program>: <line>". */
export const TOOLS = ['openssl', 'initdb', 'pg_ctl', 'pg_basebackup', 'pg_rewind', 'pg_controldata', 'postgres', 'sh'] as const;
const TOOL_PREFIX = new RegExp(`^(${TOOLS.join('|')}): `);
/** openssl's key generation progress, pg_ctl's waiting dots, initdb's "ok" lines. */
const NOISE = /(\.{3,}\+{3,}|^[.+*-]{5,}$|^waiting for server to|^server (started|stopped)$|\.\.\. ok$|^The files belonging to this database system)/;

export function parseLine(line: string): ParsedLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const fields: Record<string, string> = {};
  let rest = m[2]!;
  for (let f = FIELD.exec(rest); f; f = FIELD.exec(rest)) {
    fields[f[1]!] = f[2]!.startsWith('"') ? (JSON.parse(f[2]!) as string) : f[2]!;
    rest = rest.slice(0, f.index);
  }
  return { level: m[1]!.trim() as ParsedLine['level'], sentence: rest, fields };
}

/** Why `line` is not a good pgaf log line, or undefined when it is. */
export function lineProblem(line: string): string | undefined {
  const p = parseLine(line);
  if (!p) return 'not in the "HH:MM:SS pid LEVEL sentence key=value" format';
  const verbose = p.level === 'DEBUG' || p.level === 'TRACE';
  if (TOOL_PREFIX.test(p.sentence) || NOISE.test(p.sentence)) {
    return verbose ? undefined : `tool output at ${p.level}`;
  }
  if (!/^[A-Z0-9]/.test(p.sentence)) return 'does not start like a sentence (capital letter or number)';
  if (p.sentence.split(/\s+/).length < 2) return 'a single word is not a sentence';
  return undefined;
}

/** Every non-empty line of `text` with its problem. */
export function badLines(text: string): { line: string; problem: string }[] {
  const out: { line: string; problem: string }[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const problem = lineProblem(line);
    if (problem) out.push({ line, problem });
  }
  return out;
}
