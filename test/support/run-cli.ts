// Running the built pgaf CLI in a test: one child process, its exit code and output collected,
// killed after a timeout.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../lib/package-root.js';

/** The installed program (package.json bin), which runs dist/cli/main.js for what is not a fast command. */
export const CLI = join(packageRoot(), 'dist', 'cli', 'pgaf.cjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** process.env without what would point the CLI at another node or monitor. */
export function cleanEnv(drop: string[] = []): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const k of ['PGDATA', 'PGPORT', 'PGHOST', 'PG_AUTOCTL_MONITOR', ...drop]) delete base[k];
  return base;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CliResult> {
  return runCollect(process.execPath, [CLI, ...args], env, timeoutMs);
}

/** Any program run to its end: exit code (-1 when killed by a signal) and output; SIGKILL after `timeoutMs`. */
export function runCollect(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout!.on('data', (d) => (stdout += d));
    p.stderr!.on('data', (d) => (stderr += d));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
