/*
 * tickpipe dashboard. Loads the current state from the JSON API, then follows the live stream
 * (/api/stream over WebSocket; protocol in docs/api.md) without reloading:
 *   - prices, anomalies and status for every instrument;
 *   - bar updates and final bars for the selected instrument and interval only.
 * The chart is TradingView's lightweight-charts (embedded at build time, global
 * LightweightCharts). No framework; every DOM update is in place, so nothing jumps.
 */
(function () {
  'use strict';

  const LC = window.LightweightCharts;
  const INTERVALS = { '1s': 1, '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '1d': 86400 };
  const MAX_ALERTS = 200;

  const state = {
    instruments: new Map(), // name -> latest summary row (the /api/instruments object)
    rows: new Map(), // name -> <tr>
    selected: null,
    interval: '1m',
    overlays: { sma: true, ema: true, bb: true },
    lastBarTime: 0,
    bars: 0,
    alerts: [],
    ws: null,
    retry: 0,
    eps: [], // events/s history for the sparkline
    loadSeq: 0,
  };
  window.tickpipe = state; // for tests and the curious

  const $ = (id) => document.getElementById(id);

  // ---- formatting ----

  function decimals(p) {
    const a = Math.abs(p);
    if (a >= 1000) return 2;
    if (a >= 10) return 3;
    if (a >= 1) return 4;
    return 6;
  }
  function fmtPrice(p) {
    if (p === null || p === undefined || !isFinite(p)) return '—';
    const d = decimals(p);
    return p.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  function fmtInt(n) {
    return n === null || n === undefined ? '—' : Math.round(n).toLocaleString('en-US');
  }
  function fmtCompact(n) {
    if (n === null || n === undefined || !isFinite(n)) return '—';
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(2) + 'G';
    if (a >= 1e6) return (n / 1e6).toFixed(2) + 'M';
    if (a >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return n.toLocaleString('en-US', { maximumFractionDigits: 1 });
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '—';
    if (ms >= 1000) return (ms / 1000).toFixed(2) + ' s';
    return ms.toFixed(ms < 10 ? 2 : 0) + ' ms';
  }
  function fmtTime(iso) {
    return iso ? iso.slice(11, 19) : '';
  }
  function toSec(iso) {
    return Math.floor(Date.parse(iso) / 1000);
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function statusClass(s) {
    if (s === 'connected' || s === 'subscribed') return 'ok';
    if (s === 'stale' || s === 'eof') return 'warn';
    if (s === 'disconnected') return 'bad';
    return '';
  }
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  async function getJSON(url) {
    const r = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
    return r.json();
  }

  // ---- instruments ----

  function renderInstrument(s) {
    const prev = state.instruments.get(s.instrument);
    state.instruments.set(s.instrument, s);
    let tr = state.rows.get(s.instrument);
    if (!tr) {
      tr = el('tr');
      tr.dataset.instrument = s.instrument;
      const name = el('td', 'name');
      name.append(el('span', 'st'), el('span', 'nm', s.instrument));
      tr.append(name, el('td', 'num last'), el('td', 'num bid'), el('td', 'num ask'), el('td', 'num chg'));
      tr.addEventListener('click', () => select(s.instrument, state.interval));
      insertSorted($('instruments').tBodies[0], tr, s.instrument);
      state.rows.set(s.instrument, tr);
      $('instr-count').textContent = '(' + state.rows.size + ')';
    }
    const last = tr.querySelector('.last');
    last.textContent = fmtPrice(s.price);
    if (prev && prev.price !== null && s.price !== null && prev.price !== s.price) {
      // The last price keeps the colour of its last tick (up or down), without flashing.
      last.classList.toggle('tick-up', s.price > prev.price);
      last.classList.toggle('tick-down', s.price < prev.price);
    }
    tr.querySelector('.bid').textContent = fmtPrice(s.bid);
    tr.querySelector('.ask').textContent = fmtPrice(s.ask);
    const chg = tr.querySelector('.chg');
    const pct = s.change_24h_pct;
    chg.textContent = pct === null ? '—' : (pct >= 0 ? '+' : '') + pct.toFixed(2) + '%';
    chg.className = 'num chg ' + (pct > 0 ? 'up' : pct < 0 ? 'down' : '');
    const st = tr.querySelector('.st');
    st.className = 'st ' + statusClass(s.status);
    tr.querySelector('.name').title = s.instrument + (s.venue_symbol ? ' (' + s.venue_symbol + ')' : '') +
      (s.simulated ? ' · simulated' : '') +
      ' · source ' + (s.status || 'live') + (s.ts ? ' · last event ' + s.ts : '');
    if (s.simulated) $('sim-badge').hidden = false;
  }

  function insertSorted(tbody, tr, name) {
    for (const other of tbody.rows) {
      if (other.dataset.instrument > name) {
        tbody.insertBefore(tr, other);
        return;
      }
    }
    tbody.appendChild(tr);
  }

  // ---- records and average price bar charts (plain DOM bars) ----

  function renderHBars(container, values, fmt) {
    const max = Math.max(1e-300, ...values.map((v) => Math.abs(v.value || 0)));
    const existing = new Map([...container.children].map((c) => [c.dataset.name, c]));
    values.forEach((v, i) => {
      let row = existing.get(v.name);
      if (!row) {
        row = el('div', 'hbar');
        row.dataset.name = v.name;
        const track = el('div', 'track');
        track.appendChild(el('div', 'fill'));
        row.append(el('span', 'n', v.name), track, el('span', 'val'));
      }
      if (container.children[i] !== row) container.insertBefore(row, container.children[i] || null);
      row.querySelector('.fill').style.width = (100 * Math.abs(v.value || 0) / max).toFixed(2) + '%';
      row.querySelector('.val').textContent = fmt(v.value);
    });
  }

  function renderSummaries() {
    const list = [...state.instruments.values()].sort((a, b) => a.instrument < b.instrument ? -1 : 1);
    renderHBars($('records-chart'), list.map((s) => ({ name: s.instrument, value: s.records })), fmtCompact);
    renderHBars($('avg-chart'), list.map((s) => ({ name: s.instrument, value: s.avg_price })), fmtPrice);
  }

  // ---- the chart ----

  let chart, candles, volume, sma, ema, bbU, bbM, bbL, markers;

  function chartColors() {
    return {
      layout: { background: { type: 'solid', color: cssVar('--panel') }, textColor: cssVar('--muted'),
        fontFamily: cssVar('--sans') },
      grid: { vertLines: { color: cssVar('--line') }, horzLines: { color: cssVar('--line') } },
      rightPriceScale: { borderColor: cssVar('--line') },
      timeScale: { borderColor: cssVar('--line') },
    };
  }

  function makeChart() {
    const opts = chartColors();
    opts.autoSize = true;
    // The library's own logo injects an inline <style>, which the strict Content-Security-Policy
    // refuses; the attribution lives in the page footer instead (as its licence asks).
    opts.layout.attributionLogo = false;
    opts.timeScale.timeVisible = true;
    opts.timeScale.secondsVisible = false;
    opts.crosshair = { mode: LC.CrosshairMode.Normal };
    opts.localization = { timeFormatter: (t) => new Date(t * 1000).toISOString().slice(0, 19).replace('T', ' ') };
    chart = LC.createChart($('chart'), opts);
    candles = chart.addSeries(LC.CandlestickSeries, {
      upColor: cssVar('--up'), downColor: cssVar('--down'), borderVisible: false,
      wickUpColor: cssVar('--up'), wickDownColor: cssVar('--down'),
    });
    candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    volume = chart.addSeries(LC.HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: 'vol',
      lastValueVisible: false, priceLineVisible: false });
    chart.priceScale('vol').applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    const line = (color, style) => chart.addSeries(LC.LineSeries, { color, lineWidth: 1, lineStyle: style || 0,
      lastValueVisible: false, priceLineVisible: false, crosshairMarkerVisible: false });
    sma = line(cssVar('--sma'));
    ema = line(cssVar('--ema'));
    bbU = line(cssVar('--bb'), 2);
    bbM = line(cssVar('--bb'), 1);
    bbL = line(cssVar('--bb'), 2);
    markers = LC.createSeriesMarkers(candles, []);
    chart.subscribeCrosshairMove(legend);
  }

  function applyOverlayVisibility() {
    sma.applyOptions({ visible: state.overlays.sma });
    ema.applyOptions({ visible: state.overlays.ema });
    for (const s of [bbU, bbM, bbL]) s.applyOptions({ visible: state.overlays.bb });
  }

  function volColor(b) {
    return b.close >= b.open ? 'rgba(38,166,154,0.45)' : 'rgba(239,83,80,0.45)';
  }

  function point(t, v) {
    return v === null || v === undefined ? { time: t } : { time: t, value: v };
  }

  // Applies one bar (history, an update, or a final bar) to every series.
  function applyBar(b, bulk) {
    const t = toSec(b.ts);
    if (!bulk && t < state.lastBarTime) return; // an older window: the chart only moves forward
    const c = { time: t, open: b.open, high: b.high, low: b.low, close: b.close };
    const v = { time: t, value: b.volume, color: volColor(b) };
    if (bulk) return { c, v };
    candles.update(c);
    volume.update(v);
    if (b.final) {
      sma.update(point(t, b.sma_20));
      ema.update(point(t, b.ema_20));
      bbU.update(point(t, b.bb_upper));
      bbM.update(point(t, b.bb_middle));
      bbL.update(point(t, b.bb_lower));
    }
    if (t > state.lastBarTime) {
      state.bars++;
      $('chart').dataset.bars = String(state.bars);
    }
    state.lastBarTime = t;
    $('chart-empty').hidden = true;
    legend();
  }

  let lastBar = null;
  function legend(param) {
    let b = lastBar;
    if (param && param.time !== undefined && param.seriesData) {
      const d = param.seriesData.get(candles);
      if (d && d.open !== undefined) b = { open: d.open, high: d.high, low: d.low, close: d.close };
    }
    if (!b) {
      $('legend').textContent = '';
      return;
    }
    const parts = [['O', b.open], ['H', b.high], ['L', b.low], ['C', b.close]];
    $('legend').replaceChildren(...parts.flatMap(([k, v]) => [document.createTextNode(' ' + k + ' '), el('b', '', fmtPrice(v))]));
  }

  async function loadBars() {
    const seq = ++state.loadSeq;
    const inst = state.selected, iv = state.interval;
    const url = '/api/bars?instrument=' + encodeURIComponent(inst) + '&interval=' + iv + '&limit=500';
    let bars = [];
    try {
      bars = await getJSON(url);
    } catch (e) {
      console.warn(e.message);
    }
    if (seq !== state.loadSeq) return; // a newer selection won
    const cs = [], vs = [], s1 = [], s2 = [], u = [], m = [], l = [];
    let lastT = 0;
    for (const b of bars) {
      const { c, v } = applyBar(b, true);
      if (c.time <= lastT) continue;
      lastT = c.time;
      cs.push(c);
      vs.push(v);
      if (b.final) {
        s1.push(point(c.time, b.sma_20));
        s2.push(point(c.time, b.ema_20));
        u.push(point(c.time, b.bb_upper));
        m.push(point(c.time, b.bb_middle));
        l.push(point(c.time, b.bb_lower));
      }
    }
    const p = bars.length ? bars[bars.length - 1].close : 1;
    const d = decimals(p);
    candles.applyOptions({ priceFormat: { type: 'price', precision: d, minMove: Math.pow(10, -d) } });
    candles.setData(cs);
    volume.setData(vs);
    sma.setData(s1);
    ema.setData(s2);
    bbU.setData(u);
    bbM.setData(m);
    bbL.setData(l);
    state.lastBarTime = lastT;
    state.bars = cs.length;
    lastBar = bars.length ? bars[bars.length - 1] : null;
    const chartEl = $('chart');
    chartEl.dataset.instrument = inst;
    chartEl.dataset.interval = iv;
    chartEl.dataset.bars = String(cs.length);
    $('chart-empty').hidden = cs.length > 0;
    chart.applyOptions({ timeScale: { secondsVisible: INTERVALS[iv] < 60 } });
    chart.timeScale().fitContent();
    if (cs.length > 120) chart.timeScale().setVisibleLogicalRange({ from: cs.length - 120, to: cs.length + 3 });
    renderMarkers();
    legend();
  }

  function renderMarkers() {
    const iv = INTERVALS[state.interval];
    const first = candles.data().length ? candles.data()[0].time : 0;
    const list = state.alerts
      .filter((a) => a.instrument === state.selected)
      .map((a) => {
        const t = Math.floor(toSec(a.ts) / iv) * iv;
        return { time: t, position: a.score < 0 ? 'belowBar' : 'aboveBar', color: cssVar('--warn'),
          shape: a.score < 0 ? 'arrowUp' : 'arrowDown', text: a.kind === 'return_zscore' ? 'z' : a.kind.replace('_', ' ') };
      })
      .filter((mk) => mk.time >= first && mk.time <= state.lastBarTime)
      .sort((x, y) => x.time - y.time);
    markers.setMarkers(list);
  }

  // ---- alerts ----

  function alertItem(a, fresh) {
    const li = el('li', fresh ? 'new' : '');
    li.dataset.instrument = a.instrument;
    li.append(el('span', 't', fmtTime(a.ts)), el('span', 'i', a.instrument), el('span', 'kind', a.kind.replace('_', ' ')));
    const detail = 'observed ' + fmtPrice(a.observed) + ' · expected ' + fmtPrice(a.expected) +
      ' · score ' + (a.score === null ? '—' : a.score.toFixed(2)) + (a.interval ? ' · ' + a.interval : '');
    li.append(el('span', 'd', detail));
    li.addEventListener('click', () => select(a.instrument, state.interval));
    return li;
  }

  function addAlert(a, fresh) {
    state.alerts.push(a);
    if (state.alerts.length > MAX_ALERTS) state.alerts.shift();
    const ol = $('alerts');
    ol.insertBefore(alertItem(a, fresh), ol.firstChild);
    while (ol.children.length > MAX_ALERTS) ol.removeChild(ol.lastChild);
    $('alerts-empty').hidden = true;
    $('alert-count').textContent = '(' + state.alerts.length + ')';
  }

  // ---- health ----

  function renderHealth(h) {
    $('h-eps').textContent = fmtCompact(h.events_per_s);
    $('h-lag').textContent = fmtMs(h.lag_ms);
    $('h-wlag').textContent = fmtMs(h.watermark_lag_ms);
    $('h-late').textContent = fmtInt(h.late);
    $('h-dup').textContent = fmtInt(h.duplicates);
    $('h-bad').textContent = fmtInt(h.bad);
    $('h-bars').textContent = fmtCompact(h.bars_emitted);
    $('h-an').textContent = fmtInt(h.anomalies);
    const tb = $('sources').tBodies[0];
    const rows = [];
    // [name, status text, status class, records, dropped or errors, lag, tooltip]
    // Connectors (WebSocket venues, REST pollers): their own state and a one-line summary.
    for (const s of h.sources) {
      const c = s.connector;
      if (c) rows.push([s.name, c.state, connClass(c.state), s.events, s.dropped, null, connShort(c), connSummary(c)]);
      else rows.push([s.name, s.status || '—', statusClass(s.status), s.events, s.dropped, null, '']);
    }
    for (const s of h.sinks) {
      // up: null when the pipeline does not report it (then only the error count tells).
      const st = s.up === true ? 'up' : s.up === false ? 'down' : s.errors ? 'errors' : 'ok';
      const cls = s.up === false || (s.up == null && s.errors) ? 'bad' : 'ok';
      rows.push([s.name + ' (sink)', st, cls, s.records, s.errors, s.lag, s.error || '']);
    }
    // Kafka roles of this process (docs/kafka.md): records = delivered or consumed, errors =
    // failed deliveries + client errors, lag = consumer lag (else the producer's queue).
    for (const k of h.kafka || []) {
      const bad = k.failed > 0;
      const lag = k.consumer_lag != null ? k.consumer_lag : k.producer_queue;
      const parts = [];
      if (k.producer_queue != null) parts.push('producer queue ' + fmtInt(k.producer_queue) + (k.producer_queue_capacity ? '/' + fmtCompact(k.producer_queue_capacity) : ''));
      if (k.delivery_latency_ms != null) parts.push('delivery ' + fmtMs(k.delivery_latency_ms));
      if (k.consumer_lag != null) parts.push(k.partitions + ' partitions, ' + k.rebalances + ' rebalances');
      if (k.errors) parts.push(fmtInt(k.errors) + ' client errors');
      rows.push(['kafka ' + k.role, bad ? 'failed' : 'ok', bad ? 'bad' : 'ok',
        k.delivered + k.consumed, k.failed + k.errors, lag, parts.join(' · ')]);
    }
    while (tb.rows.length > rows.length) tb.deleteRow(-1);
    rows.forEach((r, i) => {
      const tr = tb.rows[i] || tb.insertRow();
      if (tr.cells.length === 0) for (let k = 0; k < 5; k++) tr.insertCell().className = k >= 2 ? 'num' : '';
      tr.cells[0].textContent = r[0];
      tr.cells[1].replaceChildren(el('span', 'st ' + r[2], r[1]));
      if (r[6]) tr.cells[1].append(el('div', 'err muted', r[6])); // the sink's last error
      tr.cells[1].title = r[7] || r[6]; // connectors: the whole summary
      tr.cells[2].textContent = fmtCompact(r[3]);
      tr.cells[3].textContent = fmtInt(r[4]);
      tr.cells[4].textContent = r[5] === null || r[5] === undefined ? '' : fmtCompact(r[5]);
    });
    state.eps.push(h.events_per_s || 0);
    if (state.eps.length > 120) state.eps.shift();
    spark();
  }

  // A connector's state (docs/api.md, sources[].connector) as a status class.
  function connClass(st) {
    if (st === 'subscribed' || st === 'ok') return 'ok';
    if (st === 'backoff' || st === 'failing' || st === 'rate_limited') return 'bad';
    if (st === 'stopped') return '';
    return 'warn'; // connecting, connected, stale, waiting, degraded
  }
  function fmtAge(s) {
    return s === null || s === undefined ? 'never' : fmtMs(s * 1000) + ' ago';
  }
  // One short line under the state; the whole summary goes in the tooltip.
  function connShort(c) {
    if (c.kind === 'websocket') {
      const p = [c.connects + '/' + c.connect_attempts + ' connects'];
      if (c.state === 'backoff') p.push('backoff ' + fmtMs(c.backoff_s * 1000));
      else p.push('last msg ' + fmtAge(c.last_message_age_s));
      if (c.held_instruments) p.push(c.held_instruments + ' held');
      return p.join(' · ');
    }
    const p = [c.successes + '/' + c.polls + ' polls ok'];
    if (c.failing_instruments) p.push(c.failing_instruments + ' failing');
    return p.join(' · ');
  }
  function connSummary(c) {
    const p = [];
    if (c.kind === 'websocket') {
      const d = c.disconnects, nd = d.peer + d.stale + d.planned + d.error;
      p.push(fmtInt(c.connects) + ' connects / ' + fmtInt(c.connect_attempts) + ' attempts');
      if (nd) p.push(nd + ' disconnects (peer ' + d.peer + ', stale ' + d.stale + ', planned ' + d.planned + ', error ' + d.error + ')');
      if (c.state === 'backoff') p.push('backoff ' + fmtMs(c.backoff_s * 1000));
      p.push('subs ' + c.subscribe_acks + '/' + c.subscribe_requests + ' acked');
      p.push('last msg ' + fmtAge(c.last_message_age_s));
      if (c.clock_skew_ms !== null) p.push('skew ' + fmtMs(Math.abs(c.clock_skew_ms)) + (c.clock_skew_ms < 0 ? ' ahead' : ''));
      if (c.held_instruments) p.push(c.held_instruments + '/' + c.instruments + ' held');
      if (c.gaps.id || c.gaps.outage) p.push('gaps ' + (c.gaps.id + c.gaps.outage) + (c.backfilled_gaps ? ', ' + c.backfilled_gaps + ' backfilled' : ''));
      if (c.malformed) p.push(fmtInt(c.malformed) + ' malformed');
    } else {
      p.push(fmtInt(c.successes) + '/' + fmtInt(c.polls) + ' polls ok');
      const e = c.http_errors, rl = c.rate_limited;
      if (e['4xx'] || e['5xx'] || e.other) p.push('HTTP errors ' + (e['4xx'] + e['5xx'] + e.other));
      if (c.timeouts) p.push(c.timeouts + ' timeouts');
      if (rl.http_429 || rl.note) p.push('rate limited ' + (rl.http_429 + rl.note) + '×');
      if (c.backoff_s > 0) p.push('next poll in ' + fmtMs(c.backoff_s * 1000));
      p.push('last ok ' + fmtAge(c.last_success_age_s));
      const bad = c.instruments.filter((i) => i.failing).map((i) => i.instrument);
      if (bad.length) p.push('failing: ' + bad.join(', '));
    }
    return p.join(' · ');
  }

  function spark() {
    const c = $('eps-spark');
    const w = c.clientWidth || 300, hgt = c.clientHeight || 40, dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(hgt * dpr); }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const v = state.eps, max = Math.max(1, ...v);
    g.strokeStyle = cssVar('--accent');
    g.lineWidth = 1.5;
    g.beginPath();
    v.forEach((x, i) => {
      const px = (i / 119) * (w - 2) + 1, py = hgt - 2 - (x / max) * (hgt - 6);
      if (i) g.lineTo(px, py); else g.moveTo(px, py);
    });
    g.stroke();
  }

  // ---- the live stream ----

  function setConn(st, text) {
    $('conn').dataset.state = st;
    $('conn-text').textContent = text;
  }

  function send(msg) {
    if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(msg));
  }

  function subscribeChart(prev) {
    if (prev) send({ op: 'unsubscribe', instruments: [prev], kinds: ['bars', 'final_bars'] });
    if (state.selected)
      send({ op: 'subscribe', instruments: [state.selected], kinds: ['bars', 'final_bars'], intervals: [state.interval] });
  }

  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(proto + '//' + location.host + '/api/stream');
    state.ws = ws;
    setConn('connecting', 'connecting…');
    ws.onopen = () => {
      state.retry = 0;
      setConn('live', 'live');
      send({ op: 'subscribe', instruments: ['*'], kinds: ['prices', 'anomalies', 'status'] });
      subscribeChart(null);
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      switch (m.type) {
        case 'price': renderInstrument(m.data); break;
        case 'bar':
        case 'final_bar':
          if (m.data.instrument === state.selected && m.data.interval === state.interval) {
            lastBar = m.data;
            applyBar(m.data, false);
          }
          break;
        case 'anomaly':
          addAlert(m.data, true);
          if (m.data.instrument === state.selected) renderMarkers();
          break;
        case 'health': renderHealth(m.data); break;
        case 'lagged': setConn('down', 'fell behind — reconnecting'); break;
        case 'error': console.warn('stream: ' + m.error); break;
        default: break;
      }
    };
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.ws = null;
      setConn('down', 'disconnected — retrying');
      const delay = Math.min(10000, 500 * Math.pow(2, state.retry++));
      setTimeout(() => { connect(); reloadAll(); }, delay);
    };
  }

  // ---- selection ----

  function select(inst, iv) {
    const prev = state.selected;
    const changedInst = inst !== state.selected;
    if (!changedInst && iv === state.interval) return;
    state.selected = inst;
    state.interval = iv;
    for (const [name, tr] of state.rows) tr.classList.toggle('sel', name === inst);
    for (const b of $('intervals').children) b.classList.toggle('on', b.dataset.interval === iv);
    $('chart-title').textContent = inst + ' · ' + iv;
    history.replaceState(null, '', '#' + encodeURIComponent(inst) + '/' + iv);
    subscribeChart(prev);
    loadBars();
  }

  async function reloadAll() {
    try {
      const [list, anomalies, health] = await Promise.all([
        getJSON('/api/instruments'), getJSON('/api/anomalies?limit=100'), getJSON('/api/health')]);
      for (const s of list) renderInstrument(s);
      state.alerts = [];
      $('alerts').replaceChildren();
      for (const a of anomalies) addAlert(a, false);
      renderHealth(health);
      renderSummaries();
      if (!state.selected && list.length) {
        const want = decodeURIComponent((location.hash.slice(1).split('/')[0]) || '');
        const ivWant = location.hash.split('/')[1];
        const first = list.find((s) => s.instrument === want) || list.find((s) => s.simulated) || list[0];
        select(first.instrument, INTERVALS[ivWant] ? ivWant : state.interval);
      } else if (state.selected) {
        loadBars();
      }
    } catch (e) {
      console.warn('load: ' + e.message);
    }
  }

  function setTheme(t) {
    document.documentElement.dataset.theme = t;
    $('theme').textContent = t === 'dark' ? 'Light theme' : 'Dark theme';
    try { localStorage.setItem('tickpipe.theme', t); } catch (e) { /* private mode */ }
    if (chart) {
      chart.applyOptions(chartColors());
      candles.applyOptions({ upColor: cssVar('--up'), downColor: cssVar('--down'), wickUpColor: cssVar('--up'), wickDownColor: cssVar('--down') });
      sma.applyOptions({ color: cssVar('--sma') });
      ema.applyOptions({ color: cssVar('--ema') });
      for (const s of [bbU, bbM, bbL]) s.applyOptions({ color: cssVar('--bb') });
      renderMarkers();
      spark();
    }
  }

  function init() {
    let theme = 'dark';
    try { theme = localStorage.getItem('tickpipe.theme') || 'dark'; } catch (e) { /* private mode */ }
    document.documentElement.dataset.theme = theme;
    makeChart();
    setTheme(theme);
    for (const b of $('intervals').children)
      b.addEventListener('click', () => select(state.selected, b.dataset.interval));
    for (const b of $('overlays').children)
      b.addEventListener('click', () => {
        const k = b.dataset.overlay;
        state.overlays[k] = !state.overlays[k];
        b.classList.toggle('on', state.overlays[k]);
        applyOverlayVisibility();
      });
    $('theme').addEventListener('click', () => setTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark'));
    setInterval(renderSummaries, 1000);
    connect();
    reloadAll();
  }

  init();
})();
