/*
 * test_csvout.c — the CSV tables: exact text of a bar with and without nulls, anomalies,
 * late rows (quoting, ids, nulls), the headers, and the buffered file writer (large output,
 * sticky errors).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/num.h"
#include "core/rng.h"
#include "core/tptime.h"
#include "sink/csvout.h"
#include "tpt.h"

static int64_t T(const char *s)
{
    int64_t v;
    if (tp_time_parse(s, strlen(s), TP_TS_AUTO, &v)) TPT_FAIL("bad time %s", s);
    return v;
}

static uint32_t I(const char *name)
{
    uint32_t id;
    if (tp_instr_intern(name, strlen(name), &id)) TPT_FAIL("bad instrument %s", name);
    return id;
}

static struct tp_bar full_bar(void)
{
    struct tp_bar b = {
        .instr = I("binance:BTC-USDT"),
        .interval_ns = 60 * TP_NS_PER_SEC,
        .ts = T("2026-11-23T12:34:00Z"),
        .open = 42000.5,
        .high = 42010,
        .low = 41990.25,
        .close = 42001,
        .volume = 1.5,
        .notional = 63001.125,
        .vwap = 42000.75,
        .trades = 3,
        .buy_volume = 1,
        .sell_volume = 0.5,
        .first_ts = T("2026-11-23T12:34:00.1Z"),
        .last_ts = T("2026-11-23T12:34:59.999999999Z"),
        .final = true,
        .ind = {.sma = 42000.1,
                .ema = 0.1 + 0.2,
                .bb_upper = 1e21,
                .bb_middle = 1e-7,
                .bb_lower = 123456789012345678901.0,
                .rsi = 50,
                .macd = -0.5,
                .macd_signal = -0.25,
                .macd_hist = -0.25,
                .atr = 12.5,
                .volatility = 0.001},
    };
    return b;
}

static const char *one_line(struct tp_buf *b)
{
    if (!b->len || b->p[b->len - 1] != '\n' || memchr(b->p, '\n', b->len) != b->p + b->len - 1)
        TPT_FAIL("not exactly one line: \"%s\"", b->p ? b->p : "");
    return b->p;
}

static void test_headers(void)
{
    ASSERT_EQ_STR(tp_csv_header(TP_CSV_BARS),
                  "instrument,interval,ts,open,high,low,close,volume,notional,vwap,trades,"
                  "buy_volume,sell_volume,first_ts,last_ts,sma_20,ema_20,bb_upper,bb_middle,"
                  "bb_lower,rsi_14,macd,macd_signal,macd_hist,atr_14,volatility_20\n");
    ASSERT_EQ_STR(tp_csv_header(TP_CSV_ANOMALIES),
                  "instrument,ts,kind,observed,expected,score,interval\n");
    ASSERT_EQ_STR(tp_csv_header(TP_CSV_LATE),
                  "ts,ts_ns,ts_recv,instrument,venue_symbol,kind,price,size,side,trade_id,bid,ask,"
                  "bid_size,ask_size,open,high,low,change,value,interval\n");
}

static void test_bar(void)
{
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    struct tp_bar x = full_bar();
    ASSERT_EQ_INT(tp_csv_put_bar(&b, &x), 0);
    ASSERT_EQ_STR(one_line(&b),
                  "binance:BTC-USDT,1m,2026-11-23T12:34:00.000000000Z,42000.5,42010,41990.25,"
                  "42001,1.5,63001.125,42000.75,3,1,0.5,2026-11-23T12:34:00.100000000Z,"
                  "2026-11-23T12:34:59.999999999Z,42000.1,0.30000000000000004,1e+21,1e-7,"
                  "123456789012345680000,50,-0.5,-0.25,-0.25,12.5,0.001\n");

    /* nulls: vwap without volume, indicators in warm-up; a quote-only 1d bar before 1970 */
    tp_buf_reset(&b);
    x = full_bar();
    x.instr = I("fmp:EUR-USD");
    x.interval_ns = 86400 * TP_NS_PER_SEC;
    x.ts = T("1969-12-31T00:00:00Z");
    x.open = x.high = x.low = x.close = 1.0825;
    x.volume = x.notional = x.buy_volume = x.sell_volume = 0;
    x.vwap = NAN;
    x.trades = 0;
    x.first_ts = x.last_ts = -1;
    x.ind = (struct tp_ind_values){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    x.ind.rsi = 0; /* zero is a value, not a null */
    ASSERT_EQ_INT(tp_csv_put_bar(&b, &x), 0);
    ASSERT_EQ_STR(one_line(&b), "fmp:EUR-USD,1d,1969-12-31T00:00:00.000000000Z,1.0825,1.0825,"
                                "1.0825,1.0825,0,0,,0,0,0,1969-12-31T23:59:59.999999999Z,"
                                "1969-12-31T23:59:59.999999999Z,,,,,,0,,,,,\n");
    /* the row has exactly as many fields as the header */
    size_t commas = 0;
    for (size_t i = 0; i < b.len; i++) commas += b.p[i] == ',';
    ASSERT_EQ_INT(commas, 25);

    /* a full buffer leaves it as it was */
    struct tp_buf small;
    tp_buf_init(&small, 40);
    tp_buf_puts(&small, "keep");
    ASSERT_EQ_INT(tp_csv_put_bar(&small, &x), -E2BIG);
    ASSERT_EQ_INT(small.len, 4);
    tp_buf_fini(&small);
    tp_buf_fini(&b);
}

static void test_anomaly(void)
{
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    struct tp_anomaly a = {.instr = I("sim:BTC-USD"),
                           .ts = T("2026-11-23T12:34:56.789Z"),
                           .kind = TP_AN_RETURN_ZSCORE,
                           .observed = 101.5,
                           .expected = 100.00000000000001,
                           .score = -3.25,
                           .interval_ns = 0};
    ASSERT_EQ_INT(tp_csv_put_anomaly(&b, &a), 0);
    ASSERT_EQ_STR(one_line(&b), "sim:BTC-USD,2026-11-23T12:34:56.789000000Z,return_zscore,101.5,"
                                "100.00000000000001,-3.25,\n");
    tp_buf_reset(&b);
    a.kind = TP_AN_VOLUME_SPIKE;
    a.observed = 600;
    a.expected = 100;
    a.score = 6;
    a.interval_ns = 5 * 60 * TP_NS_PER_SEC;
    ASSERT_EQ_INT(tp_csv_put_anomaly(&b, &a), 0);
    ASSERT_EQ_STR(one_line(&b),
                  "sim:BTC-USD,2026-11-23T12:34:56.789000000Z,volume_spike,600,100,6,5m\n");
    tp_buf_fini(&b);
}

static void test_late(void)
{
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    e.ts = T("2026-11-23T12:34:00.000000001Z");
    e.ts_recv = T("2026-11-23T12:34:05Z");
    e.instr = I("binance:BTC-USDT");
    tp_event_set_vsym(&e, "BTCUSDT", 7);
    e.price = 42000.5;
    e.size = 0.001;
    e.side = TP_SIDE_SELL;
    tp_event_set_id(&e, 123456789012);
    ASSERT_EQ_INT(tp_csv_put_late(&b, &e, TP_NS_PER_SEC), 0);
    ASSERT_EQ_STR(
        one_line(&b),
        "2026-11-23T12:34:00.000000001Z,1795437240000000001,2026-11-23T12:34:05.000000000Z,"
        "binance:BTC-USDT,BTCUSDT,trade,42000.5,0.001,sell,123456789012,,,,,,,,,,1s\n");

    /* a string id and a symbol that need quoting; unknown side and no id are empty */
    tp_buf_reset(&b);
    tp_event_set_id_str(&e, "a,\"b\"", 5);
    tp_event_set_vsym(&e, "X\nY", 3);
    e.value = -2.5;
    ASSERT_EQ_INT(tp_csv_put_late(&b, &e, 15 * 60 * TP_NS_PER_SEC), 0);
    ASSERT_EQ_STR(
        b.p, "2026-11-23T12:34:00.000000001Z,1795437240000000001,2026-11-23T12:34:05.000000000Z,"
             "binance:BTC-USDT,\"X\nY\",trade,42000.5,0.001,sell,\"a,\"\"b\"\"\",,,,,,,,,-2.5,"
             "15m\n");
    tp_buf_reset(&b);
    struct tp_event q;
    tp_event_init(&q, TP_KIND_QUOTE);
    q.ts = q.ts_recv = -1500000000;
    q.instr = I("fmp:EUR-USD");
    q.bid = 1.1;
    q.ask = 1.2;
    q.bid_size = 0;
    q.open = 1;
    q.high = 2;
    q.low = 0.5;
    q.change = -0.01;
    ASSERT_EQ_INT(tp_csv_put_late(&b, &q, 3600 * TP_NS_PER_SEC), 0);
    ASSERT_EQ_STR(one_line(&b), "1969-12-31T23:59:58.500000000Z,-1500000000,"
                                "1969-12-31T23:59:58.500000000Z,fmp:EUR-USD,,quote,,,,,1.1,1.2,0,"
                                ",1,2,0.5,-0.01,,1h\n");
    tp_buf_fini(&b);
}

/* Field k (0-based, no quoting expected) of the single line in b. */
static const char *field(const struct tp_buf *b, int k, char *out, size_t cap)
{
    const char *p = b->p;
    for (int i = 0; i < k; i++) p = strchr(p, ',') + 1;
    size_t n = strcspn(p, ",\n");
    if (n >= cap) TPT_FAIL("field too long");
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}

/* The writer prints numbers and times through its own fast paths; they must give exactly the
 * text of tp_num_format and tp_time_format. */
static void test_number_and_time_forms(void)
{
    struct tp_rng r;
    tp_rng_seed(&r, 2026);
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    struct tp_anomaly a = {.instr = I("sim:N"), .kind = TP_AN_RETURN_ZSCORE};
    static const double fixed[] = {0.1 + 0.2,
                                   1e-6,
                                   9.99999e-7,
                                   1e-7,
                                   999999999999999,
                                   1e15,
                                   1e15 - 1,
                                   123456789012345.6,
                                   0.30000000000000004,
                                   42000.5,
                                   -42000.5,
                                   1.0825,
                                   33730.24,
                                   5e-324,
                                   2.2250738585072014e-308,
                                   1.7976931348623157e308,
                                   4503599627370497,
                                   9007199254740993.0,
                                   0.000123,
                                   100,
                                   1e21,
                                   1e-5,
                                   -0.0,
                                   0,
                                   7.0000000000000001e-6,
                                   0.1,
                                   1.1,
                                   2.675,
                                   1234.5678e-2};
    for (int i = 0; i < 400000; i++) {
        double v;
        int kind = i % 4;
        if (i < (int)TP_ARRAY_LEN(fixed))
            v = fixed[i];
        else if (kind == 0) /* a short decimal: m / 10^k */
            v = (double)(tp_rng_u64(&r) % 100000000) / pow(10, (double)(tp_rng_u64(&r) % 12));
        else if (kind == 1) /* any double of a moderate exponent */
            v = ldexp((double)(tp_rng_u64(&r) >> 11), (int)(tp_rng_u64(&r) % 120) - 100);
        else if (kind == 2) /* arithmetic results: long digit strings */
            v = (double)(tp_rng_u64(&r) % 1000000) / 7.0 * 1.1;
        else { /* any bit pattern */
            uint64_t bits = tp_rng_u64(&r);
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v)) v = 1.5;
        }
        if (tp_rng_u64(&r) % 2) v = -v;
        a.observed = v;
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_csv_put_anomaly(&b, &a), 0);
        char got[64], want[TP_NUM_STRLEN];
        tp_num_format(v, want);
        if (strcmp(field(&b, 3, got, sizeof got), want))
            TPT_FAIL("%.17g printed %s, tp_num_format %s", v, got, want);
    }
    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    e.instr = a.instr;
    for (int i = 0; i < 200000; i++) {
        int64_t t = (int64_t)tp_rng_u64(&r); /* anywhere, years -292 to 2262 */
        if (i % 2) t = (int64_t)(tp_rng_u64(&r) % (UINT64_C(1) << 62)) - (INT64_C(1) << 61);
        if (i == 0) t = INT64_MIN + TP_NS_PER_SEC; /* tp_time_format overflows below */
        if (i == 1) t = INT64_MAX;
        if (i == 2) t = -1;
        e.ts = e.ts_recv = t;
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_csv_put_late(&b, &e, TP_NS_PER_SEC), 0);
        char got[64], want[TP_TIME_STRLEN], ns[32];
        tp_time_format(t, want);
        if (strcmp(field(&b, 0, got, sizeof got), want))
            TPT_FAIL("%lld printed %s, tp_time_format %s", (long long)t, got, want);
        snprintf(ns, sizeof ns, "%lld", (long long)t);
        ASSERT_EQ_STR(field(&b, 1, got, sizeof got), ns);
    }
    tp_buf_fini(&b);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) TPT_FAIL("open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    *n = fread(p, 1, (size_t)len, f);
    p[*n] = 0;
    fclose(f);
    return p;
}

static void test_writer(void)
{
    char path[256];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/test_csvout_%d.csv", dir && *dir ? dir : "/tmp", (int)getpid());
    struct tp_csvout *w;
    ASSERT_EQ_INT(tp_csvout_open(path, TP_CSV_BARS, &w), 0);
    /* enough rows to pass the 1 MiB buffer several times; the same text through tp_buf */
    struct tp_buf want;
    tp_buf_init(&want, 64 << 20);
    tp_buf_puts(&want, tp_csv_header(TP_CSV_BARS));
    struct tp_bar x = full_bar();
    for (int i = 0; i < 20000; i++) {
        x.ts += 60 * TP_NS_PER_SEC;
        x.close = 42000 + i * 0.01;
        x.trades = (uint64_t)i;
        ASSERT_EQ_INT(tp_csvout_bar(w, &x), 0);
        ASSERT_EQ_INT(tp_csv_put_bar(&want, &x), 0);
    }
    ASSERT_EQ_U64(tp_csvout_rows(w), 20000);
    ASSERT(want.len > (3u << 20));
    ASSERT_EQ_INT(tp_csvout_close(w, true), 0);
    size_t n;
    char *got = slurp(path, &n);
    ASSERT_EQ_U64(n, want.len);
    ASSERT(!memcmp(got, want.p, n));
    free(got);
    tp_buf_fini(&want);

    /* an empty table is its header */
    ASSERT_EQ_INT(tp_csvout_open(path, TP_CSV_ANOMALIES, &w), 0);
    ASSERT_EQ_INT(tp_csvout_close(w, false), 0);
    got = slurp(path, &n);
    ASSERT_EQ_STR(got, tp_csv_header(TP_CSV_ANOMALIES));
    free(got);
    unlink(path);

    ASSERT_EQ_INT(tp_csvout_open("/nonexistent/dir/x.csv", TP_CSV_LATE, &w), -ENOENT);
    ASSERT_EQ_INT(tp_csvout_close(NULL, true), 0);

    /* a full disk: the error is kept, later rows are refused, close reports it */
    if (access("/dev/full", W_OK) != 0) TPT_SKIP("no /dev/full");
    ASSERT_EQ_INT(tp_csvout_open("/dev/full", TP_CSV_LATE, &w), 0);
    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    e.instr = I("sim:X");
    e.price = 1;
    int rc = 0;
    for (int i = 0; i < 100000 && !rc; i++) rc = tp_csvout_late(w, &e, TP_NS_PER_SEC);
    ASSERT_EQ_INT(rc, -ENOSPC);
    ASSERT_EQ_INT(tp_csvout_error(w), -ENOSPC);
    ASSERT_EQ_INT(tp_csvout_late(w, &e, TP_NS_PER_SEC), -ENOSPC);
    ASSERT_EQ_INT(tp_csvout_close(w, false), -ENOSPC);
}

TPT_MAIN({"headers", test_headers}, {"bar", test_bar}, {"anomaly", test_anomaly},
         {"late", test_late}, {"number_and_time_forms", test_number_and_time_forms},
         {"writer", test_writer})
