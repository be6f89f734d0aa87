// bench_dashboard: how the Graph view copes with a big system. A real hived
// gets the spans of a synthetic system of 300 services and 1,000 calls; then
// headless Chromium opens the graph, and we measure, per round (fresh page):
//   - first render: navigation start → the first draw that holds every node
//     (fetch, cytoscape build and dagre layout included),
//   - layout: the dagre layout of that draw,
//   - refresh: a later draw of new numbers for the same shape (no layout),
//   - frame time while the mouse drags (pans) and wheels (zooms) over the
//     graph for 3 s (from requestAnimationFrame; 16.7 ms is 60 fps),
//   - tap → the service page shown, and typing in "find" → matches marked.
// Frame times are also measured with the large-graph mode switched off
// (curved edges, edges drawn while moving), the cost that mode avoids.
// Prints medians over the rounds. HIVE_BENCH_QUICK=1: one round.
//
// Run: HIVE_BINARY_DIR=build-bench NODE_PATH=node_modules node bench/dashboard/graph_bench.mjs
import { cleanup, launchBrowser, openPage, startHived } from '../../tests/dashboard/harness.mjs';
import { ingest, spansForCalls, syntheticCalls } from '../../tests/dashboard/synthetic.mjs';

const SERVICES = 300;
const EDGES = 1000;
const ROUNDS = process.env.HIVE_BENCH_QUICK === '1' ? 1 : 3;
const MOVE_MS = 3000;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

// Drags and wheels over the graph with the real mouse for `ms` while the
// page records the interval between animation frames; resolves with them.
async function moveAround(page, ms) {
  await page.evaluate(() => {
    const frames = [];
    let last = performance.now();
    window.benchFrames = frames;
    window.benchRecording = true;
    window.benchRenders = 0;
    window.hiveGraph.on('render', () => { window.benchRenders++; });
    function step(now) {
      frames.push(now - last);
      last = now;
      if (window.benchRecording) requestAnimationFrame(step);
    }
    requestAnimationFrame(step);
  });
  const box = await page.locator('#graph').boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const end = Date.now() + ms;
  for (let i = 0; Date.now() < end; i++) {
    // A drag on the background pans; a wheel turn zooms in or out.
    await page.mouse.move(box.x + 8, box.y + 8);
    await page.mouse.down();
    await page.mouse.move(box.x + 8 + 200 * Math.sin(i), box.y + 8 + 120, { steps: 12 });
    await page.mouse.up();
    await page.mouse.move(cx, cy);
    await page.mouse.wheel(0, i % 2 === 0 ? -240 : 240);
  }
  const { frames, renders, zoom } = await page.evaluate(() => {
    window.benchRecording = false;
    window.hiveGraph.off('render');
    return { frames: window.benchFrames.slice(1), renders: window.benchRenders, zoom: window.hiveGraph.zoom() };
  });
  // The viewport must have moved, or the frame times say nothing.
  if (renders < frames.length / 4) {
    throw new Error(`only ${renders} renders in ${frames.length} frames: the mouse did not move the graph`);
  }
  frames.renders = renders;
  frames.zoom = zoom;
  return frames;
}

// Turns the large-graph rendering off (as for a small graph) to measure
// what it saves; reaches into cytoscape's renderer, for this bench only.
function largeModeOff(page) {
  return page.evaluate(() => {
    const cy = window.hiveGraph;
    const renderer = cy.renderer();
    renderer.hideEdgesOnViewport = false;
    renderer.textureOnViewport = false;
    cy.style().selector('edge').style('curve-style', 'bezier').update();
  });
}

async function round(browser, url) {
  const page = await openPage(browser, url, '?tab=graph&window=15m&paused=1');
  try {
    await page.waitForFunction((n) => window.hiveGraph?.nodes().length === n, SERVICES,
      { timeout: 120_000 });
    const first = await page.evaluate(() => {
      const draw = performance.getEntriesByName('hive.graph.draw')[0];
      const layout = performance.getEntriesByName('hive.graph.layout')[0];
      return {
        render: draw.startTime + draw.duration,
        layout: layout.duration,
        edges: window.hiveGraph.edges().length,
      };
    });
    // Resume: the next answer is the same shape with new numbers.
    await page.locator('#graph-pause').click();
    await page.waitForFunction(() => performance.getEntriesByName('hive.graph.draw').length >= 2,
      null, { timeout: 60_000 });
    const refresh = await page.evaluate(() => performance.getEntriesByName('hive.graph.draw')[1].duration);
    await page.locator('#graph-pause').click();

    const frames = await moveAround(page, MOVE_MS);
    await page.evaluate(() => window.hiveGraph.fit(undefined, 40));

    let started = Date.now();
    await page.locator('#graph-find').fill('svc-29');
    await page.waitForFunction(() => window.hiveGraph.nodes('.found').length === 10);
    const find = Date.now() - started;
    await page.locator('#graph-find').fill('');

    await largeModeOff(page);
    const framesFull = await moveAround(page, MOVE_MS);
    await page.evaluate(() => window.hiveGraph.fit(undefined, 40));

    const box = await page.locator('#graph').boundingBox();
    const at = await page.evaluate(() => window.hiveGraph.$id('svc-150').renderedPosition());
    started = Date.now();
    await page.mouse.click(box.x + at.x, box.y + at.y);
    await page.locator('#service-view').waitFor({ state: 'visible', timeout: 30_000 });
    const tap = Date.now() - started;
    return { ...first, refresh, frames, framesFull, find, tap };
  } finally {
    await page.close();
  }
}

async function main() {
  const hived = await startHived({ args: ['--access-log', 'none'] });
  const browser = await launchBrowser();
  try {
    const { calls } = syntheticCalls(SERVICES, EDGES);
    await ingest(hived.url, '/api/v1/ingest/spans',
      spansForCalls(calls.map(([a, b], i) => [a, b, { count: 1 + (i % 5), errors: i % 17 === 0 ? 1 : 0 }])));
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) {
      const r = await round(browser, hived.url);
      rounds.push(r);
      console.log(`round ${i + 1}: ${r.edges} edges drawn; first render ${r.render.toFixed(0)} ms ` +
        `(layout ${r.layout.toFixed(0)} ms), refresh ${r.refresh.toFixed(1)} ms, frame p50 ` +
        `${median(r.frames).toFixed(1)} ms p95 ${percentile(r.frames, 95).toFixed(1)} ms ` +
        `(${r.frames.length} frames, ${r.frames.renders} renders), without large-graph mode p50 ${median(r.framesFull).toFixed(1)} ` +
        `ms p95 ${percentile(r.framesFull, 95).toFixed(1)} ms, find ${r.find} ms, tap ${r.tap} ms`);
    }
    const m = (f) => median(rounds.map(f));
    console.log(`\ndashboard graph, ${SERVICES} services / ${EDGES} edges, median of ${ROUNDS}:`);
    console.log(`  first render        ${m((r) => r.render).toFixed(0)} ms (layout ${m((r) => r.layout).toFixed(0)} ms)`);
    console.log(`  refresh (no layout) ${m((r) => r.refresh).toFixed(1)} ms`);
    console.log(`  pan/zoom frame      p50 ${m((r) => median(r.frames)).toFixed(1)} ms, p95 ${m((r) => percentile(r.frames, 95)).toFixed(1)} ms`);
    console.log(`  same, large-graph mode off  p50 ${m((r) => median(r.framesFull)).toFixed(1)} ms, p95 ${m((r) => percentile(r.framesFull, 95)).toFixed(1)} ms`);
    console.log(`  find → marked       ${m((r) => r.find).toFixed(0)} ms`);
    console.log(`  tap → service page  ${m((r) => r.tap).toFixed(0)} ms`);
  } finally {
    await browser.close();
    await hived.stop();
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
