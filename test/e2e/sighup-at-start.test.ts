// Commands that reload a service (`config set`, `reload`, `enable ssl`) send SIGHUP to the pid
// they find in its pid file, and a SIGHUP that finds no handler ends a Node process. Each
// service (monitor and keeper) is started here again and again and signalled the moment its
// pid file appears: it must keep running. (CI's status-page failures: the monitor service
// died of the SIGHUP of a `config set http.port` sent right after `pgaf run` started.)
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, watch } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodePaths } from '../../config/node-paths.js';
import type { OpenNode } from '../../keeper/open-node.js';
import { runDataNode } from '../../keeper/service.js';
import { log, setLogLevel } from '../../lib/log.js';
import { CLI, TestCluster } from '../support/cluster.js';
import { freePort } from '../support/postgres.js';

const STARTS = 5;

/** Starts `pgaf run` for `name` STARTS times, signals it as soon as its pid file is written; the outcome of each start. */
async function hupAtEachStart(c: TestCluster, name: string): Promise<string[]> {
  const env = c.env(c.member(name));
  const paths = nodePaths(env.PGDATA!, env);
  const outcomes: string[] = [];
  for (let i = 0; i < STARTS; i++) {
    let signalled = false;
    let stderr = '';
    const w = watch(paths.runDir, (_event, file) => {
      if (signalled || file !== 'pg_autoctl.pid') return;
      try {
        const pid = Number(readFileSync(paths.pid, 'utf8'));
        if (pid > 0) {
          process.kill(pid, 'SIGHUP');
          signalled = true;
        }
      } catch {
        // not written yet: the next event
      }
    });
    const proc = spawn(process.execPath, [CLI, 'run'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<string>((r) => proc.once('exit', (code, sig) => r(`exited (code ${code}, signal ${sig})`)));
    try {
      const outcome = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('running'), 3000))]);
      outcomes.push(signalled ? outcome : `not signalled (${outcome})`);
      // nothing changed the configuration: a start that reloads it anyway says so on every start
      if (/changed while the keeper started/.test(stderr)) outcomes.push(`reloaded an unchanged configuration: ${stderr}`);
    } finally {
      w.close();
      proc.kill('SIGTERM');
      await exited;
    }
  }
  return outcomes;
}

describe('a SIGHUP the moment a service writes its pid file', () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.create();
    await c.startMonitor();
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
  }, 200_000);
  afterAll(async () => {
    await c?.destroy();
  });

  it('does not end the monitor service', async () => {
    await c.stopKeeper('monitor');
    expect(await hupAtEachStart(c, 'monitor')).toEqual(Array(STARTS).fill('running'));
    c.restartKeeper('monitor');
  }, 120_000);

  it('does not end the keeper', async () => {
    await c.stopKeeper('node1');
    expect(await hupAtEachStart(c, 'node1')).toEqual(Array(STARTS).fill('running'));
  }, 120_000);

  it('a config set written after the keeper read its configuration, before its pid file existed, is not lost', async () => {
    // in-process, so that the write lands exactly there: runDataNode's onOpen runs after the
    // node was opened (configuration read) and before the pid file is claimed
    await c.stopKeeper('node1');
    const port = await freePort();
    const env = c.env(c.member('node1'));
    const saved = { ...process.env };
    Object.assign(process.env, { PGDATA: env.PGDATA, XDG_CONFIG_HOME: env.XDG_CONFIG_HOME, XDG_DATA_HOME: env.XDG_DATA_HOME, XDG_RUNTIME_DIR: env.XDG_RUNTIME_DIR, PGHOST: env.PGHOST });
    setLogLevel('error');
    let node: OpenNode | undefined;
    let setResult: ReturnType<typeof spawnSync> | undefined;
    const run = runDataNode(env.PGDATA!, log, {
      handleSignals: false,
      onOpen: (n) => {
        node = n;
        setResult = spawnSync(process.execPath, [CLI, 'config', 'set', 'http.port', String(port)], { env, encoding: 'utf8', timeout: 15_000 });
      },
    });
    try {
      expect(setResult?.status, String(setResult?.stderr)).toBe(0);
      const deadline = Date.now() + 15_000;
      let status = 0;
      while (Date.now() < deadline && status === 0) {
        status = await fetch(`http://127.0.0.1:${port}/liveness`, { signal: AbortSignal.timeout(1000) }).then((res) => res.status, () => 0);
        if (status === 0) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status, 'the keeper serves the http.port set while it started').toBe(200);
    } finally {
      node?.keeper.stop();
      await run.catch(() => undefined);
      process.env = saved;
      setLogLevel('info');
    }
  }, 60_000);
});
