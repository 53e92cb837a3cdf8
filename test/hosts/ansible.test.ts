// The play of docs/ansible.md (examples/ansible/), run by Debian's Ansible against a monitor
// host and two node hosts that start with the base image and the module tarball only.
// In the normal test run (CI): the first run builds a working formation, a second run changes
// nothing on any host, and autoctl_node's password (from the vault) appears in no process
// list, log or cluster file. With PGAF_ANSIBLE=full also: --check --diff on a changed
// template, a candidate priority changed in the inventory (exactly that changes on the
// monitor; Postgres keeps its PID), and a failover between two runs (the primary's host
// killed: the next run keeps the new roles; the old primary rejoins as a standby with its
// own data when its host comes back). Containers and networks are removed even on failure.
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnsibleLab, ansibleImage, changedHosts, HOSTS, PGDATA, priorityOf, withPriority, type PlayRun } from './ansible.js';
import { engine } from './engine.js';
import { removePackedModule, waitFor } from './formation.js';

const FULL = process.env.PGAF_ANSIBLE === 'full';
/** The full run's tests exist only in the full run: a skipped test counts as not run (test/run-count.mjs). */
const itFull = FULL ? it : (() => undefined) as unknown as typeof it;
const lines: string[] = [];
const log = (m: string) => lines.push(`${new Date().toISOString().slice(11, 19)} ${m}`);
let docker: Docker;
let lab: AnsibleLab;

/** What to print when an expectation fails: the lab's log and the play's failed tasks. */
function detail(r?: PlayRun): string {
  const failed = r?.tasks.filter((t) => t.failed).map((t) => `${t.host}: ${t.task}: ${t.error ?? ''}`) ?? [];
  return `${lines.slice(-20).join('\n')}\nfailed tasks:\n${failed.join('\n') || 'none'}`;
}

function expectNoFailure(r: PlayRun, unreachable: string[] = []): void {
  for (const [h, s] of Object.entries(r.stats)) {
    expect(s.failures, `${h} failures\n${detail(r)}`).toBe(0);
    expect(s.unreachable, `${h} unreachable\n${detail(r)}`).toBe(unreachable.includes(h) ? 1 : 0);
  }
  expect(r.code, detail(r)).toBe(unreachable.length > 0 ? 4 : 0);
}

beforeAll(async () => {
  const e = await engine();
  docker = e.docker;
  lab = new AnsibleLab(docker, await ansibleImage(e.image), log);
  await lab.create();
}, 900_000);

afterAll(async () => {
  removePackedModule();
  if (lab) await lab.destroy();
}, 120_000);

describe('the Ansible example, run by ansible-playbook against container hosts', () => {
  it('the first run installs the module and brings the formation up', async () => {
    const r = await lab.play();
    expectNoFailure(r);
    expect(Object.keys(r.stats).sort()).toEqual(HOSTS.map((h) => h.name).sort());
    for (const h of HOSTS) {
      expect(r.tasks.find((t) => t.host === h.name && t.task.startsWith('Install (or upgrade) the module'))?.changed, `pm2 install on ${h.name}`).toBe(true);
    }
    const roles = await waitFor('db-1 primary and db-2 secondary', 120_000, async () => {
      const x = await lab.roles();
      return x.primary === 'db-1' && x.secondaries.join() === 'db-2' ? x : undefined;
    });
    expect(roles).toEqual({ primary: 'db-1', secondaries: ['db-2'] });
    const settings = await lab.settings();
    expect([priorityOf(settings, 'db-1'), priorityOf(settings, 'db-2')], JSON.stringify(settings)).toEqual(['60', '50']);
  }, 900_000);

  it('a second run changes nothing on any host', async () => {
    const r = await lab.play();
    expectNoFailure(r);
    expect(changedHosts(r), detail(r)).toEqual([]);
  }, 660_000);

  it("autoctl_node's password is in no process list, log or cluster file", async () => {
    for (const h of HOSTS) {
      const text = await lab.exposedText(h.name);
      expect(text.length, h.name).toBeGreaterThan(0);
      expect(text.includes(lab.secret), `${h.name} shows the password`).toBe(false);
    }
  }, 120_000);

  itFull('--check --diff reports a changed template without making the change', async () => {
    lab.setPriority('db-2', 40);
    const before = await lab.host('db-mon').run(['cat', '/etc/pgaf/cluster.yaml']);
    const settings = await lab.settings();
    const r = await lab.play(['--check', '--diff']);
    expectNoFailure(r);
    const t = r.tasks.find((x) => x.task === "The formation's desired settings" && x.host === 'db-mon');
    expect(t?.changed, detail(r)).toBe(true);
    const diff = t!.diff.map((d) => `${d.before ?? ''}\n=>\n${d.after ?? ''}`).join('\n');
    expect(diff, diff).toMatch(/db-2:\n\s+candidate_priority: 50[\s\S]*=>[\s\S]*db-2:\n\s+candidate_priority: 40/);
    expect(changedHosts(r), detail(r)).toEqual(['db-mon']);
    expect(await lab.host('db-mon').run(['cat', '/etc/pgaf/cluster.yaml'])).toBe(before);
    expect(await lab.settings()).toEqual(settings);
  }, 660_000);

  itFull("a candidate priority changed in the inventory changes exactly that on the monitor, and restarts nothing", async () => {
    const pids = Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h.name, await lab.pids(h.name)] as const)));
    const before = await lab.settings();
    expect(priorityOf(before, 'db-2')).toBe('50');
    const r = await lab.play();
    expectNoFailure(r);
    expect(changedHosts(r), detail(r)).toEqual(['db-mon']);
    // the same settings with db-2's priority 50 → 40, and nothing else
    expect(await lab.settings()).toEqual(withPriority(before, 'db-2', '40'));
    for (const h of HOSTS) expect(await lab.pids(h.name), `${h.name}: Postgres and the module keep their pids`).toEqual(pids[h.name]);
  }, 660_000);

  itFull("a run after the primary's host died keeps the new roles; the old primary rejoins with its own data", async () => {
    const oldData = await lab.host('db-1').run(['stat', '-c', '%i', PGDATA]);
    await lab.host('db-1').container.kill();
    log('killed db-1 (the primary)');
    await waitFor('db-2 to be promoted', 180_000, async () => {
      const s = await lab.states();
      return s['db-2']?.[0] === s['db-2']?.[1] && ['primary', 'wait_primary'].includes(s['db-2']![0]);
    });
    const promoted = await lab.states();
    const newPrimaryPid = (await lab.pids('db-2')).postgres;
    const r = await lab.play();
    expectNoFailure(r, ['db-1']);
    expect(changedHosts(r), detail(r)).toEqual([]);
    expect((await lab.pids('db-2')).postgres, 'the new primary keeps running').toBe(newPrimaryPid);
    expect((await lab.states())['db-2'], 'the new primary keeps its role').toEqual(promoted['db-2']);

    await lab.host('db-1').container.start();
    log('started db-1 again');
    await waitFor('db-2 primary and db-1 its secondary', 300_000, async () => {
      const x = await lab.roles();
      return x.primary === 'db-2' && x.secondaries.join() === 'db-1';
    });
    expect(await lab.host('db-1').run(['stat', '-c', '%i', PGDATA]), "the old primary's data directory was not re-created").toBe(oldData);
    const r2 = await lab.play();
    expectNoFailure(r2);
    expect(changedHosts(r2), detail(r2)).toEqual([]);
    expect(await lab.roles()).toEqual({ primary: 'db-2', secondaries: ['db-1'] });
    expect((await lab.pids('db-2')).postgres).toBe(newPrimaryPid);
  }, 1_800_000);
});
