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
  runDir: string;
  pid: string;
  postgresLog: string;
}

export function nodePaths(pgdata: string, env: NodeJS.ProcessEnv = process.env): NodePaths {
  const stateDir = stateDirPath(pgdata, env);
  const runDir = join(env.XDG_RUNTIME_DIR || '/tmp', 'pg_autoctl', pgdata);
  return {
    config: configFilePath(pgdata, env),
    state: join(stateDir, 'pg_autoctl.state'),
    init: join(stateDir, 'pg_autoctl.init'),
    nodes: join(stateDir, 'nodes.json'),
    runDir,
    pid: join(runDir, 'pg_autoctl.pid'),
    postgresLog: join(runDir, 'postgres.log'),
  };
}
