/*
 * stream_client.mjs — the soak test's dashboard stand-in: one WebSocket client of
 * tickpipe's live stream (GET /api/stream) over node:net, subscribed to every instrument's
 * ticks, bars and final bars, kept connected for the whole soak.
 *
 *   node stream_client.mjs ws://127.0.0.1:PORT/api/stream [OUT.json [TICK_INSTRUMENTS]]
 *
 * Frames are counted by their message type without JSON-parsing each one (a tick every few
 * microseconds at 200 k/s: parsing would make the client, not tickpipe, the bottleneck);
 * control messages (subscribed, lagged, error) are parsed. Every 5 s it prints a line
 * "t=S messages=N ticks=N bars=N final_bars=N open=1"; on SIGTERM or SIGINT it writes the
 * totals as JSON to OUT.json (or stdout) and exits 0 when it stayed connected, never lagged
 * and received bars (and ticks, when subscribed to them), 1 otherwise. If the server closes the connection it prints "closed" and
 * exits 1 at once.
 */
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';

const [url, out, ticksArg] = process.argv.slice(2);
/* Ticks of every instrument ('*', the default), of a comma-separated list, or 'none'; bars and
 * final bars always of every instrument. */
const tickInstr = !ticksArg || ticksArg === '*' ? '*' : ticksArg === 'none' ? [] : ticksArg.split(',');
const u = new URL(url);
const st = { messages: 0, ticks: 0, bars: 0, final_bars: 0, other: 0, lagged: false,
             subscribed: false, closed: false, bytes: 0, started: Date.now() };

const sock = net.connect(Number(u.port), u.hostname);
sock.setNoDelay(true);

function send(text, op = 1) {
  const p = Buffer.from(text);
  const mask = crypto.randomBytes(4);
  const head = p.length < 126 ? Buffer.from([0x80 | op, 0x80 | p.length])
    : Buffer.from([0x80 | op, 0x80 | 126, p.length >> 8, p.length & 255]);
  for (let i = 0; i < p.length; i++) p[i] ^= mask[i % 4];
  sock.write(Buffer.concat([head, mask, p]));
}

sock.on('connect', () => {
  const key = crypto.randomBytes(16).toString('base64');
  sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
});

const TYPE_AT = Buffer.from('"type":"');
let pending = null; /* bytes of an incomplete frame */
let open = false;

function onText(payload) {
  st.messages++;
  const at = payload.indexOf(TYPE_AT);
  const t0 = at < 0 ? -1 : at + TYPE_AT.length;
  const c = t0 < 0 ? 0 : payload[t0];
  /* "tick", "bar", "final_bar" ... by their first letters, the rest parsed. */
  if (c === 0x74 /* t */ && payload[t0 + 1] === 0x69) st.ticks++;
  else if (c === 0x62 /* b */) st.bars++;
  else if (c === 0x66 /* f */) st.final_bars++;
  else {
    st.other++;
    let m = {};
    try { m = JSON.parse(payload.toString()); } catch { /* not for us */ }
    if (m.type === 'subscribed') st.subscribed = true;
    if (m.type === 'lagged') { st.lagged = true; console.log('lagged ' + JSON.stringify(m)); }
    if (m.type === 'error') console.log('error ' + JSON.stringify(m));
  }
}

sock.on('data', (d) => {
  st.bytes += d.length;
  let buf = pending ? Buffer.concat([pending, d]) : d;
  pending = null;
  let off = 0;
  if (!open) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) { pending = buf; return; }
    const head = buf.subarray(0, end).toString();
    if (!head.startsWith('HTTP/1.1 101')) {
      console.log('refused ' + head.split('\r\n')[0]);
      process.exit(1);
    }
    open = true;
    off = end + 4;
    if (tickInstr === '*') {
      send(JSON.stringify({ op: 'subscribe', instruments: '*', kinds: ['ticks', 'bars', 'final_bars'] }));
    } else {
      send(JSON.stringify({ op: 'subscribe', instruments: '*', kinds: ['bars', 'final_bars'] }));
      if (tickInstr.length) send(JSON.stringify({ op: 'subscribe', instruments: tickInstr, kinds: ['ticks'] }));
    }
  }
  for (;;) {
    if (buf.length - off < 2) break;
    const op = buf[off] & 15;
    let len = buf[off + 1] & 127, h = 2;
    if (len === 126) { if (buf.length - off < 4) break; len = buf.readUInt16BE(off + 2); h = 4; }
    else if (len === 127) { if (buf.length - off < 10) break; len = Number(buf.readBigUInt64BE(off + 2)); h = 10; }
    if (buf.length - off < h + len) break;
    const payload = buf.subarray(off + h, off + h + len);
    off += h + len;
    if (op === 1) onText(payload);
    else if (op === 9) send(payload.toString('latin1'), 10);
    else if (op === 8) { st.closed = true; }
  }
  if (off < buf.length) pending = Buffer.from(buf.subarray(off));
});

function summary() {
  st.seconds = (Date.now() - st.started) / 1000;
  st.ok = st.subscribed && !st.lagged && !st.closed && st.bars > 0 &&
    (tickInstr.length === 0 || st.ticks > 0);
  const text = JSON.stringify(st);
  if (out) fs.writeFileSync(out, text + '\n');
  else console.log(text);
  return st.ok;
}

sock.on('close', () => {
  st.closed = true;
  console.log('closed');
  summary();
  process.exit(1);
});
sock.on('error', (e) => { console.log('socket error ' + e.message); });

const timer = setInterval(() => {
  const t = Math.round((Date.now() - st.started) / 1000);
  console.log(`t=${t} messages=${st.messages} ticks=${st.ticks} bars=${st.bars} ` +
    `final_bars=${st.final_bars} open=${open && !st.closed ? 1 : 0}`);
}, 5000);

function stop() {
  clearInterval(timer);
  sock.removeAllListeners('close');
  const ok = summary();
  sock.destroy();
  process.exit(ok ? 0 : 1);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
