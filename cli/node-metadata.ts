// Updating a data node's name, host name and port: on the monitor (update_node_metadata)
// and in its configuration file. Used by `set node metadata` and by `run --name --hostname
// --pgport` (the original updates the node metadata when its keeper starts). No yargs here:
// `run` takes a lean path.
import { requireMonitorUri, type KeeperConfig } from '../config/keeper-config.js';
import { configSet } from '../config/config-keys.js';
import { requireNodeIni, writeNodeIni } from '../config/node-config.js';
import { BadArgs, MonitorFailed, PgSql } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { findNode } from '../lib/monitor-queries.js';
import type { PgTarget } from '../lib/pg-uri.js';
import { nodeMonitorTarget } from '../keeper/monitor-target.js';
import { withClient } from '../lib/sql.js';
import { readStateFile } from '../keeper/state/state-file.js';
import { parseHostname, parseNodeName, parsePort } from './options.js';

export interface MetadataArgs {
  name?: string;
  hostname?: string;
  nodename?: string;
  pgport?: string;
}

export interface MetadataRequest {
  name?: string;
  hostname?: string;
  port?: number;
}

export function metadataRequest(a: MetadataArgs): MetadataRequest {
  const host = a.hostname ?? a.nodename;
  if (a.name === undefined && host === undefined && a.pgport === undefined) {
    throw new BadArgs('set node metadata needs at least one of --name, --hostname and --pgport');
  }
  return {
    name: a.name !== undefined ? parseNodeName(a.name) : undefined,
    hostname: host !== undefined ? parseHostname(host) : undefined,
    port: a.pgport !== undefined ? parsePort(a.pgport, '--pgport') : undefined,
  };
}

/**
 * Updates the node of PGDATA on the monitor, then in its config file; returns the result. A
 * node without a monitor only has its config file.
 */
export async function updateNodeMetadata(pgdata: string, req: MetadataRequest): Promise<{ nodeId: number; name: string; hostname: string; port: number }> {
  // open-node brings the whole keeper: loaded here only, not by `get`/`set` of other properties
  const { loadKeeperConfig } = await import('../keeper/open-node.js');
  const { config, paths } = loadKeeperConfig(pgdata);
  const state = readStateFile(paths.state);
  if (config.monitor !== undefined) {
    await updateOnMonitor(nodeMonitorTarget(requireMonitorUri(config, paths.config), config.pgdata, `pg_autoctl.monitor in ${paths.config}`), state.nodeId, config.name, req);
  }
  updateLocalConfig(pgdata, config, req);
  return metadataResult(state, config, req);
}

async function updateOnMonitor(target: PgTarget, nodeId: number, name: string, req: MetadataRequest): Promise<void> {
  await withClient(target, { kind: 'monitor' }, async (q) => {
    const node = await findNode(q, { id: nodeId });
    if (!node) throw new MonitorFailed(`node ${nodeId} "${name}" is not registered on the monitor`, { retryable: false });
    try {
      await q('SELECT pgautofailover.update_node_metadata($1::bigint, $2::text, $3::text, $4::int)', [
        nodeId,
        req.name ?? null,
        req.hostname ?? null,
        req.port ?? null,
      ]);
    } catch (err) {
      if (err instanceof PgSql) {
        throw new MonitorFailed(`cannot update the metadata of node ${nodeId}: the monitor refused: ${err.message}`, { retryable: false, cause: err });
      }
      throw err;
    }
  });
}

/** Rewrites name, hostname and port in the config file of PGDATA. */
function updateLocalConfig(pgdata: string, config: KeeperConfig, req: MetadataRequest): void {
  const local = requireNodeIni(pgdata);
  let ini = local.ini;
  if (req.name !== undefined) ini = configSet(ini, local.path, 'pg_autoctl.name', req.name);
  if (req.hostname !== undefined) ini = configSet(ini, local.path, 'pg_autoctl.hostname', req.hostname);
  if (req.port !== undefined) ini = configSet(ini, local.path, 'postgresql.port', String(req.port));
  writeNodeIni(local.path, ini);
  if (req.port !== undefined && req.port !== config.port) {
    log.warn(`postgresql.port is now ${req.port}: Postgres listens on it once restarted`);
  }
}

function metadataResult(state: { nodeId: number }, config: KeeperConfig, req: MetadataRequest) {
  return { nodeId: state.nodeId, name: req.name ?? config.name, hostname: req.hostname ?? config.hostname, port: req.port ?? config.port };
}
