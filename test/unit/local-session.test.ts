// keeper/pg/local-session.ts: when the kept session is reused, when it is replaced, and when a
// call runs again on a new one (only when the kept session was dead before the call's first
// query: nothing of the call ran on it). The sessions here are stand-ins with scripted
// answers; test/e2e/local-postgres.test.ts runs the same class against a real server.
import { describe, expect, it } from 'vitest';
import { PgSql } from '../../lib/errors.js';
import type { Query, SqlSession } from '../../lib/sql.js';
import { isConnectionLoss, LocalSession } from '../../keeper/pg/local-session.js';

/** A session whose every query calls `answer` (which may throw); records what it ran. */
function fakeSession(id: number, answer: (sql: string) => unknown, ran: string[]): SqlSession & { id: number } {
  let closed = false;
  return {
    id,
    query: (async (text: string) => {
      ran.push(`${id}:${text}`);
      await new Promise((r) => setTimeout(r, 1));
      return [answer(text)] as unknown[];
    }) as unknown as Query,
    listen: async () => undefined,
    close: async () => {
      closed = true;
    },
    get closed() {
      return closed;
    },
  };
}

const LIMITS = { connectTimeoutMs: 1000 };
const lost = () => new PgSql('Connection terminated unexpectedly');

describe('LocalSession', () => {
  it('reuses one session for calls that succeed', async () => {
    const ran: string[] = [];
    let opened = 0;
    const ls = new LocalSession(async () => fakeSession(++opened, () => ({ ok: 1 }), ran));
    await ls.run((q) => q('SELECT 1'), LIMITS);
    await ls.run((q) => q('SELECT 2'), LIMITS);
    expect(opened).toBe(1);
    expect(ran).toEqual(['1:SELECT 1', '1:SELECT 2']);
  });

  it('a kept session found dead at the first query: the call runs again, once, on a new session', async () => {
    const ran: string[] = [];
    let opened = 0;
    const ls = new LocalSession(async () => {
      const id = ++opened;
      return fakeSession(id, (text) => {
        if (id === 1 && text === 'SELECT 2') throw lost();
        return {};
      }, ran);
    });
    await ls.run((q) => q('SELECT 1'), LIMITS);
    await ls.run((q) => q('SELECT 2'), LIMITS);
    expect(ran).toEqual(['1:SELECT 1', '1:SELECT 2', '2:SELECT 2']);
    await ls.run((q) => q('SELECT 3'), LIMITS);
    expect(ran.at(-1)).toBe('2:SELECT 3');
  });

  it('no second run after a query of the call was answered, nor for an SQL error, nor on a session just opened', async () => {
    const ran: string[] = [];
    let opened = 0;
    const ls = new LocalSession(async () => {
      const id = ++opened;
      return fakeSession(id, (text) => {
        if (text === 'BAD') throw new PgSql('relation "x" does not exist', { sqlstate: '42P01' });
        if (text === 'LOST') throw lost();
        return {};
      }, ran);
    });
    // fresh session: a loss is the caller's
    await expect(ls.run((q) => q('LOST'), LIMITS)).rejects.toThrow(/terminated/);
    // kept session, first query answered, the second lost: the call may have done something
    await ls.run((q) => q('SELECT 1'), LIMITS);
    await expect(
      ls.run(async (q) => {
        await q('SELECT 2');
        await q('LOST');
      }, LIMITS),
    ).rejects.toThrow(/terminated/);
    await ls.run((q) => q('SELECT 3'), LIMITS);
    await expect(ls.run((q) => q('BAD'), LIMITS)).rejects.toThrow(/does not exist/);
    expect(ran).toEqual(['1:LOST', '2:SELECT 1', '2:SELECT 2', '2:LOST', '3:SELECT 3', '3:BAD']);
    // every failure dropped the session it happened on
    await ls.run((q) => q('SELECT 4'), LIMITS);
    expect(ran.at(-1)).toBe('4:SELECT 4');
  });

  it('a call over its time limit fails and closes the session', async () => {
    const sessions: Array<SqlSession & { id: number }> = [];
    const ls = new LocalSession(async () => {
      const s = fakeSession(sessions.length + 1, () => ({}), []);
      const slow: SqlSession & { id: number } = Object.create(s);
      Object.defineProperty(slow, 'query', { value: (() => new Promise(() => undefined)) as unknown as Query });
      sessions.push(slow);
      return slow;
    });
    await expect(ls.run((q) => q('SELECT pg_sleep(60)'), { connectTimeoutMs: 1000, timeoutMs: 20 })).rejects.toThrow(
      'the local Postgres did not answer within 20 ms',
    );
    expect(sessions[0]!.closed).toBe(true);
    expect(ls.isOpen).toBe(false);
  });

  it('what counts as a lost connection', () => {
    expect(isConnectionLoss(lost())).toBe(true);
    expect(isConnectionLoss(new PgSql('terminating connection due to administrator command', { sqlstate: '57P01' }))).toBe(true);
    expect(isConnectionLoss(new PgSql('connection failure', { sqlstate: '08006' }))).toBe(true);
    expect(isConnectionLoss(new PgSql('syntax error', { sqlstate: '42601' }))).toBe(false);
    expect(isConnectionLoss(new PgSql('the local Postgres did not answer within 5000 ms'))).toBe(false);
    expect(isConnectionLoss(new Error('Connection terminated'))).toBe(false);
  });
});
