// The INI format of pg_autoctl.cfg: "[section]" headers, "key = value" lines, # or ; comments.
export type Ini = Record<string, Record<string, string>>;

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
    if (eq <= 0 || !section) throw new Error(`line ${i + 1}: expected "[section]" or "key = value", got: ${line}`);
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
