// `pgaf install-extension`: copy the pgaf extension files into $(pg_config --sharedir)/extension.
// The one step that needs root, like the original's `make install`.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { EXTENSION_NAME, EXTENSION_VERSION, installExtensionFiles } from '../monitor-ext/bundle.js';
import { BadConfig, BadState } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { pgShareDir } from '../lib/pgbin.js';
import { childEnv } from '../lib/secrets.js';

/** pg_config as an absolute path, for the command we tell the user to run. */
function absolutePgConfig(pgConfig: string): string {
  if (pgConfig.includes('/')) return realpathSync(pgConfig);
  try {
    return execFileSync('sh', ['-c', 'command -v "$1"', 'sh', pgConfig], { encoding: 'utf8', env: childEnv(process.env) }).trim() || pgConfig;
  } catch {
    return pgConfig;
  }
}

export function installExtension(pgConfig: string): string[] {
  let share: string;
  try {
    share = pgShareDir(pgConfig);
  } catch (err) {
    throw new BadConfig(`cannot run ${pgConfig} --sharedir: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'pass --pg-config /path/to/pg_config of the PostgreSQL server you want the extension in',
      cause: err,
    });
  }
  const dest = join(share, 'extension');
  try {
    accessSync(dest, constants.W_OK);
  } catch {
    const self = realpathSync(process.argv[1] ?? 'pgaf');
    throw new BadConfig(`${dest} is not writable by this user: installing the extension needs root`, {
      hint: `run: sudo ${process.execPath} ${self} install-extension --pg-config ${absolutePgConfig(pgConfig)}`,
    });
  }
  try {
    return installExtensionFiles(share);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' && e.path) {
      throw new BadState(`the extension sources are incomplete: ${e.path} is missing`, { cause: err });
    }
    throw err;
  }
}

export function registerInstallExtension(cli: Argv): Argv {
  return cli.command(
    'install-extension',
    `install the ${EXTENSION_NAME} extension files into PostgreSQL's share directory (needs root)`,
    (y) =>
      y.option('pg-config', {
        type: 'string',
        describe: 'pg_config of the target PostgreSQL (default: $PG_CONFIG, else pg_config on PATH)',
      }),
    (args) => {
      const pgConfig = args.pgConfig ?? process.env.PG_CONFIG ?? 'pg_config';
      const written = installExtension(pgConfig);
      for (const f of written) log.debug('Installed', { file: f });
      log.info(`Installed extension ${EXTENSION_NAME} ${EXTENSION_VERSION}`, { files: written.length });
      const dir = join(pgShareDir(pgConfig), 'extension');
      process.stdout.write(`installed ${EXTENSION_NAME} ${EXTENSION_VERSION} into ${dir}\n`);
      // PG 15 accepts ALTER SYSTEM SET pgautofailover.<name> only for names it knows (pgaf create monitor does this itself)
      log.info(`To tune a monitor created by hand with ALTER SYSTEM SET pgautofailover.<name>, add to its postgresql.conf: include_if_exists = '${join(dir, `${EXTENSION_NAME}-settings.conf`)}'`);
    },
  );
}
