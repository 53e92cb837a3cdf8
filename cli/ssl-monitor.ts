// `pgaf enable|disable ssl` and `pgaf enable|disable monitor`: the original's online SSL
// switch and monitor replacement. pgaf runs its nodes without SSL and always with a monitor,
// so the commands that would change that refuse with exit 1 and say why; `disable ssl` on a
// node that has no SSL is a no-op, as it already holds.
import type { Argv } from 'yargs';
import { readNodeIni } from '../config/node-config.js';
import { BadArgs, BadConfig } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { resolvePgdata } from './options.js';

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

function localNode(pgdataArg: unknown) {
  const pgdata = resolvePgdata(pgdataArg);
  const node = readNodeIni(pgdata);
  if (!node) throw new BadConfig(`no pgaf node is configured for PGDATA ${pgdata}`);
  return { pgdata, node };
}

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

export function enableMonitorCommand(cli: Argv): Argv {
  return cli.command(
    'monitor <uri>',
    'register the node of PGDATA with a new monitor (not supported)',
    (y) =>
      y
        .positional('uri', { type: 'string', describe: 'the new monitor URI' })
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' }),
    (args) => {
      if (!/^postgres(ql)?:\/\//.test(String(args.uri))) throw new BadArgs(`the monitor URI must be a postgres:// URI, got "${String(args.uri)}"`);
      localNode(args.pgdata);
      throw new BadArgs('enable monitor is not supported: a pgaf node keeps the monitor it was created with', {
        hint: 'to move to another monitor: drop node, then create postgres --monitor <uri> on the existing PGDATA',
      });
    },
  );
}

export function disableMonitorCommand(cli: Argv): Argv {
  return cli.command(
    'monitor',
    'let the node of PGDATA run without a monitor (not supported)',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
        .option('force', { type: 'boolean', describe: 'even when the monitor cannot be reached' }),
    (args) => {
      localNode(args.pgdata);
      throw new BadArgs('disable monitor is not supported: pgaf nodes always run with a monitor');
    },
  );
}
