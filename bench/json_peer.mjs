/*
 * json_peer.mjs — the peer of build/venue_bench for issue 6's goal: the same Binance trade
 * frames (written by `venue_bench SECONDS FILE`, one per line) parsed by a general-purpose
 * JSON library — V8's JSON.parse, one thread — and normalized as far as a typical client
 * does: unwrap the combined-stream envelope, read symbol, trade id, price and size (as
 * numbers), trade time and the buyer-maker flag. Prints messages per second.
 *
 *   node json_peer.mjs FILE [SECONDS]
 */
import fs from 'node:fs';

const [file, secsArg] = process.argv.slice(2);
const secs = Number(secsArg || 2);
const frames = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length);
let n = 0, sink = 0;
const start = process.hrtime.bigint();
const until = start + BigInt(Math.round(secs * 1e9));
do {
  for (const f of frames) {
    let m = JSON.parse(f);
    if (m.data) m = m.data;
    const price = Number(m.p), size = Number(m.q);
    if (!(price > 0) || !(size >= 0) || typeof m.s !== 'string') throw new Error('bad frame');
    sink += m.t + m.T + (m.m ? 1 : 0);
  }
  n += frames.length;
} while (process.hrtime.bigint() < until);
const dt = Number(process.hrtime.bigint() - start) / 1e9;
console.log(`JSON.parse (node ${process.version}): ${(n / dt / 1e6).toFixed(2)} M msg/s` + (sink < 0 ? '!' : ''));
