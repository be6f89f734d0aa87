// Synthetic traffic for the graph's browser tests and its benchmark: spans
// that make hived's service graph show the given calls, sent through the
// real ingest API.
import { randomBytes } from 'node:crypto';

const hex = (bytes) => randomBytes(bytes).toString('hex');

// NDJSON spans for `calls` ([[from, to, {count, errors, ms}], ...]): each
// call is a server span in `from` and a child server span in `to`, so the
// graph counts the edge from→to and both services' traffic.
export function spansForCalls(calls, { now = Date.now() } = {}) {
  const lines = [];
  for (const [from, to, { count = 1, errors = 0, ms = 10 } = {}] of calls) {
    for (let i = 0; i < count; i++) {
      const trace = hex(16);
      const parent = hex(8);
      const start = new Date(now - 1000 - i * 10).toISOString();
      lines.push(JSON.stringify({
        trace_id: trace, span_id: parent, service: from, kind: 'server', name: 'GET /',
        start, duration_ms: ms * 2, status: 'ok',
      }));
      lines.push(JSON.stringify({
        trace_id: trace, span_id: hex(8), parent_span_id: parent, service: to, kind: 'server',
        name: 'GET /work', start, duration_ms: ms, status: i < errors ? 'error' : 'ok',
      }));
    }
  }
  return lines;
}

// POSTs NDJSON lines to hived in batches; rejects on any refused line.
export async function ingest(hivedUrl, apiPath, lines, token, batch = 5000) {
  for (let i = 0; i < lines.length; i += batch) {
    const headers = { 'content-type': 'application/x-ndjson' };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(hivedUrl + apiPath, {
      method: 'POST', headers, body: lines.slice(i, i + batch).join('\n') + '\n',
      signal: AbortSignal.timeout(30_000),
    });
    const answer = await response.json();
    if (!response.ok || answer.rejected > 0) {
      throw new Error(`${apiPath}: ${response.status} ${JSON.stringify(answer).slice(0, 300)}`);
    }
  }
}

// A layered synthetic system of `services` services and `edges` calls: a few
// entry points, each call going from one layer to a later one (so the graph
// is acyclic, like most call graphs), with no duplicate pair.
export function syntheticCalls(services, edges, { layers = 8, seed = 1 } = {}) {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const names = Array.from({ length: services }, (_, i) => `svc-${String(i).padStart(3, '0')}`);
  const layerOf = (i) => Math.floor((i * layers) / services);
  const seen = new Set();
  const calls = [];
  // Every service below the first layer has at least one caller.
  for (let i = 0; i < services && calls.length < edges; i++) {
    if (layerOf(i) === 0) continue;
    let from;
    do from = Math.floor(random() * services); while (layerOf(from) >= layerOf(i));
    seen.add(from + '>' + i);
    calls.push([names[from], names[i]]);
  }
  while (calls.length < edges) {
    const a = Math.floor(random() * services);
    const b = Math.floor(random() * services);
    if (layerOf(a) >= layerOf(b) || seen.has(a + '>' + b)) continue;
    seen.add(a + '>' + b);
    calls.push([names[a], names[b]]);
  }
  return { names, calls };
}
