// `pgaf get|set node candidate-priority|replication-quorum|metadata` and
// `pgaf get|set formation number-sync-standbys|settings`: bare values on stdout (as the
// original prints them), --json objects, and for `set` a wait until the primary has applied
// the change (apply_settings back to primary). A value the command line rejects exits 1
// before any connection; a value the monitor refuses exits 6 with the monitor's words.
import type { Argv } from 'yargs';
import { json, out } from './output.js';
import { readNodeIni } from '../config/node-config.js';
import { completeIni, maskedIni } from '../config/config-keys.js';
import { BadArgs, MonitorFailed } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { synchronousStandbyNames, type NodeStateRow } from '../lib/monitor-queries.js';
import { servicePid } from '../lib/pid-file.js';
import { nodePaths } from '../config/node-paths.js';
import { withClient, type Query } from '../lib/sql.js';
import { actAndFollow, monitorRefusal } from './follow.js';
import {
  localNodeDefaults,
  parseFormation,
  parseNodeName,
  parseNonNegativeInt,
  parseWait,
  resolveMonitor,
  resolvePgdata,
  type LocalNodeDefaults,
} from './options.js';
import { DEFAULT_WAIT_SEC } from './perform.js';
import { metadataRequest, updateNodeMetadata, type MetadataArgs } from './node-metadata.js';
export { metadataRequest };
import { printFormationSettings } from './show.js';


/** candidate priority: an integer from 0 to 100. */
export function parseCandidatePriority(value: unknown, option = 'candidate-priority'): number {
  const t = String(value ?? '').trim();
  if (!/^\d+$/.test(t) || Number(t) > 100) {
    throw new BadArgs(`${option} must be an integer from 0 to 100, got "${String(value ?? '')}"`);
  }
  return Number(t);
}

/** A boolean the way Postgres spells them: true/false, on/off, yes/no, 1/0. */
export function parseBoolean(value: unknown, option: string): boolean {
  const t = String(value ?? '').trim().toLowerCase();
  if (['true', 't', 'on', 'yes', 'y', '1'].includes(t)) return true;
  if (['false', 'f', 'off', 'no', 'n', '0'].includes(t)) return false;
  throw new BadArgs(`${option} must be true or false, got "${String(value ?? '')}"`);
}

export interface NodeTargetArgs {
  pgdata?: string;
  monitor?: string;
  formation?: string;
  name?: string;
}

/** The node a get/set node command is about: --name, else the node of --pgdata. */
export function nodeTarget(a: NodeTargetArgs, defaults: LocalNodeDefaults): { formation: string; name: string } {
  const name = a.name ?? defaults.name;
  if (name === undefined) {
    throw new BadArgs('--name is required: the node to read or change (default: the node of --pgdata or $PGDATA)');
  }
  return { formation: a.formation !== undefined ? parseFormation(a.formation) : (defaults.formation ?? 'default'), name: parseNodeName(name) };
}

function targetOptions<T>(y: Argv<T>) {
  return y
    .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory of a local node (default: $PGDATA)' })
    .option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI (default: from the config of --pgdata)' })
    .option('formation', { type: 'string', requiresArg: true, describe: 'formation (default: this node’s, else "default")' })
    .option('json', { type: 'boolean', default: false, describe: 'output JSON' });
}

function nodeOptions<T>(y: Argv<T>) {
  return targetOptions(y).option('name', { type: 'string', requiresArg: true, describe: 'node name (default: the node of --pgdata)' });
}

function waitOption<T>(y: Argv<T>) {
  return y.option('wait', {
    type: 'string',
    requiresArg: true,
    describe: `seconds to wait for the primary to apply the change (default ${DEFAULT_WAIT_SEC}, 0: do not wait)`,
  });
}

interface NodeProps {
  nodeid: number;
  groupid: number;
  nodename: string;
  candidatepriority: number;
  replicationquorum: boolean;
}

async function nodeProps(q: Query, formation: string, name: string): Promise<NodeProps> {
  const rows = await q<{ nodeid: string; groupid: number; nodename: string; candidatepriority: number; replicationquorum: boolean }>(
    'SELECT nodeid, groupid, nodename, candidatepriority, replicationquorum FROM pgautofailover.node WHERE formationid = $1 AND nodename = $2',
    [formation, name],
  );
  const r = rows[0];
  if (!r) throw new MonitorFailed(`the monitor has no node named "${name}" in formation "${formation}"`, { retryable: false });
  return { ...r, nodeid: Number(r.nodeid) };
}

async function numberSyncStandbys(q: Query, formation: string): Promise<number> {
  const rows = await q<{ n: number }>('SELECT number_sync_standbys AS n FROM pgautofailover.formation WHERE formationid = $1', [formation]);
  if (!rows[0]) throw new MonitorFailed(`formation "${formation}" does not exist on the monitor`, { retryable: false });
  return Number(rows[0].n);
}

const settled = (rows: NodeStateRow[]) =>
  !rows.some((r) => r.current_group_state === 'apply_settings' || r.assigned_group_state === 'apply_settings');

/** Calls a set_* function of the monitor, then waits for the group's primary to apply it. */
async function setAndWait(
  args: { monitor?: unknown; pgdata?: unknown; json?: unknown },
  formation: string,
  /** the group, or how to read it on the monitor (on the follow's own connection) */
  group: number | ((q: Query) => Promise<number>),
  waitSec: number,
  what: string,
  call: (q: Query) => Promise<void>,
): Promise<void> {
  const m = resolveMonitor(args);
  await actAndFollow({
    target: m.target,
    formation,
    group,
    timeoutSec: waitSec,
    waitingFor: 'the primary to apply the new settings',
    table: !args.json,
    out: (t) => process.stderr.write(t),
    action: async (q) => {
      try {
        await call(q);
      } catch (err) {
        throw monitorRefusal(err, `cannot set ${what}`);
      }
      return true;
    },
    done: settled,
  });
}

/** The `get` handlers, called by the tree and by the fast path (cli/fast.ts). */
export async function getNodeCandidatePriority(args: { pgdata?: string; monitor?: string; formation?: string; name?: string; json?: boolean }): Promise<void> {
  const t = nodeTarget(args as NodeTargetArgs, localNodeDefaults(args));
  const m = resolveMonitor(args);
  const n = await withClient(m.target, { kind: 'monitor' }, (q) => nodeProps(q, t.formation, t.name));
  if (args.json) json({ name: n.nodename, 'candidate-priority': n.candidatepriority });
  else out(`${n.candidatepriority}\n`);
}

export async function getNodeReplicationQuorum(args: { pgdata?: string; monitor?: string; formation?: string; name?: string; json?: boolean }): Promise<void> {
  const t = nodeTarget(args as NodeTargetArgs, localNodeDefaults(args));
  const m = resolveMonitor(args);
  const n = await withClient(m.target, { kind: 'monitor' }, (q) => nodeProps(q, t.formation, t.name));
  if (args.json) json({ name: n.nodename, 'replication-quorum': n.replicationquorum });
  else out(`${n.replicationquorum}\n`);
}

export async function getFormationNumberSyncStandbys(args: { pgdata?: string; monitor?: string; formation?: string; name?: string; json?: boolean }): Promise<void> {
  const formation = formationOf(args, localNodeDefaults(args));
  const m = resolveMonitor(args);
  const n = await withClient(m.target, { kind: 'monitor' }, (q) => numberSyncStandbys(q, formation));
  if (args.json) json({ 'number-sync-standbys': n });
  else out(`${n}\n`);
}

export async function getFormationSettings(args: { pgdata?: string; monitor?: string; formation?: string; name?: string; json?: boolean }): Promise<void> {
  const formation = formationOf(args, localNodeDefaults(args));
  const m = resolveMonitor(args);
  await printFormationSettings(m.target, formation, Boolean(args.json));
}

// --- get node ------------------------------------------------------------------------

function getNode(cli: Argv): Argv {
  return cli.command('node', 'read a property of a node', (y) =>
    y
      .command(
        'candidate-priority',
        'print the candidate priority of a node (0 to 100)',
        (c) => nodeOptions(c),
        (args) => getNodeCandidatePriority(args),
      )
      .command(
        'replication-quorum',
        'print whether a node takes part in the synchronous replication quorum (true or false)',
        (c) => nodeOptions(c),
        (args) => getNodeReplicationQuorum(args),
      )
      .demandCommand(1, 'get node what? candidate-priority or replication-quorum'),
  );
}

// --- get formation ---------------------------------------------------------------------

function formationOf(a: { formation?: unknown }, defaults: LocalNodeDefaults): string {
  return a.formation !== undefined ? parseFormation(a.formation) : (defaults.formation ?? 'default');
}

function getFormation(cli: Argv): Argv {
  return cli.command('formation', 'read a property of a formation', (y) =>
    y
      .command(
        'number-sync-standbys',
        'print the number of synchronous standbys a commit waits for',
        (c) => targetOptions(c),
        (args) => getFormationNumberSyncStandbys(args),
      )
      .command(
        'settings',
        'print the replication settings of a formation (as show settings)',
        (c) => targetOptions(c),
        (args) => getFormationSettings(args),
      )
      .demandCommand(1, 'get formation what? number-sync-standbys or settings'),
  );
}

/** What the `set` handlers read from the command line (the tree's or the fast path's). */
export interface SetArgs {
  pgdata?: string;
  monitor?: string;
  formation?: string;
  name?: string;
  json?: boolean;
  wait?: unknown;
}

const waitOf = (args: SetArgs) => (args.wait !== undefined ? parseWait(args.wait) : DEFAULT_WAIT_SEC);

/** `set node candidate-priority <priority>`: called by the tree and by the fast path (cli/fast.ts). */
export async function setNodeCandidatePriority(args: SetArgs & { priority?: unknown }): Promise<void> {
  const priority = parseCandidatePriority(args.priority);
  const waitSec = waitOf(args);
  const t = nodeTarget(args, localNodeDefaults(args));
  await setAndWait(args, t.formation, (q) => nodeProps(q, t.formation, t.name).then((n) => n.groupid), waitSec, `the candidate priority of node "${t.name}" to ${priority}`, async (q) => {
    await q('SELECT pgautofailover.set_node_candidate_priority($1::text, $2::text, $3::int)', [t.formation, t.name, priority]);
  });
  if (args.json) json({ 'candidate-priority': priority });
  else out(`${priority}\n`);
}

/** `set node replication-quorum <quorum>`. */
export async function setNodeReplicationQuorum(args: SetArgs & { quorum?: unknown }): Promise<void> {
  const quorum = parseBoolean(args.quorum, 'replication-quorum');
  const waitSec = waitOf(args);
  const t = nodeTarget(args, localNodeDefaults(args));
  await setAndWait(args, t.formation, (q) => nodeProps(q, t.formation, t.name).then((n) => n.groupid), waitSec, `the replication quorum of node "${t.name}" to ${quorum}`, async (q) => {
    await q('SELECT pgautofailover.set_node_replication_quorum($1::text, $2::text, $3::bool)', [t.formation, t.name, quorum]);
  });
  if (args.json) json({ 'replication-quorum': quorum });
  else out(`${quorum}\n`);
}

/** `set formation number-sync-standbys <number>`. */
export async function setFormationNumberSyncStandbys(args: SetArgs & { number?: unknown }): Promise<void> {
  const n = parseNonNegativeInt(args.number, 'number-sync-standbys');
  const waitSec = waitOf(args);
  const formation = formationOf(args, localNodeDefaults(args));
  await setAndWait(args, formation, 0, waitSec, `number_sync_standbys of formation "${formation}" to ${n}`, async (q) => {
    await q('SELECT pgautofailover.set_formation_number_sync_standbys($1::text, $2::int)', [formation, n]);
  });
  const ssn = await withClient(resolveMonitor(args).target, { kind: 'monitor' }, (q) => synchronousStandbyNames(q, formation, 0)).catch(
    () => undefined,
  );
  if (ssn !== undefined) log.info(`primary node has now set synchronous_standby_names = '${ssn}'`);
  if (args.json) json(ssn ? { 'number-sync-standbys': n, synchronous_standby_names: ssn } : { 'number-sync-standbys': n });
  else out(`${n}\n`);
}

// --- set node ----------------------------------------------------------------------------

function setNode(cli: Argv): Argv {
  return cli.command('node', 'change a property of a node', (y) =>
    y
      .command(
        'candidate-priority <priority>',
        'set the candidate priority of a node (0 to 100; 0: never promoted)',
        (c) => waitOption(nodeOptions(c)).positional('priority', { type: 'string', describe: 'an integer from 0 to 100' }),
        (args) => setNodeCandidatePriority(args),
      )
      .command(
        'replication-quorum <quorum>',
        'set whether a node takes part in the synchronous replication quorum',
        (c) => waitOption(nodeOptions(c)).positional('quorum', { type: 'string', describe: 'true or false' }),
        (args) => setNodeReplicationQuorum(args),
      )
      .command(
        'metadata',
        'change the name, host name or port of the node of PGDATA, on the monitor and in its configuration',
        (c) =>
          c
            .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' })
            .option('name', { type: 'string', requiresArg: true, describe: 'new node name' })
            .option('hostname', { type: 'string', requiresArg: true, describe: 'new host name or IP address' })
            .option('nodename', { type: 'string', requiresArg: true, hidden: true, describe: 'older name of --hostname' })
            .option('pgport', { type: 'string', requiresArg: true, describe: 'new Postgres port' })
            .option('json', { type: 'boolean', default: false, describe: 'output JSON' }),
        async (args) => {
          const req = metadataRequest(args as MetadataArgs);
          const pgdata = resolvePgdata(args.pgdata);
          const result = await updateNodeMetadata(pgdata, req);
          log.info(`Node ${result.nodeId} is now "${result.name}" at ${result.hostname}:${result.port}`);
          const pid = servicePid(nodePaths(pgdata).pid);
          if (pid !== undefined) {
            process.kill(pid, 'SIGHUP');
            log.info(`Signalled the keeper (pid ${pid}) to reload its configuration`);
          }
          if (args.json) {
            // as the original: the node's configuration, as JSON
            const node = readNodeIni(pgdata);
            if (node) json(maskedIni(completeIni(node.ini, node.path)));
          }
        },
      )
      .demandCommand(1, 'set node what? candidate-priority, replication-quorum or metadata'),
  );
}

// --- set formation ---------------------------------------------------------------------

function setFormation(cli: Argv): Argv {
  return cli.command('formation', 'change a property of a formation', (y) =>
    y
      .command(
        'number-sync-standbys <number>',
        'set how many synchronous standbys a commit waits for',
        (c) => waitOption(targetOptions(c)).positional('number', { type: 'string', describe: 'a non-negative integer' }),
        (args) => setFormationNumberSyncStandbys(args),
      )
      .demandCommand(1, 'set formation what? number-sync-standbys'),
  );
}

export function registerGet(cli: Argv): Argv {
  return cli.command('get', 'read a node or formation property from the monitor', (y) =>
    getFormation(getNode(y)).demandCommand(1, 'get what? node or formation'),
  );
}

export function registerSet(cli: Argv): Argv {
  return cli.command('set', 'change a node or formation property on the monitor', (y) =>
    setFormation(setNode(y)).demandCommand(1, 'set what? node or formation'),
  );
}
