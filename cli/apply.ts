// `pgaf apply -f cluster.yaml [--check] [--json]`: make a running formation match the cluster
// file (number_sync_standbys, secondary, each node's candidate priority, replication quorum
// and maintenance), idempotently. Exit 0 when the formation matches (or, with --check, could
// be made to); non-zero with a reason when it cannot get there.
import type { Argv } from 'yargs';
import type { ApplyResult } from './apply-formation.js';
import { BadConfig, BadState } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { parsePgUri } from '../lib/pg-uri.js';

export interface ApplyArgs {
  file?: string;
  monitor?: string;
  formation?: string;
  check?: boolean;
  json?: boolean;
}

export function printApplyResult(r: ApplyResult, json: boolean, out: (s: string) => void = (s) => process.stdout.write(s)): void {
  if (json) {
    out(JSON.stringify(r, null, 2) + '\n');
    return;
  }
  const verb = r.check ? 'would change' : 'changed';
  for (const c of r.changes) out(`${verb}: ${c.description}\n`);
  if (!r.changed && !r.error) out(`formation "${r.formation}" matches the file: nothing to change\n`);
}

export async function runApply(a: ApplyArgs): Promise<ApplyResult> {
  // zod and cosmiconfig load only for this command
  const { loadClusterConfig } = await import('../config/cluster-config.js');
  const { applyFormation } = await import('./apply-formation.js');
  const config = await loadClusterConfig({
    file: a.file,
    flags: { 'monitor.uri': a.monitor, 'formation.name': a.formation },
    flagNames: { 'monitor.uri': '--monitor', 'formation.name': '--formation' },
  });
  if (!config.monitorUri) {
    throw new BadConfig(`${config.file ?? 'configuration'}: monitor.uri: expected the monitor URI (or a monitor node section, or --monitor), found nothing`);
  }
  const target = parsePgUri(config.monitorUri, 'monitor.uri');
  if (config.secrets.monitorPassword && !target.password) target.password = config.secrets.monitorPassword;
  const res = await applyFormation(target, config.formation, Boolean(a.check));
  printApplyResult(res, Boolean(a.json));
  if (res.error) throw new BadState(`cannot make formation "${res.formation}" match ${config.file ?? 'the configuration'}: ${res.error}`);
  if (res.changed && !a.check) log.info(`Formation "${res.formation}" now matches ${config.file}`);
  return res;
}

export function registerApply(cli: Argv): Argv {
  return cli.command(
    'apply',
    'make a running formation match a cluster file (pgaf.config.yaml)',
    (y) =>
      y
        .option('file', { alias: 'f', type: 'string', requiresArg: true, describe: 'cluster file (default: pgaf.config.yaml|yml|json or .pgafrc* in the current directory)' })
        .option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI (overrides monitor.uri)' })
        .option('formation', { type: 'string', requiresArg: true, describe: 'formation (overrides formation.name)' })
        .option('check', { type: 'boolean', default: false, describe: 'report what would change, change nothing (Ansible check mode)' })
        .option('json', { type: 'boolean', default: false, describe: 'output {"changed": bool, "changes": [...]}' }),
    async (args) => {
      await runApply(args as ApplyArgs);
    },
  );
}
