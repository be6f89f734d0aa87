// hive dashboard, Graph tab (the default): the live service dependency graph
// from GET /api/v1/graph, drawn with cytoscape and laid out left to right by
// dagre. Refreshes every 5 s unless paused; the data is updated in place and
// the layout only runs again when the set of nodes or edges changes, so
// nothing moves under the reader. Also owns the tabs and the URL state
// (?tab=&window=&paused=), so a view can be shared as a link.
// API text only reaches the page as cytoscape labels (canvas text) or through
// textContent, never as HTML.
'use strict';

(() => {
  const REFRESH_MS = 5000;
  const WINDOWS = ['1m', '5m', '15m', '1h', '6h', '24h'];
  const TABS = ['graph', 'services'];
  const COLORS = {
    healthy: '#2da44e',
    degraded: '#d4a72c',
    failing: '#cf222e',
    unknown: '#8c959f',
  };
  const EDGE_COLORS = {
    healthy: '#8c959f',
    degraded: '#bf8700',
    failing: '#cf222e',
    unknown: '#c4cad1',
  };

  const $ = (id) => document.getElementById(id);
  const hive = window.hive;
  const state = { tab: 'graph', window: '5m', paused: false };
  let cy = null;
  let shape = '';
  let timer = null;
  let inFlight = 0;

  function readUrl() {
    const params = new URLSearchParams(location.search);
    const tab = params.get('tab');
    const win = params.get('window');
    state.tab = TABS.includes(tab) ? tab : 'graph';
    state.window = WINDOWS.includes(win) ? win : '5m';
    state.paused = params.get('paused') === '1';
  }

  function writeUrl() {
    const params = new URLSearchParams(location.search);
    params.set('tab', state.tab);
    params.set('window', state.window);
    if (state.paused) params.set('paused', '1');
    else params.delete('paused');
    history.replaceState(null, '', location.pathname + '?' + params.toString() + location.hash);
  }

  function number(value) {
    const n = Number(value);
    return Number.isFinite(n) ? n : 0;
  }

  function health(value) {
    return Object.hasOwn(COLORS, value) ? value : 'unknown';
  }

  function formatRate(perSecond) {
    if (perSecond >= 100) return Math.round(perSecond) + ' req/s';
    if (perSecond >= 1) return perSecond.toFixed(1) + ' req/s';
    return perSecond.toFixed(2) + ' req/s';
  }

  function formatPercent(rate) {
    const p = rate * 100;
    if (p === 0) return '0%';
    if (p < 0.1) return '<0.1%';
    return (p < 10 ? p.toFixed(1) : Math.round(p)) + '%';
  }

  function formatMs(ms) {
    if (ms >= 1000) return (ms / 1000).toFixed(ms >= 10000 ? 0 : 1) + 's';
    return (ms >= 10 ? Math.round(ms) : ms.toFixed(1)) + 'ms';
  }

  // Node diameter grows with the log of the request rate, within bounds.
  function nodeSize(rate) {
    return Math.min(96, 40 + 12 * Math.log2(1 + rate));
  }

  function nodeData(node) {
    const id = String(node.id ?? '');
    const h = health(node.health);
    const rate = number(node.request_rate);
    const lines = [id];
    const inst = node.instances && typeof node.instances === 'object' ? node.instances : null;
    if (inst) lines.push(number(inst.passing) + '/' + number(inst.total) + ' passing');
    if (node.uninstrumented === true) lines.push('uninstrumented');
    return {
      id,
      label: lines.join('\n'),
      health: h,
      color: COLORS[h],
      size: nodeSize(rate),
      request_rate: rate,
      error_rate: number(node.error_rate),
      p99_ms: number(node.p99_ms),
    };
  }

  function edgeData(edge) {
    const source = String(edge.source ?? '');
    const target = String(edge.target ?? '');
    const h = health(edge.health);
    const rate = number(edge.request_rate);
    const errors = number(edge.error_rate);
    const p99 = number(edge.p99_ms);
    return {
      id: source + '\u2192' + target,
      source,
      target,
      label: formatRate(rate) + ' · ' + formatPercent(errors) + ' err · p99 ' + formatMs(p99),
      health: h,
      color: EDGE_COLORS[h],
      width: h === 'failing' ? 3 : 2,
      request_rate: rate,
      error_rate: errors,
      p99_ms: p99,
    };
  }

  function createGraph() {
    cy = window.cytoscape({
      container: $('graph'),
      minZoom: 0.2,
      maxZoom: 3,
      style: [
        {
          selector: 'node',
          style: {
            'background-color': 'data(color)',
            'border-width': 2,
            'border-color': '#ffffff',
            width: 'data(size)',
            height: 'data(size)',
            label: 'data(label)',
            'text-wrap': 'wrap',
            'text-valign': 'bottom',
            'text-margin-y': 6,
            'font-size': 13,
            'font-family': 'system-ui, sans-serif',
            color: '#1f2328',
            'text-background-color': '#ffffff',
            'text-background-opacity': 0.85,
            'text-background-padding': 2,
          },
        },
        {
          selector: 'edge',
          style: {
            'curve-style': 'bezier',
            width: 'data(width)',
            'line-color': 'data(color)',
            'target-arrow-color': 'data(color)',
            'target-arrow-shape': 'triangle',
            'arrow-scale': 1.2,
            label: 'data(label)',
            'font-size': 11,
            'font-family': 'system-ui, sans-serif',
            color: '#1f2328',
            'text-rotation': 'autorotate',
            'text-background-color': '#ffffff',
            'text-background-opacity': 0.9,
            'text-background-padding': 2,
          },
        },
        { selector: 'edge[health = "failing"]', style: { color: '#cf222e' } },
      ],
    });
    window.hiveGraph = cy;
  }

  function layout() {
    cy.layout({
      name: 'dagre',
      rankDir: 'LR',
      nodeSep: 70,
      rankSep: 230,
      padding: 40,
      animate: false,
      fit: true,
    }).run();
    cy.scratch('hive', { layouts: (cy.scratch('hive')?.layouts ?? 0) + 1 });
  }

  // Applies a graph answer: changed data in place; the layout runs only when
  // nodes or edges were added or removed.
  function apply(graph) {
    const nodes = (Array.isArray(graph.nodes) ? graph.nodes : []).map(nodeData)
      .filter((n) => n.id !== '');
    const ids = new Set(nodes.map((n) => n.id));
    const edges = (Array.isArray(graph.edges) ? graph.edges : []).map(edgeData)
      .filter((e) => ids.has(e.source) && ids.has(e.target));
    if (cy === null) createGraph();
    const nextShape = JSON.stringify([nodes.map((n) => n.id).sort(),
      edges.map((e) => e.id).sort()]);
    cy.batch(() => {
      const keep = new Set([...nodes.map((n) => n.id), ...edges.map((e) => e.id)]);
      cy.elements().filter((ele) => !keep.has(ele.id())).remove();
      for (const data of nodes) {
        const existing = cy.getElementById(data.id);
        if (existing.nonempty()) existing.data(data);
        else cy.add({ group: 'nodes', data });
      }
      for (const data of edges) {
        const existing = cy.getElementById(data.id);
        if (existing.nonempty()) existing.data(data);
        else cy.add({ group: 'edges', data });
      }
    });
    if (nextShape !== shape) {
      shape = nextShape;
      if (nodes.length > 0) layout();
    }
    $('graph-empty').hidden = nodes.length !== 0;
    $('graph').dataset.window = String(graph.window ?? state.window);
  }

  function showGraphError(message) {
    const error = $('graph-error');
    error.replaceChildren(hive.el('strong', {}, 'Cannot load the graph. '), message);
    error.hidden = false;
    $('graph').classList.toggle('stale', cy !== null);
  }

  async function refreshGraph() {
    clearTimeout(timer);
    timer = null;
    if (state.tab !== 'graph') return;
    const request = ++inFlight;
    try {
      const graph = await hive.getJson('/api/v1/graph?window=' + encodeURIComponent(state.window));
      if (request !== inFlight) return;
      hive.hideAuth();
      $('graph-error').hidden = true;
      $('graph').classList.remove('stale');
      $('graph-loading').hidden = true;
      apply(graph);
      const now = new Date().toLocaleTimeString();
      $('graph-updated').textContent = state.paused ? 'paused · data from ' + now : '';
      hive.setStatus('updated ' + now, 'ok');
    } catch (e) {
      if (request !== inFlight) return;
      $('graph-loading').hidden = true;
      if (e.status === 401) {
        hive.showAuth(hive.hasToken());
        hive.setStatus('token required', 'warn');
      } else {
        showGraphError(e.message);
        hive.setStatus(e.status === 0 ? 'hived unreachable' : 'error', 'error');
      }
    } finally {
      hive.showForget();
      if (request === inFlight && !state.paused && state.tab === 'graph') {
        timer = setTimeout(refreshGraph, REFRESH_MS);
      }
    }
  }

  function renderControls() {
    for (const tab of TABS) {
      const button = $('tab-' + tab);
      const current = tab === state.tab;
      button.classList.toggle('current', current);
      button.setAttribute('aria-selected', String(current));
      $(tab + '-view').hidden = !current;
    }
    $('graph-window').value = state.window;
    const pause = $('graph-pause');
    pause.textContent = state.paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(state.paused));
    if (!state.paused) $('graph-updated').textContent = '';
  }

  function changed({ reload }) {
    writeUrl();
    renderControls();
    // A hidden container has no size: cytoscape must measure again when shown.
    if (cy !== null && state.tab === 'graph') {
      cy.resize();
      if (reload === 'fit') cy.fit(undefined, 40);
    }
    if (reload) refreshGraph();
    document.dispatchEvent(new Event('hive:tab'));
  }

  function start() {
    readUrl();
    if (typeof window.cytoscape !== 'function') {
      showGraphError('the graph library did not load');
    }
    for (const tab of TABS) {
      $('tab-' + tab).addEventListener('click', () => {
        if (state.tab === tab) return;
        state.tab = tab;
        changed({ reload: tab === 'graph' ? 'fit' : false });
      });
    }
    $('graph-window').addEventListener('change', (event) => {
      const value = event.target.value;
      if (!WINDOWS.includes(value)) return;
      state.window = value;
      changed({ reload: true });
    });
    $('graph-pause').addEventListener('click', () => {
      state.paused = !state.paused;
      changed({ reload: !state.paused });
      if (state.paused) {
        clearTimeout(timer);
        timer = null;
        $('graph-updated').textContent = 'paused';
      }
    });
    document.addEventListener('hive:token', refreshGraph);
    writeUrl();
    renderControls();
    if (typeof window.cytoscape === 'function') refreshGraph();
    document.dispatchEvent(new Event('hive:tab'));
  }

  start();
})();
