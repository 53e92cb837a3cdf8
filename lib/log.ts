// The logger: one line per event on stderr, "HH:MM:SS pid LEVEL sentence key=value ...";
// values with spaces, quotes or line breaks are JSON strings, so every event stays one line.
// Child loggers carry fields (node, formation, group, state) onto every line.
// Passwords never reach the output: every line goes through maskSecrets().

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

let threshold: LogLevel = 'info';
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function logLevel(): LogLevel {
  return threshold;
}

/** -q → warnings and errors only; -v → debug; -vv (or more) → trace; default info. */
export function levelFromFlags(verbose: number, quiet: boolean): LogLevel {
  if (quiet) return 'warn';
  if (verbose >= 2) return 'trace';
  if (verbose === 1) return 'debug';
  return 'info';
}

/** Where lines go (stderr by default); tests capture them. Returns the previous sink. */
export function setLogSink(fn: (line: string) => void): (line: string) => void {
  const prev = sink;
  sink = fn;
  return prev;
}

const MASK = '****';

/**
 * Replaces passwords in text: `password=...` in conninfo strings (quoted or not),
 * `user:password@` in URIs, `password=` URI query parameters, and PGPASSWORD=.
 */
export function maskSecrets(text: string): string {
  return (
    text
      // URI userinfo: scheme://user:secret@host
      .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*):([^\s@/]*)@/gi, `$1:${MASK}@`)
      // URI query parameter: ?password=secret&... or &password=secret
      .replace(/([?&]password=)[^\s&#]*/gi, `$1${MASK}`)
      // conninfo keyword: password=secret, password = 'se cret', PGPASSWORD=secret
      .replace(/(?<![?&\w])((?:pg)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)/gi, `$1${MASK}`)
  );
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

function formatValue(v: LogFields[string]): string {
  const s = String(v);
  return s === '' || /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

export function formatLine(level: LogLevel, message: string, fields: LogFields, now = new Date()): string {
  const time = `${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}`;
  const kv = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  // one event, one line: a multi-line message (a tool's stderr in an error) keeps its breaks as \n
  const text = message.trimEnd().replace(/\r?\n/g, '\\n');
  const line = `${time} ${process.pid} ${level.toUpperCase().padEnd(5)} ${text}${kv ? ' ' + kv : ''}`;
  return maskSecrets(line);
}

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  trace(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

function makeLogger(base: LogFields): Logger {
  const emit = (level: LogLevel) => (message: string, fields: LogFields = {}) => {
    if (ORDER[level] > ORDER[threshold]) return;
    sink(formatLine(level, message, { ...base, ...fields }));
  };
  return {
    error: emit('error'),
    warn: emit('warn'),
    info: emit('info'),
    debug: emit('debug'),
    trace: emit('trace'),
    child: (fields) => makeLogger({ ...base, ...fields }),
  };
}

export const log: Logger = makeLogger({});
