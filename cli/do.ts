// `pgaf do …`: debug commands of the original (shown when PG_AUTOCTL_DEBUG is set).
import type { Argv } from 'yargs';
import { BadState } from '../lib/errors.js';
import { loadKeeperConfig, localPostgres } from '../keeper/open-node.js';
import { readStateFile } from '../keeper/state/state-file.js';
import { log } from '../lib/log.js';
import { resolvePgdata } from './options.js';

const pgdataOption = { type: 'string', requiresArg: true, describe: 'data directory (default: $PGDATA)' } as const;

async function pgsetup(pgdata: string) {
  const { config, paths } = loadKeeperConfig(pgdata);
  const state = readStateFile(paths.state);
  const pg = localPostgres(config, paths, state.nodeId, log);
  return { config, pg };
}

export function registerDo(cli: Argv): Argv {
  const hidden = !process.env.PG_AUTOCTL_DEBUG;
  return cli.command('do', (hidden ? false : 'debug commands') as string, (y) =>
    y
      .command('fsm', 'the keeper state machine', (f) =>
        f
          .command('state', 'print the local state as JSON', (s) => s.option('pgdata', pgdataOption), async (args) => {
            const pgdata = resolvePgdata(args.pgdata);
            const { config, paths } = loadKeeperConfig(pgdata);
            const state = readStateFile(paths.state);
            const pg = localPostgres(config, paths, state.nodeId, log);
            const facts = await pg.readFacts();
            const out = {
              postgres: { pgdata, pg_ctl: config.pgCtl, host: config.host, port: config.port, is_running: facts.running, in_recovery: facts.inRecovery, timeline: facts.timeline, lsn: facts.lsn },
              state: { ...state },
            };
            process.stdout.write(JSON.stringify(out, null, 2) + '\n');
          })
          .demandCommand(1),
      )
      .command('pgsetup', 'the local Postgres', (p) =>
        p
          .command('ready', 'exit 0 when Postgres runs', (s) => s.option('pgdata', pgdataOption), async (args) => {
            const { pg } = await pgsetup(resolvePgdata(args.pgdata));
            if (!(await pg.isRunning())) throw new BadState('Postgres is not running');
            process.stdout.write('Postgres is ready\n');
          })
          .command('wait', 'wait until Postgres runs', (s) => s.option('pgdata', pgdataOption).option('timeout', { type: 'number', default: 60 }), async (args) => {
            const { pg } = await pgsetup(resolvePgdata(args.pgdata));
            const deadline = Date.now() + Number(args.timeout) * 1000;
            while (!(await pg.isRunning())) {
              if (Date.now() > deadline) throw new BadState(`Postgres is not running after ${args.timeout}s`);
              await new Promise((r) => setTimeout(r, 200));
            }
            process.stdout.write('Postgres is ready\n');
          })
          .demandCommand(1),
      )
      .demandCommand(1),
  );
}
