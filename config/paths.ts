// Where pg_autoctl keeps a node's files, keyed by the absolute PGDATA path:
// configuration under $XDG_CONFIG_HOME/pg_autoctl/<PGDATA>/pg_autoctl.cfg (default ~/.config),
// state under $XDG_DATA_HOME/pg_autoctl/<PGDATA>/ (default ~/.local/share).
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

/** PGDATA as an absolute path with symlinks of its existing part resolved. */
export function canonicalPgdata(pgdata: string, cwd = process.cwd()): string {
  const abs = resolve(cwd, pgdata);
  let head = abs;
  const tail: string[] = [];
  while (!existsSync(head)) {
    const up = dirname(head);
    if (up === head) return abs;
    tail.unshift(basename(head));
    head = up;
  }
  return join(realpathSync(head), ...tail);
}

function xdgDir(env: NodeJS.ProcessEnv, name: 'XDG_CONFIG_HOME' | 'XDG_DATA_HOME', fallback: string, home: string): string {
  const v = env[name];
  return v && isAbsolute(v) ? v : join(home, fallback);
}

export function configFilePath(pgdata: string, env = process.env, home = homedir()): string {
  return join(xdgDir(env, 'XDG_CONFIG_HOME', '.config', home), 'pg_autoctl', pgdata, 'pg_autoctl.cfg');
}

export function stateDirPath(pgdata: string, env = process.env, home = homedir()): string {
  return join(xdgDir(env, 'XDG_DATA_HOME', '.local/share', home), 'pg_autoctl', pgdata);
}

/** A node's password file, beside its pg_autoctl.cfg (0600): autoctl_node.password on a monitor, monitor.password on a data node. */
export function secretFilePath(pgdata: string, name: 'autoctl_node.password' | 'monitor.password', env = process.env, home = homedir()): string {
  return join(dirname(configFilePath(pgdata, env, home)), name);
}
