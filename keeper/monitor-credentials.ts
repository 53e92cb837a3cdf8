// The keeper's own login on the monitor (issue #10.5): after registering with the operator's
// role (the monitor URI's user, autoctl_node), the keeper generates a password, sends only its
// SCRAM-SHA-256 verifier to pgautofailover.enroll_keeper(), and keeps the password in a 0600
// file beside its state file. From then on its monitor sessions log in as that role, which
// the monitor lets act on this node only. A monitor without enroll_keeper (older pgaf, the
// original) or whose pg_hba.conf does not let the role in: the keeper keeps the URI's role.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAs } from '../lib/atomic-file.js';
import type { Logger } from '../lib/log.js';
import type { OsUser } from '../lib/pgbin.js';
import type { PgTarget } from '../lib/pg-uri.js';
import { withClient } from '../lib/sql.js';

export interface KeeperCredentials {
  user: string;
  password: string;
}

/** Where the keeper keeps its monitor login: beside its state file, mode 0600. */
export function credentialsPath(statePath: string): string {
  return join(dirname(statePath), 'pgaf-monitor-login.json');
}

/** The SCRAM-SHA-256 verifier of `password` as PostgreSQL stores it (RFC 5802/7677). */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

export function readCredentials(statePath: string): KeeperCredentials | undefined {
  const path = credentialsPath(statePath);
  if (!existsSync(path)) return undefined;
  const c = JSON.parse(readFileSync(path, 'utf8')) as Partial<KeeperCredentials>;
  if (typeof c.user !== 'string' || typeof c.password !== 'string') return undefined;
  return { user: c.user, password: c.password };
}

/** The monitor target the keeper logs in with: its own role when it has one. */
export function keeperTarget(target: PgTarget, statePath: string): PgTarget {
  const c = readCredentials(statePath);
  return c ? { ...target, user: c.user, password: c.password } : target;
}

/**
 * Enrolls node `nodeId`'s keeper role, checks that it can log in, and saves the password.
 * Any failure leaves the keeper on the URI's role, with a warning; nothing is saved.
 */
export async function enrollKeeper(target: PgTarget, nodeId: number, statePath: string, runAs: OsUser | undefined, log: Logger): Promise<boolean> {
  const password = randomBytes(32).toString('base64url');
  try {
    const user = await withClient(target, { kind: 'monitor', connectTimeoutMs: 5_000 }, async (q) => {
      const has = await q<{ ok: boolean }>(`SELECT to_regprocedure('pgautofailover.enroll_keeper(bigint,text)') IS NOT NULL AS ok`);
      if (!has[0]?.ok) return undefined;
      const rows = await q<{ role: string }>('SELECT pgautofailover.enroll_keeper($1, $2) AS role', [nodeId, scramVerifier(password)]);
      return rows[0]?.role;
    });
    if (!user) {
      log.info('The monitor has no per-node keeper roles: the keeper logs in with the monitor URI role');
      return false;
    }
    await withClient({ ...target, user, password }, { kind: 'monitor', connectTimeoutMs: 5_000 }, (q) => q('SELECT 1'));
    writeFileAs(credentialsPath(statePath), JSON.stringify({ user, password }) + '\n', runAs, { mode: 0o600 });
    log.info(`The keeper logs in to the monitor as its own role ${user}, which may change this node only`);
    return true;
  } catch (err) {
    rmSync(credentialsPath(statePath), { force: true });
    log.warn(
      `The keeper keeps the monitor URI role, its own role cannot be used (the monitor's pg_hba.conf needs a rule for +pgautofailover_keeper): ${(err as Error).message}`,
    );
    return false;
  }
}
