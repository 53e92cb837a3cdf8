// npm run chaos -- [--scenario NAME]... [--runs N] [--seed S] [--json FILE]
// Runs the container tier's fault scenarios (all of them by default), each on a fresh
// formation, and prints one row per scenario: runs, acknowledged writes, lost, split-brain
// windows, longest write outage, time to converge after healing. Exits 1 when an invariant
// broke (or a run failed) in any run.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { engine } from './engine.js';
import { SCENARIOS, failed, runScenario, scenario, type RunResult } from './scenarios.js';
import { removeLabelled } from './tier.js';
import { tableLines } from './report.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    runs: { type: 'string', default: '1' },
    seed: { type: 'string' },
    json: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs: expected a positive integer, found "${values.runs}"`);
  process.exit(2);
}
const seed = values.seed === undefined ? Date.now() % 100000 : Number(values.seed);
if (!Number.isInteger(seed)) {
  console.error(`--seed: expected an integer, found "${values.seed}"`);
  process.exit(2);
}
let chosen;
try {
  chosen = values.scenario?.length ? values.scenario.map(scenario) : SCENARIOS;
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}

const t0 = Date.now();
const log = (m: string) => {
  if (!values.quiet) console.error(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(7)}s] ${m}`);
};
const { docker, image } = await engine();
const all: RunResult[] = [];
let stopping = false;
const abort = async (sig: string) => {
  console.error(`chaos: ${sig}: removing the tier's containers and networks`);
  await removeLabelled(docker, undefined, `${process.pid}-`).catch(() => undefined);
  process.exit(1);
};
process.on('SIGINT', () => {
  if (stopping) void abort('SIGINT again');
  stopping = true;
  log('interrupted: finishing the current run (its containers are removed), then stopping; interrupt again to stop now');
});
process.on('SIGTERM', () => void abort('SIGTERM'));
console.error(`chaos: seed ${seed}, ${runs} run(s) of ${chosen.map((s) => s.name).join(', ')}`);
for (const s of chosen) {
  for (let i = 0; i < runs && !stopping; i++) {
    log(`${s.name} run ${i + 1}/${runs}`);
    const r = await runScenario(docker, image, s, log, seed + i);
    all.push(r);
    log(`${s.name} run ${i + 1}: ${r.acked} acked, ${r.lost.length} lost, ${r.splitBrain.length} split-brain, ${r.error ?? 'ok'}`);
  }
}
await removeLabelled(docker, undefined, `${process.pid}-`).catch(() => undefined);

for (const line of tableLines(chosen.map((x) => x.name), all)) console.log(line);
if (values.json) writeFileSync(values.json, JSON.stringify({ seed, runs: all }, null, 2));
for (const r of all.filter(failed)) {
  console.log(`FAILED ${r.scenario}: ${r.error ?? ''} lost ${JSON.stringify(r.lost.slice(0, 5))} split-brain ${JSON.stringify(r.splitBrain)} timeline regressions ${r.timelineRegressions.length}`);
}
process.exit(all.some(failed) || stopping ? 1 : 0);
