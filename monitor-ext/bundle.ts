// Builds the files of the `pgaf` extension (control file, install script, upgrade
// scripts) from monitor-ext/sql/, and installs them into a Postgres share directory.
// Released install scripts are kept verbatim in monitor-ext/released/ (so that
// `CREATE EXTENSION pgaf VERSION '1.0'` still works; never edit them: a change of the SQL is a
// new version with an upgrade script in monitor-ext/upgrade/, and
// test/monitor/extension-upgrade.test.ts checks that old + upgrade = fresh).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../lib/package-root.js';
import { settingPlaceholderLines } from './settings.js';

export const EXTENSION_NAME = 'pgaf';
export const EXTENSION_VERSION = '1.2';

/** Install-script parts, in load order. */
const PARTS = [
  'schema.sql',
  'validate.sql',
  'settings.sql',
  'node_metadata.sql',
  'keepers.sql',
  'events.sql',
  'health.sql',
  'data_loss.sql',
  'group_fsm.sql',
  'standby_fsm.sql',
  'multi_standby.sql',
  'protocol.sql',
  'operator_api.sql',
  'queries.sql',
  'grants.sql',
];

export function extensionSourceDir(): string {
  return join(packageRoot(), 'monitor-ext');
}

/** filename → contents for every file the extension needs in $sharedir/extension. */
export function extensionFiles(): Map<string, string> {
  const src = extensionSourceDir();
  const files = new Map<string, string>();
  files.set(
    `${EXTENSION_NAME}.control`,
    [
      `# pgaf: the pg_auto_failover-compatible monitor of pgaf (SQL only, no shared library)`,
      `comment = 'pgaf monitor: formation, nodes, events and the group state machine'`,
      `default_version = '${EXTENSION_VERSION}'`,
      `requires = 'btree_gist'`,
      `relocatable = false`,
      `superuser = true`,
      `schema = pgautofailover`,
      '',
    ].join('\n'),
  );
  const body = PARTS.map((p) => `-- ${p}\n` + readFileSync(join(src, 'sql', p), 'utf8')).join('\n');
  files.set(
    `${EXTENSION_NAME}--${EXTENSION_VERSION}.sql`,
    `\\echo Use "CREATE EXTENSION ${EXTENSION_NAME}" to load this file. \\quit\n\n${body}`,
  );
  // include_if_exists'd from postgresql.conf, so that ALTER SYSTEM SET pgautofailover.<name> works (PG 15)
  files.set(`${EXTENSION_NAME}-settings.conf`, [...settingPlaceholderLines(), ''].join('\n'));
  for (const dir of ['released', 'upgrade']) {
    const path = join(src, dir);
    if (!existsSync(path)) continue;
    for (const f of readdirSync(path).filter((n) => n.endsWith('.sql'))) {
      if (!files.has(f)) files.set(f, readFileSync(join(path, f), 'utf8'));
    }
  }
  return files;
}

/** Writes the extension files into `<sharedir>/extension`. Returns the paths written. */
export function installExtensionFiles(shareDir: string): string[] {
  const dest = join(shareDir, 'extension');
  const written: string[] = [];
  for (const [name, text] of extensionFiles()) {
    const path = join(dest, name);
    writeFileSync(path, text, { mode: 0o644 });
    written.push(path);
  }
  return written;
}

