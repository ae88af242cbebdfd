// pages.js - the pages of flint's web UI, picked by the path:
//   /graph (and /query)  expression panels with table and graph tabs
//   /targets             /api/v1/targets grouped by scrape pool
//   /status              build, runtime, flags and TSDB figures
// A panel's state lives in the query string (g0.expr, g0.tab, ...; see
// docs/ui.md) so a link reproduces the view.
'use strict';

(function () {
  const el = F.el;
  const RANGES = ['5m', '15m', '30m', '1h', '2h', '6h', '12h', '1d', '2d', '1w', '2w'];

  // ---- completion: metric names, functions, keywords ----
  const FUNCS = ('abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min count_over_time ' +
    'day_of_month day_of_week day_of_year days_in_month delta deriv exp floor histogram_quantile holt_winters hour ' +
    'idelta increase irate label_join label_replace last_over_time ln log10 log2 mad_over_time max_over_time ' +
    'min_over_time minute month predict_linear present_over_time quantile_over_time rate resets round scalar sgn ' +
    'sort sort_desc sort_by_label sort_by_label_desc sqrt stddev_over_time stdvar_over_time sum_over_time time ' +
    'timestamp vector year sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh deg rad pi double_exponential_smoothing').split(' ');
  const AGGRS = 'sum avg min max count group stddev stdvar topk bottomk quantile count_values limitk limit_ratio'.split(' ');
  const KEYWORDS = 'by without on ignoring group_left group_right offset bool and or unless'.split(' ');
  let metricNames = [];
  let namesLoaded = null;
  function loadNames() {
    if (!namesLoaded) {
      namesLoaded = F.api('label/__name__/values').then((r) => { if (r.ok) metricNames = r.data; });
    }
    return namesLoaded;
  }
  function complete(word) {
    if (!word) return [];
    const w = word.toLowerCase();
    const out = [], seen = new Set();
    const add = (list, kind, test) => {
      for (const n of list) {
        if (out.length >= 12) return;
        if (!seen.has(n) && test(n.toLowerCase()) && n !== word) { seen.add(n); out.push({text: n, kind}); }
      }
    };
    for (const test of [(n) => n.startsWith(w), (n) => n.includes(w)]) {
      add(metricNames, 'metric', test);
      add(FUNCS, 'function', test);
      add(AGGRS, 'aggregation', test);
      add(KEYWORDS, 'keyword', test);
    }
    return out;
  }

  // ---- the graph page: panels ----
  function readPanels() {
    const q = new URLSearchParams(location.search);
    const panels = [];
    for (let i = 0; q.has('g' + i + '.expr') || (i === 0); i++) {
      const g = (k) => q.get('g' + i + '.' + k);
      panels.push({
        expr: g('expr') || '',
        tab: g('tab') === '1' ? 1 : 0,
        range: g('range_input') || '1h',
        end: g('end_input') || g('moment_input') || '',
        step: g('step_input') || '',
        stacked: g('stacked') === '1' || g('display_mode') === 'stacked',
      });
      if (i > 50) break;
    }
    return panels;
  }

  function writePanels(panels) {
    const q = new URLSearchParams();
    panels.forEach((p, i) => {
      const k = 'g' + i + '.';
      q.set(k + 'expr', p.expr);
      q.set(k + 'tab', String(p.tab));
      if (p.tab === 0) {
        q.set(k + 'range_input', p.range);
        if (p.step) q.set(k + 'step_input', p.step);
        if (p.stacked) q.set(k + 'stacked', '1');
      }
      if (p.end) q.set(k + 'end_input', p.end);
    });
    history.replaceState(null, '', location.pathname + '?' + q.toString());
  }

  function graphPage(app) {
    const panels = readPanels();
    const list = el('div', {class: 'panels'});
    const views = [];
    const sync = () => writePanels(views.map((v) => v.state));
    const addPanel = (state) => {
      const v = panelView(state, sync, () => {
        views.splice(views.indexOf(v), 1);
        v.node.remove();
        views.forEach((o) => o.setRemovable(views.length > 1));
        sync();
      });
      views.push(v);
      list.append(v.node);
      views.forEach((o) => o.setRemovable(views.length > 1));
      return v;
    };
    const local = el('input', {type: 'checkbox', id: 'localtime', checked: F.useLocal(),
      onchange: () => { localStorage.setItem('flint.localTime', local.checked ? '1' : '0'); views.forEach((v) => v.run()); }});
    app.append(el('div', {class: 'page-options'}, el('label', {}, local, ' Use local time (default UTC)')), list,
      el('button', {class: 'btn', onclick: () => { addPanel({expr: '', tab: 0, range: '1h', end: '', step: '', stacked: false}).focus(); sync(); }}, 'Add panel'));
    panels.forEach((p) => addPanel(p));
    loadNames();
    views.forEach((v) => { if (v.state.expr) v.run(); });
    if (!views[0].state.expr) views[0].focus();
    let t;
    window.addEventListener('resize', () => { clearTimeout(t); t = setTimeout(() => views.forEach((v) => v.redraw()), 150); });
  }

  let panelSeq = 0;
  function panelView(state, sync, remove) {
    const id = panelSeq++;
    const expr = el('textarea', {class: 'expr', rows: 1, spellcheck: 'false', placeholder: 'Expression (press Shift+Enter for newlines)', 'aria-label': 'expression'});
    expr.value = state.expr;
    const menu = el('ul', {class: 'complete', hidden: true, role: 'listbox'});
    const exec = el('button', {class: 'btn primary', onclick: () => run()}, 'Execute');
    const removeBtn = el('button', {class: 'btn close', title: 'Remove panel', onclick: remove}, '×');
    const tabs = [el('button', {class: 'tab', onclick: () => setTab(0)}, 'Graph'), el('button', {class: 'tab', onclick: () => setTab(1)}, 'Table')];
    const stats = el('span', {class: 'stats'});
    const msgs = el('div', {class: 'msgs'});
    const out = el('div', {class: 'output'});

    // Graph controls.
    const rangeIn = el('input', {class: 'range', value: state.range, size: 5, 'aria-label': 'range', onchange: () => { state.range = rangeIn.value.trim(); run(); }});
    const stepRange = (dir) => {
      const cur = F.parseDuration(rangeIn.value) || 3600;
      const secs = RANGES.map(F.parseDuration);
      let i = dir > 0 ? secs.findIndex((s) => s > cur) : secs.length - 1 - secs.slice().reverse().findIndex((s) => s < cur);
      if (i < 0 || i >= secs.length) i = dir > 0 ? secs.length - 1 : 0;
      rangeIn.value = state.range = RANGES[i];
      run();
    };
    const endIn = el('input', {class: 'end', value: state.end, placeholder: 'now', size: 19, 'aria-label': 'end time',
      title: 'YYYY-MM-DD HH:MM:SS; empty = now', onchange: () => { state.end = endIn.value.trim(); run(); }});
    const shiftEnd = (dir) => {
      const range = F.parseDuration(state.range) || 3600;
      const end = (F.parseTime(endIn.value) || Date.now()) + dir * range * 500;
      endIn.value = state.end = F.formatTime(end);
      run();
    };
    const stepIn = el('input', {class: 'step', value: state.step, placeholder: 'Res. (s)', size: 7, 'aria-label': 'resolution',
      onchange: () => { state.step = stepIn.value.trim(); run(); }});
    const stackIn = el('input', {type: 'checkbox', checked: state.stacked, onchange: () => { state.stacked = stackIn.checked; run(); }});
    const rangeCtl = el('span', {class: 'ctl-group'},
      el('button', {class: 'btn', title: 'shorter range', onclick: () => stepRange(-1)}, '−'), rangeIn,
      el('button', {class: 'btn', title: 'longer range', onclick: () => stepRange(1)}, '+'));
    const endCtl = el('span', {class: 'ctl-group'},
      el('button', {class: 'btn', title: 'back by half the range', onclick: () => shiftEnd(-1)}, '«'), endIn,
      el('button', {class: 'btn', title: 'forward by half the range', onclick: () => shiftEnd(1)}, '»'),
      el('button', {class: 'btn', title: 'until now', onclick: () => { endIn.value = state.end = ''; run(); }}, 'now'));
    const stepGroup = el('span', {class: 'ctl-group'}, stepIn);
    const graphCtl = el('div', {class: 'controls'}, rangeCtl, endCtl, stepGroup, el('label', {class: 'ctl-group'}, stackIn, ' stacked'));
    const tableCtl = el('div', {class: 'controls'}, el('span', {class: 'ctl-label', text: 'Evaluation time:'}));
    const node = el('section', {class: 'panel'},
      el('div', {class: 'expr-row'}, el('div', {class: 'expr-wrap'}, expr, menu), exec, removeBtn),
      el('div', {class: 'tab-row'}, tabs, stats), msgs, el('div', {class: 'ctl-host'}), out);

    // ---- completion dropdown ----
    let items = [], sel = -1;
    const wordAt = () => {
      const before = expr.value.slice(0, expr.selectionStart);
      const m = /[a-zA-Z_:][a-zA-Z0-9_:]*$/.exec(before);
      // No completion inside a {...} matcher list or a string.
      if (!m || /\{[^}]*$/.test(before) || (before.split('"').length % 2 === 0)) return null;
      return {word: m[0], start: before.length - m[0].length};
    };
    const closeMenu = () => { menu.hidden = true; items = []; sel = -1; };
    const showMenu = () => {
      const w = wordAt();
      items = w ? complete(w.word) : [];
      sel = -1;
      menu.textContent = '';
      if (!items.length) { menu.hidden = true; return; }
      items.forEach((it, i) => menu.append(el('li', {role: 'option', onmousedown: (ev) => { ev.preventDefault(); pick(i); }},
        el('span', {text: it.text}), el('span', {class: 'kind', text: it.kind}))));
      menu.hidden = false;
    };
    const highlight = () => [...menu.children].forEach((li, i) => li.classList.toggle('sel', i === sel));
    const pick = (i) => {
      const w = wordAt();
      if (!w) return closeMenu();
      const text = items[i].text, after = expr.value.slice(expr.selectionStart);
      expr.value = expr.value.slice(0, w.start) + text + after;
      const pos = w.start + text.length;
      expr.setSelectionRange(pos, pos);
      closeMenu();
      autosize();
    };
    const autosize = () => { expr.style.height = 'auto'; expr.style.height = expr.scrollHeight + 2 + 'px'; };
    expr.addEventListener('input', () => { autosize(); loadNames().then(showMenu); });
    expr.addEventListener('blur', () => setTimeout(closeMenu, 100));
    expr.addEventListener('keydown', (ev) => {
      if (!menu.hidden && items.length) {
        if (ev.key === 'ArrowDown') { sel = (sel + 1) % items.length; highlight(); ev.preventDefault(); return; }
        if (ev.key === 'ArrowUp') { sel = (sel + items.length - 1) % items.length; highlight(); ev.preventDefault(); return; }
        if (ev.key === 'Escape') { closeMenu(); ev.preventDefault(); return; }
        if ((ev.key === 'Enter' || ev.key === 'Tab') && sel >= 0) { pick(sel); ev.preventDefault(); return; }
        if (ev.key === 'Tab') { pick(0); ev.preventDefault(); return; }
      }
      if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); closeMenu(); run(); }
    });

    function setTab(t) {
      state.tab = t;
      tabs.forEach((b, i) => b.classList.toggle('active', i === t));
      const host = node.querySelector('.ctl-host');
      host.textContent = '';
      if (t === 0) graphCtl.insertBefore(endCtl, stepGroup);
      else tableCtl.append(endCtl);
      host.append(t === 0 ? graphCtl : tableCtl);
      run();
    }

    let chart = null, seq = 0;
    async function run() {
      state.expr = expr.value;
      sync();
      const mine = ++seq;
      out.textContent = ''; msgs.textContent = ''; stats.textContent = ''; chart = null;
      if (!state.expr.trim()) { out.append(el('div', {class: 'empty', text: 'Enter an expression and press Execute.'})); return; }
      let endMs = Date.now();
      if (state.end) {
        endMs = F.parseTime(state.end);
        if (endMs === null) { msgs.append(F.errorBox({error: 'cannot parse end time "' + state.end + '": use YYYY-MM-DD HH:MM:SS (' + F.zoneName() + ')'})); return; }
      }
      const t0 = performance.now();
      stats.textContent = 'Loading…';
      if (state.tab === 1) {
        const res = await F.api('query', {query: state.expr, time: (endMs / 1000).toFixed(3)});
        if (mine !== seq) return;
        stats.textContent = 'Load time: ' + Math.round(performance.now() - t0) + 'ms';
        if (!res.ok) { msgs.append(F.errorBox(res, state.expr)); return; }
        msgs.append(F.warningBox(res.warnings) || '', F.warningBox(res.infos, 'info') || '');
        out.append(table(res.data));
        stats.textContent += ' · Result series: ' + (Array.isArray(res.data.result) && res.data.resultType !== 'scalar' && res.data.resultType !== 'string' ? res.data.result.length : 1);
        return;
      }
      const range = F.parseDuration(state.range);
      if (!range) { msgs.append(F.errorBox({error: 'cannot parse range "' + state.range + '": use a duration like 5m, 1h, 2d'})); return; }
      let step = state.step ? F.parseDuration(state.step) : Math.max(Math.floor(range / 250), 1);
      if (!step) { msgs.append(F.errorBox({error: 'cannot parse resolution "' + state.step + '": use seconds or a duration like 15s'})); return; }
      const startMs = endMs - range * 1000;
      const res = await F.api('query_range', {query: state.expr, start: (startMs / 1000).toFixed(3), end: (endMs / 1000).toFixed(3), step: String(step)});
      if (mine !== seq) return;
      stats.textContent = 'Load time: ' + Math.round(performance.now() - t0) + 'ms · Resolution: ' + F.formatDuration(step) + (state.step ? '' : ' (auto)');
      if (!res.ok) { msgs.append(F.errorBox(res, state.expr)); return; }
      msgs.append(F.warningBox(res.warnings) || '', F.warningBox(res.infos, 'info') || '');
      const result = res.data.result || [];
      stats.textContent += ' · Result series: ' + result.length;
      if (!result.length) { out.append(el('div', {class: 'empty', text: 'Empty query result'})); return; }
      chart = F.chart(result, {start: startMs, end: endMs, step, stacked: state.stacked, id});
      out.append(chart);
      chart.redraw();
    }

    function table(data) {
      const t = el('table', {class: 'result'});
      const tb = el('tbody');
      const MAX = 10000;
      const row = (a, b) => tb.append(el('tr', {}, el('td', {class: 'labels'}, a), el('td', {class: 'value'}, b)));
      const rt = data.resultType, r = data.result;
      if (rt === 'scalar' || rt === 'string') row(el('span', {class: 'mname', text: rt}), String(r[1]));
      else if (rt === 'vector') r.slice(0, MAX).forEach((s) => row(F.seriesNode(s.metric), s.value ? s.value[1] : s.histogram ? '(native histogram)' : ''));
      else if (rt === 'matrix') r.slice(0, MAX).forEach((s) => row(F.seriesNode(s.metric),
        (s.values || []).map((v) => el('div', {}, v[1] + ' ', el('span', {class: 'at', text: '@' + v[0]})))));
      if (!tb.children.length) return el('div', {class: 'empty', text: 'Empty query result'});
      t.append(tb);
      const wrap = el('div', {}, t);
      if (Array.isArray(r) && r.length > MAX) wrap.append(el('div', {class: 'alert warning', text: 'Showing the first ' + MAX + ' of ' + r.length + ' series.'}));
      return wrap;
    }

    setTab(state.tab);
    autosize();
    return {
      node, state, run,
      focus: () => expr.focus(),
      redraw: () => { if (chart) chart.redraw(); },
      setRemovable: (b) => { removeBtn.hidden = !b; },
    };
  }

  // ---- targets ----
  async function targetsPage(app) {
    const filter = el('input', {type: 'search', placeholder: 'Filter by endpoint or labels', class: 'filter', oninput: () => render()});
    const unhealthy = el('input', {type: 'checkbox', onchange: () => render()});
    const body = el('div', {class: 'targets'});
    app.append(el('h1', {text: 'Targets'}), el('div', {class: 'controls'}, filter,
      el('label', {class: 'ctl-group'}, unhealthy, ' Unhealthy only'),
      el('button', {class: 'btn', onclick: () => load()}, 'Refresh')), body);
    let data = null, collapsed = new Set();
    async function load() {
      const res = await F.api('targets');
      body.textContent = '';
      if (!res.ok) { body.append(F.errorBox(res)); return; }
      data = res.data.activeTargets || [];
      render();
    }
    function render() {
      if (!data) return;
      body.textContent = '';
      const pools = new Map();
      for (const t of data) {
        if (!pools.has(t.scrapePool)) pools.set(t.scrapePool, []);
        pools.get(t.scrapePool).push(t);
      }
      if (!pools.size) body.append(el('div', {class: 'empty', text: 'No targets (the server scrapes nothing).'}));
      const f = filter.value.trim().toLowerCase();
      for (const [pool, ts] of [...pools.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
        const up = ts.filter((t) => t.health === 'up').length;
        const shown = ts.filter((t) => (!unhealthy.checked || t.health !== 'up') &&
          (!f || (t.scrapeUrl + ' ' + F.seriesName(t.labels)).toLowerCase().includes(f)));
        if (!shown.length && (f || unhealthy.checked)) continue;
        const head = el('h2', {class: 'pool ' + (up === ts.length ? 'ok' : 'bad'), onclick: () => {
          if (collapsed.has(pool)) collapsed.delete(pool); else collapsed.add(pool);
          render();
        }}, el('span', {class: 'twisty', text: collapsed.has(pool) ? '▸' : '▾'}), pool, el('span', {class: 'count', text: ' (' + up + '/' + ts.length + ' up)'}));
        body.append(head);
        if (collapsed.has(pool)) continue;
        const tb = el('tbody');
        for (const t of shown) {
          const last = Date.parse(t.lastScrape);
          tb.append(el('tr', {class: 'target'},
            el('td', {}, el('a', {href: t.scrapeUrl, text: t.scrapeUrl})),
            el('td', {}, el('span', {class: 'badge ' + t.health, text: t.health.toUpperCase()})),
            el('td', {class: 'labels'}, Object.keys(t.labels).sort().map((k) => el('span', {class: 'label', title: k + '="' + t.labels[k] + '"', text: k + '="' + t.labels[k] + '"'}))),
            el('td', {title: t.lastScrape, text: last > 0 ? F.ago(last) : 'never'}),
            el('td', {text: last > 0 ? F.formatSeconds(t.lastScrapeDuration) : '-'}),
            el('td', {class: 'lasterr', text: t.lastError || ''})));
        }
        body.append(el('table', {class: 'result targets-table'},
          el('thead', {}, el('tr', {}, ['Endpoint', 'State', 'Labels', 'Last scrape', 'Scrape duration', 'Error'].map((h) => el('th', {text: h})))), tb));
      }
    }
    await load();
  }

  // ---- status ----
  function kvTable(obj, fmt) {
    const tb = el('tbody');
    for (const k of Object.keys(obj)) {
      const v = obj[k];
      const text = fmt && fmt[k] ? fmt[k](v) : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
      tb.append(el('tr', {}, el('th', {text: k}), el('td', {text})));
    }
    return el('table', {class: 'result kv'}, tb);
  }
  async function statusPage(app) {
    app.append(el('h1', {text: 'Status'}));
    const sections = [
      ['Build information', 'status/buildinfo', (d) => kvTable(d)],
      ['Runtime information', 'status/runtimeinfo', (d) => kvTable(d)],
      ['Command-line flags', 'status/flags', (d) => {
        const sorted = {};
        Object.keys(d).sort().forEach((k) => { sorted[k] = d[k]; });
        return kvTable(sorted);
      }],
      ['Configuration', 'status/config', (d) => el('pre', {class: 'config', text: d.yaml || ''})],
      ['TSDB status', 'status/tsdb', (d) => {
        const out = [];
        const tm = (v) => (v > 0 && v < 1e15 ? F.formatTime(v) + ' ' + F.zoneName() + ' (' + v + ')' : String(v));
        if (d.headStats) out.push(el('h3', {text: 'Head'}), kvTable(d.headStats, {minTime: tm, maxTime: tm}));
        for (const [k, v] of Object.entries(d)) {
          if (k === 'headStats' || !Array.isArray(v)) continue;
          const title = k.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());
          const tb = el('tbody', {}, v.map((e) => el('tr', {}, el('td', {text: e.name}), el('td', {class: 'value', text: String(e.value)}))));
          const unit = k.startsWith('memory') ? 'Bytes' : 'Count';
          out.push(el('h3', {text: title}), v.length ? el('table', {class: 'result'}, el('thead', {}, el('tr', {}, el('th', {text: 'Name'}), el('th', {text: unit}))), tb)
            : el('div', {class: 'empty', text: 'none'}));
        }
        return out;
      }],
    ];
    const blocks = sections.map(([title]) => {
      const b = el('div', {class: 'status-body'}, el('div', {class: 'empty', text: 'loading…'}));
      app.append(el('section', {class: 'status'}, el('h2', {text: title}), b));
      return b;
    });
    await Promise.all(sections.map(async ([, path, render], i) => {
      const res = await F.api(path);
      blocks[i].textContent = '';
      if (res.ok && res.data && typeof res.data === 'object') blocks[i].append(...[].concat(render(res.data)));
      else blocks[i].append(el('div', {class: 'na', text: 'not available' + (res.status ? ' (HTTP ' + res.status + ')' : '')}));
    }));
  }

  F.start = function () {
    const app = document.getElementById('app');
    app.textContent = '';
    const page = {'/targets': 'targets', '/status': 'status'}[location.pathname] || 'graph';
    document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === page));
    document.title = 'flint · ' + page[0].toUpperCase() + page.slice(1);
    ({graph: graphPage, targets: targetsPage, status: statusPage})[page](app);
  };
  F.start();
})();
