// hive dashboard, Logs view: search the collector's log events with filters
// kept in the URL (so a search can be shared), page back through older
// events with the API's cursor, and follow new events live (SSE tail).
// API text reaches the page only through textContent and attributes.
'use strict';

(() => {
  const hive = window.hive;
  const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
  const RANGES = ['5m', '15m', '1h', '6h', '24h', '7d'];
  const DEFAULT_RANGE = '1h';
  const PAGE_SIZE = 200;
  // Rows kept on the page; a live tail drops the oldest beyond this.
  const MAX_ROWS = 2000;
  // Tailed events are put on the page in batches, each in time order.
  const TAIL_BATCH_MS = 150;
  const FILTER_KEYS = ['service', 'instance', 'level', 'q', 're', 'since'];

  const state = {
    filters: emptyFilters(),
    live: false,
    generation: 0,      // bumped by every new search and by hide(); late answers are dropped
    searching: false,
    rows: [],           // {event, key, node}, newest first
    keys: new Set(),
    next: '',
    trimmed: false,     // live rows pushed older ones out: paging on would leave a gap
    stream: null,
    paused: false,
    pending: [],        // events received while paused, oldest first
    catchingUp: false,
    buffered: [],       // events received while the catch-up search runs
    incoming: [],       // tailed events waiting for the next batched update
    flushTimer: null,
  };
  const eventOfRow = new WeakMap();
  let ui = null;

  function emptyFilters() {
    return { service: '', instance: '', level: '', q: '', re: '', since: DEFAULT_RANGE };
  }

  function query(object) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(object)) {
      if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
    }
    const text = search.toString();
    return text ? '?' + text : '';
  }

  function eventKey(event) {
    return [event.ts, event.service, event.instance, event.level, event.message].join('\u0000');
  }

  // --- DOM -------------------------------------------------------------------

  function field(label, control, className) {
    return hive.el('label', { className: 'logs-field' + (className ? ' ' + className : '') },
      hive.el('span', { className: 'logs-field-label' }, label), control);
  }

  function option(value, text) {
    return hive.el('option', { value }, text);
  }

  function build(root) {
    const el = hive.el;
    const service = el('select', { name: 'service', 'aria-label': 'service' },
      option('', 'All services'));
    const instance = el('input', {
      name: 'instance', type: 'text', placeholder: 'any', spellcheck: 'false',
      autocomplete: 'off', 'aria-label': 'instance',
    });
    const level = el('select', { name: 'level', 'aria-label': 'minimum level' },
      option('', 'any'), ...LEVELS.map((l) => option(l, l + (l === 'fatal' ? '' : ' and above'))));
    const q = el('input', {
      name: 'q', type: 'search', placeholder: 'message contains…', spellcheck: 'false',
      autocomplete: 'off', 'aria-label': 'text',
    });
    const re = el('input', {
      id: 'logs-re', name: 're', type: 'text', placeholder: 'regular expression (RE2)', spellcheck: 'false',
      autocomplete: 'off', 'aria-label': 'regular expression', 'aria-describedby': 'logs-re-error',
    });
    const reError = el('p', { id: 'logs-re-error', className: 'field-error', role: 'alert', hidden: true });
    const since = el('select', { name: 'since', 'aria-label': 'time range' },
      ...RANGES.map((r) => option(r, 'last ' + r)));
    const submit = el('button', { type: 'submit', className: 'primary-button' }, 'Search');
    const form = el('form', { className: 'logs-filters', role: 'search', autocomplete: 'off' },
      field('Service', service),
      field('Instance', instance, 'logs-field-narrow'),
      field('Level', level),
      field('Text', q, 'logs-field-grow'),
      el('div', { className: 'logs-field logs-field-grow' },
        el('label', { className: 'logs-field-label', for: 'logs-re' }, 'Regex'), re, reError),
      field('Range', since),
      el('div', { className: 'logs-field' },
        el('span', { className: 'logs-field-label', 'aria-hidden': 'true' }, '\u00a0'), submit));

    const count = el('span', { className: 'logs-count' });
    const liveButton = el('button', {
      type: 'button', className: 'toolbar-button live-toggle', 'aria-pressed': 'false',
      title: 'stream new events as they arrive',
    }, el('i', { className: 'live-dot', 'aria-hidden': 'true' }), 'Live');
    const pauseButton = el('button', { type: 'button', className: 'toolbar-button', hidden: true }, 'Pause');
    const liveNote = el('span', { className: 'toolbar-note live-note' });
    const bar = el('div', { className: 'logs-bar' }, count,
      el('span', { className: 'logs-bar-actions' }, liveNote, pauseButton, liveButton));

    const error = el('section', { className: 'panel error', role: 'alert', hidden: true });
    const loading = el('p', { className: 'state' }, 'loading…');
    const empty = el('div', { className: 'state logs-empty', hidden: true },
      el('strong', {}, 'no log events match'),
      el('span', {}, 'Widen the time range or clear a filter.'));
    const list = el('div', { className: 'log-list', role: 'list', 'aria-label': 'log events' });
    const older = el('button', { type: 'button', className: 'toolbar-button' }, 'Load older');
    const olderNote = el('span', { className: 'toolbar-note' });
    const footer = el('div', { className: 'logs-footer', hidden: true }, older, olderNote);
    const results = el('div', { className: 'logs-results' }, list, footer);

    root.replaceChildren(form, bar, error, loading, empty, results);
    ui = {
      form, service, instance, level, q, re, reError, since, count, liveButton, pauseButton,
      liveNote, error, loading, empty, list, older, olderNote, footer,
    };

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      applyFilters(readForm());
    });
    for (const select of [service, level, since]) {
      select.addEventListener('change', () => applyFilters(readForm()));
    }
    re.addEventListener('input', () => setRegexError(''));
    liveButton.addEventListener('click', () => setLive(!state.live));
    pauseButton.addEventListener('click', togglePause);
    older.addEventListener('click', loadOlder);
    list.addEventListener('click', (event) => {
      if (event.target.closest('a, button')) return;
      if (String(window.getSelection?.() || '') !== '') return;  // selecting text, not toggling
      const row = event.target.closest('.log-row');
      if (row) toggleRow(row);
    });
    list.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' && event.key !== ' ') return;
      if (!event.target.classList.contains('log-row')) return;
      event.preventDefault();
      toggleRow(event.target);
    });
  }

  function readForm() {
    return {
      service: ui.service.value,
      instance: ui.instance.value.trim(),
      level: ui.level.value,
      q: ui.q.value,
      re: ui.re.value,
      since: ui.since.value,
    };
  }

  function writeForm(filters) {
    ensureServiceOption(filters.service);
    ui.service.value = filters.service;
    ui.instance.value = filters.instance;
    ui.level.value = filters.level;
    ui.q.value = filters.q;
    ui.re.value = filters.re;
    ui.since.value = filters.since;
  }

  function ensureServiceOption(name) {
    if (!name) return;
    for (const o of ui.service.options) if (o.value === name) return;
    ui.service.append(option(name, name));
  }

  async function loadServices() {
    try {
      const answer = await hive.getJson('/api/v1/services');
      const names = (Array.isArray(answer.services) ? answer.services : [])
        .map((s) => String(s.name ?? '')).filter((n) => n !== '').sort();
      const selected = ui.service.value;
      ui.service.replaceChildren(option('', 'All services'), ...names.map((n) => option(n, n)));
      ensureServiceOption(selected);
      ui.service.value = selected;
    } catch (e) {
      // The search reports auth and reachability; the list just stays as it is.
    }
  }

  function filtersFromParams(params) {
    const f = emptyFilters();
    for (const key of FILTER_KEYS) {
      const value = params.get(key);
      if (value !== null) f[key] = value;
    }
    if (!LEVELS.includes(f.level)) f.level = '';
    if (!RANGES.includes(f.since)) f.since = DEFAULT_RANGE;
    return f;
  }

  // --- rows ------------------------------------------------------------------

  function levelOf(event) {
    return LEVELS.includes(event.level) ? event.level : 'info';
  }

  function renderRow(event) {
    const el = hive.el;
    const level = levelOf(event);
    const traceId = typeof event.trace_id === 'string' ? event.trace_id : '';
    let trace = el('span', { className: 'log-trace' });
    if (traceId) {
      trace = hive.link(traceId.length > 12 ? traceId.slice(0, 12) + '…' : traceId,
        { tab: 'trace', trace: traceId }, 'trace-link mono');
      trace.dataset.trace = traceId;
      trace.title = 'open trace ' + traceId;
    }
    return el('div', {
      className: 'log-row level-' + level, role: 'listitem', tabindex: '0',
      'aria-expanded': 'false', 'data-level': level,
    },
    el('div', { className: 'log-line' },
      el('span', { className: 'log-time mono', title: String(event.ts ?? '') }, hive.fmt.time(event.ts)),
      el('span', { className: 'level-badge level-' + level }, level),
      el('span', { className: 'log-service', title: String(event.service ?? '') }, event.service || '—'),
      el('span', { className: 'log-instance', title: String(event.instance ?? '') }, event.instance || ''),
      el('span', { className: 'log-message mono' }, String(event.message ?? '')),
      trace));
  }

  function renderDetails(event) {
    const el = hive.el;
    const rows = [['time', event.ts], ['level', event.level], ['service', event.service],
      ['instance', event.instance], ['trace_id', event.trace_id], ['span_id', event.span_id],
      ['parent_span_id', event.parent_span_id]]
      .filter(([, v]) => v !== undefined && v !== null && v !== '');
    const attrs = event.attrs && typeof event.attrs === 'object' ? event.attrs : {};
    const attrRows = Object.keys(attrs).sort().map((k) => [k, attrs[k]]);
    const table = (entries, caption) => el('table', { className: 'kv' },
      el('caption', {}, caption),
      el('tbody', {}, ...entries.map(([k, v]) => el('tr', {},
        el('th', { className: 'mono' }, k), el('td', { className: 'mono' }, formatValue(v))))));
    return el('div', { className: 'log-details' },
      el('pre', { className: 'log-full-message mono' }, String(event.message ?? '')),
      el('div', { className: 'log-detail-tables' },
        table(rows, 'Fields'),
        attrRows.length ? table(attrRows, 'Attributes') : el('p', { className: 'kv-empty' }, 'no attributes')));
  }

  function formatValue(value) {
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  function toggleRow(node) {
    const open = node.getAttribute('aria-expanded') === 'true';
    node.setAttribute('aria-expanded', String(!open));
    const details = node.querySelector('.log-details');
    if (open) {
      details?.remove();
      return;
    }
    const event = eventOfRow.get(node);
    if (event) node.append(renderDetails(event));
  }

  function makeRows(events) {
    const rows = [];
    for (const event of events) {
      if (!event || typeof event !== 'object') continue;
      const key = eventKey(event);
      if (state.keys.has(key)) continue;
      state.keys.add(key);
      const node = renderRow(event);
      eventOfRow.set(node, event);
      rows.push({ event, key, node });
    }
    return rows;
  }

  // events: newest first, older than every row shown.
  function appendRows(events) {
    const rows = makeRows(events);
    const fragment = document.createDocumentFragment();
    for (const row of rows) fragment.append(row.node);
    ui.list.append(fragment);
    state.rows.push(...rows);
  }

  // events: oldest first, as the tail delivers them.
  function prependRows(events) {
    const rows = makeRows(events).reverse();
    if (rows.length === 0) return;
    const fragment = document.createDocumentFragment();
    for (const row of rows) {
      row.node.classList.add('log-row-new');
      fragment.append(row.node);
    }
    ui.list.prepend(fragment);
    state.rows.unshift(...rows);
    while (state.rows.length > MAX_ROWS) {
      const dropped = state.rows.pop();
      dropped.node.remove();
      state.keys.delete(dropped.key);
      state.trimmed = true;
    }
    renderCounts();
  }

  function clearRows() {
    state.rows = [];
    state.keys = new Set();
    state.next = '';
    state.trimmed = false;
    ui.list.replaceChildren();
  }

  function renderCounts() {
    const n = state.rows.length;
    ui.loading.hidden = true;
    ui.empty.hidden = n !== 0 || state.searching;
    ui.count.replaceChildren(
      hive.el('strong', {}, n.toLocaleString()), n === 1 ? ' event' : ' events',
      hive.el('span', { className: 'logs-count-note' },
        ' · newest first · last ' + state.filters.since + (state.next ? ' · more available' : '')));
    ui.footer.hidden = n === 0 || (!state.next && !state.trimmed);
    ui.older.hidden = !state.next || state.trimmed;
    ui.olderNote.textContent = state.trimmed
      ? 'Showing the newest ' + MAX_ROWS.toLocaleString() + ' events; search again to page back.'
      : '';
  }

  // --- searching -------------------------------------------------------------

  function searchPath(extra) {
    return '/api/v1/logs' + query({ ...state.filters, ...extra });
  }

  function setRegexError(message) {
    ui.reError.textContent = message;
    ui.reError.hidden = message === '';
    if (message) ui.re.setAttribute('aria-invalid', 'true');
    else ui.re.removeAttribute('aria-invalid');
  }

  function isRegexError(error) {
    return error.status === 400 && state.filters.re !== '' && /regex|'re'/i.test(error.message);
  }

  function showFailure(error, what) {
    ui.loading.hidden = true;
    ui.empty.hidden = true;
    if (isRegexError(error)) {
      setRegexError(error.message.replace(/^HTTP 400: /, ''));
      hive.setStatus('bad regular expression', 'warn');
      return;
    }
    hive.handleError(error, ui.error, what);
  }

  async function search() {
    const generation = ++state.generation;
    closeStream();
    clearRows();
    state.searching = true;
    ui.error.hidden = true;
    ui.empty.hidden = true;
    ui.footer.hidden = true;
    ui.loading.hidden = false;
    ui.count.replaceChildren('searching…');
    setRegexError('');
    renderLive();
    let page;
    try {
      page = await hive.getJson(searchPath({ limit: PAGE_SIZE }));
    } catch (e) {
      if (generation !== state.generation) return;
      state.searching = false;
      ui.count.replaceChildren();
      showFailure(e, 'log events');
      renderLive();
      return;
    }
    if (generation !== state.generation) return;
    state.searching = false;
    hive.hideAuth();
    appendRows(Array.isArray(page.events) ? page.events : []);
    state.next = typeof page.next === 'string' ? page.next : '';
    renderCounts();
    hive.setStatus('updated ' + new Date().toLocaleTimeString(), 'ok');
    if (state.live) openStream();
    renderLive();
  }

  async function loadOlder() {
    if (!state.next) return;
    const generation = state.generation;
    ui.older.disabled = true;
    ui.older.textContent = 'loading…';
    try {
      const page = await hive.getJson(searchPath({ limit: PAGE_SIZE, cursor: state.next }));
      if (generation !== state.generation) return;
      appendRows(Array.isArray(page.events) ? page.events : []);
      state.next = typeof page.next === 'string' ? page.next : '';
      renderCounts();
    } catch (e) {
      if (generation !== state.generation) return;
      hive.handleError(e, ui.error, 'older log events');
    } finally {
      ui.older.disabled = false;
      ui.older.textContent = 'Load older';
    }
  }

  function applyFilters(filters) {
    state.filters = filters;
    hive.update({ ...filters, since: filters.since === DEFAULT_RANGE ? '' : filters.since });
    search();
  }

  // --- live tail -------------------------------------------------------------

  function tailPath() {
    // The tail starts now, so it takes every filter but the time range.
    return '/api/v1/logs/tail' + query({ ...state.filters, since: '' });
  }

  function openStream() {
    closeStream();
    const generation = state.generation;
    let handle = null;
    const current = () => generation === state.generation && state.stream === handle;
    handle = hive.stream(tailPath(), {
      onOpen() {
        if (!current()) return;
        ui.liveNote.textContent = '';
        ui.liveButton.classList.add('streaming');
        catchUp(generation);
      },
      onMessage(message) {
        if (!current()) return;
        let event;
        try {
          event = JSON.parse(message.data);
        } catch {
          return;
        }
        receive([event]);
      },
      onError(error) {
        if (!current()) return;
        ui.liveButton.classList.remove('streaming');
        if (error.status >= 400) {
          // Refused (no permission, bad filter): retrying would not help. A
          // 401 keeps live=1, so the tail comes back once a token is given.
          closeStream();
          if (error.status !== 401) {
            state.live = false;
            hive.update({ live: '' });
          }
          renderLive();
          showFailure(error, 'the live tail');
          return;
        }
        ui.liveNote.textContent = 'reconnecting…';
      },
    });
    state.stream = handle;
    renderLive();
  }

  // The tail only carries events ingested after it opened: fetch what came in
  // between the last search (or a dropped connection) and now, then merge.
  async function catchUp(generation) {
    state.catchingUp = true;
    state.buffered = [];
    const newest = state.rows.length ? state.rows[0].event.ts : '';
    try {
      const page = await hive.getJson(searchPath({ since: newest || state.filters.since, limit: 1000 }));
      if (generation !== state.generation) return;
      receive((Array.isArray(page.events) ? page.events : []).reverse(), true);
    } catch {
      // The stream itself is up; a failed catch-up only risks a gap.
    } finally {
      if (generation === state.generation) {
        state.catchingUp = false;
        const buffered = state.buffered;
        state.buffered = [];
        receive(buffered);
      }
    }
  }

  function receive(events, fromCatchUp) {
    if (events.length === 0) return;
    if (state.catchingUp && !fromCatchUp) {
      state.buffered.push(...events);
      return;
    }
    state.incoming.push(...events);
    if (state.flushTimer === null) state.flushTimer = setTimeout(flushIncoming, TAIL_BATCH_MS);
  }

  function flushIncoming() {
    state.flushTimer = null;
    // Oldest first; RFC 3339 UTC times with fixed digits sort as strings.
    const events = state.incoming.sort((a, b) => (String(a.ts) < String(b.ts) ? -1 : String(a.ts) > String(b.ts) ? 1 : 0));
    state.incoming = [];
    if (state.paused) {
      state.pending.push(...events);
      if (state.pending.length > MAX_ROWS) state.pending.splice(0, state.pending.length - MAX_ROWS);
      renderLive();
      return;
    }
    prependRows(events);
  }

  function closeStream() {
    if (state.stream) state.stream.close();
    state.stream = null;
    clearTimeout(state.flushTimer);
    state.flushTimer = null;
    state.incoming = [];
    state.paused = false;
    state.pending = [];
    state.catchingUp = false;
    state.buffered = [];
    if (ui) {
      ui.liveButton.classList.remove('streaming');
      ui.liveNote.textContent = '';
    }
  }

  function setLive(live) {
    state.live = live;
    hive.update({ live: live ? '1' : '' });
    if (!live) closeStream();
    else if (!state.searching) openStream();
    renderLive();
  }

  function togglePause() {
    state.paused = !state.paused;
    if (!state.paused) {
      const pending = state.pending;
      state.pending = [];
      prependRows(pending);
    }
    renderLive();
  }

  function renderLive() {
    ui.liveButton.setAttribute('aria-pressed', String(state.live));
    ui.pauseButton.hidden = !state.live;
    ui.pauseButton.setAttribute('aria-pressed', String(state.paused));
    ui.pauseButton.textContent = state.paused
      ? 'Resume' + (state.pending.length ? ' (' + state.pending.length.toLocaleString() + ' new)' : '')
      : 'Pause';
    ui.list.classList.toggle('paused', state.paused);
  }

  // --- the view --------------------------------------------------------------

  hive.registerView('logs', {
    tab: 'logs',
    show(params) {
      const root = document.getElementById('logs-view');
      if (!ui) build(root);
      state.filters = filtersFromParams(params);
      state.live = params.get('live') === '1';
      writeForm(state.filters);
      loadServices();
      search();
    },
    hide() {
      state.generation++;
      state.searching = false;
      closeStream();
    },
  });
})();
