/*
 * test_gen.c — the synthetic datasets (src/gen): determinism for a seed, row counts, the
 * minute-2024 columns, first and last rows and their statistics, and the trades sidecar
 * counts recomputed independently from the written file with the rules of DESIGN.md §3.
 */
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/num.h"
#include "core/tptime.h"
#include "gen/gen.h"
#include "gen/wbuf.h"
#include "sink/parquet.h"
#include "tpt.h"

/* ---- helpers ---------------------------------------------------------------------------- */

struct text {
    char *p;
    size_t len;
};

/* Runs a generator into a temporary file and returns its whole content (caller frees). */
static struct text run_minute(uint64_t rows, uint64_t seed)
{
    char path[] = "/tmp/tp_test_gen_XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    unlink(path);
    uint64_t bytes = 0;
    ASSERT_EQ_INT(tp_gen_minute(fd, rows, seed, NULL, NULL, &bytes), 0);
    struct text t = {malloc(bytes + 1), bytes};
    ASSERT(t.p);
    ASSERT_EQ_INT(pread(fd, t.p, bytes, 0), (long long)bytes);
    t.p[bytes] = 0;
    close(fd);
    return t;
}

static struct text run_trades(const struct tp_gen_trades_opts *o, struct tp_gen_trades_stats *st)
{
    char path[] = "/tmp/tp_test_gen_XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    unlink(path);
    ASSERT_EQ_INT(tp_gen_trades(fd, o, st), 0);
    struct text t = {malloc(st->bytes + 1), st->bytes};
    ASSERT(t.p);
    ASSERT_EQ_INT(pread(fd, t.p, st->bytes, 0), (long long)st->bytes);
    t.p[st->bytes] = 0;
    close(fd);
    return t;
}

static size_t count_lines(const struct text *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->len; i++) n += t->p[i] == '\n';
    return n;
}

/* Splits a line (NUL-terminated, no newline) at commas into at most max fields. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *c = line; *c; c++)
        if (*c == ',') {
            *c = 0;
            if (n == max) return -1;
            f[n++] = c + 1;
        }
    return n;
}

/* True when s is digits, a point and exactly two digits (an optional leading '-'). */
static bool is_2dp(const char *s)
{
    if (*s == '-') s++;
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || strlen(dot + 1) != 2) return false;
    for (const char *c = s; *c; c++)
        if (c != dot && (*c < '0' || *c > '9')) return false;
    return true;
}

static double num(const char *s)
{
    double v = NAN;
    if (tp_num_parse(s, strlen(s), &v) < 0) TPT_FAIL("not a number: '%s'", s);
    return v;
}

/* The integer value of "key": N in a flat JSON object (the sidecar), or -1. */
static long long json_int(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    if (!p) return -1;
    return strtoll(p + strlen(pat), NULL, 10);
}

static void default_trades(struct tp_gen_trades_opts *o)
{
    memset(o, 0, sizeof *o);
    o->rows = 60000;
    o->symbols = 50;
    o->seed = 7;
    o->start_ns = INT64_C(1704067200) * TP_NS_PER_SEC;
    o->rate = 100;
    o->zipf = 1;
    o->out_of_order = 0.02;
    o->late = 0.002;
    o->duplicates = 0.005;
    o->lateness_ns = 2 * TP_NS_PER_SEC;
    o->unit = TP_TS_MS;
}

/* ---- number formatting ------------------------------------------------------------------ */

static void test_fmt(void)
{
    char b[32];
    const uint64_t u[] = {0, 9, 10, 99, 100, 12345, UINT64_MAX};
    for (size_t i = 0; i < TP_ARRAY_LEN(u); i++) {
        char want[32];
        snprintf(want, sizeof want, "%llu", (unsigned long long)u[i]);
        b[tp_fmt_u64(b, u[i])] = 0;
        ASSERT_EQ_STR(b, want);
    }
    b[tp_fmt_i64(b, INT64_MIN)] = 0;
    ASSERT_EQ_STR(b, "-9223372036854775808");
    b[tp_fmt_fixed(b, 10000, 2)] = 0;
    ASSERT_EQ_STR(b, "100.00");
    b[tp_fmt_fixed(b, -5, 2)] = 0;
    ASSERT_EQ_STR(b, "-0.05");
    b[tp_fmt_fixed(b, 1, 3)] = 0;
    ASSERT_EQ_STR(b, "0.001");
    b[tp_fmt_fixed(b, 123456, 3)] = 0;
    ASSERT_EQ_STR(b, "123.456");
}

/* ---- minute-2024 ------------------------------------------------------------------------ */

static void test_minute_determinism(void)
{
    struct text a = run_minute(20000, 42), b = run_minute(20000, 42), c = run_minute(20000, 43);
    ASSERT_EQ_INT(a.len, b.len);
    ASSERT(memcmp(a.p, b.p, a.len) == 0);
    ASSERT(c.len != a.len || memcmp(a.p, c.p, a.len) != 0);
    /* a prefix run is a prefix of the full run */
    struct text d = run_minute(1000, 42);
    ASSERT(d.len < a.len && memcmp(a.p, d.p, d.len) == 0);
    free(a.p);
    free(b.p);
    free(c.p);
    free(d.p);
    int fd = open("/dev/null", O_WRONLY);
    ASSERT(fd >= 0);
    ASSERT_EQ_INT(tp_gen_minute(fd, TP_GEN_MINUTE_ROWS + 1, 1, NULL, NULL, NULL), -EINVAL);
    close(fd);
}

static void test_minute_full(void)
{
    struct text t = run_minute(TP_GEN_MINUTE_ROWS, 42);
    ASSERT_EQ_INT(count_lines(&t), TP_GEN_MINUTE_ROWS + 1);
    char *save = NULL, *line = strtok_r(t.p, "\n", &save);
    ASSERT_EQ_STR(line, "id,timestamp,stock_price,sales_trend");

    const int64_t t0 = INT64_C(1704067200) * TP_NS_PER_SEC; /* 2024-01-01T00:00:00Z */
    double prev = 0, sum_d = 0, sum_d2 = 0, sum_r = 0, sum_r2 = 0, min_price = INFINITY;
    double season_hi = 0, season_lo = 0; /* mean sales on days 80..100 and 265..285 */
    long n_d = 0, n_hi = 0, n_lo = 0;
    uint64_t i = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *f[5];
        if (split(line, f, 5) != 4) TPT_FAIL("row %llu: not 4 columns", (unsigned long long)i);
        char want_id[24];
        snprintf(want_id, sizeof want_id, "%llu", (unsigned long long)i + 1);
        ASSERT_EQ_STR(f[0], want_id);
        /* "YYYY-MM-DD HH:MM:SS", one minute after the row before */
        ASSERT_EQ_INT(strlen(f[1]), 19);
        ASSERT(f[1][10] == ' ');
        int64_t ts;
        ASSERT_EQ_INT(tp_time_parse(f[1], 19, TP_TS_AUTO, &ts), 0);
        ASSERT_EQ_INT(ts, t0 + (int64_t)i * 60 * TP_NS_PER_SEC);
        if (!is_2dp(f[2]) || !is_2dp(f[3]))
            TPT_FAIL("row %llu: '%s' '%s' not 2 decimals", (unsigned long long)i, f[2], f[3]);
        double price = num(f[2]), sales = num(f[3]);
        min_price = fmin(min_price, price);
        if (i == 0) ASSERT_EQ_STR(f[2], "100.00");
        /* price steps away from the floor: N(0.0002, 2) up to rounding */
        if (i > 0 && prev > 20 && price > 20) {
            double d = price - prev;
            sum_d += d;
            sum_d2 += d * d;
            n_d++;
        }
        prev = price;
        /* sales minus the season: N(0, 5) up to rounding */
        int64_t doy = (ts - t0) / (86400 * TP_NS_PER_SEC) + 1;
        double r = sales - (200 + 50 * sin(2 * M_PI * (double)doy / 365));
        sum_r += r;
        sum_r2 += r * r;
        if (doy >= 80 && doy <= 100) season_hi += sales, n_hi++;
        if (doy >= 265 && doy <= 285) season_lo += sales, n_lo++;
        i++;
    }
    ASSERT_EQ_INT(i, TP_GEN_MINUTE_ROWS);
    ASSERT(min_price >= 1.0);
    ASSERT(n_d > 100000);
    double md = sum_d / (double)n_d, sd = sqrt(sum_d2 / (double)n_d - md * md);
    double n = (double)TP_GEN_MINUTE_ROWS;
    double mr = sum_r / n, sr = sqrt(sum_r2 / n - mr * mr);
    fprintf(stderr, "  steps: mean %.5f sd %.4f (n %ld); sales residual mean %.4f sd %.4f\n", md,
            sd, n_d, mr, sr);
    ASSERT(fabs(sd - 2.0) < 0.03);
    ASSERT(fabs(md) < 6 * 2.0 / sqrt((double)n_d));
    ASSERT(fabs(sr - 5.0) < 0.05);
    ASSERT(fabs(mr) < 0.05);
    ASSERT_NEAR(season_hi / (double)n_hi, 249, 0.01); /* 200 + 50·sin(~2π/4) ≈ 249.7 */
    ASSERT_NEAR(season_lo / (double)n_lo, 151, 0.01);
    free(t.p);
}

/* The last day is 2024-12-31, day of year 366 (a leap year). */
static void test_minute_last_row(void)
{
    struct text t = run_minute(TP_GEN_MINUTE_ROWS, 1);
    ASSERT(t.len > 2 && t.p[t.len - 1] == '\n');
    t.p[t.len - 1] = 0;
    const char *last = strrchr(t.p, '\n') + 1;
    ASSERT(!strncmp(last, "527040,2024-12-31 23:59:00,", 27));
    free(t.p);
}

/* ---- trades ----------------------------------------------------------------------------- */

static void test_trades_determinism(void)
{
    struct tp_gen_trades_opts o;
    default_trades(&o);
    struct tp_gen_trades_stats s1, s2, s3;
    struct text a = run_trades(&o, &s1), b = run_trades(&o, &s2);
    ASSERT_EQ_INT(a.len, b.len);
    ASSERT(memcmp(a.p, b.p, a.len) == 0);
    ASSERT(memcmp(&s1, &s2, sizeof s1) == 0);
    o.seed = 8;
    struct text c = run_trades(&o, &s3);
    ASSERT(c.len != a.len || memcmp(a.p, c.p, a.len) != 0);
    ASSERT_EQ_INT(count_lines(&a), o.rows + 1);
    ASSERT_EQ_INT(count_lines(&c), o.rows + 1);
    free(a.p);
    free(b.p);
    free(c.p);

    int fd = open("/dev/null", O_WRONLY);
    ASSERT(fd >= 0);
    struct tp_gen_trades_opts bad = o;
    bad.symbols = 0;
    ASSERT_EQ_INT(tp_gen_trades(fd, &bad, &s3), -EINVAL);
    bad = o;
    bad.duplicates = 1;
    ASSERT_EQ_INT(tp_gen_trades(fd, &bad, &s3), -EINVAL);
    bad = o;
    bad.unit = TP_TS_AUTO;
    ASSERT_EQ_INT(tp_gen_trades(fd, &bad, &s3), -EINVAL);
    /* zero rows: the header alone */
    bad = o;
    bad.rows = 0;
    ASSERT_EQ_INT(tp_gen_trades(fd, &bad, &s3), 0);
    ASSERT_EQ_INT(s3.rows, 0);
    ASSERT_EQ_INT(s3.bytes, strlen("ts,instrument,price,size,side,trade_id\n"));
    close(fd);
}

/* Open-addressing set of (instrument, trade id) pairs. */
struct idset {
    uint64_t *k; /* 0 = empty */
    size_t mask;
};

static bool idset_add(struct idset *s, uint64_t key)
{
    size_t h = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) & s->mask;
    while (s->k[h]) {
        if (s->k[h] == key) return false;
        h = (h + 1) & s->mask;
    }
    s->k[h] = key;
    return true;
}

#define MAXSYM 64

/* Recomputes every count of the sidecar from the written file, independently of gen. */
static void check_counts(const struct tp_gen_trades_opts *o, const struct text *t0,
                         const char *json)
{
    struct text t = {malloc(t0->len + 1), t0->len};
    ASSERT(t.p);
    memcpy(t.p, t0->p, t0->len + 1);
    ASSERT(o->symbols <= MAXSYM);
    struct idset ids = {calloc(1u << 20, sizeof(uint64_t)), (1u << 20) - 1};
    ASSERT(ids.k && o->rows < (1u << 19));
    int64_t max_ts[MAXSYM];
    uint64_t n_rows[MAXSYM] = {0}, max_id[MAXSYM] = {0}, distinct[MAXSYM] = {0};
    for (int k = 0; k < MAXSYM; k++) max_ts[k] = INT64_MIN;
    long long rows = 0, dups = 0, in_order = 0, ooo = 0, beyond = 0, late[TP_GEN_INTERVALS] = {0};
    const int64_t lateness = o->lateness_ns;
    const int64_t widths[TP_GEN_INTERVALS] = {1, 60, 300, 900, 3600, 86400};
    int64_t unit = o->unit == TP_TS_MS ? TP_NS_PER_MS : o->unit == TP_TS_US ? TP_NS_PER_US : 1;

    char *save = NULL, *line = strtok_r(t.p, "\n", &save);
    ASSERT_EQ_STR(line, "ts,instrument,price,size,side,trade_id");
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *f[7];
        if (split(line, f, 7) != 6) TPT_FAIL("row %lld: not 6 columns", rows);
        rows++;
        char *end;
        int64_t ts = strtoll(f[0], &end, 10) * unit;
        ASSERT(*end == 0);
        unsigned sym = 0;
        if (sscanf(f[1], "gen:S%4u-USD", &sym) != 1 || sym < 1 || sym > o->symbols)
            TPT_FAIL("row %lld: instrument '%s'", rows, f[1]);
        unsigned k = sym - 1;
        ASSERT(is_2dp(f[2]) && num(f[2]) >= 0.01);
        ASSERT(num(f[3]) > 0);
        ASSERT(!strcmp(f[4], "buy") || !strcmp(f[4], "sell"));
        uint64_t id = strtoull(f[5], &end, 10);
        ASSERT(*end == 0 && id >= 1);
        n_rows[k]++;
        if (!idset_add(&ids, ((uint64_t)sym << 40) | id)) {
            dups++;
            continue;
        }
        distinct[k]++;
        if (id > max_id[k]) max_id[k] = id;
        if (max_ts[k] == INT64_MIN || ts >= max_ts[k]) {
            in_order++;
            max_ts[k] = ts;
            continue;
        }
        int64_t w = max_ts[k] - lateness;
        if (ts >= w) {
            ooo++;
            continue;
        }
        beyond++;
        for (int j = 0; j < TP_GEN_INTERVALS; j++) {
            int64_t width = widths[j] * TP_NS_PER_SEC;
            int64_t end_ns = (ts / width) * width + width; /* ts > 0 here */
            if (w >= end_ns) late[j]++;
        }
    }
    fprintf(stderr,
            "  rows %lld: %lld in order, %lld out of order, %lld beyond, %lld dups, late 1s %lld "
            "1m %lld 5m %lld 1h %lld\n",
            rows, in_order, ooo, beyond, dups, late[0], late[1], late[2], late[4]);
    ASSERT_EQ_INT(rows, (long long)o->rows);
    ASSERT_EQ_INT(json_int(json, "rows"), rows);
    ASSERT_EQ_INT(json_int(json, "trades"), rows - dups);
    ASSERT_EQ_INT(json_int(json, "duplicates"), dups);
    ASSERT_EQ_INT(json_int(json, "in_order"), in_order);
    ASSERT_EQ_INT(json_int(json, "out_of_order"), ooo);
    ASSERT_EQ_INT(json_int(json, "beyond_lateness"), beyond);
    for (int j = 0; j < TP_GEN_INTERVALS; j++) {
        ASSERT_EQ_INT(json_int(json, tp_gen_interval_name[j]), late[j]);
        if (j > 0) ASSERT(late[j] <= late[j - 1]);
    }
    /* every kind is present in a sample this size, near its target */
    ASSERT(dups > 0 && ooo > 0 && beyond > 0 && late[1] > 0);
    double n = (double)rows;
    ASSERT(fabs((double)dups / n - o->duplicates) < 0.5 * o->duplicates);
    ASSERT((double)ooo / n < o->out_of_order * 1.1 && (double)ooo / n > o->out_of_order * 0.3);
    /* ids per instrument: exactly 1..max, each once (plus re-emissions) */
    for (unsigned k = 0; k < o->symbols; k++) ASSERT_EQ_U64(max_id[k], distinct[k]);
    /* Zipf: the most active instrument has about 1/H(n) of the rows, and beats the 2nd */
    double h = 0;
    for (unsigned k = 1; k <= o->symbols; k++) h += 1.0 / k;
    ASSERT_NEAR((double)n_rows[0] / n, 1 / h, 0.1 / h);
    ASSERT(n_rows[0] > n_rows[1] && n_rows[1] > n_rows[o->symbols - 1]);
    free(ids.k);
    free(t.p);
}

static void test_trades_counts(void)
{
    struct tp_gen_trades_opts o;
    default_trades(&o);
    struct tp_gen_trades_stats st;
    struct text t = run_trades(&o, &st);
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    ASSERT_EQ_INT(tp_gen_trades_sidecar(&o, &st, "x \"y\".csv", &b), 0);
    ASSERT(strstr(b.p, "\"file\": \"x \\\"y\\\".csv\""));
    ASSERT(strstr(b.p, "\"ts_unit\": \"ms\""));
    ASSERT(strstr(b.p, "\"lateness\": \"2s\""));
    ASSERT(strstr(b.p, "\"min_ts\": \"2024-01-01T00:00:00.000000000Z\""));
    check_counts(&o, &t, b.p);
    tp_buf_fini(&b);
    free(t.p);

    /* other units, more lateness, more late rows */
    o.unit = TP_TS_US;
    o.lateness_ns = 5 * TP_NS_PER_SEC;
    o.late = 0.01;
    o.seed = 99;
    o.rows = 30000;
    t = run_trades(&o, &st);
    tp_buf_init(&b, 1 << 16);
    ASSERT_EQ_INT(tp_gen_trades_sidecar(&o, &st, "t.csv", &b), 0);
    ASSERT(strstr(b.p, "\"ts_unit\": \"us\""));
    check_counts(&o, &t, b.p);
    /* 16-digit epoch microseconds */
    ASSERT(t.p[39 + 16] == ',' && t.p[39 + 15] != ',');
    tp_buf_fini(&b);
    free(t.p);
}

/* Regression: the price step was drawn inside TP_MAX, which evaluates its argument twice,
 * so the floor compared one draw and applied another (prices of 0.00 and -0.01). With one
 * instrument and seed 9 the walk starts low and sits on the floor of one tick often. */
static void test_trades_price_floor(void)
{
    struct tp_gen_trades_opts o;
    default_trades(&o);
    o.symbols = 1;
    o.rows = 100000;
    o.seed = 9;
    struct tp_gen_trades_stats st;
    struct text t = run_trades(&o, &st);
    long at_floor = 0;
    char *save = NULL, *line = strtok_r(t.p, "\n", &save);
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *f[7];
        ASSERT_EQ_INT(split(line, f, 7), 6);
        if (!is_2dp(f[2]) || num(f[2]) < 0.01) TPT_FAIL("price '%s' below one tick", f[2]);
        if (num(f[3]) < 0.001) TPT_FAIL("size '%s' below 0.001", f[3]);
        at_floor += !strcmp(f[2], "0.01");
    }
    fprintf(stderr, "  %ld of %llu rows at the floor\n", at_floor, (unsigned long long)o.rows);
    ASSERT(at_floor > 100);
    free(t.p);
}

/* ---- Parquet: the same values as the CSV, read back with tickpipe's reader ---------------- */

static struct tp_pq_reader *open_pq_fd(int fd, char **mem)
{
    off_t n = lseek(fd, 0, SEEK_END);
    ASSERT(n > 0);
    *mem = malloc((size_t)n);
    ASSERT(*mem);
    ASSERT_EQ_INT(pread(fd, *mem, (size_t)n, 0), (long long)n);
    struct tp_pq_reader *r = NULL;
    struct tp_pq_error err;
    if (tp_pq_reader_open_mem(&r, *mem, (size_t)n, NULL, &err) < 0) TPT_FAIL("%s", err.msg);
    return r;
}

static void test_minute_parquet(void)
{
    const uint64_t rows = 70000; /* more than one batch of TP_GEN_PQ_BATCH */
    struct text t = run_minute(rows, 7);
    char path[] = "/tmp/tp_test_gen_XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    unlink(path);
    uint64_t bytes = 0;
    ASSERT_EQ_INT(tp_gen_minute_to(fd, TP_GEN_PARQUET, rows, 7, NULL, NULL, &bytes), 0);
    ASSERT_EQ_INT(bytes, lseek(fd, 0, SEEK_END));
    char *mem;
    struct tp_pq_reader *r = open_pq_fd(fd, &mem);
    close(fd);
    ASSERT_EQ_U64(tp_pq_reader_rows(r), rows);
    ASSERT_EQ_STR(tp_pq_reader_kv(r, "tickpipe.dataset"), "minute-2024");
    ASSERT_EQ_INT(tp_pq_reader_column(r, 1)->kind, TP_PQ_TS_MICROS);
    struct tp_pq_data d[4];
    for (int c = 0; c < 4; c++) ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)c, &d[c]), 0);
    ASSERT_EQ_U64(d[0].n, rows);
    char *save = NULL, *line = strtok_r(t.p, "\n", &save);
    for (uint64_t i = 0; (line = strtok_r(NULL, "\n", &save)); i++) {
        char *f[5];
        ASSERT_EQ_INT(split(line, f, 5), 4);
        ASSERT(i < rows);
        ASSERT_EQ_INT(((int64_t *)d[0].values)[i], strtoll(f[0], NULL, 10));
        int64_t ts;
        ASSERT_EQ_INT(tp_time_parse(f[1], strlen(f[1]), TP_TS_AUTO, &ts), 0);
        ASSERT_EQ_INT(((int64_t *)d[1].values)[i], ts / 1000);
        if (((double *)d[2].values)[i] != num(f[2]) || ((double *)d[3].values)[i] != num(f[3]))
            TPT_FAIL("row %llu: %s,%s vs %.17g,%.17g", (unsigned long long)i, f[2], f[3],
                     ((double *)d[2].values)[i], ((double *)d[3].values)[i]);
    }
    for (int c = 0; c < 4; c++) tp_pq_data_fini(&d[c]);
    tp_pq_reader_close(r);
    free(mem);
    free(t.p);
    fd = open("/dev/null", O_WRONLY);
    ASSERT_EQ_INT(tp_gen_minute_to(fd, (enum tp_gen_format)7, 10, 1, NULL, NULL, NULL), -EINVAL);
    close(fd);
}

static void test_trades_parquet(void)
{
    struct tp_gen_trades_opts o;
    default_trades(&o);
    o.rows = 20000;
    o.unit = TP_TS_US;
    struct tp_gen_trades_stats sc, sp;
    struct text t = run_trades(&o, &sc);
    o.format = TP_GEN_PARQUET;
    char path[] = "/tmp/tp_test_gen_XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    unlink(path);
    ASSERT_EQ_INT(tp_gen_trades(fd, &o, &sp), 0);
    /* the same rows were generated: every count but the bytes agrees */
    ASSERT_EQ_U64(sp.rows, sc.rows);
    ASSERT_EQ_U64(sp.duplicates, sc.duplicates);
    ASSERT_EQ_U64(sp.beyond_lateness, sc.beyond_lateness);
    ASSERT_EQ_INT(sp.max_ts, sc.max_ts);
    char *mem;
    struct tp_pq_reader *r = open_pq_fd(fd, &mem);
    close(fd);
    ASSERT_EQ_U64(tp_pq_reader_rows(r), o.rows);
    const char *names[] = {"ts", "ts_ns", "instrument", "price", "size", "side", "trade_id"};
    struct tp_pq_data d[7];
    for (int c = 0; c < 7; c++) {
        ASSERT_EQ_INT(tp_pq_reader_find(r, names[c]), c);
        ASSERT_EQ_INT(tp_pq_reader_read(r, 0, (size_t)c, &d[c]), 0);
    }
    char *save = NULL, *line = strtok_r(t.p, "\n", &save);
    for (uint64_t i = 0; (line = strtok_r(NULL, "\n", &save)); i++) {
        char *f[7];
        ASSERT_EQ_INT(split(line, f, 7), 6);
        int64_t us = strtoll(f[0], NULL, 10);
        ASSERT_EQ_INT(((int64_t *)d[0].values)[i], us);
        ASSERT_EQ_INT(((int64_t *)d[1].values)[i], us * 1000);
        struct tp_pq_bytes in = ((struct tp_pq_bytes *)d[2].values)[i];
        struct tp_pq_bytes side = ((struct tp_pq_bytes *)d[5].values)[i];
        ASSERT(in.n == strlen(f[1]) && !memcmp(in.p, f[1], in.n));
        ASSERT(side.n == strlen(f[4]) && !memcmp(side.p, f[4], side.n));
        ASSERT(((double *)d[3].values)[i] == num(f[2]));
        ASSERT(((double *)d[4].values)[i] == num(f[3]));
        ASSERT_EQ_INT(((int64_t *)d[6].values)[i], strtoll(f[5], NULL, 10));
    }
    for (int c = 0; c < 7; c++) tp_pq_data_fini(&d[c]);
    tp_pq_reader_close(r);
    free(mem);
    free(t.p);
}

TPT_MAIN({"fmt", test_fmt}, {"minute_parquet", test_minute_parquet},
         {"trades_parquet", test_trades_parquet}, {"minute_determinism", test_minute_determinism},
         {"minute_full", test_minute_full}, {"minute_last_row", test_minute_last_row},
         {"trades_determinism", test_trades_determinism}, {"trades_counts", test_trades_counts},
         {"trades_price_floor", test_trades_price_floor})
