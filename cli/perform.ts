// `pgaf perform failover | switchover | promotion`: ask the monitor, then follow the
// group's notifications until a node is primary again (or --wait seconds pass: exit 6).
// `--allow-data-loss` (failover and switchover, which share their options as in the original)
// first lifts the group's data-loss guard for --wait seconds, in the same transaction.
import type { Argv } from 'yargs';
import { json } from './output.js';
import { BadArgs, MonitorFailed } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { findNode } from '../lib/monitor-queries.js';
import { withClient, type Query } from '../lib/sql.js';
import { actAndFollow, monitorRefusal, type FollowResult } from './follow.js';
import { localNodeDefaults, parseFormation, parseNodeName, parseNonNegativeInt, parseWait, resolveMonitor, type LocalNodeDefaults } from './options.js';

export const DEFAULT_WAIT_SEC = 60;
/** The longest data-loss allowance the monitor grants (allow_data_loss(), 1 to 3600 s). */
export const MAX_ALLOWANCE_SEC = 3600;

export interface PerformArgs {
  pgdata?: string;
  monitor?: string;
  formation?: string;
  group?: string | number;
  name?: string;
  wait?: string | number;
  json?: boolean;
  allowDataLoss?: boolean;
}

export interface FailoverRequest {
  formation: string;
  group: number;
  waitSec: number;
  /** seconds the data-loss guard of the group is lifted (--allow-data-loss), else absent */
  allowDataLossSec?: number;
}

/** Validates the flags of perform failover/switchover; defaults come from this node's config, then default/0. */
export function performFailoverRequest(a: PerformArgs, defaults: LocalNodeDefaults = {}): FailoverRequest {
  const req: FailoverRequest = {
    formation: a.formation !== undefined ? parseFormation(a.formation) : (defaults.formation ?? 'default'),
    group: a.group !== undefined ? parseNonNegativeInt(a.group, '--group') : (defaults.group ?? 0),
    waitSec: a.wait !== undefined ? parseWait(a.wait) : DEFAULT_WAIT_SEC,
  };
  if (a.allowDataLoss === true) {
    // The allowance lasts --wait seconds (--wait 0, which does not wait: the default 60 s).
    if (req.waitSec > MAX_ALLOWANCE_SEC) {
      throw new BadArgs(`--allow-data-loss lifts the data-loss guard for --wait seconds, at most ${MAX_ALLOWANCE_SEC}: got --wait ${req.waitSec}`);
    }
    req.allowDataLossSec = req.waitSec > 0 ? req.waitSec : DEFAULT_WAIT_SEC;
  }
  return req;
}

export interface PromotionRequest {
  formation: string;
  name: string;
  waitSec: number;
}

export function performPromotionRequest(a: PerformArgs, defaults: LocalNodeDefaults = {}): PromotionRequest {
  const name = a.name ?? defaults.name;
  if (name === undefined) throw new BadArgs('--name is required: the node to promote (default: the node of --pgdata)');
  parseNodeName(name);
  return {
    formation: a.formation !== undefined ? parseFormation(a.formation) : (defaults.formation ?? 'default'),
    name,
    waitSec: a.wait !== undefined ? parseWait(a.wait) : DEFAULT_WAIT_SEC,
  };
}

type StateRows = Array<{ current_group_state: string; assigned_group_state: string }>;

const primaryReached = (rows: StateRows) =>
  rows.some((r) => r.current_group_state === 'primary' && r.assigned_group_state === 'primary');

/** After --allow-data-loss the standbys may be gone: a new primary converged in wait_primary takes writes. */
const writablePrimaryReached = (rows: StateRows) =>
  rows.some((r) => ['primary', 'wait_primary'].includes(r.current_group_state) && r.current_group_state === r.assigned_group_state);

/**
 * One transaction on the monitor: with --allow-data-loss, allow_data_loss() first; then
 * perform_failover(), unless the group's primary is already being replaced (the allowance
 * alone lets that election go on, and perform_failover() would refuse).
 */
export async function requestFailover(q: Query, req: FailoverRequest, verb: string): Promise<void> {
  const what = `cannot perform a ${verb} of formation "${req.formation}" group ${req.group}`;
  if (req.allowDataLossSec === undefined) {
    try {
      await q('SELECT pgautofailover.perform_failover($1::text, $2::int)', [req.formation, req.group]);
    } catch (err) {
      throw monitorRefusal(err, what);
    }
    return;
  }
  await q('BEGIN');
  try {
    const rows = await q<{ allowed_until: string; failover_in_progress: boolean }>(
      'SELECT allowed_until::text, failover_in_progress FROM pgautofailover.allow_data_loss($1::text, $2::int, $3::int)',
      [req.formation, req.group, req.allowDataLossSec],
    );
    const inProgress = rows[0]?.failover_in_progress === true;
    if (!inProgress) await q('SELECT pgautofailover.perform_failover($1::text, $2::int)', [req.formation, req.group]);
    await q('COMMIT');
    log.warn(
      `The data-loss guard of formation "${req.formation}" group ${req.group} is lifted until ${rows[0]?.allowed_until}: ` +
        'the election may promote a standby without the LSN report of every quorum standby, and acknowledged writes may be lost',
    );
    if (inProgress) log.info(`A failover of formation "${req.formation}" group ${req.group} is already in progress: its election may now go on`);
  } catch (err) {
    await q('ROLLBACK').catch(() => undefined);
    throw monitorRefusal(err, what);
  }
}

function report(res: FollowResult, formation: string, group: number, asJson: boolean): void {
  const converged = (state: string) => res.rows.find((r) => r.current_group_state === state && r.assigned_group_state === state);
  const primary = converged('primary') ?? converged('wait_primary');
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
    (y) =>
      commonOptions(y)
        .option('group', { type: 'string', requiresArg: true, describe: 'group id (default 0)' })
        .option('allow-data-loss', {
          type: 'boolean',
          default: false,
          describe:
            'lift the data-loss guard of the group for --wait seconds (default 60), until a new primary: the election goes on without the LSN report of every quorum standby; acknowledged writes may be lost',
        }),
    async (args) => {
      const req = performFailoverRequest(args as PerformArgs, localNodeDefaults(args));
      const m = resolveMonitor(args);
      const res = await actAndFollow({
        target: m.target,
        formation: req.formation,
        group: req.group,
        timeoutSec: req.waitSec,
        waitingFor: req.allowDataLossSec === undefined ? 'a notification with state "primary"' : 'a notification with state "primary" or "wait_primary"',
        table: !args.json,
        action: async (q) => {
          await requestFailover(q, req, verb);
          return true;
        },
        done: req.allowDataLossSec === undefined ? primaryReached : writablePrimaryReached,
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
      if (!node) throw new MonitorFailed(`the monitor has no node named "${req.name}" in formation "${req.formation}"`, { retryable: false });
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
