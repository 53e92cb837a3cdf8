// `disable monitor` and `enable monitor`: the only code of the monitor switch that talks to a
// monitor, to the local Postgres and writes the node's files. Postgres keeps running
// throughout; a running keeper is told with SIGHUP (and notices the config file anyway).
import { rmSync } from 'node:fs';
import { configSet } from '../../config/config-keys.js';
import { MONITOR_DISABLED, type KeeperConfig } from '../../config/keeper-config.js';
import { readNodeIni, writeNodeIni } from '../../config/node-config.js';
import type { NodePaths } from '../../config/node-paths.js';
import { BadArgs, BadConfig, BadState, MonitorFailed } from '../../lib/errors.js';
import { maskSecrets, type Logger } from '../../lib/log.js';
import { parsePgUri, type PgTarget } from '../../lib/pg-uri.js';
import { nodeMonitorTarget, withStoredMonitorPassword } from '../monitor-target.js';
import { servicePid } from '../../lib/pid-file.js';
import { postgresRunAs } from '../../lib/pgbin.js';
import { withClient } from '../../lib/sql.js';
import { registerWithRetry, withoutUriPassword } from '../create-node.js';
import { writeSecretFile } from '../../lib/secrets.js';
import { secretFilePath } from '../../config/paths.js';
import type { NodeState } from '../fsm/states.js';
import { credentialsPath, enrollKeeper } from '../monitor-credentials.js';
import { MonitorClient } from '../monitor-client.js';
import { loadKeeperConfig, localPostgres } from '../open-node.js';
import { readStateFile } from '../state/state-file.js';
import { StateStore } from '../state/store.js';
import { planDisableMonitor, registrationStateFor, stateAfterRegistration, streamsFrom, type GroupMember } from './plan.js';

const CATCHINGUP_WAIT_MS = 120_000;

function setMonitorSetting(paths: NodePaths, value: string): void {
  const node = readNodeIni('', paths.config);
  if (!node) throw new BadConfig(`${paths.config} is gone`);
  writeNodeIni(node.path, configSet(node.ini, node.path, 'pg_autoctl.monitor', value));
}

function signalKeeper(paths: NodePaths, log: Logger): void {
  const pid = servicePid(paths.pid);
  if (pid === undefined) return;
  process.kill(pid, 'SIGHUP');
  log.info(`Signalled the keeper (pid ${pid}) to switch now`);
}

async function groupMembers(target: PgTarget, config: KeeperConfig): Promise<GroupMember[]> {
  const rows = await withClient(target, { kind: 'monitor', connectTimeoutMs: 5_000 }, (q) =>
    q<{ nodeid: string; nodename: string; goalstate: NodeState }>(
      'SELECT node_id AS nodeid, nodename, assigned_group_state::text AS goalstate FROM pgautofailover.current_state($1, $2) ORDER BY node_id',
      [config.formation, config.group],
    ),
  );
  return rows.map((r) => ({ nodeId: Number(r.nodeid), name: r.nodename, goal: r.goalstate }));
}

/** Leaves the monitor (remove_node) or forgets it, then runs on without one. */
export async function disableMonitor(pgdata: string, opts: { force: boolean }, log: Logger): Promise<void> {
  const { config, paths } = loadKeeperConfig(pgdata);
  if (config.monitor === undefined) throw new BadConfig('this node already runs without a monitor', { hint: 'pgaf enable monitor <URI> to register it with one' });
  const state = readStateFile(paths.state);
  const target = nodeMonitorTarget(config.monitor, pgdata);
  let members: GroupMember[] | undefined;
  let unreachable = '';
  try {
    members = await groupMembers(target, config);
  } catch (err) {
    unreachable = (err as Error).message;
  }
  const plan = planDisableMonitor(state.nodeId, members, opts.force, unreachable);
  if (plan.kind === 'refuse') throw plan.error;
  if (plan.kind === 'remove') {
    await withClient(target, { kind: 'monitor', connectTimeoutMs: 5_000 }, (q) => q('SELECT pgautofailover.remove_node($1::bigint, true)', [state.nodeId]));
    log.info(`Removed node ${state.nodeId} "${config.name}" from the monitor at ${target.host}:${target.port} (${plan.reason})`);
  } else {
    log.warn(`Not removing node ${state.nodeId} from the monitor: ${plan.reason}`);
  }
  setMonitorSetting(paths, MONITOR_DISABLED);
  rmSync(credentialsPath(paths.state), { force: true });
  signalKeeper(paths, log);
  log.info(`Node ${state.nodeId} "${config.name}" runs without a monitor, Postgres as it is in state ${state.current_role}`, {
    hint: 'goals now come from pgaf do fsm assign; pgaf enable monitor <URI> registers it with a new monitor',
  });
}

/** Reports wait_standby until the new monitor moves this standby to catchingup (its primary is registered). */
async function waitForCatchingup(client: MonitorClient, pg: ReturnType<typeof localPostgres>, log: Logger): Promise<void> {
  const deadline = Date.now() + CATCHINGUP_WAIT_MS;
  let said = false;
  for (;;) {
    const facts = await pg.readFacts();
    const reply = await client.nodeActive({ state: 'wait_standby', pgIsRunning: facts.running, tli: facts.timeline, lsn: facts.lsn, repState: '' });
    if (reply.goal === 'catchingup') return;
    if (Date.now() > deadline) {
      throw new MonitorFailed(`the new monitor did not move this standby to catchingup within ${CATCHINGUP_WAIT_MS / 1000}s (goal ${reply.goal})`, {
        retryable: false,
        hint: 'enable the monitor on the primary first, with its keeper running',
      });
    }
    if (!said) log.info(`Waiting for the new monitor to take this standby on (goal ${reply.goal}); the primary must be registered first`);
    said = true;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The new monitor's URI, or BadArgs naming it (its password hidden). */
export function parseMonitorUri(uri: string): PgTarget {
  try {
    return parsePgUri(uri, 'the monitor URI');
  } catch {
    throw new BadArgs(`the monitor URI must be a postgres:// URI like postgres://autoctl_node@host:port/pg_auto_failover, got "${maskSecrets(uri)}"`);
  }
}

/** Registers the running node with a new monitor, keeping its role and its data. */
export async function enableMonitor(pgdata: string, uri: string, log: Logger): Promise<void> {
  const target = withStoredMonitorPassword(parseMonitorUri(uri), pgdata);
  const { config, paths } = loadKeeperConfig(pgdata);
  if (config.monitor !== undefined) {
    throw new BadConfig(`this node already has a monitor (${maskSecrets(config.monitor)})`, { hint: 'pgaf disable monitor first' });
  }
  const state = readStateFile(paths.state);
  const pg = localPostgres({ ...config, monitor: uri }, paths, state.nodeId, log);
  const client = new MonitorClient(target, { nodeId: state.nodeId, groupId: 0, formation: config.formation });
  let registeredId: number | undefined;
  try {
    const facts = await pg.readFacts();
    if (!facts.running) throw new BadState('Postgres is not running: a node joins a new monitor in its running role', { hint: 'start it with pgaf run' });
    const initial = registrationStateFor(facts.inRecovery);
    const reg = await registerWithRetry(
      client,
      {
        host: config.hostname,
        port: config.port,
        dbname: config.dbname,
        name: config.name,
        sysid: await pg.systemIdentifier(),
        candidatePriority: config.candidatePriority,
        replicationQuorum: config.replicationQuorum,
        desiredNodeId: state.nodeId,
        initialState: initial,
      },
      log,
    );
    registeredId = reg.nodeId;
    log.info(`Registered node ${reg.nodeId} "${reg.name}" with the monitor at ${target.host}:${target.port} as ${reg.goal}`);
    client.setIds({ nodeId: reg.nodeId, groupId: reg.groupId, formation: config.formation });
    let goal = reg.goal;
    let streaming = true;
    if (initial === 'wait_standby') {
      await waitForCatchingup(client, pg, log);
      goal = 'catchingup';
      const primary = await client.getPrimary();
      streaming = streamsFrom(await pg.streamingConninfo(), primary);
      if (!streaming) log.warn(`This standby does not stream from ${primary ? `${primary.name} (${primary.host}:${primary.port})` : 'the primary'}: its keeper will point it there and restart it`);
    }
    // the state file first: a keeper that notices the new config then starts from it
    new StateStore(paths.state).write(stateAfterRegistration(state, { ...reg, goal }, Date.now() / 1000, streaming));
    rmSync(credentialsPath(paths.state), { force: true });
    // a password in the URI goes to the node's 0600 monitor.password file, not into pg_autoctl.cfg
    const given = parseMonitorUri(uri).password;
    if (given !== undefined) writeSecretFile(secretFilePath(pgdata, 'monitor.password'), given + '\n');
    setMonitorSetting(paths, withoutUriPassword(uri));
    rmSync(paths.nodes, { force: true });
    registeredId = undefined;
    await enrollKeeper(target, reg.nodeId, paths.state, postgresRunAs(pgdata), log);
  } catch (err) {
    if (registeredId !== undefined) {
      // leave the new monitor as it was, so that enable monitor can be run again
      await withClient(target, { kind: 'monitor', connectTimeoutMs: 5_000 }, (q) => q('SELECT pgautofailover.remove_node($1::bigint, true)', [registeredId])).catch(
        (e: Error) => log.warn(`Could not undo the registration of node ${registeredId}: ${e.message}`),
      );
    }
    throw err;
  } finally {
    await client.close();
    await pg.close();
  }
  signalKeeper(paths, log);
  log.info(`Node ${state.nodeId} "${config.name}" now follows the monitor at ${target.host}:${target.port}`);
}
