// hive dashboard, the service page (?tab=service&service=<name>&window=&profile=):
// one service's instances (kept current by the registry's event stream), its
// traffic over the window (GET /api/v1/traffic, drawn with uPlot), its recent
// error logs, and its configuration: the effective values with their
// sources, the rollout of the current version against the registered
// instances, the history, a diff between any two versions and rollback.
// Each section loads, fails and shows its empty state on its own; traffic,
// errors and rollout refresh every 10 s while the page is shown.
// API text only reaches the page through textContent and attributes.
'use strict';

(() => {
  const WINDOWS = ['1m', '5m', '15m', '1h', '6h', '24h'];
  const DEFAULT_WINDOW = '1h';
  const DEFAULT_PROFILE = 'default';
  const PROFILE_KEY = 'hive.config.profile';
  const REFRESH_MS = 10_000;
  const EVENT_COALESCE_MS = 300;
  const INSTANCE_HEALTH = ['passing', 'warning', 'critical'];
  // Graph health names and the badge colours that show them.
  const HEALTH_BADGE = {
    healthy: ['passing', 'Healthy'],
    degraded: ['warning', 'Degraded'],
    failing: ['critical', 'Failing'],
    unknown: ['unknown', 'No data'],
  };
  const CHART_HEIGHT = 170;
  const AXIS = { stroke: '#667085', font: '11px system-ui, sans-serif' };
  const GRID = { stroke: '#eef0f3', width: 1 };

  const hive = window.hive;
  const { el, fmt } = hive;

  const page = {
    service: '',
    window: DEFAULT_WINDOW,
    profile: DEFAULT_PROFILE,
    generation: 0,
    node: null,       // the service's node in the graph over the window, null without traffic
    thresholds: { degraded_error_rate: 0.001, failing_error_rate: 0.1 },  // as the graph answers them
    instances: null,  // the registry's instances of the service, or null before the first answer
    config: null,     // {effective, versions, rollout} of app/profile
    rollbackTo: 0,    // the rollback the confirmation dialog asks about: to version rollbackTo
    rollbackFrom: 0,  // while the current version is rollbackFrom
  };
  let ui = null;
  let events = null;
  let timer = null;
  let eventTimer = null;
  let charts = [];
  let resizeObserver = null;

  // --- small helpers ----------------------------------------------------------

  const text = (value) => (value === null || value === undefined ? '' : String(value));
  const enc = encodeURIComponent;

  function valueText(value) {
    if (typeof value === 'string') return value;
    return JSON.stringify(value);
  }

  // Every config call asks for secrets redacted, whatever the caller's
  // role: the page never shows a secret's value.
  function configPath(suffix) {
    const path = '/api/v1/config/' + enc(page.service) + '/' + enc(page.profile) + (suffix || '');
    return path + (path.includes('?') ? '&' : '?') + 'redact=true';
  }

  function badge(kind, label) {
    return el('span', { className: 'badge badge-' + kind }, label);
  }

  function countPill(n, health) {
    return el('span', { className: 'pill pill-' + health + (n === 0 ? ' pill-zero' : '') }, n + ' ' + health);
  }

  function ago(iso) {
    return el('span', { className: 'svc-ago', title: text(iso) }, fmt.ago(iso));
  }

  function table(className, headings, rows) {
    return el('table', { className: 'svc-table ' + className },
      el('thead', {}, el('tr', {}, headings.map((h) => el('th', {}, h)))),
      el('tbody', {}, rows));
  }

  // A block of the page with its own loading, empty and error states. A
  // failure after a success keeps the last content, dimmed.
  function block(id, title, level) {
    const heading = el(level || 'h2', { className: 'svc-block-title' }, title);
    const note = el('span', { className: 'svc-note' });
    const tools = el('div', { className: 'svc-block-tools' }, note);
    const error = el('div', { className: 'svc-error', role: 'alert', hidden: true });
    const state = el('p', { className: 'svc-state' }, 'loading…');
    const body = el('div', { className: 'svc-body' });
    const node = el('section', { id, className: 'svc-block' },
      el('div', { className: 'svc-block-header' }, heading, tools), error, state, body);
    let filled = false;
    return {
      node, heading, tools, body,
      note(value) {
        note.textContent = value;
      },
      reset() {
        filled = false;
        note.textContent = '';
        body.replaceChildren();
        body.classList.remove('stale');
        error.hidden = true;
        state.textContent = 'loading…';
        state.hidden = false;
      },
      empty(message) {
        filled = true;
        body.replaceChildren();
        body.classList.remove('stale');
        error.hidden = true;
        state.textContent = message;
        state.hidden = false;
      },
      fill(...nodes) {
        filled = true;
        body.replaceChildren(...nodes);
        body.classList.remove('stale');
        error.hidden = true;
        state.hidden = true;
      },
      fail(e, what) {
        state.hidden = true;
        if (filled) body.classList.add('stale');
        hive.handleError(e, error, what);
      },
    };
  }

  // --- building the page once -------------------------------------------------

  function build() {
    const root = document.getElementById('service-view');
    const windowSelect = el('select', { id: 'service-window', 'aria-label': 'time window' },
      WINDOWS.map((w) => el('option', { value: w }, w)));
    windowSelect.addEventListener('change', () => {
      page.window = windowSelect.value;
      hive.update({ window: page.window });
      refreshHeader();
      refreshTraffic();
    });
    const profileInput = el('input', {
      id: 'service-profile', className: 'svc-input mono', list: 'service-profiles', autocomplete: 'off',
      spellcheck: 'false', 'aria-label': 'configuration profile',
    });
    const profileForm = el('form', { className: 'svc-profile-form' },
      el('label', { className: 'svc-field', for: 'service-profile' }, 'Profile'), profileInput,
      el('datalist', { id: 'service-profiles' }));
    profileForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = profileInput.value.trim();
      if (!value || value === page.profile) return;
      page.profile = value;
      hive.update({ profile: value });
      loadConfig({ reset: true });
    });
    profileInput.addEventListener('change', () => profileForm.requestSubmit());

    const ok = el('button', { id: 'confirm-ok', className: 'svc-button svc-button-danger', type: 'button' }, 'Roll back');
    const cancel = el('button', { id: 'confirm-cancel', className: 'svc-button', type: 'button' }, 'Cancel');
    const dialog = el('dialog', { id: 'confirm-dialog', className: 'svc-dialog', 'aria-labelledby': 'confirm-title' },
      el('h3', { id: 'confirm-title' }, 'Roll back configuration?'),
      el('p', { id: 'confirm-text', className: 'svc-dialog-text' }),
      el('p', { id: 'confirm-detail', className: 'svc-dialog-detail' }),
      el('div', { className: 'svc-dialog-buttons' }, cancel, ok));
    cancel.addEventListener('click', () => dialog.close());
    ok.addEventListener('click', () => {
      dialog.close();
      rollback(page.rollbackTo);
    });

    const instances = block('service-instances', 'Instances');
    const traffic = block('service-traffic', 'Traffic');
    const errors = block('service-errors', 'Recent errors');
    const config = block('service-config', 'Configuration');
    const effective = block('service-config-values', 'Effective values', 'h3');
    const rollout = block('service-config-rollout', 'Rollout', 'h3');
    const history = block('service-config-history', 'History', 'h3');
    const diff = block('service-config-diff', 'Diff', 'h3');
    const notice = el('div', { className: 'svc-notice', role: 'status', hidden: true });
    const configEmpty = el('p', { className: 'svc-state svc-config-empty', hidden: true });
    const configParts = el('div', { className: 'svc-config-parts' },
      el('div', { className: 'svc-config-row' }, effective.node, rollout.node), history.node, diff.node);
    const configName = el('span', { id: 'service-config-name', className: 'svc-config-name mono' });
    config.tools.append(configName, profileForm);
    config.fill(notice, configEmpty, configParts);

    const fromSelect = el('select', { id: 'service-diff-from', 'aria-label': 'diff from version' });
    const toSelect = el('select', { id: 'service-diff-to', 'aria-label': 'diff to version' });
    for (const select of [fromSelect, toSelect]) select.addEventListener('change', () => loadDiff());
    diff.tools.append(el('label', { className: 'svc-field' }, 'from', fromSelect),
      el('label', { className: 'svc-field' }, 'to', toSelect));

    const name = el('h1', { className: 'svc-name' });
    const crumb = el('span', { className: 'svc-crumb' });
    const health = el('span', { className: 'svc-health' });
    const counts = el('span', { className: 'svc-counts' });
    const logsLink = el('span', { className: 'svc-logs-link' });
    const kpis = el('div', { className: 'svc-kpis' });
    const headerError = el('p', { className: 'svc-header-error', hidden: true });
    const missing = el('section', { className: 'panel svc-missing', hidden: true },
      el('h2', {}, 'No service chosen'),
      el('p', {}, 'Open a service from the graph or the services list.'),
      hive.link('Go to services', { tab: 'services' }));

    const content = el('div', { className: 'svc-content' },
      el('header', { className: 'svc-header' },
        el('nav', { className: 'svc-crumbs', 'aria-label': 'breadcrumb' },
          hive.link('Services', { tab: 'services' }), el('span', { 'aria-hidden': 'true' }, ' / '), crumb),
        el('div', { className: 'svc-title-row' }, name, health, counts,
          el('div', { className: 'svc-title-tools' }, logsLink,
            el('label', { className: 'svc-field', for: 'service-window' }, 'Window'), windowSelect)),
        kpis, headerError),
      instances.node, traffic.node, errors.node, config.node);
    root.replaceChildren(missing, content, dialog);

    ui = {
      root, content, missing, name, crumb, health, counts, logsLink, kpis, headerError, windowSelect,
      profileInput, profileList: profileForm.querySelector('datalist'), dialog, notice, configEmpty,
      configParts, configName, instances, traffic, errors, config, effective, rollout, history, diff,
      fromSelect, toSelect,
    };
  }

  // --- header: name, health and the window's figures from the graph -----------

  async function refreshHeader() {
    const gen = page.generation;
    try {
      const graph = await hive.getJson('/api/v1/graph?window=' + enc(page.window));
      if (gen !== page.generation) return;
      const nodes = Array.isArray(graph.nodes) ? graph.nodes : [];
      if (graph.thresholds && typeof graph.thresholds === 'object') page.thresholds = graph.thresholds;
      renderHeader(nodes.find((n) => n && n.id === page.service) || null);
      ui.headerError.hidden = true;
    } catch (e) {
      if (gen !== page.generation) return;
      renderHeader(null);
      hive.handleError(e, ui.headerError, 'the traffic summary');
    }
  }

  function kpi(label, value, note, className) {
    return el('div', { className: 'svc-kpi' + (className ? ' ' + className : '') },
      el('div', { className: 'svc-kpi-label' }, label),
      el('div', { className: 'svc-kpi-value' }, value),
      el('div', { className: 'svc-kpi-note' }, note));
  }

  function registryHealth() {
    const list = page.instances || [];
    if (list.length === 0) return 'unknown';
    const status = list.map((i) => (i.health && i.health.status) || '');
    if (!status.includes('passing')) return 'failing';
    if (status.some((s) => s !== 'passing')) return 'degraded';
    return 'healthy';
  }

  function renderHeader(node) {
    page.node = node;
    const health = node && typeof node.health === 'string' ? node.health : registryHealth();
    const [kind, label] = HEALTH_BADGE[health] || HEALTH_BADGE.unknown;
    ui.health.replaceChildren(badge(kind, label));
    ui.health.title = node ? 'from the graph: error rate over the window and registry health' : 'from the registry';
    const windowNote = 'last ' + page.window;
    if (!node || fmt.number(node.calls) === 0) {
      ui.kpis.replaceChildren(
        kpi('Requests', '—', 'no traffic in the ' + windowNote),
        kpi('Errors', '—', windowNote),
        kpi('Latency p50 / p95 / p99', '—', windowNote),
        instanceKpi());
      return;
    }
    const errorRate = fmt.number(node.error_rate);
    const { degraded_error_rate: degraded, failing_error_rate: failing } = page.thresholds;
    ui.kpis.replaceChildren(
      kpi('Requests', fmt.rate(node.request_rate), fmt.number(node.calls) + ' calls, ' + windowNote),
      kpi('Errors', fmt.percent(errorRate), fmt.number(node.errors) + ' failed calls',
        errorRate > failing ? 'svc-kpi-bad' : errorRate >= degraded ? 'svc-kpi-warn' : ''),
      kpi('Latency p50 / p95 / p99',
        fmt.ms(node.p50_ms) + ' / ' + fmt.ms(node.p95_ms) + ' / ' + fmt.ms(node.p99_ms), windowNote, 'svc-kpi-latency'),
      instanceKpi());
  }

  function instanceKpi() {
    const list = page.instances;
    if (list === null) return kpi('Instances', '—', 'loading…');
    const passing = list.filter((i) => i.health && i.health.status === 'passing').length;
    return kpi('Instances', passing + ' / ' + list.length, 'passing');
  }

  // --- instances ------------------------------------------------------------------

  async function loadInstances() {
    const gen = page.generation;
    try {
      const answer = await hive.getJson('/api/v1/services/' + enc(page.service));
      if (gen !== page.generation) return;
      page.instances = Array.isArray(answer.instances) ? answer.instances : [];
      renderInstances();
      renderHeader(page.node || null);
      renderRollout();
      hive.setStatus('updated ' + new Date().toLocaleTimeString(), 'ok');
    } catch (e) {
      if (gen !== page.generation) return;
      ui.instances.fail(e, 'the instances');
    }
  }

  // The profiles the instances say they read (metadata hive.config.profile).
  function declaredProfiles() {
    const profiles = new Set();
    for (const inst of page.instances || []) {
      const value = inst.metadata && inst.metadata[PROFILE_KEY];
      if (typeof value === 'string' && value) profiles.add(value);
    }
    return [...profiles].sort();
  }

  function renderCounts() {
    const list = page.instances || [];
    const count = (status) => list.filter((i) => i.health && i.health.status === status).length;
    const maintenance = list.filter((i) => i.maintenance && i.maintenance.enabled === true).length;
    const pills = list.length === 0 ? [] : INSTANCE_HEALTH.map((h) => countPill(count(h), h));
    if (maintenance > 0) pills.push(el('span', { className: 'pill pill-maintenance' }, maintenance + ' in maintenance'));
    ui.counts.replaceChildren(
      el('span', { className: 'instance-count' }, list.length + (list.length === 1 ? ' instance' : ' instances')),
      ...pills);
  }

  function configCell(inst) {
    const rollout = page.config && page.config.rollout;
    if (!rollout) return el('span', { className: 'svc-muted' }, '—');
    const declared = inst.metadata && inst.metadata[PROFILE_KEY];
    if (declared && declared !== page.profile) return el('span', { className: 'svc-muted' }, 'reads profile ' + declared);
    const report = (rollout.instances || []).find((r) => r && r.instance === inst.id);
    if (!report) return el('span', { className: 'svc-muted' }, 'not reported');
    const current = fmt.number(rollout.version);
    const version = fmt.number(report.version);
    if (report.status === 'failed') {
      return el('div', {}, badge('critical', 'v' + version + ' failed'),
        el('div', { className: 'svc-output' }, text(report.message)));
    }
    if (version === current) return badge('passing', 'v' + version + ' applied');
    return el('div', {}, badge('warning', 'v' + version), el('div', { className: 'svc-output' }, 'v' + current + ' pending'));
  }

  function instanceRow(inst) {
    const health = inst.health && typeof inst.health === 'object' ? inst.health : {};
    const status = INSTANCE_HEALTH.includes(health.status) ? health.status : 'unknown';
    const address = text(inst.address);
    const host = address.includes(':') ? '[' + address + ']' : address;
    const maintenance = inst.maintenance && inst.maintenance.enabled === true;
    return el('tr', { 'data-instance': text(inst.id) },
      el('td', { className: 'mono' }, text(inst.id)),
      el('td', { className: 'mono' }, host + ':' + text(inst.port)),
      el('td', {}, text(inst.version) || '—'),
      el('td', {}, badge(status, text(health.status) || 'unknown'),
        health.output ? el('div', { className: 'svc-output' }, text(health.output)) : null),
      el('td', {}, maintenance
        ? [badge('maintenance', 'maintenance'),
          inst.maintenance.reason ? el('div', { className: 'svc-output' }, text(inst.maintenance.reason)) : null]
        : el('span', { className: 'svc-muted' }, '—')),
      el('td', {}, ago(inst.last_seen)),
      el('td', { className: 'svc-config-cell' }, configCell(inst)));
  }

  function renderInstances() {
    renderCounts();
    const list = page.instances || [];
    if (list.length === 0) {
      ui.instances.empty('no instances of ' + page.service + ' are registered — start its hive-agent');
      return;
    }
    ui.instances.fill(table('svc-instances',
      ['Instance', 'Address', 'Version', 'Health', 'Maintenance', 'Last heartbeat', 'Config'],
      list.map(instanceRow)));
  }

  // --- traffic charts ---------------------------------------------------------------

  function chartWidth() {
    const grid = ui.traffic.body.querySelector('.svc-charts');
    const card = grid && grid.querySelector('.svc-chart');
    return Math.max(200, (card ? card.clientWidth : 320) - 24);
  }

  function chartOptions(series, yValues, width) {
    return {
      width,
      height: CHART_HEIGHT,
      padding: [10, 22, 0, 0],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [
        { ...AXIS, grid: GRID, ticks: { ...GRID, size: 4 } },
        { ...AXIS, grid: GRID, ticks: { ...GRID, size: 4 }, size: 58, values: (u, values) => values.map(yValues) },
      ],
      series: [
        {},
        ...series,
      ],
    };
  }

  function latest(values) {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i];
    return null;
  }

  function line(label, color, format, fill) {
    return {
      label, stroke: color, width: 2, fill: fill || undefined, spanGaps: false,
      points: { size: 5, fill: color },
      // Without the cursor on the chart, the legend shows the latest value.
      value: (u, v, s, idx) => {
        const shown = idx === null ? latest(u.data[s]) : v;
        return shown === null || shown === undefined ? '—' : format(shown);
      },
    };
  }

  function chartCard(key, title, summary) {
    const plot = el('div', { className: 'svc-chart-plot' });
    const card = el('div', { className: 'svc-chart', 'data-chart': key },
      el('div', { className: 'svc-chart-header' },
        el('span', { className: 'svc-chart-title' }, title),
        el('span', { className: 'svc-chart-summary' }, summary)),
      plot);
    return { card, plot };
  }

  function destroyCharts() {
    for (const chart of charts) chart.destroy();
    charts = [];
    if (resizeObserver) resizeObserver.disconnect();
    resizeObserver = null;
  }

  function renderTraffic(answer) {
    destroyCharts();
    const points = Array.isArray(answer.points) ? answer.points : [];
    const step = fmt.number(answer.step_seconds) || 60;
    const calls = points.reduce((sum, p) => sum + fmt.number(p.calls), 0);
    const errors = points.reduce((sum, p) => sum + fmt.number(p.errors), 0);
    const stepText = step >= 900 ? 'per 15 minutes' : 'per minute';
    ui.traffic.note('last ' + page.window + ', ' + stepText);
    if (points.length === 0 || calls === 0) {
      ui.traffic.empty('no requests to ' + page.service + ' in the last ' + page.window);
      return;
    }
    const xs = points.map((p) => Date.parse(p.t) / 1000);
    const some = (v, p) => (fmt.number(p.calls) > 0 ? v : null);
    const rate = points.map((p) => fmt.number(p.request_rate));
    const errorPct = points.map((p) => some(fmt.number(p.error_rate) * 100, p));
    const p50 = points.map((p) => some(fmt.number(p.p50_ms), p));
    const p95 = points.map((p) => some(fmt.number(p.p95_ms), p));
    const p99 = points.map((p) => some(fmt.number(p.p99_ms), p));
    const peak = Math.max(...rate);
    const worst = Math.max(...p99.map((v) => v || 0));

    const requests = chartCard('requests', 'Request rate', 'peak ' + fmt.rate(peak));
    const failures = chartCard('errors', 'Errors', errors + ' of ' + calls + ' calls (' + fmt.percent(errors / calls) + ')');
    const latency = chartCard('latency', 'Latency', 'worst p99 ' + fmt.ms(worst));
    requests.card.dataset.calls = String(calls);
    failures.card.dataset.errors = String(errors);
    latency.card.dataset.points = String(p99.filter((v) => v !== null).length);
    const grid = el('div', { className: 'svc-charts' }, requests.card, failures.card, latency.card);
    ui.traffic.fill(grid);

    const width = chartWidth();
    const pct = (v) => (v >= 10 ? Math.round(v) : Number(v.toFixed(1))) + '%';
    charts = [
      new uPlot(chartOptions([line('req/s', '#0969da', fmt.rate, 'rgba(9, 105, 218, 0.10)')],
        (v) => fmt.rate(v).replace(' req/s', ''), width), [xs, rate], requests.plot),
      new uPlot(chartOptions([line('errors', '#cf222e', pct, 'rgba(207, 34, 46, 0.10)')], pct, width),
        [xs, errorPct], failures.plot),
      new uPlot(chartOptions([
        line('p50', '#2da44e', fmt.ms),
        line('p95', '#bf8700', fmt.ms),
        line('p99', '#cf222e', fmt.ms),
      ], fmt.ms, width), [xs, p50, p95, p99], latency.plot),
    ];
    resizeObserver = new ResizeObserver(() => {
      const w = chartWidth();
      for (const chart of charts) if (chart.width !== w) chart.setSize({ width: w, height: CHART_HEIGHT });
    });
    resizeObserver.observe(grid);
  }

  async function refreshTraffic() {
    const gen = page.generation;
    try {
      const answer = await hive.getJson('/api/v1/traffic?service=' + enc(page.service) + '&window=' + enc(page.window));
      if (gen !== page.generation) return;
      renderTraffic(answer);
    } catch (e) {
      if (gen !== page.generation) return;
      ui.traffic.fail(e, 'the traffic');
    }
  }

  // --- recent errors ------------------------------------------------------------------

  function errorRow(event) {
    const trace = text(event.trace_id);
    let traceCell = el('span', { className: 'svc-muted' }, '—');
    if (trace) {
      traceCell = hive.link(trace.length > 16 ? trace.slice(0, 16) + '…' : trace, { tab: 'trace', trace }, 'trace-link mono');
      traceCell.dataset.trace = trace;
      traceCell.title = 'open trace ' + trace;
    }
    return el('tr', { className: 'svc-error-row' },
      el('td', { className: 'svc-time mono', title: text(event.ts) }, fmt.time(event.ts)),
      el('td', { className: 'mono' }, text(event.instance) || '—'),
      el('td', { className: 'svc-message' }, text(event.message)),
      el('td', {}, traceCell));
  }

  async function refreshErrors() {
    const gen = page.generation;
    try {
      const answer = await hive.getJson('/api/v1/logs?service=' + enc(page.service) + '&level=error&limit=20');
      if (gen !== page.generation) return;
      const list = Array.isArray(answer.events) ? answer.events : [];
      if (list.length === 0) {
        ui.errors.empty('no errors logged by ' + page.service);
        return;
      }
      ui.errors.fill(table('svc-errors', ['Time', 'Instance', 'Message', 'Trace'], list.map(errorRow)));
    } catch (e) {
      if (gen !== page.generation) return;
      ui.errors.fail(e, 'the recent errors');
    }
  }

  // --- configuration ----------------------------------------------------------------

  function showNotice(message, kind) {
    ui.notice.textContent = message;
    ui.notice.className = 'svc-notice svc-notice-' + kind;
    ui.notice.hidden = false;
  }

  function chooseProfile(params) {
    const declared = declaredProfiles();
    ui.profileList.replaceChildren(...declared.map((p) => el('option', { value: p })));
    const fromUrl = params ? params.get('profile') : null;
    page.profile = fromUrl || declared[0] || DEFAULT_PROFILE;
    ui.profileInput.value = page.profile;
    ui.profileInput.title = declared.includes(page.profile)
      ? 'the profile the instances declare (' + PROFILE_KEY + ')'
      : 'no instance declares ' + PROFILE_KEY + '; type another profile';
  }

  // Loads effective values, history and rollout; `reset` clears what was
  // shown for another app/profile first.
  async function loadConfig({ reset = false, keepNotice = false } = {}) {
    const gen = page.generation;
    const name = page.service + '/' + page.profile;
    ui.configName.textContent = name;
    if (!keepNotice) ui.notice.hidden = true;
    if (reset) {
      page.config = null;
      for (const part of [ui.effective, ui.rollout, ui.history, ui.diff]) part.reset();
      ui.fromSelect.replaceChildren();
      ui.toSelect.replaceChildren();
    }
    await hive.whoami().catch(() => null);
    const [effective, history, rollout] = await Promise.allSettled([
      hive.getJson(configPath()), hive.getJson(configPath('/history')), hive.getJson(configPath('/rollout'))]);
    if (gen !== page.generation || name !== page.service + '/' + page.profile) return;
    const versions = history.status === 'fulfilled' && Array.isArray(history.value.versions) ? history.value.versions : null;
    const missing = (r) => r.status === 'rejected' && r.reason.status === 404;
    const noVersions = missing(history) || (versions !== null && versions.length === 0);
    const noValues = missing(effective) ||
      (effective.status === 'fulfilled' && Object.keys(effective.value.properties || {}).length === 0);
    const noConfig = noVersions && noValues;
    page.config = {
      effective: effective.status === 'fulfilled' ? effective.value : null,
      versions,
      rollout: rollout.status === 'fulfilled' ? rollout.value : null,
    };
    renderInstances();
    ui.configEmpty.hidden = !noConfig;
    ui.configParts.hidden = noConfig;
    if (noConfig) {
      ui.configEmpty.replaceChildren('no configuration pushed for ', el('span', { className: 'mono' }, name),
        el('br'), el('span', { className: 'svc-hint' }, 'push one with hivectl config push ' + page.service +
          ' --profile ' + page.profile + ' key=value'));
      return;
    }
    if (effective.status === 'fulfilled') renderEffective(effective.value);
    else ui.effective.fail(effective.reason, 'the effective configuration');
    if (noVersions) {
      const message = 'no configuration pushed for ' + name;
      ui.rollout.empty('nothing to roll out: ' + message);
      ui.history.empty(message + '; the effective values come from shared layers');
      ui.diff.empty('no versions to compare');
      return;
    }
    if (rollout.status === 'fulfilled') renderRollout();
    else ui.rollout.fail(rollout.reason, 'the rollout status');
    if (versions !== null) {
      renderHistory(versions);
      renderDiffChoices(versions);
      loadDiff();
    } else {
      ui.history.fail(history.reason, 'the history');
      ui.diff.fail(history.reason, 'the versions to compare');
    }
  }

  function sourceText(source, own) {
    const node = el('span', { className: 'svc-source mono' + (source === own ? '' : ' svc-inherited') }, source || '—');
    if (source !== own) node.title = 'inherited from ' + source;
    return node;
  }

  function renderEffective(answer) {
    const properties = answer.properties && typeof answer.properties === 'object' ? answer.properties : {};
    const sources = answer.property_sources && typeof answer.property_sources === 'object' ? answer.property_sources : {};
    const secrets = new Set(Array.isArray(answer.secret_keys) ? answer.secret_keys : []);
    const keys = Object.keys(properties).sort();
    ui.effective.note(keys.length + (keys.length === 1 ? ' key' : ' keys') + ' · version ' + fmt.number(answer.version));
    if (keys.length === 0) {
      ui.effective.empty('the effective configuration of ' + page.service + '/' + page.profile + ' is empty');
      return;
    }
    const own = page.service + '/' + page.profile;
    ui.effective.fill(table('svc-values', ['Key', 'Value', 'Source'], keys.map((key) =>
      el('tr', { 'data-key': key },
        el('td', { className: 'mono' }, key),
        el('td', { className: 'mono svc-value' }, valueText(properties[key]),
          secrets.has(key) ? badge('secret', 'secret') : null),
        el('td', {}, sourceText(text(sources[key]), own))))));
  }

  // Registered instances that read this profile (or say nothing about it),
  // plus instances that reported without being registered.
  function rolloutRows(rollout) {
    const reports = new Map((rollout.instances || []).filter((r) => r && r.instance).map((r) => [r.instance, r]));
    const rows = [];
    for (const inst of page.instances || []) {
      const declared = inst.metadata && inst.metadata[PROFILE_KEY];
      if (declared && declared !== page.profile) continue;
      rows.push({ id: text(inst.id), report: reports.get(inst.id) || null, registered: true });
      reports.delete(inst.id);
    }
    for (const [id, report] of reports) rows.push({ id, report, registered: false });
    return rows;
  }

  function renderRollout() {
    const rollout = page.config && page.config.rollout;
    if (!rollout || fmt.number(rollout.version) === 0) return;
    const current = fmt.number(rollout.version);
    const rows = rolloutRows(rollout);
    if (rows.length === 0) {
      ui.rollout.note('');
      ui.rollout.empty('no instance of ' + page.service + ' is registered or has reported');
      return;
    }
    const tally = { applied: 0, pending: 0, failed: 0 };
    const rendered = rows.map(({ id, report, registered }) => {
      let status = 'pending';
      if (report && report.status === 'failed') status = 'failed';
      else if (report && fmt.number(report.version) === current && report.status === 'applied') status = 'applied';
      if (registered) tally[status]++;
      const kind = { applied: 'passing', pending: 'warning', failed: 'critical' }[status];
      const has = report ? 'v' + fmt.number(report.version) + ' ' : '';
      let detail = report ? text(report.message) : 'no report yet';
      if (status === 'pending' && report) detail = 'has v' + fmt.number(report.version) + ', not v' + current + ' yet';
      return el('tr', { 'data-rollout-instance': id, 'data-status': status, className: registered ? '' : 'svc-unregistered' },
        el('td', { className: 'mono' }, id, registered ? null : el('div', { className: 'svc-output' }, 'not registered')),
        el('td', {}, badge(kind, status === 'pending' ? 'pending' : has + status),
          detail ? el('div', { className: 'svc-output' }, detail) : null),
        el('td', {}, report ? ago(report.updated_at) : '—'));
    });
    ui.rollout.note('v' + current + ': ' + tally.applied + ' applied · ' + tally.pending + ' pending · ' + tally.failed + ' failed');
    ui.rollout.fill(table('svc-rollout', ['Instance', 'Status', 'Reported'], rendered));
  }

  function renderHistory(versions) {
    const current = fmt.number(versions[0].version);
    const operate = hive.can('operate');
    ui.history.note(versions.length + (versions.length === 1 ? ' version' : ' versions') + (operate ? '' : ' · rollback needs an operator token'));
    const rows = versions.map((v) => {
      const version = fmt.number(v.version);
      const actions = el('td', { className: 'svc-actions' });
      const compare = el('button', { className: 'svc-button svc-button-small', type: 'button', 'data-action': 'diff' }, 'Changes');
      compare.addEventListener('click', () => {
        setDiff(Math.max(0, version - 1), version);
        ui.diff.node.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
      });
      actions.append(compare);
      if (operate && version !== current && v.deleted !== true) {
        const button = el('button', { className: 'svc-button svc-button-small', type: 'button', 'data-action': 'rollback' },
          'Roll back to v' + version);
        button.addEventListener('click', () => confirmRollback(version, current));
        actions.append(button);
      }
      const hash = text(v.hash);
      return el('tr', { 'data-version': String(version), className: version === current ? 'svc-current' : '' },
        el('td', {}, el('strong', {}, 'v' + version),
          version === current ? badge('passing', 'current') : null,
          v.deleted === true ? badge('critical', 'deleted') : null),
        el('td', {}, text(v.author) || '—'),
        el('td', { className: 'svc-message' }, text(v.message) || el('span', { className: 'svc-muted' }, 'no message')),
        el('td', { title: text(v.created_at) }, fmt.ago(v.created_at)),
        el('td', { className: 'mono svc-hash', title: hash }, hash.slice(0, 10)),
        el('td', {}, v.deleted === true ? '—' : String(fmt.number(v.keys))),
        actions);
    });
    ui.history.fill(table('svc-history', ['Version', 'Author', 'Message', 'Pushed', 'Hash', 'Keys', ''], rows));
  }

  // --- diff ---------------------------------------------------------------------------

  function renderDiffChoices(versions) {
    const numbers = versions.map((v) => fmt.number(v.version));
    const options = (select) => {
      select.replaceChildren(...numbers.map((n) => el('option', { value: String(n) }, 'v' + n)),
        el('option', { value: '0' }, 'empty'));
    };
    const from = ui.fromSelect.value;
    const to = ui.toSelect.value;
    options(ui.fromSelect);
    options(ui.toSelect);
    const current = numbers[0] || 0;
    const keep = (value, fallback) => (value !== '' && (numbers.includes(Number(value)) || value === '0') ? value : String(fallback));
    ui.toSelect.value = keep(to, current);
    ui.fromSelect.value = keep(from, Math.max(0, current - 1));
  }

  function setDiff(from, to) {
    ui.fromSelect.value = String(from);
    ui.toSelect.value = String(to);
    loadDiff();
  }

  function diffRow(kind, key, ...cells) {
    const sign = { added: '+', removed: '−', changed: '~' }[kind];
    return el('tr', { className: 'svc-diff-' + kind, 'data-diff': kind, 'data-key': key },
      el('td', { className: 'svc-diff-sign', 'aria-label': kind }, sign),
      el('td', { className: 'mono' }, key),
      ...cells);
  }

  async function loadDiff() {
    const gen = page.generation;
    const from = ui.fromSelect.value;
    const to = ui.toSelect.value;
    if (from === '' || to === '') return;
    const name = page.service + '/' + page.profile;
    try {
      const answer = await hive.getJson(configPath('/diff?from=' + enc(from) + '&to=' + enc(to)));
      if (gen !== page.generation || name !== page.service + '/' + page.profile ||
          from !== ui.fromSelect.value || to !== ui.toSelect.value) return;
      const diff = answer.diff && typeof answer.diff === 'object' ? answer.diff : {};
      const added = diff.added || {};
      const removed = diff.removed || {};
      const changed = diff.changed || {};
      const rows = [
        ...Object.keys(added).sort().map((k) => diffRow('added', k,
          el('td', { className: 'svc-muted' }, '—'),
          el('td', { className: 'mono svc-value svc-diff-to' }, valueText(added[k])))),
        ...Object.keys(removed).sort().map((k) => diffRow('removed', k,
          el('td', { className: 'mono svc-value svc-diff-from' }, valueText(removed[k])),
          el('td', { className: 'svc-muted' }, '—'))),
        ...Object.keys(changed).sort().map((k) => diffRow('changed', k,
          el('td', { className: 'mono svc-value svc-diff-from' }, valueText(changed[k] && changed[k].from)),
          el('td', { className: 'mono svc-value svc-diff-to' }, valueText(changed[k] && changed[k].to)))),
      ];
      const label = (v) => (v === '0' ? 'the empty document' : 'v' + v);
      if (rows.length === 0) {
        ui.diff.empty(label(from) + ' and ' + label(to) + ' have the same content');
        return;
      }
      ui.diff.fill(
        el('p', { className: 'svc-diff-summary' },
          label(from) + ' → ' + label(to) + ': ',
          el('span', { className: 'svc-diff-count-added' }, Object.keys(added).length + ' added'), ', ',
          el('span', { className: 'svc-diff-count-removed' }, Object.keys(removed).length + ' removed'), ', ',
          el('span', { className: 'svc-diff-count-changed' }, Object.keys(changed).length + ' changed')),
        table('svc-diff', ['', 'Key', from === '0' ? 'empty' : 'v' + from, to === '0' ? 'empty' : 'v' + to], rows));
    } catch (e) {
      if (gen !== page.generation) return;
      ui.diff.fail(e, 'the diff');
    }
  }

  // --- rollback -----------------------------------------------------------------------

  function confirmRollback(to, current) {
    const name = page.service + '/' + page.profile;
    page.rollbackTo = to;
    page.rollbackFrom = current;
    document.getElementById('confirm-text').textContent =
      name + ' will get a new version ' + (current + 1) + ' with the content of version ' + to + '.';
    document.getElementById('confirm-detail').textContent =
      'Version ' + current + ' stays in the history; instances watching ' + name +
      ' apply the new version within seconds.';
    ui.dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  }

  async function rollback(to) {
    const current = page.rollbackFrom;
    const name = page.service + '/' + page.profile;
    try {
      const answer = await hive.send('POST', configPath('/rollback'), { to }, { 'If-Match': String(current) });
      showNotice('Rolled back: ' + name + ' version ' + fmt.number(answer.version) + ' has the content of version ' + to + '.', 'ok');
      ui.fromSelect.value = '';
      ui.toSelect.value = '';
    } catch (e) {
      if (e.status === 401) {
        hive.handleError(e, null, 'the rollback');
        return;
      }
      if (e.status === 409) {
        showNotice(name + ' changed while you were looking (it is no longer version ' + current +
          '). The page now shows the current state; check it and roll back again if needed.', 'warn');
      } else {
        showNotice('Rollback failed. ' + e.message, 'error');
      }
    }
    await loadConfig({ keepNotice: true });
  }

  // --- live updates -------------------------------------------------------------------

  function onEvent(message) {
    let data = null;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    if (message.event !== 'reset' && (!data || data.service !== page.service)) return;
    if (eventTimer !== null) return;
    eventTimer = setTimeout(() => {
      eventTimer = null;
      loadInstances();
    }, EVENT_COALESCE_MS);
  }

  async function tick() {
    const gen = page.generation;
    const before = page.config && page.config.effective ? fmt.number(page.config.effective.version) : null;
    refreshHeader();
    refreshTraffic();
    refreshErrors();
    loadInstances();
    try {
      const [effective, rollout] = await Promise.all([hive.getJson(configPath()), hive.getJson(configPath('/rollout'))]);
      if (gen !== page.generation || !page.config) return;
      if (before === null || fmt.number(effective.version) !== before) {
        loadConfig({ keepNotice: true });
        return;
      }
      page.config.rollout = rollout;
      renderRollout();
      renderInstances();
    } catch {
      // The sections keep their last state; the next full load reports the failure.
    }
  }

  // --- the view -----------------------------------------------------------------------

  async function show(params) {
    if (ui === null) build();
    page.generation++;
    const gen = page.generation;
    const service = params.get('service') || '';
    const win = params.get('window') || DEFAULT_WINDOW;
    ui.missing.hidden = service !== '';
    ui.content.hidden = service === '';
    if (service === '') {
      hive.setStatus('no service chosen', 'warn');
      return;
    }
    if (service !== page.service) {
      page.instances = null;
      page.config = null;
      page.node = null;
      for (const part of [ui.instances, ui.traffic, ui.errors, ui.effective, ui.rollout, ui.history, ui.diff]) part.reset();
      ui.fromSelect.replaceChildren();
      ui.toSelect.replaceChildren();
      ui.counts.replaceChildren();
      ui.notice.hidden = true;
    }
    page.service = service;
    page.window = win;
    if (!WINDOWS.includes(win)) ui.windowSelect.append(el('option', { value: win }, win));
    ui.windowSelect.value = win;
    ui.name.textContent = service;
    ui.crumb.textContent = service;
    document.title = service + ' · hive';
    ui.logsLink.replaceChildren(hive.link('All logs', { tab: 'logs', service }, 'svc-link'));
    renderHeader(page.node || null);

    refreshHeader();
    refreshTraffic();
    refreshErrors();
    await loadInstances();
    if (gen !== page.generation) return;
    chooseProfile(params);
    if (!params.get('profile') && page.profile !== DEFAULT_PROFILE) hive.update({ profile: page.profile });
    loadConfig({ reset: true });

    if (events === null) {
      events = hive.stream('/api/v1/events', {
        onMessage: onEvent,
        onOpen: () => onEvent({ event: 'reset', data: '{}' }),
        onError: (e) => {
          // A refused stream is not retried: drop it, so that the next show()
          // (after a token was entered) opens a new one.
          if (e.status === 401) {
            closeEvents();
            return;
          }
          showLiveError(e);
        },
      });
    }
    clearInterval(timer);
    timer = setInterval(tick, REFRESH_MS);
  }

  function showLiveError(e) {
    hive.setStatus(e.status === 0 ? 'hived unreachable' : 'live updates stopped', 'error');
  }

  function closeEvents() {
    clearTimeout(eventTimer);
    eventTimer = null;
    if (events !== null) events.close();
    events = null;
  }

  function hide() {
    page.generation++;
    clearInterval(timer);
    timer = null;
    closeEvents();
    destroyCharts();
    if (ui !== null) {
      ui.traffic.reset();
      if (ui.dialog.open) ui.dialog.close();
    }
    document.title = 'hive';
  }

  hive.registerView('service', { tab: 'services', show, hide });
})();
