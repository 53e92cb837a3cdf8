// Names of local OS users, from /etc/passwd (Node has no getpwuid).
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** The login name and home of a uid, or undefined when /etc/passwd does not list it. */
export function passwdEntry(uid: number): { name: string; home: string } | undefined {
  let text: string;
  try {
    text = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  const f = text
    .split('\n')
    .map((l) => l.split(':'))
    .find((fields) => fields.length >= 6 && Number(fields[2]) === uid && fields[2] !== '');
  return f?.[0] ? { name: f[0], home: f[5] ?? '' } : undefined;
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
