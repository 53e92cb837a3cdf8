// `pgaf version [--json]`: our version, the extension version we ship, and the PostgreSQL
// version of the binaries we would run.
import type { Argv } from 'yargs';
import { EXTENSION_VERSION } from '../monitor-ext/bundle.js';
import { log } from '../lib/log.js';
import { packageVersion } from '../lib/package-root.js';
import { postgresVersion, resolveBinDir } from '../lib/postgres-ctl.js';
import { join } from 'node:path';
import { cached, fileIdentity, pgConfigKey } from './startup-cache.js';
import { existsSync } from 'node:fs';

export interface VersionInfo {
  pg_autoctl: string;
  pgautofailover: string;
  pg_major: string | null;
  pg_version: string | null;
  pg_version_str: string | null;
  pg_version_num: number | null;
}

/**
 * Parses `postgres --version` ("postgres (PostgreSQL) 15.10 (Debian 15.10-1)") into the
 * original's fields: pg_version "15.10 (Debian 15.10-1)", pg_version_str "PostgreSQL 15.10
 * (Debian 15.10-1)", pg_major "15", pg_version_num 150010.
 */
export function parsePostgresVersion(text: string): Omit<VersionInfo, 'pg_autoctl' | 'pgautofailover'> {
  const m = /\(PostgreSQL\)\s+((\d+)(?:\.(\d+))?.*)$/.exec(text.trim());
  if (!m) return { pg_major: null, pg_version: null, pg_version_str: null, pg_version_num: null };
  const major = Number(m[2]);
  const minor = Number(m[3] ?? 0);
  return { pg_major: String(major), pg_version: m[1]!, pg_version_str: `PostgreSQL ${m[1]}`, pg_version_num: major * 10000 + minor };
}

export async function versionInfo(pgctl?: string): Promise<VersionInfo> {
  let str: string | null = null;
  try {
    // `postgres --version` is cached by the binary's identity, `pg_config --bindir` by the
    // identity of pg_config and, for Debian's wrapper, of every major's pg_config (pgConfigKey)
    const binDir = pgctl ? resolveBinDir(pgctl) : await cachedBinDir();
    str = await cached('postgres --version', fileIdentity(join(binDir, 'postgres')), () => postgresVersion(binDir));
  } catch (err) {
    log.debug(`PostgreSQL version unknown: ${(err as Error).message}`);
  }
  return {
    pg_autoctl: packageVersion(),
    pgautofailover: EXTENSION_VERSION,
    ...parsePostgresVersion(str ?? ''),
  };
}

/** The bin directory pg_config names, from the start-up cache while it still holds pg_ctl. */
async function cachedBinDir(): Promise<string> {
  const dir = await cached('pg_config --bindir', pgConfigKey(), async () => resolveBinDir());
  return existsSync(join(dir, 'pg_ctl')) ? dir : resolveBinDir();
}

/** The original's text: program and extension versions, the PostgreSQL we run, the majors we support. */
export function versionLines(program: string, v: VersionInfo): string[] {
  return [
    `${program} version ${v.pg_autoctl}`,
    `${program} extension version ${v.pgautofailover}`,
    // the original's words (scripts parse them); for pgaf it is the PostgreSQL whose binaries it runs
    v.pg_version_str ? `compiled with ${v.pg_version_str}` : 'compiled with PostgreSQL: not found (no pg_config or pg_ctl on PATH)',
    `compatible with Postgres ${SUPPORTED_PG_MAJORS.join(', ')}`,
  ];
}

/** The majors pgaf is tested with (CI runs 15). */
export const SUPPORTED_PG_MAJORS = [15];

export async function printVersion(program: string, json: boolean, pgctl?: string): Promise<void> {
  const v = await versionInfo(pgctl);
  process.stdout.write(json ? JSON.stringify(v, null, 4) + '\n' : versionLines(program, v).join('\n') + '\n');
}

export function registerVersion(cli: Argv, program = 'pgaf'): Argv {
  return cli.command(
    'version',
    'print the pgaf, extension and PostgreSQL versions',
    (y) =>
      y
        .option('json', { type: 'boolean', default: false, describe: 'output JSON' })
        .option('pgctl', { type: 'string', describe: 'path to pg_ctl (default: from pg_config)' }),
    (args) => printVersion(program, Boolean(args.json), args.pgctl),
  );
}
