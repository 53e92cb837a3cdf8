// Field checks for the small records the long-running processes read (state file, node
// INI config): plain functions, so that a keeper does not load a schema library (memory).
// Each returns the value or records "key: what was expected, what was found".

export class FieldErrors {
  readonly issues: string[] = [];

  private bad(key: string, expected: string, found: unknown): undefined {
    this.issues.push(`${key}: expected ${expected}, found ${found === undefined ? 'nothing' : JSON.stringify(found)}`);
    return undefined;
  }

  string(key: string, v: unknown, opts: { min?: number; max?: number; startsWith?: string; pattern?: RegExp; what?: string } = {}): string {
    const what = opts.what ?? 'a string';
    if (typeof v !== 'string') return this.bad(key, what, v) ?? '';
    if (v.length < (opts.min ?? 0) || (opts.max !== undefined && v.length > opts.max)) return this.bad(key, what, v) ?? '';
    if (opts.startsWith !== undefined && !v.startsWith(opts.startsWith)) return this.bad(key, what, v) ?? '';
    if (opts.pattern && !opts.pattern.test(v)) return this.bad(key, what, v) ?? '';
    return v;
  }

  /** A string that `problem` (lib/identity.ts) accepts; `what` says what was expected. */
  checked(key: string, v: unknown, what: string, problem: (v: string) => string | undefined): string {
    if (typeof v !== 'string') return this.bad(key, what, v) ?? '';
    const p = problem(v);
    if (p) {
      this.issues.push(`${key}: expected ${what}, found ${JSON.stringify(v.length > 80 ? v.slice(0, 80) + '…' : v)} (${p})`);
      return v;
    }
    return v;
  }

  optionalString(key: string, v: unknown): string | undefined {
    if (v === undefined) return undefined;
    return this.string(key, v);
  }

  /** A number, from a number or a numeric string (INI values are strings). */
  number(key: string, v: unknown, opts: { int?: boolean; min?: number; max?: number; positive?: boolean } = {}): number {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    const what =
      `${opts.int ? 'an integer' : 'a number'}` +
      (opts.min !== undefined || opts.max !== undefined ? ` from ${opts.min ?? '-∞'} to ${opts.max ?? '∞'}` : '') +
      (opts.positive ? ' above 0' : '');
    if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) ||
        (opts.max !== undefined && n > opts.max) || (opts.positive && n <= 0)) {
      return this.bad(key, what, v) ?? 0;
    }
    return n;
  }

  oneOf<T extends string>(key: string, v: unknown, values: readonly T[]): T {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      return this.bad(key, `one of ${values.join(', ')}`, v) ?? values[0]!;
    }
    return v as T;
  }

  bool(key: string, v: unknown): boolean {
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    return this.bad(key, 'true or false', v) ?? false;
  }

  get ok(): boolean {
    return this.issues.length === 0;
  }
}
