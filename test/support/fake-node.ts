// Files a data node leaves behind (its pg_autoctl.cfg and state file, as `create postgres`
// writes them), for CLI tests that drive nodes through the monitor's SQL API without keepers;
// and a by-PID stop for the Postgres servers such tests start.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgBin, type OsUser } from '../../lib/pgbin.js';

export interface FakeNodeOptions {
  /** where the node's (empty) PGDATA goes: <dir>/<name>; also its socket directory */
  dir: string;
  xdg: { XDG_CONFIG_HOME: string; XDG_DATA_HOME: string };
  monitorUri: string;
  name: string;
  nodeId: number;
  port: number;
  role: string;
  runAs?: OsUser;
}

/** Writes the node's config and state files; returns its PGDATA. */
export function writeFakeDataNode(o: FakeNodeOptions): string {
  const nodeData = join(o.dir, o.name);
  mkdirSync(nodeData, { recursive: true });
  const cfgDir = join(o.xdg.XDG_CONFIG_HOME, 'pg_autoctl', nodeData);
  const stateDir = join(o.xdg.XDG_DATA_HOME, 'pg_autoctl', nodeData);
  mkdirSync(cfgDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(
    join(cfgDir, 'pg_autoctl.cfg'),
    [
      '[pg_autoctl]',
      'role = keeper',
      `monitor = ${o.monitorUri}`,
      'formation = default',
      'group = 0',
      `name = ${o.name}`,
      'hostname = 127.0.0.1',
      'nodekind = standalone',
      '',
      '[postgresql]',
      `pgdata = ${nodeData}`,
      `pg_ctl = ${pgBin('pg_ctl')}`,
      `username = ${o.runAs?.name ?? 'postgres'}`,
      'dbname = postgres',
      `host = ${o.dir}`,
      `port = ${o.port}`,
      'listen_addresses = 127.0.0.1',
      'auth_method = trust',
      'hba_level = app',
      '',
    ].join('\n'),
  );
  const state = {
    version: 1,
    current_role: o.role,
    assigned_role: o.role,
    nodeId: o.nodeId,
    groupId: 0,
    last_monitor_contact: 0,
    last_secondary_contact: 0,
    pgversion: 0,
  };
  writeFileSync(join(stateDir, 'pg_autoctl.state'), JSON.stringify(state));
  return nodeData;
}

/** pg_ctl stop -m immediate, then SIGKILL by the pid file if it is still there. */
export function stopPostgresAt(pgdata: string, runAs?: OsUser): void {
  if (!existsSync(join(pgdata, 'postmaster.pid'))) return;
  spawnSync(pgBin('pg_ctl'), ['-D', pgdata, '-m', 'immediate', '-w', '-t', '30', 'stop'], {
    uid: runAs?.uid,
    gid: runAs?.gid,
    cwd: '/',
    stdio: 'ignore',
  });
  try {
    const pid = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}
