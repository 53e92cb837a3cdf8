// Runs one state-change hook: a command (`sh -c`, as the PGDATA owner when we are root) or
// an http(s):// webhook (POST). The event goes in PGAF_* environment variables and as JSON
// on stdin (or as the request body). The environment is built from an allow-list: a hook
// never sees the keeper's secrets (PGPASSWORD, the replication password, ...). Every run
// ends in one log sentence with its outcome.
import { spawn } from 'node:child_process';
import type { Logger } from './log.js';
import type { OsUser } from './pgbin.js';
import { postWebhook } from './webhook-post.js';

export interface HookEvent {
  /** the hook's name: on_role_change, on_primary, on_demote, pre_promote, on_failover */
  hook: string;
  formation: string;
  group: number;
  nodeId: number;
  name: string;
  oldState: string;
  newState: string;
  oldRole?: string;
  newRole?: string;
  /** anything else worth passing (kind of failover, old primary, reason, port, ...) */
  extra?: Record<string, string | number>;
}

export interface HookOutcome {
  ok: boolean;
  ms: number;
  /** one sentence */
  sentence: string;
}

export interface HookRunOptions {
  timeoutSec: number;
  log: Logger;
  /** run the command as this user (we are root) */
  runAs?: OsUser;
  /** a fencing hook: its failure is logged as a cancellation */
  fencing?: boolean;
}

/** Variables copied from our environment; nothing else (secrets stay out). */
const PASS_THROUGH = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ', 'TMPDIR', 'HOME', 'USER', 'LOGNAME'];

export function hookEnv(ev: HookEvent, from: NodeJS.ProcessEnv = process.env, runAs?: OsUser): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASS_THROUGH) if (from[k] !== undefined) env[k] = from[k]!;
  if (!env.PATH) env.PATH = '/usr/local/bin:/usr/bin:/bin';
  if (runAs) {
    env.USER = runAs.name;
    env.LOGNAME = runAs.name;
    delete env.HOME;
  }
  env.PGAF_HOOK = ev.hook;
  env.PGAF_FORMATION = ev.formation;
  env.PGAF_GROUP = String(ev.group);
  env.PGAF_NODE_ID = String(ev.nodeId);
  env.PGAF_NODE_NAME = ev.name;
  env.PGAF_OLD_STATE = ev.oldState;
  env.PGAF_NEW_STATE = ev.newState;
  if (ev.oldRole !== undefined) env.PGAF_OLD_ROLE = ev.oldRole;
  if (ev.newRole !== undefined) env.PGAF_NEW_ROLE = ev.newRole;
  for (const [k, v] of Object.entries(ev.extra ?? {})) env[`PGAF_${k.toUpperCase()}`] = String(v);
  return env;
}

export function hookPayload(ev: HookEvent, at = new Date()): string {
  return JSON.stringify({
    hook: ev.hook,
    formation: ev.formation,
    group: ev.group,
    node_id: ev.nodeId,
    node: ev.name,
    old_state: ev.oldState,
    new_state: ev.newState,
    old_role: ev.oldRole,
    new_role: ev.newRole,
    ...(ev.extra ?? {}),
    time: at.toISOString(),
  });
}

function isWebhook(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/** How a hook is named in the log: the command's first word, or the URL without credentials. */
export function hookLabel(spec: string): string {
  if (isWebhook(spec)) {
    try {
      const u = new URL(spec);
      u.username = '';
      u.password = '';
      const query = u.search ? '?…' : '';
      u.search = '';
      return u.toString() + query;
    } catch {
      return 'a webhook';
    }
  }
  const first = spec.trim().split(/\s+/)[0] ?? spec;
  return first.length > 80 ? `${first.slice(0, 77)}...` : first;
}

function tail(text: string): string {
  const t = text.trim().split('\n').pop()?.trim() ?? '';
  return t.length > 200 ? `…${t.slice(-200)}` : t;
}

export async function runHook(spec: string, ev: HookEvent, o: HookRunOptions): Promise<HookOutcome> {
  const started = Date.now();
  const label = `Hook ${ev.hook} (${hookLabel(spec)}) for ${ev.oldState} -> ${ev.newState}`;
  const done = (ok: boolean, what: string): HookOutcome => {
    const ms = Date.now() - started;
    const sentence = `${label} ${what.replace('{ms}', `in ${ms} ms`)}${!ok && o.fencing ? ': the promotion is cancelled' : ''}.`;
    if (ok) o.log.info(sentence);
    else o.log.warn(sentence);
    return { ok, ms, sentence };
  };
  if (isWebhook(spec)) {
    try {
      const status = await postWebhook(spec, hookPayload(ev), { 'content-type': 'application/json', 'user-agent': 'pgaf-hook' }, o.timeoutSec * 1000);
      const ok = status >= 200 && status < 300;
      return done(ok, `${ok ? 'succeeded' : 'failed'} with HTTP ${status} {ms}`);
    } catch (err) {
      const e = err as Error;
      return done(false, e.name === 'TimeoutError' ? `timed out after ${o.timeoutSec} s` : `failed {ms}: ${e.message}`);
    }
  }
  return new Promise<HookOutcome>((resolve) => {
    let child;
    try {
      child = spawn('/bin/sh', ['-c', spec], {
        env: hookEnv(ev, process.env, o.runAs),
        stdio: ['pipe', 'ignore', 'pipe'],
        detached: true,
        uid: o.runAs?.uid,
        gid: o.runAs?.gid,
      });
    } catch (err) {
      resolve(done(false, `could not start {ms}: ${(err as Error).message}`));
      return;
    }
    let stderr = '';
    let timedOut = false;
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(hookPayload(ev) + '\n');
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, o.timeoutSec * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve(done(false, `could not start {ms}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve(done(false, `timed out after ${o.timeoutSec} s and was killed`));
      else if (code === 0) resolve(done(true, 'succeeded {ms}'));
      else resolve(done(false, `failed with ${code !== null ? `exit code ${code}` : `signal ${signal}`} {ms}${tail(stderr) ? ` (${tail(stderr)})` : ''}`));
    });
  });
}

/** Runs hooks one after the other, in the order they were asked for, without making the caller wait. */
export class HookQueue {
  private chain: Promise<unknown> = Promise.resolve();
  private pending = 0;

  enqueue(run: () => Promise<unknown>): void {
    this.pending += 1;
    this.chain = this.chain.then(run).catch(() => undefined).finally(() => (this.pending -= 1));
  }

  /** Resolves when every queued hook has finished. */
  idle(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  get size(): number {
    return this.pending;
  }
}
