// crash_check.mjs — DuckDB comparison of a lake written by a run killed many times (--lake)
// with the lake of an uninterrupted run of the same input (--ref), for tests/crash/crash.sh.
//
//   node crash_check.mjs --lake DIR --ref DIR --trades N
//
// Checks (each table read with read_parquet('DIR/<table>/**/*.parquet', hive_partitioning=true),
// so staged `.NAME.parquet.tmp` files are never matched):
//   - ticks: both lakes hold N rows, the same count and the same checksum
//     sum(hash(instrument, ts_ns, trade_id, price, size)), and the same multiset of those
//     columns (EXCEPT ALL both ways is empty): every journaled trade exactly once;
//   - bars: no (instrument, interval, ts) twice in either lake, the same count, and the same
//     multiset of whole rows, every column (indicators included): every final bar exactly
//     once and identical;
//   - anomalies: the same multiset of whole rows.
// Prints one line per table; exit 0 when everything agrees, 1 on a mismatch, 2 on a usage error.
import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.lake || !args.ref || args.trades === undefined) {
  console.error('usage: node crash_check.mjs --lake DIR --ref DIR --trades N');
  process.exit(2);
}
const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await inst.connect();
await con.run(`SET TimeZone = 'UTC'`);
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();
const lit = (s) => `'${s.replaceAll("'", "''")}'`;
let failures = 0;
function fail(msg) {
  failures++;
  console.error(`MISMATCH: ${msg}`);
}
const src = (lake, t) =>
  existsSync(join(lake, t))
    ? `read_parquet(${lit(join(lake, t, '**', '*.parquet'))}, hive_partitioning=true)`
    : null;

async function compare(t, cols, keyCols) {
  const a = src(args.lake, t), b = src(args.ref, t);
  if (!a || !b) {
    if (a || b) fail(`${t}: present in only one lake`);
    return;
  }
  const sel = (s) => `SELECT ${cols} FROM ${s}`;
  const sum = async (s) =>
    (await rows(`SELECT count(*) AS n, CAST(coalesce(sum(hash(${cols})), 0) AS VARCHAR) AS h FROM ${s}`))[0];
  const ga = await sum(a), gb = await sum(b);
  if (ga.n !== gb.n || ga.h !== gb.h)
    fail(`${t}: ${ga.n} rows (checksum ${ga.h}) after the kills, ${gb.n} (${gb.h}) uninterrupted`);
  for (const [x, y, what] of [[a, b, 'only after the kills'], [b, a, 'only in the uninterrupted run']]) {
    const d = await rows(`SELECT count(*) AS n FROM (${sel(x)} EXCEPT ALL ${sel(y)})`);
    if (Number(d[0].n)) {
      fail(`${t}: ${d[0].n} rows ${what}`);
      for (const r of await rows(`${sel(x)} EXCEPT ALL ${sel(y)} LIMIT 3`)) console.error(`  ${JSON.stringify(r, (k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    }
  }
  if (keyCols)
    for (const [s, which] of [[a, 'after the kills'], [b, 'uninterrupted']]) {
      const d = await rows(`SELECT count(*) AS n FROM (SELECT ${keyCols} FROM ${s} GROUP BY ALL HAVING count(*) > 1)`);
      if (Number(d[0].n)) fail(`${t}: ${d[0].n} keys (${keyCols}) more than once ${which}`);
    }
  console.log(`crash_check: ${t}: ${ga.n} rows, checksum ${ga.h}${failures ? '' : ', equal to the uninterrupted run'}`);
  return ga;
}

const ticks = await compare('ticks', 'instrument, ts_ns, trade_id, price, size');
if (!ticks || String(ticks.n) !== String(args.trades))
  fail(`ticks: ${ticks ? ticks.n : 0} rows in the lake, the input has ${args.trades} trades`);
const barCols = `instrument, "interval", ts, open, high, low, close, volume, notional, vwap, trades,
  buy_volume, sell_volume, first_ts, last_ts, sma_20, ema_20, bb_upper, bb_middle, bb_lower, rsi_14,
  macd, macd_signal, macd_hist, atr_14, volatility_20, "date"`;
const bars = await compare('bars', barCols, 'instrument, "interval", ts');
if (!bars || Number(bars.n) === 0) fail('bars: no bars in the lake');
await compare('anomalies', 'instrument, kind, ts, observed, expected, score, "interval", "date"');
process.exit(failures ? 1 : 0);
