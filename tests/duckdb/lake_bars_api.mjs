/*
 * lake_bars_api.mjs — GET /api/bars history against DuckDB reading the same lake:
 *
 *   node duckdb/lake_bars_api.mjs URL LAKE
 *
 * For a set of (instrument, interval, from, to, limit) queries over history that a previous
 * `tickpipe run` wrote (tests/integration/serve_lake_bars.sh), the API's answer must be
 * exactly DuckDB's `read_parquet(LAKE/bars/**, hive_partitioning)` rows of that instrument
 * and interval with from <= ts < to, the newest `limit` in ts order: every column the API
 * serves, doubles bit for bit, nulls as nulls, `final` true. Times compare at the lake's
 * microsecond precision (first_ts and last_ts keep nanoseconds in the live store, which wins
 * for bars it holds too). Prints one line per query; exit 0 when all agree.
 */
import { DuckDBInstance } from '@duckdb/node-api';

const [url, lake] = process.argv.slice(2);
if (!url || !lake) {
  console.error('usage: node lake_bars_api.mjs URL LAKE');
  process.exit(2);
}

const cols = ['open', 'high', 'low', 'close', 'volume', 'notional', 'vwap', 'buy_volume',
  'sell_volume', 'sma_20', 'ema_20', 'bb_upper', 'bb_middle', 'bb_lower', 'rsi_14', 'macd',
  'macd_signal', 'macd_hist', 'atr_14', 'volatility_20'];

// RFC 3339 with 9 fractional digits -> epoch microseconds (floor), as a BigInt.
function us(t) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z$/.exec(t);
  if (!m) throw new Error('bad time ' + t);
  return BigInt(Date.parse(m[1] + 'Z')) * 1000n + BigInt(m[2].slice(0, 6));
}

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone = 'UTC'");

async function lakeRows(q) {
  const where = [`instrument = '${q.instrument}'`, `"interval" = '${q.interval}'`];
  if (q.from) where.push(`ts >= TIMESTAMPTZ '${q.from}'`);
  if (q.to) where.push(`ts < TIMESTAMPTZ '${q.to}'`);
  const sql = `SELECT instrument, "interval", epoch_us(ts) AS ts, ${cols.join(', ')}, trades,
      epoch_us(first_ts) AS first_ts, epoch_us(last_ts) AS last_ts
    FROM read_parquet('${lake}/bars/**/*.parquet', hive_partitioning = true)
    WHERE ${where.join(' AND ')} ORDER BY ts DESC LIMIT ${q.limit ?? 500}`;
  const r = await con.runAndReadAll(sql);
  return r.getRowObjects().reverse();
}

async function api(q) {
  const p = new URLSearchParams({ instrument: q.instrument, interval: q.interval });
  if (q.from) p.set('from', q.from);
  if (q.to) p.set('to', q.to);
  if (q.limit) p.set('limit', String(q.limit));
  const r = await fetch(`${url}/api/bars?${p}`);
  if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
  return r.json();
}

function diff(a, d) {
  if (a.instrument !== d.instrument || a.interval !== d.interval) return 'instrument/interval';
  if (us(a.ts) !== BigInt(d.ts)) return `ts ${a.ts} vs ${d.ts}`;
  if (us(a.first_ts) !== BigInt(d.first_ts)) return `first_ts ${a.first_ts} vs ${d.first_ts}`;
  if (us(a.last_ts) !== BigInt(d.last_ts)) return `last_ts ${a.last_ts} vs ${d.last_ts}`;
  if (BigInt(a.trades) !== BigInt(d.trades)) return `trades ${a.trades} vs ${d.trades}`;
  for (const c of cols) {
    const x = a[c], y = d[c] === null ? null : Number(d[c]);
    if (!(x === y || (x === null && y === null))) return `${c} ${x} vs ${y}`;
  }
  if (a.final !== true) return 'final is not true';
  return null;
}

const queries = JSON.parse(process.env.QUERIES);
let bad = 0;
for (const q of queries) {
  const [a, d] = await Promise.all([api(q), lakeRows(q)]);
  let why = a.length === d.length ? null : `${a.length} bars, DuckDB ${d.length}`;
  for (let i = 0; !why && i < a.length; i++) {
    const w = diff(a[i], d[i]);
    if (w) why = `bar ${i} (${a[i].ts}): ${w}`;
  }
  if (!why && q.min && a.length < q.min) why = `only ${a.length} bars (want >= ${q.min})`;
  console.log(`${why ? 'FAIL' : 'ok  '} ${JSON.stringify(q)}: ${a.length} bars` + (why ? ' — ' + why : ''));
  if (why) bad++;
}
process.exit(bad ? 1 : 0);
