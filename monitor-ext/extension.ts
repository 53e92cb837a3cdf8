// The `pgaf` extension in the monitor database: `create monitor` creates it, and both
// `create monitor` (re-run) and the monitor service (`pgaf run`) update an installed version
// that is older than the one shipped (ALTER EXTENSION … UPDATE runs the upgrade scripts).
import { EXTENSION_NAME } from './bundle.js';
import { BadConfig, PgSql } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { installedExtensionVersion } from '../lib/monitor-queries.js';
import type { Query } from '../lib/sql.js';

/** -1, 0 or 1 as version a is older than, the same as or newer than b ("1.0" < "1.1" < "1.10"). */
export function compareExtensionVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

function missingExtension(err: unknown): unknown {
  // 58P01: no control file (PG ≤ 15); 0A000 "is not available" (PG 16+).
  if (err instanceof PgSql && (err.sqlstate === '58P01' || /is not available/.test(err.message))) {
    return new BadConfig(`the ${EXTENSION_NAME} extension is not installed in this PostgreSQL: ${err.message}`, {
      code: 'EXTENSION_MISSING',
      hint: 'run once, as root: pgaf install-extension',
      cause: err,
    });
  }
  return err;
}

/**
 * ALTER EXTENSION pgaf UPDATE when the installed version is older than the default version of
 * the installed extension files. Returns the version now installed (undefined: none).
 */
export async function updateExtensionIfOlder(q: Query, log: Logger): Promise<string | undefined> {
  const installed = await installedExtensionVersion(q, EXTENSION_NAME);
  if (installed === undefined) return undefined;
  const avail = await q<{ default_version: string }>('SELECT default_version FROM pg_available_extensions WHERE name = $1', [
    EXTENSION_NAME,
  ]);
  const target = avail[0]?.default_version;
  if (!target || compareExtensionVersions(installed, target) >= 0) return installed;
  try {
    await q(`ALTER EXTENSION ${EXTENSION_NAME} UPDATE TO '${target.replace(/'/g, "''")}'`);
  } catch (err) {
    throw missingExtension(err);
  }
  log.info(`Updated extension ${EXTENSION_NAME} from version ${installed} to ${target}`);
  return target;
}

/** CREATE EXTENSION pgaf CASCADE, or ALTER EXTENSION … UPDATE when an older version is installed. */
export async function ensureExtension(q: Query, log: Logger): Promise<void> {
  if ((await updateExtensionIfOlder(q, log)) !== undefined) return;
  log.info(`Creating extension ${EXTENSION_NAME}`);
  try {
    await q(`CREATE EXTENSION ${EXTENSION_NAME} CASCADE`);
  } catch (err) {
    throw missingExtension(err);
  }
}
