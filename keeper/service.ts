// `pgaf run` on a data node: the keeper loop until a signal or until the node is dropped.
// Stopping the keeper never stops Postgres.
import { isDeepStrictEqual } from 'node:util';
import { BadState, Dropped } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { claimPidFileListening } from '../lib/pid-file.js';
import { insecureStartWarnings } from '../lib/secrets.js';
import { postgresRunAs } from '../lib/pgbin.js';
import { loadKeeperConfig, openNode, warnIfTestMode, type OpenNode, type SupervisorFactory } from './open-node.js';
import { readStateFile } from './state/state-file.js';

export interface RunDataNodeOptions {
  /** PM2 in module mode (plugin/); default pg_ctl */
  supervisor?: SupervisorFactory;
  /** called once the node is open, before the loop (the PM2 module reads its status) */
  onOpen?: (node: OpenNode) => void;
  /** false: the caller handles SIGINT/SIGTERM and calls node.keeper.stop() (default true) */
  handleSignals?: boolean;
}

export async function runDataNode(pgdata: string, log: Logger, opts: RunDataNodeOptions = {}): Promise<void> {
  const node = openNode(pgdata, log, opts.supervisor);
  warnIfTestMode(node.config, log);
  opts.onOpen?.(node);
  const stop = (sig: string) => {
    log.info(`Received ${sig}: the keeper stops, Postgres keeps running`);
    node.keeper.stop();
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  const onHup = (why = 'Received SIGHUP') => {
    try {
      reloadSsl(node, pgdata, log, why);
    } catch (err) {
      log.error(`${why} but cannot reload the configuration: ${(err as Error).message}`);
    }
    // the monitor setting and the state file: at once, in the keeper's next round
    node.keeper.requestReload();
    void node.integrations.apply(node.config);
  };
  const signals = opts.handleSignals !== false;
  if (signals) {
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  }
  // `pgaf enable|disable ssl|monitor`, `config set` and `reload` signal the keeper, also in PM2
  // module mode (the listener is there before the pid file: claimPidFileListening)
  let releasePidFile: () => void;
  try {
    releasePidFile = claimPidFileListening(node.paths.pid, node.paths.runBase, postgresRunAs(pgdata), () => onHup());
  } catch (err) {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    await node.integrations.close(); // a SIGHUP sent to us directly may have opened its endpoints
    throw err;
  }
  // a `config set` written after openNode() read the file but before the pid file existed
  // signalled nobody: read the file again now that signals reach us
  if (configChangedSince(node, pgdata)) {
    onHup('The configuration changed while the keeper started');
  }
  log.info(`Keeper of node ${node.config.name} starts`, { pgdata, monitor: node.config.monitor ?? 'none (goals from do fsm assign)' });
  for (const w of insecureStartWarnings(node.config)) log.warn(w);
  await node.integrations.apply(node.config);
  try {
    await node.keeper.run();
  } catch (err) {
    if (err instanceof Dropped) log.info('This node was dropped from the monitor; the keeper exits');
    throw err;
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    releasePidFile();
    await node.integrations.close();
    await node.monitor.close();
  }
}

/** Whether the node's configuration file now says something else than what the node was opened with. */
function configChangedSince(node: OpenNode, pgdata: string): boolean {
  try {
    return !isDeepStrictEqual(loadKeeperConfig(pgdata).config, node.config);
  } catch {
    return false;
  }
}

/**
 * SIGHUP: re-read the config file and take its SSL setup (the sslmode of the connections we
 * open, HBA record type, settings) and monitor URI from now on; the rest needs a restart.
 */
export function reloadSsl(node: OpenNode, pgdata: string, log: Logger, why = 'Received SIGHUP'): void {
  const { config } = loadKeeperConfig(pgdata);
  node.pg.setSsl(config.ssl);
  // a changed monitor URI (its sslmode included) is the keeper's to pick up: requestReload()
  node.config = config;
  log.info(`${why}: reloaded the configuration (SSL now, the monitor setting in the next round; the rest at the next start)`, { ssl: config.ssl.active ? 'on' : 'off', sslmode: config.ssl.sslMode });
}

/**
 * How often `create postgres` without --run asks the monitor again while it waits for the next
 * goal (a standby: the primary getting ready for it, then catching up). Each step of a standby's
 * bring-up waits on one of these rounds; the monitor answers one in a few ms.
 */
const INIT_POLL_MS = 100;

/** Runs keeper ticks until the node has left its bring-up states (create postgres without --run). */
export async function initDataNode(pgdata: string, log: Logger, timeoutMs = 600_000): Promise<string> {
  const node = openNode(pgdata, log);
  warnIfTestMode(node.config, log);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const acted = await node.keeper.tick().catch((err) => {
        log.warn(`Init step failed, retrying: ${(err as Error).message}`);
        return false;
      });
      const state = readStateFile(node.paths.state);
      if (!['init', 'wait_standby'].includes(state.current_role) && state.current_role === state.assigned_role) {
        return state.current_role;
      }
      if (Date.now() > deadline) throw new BadState(`node initialisation did not finish within ${timeoutMs / 1000}s`);
      // a round that ran a transition reports it at once in the next; otherwise wait a little
      if (!acted) await new Promise((r) => setTimeout(r, INIT_POLL_MS));
    }
  } finally {
    // the keeper's facts session to Postgres too: left open, it keeps `create postgres` from exiting
    await node.pg.close();
    await node.monitor.close();
  }
}
