// hive dashboard core: the bearer token, the API helpers, server-sent events
// over fetch, formatting, and the router that shows one view at a time from
// the URL (?tab=<view>&...), so every view can be shared as a link.
// Views (graph.js, services.js, service.js, logs.js, trace.js) register
// themselves with hive.registerView; this file is loaded first.
// Plain DOM, no framework. Text from the API is only ever set through
// textContent / attributes, never parsed as HTML.
'use strict';

(() => {
  const TOKEN_KEY = 'hive.token';
  const TABS = ['graph', 'services', 'logs'];
  const STREAM_RETRY_MS = [1000, 2000, 5000, 10000];

  const $ = (id) => document.getElementById(id);
  const views = new Map();
  let current = null;  // name of the view shown
  let identity = null; // promise of the whoami answer
  let role = null;

  class ApiError extends Error {
    constructor(status, message, code) {
      super(message);
      this.status = status;
      this.code = code || '';
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

  function authHeaders(extra) {
    const headers = { Accept: 'application/json', ...(extra || {}) };
    const token = storedToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    return headers;
  }

  async function request(method, path, body, extraHeaders) {
    const headers = authHeaders(extraHeaders);
    let payload;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      if (!headers['Content-Type']) headers['Content-Type'] = 'application/json';
    }
    let res;
    try {
      res = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, 'hived is unreachable (' + e.message + ')');
    }
    let answer = null;
    try {
      answer = await res.json();
    } catch {
      answer = null;
    }
    if (!res.ok) {
      const error = answer && answer.error && typeof answer.error === 'object' ? answer.error : {};
      const message = typeof error.message === 'string' ? error.message : res.statusText;
      throw new ApiError(res.status, 'HTTP ' + res.status + ': ' + message, error.code);
    }
    if (answer === null || typeof answer !== 'object') {
      throw new ApiError(res.status, 'hived answered ' + path + ' with something that is not JSON');
    }
    return answer;
  }

  const getJson = (path) => request('GET', path);
  const send = (method, path, body, headers) => request(method, path, body, headers);

  // Server-sent events read through fetch, so the bearer token goes along
  // (EventSource cannot send headers). Reconnects with backoff and
  // Last-Event-ID until close() is called.
  function stream(path, handlers) {
    const { onMessage = () => {}, onOpen = () => {}, onError = () => {} } = handlers || {};
    let controller = null;
    let closed = false;
    let lastId = '';
    let attempt = 0;
    let retryTimer = null;

    function dispatch(block) {
      const message = { id: '', event: 'message', data: '' };
      const data = [];
      let any = false;
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') {
          data.push(value);
          any = true;
        } else if (field === 'event') {
          message.event = value;
        } else if (field === 'id') {
          message.id = value;
          lastId = value;
        }
      }
      if (!any) return;
      message.data = data.join('\n');
      onMessage(message);
    }

    async function connect() {
      controller = new AbortController();
      const headers = authHeaders({ Accept: 'text/event-stream' });
      if (lastId) headers['Last-Event-ID'] = lastId;
      try {
        const res = await fetch(path, { headers, signal: controller.signal, cache: 'no-store' });
        if (!res.ok) {
          let message = res.statusText;
          try {
            const body = await res.json();
            if (body && body.error && typeof body.error.message === 'string') message = body.error.message;
          } catch {
            // not JSON: keep the status text
          }
          throw new ApiError(res.status, 'HTTP ' + res.status + ': ' + message);
        }
        attempt = 0;
        onOpen();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            dispatch(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
        if (closed) return;
        onError(new ApiError(0, 'the event stream ended'));
      } catch (e) {
        if (closed) return;
        onError(e instanceof ApiError ? e : new ApiError(0, 'hived is unreachable (' + e.message + ')'));
        // A refused request (bad filter, no permission) does not get better by retrying.
        if (e instanceof ApiError && e.status >= 400 && e.status < 500) return;
      }
      if (closed) return;
      retryTimer = setTimeout(connect, STREAM_RETRY_MS[Math.min(attempt++, STREAM_RETRY_MS.length - 1)]);
    }

    connect();
    return {
      close() {
        closed = true;
        clearTimeout(retryTimer);
        if (controller) controller.abort();
      },
    };
  }

  // el('td', {className: 'x', 'data-id': 'y'}, 'text', childNode): children
  // given as strings become text nodes; null/undefined/false children are skipped.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'className') node.className = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const fmt = {
    number(value) {
      const n = Number(value);
      return Number.isFinite(n) ? n : 0;
    },
    rate(perSecond) {
      const r = fmt.number(perSecond);
      if (r >= 100) return Math.round(r) + ' req/s';
      if (r >= 1) return r.toFixed(1) + ' req/s';
      return r.toFixed(2) + ' req/s';
    },
    percent(ratio) {
      const p = fmt.number(ratio) * 100;
      if (p === 0) return '0%';
      if (p < 0.1) return '<0.1%';
      return (p < 10 ? p.toFixed(1) : Math.round(p)) + '%';
    },
    ms(value) {
      const ms = fmt.number(value);
      if (ms >= 1000) return (ms / 1000).toFixed(ms >= 10000 ? 0 : 1) + 's';
      if (ms >= 10) return Math.round(ms) + 'ms';
      if (ms >= 1 || ms === 0) return ms.toFixed(ms === 0 ? 0 : 1) + 'ms';
      return Math.round(ms * 1000) + 'µs';
    },
    ago(iso) {
      const t = Date.parse(iso);
      if (Number.isNaN(t)) return iso ? String(iso) : '—';
      const s = Math.max(0, Math.round((Date.now() - t) / 1000));
      if (s < 60) return s + 's ago';
      if (s < 3600) return Math.floor(s / 60) + 'm ago';
      if (s < 86400) return Math.floor(s / 3600) + 'h ago';
      return Math.floor(s / 86400) + 'd ago';
    },
    time(iso) {
      const t = Date.parse(iso);
      if (Number.isNaN(t)) return iso ? String(iso) : '—';
      const d = new Date(t);
      const pad = (n, w = 2) => String(n).padStart(w, '0');
      const today = new Date();
      const clock = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) +
        '.' + pad(d.getMilliseconds(), 3);
      if (d.toDateString() === today.toDateString()) return clock;
      return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + clock;
    },
    bytes(value) {
      let n = fmt.number(value);
      for (const unit of ['B', 'KiB', 'MiB', 'GiB']) {
        if (n < 1024 || unit === 'GiB') return (unit === 'B' ? n : n.toFixed(1)) + ' ' + unit;
        n /= 1024;
      }
      return String(n);
    },
  };

  function setStatus(text, kind) {
    const status = $('status');
    status.textContent = text;
    status.className = 'status status-' + kind;
  }

  function showAuth(rejected) {
    $('auth-message').textContent = rejected
      ? 'hived rejected the stored token. Paste another one.'
      : 'hived asks for a bearer token. It is kept in this browser only.';
    $('auth').hidden = false;
  }

  function hideAuth() {
    $('auth').hidden = true;
  }

  // Shows a failed load in `element` ("Cannot load <what>. <message>"), or
  // the token prompt for a 401, and sets the status line.
  function handleError(error, element, what) {
    if (error.status === 401) {
      showAuth(storedToken() !== '');
      setStatus('token required', 'warn');
      if (element) element.hidden = true;
      return;
    }
    if (element) {
      element.replaceChildren(el('strong', {}, 'Cannot load ' + what + '. '), error.message);
      element.hidden = false;
    }
    setStatus(error.status === 0 ? 'hived unreachable' : 'error', 'error');
  }

  function whoami() {
    if (identity === null) {
      identity = getJson('/api/v1/whoami').then((answer) => {
        role = String(answer.role || '');
        return answer;
      }, (error) => {
        identity = null;
        throw error;
      });
    }
    return identity;
  }

  function can(access) {
    switch (access) {
      case 'read': return role !== null;
      case 'operate': return role === 'operator' || role === 'admin';
      case 'admin': return role === 'admin';
      default: return false;
    }
  }

  // --- the router -----------------------------------------------------------

  function params() {
    return new URLSearchParams(location.search);
  }

  function query(object) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(object)) {
      if (value === null || value === undefined || value === '') continue;
      search.set(key, String(value));
    }
    return '?' + search.toString();
  }

  function href(object) {
    return location.pathname + query(object);
  }

  function registerView(name, view) {
    views.set(name, view);
  }

  function renderTabs(tab) {
    for (const name of TABS) {
      const button = $('tab-' + name);
      const selected = name === tab;
      button.classList.toggle('current', selected);
      button.setAttribute('aria-selected', String(selected));
    }
  }

  // Shows the view the URL names (the graph when it names none we know).
  function route() {
    const search = params();
    let name = search.get('tab');
    if (!views.has(name)) {
      name = 'graph';
      search.set('tab', name);
      history.replaceState(null, '', location.pathname + '?' + search.toString());
    }
    if (current !== null && current !== name) {
      views.get(current).hide();
      $(current + '-view').hidden = true;
    }
    current = name;
    const view = views.get(name);
    renderTabs(view.tab);
    $(name + '-view').hidden = false;
    view.show(search);
  }

  // The token changed: the view starts over (its streams opened with the
  // old token, or were refused without one).
  function restartView() {
    if (current !== null) views.get(current).hide();
    route();
  }

  function navigate(object, options) {
    const url = href(object);
    if (options && options.replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    route();
  }

  function update(object) {
    const search = params();
    for (const [key, value] of Object.entries(object)) {
      if (value === null || value === undefined || value === '') search.delete(key);
      else search.set(key, String(value));
    }
    history.replaceState(null, '', location.pathname + '?' + search.toString());
  }

  function link(text, object, className) {
    const a = el('a', { href: href(object), className: className || undefined }, text);
    a.addEventListener('click', (event) => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      navigate(object);
    });
    return a;
  }

  function start() {
    $('auth-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('token-input').value.trim();
      if (!value) return;
      storeToken(value);
      identity = null;
      role = null;
      $('token-input').value = '';
      hideAuth();
      $('forget-token').hidden = false;
      restartView();
    });
    $('forget-token').addEventListener('click', () => {
      storeToken('');
      identity = null;
      role = null;
      $('forget-token').hidden = true;
      restartView();
    });
    $('forget-token').hidden = storedToken() === '';
    for (const name of TABS) {
      $('tab-' + name).addEventListener('click', () => {
        if (current === name) return;
        const keep = params();
        navigate({ tab: name, window: name === 'graph' ? keep.get('window') : undefined });
      });
    }
    window.addEventListener('popstate', route);
    // Views register from their own scripts, which run after this one.
    document.addEventListener('DOMContentLoaded', route);
  }

  window.hive = {
    ApiError, getJson, send, stream, el, fmt, setStatus, showAuth, hideAuth, handleError,
    whoami, can, registerView, params, navigate, update, href, link,
    hasToken() { return storedToken() !== ''; },
  };

  start();
})();
