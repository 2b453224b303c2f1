// bars_sql.mjs — computes tickpipe's bars independently in DuckDB SQL, over the same trades CSV,
// with the rules of DESIGN.md §3, and compares them with what `tickpipe replay` wrote.
//
//   node bars_sql.mjs --csv trades.csv --out DIR [--intervals 1m,5m] [--lateness 2s]
//                     [--ts-unit ms] [--sidecar trades.csv.json]
//   node bars_sql.mjs --selftest      (the SQL against a small hand-computed case)
//
// The rules, as SQL (nothing here shares code with the engine):
//   - rows in file order: rn = the row's position in the file (the table's rowid after a
//     sequential, order-preserving load, checked against a sample of the file's lines);
//   - a row is a duplicate if an earlier row has the same (instrument, trade_id);
//   - W at a row = max ts of the earlier non-duplicate rows of its instrument − lateness;
//   - a non-duplicate row is late for an interval if W ≥ the end of its window, and is then
//     left out of that interval's bar;
//   - open = price at min (ts, rn), close = price at max (ts, rn), high, low, volume = Σq,
//     trades = count, notional = Σp·q, vwap = Σp·q / Σq clamped to [low, high].
// Compared: the set of (instrument, interval, ts) keys; open/high/low/close/trades exactly;
// volume, notional, buy/sell volume and vwap within 1e-9 relative; the set of late
// (instrument, trade_id, interval) rows and their counts (also against the generator's
// sidecar). Exit 0 when all agree, 1 on any mismatch (with examples), 2 on a usage or load
// error.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REL_TOL = 1e-9;
const UNIT_NS = { s: 1000000000n, ms: 1000000n, us: 1000n, ns: 1n };

function durationNs(s) {
  const m = /^(\d+)(ns|us|ms|s|m|h|d)$/.exec(s);
  if (!m) throw new Error(`not a duration: ${s}`);
  const mul = { ns: 1n, us: 1000n, ms: 1000000n, s: 1000000000n, m: 60000000000n,
                h: 3600000000000n, d: 86400000000000n }[m[2]];
  return BigInt(m[1]) * mul;
}

function parseArgs(argv) {
  const a = { intervals: '1m,5m', lateness: '2s', tsUnit: null, sidecar: null, selftest: false };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => { if (i + 1 >= argv.length) throw new Error(`${k} needs a value`); return argv[++i]; };
    if (k === '--csv') a.csv = v();
    else if (k === '--out') a.out = v();
    else if (k === '--intervals') a.intervals = v();
    else if (k === '--lateness') a.lateness = v();
    else if (k === '--ts-unit') a.tsUnit = v();
    else if (k === '--sidecar') a.sidecar = v();
    else if (k === '--selftest') a.selftest = true;
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

const sqlStr = (s) => `'${String(s).replaceAll("'", "''")}'`;
const json = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? v.toString() : v));

class Db {
  static async open() {
    const inst = await DuckDBInstance.create(':memory:');
    const d = new Db();
    d.inst = inst;
    d.conn = await inst.connect();
    return d;
  }
  async run(sql) { await this.conn.run(sql); }
  async rows(sql) { return (await this.conn.runAndReadAll(sql)).getRowObjects(); }
  async one(sql) { return (await this.rows(sql))[0]; }
  close() { this.conn.closeSync?.(); this.inst.closeSync?.(); }
}

// Loads the trades CSV into table `trades` (rn = file position, 0-based) and computes the
// duplicate flag and W. unitNs: the ns per unit of the CSV's integer ts.
async function loadTrades(db, csv, unitNs, latenessNs) {
  await db.run(`SET preserve_insertion_order = true`);
  await db.run(`CREATE TABLE raw AS SELECT * FROM read_csv(${sqlStr(csv)}, header = true,
      delim = ',', quote = '"', parallel = false,
      columns = {'ts': 'BIGINT', 'instrument': 'VARCHAR', 'price': 'DOUBLE', 'size': 'DOUBLE',
                 'side': 'VARCHAR', 'trade_id': 'VARCHAR'})`);
  await db.run(`CREATE TABLE numbered AS SELECT rowid AS rn, ts * ${unitNs} AS ts_ns, instrument,
      price, size, side, trade_id FROM raw`);
  await db.run(`CREATE TABLE dedup AS SELECT *,
      row_number() OVER (PARTITION BY instrument, trade_id ORDER BY rn) > 1 AS dup
      FROM numbered`);
  await db.run(`CREATE TABLE trades AS SELECT *,
      max(CASE WHEN NOT dup THEN ts_ns END) OVER (PARTITION BY instrument ORDER BY rn
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - ${latenessNs} AS wm
      FROM dedup`);
}

// Checks that rn is the file position: every 997th line of the file against the table.
async function checkOrder(db, csv, unitNs) {
  const buf = readFileSync(csv);
  const K = 997;
  const want = [];
  let pos = buf.indexOf(10) + 1; // skip the header
  for (let row = 0; pos < buf.length; row++) {
    const nl = buf.indexOf(10, pos);
    const end = nl < 0 ? buf.length : nl;
    if (row % K === 0 || nl < 0 || nl + 1 >= buf.length) {
      const f = buf.toString('latin1', pos, end).split(',');
      want.push({ rn: BigInt(row), ts_ns: BigInt(f[0]) * unitNs, instrument: f[1], trade_id: f[5] });
    }
    if (nl < 0) break;
    pos = nl + 1;
  }
  const got = new Map();
  const rns = want.map((w) => w.rn).join(',');
  for (const r of await db.rows(`SELECT rn, ts_ns, instrument, trade_id FROM numbered
                                 WHERE rn IN (${rns})`))
    got.set(r.rn, r);
  const n = (await db.one(`SELECT count(*) AS n FROM numbered`)).n;
  const lastRow = want[want.length - 1].rn;
  if (n !== lastRow + 1n) throw new Error(`DuckDB read ${n} rows, the file has ${lastRow + 1n}`);
  for (const w of want) {
    const g = got.get(w.rn);
    if (!g || g.ts_ns !== w.ts_ns || g.instrument !== w.instrument || g.trade_id !== w.trade_id)
      throw new Error(`row ${w.rn}: DuckDB has ${json(g)}, the file ${json(w)} (order not kept)`);
  }
  return want.length;
}

// Builds dk_bars and dk_late for the given intervals [{name, ns}].
async function computeBars(db, intervals) {
  const values = intervals.map((iv) => `(${sqlStr(iv.name)}, ${iv.ns})`).join(', ');
  await db.run(`CREATE TABLE ivals(name VARCHAR, w BIGINT)`);
  await db.run(`INSERT INTO ivals VALUES ${values}`);
  await db.run(`CREATE TABLE assigned AS
      SELECT t.*, iv.name AS interval, ws, (wm IS NOT NULL AND wm >= ws + iv.w) AS late
      FROM trades t, ivals iv,
           LATERAL (SELECT t.ts_ns - (((t.ts_ns % iv.w) + iv.w) % iv.w) AS ws)
      WHERE NOT t.dup`);
  await db.run(`CREATE TABLE dk_bars AS
      SELECT instrument, interval, ws,
             first(price ORDER BY ts_ns, rn) AS open, max(price) AS high, min(price) AS low,
             last(price ORDER BY ts_ns, rn) AS close, sum(size) AS volume,
             sum(price * size) AS notional, count(*) AS trades,
             coalesce(sum(size) FILTER (WHERE side = 'buy'), 0) AS buy_volume,
             coalesce(sum(size) FILTER (WHERE side = 'sell'), 0) AS sell_volume
      FROM assigned WHERE NOT late GROUP BY instrument, interval, ws`);
  await db.run(`ALTER TABLE dk_bars ADD COLUMN vwap DOUBLE`);
  await db.run(`UPDATE dk_bars SET vwap = CASE WHEN volume > 0
      THEN greatest(low, least(high, notional / volume)) END`);
  // the bar's ts as tickpipe writes it: RFC 3339, 9 fractional digits, Z
  await db.run(`ALTER TABLE dk_bars ADD COLUMN ts VARCHAR`);
  await db.run(`UPDATE dk_bars SET ts = strftime(make_timestamp(ws // 1000), '%Y-%m-%dT%H:%M:%S')
      || '.' || lpad(CAST(ws % 1000000000 AS VARCHAR), 9, '0') || 'Z'`);
  await db.run(`CREATE TABLE dk_late AS SELECT instrument, trade_id, interval, rn
      FROM assigned WHERE late`);
}

async function loadTickpipe(db, dir, intervals) {
  const names = intervals.map((iv) => sqlStr(iv.name)).join(', ');
  const bars = join(dir, 'bars.csv');
  const late = join(dir, 'late.csv');
  for (const f of [bars, late]) if (!existsSync(f)) throw new Error(`tickpipe wrote no ${f}`);
  await db.run(`CREATE TABLE tp_bars AS SELECT instrument, interval, ts,
      CAST(open AS DOUBLE) AS open, CAST(high AS DOUBLE) AS high, CAST(low AS DOUBLE) AS low,
      CAST(close AS DOUBLE) AS close, CAST(volume AS DOUBLE) AS volume,
      CAST(notional AS DOUBLE) AS notional, CAST(nullif(vwap, '') AS DOUBLE) AS vwap,
      CAST(trades AS BIGINT) AS trades, CAST(buy_volume AS DOUBLE) AS buy_volume,
      CAST(sell_volume AS DOUBLE) AS sell_volume
      FROM read_csv(${sqlStr(bars)}, header = true, all_varchar = true, delim = ',', quote = '"')
      WHERE interval IN (${names})`);
  await db.run(`CREATE TABLE tp_late AS SELECT instrument, trade_id, interval
      FROM read_csv(${sqlStr(late)}, header = true, all_varchar = true, delim = ',', quote = '"')
      WHERE interval IN (${names})`);
}

const relBad = (a, b) =>
  `(${a} IS DISTINCT FROM ${b} AND (${a} IS NULL OR ${b} IS NULL OR
    abs(${a} - ${b}) > ${REL_TOL} * greatest(abs(${a}), abs(${b}))))`;

// Compares dk_* with tp_*; returns a list of failure descriptions (empty: all agree).
async function compare(db, intervals, sidecar) {
  const fails = [];
  const report = [];
  for (const iv of intervals) {
    const c = await db.one(`SELECT
        (SELECT count(*) FROM dk_bars WHERE interval = ${sqlStr(iv.name)}) AS dk,
        (SELECT count(*) FROM tp_bars WHERE interval = ${sqlStr(iv.name)}) AS tp,
        (SELECT count(*) FROM dk_late WHERE interval = ${sqlStr(iv.name)}) AS dk_late,
        (SELECT count(*) FROM tp_late WHERE interval = ${sqlStr(iv.name)}) AS tp_late`);
    const sc = sidecar?.late?.[iv.name];
    report.push(`  ${iv.name}: bars duckdb ${c.dk} tickpipe ${c.tp}; late rows duckdb ${c.dk_late}` +
                ` tickpipe ${c.tp_late}` + (sc !== undefined ? ` generator ${sc}` : ''));
    if (c.dk !== c.tp) fails.push(`${iv.name}: bar count differs: duckdb ${c.dk}, tickpipe ${c.tp}`);
    if (c.dk_late !== c.tp_late)
      fails.push(`${iv.name}: late count differs: duckdb ${c.dk_late}, tickpipe ${c.tp_late}`);
    if (sc !== undefined && BigInt(sc) !== c.dk_late)
      fails.push(`${iv.name}: late count differs: duckdb ${c.dk_late}, generator sidecar ${sc}`);
  }
  const keyOnly = await db.rows(`SELECT coalesce(d.instrument, t.instrument) AS instrument,
      coalesce(d.interval, t.interval) AS interval, coalesce(d.ts, t.ts) AS ts,
      CASE WHEN d.ts IS NULL THEN 'only tickpipe' ELSE 'only duckdb' END AS side
      FROM dk_bars d FULL OUTER JOIN tp_bars t USING (instrument, interval, ts)
      WHERE d.ts IS NULL OR t.ts IS NULL ORDER BY 3, 1, 2`);
  if (keyOnly.length)
    fails.push(`${keyOnly.length} bar keys in one side only, e.g.\n` +
               keyOnly.slice(0, 10).map((r) => '    ' + json(r)).join('\n'));
  const dupKeys = await db.one(`SELECT count(*) AS n FROM (SELECT instrument, interval, ts
      FROM tp_bars GROUP BY ALL HAVING count(*) > 1)`);
  if (dupKeys.n > 0n) fails.push(`tickpipe wrote ${dupKeys.n} bar keys more than once`);

  const exact = ['open', 'high', 'low', 'close', 'trades'];
  const approx = ['volume', 'notional', 'vwap', 'buy_volume', 'sell_volume'];
  const conds = [...exact.map((c) => `d.${c} IS DISTINCT FROM t.${c}`),
                 ...approx.map((c) => relBad(`d.${c}`, `t.${c}`))];
  const cols = [...exact, ...approx].map((c) => `d.${c} AS dk_${c}, t.${c} AS tp_${c}`).join(', ');
  const total = await db.one(`SELECT count(*) AS n FROM dk_bars d JOIN tp_bars t
      USING (instrument, interval, ts)`);
  for (const [i, cond] of conds.entries()) {
    const col = [...exact, ...approx][i];
    const bad = await db.rows(`SELECT instrument, interval, ts, d.${col} AS duckdb,
        t.${col} AS tickpipe FROM dk_bars d JOIN tp_bars t USING (instrument, interval, ts)
        WHERE ${cond} ORDER BY ts, instrument, interval`);
    if (bad.length)
      fails.push(`${bad.length} of ${total.n} bars differ in ${col}, e.g.\n` +
                 bad.slice(0, 8).map((r) => '    ' + json(r)).join('\n'));
  }
  if (fails.length) {
    const full = await db.rows(`SELECT instrument, interval, ts, ${cols} FROM dk_bars d
        JOIN tp_bars t USING (instrument, interval, ts) WHERE ${conds.join(' OR ')}
        ORDER BY ts LIMIT 2`);
    for (const r of full) fails.push(`  first differing bar in full: ${json(r)}`);
  }
  const lateDiff = await db.rows(`
      (SELECT 'only duckdb' AS side, * FROM (SELECT instrument, trade_id, interval FROM dk_late
        EXCEPT ALL SELECT instrument, trade_id, interval FROM tp_late))
      UNION ALL
      (SELECT 'only tickpipe' AS side, * FROM (SELECT instrument, trade_id, interval FROM tp_late
        EXCEPT ALL SELECT instrument, trade_id, interval FROM dk_late))
      ORDER BY side, interval, instrument, trade_id LIMIT 10`);
  if (lateDiff.length)
    fails.push(`late rows differ, e.g.\n` + lateDiff.map((r) => '    ' + json(r)).join('\n'));
  return { fails, report, compared: total.n };
}

function parseIntervals(s) {
  return s.split(',').map((name) => ({ name, ns: durationNs(name) }));
}

async function selftest() {
  // A case small enough to compute by hand (DESIGN.md §3, lateness 2 s, ms timestamps):
  // A: ties at +1000 (close is the later row), an out-of-order row inside the lateness, a
  // re-emitted row, two rows late for 1m but not for 5m; B: a duplicate id with another price.
  const T = 1704067200000n;
  const rows = [
    [0, 'A', '10', '1', 'buy', '1'], [1000, 'A', '12', '2', 'sell', '2'],
    [1000, 'A', '11', '1', 'buy', '3'], [500, 'A', '9', '1', 'buy', '4'],
    [1000, 'A', '12', '2', 'sell', '2'], [61000, 'A', '20', '1', 'buy', '5'],
    [62500, 'A', '21', '1', 'buy', '6'], [59000, 'A', '8', '3', 'sell', '7'],
    [30000, 'A', '7', '1', 'buy', '8'], [5000, 'B', '100', '1', 'buy', '1'],
    [5000, 'B', '101', '1', 'buy', '1'],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'tp_bars_sql_'));
  try {
    const csv = join(dir, 't.csv');
    writeFileSync(csv, 'ts,instrument,price,size,side,trade_id\n' +
      rows.map((r) => [String(T + BigInt(r[0])), ...r.slice(1)].join(',')).join('\n') + '\n');
    const db = await Db.open();
    await loadTrades(db, csv, 1000000n, 2000000000n);
    await checkOrder(db, csv, 1000000n);
    await computeBars(db, parseIntervals('1m,5m'));
    const got = await db.rows(`SELECT instrument, interval, ts, open, high, low, close, volume,
        trades, round(vwap, 9) AS vwap, buy_volume FROM dk_bars ORDER BY interval, instrument, ws`);
    const late = await db.rows(`SELECT instrument, trade_id, interval FROM dk_late ORDER BY rn`);
    db.close();
    const t0 = '2024-01-01T00:00:00.000000000Z', t1 = '2024-01-01T00:01:00.000000000Z';
    const want = [
      { instrument: 'A', interval: '1m', ts: t0, open: 10, high: 12, low: 9, close: 11, volume: 5, trades: 4n, vwap: 10.8, buy_volume: 3 },
      { instrument: 'A', interval: '1m', ts: t1, open: 20, high: 21, low: 20, close: 21, volume: 2, trades: 2n, vwap: 20.5, buy_volume: 2 },
      { instrument: 'B', interval: '1m', ts: t0, open: 100, high: 100, low: 100, close: 100, volume: 1, trades: 1n, vwap: 100, buy_volume: 1 },
      { instrument: 'A', interval: '5m', ts: t0, open: 10, high: 21, low: 7, close: 21, volume: 11, trades: 8n, vwap: 11.454545455, buy_volume: 6 },
      { instrument: 'B', interval: '5m', ts: t0, open: 100, high: 100, low: 100, close: 100, volume: 1, trades: 1n, vwap: 100, buy_volume: 1 },
    ];
    const wantLate = [{ instrument: 'A', trade_id: '7', interval: '1m' },
                      { instrument: 'A', trade_id: '8', interval: '1m' }];
    if (json(got) !== json(want) || json(late) !== json(wantLate)) {
      console.error(`bars_sql selftest FAILED\n got  ${json(got)}\n want ${json(want)}\n` +
                    ` late ${json(late)}\n want ${json(wantLate)}`);
      return 1;
    }
    console.log('bars_sql selftest: ok (the SQL rules give the hand-computed bars and late rows)');
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  let a;
  try {
    a = parseArgs(process.argv);
  } catch (e) {
    console.error(`bars_sql: ${e.message}`);
    return 2;
  }
  if (a.selftest) return selftest();
  if (!a.csv || !a.out) {
    console.error('usage: node bars_sql.mjs --csv FILE --out DIR [--intervals 1m,5m] ' +
                  '[--lateness 2s] [--ts-unit ms] [--sidecar FILE.json] | --selftest');
    return 2;
  }
  const sidecar = a.sidecar ? JSON.parse(readFileSync(a.sidecar, 'utf8')) : null;
  const unit = a.tsUnit ?? sidecar?.ts_unit ?? 'ms';
  const unitNs = UNIT_NS[unit];
  if (!unitNs) throw new Error(`bad ts unit ${unit}`);
  const latenessNs = durationNs(a.lateness);
  if (sidecar && BigInt(sidecar.lateness_ns) !== latenessNs)
    console.log(`note: the generator counted late rows for lateness ${sidecar.lateness}, ` +
                `the check uses ${a.lateness}: sidecar late counts are not compared`);
  const sideLate = sidecar && BigInt(sidecar.lateness_ns) === latenessNs ? sidecar : null;
  const intervals = parseIntervals(a.intervals);

  const t0 = Date.now();
  const db = await Db.open();
  const threads = (await db.one(`SELECT current_setting('threads') AS t`)).t;
  await loadTrades(db, a.csv, unitNs, latenessNs);
  const sampled = await checkOrder(db, a.csv, unitNs);
  await computeBars(db, intervals);
  await loadTickpipe(db, a.out, intervals);
  const s = await db.one(`SELECT count(*) AS rows, count(*) FILTER (WHERE dup) AS dups,
      count(DISTINCT instrument) AS instruments FROM trades`);
  const { fails, report, compared } = await compare(db, intervals, sideLate);
  db.close();
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`bars_sql: ${s.rows} rows (${s.dups} duplicates) over ${s.instruments} instruments;` +
              ` file order checked on ${sampled} sampled rows; DuckDB ${threads} threads, ${secs} s`);
  if (sidecar && BigInt(sidecar.duplicates) !== s.dups)
    fails.push(`duplicates: duckdb ${s.dups}, generator sidecar ${sidecar.duplicates}`);
  for (const l of report) console.log(l);
  if (fails.length) {
    console.error(`bars_sql: MISMATCH between tickpipe and DuckDB (${fails.length} problems):`);
    for (const f of fails) console.error(`- ${f}`);
    return 1;
  }
  console.log(`bars_sql: all ${compared} bars agree (OHLC and trades exact, volume/notional/vwap ` +
              `within ${REL_TOL} relative); late rows agree`);
  return 0;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(`bars_sql: error: ${e.stack ?? e}`);
  process.exit(2);
});
