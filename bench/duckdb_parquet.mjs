// duckdb_parquet.mjs — the DuckDB side of bench/parquet_vs_duckdb.sh: loads the ticks from a
// Parquet file into an in-memory table (not timed), then times DuckDB writing that table with
// COPY ... (FORMAT parquet, COMPRESSION zstd), RUNS times, with `threads` threads.
//
//   node duckdb_parquet.mjs SOURCE.parquet OUTDIR RUNS THREADS
//
// Prints "threads N", then "run i seconds S cpu C bytes B" per run (S wall, C the process's
// CPU time, DuckDB's threads included), and "rows N".
import { createRequire } from 'node:module';
import { statSync, rmSync } from 'node:fs';
import { join } from 'node:path';

// @duckdb/node-api is installed under tests/ (tests/package.json; make node-deps).
const require = createRequire(new URL('../tests/package.json', import.meta.url));
const { DuckDBInstance } = require('@duckdb/node-api');

const [src, outdir, runsArg, threadsArg] = process.argv.slice(2);
if (!src || !outdir) {
  console.error('usage: node duckdb_parquet.mjs SOURCE.parquet OUTDIR RUNS THREADS');
  process.exit(2);
}
const runs = Number(runsArg || 3), threads = Number(threadsArg || 1);
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
await con.run(`SET threads = ${threads}`);
await con.run(`SET preserve_insertion_order = true`);
await con.run(`CREATE TABLE ticks AS SELECT * FROM read_parquet('${src}')`);
const n = (await con.runAndReadAll('SELECT count(*) AS n FROM ticks')).getRowObjects()[0].n;
console.log(`threads ${threads}`);
for (let i = 1; i <= runs; i++) {
  const out = join(outdir, `duckdb_${i}.parquet`);
  const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
  await con.run(`COPY ticks TO '${out}' (FORMAT parquet, COMPRESSION zstd)`);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cu = process.cpuUsage(c0), cpu = (cu.user + cu.system) / 1e6;
  console.log(`run ${i} seconds ${secs.toFixed(3)} cpu ${cpu.toFixed(3)} bytes ${statSync(out).size}`);
  if (i < runs) rmSync(out);
}
console.log(`rows ${n}`);
