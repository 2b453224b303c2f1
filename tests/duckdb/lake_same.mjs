// lake_same.mjs — DuckDB check that two tickpipe lakes hold the same rows: for every table
// (ticks, bars, anomalies, late, gaps), read_parquet('LAKE/TABLE/**/*.parquet',
// hive_partitioning=true) of both lakes are equal as multisets of whole rows (partition
// columns included). A row written twice, or missing, is a difference.
//
//   node lake_same.mjs --ref DIR --lake DIR
//
// Prints a line per table; exit 0 when the lakes agree, 1 on a difference, 2 on a usage error.
import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.ref || !args.lake) {
  console.error('usage: node lake_same.mjs --ref DIR --lake DIR');
  process.exit(2);
}

function hasParquet(dir) {
  if (!existsSync(dir)) return false;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory() ? hasParquet(p) : name.endsWith('.parquet')) return true;
  }
  return false;
}

const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await inst.connect();
await con.run(`SET TimeZone = 'UTC'`);
const one = async (sql) => (await con.runAndReadAll(sql)).getRows()[0][0];
const lit = (s) => `'${s.replaceAll("'", "''")}'`;
let bad = 0;
for (const t of ['ticks', 'bars', 'anomalies', 'late', 'gaps']) {
  const a = join(args.ref, t), b = join(args.lake, t);
  const ha = hasParquet(a), hb = hasParquet(b);
  if (!ha && !hb) {
    console.log(`${t}: none in either lake`);
    continue;
  }
  if (ha !== hb) {
    console.error(`MISMATCH: ${t}: only in ${ha ? 'the reference' : 'the lake'}`);
    bad++;
    continue;
  }
  const src = (d) => `read_parquet(${lit(d + '/**/*.parquet')}, hive_partitioning = true)`;
  const n = Number(await one(`SELECT count(*) FROM ${src(a)}`));
  const m = Number(await one(`SELECT count(*) FROM ${src(b)}`));
  const missing = Number(await one(`SELECT count(*) FROM (SELECT * FROM ${src(a)} EXCEPT ALL SELECT * FROM ${src(b)})`));
  const extra = Number(await one(`SELECT count(*) FROM (SELECT * FROM ${src(b)} EXCEPT ALL SELECT * FROM ${src(a)})`));
  if (missing || extra || n !== m) {
    console.error(`MISMATCH: ${t}: ${n} rows in the reference, ${m} in the lake: ${missing} missing, ${extra} extra`);
    bad++;
  } else {
    console.log(`${t}: ${m} rows, each once, equal to the reference`);
  }
}
process.exit(bad ? 1 : 0);
