// The SSL options shared by create monitor, create postgres and enable ssl, as the original
// names them; the checks behind them are in lib/ssl.ts.
import type { Argv } from 'yargs';
import { SSL_MODES } from '../lib/ssl.js';

export function withSslOptions<T>(y: Argv<T>) {
  return y
    .option('no-ssl', { type: 'boolean', describe: 'no network encryption (not recommended; prefer --ssl-self-signed)' })
    .option('ssl-self-signed', { type: 'boolean', describe: 'encrypt with a self-signed certificate made by openssl in PGDATA (no protection against MITM)' })
    .option('ssl-mode', {
      type: 'string',
      requiresArg: true,
      describe: `sslmode of connections to the other nodes and the monitor (${SSL_MODES.join('|')}; default: prefer, require with --ssl-self-signed, verify-full with certificates)`,
    })
    .option('ssl-ca-file', { type: 'string', requiresArg: true, describe: 'CA certificate: Postgres ssl_ca_file, and sslrootcert of our connections' })
    .option('ssl-crl-file', { type: 'string', requiresArg: true, describe: 'certificate revocation list: Postgres ssl_crl_file, and sslcrl of our connections' })
    .option('server-cert', { type: 'string', requiresArg: true, describe: 'server certificate: Postgres ssl_cert_file' })
    .option('server-key', { type: 'string', requiresArg: true, describe: 'server private key: Postgres ssl_key_file' });
}
