// The checker of test/e2e/quiet-logs.test.ts: what passes for a pgaf log line.
import { describe, expect, it } from 'vitest';
import { formatLine } from '../../lib/log.js';
import { lineProblem, parseLine } from '../support/log-lines.js';

describe('lineProblem', () => {
  it('accepts the logger\'s sentences with key=value fields', () => {
    const line = formatLine('info', 'Taking a base backup', { from: '127.0.0.1:5432', into: '/a b' });
    expect(lineProblem(line)).toBeUndefined();
    expect(parseLine(line)).toEqual({ level: 'INFO', sentence: 'Taking a base backup', fields: { from: '127.0.0.1:5432', into: '/a b' } });
  });

  it('accepts tool output at debug and trace', () => {
    expect(lineProblem(formatLine('debug', 'openssl: ..+++++.....+++++', {}))).toBeUndefined();
    expect(lineProblem(formatLine('trace', 'pg_ctl: pg_ctl: server is running (PID: 12)', {}))).toBeUndefined();
  });

  it.each([
    ['openssl progress at info', formatLine('info', 'openssl: .....+++++', {})],
    ['bare progress dots at warn', formatLine('warn', '..........+++++++++', {})],
    ['pg_rewind output at info', formatLine('info', 'pg_rewind: servers diverged at WAL location 0/3000060 on timeline 1', {})],
    ['a lower-case fragment', formatLine('info', 'waiting for server to start.... done', {})],
    ['one word', formatLine('info', 'Done', {})],
    ['raw tool output', '.....+++++'],
    ['a raw Postgres line', '2026-12-03 11:10:41.927 UTC [367] LOG:  database system is ready to accept connections'],
  ])('rejects %s', (_what, line) => {
    expect(lineProblem(line)).toBeDefined();
  });
});
