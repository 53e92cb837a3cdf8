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

describe('the monitor service and a SIGHUP during its start-up', () => {
  setLogLevel('error');
  it('keeps the status page the SIGHUP turned on', async () => {
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
    const started = readNodeIni(pgdata)!;
    const port = await freePort();

    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let stop!: () => void;
    const run = runMonitor(monitorConfigFromIni(started.ini, started.path), log, {
      handleSignals: false,
      onStop: (s) => (stop = s),
      supervisor: { kind: 'test', isRunning: async () => (await held, true), start: async () => undefined },
    });
    try {
      // the start-up now waits in the supervisor: `config set http.port` writes the file and signals
      writeFileSync(paths.config, monitorIni(pgdata, port));
      process.emit('SIGHUP', 'SIGHUP');
      release();
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await served(port);
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ok, 'the status page is served after the start-up').toBe(true);
      // and it stays: nothing applies the settings read before the SIGHUP afterwards
      await new Promise((r) => setTimeout(r, 300));
      expect(await served(port)).toBe(true);
    } finally {
      stop?.();
      await run.catch(() => undefined);
    }
  }, 30_000);
});
