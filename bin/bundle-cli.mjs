#!/usr/bin/env node
// Bundles the CLI's fast path (dist/cli/fast.js: `--version`, `show state|uri`, `status`,
// `get …`, `set …`, and pg) into one CommonJS file, dist/cli/fast.bundle.cjs, after tsc (npm run
// build), and the service path (dist/cli/service-entry.js: `run`, `create monitor|postgres`) into
// dist/cli/service.bundle.cjs. cli/fast-load.ts loads them with a V8 code cache: one file to read
// and compile instead of ~70-130 ES modules to resolve, and compiled code reused from the
// previous call (docs/benchmarks.md, CLI section). It also bundles the installed program,
// dist/cli/pgaf.cjs (package.json bin), from dist/cli/bin.js: a CommonJS entry point, so a fast command never starts Node's ES module loader.
// Without esbuild (a production-only install) it says so, builds no bundle and writes a pgaf.cjs
// that imports dist/cli/bin.js: the CLI then loads dist/ as ES modules, only slower.
import { appendFileSync, chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist/cli/fast.js');
const outfile = join(root, 'dist/cli/fast.bundle.cjs');
const serviceEntry = join(root, 'dist/cli/service-entry.js');
const serviceOut = join(root, 'dist/cli/service.bundle.cjs');
const binEntry = join(root, 'dist/cli/bin.js');
const binOut = join(root, 'dist/cli/pgaf.cjs');
// the sh launcher: the first two lines of cli/bin.ts (tsc writes `':';`, which sh would not run,
// and esbuild keeps only the #! line), put back at the top of pgaf.cjs
const binSource = join(root, 'cli/bin.ts');
const launcher = readFileSync(binSource, 'utf8').split('\n').slice(0, 2).join('\n');
if (!/^#!\/bin\/sh\n':' \/\/; /.test(launcher)) throw new Error(`bundle-cli: ${binSource} does not start with the sh launcher`);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('bundle-cli: esbuild is not installed (npm ci installs it): no fast.bundle.cjs, the CLI loads dist/ as is\n');
  writeFileSync(binOut, `${launcher}\n// without esbuild: the ES modules of dist/cli (bin/bundle-cli.mjs)\nimport('./bin.js');\n`, { mode: 0o755 });
  process.exit(0);
}
statSync(entry); // tsc ran first

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // lib/package-root.ts finds package.json from its own URL: the bundle's, in dist/cli/
  define: { 'import.meta.url': '__pgaf_bundle_url' },
  banner: { js: "var __pgaf_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'none',
  logLevel: 'warning',
};
// pg's crypto helpers (WebCrypto) replaced by cli/pg-crypto-sync.ts (node:crypto, synchronous):
// 4-9 ms less for a SCRAM login from a fresh process; same names and results (its unit test)
const pgCryptoSync = join(root, 'dist/cli/pg-crypto-sync.js');
const pgCrypto = {
  name: 'pg-crypto-sync',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/(crypto\/)?utils$/ }, (args) => {
      if (!/[\\/]node_modules[\\/]pg[\\/]lib([\\/]crypto)?$/.test(args.resolveDir)) return undefined;
      if (args.path !== (args.resolveDir.endsWith('crypto') ? './utils' : './crypto/utils')) return undefined;
      return { path: pgCryptoSync };
    });
  },
};
const result = await esbuild.build({
  ...common,
  entryPoints: [entry],
  outfile,
  // pg's optional native binding and its Cloudflare socket: never used by pgaf
  external: ['pg-native', 'pg-cloudflare'],
  plugins: [pgCrypto],
  metafile: true,
});
if (!Object.keys(result.metafile.inputs).some((f) => f.endsWith('pg-crypto-sync.js'))) {
  process.stderr.write("bundle-cli: pg's crypto helpers were not replaced (pg's layout changed?)\n");
  process.exit(1);
}
if (Object.keys(result.metafile.inputs).some((f) => /node_modules\/pg\/lib\/crypto\/utils/.test(f))) {
  process.stderr.write("bundle-cli: pg's own crypto helpers are still in the bundle\n");
  process.exit(1);
}
/**
 * The bundle with every non-ASCII character of its comments written as `\u{…}`. V8 keeps a
 * script's source in memory for as long as the script runs (functions compile lazily from it),
 * and one character beyond Latin-1 makes it a two-byte string: one dash in a comment of pg
 * doubled a service's 0.5 MB of source to 1 MB of heap. esbuild escapes such characters in code
 * (its default ASCII charset) and copies comments as they are; a non-ASCII character outside a
 * comment stops the build rather than being rewritten.
 */
function asciiComments(file, text) {
  const lines = text.split('\n');
  let changed = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const at = line.search(/[^\x00-\x7f]/);
    if (at < 0) continue;
    const slashes = line.indexOf('//');
    const inComment = (slashes >= 0 && slashes < at) || /^\s*(\/\*|\*)/.test(line);
    if (!inComment) {
      process.stderr.write(`bundle-cli: ${file}:${i + 1} has a non-ASCII character outside a comment\n`);
      process.exit(1);
    }
    lines[i] = line.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
    changed = true;
  }
  return changed ? lines.join('\n') : text;
}

/**
 * Checks a bundle cli/fast-load.ts can run and appends its content hash as its last line: the
 * code cache's key (V8 checks only the source length, and npm pack gives every file the same
 * mtime, so path, size and mtime cannot tell two versions apart).
 */
async function sealBundle(file) {
  // a real import() would need a module loader the code-cached script does not have
  const text = asciiComments(file, readFileSync(file, 'utf8'));
  writeFileSync(file, text);
  if (/\bimport\(/.test(text.replace(/\/\/.*$/gm, ''))) {
    process.stderr.write(`bundle-cli: ${file} still contains an import(): cli/fast-load.ts cannot run it\n`);
    process.exit(1);
  }
  const sha = (await import('node:crypto')).createHash('sha256').update(text).digest('hex');
  appendFileSync(file, `\n//# pgaf-bundle-sha256=${sha}\n`);
}
await sealBundle(outfile);
// the service path (cli/service-entry.ts: run, create monitor|postgres), for cli/main.ts; pg as
// it is (its WebCrypto helpers: a service logs in once and keeps its sessions)
const serviceResult = await esbuild.build({
  ...common,
  entryPoints: [serviceEntry],
  outfile: serviceOut,
  external: ['pg-native', 'pg-cloudflare'],
  metafile: true,
});
await sealBundle(serviceOut);
// the entry point: cli/bin.ts and cli/fast-load.ts as one CommonJS file;
// cli/main.js stays an ES module it imports for everything that is not a fast command
const binJs = (await esbuild.build({ ...common, entryPoints: [binEntry], write: false, external: ['./main.js', './fast.js'] })).outputFiles[0].text;
writeFileSync(binOut, `${launcher}\n${binJs.replace(/^#!.*\n/, '')}`, { mode: 0o755 });
chmodSync(binOut, 0o755);
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(`bundle-cli: ${outfile} (${Math.round(bytes / 1024)} kB, ${Object.keys(result.metafile.inputs).length} modules)\n`);
const serviceBytes = Object.values(serviceResult.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stdout.write(`bundle-cli: ${serviceOut} (${Math.round(serviceBytes / 1024)} kB, ${Object.keys(serviceResult.metafile.inputs).length} modules)\n`);
