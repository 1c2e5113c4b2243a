// The dashboard page's code (scaling-lab serve): loads /api/state, then applies the /events stream (runs, rows, fits)
// without a reload; draws the runs table, the learning curves (Plotly) and the fits the server computed. No build step.
'use strict';

(function () {
  const token = new URLSearchParams(location.search).get('token');
  const withToken = (p) => (token ? p + (p.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : p);
  const num = (v) => (typeof v === 'string' ? Number(v) : v);
  const $ = (id) => document.getElementById(id);

  /** id -> run summary; id -> { s, t, l, e } columns (step, tokens, train loss, test loss or null) */
  const runs = new Map();
  const curves = new Map();
  const shown = { fitsGeneration: 0 };
  const state = { ready: false, buffer: [], store: '', dirtyTable: false, dirtyCurves: false, sweeps: new Set() };
  // for tests and people poking in the console: what the page holds
  window.__dash = {
    ready: false,
    runs: () => runs.size,
    rows: (id) => (curves.get(id) ? curves.get(id).s.length : 0),
    fitsGeneration: () => shown.fitsGeneration,
    events: 0,
    connects: 0,
    /** milliseconds of the last state load, table render and curve render (the bench reads them) */
    timings: {},
  };
  const timed = (what, fn) => {
    const t = performance.now();
    const out = fn();
    const done = () => (window.__dash.timings[what] = Math.round(performance.now() - t));
    if (out && typeof out.then === 'function') return out.finally(done);
    done();
    return out;
  };

  // ---- formatting

  const sig = (v, d = 3) => {
    v = num(v);
    if (v === undefined || v === null) return '';
    if (!Number.isFinite(v)) return String(v);
    if (v === 0) return '0';
    const a = Math.abs(v);
    return a >= 1e5 || a < 1e-3 ? v.toExponential(d - 1) : Number(v.toPrecision(d)).toString();
  };
  const dur = (s) => {
    if (s === undefined) return '';
    if (s < 60) return Math.round(s) + ' s';
    if (s < 3600) return Math.round(s / 60) + ' min';
    return (s / 3600).toFixed(1) + ' h';
  };
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

  // ---- data

  function setCurve(id, rows) {
    const c = { s: [], t: [], l: [], e: [] };
    for (const r of rows) push(c, r);
    curves.set(id, c);
  }
  function push(c, r) {
    c.s.push(r.step);
    c.t.push(num(r.tokens));
    c.l.push(num(r.trainLoss));
    c.e.push(r.testLoss === undefined || r.testLoss === null ? null : num(r.testLoss));
  }

  function load(st) {
    runs.clear();
    curves.clear();
    state.store = st.store;
    $('store').textContent = st.store + ' (' + st.kind + ' store, polled every ' + st.pollMs + ' ms)';
    for (const r of st.runs) runs.set(r.id, r);
    state.sweepList = st.sweeps || [];
    for (const id of Object.keys(st.curves)) {
      const c = st.curves[id];
      curves.set(id, { s: c.s, t: c.t.map(num), l: c.l.map(num), e: c.e.map((v) => (v === null ? null : num(v))) });
    }
    fitsStatus(st.fits);
    state.dirtyTable = state.dirtyCurves = true;
  }

  function apply(type, d) {
    window.__dash.events++;
    switch (type) {
      case 'run':
        runs.set(d.run.id, d.run);
        state.dirtyTable = true;
        if (!curves.has(d.run.id)) {
          curves.set(d.run.id, { s: [], t: [], l: [], e: [] });
          state.dirtyCurves = true;
        }
        break;
      case 'rows': {
        let c = curves.get(d.id);
        if (!c) curves.set(d.id, (c = { s: [], t: [], l: [], e: [] }));
        const last = c.s.length ? c.s[c.s.length - 1] : 0;
        for (const r of d.rows) if (r.step > last || c.s.length === 0) push(c, r);
        state.dirtyCurves = true;
        break;
      }
      case 'reset':
        setCurve(d.id, d.rows);
        state.dirtyCurves = true;
        break;
      case 'problem':
        console.warn('run ' + d.id + ': ' + d.message);
        break;
      case 'fits':
        fitsStatus(d);
        break;
      case 'sweeps':
        state.sweepList = d.sweeps;
        state.dirtyTable = true;
        break;
      default:
        break;
    }
  }

  // ---- runs table

  /** a sweep per row: its runs by status, counted here from the runs (a sweep's planned runs not yet in the store: not started) */
  function renderSweeps() {
    const by = {};
    for (const r of runs.values()) {
      if (!r.sweep) continue;
      const c = (by[r.sweep] = by[r.sweep] || { total: 0 });
      c[r.status] = (c[r.status] || 0) + 1;
      c.total++;
    }
    const cols = ['done', 'running', 'pending', 'diverged', 'failed'];
    document.querySelector('#sweeps-table tbody').innerHTML = (state.sweepList || [])
      .map((w) => {
        const c = by[w.name] || { total: 0 };
        return (
          '<tr data-sweep="' +
          esc(w.name) +
          '"><td><a href="#runs">' +
          esc(w.name) +
          '</a></td><td>' +
          esc(w.purpose) +
          '</td><td>' +
          w.runs +
          '</td>' +
          cols.map((k) => '<td class="' + k + '">' + (c[k] || 0) + '</td>').join('') +
          '<td>' +
          Math.max(0, w.runs - c.total) +
          '</td></tr>'
        );
      })
      .join('');
  }

  function renderTable() {
    renderSweeps();
    const sweepSel = $('sweep-filter');
    for (const r of runs.values()) {
      if (r.sweep && !state.sweeps.has(r.sweep)) {
        state.sweeps.add(r.sweep);
        const o = document.createElement('option');
        o.textContent = r.sweep;
        sweepSel.appendChild(o);
      }
    }
    const sweep = sweepSel.value;
    const status = $('status-filter').value;
    const rows = [...runs.values()].filter((r) => (!sweep || r.sweep === sweep) && (!status || r.status === status));
    const counts = {};
    for (const r of runs.values()) counts[r.status] = (counts[r.status] || 0) + 1;
    $('counts').textContent =
      runs.size +
      ' runs (' +
      Object.keys(counts)
        .map((k) => counts[k] + ' ' + k)
        .join(', ') +
      ')';
    const html = rows
      .map((r) => {
        const frac = r.totalSteps ? Math.min(1, r.step / r.totalSteps) : 0;
        const note = [r.message, r.problem].filter(Boolean).join('; ');
        return (
          '<tr data-run="' +
          esc(r.id) +
          '" data-status="' +
          esc(r.status) +
          '"><td title="' +
          esc(r.id) +
          '">' +
          esc(r.name || r.id) +
          '</td><td>' +
          esc(r.sweep || '') +
          '</td><td>' +
          esc(r.size) +
          '</td><td>' +
          r.batchSize +
          '</td><td>' +
          sig(r.lr) +
          '</td><td class="status">' +
          esc(r.status) +
          '</td><td class="progress">' +
          r.step +
          (r.totalSteps ? ' / ' + r.totalSteps : '') +
          '<span class="bar"><i style="width:' +
          (frac * 100).toFixed(1) +
          '%"></i></span></td><td>' +
          sig(r.tokensPerSec) +
          '</td><td>' +
          dur(r.etaSec) +
          '</td><td class="train-loss">' +
          sig(r.trainLoss, 4) +
          '</td><td class="test-loss">' +
          sig(r.testLoss, 4) +
          '</td><td class="note-cell">' +
          esc(note) +
          '</td></tr>'
        );
      })
      .join('');
    document.querySelector('#runs-table tbody').innerHTML = html;
  }

  // ---- learning curves

  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const layout = (title) => ({
    title: { text: title, font: { size: 14 } },
    xaxis: { type: 'log', title: { text: 'tokens' } },
    yaxis: { type: 'log', title: { text: 'loss (nats/token)' } },
    margin: { l: 60, r: 10, t: 40, b: 50 },
    legend: { font: { size: 10 } },
    uirevision: 'keep',
  });

  /** run id -> points drawn in the last render, per panel (for tests) */
  const drawn = new Map();
  window.__dash.drawn = (id) => drawn.get(id) || { test: 0, train: 0 };

  /**
   * One trace per model size and batch size, its runs joined by gaps (null), so that 1,000 runs are ~20 traces and
   * not 1,000 (Plotly draws a few big traces far faster than many small ones); hover names the run.
   */
  function traces(kind) {
    const sizes = [...new Set([...runs.values()].map((r) => r.paramsKaplan))].sort((a, b) => a - b);
    const groups = new Map();
    let points = 0;
    // the table's filters choose the runs drawn too
    const sweep = $('sweep-filter').value;
    const status = $('status-filter').value;
    const list = [...runs.values()]
      .filter((r) => (!sweep || r.sweep === sweep) && (!status || r.status === status))
      .sort((a, b) => a.paramsKaplan - b.paramsKaplan || a.batchSize - b.batchSize || (a.id < b.id ? -1 : 1));
    for (const r of list) {
      const c = curves.get(r.id);
      if (!c || c.s.length === 0) continue;
      const key = r.size + ' b' + r.batchSize;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { name: key, n: r.paramsKaplan, x: [], y: [], text: [], runs: 0 }));
      if (g.x.length) {
        g.x.push(null);
        g.y.push(null);
        g.text.push('');
      }
      let k = 0;
      for (let i = 0; i < c.s.length; i++) {
        const v = kind === 'test' ? c.e[i] : c.l[i];
        if (v === null || !Number.isFinite(v) || v <= 0 || !(c.t[i] > 0)) continue;
        g.x.push(c.t[i]);
        g.y.push(v);
        g.text.push(r.name + (r.status === 'diverged' ? ' (diverged)' : ''));
        k++;
      }
      g.runs++;
      points += k;
      const d = drawn.get(r.id) || { test: 0, train: 0 };
      d[kind] = k;
      drawn.set(r.id, d);
    }
    const gl = points > 20000;
    return [...groups.values()].map((g) => ({
      type: gl ? 'scattergl' : 'scatter',
      mode: kind === 'test' && !gl ? 'lines+markers' : 'lines',
      name: g.name + ' (' + g.runs + ')',
      x: g.x,
      y: g.y,
      text: g.text,
      connectgaps: false,
      hovertemplate: '%{text}<br>%{x:.3s} tokens, loss %{y:.4f}<extra></extra>',
      line: { width: 1.2, color: PALETTE[sizes.indexOf(g.n) % PALETTE.length] },
      marker: { size: 4 },
      opacity: 0.8,
    }));
  }

  function renderCurves() {
    return Promise.all([
      Plotly.react($('curve-test'), traces('test'), layout('Test loss vs tokens'), { displaylogo: false, responsive: true }),
      Plotly.react($('curve-train'), traces('train'), layout('Train loss vs tokens'), { displaylogo: false, responsive: true }),
    ]);
  }

  // ---- fits

  function fitsStatus(f) {
    const parts = [];
    if (f.state === 'ready') parts.push('computed ' + (f.at ? new Date(f.at).toLocaleTimeString() : '') + ' in ' + dur((f.ms || 0) / 1000));
    if (f.state === 'error') parts.push('not computed: ' + f.error);
    if (f.state === 'waiting') parts.push('waiting');
    if (f.computing) parts.push('recomputing…');
    $('fits-state').textContent = parts.join(', ');
    if (f.generation > shown.fitsGeneration) void loadFits();
  }

  let fitsLoading = false;
  let fitsAgain = false;
  /** chart id -> what it shows now (its SVG or its figure as JSON): an unchanged chart is not drawn again */
  const drawnKey = new Map();

  function chartBox(c, k) {
    const body = $('charts-body');
    let box = body.querySelector('div.chart[data-chart="' + c.id + '"]');
    if (!box) {
      box = document.createElement('div');
      box.className = 'chart';
      box.dataset.chart = c.id;
      box.innerHTML = '<h3></h3><div class="figure"></div><p class="caption"></p>';
    }
    if (body.children[k] !== box) body.insertBefore(box, body.children[k] || null);
    return box;
  }

  async function drawChart(c, k) {
    const box = chartBox(c, k);
    const key = c.status === 'skipped' ? 'skipped:' + c.reason : c.plotly ? JSON.stringify(c.plotly) : c.svg || '';
    if (drawnKey.get(c.id) === key) return;
    drawnKey.set(c.id, key);
    box.dataset.status = c.status;
    box.querySelector('h3').textContent = c.title;
    box.querySelector('.caption').textContent = c.caption || '';
    const fig = box.querySelector('.figure');
    if (c.status === 'skipped') {
      fig.className = 'figure skipped';
      fig.textContent = 'Not drawn yet: ' + c.reason;
    } else if (c.plotly) {
      if (!fig.classList.contains('plotly-figure')) {
        fig.className = 'figure plotly-figure';
        fig.textContent = '';
      }
      await Plotly.react(fig, c.plotly.data, c.plotly.layout, { responsive: true, displaylogo: false });
    } else {
      fig.className = 'figure svg';
      fig.innerHTML = c.svg || '';
    }
  }

  async function loadFits() {
    if (fitsLoading) {
      fitsAgain = true;
      return;
    }
    fitsLoading = true;
    try {
      const f = await (await fetch(withToken('api/fits'))).json();
      if (f.generation <= shown.fitsGeneration) return;
      for (let k = 0; k < f.charts.length; k++) await drawChart(f.charts[k], k);
      if (f.tablesHtml) $('fits-body').innerHTML = f.tablesHtml;
      $('warnings').innerHTML = (f.warnings || []).map((w) => '<li>' + esc(w) + '</li>').join('');
      $('fits-note').textContent =
        f.state === 'error'
          ? 'Fits not computed: ' + f.error + (f.hint ? ' (' + f.hint + ')' : '')
          : "Recomputed with the report's code as runs land; last from " + f.runs + ' runs at ' + new Date(f.at).toLocaleTimeString() + '.';
      shown.fitsGeneration = f.generation;
    } catch (e) {
      console.warn('fits: ' + e);
    } finally {
      fitsLoading = false;
      if (fitsAgain) {
        fitsAgain = false;
        void loadFits();
      }
    }
  }

  // ---- the stream

  function connect() {
    const es = new EventSource(withToken('events'));
    es.addEventListener('hello', () => {
      window.__dash.connects++;
      $('live').textContent = 'live';
      $('live').dataset.state = 'live';
      state.ready = false;
      state.buffer = [];
      fetch(withToken('api/state'))
        .then((r) => r.json())
        .then((st) => {
          timed('load', () => load(st));
          for (const [t, d] of state.buffer.splice(0)) apply(t, d);
          state.ready = true;
          window.__dash.ready = true;
        })
        .catch((e) => console.warn('state: ' + e));
    });
    for (const type of ['run', 'rows', 'reset', 'problem', 'fits', 'sweeps']) {
      es.addEventListener(type, (m) => {
        const d = JSON.parse(m.data);
        if (state.ready) apply(type, d);
        else state.buffer.push([type, d]);
      });
    }
    es.onerror = () => {
      $('live').textContent = 'reconnecting';
      $('live').dataset.state = 'reconnecting';
    };
  }

  $('sweep-filter').addEventListener('change', () => (state.dirtyTable = state.dirtyCurves = true));
  // a click on a sweep shows its runs only
  $('sweeps-table').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-sweep]');
    if (!tr) return;
    const sel = $('sweep-filter');
    if (![...sel.options].some((o) => o.value === tr.dataset.sweep)) {
      const o = document.createElement('option');
      o.textContent = tr.dataset.sweep;
      sel.appendChild(o);
      state.sweeps.add(tr.dataset.sweep);
    }
    sel.value = tr.dataset.sweep;
    state.dirtyTable = state.dirtyCurves = true;
  });
  $('status-filter').addEventListener('change', () => (state.dirtyTable = state.dirtyCurves = true));

  let drawing = false;
  setInterval(() => {
    if (state.dirtyTable) {
      state.dirtyTable = false;
      timed('table', renderTable);
    }
    if (state.dirtyCurves && !drawing) {
      state.dirtyCurves = false;
      drawing = true;
      timed('curves', renderCurves)
        .catch((e) => console.warn('curves: ' + e))
        .finally(() => (drawing = false));
    }
  }, 250);
  connect();
})();
