// A tiny Prometheus text exposition writer (format 0.0.4) for the keeper and the monitor's
// worker. prom-client would cost the keeper about 11 MB of RSS and 100 ms of start-up
// (measured: docs/integrations.md); what we export is a handful of gauges, counters and
// histograms, so we write them ourselves.

export type Labels = Record<string, string | number>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(l: Labels | undefined): string {
  if (!l) return '';
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function key(l: Labels | undefined): string {
  return JSON.stringify(Object.entries(l ?? {}).sort());
}

/** Counters and histograms that live as long as the process; gauges are written per scrape. */
export class MetricStore {
  private readonly counters = new Map<string, { help: string; values: Map<string, { labels?: Labels; v: number }> }>();
  private readonly histograms = new Map<string, { help: string; buckets: number[]; values: Map<string, { labels?: Labels; counts: number[]; sum: number; n: number }> }>();

  counter(name: string, help: string): void {
    if (!this.counters.has(name)) this.counters.set(name, { help, values: new Map() });
  }

  inc(name: string, labels?: Labels, by = 1): void {
    const c = this.counters.get(name);
    if (!c) throw new Error(`no counter ${name}`);
    const k = key(labels);
    const cur = c.values.get(k) ?? { labels, v: 0 };
    cur.v += by;
    c.values.set(k, cur);
  }

  /** The counter's value for these labels (0 when never incremented). */
  value(name: string, labels?: Labels): number {
    return this.counters.get(name)?.values.get(key(labels))?.v ?? 0;
  }

  histogram(name: string, help: string, buckets: number[]): void {
    if (!this.histograms.has(name)) this.histograms.set(name, { help, buckets: [...buckets].sort((a, b) => a - b), values: new Map() });
  }

  observe(name: string, v: number, labels?: Labels): void {
    const h = this.histograms.get(name);
    if (!h) throw new Error(`no histogram ${name}`);
    const k = key(labels);
    const cur = h.values.get(k) ?? { labels, counts: h.buckets.map(() => 0), sum: 0, n: 0 };
    h.buckets.forEach((b, i) => {
      if (v <= b) cur.counts[i]! += 1;
    });
    cur.sum += v;
    cur.n += 1;
    h.values.set(k, cur);
  }

  /** Declared counters appear at 0 with these labels, so that rate() works from the first scrape. */
  touch(name: string, labels?: Labels): void {
    this.inc(name, labels, 0);
  }

  write(out: Exposition): void {
    for (const [name, c] of this.counters) {
      out.family(name, 'counter', c.help);
      for (const { labels, v } of c.values.values()) out.sample(name, v, labels);
    }
    for (const [name, h] of this.histograms) {
      out.family(name, 'histogram', h.help);
      for (const { labels, counts, sum, n } of h.values.values()) {
        h.buckets.forEach((b, i) => out.sample(`${name}_bucket`, counts[i]!, { ...labels, le: num(b) }));
        out.sample(`${name}_bucket`, n, { ...labels, le: '+Inf' });
        out.sample(`${name}_sum`, sum, labels);
        out.sample(`${name}_count`, n, labels);
      }
    }
  }
}

/** Lines of one scrape. */
export class Exposition {
  private readonly lines: string[] = [];
  private readonly seen = new Set<string>();

  family(name: string, type: 'gauge' | 'counter' | 'histogram', help: string): this {
    if (this.seen.has(name)) return this;
    this.seen.add(name);
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, labels?: Labels): this {
    this.lines.push(`${name}${labelText(labels)} ${num(value)}`);
    return this;
  }

  gauge(name: string, help: string, value: number | null | undefined, labels?: Labels): this {
    this.family(name, 'gauge', help);
    if (value !== null && value !== undefined) this.sample(name, value, labels);
    return this;
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}
