// The monitor service reads its [http] and [hooks] settings at start and again on SIGHUP. A
// SIGHUP that comes during the start-up (`config set http.port` right after `pgaf run`, as the
// status-page test does) used to be undone: the start-up then applied the settings it had read
// first and closed the status page the SIGHUP had opened. Here the service runs in-process with
// a supervisor that holds the start-up until the SIGHUP has been handled; no Postgres is needed
// (the start-up's SQL steps fail, are logged, and the service goes on).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { monitorConfigFromIni, readNodeIni } from '../../config/node-config.js';
import { nodePaths } from '../../config/node-paths.js';
import { log, setLogLevel } from '../../lib/log.js';
import { runMonitor } from '../../monitor-ext/service.js';
import { freePort } from '../support/postgres.js';

const saved = { ...process.env };
const dirs: string[] = [];
afterEach(() => {
  process.env = { ...saved };
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function monitorIni(pgdata: string, httpPort?: number): string {
  return [
    '[pg_autoctl]', 'role = monitor', 'hostname = 127.0.0.1', '',
    '[postgresql]', `pgdata = ${pgdata}`, 'pg_ctl = /usr/lib/postgresql/15/bin/pg_ctl', 'dbname = pg_auto_failover',
    'username = postgres', `host = ${join(pgdata, 'no-socket-here')}`, 'port = 5999', 'listen_addresses = 127.0.0.1',
    'auth_method = scram-sha-256', '',
    ...(httpPort ? ['[http]', `port = ${httpPort}`, ''] : []),
  ].join('\n');
}

async function served(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

/** A monitor node's files in a new folder, its config without [http]; the service not started. */
function monitorFiles() {
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-monitor-hup-'));
  dirs.push(dir);
  process.env.XDG_CONFIG_HOME = join(dir, 'config');
  process.env.XDG_DATA_HOME = join(dir, 'share');
  process.env.XDG_RUNTIME_DIR = join(dir, 'run');
  const pgdata = join(dir, 'pgdata');
  mkdirSync(pgdata, { recursive: true });
  const paths = nodePaths(pgdata);
  mkdirSync(dirname(paths.config), { recursive: true });
  writeFileSync(paths.config, monitorIni(pgdata));
  const read = readNodeIni(pgdata)!;
  return { pgdata, paths, cfg: monitorConfigFromIni(read.ini, read.path) };
}

/** The service in-process, its start-up held in the supervisor until `release()`. */
function startHeld(cfg: ReturnType<typeof monitorFiles>['cfg']) {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let stop: (() => void) | undefined;
  const run = runMonitor(cfg, log, {
    handleSignals: false,
    onStop: (s) => (stop = s),
    supervisor: { kind: 'test', isRunning: async () => (await held, true), start: async () => undefined },
  });
  return { release, end: async () => (stop?.(), await run.catch(() => undefined)) };
}

/** Whether the page is served within 5 s, and still 300 ms later (nothing applied old settings after). */
async function servedAndStays(port: number): Promise<boolean> {
  let ok = false;
  for (let i = 0; i < 50 && !ok; i++) {
    ok = await served(port);
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  if (!ok) return false;
  await new Promise((r) => setTimeout(r, 300));
  return served(port);
}

describe('the monitor service and a `config set http.port` right after its start', () => {
  setLogLevel('error');
  it('a SIGHUP during the start-up: the status page it turned on stays', async () => {
    const { pgdata, paths, cfg } = monitorFiles();
    const port = await freePort();
    const svc = startHeld(cfg);
    try {
      // the start-up now waits in the supervisor: `config set http.port` writes the file and signals
      writeFileSync(paths.config, monitorIni(pgdata, port));
      process.emit('SIGHUP', 'SIGHUP');
      svc.release();
      expect(await servedAndStays(port), 'the status page is served after the start-up').toBe(true);
    } finally {
      await svc.end();
    }
  }, 30_000);

  it('written after the service read its configuration but before its pid file existed (nobody signalled): not lost', async () => {
    const { pgdata, paths, cfg } = monitorFiles();
    const port = await freePort();
    writeFileSync(paths.config, monitorIni(pgdata, port));
    const svc = startHeld(cfg); // cfg: what `pgaf run` read before the write
    try {
      svc.release();
      expect(await servedAndStays(port), 'the status page is served after the start-up').toBe(true);
    } finally {
      await svc.end();
    }
  }, 30_000);
});
