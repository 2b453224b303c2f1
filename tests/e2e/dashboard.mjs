/*
 * dashboard.mjs — the dashboard in a real browser (Debian's chromium, headless, driven by
 * playwright-core), checked as a user would see it:
 *
 *   node dashboard.mjs URL OUTDIR
 *
 * URL is a running `tickpipe run` (tests/integration/dashboard_e2e.sh: started over a lake
 * holding three hours of simulator history that its own journal and live store do not have,
 * the simulator live with a price shock every 2 s). HISTORY_BEFORE (environment, RFC 3339) is
 * when it started: every bar before it comes from the lake. Checks: the instrument list fills and a last price changes on screen; the
 * candlestick canvas draws bars and the SMA/EMA overlays in their colours; the chart's bars
 * include the lake's history; an injected shock arriving over the stream appears in the
 * alert feed; switching instrument and interval loads exactly the bars of the new choice,
 * history included; the console has no errors; no request leaves the loopback. Screenshots
 * go to OUTDIR. Exit 0 when all pass.
 */
import { chromium } from 'playwright-core';

const [url, outdir] = process.argv.slice(2);
const restartMs = Date.parse(process.env.HISTORY_BEFORE || '');
// Bars of a response whose window ended before the start (the lake's).
const IV_MS = { '1s': 1e3, '1m': 6e4, '5m': 3e5, '15m': 9e5, '1h': 3.6e6, '1d': 8.64e7 };
const old = (b) => isNaN(restartMs) || Date.parse(b.ts) + IV_MS[b.interval] <= restartMs;
const fromLake = (bars) => bars.filter(old).length;
if (!url || !outdir) {
  console.error('usage: node dashboard.mjs URL OUTDIR');
  process.exit(2);
}

let failures = 0;
let passed = 0;
function check(cond, what) {
  if (cond) {
    passed++;
    console.log('ok   ' + what);
  } else {
    failures++;
    console.log('FAIL ' + what);
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update'],
});
const errors = [];
const outside = [];
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  // Nothing may leave the loopback: anything else is refused and recorded.
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.protocol === 'data:') return route.continue();
    outside.push(u.href);
    return route.abort();
  });

  const firstBars = page.waitForResponse((r) => r.url().includes('/api/bars?'));
  await page.goto(url, { waitUntil: 'load' });

  // 1. The instrument list fills.
  await page.waitForFunction(() => document.querySelectorAll('#instruments tbody tr').length >= 4, null, { timeout: 15000 });
  const names = await page.$$eval('#instruments tbody tr', (rows) => rows.map((r) => r.dataset.instrument));
  check(names.includes('sim:BTC-USD') && names.includes('sim:EUR-USD') && names.length === 10, 'instrument list shows ' + names.join(', '));
  check(await page.isVisible('#sim-badge'), 'simulated data is labelled as simulated');

  // 2. A last price changes on screen (live over the stream).
  const cell = '#instruments tr[data-instrument="sim:BTC-USD"] .last';
  const before = await page.textContent(cell);
  let changed = false;
  try {
    await page.waitForFunction(([sel, old]) => document.querySelector(sel).textContent !== old, [cell, before], { timeout: 10000 });
    changed = true;
  } catch (e) { /* reported below */ }
  const after = await page.textContent(cell);
  check(changed && /\d/.test(after), `last price updates live (${before} → ${after})`);

  // 3. The candlestick chart draws bars and overlays.
  const barsResp = await (await firstBars).json();
  await page.waitForFunction(() => Number(document.querySelector('#chart').dataset.bars) > 10, null, { timeout: 10000 });
  await page.waitForTimeout(500);
  const countPx = () => page.evaluate(() => {
    // Counts pixels by colour over every canvas of the chart.
    const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
    const css = (n) => getComputedStyle(document.documentElement).getPropertyValue(n).trim();
    const want = { up: hex(css('--up')), down: hex(css('--down')), sma: hex(css('--sma')), ema: hex(css('--ema')) };
    const count = { nonblank: 0, up: 0, down: 0, sma: 0, ema: 0 };
    const bg = hex(css('--panel'));
    for (const c of document.querySelectorAll('#chart canvas')) {
      if (!c.width || !c.height) continue;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] < 200) continue;
        const p = [d[i], d[i + 1], d[i + 2]];
        const near = (q, tol) => Math.abs(p[0] - q[0]) + Math.abs(p[1] - q[1]) + Math.abs(p[2] - q[2]) <= tol;
        if (!near(bg, 30)) count.nonblank++;
        for (const k of ['up', 'down', 'sma', 'ema']) if (near(want[k], 24)) count[k]++;
      }
    }
    return count;
  });
  const px = await countPx();
  // What each overlay draws: the pixels that change when it is switched off (robust where
  // thin sloped lines are antialiased, or where the SMA runs under the EMA).
  const overlayPx = async (k) => {
    const grab = () => Array.from(document.querySelectorAll('#chart canvas'), (c) =>
      (c.width && c.height ? c.getContext('2d').getImageData(0, 0, c.width, c.height).data : null));
    await page.evaluate(`window.__px = (${grab})()`);
    await page.click(`#overlays button[data-overlay="${k}"]`);
    await page.waitForTimeout(300);
    const n = await page.evaluate(`(() => {
      let n = 0;
      const b = (${grab})();
      window.__px.forEach((x, c) => {
        if (!x || !b[c] || x.length !== b[c].length) return;
        for (let i = 0; i < x.length; i += 4)
          if (Math.abs(x[i] - b[c][i]) + Math.abs(x[i + 1] - b[c][i + 1]) + Math.abs(x[i + 2] - b[c][i + 2]) > 30) n++;
      });
      window.__px = null;
      return n;
    })()`);
    await page.click(`#overlays button[data-overlay="${k}"]`);
    await page.waitForTimeout(300);
    return n;
  };
  const smaPx = await overlayPx('sma'), emaPx = await overlayPx('ema');
  check(px.nonblank > 5000, 'chart canvas has drawn pixels: ' + px.nonblank);
  check(px.up > 200 && px.down > 200, `candles in both colours (up ${px.up}, down ${px.down})`);
  const hasSma = barsResp.some((b) => b.sma_20 !== null);
  check(hasSma && smaPx > 30 && emaPx > 30, `SMA and EMA overlays drawn (sma ${smaPx}, ema ${emaPx} px; in their exact colours ${px.sma}, ${px.ema})`);
  check(barsResp.every((b) => b.instrument === 'sim:BTC-USD' && b.interval === '1m'), 'first chart loads sim:BTC-USD 1m bars');
  const old1m = fromLake(barsResp);
  const ordered = barsResp.every((b, i) => i === 0 || Date.parse(b.ts) > Date.parse(barsResp[i - 1].ts));
  check(old1m >= 150 && ordered && barsResp.filter(old).every((b) => b.final),
    `the 1m chart holds ${old1m} final bars from before the restart (the lake), in order`);
  await page.screenshot({ path: outdir + '/dashboard.png' });

  // 4. A shock injected by the simulator arrives over the stream and appears in the alert
  // feed: a return z-score far beyond the 3-sigma threshold (natural alarms score about 3-5).
  let alertText = '';
  try {
    const h = await page.waitForFunction(() => {
      for (const li of document.querySelectorAll('#alerts li.new')) {
        const m = /score (-?[\d.]+)/.exec(li.textContent);
        if (/return zscore/.test(li.textContent) && m && Math.abs(Number(m[1])) >= 10) return li.textContent;
      }
      return null;
    }, null, { timeout: 20000 });
    alertText = await h.jsonValue();
  } catch (e) { /* reported below */ }
  check(alertText !== '', 'an injected shock appears in the alert feed: ' + alertText.replace(/\s+/g, ' ').slice(0, 100));

  // 5. Switching instrument loads that instrument's bars.
  let resp = page.waitForResponse((r) => r.url().includes('/api/bars?instrument=sim%3AETH-USD&interval=1m'));
  await page.click('#instruments tr[data-instrument="sim:ETH-USD"]');
  let bars = await (await resp).json();
  await page.waitForFunction(() => document.querySelector('#chart').dataset.instrument === 'sim:ETH-USD', null, { timeout: 5000 });
  let shown = await page.$eval('#chart', (c) => ({ ...c.dataset }));
  check(bars.length > 0 && bars.every((b) => b.instrument === 'sim:ETH-USD') && Number(shown.bars) >= bars.length - 1 && fromLake(bars) >= 150,
    `switching to sim:ETH-USD shows its ${bars.length} bars, ${fromLake(bars)} from the lake (chart has ${shown.bars})`);
  check((await page.textContent('#chart-title')).includes('sim:ETH-USD · 1m'), 'the chart title names the new instrument');

  // 6. Switching interval loads the bars of that interval.
  resp = page.waitForResponse((r) => r.url().includes('/api/bars?instrument=sim%3AETH-USD&interval=5m'));
  await page.click('#intervals button[data-interval="5m"]');
  bars = await (await resp).json();
  await page.waitForFunction(() => document.querySelector('#chart').dataset.interval === '5m', null, { timeout: 5000 });
  shown = await page.$eval('#chart', (c) => ({ ...c.dataset }));
  const spaced = bars.every((b, i) => i === 0 || Date.parse(b.ts) - Date.parse(bars[i - 1].ts) >= 300000);
  check(bars.length > 0 && bars.every((b) => b.interval === '5m') && spaced && Number(shown.bars) === bars.length && fromLake(bars) >= 30,
    `switching to 5m shows ${shown.bars} five-minute bars, ${fromLake(bars)} from the lake`);

  // 7. The 1s chart grows live.
  resp = page.waitForResponse((r) => r.url().includes('interval=1s'));
  await page.click('#intervals button[data-interval="1s"]');
  await resp;
  await page.waitForFunction(() => document.querySelector('#chart').dataset.interval === '1s', null, { timeout: 5000 });
  const n0 = Number(await page.$eval('#chart', (c) => c.dataset.bars));
  let grew = false;
  try {
    await page.waitForFunction((n) => Number(document.querySelector('#chart').dataset.bars) > n + 1, n0, { timeout: 8000 });
    grew = true;
  } catch (e) { /* reported below */ }
  check(grew, 'the 1s chart gains bars live');

  // 8. Pipeline health shows numbers.
  const eps = await page.textContent('#h-eps');
  check(/\d/.test(eps) && (await page.$$('#sources tbody tr')).length >= 1, 'pipeline health shows events/s ' + eps + ' and sources');
  // The simulator source shows connected, with its event count.
  const srcRows = await page.$$eval('#sources tbody tr', (trs) => trs.map((tr) => Array.from(tr.cells, (c) => c.textContent)));
  const sim = srcRows.find((r) => /^sim/.test(r[0]));
  check(sim && /connected/.test(sim[1]), 'the sim source shows connected: ' + JSON.stringify(sim));
  // Connectors show their own state and a summary (docs/api.md, sources[].connector): the
  // WebSocket venue and the poller of dashboard_e2e.sh point at a closed port.
  const bin = srcRows.find((r) => /^binance:/.test(r[0]));
  check(bin && /^(backoff|connecting)/.test(bin[1]) && /0\/\d+ connects/.test(bin[1]),
    'the binance source shows backoff with its attempts: ' + JSON.stringify(bin));
  const yh = srcRows.find((r) => /^yahoo:/.test(r[0]));
  check(yh && /^(failing|waiting)/.test(yh[1]) && /polls ok/.test(yh[1]),
    'the yahoo poller shows failing with its polls: ' + JSON.stringify(yh));

  await page.click('#intervals button[data-interval="1m"]');
  await page.waitForTimeout(800);
  await page.screenshot({ path: outdir + '/dashboard-eth.png' });
  await page.click('#theme');
  await page.waitForTimeout(500);
  await page.screenshot({ path: outdir + '/dashboard-light.png' });

  check(errors.length === 0, 'no console errors' + (errors.length ? ': ' + errors.join(' | ') : ''));
  check(outside.length === 0, 'no request beyond loopback' + (outside.length ? ': ' + outside.join(' ') : ''));
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
