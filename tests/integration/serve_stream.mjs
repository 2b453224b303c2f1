/*
 * serve_stream.mjs — live stream checks for serve_api.sh, with a small WebSocket client of its
 * own over node:net (so it can send any Origin, and stop reading on purpose).
 *
 *   node serve_stream.mjs protocol URL   subscribe/unsubscribe/ping/errors, filtering and the
 *                                        coalescing of bar updates; exit 0 when all pass
 *   node serve_stream.mjs slow-ws URL    a WebSocket client that subscribes to every tick and
 *   node serve_stream.mjs slow-sse URL   never reads (or the same over SSE); prints
 *                                        "subscribed" then waits to be dropped; prints
 *                                        "closed" when the server closes it
 */
import net from 'node:net';
import crypto from 'node:crypto';

const [mode, url] = process.argv.slice(2);
const u = new URL(url);

function wsConnect(path, origin) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    const key = crypto.randomBytes(16).toString('base64');
    let buf = Buffer.alloc(0);
    let open = false;
    const c = { sock, messages: [], cursor: 0, closed: false };
    sock.on('connect', () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` + (origin ? `Origin: ${origin}\r\n` : '') + '\r\n');
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!open) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 4);
        if (!head.startsWith('HTTP/1.1 101')) {
          sock.destroy();
          return reject(new Error(head.split('\r\n')[0]));
        }
        open = true;
        resolve(c);
      }
      for (;;) {
        if (buf.length < 2) return;
        const op = buf[0] & 15;
        let len = buf[1] & 127, off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if (op === 1) {
          const m = JSON.parse(payload.toString());
          c.messages.push(m);
        } else if (op === 9) {
          send(c, payload, 10);
        } else if (op === 8) {
          c.closed = true;
          sock.end();
        }
      }
    });
    sock.on('error', (e) => { if (!open) reject(e); });
    sock.on('close', () => { c.closed = true; });
  });
}

function send(c, data, op = 1) {
  const p = Buffer.isBuffer(data) ? data : Buffer.from(typeof data === 'string' ? data : JSON.stringify(data));
  const mask = crypto.randomBytes(4);
  const head = p.length < 126 ? Buffer.from([0x80 | op, 0x80 | p.length])
    : Buffer.from([0x80 | op, 0x80 | 126, p.length >> 8, p.length & 255]);
  const body = Buffer.from(p.map((b, i) => b ^ mask[i % 4]));
  c.sock.write(Buffer.concat([head, mask, body]));
}

// The next message after the last one returned that matches pred (messages that arrived
// before the call count too: the server may answer in the same packet as the handshake).
async function next(c, pred, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    while (c.cursor < c.messages.length) {
      const m = c.messages[c.cursor++];
      if (pred(m)) return m;
    }
    if (Date.now() > end) throw new Error('timed out waiting for a message');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failed = 0, passed = 0;
function check(cond, what) {
  if (cond) { passed++; console.log('ok   ' + what); } else { failed++; console.log('FAIL ' + what); }
}

async function protocol() {
  // A foreign Origin is refused; the server's own origin is accepted.
  let refused = '';
  try { await wsConnect('/api/stream', 'http://evil.example'); } catch (e) { refused = e.message; }
  check(refused.includes('403'), 'a foreign Origin is refused: ' + refused);
  const c = await wsConnect('/api/stream', u.origin);
  const hello = await next(c, (m) => m.type === 'subscribed');
  check(Object.keys(hello.kinds).length === 0, 'a new client starts with no subscription');

  send(c, { op: 'subscribe', instruments: ['sim:BTC-USD'], kinds: ['ticks'] });
  const sub = await next(c, (m) => m.type === 'subscribed');
  check(JSON.stringify(sub.kinds) === '{"ticks":["sim:BTC-USD"]}', 'subscribe is confirmed: ' + JSON.stringify(sub.kinds));
  const start = c.messages.length;
  await sleep(1500);
  const ticks = c.messages.slice(start).filter((m) => m.type === 'tick');
  check(ticks.length >= 5 && ticks.every((m) => m.data.instrument === 'sim:BTC-USD'),
    `only the subscribed instrument's ticks arrive (${ticks.length})`);
  check(ticks.every((m) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/.test(m.data.ts) && typeof m.data.ts_ns === 'string'),
    'tick times are RFC 3339 with 9 digits, ts_ns a string');

  // Bar updates of one series are coalesced to the display rate (100 ms).
  send(c, { op: 'subscribe', instruments: ['sim:ETH-USD'], kinds: ['bars', 'final_bars'], intervals: ['1m'] });
  await next(c, (m) => m.type === 'subscribed');
  const b0 = c.messages.length, t0 = Date.now();
  await sleep(3000);
  const dt = (Date.now() - t0) / 1000;
  const bars = c.messages.slice(b0).filter((m) => m.type === 'bar');
  const ethTicks = c.messages.slice(b0).filter((m) => m.type === 'tick' && m.data.instrument === 'sim:ETH-USD');
  check(bars.length > 0 && bars.every((m) => m.data.instrument === 'sim:ETH-USD' && m.data.interval === '1m' && m.data.final === false),
    `bar updates only for sim:ETH-USD 1m (${bars.length})`);
  check(bars.length / dt <= 12, `bar updates coalesced: ${(bars.length / dt).toFixed(1)}/s at a trade rate of ~${(ticks.length / 1.5).toFixed(0)}/s per instrument`);
  check(ethTicks.length === 0, 'no ticks of an instrument subscribed for bars only');

  // Unsubscribe stops the ticks.
  send(c, { op: 'unsubscribe', instruments: ['sim:BTC-USD'], kinds: ['ticks'] });
  const uns = await next(c, (m) => m.type === 'subscribed');
  check(!('ticks' in uns.kinds), 'unsubscribe is confirmed');
  await sleep(300);
  const u0 = c.messages.length;
  await sleep(1200);
  check(c.messages.slice(u0).every((m) => m.type !== 'tick'), 'no ticks after unsubscribe');

  send(c, { op: 'ping' });
  const pong = await next(c, (m) => m.type === 'pong');
  check(typeof pong.ts === 'string', 'ping gets pong');
  send(c, { op: 'subscribe', instruments: ['*'], kinds: ['trades'] });
  const err = await next(c, (m) => m.type === 'error');
  check(err.error === "unknown kind 'trades'", 'a bad subscription gets an error naming it: ' + err.error);
  send(c, '{"op": ');
  const err2 = await next(c, (m) => m.type === 'error');
  check(/bad message/.test(err2.error) && !c.closed, 'malformed JSON gets an error and the connection stays');
  send(c, { op: 'subscribe', instruments: ['*'], kinds: ['anomalies', 'status'] });
  const health = await next(c, (m) => m.type === 'health', 4000);
  check(typeof health.data.events_per_s === 'number', 'status subscribers get health each second');
  c.sock.destroy();
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

async function slow(sse) {
  let sock;
  if (sse) {
    sock = net.connect(Number(u.port), u.hostname);
    await new Promise((r) => sock.on('connect', r));
    sock.write(`GET /api/stream?sse=1&instruments=*&kinds=ticks,bars,final_bars HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
  } else {
    const c = await wsConnect('/api/stream?instruments=*&kinds=ticks,bars,final_bars', u.origin);
    sock = c.sock;
  }
  // Read just enough to see the subscription, then never read again.
  await new Promise((r) => sock.once('data', r));
  sock.pause();
  sock.removeAllListeners('data');
  console.log('subscribed');
  sock.on('close', () => { console.log('closed'); process.exit(0); });
  sock.on('error', () => { console.log('closed'); process.exit(0); });
  setTimeout(() => process.exit(3), 60000);
}

if (mode === 'protocol') await protocol();
else if (mode === 'slow-ws') await slow(false);
else if (mode === 'slow-sse') await slow(true);
else { console.error('usage: node serve_stream.mjs protocol|slow-ws|slow-sse URL'); process.exit(2); }
