// SSL files on disk: checking user-provided certificate files (as the OS user that runs
// Postgres would read them) and creating a self-signed certificate with the openssl binary.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { chownNoFollow } from './atomic-file.js';
import { delimiter, join } from 'node:path';
import { BadArgs, BadConfig, PgCtl } from './errors.js';
import type { Logger } from './log.js';
import type { OsUser } from './pgbin.js';
import { runProgram } from './postgres-ctl.js';
import { sslFileProblem, type FileAccess, type SslConfig } from './ssl.js';

/** Readable by us and, when Postgres runs as another user, by that user too (mode bits). */
export function fileAccessFor(runAs?: OsUser): FileAccess {
  return (path) => {
    let st;
    try {
      st = statSync(path);
    } catch {
      return 'missing';
    }
    if (!st.isFile()) return 'not-a-file';
    try {
      accessSync(path, constants.R_OK);
    } catch {
      return 'unreadable';
    }
    if (runAs && runAs.uid !== 0) {
      const bit = st.uid === runAs.uid ? 0o400 : st.gid === runAs.gid ? 0o040 : 0o004;
      if ((st.mode & bit) === 0) return 'unreadable';
    }
    return 'ok';
  };
}

/** BadArgs naming the option when a user-provided file is missing or unreadable. */
export function checkSslFiles(ssl: SslConfig, runAs?: OsUser): void {
  const problem = sslFileProblem(ssl, fileAccessFor(runAs));
  if (problem) {
    throw new BadArgs(problem, runAs ? { hint: `the files must be readable by the ${runAs.name} OS user that runs Postgres` } : undefined);
  }
}

/** The openssl binary on PATH, or a BadConfig saying to install it. */
export function opensslPath(path = process.env.PATH ?? '/usr/bin:/bin'): string {
  for (const dir of [...path.split(delimiter), '/usr/bin', '/usr/local/bin']) {
    const candidate = join(dir, 'openssl');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new BadConfig('--ssl-self-signed needs the openssl program, which is not installed', { hint: 'apt-get install openssl' });
}

/**
 * A self-signed certificate and key at certFile/keyFile (CN = hostname), made by `openssl req`
 * as the Postgres OS user; the key gets mode 0600. Existing files are kept (idempotent).
 */
export async function ensureSelfSignedCert(
  o: { certFile: string; keyFile: string; hostname: string; runAs?: OsUser; log: Logger },
): Promise<'created' | 'kept'> {
  if (existsSync(o.certFile) && existsSync(o.keyFile)) {
    o.log.info('Keeping the existing self-signed certificate', { cert: o.certFile });
    return 'kept';
  }
  const openssl = opensslPath();
  // an ECDSA P-256 key (as strong as RSA 3072): made in milliseconds, where openssl's default
  // RSA 2048 takes 0.1-1 s of prime search, once per node and monitor at bring-up
  const args = ['req', '-new', '-x509', '-days', '365', '-nodes', '-text', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  args.push('-out', o.certFile, '-keyout', o.keyFile, '-subj', `/CN=${o.hostname}`);
  // openssl's progress dots go to debug (runProgram); one sentence once the files exist
  const res = await runProgram(openssl, args, { runAs: o.runAs, timeoutMs: 60_000, log: o.log });
  if (res.code !== 0 || !existsSync(o.keyFile) || !existsSync(o.certFile)) {
    throw new PgCtl(`openssl could not create ${o.certFile} (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-2).join(' ')}`);
  }
  chownNoFollow(o.keyFile, o.runAs, 0o600);
  chownNoFollow(o.certFile, o.runAs);
  o.log.info(`Created a self-signed certificate (ECDSA P-256) for ${o.hostname}, valid 365 days`, { cert: o.certFile, key: o.keyFile });
  return 'created';
}
