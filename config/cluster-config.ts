// The declarative cluster file (pgaf.config.yaml|yml|json, .pgafrc*, or an explicit path),
// found with cosmiconfig and checked with one zod schema. Precedence: CLI flags > environment
// (PGAF_<SECTION>_<KEY>) > file > defaults. Secrets come from a file or the environment, never
// inline. Errors name the source (file, variable or flag), the key path, what was expected
// and what was found. Used by plugin/ and `pgaf apply` only: the keeper's path never loads zod.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { cosmiconfig } from 'cosmiconfig';
import { z } from 'zod';
import { BadConfig } from '../lib/errors.js';
import { formationNameProblem, hostnameProblem, listenAddressesProblem, nodeNameProblem, pathProblem, tokenProblem, WHAT } from '../lib/identity.js';
import { monitorUri } from '../lib/pg-uri.js';
import type { SslArgs } from '../lib/ssl.js';

export const SEARCH_PLACES = [
  'pgaf.config.yaml',
  'pgaf.config.yml',
  'pgaf.config.json',
  '.pgafrc',
  '.pgafrc.yaml',
  '.pgafrc.yml',
  '.pgafrc.json',
];

const bool = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const t = v.trim().toLowerCase();
  if (['true', 'on', 'yes', '1'].includes(t)) return true;
  if (['false', 'off', 'no', '0'].includes(t)) return false;
  return v;
}, z.boolean());

const int = (min: number, max: number) =>
  z.preprocess((v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v), z.number().int().min(min).max(max));

/** A string that a lib/identity.ts check accepts; the refusal says what and why. */
const checked = (what: string, problem: (v: string) => string | undefined) =>
  z.string().superRefine((v, ctx) => {
    const p = problem(v);
    if (p) ctx.addIssue({ code: 'custom', message: what, params: { problem: p }, input: v });
  });

const absPath = checked(WHAT.path, pathProblem);
const pgUri = z
  .string()
  .regex(/^postgres(ql)?:\/\//, { message: 'expected a postgres:// URI' })
  .superRefine((v, ctx) => {
    const p = tokenProblem(v, 4096);
    if (p) ctx.addIssue({ code: 'custom', message: 'a postgres:// URI', params: { problem: p }, input: v });
  });
const name = checked(WHAT.nodeName, nodeNameProblem);
const formationName = checked(WHAT.formation, formationNameProblem);

export const NodeSettingsSchema = z.strictObject({
  candidate_priority: int(0, 100).optional(),
  replication_quorum: bool.optional(),
  maintenance: bool.optional(),
});

export const FormationSchema = z.strictObject({
  name: formationName.default('default'),
  number_sync_standbys: int(0, 16).optional(),
  /** enable/disable secondary for the formation */
  secondary: bool.optional(),
  /** desired settings of each node, by node name (what `pgaf apply` enforces) */
  nodes: z.record(name, NodeSettingsSchema).default({}),
});

export const MonitorSchema = z.strictObject({
  uri: pgUri,
  /** a file holding the password of the monitor user (else $PGPASSWORD or ~/.pgpass) */
  password_file: absPath.optional(),
});

export const NodeSchema = z.strictObject({
  role: z.enum(['monitor', 'postgres']),
  name: name.optional(),
  pgdata: absPath,
  port: int(1, 65535).default(5432),
  /** address the monitor and other nodes use to reach this node */
  hostname: checked(WHAT.hostname, hostnameProblem).default('127.0.0.1'),
  /** listen_addresses (default: hostname) */
  listen: checked(WHAT.listen, listenAddressesProblem).optional(),
  socket_dir: absPath.default('/tmp'),
  auth: z.enum(['trust', 'md5', 'scram-sha-256']).default('trust'),
  skip_pg_hba: bool.default(false),
  /** path to pg_ctl (default: from pg_config) */
  pg_ctl: absPath.optional(),
  candidate_priority: int(0, 100).default(50),
  replication_quorum: bool.default(true),
  /** a file holding the replication password (else $PG_AUTOCTL_REPLICATION_PASSWORD) */
  replication_password_file: absPath.optional(),
  /** as create's options: none (--no-ssl), self-signed (--ssl-self-signed), files (the ssl_*_file keys) */
  ssl: z.enum(['none', 'self-signed', 'files']).default('none'),
  ssl_cert_file: absPath.optional(),
  ssl_key_file: absPath.optional(),
  ssl_ca_file: absPath.optional(),
  ssl_crl_file: absPath.optional(),
  /** sslmode of this node's connections (default: prefer, require with self-signed, verify-full with files) */
  ssl_mode: z.enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']).optional(),
});

export const ClusterFileSchema = z
  .strictObject({
    formation: FormationSchema.default(() => FormationSchema.parse({})),
    monitor: MonitorSchema.optional(),
    node: NodeSchema.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.node?.role === 'postgres' && !c.monitor) {
      ctx.addIssue({ code: 'custom', path: ['monitor', 'uri'], message: 'a data node needs monitor.uri', input: undefined });
    }
    const n = c.node;
    if (n?.ssl === 'files') {
      for (const key of ['ssl_cert_file', 'ssl_key_file'] as const) {
        if (!n[key]) ctx.addIssue({ code: 'custom', path: ['node', key], message: 'a file (ssl: files needs the certificate and its key)', input: undefined });
      }
    } else if (n) {
      for (const key of ['ssl_cert_file', 'ssl_key_file', 'ssl_ca_file', 'ssl_crl_file'] as const) {
        if (n[key]) ctx.addIssue({ code: 'custom', path: ['node', key], message: `nothing: it goes with ssl: files (ssl is ${n.ssl})`, input: n[key] });
      }
    }
  });

/** The node's SSL keys as create's options (lib/ssl.ts resolveSslRequest checks and completes them). */
export function sslArgsOf(n: NodeSection): SslArgs {
  const mode = n.ssl_mode === undefined ? {} : { sslMode: n.ssl_mode };
  if (n.ssl === 'self-signed') return { sslSelfSigned: true, ...mode };
  if (n.ssl === 'files') {
    return { serverCert: n.ssl_cert_file, serverKey: n.ssl_key_file, sslCaFile: n.ssl_ca_file, sslCrlFile: n.ssl_crl_file, ...mode };
  }
  return { noSsl: true, ...mode };
}

export type ClusterFile = z.infer<typeof ClusterFileSchema>;
export type NodeSection = z.infer<typeof NodeSchema>;
export type FormationSection = z.infer<typeof FormationSchema>;

export interface ClusterConfig extends ClusterFile {
  /** the file it came from (undefined: environment and flags only) */
  file?: string;
  /** the monitor URI: monitor.uri, or the local monitor's own when node.role is monitor */
  monitorUri?: string;
  secrets: { replicationPassword?: string; monitorPassword?: string };
}

/** Where each value came from, by key path: a file, `environment VAR` or `flag --x`. */
type Origins = Map<string, string>;

const SECTIONS: Record<string, z.ZodObject> = { formation: FormationSchema, monitor: MonitorSchema, node: NodeSchema };

/** PGAF_<SECTION>_<KEY> for every scalar key of the schema, e.g. PGAF_NODE_PORT. */
export function envOverrides(env: NodeJS.ProcessEnv): Array<{ path: string; value: string; source: string }> {
  const out: Array<{ path: string; value: string; source: string }> = [];
  for (const [section, schema] of Object.entries(SECTIONS)) {
    for (const key of Object.keys(schema.shape)) {
      if (key === 'nodes') continue;
      const v = `PGAF_${section}_${key}`.toUpperCase();
      if (env[v] !== undefined && env[v] !== '') out.push({ path: `${section}.${key}`, value: env[v]!, source: `environment ${v}` });
    }
  }
  return out;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

function expected(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'object' ? 'a mapping' : `a ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'string' ? `at least ${issue.minimum} characters` : `a value >= ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'string' ? `at most ${issue.maximum} characters` : `a value <= ${issue.maximum}`;
    case 'unrecognized_keys':
      return `no key ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (unknown; secrets go in *_file keys or the environment)`;
    default:
      return issue.message.replace(/^expected /, '').replace(/^Invalid input: expected /, '');
  }
}

/** One line per issue: `<source>: <key path>: expected <what>, found <what>`. */
export function formatIssues(issues: z.core.$ZodIssue[], origins: Origins, fallbackSource: string): string[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join('.') || '(top level)';
    let source = fallbackSource;
    for (let n = issue.path.length; n > 0; n--) {
      const o = origins.get(issue.path.slice(0, n).map(String).join('.'));
      if (o) {
        source = o;
        break;
      }
    }
    if (issue.code === 'unrecognized_keys') {
      return `${source}: ${path === '(top level)' ? '' : path + '.'}${issue.keys.join(', ')}: unknown key${issue.keys.length > 1 ? 's' : ''} (expected one of the documented keys; secrets go in *_file keys or the environment)`;
    }
    if (issue.code === 'invalid_key' && issue.issues[0]) {
      // a key of a mapping (formation.nodes.<name>) refused by its own schema
      const inner = issue.issues[0];
      const why = inner.code === 'custom' && typeof inner.params?.problem === 'string' ? ` (${inner.params.problem})` : '';
      return `${source}: ${path}: expected ${expected(inner)} as a key, found ${describe(issue.path[issue.path.length - 1])}${why}`;
    }
    const problem = issue.code === 'custom' && typeof issue.params?.problem === 'string' ? ` (${issue.params.problem})` : '';
    return `${source}: ${path}: expected ${expected(issue)}, found ${describe(issue.input)}${problem}`;
  });
}

/** Records where every leaf of `obj` came from. */
function recordOrigins(obj: unknown, prefix: string, source: string, into: Origins): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    if (prefix) into.set(prefix, source);
    return;
  }
  for (const [k, v] of Object.entries(obj)) recordOrigins(v, prefix ? `${prefix}.${k}` : k, source, into);
}

export interface LoadOptions {
  /** an explicit file (-f, pm2 set pm2-pgaf:config); else searched in `cwd` */
  file?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** CLI flags by key path, e.g. { 'formation.name': 'prod' } */
  flags?: Record<string, unknown>;
  /** the flag spelling of each key path, for error messages */
  flagNames?: Record<string, string>;
}

function readSecret(path: string, key: string, source: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new BadConfig(`${source}: ${key}: expected a readable file, found ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Finds, reads, merges and validates the cluster configuration; frozen. */
export async function loadClusterConfig(opts: LoadOptions = {}): Promise<ClusterConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explorer = cosmiconfig('pgaf', { searchPlaces: SEARCH_PLACES, cache: false });
  let file: string | undefined;
  let raw: unknown = {};
  try {
    const found = opts.file ? await explorer.load(resolve(cwd, opts.file)) : await explorer.search(cwd);
    if (found) {
      file = found.filepath;
      raw = found.isEmpty ? {} : found.config;
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const where = opts.file ? resolve(cwd, opts.file) : cwd;
    if (e.code === 'ENOENT') throw new BadConfig(`${where}: expected a configuration file, found none (${e.message})`);
    throw new BadConfig(`${where}: cannot parse the configuration: ${e.message.split('\n')[0]}`, { cause: err });
  }
  const source = file ?? 'configuration';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new BadConfig(`${source}: (top level): expected a mapping with formation, monitor and node sections, found ${describe(raw)}`);
  }
  const merged = structuredClone(raw) as Record<string, unknown>;
  const origins: Origins = new Map();
  recordOrigins(merged, '', source, origins);
  for (const o of envOverrides(env)) {
    setPath(merged, o.path, o.value);
    origins.set(o.path, o.source);
  }
  for (const [path, value] of Object.entries(opts.flags ?? {})) {
    if (value === undefined) continue;
    setPath(merged, path, value);
    origins.set(path, `flag ${opts.flagNames?.[path] ?? path}`);
  }
  const parsed = ClusterFileSchema.safeParse(merged, { reportInput: true });
  if (!parsed.success) {
    const lines = formatIssues(parsed.error.issues, origins, source);
    throw new BadConfig(lines.length === 1 ? lines[0]! : `invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const c = parsed.data;
  const secrets: ClusterConfig['secrets'] = {};
  if (c.node?.replication_password_file) {
    secrets.replicationPassword = readSecret(c.node.replication_password_file, 'node.replication_password_file', origins.get('node.replication_password_file') ?? source);
  } else if (env.PG_AUTOCTL_REPLICATION_PASSWORD) {
    secrets.replicationPassword = env.PG_AUTOCTL_REPLICATION_PASSWORD;
  }
  if (c.monitor?.password_file) {
    secrets.monitorPassword = readSecret(c.monitor.password_file, 'monitor.password_file', origins.get('monitor.password_file') ?? source);
  } else if (env.PGPASSWORD) {
    secrets.monitorPassword = env.PGPASSWORD;
  }
  const uri = c.monitor?.uri ?? (c.node?.role === 'monitor' ? monitorUri({ host: c.node.hostname, port: c.node.port }) : undefined);
  return deepFreeze({ ...c, file, monitorUri: uri, secrets });
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
