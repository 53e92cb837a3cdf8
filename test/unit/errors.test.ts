import { describe, expect, it } from 'vitest';
import { BadArgs, BadConfig, BadState, Dropped, exitCodeOf, Fatal, MonitorFailed, NotOnMonitor, PgCtl, PgafError, PgSql } from '../../lib/errors.js';

describe('errors', () => {
  it('carry the original exit codes', () => {
    const codes = [BadArgs, BadConfig, BadState, PgSql, PgCtl, MonitorFailed, Dropped, Fatal].map((C) => new C('x').exitCode);
    expect(codes).toEqual([1, 2, 3, 4, 5, 6, 121, 122]);
    // a data-node command on a monitor exits 6 as in the original, under its own code
    expect(new NotOnMonitor('x').exitCode).toBe(6);
    expect(new NotOnMonitor('x').code).toBe('NOT_ON_MONITOR');
  });

  it('are PgafErrors with a code, a retry flag and a hint', () => {
    const e = new PgSql('boom', { sqlstate: '58P01', hint: 'install it' });
    expect(e).toBeInstanceOf(PgafError);
    expect(e.code).toBe('PGSQL');
    expect(e.sqlstate).toBe('58P01');
    expect(e.hint).toBe('install it');
    expect(e.name).toBe('PgSql');
    expect(new MonitorFailed('down').retryable).toBe(true);
    expect(new BadArgs('x').retryable).toBe(false);
  });

  it('map anything else to the fatal code', () => {
    expect(exitCodeOf(new Error('x'))).toBe(122);
    expect(exitCodeOf(new BadConfig('x'))).toBe(2);
  });
});
