// hive dashboard, Graph view (the default): the live service dependency graph
// from GET /api/v1/graph, drawn with cytoscape and laid out left to right by
// dagre. Traffic refreshes every 5 s unless paused, and at once when the
// registry reports an instance change (GET /api/v1/events); data is updated
// in place and the layout only runs again when the set of nodes or edges
// shown changes, so nothing moves under the reader.
// The view lives in the URL (?tab=graph&window=&paused=&find=&focus=&depth=
// &hide=&trace=): focus keeps a service and its neighbours up to `depth`
// calls away, hide drops services, find marks matching names, trace
// highlights the services and calls of one trace.
// API text only reaches the page as cytoscape labels (canvas text) or through
// textContent, never as HTML.
'use strict';

(() => {
  const REFRESH_MS = 5000;
  const EVENT_COALESCE_MS = 300;
  const WINDOWS = ['1m', '5m', '15m', '1h', '6h', '24h'];
  const DEPTHS = ['1', '2', '3'];
  // A graph of more elements than this when first drawn gets the cheaper
  // rendering: straight edges, hidden while the user pans or zooms, and a
  // bitmap of the view moved instead of redrawing each frame.
  const LARGE_GRAPH = 400;
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
  const { el, fmt } = hive;
  const state = {
    window: '5m', paused: false, find: '', focus: '', depth: '1', hide: [], trace: '',
  };
  let shown = false;
  let cy = null;
  let shape = '';
  let timer = null;
  let inFlight = 0;
  let latest = null;      // the last graph answer
  let events = null;      // registry event stream while shown
  let eventTimer = null;
  let tracePath = null;   // {id, services: Set, edges: Set of "a→b"} of state.trace
  let traceRequest = 0;
  let menuNode = '';

  function readUrl(params) {
    const win = params.get('window');
    state.window = WINDOWS.includes(win) ? win : '5m';
    state.paused = params.get('paused') === '1';
    state.find = params.get('find') || '';
    state.focus = params.get('focus') || '';
    const depth = params.get('depth');
    state.depth = DEPTHS.includes(depth) ? depth : '1';
    state.hide = (params.get('hide') || '').split(',').filter((s) => s !== '');
    state.trace = params.get('trace') || '';
  }

  function writeUrl() {
    hive.update({
      window: state.window,
      paused: state.paused ? '1' : null,
      find: state.find,
      focus: state.focus,
      depth: state.focus ? state.depth : null,
      hide: state.hide.join(','),
      trace: state.trace,
    });
  }

  function health(value) {
    return Object.hasOwn(COLORS, value) ? value : 'unknown';
  }

  // Node diameter grows with the log of the request rate, within bounds.
  function nodeSize(rate) {
    return Math.min(96, 40 + 12 * Math.log2(1 + rate));
  }

  function nodeData(node) {
    const id = String(node.id ?? '');
    const h = health(node.health);
    const rate = fmt.number(node.request_rate);
    const lines = [id];
    const inst = node.instances && typeof node.instances === 'object' ? node.instances : null;
    if (inst) lines.push(fmt.number(inst.passing) + '/' + fmt.number(inst.total) + ' passing');
    if (node.uninstrumented === true) lines.push('uninstrumented');
    return {
      id,
      label: lines.join('\n'),
      health: h,
      color: COLORS[h],
      size: nodeSize(rate),
      request_rate: rate,
      error_rate: fmt.number(node.error_rate),
      p99_ms: fmt.number(node.p99_ms),
    };
  }

  function edgeData(edge) {
    const source = String(edge.source ?? '');
    const target = String(edge.target ?? '');
    const h = health(edge.health);
    const rate = fmt.number(edge.request_rate);
    const errors = fmt.number(edge.error_rate);
    const p99 = fmt.number(edge.p99_ms);
    return {
      id: source + '\u2192' + target,
      source,
      target,
      label: fmt.rate(rate) + ' · ' + fmt.percent(errors) + ' err · p99 ' + fmt.ms(p99),
      health: h,
      color: EDGE_COLORS[h],
      width: h === 'failing' ? 3 : 2,
      request_rate: rate,
      error_rate: errors,
      p99_ms: p99,
    };
  }

  function createGraph(large) {
    cy = window.cytoscape({
      container: $('graph'),
      minZoom: 0.02,
      maxZoom: 3,
      hideEdgesOnViewport: large,
      textureOnViewport: large,
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
            'min-zoomed-font-size': 6,
          },
        },
        {
          selector: 'edge',
          style: {
            'curve-style': large ? 'straight' : 'bezier',
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
            'min-zoomed-font-size': 8,
          },
        },
        { selector: 'edge[health = "failing"]', style: { color: '#cf222e' } },
        { selector: 'node.found', style: { 'border-color': '#d97706', 'border-width': 5 } },
        { selector: 'node.focus', style: { 'border-color': '#1f2328', 'border-width': 4 } },
        { selector: '.dimmed', style: { opacity: 0.18 } },
        {
          selector: 'node.path',
          style: { 'border-color': '#0969da', 'border-width': 5, opacity: 1 },
        },
        {
          selector: 'edge.path',
          style: {
            'line-color': '#0969da', 'target-arrow-color': '#0969da', width: 4, opacity: 1,
            'z-index': 10,
          },
        },
      ],
    });
    cy.on('tap', 'node', (event) => {
      closeMenu();
      hive.navigate({ tab: 'service', service: event.target.id(), window: state.window });
    });
    cy.on('cxttap', 'node', (event) => openMenu(event.target));
    cy.on('tap', (event) => {
      if (event.target === cy) closeMenu();
    });
    cy.on('pan zoom', closeMenu);
    cy.on('mouseover', 'node', () => { $('graph').style.cursor = 'pointer'; });
    cy.on('mouseout', 'node', () => { $('graph').style.cursor = ''; });
    window.hiveGraph = cy;
  }

  // Dagre's layers run left to right. A big graph has many services (and
  // many calls passing through) per layer, which makes a tall thin strip:
  // its layers are then spread out to the view's proportions.
  function layout() {
    const started = performance.now();
    const large = cy.elements().length > LARGE_GRAPH;
    cy.layout({
      name: 'dagre',
      rankDir: 'LR',
      nodeSep: large ? 12 : 70,
      rankSep: 230,
      padding: 40,
      animate: false,
      fit: false,
    }).run();
    if (large) {
      const box = cy.nodes().boundingBox();
      const stretch = (box.h / Math.max(box.w, 1)) * (cy.width() / Math.max(cy.height(), 1));
      if (stretch > 1) {
        cy.nodes().positions((node) => ({
          x: box.x1 + (node.position('x') - box.x1) * stretch,
          y: node.position('y'),
        }));
      }
    }
    fitView();
    cy.scratch('hive', { layouts: (cy.scratch('hive')?.layouts ?? 0) + 1 });
    performance.measure('hive.graph.layout', { start: started });
  }

  // Fits the graph in the view, but no closer than 1:1: a few services
  // should not fill the screen with giant labels.
  function fitView() {
    cy.fit(undefined, 40);
    if (cy.zoom() > 1) {
      cy.zoom(1);
      cy.center();
    }
  }

  // The services focus keeps: those within `depth` calls of the focused
  // one, either way along the edges.
  function focusSet(edges) {
    const keep = new Set([state.focus]);
    let frontier = [state.focus];
    for (let d = 0; d < Number(state.depth); d++) {
      const next = [];
      for (const e of edges) {
        for (const [from, to] of [[e.source, e.target], [e.target, e.source]]) {
          if (frontier.includes(from) && !keep.has(to)) {
            keep.add(to);
            next.push(to);
          }
        }
      }
      frontier = next;
    }
    return keep;
  }

  // What is shown of the last answer, after focus and hide.
  function visible() {
    const graph = latest || {};
    let nodes = (Array.isArray(graph.nodes) ? graph.nodes : []).map(nodeData)
      .filter((n) => n.id !== '');
    const ids = new Set(nodes.map((n) => n.id));
    let edges = (Array.isArray(graph.edges) ? graph.edges : []).map(edgeData)
      .filter((e) => ids.has(e.source) && ids.has(e.target));
    const all = nodes.map((n) => n.id).sort();
    if (state.focus && ids.has(state.focus)) {
      const keep = focusSet(edges);
      nodes = nodes.filter((n) => keep.has(n.id));
    }
    const hidden = new Set(state.hide);
    nodes = nodes.filter((n) => !hidden.has(n.id));
    const shownIds = new Set(nodes.map((n) => n.id));
    edges = edges.filter((e) => shownIds.has(e.source) && shownIds.has(e.target));
    return { nodes, edges, all };
  }

  // Marks found services, the focused one and the trace's path.
  function decorate() {
    if (cy === null) return;
    const needle = state.find.trim().toLowerCase();
    cy.batch(() => {
      cy.elements().removeClass('found focus dimmed path');
      if (needle) {
        cy.nodes().forEach((n) => {
          if (n.id().toLowerCase().includes(needle)) n.addClass('found');
          else n.addClass('dimmed');
        });
        cy.edges().addClass('dimmed');
      }
      if (state.focus) cy.getElementById(state.focus).addClass('focus');
      if (tracePath !== null && tracePath.id === state.trace) {
        cy.elements().addClass('dimmed');
        cy.nodes().filter((n) => tracePath.services.has(n.id())).removeClass('dimmed').addClass('path');
        cy.edges().filter((e) => tracePath.edges.has(e.id())).removeClass('dimmed').addClass('path');
      }
    });
    const found = cy.nodes('.found');
    $('graph').dataset.found = String(found.length);
    $('graph').dataset.trace = tracePath !== null && tracePath.id === state.trace ? state.trace : '';
  }

  // Draws what is visible: changed data in place; the layout runs only when
  // nodes or edges were added or removed.
  // Each draw and layout is a performance measure (hive.graph.draw,
  // hive.graph.layout), visible in the browser's profiler.
  function draw() {
    const started = performance.now();
    const { nodes, edges, all } = visible();
    if (cy === null) createGraph(nodes.length + edges.length > LARGE_GRAPH);
    const nextShape = JSON.stringify([nodes.map((n) => n.id).sort(), edges.map((e) => e.id).sort()]);
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
    decorate();
    renderFocusOptions(all);
    renderChips();
    $('graph-empty').hidden = nodes.length !== 0;
    $('graph-empty').textContent = all.length === 0
      ? 'no traffic in this window'
      : 'every service is hidden or out of focus';
    $('graph').dataset.window = String((latest && latest.window) ?? state.window);
    performance.measure('hive.graph.draw', { start: started });
  }

  function renderFocusOptions(all) {
    const select = $('graph-focus');
    const names = [...all];
    if (state.focus && !names.includes(state.focus)) names.push(state.focus);
    const wanted = ['', ...names].join('\n');
    if (select.dataset.options !== wanted) {
      select.replaceChildren(el('option', { value: '' }, 'all services'),
        ...names.map((n) => el('option', { value: n }, n)));
      select.dataset.options = wanted;
    }
    select.value = state.focus;
    $('graph-depth').value = state.depth;
    $('graph-depth').disabled = state.focus === '';
  }

  function chip(label, title, onRemove, data) {
    const button = el('button', { type: 'button', className: 'chip-remove', 'aria-label': title }, '×');
    button.addEventListener('click', onRemove);
    return el('span', { className: 'chip', ...data }, label, button);
  }

  function renderChips() {
    const chips = [];
    if (state.trace) {
      const short = state.trace.length > 12 ? state.trace.slice(0, 12) + '…' : state.trace;
      let note = '';
      if (tracePath !== null && tracePath.id === state.trace && tracePath.missing.length > 0) {
        note = ' (' + tracePath.missing.join(', ') + ' not in this window)';
      }
      chips.push(chip('path of trace ' + short + note, 'stop highlighting the trace', () => {
        state.trace = '';
        tracePath = null;
        changed(false);
      }, { 'data-chip': 'trace' }));
    }
    for (const name of state.hide) {
      chips.push(chip('hidden: ' + name, 'show ' + name, () => {
        state.hide = state.hide.filter((h) => h !== name);
        changed(false);
      }, { 'data-chip': 'hidden', 'data-service': name }));
    }
    $('graph-chips').replaceChildren(...chips);
    $('graph-chips').hidden = chips.length === 0;
  }

  // The services and calls of state.trace, from its spans: a call is a span
  // whose parent span belongs to another service.
  async function loadTracePath() {
    const id = state.trace;
    if (!id || (tracePath !== null && tracePath.id === id)) return;
    const request = ++traceRequest;
    try {
      const trace = await hive.getJson('/api/v1/traces/' + encodeURIComponent(id));
      if (request !== traceRequest) return;
      const spans = Array.isArray(trace.spans) ? trace.spans : [];
      const events = Array.isArray(trace.events) ? trace.events : [];
      const serviceOf = new Map(spans.map((s) => [String(s.span_id ?? ''), String(s.service ?? '')]));
      const services = new Set();
      const edges = new Set();
      for (const span of spans) {
        const service = String(span.service ?? '');
        if (service) services.add(service);
        const parent = serviceOf.get(String(span.parent_span_id ?? ''));
        if (parent && parent !== service) edges.add(parent + '\u2192' + service);
      }
      for (const event of events) if (event.service) services.add(String(event.service));
      const inGraph = new Set(((latest && latest.nodes) || []).map((n) => String(n.id)));
      const missing = [...services].filter((s) => !inGraph.has(s)).sort();
      tracePath = { id, services, edges, missing };
      $('graph-error').hidden = true;
    } catch (e) {
      if (request !== traceRequest) return;
      tracePath = null;
      hive.handleError(e, $('graph-error'), 'trace ' + id);
    }
    draw();
  }

  async function refreshGraph() {
    clearTimeout(timer);
    timer = null;
    if (!shown) return;
    const request = ++inFlight;
    try {
      const graph = await hive.getJson('/api/v1/graph?window=' + encodeURIComponent(state.window));
      if (request !== inFlight || !shown) return;
      hive.hideAuth();
      $('graph-error').hidden = true;
      $('graph').classList.remove('stale');
      $('graph-loading').hidden = true;
      latest = graph;
      draw();
      loadTracePath();
      const now = new Date().toLocaleTimeString();
      $('graph-updated').textContent = state.paused ? 'paused · data from ' + now : '';
      hive.setStatus('updated ' + now, 'ok');
    } catch (e) {
      if (request !== inFlight || !shown) return;
      $('graph-loading').hidden = true;
      $('graph').classList.toggle('stale', cy !== null);
      hive.handleError(e, $('graph-error'), 'the graph');
    } finally {
      if (request === inFlight && !state.paused && shown) {
        timer = setTimeout(refreshGraph, REFRESH_MS);
      }
    }
  }

  function renderControls() {
    $('graph-window').value = state.window;
    const pause = $('graph-pause');
    pause.textContent = state.paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(state.paused));
    if (!state.paused) $('graph-updated').textContent = '';
    if (document.activeElement !== $('graph-find')) $('graph-find').value = state.find;
    $('graph-focus').value = state.focus;
    $('graph-depth').value = state.depth;
    $('graph-depth').disabled = state.focus === '';
  }

  // A control changed: the URL follows; `reload` fetches the graph again,
  // otherwise what is shown is redrawn from the last answer.
  function changed(reload) {
    writeUrl();
    renderControls();
    if (reload) refreshGraph();
    else if (latest !== null) {
      draw();
      loadTracePath();
    }
  }

  function openMenu(node) {
    menuNode = node.id();
    const menu = $('graph-menu');
    const pos = node.renderedPosition();
    menu.style.left = Math.round(pos.x + 12) + 'px';
    menu.style.top = Math.round(pos.y + 12) + 'px';
    menu.dataset.service = menuNode;
    menu.hidden = false;
  }

  function closeMenu() {
    $('graph-menu').hidden = true;
    menuNode = '';
  }

  function onMenu(action) {
    const name = menuNode;
    closeMenu();
    if (!name) return;
    if (action === 'open') {
      hive.navigate({ tab: 'service', service: name, window: state.window });
    } else if (action === 'focus') {
      state.focus = name;
      changed(false);
    } else if (action === 'hide') {
      if (!state.hide.includes(name)) state.hide = [...state.hide, name];
      if (state.focus === name) state.focus = '';
      changed(false);
    }
  }

  // Registry changes (health, instances) show at once, not at the next poll.
  function watchRegistry() {
    events = hive.stream('/api/v1/events', {
      onOpen() { $('graph').dataset.live = '1'; },
      onError() { $('graph').dataset.live = '0'; },
      onMessage() {
        if (state.paused || eventTimer !== null) return;
        eventTimer = setTimeout(() => {
          eventTimer = null;
          if (shown && !state.paused) refreshGraph();
        }, EVENT_COALESCE_MS);
      },
    });
  }

  function start() {
    if (typeof window.cytoscape !== 'function') {
      $('graph-loading').hidden = true;
      hive.handleError(new hive.ApiError(-1, 'the graph library did not load'),
        $('graph-error'), 'the graph');
    }
    $('graph-window').addEventListener('change', (event) => {
      if (!WINDOWS.includes(event.target.value)) return;
      state.window = event.target.value;
      changed(true);
    });
    $('graph-pause').addEventListener('click', () => {
      state.paused = !state.paused;
      changed(!state.paused);
      if (state.paused) {
        clearTimeout(timer);
        timer = null;
        $('graph-updated').textContent = 'paused';
      }
    });
    $('graph-find').addEventListener('input', (event) => {
      state.find = event.target.value;
      changed(false);
    });
    $('graph-find').addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' || cy === null) return;
      const found = cy.nodes('.found');
      if (found.nonempty()) cy.animate({ fit: { eles: found, padding: 80 }, duration: 250 });
    });
    $('graph-focus').addEventListener('change', (event) => {
      state.focus = event.target.value;
      changed(false);
    });
    $('graph-depth').addEventListener('change', (event) => {
      if (!DEPTHS.includes(event.target.value)) return;
      state.depth = event.target.value;
      changed(false);
    });
    $('graph-menu').addEventListener('click', (event) => {
      const action = event.target.closest('button')?.dataset.action;
      if (action) onMenu(action);
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') closeMenu();
    });
  }

  hive.registerView('graph', {
    tab: 'graph',
    show(params) {
      shown = true;
      readUrl(params);
      writeUrl();
      renderControls();
      if (typeof window.cytoscape !== 'function') return;
      // A hidden container has no size: cytoscape must measure again.
      if (cy !== null) {
        cy.resize();
        fitView();
      }
      if (state.trace !== (tracePath && tracePath.id)) tracePath = null;
      if (events === null) watchRegistry();
      refreshGraph();
    },
    hide() {
      shown = false;
      inFlight++;
      clearTimeout(timer);
      timer = null;
      clearTimeout(eventTimer);
      eventTimer = null;
      closeMenu();
      if (events !== null) events.close();
      events = null;
      $('graph').dataset.live = '0';
    },
  });

  hive.graph = {
    // Marks services and calls ([[from, to], ...]) on the graph, dimming the rest.
    highlight({ services = [], edges = [] }) {
      tracePath = {
        id: state.trace,
        services: new Set(services),
        edges: new Set(edges.map(([from, to]) => from + '\u2192' + to)),
        missing: [],
      };
      decorate();
    },
    clearHighlight() {
      tracePath = null;
      decorate();
    },
  };

  start();
})();
