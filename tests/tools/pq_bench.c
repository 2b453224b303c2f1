/*
 * pq_bench.c — the tickpipe side of bench/parquet_vs_duckdb.sh: generates realistic ticks in
 * memory (not timed), then times tickpipe's Parquet writer writing them to a file.
 *
 *   pq_bench OUT.parquet [ROWS] [zstd|snappy|none] [ZSTD_LEVEL]
 *
 * The ticks: 20 instruments of one venue over one day, sorted by (instrument, ts) as the
 * lake writes them; exponential inter-arrival times with exact nanoseconds; prices a random
 * walk on each instrument's tick grid (decimal values, as parsed from a venue); sizes
 * lognormal in lot steps; side "buy"/"sell" with some persistence; trade ids increasing
 * decimal strings with occasional gaps, and absent for 1% of the rows.
 * Columns: ts TIMESTAMP(MICROS, UTC), ts_ns INT64, instrument STRING, price DOUBLE,
 * size DOUBLE, side STRING, trade_id STRING (optional).
 * Prints: "rows N seconds S cpu C bytes B rows_per_sec R" (S wall, C this process's CPU
 * time, both for writing only). Exit 0, or 1 on an error.
 */
#include <math.h>
#include <time.h>

#include "core/rng.h"
#include "sink/parquet.h"

#define NI 20

static const struct {
    const char *name;
    double base;
    int price_dp, size_dp;
} INSTR[NI] = {
    {"binance:ADA-USDT", 0.5812, 4, 1},   {"binance:AVAX-USDT", 36.42, 2, 2},
    {"binance:BCH-USDT", 245.3, 1, 3},    {"binance:BNB-USDT", 312.4, 1, 3},
    {"binance:BTC-USDT", 43125.5, 2, 5},  {"binance:DOGE-USDT", 0.08412, 5, 0},
    {"binance:DOT-USDT", 7.452, 3, 2},    {"binance:ETC-USDT", 20.11, 2, 2},
    {"binance:ETH-USDT", 2291.37, 2, 4},  {"binance:FIL-USDT", 5.671, 3, 2},
    {"binance:LINK-USDT", 14.823, 3, 2},  {"binance:LTC-USDT", 72.41, 2, 3},
    {"binance:MATIC-USDT", 0.8123, 4, 1}, {"binance:NEAR-USDT", 3.452, 3, 1},
    {"binance:OP-USDT", 3.612, 3, 2},     {"binance:SOL-USDT", 98.42, 2, 2},
    {"binance:TRX-USDT", 0.10412, 5, 1},  {"binance:UNI-USDT", 6.231, 3, 2},
    {"binance:XLM-USDT", 0.12041, 5, 0},  {"binance:XRP-USDT", 0.6231, 4, 0},
};

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pq_bench OUT.parquet [ROWS] [zstd|snappy|none] [LEVEL]\n");
        return 2;
    }
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000000;
    struct tp_pq_options o;
    tp_pq_options_default(&o);
    if (argc > 3 && !strcmp(argv[3], "snappy")) o.codec = TP_PQ_SNAPPY;
    if (argc > 3 && !strcmp(argv[3], "none")) o.codec = TP_PQ_UNCOMPRESSED;
    if (argc > 4) o.zstd_level = (int)strtol(argv[4], NULL, 10);
    const struct tp_pq_kv kv[] = {{"tickpipe.schema_version", "1"}};
    o.kv = kv;
    o.nkv = 1;

    int64_t *ts = malloc(n * 8), *ts_ns = malloc(n * 8);
    double *price = malloc(n * 8), *size = malloc(n * 8);
    struct tp_pq_bytes *instr = malloc(n * sizeof *instr), *side = malloc(n * sizeof *side),
                       *tid = malloc(n * sizeof *tid);
    uint8_t *tid_null = calloc(n, 1);
    char *pool = malloc(n * 12 + 16);
    if (!ts || !ts_ns || !price || !size || !instr || !side || !tid || !tid_null || !pool) {
        fprintf(stderr, "pq_bench: out of memory\n");
        return 1;
    }
    struct tp_rng rng;
    tp_rng_seed(&rng, 20261123);
    const int64_t day = INT64_C(1795392000) * 1000000000; /* 2026-11-23T00:00:00Z */
    size_t row = 0;
    char *pp = pool;
    for (int k = 0; k < NI; k++) {
        size_t m = n / NI + ((size_t)k < n % NI);
        double mean_gap = 86400e9 / (double)(m ? m : 1);
        double pscale = pow(10, INSTR[k].price_dp), sscale = pow(10, INSTR[k].size_dp);
        int64_t ticks = llround(INSTR[k].base * pscale);
        int64_t t = day + (int64_t)tp_rng_exp(&rng, mean_gap);
        uint64_t id = 3000000000u + tp_rng_below(&rng, 100000000);
        int buy = 1;
        struct tp_pq_bytes name = {INSTR[k].name, (uint32_t)strlen(INSTR[k].name)};
        for (size_t i = 0; i < m; i++, row++) {
            t += 1 + (int64_t)tp_rng_exp(&rng, mean_gap);
            ts_ns[row] = t;
            ts[row] = t / 1000;
            /* price: a random walk of a few ticks, divided as a decimal would parse */
            uint64_t r = tp_rng_u64(&rng);
            if ((r & 3) == 0) ticks += (int64_t)((r >> 8) % 5) - 2;
            if (ticks < 1) ticks = 1;
            price[row] = (double)ticks / pscale;
            int64_t lots = llround(exp(tp_rng_normal(&rng) * 1.6 - 1.0) * sscale * 0.05);
            size[row] = (double)(lots < 1 ? 1 : lots) / sscale;
            if (tp_rng_below(&rng, 10) < 3) buy = !buy;
            side[row] = buy ? (struct tp_pq_bytes){"buy", 3} : (struct tp_pq_bytes){"sell", 4};
            instr[row] = name;
            id += 1 + (tp_rng_below(&rng, 50) == 0 ? tp_rng_below(&rng, 5) : 0);
            tid_null[row] = tp_rng_below(&rng, 100) == 0;
            int len = snprintf(pp, 12, "%llu", (unsigned long long)id);
            tid[row] = (struct tp_pq_bytes){pp, (uint32_t)len};
            pp += len;
        }
    }

    const struct tp_pq_column cols[] = {
        {"ts", TP_PQ_TS_MICROS, false, false},      {"ts_ns", TP_PQ_INT64, false, false},
        {"instrument", TP_PQ_STRING, false, false}, {"price", TP_PQ_DOUBLE, false, false},
        {"size", TP_PQ_DOUBLE, false, false},       {"side", TP_PQ_STRING, false, false},
        {"trade_id", TP_PQ_STRING, true, false},
    };
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    struct tp_pq_writer *w;
    int rc = tp_pq_writer_open_path(&w, argv[1], cols, 7, &o);
    const size_t batch = 65536;
    for (size_t off = 0; rc == 0 && off < n; off += batch) {
        size_t m = n - off < batch ? n - off : batch;
        struct tp_pq_batch_col b[7] = {
            {ts + off, NULL},
            {ts_ns + off, NULL},
            {instr + off, NULL},
            {price + off, NULL},
            {size + off, NULL},
            {side + off, NULL},
            {tid + off, tid_null + off},
        };
        rc = tp_pq_writer_append(w, b, m);
    }
    uint64_t bytes = 0;
    if (rc == 0) {
        bytes = tp_pq_writer_bytes(w);
        rc = tp_pq_writer_close(w);
    } else if (w) {
        tp_pq_writer_abort(w);
    }
    double secs = clock_s(CLOCK_MONOTONIC) - t0;
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (rc) {
        fprintf(stderr, "pq_bench: writing %s: %s\n", argv[1], strerror(-rc));
        return 1;
    }
    FILE *f = fopen(argv[1], "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        bytes = (uint64_t)ftell(f);
        fclose(f);
    }
    printf("rows %zu seconds %.3f cpu %.3f bytes %llu rows_per_sec %.0f\n", n, secs, cpu,
           (unsigned long long)bytes, (double)n / secs);
    free(ts);
    free(ts_ns);
    free(price);
    free(size);
    free(instr);
    free(side);
    free(tid);
    free(tid_null);
    free(pool);
    return 0;
}
