// chart.js - the graph view: draws a range query's matrix as an SVG line
// (or stacked area) chart by hand: time and value axes with round ticks,
// one path per series (broken where samples are missing), a legend that
// isolates (click) or toggles (Ctrl/Cmd-click) series, and a tooltip with
// the time and value of the sample nearest the pointer.
'use strict';

(function () {
  const el = F.el;
  const HEIGHT = 380;
  const M = {top: 12, right: 18, bottom: 28};

  // A "nice" tick step near range/count: 1, 2, 2.5 or 5 times a power of ten.
  function niceStep(range, count) {
    const raw = range / Math.max(1, count);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const f of [1, 2, 2.5, 5, 10]) if (f * p >= raw) return f * p;
    return 10 * p;
  }

  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 172800, 604800, 1209600, 2592000].map((s) => s * 1000);

  function timeTicks(start, end, width) {
    const want = Math.max(2, Math.floor(width / 110));
    const step = TIME_STEPS.find((s) => (end - start) / s <= want) || TIME_STEPS[TIME_STEPS.length - 1];
    // Align to the step in the shown time zone (whole hours/days there).
    const off = F.useLocal() ? -new Date(start).getTimezoneOffset() * 60000 : 0;
    const ticks = [];
    for (let t = Math.ceil((start + off) / step) * step - off; t <= end; t += step) ticks.push(t);
    return {ticks, step};
  }

  function timeLabel(t, step, spanMs) {
    const s = F.formatTime(t); // "YYYY-MM-DD HH:MM:SS"
    if (step >= 86400000) return s.slice(5, 10);
    if (spanMs > 86400000) return s.slice(5, 16);
    return step < 60000 ? s.slice(11, 19) : s.slice(11, 16);
  }

  // Series from the API's matrix: numbers, plus their stacked bases.
  function prepare(result, stacked, hidden) {
    const series = result.map((r, i) => ({
      metric: r.metric, name: F.seriesName(r.metric), color: F.COLORS[i % F.COLORS.length], index: i,
      points: (r.values || []).map(([t, v]) => [Math.round(t * 1000), parseFloat(v), v]),
    }));
    if (stacked) {
      const base = new Map(); // time -> running total of the visible series
      for (const s of series) {
        if (hidden.has(s.index)) continue;
        for (const p of s.points) {
          const b = base.get(p[0]) || 0;
          const v = isFinite(p[1]) ? p[1] : 0;
          p[3] = b; p[4] = b + v;
          base.set(p[0], b + v);
        }
      }
    } else {
      for (const s of series) for (const p of s.points) { p[3] = 0; p[4] = p[1]; }
    }
    return series;
  }

  F.chart = function (result, opts) {
    const hidden = new Set();
    const wrap = el('div', {class: 'chart'});
    const plot = el('div', {class: 'plot'});
    const tip = el('div', {class: 'tooltip', hidden: true});
    const legend = el('div', {class: 'legend'});
    wrap.append(plot, tip, legend);
    const gapMs = Math.max(opts.step * 1000 * 1.5, 1);

    function draw() {
      plot.textContent = '';
      const width = Math.max(320, plot.clientWidth || wrap.clientWidth || 900);
      const series = prepare(result, opts.stacked, hidden);
      const shown = series.filter((s) => !hidden.has(s.index));
      let lo = Infinity, hi = -Infinity;
      for (const s of shown) for (const p of s.points) {
        if (!isFinite(p[4])) continue;
        lo = Math.min(lo, p[4], opts.stacked ? p[3] : p[4]);
        hi = Math.max(hi, p[4]);
      }
      if (lo === Infinity) { lo = 0; hi = 1; }
      if (opts.stacked) lo = Math.min(lo, 0);
      if (lo === hi) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
      const ystep = niceStep(hi - lo, 6);
      lo = Math.floor(lo / ystep) * ystep;
      hi = Math.ceil(hi / ystep) * ystep;
      const yticks = [];
      for (let v = lo; v <= hi + ystep / 2; v += ystep) yticks.push(Math.abs(v) < ystep / 1e6 ? 0 : v);
      const ylabels = yticks.map(F.formatValue);
      const left = 14 + 7 * Math.max(...ylabels.map((l) => l.length));
      const W = width - left - M.right, H = HEIGHT - M.top - M.bottom;
      const x = (t) => left + ((t - opts.start) / (opts.end - opts.start)) * W;
      const y = (v) => M.top + (1 - (v - lo) / (hi - lo)) * H;

      const svg = el('svg', {class: 'graph', width, height: HEIGHT, viewBox: '0 0 ' + width + ' ' + HEIGHT, role: 'img'});
      const axes = el('g', {class: 'axes'});
      yticks.forEach((v, i) => {
        axes.append(el('line', {class: 'grid', x1: left, x2: left + W, y1: y(v), y2: y(v)}),
          el('text', {x: left - 6, y: y(v) + 4, 'text-anchor': 'end', text: ylabels[i]}));
      });
      const {ticks, step} = timeTicks(opts.start, opts.end, W);
      for (const t of ticks) {
        axes.append(el('line', {class: 'grid', x1: x(t), x2: x(t), y1: M.top, y2: M.top + H}),
          el('text', {x: x(t), y: M.top + H + 18, 'text-anchor': 'middle', text: timeLabel(t, step, opts.end - opts.start)}));
      }
      axes.append(el('rect', {class: 'frame', x: left, y: M.top, width: W, height: H}));
      svg.append(el('defs', {}, el('clipPath', {id: 'clip' + opts.id}, el('rect', {x: left, y: M.top - 1, width: W, height: H + 2}))), axes);

      const lines = el('g', {class: 'lines', 'clip-path': 'url(#clip' + opts.id + ')'});
      for (const s of shown) {
        // Runs of consecutive finite samples; a gap or NaN starts a new run.
        const runs = [];
        let run = null, prev = null;
        for (const p of s.points) {
          if (!isFinite(p[4]) || !isFinite(p[1])) { run = null; continue; }
          if (!run || p[0] - prev > gapMs) { run = []; runs.push(run); }
          run.push(p); prev = p[0];
        }
        let d = '', area = '';
        for (const r of runs) {
          d += r.map((p, i) => (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(p[4]).toFixed(1)).join('');
          if (r.length === 1) d += 'h0.01'; // a lone sample still shows (round caps)
          if (opts.stacked) {
            area += r.map((p, i) => (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ',' + y(p[4]).toFixed(1)).join('') +
              r.slice().reverse().map((p) => 'L' + x(p[0]).toFixed(1) + ',' + y(p[3]).toFixed(1)).join('') + 'Z';
          }
        }
        if (area) lines.append(el('path', {class: 'area', d: area, fill: s.color}));
        lines.append(el('path', {class: 'series-line', d, stroke: s.color, 'data-series': s.name, 'data-points': s.points.length}));
      }
      svg.append(lines);
      const cursor = el('g', {class: 'cursor', visibility: 'hidden'},
        el('line', {x1: 0, x2: 0, y1: M.top, y2: M.top + H}), el('circle', {r: 4.5, cx: 0, cy: 0}));
      const overlay = el('rect', {class: 'overlay', x: left, y: M.top, width: W, height: H});
      svg.append(cursor, overlay);
      plot.append(svg);

      overlay.addEventListener('mousemove', (ev) => {
        const box = svg.getBoundingClientRect();
        const mx = ev.clientX - box.left, my = ev.clientY - box.top;
        const t = opts.start + ((mx - left) / W) * (opts.end - opts.start);
        let best = null;
        for (const s of shown) {
          const p = nearest(s.points, t);
          if (!p || !isFinite(p[4]) || Math.abs(p[0] - t) > gapMs) continue;
          const dist = Math.abs(x(p[0]) - mx) * 0.3 + Math.abs(y(p[4]) - my);
          if (!best || dist < best.dist) best = {s, p, dist};
        }
        if (!best) { cursor.setAttribute('visibility', 'hidden'); tip.hidden = true; return; }
        const px = x(best.p[0]), py = y(best.p[4]);
        cursor.setAttribute('visibility', 'visible');
        cursor.firstChild.setAttribute('x1', px); cursor.firstChild.setAttribute('x2', px);
        cursor.lastChild.setAttribute('cx', px); cursor.lastChild.setAttribute('cy', py);
        cursor.lastChild.setAttribute('fill', best.s.color);
        tip.textContent = '';
        tip.append(el('div', {class: 'tip-time', text: F.formatTime(best.p[0], true) + ' ' + F.zoneName()}),
          el('div', {class: 'tip-series'}, el('span', {class: 'swatch', style: 'background:' + best.s.color}), F.seriesNode(best.s.metric)),
          el('div', {class: 'tip-value'}, 'value: ', el('strong', {text: best.p[2]})));
        tip.hidden = false;
        const tw = tip.offsetWidth;
        tip.style.left = (px + 14 + tw > width ? Math.max(0, px - 14 - tw) : px + 14) + 'px';
        tip.style.top = Math.max(0, py - 10) + 'px';
      });
      overlay.addEventListener('mouseleave', () => { cursor.setAttribute('visibility', 'hidden'); tip.hidden = true; });
      drawLegend(series);
    }

    function nearest(points, t) {
      let a = 0, b = points.length - 1;
      if (b < 0) return null;
      while (b - a > 1) { const m = (a + b) >> 1; if (points[m][0] < t) a = m; else b = m; }
      return Math.abs(points[a][0] - t) <= Math.abs(points[b][0] - t) ? points[a] : points[b];
    }

    function drawLegend(series) {
      legend.textContent = '';
      for (const s of series) {
        const item = el('div', {class: 'legend-item' + (hidden.has(s.index) ? ' off' : ''), title: 'click: show only this; Ctrl-click: show/hide',
          onclick: (ev) => {
            if (ev.ctrlKey || ev.metaKey) {
              if (hidden.has(s.index)) hidden.delete(s.index); else hidden.add(s.index);
            } else if (hidden.size === series.length - 1 && !hidden.has(s.index)) {
              hidden.clear();
            } else {
              hidden.clear();
              series.forEach((o) => { if (o.index !== s.index) hidden.add(o.index); });
            }
            draw();
          }},
        el('span', {class: 'swatch', style: 'background:' + s.color}), F.seriesNode(s.metric));
        legend.append(item);
      }
    }

    wrap.redraw = draw;
    return wrap;
  };
})();
