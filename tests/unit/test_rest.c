/*
 * test_rest.c — the REST body parsers (src/source/rest_<venue>.c), instrument names and
 * Retry-After parsing.
 *
 * Part one: the project's own samples, written from each venue's documented format, with
 * every value checked exactly (prices are compared with the correctly rounded double of their
 * decimal text), plus the bodies that are not data (rate-limit notes, error messages, empty
 * quotes, malformed JSON) classified as such.
 * Part two: every file under $TP_SHARED/fixtures/rest (skipped, saying so, when absent),
 * each with its known values; a file this test does not know is still parsed by the venue
 * its name starts with and must be classified.
 */
#include <dirent.h>
#include <math.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "source/backfill.h"
#include "source/connstats.h"
#include "source/rest.h"
#include "source/rest_int.h"
#include "tpt.h"

#define RECV INT64_C(1764100000000000000) /* 2025-11-25T19:46:40Z */
#define SEC  INT64_C(1000000000)

static struct tp_event ev[1024];
static struct tp_rest_result res;

static int parse(const char *venue, const char *body)
{
    struct tp_rest_parser *p;
    ASSERT_EQ_INT(tp_rest_parser_new(tp_rest_find(venue), &p), 0);
    int n = tp_rest_parse(p, body, strlen(body), RECV, ev, TP_ARRAY_LEN(ev), &res);
    tp_rest_parser_free(p);
    return n;
}

static void expect_name(const struct tp_event *e, const char *name)
{
    ASSERT_EQ_STR(tp_instr_name(e->instr), name);
}

static int64_t t_of(const char *iso)
{
    int64_t t;
    if (tp_time_parse(iso, strlen(iso), TP_TS_AUTO, &t) < 0) TPT_FAIL("bad time %s", iso);
    return t;
}

/* ---- own samples ---------------------------------------------------------------------- */

static void test_coingecko(void)
{
    /* The documented shape: ids → {currency: price, currency_... extras, last_updated_at}. */
    int n =
        parse("coingecko", "{\"ethereum\":{\"usd\":3012.5,\"eur\":2790.01,\"usd_24h_vol\":1.5e10,"
                           "\"last_updated_at\":1700000100},"
                           "\"bitcoin\":{\"usd\":42000,\"usd_market_cap\":8.2e11,"
                           "\"last_updated_at\":1700000040},"
                           "\"my-coin\":{\"usd\":0.000012345}}");
    ASSERT_EQ_INT(res.kind, TP_REST_DATA);
    ASSERT_EQ_INT(n, 4);
    /* time order: bitcoin (…040), ethereum usd and eur (…100), my-coin (receive time) */
    expect_name(&ev[0], "coingecko:BTC-USD");
    ASSERT_EQ_INT(ev[0].kind, TP_KIND_SNAPSHOT);
    ASSERT_EQ_DBL(ev[0].price, 42000.0);
    ASSERT_EQ_INT(ev[0].ts, 1700000040 * SEC);
    ASSERT(ev[0].flags & TP_EV_TS_VENUE);
    ASSERT_EQ_STR(ev[0].venue_symbol, "bitcoin");
    expect_name(&ev[1], "coingecko:ETH-USD");
    ASSERT_EQ_DBL(ev[1].price, 3012.5);
    expect_name(&ev[2], "coingecko:ETH-EUR");
    ASSERT_EQ_DBL(ev[2].price, 2790.01);
    ASSERT_EQ_INT(ev[2].ts, 1700000100 * SEC);
    expect_name(&ev[3], "coingecko:MY_COIN-USD");
    ASSERT_EQ_DBL(ev[3].price, 0.000012345);
    ASSERT_EQ_INT(ev[3].ts, RECV);
    ASSERT(!(ev[3].flags & TP_EV_TS_VENUE));
    ASSERT_EQ_INT(ev[3].ts_recv, RECV);
    ASSERT(isnan(ev[0].size));

    ASSERT_EQ_INT(parse("coingecko", "{}"), 0); /* unknown ids are just absent */
    ASSERT_EQ_INT(res.kind, TP_REST_DATA);
    ASSERT(parse("coingecko", "{\"status\":{\"error_code\":429,\"error_message\":\"You've "
                              "exceeded the Rate Limit.\"}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_RATE_LIMIT);
    ASSERT_EQ_STR(res.text, "You've exceeded the Rate Limit.");
    ASSERT(parse("coingecko", "{\"error\":\"coin not found\"}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_ERROR);
    ASSERT_EQ_STR(res.text, "coin not found");
    ASSERT(parse("coingecko", "{\"bitcoin\":{\"usd\":\"abc\"}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
    ASSERT(parse("coingecko", "{\"\":{\"ask\":686}}") < 0); /* fuzzer: an empty coin id */
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
    ASSERT(parse("coingecko", "{\"bitcoin\":[1]}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
    ASSERT(parse("coingecko", "{\"bitcoin\":{\"usd\":1") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
}

static void test_alphavantage(void)
{
    int n = parse("alphavantage",
                  "{\n    \"Global Quote\": {\n        \"01. symbol\": \"IBM\",\n"
                  "        \"02. open\": \"135.2100\",\n        \"03. high\": \"136.6250\",\n"
                  "        \"04. low\": \"134.8900\",\n        \"05. price\": \"136.3800\",\n"
                  "        \"06. volume\": \"4105340\",\n"
                  "        \"07. latest trading day\": \"2023-05-12\",\n"
                  "        \"08. previous close\": \"135.3400\",\n"
                  "        \"09. change\": \"1.0400\",\n"
                  "        \"10. change percent\": \"0.7684%\"\n    }\n}");
    ASSERT_EQ_INT(n, 1);
    expect_name(&ev[0], "alphavantage:IBM");
    ASSERT_EQ_INT(ev[0].kind, TP_KIND_SNAPSHOT);
    ASSERT_EQ_DBL(ev[0].price, 136.38);
    ASSERT_EQ_DBL(ev[0].open, 135.21);
    ASSERT_EQ_DBL(ev[0].high, 136.625);
    ASSERT_EQ_DBL(ev[0].low, 134.89);
    ASSERT_EQ_DBL(ev[0].change, 1.04);
    ASSERT_EQ_INT(ev[0].ts, RECV); /* a trading day is not a time */
    ASSERT(!(ev[0].flags & TP_EV_TS_VENUE));

    n = parse(
        "alphavantage",
        "{\"Realtime Currency Exchange Rate\": {\"1. From_Currency Code\": \"EUR\","
        "\"2. From_Currency Name\": \"Euro\",\"3. To_Currency Code\": \"USD\","
        "\"4. To_Currency Name\": \"United States Dollar\",\"5. Exchange Rate\": \"1.08010000\","
        "\"6. Last Refreshed\": \"2024-02-01 12:00:01\",\"7. Time Zone\": \"UTC\","
        "\"8. Bid Price\": \"1.08005000\",\"9. Ask Price\": \"-\"}}");
    ASSERT_EQ_INT(n, 1);
    expect_name(&ev[0], "alphavantage:EUR-USD");
    ASSERT_EQ_STR(ev[0].venue_symbol, "EUR/USD");
    ASSERT_EQ_DBL(ev[0].price, 1.0801);
    ASSERT_EQ_DBL(ev[0].bid, 1.08005);
    ASSERT(isnan(ev[0].ask));
    ASSERT_EQ_INT(ev[0].ts, t_of("2024-02-01T12:00:01Z"));
    ASSERT(ev[0].flags & TP_EV_TS_VENUE);

    ASSERT(parse("alphavantage", "{\"Global Quote\": {}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_ERROR);
    ASSERT(strstr(res.text, "unknown symbol"));
    ASSERT(parse("alphavantage", "{\"Note\": \"Thank you for using Alpha Vantage! Our standard "
                                 "API call frequency is 5 calls per minute.\"}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_RATE_LIMIT);
    ASSERT(strstr(res.text, "5 calls per minute"));
    ASSERT(parse("alphavantage", "{\"Information\": \"rate limit is 25 requests per day\"}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_RATE_LIMIT);
    ASSERT(parse("alphavantage", "{\"Error Message\": \"Invalid API call.\\nSee docs\"}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_ERROR);
    ASSERT_EQ_STR(res.text, "Invalid API call. See docs"); /* control characters blanked */
    /* fuzzer: an escaped text longer than the result's text is cut, terminated */
    char big[700];
    size_t o = (size_t)snprintf(big, sizeof big, "{\"Error Message\": \"");
    for (int i = 0; i < 300; i++) o += (size_t)snprintf(big + o, sizeof big - o, "\\\\");
    snprintf(big + o, sizeof big - o, "\"}");
    ASSERT(parse("alphavantage", big) < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_ERROR);
    ASSERT_EQ_INT(strlen(res.text), TP_REST_TEXT_MAX);
    ASSERT(parse("alphavantage", "{\"Global Quote\": {\"01. symbol\": \"X\"}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
    ASSERT(parse("alphavantage", "[]") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
}

/* Local times to UTC: US/Eastern at every DST boundary of both rule sets (expected values
 * worked out from the rules and checked against the IANA zone once), UTC, refusals. */
static void test_local_utc(void)
{
    static const struct {
        const char *local, *utc;
    } t[] = {
        /* since 2007: second Sunday of March 02:00 EST -> first Sunday of November 02:00 EDT */
        {"2024-03-10 01:59:00", "2024-03-10T06:59:00Z"}, /* last EST minute */
        {"2024-03-10 02:30:00", "2024-03-10T07:30:00Z"}, /* nonexistent: read as EST */
        {"2024-03-10 03:00:00", "2024-03-10T07:00:00Z"}, /* first EDT minute */
        {"2024-11-03 00:59:00", "2024-11-03T04:59:00Z"},
        {"2024-11-03 01:30:00", "2024-11-03T05:30:00Z"}, /* ambiguous: first occurrence (EDT) */
        {"2024-11-03 02:00:00", "2024-11-03T07:00:00Z"}, /* EST again */
        {"2007-03-10 12:00:00", "2007-03-10T17:00:00Z"},
        {"2007-03-11 03:00:00", "2007-03-11T07:00:00Z"},
        {"2007-11-04 02:00:00", "2007-11-04T07:00:00Z"},
        {"2024-08-02 19:55:00", "2024-08-02T23:55:00Z"},
        {"2017-12-18 14:55:00", "2017-12-18T19:55:00Z"},
        {"2024-02-29 12:00", "2024-02-29T17:00:00Z"}, /* no seconds */
        /* 1987-2006: first Sunday of April -> last Sunday of October */
        {"2006-04-02 01:59:59", "2006-04-02T06:59:59Z"},
        {"2006-04-02 03:00:00", "2006-04-02T07:00:00Z"},
        {"2006-10-29 01:30:00", "2006-10-29T05:30:00Z"},
        {"2006-10-29 02:00:00", "2006-10-29T07:00:00Z"},
        {"2006-03-12 12:00:00", "2006-03-12T17:00:00Z"}, /* a 2007-rule DST day, EST in 2006 */
        {"1987-04-04 23:00:00", "1987-04-05T04:00:00Z"},
        {"1987-04-05 03:00:00", "1987-04-05T07:00:00Z"},
        {"1987-10-25 02:00:00", "1987-10-25T07:00:00Z"},
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(t); i++) {
        int64_t ns;
        ASSERT_EQ_INT(tp_rp_local_utc("US/Eastern", 10, t[i].local, strlen(t[i].local), &ns), 0);
        if (ns != t_of(t[i].utc))
            TPT_FAIL("%s: got %lld, want %s", t[i].local, (long long)ns, t[i].utc);
    }
    int64_t ns;
    ASSERT_EQ_INT(tp_rp_local_utc("America/New_York", 16, "2024-07-01 09:30:00", 19, &ns), 0);
    ASSERT_EQ_INT(ns, t_of("2024-07-01T13:30:00Z"));
    ASSERT_EQ_INT(tp_rp_local_utc("UTC", 3, "2024-03-10 02:30:00", 19, &ns), 0);
    ASSERT_EQ_INT(ns, t_of("2024-03-10T02:30:00Z"));
    ASSERT_EQ_INT(tp_rp_local_utc("US/Eastern", 10, "1986-07-01 12:00:00", 19, &ns), -ERANGE);
    ASSERT_EQ_INT(tp_rp_local_utc("Europe/London", 13, "2024-07-01 12:00:00", 19, &ns), -ENOTSUP);
    ASSERT_EQ_INT(tp_rp_local_utc("US/Eastern", 10, "2023-02-29 12:00:00", 19, &ns), -EINVAL);
    ASSERT_EQ_INT(tp_rp_local_utc("US/Eastern", 10, "2024-07-01 24:00:00", 19, &ns), -EINVAL);
    ASSERT_EQ_INT(tp_rp_local_utc("UTC", 3, "2024-07-01", 10, &ns), -EINVAL);
    ASSERT_EQ_INT(tp_rp_local_utc("UTC", 3, "9999-12-31 23:59:59", 19, &ns), -EINVAL); /* > int64 */
    ASSERT_EQ_INT(tp_rp_local_utc("UTC", 3, "0001-01-01 00:00:00", 19, &ns), -EINVAL);
}

/* TIME_SERIES_INTRADAY / FX_INTRADAY / CRYPTO_INTRADAY bodies in the documented shapes. */
static void test_av_intraday(void)
{
    /* Across the 2024 spring-forward night (Eastern): the newest bar (03:05, = Last
     * Refreshed) is held back; keys newest first as Alpha Vantage writes them. */
    int n =
        parse("alphavantage",
              "{\n    \"Meta Data\": {\n"
              "        \"1. Information\": \"Intraday (5min) open, high, low, close prices and "
              "volume\",\n        \"2. Symbol\": \"IBM\",\n"
              "        \"3. Last Refreshed\": \"2024-03-10 03:05:00\",\n"
              "        \"4. Interval\": \"5min\",\n        \"5. Output Size\": \"Compact\",\n"
              "        \"6. Time Zone\": \"US/Eastern\"\n    },\n"
              "    \"Time Series (5min)\": {\n"
              "        \"2024-03-10 03:05:00\": {\"1. open\": \"9.0000\", \"2. high\": \"9.5000\","
              " \"3. low\": \"8.5000\", \"4. close\": \"9.2500\", \"5. volume\": \"7\"},\n"
              "        \"2024-03-10 03:00:00\": {\"1. open\": \"188.3500\", \"2. high\": "
              "\"188.3600\", \"3. low\": \"188.3400\", \"4. close\": \"188.3550\", \"5. volume\": "
              "\"60\"},\n"
              "        \"2024-03-10 01:55:00\": {\"1. open\": \"188.1000\", \"2. high\": "
              "\"188.2000\", \"3. low\": \"188.0000\", \"4. close\": \"188.1500\", \"5. volume\": "
              "\"1205\"}\n    }\n}");
    ASSERT_EQ_INT(n, 2);
    for (int i = 0; i < n; i++) {
        expect_name(&ev[i], "alphavantage:IBM");
        ASSERT_EQ_STR(ev[i].venue_symbol, "IBM");
        ASSERT_EQ_INT(ev[i].kind, TP_KIND_VBAR);
        ASSERT(ev[i].flags & TP_EV_TS_VENUE);
        ASSERT_EQ_INT(ev[i].ts_recv, RECV);
    }
    ASSERT_EQ_INT(ev[0].ts, t_of("2024-03-10T06:55:00Z")); /* 01:55 EST, in time order */
    ASSERT_EQ_DBL(ev[0].open, 188.1);
    ASSERT_EQ_DBL(ev[0].high, 188.2);
    ASSERT_EQ_DBL(ev[0].low, 188.0);
    ASSERT_EQ_DBL(ev[0].price, 188.15);
    ASSERT_EQ_DBL(ev[0].size, 1205);
    ASSERT_EQ_INT(ev[1].ts, t_of("2024-03-10T07:00:00Z")); /* 03:00 EDT: 5 minutes later */
    ASSERT_EQ_DBL(ev[1].price, 188.355);
    ASSERT_EQ_DBL(ev[1].size, 60);

    /* Autumn: 01:30 happens twice; read as the first (EDT), 02:00 is EST. Last Refreshed
     * past the newest bar's end: nothing held back. */
    n = parse("alphavantage",
              "{\"Meta Data\": {\"2. Symbol\": \"IBM\", \"3. Last Refreshed\": \"2024-11-03 "
              "03:00:00\", \"4. Interval\": \"60min\", \"6. Time Zone\": \"US/Eastern\"},"
              "\"Time Series (60min)\": {"
              "\"2024-11-03 02:00:00\": {\"1. open\": \"2\", \"2. high\": \"2\", \"3. low\": \"2\","
              " \"4. close\": \"2\", \"5. volume\": \"2\"},"
              "\"2024-11-03 01:30:00\": {\"1. open\": \"1\", \"2. high\": \"1\", \"3. low\": \"1\","
              " \"4. close\": \"1\", \"5. volume\": \"1\"}}}");
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(ev[0].ts, t_of("2024-11-03T05:30:00Z"));
    ASSERT_EQ_INT(ev[1].ts, t_of("2024-11-03T07:00:00Z"));

    /* FX_INTRADAY: UTC, no volume; its own Meta Data numbering. */
    n = parse("alphavantage",
              "{\"Meta Data\": {\"1. Information\": \"FX Intraday (5min) Time Series\","
              "\"2. From Symbol\": \"EUR\", \"3. To Symbol\": \"USD\","
              "\"4. Last Refreshed\": \"2019-02-21 18:30:00\", \"5. Interval\": \"5min\","
              "\"6. Output Size\": \"Compact\", \"7. Time Zone\": \"UTC\"},"
              "\"Time Series FX (5min)\": {"
              "\"2019-02-21 18:30:00\": {\"1. open\": \"1.1329\", \"2. high\": \"1.1330\","
              " \"3. low\": \"1.1325\", \"4. close\": \"1.1330\"},"
              "\"2019-02-21 18:25:00\": {\"1. open\": \"1.1327\", \"2. high\": \"1.1331\","
              " \"3. low\": \"1.1326\", \"4. close\": \"1.1329\"}}}");
    ASSERT_EQ_INT(n, 1);
    expect_name(&ev[0], "alphavantage:EUR-USD");
    ASSERT_EQ_STR(ev[0].venue_symbol, "EUR/USD");
    ASSERT_EQ_INT(ev[0].ts, t_of("2019-02-21T18:25:00Z"));
    ASSERT_EQ_DBL(ev[0].open, 1.1327);
    ASSERT_EQ_DBL(ev[0].price, 1.1329);
    ASSERT(isnan(ev[0].size));

    /* CRYPTO_INTRADAY: interval from the series name when Meta Data lacks it. */
    n = parse("alphavantage",
              "{\"Meta Data\": {\"1. Information\": \"Crypto Intraday (1min) Time Series\","
              "\"2. Digital Currency Code\": \"BTC\", \"3. Digital Currency Name\": \"Bitcoin\","
              "\"4. Market Code\": \"USD\", \"5. Market Name\": \"United States Dollar\","
              "\"6. Last Refreshed\": \"2024-10-31 21:45:00\", \"9. Time Zone\": \"UTC\"},"
              "\"Time Series Crypto (1min)\": {"
              "\"2024-10-31 21:45:00\": {\"1. open\": \"70224.66000\", \"2. high\": "
              "\"70434.69000\", \"3. low\": \"70220.27000\", \"4. close\": \"70350.10000\", "
              "\"5. volume\": 89},"
              "\"2024-10-31 21:44:00\": {\"1. open\": \"70200.01000\", \"2. high\": "
              "\"70230.00000\", \"3. low\": \"70190.50000\", \"4. close\": \"70224.66000\", "
              "\"5. volume\": \"12.5\"}}}");
    ASSERT_EQ_INT(n, 1);
    expect_name(&ev[0], "alphavantage:BTC-USD");
    ASSERT_EQ_INT(ev[0].ts, t_of("2024-10-31T21:44:00Z"));
    ASSERT_EQ_DBL(ev[0].low, 70190.5);
    ASSERT_EQ_DBL(ev[0].size, 12.5);

    /* Another zone: an error about the symbol, never a guess. */
    ASSERT(parse("alphavantage",
                 "{\"Meta Data\": {\"2. Symbol\": \"TSCO.LON\", \"4. Interval\": \"5min\","
                 "\"6. Time Zone\": \"Europe/London\"}, \"Time Series (5min)\": {}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_ERROR);
    ASSERT(strstr(res.text, "time zone 'Europe/London' is not supported"));
    /* Eastern before 1987: refused clearly. */
    ASSERT(parse("alphavantage",
                 "{\"Meta Data\": {\"2. Symbol\": \"IBM\", \"4. Interval\": \"5min\","
                 "\"6. Time Zone\": \"US/Eastern\"}, \"Time Series (5min)\": {"
                 "\"1986-05-01 10:00:00\": {\"1. open\": \"1\", \"2. high\": \"1\", \"3. low\": "
                 "\"1\", \"4. close\": \"1\"}}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_ERROR);
    ASSERT(strstr(res.text, "before 1987"));
    /* Malformed: no zone, a bad time, a bad number, no series. */
    ASSERT(parse("alphavantage", "{\"Meta Data\": {\"2. Symbol\": \"IBM\", \"4. Interval\": "
                                 "\"5min\"}, \"Time Series (5min)\": {}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
    ASSERT(parse("alphavantage",
                 "{\"Meta Data\": {\"2. Symbol\": \"IBM\", \"4. Interval\": \"5min\","
                 "\"6. Time Zone\": \"UTC\"}, \"Time Series (5min)\": {\"yesterday\": {}}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
    ASSERT(parse("alphavantage",
                 "{\"Meta Data\": {\"2. Symbol\": \"IBM\", \"4. Interval\": \"5min\","
                 "\"6. Time Zone\": \"UTC\"}, \"Time Series (5min)\": {\"2024-01-02 10:00:00\": "
                 "{\"1. open\": \"x\", \"2. high\": \"1\", \"3. low\": \"1\", \"4. close\": "
                 "\"1\"}}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
    ASSERT(parse("alphavantage", "{\"Meta Data\": {\"2. Symbol\": \"IBM\"}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
    /* An empty series (a holiday): no events, data all the same. */
    ASSERT_EQ_INT(parse("alphavantage", "{\"Meta Data\": {\"2. Symbol\": \"IBM\", \"4. Interval\": "
                                        "\"5min\", \"6. Time Zone\": \"US/Eastern\"}, "
                                        "\"Time Series (5min)\": {}}"),
                  0);
}

/* The intraday requests: function per kind of symbol, interval, raw values. */
static void test_av_paths(void)
{
    static const struct {
        const char *sym, *opt, *want;
    } t[] = {
        {"IBM", "5min",
         "/query?function=TIME_SERIES_INTRADAY&symbol=IBM&adjusted=false&interval=5min"
         "&outputsize=compact&apikey=K"},
        {"EUR-USD", "1min",
         "/query?function=FX_INTRADAY&from_symbol=EUR&to_symbol=USD&interval=1min"
         "&outputsize=compact&apikey=K"},
        {"BTC-USD", "60min",
         "/query?function=CRYPTO_INTRADAY&symbol=BTC&market=USD&interval=60min"
         "&outputsize=compact&apikey=K"},
        {"IBM", NULL, "/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=K"},
    };
    const struct tp_rest_venue *v = tp_rest_find("alphavantage");
    for (size_t i = 0; i < TP_ARRAY_LEN(t); i++) {
        char name[80], native[TP_VSYM_MAX + 1];
        ASSERT(tp_rest_instrument(v, t[i].sym, t[i].opt, name, sizeof name, native) > 0);
        struct tp_buf b;
        tp_buf_init(&b, 4096);
        const char *nat[] = {t[i].sym};
        ASSERT_EQ_INT(v->path(nat, 1, t[i].opt, "K", &b), 0);
        ASSERT_EQ_INT(tp_buf_putc(&b, 0), 0);
        ASSERT_EQ_STR(b.p, t[i].want);
        tp_buf_fini(&b);
    }
    char name[80], native[TP_VSYM_MAX + 1];
    ASSERT(tp_rest_instrument(v, "IBM", "5m", name, sizeof name, native) < 0);
    ASSERT(tp_rest_instrument(v, "IBM", "2min", name, sizeof name, native) < 0);
}

static const char chart[] =
    "{\"chart\":{\"result\":[{\"meta\":{\"currency\":\"USD\",\"symbol\":\"MSFT\","
    "\"regularMarketTime\":1700000150,\"regularMarketPrice\":370.5,\"dataGranularity\":\"1m\"},"
    "\"timestamp\":[1700000040,1700000100,1700000160,1700000220],"
    "\"indicators\":{\"quote\":[{\"volume\":[100,null,300,400],"
    "\"open\":[370.1,null,370.4,370.6],\"high\":[370.25,null,370.5,370.7],"
    "\"low\":[370,null,370.3,370.5],\"close\":[370.2,null,370.45,370.65]}]}}],\"error\":null}}";

static void test_yahoo(void)
{
    int n = parse("yahoo", chart);
    /* bar 1 closed (…040 + 60 ≤ …150); bar 2 is a hole; bars 3 and 4 still open; snapshot */
    ASSERT_EQ_INT(n, 2);
    expect_name(&ev[0], "yahoo:MSFT");
    ASSERT_EQ_INT(ev[0].kind, TP_KIND_VBAR);
    ASSERT_EQ_INT(ev[0].ts, 1700000040 * SEC);
    ASSERT_EQ_DBL(ev[0].open, 370.1);
    ASSERT_EQ_DBL(ev[0].high, 370.25);
    ASSERT_EQ_DBL(ev[0].low, 370.0);
    ASSERT_EQ_DBL(ev[0].price, 370.2);
    ASSERT_EQ_DBL(ev[0].size, 100.0);
    ASSERT(ev[0].flags & TP_EV_TS_VENUE);
    ASSERT_EQ_INT(ev[1].kind, TP_KIND_SNAPSHOT);
    ASSERT_EQ_INT(ev[1].ts, 1700000150 * SEC);
    ASSERT_EQ_DBL(ev[1].price, 370.5);

    ASSERT(parse("yahoo", "{\"chart\":{\"result\":null,\"error\":{\"code\":\"Not Found\","
                          "\"description\":\"No data found, symbol may be delisted\"}}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_ERROR);
    ASSERT_EQ_STR(res.text, "Not Found: No data found, symbol may be delisted");
    /* an empty quote (market closed): the snapshot only */
    n = parse("yahoo", "{\"chart\":{\"result\":[{\"meta\":{\"symbol\":\"EURUSD=X\","
                       "\"regularMarketTime\":1700000000,\"regularMarketPrice\":1.0912,"
                       "\"dataGranularity\":\"1m\"},\"indicators\":{\"quote\":[{}]}}],"
                       "\"error\":null}}");
    ASSERT_EQ_INT(n, 1);
    expect_name(&ev[0], "yahoo:EURUSD_X");
    ASSERT_EQ_STR(ev[0].venue_symbol, "EURUSD=X");
    ASSERT_EQ_DBL(ev[0].price, 1.0912);
    /* columns of different lengths */
    ASSERT(parse("yahoo", "{\"chart\":{\"result\":[{\"meta\":{\"symbol\":\"A\","
                          "\"dataGranularity\":\"1m\"},\"timestamp\":[1,2],\"indicators\":{"
                          "\"quote\":[{\"open\":[1],\"high\":[1],\"low\":[1],\"close\":[1],"
                          "\"volume\":[1]}]}}]}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
    ASSERT(parse("yahoo", "{\"finance\":{}}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
}

static void test_fmp(void)
{
    static const char body[] = "[ {\n  \"ticker\" : \"GBP/USD\",\n  \"bid\" : \"1.26512\",\n"
                               "  \"ask\" : \"1.26530\",\n  \"open\" : \"1.26100\",\n"
                               "  \"low\" : \"1.25990\",\n  \"high\" : \"1.26700\",\n"
                               "  \"changes\" : 0.0032519,\n  \"date\" : \"2024-03-01 09:15:00\"\n"
                               "}, {\n  \"ticker\" : \"AUD/JPY\",\n  \"bid\" : \"97.512\",\n"
                               "  \"ask\" : \"97.530\",\n  \"open\" : \"97.100\",\n"
                               "  \"low\" : \"97.000\",\n  \"high\" : \"97.700\",\n"
                               "  \"changes\" : -0.001,\n  \"date\" : \"2024-03-01 09:14:00\"\n"
                               "} ]";
    int n = parse("fmp", body);
    ASSERT_EQ_INT(n, 2);
    expect_name(&ev[0], "fmp:AUD-JPY"); /* time order */
    expect_name(&ev[1], "fmp:GBP-USD");
    ASSERT_EQ_INT(ev[1].kind, TP_KIND_QUOTE);
    ASSERT_EQ_DBL(ev[1].bid, 1.26512);
    ASSERT_EQ_DBL(ev[1].ask, 1.2653);
    ASSERT_EQ_DBL(ev[1].open, 1.261);
    ASSERT_EQ_DBL(ev[1].low, 1.2599);
    ASSERT_EQ_DBL(ev[1].high, 1.267);
    ASSERT_EQ_DBL(ev[1].change, 0.0032519);
    ASSERT(isnan(ev[1].bid_size));
    ASSERT_EQ_INT(ev[1].ts, t_of("2024-03-01T09:15:00Z"));
    ASSERT_EQ_INT(ev[1].flags & (TP_EV_TS_VENUE | TP_EV_QUOTE_ONLY),
                  TP_EV_TS_VENUE | TP_EV_QUOTE_ONLY);
    ASSERT_EQ_STR(ev[1].venue_symbol, "GBP/USD");

    /* a source that asked for GBP/USD only */
    struct tp_rest_parser *p;
    ASSERT_EQ_INT(tp_rest_parser_new(tp_rest_find("fmp"), &p), 0);
    const char *want[] = {"GBP/USD"};
    ASSERT_EQ_INT(tp_rest_parser_filter(p, want, 1), 0);
    n = tp_rest_parse(p, body, strlen(body), RECV, ev, TP_ARRAY_LEN(ev), &res);
    tp_rest_parser_free(p);
    ASSERT_EQ_INT(n, 1);
    expect_name(&ev[0], "fmp:GBP-USD");

    ASSERT(parse("fmp", "{\"Error Message\": \"Invalid API KEY.\"}") < 0);
    ASSERT_EQ_INT(res.kind, TP_REST_ERROR);
    ASSERT_EQ_STR(res.text, "Invalid API KEY.");
    ASSERT(parse("fmp", "[{\"ticker\":\"X/Y\",\"bid\":\"1\",\"ask\":\"2\",\"date\":\"soon\"}]") <
           0);
    ASSERT_EQ_INT(res.kind, TP_REST_BAD);
    /* too many events for the caller's array */
    struct tp_event two[1];
    ASSERT_EQ_INT(tp_rest_parser_new(tp_rest_find("fmp"), &p), 0);
    ASSERT_EQ_INT(tp_rest_parse(p, body, strlen(body), RECV, two, 1, &res), -E2BIG);
    tp_rest_parser_free(p);
}

static void test_instruments(void)
{
    static const struct {
        const char *venue, *sym, *opt, *name, *native;
    } t[] = {
        {"coingecko", "bitcoin", NULL, "coingecko:BTC-USD", "bitcoin"},
        {"coingecko", "Ethereum", "eur", "coingecko:ETH-EUR", "ethereum"},
        {"coingecko", "some-new-coin", NULL, "coingecko:SOME_NEW_COIN-USD", "some-new-coin"},
        {"alphavantage", "msft", NULL, "alphavantage:MSFT", "MSFT"},
        {"alphavantage", "BRK.B", NULL, "alphavantage:BRK.B", "BRK.B"},
        {"alphavantage", "eur-usd", NULL, "alphavantage:EUR-USD", "EUR/USD"},
        {"alphavantage", "BTC/CNY", NULL, "alphavantage:BTC-CNY", "BTC/CNY"},
        {"yahoo", "aapl", NULL, "yahoo:AAPL", "AAPL"},
        {"yahoo", "^GSPC", "5m", "yahoo:_GSPC", "^GSPC"},
        {"yahoo", "BTC-USD", NULL, "yahoo:BTC-USD", "BTC-USD"},
        {"fmp", "EUR-USD", NULL, "fmp:EUR-USD", "EUR/USD"},
        {"fmp", "usdjpy", NULL, "fmp:USD-JPY", "USD/JPY"},
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(t); i++) {
        char name[80], native[TP_VSYM_MAX + 1];
        int n = tp_rest_instrument(tp_rest_find(t[i].venue), t[i].sym, t[i].opt, name, sizeof name,
                                   native);
        ASSERT_EQ_INT(n, (int)strlen(t[i].name));
        ASSERT_EQ_STR(name, t[i].name);
        ASSERT_EQ_STR(native, t[i].native);
    }
    char name[80], native[TP_VSYM_MAX + 1];
    ASSERT(tp_rest_instrument(tp_rest_find("fmp"), "EURUSDX", NULL, name, sizeof name, native) < 0);
    ASSERT(tp_rest_instrument(tp_rest_find("yahoo"), "A/B", NULL, name, sizeof name, native) < 0);
    ASSERT(tp_rest_instrument(tp_rest_find("yahoo"), "AAPL", "7m", name, sizeof name, native) < 0);
    ASSERT(tp_rest_instrument(tp_rest_find("coingecko"), "bit coin", NULL, name, sizeof name,
                              native) < 0);
    ASSERT(tp_rest_is_venue("coingecko:bitcoin"));
    ASSERT(tp_rest_is_venue("fmp"));
    ASSERT(!tp_rest_is_venue("binance:BTC-USDT"));
    ASSERT(tp_rest_find("nope") == NULL);
}

static void test_retry_after(void)
{
    int64_t d;
    ASSERT_EQ_INT(tp_rest_retry_after("120", 3, RECV, &d), 0);
    ASSERT_EQ_INT(d, 120 * SEC);
    ASSERT_EQ_INT(tp_rest_retry_after(" 0 \r\n", 5, RECV, &d), 0);
    ASSERT_EQ_INT(d, 0);
    /* RECV is 2025-11-25T19:46:40Z; a date 3 s later */
    const char *date = "Tue, 25 Nov 2025 19:46:43 GMT";
    ASSERT_EQ_INT(tp_rest_retry_after(date, strlen(date), RECV, &d), 0);
    ASSERT_EQ_INT(d, 3 * SEC);
    date = "Sun, 06 Nov 1994 08:49:37 GMT"; /* past: no wait */
    ASSERT_EQ_INT(tp_rest_retry_after(date, strlen(date), RECV, &d), 0);
    ASSERT_EQ_INT(d, 0);
    ASSERT_EQ_INT(tp_rest_retry_after("soon", 4, RECV, &d), -EINVAL);
    ASSERT_EQ_INT(tp_rest_retry_after("-5", 2, RECV, &d), -EINVAL);
    ASSERT_EQ_INT(tp_rest_retry_after("12a", 3, RECV, &d), -EINVAL);
    date = "Tue, 25 Xyz 2025 19:46:43 GMT";
    ASSERT_EQ_INT(tp_rest_retry_after(date, strlen(date), RECV, &d), -EINVAL);
    ASSERT_EQ_INT(tp_rest_retry_after("", 0, RECV, &d), -EINVAL);
}

/* Source specs and settings: refused before anything starts, with a reason. */
static void test_specs(void)
{
    struct tp_source *src;
    char err[512];
    const char *eps[] = {"coingecko=http://127.0.0.1:9", "yahoo=ws://127.0.0.1:9"};
    const char *ivs[] = {"coingecko=5s", "fmp=soon"};
    struct tp_rest_opts o = {.endpoints = eps,
                             .nendpoints = 2,
                             .intervals = ivs,
                             .nintervals = 2,
                             .alphavantage_key = "k1",
                             .fmp_key = "k2"};
    static const struct {
        const char *spec, *reason;
    } bad[] = {
        {"coingecko:", "names no symbol"},       {"coingecko:bitcoin,bitcoin", "twice"},
        {"coingecko:bit coin", "cannot poll"},   {"yahoo:AAPL", "not an http"},
        {"yahoo:AAPL@7m", "cannot poll"},        {"fmp:EURUSDX", "cannot poll"},
        {"fmp:EUR-USD", "poll interval 'soon'"}, {"alphavantage:MSFT@x", "cannot poll"},
        {"fmp:EUR-USD@5min", "does not take"},   {"nope:X", "not a known"},
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++) {
        err[0] = 0;
        ASSERT_EQ_INT(tp_rest_source_new(bad[i].spec, &o, &src, err, sizeof err), -EINVAL);
        if (!strstr(err, bad[i].reason))
            TPT_FAIL("%s: '%s' lacks '%s'", bad[i].spec, err, bad[i].reason);
    }
    struct tp_rest_opts nokey = {0};
    unsetenv("ALPHAVANTAGE_API_KEY");
    ASSERT_EQ_INT(tp_rest_source_new("alphavantage:MSFT", &nokey, &src, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "ALPHAVANTAGE_API_KEY"));
    /* A good one: created, not started; its status before any poll. */
    ASSERT_EQ_INT(tp_rest_source_new("coingecko:bitcoin,ethereum@eur", &o, &src, err, sizeof err),
                  0);
    struct tp_rest_stats st;
    ASSERT(tp_rest_stats(src, &st));
    ASSERT_EQ_U64(st.requests, 0);
    ASSERT(!st.up);
    char line[128];
    tp_rest_status(src, line, sizeof line);
    ASSERT_EQ_STR(line, "waiting for the first poll");
    ASSERT(tp_instr_find("coingecko:ETH-EUR", 17) != 0);
    /* Its connector snapshot (source/connstats.h): a poller waiting, two instruments. */
    struct tp_connstats cs;
    ASSERT(tp_source_connstats(src, tp_now_ns(), tp_mono_ns(), &cs));
    ASSERT_EQ_INT(cs.kind, TP_CONN_REST);
    ASSERT_EQ_STR(cs.venue, "coingecko");
    ASSERT_EQ_STR(tp_rest_state_name(cs.state), "waiting");
    ASSERT_EQ_INT((int)cs.nsyms, 2);
    ASSERT_EQ_STR(tp_instr_name(cs.sym[1].instr), "coingecko:ETH-EUR");
    ASSERT(cs.last_rx == 0 && cs.resume_at == 0 && cs.polls == 0 && !cs.sym[0].failing);
    /* Failover groups: REST sources only, two at least, each in one group. */
    struct tp_source *y, *a, *w;
    ASSERT_EQ_INT(tp_rest_source_new("coingecko:ethereum", &o, &y, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_rest_source_new("alphavantage:EUR-USD@5min", &o, &a, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_rest_source_new("alphavantage:GBP-USD", &o, &w, err, sizeof err), 0);
    struct tp_source *g1[] = {src};
    ASSERT_EQ_INT(tp_rest_failover(g1, 1, 0, 0, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "2 to 8"));
    struct tp_source *g2[] = {src, src};
    ASSERT_EQ_INT(tp_rest_failover(g2, 2, 0, 0, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "named twice"));
    struct tp_source *g3[] = {a, y};
    ASSERT_EQ_INT(tp_rest_failover(g3, 2, 2, SEC, err, sizeof err), 0);
    struct tp_source *g4[] = {w, y};
    ASSERT_EQ_INT(tp_rest_failover(g4, 2, 0, 0, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "another failover group"));
    tp_source_free(a); /* members are freed one by one, the group with the last */
    tp_source_free(w);
    tp_source_free(y);
    tp_source_free(src);
}

/* Binance REST trades for the backfill (source/backfill.h): the documented shapes. */
static void test_backfill_parse(void)
{
    static const char agg[] =
        "[{\"a\":26129,\"p\":\"0.01633102\",\"q\":\"4.70443515\",\"f\":27781,\"l\":27781,"
        "\"T\":1498793709153,\"m\":true,\"M\":true},"
        "{\"a\":26130,\"p\":\"0.01633000\",\"q\":\"1.5\",\"f\":27782,\"l\":27783,"
        "\"T\":1498793709200,\"m\":false,\"M\":true},"
        "{\"a\":26131,\"p\":\"0.01634\",\"q\":\"2\",\"f\":27784,\"l\":27784,"
        "\"T\":1498793709300,\"m\":false,\"M\":true}]";
    uint32_t id;
    ASSERT_EQ_INT(tp_instr_intern("binance:BNB-BTC", 15, &id), 0);
    uint64_t max;
    int n = tp_backfill_parse_binance(agg, strlen(agg), true, id, "BNBBTC", 26129, 26130, RECV, ev,
                                      TP_ARRAY_LEN(ev), &max);
    ASSERT_EQ_INT(n, 2); /* 26131 is past the gap */
    ASSERT_EQ_U64(max, 26131);
    ASSERT_EQ_INT(ev[0].kind, TP_KIND_TRADE);
    ASSERT_EQ_U64(ev[0].trade_id, 26129);
    ASSERT(ev[0].flags & TP_EV_HAS_ID);
    ASSERT_EQ_DBL(ev[0].price, 0.01633102);
    ASSERT_EQ_DBL(ev[0].size, 4.70443515);
    ASSERT_EQ_INT(ev[0].side, TP_SIDE_SELL); /* the buyer was the maker */
    ASSERT_EQ_INT(ev[0].ts, INT64_C(1498793709153) * 1000000);
    ASSERT_EQ_INT(ev[1].side, TP_SIDE_BUY);
    ASSERT_EQ_STR(ev[1].venue_symbol, "BNBBTC");
    ASSERT_EQ_INT(ev[1].instr, id);

    static const char trades[] = "[{\"id\":28457,\"price\":\"4.00000100\",\"qty\":\"12.00000000\","
                                 "\"quoteQty\":\"48.000012\",\"time\":1499865549590,"
                                 "\"isBuyerMaker\":true,\"isBestMatch\":true}]";
    n = tp_backfill_parse_binance(trades, strlen(trades), false, id, "BNBBTC", 28457, 28457, RECV,
                                  ev, TP_ARRAY_LEN(ev), &max);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_DBL(ev[0].price, 4.000001);
    ASSERT_EQ_DBL(ev[0].size, 12.0);
    ASSERT_EQ_INT(ev[0].side, TP_SIDE_SELL);
    ASSERT_EQ_INT(tp_backfill_parse_binance("[]", 2, true, id, "BNBBTC", 1, 2, RECV, ev, 4, &max),
                  0);
    ASSERT_EQ_U64(max, 0);
    ASSERT(tp_backfill_parse_binance("{\"code\":-1121,\"msg\":\"Invalid symbol.\"}", 38, true, id,
                                     "BNBBTC", 1, 2, RECV, ev, 4, &max) < 0);
    ASSERT(tp_backfill_parse_binance(agg, strlen(agg), true, id, "BNBBTC", 0, 99999, RECV, ev, 2,
                                     &max) == -E2BIG);
}

/* ---- recorded fixtures ---------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(TP_REST_BODY_MAX);
    if (!b) {
        fclose(f);
        return NULL;
    }
    *len = fread(b, 1, TP_REST_BODY_MAX, f);
    fclose(f);
    return b;
}

static const struct tp_event *find_ev(int n, const char *name, enum tp_kind kind, int64_t ts)
{
    for (int i = 0; i < n; i++)
        if (ev[i].kind == kind && ev[i].ts == ts && !strcmp(tp_instr_name(ev[i].instr), name))
            return &ev[i];
    TPT_FAIL("no %s %s at %lld", tp_kind_name(kind), name, (long long)ts);
}

static int count_kind(int n, enum tp_kind k)
{
    int c = 0;
    for (int i = 0; i < n; i++) c += ev[i].kind == k;
    return c;
}

static void check_fixture(const char *file, int n)
{
    const struct tp_event *e;
    if (!strcmp(file, "coingecko_simple_price_bitcoin_docs.json")) {
        ASSERT_EQ_INT(n, 1);
        e = find_ev(n, "coingecko:BTC-USD", TP_KIND_SNAPSHOT, 1711356300 * SEC);
        ASSERT_EQ_DBL(e->price, 67187.3358936566);
    } else if (!strcmp(file, "coingecko_simple_price_btc_eth_2025-05-16.json")) {
        ASSERT_EQ_INT(n, 2);
        ASSERT_EQ_DBL(find_ev(n, "coingecko:BTC-USD", TP_KIND_SNAPSHOT, 1747407859 * SEC)->price,
                      103663.0);
        ASSERT_EQ_DBL(find_ev(n, "coingecko:ETH-USD", TP_KIND_SNAPSHOT, 1747407868 * SEC)->price,
                      2587.79);
    } else if (!strcmp(file, "alphavantage_GLOBAL_QUOTE_MSFT.json")) {
        ASSERT_EQ_INT(n, 1);
        e = find_ev(n, "alphavantage:MSFT", TP_KIND_SNAPSHOT, RECV);
        ASSERT_EQ_DBL(e->price, 112.13);
        ASSERT_EQ_DBL(e->open, 112.63);
        ASSERT_EQ_DBL(e->high, 113.17);
        ASSERT_EQ_DBL(e->low, 110.64);
        ASSERT_EQ_DBL(e->change, -0.66);
    } else if (!strcmp(file, "alphavantage_CURRENCY_EXCHANGE_RATE_BTC_CNY.json")) {
        ASSERT_EQ_INT(n, 1);
        e = find_ev(n, "alphavantage:BTC-CNY", TP_KIND_SNAPSHOT, t_of("2017-12-20 19:23:21"));
        ASSERT_EQ_DBL(e->price, 109631.430607);
    } else if (!strcmp(file, "alphavantage_GLOBAL_QUOTE_unknown_symbol_empty.json") ||
               !strcmp(file, "alphavantage_error_invalid_call_GLOBAL_QUOTE.json")) {
        ASSERT(n < 0);
        ASSERT_EQ_INT(res.kind, TP_REST_ERROR);
    } else if (!strncmp(file, "alphavantage_rate_limit_", 24)) {
        ASSERT(n < 0);
        ASSERT_EQ_INT(res.kind, TP_REST_RATE_LIMIT);
        ASSERT(strstr(res.text, "Thank you for using Alpha Vantage!"));
    } else if (!strcmp(file, "alphavantage_TIME_SERIES_INTRADAY_MSFT_1min.json")) {
        /* 100 bars, the newest (14:56, = Last Refreshed) held back; December: EST. */
        ASSERT_EQ_INT(n, 99);
        ASSERT_EQ_INT(ev[n - 1].ts, t_of("2017-12-18T19:55:00Z"));
        e = find_ev(n, "alphavantage:MSFT", TP_KIND_VBAR, t_of("2017-12-18T19:54:00Z"));
        ASSERT_EQ_DBL(e->open, 86.47);
        ASSERT_EQ_DBL(e->high, 86.51);
        ASSERT_EQ_DBL(e->low, 86.47);
        ASSERT_EQ_DBL(e->price, 86.4931);
        ASSERT_EQ_DBL(e->size, 24345);
        for (int i = 1; i < n; i++) ASSERT_EQ_INT(ev[i].ts - ev[i - 1].ts, 60 * SEC);
    } else if (!strcmp(file, "fmp_fx_2022-10-21.json")) {
        ASSERT_EQ_INT(n, 2);
        int64_t t = t_of("2022-10-21 10:21:39");
        e = find_ev(n, "fmp:EUR-USD", TP_KIND_QUOTE, t);
        ASSERT_EQ_DBL(e->bid, 0.97976);
        ASSERT_EQ_DBL(e->ask, 0.97976);
        ASSERT_EQ_DBL(e->open, 0.97861);
        ASSERT_EQ_DBL(e->low, 0.97049);
        ASSERT_EQ_DBL(e->high, 0.98171);
        ASSERT_EQ_DBL(e->change, 0.001175136162516206);
        e = find_ev(n, "fmp:USD-JPY", TP_KIND_QUOTE, t);
        ASSERT_EQ_DBL(e->bid, 151.33);
        ASSERT_EQ_DBL(e->high, 151.947);
    } else if (!strcmp(file, "yahoo_chart_AAPL_1m_2024-10-02.json")) {
        ASSERT_EQ_INT(count_kind(n, TP_KIND_VBAR), 389); /* 391 minus two holes */
        e = find_ev(n, "yahoo:AAPL", TP_KIND_VBAR, 1727875800 * SEC);
        ASSERT_EQ_DBL(e->open, 225.88999938964844);
        ASSERT_EQ_DBL(e->high, 226.11000061035156);
        ASSERT_EQ_DBL(e->low, 225.4199981689453);
        ASSERT_EQ_DBL(e->price, 225.6999969482422);
        ASSERT_EQ_DBL(e->size, 1205461.0);
        e = find_ev(n, "yahoo:AAPL", TP_KIND_VBAR, 1727899140 * SEC);
        ASSERT_EQ_DBL(e->price, 226.80999755859375);
        ASSERT_EQ_DBL(e->size, 546314.0);
        ASSERT_EQ_DBL(find_ev(n, "yahoo:AAPL", TP_KIND_SNAPSHOT, 1727985601 * SEC)->price, 225.67);
    } else if (!strcmp(file, "yahoo_chart_AAPL_1d_2020-08-31_2020-11-07.json")) {
        ASSERT_EQ_INT(count_kind(n, TP_KIND_VBAR), 49);
        e = find_ev(n, "yahoo:AAPL", TP_KIND_VBAR, 1598880600 * SEC);
        ASSERT_EQ_DBL(e->open, 127.58000183105469);
        ASSERT_EQ_DBL(e->high, 131.0);
        ASSERT_EQ_DBL(e->size, 225702700.0);
        e = find_ev(n, "yahoo:AAPL", TP_KIND_VBAR, 1604673000 * SEC);
        ASSERT_EQ_DBL(e->price, 118.69000244140625);
    } else if (!strcmp(file, "yahoo_chart_AAPL_1m_2025-02-01_empty_weekend.json")) {
        ASSERT_EQ_INT(n, 1);
        ASSERT_EQ_DBL(find_ev(n, "yahoo:AAPL", TP_KIND_SNAPSHOT, 1739998801 * SEC)->price, 244.87);
    } else if (!strcmp(file, "yahoo_chart_error_not_found_404.json")) {
        ASSERT(n < 0);
        ASSERT_EQ_INT(res.kind, TP_REST_ERROR);
        ASSERT_EQ_STR(res.text, "Not Found: No data found, symbol may be delisted");
    } else {
        fprintf(stderr, "  note: %s has no known values: classified as %d\n", file, res.kind);
        ASSERT(res.kind != TP_REST_NONE);
        return;
    }
    /* Whatever the file, data comes out in time order. */
    for (int i = 1; i < n; i++) ASSERT(ev[i - 1].ts <= ev[i].ts);
}

static void test_fixtures(void)
{
    const char *shared = getenv("TP_SHARED");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fixtures/rest", shared ? shared : "");
    DIR *d = shared ? opendir(dir) : NULL;
    if (!d)
        TPT_SKIP("no ../shared/fixtures/rest (TP_SHARED unset or folder absent): recorded bodies "
                 "not checked");
    struct dirent *de;
    int done = 0;
    while ((de = readdir(d))) {
        const char *f = de->d_name;
        if (f[0] == '.' || !strstr(f, ".json")) continue;
        char venue[32];
        size_t vl = strcspn(f, "_");
        if (vl >= sizeof venue) continue;
        memcpy(venue, f, vl);
        venue[vl] = 0;
        const struct tp_rest_venue *v = tp_rest_find(venue);
        if (!v) {
            fprintf(stderr, "  note: %s names no REST venue\n", f);
            continue;
        }
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, f);
        size_t len = 0;
        char *body = slurp(path, &len);
        ASSERT(body);
        struct tp_rest_parser *p;
        ASSERT_EQ_INT(tp_rest_parser_new(v, &p), 0);
        int n = tp_rest_parse(p, body, len, RECV, ev, TP_ARRAY_LEN(ev), &res);
        tp_rest_parser_free(p);
        free(body);
        fprintf(stderr, "  %s: %d events, kind %d%s%s\n", f, n, res.kind, res.text_len ? ": " : "",
                res.text);
        check_fixture(f, n);
        done++;
    }
    closedir(d);
    if (!done) TPT_SKIP("fixtures/rest holds no body of a REST venue");
}

TPT_MAIN({"coingecko", test_coingecko}, {"alphavantage", test_alphavantage},
         {"local_utc", test_local_utc}, {"av_intraday", test_av_intraday},
         {"av_paths", test_av_paths}, {"yahoo", test_yahoo}, {"fmp", test_fmp},
         {"instruments", test_instruments}, {"retry_after", test_retry_after},
         {"backfill_parse", test_backfill_parse}, {"specs", test_specs},
         {"fixtures", test_fixtures})
