// lake_check.mjs — DuckDB checks that a tickpipe lake holds exactly what the journals hold.
//
//   node lake_check.mjs --lake DIR [--input-dump FILE] [--output-dump FILE] [--bars-1s]
//                       [--readable-only] [--one-file-per-partition]
//
// --readable-only: every *.parquet under DIR opens in DuckDB (no partial file is visible) and
//   the hive globs read; nothing else (used between the kills of the crash test).
// Otherwise, with `tickpipe journal dump` outputs of the input and output journals:
//   - ticks: read_parquet('DIR/ticks/**/*.parquet', hive_partitioning=true) equals, as a
//     multiset of whole rows, the input journal's non-status events (ts_ns exact, ts the
//     microsecond floor, ts_recv to the microsecond, every value and null);
//   - bars (without sub-minute ones unless --bars-1s), anomalies, late and gaps equal the
//     output journal's records, every column;
//   - partition values agree with the rows (date = UTC date of ts, venue = the instrument's,
//     interval = the column), every file is sorted by (instrument, ts), carries the schema
//     version in its key-value metadata and min/max statistics on its ts column;
//   - --one-file-per-partition: each leaf directory holds exactly one file (after compact).
// Prints a summary; exit 0 when everything agrees, 1 on a mismatch, 2 on a usage error.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = { 'bars-1s': false, 'readable-only': false, 'one-file-per-partition': false };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '');
  if (k in args && typeof args[k] === 'boolean') args[k] = true;
  else args[k] = process.argv[++i];
}
if (!args.lake) {
  console.error('usage: node lake_check.mjs --lake DIR [--input-dump F] [--output-dump F] ...');
  process.exit(2);
}
const lake = args.lake;
let failures = 0;
function fail(msg) {
  failures++;
  if (failures <= 20) console.error(`MISMATCH: ${msg}`);
}

const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await inst.connect();
await con.run(`SET TimeZone = 'UTC'`);
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();
const lit = (s) => `'${s.replaceAll("'", "''")}'`;

// Every file under the lake, by kind.
const parquet = [], tmps = [], leaves = new Map();
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.parquet')) {
      parquet.push(p);
      leaves.set(dir, (leaves.get(dir) || 0) + 1);
    } else if (name.endsWith('.parquet.tmp')) tmps.push(p);
  }
}
walk(lake);
for (const f of parquet) {
  try {
    await rows(`SELECT count(*) AS n FROM read_parquet(${lit(f)})`);
  } catch (e) {
    fail(`${f} does not read: ${e.message}`);
  }
}
const TABLES = ['ticks', 'bars', 'anomalies', 'late', 'gaps'];
const glob = (t) => lit(join(lake, t, '**', '*.parquet'));
const has = (t) => parquet.some((f) => f.startsWith(join(lake, t) + '/'));
const count = {};
for (const t of TABLES) {
  count[t] = 0;
  if (!has(t)) continue;
  try {
    count[t] = Number((await rows(`SELECT count(*) AS n FROM read_parquet(${glob(t)}, hive_partitioning=true)`))[0].n);
  } catch (e) {
    fail(`${t}: the hive glob does not read: ${e.message}`);
  }
}
if (args['readable-only']) {
  console.log(`lake_check: ${parquet.length} files readable (${tmps.length} .tmp, not matched by *.parquet); ` +
    TABLES.map((t) => `${t} ${count[t]}`).join(', '));
  process.exit(failures ? 1 : 0);
}

// ---- the journals ----
function tsNs(s) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{9})Z$/.exec(s);
  if (!m) throw new Error(`bad time ${s}`);
  const secs = BigInt(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) / 1000n;
  return secs * 1000000000n + BigInt(m[7]);
}
const floorDiv = (a, b) => (a >= 0n ? a / b : -((-a + b - 1n) / b));
const us = (ns) => floorDiv(ns, 1000n);
const num = (v) => (v === undefined || v === null || Number.isNaN(v) ? 'null' : String(v));
const str = (v) => (v === undefined || v === null ? 'null' : String(v));

// Parses "k=v" tokens and bare flags after the fixed words.
function fields(tokens) {
  const f = {};
  for (const t of tokens) {
    const i = t.indexOf('=');
    if (i > 0) f[t.slice(0, i)] = t.slice(i + 1);
    else f[t] = true;
  }
  return f;
}
const EXTRAS = ['bid', 'ask', 'bid_size', 'ask_size', 'open', 'high', 'low', 'change', 'value'];
function tickKey(kind, instr, f) {
  const ns = tsNs(f.ts);
  return [instr, String(ns), String(us(ns)), String(us(tsNs(f.recv))), kind,
    str(f.vsym), num(f.price === undefined ? undefined : Number(f.price)),
    num(f.size === undefined ? undefined : Number(f.size)), str(f.side), str(f.id),
    ...EXTRAS.map((k) => num(f[k] === undefined ? undefined : Number(f[k])))].join('|');
}
const IND = ['sma_20', 'ema_20', 'bb_upper', 'bb_middle', 'bb_lower', 'rsi_14', 'macd',
  'macd_signal', 'macd_hist', 'atr_14', 'volatility_20'];
const BARNUM = ['open', 'high', 'low', 'close', 'volume', 'notional', 'vwap'];
const INTERVAL_NS = { s: 1e9, m: 60e9, h: 3600e9, d: 86400e9, ms: 1e6, us: 1e3, ns: 1 };
function intervalNs(s) {
  const m = /^(\d+)(ns|us|ms|s|m|h|d)$/.exec(s);
  return m ? Number(m[1]) * INTERVAL_NS[m[2]] : NaN;
}

const want = { ticks: [], bars: [], anomalies: [], late: [], gaps: [] };
function readDump(file, fn) {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    fn(line.split(' '));
  }
}
if (args['input-dump'])
  readDump(args['input-dump'], (w) => {
    if (w[1] !== 'event' || w[2] === 'status') return;
    want.ticks.push(tickKey(w[2], w[3], fields(w.slice(4))));
  });
if (args['output-dump'])
  readDump(args['output-dump'], (w) => {
    if (w[1] === 'bar') {
      if (intervalNs(w[3]) < 60e9 && !args['bars-1s']) return;
      const f = fields(w.slice(4));
      want.bars.push([w[2], w[3], String(us(tsNs(f.ts))), ...BARNUM.map((k) => num(f[k] === undefined ? undefined : Number(f[k]))),
        f.trades, num(Number(f.buy_volume)), num(Number(f.sell_volume)), String(us(tsNs(f.first_ts))),
        String(us(tsNs(f.last_ts))), ...IND.map((k) => num(f[k] === undefined ? undefined : Number(f[k])))].join('|'));
    } else if (w[1] === 'anomaly') {
      const last = w[w.length - 1], iv = w.length > 4 && !last.includes('=') ? last : null;
      const f = fields(w.slice(4));
      want.anomalies.push([w[2], w[3], String(us(tsNs(f.ts))), num(f.observed === undefined ? undefined : Number(f.observed)),
        num(f.expected === undefined ? undefined : Number(f.expected)), num(f.score === undefined ? undefined : Number(f.score)), str(iv)].join('|'));
    } else if (w[1] === 'late') {
      want.late.push(tickKey(w[3], w[4], fields(w.slice(5))) + '|' + w[2]);
    } else if (w[1] === 'gap') {
      const f = fields(w.slice(3));
      const [a, b] = f.missing.split('..');
      want.gaps.push([w[2], String(us(tsNs(f.ts))), a, b, f.backfilled ? 'true' : 'false'].join('|'));
    }
  });

// ---- the lake ----
const SQL = {
  ticks: `SELECT instrument, CAST(ts_ns AS VARCHAR) AS a, CAST(epoch_us(ts) AS VARCHAR) AS b,
            CAST(epoch_us(ts_recv) AS VARCHAR) AS c, kind, venue_symbol, price, size, side, trade_id,
            ${EXTRAS.map((e) => `"${e}"`).join(', ')}, CAST("date" AS VARCHAR) AS pdate, venue AS pvenue,
            CAST(CAST(ts AS DATE) AS VARCHAR) AS tdate
          FROM read_parquet(${glob('ticks')}, hive_partitioning=true)`,
  late: `SELECT instrument, CAST(ts_ns AS VARCHAR) AS a, CAST(epoch_us(ts) AS VARCHAR) AS b,
            CAST(epoch_us(ts_recv) AS VARCHAR) AS c, kind, venue_symbol, price, size, side, trade_id,
            ${EXTRAS.map((e) => `"${e}"`).join(', ')}, "interval", CAST("date" AS VARCHAR) AS pdate,
            CAST(CAST(ts AS DATE) AS VARCHAR) AS tdate
          FROM read_parquet(${glob('late')}, hive_partitioning=true)`,
  bars: `SELECT instrument, "interval", CAST(epoch_us(ts) AS VARCHAR) AS t, ${BARNUM.join(', ')},
            CAST(trades AS VARCHAR) AS trades, buy_volume, sell_volume,
            CAST(epoch_us(first_ts) AS VARCHAR) AS f, CAST(epoch_us(last_ts) AS VARCHAR) AS l,
            ${IND.join(', ')}, CAST("date" AS VARCHAR) AS pdate, CAST(CAST(ts AS DATE) AS VARCHAR) AS tdate
          FROM read_parquet(${glob('bars')}, hive_partitioning=true)`,
  anomalies: `SELECT instrument, kind, CAST(epoch_us(ts) AS VARCHAR) AS t, observed, expected, score,
            "interval", CAST("date" AS VARCHAR) AS pdate, CAST(CAST(ts AS DATE) AS VARCHAR) AS tdate
          FROM read_parquet(${glob('anomalies')}, hive_partitioning=true)`,
  gaps: `SELECT instrument, CAST(epoch_us(ts) AS VARCHAR) AS t, CAST(first_missing AS VARCHAR) AS a,
            CAST(last_missing AS VARCHAR) AS b, CAST(backfilled AS VARCHAR) AS c,
            CAST("date" AS VARCHAR) AS pdate, CAST(CAST(ts AS DATE) AS VARCHAR) AS tdate
          FROM read_parquet(${glob('gaps')}, hive_partitioning=true)`,
};
function lakeKey(t, r) {
  const v = Object.values(r);
  const tail = t === 'ticks' ? 3 : 2; // partition checks at the end
  if (r.pdate !== r.tdate) fail(`${t}: a row of ${r.tdate} in partition date=${r.pdate}`);
  if (t === 'ticks' && r.pvenue !== r.instrument.split(':')[0])
    fail(`ticks: ${r.instrument} in partition venue=${r.pvenue}`);
  return v.slice(0, v.length - tail).map((x) => (typeof x === 'number' ? num(x) : str(x))).join('|');
}
function compare(t, w, got) {
  const m = new Map();
  for (const k of w) m.set(k, (m.get(k) || 0) + 1);
  let extra = 0, shown = 0;
  for (const k of got) {
    const c = m.get(k);
    if (c) m.set(k, c - 1);
    else {
      extra++;
      if (shown++ < 3) fail(`${t}: in the lake, not in the journal (or more often): ${k}`);
    }
  }
  let missing = 0;
  for (const [k, c] of m)
    if (c > 0) {
      missing += c;
      if (shown++ < 6) fail(`${t}: in the journal, not in the lake (x${c}): ${k}`);
    }
  if (extra || missing) fail(`${t}: ${got.length} rows in the lake, ${w.length} in the journal: ${extra} extra, ${missing} missing`);
}
const checked = [];
for (const t of TABLES) {
  const dumped = t === 'ticks' ? args['input-dump'] : args['output-dump'];
  if (!dumped) continue;
  const got = has(t) ? (await rows(SQL[t])).map((r) => lakeKey(t, r)) : [];
  compare(t, want[t], got);
  checked.push(`${t} ${got.length}`);
}

// Every file: sorted by (instrument, ts), schema version, statistics on ts.
for (const t of TABLES) {
  if (!has(t)) continue;
  const tcol = t === 'ticks' || t === 'late' ? 'ts_ns' : 'epoch_ns(ts)';
  const unsorted = await rows(`SELECT filename, count(*) AS n FROM (
      SELECT filename, instrument, ${tcol} AS k,
             lag(instrument) OVER w AS pi, lag(${tcol}) OVER w AS pk
      FROM read_parquet(${glob(t)}, filename=true, file_row_number=true)
      WINDOW w AS (PARTITION BY filename ORDER BY file_row_number))
    WHERE pi IS NOT NULL AND (instrument < pi OR (instrument = pi AND k < pk)) GROUP BY filename`);
  for (const r of unsorted) fail(`${r.filename}: ${r.n} rows out of (instrument, ts) order`);
  const kv = await rows(`SELECT file_name, decode(value) AS v FROM parquet_kv_metadata(${glob(t)})
      WHERE decode(key) = 'tickpipe.schema_version'`);
  const files = parquet.filter((f) => f.startsWith(join(lake, t) + '/'));
  if (kv.length !== files.length || kv.some((r) => r.v !== '1'))
    fail(`${t}: ${kv.length} of ${files.length} files carry tickpipe.schema_version 1`);
  const nostats = await rows(`SELECT count(*) AS n FROM parquet_metadata(${glob(t)})
      WHERE path_in_schema = 'ts' AND (stats_min IS NULL OR stats_max IS NULL)`);
  if (Number(nostats[0].n)) fail(`${t}: ${nostats[0].n} row groups without min/max on ts`);
}
if (args['one-file-per-partition'])
  for (const [dir, n] of leaves) if (n !== 1) fail(`${dir}: ${n} files after compaction`);

console.log(`lake_check: ${parquet.length} files, ${leaves.size} partitions; ${checked.join(', ')}` +
  (failures ? `; ${failures} mismatches` : '; all equal to the journals'));
process.exit(failures ? 1 : 0);
