// hive dashboard, Services tab: the services in the registry and their
// instances. Loaded once when shown, then kept current by the registry's
// event stream (GET /api/v1/events): each change re-reads the list, at most
// every 500 ms. A service's name opens its service page.
'use strict';

(() => {
  const HEALTH = ['passing', 'warning', 'critical'];
  const COALESCE_MS = 500;

  const $ = (id) => document.getElementById(id);
  const { el, fmt } = window.hive;
  const hive = window.hive;
  let events = null;
  let pending = null;
  let hasData = false;
  let generation = 0;

  async function loadServices() {
    const list = await hive.getJson('/api/v1/services');
    const services = Array.isArray(list.services) ? list.services : [];
    const details = await Promise.all(services.map(
      (s) => hive.getJson('/api/v1/services/' + encodeURIComponent(String(s.name)))));
    return services.map((summary, i) => ({
      summary,
      instances: Array.isArray(details[i].instances) ? details[i].instances : [],
    }));
  }

  function healthBadge(status) {
    const known = HEALTH.includes(status) ? status : 'unknown';
    return el('span', { className: 'badge badge-' + known }, status || 'unknown');
  }

  function countPill(n, health) {
    return el('span', { className: 'pill pill-' + health + (n === 0 ? ' pill-zero' : '') },
      n + ' ' + health);
  }

  function renderInstance(inst) {
    const health = inst.health && typeof inst.health === 'object' ? inst.health : {};
    const address = String(inst.address ?? '');
    const host = address.includes(':') ? '[' + address + ']' : address;
    const maintenance = inst.maintenance && inst.maintenance.enabled === true;
    return el('tr', { 'data-instance': String(inst.id ?? '') },
      el('td', { className: 'mono' }, inst.id),
      el('td', { className: 'mono' }, host + ':' + (inst.port ?? '')),
      el('td', {}, inst.version || '—'),
      el('td', {}, healthBadge(health.status),
        maintenance ? el('span', { className: 'badge badge-maintenance' }, 'maintenance') : null),
      el('td', { className: 'output' }, health.output || ''),
      el('td', { className: 'ago', title: String(inst.last_seen ?? '') }, fmt.ago(inst.last_seen)));
  }

  function renderService({ summary, instances }) {
    const name = String(summary.name ?? '');
    const total = fmt.number(summary.instances);
    const header = el('div', { className: 'card-header' },
      el('h2', { className: 'service-name' }, hive.link(name, { tab: 'service', service: name })),
      el('span', { className: 'instance-count' }, total + (total === 1 ? ' instance' : ' instances')),
      el('span', { className: 'pills' }, ...HEALTH.map((h) => countPill(fmt.number(summary[h]), h))));
    const body = instances.length === 0
      ? el('p', { className: 'card-empty' }, 'no instances')
      : el('table', { className: 'instances' },
        el('thead', {}, el('tr', {}, ...['ID', 'Address', 'Version', 'Health', 'Output',
          'Last heartbeat'].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...instances.map(renderInstance)));
    return el('section', { className: 'card', 'data-service': name }, header, body);
  }

  function renderSummary(data) {
    const totals = { instances: 0, passing: 0, warning: 0, critical: 0 };
    for (const { summary } of data) {
      for (const key of Object.keys(totals)) totals[key] += fmt.number(summary[key]);
    }
    const summary = $('summary');
    summary.replaceChildren(
      el('strong', {}, String(data.length)), data.length === 1 ? ' service · ' : ' services · ',
      el('strong', {}, String(totals.instances)), ' instances',
      ...HEALTH.map((h) => el('span', { className: 'summary-health' }, countPill(totals[h], h))));
    summary.hidden = false;
  }

  function render(data) {
    $('loading').hidden = true;
    $('empty').hidden = data.length !== 0;
    $('services').classList.remove('stale');
    $('services').replaceChildren(...data.map(renderService));
    if (data.length === 0) $('summary').hidden = true;
    else renderSummary(data);
  }

  async function refresh() {
    const mine = generation;
    try {
      const data = await loadServices();
      if (mine !== generation) return;
      hive.hideAuth();
      $('error').hidden = true;
      hasData = true;
      render(data);
      hive.setStatus('updated ' + new Date().toLocaleTimeString(), 'ok');
    } catch (e) {
      if (mine !== generation) return;
      $('loading').hidden = true;
      if (e.status === 401) {
        $('services').replaceChildren();
        $('summary').hidden = true;
        $('empty').hidden = true;
        hasData = false;
      } else if (hasData) {
        // Keep the last good data visible, marked as out of date.
        $('services').classList.add('stale');
      }
      hive.handleError(e, $('error'), 'services');
    }
  }

  function scheduleRefresh() {
    if (pending !== null) return;
    pending = setTimeout(() => {
      pending = null;
      refresh();
    }, COALESCE_MS);
  }

  hive.registerView('services', {
    tab: 'services',
    show() {
      generation++;
      if (!hasData) $('loading').hidden = false;
      refresh();
      if (events === null) {
        events = hive.stream('/api/v1/events', {
          onMessage: scheduleRefresh,
          // Reconnected after a gap: changes may have been missed.
          onOpen: scheduleRefresh,
          onError: (e) => {
            if (e.status === 401) return;
            hive.setStatus(e.status === 0 ? 'hived unreachable' : 'error', 'error');
            $('services').classList.toggle('stale', hasData);
            $('error').replaceChildren(el('strong', {}, 'Live updates stopped. '), e.message);
            $('error').hidden = false;
          },
        });
      }
    },
    hide() {
      generation++;
      clearTimeout(pending);
      pending = null;
      if (events !== null) events.close();
      events = null;
    },
  });
})();
