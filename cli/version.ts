// `pgaf version [--json]`: our version, the extension version we ship, and the PostgreSQL
// version of the binaries we would run.
import type { Argv } from 'yargs';
import { EXTENSION_VERSION } from '../monitor-ext/bundle.js';
import { log } from '../lib/log.js';
import { packageVersion } from '../lib/package-root.js';
import { postgresVersion, resolveBinDir } from '../lib/postgres-ctl.js';

export interface VersionInfo {
  pg_autoctl: string;
  pgautofailover: string;
  pg_major: string | null;
  pg_version: string | null;
  pg_version_str: string | null;
  pg_version_num: number | null;
}

/** Parses "postgres (PostgreSQL) 15.10 (Debian …)" into the original's version fields. */
export function parsePostgresVersion(text: string): Pick<VersionInfo, 'pg_major' | 'pg_version' | 'pg_version_num'> {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return { pg_major: null, pg_version: null, pg_version_num: null };
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  return { pg_major: String(major), pg_version: `${major}.${minor}`, pg_version_num: major * 10000 + minor };
}

export async function versionInfo(pgctl?: string): Promise<VersionInfo> {
  let str: string | null = null;
  try {
    str = await postgresVersion(resolveBinDir(pgctl));
  } catch (err) {
    log.debug(`PostgreSQL version unknown: ${(err as Error).message}`);
  }
  return {
    pg_autoctl: packageVersion(),
    pgautofailover: EXTENSION_VERSION,
    ...(str ? parsePostgresVersion(str) : { pg_major: null, pg_version: null, pg_version_num: null }),
    pg_version_str: str,
  };
}

export function registerVersion(cli: Argv): Argv {
  return cli.command(
    'version',
    'print the pgaf, extension and PostgreSQL versions',
    (y) =>
      y
        .option('json', { type: 'boolean', default: false, describe: 'output JSON' })
        .option('pgctl', { type: 'string', describe: 'path to pg_ctl (default: from pg_config)' }),
    async (args) => {
      const v = await versionInfo(args.pgctl);
      if (args.json) {
        process.stdout.write(JSON.stringify(v, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        [
          `pgaf version ${v.pg_autoctl}`,
          `pgaf extension version ${v.pgautofailover}`,
          `PostgreSQL ${v.pg_version ?? 'not found'}${v.pg_version_str ? ` (${v.pg_version_str})` : ''}`,
          '',
        ].join('\n'),
      );
    },
  );
}
