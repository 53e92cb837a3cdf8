// Throwaway Postgres servers for tests: 127.0.0.1, a free port, their own socket
// directory, run as the `postgres` OS user when the tests run as root, and always removed.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pgBin, postgresRunAs, type OsUser } from '../../lib/pgbin.js';

export interface TestServer {
  readonly port: number;
  readonly host: string;
  readonly dir: string;
  readonly pgdata: string;
  readonly socketDir: string;
  readonly superuser: string;
  /** Connection string as the superuser, to database `db` (default postgres). */
  url(db?: string, user?: string): string;
  client(db?: string, user?: string): Promise<pg.Client>;
  /** Run one statement as superuser in `db` and return its rows. */
  query<T extends pg.QueryResultRow = any>(sql: string, params?: unknown[], db?: string): Promise<T[]>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<{ pgdata: string; dir: string; runAs?: OsUser }>();

/** A TCP port nobody listens on right now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function run(cmd: string, args: string[], runAs: OsUser | undefined, env: NodeJS.ProcessEnv = {}): string {
  const res = spawnSync(cmd, args, {
    encoding: 'utf8',
    uid: runAs?.uid,
    gid: runAs?.gid,
    env: { ...process.env, ...env, LC_ALL: 'C' },
    cwd: '/',
  });
  if (res.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.status}): ${res.stderr || res.stdout}`);
  }
  return res.stdout;
}

function pgCtlStop(pgdata: string, runAs: OsUser | undefined, mode = 'fast'): void {
  spawnSync(pgBin('pg_ctl'), ['-D', pgdata, '-m', mode, '-w', '-t', '30', 'stop'], {
    uid: runAs?.uid,
    gid: runAs?.gid,
    cwd: '/',
    stdio: 'ignore',
  });
}

/** Last resort if pg_ctl cannot stop it: SIGKILL the postmaster by the PID in its pid file. */
function killByPidFile(pgdata: string): void {
  try {
    const pid = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // not running
  }
}

export interface StartOptions {
  /** Extra lines for postgresql.conf. */
  conf?: string[];
  /** Lines prepended to pg_hba.conf. */
  hba?: string[];
}

export async function startPostgres(opts: StartOptions = {}): Promise<TestServer> {
  const runAs = postgresRunAs();
  const dir = mkdtempSync(join(tmpdir(), 'pgaf-test-'));
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  const pgdata = join(dir, 'pgdata');
  const socketDir = join(dir, 'sock');
  const superuser = runAs?.name ?? (process.env.USER || 'postgres');
  const entry = { pgdata, dir, runAs };
  live.add(entry);
  run('mkdir', ['-p', socketDir], runAs);
  run(pgBin('initdb'), ['-D', pgdata, '-U', superuser, '-A', 'trust', '-E', 'UTF8', '--no-sync'], runAs);
  const port = await freePort();
  const conf = [
    `listen_addresses = '127.0.0.1'`,
    `port = ${port}`,
    `unix_socket_directories = '${socketDir}'`,
    `fsync = off`,
    `shared_buffers = 32MB`,
    `max_connections = 50`,
    ...(opts.conf ?? []),
  ];
  writeFileSync(join(pgdata, 'postgresql.auto.conf'), conf.join('\n') + '\n');
  if (opts.hba?.length) {
    const hbaFile = join(pgdata, 'pg_hba.conf');
    writeFileSync(hbaFile, opts.hba.join('\n') + '\n' + readFileSync(hbaFile, 'utf8'));
  }
  const start = () =>
    run(pgBin('pg_ctl'), ['-D', pgdata, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', 'start'], runAs);
  start();

  const url = (db = 'postgres', user = superuser) => `postgresql://${encodeURIComponent(user)}@127.0.0.1:${port}/${db}`;
  const server: TestServer = {
    port,
    host: '127.0.0.1',
    dir,
    pgdata,
    socketDir,
    superuser,
    url,
    async client(db = 'postgres', user = superuser) {
      const c = new pg.Client({ connectionString: url(db, user) });
      await c.connect();
      return c;
    },
    async query(sql, params, db = 'postgres') {
      const c = await server.client(db);
      try {
        return (await c.query(sql, params as any[])).rows;
      } finally {
        await c.end();
      }
    },
    async restart() {
      pgCtlStop(pgdata, runAs);
      start();
    },
    async stop() {
      pgCtlStop(pgdata, runAs, 'immediate');
      killByPidFile(pgdata);
      rmSync(dir, { recursive: true, force: true });
      live.delete(entry);
    },
  };
  return server;
}

// Whatever a failing test left behind is stopped and removed when the worker exits.
process.once('exit', () => {
  for (const e of live) {
    pgCtlStop(e.pgdata, e.runAs, 'immediate');
    killByPidFile(e.pgdata);
    rmSync(e.dir, { recursive: true, force: true });
  }
});

export function sh(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
