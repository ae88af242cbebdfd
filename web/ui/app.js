// app.js - shared helpers of flint's web UI: DOM building, calls to the
// JSON API (/api/v1/...), durations, times, numbers and label sets.
// chart.js draws the graph; pages.js holds the pages and starts the UI.
// Plain browser JavaScript, no libraries and no network beyond flint.
'use strict';

const F = {};

// el('div', {class: 'x', onclick: fn}, child, 'text', [more children])
F.el = function (tag, attrs, ...kids) {
  const svg = F.SVG_TAGS.has(tag);
  const n = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k === 'text') n.textContent = v;
    else if (k === 'value' && !svg) n.value = v;
    else n.setAttribute(k, v === true ? '' : v);
  }
  const add = (c) => {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else n.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  };
  kids.forEach(add);
  return n;
};
F.SVG_TAGS = new Set(['svg', 'g', 'path', 'line', 'rect', 'text', 'circle', 'title', 'clipPath', 'defs']);

// GET /api/v1/<path>?params -> {ok, status, data, warnings, errorType, error}.
// Never throws: network failures and non-JSON answers become errors.
F.api = async function (path, params) {
  const qs = params ? '?' + new URLSearchParams(params).toString() : '';
  let res;
  try {
    res = await fetch('/api/v1/' + path + qs, {headers: {Accept: 'application/json'}});
  } catch (e) {
    return {ok: false, status: 0, errorType: 'network', error: 'cannot reach flint: ' + e.message};
  }
  let body = null;
  const text = await res.text();
  try { body = JSON.parse(text); } catch (e) { body = null; }
  if (!body || typeof body !== 'object') {
    return {ok: false, status: res.status, errorType: 'http', error: 'HTTP ' + res.status + ': ' + text.trim().slice(0, 200)};
  }
  if (body.status !== 'success') {
    return {ok: false, status: res.status, errorType: body.errorType || 'error', error: body.error || 'HTTP ' + res.status};
  }
  return {ok: true, status: res.status, data: body.data, warnings: body.warnings || [], infos: body.infos || []};
};

// ---- durations: Prometheus syntax ("1h30m", "15s", "2w") <-> seconds ----
const UNITS = {y: 31536000, w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001};
F.parseDuration = function (s) {
  s = String(s || '').trim();
  if (s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s); // plain seconds
  const re = /(\d+)(ms|y|w|d|h|m|s)/gy;
  let total = 0, m, end = 0;
  while ((m = re.exec(s)) !== null) { total += parseInt(m[1], 10) * UNITS[m[2]]; end = re.lastIndex; }
  return end === s.length && end > 0 ? total : null;
};
F.formatDuration = function (sec) {
  if (sec <= 0) return '0s';
  if (sec < 1) return Math.round(sec * 1000) + 'ms';
  let out = '', rest = Math.round(sec);
  for (const u of ['w', 'd', 'h', 'm', 's']) {
    const n = Math.floor(rest / UNITS[u]);
    if (n > 0) { out += n + u; rest -= n * UNITS[u]; }
  }
  return out || '0s';
};

// ---- times: the UI shows UTC unless "local time" is on ----
F.useLocal = () => localStorage.getItem('flint.localTime') === '1';
const pad = (n, w = 2) => String(n).padStart(w, '0');
function parts(ms) {
  const d = new Date(ms);
  return F.useLocal()
    ? [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()]
    : [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()];
}
// "2026-11-22 06:15:00" (the end-time box's format)
F.formatTime = function (ms, withMs) {
  const p = parts(ms);
  return p[0] + '-' + pad(p[1]) + '-' + pad(p[2]) + ' ' + pad(p[3]) + ':' + pad(p[4]) + ':' + pad(p[5]) +
    (withMs && p[6] ? '.' + pad(p[6], 3) : '');
};
F.zoneName = () => (F.useLocal() ? 'local' : 'UTC');
// "2026-11-22 06:15:00", "2026-11-22T06:15Z", "2026-11-22", or seconds since the epoch
F.parseTime = function (s) {
  s = String(s || '').trim();
  if (s === '') return null;
  if (/^\d{9,}(\.\d+)?$/.test(s)) return Math.round(parseFloat(s) * 1000);
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,3}))?)?)?(Z|[+-]\d\d:\d\d)?$/.exec(s);
  if (!m) return null;
  const f = [1, 2, 3, 4, 5, 6].map((i) => parseInt(m[i] || '0', 10));
  const msec = m[7] ? parseInt(m[7].padEnd(3, '0'), 10) : 0;
  if (m[8]) return Date.parse(s.replace(' ', 'T'));
  return F.useLocal() ? new Date(f[0], f[1] - 1, f[2], f[3], f[4], f[5], msec).getTime()
    : Date.UTC(f[0], f[1] - 1, f[2], f[3], f[4], f[5], msec);
};
// "3.2s ago", "5m ago"
F.ago = function (ms) {
  const s = (Date.now() - ms) / 1000;
  if (s < 0.05) return 'just now';
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + 's ago';
  return F.formatDuration(Math.round(s)) + ' ago';
};

// ---- numbers ----
// Axis and tooltip text: 1.5k, 2.25M, 3m (milli), 0 ...
F.formatValue = function (v) {
  if (typeof v !== 'number') v = parseFloat(v);
  if (isNaN(v)) return 'NaN';
  if (!isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const a = Math.abs(v);
  if (a === 0) return '0';
  const si = [[1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  if (a >= 1e18) return v.toExponential(2);
  for (const [f, u] of si) if (a >= f) return +(v / f).toPrecision(4) + u;
  if (a >= 1e-3) return String(+v.toPrecision(4));
  const small = [[1e-6, 'µ'], [1e-9, 'n']];
  for (const [f, u] of small) if (a >= f) return +(v / f).toPrecision(4) + u;
  return v.toExponential(2);
};
F.formatSeconds = function (s) { // scrape durations
  if (s >= 1) return s.toFixed(3) + 's';
  return (s * 1000).toFixed(s * 1000 < 10 ? 3 : 1) + 'ms';
};

// ---- label sets ----
// {__name__:"up", job:"x"} -> 'up{job="x"}' (Prometheus' order: name, then sorted labels)
F.seriesName = function (metric) {
  const names = Object.keys(metric || {}).filter((k) => k !== '__name__').sort();
  const inner = names.map((k) => k + '="' + String(metric[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"').join(', ');
  const name = metric && metric.__name__ ? metric.__name__ : '';
  return name + (inner || !name ? '{' + inner + '}' : '');
};
// The same as DOM nodes with the name and label names styled.
F.seriesNode = function (metric) {
  const names = Object.keys(metric || {}).filter((k) => k !== '__name__').sort();
  const kids = [];
  if (metric && metric.__name__) kids.push(F.el('span', {class: 'mname', text: metric.__name__}));
  if (names.length || kids.length === 0) {
    kids.push('{');
    names.forEach((k, i) => {
      if (i) kids.push(', ');
      kids.push(F.el('span', {class: 'lname', text: k}), '="', F.el('span', {class: 'lvalue', text: metric[k]}), '"');
    });
    kids.push('}');
  }
  return F.el('span', {class: 'series'}, kids);
};

// An error box. A PromQL parse error "L:C: parse error: ..." also shows the
// expression's line with a caret under column C.
F.errorBox = function (res, expr) {
  const box = F.el('div', {class: 'alert error', role: 'alert'},
    F.el('strong', {text: 'Error' + (res.errorType ? ' (' + res.errorType + ')' : '') + ': '}), res.error);
  const m = /(\d+):(\d+): parse error/.exec(res.error || '');
  if (m && expr !== undefined) {
    const line = expr.split('\n')[parseInt(m[1], 10) - 1];
    if (line !== undefined) {
      const col = Math.max(0, Math.min(parseInt(m[2], 10) - 1, line.length));
      box.appendChild(F.el('pre', {class: 'caret'}, line + '\n' + ' '.repeat(col) + '^'));
    }
  }
  return box;
};
F.warningBox = function (list, kind) {
  if (!list || !list.length) return null;
  return F.el('div', {class: 'alert ' + (kind || 'warning')}, list.map((w) => F.el('div', {text: w})));
};

// Series colours: distinct, readable on white.
F.COLORS = ['#1f77b4', '#e6522c', '#2ca02c', '#9467bd', '#d62728', '#17becf', '#8c564b', '#e377c2',
  '#bcbd22', '#7f7f7f', '#3a5fcd', '#ff9f1c', '#2e8b57', '#c71585', '#4682b4', '#b8860b'];
