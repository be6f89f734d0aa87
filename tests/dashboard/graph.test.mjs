// Browser test of the Graph view against a real hived: focus with depth,
// find, hide (from the node menu), the path of a trace, live registry
// updates, and a tap opening the service page — all kept in the URL.
//
// Run: HIVE_BINARY_DIR=build node --test tests/dashboard/graph.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  api, cleanup, launchBrowser, openPage, screenshot, startHived,
} from './harness.mjs';
import { ingest, spansForCalls } from './synthetic.mjs';

const CALLS = [
  ['web', 'api', { count: 20 }],
  ['api', 'users', { count: 8 }],
  ['api', 'orders', { count: 12, errors: 1 }],
  ['orders', 'payments', { count: 10, errors: 4, ms: 40 }],
  ['orders', 'stock', { count: 6 }],
  ['payments', 'bank', { count: 5 }],
];
const SERVICES = ['api', 'bank', 'orders', 'payments', 'stock', 'users', 'web'];
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

let browser;
let hived;

// The trace whose path the graph highlights: web → api → orders → payments.
function traceSpans() {
  const start = new Date(Date.now() - 2000).toISOString();
  const span = (id, parent, service) => JSON.stringify({
    trace_id: TRACE, span_id: id, parent_span_id: parent, service, kind: 'server',
    name: 'GET /checkout', start, duration_ms: 30, status: 'ok',
  });
  return [span('a000000000000001', '', 'web'), span('a000000000000002', 'a000000000000001', 'api'),
    span('a000000000000003', 'a000000000000002', 'orders'),
    span('a000000000000004', 'a000000000000003', 'payments')];
}

function shownGraph(page) {
  return page.evaluate(() => {
    const cy = window.hiveGraph;
    return {
      nodes: cy.nodes().map((n) => n.id()).sort(),
      edges: cy.edges().map((e) => e.id()).sort(),
      found: cy.nodes('.found').map((n) => n.id()).sort(),
      path: cy.elements('.path').map((e) => e.id()).sort(),
      labels: Object.fromEntries(cy.nodes().map((n) => [n.id(), n.data('label')])),
    };
  });
}

async function waitForNodes(page, count) {
  await page.waitForFunction((n) => window.hiveGraph?.nodes().length === n, count,
    { timeout: 10_000 });
}

before(async () => {
  hived = await startHived();
  await ingest(hived.url, '/api/v1/ingest/spans', [...spansForCalls(CALLS), ...traceSpans()]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await cleanup();
});

test('focus keeps a service and its neighbours up to the depth, and the URL says so', async () => {
  const page = await openPage(browser, hived.url, '?tab=graph&window=15m');
  try {
    await waitForNodes(page, SERVICES.length);
    assert.deepEqual((await shownGraph(page)).nodes, SERVICES);

    await page.selectOption('#graph-focus', 'orders');
    await waitForNodes(page, 4);
    let shown = await shownGraph(page);
    assert.deepEqual(shown.nodes, ['api', 'orders', 'payments', 'stock']);
    assert.deepEqual(shown.edges, ['api→orders', 'orders→payments', 'orders→stock']);
    assert.match(page.url(), /[?&]focus=orders\b/);
    assert.match(page.url(), /[?&]depth=1\b/);

    await page.selectOption('#graph-depth', '2');
    await waitForNodes(page, 7);
    assert.match(page.url(), /[?&]depth=2\b/);

    // The link is the view.
    const shared = await openPage(browser, hived.url, '?tab=graph&window=15m&focus=payments&depth=1');
    try {
      await waitForNodes(shared, 3);
      assert.deepEqual((await shownGraph(shared)).nodes, ['bank', 'orders', 'payments']);
      assert.equal(await shared.locator('#graph-focus').inputValue(), 'payments');
    } finally {
      await shared.close();
    }

    await page.selectOption('#graph-focus', '');
    await waitForNodes(page, SERVICES.length);
    assert.doesNotMatch(page.url(), /[?&]focus=/);
  } finally {
    await page.close();
  }
});

test('find marks matching services; hide drops one until its chip is removed', async () => {
  const page = await openPage(browser, hived.url, '?tab=graph&window=15m');
  try {
    await waitForNodes(page, SERVICES.length);
    await page.locator('#graph-find').fill('pay');
    await page.waitForFunction(() => window.hiveGraph.nodes('.found').length === 1);
    assert.deepEqual((await shownGraph(page)).found, ['payments']);
    assert.match(page.url(), /[?&]find=pay\b/);
    await page.locator('#graph-find').fill('');
    await page.waitForFunction(() => window.hiveGraph.nodes('.found').length === 0);

    // Right-click on stock opens its menu; Hide drops it and its edge.
    const box = await page.locator('#graph').boundingBox();
    const at = await page.evaluate(() => window.hiveGraph.$id('stock').renderedPosition());
    await page.mouse.click(box.x + at.x, box.y + at.y, { button: 'right' });
    const menu = page.locator('#graph-menu');
    await menu.waitFor({ state: 'visible' });
    assert.equal(await menu.getAttribute('data-service'), 'stock');
    await menu.locator('[data-action="hide"]').click();
    await waitForNodes(page, SERVICES.length - 1);
    const shown = await shownGraph(page);
    assert.ok(!shown.nodes.includes('stock'));
    assert.ok(!shown.edges.includes('orders→stock'));
    assert.match(page.url(), /[?&]hide=stock\b/);
    const chip = page.locator('[data-chip="hidden"][data-service="stock"]');
    assert.equal(await chip.textContent(), 'hidden: stock×');

    await chip.locator('button').click();
    await waitForNodes(page, SERVICES.length);
    assert.doesNotMatch(page.url(), /[?&]hide=/);
  } finally {
    await page.close();
  }
});

test('a trace\'s path is highlighted: its services and calls, the rest dimmed', async () => {
  const page = await openPage(browser, hived.url, `?tab=graph&window=15m&trace=${TRACE}`);
  try {
    await page.locator(`#graph[data-trace="${TRACE}"]`).waitFor({ state: 'attached', timeout: 10_000 });
    const shown = await shownGraph(page);
    assert.deepEqual(shown.path, ['api', 'api→orders', 'orders', 'orders→payments', 'payments',
      'web', 'web→api']);
    assert.equal(await page.evaluate(() => window.hiveGraph.$id('stock').hasClass('dimmed')), true);
    assert.match(await page.locator('[data-chip="trace"]').textContent(), /^path of trace 4bf92f3577b3…/);
    await screenshot(page, 'graph-trace-path.png');

    await page.locator('[data-chip="trace"] button').click();
    await page.waitForFunction(() => window.hiveGraph.elements('.path').length === 0);
    assert.doesNotMatch(page.url(), /[?&]trace=/);
  } finally {
    await page.close();
  }
});

test('registry changes reach the graph over the event stream', async () => {
  const page = await openPage(browser, hived.url, '?tab=graph&window=15m');
  try {
    await waitForNodes(page, SERVICES.length);
    await page.locator('#graph[data-live="1"]').waitFor({ state: 'attached', timeout: 10_000 });
    await api(hived.url, 'PUT', '/api/v1/services/orders/instances/orders-1', {
      address: '127.0.0.1', port: 8081, ttl: '30s', health: { status: 'passing', output: '' },
    });
    await page.waitForFunction(() => window.hiveGraph.$id('orders').data('label') ===
      'orders\n1/1 passing', null, { timeout: 10_000 });
  } finally {
    await page.close();
  }
});

test('tapping a service opens its page', async () => {
  const page = await openPage(browser, hived.url, '?tab=graph&window=15m');
  try {
    await waitForNodes(page, SERVICES.length);
    const box = await page.locator('#graph').boundingBox();
    const at = await page.evaluate(() => window.hiveGraph.$id('payments').renderedPosition());
    await page.mouse.click(box.x + at.x, box.y + at.y);
    await page.locator('#service-view').waitFor({ state: 'visible' });
    assert.match(page.url(), /[?&]tab=service\b/);
    assert.match(page.url(), /[?&]service=payments\b/);
    assert.equal(await page.locator('#graph-view').isHidden(), true);
    // Back returns to the graph.
    await page.goBack();
    await page.locator('#graph-view').waitFor({ state: 'visible' });
  } finally {
    await page.close();
  }
});

test('every view works offline: nothing is fetched from beyond hived', async () => {
  const page = await openPage(browser, hived.url, '?tab=graph&window=15m');
  const elsewhere = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin !== hived.url && url.protocol !== 'data:') elsewhere.push(request.url());
  });
  try {
    await waitForNodes(page, SERVICES.length);
    for (const query of ['?tab=services', '?tab=service&service=payments', '?tab=logs',
      `?tab=trace&trace=${TRACE}`]) {
      // Scripts, styles, fonts and images are all in by 'load'; the views'
      // own requests follow it (the open event streams keep the network busy).
      await page.goto(new URL(query, `${hived.url}/`).href, { waitUntil: 'load' });
      await page.locator('#status').filter({ hasText: /^updated / }).waitFor({ timeout: 10_000 });
    }
    assert.deepEqual(elsewhere, []);
  } finally {
    await page.close();
  }
});
