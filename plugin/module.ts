// The PM2 module's process (`pm2 install pm2-pgaf-<v>.tgz`): one setting names the node's
// cluster file (`pm2 set pm2-pgaf:config /etc/pgaf/pgaf.config.yaml`, which restarts us);
// we load it (config/cluster-config.ts), create the node when needed and run the keeper or the
// monitor service in-process, with Postgres as the PM2 app pgaf-postgres-<node>. Logs go to
// stdout (`pm2 logs`), metrics to `pm2 show`, actions to `pm2 trigger pm2-pgaf <action>`.
// Stopping, restarting or uninstalling the module never stops Postgres.
import { createRequire } from 'node:module';
import { loadClusterConfig, type ClusterConfig } from '../config/cluster-config.js';
import { BadArgs, BadConfig, BadState, Dropped } from '../lib/errors.js';
import { log, maskSecrets, setLogSink } from '../lib/log.js';
import { SECRET_ENV } from '../lib/secrets.js';
import { dropServiceMallocEnv } from '../lib/service-env.js';
import { configPathFrom, MODULE_NAME } from './module-config.js';
import { disconnectPm2 } from './pm2-supervisor.js';
import { runNodeFromConfig, type RunningNode } from './node-runner.js';
import { NodeStatusSource, type NodeStatus } from './status.js';


interface Tx2 {
  action(name: string, fn: (reply: (data: unknown) => void) => void): void;
  action(name: string, opts: object, fn: (param: unknown, reply: (data: unknown) => void) => void): void;
  metric(name: string, value: () => unknown): void;
}

/** tx2 comes with pm2 (a bundled dependency); without PM2 (no process.send) it is unused. */
function loadTx2(): Tx2 | undefined {
  if (!process.send) return undefined;
  const req = createRequire(import.meta.url);
  try {
    return createRequire(req.resolve('pm2'))('tx2') as Tx2;
  } catch {
    return req('tx2') as Tx2;
  }
}

function idle(reason: string): Promise<void> {
  log.error(`${reason}; the module waits (fix it, then \`pm2 set ${MODULE_NAME}:config <path>\` or \`pm2 restart ${MODULE_NAME}\`)`);
  return new Promise((resolve) => {
    const timer = setInterval(() => undefined, 3600_000);
    const done = () => {
      clearInterval(timer);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/** An error's message for a log line or an action reply, passwords masked. */
function errorText(err: unknown): string {
  return maskSecrets(err instanceof Error ? err.message : String(err));
}

export async function main(): Promise<number> {
  setLogSink((line) => process.stdout.write(line + '\n'));
  const tx2 = loadTx2();
  let phase = 'starting';
  let last: NodeStatus | undefined;
  tx2?.metric('pgaf phase', () => phase);

  const path = configPathFrom(process.env, process.argv);
  if (!path) {
    phase = 'no config';
    await idle(`No cluster file is set (module setting "config")`);
    return 0;
  }
  let config: ClusterConfig;
  try {
    config = await loadClusterConfig({ file: path });
  } catch (err) {
    phase = 'config error';
    await idle(`Invalid configuration: ${errorText(err)}`);
    return 0;
  }
  // the secrets the cluster file's loader took from our environment go no further: PM2 copies
  // this process's environment into the Postgres app it starts, and into `pm2 save`
  for (const k of SECRET_ENV) delete process.env[k];
  // glibc read the app's malloc settings (package.json apps env) at exec: Postgres runs without them
  dropServiceMallocEnv();
  const node = config.node;
  log.info(`pgaf module starts the ${node?.role ?? 'unknown'} node of ${config.file}`, { pgdata: node?.pgdata, port: node?.port });

  let running: RunningNode | undefined;
  let status: NodeStatusSource | undefined;
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`Received ${sig}: the pgaf module stops; Postgres keeps running`);
    running?.stop();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Without its PM2 daemon (killed), the keeper must not go on: a new daemon relaunches the
  // module, and two keepers of one node must never run at once.
  const daemon = process.ppid;
  const watchdog = setInterval(() => {
    if (process.send && process.ppid !== daemon) {
      log.error('The PM2 daemon is gone: the pgaf module exits (Postgres is left as it is)');
      process.exit(1);
    }
  }, 1_000);
  watchdog.unref();

  const refresh = async () => {
    if (status) last = await status.status().catch(() => last);
  };
  const timer = setInterval(() => void refresh(), 5_000);
  timer.unref();
  tx2?.metric('node state', () => last?.state ?? phase);
  tx2?.metric('goal state', () => last?.goal ?? phase);
  tx2?.metric('replication lag (bytes)', () => last?.replication_lag_bytes ?? 'n/a');
  tx2?.metric('last monitor contact', () => last?.last_monitor_contact ?? 'never');
  tx2?.metric('postgres', () => (last ? `${last.postgres.app} ${last.postgres.running ? `running (pid ${last.postgres.pid})` : 'stopped'}` : 'n/a'));

  const guard = (fn: (param: unknown) => Promise<unknown>) => (param: unknown, reply: (d: unknown) => void) => {
    if (!status) return reply({ ok: false, error: `the node is not running yet (${phase})` });
    fn(param).then(
      (res) => reply(typeof res === 'string' ? { ok: true, message: res } : res),
      (err) => reply({ ok: false, error: errorText(err) }),
    );
  };
  tx2?.action('status', {}, guard(async () => status!.status()));
  tx2?.action('switchover', {}, guard(async () => status!.switchover()));
  tx2?.action('maintenance-on', {}, guard(async (p) => status!.maintenance(true, p === 'allow-failover')));
  tx2?.action('maintenance-off', {}, guard(async () => status!.maintenance(false, false)));

  try {
    for (;;) {
      try {
        phase = 'creating';
        await runNodeFromConfig(config, log, (r) => {
          running = r;
          phase = 'running';
          status = new NodeStatusSource(r, config.formation.name, config.monitorUri!, config.secrets.monitorPassword);
          void refresh();
          if (stopping) r.stop();
        });
        return 0;
      } catch (err) {
        if (stopping) return 0;
        if (err instanceof Dropped) {
          phase = 'dropped';
          await idle('This node was dropped from the monitor');
          return 0;
        }
        if (err instanceof BadConfig || err instanceof BadArgs || err instanceof BadState) {
          phase = 'config error';
          await idle(`Cannot run the node of ${config.file}: ${errorText(err)}`);
          return 0;
        }
        log.error(`The pgaf node stopped on an error, retrying in 5 s: ${errorText(err)}`);
        running = undefined;
        status = undefined;
        await new Promise((r) => setTimeout(r, 5_000));
        if (stopping) return 0;
      }
    }
  } finally {
    clearInterval(timer);
    disconnectPm2();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log.error(`The pgaf module failed: ${errorText(err)}`);
    process.exit(1);
  },
);
