#!/bin/sh
':' //; case "${NODE_EXTRA_CA_CERTS+set}" in set) export PGAF_NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"; unset NODE_EXTRA_CA_CERTS;; esac; case "$1" in --version|version|show|status|get|set|config) exec node "$0" "$@";; esac; MALLOC_ARENA_MAX=1 MALLOC_TRIM_THRESHOLD_=65536 MALLOC_TOP_PAD_=0 exec node --max-semi-space-size=1 --optimize-for-size "$0" "$@"
// The installed program (package.json bin: dist/cli/pgaf.cjs, this file bundled as CommonJS by
// bin/bundle-cli.mjs, which keeps the two lines above). They are a shell script that is also
// JavaScript (a string and a comment): sh runs Node on this same file, with the Node flags of
// the services (cli/main.ts's; test/unit/service-node-flags.test.ts) for every command but the
// fast ones. Any V8 flag makes V8 refuse the code cache built into Node for its own modules
// (net, tls, crypto, streams: compiled again, ~15 ms of CPU), and these flags only matter for a
// process that runs for days. For every command it also moves NODE_EXTRA_CA_CERTS (when set)
// out of Node's way, to PGAF_NODE_EXTRA_CA_CERTS: Node 20 parses that file and its own ~140
// root certificates at every start, before any of our code (~60 ms of CPU, ~2 MB resident for
// the life of a service); lib/system-ca.ts adds them back where pgaf would have used Node's
// default CAs (verify-ca/verify-full without sslrootcert or ~/.postgresql/root.crt, https://
// webhooks). A pgaf started by another keeps the moved value. `$0` is
// the path we were run by (a link named pg_autoctl stays pg_autoctl; Node resolves it to find
// this file); sh and its exec cost what `env -S` did.
// A hot command (cli/fast.ts: `--version`, `show state|uri`, `status`, `get …`, `set …`,
// `config get|set`) runs from the code-cached bundle of the fast path without Node's ES module
// loader: an ES module
// entry point costs 15 ms of loader set-up plus three modules compiled without a cache, about a
// quarter of such a call (docs/benchmarks.md, CLI section). The service commands (`run`,
// `create postgres … --run`, `create monitor`: cli/service-launch.ts) run from the code-cached
// service bundle without that loader too: for a service it is also ~2 MB of resident memory for
// as long as it runs. Everything else, and everything when there is no bundle, runs cli/main.js.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropServiceMallocEnv } from '../lib/service-env.js';
import { FAST_FIRST_WORDS, leadingWords, loadBundle, loadFastBundle } from './fast-load.js';
import { runServiceCommand, serviceCommand } from './service-launch.js';

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
  const service = serviceCommand(argv);
  const bundle = service && loadBundle<typeof import('./service-entry.js')>(dirname(fileURLToPath(import.meta.url)), 'service', service.words);
  if (service && bundle) {
    // glibc read the launcher's malloc settings at exec: what the service starts runs without them
    dropServiceMallocEnv();
    const code = await runServiceCommand(bundle, service, argv);
    if (code !== undefined) return code;
  }
  return (await import('./main.js')).entry({ serviceTried: bundle !== undefined });
}

start(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
