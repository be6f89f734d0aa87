// Shared pieces of the dashboard's browser tests: headless Chromium, a real
// hived on a free port, and the demo shop (four services, their agents and a
// traffic generator) started the way scripts/demo.sh starts it.
//
// Every process started here writes its output to files in a temporary
// directory and is killed when the test process exits, even after a failure.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// require() honours NODE_PATH (set by ctest); ESM imports do not.
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const binaryDir = process.env.HIVE_BINARY_DIR || path.join(repoRoot, 'build');
export const artifacts = path.join(repoRoot, 'test-artifacts');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

const running = new Set();
// Processes that ended badly: a non-zero exit, or a signal we did not send
// (a sanitizer report makes the exit code non-zero). cleanup() fails on them.
const failures = [];
const tempDirs = new Set();
const pageErrors = [];

// A test during which a page opened by openPage() threw an uncaught error
// fails once it is done.
afterEach(() => {
  const errors = pageErrors.splice(0);
  if (errors.length > 0) assert.fail(`uncaught errors in the page: ${errors.join('; ')}`);
});

// The last resort: whatever is still running dies with the test process.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(128 + os.constants.signals[signal]));
}

export function launchBrowser() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

// A new page at baseUrl + query. An uncaught error in the page fails the
// test that opened it.
export async function openPage(browser, baseUrl, query = '') {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(new URL(query, `${baseUrl}/`).href);
  return page;
}

export function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  return page.screenshot({ path: path.join(artifacts, name) });
}

export function makeTempDir(name) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `hive-${name}-`));
  tempDirs.add(dir);
  return dir;
}

// Stops what is still running and removes the temporary directories; throws
// when a process started here ended badly (with the end of its stderr).
export async function cleanup() {
  await Promise.all([...running].map((child) => stopChild(child)));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
  const failed = failures.splice(0);
  if (failed.length > 0) throw new Error(failed.join('\n\n'));
}

// Polls condition() until it returns something truthy and returns that.
export async function waitFor(condition, { timeout = 10_000, interval = 200, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}` +
        (last ? `; last error: ${last.message}` : ''));
    }
    await sleep(interval);
  }
}

// Runs BINARY_DIR/relative with stdout and stderr going to files in dir.
function startProcess(relative, args, dir, name, env = {}) {
  const out = path.join(dir, `${name}.out`);
  const err = path.join(dir, `${name}.err`);
  const fds = [openSync(out, 'w'), openSync(err, 'w')];
  const child = spawn(path.join(binaryDir, relative), args, {
    stdio: ['ignore', ...fds], env: { ...process.env, ...env },
  });
  fds.forEach(closeSync);
  running.add(child);
  child.once('exit', (code, signal) => {
    running.delete(child);
    if (code !== 0 && !child.stoppedByUs) {
      failures.push(`${name} ended with ${signal ?? `exit code ${code}`}:\n${tail(err, 30)}`);
    }
  });
  child.once('error', () => running.delete(child));
  return { child, name, out, err };
}

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

function tail(file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

// The first line of the process's stdout or stderr that contains needle.
async function waitForLine(proc, stream, needle) {
  const file = stream === 'stdout' ? proc.out : proc.err;
  return waitFor(() => {
    const line = readFileSync(file, 'utf8').split('\n').find((l) => l.includes(needle));
    if (line) return line;
    if (exited(proc.child)) {
      throw new Error(`${proc.name} exited (${proc.child.exitCode ?? proc.child.signalCode})`);
    }
    return undefined;
  }, { timeout: START_TIMEOUT_MS, interval: 50, what: `"${needle}" from ${proc.name}` })
    .catch((error) => {
      throw new Error(`${error.message}\n${proc.name} stderr:\n${tail(proc.err)}`);
    });
}

// SIGTERM, then SIGKILL when the process is still there after STOP_TIMEOUT_MS.
async function stopChild(child) {
  if (exited(child)) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    child.stoppedByUs = true;
    child.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  await gone;
  clearTimeout(timer);
}

// hived on 127.0.0.1 with a fresh data directory; the port is the one its
// "listening" log line reports.
export async function startHived({ args = [], tokensFile } = {}) {
  const dir = makeTempDir('hived');
  const dataDir = path.join(dir, 'data');
  const flags = ['--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args];
  if (tokensFile) flags.push('--tokens-file', tokensFile);
  const proc = startProcess('hived/hived', flags, dir, 'hived');
  const line = await waitForLine(proc, 'stderr', '"msg":"listening"');
  const { addr } = JSON.parse(line);
  return {
    url: `http://${addr}`,
    port: Number(addr.slice(addr.lastIndexOf(':') + 1)),
    dataDir,
    stop: () => stopChild(proc.child),
  };
}

// One call to hived's API. body: an object (sent as JSON), a string (sent
// as text/plain, i.e. .properties) or undefined. Resolves with the parsed
// answer; a non-2xx answer throws an Error carrying status and the API error.
export async function api(url, method, apiPath, body, token) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let payload;
  if (typeof body === 'string') {
    headers['content-type'] = 'text/plain';
    payload = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const response = await fetch(url + apiPath, {
    method, headers, body: payload, signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { error: { code: 'not_json', message: text.slice(0, 200) } };
  }
  if (!response.ok) {
    const error = new Error(`${method} ${apiPath}: ${response.status} ` +
      `${json.error?.code ?? ''} ${json.error?.message ?? text.slice(0, 200)}`);
    error.status = response.status;
    error.error = json.error;
    throw error;
  }
  return json;
}

const runFile = promisify(execFile);

// hivectl against the given hived; resolves with its stdout.
export async function hivectl(hived, args, token) {
  const env = { ...process.env, HIVE_ADDR: hived.url };
  if (token) env.HIVE_TOKEN = token;
  const { stdout } = await runFile(path.join(binaryDir, 'hivectl', 'hivectl'), args,
    { env, timeout: 10_000 });
  return stdout;
}

// Downstream services first: a service needs its upstreams' ports.
const DEMO_SERVICES = [
  ['inventory', []],
  ['payments', []],
  ['orders', ['inventory', 'payments']],
  ['gateway', ['orders']],
];

function agentYaml({ name, port, hivedUrl, logFile, configFile, spoolDir, tokenFile }) {
  return [
    `service: ${name}`,
    `instance: ${name}-1`,
    'version: 1.0.0',
    'address: 127.0.0.1',
    `port: ${port}`,
    `control_plane: ${hivedUrl}`,
    ...(tokenFile ? [`token_file: ${tokenFile}`] : []),
    'heartbeat_interval: 1s',
    'health:',
    `  http: http://127.0.0.1:${port}/health`,
    '  interval: 1s',
    '  timeout: 1s',
    'logs:',
    `  - path: ${logFile}`,
    '    format: json',
    'config:',
    '  profile: demo',
    `  file: ${configFile}`,
    'spool:',
    `  dir: ${spoolDir}`,
    '',
  ].join('\n');
}

// The demo topology gateway → orders → {inventory, payments} against hived,
// each service with its hive-agent (instance "<name>-1", profile "demo"), and
// traffic at 20 requests per second. token (optional) is used by hivectl and
// the agents, so it needs the operator and agent roles (an admin token).
// stop() stops the traffic, then the agents, then the services.
export async function startDemo(hived, { token, rps = 20 } = {}) {
  const dir = makeTempDir('demo');
  const groups = { traffic: [], agents: [], services: [] };
  const stop = async () => {
    for (const group of ['traffic', 'agents', 'services']) {
      await Promise.all(groups[group].map(stopChild));
    }
  };
  try {
    await hivectl(hived, ['config', 'push', 'application', '--profile', 'demo', 'latency_ms=0',
      '--message', 'demo defaults'], token);
    await hivectl(hived, ['config', 'push', 'payments', '--profile', 'demo', 'failure_rate=0.02',
      '--message', 'demo: a little failure'], token);

    let tokenFile;
    if (token) {
      tokenFile = path.join(dir, 'agent.token');
      writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    }
    const services = {};
    for (const [name, upstreams] of DEMO_SERVICES) {
      const logFile = path.join(dir, `${name}.log`);
      const configFile = path.join(dir, `${name}.json`);
      const args = ['--name', name, '--listen', '127.0.0.1:0', '--log-file', logFile,
        '--config', configFile];
      for (const upstream of upstreams) {
        args.push('--upstream', `${upstream}=http://127.0.0.1:${services[upstream].port}`);
      }
      const proc = startProcess('demo/hive-demo-service', args, dir, name);
      groups.services.push(proc.child);
      const line = await waitForLine(proc, 'stdout', 'listening on');
      const port = Number(line.slice(line.lastIndexOf(':') + 1));
      services[name] = { port, configFile, logFile };
    }
    for (const [name] of DEMO_SERVICES) {
      const yaml = path.join(dir, `agent-${name}.yaml`);
      writeFileSync(yaml, agentYaml({
        name, hivedUrl: hived.url, spoolDir: path.join(dir, 'spool', name), tokenFile,
        ...services[name],
      }));
      groups.agents.push(startProcess('agents/hive-agent', ['--config', yaml], dir,
        `agent-${name}`).child);
    }
    groups.traffic.push(startProcess('demo/hive-demo-traffic',
      ['--target', `http://127.0.0.1:${services.gateway.port}`, '--rps', String(rps)],
      dir, 'traffic').child);
    return { services, dir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
