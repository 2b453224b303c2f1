// lake_replay_check.mjs — DuckDB compares two ways of writing the same tables.
//
//   node lake_replay_check.mjs csv-vs-lake --csv DIR --lake DIR
//       `replay --format csv` outputs (bars.csv, anomalies.csv, late.csv) against the lake of
//       `replay --format parquet` over the same input: every row and column equal (times at
//       microseconds, as the lake keeps them besides the exact ts_ns of late rows).
//   node lake_replay_check.mjs ticks-vs-csv --input FILE --lake DIR
//       the lake's ticks equal the rows of a `ts,instrument,price,size,side,trade_id` CSV with
//       epoch-millisecond times (tickpipe gen's format), duplicates included.
//   node lake_replay_check.mjs lake-vs-lake --lake DIR --lake2 DIR [--tables t1,t2]
//       the two lakes hold the same rows in every table (or those named).
//   node lake_replay_check.mjs write-sorted --input FILE --out-csv F --out-parquet F
//       writes the CSV's rows sorted by time as a CSV and as a Parquet file of DuckDB's own
//       (ts TIMESTAMP, instrument, price, size, side, trade_id BIGINT).
// Exit 0 when equal, 1 on a difference (with examples), 2 on a usage error.
import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';

const mode = process.argv[2];
const args = {};
for (let i = 3; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await inst.connect();
await con.run(`SET TimeZone = 'UTC'`);
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();
const lit = (s) => `'${s.replaceAll("'", "''")}'`;
const glob = (dir, t) => `read_parquet(${lit(join(dir, t, '**', '*.parquet'))}, hive_partitioning=false)`;
let failures = 0;

// Rows of a in b's complement, both ways.
async function same(name, a, b) {
  const na = Number((await rows(`SELECT count(*) AS n FROM (${a})`))[0].n);
  const nb = Number((await rows(`SELECT count(*) AS n FROM (${b})`))[0].n);
  const ab = await rows(`SELECT * FROM ((${a}) EXCEPT ALL (${b})) LIMIT 3`);
  const ba = await rows(`SELECT * FROM ((${b}) EXCEPT ALL (${a})) LIMIT 3`);
  if (na !== nb || ab.length || ba.length) {
    failures++;
    console.error(`MISMATCH ${name}: ${na} vs ${nb} rows`);
    for (const r of ab) console.error('  only in the first: ', JSON.stringify(r, (k, v) => (typeof v === 'bigint' ? String(v) : v)));
    for (const r of ba) console.error('  only in the second:', JSON.stringify(r, (k, v) => (typeof v === 'bigint' ? String(v) : v)));
  }
  return na;
}

const csv = (f) => `read_csv(${lit(f)}, header=true, all_varchar=true)`;
const usOf = (c) => `epoch_us(CAST(left(${c}, 26) AS TIMESTAMP))`; // RFC 3339, 9 digits
const dbl = (c) => `CAST(NULLIF(${c}, '') AS DOUBLE)`;
const BARD = ['open', 'high', 'low', 'close', 'volume', 'notional', 'vwap'];
const IND = ['sma_20', 'ema_20', 'bb_upper', 'bb_middle', 'bb_lower', 'rsi_14', 'macd', 'macd_signal',
  'macd_hist', 'atr_14', 'volatility_20'];
const EXTRA = ['bid', 'ask', 'bid_size', 'ask_size', 'open', 'high', 'low', 'change', 'value'];

if (mode === 'csv-vs-lake') {
  const c = args.csv, l = args.lake;
  const nb = await same('bars',
    `SELECT instrument, "interval", ${usOf('ts')} AS ts, ${BARD.map(dbl).join(', ')}, CAST(trades AS BIGINT),
       ${dbl('buy_volume')}, ${dbl('sell_volume')}, ${usOf('first_ts')}, ${usOf('last_ts')}, ${IND.map(dbl).join(', ')}
     FROM ${csv(join(c, 'bars.csv'))}`,
    `SELECT instrument, "interval", epoch_us(ts), ${BARD.join(', ')}, trades, buy_volume, sell_volume,
       epoch_us(first_ts), epoch_us(last_ts), ${IND.join(', ')} FROM ${glob(l, 'bars')}`);
  const na = await same('anomalies',
    `SELECT instrument, ${usOf('ts')}, kind, ${dbl('observed')}, ${dbl('expected')}, ${dbl('score')}, NULLIF("interval", '')
     FROM ${csv(join(c, 'anomalies.csv'))}`,
    `SELECT instrument, epoch_us(ts), kind, observed, expected, score, "interval" FROM ${glob(l, 'anomalies')}`);
  const nl = await same('late',
    `SELECT CAST(ts_ns AS BIGINT), ${usOf('ts_recv')}, instrument, NULLIF(venue_symbol, ''), kind, ${dbl('price')},
       ${dbl('size')}, NULLIF(side, ''), NULLIF(trade_id, ''), ${EXTRA.map(dbl).join(', ')}, "interval"
     FROM ${csv(join(c, 'late.csv'))}`,
    `SELECT ts_ns, epoch_us(ts_recv), instrument, venue_symbol, kind, price, size, side, trade_id,
       ${EXTRA.join(', ')}, "interval" FROM ${glob(l, 'late')}`);
  console.log(`lake_replay_check: csv vs lake: ${nb} bars, ${na} anomalies, ${nl} late rows`);
} else if (mode === 'ticks-vs-csv') {
  const n = await same('ticks',
    `SELECT CAST(ts AS BIGINT) * 1000000 AS ts_ns, instrument, CAST(price AS DOUBLE), CAST(size AS DOUBLE),
       NULLIF(side, ''), NULLIF(trade_id, '') FROM ${csv(args.input)}`,
    `SELECT ts_ns, instrument, price, size, side, trade_id FROM ${glob(args.lake, 'ticks')}`);
  const bad = await rows(`SELECT count(*) AS n FROM ${glob(args.lake, 'ticks')}
     WHERE epoch_us(ts) <> ts_ns // 1000 OR kind <> 'trade'`);
  if (Number(bad[0].n)) {
    failures++;
    console.error(`MISMATCH ticks: ${bad[0].n} rows with ts <> ts_ns or another kind`);
  }
  console.log(`lake_replay_check: ${n} ticks equal to the CSV's rows`);
} else if (mode === 'lake-vs-lake') {
  const out = [];
  for (const t of (args.tables || 'ticks,bars,anomalies,late,gaps').split(',')) {
    const has = async (d) => Number((await rows(`SELECT count(*) AS n FROM glob(${lit(join(d, t, '**', '*.parquet'))})`))[0].n) > 0;
    const [h1, h2] = [await has(args.lake), await has(args.lake2)];
    if (h1 !== h2) {
      failures++;
      console.error(`MISMATCH ${t}: files in only one lake`);
    } else if (h1) out.push(`${t} ${await same(t, `SELECT * FROM ${glob(args.lake, t)}`, `SELECT * FROM ${glob(args.lake2, t)}`)}`);
  }
  console.log(`lake_replay_check: lakes equal: ${out.join(', ')}`);
} else if (mode === 'write-sorted') {
  const src = `SELECT CAST(ts AS BIGINT) AS ts, instrument, CAST(price AS DOUBLE) AS price, CAST(size AS DOUBLE) AS size,
      side, CAST(trade_id AS BIGINT) AS trade_id FROM ${csv(args.input)} ORDER BY ts, instrument, trade_id`;
  await con.run(`COPY (${src}) TO ${lit(args['out-csv'])} (HEADER)`);
  await con.run(`COPY (SELECT make_timestamp(ts * 1000) AS ts, * EXCLUDE (ts) FROM (${src}))
      TO ${lit(args['out-parquet'])} (FORMAT parquet, COMPRESSION zstd)`);
  console.log('lake_replay_check: wrote the sorted CSV and Parquet');
} else {
  console.error('usage: node lake_replay_check.mjs csv-vs-lake|ticks-vs-csv|lake-vs-lake|write-sorted ...');
  process.exit(2);
}
process.exit(failures ? 1 : 0);
