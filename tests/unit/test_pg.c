/*
 * test_pg.c — the pure parts of the PostgreSQL modules and etl, without a server (the
 * integration tests pg_*.sh run a real one):
 *   - binary COPY encoding: header and trailer bytes, big-endian fields, NULL for NaN,
 *     timestamptz from ns (floor to the microsecond, PostgreSQL's 2000 epoch, before 1970),
 *     UTF-8 kept and invalid bytes replaced, the cap leaving the buffer unchanged;
 *   - conninfo syntax checks;
 *   - etl specs: parsing, canonical names, refusals;
 *   - the in-memory aggregator: windows, first/last by time then arrival, nulls and status
 *     records ignored, sorted rows, the row cap, and agreement with a brute-force
 *     recomputation on random events; the CSV line.
 */
#include <math.h>

#include "core/instrument.h"
#include "core/rng.h"
#include "etl/etl.h"
#include "sink/pg_int.h"
#include "tpt.h"

static uint64_t be(const char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | (uint8_t)p[i];
    return v;
}

static void test_copy_header_trailer(void)
{
    struct tp_buf b;
    tp_buf_init(&b, 1024);
    ASSERT_EQ_INT(tp_pgc_header(&b), 0);
    ASSERT_EQ_INT(b.len, 19);
    ASSERT(!memcmp(b.p, "PGCOPY\n\377\r\n\0", 11));
    ASSERT_EQ_U64(be(b.p + 11, 4), 0); /* flags */
    ASSERT_EQ_U64(be(b.p + 15, 4), 0); /* extension length */
    ASSERT_EQ_INT(tp_pgc_trailer(&b), 0);
    ASSERT_EQ_U64(be(b.p + 19, 2), 0xffff);
    tp_buf_fini(&b);
}

static void test_copy_fields(void)
{
    struct tp_buf b;
    tp_buf_init(&b, 1024);
    ASSERT_EQ_INT(tp_pgc_row(&b, 5), 0);
    ASSERT_EQ_INT(tp_pgc_f8(&b, 1.5), 0);
    ASSERT_EQ_INT(tp_pgc_f8(&b, NAN), 0);
    ASSERT_EQ_INT(tp_pgc_i8(&b, -2), 0);
    ASSERT_EQ_INT(tp_pgc_bool(&b, true), 0);
    ASSERT_EQ_INT(tp_pgc_text_or_null(&b, "", 0), 0);
    const char *p = b.p;
    ASSERT_EQ_U64(be(p, 2), 5);
    ASSERT_EQ_U64(be(p + 2, 4), 8);
    ASSERT_EQ_U64(be(p + 6, 8), 0x3ff8000000000000u); /* 1.5 */
    ASSERT_EQ_U64(be(p + 14, 4), 0xffffffffu);        /* NULL */
    ASSERT_EQ_U64(be(p + 18, 4), 8);
    ASSERT_EQ_U64(be(p + 22, 8), 0xfffffffffffffffeu);
    ASSERT_EQ_U64(be(p + 30, 4), 1);
    ASSERT_EQ_INT(p[34], 1);
    ASSERT_EQ_U64(be(p + 35, 4), 0xffffffffu);
    ASSERT_EQ_INT(b.len, 39);
    tp_buf_fini(&b);
}

static void test_copy_times(void)
{
    /* 2000-01-01T00:00:00Z is 0; a µs before 1970 floors; ns below a µs are dropped */
    ASSERT_EQ_INT(tp_pgc_pgtime(INT64_C(946684800) * TP_NS_PER_SEC), 0);
    ASSERT_EQ_INT(tp_pgc_pgtime(INT64_C(946684800) * TP_NS_PER_SEC + 1999), 1);
    ASSERT_EQ_INT(tp_pgc_pgtime(0), -INT64_C(946684800000000));
    ASSERT_EQ_INT(tp_pgc_pgtime(-1), -INT64_C(946684800000000) - 1);
    ASSERT_EQ_INT(tp_pgc_pgtime(-1000), -INT64_C(946684800000000) - 1);
    ASSERT_EQ_INT(tp_pgc_pgtime(-1001), -INT64_C(946684800000000) - 2);
    ASSERT_EQ_INT(tp_pg_day(0), 0);
    ASSERT_EQ_INT(tp_pg_day(-1), -1);
    ASSERT_EQ_INT(tp_pg_day(86400 * TP_NS_PER_SEC), 1);
    struct tp_buf b;
    tp_buf_init(&b, 64);
    ASSERT_EQ_INT(tp_pgc_ts(&b, 0), 0);
    ASSERT_EQ_U64(be(b.p, 4), 8);
    ASSERT_EQ_U64(be(b.p + 4, 8), (uint64_t)-INT64_C(946684800000000));
    tp_buf_fini(&b);
}

static void text_is(const char *in, size_t n, const char *want)
{
    struct tp_buf b;
    tp_buf_init(&b, 256);
    ASSERT_EQ_INT(tp_pgc_text(&b, in, n), 0);
    ASSERT_EQ_U64(be(b.p, 4), strlen(want));
    ASSERT_EQ_INT(b.len, 4 + strlen(want));
    if (memcmp(b.p + 4, want, strlen(want)))
        TPT_FAIL("text '%.*s' encoded as '%.*s', want '%s'", (int)n, in, (int)(b.len - 4), b.p + 4,
                 want);
    tp_buf_fini(&b);
}

static void test_copy_text_utf8(void)
{
    text_is("BTC-USDT", 8, "BTC-USDT");
    text_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    text_is("a\xff"
            "b",
            3, "a?b");                      /* invalid byte */
    text_is("a\xc3", 2, "a?");              /* truncated sequence */
    text_is("\xc0\xaf", 2, "??");           /* overlong */
    text_is("\xed\xa0\x80", 3, "???");      /* surrogate */
    text_is("\xf4\x90\x80\x80", 4, "????"); /* above U+10FFFF */
    text_is("x\0y", 3, "x?y");              /* NUL */
    text_is("\xe2\x82"
            "A",
            3, "??A"); /* cut by an ASCII byte */
}

static void test_copy_cap(void)
{
    struct tp_buf b;
    tp_buf_init(&b, 16);
    ASSERT_EQ_INT(tp_pgc_text(&b, "0123456789", 10), 0);
    size_t len = b.len;
    ASSERT_EQ_INT(tp_pgc_f8(&b, 1.0), -E2BIG);
    ASSERT_EQ_INT(tp_pgc_text(&b, "abcdef", 6), -E2BIG);
    ASSERT_EQ_INT(b.len, len);
    tp_buf_fini(&b);
}

static void test_conninfo(void)
{
    char err[256];
    ASSERT_EQ_INT(tp_pg_conninfo_check("host=127.0.0.1 port=5432 dbname=x", err, sizeof err), 0);
    ASSERT_EQ_INT(
        tp_pg_conninfo_check("postgresql://u@localhost:5/db?sslmode=disable", err, sizeof err), 0);
    ASSERT_EQ_INT(tp_pg_conninfo_check("host=a nonsense=1", err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "nonsense"));
    ASSERT_EQ_INT(tp_pg_conninfo_check("postgresql://[bad", err, sizeof err), -EINVAL);
}

static void test_spec_parse(void)
{
    struct tp_etl_spec s;
    char err[160];
    ASSERT_EQ_INT(tp_etl_spec_parse("10m:price", &s, err, sizeof err), 0);
    ASSERT_EQ_INT(s.interval_ns, 600 * TP_NS_PER_SEC);
    ASSERT_EQ_INT(s.field, TP_ETL_PRICE);
    ASSERT_EQ_STR(s.name, "10m:price");
    ASSERT_EQ_INT(tp_etl_spec_parse("1200s:value", &s, err, sizeof err), 0);
    ASSERT_EQ_STR(s.interval, "20m");
    ASSERT_EQ_STR(s.name, "20m:value");
    ASSERT_EQ_INT(tp_etl_spec_parse("500ms:bid_size", &s, err, sizeof err), 0);
    ASSERT_EQ_INT(s.field, TP_ETL_BID_SIZE);
    const char *bad[] = {"price",    "10m",       ":price",       "10m:",     "10m:pricey",
                         "0s:price", "-1m:price", "1500ns:price", "10x:price"};
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++)
        if (tp_etl_spec_parse(bad[i], &s, err, sizeof err) != -EINVAL)
            TPT_FAIL("'%s' was accepted", bad[i]);
}

static struct tp_event trade(uint32_t instr, int64_t ts, double price, double value)
{
    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    e.instr = instr;
    e.ts = e.ts_recv = ts;
    e.price = price;
    e.size = 1;
    e.value = value;
    return e;
}

static void test_agg_windows(void)
{
    uint32_t a, b;
    ASSERT_EQ_INT(tp_instr_intern("sim:ZZZ", 7, &a), 0);
    ASSERT_EQ_INT(tp_instr_intern("sim:AAA", 7, &b), 0);
    struct tp_etl_spec sp[2];
    char err[160];
    ASSERT_EQ_INT(tp_etl_spec_parse("1m:price", &sp[0], err, sizeof err), 0);
    ASSERT_EQ_INT(tp_etl_spec_parse("1m:value", &sp[1], err, sizeof err), 0);
    struct tp_etl_agg *g = tp_etl_agg_new(100);
    int64_t m = 60 * TP_NS_PER_SEC;
    struct tp_event ev[] = {
        trade(a, 10 * m + 5, 3, 1), trade(a, 10 * m + 1, 2, NAN), /* earlier ts, later arrival */
        trade(a, 10 * m + 5, 4, 2),                               /* same ts as the first */
        trade(a, 11 * m, 7, NAN),   trade(b, -1, 1, 5),           /* before 1970 */
    };
    struct tp_event st;
    tp_event_init(&st, TP_KIND_STATUS);
    st.instr = a;
    st.ts = 10 * m;
    st.price = 100; /* ignored: status */
    for (size_t i = 0; i < TP_ARRAY_LEN(ev); i++)
        for (uint32_t k = 0; k < 2; k++) ASSERT_EQ_INT(tp_etl_agg_add(g, k, &sp[k], &ev[i], i), 0);
    ASSERT_EQ_INT(tp_etl_agg_add(g, 0, &sp[0], &st, 99), 0);
    const struct tp_etl_row *r;
    size_t n = tp_etl_agg_rows(g, &r);
    ASSERT_EQ_INT(n, 5);
    /* sorted: sim:AAA first (by name), then spec, then ts */
    ASSERT_EQ_INT(r[0].instr, b);
    ASSERT_EQ_INT(r[0].spec, 0);
    ASSERT_EQ_INT(r[0].ts, -m);
    ASSERT_EQ_INT(r[1].instr, b);
    ASSERT_EQ_INT(r[1].spec, 1);
    /* sim:ZZZ price 10m window: 3, 2, 4 */
    ASSERT_EQ_INT(r[2].instr, a);
    ASSERT_EQ_INT(r[2].ts, 10 * m);
    ASSERT_EQ_INT(r[2].count, 3);
    ASSERT(r[2].sum == 9 && r[2].min == 2 && r[2].max == 4);
    ASSERT(r[2].first == 2); /* smallest ts */
    ASSERT(r[2].last == 4);  /* largest ts, last among equal */
    ASSERT_EQ_INT(r[3].ts, 11 * m);
    /* value window: 1, 2 (NaN ignored) */
    ASSERT_EQ_INT(r[4].spec, 1);
    ASSERT_EQ_INT(r[4].count, 2);
    ASSERT(r[4].first == 1 && r[4].last == 2);
    struct tp_buf csv;
    tp_buf_init(&csv, 4096);
    ASSERT_EQ_INT(tp_etl_csv_row(&csv, &r[2], &sp[0]), 0);
    ASSERT_EQ_STR(csv.p, "sim:ZZZ,price,1m,1970-01-01T00:10:00.000000000Z,3,2,4,2,4,3\n");
    tp_buf_fini(&csv);
    /* adding after sorting still finds the rows */
    ASSERT_EQ_INT(tp_etl_agg_add(g, 0, &sp[0], &ev[0], 100), 0);
    n = tp_etl_agg_rows(g, &r);
    ASSERT_EQ_INT(n, 5);
    ASSERT_EQ_INT(r[2].count, 4);
    tp_etl_agg_free(g);
}

static void test_agg_cap(void)
{
    uint32_t a;
    ASSERT_EQ_INT(tp_instr_intern("sim:CAP", 7, &a), 0);
    struct tp_etl_spec sp;
    char err[160];
    ASSERT_EQ_INT(tp_etl_spec_parse("1s:price", &sp, err, sizeof err), 0);
    struct tp_etl_agg *g = tp_etl_agg_new(3);
    for (int i = 0; i < 3; i++) {
        struct tp_event e = trade(a, i * TP_NS_PER_SEC, 1, NAN);
        ASSERT_EQ_INT(tp_etl_agg_add(g, 0, &sp, &e, (uint64_t)i), 0);
    }
    struct tp_event e = trade(a, 9 * TP_NS_PER_SEC, 1, NAN);
    ASSERT_EQ_INT(tp_etl_agg_add(g, 0, &sp, &e, 3), -E2BIG);
    e = trade(a, 1, 5, NAN); /* an existing window still takes events */
    ASSERT_EQ_INT(tp_etl_agg_add(g, 0, &sp, &e, 4), 0);
    tp_etl_agg_free(g);
}

/* Random events against a direct recomputation of each window. */
static void test_agg_random(void)
{
    struct tp_rng rng;
    tp_rng_seed(&rng, 42);
    uint32_t ids[3];
    const char *names[] = {"sim:R1", "sim:R2", "sim:R3"};
    for (int i = 0; i < 3; i++) ASSERT_EQ_INT(tp_instr_intern(names[i], 6, &ids[i]), 0);
    struct tp_etl_spec sp;
    char err[160];
    ASSERT_EQ_INT(tp_etl_spec_parse("7s:price", &sp, err, sizeof err), 0);
    enum { N = 5000 };
    static struct tp_event ev[N];
    for (int i = 0; i < N; i++)
        ev[i] = trade(ids[tp_rng_below(&rng, 3)],
                      (int64_t)tp_rng_below(&rng, 200) * TP_NS_PER_SEC / 2 - 50 * TP_NS_PER_SEC,
                      (double)(tp_rng_below(&rng, 1000) + 1) / 8, NAN);
    struct tp_etl_agg *g = tp_etl_agg_new(1 << 20);
    /* in a shuffled order, with each event's index as its offset */
    static int perm[N];
    for (int i = 0; i < N; i++) perm[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int k = (int)tp_rng_below(&rng, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[k];
        perm[k] = t;
    }
    for (int i = 0; i < N; i++)
        ASSERT_EQ_INT(tp_etl_agg_add(g, 0, &sp, &ev[perm[i]], (uint64_t)perm[i]), 0);
    const struct tp_etl_row *r;
    size_t n = tp_etl_agg_rows(g, &r);
    uint64_t total = 0;
    for (size_t k = 0; k < n; k++) {
        double sum = 0, mn = INFINITY, mx = -INFINITY, first = NAN, last = NAN;
        int64_t fts = INT64_MAX, lts = INT64_MIN;
        uint64_t cnt = 0;
        for (int i = 0; i < N; i++) {
            if (ev[i].instr != r[k].instr || tp_window_start(ev[i].ts, sp.interval_ns) != r[k].ts)
                continue;
            double v = ev[i].price;
            sum += v;
            mn = fmin(mn, v);
            mx = fmax(mx, v);
            if (ev[i].ts < fts) fts = ev[i].ts, first = v;
            if (ev[i].ts >= lts) lts = ev[i].ts, last = v;
            cnt++;
        }
        if (cnt != r[k].count || fabs(sum - r[k].sum) > 1e-9 * sum || mn != r[k].min ||
            mx != r[k].max || first != r[k].first || last != r[k].last)
            TPT_FAIL("window %s %lld differs from a recomputation", tp_instr_name(r[k].instr),
                     (long long)r[k].ts);
        if (k && strcmp(tp_instr_name(r[k - 1].instr), tp_instr_name(r[k].instr)) == 0)
            ASSERT(r[k - 1].ts < r[k].ts);
        total += cnt;
    }
    ASSERT_EQ_U64(total, N);
    tp_etl_agg_free(g);
}

TPT_MAIN({"copy_header_trailer", test_copy_header_trailer}, {"copy_fields", test_copy_fields},
         {"copy_times", test_copy_times}, {"copy_text_utf8", test_copy_text_utf8},
         {"copy_cap", test_copy_cap}, {"conninfo", test_conninfo}, {"spec_parse", test_spec_parse},
         {"agg_windows", test_agg_windows}, {"agg_cap", test_agg_cap},
         {"agg_random", test_agg_random})
