// `pgaf watch`: a live view of a formation in the terminal: its nodes (states, health, LSN
// and lag behind the primary) and its last events. Plain ANSI escapes, no curses: the
// alternate screen, a redraw on every NOTIFY 'state'/'log' from the monitor and every
// second, on terminal resize (SIGWINCH), and q (or Ctrl-C) to quit. Works over ssh and in tmux.
import type { Argv } from 'yargs';
import { log, setLogSink } from '../lib/log.js';
import { currentState, lastEvents, type EventRow, type NodeStateRow } from '../lib/monitor-queries.js';
import { openSession, type SqlSession } from '../lib/sql.js';
import { localNodeDefaults, parseFormation, parseNonNegativeInt, resolveMonitor } from './options.js';
import { connectionType, nodeCell, renderTable } from './tables.js';

export interface WatchData {
  formation: string;
  monitor: string;
  nodes: NodeStateRow[];
  events: EventRow[];
  /** when the data was read */
  at: Date;
  /** the last error talking to the monitor, shown in the header */
  error?: string;
}

/** "16/B374D848" → bytes, or undefined when it is not an LSN. */
export function lsnBytes(lsn: string | null | undefined): bigint | undefined {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(String(lsn ?? ''));
  if (!m) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/** A byte count in the units pg_size_pretty uses. */
export function prettyBytes(n: bigint): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= 10 * 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Math.round(v)} ${units[i]}`;
}

const PRIMARY_STATES = new Set(['single', 'primary', 'wait_primary', 'join_primary', 'apply_settings']);

/** The lag of each node behind the primary's reported LSN ('' for the primary, '-' when unknown). */
export function lagCells(nodes: NodeStateRow[]): string[] {
  const primary = nodes.find((n) => PRIMARY_STATES.has(n.current_group_state) && PRIMARY_STATES.has(n.assigned_group_state));
  const plsn = lsnBytes(primary?.reported_lsn);
  return nodes.map((n) => {
    if (n === primary) return 'primary';
    const l = lsnBytes(n.reported_lsn);
    if (plsn === undefined || l === undefined) return '-';
    const d = plsn - l;
    return prettyBytes(d < 0n ? 0n : d);
  });
}

export function healthName(h: number): string {
  return h === 1 ? 'up' : h === 0 ? 'down' : '?';
}

function clip(line: string, cols: number): string {
  return line.length > cols ? line.slice(0, Math.max(0, cols - 1)) + '…' : line;
}

function clock(iso: string | Date): string {
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** The whole screen as lines, each at most `cols` wide, at most `rows` of them. */
export function renderWatchScreen(d: WatchData, cols: number, rows: number): string[] {
  cols = Math.max(20, cols);
  rows = Math.max(5, rows);
  const lines: string[] = [];
  lines.push(`pgaf watch  formation "${d.formation}"  monitor ${d.monitor}  ${clock(d.at)}`);
  lines.push(d.error ? `monitor error: ${d.error}` : `${d.nodes.length} node(s)   q: quit`);
  lines.push('');
  const lags = lagCells(d.nodes);
  const table = renderTable(
    [
      { header: 'Name', minWidth: 4 },
      { header: 'Node', minWidth: 4 },
      { header: 'Host:Port', minWidth: 9 },
      { header: 'TLI: LSN', minWidth: 9 },
      { header: 'Lag', minWidth: 7 },
      { header: 'Connection', minWidth: 10 },
      { header: 'Health', minWidth: 6 },
      { header: 'Reported State', minWidth: 14 },
      { header: 'Assigned State', minWidth: 14, align: 'left' },
    ],
    d.nodes.map((r, i) => [
      r.nodename,
      nodeCell(r),
      `${r.nodehost}:${r.nodeport}`,
      `${String(r.reported_tli ?? 0).padStart(3)}: ${r.reported_lsn ?? '0/0'}`,
      lags[i]!,
      connectionType(r.current_group_state),
      healthName(r.health),
      r.current_group_state,
      r.assigned_group_state,
    ]),
  )
    .trimEnd()
    .split('\n');
  lines.push(...table);
  lines.push('');
  const room = rows - lines.length - 1;
  if (room > 0) {
    lines.push('Last events:');
    // newest last, as show events prints them; keep the newest that fit
    const ev = d.events.slice(-Math.max(0, room));
    for (const e of ev) {
      lines.push(`${clock(e.eventtime)}  ${e.groupid}/${e.nodeid}  ${(e.reportedstate ?? '').padStart(19)} -> ${(e.goalstate ?? '').padEnd(19)}  ${e.description ?? ''}`);
    }
  }
  return lines.slice(0, rows).map((l) => clip(l, cols));
}

const ESC = '\x1b[';
export const ALT_SCREEN_ON = `${ESC}?1049h${ESC}?25l`;
export const ALT_SCREEN_OFF = `${ESC}?25h${ESC}?1049l`;

/** A frame: home, each line followed by clear-to-end-of-line, then clear the rest. */
export function frame(lines: string[]): string {
  return `${ESC}H` + lines.map((l) => `${l}${ESC}K`).join('\r\n') + `\r\n${ESC}J`;
}

export interface WatchOptions {
  formation: string;
  group?: number;
  count: number;
}

export async function runWatch(args: { monitor?: unknown; pgdata?: unknown }, opts: WatchOptions): Promise<void> {
  const m = resolveMonitor(args);
  const where = m.target.host.startsWith('/') ? `${m.monitorConfig?.hostname ?? 'localhost'}:${m.target.port}` : `${m.target.host}:${m.target.port}`;
  const stdout = process.stdout;
  const stdin = process.stdin;
  const tty = stdout.isTTY === true;
  // Log lines would scribble over the screen: keep them for after.
  const held: string[] = [];
  const restoreSink = setLogSink((line) => held.push(line));

  let session: SqlSession | undefined;
  let data: WatchData = { formation: opts.formation, monitor: where, nodes: [], events: [], at: new Date() };
  let stopped = false;
  let dirty = true;
  let busy = false;
  let wake: (() => void) | undefined;

  const size = () => ({ cols: stdout.columns || 120, rows: stdout.rows || 40 });
  const draw = () => {
    const { cols, rows } = size();
    stdout.write(frame(renderWatchScreen(data, cols, rows)));
  };
  const refresh = async () => {
    if (busy) {
      dirty = true;
      return;
    }
    busy = true;
    try {
      do {
        dirty = false;
        try {
          if (!session || session.closed) {
            session = await openSession(m.target, { kind: 'monitor', applicationName: 'pgaf watch', connectTimeoutMs: 5000, queryTimeoutMs: 5000 });
            await session.listen('state', () => {
              dirty = true;
              wake?.();
            });
            await session.listen('log', () => {
              dirty = true;
              wake?.();
            });
          }
          const { rows } = size();
          const nodes = await currentState(session.query, opts.formation, opts.group);
          const events = await lastEvents(session.query, opts.formation, Math.max(opts.count, rows), opts.group);
          data = { formation: opts.formation, monitor: where, nodes, events, at: new Date() };
        } catch (err) {
          data = { ...data, at: new Date(), error: (err as Error).message };
          await session?.close();
          session = undefined;
        }
        if (!stopped) draw();
      } while (dirty && !stopped);
    } finally {
      busy = false;
    }
  };

  const quit = () => {
    stopped = true;
    wake?.();
  };
  const onKey = (b: Buffer) => {
    const k = b.toString();
    if (k.includes('q') || k.includes('Q') || k.includes('\x03')) quit();
  };
  const onResize = () => {
    if (!stopped) draw();
  };
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  process.on('SIGHUP', quit);
  process.on('SIGWINCH', onResize);
  stdout.on('resize', onResize);
  if (stdin.isTTY) {
    stdin.setRawMode(true);
  }
  stdin.on('data', onKey);
  stdin.on('end', () => {
    if (!stdin.isTTY) return;
    quit();
  });
  stdin.resume();
  if (tty) stdout.write(ALT_SCREEN_ON);
  try {
    while (!stopped) {
      await refresh();
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, dirty ? 50 : 1000);
        function done() {
          clearTimeout(t);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  } finally {
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
    process.off('SIGHUP', quit);
    process.off('SIGWINCH', onResize);
    stdout.off('resize', onResize);
    stdin.off('data', onKey);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    if (tty) stdout.write(ALT_SCREEN_OFF);
    await session?.close();
    setLogSink(restoreSink);
    for (const line of held) restoreSink(line);
    log.debug('watch: done');
  }
}

export function registerWatch(cli: Argv): Argv {
  return cli.command(
    'watch',
    'live view of a formation: nodes, states, health, LSN lag and last events (q quits)',
    (y) =>
      y
        .option('pgdata', { type: 'string', requiresArg: true, describe: 'data directory of a local node (default: $PGDATA)' })
        .option('monitor', { type: 'string', requiresArg: true, describe: 'monitor URI (default: from the config of --pgdata)' })
        .option('formation', { type: 'string', requiresArg: true, describe: 'formation (default: this node’s, else "default")' })
        .option('group', { type: 'string', requiresArg: true, describe: 'group id (default: all groups)' })
        .option('count', { type: 'string', requiresArg: true, default: '10', describe: 'at least this many events (more when the screen has room)' }),
    async (args) => {
      const d = localNodeDefaults(args);
      await runWatch(args, {
        formation: args.formation !== undefined ? parseFormation(args.formation) : (d.formation ?? 'default'),
        group: args.group !== undefined ? parseNonNegativeInt(args.group, '--group') : undefined,
        count: parseNonNegativeInt(args.count, '--count'),
      });
    },
  );
}
