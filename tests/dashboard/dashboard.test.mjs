// Browser end-to-end test of the dashboard (Graph and Services tabs): a real
// hive::HttpServer (dashboard_test_server, with fixed sample data) and a real
// headless Chromium driven by playwright-core.
//
// Run: HIVE_BINARY_DIR=build node --test tests/dashboard/dashboard.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// require() honours NODE_PATH (set by ctest); ESM imports do not.
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const binaryDir = process.env.HIVE_BINARY_DIR || path.join(repoRoot, 'build');
const serverBinary = path.join(binaryDir, 'tests', 'dashboard', 'dashboard_test_server');
const artifacts = path.join(repoRoot, 'test-artifacts');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];
const WAIT_MS = 10_000;

let browser;
const servers = new Set();

// Starts dashboard_test_server and resolves with its child process and port.
function startServer(args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(serverBinary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.add(child);
    let output = '';
    const fail = (error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error('no port printed within 10 s')), WAIT_MS);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`${serverBinary} exited (${code}) early`)));
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const newline = output.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      resolve({ child, port: Number(output.slice(0, newline)) });
    });
  });
}

function stopServer(child, signal = 'SIGTERM') {
  servers.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill(signal);
  });
}

async function openPage(port, query = '') {
  const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
  await page.goto(`http://127.0.0.1:${port}/${query}`);
  return page;
}

// The graph as the page's cytoscape instance holds it.
function graphSnapshot(page) {
  return page.evaluate(() => {
    const cy = window.hiveGraph;
    return {
      layouts: cy.scratch('hive').layouts,
      nodes: Object.fromEntries(cy.nodes().map((n) => [n.id(), {
        label: n.data('label'), health: n.data('health'), color: n.style('background-color'),
        size: n.width(), x: n.position('x'), y: n.position('y'),
      }])),
      edges: Object.fromEntries(cy.edges().map((e) => [e.id(), {
        label: e.data('label'), color: e.style('line-color'),
      }])),
    };
  });
}

before(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await Promise.all([...servers].map(stopServer));
});

test('the graph shows the services, their calls and health, laid out left to right', async () => {
  const { child, port } = await startServer();
  const page = await openPage(port);
  try {
    await page.waitForFunction(() => window.hiveGraph?.nodes().length === 4, null,
      { timeout: WAIT_MS });
    assert.equal(await page.locator('#tab-graph').getAttribute('aria-selected'), 'true');
    assert.equal(await page.locator('#services-view').isHidden(), true);
    assert.match(page.url(), /[?&]tab=graph\b/);
    assert.match(page.url(), /[?&]window=5m\b/);

    const before = await graphSnapshot(page);
    assert.deepEqual(Object.keys(before.nodes).sort(), ['gateway', 'inventory', 'orders', 'payments']);
    assert.deepEqual(Object.keys(before.edges).sort(),
      ['gateway→orders', 'orders→inventory', 'orders→payments']);
    const { nodes, edges } = before;
    assert.equal(nodes.gateway.label, 'gateway');
    assert.equal(nodes.orders.label, 'orders\n2/2 passing');
    assert.equal(nodes.payments.label, 'payments\n1/3 passing');
    assert.equal(nodes.payments.health, 'failing');
    assert.equal(nodes.payments.color, 'rgb(207,34,46)');
    assert.equal(nodes.orders.color, 'rgb(45,164,78)');
    // Bigger request rate, bigger node.
    assert.ok(nodes.gateway.size > nodes.payments.size);
    assert.equal(edges['gateway→orders'].label, '5.0 req/s · 0% err · p99 34ms');
    assert.equal(edges['orders→payments'].label, '2.0 req/s · 25% err · p99 880ms');
    assert.equal(edges['orders→payments'].color, 'rgb(207,34,46)');
    assert.notEqual(edges['orders→inventory'].color, 'rgb(207,34,46)');
    // Layered left to right: callers before callees.
    assert.ok(nodes.gateway.x < nodes.orders.x);
    assert.ok(nodes.orders.x < nodes.payments.x);
    assert.ok(nodes.orders.x < nodes.inventory.x);
    assert.equal(before.layouts, 1);

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'graph.png') });

    // Another window: the URL follows, the data is fetched again, and the
    // same nodes stay where they were (no new layout).
    await page.selectOption('#graph-window', '1h');
    await page.locator('#graph[data-window="1h"]').waitFor({ state: 'attached', timeout: WAIT_MS });
    assert.match(page.url(), /[?&]window=1h\b/);
    const after = await graphSnapshot(page);
    assert.equal(after.layouts, 1);
    for (const id of Object.keys(before.nodes)) {
      assert.equal(after.nodes[id].x, before.nodes[id].x);
      assert.equal(after.nodes[id].y, before.nodes[id].y);
    }

    await page.locator('#graph-pause').click();
    assert.match(page.url(), /[?&]paused=1\b/);
    assert.equal(await page.locator('#graph-pause').textContent(), 'Resume');

    // The URL is the view: opening it again restores the window and the pause.
    const shared = page.url();
    const second = await openPage(port, shared.slice(shared.indexOf('?')));
    try {
      await second.waitForFunction(() => window.hiveGraph?.nodes().length === 4, null,
        { timeout: WAIT_MS });
      assert.equal(await second.locator('#graph-window').inputValue(), '1h');
      assert.equal(await second.locator('#graph-pause').getAttribute('aria-pressed'), 'true');
      assert.equal(await second.locator('#graph').getAttribute('data-window'), '1h');
    } finally {
      await second.close();
    }

    // The Services tab is one click away and says so in the URL.
    await page.locator('#tab-services').click();
    await page.locator('[data-service="orders"]').waitFor({ timeout: WAIT_MS });
    assert.match(page.url(), /[?&]tab=services\b/);
    assert.equal(await page.locator('#graph-view').isHidden(), true);
  } finally {
    await page.close();
    await stopServer(child);
  }
});

test('lists services with health counts and instance badges', async () => {
  const { child, port } = await startServer();
  const page = await openPage(port, '?tab=services');
  try {
    const orders = page.locator('[data-service="orders"]');
    await orders.locator('tr[data-instance="orders-2"]').waitFor({ timeout: WAIT_MS });

    assert.equal(await orders.locator('.service-name').textContent(), 'orders');
    assert.equal(await orders.locator('.instance-count').textContent(), '2 instances');
    assert.deepEqual(await orders.locator('.pill').allTextContents(),
      ['1 passing', '0 warning', '1 critical']);

    const first = orders.locator('tr[data-instance="orders-1"]');
    const cells = await first.locator('td').allTextContents();
    assert.equal(cells[0], 'orders-1');
    assert.equal(cells[1], '127.0.0.1:8081');
    assert.equal(cells[2], '1.4.2');
    assert.equal(cells[3], 'passing');
    assert.match(cells[5], /^\d+s ago$/);
    assert.match(await first.locator('.badge').getAttribute('class'), /\bbadge-passing\b/);

    const second = orders.locator('tr[data-instance="orders-2"]');
    assert.equal(await second.locator('.badge').textContent(), 'critical');
    assert.match(await second.locator('.badge').getAttribute('class'), /\bbadge-critical\b/);
    assert.equal(await second.locator('td.output').textContent(), 'lease expired');

    const payments = page.locator('[data-service="payments"]');
    const warning = payments.locator('tr[data-instance="payments-1"]');
    assert.equal(await warning.locator('.badge').textContent(), 'warning');
    // API text is shown as text: the markup in it is not parsed.
    assert.equal(await warning.locator('td.output').textContent(), '<b>slow</b> & "p99 870ms"');
    assert.equal(await payments.locator('b').count(), 0);

    assert.match(await page.locator('#summary').textContent(), /2 services · 3 instances/);
    assert.equal(await page.locator('#loading').isHidden(), true);
    assert.match(await page.locator('#status').textContent(), /^updated /);

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
  } finally {
    await page.close();
    await stopServer(child);
  }
});

test('asks for a token on 401 and sends it as a bearer token', async () => {
  const { child, port } = await startServer(['--token', 's3cret']);
  const page = await openPage(port, '?tab=services');
  try {
    await page.locator('#auth').waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await page.locator('[data-service]').count(), 0);
    await page.locator('#token-input').fill('s3cret');
    await page.locator('#auth-form button[type="submit"]').click();
    await page.locator('[data-service="orders"] tr[data-instance="orders-1"]')
      .waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('#auth').isHidden(), true);
    assert.equal(await page.evaluate(() => localStorage.getItem('hive.token')), 's3cret');

    // A reload keeps the token: the list comes back without asking again.
    await page.reload();
    await page.locator('[data-service="orders"]').waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('#auth').isHidden(), true);
  } finally {
    await page.close();
    await stopServer(child);
  }
});

test('the graph asks for a token on 401 and loads once it is given', async () => {
  const { child, port } = await startServer(['--token', 's3cret']);
  const page = await openPage(port);
  try {
    await page.locator('#auth').waitFor({ state: 'visible', timeout: WAIT_MS });
    await page.locator('#token-input').fill('s3cret');
    await page.locator('#auth-form button[type="submit"]').click();
    await page.waitForFunction(() => window.hiveGraph?.nodes().length === 4, null,
      { timeout: WAIT_MS });
    assert.equal(await page.locator('#auth').isHidden(), true);
    assert.equal(await page.locator('#graph-error').isHidden(), true);
  } finally {
    await page.close();
    await stopServer(child);
  }
});

test('the graph shows its empty state, then an error when hived goes away', async () => {
  const { child, port } = await startServer(['--empty']);
  const page = await openPage(port);
  try {
    const empty = page.locator('#graph-empty');
    await empty.waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await empty.textContent(), 'no traffic in this window');
    assert.equal(await page.locator('#graph-loading').isHidden(), true);

    await stopServer(child, 'SIGKILL');
    const error = page.locator('#graph-error');
    await error.waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.match(await error.textContent(), /^Cannot load the graph\. .*unreachable/);
    assert.equal(await page.locator('#status').textContent(), 'hived unreachable');
  } finally {
    await page.close();
    await stopServer(child);
  }
});

test('shows the empty state, then an error when hived goes away', async () => {
  const { child, port } = await startServer(['--empty']);
  const page = await openPage(port, '?tab=services');
  try {
    const empty = page.locator('#empty');
    await empty.waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.equal(await empty.textContent(), 'no services registered yet — start a hive-agent');

    // Killed outright, as a crash would: no graceful close of the page's connections.
    await stopServer(child, 'SIGKILL');
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.match(await error.textContent(), /unreachable/);
    assert.equal(await page.locator('#status').textContent(), 'hived unreachable');
  } finally {
    await page.close();
    await stopServer(child);
  }
});
