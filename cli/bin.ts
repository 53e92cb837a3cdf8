#!/usr/bin/env -S node --max-semi-space-size=1 --optimize-for-size
// The installed program (package.json bin: dist/cli/pgaf.cjs, this file bundled as CommonJS by
// bin/bundle-cli.mjs; the Node flags are cli/main.ts's, test/unit/service-node-flags.test.ts).
// A hot command (cli/fast.ts: `--version`, `show state|uri`, `status`, `get …`, `set …`) runs
// from the code-cached bundle of the fast path without Node's ES module loader: an ES module
// entry point costs 15 ms of loader set-up plus three modules compiled without a cache, about a
// quarter of such a call (docs/benchmarks.md, CLI section). Everything else, and everything when
// there is no bundle, runs cli/main.js as before.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAST_FIRST_WORDS, leadingWords, loadFastBundle } from './fast-load.js';

async function start(argv: string[]): Promise<number> {
  if (FAST_FIRST_WORDS.has(argv[0] ?? '')) {
    const words = leadingWords(argv);
    const loaded = loadFastBundle(dirname(fileURLToPath(import.meta.url)), words);
    const f = loaded?.fast.fastInvocation(argv);
    if (loaded && f) {
      loaded.fast.quietOnClosedPipe();
      const code = await loaded.fast.runFast(f, process.argv[1]);
      // one cache file per fast command, named by its words
      if (f.command.words.join(' ') === words.join(' ')) loaded.saveCodeCache();
      return code;
    }
  }
  return (await import('./main.js')).entry();
}

start(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
