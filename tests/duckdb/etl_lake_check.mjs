// etl_lake_check.mjs — DuckDB recomputes the lake summaries of `tickpipe etl` from the
// original seed-style CSV (tickpipe gen --dataset minute-2024: id,timestamp,stock_price,
// sales_trend) and compares them with LAKE/summary/**/*.parquet.
//
//   node etl_lake_check.mjs --csv FILE --lake DIR --instrument NAME --spec 10m:price,20m:value
//
// For each spec INTERVAL:FIELD (price = stock_price, value = sales_trend; intervals in m or h)
// DuckDB groups the CSV's rows by epoch-aligned window start and computes avg, min, max, first
// (arg_min by time), last (arg_max by time) and count. Every key must be in both, once; min,
// max, first, last and count equal exactly, avg within 1e-12 relative (a sum's last bit
// depends on the order its terms are added in). Prints the row count; exit 0 when equal, 1 on
// a difference (with examples), 2 on a usage error.
import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.csv || !args.lake || !args.instrument || !args.spec) {
  console.error('usage: etl_lake_check.mjs --csv FILE --lake DIR --instrument NAME --spec 10m:price,...');
  process.exit(2);
}
const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await inst.connect();
await con.run(`SET TimeZone = 'UTC'`);
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();
const lit = (s) => `'${s.replaceAll("'", "''")}'`;
const column = { price: 'stock_price', value: 'sales_trend' };
const unit = { s: 1e6, m: 60e6, h: 3600e6, d: 86400e6 };

await con.run(`CREATE TABLE src AS SELECT epoch_us(CAST("timestamp" AS TIMESTAMP)) AS us,
  CAST(stock_price AS DOUBLE) AS stock_price, CAST(sales_trend AS DOUBLE) AS sales_trend
  FROM read_csv(${lit(args.csv)}, header=true, all_varchar=true)`);
const parts = [];
for (const spec of args.spec.split(',')) {
  const m = /^(\d+)([smhd]):(price|value)$/.exec(spec);
  if (!m) { console.error(`bad spec ${spec}`); process.exit(2); }
  const iv = BigInt(Number(m[1]) * unit[m[2]]);
  const col = column[m[3]];
  parts.push(`SELECT ${lit(args.instrument)} AS instrument, ${lit(m[3])} AS field, ${lit(m[1] + m[2])} AS "interval",
      (us // ${iv}) * ${iv} AS ts, avg(${col}) AS "avg", min(${col}) AS "min", max(${col}) AS "max",
      arg_min(${col}, us) AS "first", arg_max(${col}, us) AS "last", count(${col}) AS "count"
    FROM src WHERE ${col} IS NOT NULL GROUP BY ts`);
}
await con.run(`CREATE TABLE want AS ${parts.join(' UNION ALL ')}`);
await con.run(`CREATE TABLE got AS SELECT instrument, field, "interval", epoch_us(ts) AS ts, "avg", "min",
  "max", "first", "last", "count" FROM read_parquet(${lit(join(args.lake, 'summary', '**', '*.parquet'))},
  hive_partitioning = false)`);

const n = (sql) => rows(sql).then((r) => Number(Object.values(r[0])[0]));
const nwant = await n('SELECT count(*) FROM want');
const ngot = await n('SELECT count(*) FROM got');
const dup = await n(`SELECT count(*) FROM (SELECT instrument, field, "interval", ts FROM got GROUP BY ALL HAVING count(*) > 1)`);
const diff = await rows(`SELECT w.instrument AS wi, g.instrument AS gi, coalesce(w.field, g.field) AS field,
    coalesce(w."interval", g."interval") AS iv, coalesce(w.ts, g.ts) AS ts,
    w."avg" AS want_avg, g."avg" AS got_avg, w."min" AS want_min, g."min" AS got_min,
    w."max" AS want_max, g."max" AS got_max, w."first" AS want_first, g."first" AS got_first,
    w."last" AS want_last, g."last" AS got_last, w."count" AS want_count, g."count" AS got_count
  FROM want w FULL JOIN got g USING (instrument, field, "interval", ts)
  WHERE w.instrument IS NULL OR g.instrument IS NULL
     OR w."min" <> g."min" OR w."max" <> g."max" OR w."first" <> g."first" OR w."last" <> g."last"
     OR w."count" <> g."count" OR abs(w."avg" - g."avg") > 1e-12 * abs(w."avg")
  ORDER BY 3, 4, 5 LIMIT 5`);
const show = (r) => JSON.stringify(r, (k, v) => (typeof v === 'bigint' ? String(v) : v));
if (nwant === 0 || nwant !== ngot || dup || diff.length) {
  console.error(`MISMATCH: DuckDB ${nwant} summaries, the lake ${ngot} (${dup} duplicated keys)`);
  for (const r of diff) console.error('  ', show(r));
  process.exit(1);
}
const byspec = await rows(`SELECT field, "interval", count(*) AS n FROM got GROUP BY ALL ORDER BY ALL`);
console.log(`${ngot} summaries equal to DuckDB's (${byspec.map((r) => `${r.interval}:${r.field} ${r.n}`).join(', ')})`);
