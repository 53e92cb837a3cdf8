import { describe, expect, it } from 'vitest';
import { BadArgs, BadConfig, BadState, Dropped, exitCodeOf, Fatal, Monitor, PgCtl, PgafError, PgSql } from '../../lib/errors.js';

describe('errors', () => {
  it('carry the original exit codes', () => {
    const codes = [BadArgs, BadConfig, BadState, PgSql, PgCtl, Monitor, Dropped, Fatal].map((C) => new C('x').exitCode);
    expect(codes).toEqual([1, 2, 3, 4, 5, 6, 121, 122]);
  });

  it('are PgafErrors with a code, a retry flag and a hint', () => {
    const e = new PgSql('boom', { sqlstate: '58P01', hint: 'install it' });
    expect(e).toBeInstanceOf(PgafError);
    expect(e.code).toBe('PGSQL');
    expect(e.sqlstate).toBe('58P01');
    expect(e.hint).toBe('install it');
    expect(e.name).toBe('PgSql');
    expect(new Monitor('down').retryable).toBe(true);
    expect(new BadArgs('x').retryable).toBe(false);
  });

  it('map anything else to the fatal code', () => {
    expect(exitCodeOf(new Error('x'))).toBe(122);
    expect(exitCodeOf(new BadConfig('x'))).toBe(2);
  });
});
