// Browser end-to-end test of the service page (?tab=service): a real hived
// with a tokens file and a secrets key, data put in through its HTTP API
// (instances, spans, error logs, config pushes and rollout reports), and the
// page in headless Chromium, signed in through the token prompt.
//
// Run: HIVE_BINARY_DIR=build node --test tests/dashboard/service_page.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import {
  api, artifacts, cleanup, launchBrowser, makeTempDir, openPage, screenshot, startHived, waitFor,
} from './harness.mjs';

const TOKENS = {
  admin: randomBytes(16).toString('hex'),
  reader: randomBytes(16).toString('hex'),
};
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const APP = '/api/v1/config/payments/demo';

let browser;
let hived;

const as = (role) => (method, apiPath, body) => api(hived.url, method, apiPath, body, TOKENS[role]);
const admin = as('admin');

async function push(body, message) {
  const response = await fetch(hived.url + APP, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json', 'x-hive-message': message,
    },
    body: JSON.stringify(body),
  });
  const answer = await response.text();
  assert.equal(response.status, 200, answer);
  return JSON.parse(answer);
}

// Server spans of payments over the last minutes (more and slower towards
// now, one in ten failing), and error logs carrying a trace id.
async function ingestTraffic() {
  const now = Date.now();
  const lines = [];
  for (let minute = 0; minute < 8; minute++) {
    for (let i = 0; i < 6 + minute * 2; i++) {
      lines.push(JSON.stringify({
        trace_id: `t${minute}x${i}`, span_id: 'a1', service: 'payments', instance: 'payments-1',
        name: 'POST /pay', kind: 'server', start: new Date(now - (7 - minute) * 60_000 - i * 10).toISOString(),
        duration_ms: 4 + i * 1.5 + minute, status: i % 10 === 3 ? 'error' : 'ok',
      }));
    }
  }
  const spans = await admin('POST', '/api/v1/ingest/spans', lines.join('\n') + '\n');
  assert.equal(spans.rejected, 0);
  const logs = [
    { level: 'error', instance: 'payments-1', message: 'card declined by the bank', trace_id: TRACE },
    { level: 'error', instance: 'payments-2', message: 'timeout talking to the ledger' },
    { level: 'info', instance: 'payments-1', message: 'payment accepted' },
  ].map((e, i) => JSON.stringify({ ts: new Date(now - i * 1000).toISOString(), service: 'payments', ...e }));
  const response = await fetch(hived.url + '/api/v1/ingest/logs', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/x-ndjson' },
    body: logs.join('\n') + '\n',
  });
  assert.equal(response.status, 200, await response.text());
}

async function register(id, health, metadata = { 'hive.config.profile': 'demo' }) {
  await admin('PUT', `/api/v1/services/payments/instances/${id}`, {
    address: '127.0.0.1', port: 9000 + Number(id.slice(-1)), version: '1.4.2', ttl: '5m', metadata, health,
  });
}

// A page signed in with the token of `role` through the token prompt.
async function signedIn(role, query) {
  const page = await openPage(browser, hived.url, query);
  await page.waitForSelector('#auth:not([hidden])');
  await page.fill('#token-input', TOKENS[role]);
  await page.click('#auth-form button[type="submit"]');
  return page;
}

before(async () => {
  const dir = makeTempDir('service-page');
  const tokensFile = path.join(dir, 'tokens.yaml');
  writeFileSync(tokensFile, [
    'tokens:',
    `  - {name: alice, role: admin, token: ${TOKENS.admin}}`,
    `  - {name: rita, role: reader, token: ${TOKENS.reader}}`,
    '',
  ].join('\n'));
  const keyFile = path.join(dir, 'secrets.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  hived = await startHived({ tokensFile, args: ['--secrets-key-file', keyFile] });
  browser = await launchBrowser();

  await register('payments-1', { status: 'passing', output: 'HTTP 200 from /health' });
  await register('payments-2', { status: 'warning', output: 'slow: 870 ms' });
  // A shared layer every application reads with profile demo.
  await admin('PUT', '/api/v1/config/application/demo', { region: 'eu', 'log.level': 'info' });
  await push({ failure_rate: 0.02, mode: 'safe', db: { pool: { size: 5 }, password: '{secret}hunter2' } },
    'demo: a little failure');
  await push({ failure_rate: 0.3, db: { pool: { size: 8 }, password: '{secret}hunter2' }, region: 'us' },
    'break payments on purpose');
  await admin('PUT', `${APP}/applied/payments-1`, { version: 2, status: 'applied' });
  await admin('PUT', `${APP}/applied/payments-2`,
    { version: 2, status: 'failed', message: 'on_change command exited with status 1' });
  await ingestTraffic();
});

after(async () => {
  await browser?.close();
  await cleanup();
});

test('the service page shows instances, traffic, errors and configuration, and rolls back', async () => {
  const page = await signedIn('admin', '?tab=service&service=payments&window=15m');
  const view = page.locator('#service-view');

  // Instances with health, check output, and the config version each applied.
  await page.waitForSelector('#service-view [data-instance="payments-2"]');
  const row1 = view.locator('[data-instance="payments-1"]');
  const row2 = view.locator('[data-instance="payments-2"]');
  await waitFor(async () => (await row2.textContent()).includes('v2 failed'), { what: 'rollout per instance' });
  assert.match(await row1.textContent(), /passing.*HTTP 200 from \/health.*v2 applied/s);
  assert.match(await row2.textContent(), /warning.*slow: 870 ms.*on_change command exited/s);
  assert.match(await view.locator('.svc-counts').textContent(), /2 instances.*1 passing.*1 warning/s);

  // Charts drawn from /api/v1/traffic.
  const requests = view.locator('[data-chart="requests"]');
  await requests.waitFor();
  const calls = Number(await requests.getAttribute('data-calls'));
  assert.ok(calls >= 100, `the request chart counts ${calls} calls`);
  assert.equal(await view.locator('[data-chart] canvas').count(), 3);
  assert.ok(Number(await view.locator('[data-chart="errors"]').getAttribute('data-errors')) > 0);
  assert.ok(Number(await view.locator('[data-chart="latency"]').getAttribute('data-points')) >= 8);

  // Recent errors with a link to the trace; info lines are not listed.
  const traceLink = view.locator(`#service-errors a.trace-link[data-trace="${TRACE}"]`);
  await traceLink.waitFor();
  assert.match(await traceLink.getAttribute('href'), new RegExp(`tab=trace&trace=${TRACE}`));
  assert.equal(await view.locator('#service-errors .svc-error-row').count(), 2);
  assert.doesNotMatch(await view.locator('#service-errors').textContent(), /payment accepted/);

  // Configuration: the profile the instances declare, values with their
  // sources (secrets redacted even for an admin), history, rollout and the diff.
  const config = page.locator('#service-config');
  await config.locator('[data-version="1"]').waitFor();
  assert.equal(await page.inputValue('#service-profile'), 'demo');
  assert.match(await config.locator('#service-config-values tr[data-key="failure_rate"]').textContent(), /0\.3.*payments\/demo/s);
  assert.match(await config.locator('#service-config-values tr[data-key="log.level"]').textContent(), /info.*application\/demo/s);
  assert.match(await config.locator('#service-config-values tr[data-key="db.password"]').textContent(), /<redacted>.*secret/s);
  assert.doesNotMatch(await page.locator('#service-view').textContent(), /hunter2/);
  assert.match(await config.locator('[data-version="2"]').textContent(), /v2.*current.*alice.*break payments on purpose/s);
  assert.equal(await config.locator('[data-version="2"] button[data-action="rollback"]').count(), 0);
  assert.equal(await config.locator('[data-rollout-instance="payments-1"]').getAttribute('data-status'), 'applied');
  assert.equal(await config.locator('[data-rollout-instance="payments-2"]').getAttribute('data-status'), 'failed');
  await config.locator('#service-config-diff [data-diff="changed"][data-key="failure_rate"]').waitFor();
  assert.match(await config.locator('#service-config-diff [data-diff="removed"]').textContent(), /mode.*safe/s);
  assert.match(await config.locator('#service-config-diff [data-diff="added"]').textContent(), /region.*us/s);
  await screenshot(page, 'service-page.png');
  await page.screenshot({ path: path.join(artifacts, 'service-page-full.png'), fullPage: true });

  // The registry's event stream brings changes in without a reload, well
  // before the page's 10 s refresh.
  await register('payments-3', { status: 'critical', output: 'connection refused' });
  await view.locator('[data-instance="payments-3"]').waitFor({ timeout: 3000 });
  await config.locator('[data-rollout-instance="payments-3"][data-status="pending"]').waitFor();
  await admin('PUT', '/api/v1/services/payments/instances/payments-2/maintenance',
    { enabled: true, reason: 'kernel upgrade' });
  await waitFor(async () => /maintenance.*kernel upgrade/s.test(await row2.textContent()),
    { timeout: 3000, what: 'the maintenance override' });
  assert.match(await view.locator('.svc-counts').textContent(), /1 in maintenance/);

  // Rollback to version 1, after a confirmation saying what will happen.
  await config.locator('[data-version="1"] button[data-action="rollback"]').click();
  const dialog = page.locator('#confirm-dialog');
  await dialog.waitFor({ state: 'visible' });
  assert.match(await dialog.textContent(),
    /payments\/demo will get a new version 3 with the content of version 1\./);
  await screenshot(page, 'service-page-confirm.png');
  await page.click('#confirm-ok');
  await config.locator('[data-version="3"]').waitFor();
  assert.match(await config.locator('.svc-notice').textContent(), /version 3 has the content of version 1/);
  const v1 = await admin('GET', `${APP}/versions/1`);
  const v3 = await admin('GET', `${APP}/versions/3`);
  assert.deepEqual(v3.properties, v1.properties);
  assert.equal(v3.author, 'alice');
  // The diff now shows what the rollback changed.
  await config.locator('#service-config-diff [data-diff="changed"][data-key="failure_rate"]').waitFor();
  assert.equal(await page.inputValue('#service-diff-to'), '3');

  // A push between opening the dialog and confirming: 409, and the page reloads.
  await config.locator('[data-version="2"] button[data-action="rollback"]').click();
  await dialog.waitFor({ state: 'visible' });
  await push({ failure_rate: 0.5, db: { password: '{secret}hunter2' } }, 'someone else');
  await page.click('#confirm-ok');
  await waitFor(async () => /changed while you were looking/.test(await config.locator('.svc-notice').textContent()),
    { what: 'the conflict message' });
  await config.locator('[data-version="4"]').waitFor();
  assert.equal((await admin('GET', `${APP}/history`)).versions.length, 4, 'the conflicting rollback made nothing');
  await page.close();
});

test('a reader sees secrets redacted and no rollback', async () => {
  const page = await signedIn('reader', '?tab=service&service=payments&window=1h&profile=demo');
  const config = page.locator('#service-config');
  await config.locator('[data-version="1"]').waitFor();
  await config.locator('#service-config-values tr[data-key="db.password"]').waitFor();
  assert.match(await config.locator('#service-config-values tr[data-key="db.password"]').textContent(),
    /<redacted>.*secret/s);
  assert.equal(await page.locator('#service-view button[data-action="rollback"]').count(), 0);
  assert.match(await config.locator('#service-config-history').textContent(), /rollback needs an operator token/);
  await page.locator('#service-view [data-chart="requests"]').waitFor();
  await screenshot(page, 'service-page-reader.png');

  // The window selector re-reads the traffic and keeps the URL's window.
  const traffic = page.locator('#service-traffic');
  await page.selectOption('#service-window', '24h');
  await waitFor(async () => /last 24h, per 15 minutes/.test(await traffic.textContent()), { what: 'the 24h traffic' });
  assert.match(page.url(), /window=24h/);
  assert.ok(Number(await traffic.locator('[data-chart="requests"]').getAttribute('data-calls')) >= 100);
  await page.selectOption('#service-window', '1m');
  await waitFor(async () => /last 1m, per minute/.test(await traffic.textContent()), { what: 'the 1m traffic' });
  assert.equal(await traffic.locator('.svc-error').isVisible(), false);
  await page.close();
});

test('each section has its own empty and error state', async () => {
  // No instances, no traffic, no errors and no configuration.
  const page = await signedIn('admin', '?tab=service&service=ghost');
  const view = page.locator('#service-view');
  await waitFor(async () => /no configuration pushed for ghost\/default/.test(
    await view.locator('#service-config').textContent()), { what: 'the config empty state' });
  assert.ok(await view.locator('#service-config-history').isHidden());
  await waitFor(async () => /no requests to ghost in the last 1h/.test(
    await view.locator('#service-traffic').textContent()), { what: 'the traffic empty state' });
  assert.match(await view.locator('#service-instances').textContent(), /no instances of ghost are registered/);
  assert.match(await view.locator('#service-errors').textContent(), /no errors logged by ghost/);
  await screenshot(page, 'service-page-empty.png');

  // A profile with values from a shared layer but no document of its own.
  await page.fill('#service-profile', 'demo');
  await page.press('#service-profile', 'Enter');
  await waitFor(async () => /no configuration pushed for ghost\/demo/.test(
    await view.locator('#service-config-history').textContent()), { what: 'the history empty state' });
  assert.match(await view.locator('#service-config-values').textContent(), /region.*eu.*application\/demo/s);
  assert.match(await view.locator('#service-config-rollout').textContent(), /nothing to roll out/);

  // A profile the API refuses fails the configuration parts alone.
  await page.fill('#service-profile', 'Not A Profile');
  await page.press('#service-profile', 'Enter');
  await waitFor(async () => /Cannot load the effective configuration\..*400/.test(
    await view.locator('#service-config-values').textContent()), { what: 'the config error' });
  assert.match(page.url(), /profile=Not\+A\+Profile|profile=Not%20A%20Profile/);
  assert.match(await view.locator('#service-instances').textContent(), /no instances of ghost are registered/);
  assert.doesNotMatch(await view.locator('#service-traffic').textContent(), /Cannot load/);
  await view.locator('#service-config').scrollIntoViewIfNeeded();
  await screenshot(page, 'service-page-error.png');
  await page.close();
});
