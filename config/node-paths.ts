// Where a data node keeps its files, keyed by PGDATA like the original: config and state under
// XDG folders, pid and server log under $XDG_RUNTIME_DIR (default /tmp).
import { join } from 'node:path';
import { configFilePath, stateDirPath } from './paths.js';

export interface NodePaths {
  config: string;
  state: string;
  init: string;
  /** the node list of a node without a monitor (do fsm nodes set), as the original's nodes.json */
  nodes: string;
  /** where run directories live: $XDG_RUNTIME_DIR, else /tmp (trusted; runDir is checked below it) */
  runBase: string;
  runDir: string;
  pid: string;
  postgresLog: string;
}

export function nodePaths(pgdata: string, env: NodeJS.ProcessEnv = process.env): NodePaths {
  const stateDir = stateDirPath(pgdata, env);
  const runBase = runBaseOf(env);
  const runDir = join(runBase, 'pg_autoctl', pgdata);
  return {
    config: configFilePath(pgdata, env),
    state: join(stateDir, 'pg_autoctl.state'),
    init: join(stateDir, 'pg_autoctl.init'),
    nodes: join(stateDir, 'nodes.json'),
    runBase,
    runDir,
    pid: join(runDir, 'pg_autoctl.pid'),
    postgresLog: join(runDir, 'postgres.log'),
  };
}

/** $XDG_RUNTIME_DIR when it is an absolute path, else /tmp (as the original). */
export function runBaseOf(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.XDG_RUNTIME_DIR;
  return v && v.startsWith('/') ? v : '/tmp';
}
