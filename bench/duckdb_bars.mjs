// duckdb_bars.mjs — the DuckDB side of bench/replay_vs_duckdb.sh: 1m OHLCV + VWAP bars of a
// trades CSV (ts,instrument,price,size,side,trade_id; ts epoch in --ts-unit) as one plain
// GROUP BY, in DuckDB's normal multi-threaded execution, written to a CSV file as tickpipe
// writes its bars. Each run uses a fresh in-memory database (nothing cached but the OS's
// page cache, as for tickpipe). Prints one line per run: "run N: S seconds, C cpu" (C: user +
// system seconds of all the process's threads), then "threads T".
//
//   node bench/duckdb_bars.mjs CSV OUTDIR [RUNS] [TS_UNIT]
import { createRequire } from 'node:module';

// @duckdb/node-api is installed under tests/ (tests/package.json; make node-deps).
const require = createRequire(new URL('../tests/package.json', import.meta.url));
const { DuckDBInstance } = require('@duckdb/node-api');

const [csv, outDir, runsArg = '3', unit = 'ms'] = process.argv.slice(2);
if (!csv || !outDir) {
  console.error('usage: node duckdb_bars.mjs CSV OUTDIR [RUNS] [TS_UNIT]');
  process.exit(2);
}
const perMinute = { s: 60n, ms: 60000n, us: 60000000n, ns: 60000000000n }[unit];
const q = (s) => `'${s.replaceAll("'", "''")}'`;

let threads = '?';
for (let i = 1; i <= Number(runsArg); i++) {
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  threads = (await c.runAndReadAll(`SELECT current_setting('threads') AS t`)).getRowObjects()[0].t;
  await c.run(`COPY (
      SELECT instrument, (ts // ${perMinute}) * ${perMinute} AS ts,
             arg_min(price, ts) AS open, max(price) AS high, min(price) AS low,
             arg_max(price, ts) AS close, sum(size) AS volume, sum(price * size) AS notional,
             sum(price * size) / sum(size) AS vwap, count(*) AS trades
      FROM read_csv(${q(csv)}, header = true, delim = ',',
           columns = {'ts': 'BIGINT', 'instrument': 'VARCHAR', 'price': 'DOUBLE',
                      'size': 'DOUBLE', 'side': 'VARCHAR', 'trade_id': 'BIGINT'})
      GROUP BY ALL) TO ${q(`${outDir}/duckdb_bars_${i}.csv`)} (HEADER)`);
  c.closeSync?.();
  inst.closeSync?.();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6; // every thread of the process
  console.log(`run ${i}: ${secs.toFixed(3)} seconds, ${cpuSecs.toFixed(3)} cpu`);
}
console.log(`threads ${threads}`);
