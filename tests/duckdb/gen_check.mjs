// gen_check.mjs — `tickpipe gen --format parquet` against `--format csv` of the same seed,
// read independently by DuckDB.
//
//   node gen_check.mjs --dataset minute-2024|trades --csv FILE --parquet FILE [--unit ms]
//
// Both files are loaded in file order (one thread, insertion order preserved; rowid = row
// position) and compared row by row: the same number of rows and, at every position, the
// same values — ids and trade ids as integers, times as epoch integers (the CSV's text
// timestamp or epoch number against the Parquet TIMESTAMP, and for trades against ts_ns), prices, sizes and sales as
// doubles bit for bit (DuckDB's parse of the CSV's decimal text against the stored double),
// instrument and side as text. Also checked: the Parquet column types DuckDB reports (UTC
// timestamps are TIMESTAMP WITH TIME ZONE), the timestamp unit in parquet_schema(), and the
// key-value metadata naming the dataset. Exit 0 when all agree, 1 on a mismatch, 2 on usage.
import { DuckDBInstance } from '@duckdb/node-api';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.dataset || !args.csv || !args.parquet) {
  console.error('usage: node gen_check.mjs --dataset minute-2024|trades --csv F --parquet F [--unit ms]');
  process.exit(2);
}
const unit = args.unit || 'ms';
const lit = (s) => `'${s.replaceAll("'", "''")}'`;

let failures = 0;
function fail(msg) {
  failures++;
  if (failures <= 20) console.error(`MISMATCH: ${msg}`);
}

const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
await con.run(`SET TimeZone = 'UTC'`);
await con.run(`SET preserve_insertion_order = true`);
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();

let csvCols, cmp, wantTypes, tsKind;
if (args.dataset === 'minute-2024') {
  csvCols = `{'id': 'BIGINT', 'timestamp': 'TIMESTAMP', 'stock_price': 'DOUBLE', 'sales_trend': 'DOUBLE'}`;
  // the CSV's zoneless text is UTC (docs/gen.md)
  cmp = [['id', 'c.id', 'p.id'],
    ['timestamp', 'epoch_us(c.timestamp)', 'epoch_us(p.timestamp)'],
    ['stock_price', 'c.stock_price', 'p.stock_price'],
    ['sales_trend', 'c.sales_trend', 'p.sales_trend']];
  wantTypes = { id: 'BIGINT', timestamp: 'TIMESTAMP WITH TIME ZONE', stock_price: 'DOUBLE', sales_trend: 'DOUBLE' };
  tsKind = ['timestamp', 'MICROS'];
} else if (args.dataset === 'trades') {
  csvCols = `{'ts': 'BIGINT', 'instrument': 'VARCHAR', 'price': 'DOUBLE', 'size': 'DOUBLE', 'side': 'VARCHAR', 'trade_id': 'BIGINT'}`;
  // Parquet has the lake's ts TIMESTAMP(MICROS) and the exact ts_ns; the CSV an epoch number
  const ns = { s: 1000000000n, ms: 1000000n, us: 1000n, ns: 1n }[unit];
  if (!ns) { console.error(`bad --unit ${unit}`); process.exit(2); }
  cmp = [['ts_ns', `c.ts::HUGEINT * ${ns}`, 'p.ts_ns'],
    ['ts', `(c.ts::HUGEINT * ${ns} // 1000)::BIGINT`, 'epoch_us(p.ts)'],
    ['instrument', 'c.instrument', 'p.instrument'],
    ['price', 'c.price', 'p.price'], ['size', 'c.size', 'p.size'],
    ['side', 'c.side', 'p.side'], ['trade_id', 'c.trade_id', 'p.trade_id']];
  wantTypes = { ts: 'TIMESTAMP WITH TIME ZONE', ts_ns: 'BIGINT', instrument: 'VARCHAR', price: 'DOUBLE', size: 'DOUBLE', side: 'VARCHAR', trade_id: 'BIGINT' };
  tsKind = ['ts', 'MICROS'];
} else {
  console.error(`unknown dataset ${args.dataset}`);
  process.exit(2);
}

await con.run(`CREATE TABLE c AS SELECT * FROM read_csv(${lit(args.csv)}, header = true, columns = ${csvCols})`);
await con.run(`CREATE TABLE p AS SELECT * FROM read_parquet(${lit(args.parquet)})`);

const nc = Number((await rows(`SELECT count(*) AS n FROM c`))[0].n);
const np = Number((await rows(`SELECT count(*) AS n FROM p`))[0].n);
if (nc !== np) fail(`rows: csv ${nc}, parquet ${np}`);
if (nc === 0) fail('no rows');

// types DuckDB gives the Parquet columns
const desc = await rows(`DESCRIBE p`);
for (const d of desc) {
  if (wantTypes[d.column_name] !== d.column_type) fail(`type of ${d.column_name}: ${d.column_type}, want ${wantTypes[d.column_name]}`);
}
if (desc.length !== Object.keys(wantTypes).length) fail(`columns: ${desc.map((d) => d.column_name)}`);
const sch = await rows(`SELECT name, logical_type FROM parquet_schema(${lit(args.parquet)}) WHERE name = ${lit(tsKind[0])}`);
// e.g. TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), ...))
const unitSet = new RegExp(`${tsKind[1]}=(?!<null>)`);
if (sch.length !== 1 || !unitSet.test(String(sch[0].logical_type)) || !String(sch[0].logical_type).includes('isAdjustedToUTC=1'))
  fail(`timestamp logical type: ${JSON.stringify(sch)}`);
const kv = await rows(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${lit(args.parquet)})`);
if (!kv.some((r) => r.k === 'tickpipe.dataset' && r.v === args.dataset)) fail(`kv metadata: ${JSON.stringify(kv)}`);

// row by row, in file order
const diff = cmp.map(([n, a, b]) => `(${a}) IS DISTINCT FROM (${b})`).join(' OR ');
const sel = cmp.map(([n, a, b]) => `${a} AS csv_${n}, ${b} AS pq_${n}`).join(', ');
const bad = await rows(`WITH c AS (SELECT rowid AS rn, * FROM c), p AS (SELECT rowid AS rn, * FROM p)
  SELECT c.rn, ${sel} FROM c JOIN p USING (rn) WHERE ${diff} ORDER BY c.rn LIMIT 5`);
for (const b of bad) fail(`row ${b.rn}: ${JSON.stringify(b, (k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
const nbad = Number((await rows(`WITH c AS (SELECT rowid AS rn, * FROM c), p AS (SELECT rowid AS rn, * FROM p)
  SELECT count(*) AS n FROM c JOIN p USING (rn) WHERE ${diff}`))[0].n);
if (nbad) fail(`${nbad} rows differ`);
// the first CSV row is what the file's text says (guards against both loads agreeing on garbage)
const first = (await rows(`SELECT * FROM c WHERE rowid = 0`))[0];
if (args.dataset === 'minute-2024' && (Number(first.id) !== 1 || first.stock_price !== 100))
  fail(`first minute row: ${JSON.stringify(first, (k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);

if (failures) {
  console.error(`gen_check ${args.dataset}: ${failures} mismatches`);
  process.exit(1);
}
console.log(`gen_check ${args.dataset}: ${nc} rows agree`);
