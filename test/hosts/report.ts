// The chaos table: one row per scenario from run results (npm run chaos prints it; `tsx
// test/hosts/report.ts FILE.json...` pools the --json outputs of several invocations).
import { readFileSync } from 'node:fs';
import type { RunResult } from './scenarios.js';

function failedRun(r: RunResult): boolean {
  return !!r.error || r.lost.length > 0 || r.splitBrain.length > 0 || r.timelineRegressions.length > 0;
}

export function tableLines(names: string[], all: RunResult[]): string[] {
  const head = ['scenario', 'runs', 'failed', 'acked writes', 'lost', 'split-brain windows', 'longest write outage (max)', 'time to converge (median / max)'];
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const name of names) {
    const rs = all.filter((r) => r.scenario === name);
    const conv = rs.filter((r) => !r.error).map((r) => r.convergeMs).sort((a, b) => a - b);
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    out.push(
      `| ${[
        name,
        rs.length,
        rs.filter(failedRun).length,
        rs.reduce((n, r) => n + r.acked, 0),
        rs.reduce((n, r) => n + r.lost.length, 0),
        rs.reduce((n, r) => n + r.splitBrain.length, 0),
        s(Math.max(0, ...rs.map((r) => r.longestOutageMs))),
        conv.length ? `${s(conv[Math.floor((conv.length - 1) / 2)]!)} / ${s(conv[conv.length - 1]!)}` : '-',
      ].join(' | ')} |`,
    );
  }
  return out;
}

if (process.argv[1]?.endsWith('report.ts')) {
  const all: RunResult[] = process.argv.slice(2).flatMap((f) => (JSON.parse(readFileSync(f, 'utf8')) as { runs: RunResult[] }).runs);
  const { SCENARIOS } = await import('./scenarios.js');
  const seen = new Set(all.map((r) => r.scenario));
  const names = SCENARIOS.map((x) => x.name).filter((n) => seen.has(n));
  for (const line of tableLines(names, all)) console.log(line);
}
