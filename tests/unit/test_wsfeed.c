/*
 * test_wsfeed.c — the pieces of the live venue sources that need no network: the reconnect
 * backoff (core/backoff.h), WebSocket URLs and name resolution of numeric addresses
 * (source/ws.h), and the source spec → instruments, endpoint and subscribe requests
 * (source/wsfeed.h). The connection lifecycle itself is tested end to end on loopback by
 * tests/integration/venue_live.sh.
 */
#include "core/backoff.h"
#include "core/instrument.h"
#include "core/tptime.h"
#include "source/connstats.h"
#include "source/ws.h"
#include "source/wsfeed.h"
#include "tpt.h"

static void test_backoff_bounds(void)
{
    struct tp_backoff b;
    const int64_t min = 100 * TP_NS_PER_MS, max = 3 * TP_NS_PER_SEC;
    tp_backoff_init(&b, min, max, 42);
    int64_t d = min;
    for (int k = 0; k < 12; k++) {
        ASSERT_EQ_INT(tp_backoff_ceiling(&b), d);
        int64_t v = tp_backoff_next(&b);
        if (v < d / 2 || v > d)
            TPT_FAIL("attempt %d: %lld outside [%lld, %lld]", k, (long long)v, (long long)(d / 2),
                     (long long)d);
        d = d * 2 > max ? max : d * 2;
    }
    /* at the cap it stays there, and never gives up */
    for (int k = 0; k < 1000; k++) {
        int64_t v = tp_backoff_next(&b);
        ASSERT(v >= max / 2 && v <= max);
    }
    ASSERT_EQ_INT(tp_backoff_ceiling(&b), max);
    tp_backoff_reset(&b);
    ASSERT_EQ_INT(tp_backoff_ceiling(&b), min);
    int64_t v = tp_backoff_next(&b);
    ASSERT(v >= min / 2 && v <= min);
}

static void test_backoff_jitter(void)
{
    /* Two clients that fail together drift apart; one seed repeats itself. */
    struct tp_backoff a, b, c;
    tp_backoff_init(&a, TP_NS_PER_SEC, 60 * TP_NS_PER_SEC, 1);
    tp_backoff_init(&b, TP_NS_PER_SEC, 60 * TP_NS_PER_SEC, 2);
    tp_backoff_init(&c, TP_NS_PER_SEC, 60 * TP_NS_PER_SEC, 1);
    int differ = 0;
    double sum = 0;
    for (int k = 0; k < 200; k++) {
        int64_t x = tp_backoff_next(&a), y = tp_backoff_next(&b), z = tp_backoff_next(&c);
        differ += x != y;
        ASSERT_EQ_INT(x, z);
        if (k >= 10) sum += (double)x;
        tp_backoff_reset(&a);
        tp_backoff_reset(&b);
        tp_backoff_reset(&c);
        for (int j = 0; j < k % 8; j++) {
            tp_backoff_next(&a);
            tp_backoff_next(&b);
            tp_backoff_next(&c);
        }
    }
    ASSERT(differ > 190);
    ASSERT(sum > 0);
    /* The delays spread over [d/2, d]: their mean at the floor is about 3/4 of it. */
    struct tp_backoff m;
    tp_backoff_init(&m, TP_NS_PER_SEC, TP_NS_PER_SEC, 7);
    double mean = 0;
    int64_t lo = INT64_MAX, hi = 0;
    for (int k = 0; k < 4000; k++) {
        int64_t x = tp_backoff_next(&m);
        mean += (double)x / 4000;
        lo = TP_MIN(lo, x);
        hi = TP_MAX(hi, x);
    }
    ASSERT(mean > 0.72e9 && mean < 0.78e9);
    ASSERT(lo < 0.52e9 && hi > 0.98e9);
}

static void test_backoff_extremes(void)
{
    struct tp_backoff b;
    tp_backoff_init(&b, 0, -5, 3); /* nonsense: a 1 ms floor and cap */
    ASSERT_EQ_INT(tp_backoff_ceiling(&b), TP_NS_PER_MS);
    tp_backoff_init(&b, TP_NS_PER_SEC, INT64_MAX, 3);
    for (int k = 0; k < 200; k++) ASSERT(tp_backoff_next(&b) > 0); /* no overflow */
    ASSERT_EQ_INT(tp_backoff_ceiling(&b), INT64_MAX);              /* doubling saturates */
}

static void test_url(void)
{
    struct tp_ws_url u;
    ASSERT_EQ_INT(tp_ws_url_parse("wss://stream.binance.com:9443/stream", &u), 0);
    ASSERT(u.tls);
    ASSERT_EQ_INT(u.port, 9443);
    ASSERT_EQ_STR(u.host, "stream.binance.com");
    ASSERT_EQ_STR(u.path, "/stream");
    ASSERT_EQ_INT(tp_ws_url_parse("ws://127.0.0.1", &u), 0);
    ASSERT(!u.tls);
    ASSERT_EQ_INT(u.port, 80);
    ASSERT_EQ_STR(u.path, "/");
    ASSERT_EQ_INT(tp_ws_url_parse("wss://ws.finnhub.io?token=abc", &u), 0);
    ASSERT_EQ_INT(u.port, 443);
    ASSERT_EQ_STR(u.host, "ws.finnhub.io");
    ASSERT_EQ_STR(u.path, "/?token=abc");
    ASSERT_EQ_INT(tp_ws_url_parse("ws://[::1]:8080/ws/v5/public", &u), 0);
    ASSERT_EQ_STR(u.host, "::1");
    ASSERT_EQ_INT(u.port, 8080);
    ASSERT_EQ_STR(u.path, "/ws/v5/public");
    const char *bad[] = {"http://x/", "ws://",     "ws://:80/",  "ws://h:0/",  "ws://h:65536/",
                         "ws://h:x/", "ws://h x/", "ws://[::1/", "ws://h/a b", "wss//h"};
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++)
        if (tp_ws_url_parse(bad[i], &u) != -EINVAL) TPT_FAIL("'%s' was accepted", bad[i]);
}

static void test_resolve_numeric(void)
{
    struct tp_ws_resolver *r;
    ASSERT_EQ_INT(tp_ws_resolver_new(&r), 0);
    char addr[TP_WS_ADDR_MAX + 1], err[128];
    ASSERT_EQ_INT(tp_ws_resolve_start(r, "127.0.0.1", 80), 0);
    ASSERT_EQ_INT(tp_ws_resolve_poll(r, addr, err, sizeof err), 0);
    ASSERT_EQ_STR(addr, "127.0.0.1");
    ASSERT_EQ_INT(tp_ws_resolve_start(r, "::1", 80), 0);
    ASSERT_EQ_INT(tp_ws_resolve_poll(r, addr, err, sizeof err), 0);
    ASSERT_EQ_STR(addr, "::1");
    /* localhost comes from /etc/hosts: no network is involved */
    ASSERT_EQ_INT(tp_ws_resolve_start(r, "localhost", 80), 0);
    int rc;
    for (int i = 0; i < 500 && (rc = tp_ws_resolve_poll(r, addr, err, sizeof err)) == -EINPROGRESS;
         i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ASSERT_EQ_INT(rc, 0);
    ASSERT(!strcmp(addr, "127.0.0.1") || !strcmp(addr, "::1"));
    /* a lookup abandoned in flight is cleaned up */
    ASSERT_EQ_INT(tp_ws_resolve_start(r, "localhost", 80), 0);
    tp_ws_resolve_cancel(r);
    ASSERT_EQ_INT(tp_ws_resolve_poll(r, addr, err, sizeof err), -EHOSTUNREACH);
    ASSERT_EQ_INT(tp_ws_resolve_start(r, "localhost", 80), 0);
    tp_ws_resolver_free(r); /* with a request in flight */
}

static struct tp_wsfeed_spec sp;
static char err[512];

static void test_spec(void)
{
    ASSERT(tp_wsfeed_is_venue("binance:BTC-USDT"));
    ASSERT(tp_wsfeed_is_venue("bybit/linear:BTCUSDT"));
    ASSERT(!tp_wsfeed_is_venue("sim:BTC-USD"));
    ASSERT(!tp_wsfeed_is_venue("coingecko:bitcoin"));
    ASSERT(!tp_wsfeed_is_venue("binancex:BTC"));

    ASSERT_EQ_INT(tp_wsfeed_parse_spec("binance:btc-usdt,ETHUSDT", &sp, err, sizeof err), 0);
    ASSERT_EQ_STR(sp.v->name, "binance");
    ASSERT_EQ_INT(sp.nsyms, 2);
    ASSERT_EQ_INT(sp.channels, TP_VCH_TRADES | TP_VCH_QUOTES);
    ASSERT_EQ_STR(sp.instr[0], "binance:BTC-USDT");
    ASSERT_EQ_STR(sp.native[0], "BTCUSDT");
    ASSERT_EQ_STR(sp.instr[1], "binance:ETH-USDT");

    ASSERT_EQ_INT(tp_wsfeed_parse_spec("binance:BTC-USDT@agg+bars=5m", &sp, err, sizeof err), 0);
    ASSERT_EQ_INT(sp.channels, TP_VCH_TRADES | TP_VCH_AGG | TP_VCH_BARS);
    ASSERT_EQ_STR(sp.interval, "5m");
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("binance:BTC-USDT@quotes", &sp, err, sizeof err), 0);
    ASSERT_EQ_INT(sp.channels, TP_VCH_QUOTES);

    ASSERT_EQ_INT(tp_wsfeed_parse_spec("kraken:XBT-USD,ETH/EUR", &sp, err, sizeof err), 0);
    ASSERT_EQ_STR(sp.instr[0], "kraken:BTC-USD"); /* XBT is BTC */
    ASSERT_EQ_STR(sp.native[0], "XBT/USD");
    ASSERT_EQ_STR(sp.instr[1], "kraken:ETH-EUR");
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("bitstamp:BTC-USD", &sp, err, sizeof err), 0);
    ASSERT_EQ_STR(sp.native[0], "btcusd");
    ASSERT_EQ_STR(sp.instr[0], "bitstamp:BTC-USD");
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("bybit/linear:BTCUSDT", &sp, err, sizeof err), 0);
    ASSERT_EQ_STR(sp.market, "linear");
    ASSERT_EQ_STR(sp.instr[0], "bybit:BTC-USDT-PERP");
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("bybit:BTCUSDT", &sp, err, sizeof err), 0);
    ASSERT_EQ_STR(sp.instr[0], "bybit:BTC-USDT");
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("finnhub:AAPL,BINANCE:BTCUSDT", &sp, err, sizeof err), 0);
    ASSERT_EQ_INT(sp.channels, TP_VCH_TRADES);
    ASSERT_EQ_STR(sp.instr[1], "finnhub:BINANCE_BTCUSDT");
    ASSERT_EQ_STR(sp.native[1], "BINANCE:BTCUSDT");
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("okx:BTC-USD-210924-66000-C", &sp, err, sizeof err), 0);
    ASSERT_EQ_STR(sp.instr[0], "okx:BTC-USD-210924-66000-C");

    struct {
        const char *spec, *why;
    } bad[] = {
        {"binance", "names no symbol"},
        {"binance:", "names no symbol"},
        {"binance:,,", "names no symbol"},
        {"nasdaq:AAPL", "not a known venue"},
        {"bybit/moon:BTCUSDT", "market 'moon'"},
        {"binance:BTC-USDT@candles", "unknown channel 'candles'"},
        {"binance:BTC-USDT@", "names no channel"},
        {"binance:BTC-USDT@trades++quotes", "empty or unknown channel"},
        {"binance:BTC-USDT,btcusdt", "names binance:BTC-USDT twice"},
        {"finnhub:AAPL@quotes", "does not offer"},
        {"kraken:BTC-USD@bars", "does not offer"},
        {"okx:BTC-USDT@trades+bars=1m", "OKX serves candles on another endpoint"},
        {"binance:BTC-USDT@bars=7m", "cannot be subscribed"},
        {"kraken:BTCUSD", "cannot be subscribed"},
        {"binance:BTC$USDT", "cannot spell"},
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++) {
        err[0] = 0;
        if (tp_wsfeed_parse_spec(bad[i].spec, &sp, err, sizeof err) != -EINVAL)
            TPT_FAIL("'%s' was accepted", bad[i].spec);
        if (!strstr(err, bad[i].why))
            TPT_FAIL("'%s': '%s' does not say '%s'", bad[i].spec, err, bad[i].why);
    }
    /* 256 symbols fit one source, 257 do not */
    static char big[256 * 12 + 64];
    size_t o = (size_t)snprintf(big, sizeof big, "bybit:");
    for (int i = 0; i < 257; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "%sS%dUSDT", i ? "," : "", i);
    ASSERT_EQ_INT(tp_wsfeed_parse_spec(big, &sp, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "more than 256"));
    *strrchr(big, ',') = 0;
    ASSERT_EQ_INT(tp_wsfeed_parse_spec(big, &sp, err, sizeof err), 0);
    ASSERT_EQ_INT(sp.nsyms, 256);
}

/* The requests a spec subscribes with, on every connection. */
static const char *requests(const char *spec, int want)
{
    static struct tp_buf b;
    tp_buf_fini(&b);
    tp_buf_init(&b, 1 << 20);
    if (tp_wsfeed_parse_spec(spec, &sp, err, sizeof err)) TPT_FAIL("%s: %s", spec, err);
    ASSERT_EQ_INT(tp_wsfeed_requests(&sp, &b), want);
    if (tp_buf_putc(&b, 0) < 0) TPT_FAIL("buf");
    return b.p;
}

static void test_requests(void)
{
    ASSERT_EQ_STR(requests("binance:BTC-USDT,ETH-USDT", 1),
                  "{\"method\":\"SUBSCRIBE\",\"params\":[\"btcusdt@trade\",\"btcusdt@bookTicker\","
                  "\"ethusdt@trade\",\"ethusdt@bookTicker\"],\"id\":1}\n");
    ASSERT_EQ_STR(requests("binance:SWRVBUSD@agg", 1),
                  "{\"method\":\"SUBSCRIBE\",\"params\":[\"swrvbusd@aggTrade\"],\"id\":1}\n");
    ASSERT_EQ_STR(
        requests("okx:BTC-USDT", 1),
        "{\"id\":\"1\",\"op\":\"subscribe\",\"args\":[{\"channel\":\"tickers\",\"instId\":"
        "\"BTC-USDT\"},{\"channel\":\"trades\",\"instId\":\"BTC-USDT\"}]}\n");
    ASSERT_EQ_STR(requests("coinbase:BTC-USD@trades", 2),
                  "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\"],\"channel\":"
                  "\"market_trades\"}\n"
                  "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\"],\"channel\":"
                  "\"heartbeats\"}\n");
    ASSERT_EQ_STR(requests("finnhub:AAPL,BINANCE:BTCUSDT", 2),
                  "{\"type\":\"subscribe\",\"symbol\":\"AAPL\"}\n"
                  "{\"type\":\"subscribe\",\"symbol\":\"BINANCE:BTCUSDT\"}\n");
    ASSERT_EQ_STR(requests("bitstamp:BTC-USD@trades", 1),
                  "{\"event\":\"bts:subscribe\",\"data\":{\"channel\":\"live_trades_btcusd\"}}\n");
    /* Bybit spot: at most 10 topics per request */
    static char spec[512];
    size_t o = (size_t)snprintf(spec, sizeof spec, "bybit:");
    for (int i = 0; i < 12; i++)
        o += (size_t)snprintf(spec + o, sizeof spec - o, "%sS%dUSDT", i ? "," : "", i);
    snprintf(spec + o, sizeof spec - o, "@trades");
    const char *r = requests(spec, 2);
    ASSERT(strstr(r, "\"publicTrade.S9USDT\"]}\n{\"req_id\":\"2\",\"op\":\"subscribe\",\"args\":["
                     "\"publicTrade.S10USDT\""));
}

static void test_endpoint(void)
{
    char url[TP_WSFEED_URL_MAX];
    const char *eps[] = {"binance=ws://127.0.0.1:9443/stream", "bybit/linear=ws://127.0.0.1:1/l",
                         "bybit=ws://127.0.0.1:2/any", "finnhub=ws://127.0.0.1:3/?x=1"};
    struct tp_wsfeed_opts o = {.endpoints = eps, .nendpoints = 4, .finnhub_token = "tok123"};
    struct tp_wsfeed_opts none = {.finnhub_token = "tok123"};
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("binance:BTC-USDT", &sp, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &o, url, sizeof url, err, sizeof err), 0);
    ASSERT_EQ_STR(url, "ws://127.0.0.1:9443/stream");
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &none, url, sizeof url, err, sizeof err), 0);
    ASSERT_EQ_STR(url, "wss://stream.binance.com:9443/stream");
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("bybit/linear:BTCUSDT", &sp, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &o, url, sizeof url, err, sizeof err), 0);
    ASSERT_EQ_STR(url, "ws://127.0.0.1:1/l");
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &none, url, sizeof url, err, sizeof err), 0);
    ASSERT_EQ_STR(url, "wss://stream.bybit.com/v5/public/linear");
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("bybit:BTCUSDT", &sp, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &o, url, sizeof url, err, sizeof err), 0);
    ASSERT_EQ_STR(url, "ws://127.0.0.1:2/any");
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &none, url, sizeof url, err, sizeof err), 0);
    ASSERT_EQ_STR(url, "wss://stream.bybit.com/v5/public/spot");
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("okx:BTC-USDT@bars=1h", &sp, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &none, url, sizeof url, err, sizeof err), 0);
    ASSERT_EQ_STR(url, "wss://ws.okx.com:8443/ws/v5/business");
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("finnhub:AAPL", &sp, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &none, url, sizeof url, err, sizeof err), 0);
    ASSERT_EQ_STR(url, "wss://ws.finnhub.io?token=tok123");
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &o, url, sizeof url, err, sizeof err), 0);
    ASSERT_EQ_STR(url, "ws://127.0.0.1:3/?x=1&token=tok123");
    /* no token anywhere: a usage error that says what to do */
    struct tp_wsfeed_opts notok = {0};
    const char *saved = getenv("FINNHUB_API_TOKEN");
    unsetenv("FINNHUB_API_TOKEN");
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &notok, url, sizeof url, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "FINNHUB_API_TOKEN"));
    setenv("FINNHUB_API_TOKEN", "envtok", 1);
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &notok, url, sizeof url, err, sizeof err), 0);
    ASSERT_EQ_STR(url, "wss://ws.finnhub.io?token=envtok");
    struct tp_wsfeed_opts weird = {.finnhub_token = "a&b"};
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &weird, url, sizeof url, err, sizeof err), -EINVAL);
    if (saved)
        setenv("FINNHUB_API_TOKEN", saved, 1);
    else
        unsetenv("FINNHUB_API_TOKEN");
    /* a malformed override */
    const char *badep[] = {"binance=http://x/"};
    struct tp_wsfeed_opts b = {.endpoints = badep, .nendpoints = 1};
    ASSERT_EQ_INT(tp_wsfeed_parse_spec("binance:BTC-USDT", &sp, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_wsfeed_url(&sp, &b, url, sizeof url, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "http://x/"));
}

static void test_source_new(void)
{
    struct tp_source *s = NULL;
    const char *eps[] = {"okx=ws://127.0.0.1:1/ws"};
    struct tp_wsfeed_opts o = {.endpoints = eps, .nendpoints = 1};
    ASSERT_EQ_INT(tp_wsfeed_source_new("okx:BTC-USDT,ETH-USDT", &o, &s, err, sizeof err), 0);
    ASSERT(s->live);
    struct tp_wsfeed_stats st;
    ASSERT(tp_wsfeed_stats(s, &st));
    ASSERT_EQ_U64(st.connects, 0);
    ASSERT(!st.connected);
    /* the instruments exist before any data arrives (holds and heartbeats need them) */
    ASSERT(tp_instr_find("okx:ETH-USDT", 12) != 0);
    /* Its connector snapshot (source/connstats.h) before the run: nothing counted yet. */
    struct tp_connstats cs;
    ASSERT(tp_source_connstats(s, tp_now_ns(), tp_mono_ns(), &cs));
    ASSERT_EQ_INT(cs.kind, TP_CONN_WS);
    ASSERT_EQ_STR(cs.venue, "okx");
    ASSERT_EQ_STR(tp_ws_state_name(cs.state), "connecting");
    ASSERT_EQ_INT((int)cs.instruments, 2);
    ASSERT(cs.attempts == 0 && cs.last_rx == 0 && !cs.have_skew && cs.nsyms == 0);
    tp_source_free(s);
    ASSERT_EQ_INT(tp_wsfeed_source_new("okx:BTC-USDT@bogus", &o, &s, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "bogus"));
    ASSERT(!tp_wsfeed_stats(NULL, &st));
}

TPT_MAIN({"backoff_bounds", test_backoff_bounds}, {"backoff_jitter", test_backoff_jitter},
         {"backoff_extremes", test_backoff_extremes}, {"url", test_url},
         {"resolve_numeric", test_resolve_numeric}, {"spec", test_spec},
         {"requests", test_requests}, {"endpoint", test_endpoint}, {"source_new", test_source_new})
