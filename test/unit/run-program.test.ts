// runProgram, the one spawner of third-party tools: their output never reaches the info level,
// a failed run logs its stderr in full on one warning line, and `ok` decides what failed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { log, setLogLevel, setLogSink } from '../../lib/log.js';
import { runProgram } from '../../lib/postgres-ctl.js';

let lines: string[] = [];
let prev: (line: string) => void;

beforeEach(() => {
  lines = [];
  prev = setLogSink((l) => lines.push(l));
});

afterEach(() => {
  setLogSink(prev);
  setLogLevel('info');
});

/** `sh -c script`, like a tool that writes `script`'s output. */
function sh(script: string, opts: Partial<Parameters<typeof runProgram>[2]> = {}) {
  return runProgram('/bin/sh', ['-c', script], { timeoutMs: 10_000, log, ...opts });
}

const PROGRESS = `printf '.....+++++\\n' >&2; printf '..+++++\\n-----\\n' >&2; echo done`;

describe('runProgram', () => {
  it('logs nothing at info level for a run that succeeds, however much the tool writes', async () => {
    setLogLevel('info');
    const res = await sh(PROGRESS);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('+++++');
    expect(lines).toEqual([]);
  });

  it('puts every output line at debug, prefixed with the program name', async () => {
    setLogLevel('debug');
    await sh(PROGRESS);
    expect(lines.every((l) => / DEBUG /.test(l))).toBe(true);
    const out = lines.filter((l) => / DEBUG sh: /.test(l)).map((l) => l.replace(/^.* DEBUG sh: /, ''));
    // stdout and stderr are two pipes: their lines interleave as the scheduler likes, each
    // stream keeps its own order
    expect(out.filter((l) => l !== 'done')).toEqual(['.....+++++', '..+++++', '-----']);
    expect(out.filter((l) => l === 'done')).toEqual(['done']);
  });

  it('puts output at trace when quiet (calls made every tick)', async () => {
    setLogLevel('debug');
    await sh(PROGRESS, { quiet: true });
    expect(lines).toEqual([]);
  });

  it('logs one warning with the whole stderr when the run fails', async () => {
    setLogLevel('info');
    const res = await sh(`echo 'tool: error: first' >&2; echo 'tool: detail: second' >&2; echo 'tool: hint: third' >&2; exit 3`);
    expect(res.code).toBe(3);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ WARN  sh failed with exit code 3 stderr="tool: error: first\\ntool: detail: second\\ntool: hint: third"$/);
  });

  it('logs no warning for an exit code the caller expects', async () => {
    const res = await sh(`echo 'pg_ctl: no server running' >&2; exit 3`, { ok: (r) => r.code === 3 });
    expect(res.code).toBe(3);
    expect(lines).toEqual([]);
  });

  it('masks a password a tool prints', async () => {
    await sh(`echo 'connection "host=h password=s3cret" failed' >&2; exit 1`);
    expect(lines.join('\n')).not.toContain('s3cret');
  });
});

describe('formatLine keeps one event on one line', () => {
  it('writes line breaks in a message as \\n', () => {
    log.error('Transition failed: pg_basebackup: error: a\npg_basebackup: removing data directory\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ERROR Transition failed: pg_basebackup: error: a\\npg_basebackup: removing data directory$/);
  });

  it('ends a program whose answer is no longer wanted (abort) without a warning', async () => {
    const abort = new AbortController();
    const run = sh('exec sleep 30', { signal: abort.signal });
    setTimeout(() => abort.abort(), 100);
    const res = await run;
    expect(res.code).not.toBe(0);
    expect(lines.filter((l) => / WARN /.test(l))).toEqual([]);
  });
});
