// `pgaf enable|disable ssl`: the original's online SSL switch. pgaf runs its nodes without SSL
// for now, so `enable ssl` refuses with exit 1 and says why; `disable ssl` on a node that has no
// SSL is a no-op, as it already holds.
import type { Argv } from 'yargs';
import { BadArgs, BadConfig } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { localNode } from './options.js';

const sslOptions = <T>(y: Argv<T>) =>
  y
    .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
    .option('ssl-self-signed', { type: 'boolean', describe: 'self-signed certificate' })
    .option('ssl-mode', { type: 'string', requiresArg: true, describe: 'sslmode for connections to other nodes' })
    .option('ssl-ca-file', { type: 'string', requiresArg: true, describe: 'CA certificate file' })
    .option('ssl-crl-file', { type: 'string', requiresArg: true, describe: 'certificate revocation list file' })
    .option('server-cert', { type: 'string', requiresArg: true, describe: 'server certificate file' })
    .option('server-key', { type: 'string', requiresArg: true, describe: 'server private key file' })
    .option('no-ssl', { type: 'boolean', hidden: true });

export function enableSslCommand(cli: Argv): Argv {
  return cli.command('ssl', 'turn SSL on for the node of PGDATA (not supported: pgaf runs without SSL)', (y) => sslOptions(y), (args) => {
    localNode(args.pgdata);
    throw new BadArgs('enable ssl is not supported: pgaf nodes and monitors run without SSL', {
      hint: 'protect the network between the nodes (a private network or a VPN) until pgaf supports SSL',
    });
  });
}

export function disableSslCommand(cli: Argv): Argv {
  return cli.command('ssl', 'turn SSL off for the node of PGDATA (pgaf nodes have no SSL: nothing to do)', (y) => sslOptions(y), (args) => {
    const { pgdata, node } = localNode(args.pgdata);
    const active = node.ini.ssl?.active;
    if (active !== undefined && active !== '0') throw new BadConfig(`${node.path}: ssl.active is ${active}, which pgaf does not support`);
    log.info(`SSL is not enabled for "${pgdata}": nothing to do`);
  });
}
