// `pgaf create formation`, `pgaf drop formation` and `pgaf enable|disable secondary`: the
// monitor's formation API (create_formation, drop_formation, enable_/disable_secondary).
import type { Argv } from 'yargs';
import { json } from './output.js';
import { BadArgs } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { withClient } from '../lib/sql.js';
import { monitorRefusal } from './follow.js';
import { localNodeDefaults, parseFormation, parseNonNegativeInt, resolveMonitor } from './options.js';

export interface CreateFormationArgs {
  formation?: string;
  kind?: string;
  dbname?: string;
  enableSecondary?: boolean;
  disableSecondary?: boolean;
  numberSyncStandbys?: string | number;
}

export interface CreateFormationRequest {
  formation: string;
  kind: 'pgsql';
  dbname: string;
  secondary: boolean;
  numberSyncStandbys: number;
}

/** Validates the flags of create formation (pure). */
export function createFormationRequest(a: CreateFormationArgs): CreateFormationRequest {
  if (a.formation === undefined) throw new BadArgs('--formation is required: the name of the formation to create');
  const formation = parseFormation(a.formation);
  if (formation.length > 63) throw new BadArgs(`--formation must be at most 63 characters long, got "${formation}"`);
  const kind = a.kind ?? 'pgsql';
  if (kind === 'citus') throw new BadArgs('--kind citus is not supported: pgaf manages pgsql formations only');
  if (kind !== 'pgsql') throw new BadArgs(`--kind must be pgsql, got "${kind}"`);
  const dbname = a.dbname ?? 'postgres';
  if (dbname.trim() === '' || dbname.length > 63) throw new BadArgs(`--dbname must be 1 to 63 characters long, got "${dbname}"`);
  if (a.enableSecondary && a.disableSecondary) throw new BadArgs('--enable-secondary and --disable-secondary are mutually exclusive');
  return {
    formation,
    kind: 'pgsql',
    dbname,
    secondary: !a.disableSecondary,
    numberSyncStandbys: a.numberSyncStandbys !== undefined ? parseNonNegativeInt(a.numberSyncStandbys, '--number-sync-standbys') : 0,
  };
}

const monitorOptions = <T>(y: Argv<T>) =>
  y
    .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory of a local node (default: $PGDATA)' })
    .option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI (default: from the config of --pgdata)' });

export function createFormationCommand(cli: Argv): Argv {
  return cli.command(
    'formation',
    'create a formation on the monitor',
    (y) =>
      monitorOptions(y)
        .option('formation', { type: 'string', requiresArg: true, describe: 'name of the formation to create (required)' })
        .option('kind', { type: 'string', requiresArg: true, describe: 'formation kind: pgsql (default)' })
        .option('dbname', { type: 'string', requiresArg: true, describe: 'database of the formation (default postgres)' })
        .option('enable-secondary', { type: 'boolean', describe: 'allow standby nodes (the default)' })
        .option('disable-secondary', { type: 'boolean', describe: 'single-node formation: no standby nodes' })
        .option('number-sync-standbys', { type: 'string', requiresArg: true, describe: 'synchronous standbys a commit waits for (default 0)' })
        .option('json', { type: 'boolean', default: false, describe: 'output JSON' }),
    async (args) => {
      const req = createFormationRequest(args as CreateFormationArgs);
      const m = resolveMonitor(args);
      const row = await withClient(m.target, { kind: 'monitor' }, async (q) => {
        try {
          const rows = await q<Record<string, unknown>>(
            'SELECT * FROM pgautofailover.create_formation($1::text, $2::text, $3::name, $4::bool, $5::int)',
            [req.formation, req.kind, req.dbname, req.secondary, req.numberSyncStandbys],
          );
          return rows[0];
        } catch (err) {
          throw monitorRefusal(err, `cannot create formation "${req.formation}"`);
        }
      });
      const result = {
        formation: req.formation,
        kind: String(row?.kind ?? req.kind),
        dbname: String(row?.dbname ?? req.dbname),
        opt_secondary: Boolean(row?.opt_secondary ?? req.secondary),
        number_sync_standbys: Number(row?.number_sync_standbys ?? req.numberSyncStandbys),
      };
      if (args.json) json(result);
      else log.info(`Created formation "${req.formation}" of kind ${result.kind} for database "${result.dbname}"`);
    },
  );
}

export function dropFormationCommand(cli: Argv): Argv {
  return cli.command(
    'formation',
    'drop a formation that has no node left',
    (y) => monitorOptions(y).option('formation', { type: 'string', requiresArg: true, describe: 'name of the formation to drop (required)' }),
    async (args) => {
      if (args.formation === undefined) throw new BadArgs('--formation is required: the name of the formation to drop');
      const formation = parseFormation(args.formation);
      if (formation === 'default') log.warn('Dropping the "default" formation');
      const m = resolveMonitor(args);
      await withClient(m.target, { kind: 'monitor' }, async (q) => {
        try {
          await q('SELECT pgautofailover.drop_formation($1::text)', [formation]);
        } catch (err) {
          throw monitorRefusal(err, `cannot drop formation "${formation}"`);
        }
      });
      log.info(`Dropped formation "${formation}"`);
    },
  );
}

function secondaryCommand(cli: Argv, enable: boolean): Argv {
  return cli.command(
    'secondary',
    enable ? 'allow standby nodes in a formation' : 'make a formation single-node: no standby nodes',
    (y) => monitorOptions(y).option('formation', { type: 'string', requiresArg: true, describe: 'formation (default: this node’s, else "default")' }),
    async (args) => {
      const d = localNodeDefaults(args);
      const formation = args.formation !== undefined ? parseFormation(args.formation) : (d.formation ?? 'default');
      const m = resolveMonitor(args);
      const fn = enable ? 'enable_secondary' : 'disable_secondary';
      await withClient(m.target, { kind: 'monitor' }, async (q) => {
        try {
          await q(`SELECT pgautofailover.${fn}($1::text)`, [formation]);
        } catch (err) {
          throw monitorRefusal(err, `cannot ${enable ? 'enable' : 'disable'} secondary nodes in formation "${formation}"`);
        }
      });
      log.info(`${enable ? 'Enabled' : 'Disabled'} secondary nodes in formation "${formation}"`);
    },
  );
}

export const enableSecondaryCommand = (cli: Argv) => secondaryCommand(cli, true);
export const disableSecondaryCommand = (cli: Argv) => secondaryCommand(cli, false);
