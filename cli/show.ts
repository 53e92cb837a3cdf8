// `pgaf show uri | state | events | settings | standby-names`: read the monitor and print
// tables or --json.
import type { Argv } from 'yargs';
import { json, jsonRows, out } from './output.js';
import { BadArgs, BadState } from '../lib/errors.js';
import { MONITOR_DISABLED } from '../config/keeper-config.js';
import { readNodeIni } from '../config/node-config.js';
import { canonicalPgdata } from '../config/paths.js';
import { log } from '../lib/log.js';
import { currentState, formationSettings, formationUri, lastEvents, synchronousStandbyNames } from '../lib/monitor-queries.js';
import { withClient } from '../lib/sql.js';
import { parsePgUri, type PgTarget } from '../lib/pg-uri.js';
import { localNodeDefaults, parseFormation, parseNonNegativeInt, resolveMonitor } from './options.js';
import { fileCommand, ipaddrCommand, localStateRow, systemdCommand } from './show-more.js';
import { resolvePgdata } from './options.js';
import { renderEventsTable, renderSettingsTable, renderStateTable, renderUriTable, settingsJson, type UriRow } from './tables.js';


/** Options every show command takes: where the monitor is, and --json. */
function targetOptions<T>(y: Argv<T>) {
  return y
    .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory of a local node (default: $PGDATA)' })
    .option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI (default: from the config of --pgdata)' })
    .option('json', { type: 'boolean', default: false, describe: 'output JSON' });
}

/** The options of `show uri`, as yargs or the fast path (cli/fast.ts) parse them. */
export interface ShowUriArgs {
  pgdata?: string;
  monitor?: string;
  json?: boolean;
  formation?: string;
}

export async function showUri(args: ShowUriArgs): Promise<void> {
  const m = resolveMonitor(args);
  const only = args.formation === undefined ? undefined : args.formation === 'monitor' ? 'monitor' : parseFormation(args.formation);
  if (only === 'monitor') {
    if (args.json) json({ monitor: m.uri });
    else out(m.uri + '\n');
    return;
  }
  const rows: UriRow[] = await withClient(m.target, { kind: 'monitor' }, async (q) => {
    const names = only
      ? [only]
      : (await q<{ formationid: string }>('SELECT formationid FROM pgautofailover.formation ORDER BY formationid')).map(
          (r) => r.formationid,
        );
    const list: UriRow[] = [];
    const sslmode = parsePgUri(m.uri, 'the monitor URI').sslmode;
    for (const name of names) list.push({ type: 'formation', name, uri: (await formationUri(q, name, sslmode)) ?? '' });
    return list;
  });
  if (only) {
    const uri = rows[0]?.uri ?? '';
    if (args.json) json({ monitor: m.uri, [only]: uri });
    else out(uri + '\n');
    return;
  }
  const all: UriRow[] = [{ type: 'monitor', name: 'monitor', uri: m.uri }, ...rows];
  if (args.json) jsonRows(all);
  else out(renderUriTable(all));
}

function uriCommand(cli: Argv): Argv {
  return cli.command(
    'uri',
    'print the monitor URI and the formations’ connection strings',
    (y) => targetOptions(y).option('formation', { type: 'string', requiresArg: true, describe: '"monitor" or a formation name' }),
    (args) => showUri(args),
  );
}

/** The data node of --pgdata/$PGDATA has pg_autoctl.monitor = PG_AUTOCTL_DISABLED. */
function runsWithoutMonitor(pgdataArg: unknown): boolean {
  const raw = typeof pgdataArg === 'string' && pgdataArg ? pgdataArg : process.env.PGDATA;
  if (!raw) return false;
  return readNodeIni(canonicalPgdata(raw))?.ini.pg_autoctl?.monitor === MONITOR_DISABLED;
}

/** The options of `show state`, as yargs or the fast path (cli/fast.ts) parse them. */
export interface ShowStateArgs {
  pgdata?: string;
  monitor?: string;
  json?: boolean;
  formation?: string;
  group?: string;
  local?: boolean;
  watch?: boolean;
}

export async function showState(args: ShowStateArgs): Promise<void> {
  const formation = args.formation !== undefined ? parseFormation(args.formation) : (localNodeDefaults(args).formation ?? 'default');
  const group = args.group === undefined ? undefined : parseNonNegativeInt(args.group, '--group');
  if (args.local && args.watch) throw new BadArgs('--local and --watch are mutually exclusive');
  const noMonitor = !args.local && !args.monitor && !args.watch && runsWithoutMonitor(args.pgdata);
  if (noMonitor) log.info('This node runs without a monitor: showing its local state');
  if (args.local || noMonitor) {
    const rows = [await localStateRow(resolvePgdata(args.pgdata))];
    if (args.json) jsonRows(rows);
    else out(renderStateTable(rows));
    return;
  }
  const m = resolveMonitor(args);
  const fetch = () => withClient(m.target, { kind: 'monitor' }, (q) => currentState(q, formation, group));
  if (args.watch && args.json) throw new BadArgs('--watch and --json are mutually exclusive');
  if (args.watch) return (await import('./watch.js')).runWatch(args, { formation, group, count: 10 });
  const rows = await fetch();
  if (args.json) jsonRows(rows);
  else out(renderStateTable(rows));
}

function stateCommand(cli: Argv): Argv {
  return cli.command(
    'state',
    'print the state of the nodes of a formation',
    (y) =>
      targetOptions(y)
        .option('formation', { type: 'string', requiresArg: true, describe: 'formation (default: this node’s, else "default")' })
        .option('group', { type: 'string', requiresArg: true, describe: 'group id (default: all groups)' })
        .option('local', { type: 'boolean', default: false, describe: 'this node only, from its local state file (no monitor)' })
        .option('watch', { type: 'boolean', describe: 'live view of the formation, as pgaf watch (q quits)' }),
    (args) => showState(args),
  );
}

function eventsCommand(cli: Argv): Argv {
  return cli.command(
    'events',
    'print the last events of a formation, oldest first',
    (y) =>
      targetOptions(y)
        .option('formation', { type: 'string', requiresArg: true, describe: 'formation (default: this node’s, else "default")' })
        .option('group', { type: 'string', requiresArg: true, describe: 'group id (default: all groups)' })
        .option('count', { type: 'string', requiresArg: true, default: '10', describe: 'how many events' })
        .option('watch', { type: 'boolean', describe: 'live view of the formation, as pgaf watch (q quits)' }),
    async (args) => {
      const formation = args.formation !== undefined ? parseFormation(args.formation) : (localNodeDefaults(args).formation ?? 'default');
      const group = args.group === undefined ? undefined : parseNonNegativeInt(args.group, '--group');
      const count = parseNonNegativeInt(args.count, '--count');
      const m = resolveMonitor(args);
      const fetch = () => withClient(m.target, { kind: 'monitor' }, (q) => lastEvents(q, formation, count, group));
      if (args.watch && args.json) throw new BadArgs('--watch and --json are mutually exclusive');
      if (args.watch) return (await import('./watch.js')).runWatch(args, { formation, group, count });
      const rows = await fetch();
      if (args.json) jsonRows(rows);
      else out(renderEventsTable(rows));
    },
  );
}

export interface ShowFormationArgs {
  monitor?: string;
  pgdata?: string;
  formation?: string;
  group?: string | number;
}

/** --formation and --group, defaulting to the node of --pgdata, then "default" and 0. */
export function showFormationRequest(a: ShowFormationArgs, defaults: { formation?: string; group?: number } = {}) {
  return {
    formation: a.formation !== undefined ? parseFormation(a.formation) : (defaults.formation ?? 'default'),
    group: a.group !== undefined ? parseNonNegativeInt(a.group, '--group') : (defaults.group ?? 0),
  };
}

/** The value as the original prints it: a quoted SQL literal, '' when empty. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function settingsCommand(cli: Argv): Argv {
  return cli.command(
    'settings',
    'print the replication settings of a formation',
    (y) => targetOptions(y).option('formation', { type: 'string', requiresArg: true, describe: 'formation (default: this node’s, else "default")' }),
    async (args) => {
      const { formation } = showFormationRequest(args as ShowFormationArgs, localNodeDefaults(args));
      const m = resolveMonitor(args);
      await printFormationSettings(m.target, formation, Boolean(args.json));
    },
  );
}

function standbyNamesCommand(cli: Argv): Argv {
  return cli.command(
    'standby-names',
    'print the synchronous_standby_names the monitor sets on the primary of a group',
    (y) =>
      targetOptions(y)
        .option('formation', { type: 'string', requiresArg: true, describe: 'formation (default: this node’s, else "default")' })
        .option('group', { type: 'string', requiresArg: true, describe: 'group id (default: this node’s, else 0)' }),
    async (args) => {
      const { formation, group } = showFormationRequest(args as ShowFormationArgs, localNodeDefaults(args));
      const m = resolveMonitor(args);
      const value = await withClient(m.target, { kind: 'monitor' }, async (q) => {
        // as the original: a formation without nodes (or unknown) is a state, exit 3, not a monitor error
        const nodes = await q<{ n: number }>('SELECT count(*)::int AS n FROM pgautofailover.node WHERE formationid = $1', [formation]);
        if (Number(nodes[0]?.n) === 0) throw new BadState(`the monitor has no nodes in formation "${formation}"`);
        return synchronousStandbyNames(q, formation, group);
      });
      if (args.json) json({ formation, group, synchronous_standby_names: value });
      else out(quoteLiteral(value) + '\n');
    },
  );
}

export function registerShow(cli: Argv): Argv {
  return cli.command('show', 'show monitor information', (y) =>
    systemdCommand(fileCommand(ipaddrCommand(standbyNamesCommand(settingsCommand(eventsCommand(stateCommand(uriCommand(y)))))))).demandCommand(
      1,
      'show what? uri, state, events, settings, standby-names, file, systemd or ipaddr',
    ),
  );
}

/** show settings and get formation settings: the table, or --json grouped as the original. */
export async function printFormationSettings(target: PgTarget, formation: string, asJson: boolean): Promise<void> {
  const rows = await withClient(target, { kind: 'monitor' }, (q) => formationSettings(q, formation));
  if (asJson) jsonRows(settingsJson(rows));
  else out(renderSettingsTable(rows));
}
