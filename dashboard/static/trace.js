// hive dashboard, Trace view: every span and log line of one correlation ID
// (GET /api/v1/traces/{id}) as a waterfall. Spans nest under their parents
// (collapsible), bars sit on a time axis from the trace's first moment, and
// each log line is placed under the span it belongs to (else by time).
// The rows are built once into a DocumentFragment, so traces with thousands
// of spans stay responsive; collapsing only flips `hidden`.
// API text reaches the page only through textContent and attributes.
'use strict';

(() => {
  const hive = window.hive;
  const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
  // Service colours, assigned in order of first appearance. Red is left out:
  // it marks errors.
  const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948',
    '#9c755f', '#ff9da7', '#86bcb6', '#8cd17d', '#a0cbe8', '#ffbe7d', '#d4a6c8', '#bab0ac'];
  const TICKS = 4;
  const MAX_INDENT_DEPTH = 24;

  let ui = null;
  let generation = 0;
  let rows = [];

  // Milliseconds since the epoch, keeping the sub-millisecond digits of the
  // API's nanosecond timestamps.
  function toMs(iso) {
    const text = String(iso ?? '');
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(text);
    if (!m) return Date.parse(text);
    const base = Date.parse(m[1] + m[3]);
    return m[2] ? base + Number('0.' + m[2]) * 1000 : base;
  }

  function failed(span) {
    const code = Number(span.attrs && span.attrs['http.status_code']);
    return span.status === 'error' || (Number.isFinite(code) && code >= 500);
  }

  // Axis labels with three significant digits (1.25s, not 1.3s).
  function tickText(ms) {
    const trim = (n) => String(Number(n.toPrecision(3)));
    if (ms >= 60000) return trim(ms / 60000) + 'm';
    if (ms >= 1000) return trim(ms / 1000) + 's';
    if (ms >= 1 || ms === 0) return trim(ms) + 'ms';
    return trim(ms * 1000) + 'µs';
  }

  function offsetText(ms) {
    return '+' + hive.fmt.ms(ms);
  }

  // --- shell -----------------------------------------------------------------

  function build(root) {
    const el = hive.el;
    const input = el('input', {
      type: 'search', name: 'trace', placeholder: 'trace or correlation ID', spellcheck: 'false',
      autocomplete: 'off', 'aria-label': 'trace id', className: 'mono',
    });
    const form = el('form', { className: 'trace-find', role: 'search' },
      hive.link('← Logs', { tab: 'logs' }, 'back-link'),
      input, el('button', { type: 'submit', className: 'primary-button' }, 'Open'));
    const error = el('section', { className: 'panel error', role: 'alert', hidden: true });
    const loading = el('p', { className: 'state', hidden: true }, 'loading…');
    const empty = el('div', { className: 'state trace-empty', hidden: true });
    const body = el('div', { className: 'trace-body', hidden: true });
    root.replaceChildren(form, error, loading, empty, body);
    ui = { input, error, loading, empty, body };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const id = input.value.trim();
      if (id) hive.navigate({ tab: 'trace', trace: id });
    });
  }

  function showEmpty(title, hint) {
    ui.empty.replaceChildren(hive.el('strong', {}, title), hint ? hive.el('span', {}, hint) : null);
    ui.empty.hidden = false;
  }

  async function load(id) {
    const token = ++generation;
    rows = [];
    ui.error.hidden = true;
    ui.empty.hidden = true;
    ui.body.hidden = true;
    ui.body.replaceChildren();
    ui.input.value = id;
    if (!id) {
      showEmpty('no trace selected', 'Paste a trace or correlation ID above, or open one from the Logs view.');
      return;
    }
    ui.loading.hidden = false;
    let trace;
    try {
      trace = await hive.getJson('/api/v1/traces/' + encodeURIComponent(id));
    } catch (e) {
      if (token !== generation) return;
      ui.loading.hidden = true;
      if (e.status === 404) {
        showEmpty('no trace ' + id, 'No span or log line carries this ID (yet). Check the ID, or try again in a moment.');
        hive.setStatus('trace not found', 'warn');
      } else {
        hive.handleError(e, ui.error, 'trace ' + id);
      }
      return;
    }
    if (token !== generation) return;
    ui.loading.hidden = true;
    hive.hideAuth();
    render(trace, id);
    hive.setStatus('updated ' + new Date().toLocaleTimeString(), 'ok');
  }

  // --- model -----------------------------------------------------------------

  // Turns the API answer into display rows, in order: each span followed by
  // its log lines and child spans ordered by time; log lines of no known span
  // go before the first row that starts after them.
  function model(trace) {
    const spans = [];
    const byId = new Map();
    for (const s of Array.isArray(trace.spans) ? trace.spans : []) {
      if (!s || typeof s !== 'object' || byId.has(String(s.span_id))) continue;
      const span = { ...s, span_id: String(s.span_id ?? ''), t: toMs(s.start), dur: Math.max(0, Number(s.duration_ms) || 0) };
      if (!Number.isFinite(span.t)) continue;
      byId.set(span.span_id, span);
      spans.push(span);
    }
    const events = (Array.isArray(trace.events) ? trace.events : [])
      .filter((e) => e && typeof e === 'object')
      .map((e) => ({ ...e, t: toMs(e.ts) }))
      .filter((e) => Number.isFinite(e.t));

    const children = new Map();
    const roots = [];
    for (const span of spans) {
      const parent = span.parent_span_id ? String(span.parent_span_id) : '';
      if (parent && parent !== span.span_id && byId.has(parent)) {
        if (!children.has(parent)) children.set(parent, []);
        children.get(parent).push({ kind: 'span', t: span.t, span });
      } else {
        roots.push({ kind: 'span', t: span.t, span });
      }
    }
    const orphans = [];
    for (const event of events) {
      const owner = event.span_id ? String(event.span_id) : '';
      if (owner && byId.has(owner)) {
        if (!children.has(owner)) children.set(owner, []);
        children.get(owner).push({ kind: 'log', t: event.t, event });
      } else {
        orphans.push(event);
      }
    }
    const byTime = (a, b) => a.t - b.t || (a.kind === 'log' ? -1 : 0) - (b.kind === 'log' ? -1 : 0);
    for (const list of children.values()) list.sort(byTime);
    roots.sort(byTime);

    // Depth-first without recursion (a trace may be thousands of spans deep);
    // spans caught in a parent cycle are reached afterwards as roots.
    const out = [];
    const visited = new Set();
    const walk = (start) => {
      const stack = [{ item: start, depth: 0 }];
      while (stack.length) {
        const { item, depth } = stack.pop();
        if (item.kind === 'span') {
          if (visited.has(item.span.span_id)) continue;
          visited.add(item.span.span_id);
        }
        out.push({ ...item, depth });
        if (item.kind !== 'span') continue;
        const kids = children.get(item.span.span_id) || [];
        for (let i = kids.length - 1; i >= 0; i--) stack.push({ item: kids[i], depth: depth + 1 });
      }
    };
    for (const root of roots) walk(root);
    for (const span of spans) {
      if (!visited.has(span.span_id)) walk({ kind: 'span', t: span.t, span });
    }

    // Orphan log lines, by time, into that order.
    orphans.sort((a, b) => a.t - b.t);
    let ordered = out;
    if (orphans.length) {
      ordered = [];
      let k = 0;
      for (const row of out) {
        while (k < orphans.length && orphans[k].t < row.t) {
          ordered.push({ kind: 'log', t: orphans[k].t, event: orphans[k], depth: row.depth, orphan: true });
          k++;
        }
        ordered.push(row);
      }
      for (; k < orphans.length; k++) ordered.push({ kind: 'log', t: orphans[k].t, event: orphans[k], depth: 0, orphan: true });
    }

    // Where each span's subtree ends, for collapsing.
    const open = [];
    ordered.forEach((row, i) => {
      row.index = i;
      while (open.length && ordered[open[open.length - 1]].depth >= row.depth) ordered[open.pop()].end = i;
      if (row.kind === 'span') open.push(i);
    });
    while (open.length) ordered[open.pop()].end = ordered.length;

    let t0 = Infinity;
    let t1 = -Infinity;
    for (const s of spans) {
      t0 = Math.min(t0, s.t);
      t1 = Math.max(t1, s.t + s.dur);
    }
    for (const e of events) {
      t0 = Math.min(t0, e.t);
      t1 = Math.max(t1, e.t);
    }
    const services = [];
    for (const row of ordered) {
      const name = String((row.kind === 'span' ? row.span.service : row.event.service) ?? '');
      if (name && !services.includes(name)) services.push(name);
    }
    return { spans, events, rows: ordered, t0, total: Math.max(t1 - t0, 0), services };
  }

  // --- rendering -------------------------------------------------------------

  function render(trace, requested) {
    const el = hive.el;
    const m = model(trace);
    const id = String(trace.trace_id || requested);
    const colors = new Map(m.services.map((name, i) => [name, PALETTE[i % PALETTE.length]]));
    const scale = m.total > 0 ? m.total : 1;
    const pct = (ms) => Math.min(100, Math.max(0, (ms / scale) * 100));
    const errors = m.spans.filter(failed).length;
    const spanCounts = new Map();
    for (const s of m.spans) spanCounts.set(s.service, (spanCounts.get(s.service) || 0) + 1);

    const stat = (label, value, className) => el('div', { className: 'trace-stat' + (className ? ' ' + className : '') },
      el('span', { className: 'trace-stat-label' }, label), el('span', { className: 'trace-stat-value' }, value));
    // Spans and lines of a request still in flight keep arriving.
    const reload = el('button', { type: 'button', className: 'toolbar-button', title: 'load the trace again' }, 'Reload');
    reload.addEventListener('click', () => load(id));
    const pathLink = hive.link('Show path on graph', { tab: 'graph', trace: id }, 'toolbar-button trace-path-link');
    const header = el('header', { className: 'trace-header' },
      el('div', { className: 'trace-title' },
        el('h2', {}, 'Trace ', el('span', { className: 'mono trace-id' }, id)),
        el('div', { className: 'trace-actions' }, reload, m.spans.length ? pathLink : null)),
      el('div', { className: 'trace-stats' },
        stat('Started', Number.isFinite(m.t0) ? hive.fmt.time(new Date(m.t0).toISOString()) : '—'),
        stat('Duration', hive.fmt.ms(m.total)),
        stat('Services', String(m.services.length)),
        stat('Spans', m.spans.length.toLocaleString()),
        stat('Errors', errors.toLocaleString(), errors ? 'trace-stat-error' : ''),
        stat('Log lines', m.events.length.toLocaleString())));

    const legend = el('div', { className: 'trace-legend', 'aria-label': 'services' },
      ...m.services.map((name) => {
        const a = hive.link(name, { tab: 'service', service: name }, 'trace-legend-item');
        a.prepend(el('i', { className: 'swatch', style: 'background:' + colors.get(name) }));
        const n = spanCounts.get(name) || 0;
        if (n) a.append(el('span', { className: 'trace-legend-count' }, String(n)));
        return a;
      }));

    const ticks = [];
    for (let i = 0; i <= TICKS; i++) {
      ticks.push(el('span', { className: 'wf-tick', style: 'left:' + (i * 100 / TICKS) + '%' },
        tickText((m.total * i) / TICKS)));
    }
    const expandAll = el('button', { type: 'button', className: 'link-button' }, 'expand all');
    const collapseAll = el('button', { type: 'button', className: 'link-button' }, 'collapse all');
    const head = el('div', { className: 'wf-head' },
      el('div', { className: 'wf-name' },
        el('span', {}, m.spans.length ? 'Service · operation' : 'Log lines'),
        m.spans.length ? el('span', { className: 'wf-head-actions' }, expandAll, collapseAll) : null),
      el('div', { className: 'wf-axis' }, ...ticks));

    const list = el('div', { className: 'wf-rows', role: 'tree', 'aria-label': 'spans and log lines' });
    const fragment = document.createDocumentFragment();
    rows = m.rows;
    const logMarks = new Map();
    for (const row of rows) {
      if (row.kind === 'log' && !row.orphan) {
        const owner = String(row.event.span_id);
        if (!logMarks.has(owner)) logMarks.set(owner, []);
        logMarks.get(owner).push(row.event);
      }
    }
    for (const row of rows) {
      row.node = row.kind === 'span'
        ? spanRow(row, m, colors, pct, logMarks.get(row.span.span_id) || [])
        : logRow(row, m, pct);
      fragment.append(row.node);
    }
    list.append(fragment);

    const waterfall = el('section', { className: 'waterfall', style: '--wf-name-width: 34%' }, head, list);
    const note = m.spans.length ? null
      : el('p', { className: 'trace-note' }, 'No spans carry this ID: its log lines, in time order.');
    ui.body.replaceChildren(...[header, legend, note, waterfall].filter(Boolean));
    ui.body.hidden = false;

    list.addEventListener('click', (event) => {
      if (event.target.closest('a')) return;
      const toggle = event.target.closest('.span-toggle');
      const node = event.target.closest('.span-row, .trace-log');
      if (!node) return;
      const index = Number(node.dataset.index);
      if (toggle) setCollapsed(index, !rows[index].collapsed);
      else if (!event.target.closest('.span-detail, .log-details')) toggleDetail(index);
    });
    list.addEventListener('keydown', (event) => {
      const node = event.target;
      if (!node.dataset || node.dataset.index === undefined) return;
      const index = Number(node.dataset.index);
      const row = rows[index];
      if (event.key === 'Enter' || event.key === ' ') toggleDetail(index);
      else if (event.key === 'ArrowLeft' && row.kind === 'span') setCollapsed(index, true);
      else if (event.key === 'ArrowRight' && row.kind === 'span') setCollapsed(index, false);
      else return;
      event.preventDefault();
    });
    expandAll.addEventListener('click', () => setAll(false));
    collapseAll.addEventListener('click', () => setAll(true));
  }

  function indent(depth) {
    return 'padding-left:' + (8 + Math.min(depth, MAX_INDENT_DEPTH) * 16) + 'px';
  }

  function spanRow(row, m, colors, pct, logs) {
    const el = hive.el;
    const span = row.span;
    const service = String(span.service ?? '');
    const color = colors.get(service) || PALETTE[0];
    const error = failed(span);
    const hasChildren = row.end > row.index + 1;
    const left = pct(span.t - m.t0);
    const width = pct(span.dur);
    // The duration sits right of the bar, else left of it, else inside it.
    let labelAt = 'left:calc(' + (left + width) + '% + 6px)';
    let labelClass = 'span-bar-label';
    if (left + width > 80 && left >= 12) {
      labelAt = 'right:calc(' + (100 - left) + '% + 6px)';
    } else if (left + width > 80) {
      labelAt = 'right:calc(' + (100 - left - width) + '% + 6px)';
      labelClass += ' span-bar-label-inside';
    }
    const label = el('span', { className: labelClass, style: labelAt }, hive.fmt.ms(span.dur));
    const bar = el('span', {
      className: 'span-bar' + (error ? ' span-bar-error' : ''),
      style: 'left:' + left + '%;width:' + width + '%;background:' + color,
      title: service + ' ' + String(span.name ?? '') + ' · ' + hive.fmt.ms(span.dur),
    });
    const marks = logs.map((e) => el('i', {
      className: 'span-log-mark level-' + (LEVELS.includes(e.level) ? e.level : 'info'),
      style: 'left:' + pct(e.t - m.t0) + '%',
    }));
    return el('div', {
      className: 'span-row' + (error ? ' span-error' : ''), role: 'treeitem', tabindex: '0',
      'aria-level': String(row.depth + 1),
      'aria-expanded': hasChildren ? 'true' : null, 'data-span': span.span_id,
      'data-index': String(row.index), 'data-service': service,
    },
    el('div', { className: 'wf-line' },
      el('div', { className: 'wf-name', style: indent(row.depth) },
        hasChildren
          ? el('button', { type: 'button', className: 'span-toggle', 'aria-label': 'collapse', title: 'collapse / expand' })
          : el('span', { className: 'span-toggle-space' }),
        el('i', { className: 'span-color', style: 'background:' + color }),
        hive.link(service, { tab: 'service', service }, 'span-service'),
        el('span', { className: 'span-name', title: String(span.name ?? '') }, String(span.name ?? '')),
        error ? el('span', { className: 'span-error-mark', title: 'error' }, '!') : null),
      el('div', { className: 'wf-track' }, bar, ...marks, label)));
  }

  function logRow(row, m, pct) {
    const el = hive.el;
    const event = row.event;
    const level = LEVELS.includes(event.level) ? event.level : 'info';
    const service = String(event.service ?? '');
    return el('div', {
      className: 'trace-log level-' + level + (row.orphan ? ' trace-log-orphan' : ''),
      role: 'treeitem', tabindex: '0', 'aria-level': String(row.depth + 1), 'data-index': String(row.index),
      'data-span-id': event.span_id ? String(event.span_id) : null,
    },
    el('div', { className: 'wf-line' },
      el('div', { className: 'wf-name', style: indent(row.depth) },
        el('span', { className: 'span-toggle-space' }),
        el('span', { className: 'trace-log-offset mono' }, offsetText(event.t - m.t0)),
        el('span', { className: 'level-badge level-' + level }, level),
        service ? hive.link(service, { tab: 'service', service }, 'trace-log-service') : null),
      el('div', { className: 'wf-track trace-log-track' },
        el('i', { className: 'trace-log-mark', style: 'left:' + pct(event.t - m.t0) + '%' }),
        el('span', { className: 'trace-log-message mono' }, String(event.message ?? '')))));
  }

  function kvTable(entries, caption) {
    const el = hive.el;
    return el('table', { className: 'kv' }, el('caption', {}, caption),
      el('tbody', {}, ...entries.map(([k, v]) => el('tr', {},
        el('th', { className: 'mono' }, k),
        el('td', { className: 'mono' }, typeof v === 'string' ? v : JSON.stringify(v))))));
  }

  function attrEntries(attrs) {
    const object = attrs && typeof attrs === 'object' ? attrs : {};
    return Object.keys(object).sort().map((k) => [k, object[k]]);
  }

  function toggleDetail(index) {
    const row = rows[index];
    const node = row.node;
    const existing = node.querySelector(':scope > .span-detail, :scope > .log-details');
    if (existing) {
      existing.remove();
      node.classList.remove('open');
      return;
    }
    const el = hive.el;
    const present = (entries) => entries.filter(([, v]) => v !== undefined && v !== null && v !== '');
    let detail;
    if (row.kind === 'span') {
      const s = row.span;
      const fields = present([['span_id', s.span_id], ['parent_span_id', s.parent_span_id],
        ['service', s.service], ['instance', s.instance], ['name', s.name], ['kind', s.kind],
        ['status', s.status], ['start', s.start], ['duration', hive.fmt.ms(s.dur)]]);
      const attrs = attrEntries(s.attrs);
      detail = el('div', { className: 'span-detail' },
        kvTable(fields, 'Span'),
        attrs.length ? kvTable(attrs, 'Attributes') : el('p', { className: 'kv-empty' }, 'no attributes'));
    } else {
      const e = row.event;
      const fields = present([['time', e.ts], ['level', e.level], ['service', e.service],
        ['instance', e.instance], ['span_id', e.span_id], ['parent_span_id', e.parent_span_id]]);
      const attrs = attrEntries(e.attrs);
      detail = el('div', { className: 'log-details' },
        el('pre', { className: 'log-full-message mono' }, String(e.message ?? '')),
        el('div', { className: 'log-detail-tables' }, kvTable(fields, 'Fields'),
          attrs.length ? kvTable(attrs, 'Attributes') : el('p', { className: 'kv-empty' }, 'no attributes')));
    }
    node.append(detail);
    node.classList.add('open');
  }

  function setCollapsed(index, collapsed) {
    const row = rows[index];
    if (row.kind !== 'span' || row.end <= index + 1) return;
    row.collapsed = collapsed;
    row.node.setAttribute('aria-expanded', String(!collapsed));
    applyVisibility();
  }

  function setAll(collapsed) {
    rows.forEach((row, i) => {
      if (row.kind !== 'span' || row.end <= i + 1) return;
      // Collapsing all keeps the roots open, so their children stay visible.
      row.collapsed = collapsed && row.depth > 0;
      row.node.setAttribute('aria-expanded', String(!row.collapsed));
    });
    applyVisibility();
  }

  function applyVisibility() {
    let hiddenUntil = -1;
    rows.forEach((row, i) => {
      const hidden = i < hiddenUntil;
      if (row.node.hidden !== hidden) row.node.hidden = hidden;
      if (!hidden && row.collapsed) hiddenUntil = Math.max(hiddenUntil, row.end);
    });
  }

  hive.registerView('trace', {
    tab: 'logs',
    show(params) {
      if (!ui) build(document.getElementById('trace-view'));
      window.scrollTo(0, 0);
      load((params.get('trace') || '').trim());
    },
    hide() {
      generation++;
    },
  });
})();
