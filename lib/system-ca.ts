// The CAs Node would trust by default, when the launcher of the installed program (cli/bin.ts)
// kept NODE_EXTRA_CA_CERTS out of Node's start-up: Node 20 parses that file and its whole root
// store at every start (~60 ms of CPU, ~2 MB resident for the life of a service).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Node's own roots plus the certificates of the file the launcher moved to
 * PGAF_NODE_EXTRA_CA_CERTS; undefined when nothing was moved (Node's default already has them).
 * Used where pgaf would have used Node's default CAs: verify-ca/verify-full without sslrootcert
 * or ~/.postgresql/root.crt (lib/sql.ts), and https:// webhooks (lib/webhook-post.ts).
 */
export function movedSystemCa(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const file = env.PGAF_NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  // node:tls only here: a keeper without SSL never loads it
  const { rootCertificates } = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  try {
    return [...rootCertificates, readFileSync(file, 'utf8')];
  } catch {
    return [...rootCertificates]; // as Node: a file it cannot read adds nothing
  }
}
