// SSL: the decisions, all pure. Which SSL choice the command line makes (--no-ssl,
// --ssl-self-signed, or user-provided files) and its default sslmode, as the original checks
// them; what a node's config says ([ssl] section); the Postgres settings and HBA record type
// that follow; the libpq parameters of connections we open, and node-postgres' `ssl` option
// derived from an sslmode. File checks take the file system as a parameter.
import { BadArgs } from './errors.js';
import { pathProblem, refusal, WHAT } from './identity.js';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** A node's [ssl] section: whether its Postgres serves SSL, and how it connects to others. */
export interface SslConfig {
  active: boolean;
  sslMode: SslMode;
  caFile?: string;
  crlFile?: string;
  certFile?: string;
  keyFile?: string;
}

export const NO_SSL: SslConfig = Object.freeze({ active: false, sslMode: 'prefer' });

/** The SSL options of create monitor|postgres and enable ssl, as yargs camel-cases them. */
export interface SslArgs {
  noSsl?: boolean;
  sslSelfSigned?: boolean;
  sslMode?: string;
  sslCaFile?: string;
  sslCrlFile?: string;
  serverCert?: string;
  serverKey?: string;
}

export type SslChoice = 'no-ssl' | 'self-signed' | 'user-provided';

export interface SslRequest {
  choice: SslChoice;
  /** For self-signed: cert and key paths in PGDATA (selfSignedFiles), generated later. */
  ssl: SslConfig;
  /** Sentences to log (defaults taken). */
  notices: string[];
  /** Security warnings to log (--no-ssl). */
  warnings?: string[];
}

export function isSslMode(v: unknown): v is SslMode {
  return typeof v === 'string' && (SSL_MODES as readonly string[]).includes(v);
}

export function parseSslMode(v: unknown, option = '--ssl-mode'): SslMode {
  if (!isSslMode(v)) throw new BadArgs(`${option} must be one of ${SSL_MODES.join(', ')}, got "${String(v)}"`);
  return v;
}

const rank = (m: SslMode) => SSL_MODES.indexOf(m);

/** The option names of the user-provided files given on the command line. */
function fileOptions(a: SslArgs): string[] {
  return [
    a.sslCaFile !== undefined ? '--ssl-ca-file' : '',
    a.sslCrlFile !== undefined ? '--ssl-crl-file' : '',
    a.serverCert !== undefined ? '--server-cert' : '',
    a.serverKey !== undefined ? '--server-key' : '',
  ].filter(Boolean);
}

/** The SSL choice the options make (undefined: none); two different choices are an error. */
export function sslChoiceOf(a: SslArgs): SslChoice | undefined {
  const given: Array<[SslChoice, string]> = [];
  if (a.noSsl) given.push(['no-ssl', '--no-ssl']);
  if (a.sslSelfSigned) given.push(['self-signed', '--ssl-self-signed']);
  const files = fileOptions(a);
  if (files.length) given.push(['user-provided', files[0]!]);
  if (given.length > 1) {
    throw new BadArgs(`Using both ${given[0]![1]} and ${given[1]![1]} is not supported: choose one SSL setup`);
  }
  return given[0]?.[0];
}

export const EXPLICIT_SSL_CHOICE =
  'Explicit SSL choice is required: use --ssl-self-signed, or give your certificates with --ssl-ca-file, ' +
  '--ssl-crl-file, --server-cert and --server-key (or --no-ssl if you are sure you want no encryption)';

/**
 * No SSL option at all on a first create (the form of pg_auto_failover's first README, which
 * scripts still use; 2.0 refuses it): TLS by default, with a self-signed certificate and
 * sslmode require, as --ssl-self-signed does. `sslMode` is a lone --ssl-mode.
 */
export function implicitSslRequest(pgdata: string, sslMode?: string): SslRequest {
  const req = resolveSslRequest({ sslSelfSigned: true, sslMode }, pgdata);
  return {
    ...req,
    notices: [
      'No SSL option given: encrypting with a self-signed certificate (as --ssl-self-signed); give your certificates to verify the servers, or --no-ssl to turn encryption off',
      ...req.notices,
    ],
  };
}

/** The certificate and key that --ssl-self-signed creates in PGDATA. */
export function selfSignedFiles(pgdata: string): { certFile: string; keyFile: string } {
  return { certFile: `${pgdata}/server.crt`, keyFile: `${pgdata}/server.key` };
}

/** SSL is on with the self-signed certificate and key of PGDATA (which pgaf creates when missing). */
export function usesSelfSignedCert(ssl: SslConfig, pgdata: string): boolean {
  const own = selfSignedFiles(pgdata);
  return ssl.active && ssl.certFile === own.certFile && ssl.keyFile === own.keyFile;
}

/**
 * Validates the SSL options and fills in the default sslmode (no-ssl: prefer; self-signed:
 * require; user-provided: verify-full). Throws BadArgs naming the option. Touches no file:
 * see sslFileProblems for the files.
 */
export function resolveSslRequest(a: SslArgs, pgdata: string): SslRequest {
  const choice = sslChoiceOf(a);
  if (!choice) throw new BadArgs(EXPLICIT_SSL_CHOICE);
  const given = a.sslMode !== undefined ? parseSslMode(a.sslMode) : undefined;
  const notices: string[] = [];
  const defaulted = (m: SslMode): SslMode => {
    notices.push(`Using default --ssl-mode "${m}"`);
    return m;
  };
  if (choice === 'no-ssl') {
    const warnings = ['--no-ssl: no encryption is used for network traffic (passwords, replication, monitor calls): use --ssl-self-signed or your certificates to encrypt it'];
    return { choice, ssl: { active: false, sslMode: given ?? defaulted('prefer') }, notices, warnings };
  }
  if (choice === 'self-signed') {
    if (given && rank(given) > rank('require')) {
      throw new BadArgs(`--ssl-mode "${given}" is not compatible with self-signed certificates: give certificates signed by a CA you trust (--ssl-ca-file, --server-cert, --server-key)`);
    }
    const sslMode = given ?? defaulted('require');
    notices.push('Self-signed certificates encrypt traffic but do not protect against man-in-the-middle or impersonation attacks');
    return { choice, ssl: { active: true, sslMode, ...selfSignedFiles(pgdata) }, notices };
  }
  if (a.serverCert === undefined || a.serverKey === undefined) {
    throw new BadArgs('SSL with your own certificates needs both --server-cert and --server-key');
  }
  const sslMode = given ?? defaulted('verify-full');
  if (rank(sslMode) >= rank('verify-ca') && a.sslCaFile === undefined) {
    throw new BadArgs(`--ssl-ca-file is required when --ssl-mode is "${sslMode}"`);
  }
  const ssl: SslConfig = { active: true, sslMode, certFile: a.serverCert, keyFile: a.serverKey };
  if (a.sslCaFile !== undefined) ssl.caFile = a.sslCaFile;
  if (a.sslCrlFile !== undefined) ssl.crlFile = a.sslCrlFile;
  return { choice, ssl, notices };
}

export type FileAccess = (path: string) => 'ok' | 'missing' | 'unreadable' | 'not-a-file';

/** The first problem with the files a user-provided setup names (existence, readability), or undefined. */
export function sslFileProblem(ssl: SslConfig, access: FileAccess): string | undefined {
  const files: Array<[string, string | undefined]> = [
    ['--server-cert', ssl.certFile],
    ['--server-key', ssl.keyFile],
    ['--ssl-ca-file', ssl.caFile],
    ['--ssl-crl-file', ssl.crlFile],
  ];
  for (const [option, path] of files) {
    if (path === undefined) continue;
    const bad = pathProblem(path);
    if (bad) return refusal(option, WHAT.path, path, bad);
    const a = access(path);
    if (a === 'missing') return `${option} file does not exist at "${path}"`;
    if (a === 'unreadable') return `${option} file "${path}" is not readable`;
    if (a === 'not-a-file') return `${option} "${path}" is not a regular file`;
  }
  return undefined;
}

// ---- the [ssl] section of pg_autoctl.cfg -------------------------------------------------

export function sslToIni(s: SslConfig): Record<string, string> {
  const out: Record<string, string> = { active: s.active ? '1' : '0', sslmode: s.sslMode };
  if (s.caFile) out.ca_file = s.caFile;
  if (s.crlFile) out.crl_file = s.crlFile;
  if (s.certFile) out.cert_file = s.certFile;
  if (s.keyFile) out.key_file = s.keyFile;
  return out;
}

/** Reads [ssl]; problems go to `bad` as "ssl.key: …" and a safe value is returned. */
export function sslFromIni(sec: Record<string, string> | undefined, bad: (issue: string) => void): SslConfig {
  const s = sec ?? {};
  const activeText = s.active ?? '0';
  if (!['0', '1', 'true', 'false', 'on', 'off'].includes(activeText)) bad(`ssl.active: expected 0 or 1, found ${JSON.stringify(activeText)}`);
  const active = ['1', 'true', 'on'].includes(activeText);
  const modeText = s.sslmode ?? 'prefer';
  if (!isSslMode(modeText)) bad(`ssl.sslmode: expected one of ${SSL_MODES.join(', ')}, found ${JSON.stringify(modeText)}`);
  const ssl: SslConfig = { active, sslMode: isSslMode(modeText) ? modeText : 'prefer' };
  for (const [key, field] of [['ca_file', 'caFile'], ['crl_file', 'crlFile'], ['cert_file', 'certFile'], ['key_file', 'keyFile']] as const) {
    const v = s[key];
    if (v === undefined || v === '') continue;
    const problem = pathProblem(v);
    if (problem) bad(`ssl.${key}: expected an absolute path, found ${JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v)} (${problem})`);
    ssl[field] = v;
  }
  if (active && (!ssl.certFile || !ssl.keyFile)) bad('ssl.active is 1: ssl.cert_file and ssl.key_file are required');
  return ssl;
}

// ---- what follows from it -----------------------------------------------------------------

/** postgresql.conf lines: ssl on with the files, or ssl off. `quote` makes a string literal. */
export function postgresSslLines(s: SslConfig, quote: (v: string) => string): string[] {
  if (!s.active) return ['ssl = off'];
  const lines = ['ssl = on', `ssl_cert_file = ${quote(s.certFile ?? '')}`, `ssl_key_file = ${quote(s.keyFile ?? '')}`];
  if (s.caFile) lines.push(`ssl_ca_file = ${quote(s.caFile)}`);
  if (s.crlFile) lines.push(`ssl_crl_file = ${quote(s.crlFile)}`);
  return lines;
}

/** The HBA record type of the rules pgaf adds: hostssl once the server has SSL. */
export function hbaHostType(s: Pick<SslConfig, 'active'>): 'host' | 'hostssl' {
  return s.active ? 'hostssl' : 'host';
}

/** libpq parameters for connections this node opens to the others. */
export function sslConninfoParts(s: SslConfig): { sslmode: SslMode; sslrootcert?: string; sslcrl?: string } {
  return { sslmode: s.sslMode, sslrootcert: s.caFile || undefined, sslcrl: s.crlFile || undefined };
}

/** What node-postgres needs to connect like libpq with this sslmode (the SSL attempt). */
export interface NodePgSsl {
  rejectUnauthorized: boolean;
  /** [] when nothing is verified: Node then skips loading its ~140 root CAs (25-30 ms a process) */
  ca?: string | string[];
  crl?: string;
  checkServerIdentity?: () => undefined;
}

/**
 * node-postgres' `ssl` for an SSL attempt: require (and prefer/allow) encrypt without checking
 * the certificate; verify-ca checks the chain against sslrootcert (else ~/.postgresql/root.crt
 * when `defaultRootCert` exists, else the system CAs: `systemCa()`, or Node's default when it
 * gives none) but not the host name; verify-full checks both. `read` returns a file's text.
 */
export function nodePgSslOptions(
  t: { sslmode: string; sslrootcert?: string; sslcrl?: string },
  read: (path: string) => string,
  defaultRootCert?: string,
  systemCa?: () => string[] | undefined,
): NodePgSsl {
  // no CA to load when nothing is verified: without `ca`, Node parses its whole root store
  // for every TLS context (25-30 ms of CPU: most of what a short command's handshake costs)
  if (t.sslmode !== 'verify-ca' && t.sslmode !== 'verify-full') return { rejectUnauthorized: false, ca: [] };
  const out: NodePgSsl = { rejectUnauthorized: true };
  const root = t.sslrootcert || defaultRootCert;
  const ca = root ? read(root) : systemCa?.();
  if (ca) out.ca = ca;
  if (t.sslcrl) out.crl = read(t.sslcrl);
  if (t.sslmode === 'verify-ca') out.checkServerIdentity = () => undefined;
  return out;
}

/**
 * Like resolveSslRequest, but undefined when no SSL option at all was given (a re-run may omit
 * them; a first create takes implicitSslRequest); a lone --ssl-mode goes with the self-signed default.
 */
export function optionalSslRequest(a: SslArgs, pgdata: string): SslRequest | undefined {
  if (sslChoiceOf(a) === undefined) return a.sslMode === undefined ? undefined : implicitSslRequest(pgdata, a.sslMode);
  return resolveSslRequest(a, pgdata);
}

/** Logs what an SSL request says: notices as info, warnings as warnings. */
export function logSslRequest(req: SslRequest | undefined, log: { info(m: string): void; warn(m: string): void }): void {
  for (const n of req?.notices ?? []) log.info(n);
  for (const w of req?.warnings ?? []) log.warn(w);
}
