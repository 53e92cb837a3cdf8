// Speed figures measured along a test. A test asserts behaviour, never speed (on 2 shared
// cores a stopwatch is flakiness, not a check): it hands its figures here, and
// bench/test-figures/run.mjs runs those tests and prints them. Outside that bench this does
// nothing.
import { appendFileSync } from 'node:fs';

export function recordFigure(name: string, value: number, unit: string): void {
  const file = process.env.PGAF_FIGURES;
  if (file) appendFileSync(file, `${JSON.stringify({ name, value, unit })}\n`);
}
