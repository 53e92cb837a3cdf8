// Before any test: make the current monitor-ext/ sources the installed `pgaf` extension.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { installExtensionFiles } from '../../monitor-ext/bundle.js';
import { pgShareDir } from '../../lib/pgbin.js';

export default function setup(): void {
  const share = pgShareDir();
  try {
    accessSync(join(share, 'extension'), constants.W_OK);
  } catch {
    // Not root: the extension must have been installed with `sudo pgaf install-extension`.
    return;
  }
  installExtensionFiles(share);
}
