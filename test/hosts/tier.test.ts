// The container tier's short set, in the normal test run: primary-host-death,
// primary-isolated and primary-reboot, once each, on hosts that run the packed module under
// PM2 as the postgres user (test/hosts/). Each asserts the checker's invariants: no lost
// acknowledged write, no split-brain window, no timeline going back, and the formation back
// to one primary and its secondaries after healing. `npm run chaos` runs every scenario.
// Containers and networks are removed after each run, even a failed one; the image stays.
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engine } from './engine.js';
import { runScenario, scenario, type RunResult } from './scenarios.js';
import { removeLabelled } from './tier.js';
import { removePackedModule } from './formation.js';

let docker: Docker;
let image = '';
const lines: string[] = [];
const log = (m: string) => lines.push(m);

beforeAll(async () => {
  ({ docker, image } = await engine());
}, 900_000);

afterAll(async () => {
  removePackedModule();
  if (docker) await removeLabelled(docker, undefined, `${process.pid}-`);
}, 120_000);

function expectInvariants(r: RunResult): void {
  const detail = `${r.error ?? ''}\n${lines.slice(-40).join('\n')}`;
  expect(r.error, detail).toBeUndefined();
  expect(r.acked, 'acknowledged writes').toBeGreaterThan(0);
  expect(r.lost, detail).toEqual([]);
  expect(r.splitBrain, detail).toEqual([]);
  expect(r.timelineRegressions, detail).toEqual([]);
}

describe('container hosts under faults (pgaf under PM2 on each host)', () => {
  for (const name of ['primary-host-death', 'primary-isolated', 'primary-reboot']) {
    it(name, async () => {
      lines.length = 0;
      const r = await runScenario(docker, image, scenario(name), log);
      expectInvariants(r);
    }, 900_000);
  }
});
