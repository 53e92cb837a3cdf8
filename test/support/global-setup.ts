// Before any test: make the current monitor-ext/ sources the installed `pgaf` extension, so
// the tests never run against an older installed copy. Installing needs write access to the
// Postgres share directory (root); without it, an installed copy byte-identical to the
// sources is fine, anything else stops the run with what to do; an install that fails stops
// the run too, naming the file and the reason.
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { extensionFiles, installExtensionFiles } from '../../monitor-ext/bundle.js';
import { pgShareDir } from '../../lib/pgbin.js';

/** The extension files whose installed copy is missing or differs from `wanted`. */
export function staleExtensionFiles(wanted: Map<string, string>, installed: (name: string) => string | undefined): string[] {
  return [...wanted].filter(([name, text]) => installed(name) !== text).map(([name]) => name);
}

function readInstalled(dir: string): (name: string) => string | undefined {
  return (name) => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      return undefined;
    }
  };
}

export default function setup(): void {
  const share = pgShareDir();
  const dir = join(share, 'extension');
  const wanted = extensionFiles();
  const stale = staleExtensionFiles(wanted, readInstalled(dir));
  if (stale.length === 0) return;
  let writable = true;
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    writable = false;
  }
  if (!writable) {
    throw new Error(
      `the pgaf extension installed in ${dir} is not this checkout's (${stale.length} file(s) missing or different: ` +
        `${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', …' : ''}) and this user cannot write there: ` +
        `install it first with \`sudo node dist/cli/main.js install-extension\` (after \`npm run build\`), or run the tests as root`,
    );
  }
  try {
    installExtensionFiles(share);
  } catch (err) {
    throw new Error(
      `could not install this checkout's pgaf extension into ${dir} (${err instanceof Error ? err.message : String(err)}): ` +
        `the tests would run against another copy (${stale.length} file(s) missing or different: ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', …' : ''})`,
    );
  }
  const still = staleExtensionFiles(wanted, readInstalled(dir));
  if (still.length) throw new Error(`installing the pgaf extension into ${dir} left ${still.join(', ')} different from the sources`);
}
