// The monitor's status page in Debian's headless Chromium (playwright-core): it shows the
// formation, then a failover as it happens (server-sent events, no reload), with its reason
// in the timeline. The monitor's /metrics counts the failover and its on_failover hook runs.
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRunAs } from '../../lib/pgbin.js';
import { FAST_MONITOR_SETTINGS, TestCluster } from '../support/cluster.js';
import { freePort } from '../support/postgres.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

async function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

describe('the monitor status page', () => {
  let c: TestCluster;
  let ctx: BrowserContext | undefined;
  let page: Page;
  let port = 0;
  let profile = '';
  let hookDir = '';
  /** where the screenshots go (kept for a person to look at when PGAF_SCREENSHOTS is set) */
  const shots = process.env.PGAF_SCREENSHOTS;

  beforeAll(async () => {
    c = await TestCluster.create();
    await c.startMonitor(FAST_MONITOR_SETTINGS);
    hookDir = join(c.base, 'hooks');
    mkdirSync(hookDir);
    const runAs = postgresRunAs();
    if (runAs) chownSync(hookDir, runAs.uid, runAs.gid);
    profile = mkdtempSync(join(tmpdir(), 'pgaf-chromium-'));
  }, 150_000);
  afterAll(async () => {
    await ctx?.close().catch(() => undefined);
    if (profile) rmSync(profile, { recursive: true, force: true });
    await c?.destroy();
  });

  it('serves the formation once http.port is set on the running monitor', async () => {
    port = await freePort();
    for (const [k, v] of [['http.port', String(port)], ['hooks.on_failover', `cat > ${hookDir}/on_failover.json`]]) {
      const r = await c.cli('monitor', ['config', 'set', k!, v!], 15_000);
      expect(r.code, r.stderr).toBe(0);
    }
    await c.addNode('node1');
    await c.waitForStates({ node1: 'single' }, 60_000);
    await c.addNode('node2');
    await c.waitForStates({ node1: 'primary', node2: 'secondary' }, 90_000);

    const home = await get(port, '/');
    expect(home.status).toBe(200);
    expect(home.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(home.body).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?https?:/);
    expect((await get(port, '/', 'POST')).status).toBe(405);
    expect((await get(port, '/admin')).status).toBe(404);

    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1280, height: 900 } });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    // nothing may leave 127.0.0.1
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(`http://127.0.0.1:${port}/`)) outside.push(r.url());
    });
    await page.goto(`http://127.0.0.1:${port}/`);
    await shown(page, '[data-node="node1"][data-state="primary"]', 20_000);
    await shown(page, '[data-node="node2"][data-state="secondary"]', 20_000);
    expect(await page.locator('#s-primary').textContent()).toBe('node1');
    expect(await page.locator('#live').getAttribute('class')).toContain('on');
    expect(outside).toEqual([]);
    if (shots) await page.screenshot({ path: join(shots, 'status-page-before.png'), fullPage: true });
  }, 250_000);

  it('shows the failover as it happens, with its reason, without a reload', async () => {
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    await c.killHost('node1');
    // during: node2 is on its way (its goal differs from its state) or node1 is marked down
    await shown(page, '[data-node="node1"].down, [data-node="node2"].moving', 30_000);
    if (shots) await page.screenshot({ path: join(shots, 'status-page-during.png'), fullPage: true });
    await shown(page, '[data-node="node2"][data-state="wait_primary"][data-goal="wait_primary"]', 60_000);
    await shown(page, '#banner.failover', 10_000);
    expect(await page.locator('#banner').textContent()).toMatch(/^Failover at .*: node2 is the new primary\./);
    const promotion = page.locator('.ev.promotion.failover').first();
    expect(await promotion.locator('.n').textContent()).toBe('node2');
    // the goal changes that led to it carry their reason (N9: the primary is unhealthy)
    expect(await page.locator('.timeline').textContent()).toMatch(/is unhealthy/);
    expect(await page.locator('#s-failovers').textContent()).toBe('1');
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    if (shots) await page.screenshot({ path: join(shots, 'status-page-after.png'), fullPage: true });
  }, 150_000);

  it('counts the failover in /metrics and runs on_failover', async () => {
    const m = (await get(port, '/metrics')).body;
    expect(m).toMatch(/^pgaf_failovers_total\{formation="default",group="0"\} 1$/m);
    expect(m).toMatch(/^pgaf_switchovers_total\{formation="default",group="0"\} 0$/m);
    expect(m).toMatch(/^pgaf_monitor_node_info\{formation="default",group="0",node="node2",node_id="2",state="wait_primary",goal="(wait_primary|primary)",health="good"\} 1$/m);
    expect(m).toMatch(/^pgaf_health_probes_total\{node_id="1",address="127\.0\.0\.1:\d+",result="down"\} [1-9]/m);
    expect(m).toMatch(/^pgaf_health_probe_duration_seconds_count\{node_id="2",address="127\.0\.0\.1:\d+"\} [1-9]/m);
    expect(m).toMatch(/^pgaf_monitor_heartbeat_age_seconds\{formation="default",group="0",node="node2",node_id="2"\} \d/m);
    const ev = await waitForFile(join(hookDir, 'on_failover.json'));
    expect(JSON.parse(ev)).toMatchObject({ hook: 'on_failover', formation: 'default', node: 'node2', kind: 'failover', old_primary: 'node1', new_state: 'wait_primary' });
  }, 60_000);
});

/** Waits until the page has an element matching `selector` (the first of several). */
async function shown(page: Page, selector: string, timeoutMs: number): Promise<void> {
  await page.locator(selector).first().waitFor({ timeout: timeoutMs });
}

async function waitForFile(path: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const t = readFileSync(path, 'utf8');
      if (t.trim()) return t;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`no ${path} after 20 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
