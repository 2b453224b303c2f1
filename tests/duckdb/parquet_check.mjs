// parquet_check.mjs — tickpipe's Parquet writer and reader against DuckDB, both ways.
//
//   node parquet_check.mjs --tool BUILD/pq_tool --dir SCRATCH
//
// 1. tickpipe writes, DuckDB reads: `pq_tool suite` writes one table (every column kind,
//    nulls, NaN, infinities, -0.0, unicode, binary, times before 1970, an all-null column) as
//    12 files: ZSTD/SNAPPY/UNCOMPRESSED x dictionary/PLAIN x data page v1/v2, 3 row groups
//    each, with the rows it wrote beside them (JSON lines). For every file DuckDB must
//    report the types (TIMESTAMP WITH TIME ZONE for UTC timestamps, TIMESTAMP for local
//    ones), the logical and converted types and repetitions in parquet_schema(), the row and
//    row group counts, created_by and the key-value metadata, every value exactly (doubles
//    bit for bit), each chunk's statistics in parquet_metadata() (null counts, min/max), and
//    range queries whose answers depend on row-group skipping by those statistics.
// 2. DuckDB writes, tickpipe reads: DuckDB writes a table of the same kinds with ZSTD, SNAPPY
//    and no compression (several row groups, its own dictionary and PLAIN choices);
//    `pq_tool dump` must give the same schema kinds, every value, the row group count and
//    the null counts and min/max of DuckDB's statistics.
// Exit 0 when everything agrees, 1 on a mismatch (with examples), 2 on a usage error.
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.tool || !args.dir) {
  console.error('usage: node parquet_check.mjs --tool PQ_TOOL --dir SCRATCH');
  process.exit(2);
}

let failures = 0;
const MAX_REPORTS = 20;
function fail(msg) {
  failures++;
  if (failures <= MAX_REPORTS) console.error(`MISMATCH: ${msg}`);
}
function check(cond, msg) {
  if (!cond) fail(msg);
}

const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await inst.connect();
await con.run(`SET TimeZone = 'UTC'`);
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();
const lit = (s) => `'${s.replaceAll("'", "''")}'`;

// The canonical JSON form of a value (as pq_tool prints it): see pq_tool.c.
function doubleHex(x) {
  if (Number.isNaN(x)) return 'nan';
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x, true);
  return dv.getBigUint64(0, true).toString(16).padStart(16, '0');
}
function hexToDouble(h) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, BigInt('0x' + h), true);
  return dv.getFloat64(0, true);
}

// SQL giving a column's canonical value, by tickpipe kind. DuckDB keeps TIMESTAMP(NANOS)
// with UTC as microseconds (TIMESTAMP WITH TIME ZONE): `nanosAsMicros` compares those at
// microsecond precision.
function canonSql(name, kind) {
  const q = `"${name}"`;
  switch (kind) {
    case 'int64': return `CAST(${q} AS VARCHAR)`;
    case 'bytes': return `lower(hex(${q}))`;
    case 'ts_millis': return `CAST(epoch_ms(${q}) AS VARCHAR)`;
    case 'ts_micros': return `CAST(epoch_us(${q}) AS VARCHAR)`;
    case 'ts_nanos': return `CAST(epoch_ns(${q}) AS VARCHAR)`;
    default: return q;
  }
}
function canonJs(v, kind) {
  if (v === null || v === undefined) return null;
  if (kind === 'double') return doubleHex(v);
  return v;
}

const DUCK_TYPE = {
  bool: 'BOOLEAN', int32: 'INTEGER', int64: 'BIGINT', double: 'DOUBLE', string: 'VARCHAR',
  bytes: 'BLOB',
};
function duckType(col) {
  if (DUCK_TYPE[col.kind]) return DUCK_TYPE[col.kind];
  if (!col.local) return 'TIMESTAMP WITH TIME ZONE';
  return { ts_millis: 'TIMESTAMP_MS', ts_micros: 'TIMESTAMP', ts_nanos: 'TIMESTAMP_NS' }[col.kind];
}

// ---- part 1: tickpipe writes, DuckDB reads ----

function compareValue(where, got, want, kind, nanosAsMicros) {
  if (kind === 'ts_nanos' && nanosAsMicros && want !== null) {
    want = ((BigInt(want) / 1000n) * 1000n - (BigInt(want) < 0n && BigInt(want) % 1000n ? 1000n : 0n)).toString();
  }
  if (got !== want) fail(`${where}: DuckDB has ${JSON.stringify(got)}, tickpipe wrote ${JSON.stringify(want)}`);
}

// Expected statistics of rows[lo, hi) for one column, computed here from the values written.
function expectStats(data, lo, hi, col) {
  let nulls = 0, min = null, max = null, nan = false;
  const less = (a, b) => {
    switch (col.kind) {
      case 'double': return hexToDouble(a) < hexToDouble(b);
      case 'string': return Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0;
      case 'bytes': return Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')) < 0;
      case 'bool': return a === false && b === true;
      case 'int32': return a < b;
      default: return BigInt(a) < BigInt(b);
    }
  };
  for (let i = lo; i < hi; i++) {
    const v = data[i][col.name];
    if (v === null) { nulls++; continue; }
    if (col.kind === 'double' && v === 'nan') { nan = true; continue; }
    if (min === null || less(v, min)) min = v;
    if (max === null || less(max, v)) max = v;
  }
  return { nulls, min, max, nan };
}

// DuckDB renders statistics as text; this turns the expected value into its rendering or
// the rendering into a comparable value.
function statMatches(col, rendered, want, epoch) {
  switch (col.kind) {
    case 'bool': return rendered === String(want);
    case 'int32': return Number(rendered) === want;
    case 'int64': return rendered === want;
    case 'double': return Number(rendered) === hexToDouble(want);
    case 'string': return rendered === want;
    case 'bytes': {
      const b = Buffer.from(want, 'hex');
      let s = '';
      for (const c of b) s += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : '\\x' + c.toString(16).toUpperCase().padStart(2, '0');
      return rendered === s;
    }
    default: { // timestamps, compared through DuckDB's own parse of the rendering (epoch us)
      const us = BigInt(epoch);
      const w = BigInt(want);
      if (col.kind === 'ts_millis') return us === w * 1000n;
      if (col.kind === 'ts_nanos') return us === (w - ((w % 1000n) + 1000n) % 1000n) / 1000n;
      return us === w;
    }
  }
}

async function checkTickpipeFile(file, suite, variant, data) {
  const f = lit(file);
  const cols = suite.columns;
  // types
  const desc = await rows(`DESCRIBE SELECT * FROM read_parquet(${f})`);
  check(desc.length === cols.length, `${variant.name}: DuckDB sees ${desc.length} columns`);
  const nanosAsMicros = {};
  desc.forEach((d, i) => {
    const c = cols[i];
    check(d.column_name === c.name, `${variant.name}: column ${i} named ${d.column_name}`);
    let want = duckType(c);
    if (c.kind === 'ts_nanos' && !c.local && d.column_type === 'TIMESTAMP WITH TIME ZONE') nanosAsMicros[c.name] = true;
    check(d.column_type === want, `${variant.name}.${c.name}: DuckDB type ${d.column_type}, want ${want}`);
  });
  // schema annotations
  const sch = await rows(`SELECT name, type, repetition_type, converted_type, logical_type FROM parquet_schema(${f})`);
  for (const c of cols) {
    const s = sch.find((r) => r.name === c.name);
    if (!s) { fail(`${variant.name}: ${c.name} missing from parquet_schema`); continue; }
    check(s.repetition_type === (c.optional ? 'OPTIONAL' : 'REQUIRED'), `${variant.name}.${c.name}: repetition ${s.repetition_type}`);
    const lt = s.logical_type || '';
    if (c.kind === 'string') check(s.converted_type === 'UTF8' && /StringType/.test(lt), `${variant.name}.${c.name}: ${s.converted_type} ${lt}`);
    if (c.kind.startsWith('ts_')) {
      const unit = { ts_millis: 'MILLIS=MilliSeconds', ts_micros: 'MICROS=MicroSeconds', ts_nanos: 'NANOS=NanoSeconds' }[c.kind];
      check(lt.includes(`isAdjustedToUTC=${c.local ? 0 : 1}`) && lt.includes(unit), `${variant.name}.${c.name}: logical type ${lt}`);
      const conv = { ts_millis: 'TIMESTAMP_MILLIS', ts_micros: 'TIMESTAMP_MICROS', ts_nanos: null }[c.kind];
      check(s.converted_type === conv, `${variant.name}.${c.name}: converted type ${s.converted_type}`);
    }
  }
  // file metadata
  const fm = (await rows(`SELECT created_by, num_rows, num_row_groups FROM parquet_file_metadata(${f})`))[0];
  check(fm.created_by.startsWith('tickpipe version '), `${variant.name}: created_by ${fm.created_by}`);
  check(Number(fm.num_rows) === suite.rows, `${variant.name}: num_rows ${fm.num_rows}`);
  check(Number(fm.num_row_groups) === variant.row_groups, `${variant.name}: ${fm.num_row_groups} row groups`);
  const kv = await rows(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${f})`);
  check(kv.some((r) => r.k === 'tickpipe.schema_version' && r.v === '1'), `${variant.name}: key-value metadata ${JSON.stringify(kv)}`);
  // values, in file order
  const sel = cols.map((c) => `${canonSql(c.name, c.kind)} AS "${c.name}"`).join(', ');
  const got = await rows(`SELECT ${sel} FROM read_parquet(${f}, file_row_number = true) ORDER BY file_row_number`);
  check(got.length === data.length, `${variant.name}: DuckDB read ${got.length} rows`);
  for (let i = 0; i < Math.min(got.length, data.length); i++)
    for (const c of cols)
      compareValue(`${variant.name} row ${i} ${c.name}`, canonJs(got[i][c.name], c.kind), data[i][c.name], c.kind, nanosAsMicros[c.name]);
  // statistics
  const md = await rows(`SELECT row_group_id AS g, path_in_schema AS p, row_group_num_rows AS n,
      stats_null_count AS nulls, stats_min_value AS lo, stats_max_value AS hi,
      epoch_us(TRY_CAST(stats_min_value AS TIMESTAMPTZ)) AS lo_us,
      epoch_us(TRY_CAST(stats_max_value AS TIMESTAMPTZ)) AS hi_us
      FROM parquet_metadata(${f}) ORDER BY g, column_id`);
  const per = suite.rows / variant.row_groups;
  let start = 0;
  for (let g = 0; g < variant.row_groups; g++) {
    const n = Number(md.find((m) => Number(m.g) === g).n);
    for (const c of cols) {
      const m = md.find((r) => Number(r.g) === g && r.p === c.name);
      const e = expectStats(data, start, start + n, c);
      const where = `${variant.name} rg ${g} ${c.name} stats`;
      check(Number(m.nulls) === e.nulls, `${where}: null_count ${m.nulls}, want ${e.nulls}`);
      const inf = c.kind === 'double' && e.min !== null && (!Number.isFinite(hexToDouble(e.min)) || !Number.isFinite(hexToDouble(e.max)));
      if (e.min === null || e.nan || inf) {
        // no bounds: all null, or NaN present (tickpipe writes none then); DuckDB hides
        // infinite bounds
        check(m.lo === null && m.hi === null, `${where}: bounds ${m.lo}..${m.hi} where none are expected`);
        continue;
      }
      check(m.lo !== null && statMatches(c, m.lo, e.min, m.lo_us), `${where}: min ${m.lo}, want ${e.min}`);
      check(m.hi !== null && statMatches(c, m.hi, e.max, m.hi_us), `${where}: max ${m.hi}, want ${e.max}`);
    }
    start += n;
  }
  check(start === suite.rows && per > 0, `${variant.name}: row groups cover ${start} rows`);
  // range queries whose answers depend on DuckDB skipping row groups by those statistics
  const tsCol = cols.find((c) => c.name === 'ts');
  const tsVals = data.map((r) => BigInt(r.ts));
  for (const [a, b] of [[10, 20], [1990, 2010], [4990, 5100], [-5, 0]]) {
    const lo = tsVals[0] + BigInt(a) * 997n, hi = tsVals[0] + BigInt(b) * 997n;
    const want = tsVals.filter((t) => t >= lo && t <= hi).length;
    const r = await rows(`SELECT count(*) AS n FROM read_parquet(${f}) WHERE epoch_us("${tsCol.name}") BETWEEN ${lo} AND ${hi}`);
    const r2 = await rows(`SELECT count(*) AS n FROM read_parquet(${f}) WHERE "${tsCol.name}" BETWEEN make_timestamp(${lo}::BIGINT)::TIMESTAMPTZ AND make_timestamp(${hi}::BIGINT)::TIMESTAMPTZ`);
    check(Number(r[0].n) === want && Number(r2[0].n) === want, `${variant.name}: ts in [${lo}, ${hi}] gives ${r[0].n}/${r2[0].n} rows, want ${want}`);
  }
  for (const sym of ['kraken:BTC-USDT', 'fmp:EUR-USD', 'ünïcødé €', '']) {
    const want = data.filter((r) => r.s === sym).length;
    const r = await rows(`SELECT count(*) AS n FROM read_parquet(${f}) WHERE s = ${lit(sym)}`);
    check(Number(r[0].n) === want, `${variant.name}: s = '${sym}' gives ${r[0].n} rows, want ${want}`);
  }
  const i32s = data.map((r) => r.i32);
  const want32 = i32s.filter((v) => v > 2000000000).length;
  const r32 = await rows(`SELECT count(*) AS n FROM read_parquet(${f}) WHERE i32 > 2000000000`);
  check(Number(r32[0].n) === want32, `${variant.name}: i32 > 2e9 gives ${r32[0].n}, want ${want32}`);
}

async function partTickpipeWrites() {
  const dir = join(args.dir, 'suite');
  mkdirSync(dir, { recursive: true });
  execFileSync(args.tool, ['suite', dir], { stdio: 'inherit' });
  const suite = JSON.parse(readFileSync(join(dir, 'suite.json'), 'utf8'));
  check(suite.variants.length === 12, `suite has ${suite.variants.length} variants`);
  for (const v of suite.variants) {
    const data = readFileSync(join(dir, `${v.name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const before = failures;
    await checkTickpipeFile(join(dir, `${v.name}.parquet`), suite, v, data);
    console.log(`parquet_check: DuckDB reads tickpipe's ${v.name}.parquet: ${failures === before ? 'ok' : 'MISMATCH'}`);
  }
}

// ---- part 2: DuckDB writes, tickpipe reads ----

const DUCK_N = 30000;
const DUCK_TABLE = `
  SELECT
    CASE WHEN i % 7 = 3 THEN NULL ELSE i % 2 = 0 END AS b,
    CAST((hash(i) % 4000000000)::BIGINT - 2000000000 AS INTEGER) AS i32,
    CASE WHEN i % 3 = 0 THEN NULL ELSE (hash(i * 7) >> 1)::BIGINT - 4611686018427387904 END AS i64,
    CASE WHEN i % 13 = 5 THEN NULL WHEN i = 10 THEN 'inf'::DOUBLE WHEN i = 12 THEN -0.0::DOUBLE
         WHEN i % 1000 = 999 THEN 'nan'::DOUBLE ELSE 43000 + (i % 1000) * 0.25 - (i % 7) / 3 END AS d,
    CASE WHEN i % 5 = 4 THEN NULL ELSE ['binance:BTC-USDT', 'coinbase:ETH-USD', 'ünïcødé €', ''][(i // 1000) % 4 + 1] END AS s,
    'trade-' || (i * 7919 % 100003) AS u,
    CASE WHEN i % 2 = 1 THEN NULL ELSE from_hex(printf('%02x%02x00', i % 256, (i * 7) % 256)) END AS blob,
    make_timestamp(1795437240000000 + i * 997)::TIMESTAMPTZ AS ts,
    CASE WHEN i >= 25000 THEN NULL ELSE make_timestamp_ns(1795437240123456789 + i * 1234567) END AS tsn,
    make_timestamp(-86400000000 + i * 60000000)::TIMESTAMP_MS AS tsm,
    CASE WHEN i % 17 = 0 THEN NULL ELSE make_timestamp(1700000000000000 + i * 1000000) END AS tsl,
    NULL::BIGINT AS allnull
  FROM range(${DUCK_N}) r(i) ORDER BY i`;
const DUCK_KINDS = {
  b: ['bool', false], i32: ['int32', false], i64: ['int64', false], d: ['double', false],
  s: ['string', false], u: ['string', false], blob: ['bytes', false], ts: ['ts_micros', false],
  tsn: ['ts_nanos', true], tsm: ['ts_millis', true], tsl: ['ts_micros', true], allnull: ['int64', false],
};

async function partDuckdbWrites() {
  await con.run(`CREATE TABLE t AS ${DUCK_TABLE}`);
  const names = Object.keys(DUCK_KINDS);
  const sel = names.map((n) => `${canonSql(n, DUCK_KINDS[n][0])} AS "${n}"`).join(', ');
  const want = await rows(`SELECT ${sel} FROM t`);
  for (const codec of ['zstd', 'snappy', 'uncompressed']) {
    const file = join(args.dir, `duck_${codec}.parquet`);
    await con.run(`COPY t TO ${lit(file)} (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 10000)`);
    const before = failures;
    let out;
    try {
      out = execFileSync(args.tool, ['dump', file], { maxBuffer: 1 << 30 }).toString().trim().split('\n').map((l) => JSON.parse(l));
    } catch (e) {
      fail(`pq_tool dump ${file} failed: ${e.stderr}`);
      continue;
    }
    const head = out[0];
    const stats = out.filter((o) => o.stats);
    const data = out.filter((o, i) => i > 0 && !o.stats);
    check(head.rows === DUCK_N && data.length === DUCK_N, `duck_${codec}: tickpipe read ${head.rows}/${data.length} rows`);
    const fm = (await rows(`SELECT num_row_groups FROM parquet_file_metadata(${lit(file)})`))[0];
    check(head.row_groups === Number(fm.num_row_groups) && head.row_groups >= 3, `duck_${codec}: ${head.row_groups} row groups, DuckDB says ${fm.num_row_groups}`);
    check(head.created_by.startsWith('DuckDB'), `duck_${codec}: created_by ${head.created_by}`);
    for (const c of head.columns) {
      const [kind, local] = DUCK_KINDS[c.name];
      check(c.kind === kind && c.local === local, `duck_${codec}.${c.name}: tickpipe sees ${c.kind} local=${c.local}, want ${kind} local=${local}`);
    }
    for (let i = 0; i < Math.min(data.length, want.length); i++)
      for (const n of names) {
        const w = canonJs(want[i][n], DUCK_KINDS[n][0]);
        if (data[i][n] !== w) fail(`duck_${codec} row ${i} ${n}: tickpipe read ${JSON.stringify(data[i][n])}, DuckDB has ${JSON.stringify(w)}`);
      }
    // DuckDB's statistics as tickpipe decodes them
    const md = await rows(`SELECT row_group_id AS g, column_id AS c, stats_null_count AS nulls,
        stats_min_value AS lo, stats_max_value AS hi FROM parquet_metadata(${lit(file)})`);
    for (const s of stats) {
      const m = md.find((r) => Number(r.g) === s.rg && Number(r.c) === s.col);
      const col = head.columns[s.col];
      const where = `duck_${codec} rg ${s.rg} ${col.name} stats`;
      check(m && Number(m.nulls) === s.null_count, `${where}: tickpipe null_count ${s.null_count}, DuckDB ${m && m.nulls}`);
      if (['int32', 'int64', 'string', 'double', 'bool'].includes(col.kind) && m && m.lo !== null) {
        check(s.min !== undefined, `${where}: tickpipe found no min/max, DuckDB shows ${m.lo}..${m.hi}`);
        if (s.min !== undefined) {
          check(statMatches(col, m.lo, s.min) && statMatches(col, m.hi, s.max), `${where}: tickpipe ${s.min}..${s.max}, DuckDB ${m.lo}..${m.hi}`);
        }
      }
    }
    console.log(`parquet_check: tickpipe reads DuckDB's ${codec} file (${head.row_groups} row groups): ${failures === before ? 'ok' : 'MISMATCH'}`);
  }
}

await partTickpipeWrites();
await partDuckdbWrites();
if (failures) {
  console.error(`parquet_check: ${failures} mismatches`);
  process.exit(1);
}
console.log('parquet_check: all agree');
