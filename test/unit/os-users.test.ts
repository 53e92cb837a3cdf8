// OS users from /etc/passwd (no child process) with the name service as the fallback.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { passwdEntry, passwdEntryByName } from '../../lib/os-users.js';
import { lookupUser } from '../../lib/pgbin.js';

const getent = (key: string) => execFileSync('getent', ['passwd', key], { encoding: 'utf8' }).trim().split(':');

describe('OS users', () => {
  it('reads root and postgres as getent does', () => {
    for (const name of ['root', 'postgres']) {
      const [n, , uid, gid, , home] = getent(name);
      expect(passwdEntryByName(name)).toEqual({ name: n, uid: Number(uid), gid: Number(gid), home });
      expect(passwdEntry(Number(uid))?.name).toBe(name);
      expect(lookupUser(name)).toEqual({ name: n, uid: Number(uid), gid: Number(gid) });
    }
  });

  it('knows nothing of a user /etc/passwd does not list, and lookupUser says so', () => {
    expect(passwdEntryByName('pgaf-no-such-user')).toBeUndefined();
    expect(passwdEntry(2_000_000_123)).toBeUndefined();
    expect(() => lookupUser('pgaf-no-such-user')).toThrow();
  });

  it('does not take a partial name or an empty one', () => {
    expect(passwdEntryByName('postgre')).toBeUndefined();
    expect(passwdEntryByName('')).toBeUndefined();
  });
});
