// Names of local OS users, from /etc/passwd (Node has no getpwuid).
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** A line of /etc/passwd. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The first line of /etc/passwd that `match` accepts (fields split on ':'). */
function localPasswd(match: (fields: string[]) => boolean): PasswdEntry | undefined {
  let text: string;
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  const f = text
    .split('\n')
    .map((l) => l.split(':'))
    .find((fields) => fields.length >= 6 && fields[0] !== '' && fields[2] !== '' && fields[3] !== '' && match(fields));
  return f ? { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' } : undefined;
}

/** The /etc/passwd entry of a uid, or undefined when /etc/passwd does not list it. */
export function passwdEntry(uid: number): PasswdEntry | undefined {
  return localPasswd((f) => Number(f[2]) === uid);
}

/** The /etc/passwd entry of a login name, or undefined when /etc/passwd does not list it. */
export function passwdEntryByName(name: string): PasswdEntry | undefined {
  return localPasswd((f) => f[0] === name);
}

/**
 * Who owns the deepest directory on the way to `path` that this process can see: the user a
 * command should run as when `path` itself is out of its reach (undefined if none is found).
 */
export function ownerOfNearest(path: string): string | undefined {
  for (let p = path; ; p = dirname(p)) {
    try {
      const uid = statSync(p).uid;
      return passwdEntry(uid)?.name ?? `uid ${uid}`;
    } catch {
      if (p === dirname(p)) return undefined;
    }
  }
}
