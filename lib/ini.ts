// The INI format of pg_autoctl.cfg: "[section]" headers, "key = value" lines, # or ; comments.
export type Ini = Record<string, Record<string, string>>;

/**
 * A bad line as an error shows it: quoted with its control characters escaped (a corrupt or
 * hostile file cannot write to the terminal or forge a log line), cut to 40 characters, and
 * never a line that may hold a password (pg_autoctl.cfg keeps the replication password).
 */
function shownLine(line: string): string {
  if (/pass/i.test(line)) return `a line of ${line.length} characters that mentions a password (not shown)`;
  return JSON.stringify(line.length > 40 ? `${line.slice(0, 40)}…` : line);
}

export function parseIni(text: string): Ini {
  const out: Ini = {};
  let section: Record<string, string> | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = out[header[1]!.trim()] ??= {};
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !section) throw new Error(`line ${i + 1}: expected "[section]" or "key = value", got ${shownLine(line)}`);
    section[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  });
  return out;
}

export function stringifyIni(ini: Ini): string {
  return (
    Object.entries(ini)
      .map(([name, kv]) => [`[${name}]`, ...Object.entries(kv).map(([k, v]) => `${k} = ${v}`)].join('\n'))
      .join('\n\n') + '\n'
  );
}
