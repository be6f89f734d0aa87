// The dashboard against the real demo: hived, the four demo services with
// their hive-agents and live traffic, driven in headless Chromium.
//
// Run: HIVE_BINARY_DIR=build NODE_PATH=node_modules node --test tests/dashboard/demo.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  api, cleanup, launchBrowser, openPage, screenshot, startDemo, startHived, waitFor,
} from './harness.mjs';

const SERVICES = ['gateway', 'inventory', 'orders', 'payments'];
const EDGES = ['gateway→orders', 'orders→inventory', 'orders→payments'];
const TRAFFIC_WAIT_MS = 30_000;
const UI_WAIT_MS = 10_000;

let browser;
let hived;
let demo;

before(async () => {
  hived = await startHived();
  demo = await startDemo(hived);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
  await hived?.stop();
  await cleanup();
});

// The graph as the page's cytoscape instance holds it: sorted ids.
function graphIds(page) {
  return page.evaluate(() => {
    const cy = window.hiveGraph;
    if (!cy) return { nodes: [], edges: [] };
    return {
      nodes: cy.nodes().map((n) => n.id()).sort(),
      edges: cy.edges().map((e) => e.id()).sort(),
    };
  });
}

// Waits until the graph holds the whole demo topology.
async function waitForTopology(page) {
  try {
    await page.waitForFunction(({ nodes, edges }) => {
      const cy = window.hiveGraph;
      return cy && nodes.every((id) => cy.$id(id).nonempty()) &&
        edges.every((id) => cy.$id(id).nonempty());
    }, { nodes: SERVICES, edges: EDGES }, { timeout: TRAFFIC_WAIT_MS });
  } catch {
    // Timed out: the assertion below shows what the graph holds instead.
  }
  assert.deepEqual(await graphIds(page), { nodes: SERVICES, edges: EDGES });
}

// The payments service's config file as its agent wrote it.
function paymentsFailureRate() {
  try {
    return Number(JSON.parse(readFileSync(demo.services.payments.configFile, 'utf8')).failure_rate);
  } catch {
    return undefined;
  }
}

test('the graph shows the demo services and their calls', async () => {
  const page = await openPage(browser, hived.url);
  try {
    await waitForTopology(page);
    await screenshot(page, 'demo-graph.png');
  } finally {
    await page.close();
  }
});

test('tapping a node in the graph opens its service page', async () => {
  const page = await openPage(browser, hived.url);
  try {
    await waitForTopology(page);
    const { x, y } = await page.evaluate(() => window.hiveGraph.$id('payments').renderedPosition());
    const box = await page.locator('#graph').boundingBox();
    await page.mouse.click(box.x + x, box.y + y);

    const instance = page.locator('#service-view [data-instance="payments-1"]');
    await instance.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
    assert.match(page.url(), /[?&]tab=service\b/);
    assert.match(page.url(), /[?&]service=payments\b/);
    await screenshot(page, 'demo-service.png');
  } finally {
    await page.close();
  }
});

test('a trace opens from a log line and shows the spans of every service', async () => {
  await waitFor(async () => {
    const { events } = await api(hived.url, 'GET', '/api/v1/logs?service=payments&level=error&limit=1');
    return events.length > 0 && events[0].trace_id;
  }, { timeout: TRAFFIC_WAIT_MS, what: 'an error log line from payments' });

  const page = await openPage(browser, hived.url, '?tab=logs&service=payments&level=error');
  try {
    const link = page.locator('#logs-view .log-row a.trace-link').first();
    await link.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
    const traceId = await link.getAttribute('data-trace');
    assert.match(traceId, /^[0-9a-f]{32}$/);
    await link.click();
    await page.locator('#trace-view .span-row').first().waitFor({ timeout: UI_WAIT_MS });
    assert.match(page.url(), /[?&]tab=trace\b/);
    assert.match(page.url(), new RegExp(`[?&]trace=${traceId}\\b`));

    // The trace is complete once each service's agent shipped its lines;
    // the view is then opened again to show it whole.
    const trace = await waitFor(async () => {
      const t = await api(hived.url, 'GET', `/api/v1/traces/${traceId}`);
      const services = new Set(t.spans.map((s) => s.service));
      return ['gateway', 'orders', 'payments'].every((s) => services.has(s)) && t;
    }, { timeout: UI_WAIT_MS, what: `the spans of trace ${traceId}` });
    await page.reload();
    await page.locator('#trace-view .span-row').first().waitFor({ timeout: UI_WAIT_MS });

    const shown = new Set(await page.locator('#trace-view .span-row')
      .evaluateAll((rows) => rows.map((r) => r.dataset.span)));
    for (const service of ['gateway', 'orders', 'payments']) {
      const spans = trace.spans.filter((s) => s.service === service).map((s) => s.span_id);
      assert.ok(spans.some((id) => shown.has(id)), `no span row of ${service} (${spans})`);
    }
    assert.ok(await page.locator('#trace-view .trace-log').count() > 0, 'no log lines in the trace');
    await screenshot(page, 'demo-trace.png');
  } finally {
    await page.close();
  }
});

test('a rollback from the service page reaches the agent\'s config file', async () => {
  await waitFor(() => paymentsFailureRate() === 0.02,
    { timeout: UI_WAIT_MS, what: 'the demo config in the payments config file' });
  const pushed = await api(hived.url, 'PUT', '/api/v1/config/payments/demo', { failure_rate: 0.3 });
  assert.equal(pushed.changed, true);
  await waitFor(() => paymentsFailureRate() === 0.3,
    { timeout: UI_WAIT_MS, what: 'failure_rate 0.3 in the payments config file' });
  const previous = pushed.version - 1;

  const page = await openPage(browser, hived.url, '?tab=service&service=payments');
  try {
    const row = page.locator(`#service-config [data-version="${previous}"]`);
    await row.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
    await row.locator('button[data-action="rollback"]').click();
    const dialog = page.locator('#confirm-dialog');
    await dialog.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
    await dialog.locator('#confirm-ok').click();

    await waitFor(() => paymentsFailureRate() === 0.02,
      { timeout: UI_WAIT_MS, what: 'failure_rate 0.02 back in the payments config file' });
    const current = await api(hived.url, 'GET', '/api/v1/config/payments/demo');
    assert.equal(current.version, pushed.version + 1);
    assert.equal(Number(current.properties.failure_rate), 0.02);

    const rollout = page.locator('[data-rollout-instance="payments-1"]');
    await waitFor(async () => {
      const text = await rollout.innerText({ timeout: 1000 });
      return new RegExp(`\\bv?${current.version}\\b`).test(text) && /\bapplied\b/.test(text);
    }, { timeout: UI_WAIT_MS, what: `payments-1 applying version ${current.version} on the page` });
    await screenshot(page, 'demo-rollback.png');
  } finally {
    await page.close();
  }
});
