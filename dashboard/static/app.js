// hive dashboard, Services tab: the services in the registry and their
// instances, refreshed every 2 s while the tab is shown. Also owns the bearer
// token and the API helpers the other tabs use (window.hive, see the end).
// Plain DOM, no framework. Text from the API is only ever set through
// textContent / attributes, never parsed as HTML.
'use strict';

(() => {
  const REFRESH_MS = 2000;
  const TOKEN_KEY = 'hive.token';
  const HEALTH = ['passing', 'warning', 'critical'];

  const $ = (id) => document.getElementById(id);
  let timer = null;
  let hasData = false;

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function storedToken() {
    try {
      return localStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return '';
    }
  }

  function storeToken(value) {
    try {
      if (value) localStorage.setItem(TOKEN_KEY, value);
      else localStorage.removeItem(TOKEN_KEY);
    } catch {
      // Storage can be disabled; the token then lasts for this page only.
    }
  }

  async function getJson(path) {
    const headers = { Accept: 'application/json' };
    const token = storedToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    let res;
    try {
      res = await fetch(path, { headers, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, 'hived is unreachable (' + e.message + ')');
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      const message = body && body.error && typeof body.error.message === 'string'
        ? body.error.message : res.statusText;
      throw new ApiError(res.status, 'HTTP ' + res.status + ': ' + message);
    }
    if (body === null || typeof body !== 'object') {
      throw new ApiError(res.status, 'hived answered ' + path + ' with something that is not JSON');
    }
    return body;
  }

  async function loadServices() {
    const list = await getJson('/api/v1/services');
    const services = Array.isArray(list.services) ? list.services : [];
    const details = await Promise.all(services.map(
      (s) => getJson('/api/v1/services/' + encodeURIComponent(String(s.name)))));
    return services.map((summary, i) => ({
      summary,
      instances: Array.isArray(details[i].instances) ? details[i].instances : [],
    }));
  }

  // el('td', {className: 'x'}, 'text', childNode): children given as strings
  // become text nodes.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === 'className') node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
    }
    return node;
  }

  function count(value) {
    const n = Number(value);
    return Number.isFinite(n) ? n : 0;
  }

  function ago(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return iso ? String(iso) : '—';
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
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
    return el('tr', { 'data-instance': String(inst.id ?? '') },
      el('td', { className: 'mono' }, inst.id),
      el('td', { className: 'mono' }, host + ':' + (inst.port ?? '')),
      el('td', {}, inst.version || '—'),
      el('td', {}, healthBadge(health.status)),
      el('td', { className: 'output' }, health.output || ''),
      el('td', { className: 'ago', title: String(inst.last_seen ?? '') }, ago(inst.last_seen)));
  }

  function renderService({ summary, instances }) {
    const name = String(summary.name ?? '');
    const total = count(summary.instances);
    const header = el('div', { className: 'card-header' },
      el('h2', { className: 'service-name' }, name),
      el('span', { className: 'instance-count' }, total + (total === 1 ? ' instance' : ' instances')),
      el('span', { className: 'pills' }, ...HEALTH.map((h) => countPill(count(summary[h]), h))));
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
      for (const key of Object.keys(totals)) totals[key] += count(summary[key]);
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

  function setStatus(text, kind) {
    const status = $('status');
    status.textContent = text;
    status.className = 'status status-' + kind;
  }

  function showError(message) {
    $('loading').hidden = true;
    const error = $('error');
    error.replaceChildren(el('strong', {}, 'Cannot load services. '), message);
    error.hidden = false;
    // Keep the last good data visible, marked as out of date.
    if (hasData) $('services').classList.add('stale');
  }

  function showAuth(rejected) {
    $('loading').hidden = true;
    $('empty').hidden = true;
    $('summary').hidden = true;
    $('error').hidden = true;
    $('services').replaceChildren();
    hasData = false;
    $('auth-message').textContent = rejected
      ? 'hived rejected the stored token. Paste another one.'
      : 'hived asks for a bearer token. It is kept in this browser only.';
    $('auth').hidden = false;
  }

  async function refresh() {
    clearTimeout(timer);
    if ($('services-view').hidden) return;
    try {
      const data = await loadServices();
      $('auth').hidden = true;
      $('error').hidden = true;
      hasData = true;
      render(data);
      setStatus('updated ' + new Date().toLocaleTimeString(), 'ok');
    } catch (e) {
      if (e.status === 401) {
        showAuth(storedToken() !== '');
        setStatus('token required', 'warn');
      } else {
        showError(e.message);
        setStatus(e.status === 0 ? 'hived unreachable' : 'error', 'error');
      }
    } finally {
      $('forget-token').hidden = storedToken() === '';
      timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  function start() {
    $('auth-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('token-input').value.trim();
      if (!value) return;
      storeToken(value);
      $('token-input').value = '';
      $('auth').hidden = true;
      document.dispatchEvent(new Event('hive:token'));
    });
    $('forget-token').addEventListener('click', () => {
      storeToken('');
      document.dispatchEvent(new Event('hive:token'));
    });
    document.addEventListener('hive:token', refresh);
    document.addEventListener('hive:tab', refresh);
  }

  window.hive = {
    getJson, el, setStatus, showAuth,
    hideAuth() { $('auth').hidden = true; },
    showForget() { $('forget-token').hidden = storedToken() === ''; },
    hasToken() { return storedToken() !== ''; },
  };

  start();
})();
