// Passwords: generating them, the SCRAM-SHA-256 verifier sent instead of a cleartext password
// (RFC 5802/7677, as Postgres stores it), the replication password derived from the monitor
// password, pgpass lines, and the 0600 files that hold them. Nothing here logs a secret.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, constants, existsSync, fchownSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BadConfig } from './errors.js';
import type { OsUser } from './pgbin.js';

/** Variables that hold secrets: never passed on to a child (Postgres, pg_ctl, pg_basebackup, openssl…). */
export const SECRET_ENV = ['PGPASSWORD', 'PG_AUTOCTL_REPLICATION_PASSWORD'] as const;

/** Our environment without its secrets, for a child process. */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of SECRET_ENV) delete out[k];
  return out;
}

export const SCRAM_ITERATIONS = 4096;

/** A random password: 32 characters of base64url (no ':' or '\\', so it fits a pgpass line as it is). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * SASLprep (RFC 4013) as Postgres applies it before hashing: non-ASCII spaces become spaces,
 * "commonly mapped to nothing" characters go, NFKC; a password with prohibited characters is
 * used as it is (Postgres does the same).
 */
export function saslprep(password: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x20-\x7e]*$/.test(password)) return password;
  const mapped = password
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, ' ')
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/g, '')
    .normalize('NFKC');
  // prohibited output (control characters, private use, surrogates, non-characters): raw
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\ue000-\uf8ff\ufdd0-\ufdef\ufffe\uffff]/.test(mapped)) return password;
  return mapped;
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function keys(password: string, salt: Buffer, iterations: number): { storedKey: Buffer; serverKey: Buffer } {
  const salted = pbkdf2Sync(Buffer.from(saslprep(password), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return { storedKey: createHash('sha256').update(clientKey).digest(), serverKey: hmac(salted, 'Server Key') };
}

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, what ALTER ROLE … PASSWORD accepts as already encrypted. */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  const { storedKey, serverKey } = keys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Whether `verifier` (pg_authid.rolpassword) is the SCRAM verifier of `password`. */
export function scramVerifierMatches(verifier: string | null | undefined, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier ?? '');
  if (!m) return false;
  const { storedKey, serverKey } = keys(password, Buffer.from(m[2]!, 'base64'), Number(m[1]));
  const a = Buffer.concat([storedKey, serverKey]);
  const b = Buffer.concat([Buffer.from(m[3]!, 'base64'), Buffer.from(m[4]!, 'base64')]);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The replication password of a formation when none is given: derived from the password the
 * nodes use for the monitor, so every node given that one secret agrees on this one too.
 */
export function deriveReplicationPassword(monitorPassword: string, formation: string): string {
  return createHmac('sha256', monitorPassword).update(`pgautofailover_replicator/${formation}`).digest('base64url');
}

/** A pgpass field: `:` and `\\` escaped with a backslash. */
function pgpassField(v: string): string {
  return v.replace(/[\\:]/g, (c) => `\\${c}`);
}

/** One line of a pgpass file (host:port:database:user:password, `*` for any). */
export function pgpassLine(e: { host?: string; port?: number | string; database?: string; user: string; password: string }): string {
  return [e.host ?? '*', String(e.port ?? '*'), e.database ?? '*', e.user, e.password].map((v, i) => (i < 4 && v === '*' ? v : pgpassField(v))).join(':');
}

/** The password libpq would take from pgpass `text` for this connection, or undefined. */
export function pgpassLookup(text: string, c: { host: string; port: number; database: string; user: string }): string | undefined {
  const host = c.host.startsWith('/') ? 'localhost' : c.host;
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '' || raw.startsWith('#')) continue;
    const fields: string[] = [];
    let cur = '';
    for (let i = 0; i < raw.length; i++) {
      const ch = raw[i]!;
      if (ch === '\\' && i + 1 < raw.length) cur += raw[++i];
      else if (ch === ':' && fields.length < 4) {
        fields.push(cur);
        cur = '';
      } else cur += ch;
    }
    fields.push(cur);
    if (fields.length < 5) continue;
    const [h, p, d, u, pw] = fields as [string, string, string, string, string];
    const ok = (pat: string, v: string) => pat === '*' || pat === v;
    if (ok(h, host) && ok(p, String(c.port)) && ok(d, c.database) && ok(u, c.user)) return pw;
  }
  return undefined;
}

/**
 * A secret written as a new 0600 file (exclusive temp name, fsync, chown to `owner`, rename):
 * never readable by anyone else, even for an instant.
 */
export function writeSecretFile(path: string, content: string, owner?: OsUser): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}`);
  // O_EXCL|O_NOFOLLOW: a name planted by someone else (a symlink included) fails the write
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      writeSync(fd, content);
      // the owner is set on the descriptor, never through a name that could be swapped
      if (owner && process.getuid?.() === 0) fchownSync(fd, owner.uid, owner.gid);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** The first line of a password file (a trailing newline is not part of it); undefined when there is no file. */
export function readSecretFile(path: string, what = 'password file'): string | undefined {
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BadConfig(`cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const pw = text.replace(/\r?\n$/, '');
  if (pw === '' || /[\r\n]/.test(pw)) throw new BadConfig(`the ${what} ${path} must hold one line, the password`);
  return pw;
}

/** Said when a node is created or started with --auth trust. */
export const TRUST_WARNING =
  'Authentication is off (--auth trust): every host allowed by pg_hba.conf connects as pgaf\'s users without a password (and the replication user reads all data); use --auth scram-sha-256 (the default)';

/** Said at every start of a node run with --auth trust or without SSL. */
export function insecureStartWarnings(c: { authMethod: string; ssl: { active: boolean } }): string[] {
  const out: string[] = [];
  if (c.authMethod === 'trust') out.push(TRUST_WARNING);
  if (!c.ssl.active) out.push('SSL is off (--no-ssl): this node\'s Postgres serves no encryption; pgaf enable ssl --ssl-self-signed (or your certificates) turns it on online');
  return out;
}
