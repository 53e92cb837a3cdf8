// PG_REGRESS_SOCK_DIR, the PostgreSQL regression-test convention that pg_auto_failover honours:
// unset, nothing changes; a directory, that directory holds the Unix socket; an empty string,
// no Unix socket at all (unix_socket_directories = ''), local connections go over TCP to
// --pghost, and the HBA files get trust rules for the node's network and for --pghost. The
// trust rules exist only in that explicit test mode, and every start says so. Pure.
import { isIP } from 'node:net';
import { BadArgs } from './errors.js';
import { hbaLine } from './hba.js';
import { hostnameProblem, pathProblem } from './identity.js';

export const REGRESS_ENV = 'PG_REGRESS_SOCK_DIR';

/** True when PG_REGRESS_SOCK_DIR is set to the empty string: no Unix socket, local TCP, trust rules. */
export function tcpTestMode(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[REGRESS_ENV] === '';
}

/**
 * Where local connections go (the config's postgresql.host): an absolute socket directory, or
 * in test mode the TCP host --pghost/$PGHOST. `fallbackDir` applies when nothing says otherwise.
 */
export function localHostFor(pghost: string | undefined, fallbackDir: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const regress = env[REGRESS_ENV];
  if (regress === '') {
    if (!pghost) {
      throw new BadArgs(`${REGRESS_ENV} is set to "" (no Unix socket), so local connections go over TCP: --pghost (or PGHOST) is required`);
    }
    if (pghost.startsWith('/')) throw new BadArgs(`${REGRESS_ENV} is set to "" (no Unix socket), but --pghost ${pghost} is a socket directory`);
    return pghost;
  }
  if (regress !== undefined) {
    if (!regress.startsWith('/')) throw new BadArgs(`${REGRESS_ENV} must be an absolute directory or "", got "${regress}"`);
    return regress;
  }
  return pghost?.startsWith('/') ? pghost : fallbackDir;
}

/** What postgresql.host may be: a socket directory, or the host of local TCP connections (test mode). */
export const LOCAL_HOST_WHAT = 'a Unix socket directory (or, with PG_REGRESS_SOCK_DIR="", the host of local TCP connections)';

/** Why `v` is not a socket directory or a host name for local connections; undefined when it is one. */
export function localHostProblem(v: string): string | undefined {
  return v.startsWith('/') ? pathProblem(v) : hostnameProblem(v);
}

/** unix_socket_directories for a config host: the directory itself, or '' for a TCP host. */
export function socketDirectories(host: string): string {
  return host.startsWith('/') ? host : '';
}

/** True when local connections to this host need no socket directory on disk. */
export function usesTcpLocally(host: string): boolean {
  return !host.startsWith('/');
}

function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/**
 * listen_addresses when --listen is not given: the hostname others use, loopback (so tooling on
 * the host reaches `localhost`, where HBA decides who gets in), and a TCP --pghost that is
 * neither. Addresses appear once; a loopback hostname needs no second loopback entry.
 */
export function defaultListenAddresses(hostname: string, localHost?: string): string {
  const list = [hostname];
  if (!isLoopbackName(hostname)) list.push('localhost');
  if (localHost && usesTcpLocally(localHost) && !list.includes(localHost) && !(isLoopbackName(localHost) && list.some(isLoopbackName))) {
    list.push(localHost);
  }
  return list.join(',');
}

/** HBA address columns for a host: localhost means both loopback addresses. */
function hostAddresses(host: string): string[] {
  if (host === 'localhost') return ['127.0.0.1/32', '::1/128'];
  const family = isIP(host);
  if (family === 4) return [`${host}/32`];
  if (family === 6) return [`${host}/128`];
  return [host];
}

/**
 * The trust rules of test mode: every user and database from the node's network (`cidr`, the
 * network of its address) and from the TCP host local connections use. Empty outside test
 * mode or when local connections use a socket.
 */
export function testModeTrustLines(cidr: string | undefined, localHost: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (!tcpTestMode(env)) return [];
  const addresses = [...(cidr ? [cidr] : []), ...(usesTcpLocally(localHost) ? hostAddresses(localHost) : [])];
  return [...new Set(addresses)].map((address) => hbaLine({ type: 'host', database: 'all', user: 'all', address, method: 'trust' }));
}

/** The warning every start logs in test mode. */
export function testModeWarning(localHost: string, cidr: string | undefined): string {
  return `${REGRESS_ENV} is set to "": test mode, no Unix socket, local connections over TCP to ${localHost}, and pg_hba.conf trusts every user from ${[cidr, localHost].filter(Boolean).join(' and ')}; never use this outside a test rig`;
}
