// Regression: a primary's keeper read synchronous_standby_names from the monitor right after a
// switchover had started (the standby's goal was prepare_promotion, so the monitor's value
// was '') and applied it: for about a second the old primary acknowledged commits without
// its standby. The names are now read with the node's goal in one snapshot, and the keeper
// never turns synchronous replication off outside the wait_primary transition.
//
// Everything here is real: a monitor (the pgaf extension on its own Postgres, the group
// driven through its SQL API the way keepers drive it), and the primary's own Postgres run by
// the keeper's PgLocalPostgres; the transition step talks to both through the keeper's
// MonitorClient. Reading the names apart from the goal again makes the second test fail.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enableSyncRep } from '../../keeper/fsm/steps.js';
import type { StepContext } from '../../keeper/fsm/context.js';
import { MonitorClient } from '../../keeper/monitor-client.js';
import { PgLocalPostgres } from '../../keeper/pg/local-postgres.js';
import { log } from '../../lib/log.js';
import { parsePgUri } from '../../lib/pg-uri.js';
import { pgBinDir, postgresRunAs } from '../../lib/pgbin.js';
import { MonitorServer, twoNodes, type Monitor } from '../monitor/helpers.js';
import { startPostgres, type TestServer } from '../support/postgres.js';

let ms: MonitorServer;
let node: TestServer;
const opened: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  ms = await MonitorServer.start();
  node = await startPostgres();
}, 120_000);
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close().catch(() => undefined);
  await ms.cleanup();
});
afterAll(async () => {
  await ms?.stop();
  await node?.stop();
});

/** The primary's keeper: its MonitorClient on the monitor database, its PgLocalPostgres on `node`. */
function keeperOf(m: Monitor, nodeId: number): StepContext & { pg: PgLocalPostgres } {
  const monitor = new MonitorClient(parsePgUri(ms.server.url(m.db)), { nodeId, groupId: 0, formation: 'default' });
  const pg = new PgLocalPostgres({
    pgdata: node.pgdata,
    binDir: pgBinDir(),
    port: node.port,
    host: '127.0.0.1',
    socketDir: node.socketDir,
    nodeId,
    runAs: postgresRunAs(),
    authMethod: 'trust',
    hbaLevel: 'skip',
    logFile: `${node.dir}/postgres.log`,
    log,
    superuser: node.superuser,
  });
  opened.push(monitor, pg);
  return { nodeId, groupId: 0, formation: 'default', monitor, pg, log };
}

async function localNames(): Promise<string> {
  const [r] = await node.query<{ s: string }>(`SELECT current_setting('synchronous_standby_names') AS s`);
  return r!.s;
}

async function monitorNames(m: Monitor): Promise<string> {
  return (await m.one(`SELECT pgautofailover.synchronous_standby_names('default', 0) AS s`)).s;
}

describe('enableSyncRep on a primary, against a real monitor and a real Postgres', () => {
  it('applies the names the monitor has for the group while the goal is primary', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    const k = keeperOf(m, a.id);
    await k.pg.setSynchronousStandbyNames('');
    await enableSyncRep(k); // no standby streams here: it waits 5 s for one, then goes on
    expect(await localNames()).toBe(`ANY 1 (pgautofailover_standby_${b.id})`);
  }, 60_000);

  it('changes nothing once a switchover has started, although the monitor now says \'\'', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    const k = keeperOf(m, a.id);
    const before = `ANY 1 (pgautofailover_standby_${b.id})`;
    await k.pg.setSynchronousStandbyNames(before);
    await m.q(`SELECT pgautofailover.perform_failover('default', 0)`);
    expect(await m.goals([a.id, b.id])).toEqual({ [a.id]: 'draining', [b.id]: 'prepare_promotion' });
    // the hazard is real: applied now, the monitor's value would turn synchronous replication off
    expect(await monitorNames(m)).toBe('');

    await expect(enableSyncRep(k)).rejects.toThrow(/goal of this node changed/);
    expect(await localNames()).toBe(before);
  }, 60_000);
});
