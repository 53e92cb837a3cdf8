// Where the PostgreSQL server binaries live, and which OS user runs them.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { passwdEntry, passwdEntryByName } from './os-users.js';
import { childEnv } from './secrets.js';

/** Directory holding pg_ctl, initdb, postgres: from PG_CONFIG, else pg_config on PATH. */
export function pgBinDir(pgConfig = process.env.PG_CONFIG ?? 'pg_config'): string {
  return execFileSync(pgConfig, ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(process.env) }).trim();
}

export function pgShareDir(pgConfig = process.env.PG_CONFIG ?? 'pg_config'): string {
  return execFileSync(pgConfig, ['--sharedir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(process.env) }).trim();
}

export function pgBin(name: string, binDir = pgBinDir()): string {
  return join(binDir, name);
}

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * Look an OS user up by name, e.g. `postgres`: /etc/passwd, else the name service (getent:
 * LDAP, sssd). Reading the file costs no child process: a service run as root asks at start.
 */
export function lookupUser(name: string): OsUser {
  const local = passwdEntryByName(name);
  if (local) return { name: local.name, uid: local.uid, gid: local.gid };
  const line = getent(name);
  const [user, , uid, gid] = line.split(':');
  if (!user || uid === undefined || gid === undefined) throw new Error(`no OS user named ${name}`);
  return { name: user, uid: Number(uid), gid: Number(gid) };
}

function getent(key: string): string {
  return execFileSync('getent', ['passwd', key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(process.env) }).trim();
}

/**
 * The OS user that must run Postgres binaries: ourselves unless we are root,
 * then the owner of PGDATA when it exists, else `postgres`.
 */
export function postgresRunAs(pgdata?: string): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (pgdata) {
    try {
      const st = statSync(pgdata);
      if (st.uid !== 0) {
        const name = passwdEntry(st.uid)?.name ?? getent(String(st.uid)).split(':')[0];
        return { name: name || String(st.uid), uid: st.uid, gid: st.gid };
      }
    } catch {
      // not there yet: fall through to the postgres user
    }
  }
  return lookupUser('postgres');
}

export function currentUserName(): string {
  return userInfo().username;
}
