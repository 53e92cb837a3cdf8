// `pgaf enable maintenance [--allow-failover]` and `pgaf disable maintenance`: for the data
// node of --pgdata, call start_/stop_maintenance(nodeid) on the monitor and follow the group
// until the node is in maintenance (or back to secondary or primary).
import { requireMonitorUri } from '../config/keeper-config.js';
import type { Argv } from 'yargs';
import { BadArgs, BadState } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { findNode, type NodeStateRow } from '../lib/monitor-queries.js';
import { nodeMonitorTarget } from '../keeper/monitor-target.js';
import { withClient } from '../lib/sql.js';
import { loadKeeperConfig } from '../keeper/open-node.js';
import { readStateFile } from '../keeper/state/state-file.js';
import { actAndFollow, monitorRefusal } from './follow.js';
import { parseWait, resolvePgdata } from './options.js';
import { DEFAULT_WAIT_SEC } from './perform.js';
import { disableSecondaryCommand, enableSecondaryCommand } from './formation.js';
import { disableMonitorCommand, enableMonitorCommand } from './monitor-switch.js';
import { disableSslCommand, enableSslCommand } from './ssl.js';

export interface MaintenanceArgs {
  pgdata?: string;
  allowFailover?: boolean;
  wait?: string | number;
}

export interface MaintenanceRequest {
  pgdata: string;
  allowFailover: boolean;
  waitSec: number;
}

export function maintenanceRequest(a: MaintenanceArgs, env: NodeJS.ProcessEnv = process.env): MaintenanceRequest {
  return {
    pgdata: resolvePgdata(a.pgdata, env),
    allowFailover: Boolean(a.allowFailover),
    waitSec: a.wait !== undefined ? parseWait(a.wait) : DEFAULT_WAIT_SEC,
  };
}

/** States in which a node takes (or is about to take back) writes. */
const PRIMARY_STATES = new Set(['primary', 'wait_primary', 'join_primary', 'apply_settings']);

/** Refuses maintenance on a primary unless the operator accepts the failover it causes. */
export function checkMaintenanceAllowed(
  localRole: string,
  monitorView: { reportedstate: string; goalstate: string } | undefined,
  allowFailover: boolean,
  label: string,
): void {
  if (allowFailover) return;
  const primary =
    PRIMARY_STATES.has(localRole) || (monitorView !== undefined && (PRIMARY_STATES.has(monitorView.reportedstate) || PRIMARY_STATES.has(monitorView.goalstate)));
  if (primary) {
    throw new BadArgs(`${label} is a primary: enabling maintenance on it causes a failover`, {
      hint: 'use --allow-failover to let the command proceed',
    });
  }
}

/** The data node of PGDATA: its config, its state file, and how to reach its monitor. */
function keeperAndItsMonitor(pgdata: string) {
  const { config, paths } = loadKeeperConfig(pgdata);
  const state = readStateFile(paths.state);
  return { config, state, target: nodeMonitorTarget(requireMonitorUri(config, paths.config), config.pgdata, `pg_autoctl.monitor in ${paths.config}`) };
}

const isNode = (id: number, pred: (r: NodeStateRow) => boolean) => (rows: NodeStateRow[]) => rows.some((r) => r.node_id === id && pred(r));

function options<T>(y: Argv<T>) {
  return y
    .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
    .option('wait', { type: 'string', requiresArg: true, describe: `seconds to wait (default ${DEFAULT_WAIT_SEC}, 0: do not wait)` });
}

function enableMaintenance(cli: Argv): Argv {
  return cli.command(
    'maintenance',
    'put the node of PGDATA in maintenance',
    (y) => options(y).option('allow-failover', { type: 'boolean', default: false, describe: 'allow maintenance on a primary (it fails over)' }),
    async (args) => {
      const req = maintenanceRequest(args as MaintenanceArgs);
      const { config, state, target } = keeperAndItsMonitor(req.pgdata);
      const label = `node ${state.nodeId} "${config.name}"`;
      checkMaintenanceAllowed(state.current_role, undefined, req.allowFailover, label);
      const node = await withClient(target, { kind: 'monitor' }, (q) => findNode(q, { id: state.nodeId }));
      if (!node) throw new BadState(`${label} is not registered on the monitor`, { hint: 'was it dropped?' });
      checkMaintenanceAllowed(state.current_role, node, req.allowFailover, label);
      if (node.reportedstate === 'maintenance' && node.goalstate === 'maintenance') {
        log.info('This node is already in the "maintenance" state.');
        return;
      }
      if (PRIMARY_STATES.has(node.goalstate)) log.warn(`Enabling maintenance on primary ${label} causes a failover`);
      await actAndFollow({
        target,
        formation: node.formationid,
        group: node.groupid,
        timeoutSec: req.waitSec,
        waitingFor: 'a notification with state "maintenance"',
        action: async (q) => {
          try {
            await q('SELECT pgautofailover.start_maintenance($1::bigint)', [state.nodeId]);
          } catch (err) {
            throw monitorRefusal(err, `cannot enable maintenance of ${label}`);
          }
          return true;
        },
        done: isNode(state.nodeId, (r) => r.current_group_state === 'maintenance' && r.assigned_group_state === 'maintenance'),
      });
    },
  );
}

function disableMaintenance(cli: Argv): Argv {
  return cli.command(
    'maintenance',
    'take the node of PGDATA out of maintenance',
    (y) => options(y),
    async (args) => {
      const req = maintenanceRequest(args as MaintenanceArgs);
      const { config, state, target } = keeperAndItsMonitor(req.pgdata);
      const label = `node ${state.nodeId} "${config.name}"`;
      const node = await withClient(target, { kind: 'monitor' }, (q) => findNode(q, { id: state.nodeId }));
      if (!node) throw new BadState(`${label} is not registered on the monitor`, { hint: 'was it dropped?' });
      await actAndFollow({
        target,
        formation: node.formationid,
        group: node.groupid,
        timeoutSec: req.waitSec,
        waitingFor: 'a notification with state "secondary" or "primary"',
        action: async (q) => {
          try {
            await q('SELECT pgautofailover.stop_maintenance($1::bigint)', [state.nodeId]);
          } catch (err) {
            throw monitorRefusal(err, `cannot disable maintenance of ${label}`);
          }
          return true;
        },
        done: isNode(
          state.nodeId,
          (r) => ['secondary', 'primary'].includes(r.current_group_state) && r.current_group_state === r.assigned_group_state,
        ),
      });
    },
  );
}

export function registerEnable(cli: Argv): Argv {
  return cli.command('enable', 'enable a feature on this node', (y) =>
    enableMonitorCommand(enableSslCommand(enableSecondaryCommand(enableMaintenance(y)))).demandCommand(1, 'enable what? maintenance, secondary, ssl or monitor'),
  );
}

export function registerDisable(cli: Argv): Argv {
  return cli.command('disable', 'disable a feature on this node', (y) =>
    disableMonitorCommand(disableSslCommand(disableSecondaryCommand(disableMaintenance(y)))).demandCommand(1, 'disable what? maintenance, secondary, ssl or monitor'),
  );
}
