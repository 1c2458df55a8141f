/**
 * The flow map in a real browser: Debian's chromium driven by playwright-core (the system browser; nothing is
 * downloaded). The quickstart's seed-000 shapes go through an in-process gateway, then the page on the admin port
 * must show them with the right counts, name deny-default-egress on the denied flow, filter, and stay inside its
 * Content-Security-Policy. `UPDATE_SCREENSHOT=1` saves docs/flow-map.png for the README.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAdminServer } from '../src/admin/admin-server.ts';
import { FlowHub } from '../src/admin/flow-hub.ts';
import { uiRoutes } from '../src/admin/ui-routes.ts';
import type { ObservedFlow } from '../src/learn/observed-flow.ts';
import { REPO } from './support/cli.ts';
import { driveQuickstartShapes, startFlowEnv } from './support/flow-traffic.ts';

// Functions passed to the page run in the browser (the project's types have no DOM library).
declare const document: {
  querySelectorAll(
    selector: string,
  ): ArrayLike<{ readonly textContent: string | null; readonly classList: { contains(c: string): boolean } }>;
};

const CHROMIUM = '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed: apt-get install chromium`;

async function waitFor<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('flow map: the quickstart traffic appears in chromium with its counts, deny-default-egress, a working filter', {
  skip: SKIP,
  timeout: 180_000,
}, async () => {
  const { chromium } = await import('playwright-core');
  const env = await startFlowEnv({ learn: false });
  const profile = mkdtempSync(join(tmpdir(), 'portcullis-chromium-'));
  let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | null = null;
  try {
    const results = await driveQuickstartShapes(env);
    assert.equal(results.productpage1.status, 200);
    assert.equal(results.productpage2.status, 200);
    assert.equal(results.sleep.ok, false);
    assert.equal(results.undeclared.ok, false);
    const admin = `http://${env.gw.adminAddress}`;
    // The server side first: every decision is in the aggregated view (the feed batches every 200 ms).
    await waitFor('five decisions on /flows', async () => {
      const snap = (await (await fetch(`${admin}/flows`)).json()) as { view: { totals: { decisions: number } } };
      return snap.view.totals.decisions >= 5 ? snap : null;
    });
    const page0 = await fetch(`${admin}/`);
    assert.match(page0.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    // A page that rebinds its DNS name to loopback is not answered.
    const rebound = await new Promise<number>((resolve, reject) => {
      const [host, port] = env.gw.adminAddress!.split(':');
      get({ host, port: Number(port), path: '/flows', headers: { host: 'attacker.example:15000' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(rebound, 403);

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${admin}/`);
    await page.waitForSelector('#live.on', { timeout: 30_000 });

    const edge = (from: string, to: string) => page.locator(`#edges tbody tr[data-from="${from}"][data-to="${to}"]`);
    const allowedEdge = edge('spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage', 'httpbin.org:443');
    const deniedEdge = edge('spiffe://cluster.local/ns/default/sa/sleep', 'httpbin.org:443');
    await allowedEdge.waitFor({ timeout: 30_000 });
    assert.equal(await allowedEdge.locator('td.allowed').textContent(), '2');
    assert.equal(await allowedEdge.locator('td.denied').textContent(), '0');
    assert.equal(await deniedEdge.locator('td.allowed').textContent(), '0');
    assert.equal(await deniedEdge.locator('td.denied').textContent(), '1');
    assert.match((await deniedEdge.textContent()) ?? '', /gateway: deny istio-system\/deny-default-egress/);
    // Unknown destinations are drawn under the egressPolicies range that decided them: the bare IP under 0.0.0.0/0;
    // the undeclared name was denied before any address was looked up (no Allow range could match it).
    const byRange = edge(
      'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
      'unknown: egressPolicies[0] 0.0.0.0/0',
    );
    assert.equal(await byRange.locator('td.denied').textContent(), '1');
    const noRange = edge(
      'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage',
      'unknown: egressPolicies: no address to match',
    );
    assert.equal(await noRange.locator('td.denied').textContent(), '1');
    // The map draws the denied edge as a denied (dashed red) path with the same counts.
    const deniedPath = page.locator('#map path.edge.deny[data-from="id:spiffe://cluster.local/ns/default/sa/sleep"]');
    assert.equal(await deniedPath.getAttribute('data-denied'), '1');
    assert.equal(await page.locator('#map path.edge.allow').count(), 1);

    // The decision table explains the denied row as `check` does.
    const denyRow = page.locator('#rows tbody tr.deny', { hasText: 'ns/default/sa/sleep' }).first();
    assert.match(
      (await denyRow.textContent()) ?? '',
      /PCL_AUTHZ_DENIED_EXPLICIT: explicitly denied by: istio-system\/deny-default-egress/,
    );
    assert.match((await denyRow.textContent()) ?? '', /layer gateway\s+deny/);

    // Filter by identity: only sleep's decisions and edge remain.
    await page.fill('#f-identity', 'sa/sleep');
    await page.waitForFunction(
      () => {
        const rows = Array.from(document.querySelectorAll('#rows tbody tr'));
        return rows.length > 0 && rows.every((r) => (r.textContent ?? '').includes('sa/sleep'));
      },
      undefined,
      { timeout: 30_000 },
    );
    assert.equal(await page.locator('#edges tbody tr').count(), 1);
    // Filter by decision: allow shows only productpage's allowed edge.
    await page.fill('#f-identity', '');
    await page.selectOption('#f-decision', 'allow');
    await page.waitForFunction(
      () => {
        const rows = Array.from(document.querySelectorAll('#rows tbody tr'));
        return rows.length === 2 && rows.every((r) => r.classList.contains('allow'));
      },
      undefined,
      { timeout: 30_000 },
    );
    await page.selectOption('#f-decision', '');
    await page.waitForFunction(() => document.querySelectorAll('#rows tbody tr').length === 5, undefined, {
      timeout: 30_000,
    });

    await page.locator('#f-identity').blur();
    // docs/flow-map.png is the README's picture: rewritten only when asked, so a test run leaves the tree clean.
    const shot =
      process.env.UPDATE_SCREENSHOT === '1' ? join(REPO, 'docs', 'flow-map.png') : join(profile, 'flow-map.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000, 'the screenshot has content');
    assert.deepEqual(problems, [], 'the page logged errors (a CSP violation shows here)');
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
    await env.close();
  }
});

test('flow map: a thousand identities and ten thousand edges render clustered by namespace, bounded', {
  skip: SKIP,
  timeout: 180_000,
}, async () => {
  const { chromium } = await import('playwright-core');
  const hub = new FlowHub({ minIntervalMs: 200 });
  const admin = await startAdminServer(
    {
      ui: uiRoutes(hub),
      metrics: async () => ({ contentType: 'text/plain', text: '' }),
      configDump: async () => null,
      ready: () => ({ ready: true, why: 'ok' }),
    },
    '127.0.0.1',
    0,
  );
  const profile = mkdtempSync(join(tmpdir(), 'portcullis-chromium-'));
  let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | null = null;
  try {
    const flows: ObservedFlow[] = [];
    for (let i = 0; i < 10_000; i++) {
      const id = i % 1000;
      const h = (id * 10 + Math.floor(i / 1000)) % 500;
      flows.push({
        t: Date.now(),
        kind: 'tunnel',
        counted: true,
        source: `spiffe://cluster.local/ns/team-${id % 30}/sa/app-${id}`,
        gateway: 'istio-system/ztunnel-egress',
        serviceEntry: `ext/h${h}`,
        host: `h${h}.example.com`,
        authority: `h${h}.example.com:443`,
        port: 443,
        upstream: null,
        sni: null,
        decision: i % 97 === 0 ? 'deny' : 'allow',
        code: i % 97 === 0 ? 'PCL_AUTHZ_DENIED_NOT_ALLOWED' : 'PCL_AUTHZ_ALLOWED_BY_POLICY',
        reason: '',
        layers: [],
        bytesIn: 100,
        bytesOut: 1000,
      });
    }
    hub.addFlows(flows);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`http://127.0.0.1:${admin.address.port}/`);
    await page.waitForSelector('#live.on', { timeout: 60_000 });
    assert.match(
      (await page.locator('#totals').textContent()) ?? '',
      /^1000 identities in 30 namespaces · 500 destinations · 10000 edges · 10000 decisions/,
    );
    assert.match((await page.locator('#hidden').textContent()) ?? '', /clustered by namespace/);
    const drawn = await page.locator('#map path.edge').count();
    assert.ok(drawn > 0 && drawn <= 150, `${drawn} edges drawn`);
    assert.ok((await page.locator('#map g.node.namespace').count()) <= 40);
    assert.ok((await page.locator('#rows tbody tr').count()) <= 200);
    assert.ok((await page.locator('#map path.edge.deny').count()) > 0, 'denied edges are among those drawn');
  } finally {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
    await admin.close();
    hub.close();
  }
});
