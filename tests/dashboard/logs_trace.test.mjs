// Browser end-to-end test of the Logs and Trace views: a real hived (port 0,
// fresh data directory) fed through its ingest API with the logs and spans of
// one request across gateway → orders → payments, plus unrelated traffic, and
// a real headless Chromium.
//
// Run: HIVE_BINARY_DIR=build NODE_PATH=node_modules node --test tests/dashboard/logs_trace.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import {
  api, cleanup, launchBrowser, makeTempDir, openPage, screenshot, startHived, waitFor,
} from './harness.mjs';

const UI_WAIT_MS = 10_000;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const BIG_TRACE = '0af7651916cd43dd8448eb211c80319c';
const LOGS_ONLY_TRACE = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';

let browser;
let hived;
// The request's first moment: a minute ago, so every range filter holds it.
const t0 = Date.now() - 60_000;
const at = (ms) => new Date(t0 + ms).toISOString();

function ndjson(records) {
  return records.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

async function ingestLogs(events) {
  const answer = await api(hived.url, 'POST', '/api/v1/ingest/logs', ndjson(events));
  assert.equal(answer.rejected, 0, JSON.stringify(answer.errors));
}

async function ingestSpans(spans) {
  const answer = await api(hived.url, 'POST', '/api/v1/ingest/spans', ndjson(spans));
  assert.equal(answer.rejected, 0, JSON.stringify(answer.errors));
}

// The checkout request: gateway → orders → {inventory, payments}, payments fails.
const SPANS = [
  { span_id: 'a000000000000001', service: 'gateway', instance: 'gateway-1', name: 'POST /checkout', kind: 'server', start: 0, duration_ms: 120, status: 'error', attrs: { 'http.status_code': 502, 'http.method': 'POST' } },
  { span_id: 'a000000000000002', parent: 'a000000000000001', service: 'gateway', instance: 'gateway-1', name: 'POST orders', kind: 'client', start: 4, duration_ms: 108, attrs: { 'peer.service': 'orders' } },
  { span_id: 'b000000000000001', parent: 'a000000000000002', service: 'orders', instance: 'orders-2', name: 'POST /orders', kind: 'server', start: 6, duration_ms: 102, status: 'error' },
  { span_id: 'b000000000000002', parent: 'b000000000000001', service: 'orders', instance: 'orders-2', name: 'reserve stock', kind: 'client', start: 10, duration_ms: 30 },
  { span_id: 'c000000000000001', parent: 'b000000000000002', service: 'inventory', instance: 'inventory-1', name: 'POST /reserve', kind: 'server', start: 12, duration_ms: 26 },
  { span_id: 'b000000000000003', parent: 'b000000000000001', service: 'orders', instance: 'orders-2', name: 'charge card', kind: 'client', start: 45, duration_ms: 58 },
  { span_id: 'd000000000000001', parent: 'b000000000000003', service: 'payments', instance: 'payments-1', name: 'POST /charge', kind: 'server', start: 47, duration_ms: 54, status: 'error', attrs: { 'http.status_code': 503 } },
].map(({ parent, start, ...s }) => ({
  trace_id: TRACE, parent_span_id: parent, start: at(start), ...s,
}));

const TRACE_LOGS = [
  { ms: 1, service: 'gateway', instance: 'gateway-1', level: 'info', message: 'checkout started for cart 8812', span_id: 'a000000000000001', attrs: { cart: 8812, user: 'u-77' } },
  { ms: 20, service: 'inventory', instance: 'inventory-1', level: 'info', message: 'reserved 2 items', span_id: 'c000000000000001' },
  { ms: 60, service: 'orders', instance: 'orders-2', level: 'debug', message: 'audit record written' },
  { ms: 95, service: 'payments', instance: 'payments-1', level: 'error', message: 'card processor timed out after 50ms', span_id: 'd000000000000001', attrs: { processor: 'acme', retryable: true } },
  { ms: 104, service: 'orders', instance: 'orders-2', level: 'warn', message: 'payment failed, releasing stock', span_id: 'b000000000000001' },
  { ms: 118, service: 'gateway', instance: 'gateway-1', level: 'error', message: 'checkout failed: upstream 502', span_id: 'a000000000000001' },
].map(({ ms, ...e }) => ({ ts: at(ms), trace_id: TRACE, ...e }));

// Unrelated traffic before the request: health checks and other requests.
function background() {
  const events = [];
  for (let i = 0; i < 40; i++) {
    const service = ['gateway', 'orders', 'inventory', 'payments'][i % 4];
    events.push({
      ts: at(-30_000 + i * 500), service, instance: `${service}-1`,
      level: i % 10 === 7 ? 'warn' : 'info',
      message: i % 10 === 7 ? `slow response from ${service} db: ${200 + i}ms` : `GET /health 200 (${i})`,
      trace_id: `00000000000000000000000000${String(1000 + i).padStart(6, '0')}`,
    });
  }
  events.push({ ts: at(-5_000), service: 'payments', instance: 'payments-2', level: 'error', message: 'connection refused by card processor', attrs: { 'peer.address': '10.0.0.7:443' } });
  return events;
}

// A trace of 3,001 spans: a root, 60 children, each with 49 children.
function bigTrace() {
  const spans = [{ trace_id: BIG_TRACE, span_id: 'root', service: 'gateway', name: 'batch import', kind: 'server', start: at(0), duration_ms: 5000 }];
  for (let i = 0; i < 60; i++) {
    const parent = `p${i}`;
    spans.push({ trace_id: BIG_TRACE, span_id: parent, parent_span_id: 'root', service: 'orders', name: `import chunk ${i}`, kind: 'internal', start: at(i * 80), duration_ms: 78 });
    for (let j = 0; j < 49; j++) {
      spans.push({ trace_id: BIG_TRACE, span_id: `${parent}c${j}`, parent_span_id: parent, service: j % 2 ? 'inventory' : 'payments', name: `row ${j}`, kind: 'client', start: at(i * 80 + j), duration_ms: 1.5, status: j === 13 ? 'error' : 'ok' });
    }
  }
  return spans;
}

// Row texts of the Logs view, top to bottom.
function logMessages(page) {
  return page.locator('#logs-view .log-row .log-message').allTextContents();
}

function search(page) {
  return new URL(page.url()).searchParams;
}

before(async () => {
  browser = await launchBrowser();
  hived = await startHived();
  await ingestLogs([...background(), ...TRACE_LOGS]);
  await ingestSpans(SPANS);
  await ingestSpans(bigTrace());
  await ingestLogs([
    { ts: at(-20_000), service: 'orders', level: 'info', message: 'nightly export begun', trace_id: LOGS_ONLY_TRACE },
    { ts: at(-19_990), service: 'inventory', level: 'warn', message: 'export row skipped', trace_id: LOGS_ONLY_TRACE },
  ]);
});

after(async () => {
  await browser?.close();
  await cleanup();
});

test('a search with filters shows the matching events, newest first, and the URL carries it', async () => {
  const page = await openPage(browser, hived.url, '?tab=logs');
  try {
    await page.locator('#logs-view .log-row').first().waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await page.locator('#tab-logs').getAttribute('aria-selected'), 'true');
    assert.equal(await page.locator('#logs-view .log-row').count(), 49);
    const all = await logMessages(page);
    assert.equal(all[0], 'checkout failed: upstream 502');
    assert.equal(all.at(-1), 'GET /health 200 (0)');
    // A click on a row shows its fields and attributes.
    const failed = page.locator('#logs-view .log-row', { hasText: 'card processor timed out' });
    await failed.locator('.log-message').click();
    const details = failed.locator('.log-details');
    await details.waitFor({ timeout: UI_WAIT_MS });
    const text = await details.textContent();
    assert.match(text, /processor\s*acme/);
    assert.match(text, /retryable\s*true/);
    assert.match(text, /span_id\s*d000000000000001/);
    await screenshot(page, 'logs.png');

    // The service list comes from the registry; an unregistered service can still be typed in the URL.
    await page.goto(`${hived.url}/?tab=logs&service=payments&level=error`);
    await waitFor(async () => (await logMessages(page)).length === 2, { what: 'two payments errors' });
    assert.deepEqual(await logMessages(page),
      ['card processor timed out after 50ms', 'connection refused by card processor']);
    assert.equal(await page.locator('#logs-view select[name="service"]').inputValue(), 'payments');
    assert.equal(await page.locator('#logs-view select[name="level"]').inputValue(), 'error');

    // Text search from the form: Enter submits, and the URL follows.
    await page.locator('#logs-view select[name="service"]').selectOption('');
    await page.locator('#logs-view select[name="level"]').selectOption('warn');
    await page.locator('#logs-view input[name="q"]').fill('SLOW RESPONSE');
    await page.locator('#logs-view input[name="q"]').press('Enter');
    await waitFor(async () => {
      const rows = await logMessages(page);
      return rows.length === 4 && rows.every((m) => m.startsWith('slow response from'));
    }, { what: 'the four slow-response warnings' });
    const params = search(page);
    assert.equal(params.get('tab'), 'logs');
    assert.equal(params.get('level'), 'warn');
    assert.equal(params.get('q'), 'SLOW RESPONSE');
    assert.equal(params.has('service'), false);

    // Nothing matching is an empty state, not an empty table.
    await page.locator('#logs-view input[name="q"]').fill('no such words anywhere');
    await page.locator('#logs-view button[type="submit"]').click();
    await page.locator('#logs-view .logs-empty').waitFor({ state: 'visible', timeout: UI_WAIT_MS });
    assert.match(await page.locator('#logs-view .logs-empty').textContent(), /no log events match/);
    assert.equal(await page.locator('#logs-view .log-row').count(), 0);

    // Instance and time range, through a shared link.
    await page.goto(`${hived.url}/?tab=logs&instance=orders-2&since=5m`);
    await waitFor(async () => (await logMessages(page)).length === 2, { what: 'the two orders-2 events' });
    assert.equal(await page.locator('#logs-view select[name="since"]').inputValue(), '5m');
    assert.equal(await page.locator('#logs-view input[name="instance"]').inputValue(), 'orders-2');

    // A regular expression.
    await page.goto(`${hived.url}/?tab=logs&re=${encodeURIComponent('timed out after \\d+ms')}`);
    await waitFor(async () => (await logMessages(page)).length === 1, { what: 'the regex match' });
    assert.equal(await page.locator('#logs-view .log-row').first().getAttribute('data-level'), 'error');
  } finally {
    await page.close();
  }
});

test('"Load older" pages back with the cursor until no page is left', async () => {
  const events = [];
  for (let i = 0; i < 250; i++) {
    events.push({ ts: at(-50_000 + i * 10), service: 'batch', level: 'info', message: `batch row ${i}` });
  }
  await ingestLogs(events);
  const page = await openPage(browser, hived.url, '?tab=logs&service=batch');
  try {
    await waitFor(async () => (await logMessages(page)).length === 200, { what: 'the first page' });
    const older = page.locator('#logs-view button', { hasText: 'Load older' });
    assert.equal(await older.isVisible(), true);
    await older.click();
    await waitFor(async () => (await logMessages(page)).length === 250, { what: 'the second page' });
    const messages = await logMessages(page);
    assert.deepEqual(messages.slice(198, 202), ['batch row 51', 'batch row 50', 'batch row 49', 'batch row 48']);
    assert.equal(messages.at(-1), 'batch row 0');
    assert.equal(await older.isVisible(), false);
  } finally {
    await page.close();
  }
});

test('a bad regular expression shows the API\'s message under the field', async () => {
  const page = await openPage(browser, hived.url, '?tab=logs&service=orders');
  try {
    await page.locator('#logs-view .log-row').first().waitFor({ timeout: UI_WAIT_MS });
    await page.locator('#logs-view input[name="re"]').fill('payment (failed');
    await page.locator('#logs-view input[name="re"]').press('Enter');
    const error = page.locator('#logs-re-error');
    await error.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
    assert.match(await error.textContent(), /bad regex: missing \)/);
    assert.equal(await page.locator('#logs-view input[name="re"]').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#logs-view .log-row').count(), 0);
    assert.equal(search(page).get('re'), 'payment (failed');
    await screenshot(page, 'logs-bad-regex.png');

    // Fixing it searches again and clears the message.
    await page.locator('#logs-view input[name="re"]').fill('payment (failed|ok)');
    await page.locator('#logs-view input[name="re"]').press('Enter');
    await waitFor(async () => (await logMessages(page)).length === 1, { what: 'the fixed regex match' });
    assert.equal(await error.isHidden(), true);
  } finally {
    await page.close();
  }
});

test('the live tail shows an event ingested after it started, filtered, and pauses', async () => {
  const page = await openPage(browser, hived.url, '?tab=logs&service=inventory&level=warn');
  try {
    await page.locator('#logs-view .log-row').first().waitFor({ timeout: UI_WAIT_MS });
    const before = await page.locator('#logs-view .log-row').count();
    await page.locator('#logs-view .live-toggle').click();
    assert.equal(search(page).get('live'), '1');
    await page.locator('#logs-view .live-toggle.streaming').waitFor({ timeout: UI_WAIT_MS });

    await ingestLogs([
      { service: 'orders', level: 'error', message: 'not for this tail (other service)' },
      { service: 'inventory', level: 'info', message: 'not for this tail (below warn)' },
      { service: 'inventory', instance: 'inventory-3', level: 'warn', message: 'stock low for sku 4411' },
    ]);
    await waitFor(async () => (await logMessages(page))[0] === 'stock low for sku 4411',
      { timeout: UI_WAIT_MS, what: 'the tailed event on top' });
    assert.equal(await page.locator('#logs-view .log-row').count(), before + 1);

    // Paused: new events wait, then arrive on resume.
    const pause = page.locator('#logs-view .logs-bar-actions button', { hasText: 'Pause' });
    await pause.click();
    await ingestLogs([{ service: 'inventory', level: 'error', message: 'stock sync failed' }]);
    const resume = page.locator('#logs-view .logs-bar-actions button', { hasText: 'Resume (1 new)' });
    await resume.waitFor({ timeout: UI_WAIT_MS });
    assert.equal((await logMessages(page))[0], 'stock low for sku 4411');
    await resume.click();
    assert.equal((await logMessages(page))[0], 'stock sync failed');
    assert.equal(await page.locator('#logs-view .log-row').count(), before + 2);

    // A reload keeps the tail on (live=1 is in the URL).
    await page.reload();
    await page.locator('#logs-view .live-toggle.streaming').waitFor({ timeout: UI_WAIT_MS });
    await ingestLogs([{ service: 'inventory', level: 'fatal', message: 'inventory db unreachable' }]);
    await waitFor(async () => (await logMessages(page))[0] === 'inventory db unreachable',
      { timeout: UI_WAIT_MS, what: 'the tailed event after a reload' });
    await screenshot(page, 'logs-live.png');
  } finally {
    await page.close();
  }
});

test('a trace link opens the waterfall with nested spans and the log lines in place', async () => {
  const page = await openPage(browser, hived.url, '?tab=logs&q=checkout%20failed');
  try {
    const link = page.locator(`#logs-view a.trace-link[data-trace="${TRACE}"]`);
    await link.first().waitFor({ timeout: UI_WAIT_MS });
    await link.first().click();
    await page.locator('#trace-view .span-row').first().waitFor({ timeout: UI_WAIT_MS });
    assert.equal(search(page).get('tab'), 'trace');
    assert.equal(search(page).get('trace'), TRACE);
    assert.equal(await page.locator('#tab-logs').getAttribute('aria-selected'), 'true');
    assert.equal(await page.locator('#logs-view').isHidden(), true);

    // Rows in display order: [kind, id or message, nesting level].
    const rows = await page.locator('#trace-view .span-row, #trace-view .trace-log').evaluateAll((nodes) =>
      nodes.map((n) => [
        n.classList.contains('span-row') ? 'span' : 'log',
        n.dataset.span || n.querySelector('.trace-log-message').textContent,
        Number(n.getAttribute('aria-level')),
      ]));
    assert.deepEqual(rows, [
      ['span', 'a000000000000001', 1],
      ['log', 'checkout started for cart 8812', 2],
      ['span', 'a000000000000002', 2],
      ['span', 'b000000000000001', 3],
      ['span', 'b000000000000002', 4],
      ['span', 'c000000000000001', 5],
      ['log', 'reserved 2 items', 6],
      ['span', 'b000000000000003', 4],
      ['span', 'd000000000000001', 5],
      // No span_id: placed by time, before the first row that starts later.
      ['log', 'audit record written', 6],
      ['log', 'card processor timed out after 50ms', 6],
      ['log', 'payment failed, releasing stock', 4],
      ['log', 'checkout failed: upstream 502', 2],
    ]);

    // Header: services, counts; errors are marked.
    const header = await page.locator('#trace-view .trace-header').textContent();
    assert.match(header, new RegExp(TRACE));
    assert.match(header, /Services\s*4/);
    assert.match(header, /Spans\s*7/);
    assert.match(header, /Errors\s*3/);
    assert.match(header, /Log lines\s*6/);
    assert.match(header, /Duration\s*120ms/);
    assert.equal(await page.locator('#trace-view .span-row.span-error').count(), 3);
    assert.deepEqual(await page.locator('#trace-view .trace-legend-item').evaluateAll(
      (links) => links.map((a) => new URL(a.href).searchParams.get('service'))),
    ['gateway', 'orders', 'inventory', 'payments']);

    // Bars sit on the time axis: the payments span starts at 47 of 120 ms.
    const bar = await page.locator('#trace-view .span-row[data-span="d000000000000001"] .span-bar')
      .evaluate((b) => [parseFloat(b.style.left), parseFloat(b.style.width)]);
    assert.ok(Math.abs(bar[0] - (47 / 120) * 100) < 0.01, `left ${bar[0]}`);
    assert.ok(Math.abs(bar[1] - (54 / 120) * 100) < 0.01, `width ${bar[1]}`);

    // A click on a span shows its attributes.
    await page.locator('#trace-view .span-row[data-span="d000000000000001"] .span-name').click();
    const detail = page.locator('#trace-view .span-row[data-span="d000000000000001"] .span-detail');
    await detail.waitFor({ timeout: UI_WAIT_MS });
    assert.match(await detail.textContent(), /http\.status_code\s*503/);
    await screenshot(page, 'trace.png');

    // Collapsing the orders server span hides its subtree, expanding shows it again.
    const orders = page.locator('#trace-view .span-row[data-span="b000000000000001"]');
    await orders.locator('.span-toggle').click();
    assert.equal(await orders.getAttribute('aria-expanded'), 'false');
    for (const id of ['b000000000000002', 'c000000000000001', 'd000000000000001']) {
      assert.equal(await page.locator(`#trace-view .span-row[data-span="${id}"]`).isHidden(), true, id);
    }
    assert.equal(await page.locator('#trace-view .trace-log', { hasText: 'payment failed' }).isHidden(), true);
    assert.equal(await page.locator('#trace-view .trace-log', { hasText: 'checkout failed' }).isVisible(), true);
    await orders.locator('.span-toggle').click();
    assert.equal(await page.locator('#trace-view .span-row[data-span="d000000000000001"]').isVisible(), true);

    // A service name opens the service page.
    const service = page.locator('#trace-view .span-row[data-span="c000000000000001"] a.span-service');
    assert.deepEqual(Object.fromEntries(new URL(await service.evaluate((a) => a.href)).searchParams),
      { tab: 'service', service: 'inventory' });

    // "Show path on graph" goes to the graph with the trace in the URL.
    await page.locator('#trace-view a', { hasText: 'Show path on graph' }).click();
    await waitFor(() => search(page).get('tab') === 'graph', { what: 'the graph view' });
    assert.equal(search(page).get('trace'), TRACE);
    assert.equal(await page.locator('#graph-view').isVisible(), true);

    // Back returns to the waterfall.
    await page.goBack();
    await page.locator('#trace-view .span-row').first().waitFor({ timeout: UI_WAIT_MS });
    assert.equal(search(page).get('trace'), TRACE);

    // Reload picks up a line that arrived later, under its span.
    await ingestLogs([{ ts: at(99), trace_id: TRACE, span_id: 'd000000000000001', service: 'payments', level: 'warn', message: 'retry budget exhausted' }]);
    await page.locator('#trace-view button', { hasText: 'Reload' }).click();
    await waitFor(async () => (await page.locator('#trace-view .trace-log').count()) === 7, { what: 'the late log line' });
    const late = page.locator('#trace-view .trace-log', { hasText: 'retry budget exhausted' });
    assert.equal(await late.getAttribute('data-span-id'), 'd000000000000001');
    assert.equal(await late.getAttribute('aria-level'), '6');
  } finally {
    await page.close();
  }
});

test('an unknown trace is an empty state; a trace of log lines only is a time-ordered list', async () => {
  const page = await openPage(browser, hived.url, '?tab=trace&trace=deadbeef');
  try {
    const empty = page.locator('#trace-view .trace-empty');
    await empty.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
    assert.match(await empty.textContent(), /no trace deadbeef/);
    assert.equal(await page.locator('#trace-view .span-row').count(), 0);

    // The ID box opens another trace.
    await page.locator('#trace-view input[name="trace"]').fill(LOGS_ONLY_TRACE);
    await page.locator('#trace-view input[name="trace"]').press('Enter');
    await page.locator('#trace-view .trace-log').first().waitFor({ timeout: UI_WAIT_MS });
    assert.equal(search(page).get('trace'), LOGS_ONLY_TRACE);
    assert.equal(await empty.isHidden(), true);
    assert.deepEqual(await page.locator('#trace-view .trace-log-message').allTextContents(),
      ['nightly export begun', 'export row skipped']);
    assert.deepEqual(await page.locator('#trace-view .trace-log-offset').allTextContents(), ['+0ms', '+10ms']);
    assert.equal(await page.locator('#trace-view .span-row').count(), 0);
    assert.match(await page.locator('#trace-view .trace-header').textContent(), /Spans\s*0/);
  } finally {
    await page.close();
  }
});

test('a trace of 3,001 spans renders at once and collapses', async () => {
  const page = await openPage(browser, hived.url, `?tab=trace&trace=${BIG_TRACE}`);
  try {
    await page.locator('#trace-view .span-row').first().waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await page.locator('#trace-view .span-row').count(), 3001);
    assert.equal(await page.locator('#trace-view .span-row.span-error').count(), 60);

    const millis = await page.evaluate(() => {
      const started = performance.now();
      document.querySelector('#trace-view .wf-head-actions button:last-child').click();
      document.body.offsetHeight;  // force the layout
      return performance.now() - started;
    });
    assert.ok(millis < 1000, `collapse all took ${millis} ms`);
    assert.equal(await page.locator('#trace-view .span-row:visible').count(), 61);
    await page.locator('#trace-view .span-row[data-span="p7"] .span-toggle').click();
    assert.equal(await page.locator('#trace-view .span-row:visible').count(), 110);
    await screenshot(page, 'trace-large.png');
  } finally {
    await page.close();
  }
});

test('with tokens, the views ask for one, then search and tail with it', async () => {
  const dir = makeTempDir('logs-tokens');
  const tokensFile = path.join(dir, 'tokens.yaml');
  writeFileSync(tokensFile, 'tokens:\n' +
    '  - {name: shipper, role: agent, token: agent-token}\n' +
    '  - {name: viewer, role: reader, token: read-token}\n');
  const secured = await startHived({ tokensFile });
  try {
    await api(secured.url, 'POST', '/api/v1/ingest/logs',
      ndjson([{ service: 'orders', level: 'info', message: 'behind a token' }]), 'agent-token');
    const page = await openPage(browser, secured.url, '?tab=logs&live=1');
    try {
      await page.locator('#auth').waitFor({ state: 'visible', timeout: UI_WAIT_MS });
      await page.locator('#token-input').fill('read-token');
      await page.locator('#token-input').press('Enter');
      await waitFor(async () => (await logMessages(page))[0] === 'behind a token',
        { what: 'the search with the token' });
      await page.locator('#logs-view .live-toggle.streaming').waitFor({ timeout: UI_WAIT_MS });
      await api(secured.url, 'POST', '/api/v1/ingest/logs',
        ndjson([{ service: 'orders', level: 'info', message: 'tailed with a token' }]), 'agent-token');
      await waitFor(async () => (await logMessages(page))[0] === 'tailed with a token',
        { what: 'the tailed event' });
    } finally {
      await page.close();
    }
  } finally {
    await secured.stop();
  }
});
