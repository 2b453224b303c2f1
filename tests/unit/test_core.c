/*
 * test_core.c — times, decimal numbers, buffers, instruments, events.
 */
#include <float.h>
#include <locale.h>

#include "core/buf.h"
#include "core/event.h"
#include "core/instrument.h"
#include "core/num.h"
#include "core/rng.h"
#include "core/tptime.h"
#include "tpt.h"

static int64_t T(const char *s)
{
    int64_t v = 0;
    int rc = tp_time_parse(s, strlen(s), TP_TS_AUTO, &v);
    if (rc) TPT_FAIL("tp_time_parse(\"%s\") = %d", s, rc);
    return v;
}

static void test_time_parse(void)
{
    ASSERT_EQ_INT(T("1970-01-01T00:00:00Z"), 0);
    ASSERT_EQ_INT(T("2026-11-23T12:34:00.000000000Z"), INT64_C(1795437240) * 1000000000);
    ASSERT_EQ_INT(T("2026-11-23 12:34:00"), T("2026-11-23T12:34:00Z"));
    ASSERT_EQ_INT(T("2026-11-23T12:34:00.5Z") - T("2026-11-23T12:34:00Z"), 500000000);
    ASSERT_EQ_INT(T("2026-11-23T12:34:00.123456789Z") % 1000000000, 123456789);
    ASSERT_EQ_INT(T("2026-11-23T14:34:00+02:00"), T("2026-11-23T12:34:00Z"));
    ASSERT_EQ_INT(T("2026-11-23T10:04:00-0230"), T("2026-11-23T12:34:00Z"));
    ASSERT_EQ_INT(T("2024-01-01"), T("2024-01-01T00:00:00Z"));
    ASSERT_EQ_INT(T("1969-12-31T23:59:59.5Z"), -500000000);
    /* epoch numbers by digit count */
    ASSERT_EQ_INT(T("1672515782"), INT64_C(1672515782) * 1000000000);
    ASSERT_EQ_INT(T("1672515782136"), INT64_C(1672515782136) * 1000000);
    ASSERT_EQ_INT(T("1672515782136123"), INT64_C(1672515782136123) * 1000);
    ASSERT_EQ_INT(T("1672515782136123456"), INT64_C(1672515782136123456));
    ASSERT_EQ_INT(T("1672515782.25"), INT64_C(1672515782250000000));
    int64_t v;
    ASSERT_EQ_INT(tp_time_parse("5", 1, TP_TS_MS, &v), 0);
    ASSERT_EQ_INT(v, 5000000);
    const char *bad[] = {"",
                         "abc",
                         "2026-13-01",
                         "2026-02-30",
                         "2026-11-23T25:00:00Z",
                         "2026-11-23T12:34:00.1234567890Z",
                         "2026-11-23T12:34:00Q",
                         "12x",
                         "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (tp_time_parse(bad[i], strlen(bad[i]), TP_TS_AUTO, &v) == 0)
            TPT_FAIL("accepted bad time \"%s\"", bad[i]);
}

static void test_time_format(void)
{
    char b[TP_TIME_STRLEN];
    tp_time_format(0, b);
    ASSERT_EQ_STR(b, "1970-01-01T00:00:00.000000000Z");
    tp_time_format(-1, b);
    ASSERT_EQ_STR(b, "1969-12-31T23:59:59.999999999Z");
    tp_time_format(T("2026-11-23T12:34:00.000000001Z"), b);
    ASSERT_EQ_STR(b, "2026-11-23T12:34:00.000000001Z");
    tp_time_format(T("2024-02-29T23:59:59.999999999Z"), b);
    ASSERT_EQ_STR(b, "2024-02-29T23:59:59.999999999Z");
    char d[16];
    tp_date_format(T("2026-11-23T12:34:00Z"), d);
    ASSERT_EQ_STR(d, "2026-11-23");
    /* round trip over a wide range, including before 1970 */
    struct tp_rng r;
    tp_rng_seed(&r, 42);
    for (int i = 0; i < 100000; i++) {
        int64_t t = (int64_t)(tp_rng_u64(&r) % (UINT64_C(1) << 62)) - (INT64_C(1) << 61);
        tp_time_format(t, b);
        int64_t back;
        ASSERT_EQ_INT(tp_time_parse(b, strlen(b), TP_TS_AUTO, &back), 0);
        ASSERT_EQ_INT(back, t);
    }
}

static void test_duration(void)
{
    int64_t v;
    ASSERT_EQ_INT(tp_duration_parse("1m", &v), 0);
    ASSERT_EQ_INT(v, 60 * TP_NS_PER_SEC);
    ASSERT_EQ_INT(tp_duration_parse("500ms", &v), 0);
    ASSERT_EQ_INT(v, 500 * TP_NS_PER_MS);
    ASSERT_EQ_INT(tp_duration_parse("2", &v), 0);
    ASSERT_EQ_INT(v, 2 * TP_NS_PER_SEC);
    ASSERT(tp_duration_parse("1x", &v) < 0);
    ASSERT(tp_duration_parse("", &v) < 0);
    ASSERT(tp_duration_parse("m", &v) < 0);
    char b[32];
    tp_duration_format(3600 * TP_NS_PER_SEC, b, sizeof b);
    ASSERT_EQ_STR(b, "1h");
    tp_duration_format(1500 * TP_NS_PER_MS, b, sizeof b);
    ASSERT_EQ_STR(b, "1500ms");
}

static double N(const char *s)
{
    double d = 0;
    int rc = tp_num_parse(s, strlen(s), &d);
    if (rc) TPT_FAIL("tp_num_parse(\"%s\") = %d", s, rc);
    return d;
}

static void test_num_parse(void)
{
    ASSERT_EQ_DBL(N("33730.24000000"), 33730.24);
    ASSERT_EQ_DBL(N("0.001"), 0.001);
    ASSERT_EQ_DBL(N("-1.5e3"), -1500.0);
    ASSERT_EQ_DBL(N(".5"), 0.5);
    ASSERT_EQ_DBL(N("5."), 5.0);
    ASSERT_EQ_DBL(N("0.1"), 0.1);
    ASSERT_EQ_DBL(N("123456789012345678901234567890"), 123456789012345678901234567890.0);
    ASSERT_EQ_DBL(N("0.000000000000000000000000000001"), 1e-30);
    ASSERT_EQ_DBL(N("9007199254740993"), 9007199254740992.0); /* ties to even */
    ASSERT_EQ_DBL(N("2.2250738585072014e-308"), 2.2250738585072014e-308);
    double d;
    const char *bad[] = {"",    "-",    ".",     "e5", "1e", "nan",
                         "inf", "0x10", "1.2.3", " 1", "1 ", "1,5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (tp_num_parse(bad[i], strlen(bad[i]), &d) == 0) TPT_FAIL("accepted \"%s\"", bad[i]);
    ASSERT_EQ_INT(tp_num_parse("1e999", 5, &d), -ERANGE);
    /* independent of the locale: a comma-decimal locale must not change anything */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
        ASSERT_EQ_DBL(N("1.25"), 1.25);
        ASSERT_EQ_DBL(N("1.2345678901234567890123"), 1.2345678901234567);
        setlocale(LC_NUMERIC, "C");
    }
}

static void test_num_format(void)
{
    char b[TP_NUM_STRLEN];
    struct {
        double v;
        const char *s;
    } cases[] = {{0.1, "0.1"},
                 {33730.24, "33730.24"},
                 {100, "100"},
                 {-2.5, "-2.5"},
                 {1e21, "1e+21"},
                 {1e20, "100000000000000000000"},
                 {1e-7, "1e-7"},
                 {0.000001, "0.000001"},
                 {0.1 + 0.2, "0.30000000000000004"},
                 {5e-324, "5e-324"},
                 {0, "0"},
                 {123456.789, "123456.789"},
                 {1.7976931348623157e308, "1.7976931348623157e+308"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tp_num_format(cases[i].v, b);
        ASSERT_EQ_STR(b, cases[i].s);
    }
    /* round trip of random doubles */
    struct tp_rng r;
    tp_rng_seed(&r, 7);
    for (int i = 0; i < 200000; i++) {
        uint64_t u = tp_rng_u64(&r);
        double v;
        memcpy(&v, &u, 8);
        if (!isfinite(v)) continue;
        size_t n = tp_num_format(v, b);
        double back;
        ASSERT_EQ_INT(tp_num_parse(b, n, &back), 0);
        ASSERT_EQ_DBL(back, v);
    }
}

/* The reference tp_num_format checks its fast path against: the correctly rounded 15-, 16-,
 * 17-digit form (printf), the first that strtod reads back, laid out as JavaScript does. */
static void ref_format(double v, char *out, size_t cap)
{
    if (v == 0) {
        snprintf(out, cap, "0");
        return;
    }
    char tmp[40];
    for (int prec = fabs(v) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, fabs(v));
        if (prec == 17 || strtod(tmp, NULL) == fabs(v)) break;
    }
    char dig[24];
    int k = 0;
    char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') dig[k++] = *p;
    int e = (int)strtol(p + 1, NULL, 10) + 1;
    while (k > 1 && dig[k - 1] == '0') k--;
    size_t o = 0;
    if (v < 0) out[o++] = '-';
    if (e > -6 && e <= 21) {
        if (e <= 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int z = 0; z < -e; z++) out[o++] = '0';
            for (int j = 0; j < k; j++) out[o++] = dig[j];
        } else if (k <= e) {
            for (int j = 0; j < k; j++) out[o++] = dig[j];
            for (int z = k; z < e; z++) out[o++] = '0';
        } else {
            for (int j = 0; j < e; j++) out[o++] = dig[j];
            out[o++] = '.';
            for (int j = e; j < k; j++) out[o++] = dig[j];
        }
        out[o] = 0;
        return;
    }
    out[o++] = dig[0];
    if (k > 1) out[o++] = '.';
    for (int j = 1; j < k; j++) out[o++] = dig[j];
    snprintf(out + o, cap - o, "e%c%d", e - 1 < 0 ? '-' : '+', abs(e - 1));
}

/* tp_num_format's exact-integer fast path gives the reference's text: short decimals,
 * arithmetic results, every binade of the fast range, powers of two, the range's edges and
 * the neighbours of all of them. */
static void test_num_format_fast_path(void)
{
    struct tp_rng r;
    tp_rng_seed(&r, 11);
    char got[TP_NUM_STRLEN], want[64];
    uint64_t n = 0;
    for (int i = 0; i < 1500000; i++) {
        double v;
        switch (i % 5) {
        case 0: /* a short decimal */
            v = (double)(tp_rng_u64(&r) % 1000000000) / pow(10, (double)(tp_rng_u64(&r) % 15));
            break;
        case 1: /* any double in (and around) the fast range */
            v = ldexp((double)(tp_rng_u64(&r) >> 11), (int)(tp_rng_u64(&r) % 80) - 76);
            break;
        case 2: /* sums and ratios, as in bars and indicators */
            v = (double)(tp_rng_u64(&r) % 10000000) / 3.0 * 0.1 + 1e-3;
            break;
        case 3: /* a power of two, or one ulp from one */
            v = ldexp(1, (int)(tp_rng_u64(&r) % 76) - 22);
            v = i % 3 == 0 ? nextafter(v, 0) : i % 3 == 1 ? nextafter(v, 1e300) : v;
            break;
        default: { /* the edges: 1e-6, 2^53, 1e15 and their neighbours */
            static const double edge[] = {1e-6, 9007199254740992.0, 1e15, 1e-5, 0.5, 1};
            v = edge[tp_rng_u64(&r) % TP_ARRAY_LEN(edge)];
            for (uint64_t s = tp_rng_u64(&r) % 4; s > 0; s--) v = nextafter(v, i % 2 ? 0 : 1e300);
        }
        }
        if (tp_rng_u64(&r) % 2) v = -v;
        tp_num_format(v, got);
        ref_format(v, want, sizeof want);
        if (strcmp(got, want)) TPT_FAIL("%.17g: %s, reference %s", v, got, want);
        n++;
    }
    ASSERT_EQ_U64(n, 1500000);
}

static void test_buf(void)
{
    struct tp_buf b;
    tp_buf_init(&b, 64);
    ASSERT_EQ_INT(tp_buf_varint(&b, 300), 0);
    ASSERT_EQ_INT(tp_buf_str(&b, "hello", 5), 0);
    ASSERT_EQ_INT(tp_buf_f64(&b, -1.5), 0);
    ASSERT_EQ_INT(tp_buf_u32(&b, 0xdeadbeef), 0);
    struct tp_rd r;
    tp_rd_init(&r, b.p, b.len);
    ASSERT_EQ_U64(tp_rd_varint(&r), 300);
    const char *s;
    size_t n;
    tp_rd_str(&r, &s, &n, 16);
    ASSERT_EQ_INT(n, 5);
    ASSERT(!memcmp(s, "hello", 5));
    ASSERT_EQ_DBL(tp_rd_f64(&r), -1.5);
    ASSERT_EQ_U64(tp_rd_u32(&r), 0xdeadbeef);
    ASSERT(!r.err);
    tp_rd_u8(&r);
    ASSERT(r.err);
    /* the cap holds, and a failed append leaves the buffer as it was */
    size_t before = b.len;
    char big[100] = {0};
    ASSERT_EQ_INT(tp_buf_append(&b, big, sizeof big), -E2BIG);
    ASSERT_EQ_INT(b.len, before);
    tp_buf_fini(&b);
}

static void test_instrument(void)
{
    uint32_t a, b2, c;
    ASSERT_EQ_INT(tp_instr_intern("binance:BTC-USDT", 16, &a), 0);
    ASSERT_EQ_INT(tp_instr_intern("binance:BTC-USDT", 16, &b2), 0);
    ASSERT_EQ_INT(a, b2);
    ASSERT_EQ_INT(tp_instr_intern("sim:ETH-USD", 11, &c), 0);
    ASSERT(c != a);
    ASSERT_EQ_STR(tp_instr_name(a), "binance:BTC-USDT");
    ASSERT_EQ_INT(tp_instr_find("sim:ETH-USD", 11), c);
    ASSERT_EQ_INT(tp_instr_find("sim:XRP-USD", 11), 0);
    const char *bad[] = {"BTC", "Binance:BTC", "binance:btc", "binance:", ":BTC", "a:B C"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ASSERT_EQ_INT(tp_instr_intern(bad[i], strlen(bad[i]), &c), -EINVAL);
    char out[80];
    ASSERT(tp_instr_normalize("binance", "BTCUSDT", 7, out, sizeof out) > 0);
    ASSERT_EQ_STR(out, "binance:BTC-USDT");
    ASSERT(tp_instr_normalize("kraken", "XBT/USD", 7, out, sizeof out) > 0);
    ASSERT_EQ_STR(out, "kraken:BTC-USD");
    ASSERT(tp_instr_normalize("finnhub", "BINANCE:BTCUSDT", 15, out, sizeof out) > 0);
    ASSERT_EQ_STR(out, "finnhub:BINANCE_BTCUSDT");
    ASSERT(tp_instr_normalize("finnhub", "AAPL", 4, out, sizeof out) > 0);
    ASSERT_EQ_STR(out, "finnhub:AAPL");
    ASSERT(tp_instr_normalize("coinbase", "btc-usd", 7, out, sizeof out) > 0);
    ASSERT_EQ_STR(out, "coinbase:BTC-USD");
}

static void test_event(void)
{
    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    ASSERT(isnan(e.price) && isnan(e.bid) && isnan(e.value));
    ASSERT_EQ_INT(tp_event_set_id_str(&e, "abc", 3), 0);
    ASSERT(e.flags & TP_EV_ID_STR);
    char longid[100];
    memset(longid, 'x', sizeof longid);
    ASSERT_EQ_INT(tp_event_set_id_str(&e, longid, sizeof longid), -E2BIG);
    ASSERT_EQ_STR(e.trade_id_str, "abc");
    tp_event_set_id(&e, 42);
    ASSERT(!(e.flags & TP_EV_ID_STR));
    enum tp_side s;
    ASSERT_EQ_INT(tp_side_parse("sell", 4, &s), 0);
    ASSERT_EQ_INT(s, TP_SIDE_SELL);
    ASSERT(tp_side_parse("up", 2, &s) < 0);
    ASSERT_EQ_STR(tp_kind_name(TP_KIND_QUOTE), "quote");
}

static void test_floor_div(void)
{
    ASSERT_EQ_INT(tp_window_start(-1, 60), -60);
    ASSERT_EQ_INT(tp_window_start(0, 60), 0);
    ASSERT_EQ_INT(tp_window_start(59, 60), 0);
    ASSERT_EQ_INT(tp_window_start(60, 60), 60);
    ASSERT_EQ_INT(tp_window_start(-60, 60), -60);
    ASSERT_EQ_INT(tp_window_start(-61, 60), -120);
}

TPT_MAIN({"time_parse", test_time_parse}, {"time_format", test_time_format},
         {"duration", test_duration}, {"num_parse", test_num_parse},
         {"num_format", test_num_format}, {"num_format_fast_path", test_num_format_fast_path},
         {"buf", test_buf}, {"instrument", test_instrument}, {"event", test_event},
         {"floor_div", test_floor_div})
