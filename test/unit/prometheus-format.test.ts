// What the keeper's and the monitor's /metrics write is Prometheus' text format 0.0.4, read
// strictly: every line a HELP, a TYPE or a sample with valid names and escaped label values;
// one TYPE per family, before its samples, which are contiguous; no series twice; histograms
// with ascending cumulative buckets ending in +Inf = _count, and a _sum. A scraper that parses
// strictly (Prometheus itself) rejects a whole scrape for one bad line.
import { describe, expect, it } from 'vitest';
import { keeperMetricStore, keeperMetrics } from '../../keeper/http/metrics.js';
import type { KeeperSnapshot } from '../../keeper/http/snapshot.js';
import { monitorMetricStore, monitorMetrics } from '../../monitor-ext/status-page/metrics.js';
import { nodeViews, type NodeRow } from '../../monitor-ext/status-page/view.js';

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses `{a="x",b="y"}` from position i; returns the labels and the index after '}'. */
function parseLabels(line: string, i: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let j = i + 1;
  while (line[j] !== '}') {
    const eq = line.indexOf('=', j);
    if (eq < 0) throw new Error(`label without '=': ${line}`);
    const name = line.slice(j, eq);
    if (!LABEL.test(name) || name.startsWith('__')) throw new Error(`bad label name ${JSON.stringify(name)}: ${line}`);
    if (name in labels) throw new Error(`label ${name} twice: ${line}`);
    if (line[eq + 1] !== '"') throw new Error(`label value not quoted: ${line}`);
    let k = eq + 2;
    let v = '';
    for (; k < line.length && line[k] !== '"'; k++) {
      if (line[k] === '\\') {
        const e = line[++k];
        if (e === 'n') v += '\n';
        else if (e === '\\' || e === '"') v += e;
        else throw new Error(`bad escape \\${e}: ${line}`);
      } else v += line[k];
    }
    if (line[k] !== '"') throw new Error(`unterminated label value: ${line}`);
    labels[name] = v;
    j = k + 1;
    if (line[j] === ',') j += 1;
    else if (line[j] !== '}') throw new Error(`expected ',' or '}' after a label: ${line}`);
  }
  return { labels, end: j + 1 };
}

/** Strict parse of one exposition; throws on the first violation. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seenSeries = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const familyOf = (name: string) => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && types.get(base) === 'histogram') return base;
    }
    return name;
  };
  const enter = (family: string, line: string) => {
    if (family === current) return;
    if (closed.has(family)) throw new Error(`samples of ${family} are not contiguous: ${line}`);
    if (current) closed.add(current);
    current = family;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') throw new Error('empty line');
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const [, kind, name, ...rest] = line.split(' ');
      if (!METRIC.test(name!)) throw new Error(`bad metric name in ${line}`);
      if (kind === 'TYPE') {
        if (types.has(name!)) throw new Error(`second TYPE for ${name}`);
        if (samples.some((s) => familyOf(s.name) === name)) throw new Error(`TYPE of ${name} after its samples`);
        if (!TYPES.has(rest.join(' '))) throw new Error(`unknown type in ${line}`);
        types.set(name!, rest[0]!);
      } else {
        if (helps.has(name!)) throw new Error(`second HELP for ${name}`);
        helps.add(name!);
      }
      enter(name!, line);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!m) throw new Error(`not a sample: ${line}`);
    let labels: Record<string, string> = {};
    let i = m[1]!.length;
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i));
    if (line[i] !== ' ') throw new Error(`expected one space before the value: ${line}`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2 || !VALUE.test(parts[0]!)) throw new Error(`bad value: ${line}`);
    const series = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenSeries.has(series)) throw new Error(`series twice: ${line}`);
    seenSeries.add(series);
    enter(familyOf(m[1]!), line);
    samples.push({ name: m[1]!, labels, value: Number(parts[0]!.replace('Inf', 'Infinity')) });
  }
  // histograms: per label set, ascending le, cumulative, +Inf last and equal to _count, a _sum
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      if (le === undefined) throw new Error(`${family}_bucket without le`);
      const k = JSON.stringify(Object.entries(rest).sort());
      groups.set(k, [...(groups.get(k) ?? []), s]);
    }
    for (const [k, buckets] of groups) {
      const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
      for (let i = 1; i < les.length; i++) {
        if (!(les[i]! > les[i - 1]!)) throw new Error(`${family}: le not ascending`);
        if (buckets[i]!.value < buckets[i - 1]!.value) throw new Error(`${family}: buckets not cumulative`);
      }
      if (les[les.length - 1] !== Infinity) throw new Error(`${family}: no +Inf bucket`);
      const same = (s: Sample) => JSON.stringify(Object.entries(s.labels).sort()) === k;
      const count = samples.find((s) => s.name === `${family}_count` && same(s));
      const sum = samples.find((s) => s.name === `${family}_sum` && same(s));
      if (!count || count.value !== buckets[buckets.length - 1]!.value) throw new Error(`${family}: _count missing or not the +Inf bucket`);
      if (!sum) throw new Error(`${family}: no _sum`);
    }
  }
  return { types, samples };
}

const NOW = 1_000_000;
const snapshot: KeeperSnapshot = {
  // a name with every character a label value must escape
  formation: 'default', group: 0, nodeId: 2, name: 'node "2"\\b\nc', at: NOW - 1,
  state: 'secondary', goal: 'secondary',
  postgres: { running: true, inRecovery: true, timeline: 3, lsn: '0/3000000', readOnly: false, streaming: true, upstreamLsn: '0/3000400', replayLsn: '0/3000000', syncState: '', standbysConnected: 0 },
  lagBytes: 1024, replicationQuorum: true, candidatePriority: 50,
  monitor: { reachable: true, lastContact: NOW - 0.5 },
};

const row = (id: number, name: string, state: string, lsn: string, health: number): NodeRow => ({
  formationid: 'default', nodeid: id, groupid: 0, nodename: name, nodehost: '127.0.0.1', nodeport: 5000 + id, reportedstate: state, goalstate: state,
  health, reportedlsn: lsn, reportedtli: 1, reportedrepstate: 'quorum', reportedpgisrunning: true, candidatepriority: 50, replicationquorum: true, report_age: 0.4, health_age: 1,
});

describe('the /metrics exposition', () => {
  it('of a keeper parses strictly, with every family it documents', () => {
    const store = keeperMetricStore();
    store.inc('pgaf_transitions_total', { from: 'catchingup', to: 'secondary', result: 'ok' });
    store.observe('pgaf_transition_duration_seconds', 0.07, { to: 'secondary' });
    store.observe('pgaf_transition_duration_seconds', 12, { to: 'secondary' });
    store.inc('pgaf_hook_runs_total', { hook: 'on_role_change', result: 'failed' });
    store.observe('pgaf_hook_duration_seconds', 0.004, { hook: 'on_role_change' });
    const { types, samples } = parseExposition(keeperMetrics(snapshot, store, NOW));
    for (const f of [
      'pgaf_node_info', 'pgaf_node_converged', 'pgaf_postgres_up', 'pgaf_postgres_in_recovery', 'pgaf_postgres_timeline', 'pgaf_postgres_lsn_bytes',
      'pgaf_replication_lag_bytes', 'pgaf_standbys_connected', 'pgaf_monitor_reachable', 'pgaf_monitor_last_contact_age_seconds',
      'pgaf_keeper_last_tick_age_seconds', 'pgaf_endpoint_up', 'pgaf_transitions_total', 'pgaf_transition_duration_seconds',
      'pgaf_promotions_total', 'pgaf_demotions_total', 'pgaf_promotions_cancelled_total', 'pgaf_hook_runs_total', 'pgaf_hook_duration_seconds',
    ]) {
      expect(types.has(f), f).toBe(true);
    }
    expect(samples.find((s) => s.name === 'pgaf_node_info')?.labels).toMatchObject({ node: 'node "2"\\b\nc', state: 'secondary', goal: 'secondary' });
    expect(samples.find((s) => s.name === 'pgaf_transition_duration_seconds_count')?.value).toBe(2);
  });

  it('of a keeper before its first round parses too', () => {
    expect(() => parseExposition(keeperMetrics(undefined, keeperMetricStore(), NOW))).not.toThrow();
  });

  it('of the monitor parses strictly, with every family it documents', () => {
    const store = monitorMetricStore();
    store.inc('pgaf_health_probes_total', { node_id: 1, address: '127.0.0.1:5001', result: 'down' });
    store.observe('pgaf_health_probe_duration_seconds', 0.75, { node_id: 1, address: '127.0.0.1:5001' });
    store.inc('pgaf_health_rounds_total', { result: 'ok' });
    const nodes = nodeViews([row(1, 'node1', 'demoted', '0/3000000', 0), row(2, 'node2', 'wait_primary', '0/3000400', 1), row(3, 'node3', 'catchingup', '0/3000000', -1)]);
    const view = { generatedAt: new Date(0).toISOString(), monitor: 'm', nodes, events: [], counts: [{ formation: 'default', group: 0, failovers: 1, switchovers: 2 }] };
    const { types, samples } = parseExposition(monitorMetrics(view, store));
    for (const f of [
      'pgaf_monitor_node_info', 'pgaf_monitor_node_healthy', 'pgaf_monitor_replication_lag_bytes', 'pgaf_monitor_heartbeat_age_seconds',
      'pgaf_health_probes_total', 'pgaf_health_probe_duration_seconds', 'pgaf_health_rounds_total', 'pgaf_failovers_total', 'pgaf_switchovers_total',
    ]) {
      expect(types.has(f), f).toBe(true);
    }
    expect(samples.filter((s) => s.name === 'pgaf_monitor_node_healthy').map((s) => s.value)).toEqual([0, 1, -1]);
  });

  it('is checked by a parser that does reject bad expositions', () => {
    expect(() => parseExposition('a 1\na 2\n')).toThrow(/series twice/);
    expect(() => parseExposition('# TYPE a gauge\na{x="1"} 1\n# TYPE b gauge\nb 1\na{x="2"} 1\n')).toThrow(/not contiguous/);
    expect(() => parseExposition('a{x="\\t"} 1\n')).toThrow(/bad escape/);
    expect(() => parseExposition('a 1 2 3\n')).toThrow(/bad value/);
    expect(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')).toThrow(/cumulative/);
    expect(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n')).toThrow(/\+Inf/);
    expect(() => parseExposition('a 1')).toThrow(/line feed/);
  });
});
