// `pgaf perform failover | switchover | promotion`: ask the monitor, then follow the
// group's notifications until a node is primary again (or --wait seconds pass: exit 6).
import type { Argv } from 'yargs';
import { json } from './output.js';
import { BadArgs, Monitor } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { findNode } from '../lib/monitor-queries.js';
import { withClient } from '../lib/sql.js';
import { actAndFollow, monitorRefusal, type FollowResult } from './follow.js';
import { localNodeDefaults, parseFormation, parseNonNegativeInt, parseWait, resolveMonitor, type LocalNodeDefaults } from './options.js';

export const DEFAULT_WAIT_SEC = 60;

export interface PerformArgs {
  pgdata?: string;
  monitor?: string;
  formation?: string;
  group?: string | number;
  name?: string;
  wait?: string | number;
  json?: boolean;
}

export interface FailoverRequest {
  formation: string;
  group: number;
  waitSec: number;
}

/** Validates the flags of perform failover/switchover; defaults come from this node's config, then default/0. */
export function performFailoverRequest(a: PerformArgs, defaults: LocalNodeDefaults = {}): FailoverRequest {
  return {
    formation: a.formation !== undefined ? parseFormation(a.formation) : (defaults.formation ?? 'default'),
    group: a.group !== undefined ? parseNonNegativeInt(a.group, '--group') : (defaults.group ?? 0),
    waitSec: a.wait !== undefined ? parseWait(a.wait) : DEFAULT_WAIT_SEC,
  };
}

export interface PromotionRequest {
  formation: string;
  name: string;
  waitSec: number;
}

export function performPromotionRequest(a: PerformArgs, defaults: LocalNodeDefaults = {}): PromotionRequest {
  const name = a.name ?? defaults.name;
  if (name === undefined) throw new BadArgs('--name is required: the node to promote (default: the node of --pgdata)');
  if (name.trim() === '' || name.length > 63) throw new BadArgs(`--name must be 1 to 63 characters long, got "${name}"`);
  return {
    formation: a.formation !== undefined ? parseFormation(a.formation) : (defaults.formation ?? 'default'),
    name,
    waitSec: a.wait !== undefined ? parseWait(a.wait) : DEFAULT_WAIT_SEC,
  };
}

const primaryReached = (rows: Array<{ current_group_state: string; assigned_group_state: string }>) =>
  rows.some((r) => r.current_group_state === 'primary' && r.assigned_group_state === 'primary');

function report(res: FollowResult, formation: string, group: number, asJson: boolean): void {
  const primary = res.rows.find((r) => r.current_group_state === 'primary' && r.assigned_group_state === 'primary');
  if (asJson) {
    json({ formation, group, waited: res.waited, primary: primary ?? null, events: res.events });
  }
  if (primary) log.info(`Node ${primary.node_id} "${primary.nodename}" (${primary.nodehost}:${primary.nodeport}) is now the primary`);
}

function commonOptions<T>(y: Argv<T>) {
  return y
    .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory of a local node (default: $PGDATA)' })
    .option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI (default: from the config of --pgdata)' })
    .option('formation', { type: 'string', requiresArg: true, describe: 'formation (default: this node’s, else "default")' })
    .option('wait', { type: 'string', requiresArg: true, describe: `seconds to wait for the new primary (default ${DEFAULT_WAIT_SEC}, 0: do not wait)` })
    .option('json', { type: 'boolean', default: false, describe: 'output JSON' });
}

function failoverCommand(cli: Argv, verb: 'failover' | 'switchover'): Argv {
  return cli.command(
    verb,
    `perform a ${verb} in a formation group`,
    (y) => commonOptions(y).option('group', { type: 'string', requiresArg: true, describe: 'group id (default 0)' }),
    async (args) => {
      const req = performFailoverRequest(args as PerformArgs, localNodeDefaults(args));
      const m = resolveMonitor(args);
      const res = await actAndFollow({
        target: m.target,
        formation: req.formation,
        group: req.group,
        timeoutSec: req.waitSec,
        waitingFor: 'a notification with state "primary"',
        table: !args.json,
        action: async (q) => {
          try {
            await q('SELECT pgautofailover.perform_failover($1::text, $2::int)', [req.formation, req.group]);
          } catch (err) {
            throw monitorRefusal(err, `cannot perform a ${verb} of formation "${req.formation}" group ${req.group}`);
          }
          return true;
        },
        done: primaryReached,
      });
      if (!res.waited && !args.json) log.info(`A ${verb} of formation "${req.formation}" group ${req.group} has started`);
      report(res, req.formation, req.group, Boolean(args.json));
    },
  );
}

function promotionCommand(cli: Argv): Argv {
  return cli.command(
    'promotion',
    'perform a failover that promotes the given node',
    (y) => commonOptions(y).option('name', { type: 'string', requiresArg: true, describe: 'node to promote (default: the node of --pgdata)' }),
    async (args) => {
      const req = performPromotionRequest(args as PerformArgs, localNodeDefaults(args));
      const m = resolveMonitor(args);
      const node = await withClient(m.target, { kind: 'monitor' }, (q) => findNode(q, { formation: req.formation, name: req.name }));
      if (!node) throw new Monitor(`the monitor has no node named "${req.name}" in formation "${req.formation}"`, { retryable: false });
      const res = await actAndFollow({
        target: m.target,
        formation: req.formation,
        group: node.groupid,
        timeoutSec: req.waitSec,
        waitingFor: 'a notification with state "primary"',
        table: !args.json,
        action: async (q) => {
          let rows: Array<{ promoted: boolean }>;
          try {
            rows = await q<{ promoted: boolean }>('SELECT pgautofailover.perform_promotion($1::text, $2::text) AS promoted', [req.formation, req.name]);
          } catch (err) {
            throw monitorRefusal(err, `cannot promote node "${req.name}"`);
          }
          if (rows[0]?.promoted === false) {
            log.info(`Node "${req.name}" in formation "${req.formation}" is already a primary: nothing to do`);
            return false;
          }
          return true;
        },
        done: primaryReached,
      });
      report(res, req.formation, node.groupid, Boolean(args.json));
    },
  );
}

export function registerPerform(cli: Argv): Argv {
  return cli.command('perform', 'perform an action orchestrated by the monitor', (y) =>
    promotionCommand(failoverCommand(failoverCommand(y, 'failover'), 'switchover')).demandCommand(
      1,
      'perform what? failover, switchover or promotion',
    ),
  );
}
