/*
 * minute.c — the minute-2024 dataset (see gen.h for the exact definition of every column).
 *
 * One pass, one rng, one row per minute: the date text is rebuilt once a day, the time of
 * day from the minute index, and both decimals are rounded once (llround of v·100) and
 * written with integer arithmetic, so the bytes depend only on the seed and libm's sin,
 * log and sqrt. With --format parquet the same values go to the columns id INT64, timestamp
 * TIMESTAMP(MICROS, UTC), stock_price and sales_trend DOUBLE (the double nearest the
 * 2-decimal value, n/100.0, which is what a reader parsing the CSV text gets).
 */
#include <math.h>

#include "core/rng.h"
#include "gen/gen.h"
#include "gen/pqout.h"
#include "gen/wbuf.h"

#define MINUTE_HEADER "id,timestamp,stock_price,sales_trend\n"
#define START_PRICE   100.0
#define PRICE_SIGMA   2.0
#define PRICE_TREND   0.0002
#define PRICE_FLOOR   1.0
#define SALES_BASE    200.0
#define SALES_AMPL    50.0
#define SALES_SIGMA   5.0

static void put2(char *out, unsigned v)
{
    out[0] = tp_digits2[v * 2];
    out[1] = tp_digits2[v * 2 + 1];
}

static const struct tp_pq_column minute_cols[] = {
    {.name = "id", .kind = TP_PQ_INT64},
    {.name = "timestamp", .kind = TP_PQ_TS_MICROS},
    {.name = "stock_price", .kind = TP_PQ_DOUBLE},
    {.name = "sales_trend", .kind = TP_PQ_DOUBLE},
};

int tp_gen_minute(int fd, uint64_t rows, uint64_t seed, tp_gen_progress_fn *progress,
                  void *progress_arg, uint64_t *ret_bytes)
{
    return tp_gen_minute_to(fd, TP_GEN_CSV, rows, seed, progress, progress_arg, ret_bytes);
}

int tp_gen_minute_to(int fd, enum tp_gen_format fmt, uint64_t rows, uint64_t seed,
                     tp_gen_progress_fn *progress, void *progress_arg, uint64_t *ret_bytes)
{
    if (rows > TP_GEN_MINUTE_ROWS || (fmt != TP_GEN_CSV && fmt != TP_GEN_PARQUET)) return -EINVAL;
    bool pq = fmt == TP_GEN_PARQUET;
    struct tp_wbuf w = {.fd = fd};
    struct tp_gen_pq P;
    int rc;
    if (pq) {
        char seedtxt[24];
        snprintf(seedtxt, sizeof seedtxt, "%llu", (unsigned long long)seed);
        const struct tp_pq_kv kv[] = {{"tickpipe.dataset", "minute-2024"},
                                      {"tickpipe.seed", seedtxt}};
        rc = tp_gen_pq_open(&P, fd, minute_cols, TP_ARRAY_LEN(minute_cols), kv, 2);
        if (rc < 0) return rc;
    } else {
        if (tp_wbuf_init(&w, fd) < 0) return -ENOMEM;
        tp_wbuf_put(&w, MINUTE_HEADER, sizeof MINUTE_HEADER - 1);
    }
    struct tp_rng rng;
    tp_rng_seed(&rng, seed);

    const int64_t day0 = tp_days_from_civil(2024, 1, 1);
    char date[11] = {0}; /* "YYYY-MM-DD" of the current day */
    double price = START_PRICE, sales_season = 0;
    for (uint64_t i = 0; i < rows; i++) {
        uint64_t day = i / 1440;
        unsigned mod = (unsigned)(i % 1440);
        if (mod == 0 || i == 0) {
            int64_t y;
            unsigned m, d;
            tp_civil_from_days(day0 + (int64_t)day, &y, &m, &d);
            put2(date, (unsigned)(y / 100));
            put2(date + 2, (unsigned)(y % 100));
            date[4] = '-';
            put2(date + 5, m);
            date[7] = '-';
            put2(date + 8, d);
            double doy = (double)(day + 1);
            sales_season = SALES_BASE + SALES_AMPL * sin(2 * M_PI * doy / 365.0);
        }
        double e = tp_rng_normal(&rng);
        if (i > 0) {
            /* the step draw comes before the noise draw of the same row */
            double z = e;
            e = tp_rng_normal(&rng);
            price = fmax(PRICE_FLOOR, price + PRICE_TREND + PRICE_SIGMA * z);
        }
        double sales = sales_season + SALES_SIGMA * e;

        if (pq) {
            size_t r = P.n;
            P.col[0].i64[r] = (int64_t)i + 1;
            P.col[1].i64[r] = (day0 * 1440 + (int64_t)i) * 60 * 1000000;
            P.col[2].f64[r] = (double)llround(price * 100) / 100.0;
            P.col[3].f64[r] = (double)llround(sales * 100) / 100.0;
            if (tp_gen_pq_commit(&P) < 0) break;
            if (progress && (i + 1) % TP_GEN_PROGRESS_EVERY == 0)
                progress(i + 1, rows, progress_arg);
            continue;
        }
        char *p = tp_wbuf_room(&w, 128);
        if (!p) break;
        size_t o = tp_fmt_u64(p, i + 1);
        p[o++] = ',';
        memcpy(p + o, date, 10);
        o += 10;
        p[o++] = ' ';
        put2(p + o, mod / 60);
        p[o + 2] = ':';
        put2(p + o + 3, mod % 60);
        memcpy(p + o + 5, ":00,", 4);
        o += 9;
        o += tp_fmt_fixed(p + o, llround(price * 100), 2);
        p[o++] = ',';
        o += tp_fmt_fixed(p + o, llround(sales * 100), 2);
        p[o++] = '\n';
        tp_wbuf_commit(&w, o);
        if (progress && (i + 1) % TP_GEN_PROGRESS_EVERY == 0) progress(i + 1, rows, progress_arg);
    }
    uint64_t bytes = 0;
    if (pq) {
        rc = tp_gen_pq_close(&P, &bytes);
    } else {
        rc = tp_wbuf_flush(&w);
        bytes = w.flushed;
        tp_wbuf_fini(&w);
    }
    if (rc == 0 && progress) progress(rows, rows, progress_arg);
    if (rc == 0 && ret_bytes) *ret_bytes = bytes;
    return rc;
}
