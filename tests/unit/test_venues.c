/*
 * test_venues.c — the venue parsers (source/venue.h), their subscribe builders and the raw
 * capture reader (source/capture.h).
 *
 * Part one: for each venue, small messages written here from the venue's documented formats
 * (values made up), with the exact events expected (instrument, kind, prices, sizes, side,
 * ids, times, flags), batches put in time order, gap detection, control messages classified,
 * Bybit's ticker merge, and malformed messages rejected with a reason.
 * Part two: every recorded file under $TP_SHARED/fixtures/<venue>/ (skipped when absent):
 * each server message must decode or be classified (zero failures), with sane values; the
 * client's recorded requests are compared with the builders' output.
 */
#include <dirent.h>
#include <math.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "source/capture.h"
#include "source/venue.h"
#include "tpt.h"

/* Message templates below are filled with snprintf from variables: fine in a test. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

#define CAP  4096
#define RECV INT64_C(1800000000000000000) /* 2027-01-15T08:00:00Z: after every sample */

static struct tp_event ev[CAP];
static struct tp_venue_result res;

static struct tp_venue_parser *mk(const char *venue, const char *market)
{
    const struct tp_venue *v = tp_venue_find(venue);
    ASSERT(v != NULL);
    struct tp_venue_opts o = {.market = market};
    struct tp_venue_parser *p = NULL;
    ASSERT_EQ_INT(tp_venue_parser_new(v, &o, &p), 0);
    return p;
}

static int parse_n(struct tp_venue_parser *p, const char *msg, size_t cap)
{
    return tp_venue_parse(p, msg, strlen(msg), RECV, ev, cap, &res);
}

static int parse(struct tp_venue_parser *p, const char *msg)
{
    return parse_n(p, msg, CAP);
}

/* Parses msg expecting success of the given type and count. */
#define OK(p, msg, want_type, count)                                                               \
    do {                                                                                           \
        int n_ = parse((p), (msg));                                                                \
        if (n_ < 0) TPT_FAIL("parse failed: %s %s", tp_vreason_name(res.reason), res.text);        \
        ASSERT_EQ_STR(tp_vmsg_name(res.type), tp_vmsg_name(want_type));                            \
        ASSERT_EQ_INT(n_, (count));                                                                \
    } while (0)

/* Parses msg expecting failure for the given reason. */
#define BAD(p, msg, want_reason)                                                                   \
    do {                                                                                           \
        int n_ = parse((p), (msg));                                                                \
        ASSERT(n_ < 0);                                                                            \
        ASSERT_EQ_INT(res.type, TP_VMSG_NONE);                                                     \
        ASSERT_EQ_STR(tp_vreason_name(res.reason), tp_vreason_name(want_reason));                  \
    } while (0)

static int64_t ms(int64_t v)
{
    return v * TP_NS_PER_MS;
}

static int64_t rfc(const char *s)
{
    int64_t t;
    if (tp_time_parse(s, strlen(s), TP_TS_AUTO, &t) < 0) TPT_FAIL("bad time %s", s);
    return t;
}

static void trade_is(const struct tp_event *e, const char *instr, const char *vsym, double px,
                     double sz, enum tp_side side, int64_t ts)
{
    ASSERT_EQ_STR(tp_kind_name(e->kind), "trade");
    ASSERT_EQ_STR(tp_instr_name(e->instr), instr);
    ASSERT_EQ_STR(e->venue_symbol, vsym);
    ASSERT_EQ_INT(e->vsym_len, strlen(vsym));
    ASSERT_EQ_DBL(e->price, px);
    ASSERT_EQ_DBL(e->size, sz);
    ASSERT_EQ_STR(tp_side_name(e->side), tp_side_name(side));
    ASSERT_EQ_INT(e->ts, ts);
    ASSERT(e->flags & TP_EV_TS_VENUE);
    ASSERT_EQ_INT(e->ts_recv, RECV);
    ASSERT(isnan(e->bid) && isnan(e->ask));
}

static void id_is(const struct tp_event *e, uint64_t id)
{
    ASSERT((e->flags & (TP_EV_HAS_ID | TP_EV_ID_STR)) == TP_EV_HAS_ID);
    ASSERT_EQ_U64(e->trade_id, id);
}

static void id_str_is(const struct tp_event *e, const char *id)
{
    ASSERT((e->flags & (TP_EV_HAS_ID | TP_EV_ID_STR)) == (TP_EV_HAS_ID | TP_EV_ID_STR));
    ASSERT_EQ_STR(e->trade_id_str, id);
    ASSERT_EQ_INT(e->trade_id_len, strlen(id));
}

static void quote_is(const struct tp_event *e, const char *instr, double bid, double bsz,
                     double ask, double asz, int64_t ts, bool venue_ts)
{
    ASSERT_EQ_STR(tp_kind_name(e->kind), "quote");
    ASSERT_EQ_STR(tp_instr_name(e->instr), instr);
    ASSERT_EQ_DBL(e->bid, bid);
    ASSERT_EQ_DBL(e->bid_size, bsz);
    ASSERT_EQ_DBL(e->ask, ask);
    ASSERT_EQ_DBL(e->ask_size, asz);
    ASSERT_EQ_INT(e->ts, ts);
    ASSERT_EQ_INT((e->flags & TP_EV_TS_VENUE) != 0, venue_ts);
    ASSERT(isnan(e->price) && isnan(e->size));
    ASSERT(!(e->flags & TP_EV_HAS_ID));
}

static void bar_is(const struct tp_event *e, const char *instr, int64_t ts, double o, double h,
                   double l, double c, double v)
{
    ASSERT_EQ_STR(tp_kind_name(e->kind), "bar");
    ASSERT_EQ_STR(tp_instr_name(e->instr), instr);
    ASSERT_EQ_INT(e->ts, ts);
    ASSERT(e->flags & TP_EV_TS_VENUE);
    ASSERT_EQ_DBL(e->open, o);
    ASSERT_EQ_DBL(e->high, h);
    ASSERT_EQ_DBL(e->low, l);
    ASSERT_EQ_DBL(e->price, c);
    ASSERT_EQ_DBL(e->size, v);
}

static void gap_is(const struct tp_event *e, const char *instr, uint64_t first, uint64_t last,
                   int64_t ts)
{
    ASSERT_EQ_STR(tp_kind_name(e->kind), "status");
    ASSERT_EQ_STR(tp_status_name(e->status), "gap");
    ASSERT_EQ_STR(tp_instr_name(e->instr), instr);
    ASSERT_EQ_U64(e->trade_id, first);
    ASSERT_EQ_U64(e->gap_last, last);
    ASSERT_EQ_INT(e->ts, ts);
    ASSERT(!(e->flags & TP_EV_GAP_TIME));
}

/* ---- registry ------------------------------------------------------------------------ */

static void test_registry(void)
{
    static const char *const names[] = {"binance", "coinbase", "okx",    "kraken",
                                        "bybit",   "bitstamp", "finnhub"};
    for (size_t i = 0; i < TP_ARRAY_LEN(names); i++) {
        const struct tp_venue *v = tp_venue_find(names[i]);
        ASSERT(v != NULL);
        ASSERT_EQ_STR(v->name, names[i]);
        ASSERT(tp_venue_at(i) == v);
        ASSERT(!strncmp(v->endpoint, "wss://", 6));
    }
    ASSERT(tp_venue_at(TP_ARRAY_LEN(names)) == NULL);
    ASSERT(tp_venue_find("nasdaq") == NULL);
    ASSERT(tp_venue_find(NULL) == NULL);
    struct tp_venue_parser *p = NULL;
    struct tp_venue_opts o = {.market = "linear"};
    ASSERT_EQ_INT(tp_venue_parser_new(tp_venue_find("binance"), &o, &p), -EINVAL);
    o.market = "futures";
    ASSERT_EQ_INT(tp_venue_parser_new(tp_venue_find("bybit"), &o, &p), -EINVAL);
    o.market = "linear";
    ASSERT_EQ_INT(tp_venue_parser_new(tp_venue_find("bybit"), &o, &p), 0);
    ASSERT_EQ_STR(tp_venue_parser_market(p), "linear");
    tp_venue_parser_free(p);
    tp_venue_parser_free(NULL);
    ASSERT_EQ_STR(tp_vmsg_name(TP_VMSG_RECONNECT), "reconnect");
    ASSERT_EQ_STR(tp_vreason_name(TP_VR_EVENTS), "too_many_events");
}

/* ---- binance ------------------------------------------------------------------------- */

static void test_binance_trades(void)
{
    struct tp_venue_parser *p = mk("binance", NULL);
    OK(p,
       "{\"e\":\"trade\",\"E\":1700000000123,\"s\":\"ETHUSDT\",\"t\":500,\"p\":\"2050.10000000\","
       "\"q\":\"0.25000000\",\"T\":1700000000120,\"m\":true,\"M\":true}",
       TP_VMSG_DATA, 1);
    trade_is(&ev[0], "binance:ETH-USDT", "ETHUSDT", 2050.1, 0.25, TP_SIDE_SELL, ms(1700000000120));
    id_is(&ev[0], 500);
    ASSERT(!(ev[0].flags & TP_EV_SNAPSHOT));
    /* combined envelope, buyer is the taker; keys in another order */
    OK(p,
       "{\"stream\":\"ethusdt@trade\",\"data\":{\"s\":\"ETHUSDT\",\"e\":\"trade\",\"m\":false,"
       "\"p\":\"2050.2\",\"q\":\"1\",\"t\":501,\"T\":1700000000200,\"E\":1700000000201}}",
       TP_VMSG_DATA, 1);
    trade_is(&ev[0], "binance:ETH-USDT", "ETHUSDT", 2050.2, 1, TP_SIDE_BUY, ms(1700000000200));
    id_is(&ev[0], 501);
    /* aggTrade: its own id sequence ("a"), a trade time in µs (timeUnit=MICROSECOND) */
    OK(p,
       "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1700000001000000,"
       "\"s\":\"BTCUSDT\",\"a\":77,\"p\":\"30000.01\",\"q\":\"1.5\",\"f\":100,\"l\":102,"
       "\"T\":1700000000999999,\"m\":false,\"M\":true}}",
       TP_VMSG_DATA, 1);
    trade_is(&ev[0], "binance:BTC-USDT", "BTCUSDT", 30000.01, 1.5, TP_SIDE_BUY,
             INT64_C(1700000000999999000));
    id_is(&ev[0], 77);
    /* a trade without E uses T; without T uses E */
    OK(p,
       "{\"e\":\"trade\",\"E\":1700000000300,\"s\":\"ETHUSDT\",\"t\":502,\"p\":\"1\",\"q\":\"1\","
       "\"m\":true}",
       TP_VMSG_DATA, 1);
    ASSERT_EQ_INT(ev[0].ts, ms(1700000000300));
    tp_venue_parser_free(p);
}

static void test_binance_gaps(void)
{
    struct tp_venue_parser *p = mk("binance", NULL);
#define FMT                                                                                        \
    "{\"e\":\"%s\",\"E\":%lld,\"s\":\"%s\",\"%s\":%d,\"p\":\"10\",\"q\":\"1\",\"T\":%lld,\"m\":"   \
    "true}"
    char m[256];
#define TRADE(kind, sym, idkey, id, t)                                                             \
    (snprintf(m, sizeof m, FMT, kind, (long long)(t), sym, idkey, id, (long long)(t)), m)
    OK(p, TRADE("trade", "BTCUSDT", "t", 100, 1700000000000), TP_VMSG_DATA, 1);
    OK(p, TRADE("trade", "BTCUSDT", "t", 101, 1700000000001), TP_VMSG_DATA, 1);
    ASSERT_EQ_INT(res.gaps, 0);
    /* 102..104 never came */
    OK(p, TRADE("trade", "BTCUSDT", "t", 105, 1700000000005), TP_VMSG_DATA, 2);
    ASSERT_EQ_INT(res.gaps, 1);
    gap_is(&ev[0], "binance:BTC-USDT", 102, 104, ms(1700000000005));
    ASSERT(ev[0].flags & TP_EV_TS_VENUE);
    ASSERT_EQ_STR(ev[0].venue_symbol, "BTCUSDT");
    id_is(&ev[1], 105);
    /* an older id (late or resent) is passed on, without a gap and without moving back */
    OK(p, TRADE("trade", "BTCUSDT", "t", 103, 1700000000003), TP_VMSG_DATA, 1);
    OK(p, TRADE("trade", "BTCUSDT", "t", 106, 1700000000006), TP_VMSG_DATA, 1);
    ASSERT_EQ_INT(res.gaps, 0);
    /* ids per symbol; aggregate ids are another sequence */
    OK(p, TRADE("trade", "ETHUSDT", "t", 7, 1700000000007), TP_VMSG_DATA, 1);
    OK(p, TRADE("aggTrade", "BTCUSDT", "a", 9000, 1700000000008), TP_VMSG_DATA, 1);
    OK(p, TRADE("aggTrade", "BTCUSDT", "a", 9001, 1700000000009), TP_VMSG_DATA, 1);
    OK(p, TRADE("trade", "BTCUSDT", "t", 107, 1700000000010), TP_VMSG_DATA, 1);
    ASSERT_EQ_INT(res.gaps, 0);
    OK(p, TRADE("aggTrade", "BTCUSDT", "a", 9003, 1700000000011), TP_VMSG_DATA, 2);
    gap_is(&ev[0], "binance:BTC-USDT", 9002, 9002, ms(1700000000011));
    const struct tp_venue_stats *st = tp_venue_parser_stats(p);
    ASSERT_EQ_U64(st->gaps, 2);
    ASSERT_EQ_U64(st->messages, 10);
    ASSERT_EQ_U64(st->events, 12);
#undef TRADE
#undef FMT
    tp_venue_parser_free(p);
}

static void test_binance_other(void)
{
    struct tp_venue_parser *p = mk("binance", NULL);
    /* spot bookTicker: no time of its own → the receive time, not flagged as venue time */
    OK(p,
       "{\"u\":400900217,\"s\":\"BNBUSDT\",\"b\":\"300.1\",\"B\":\"2.5\",\"a\":\"300.2\",\"A\":"
       "\"3\"}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "binance:BNB-USDT", 300.1, 2.5, 300.2, 3, RECV, false);
    ASSERT_EQ_INT(ev[0].ts_recv, RECV);
    /* a one-sided book gives no quote */
    OK(p,
       "{\"u\":1,\"s\":\"BNBUSDT\",\"b\":\"0.00000000\",\"B\":\"0\",\"a\":\"300.2\",\"A\":\"3\"}",
       TP_VMSG_DATA, 0);
    /* kline: the open bar is not a vendor bar yet; the closed one is, stamped at its start */
    const char *kl =
        "{\"stream\":\"bnbbtc@kline_1m\",\"data\":{\"e\":\"kline\",\"E\":1700000060001,"
        "\"s\":\"BNBBTC\",\"k\":{\"t\":1700000000000,\"T\":1700000059999,\"s\":"
        "\"BNBBTC\",\"i\":\"1m\",\"f\":1,\"L\":9,\"o\":\"0.0100\",\"c\":\"0.0102\","
        "\"h\":\"0.0105\",\"l\":\"0.0099\",\"v\":\"123.5\",\"n\":9,\"x\":%s,"
        "\"q\":\"1.2\",\"V\":\"60\",\"Q\":\"0.6\",\"B\":\"0\"}}}";
    char m[512];
    snprintf(m, sizeof m, kl, "false");
    OK(p, m, TP_VMSG_DATA, 0);
    snprintf(m, sizeof m, kl, "true");
    OK(p, m, TP_VMSG_DATA, 1);
    bar_is(&ev[0], "binance:BNB-BTC", ms(1700000000000), 0.01, 0.0105, 0.0099, 0.0102, 123.5);
    /* 24hr ticker array (!ticker@arr): one quote per element, at E */
    OK(p,
       "{\"stream\":\"!ticker@arr\",\"data\":[{\"e\":\"24hrTicker\",\"E\":1700000000500,\"s\":"
       "\"BTCUSDT\",\"b\":\"100\",\"B\":\"1\",\"a\":\"101\",\"A\":\"2\"},{\"e\":\"24hrTicker\","
       "\"E\":1700000000400,\"s\":\"ETHUSDT\",\"b\":\"10\",\"B\":\"3\",\"a\":\"11\",\"A\":\"4\"}]}",
       TP_VMSG_DATA, 2);
    quote_is(&ev[0], "binance:ETH-USDT", 10, 3, 11, 4, ms(1700000000400), true);
    quote_is(&ev[1], "binance:BTC-USDT", 100, 1, 101, 2, ms(1700000000500), true);
    /* control messages */
    OK(p, "{\"result\":null,\"id\":7}", TP_VMSG_ACK, 0);
    ASSERT(res.has_req_id);
    ASSERT_EQ_INT(res.req_id, 7);
    ASSERT_EQ_INT(res.text_len, 0);
    OK(p, "{\"result\":[\"btcusdt@trade\"],\"id\":8}", TP_VMSG_ACK, 0);
    ASSERT_EQ_STR(res.text, "[\"btcusdt@trade\"]");
    OK(p, "{\"error\":{\"code\":2,\"msg\":\"Invalid request: invalid stream\"},\"id\":3}",
       TP_VMSG_ERROR, 0);
    ASSERT(res.has_code && res.code == 2 && res.has_req_id && res.req_id == 3);
    ASSERT_EQ_STR(res.text, "Invalid request: invalid stream");
    OK(p, "{\"code\":1,\"msg\":\"Invalid value type: expected Boolean\"}", TP_VMSG_ERROR, 0);
    ASSERT_EQ_INT(res.code, 1);
    OK(p, "{\"e\":\"serverShutdown\",\"E\":1700000000000}", TP_VMSG_RECONNECT, 0);
    OK(p, "{\"stream\":\"!serverShutdown\",\"data\":{\"e\":\"serverShutdown\",\"E\":1}}",
       TP_VMSG_RECONNECT, 0);
    OK(p,
       "{\"stream\":\"btcusdt@depth\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\","
       "\"U\":1,\"u\":2,\"b\":[[\"1\",\"2\"]],\"a\":[]}}",
       TP_VMSG_IGNORED, 0);
    OK(p, "{\"lastUpdateId\":160,\"bids\":[[\"0.0024\",\"10\"]],\"asks\":[]}", TP_VMSG_IGNORED, 0);
    tp_venue_parser_free(p);
}

static void test_binance_malformed(void)
{
    struct tp_venue_parser *p = mk("binance", NULL);
    BAD(p, "{\"e\":\"trade\",", TP_VR_JSON);
    ASSERT(res.text_len > 0);
    BAD(p, "", TP_VR_JSON);
    BAD(p, "ping", TP_VR_JSON);
    BAD(p, "[1,2]", TP_VR_FIELD);
    BAD(p, "{\"e\":\"newThing\",\"E\":1}", TP_VR_UNKNOWN);
    ASSERT_EQ_STR(res.text, "newThing");
    BAD(p, "{\"foo\":1}", TP_VR_UNKNOWN);
    BAD(p, "{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"q\":\"1\",\"T\":1,\"m\":true}",
        TP_VR_FIELD);
    ASSERT_EQ_STR(res.text, "p missing");
    BAD(p, "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"x\",\"q\":\"1\",\"T\":1,\"m\":true}",
        TP_VR_NUMBER);
    BAD(p,
        "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"-5\",\"q\":\"1\",\"T\":1,\"m\":true}",
        TP_VR_NUMBER);
    BAD(p,
        "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"5\",\"q\":\"-1\",\"T\":1,\"m\":true}",
        TP_VR_NUMBER);
    BAD(p, "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"1e999\",\"q\":\"1\",\"T\":1}",
        TP_VR_NUMBER);
    BAD(p, "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"5\",\"q\":\"1\",\"T\":\"soon\"}",
        TP_VR_TIME);
    BAD(p, "{\"e\":\"trade\",\"s\":\"\",\"t\":1,\"p\":\"5\",\"q\":\"1\",\"T\":1}", TP_VR_SYMBOL);
    BAD(p, "{\"e\":\"trade\",\"s\":\"BTC\\u0001\",\"t\":1,\"p\":\"5\",\"q\":\"1\",\"T\":1}",
        TP_VR_SYMBOL);
    BAD(p, "{\"e\":\"trade\",\"s\":7,\"t\":1,\"p\":\"5\",\"q\":\"1\",\"T\":1}", TP_VR_FIELD);
    BAD(p, "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"5\",\"q\":\"1\",\"T\":1,\"m\":1}",
        TP_VR_FIELD);
    BAD(p,
        "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":\"0123456789012345678901234567890123456789012345"
        "678901234567890123\",\"p\":\"5\",\"q\":\"1\",\"T\":1}",
        TP_VR_ID);
    BAD(p, "{\"e\":\"kline\",\"s\":\"BTCUSDT\",\"k\":{\"x\":\"yes\"}}", TP_VR_FIELD);
    /* a symbol with characters outside the instrument alphabet is normalized, not refused */
    OK(p, "{\"e\":\"trade\",\"s\":\"AB/C D\",\"t\":1,\"p\":\"5\",\"q\":\"1\",\"T\":1,\"m\":true}",
       TP_VMSG_DATA, 1);
    ASSERT_EQ_STR(tp_instr_name(ev[0].instr), "binance:AB-C_D");
    ASSERT_EQ_STR(ev[0].venue_symbol, "AB/C D");
    /* still usable after all that */
    OK(p, "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":2,\"p\":\"5\",\"q\":\"1\",\"T\":1,\"m\":true}",
       TP_VMSG_DATA, 1);
    const struct tp_venue_stats *st = tp_venue_parser_stats(p);
    ASSERT_EQ_U64(st->failed, 18);
    ASSERT_EQ_U64(st->by_reason[TP_VR_JSON], 3);
    ASSERT_EQ_U64(st->by_reason[TP_VR_NUMBER], 4);
    tp_venue_parser_free(p);
}

/* ---- coinbase ------------------------------------------------------------------------ */

static void test_coinbase_advanced(void)
{
    struct tp_venue_parser *p = mk("coinbase", NULL);
    /* a snapshot lists recent trades newest first, several at one time; `side` is the maker's */
    OK(p,
       "{\"channel\":\"market_trades\",\"client_id\":\"\",\"timestamp\":\"2026-01-05T10:00:05."
       "123456789Z\",\"sequence_num\":0,\"events\":[{\"type\":\"snapshot\",\"trades\":["
       "{\"trade_id\":\"1004\",\"product_id\":\"BTC-USD\",\"price\":\"90000.02\",\"size\":\"0.5\","
       "\"side\":\"BUY\",\"time\":\"2026-01-05T10:00:04.000002Z\"},"
       "{\"trade_id\":\"1003\",\"product_id\":\"BTC-USD\",\"price\":\"90000.01\",\"size\":\"0.25\","
       "\"side\":\"SELL\",\"time\":\"2026-01-05T10:00:04.000001Z\"},"
       "{\"trade_id\":\"1002\",\"product_id\":\"BTC-USD\",\"price\":\"90000\",\"size\":\"1\","
       "\"side\":\"SELL\",\"time\":\"2026-01-05T10:00:04.000001Z\"},"
       "{\"trade_id\":\"1001\",\"product_id\":\"BTC-USD\",\"price\":\"89999.99\",\"size\":\"2\","
       "\"side\":\"BUY\",\"time\":\"2026-01-05T10:00:03Z\"}]}]}",
       TP_VMSG_DATA, 4);
    for (int i = 0; i < 4; i++) {
        id_is(&ev[i], (uint64_t)(1001 + i));
        ASSERT(ev[i].flags & TP_EV_SNAPSHOT);
    }
    trade_is(&ev[0], "coinbase:BTC-USD", "BTC-USD", 89999.99, 2, TP_SIDE_SELL,
             rfc("2026-01-05T10:00:03Z"));
    trade_is(&ev[1], "coinbase:BTC-USD", "BTC-USD", 90000, 1, TP_SIDE_BUY,
             rfc("2026-01-05T10:00:04.000001Z"));
    trade_is(&ev[2], "coinbase:BTC-USD", "BTC-USD", 90000.01, 0.25, TP_SIDE_BUY,
             rfc("2026-01-05T10:00:04.000001Z"));
    trade_is(&ev[3], "coinbase:BTC-USD", "BTC-USD", 90000.02, 0.5, TP_SIDE_SELL,
             rfc("2026-01-05T10:00:04.000002Z"));
    /* updates continue the ids; a skip is a gap; sequence_num skips are reported */
    OK(p,
       "{\"channel\":\"market_trades\",\"timestamp\":\"2026-01-05T10:00:06Z\",\"sequence_num\":1,"
       "\"events\":[{\"type\":\"update\",\"trades\":[{\"trade_id\":\"1005\",\"product_id\":"
       "\"BTC-USD\",\"price\":\"90001\",\"size\":\"0.1\",\"side\":\"SELL\",\"time\":"
       "\"2026-01-05T10:00:05.5Z\"}]}]}",
       TP_VMSG_DATA, 1);
    ASSERT(!(ev[0].flags & TP_EV_SNAPSHOT));
    ASSERT(!res.seq_gap);
    OK(p,
       "{\"channel\":\"market_trades\",\"timestamp\":\"2026-01-05T10:00:07Z\",\"sequence_num\":4,"
       "\"events\":[{\"type\":\"update\",\"trades\":[{\"trade_id\":\"1009\",\"product_id\":"
       "\"BTC-USD\",\"price\":\"90002\",\"size\":\"0.1\",\"side\":\"BUY\",\"time\":"
       "\"2026-01-05T10:00:06.5Z\"}]}]}",
       TP_VMSG_DATA, 2);
    gap_is(&ev[0], "coinbase:BTC-USD", 1006, 1008, rfc("2026-01-05T10:00:06.5Z"));
    ASSERT(res.seq_gap);
    ASSERT_EQ_U64(res.seq_first, 2);
    ASSERT_EQ_U64(res.seq_last, 3);
    /* ticker: a quote at the envelope's time */
    OK(p,
       "{\"channel\":\"ticker\",\"timestamp\":\"2026-01-05T10:00:08.000000001Z\",\"sequence_num\":"
       "5,"
       "\"events\":[{\"type\":\"update\",\"tickers\":[{\"type\":\"ticker\",\"product_id\":\"ETH-"
       "USD\","
       "\"price\":\"3000.5\",\"volume_24_h\":\"10\",\"best_bid\":\"3000.4\",\"best_bid_quantity\":"
       "\"1.25\",\"best_ask\":\"3000.6\",\"best_ask_quantity\":\"0.5\"}]}]}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "coinbase:ETH-USD", 3000.4, 1.25, 3000.6, 0.5,
             rfc("2026-01-05T10:00:08.000000001Z"), true);
    OK(p,
       "{\"channel\":\"heartbeats\",\"timestamp\":\"2026-01-05T10:00:09Z\",\"sequence_num\":6,"
       "\"events\":[{\"current_time\":\"2026-01-05 10:00:09 +0000 UTC\",\"heartbeat_counter\":"
       "12}]}",
       TP_VMSG_HEARTBEAT, 0);
    ASSERT_EQ_STR(res.text, "12");
    OK(p,
       "{\"channel\":\"subscriptions\",\"timestamp\":\"2026-01-05T10:00:09Z\",\"sequence_num\":7,"
       "\"events\":[{\"subscriptions\":{\"ticker\":[\"ETH-USD\"]}}]}",
       TP_VMSG_SUBSCRIBED, 0);
    ASSERT_EQ_STR(res.text, "{\"ticker\":[\"ETH-USD\"]}");
    OK(p,
       "{\"channel\":\"l2_data\",\"timestamp\":\"2026-01-05T10:00:09Z\",\"sequence_num\":8,"
       "\"events\":[{\"type\":\"update\",\"product_id\":\"BTC-USD\",\"updates\":[]}]}",
       TP_VMSG_IGNORED, 0);
    OK(p, "{\"type\":\"error\",\"message\":\"failure to subscribe\"}", TP_VMSG_ERROR, 0);
    ASSERT_EQ_STR(res.text, "failure to subscribe");
    BAD(p,
        "{\"channel\":\"market_trades\",\"timestamp\":\"x\",\"sequence_num\":9,\"events\":[{"
        "\"type\":\"update\",\"trades\":[{\"trade_id\":\"1\",\"product_id\":\"BTC-USD\","
        "\"price\":\"1\",\"size\":\"1\",\"side\":\"BUY\",\"time\":\"yesterday\"}]}]}",
        TP_VR_TIME);
    BAD(p, "{\"channel\":\"market_trades\",\"events\":{}}", TP_VR_FIELD);
    BAD(p, "{\"channel\":\"futures\",\"events\":[]}", TP_VR_UNKNOWN);
    /* our own subscribe request is not a server message */
    BAD(p, "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\"],\"channel\":\"heartbeats\"}",
        TP_VR_UNKNOWN);
    tp_venue_parser_free(p);
}

static void test_coinbase_candles(void)
{
    struct tp_venue_parser *p = mk("coinbase", NULL);
    const char *env = "{\"channel\":\"candles\",\"timestamp\":\"2026-01-05T10:00:00Z\","
                      "\"sequence_num\":%d,\"events\":[{\"type\":\"%s\",\"candles\":[%s]}]}";
    const char *c1 = "{\"start\":\"1767606600\",\"high\":\"11\",\"low\":\"9\",\"open\":\"10\","
                     "\"close\":\"10.5\",\"volume\":\"100\",\"product_id\":\"SOL-USD\"}";
    const char *c0 = "{\"start\":\"1767606300\",\"high\":\"10\",\"low\":\"8\",\"open\":\"9\","
                     "\"close\":\"9.5\",\"volume\":\"50\",\"product_id\":\"SOL-USD\"}";
    const char *c2 = "{\"start\":\"1767606900\",\"high\":\"12\",\"low\":\"10\",\"open\":\"10.5\","
                     "\"close\":\"11\",\"volume\":\"7\",\"product_id\":\"SOL-USD\"}";
    char body[1024], m[2048];
    /* snapshot in any order: every bar but the newest is final */
    snprintf(body, sizeof body, "%s,%s,%s", c1, c2, c0);
    snprintf(m, sizeof m, env, 1, "snapshot", body);
    OK(p, m, TP_VMSG_DATA, 2);
    bar_is(&ev[0], "coinbase:SOL-USD", 1767606300 * TP_NS_PER_SEC, 9, 10, 8, 9.5, 50);
    bar_is(&ev[1], "coinbase:SOL-USD", 1767606600 * TP_NS_PER_SEC, 10, 11, 9, 10.5, 100);
    ASSERT(ev[0].flags & TP_EV_SNAPSHOT);
    /* updates of the open bar change nothing visible... */
    const char *c2b =
        "{\"start\":\"1767606900\",\"high\":\"12.5\",\"low\":\"10\",\"open\":\"10.5\","
        "\"close\":\"12\",\"volume\":\"9\",\"product_id\":\"SOL-USD\"}";
    snprintf(m, sizeof m, env, 2, "update", c2b);
    OK(p, m, TP_VMSG_DATA, 0);
    /* ...until the next bar starts: then the last values of the previous one are final */
    const char *c3 = "{\"start\":\"1767607200\",\"high\":\"12\",\"low\":\"12\",\"open\":\"12\","
                     "\"close\":\"12\",\"volume\":\"1\",\"product_id\":\"SOL-USD\"}";
    snprintf(m, sizeof m, env, 3, "update", c3);
    OK(p, m, TP_VMSG_DATA, 1);
    bar_is(&ev[0], "coinbase:SOL-USD", 1767606900 * TP_NS_PER_SEC, 10.5, 12.5, 10, 12, 9);
    ASSERT(!(ev[0].flags & TP_EV_SNAPSHOT));
    /* a late update of a final bar is dropped */
    snprintf(m, sizeof m, env, 4, "update", c1);
    OK(p, m, TP_VMSG_DATA, 0);
    tp_venue_parser_free(p);
}

static void test_coinbase_exchange(void)
{
    struct tp_venue_parser *p = mk("coinbase", NULL);
    OK(p,
       "{\"type\":\"last_match\",\"trade_id\":500,\"maker_order_id\":\"a\",\"taker_order_id\":"
       "\"b\",\"side\":\"buy\",\"size\":\"2.5\",\"price\":\"0.75\",\"product_id\":\"XLM-EUR\","
       "\"sequence\":90,\"time\":\"2021-05-01T12:00:00.000100Z\"}",
       TP_VMSG_DATA, 1);
    trade_is(&ev[0], "coinbase:XLM-EUR", "XLM-EUR", 0.75, 2.5, TP_SIDE_SELL,
             rfc("2021-05-01T12:00:00.000100Z"));
    id_is(&ev[0], 500);
    ASSERT(ev[0].flags & TP_EV_SNAPSHOT);
    OK(p,
       "{\"type\":\"match\",\"trade_id\":501,\"side\":\"sell\",\"size\":\"1\",\"price\":\"0.76\","
       "\"product_id\":\"XLM-EUR\",\"sequence\":95,\"time\":\"2021-05-01T12:00:01Z\"}",
       TP_VMSG_DATA, 1);
    ASSERT_EQ_INT(ev[0].side, TP_SIDE_BUY);
    ASSERT(!(ev[0].flags & TP_EV_SNAPSHOT));
    /* heartbeat: last_trade_id beyond what we saw means trades were missed */
    OK(p,
       "{\"type\":\"heartbeat\",\"last_trade_id\":501,\"product_id\":\"XLM-EUR\",\"sequence\":96,"
       "\"time\":\"2021-05-01T12:00:02Z\"}",
       TP_VMSG_HEARTBEAT, 0);
    OK(p,
       "{\"type\":\"heartbeat\",\"last_trade_id\":504,\"product_id\":\"XLM-EUR\",\"sequence\":99,"
       "\"time\":\"2021-05-01T12:00:03Z\"}",
       TP_VMSG_HEARTBEAT, 1);
    gap_is(&ev[0], "coinbase:XLM-EUR", 502, 504, rfc("2021-05-01T12:00:03Z"));
    ASSERT_EQ_INT(res.gaps, 1);
    /* the gap is not reported again when the trades then arrive late */
    OK(p,
       "{\"type\":\"match\",\"trade_id\":503,\"side\":\"sell\",\"size\":\"1\",\"price\":\"0.76\","
       "\"product_id\":\"XLM-EUR\",\"time\":\"2021-05-01T12:00:02.5Z\"}",
       TP_VMSG_DATA, 1);
    OK(p,
       "{\"type\":\"heartbeat\",\"last_trade_id\":0,\"product_id\":\"XLM-EUR\",\"sequence\":1,"
       "\"time\":\"2021-05-01T12:00:04Z\"}",
       TP_VMSG_HEARTBEAT, 0);
    OK(p,
       "{\"type\":\"ticker\",\"sequence\":100,\"product_id\":\"XLM-EUR\",\"price\":\"0.76\","
       "\"best_bid\":\"0.755\",\"best_bid_size\":\"100\",\"best_ask\":\"0.765\",\"best_ask_size\":"
       "\"200\",\"side\":\"buy\",\"time\":\"2021-05-01T12:00:05Z\",\"trade_id\":505}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "coinbase:XLM-EUR", 0.755, 100, 0.765, 200, rfc("2021-05-01T12:00:05Z"), true);
    /* the first ticker after subscribing may come without time and sizes */
    OK(p,
       "{\"type\":\"ticker\",\"sequence\":1,\"product_id\":\"XLM-EUR\",\"price\":\"0.76\","
       "\"best_bid\":\"0.755\",\"best_ask\":\"0.765\"}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "coinbase:XLM-EUR", 0.755, NAN, 0.765, NAN, RECV, false);
    OK(p, "{\"type\":\"subscriptions\",\"channels\":[{\"name\":\"matches\",\"product_ids\":[]}]}",
       TP_VMSG_SUBSCRIBED, 0);
    OK(p,
       "{\"type\":\"error\",\"message\":\"Failed to subscribe\",\"reason\":\"XYZ-USD is not a "
       "valid product\"}",
       TP_VMSG_ERROR, 0);
    ASSERT_EQ_STR(res.text, "Failed to subscribe: XYZ-USD is not a valid product");
    OK(p,
       "{\"type\":\"l2update\",\"product_id\":\"XLM-EUR\",\"changes\":[[\"buy\",\"1\",\"2\"]],"
       "\"time\":\"2021-05-01T12:00:05Z\"}",
       TP_VMSG_IGNORED, 0);
    BAD(p,
        "{\"type\":\"match\",\"trade_id\":1,\"side\":\"sell\",\"size\":\"1\",\"price\":\"0\","
        "\"product_id\":\"XLM-EUR\",\"time\":\"2021-05-01T12:00:01Z\"}",
        TP_VR_NUMBER);
    tp_venue_parser_free(p);
}

/* ---- okx ----------------------------------------------------------------------------- */

static void test_okx(void)
{
    struct tp_venue_parser *p = mk("okx", NULL);
    OK(p,
       "{\"arg\":{\"channel\":\"trades\",\"instId\":\"BTC-USDT\"},\"data\":[{\"instId\":"
       "\"BTC-USDT\",\"tradeId\":\"130639474\",\"px\":\"42219.9\",\"sz\":\"0.12060306\","
       "\"side\":\"buy\",\"ts\":\"1630048897897\",\"count\":\"3\"},{\"instId\":\"BTC-USDT\","
       "\"tradeId\":\"130639470\",\"px\":\"42219.8\",\"sz\":\"0.5\",\"side\":\"sell\",\"ts\":"
       "\"1630048897800\"}]}",
       TP_VMSG_DATA, 2);
    trade_is(&ev[0], "okx:BTC-USDT", "BTC-USDT", 42219.8, 0.5, TP_SIDE_SELL, ms(1630048897800));
    id_is(&ev[0], 130639470);
    trade_is(&ev[1], "okx:BTC-USDT", "BTC-USDT", 42219.9, 0.12060306, TP_SIDE_BUY,
             ms(1630048897897));
    ASSERT_EQ_INT(res.gaps, 0); /* OKX aggregates trades: ids are not consecutive */
    OK(p,
       "{\"arg\":{\"channel\":\"tickers\",\"instId\":\"ETH-USDT-SWAP\"},\"data\":[{\"instType\":"
       "\"SWAP\",\"instId\":\"ETH-USDT-SWAP\",\"last\":\"2500\",\"lastSz\":\"1\",\"askPx\":"
       "\"2500.01\",\"askSz\":\"30\",\"bidPx\":\"2499.99\",\"bidSz\":\"12\",\"open24h\":\"2400\","
       "\"ts\":\"1700000000000\"}]}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "okx:ETH-USDT-SWAP", 2499.99, 12, 2500.01, 30, ms(1700000000000), true);
    /* a one-sided option book: the last price as a snapshot */
    OK(p,
       "{\"arg\":{\"channel\":\"tickers\",\"instId\":\"BTC-USD-261225-90000-C\"},\"data\":[{"
       "\"instId\":\"BTC-USD-261225-90000-C\",\"last\":\"0.05\",\"lastSz\":\"1\",\"askPx\":"
       "\"0.06\",\"askSz\":\"10\",\"bidPx\":\"\",\"bidSz\":\"\",\"ts\":\"1700000000001\"}]}",
       TP_VMSG_DATA, 1);
    ASSERT_EQ_STR(tp_kind_name(ev[0].kind), "snapshot");
    ASSERT_EQ_STR(tp_instr_name(ev[0].instr), "okx:BTC-USD-261225-90000-C");
    ASSERT_EQ_DBL(ev[0].price, 0.05);
    ASSERT(isnan(ev[0].size));
    OK(p,
       "{\"arg\":{\"channel\":\"bbo-tbt\",\"instId\":\"BTC-USDT\"},\"data\":[{\"asks\":[[\"101\","
       "\"2\",\"0\",\"1\"]],\"bids\":[[\"100\",\"3\",\"0\",\"2\"]],\"ts\":\"1700000000002\","
       "\"seqId\":5}]}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "okx:BTC-USDT", 100, 3, 101, 2, ms(1700000000002), true);
    const char *cf = "{\"arg\":{\"channel\":\"candle1m\",\"instId\":\"BTC-USDT\"},\"data\":[["
                     "\"1700000040000\",\"100\",\"102\",\"99\",\"101\",\"12.5\",\"1262\",\"1262\","
                     "\"%s\"]]}";
    char m[512];
    snprintf(m, sizeof m, cf, "0");
    OK(p, m, TP_VMSG_DATA, 0);
    snprintf(m, sizeof m, cf, "1");
    OK(p, m, TP_VMSG_DATA, 1);
    bar_is(&ev[0], "okx:BTC-USDT", ms(1700000040000), 100, 102, 99, 101, 12.5);
    /* older 7-element candles carry no confirm flag: final when the next one starts */
    OK(p,
       "{\"arg\":{\"channel\":\"candle5m\",\"instId\":\"BTC-USDT\"},\"data\":[[\"1700000100000\","
       "\"1\",\"2\",\"0.5\",\"1.5\",\"10\",\"15\"]]}",
       TP_VMSG_DATA, 0);
    OK(p,
       "{\"arg\":{\"channel\":\"candle5m\",\"instId\":\"BTC-USDT\"},\"data\":[[\"1700000400000\","
       "\"1.5\",\"1.5\",\"1.5\",\"1.5\",\"1\",\"1.5\"]]}",
       TP_VMSG_DATA, 1);
    bar_is(&ev[0], "okx:BTC-USDT", ms(1700000100000), 1, 2, 0.5, 1.5, 10);
    /* events */
    OK(p,
       "{\"id\":\"1512\",\"event\":\"subscribe\",\"arg\":{\"channel\":\"tickers\",\"instId\":"
       "\"BTC-USDT\"},\"connId\":\"a4d3ae55\"}",
       TP_VMSG_SUBSCRIBED, 0);
    ASSERT(res.has_req_id && res.req_id == 1512);
    ASSERT_EQ_STR(res.text, "{\"channel\":\"tickers\",\"instId\":\"BTC-USDT\"}");
    OK(p, "{\"event\":\"error\",\"code\":\"60012\",\"msg\":\"Invalid request: {\\\"op\\\": 1}\"}",
       TP_VMSG_ERROR, 0);
    ASSERT(res.has_code && res.code == 60012);
    ASSERT_EQ_STR(res.text, "Invalid request: {\"op\": 1}");
    OK(p,
       "{\"event\":\"notice\",\"code\":\"64008\",\"msg\":\"The connection will soon be closed for "
       "a service upgrade. Please reconnect.\",\"connId\":\"x\"}",
       TP_VMSG_RECONNECT, 0);
    OK(p, "pong", TP_VMSG_PONG, 0);
    OK(p, "ping", TP_VMSG_PING, 0);
    ASSERT_EQ_STR(res.reply, "pong");
    OK(p,
       "{\"arg\":{\"channel\":\"books\",\"instId\":\"BTC-USDT\"},\"action\":\"update\",\"data\":"
       "[{\"asks\":[],\"bids\":[],\"ts\":\"1\",\"checksum\":0}]}",
       TP_VMSG_IGNORED, 0);
    BAD(p, "pang", TP_VR_JSON);
    BAD(p, "{\"arg\":{\"channel\":\"trades\"},\"data\":{}}", TP_VR_FIELD);
    BAD(p, "{\"arg\":{\"channel\":\"candle1m\",\"instId\":\"BTC-USDT\"},\"data\":[[\"1\",\"2\"]]}",
        TP_VR_FIELD);
    BAD(p, "{\"arg\":{\"channel\":\"mystery\",\"instId\":\"BTC-USDT\"},\"data\":[]}",
        TP_VR_UNKNOWN);
    tp_venue_parser_free(p);
}

/* ---- kraken -------------------------------------------------------------------------- */

static void test_kraken_v2(void)
{
    struct tp_venue_parser *p = mk("kraken", NULL);
    OK(p,
       "{\"channel\":\"trade\",\"type\":\"snapshot\",\"data\":[{\"symbol\":\"BTC/USD\",\"side\":"
       "\"sell\",\"price\":65000.1,\"qty\":0.00012345,\"ord_type\":\"market\",\"trade_id\":"
       "7001,\"timestamp\":\"2026-02-01T00:00:01.000001Z\"},{\"symbol\":\"BTC/USD\",\"side\":"
       "\"buy\",\"price\":65000.2,\"qty\":1.5,\"ord_type\":\"limit\",\"trade_id\":7002,"
       "\"timestamp\":\"2026-02-01T00:00:02Z\"}]}",
       TP_VMSG_DATA, 2);
    trade_is(&ev[0], "kraken:BTC-USD", "BTC/USD", 65000.1, 0.00012345, TP_SIDE_SELL,
             rfc("2026-02-01T00:00:01.000001Z"));
    id_is(&ev[0], 7001);
    ASSERT(ev[0].flags & TP_EV_SNAPSHOT);
    trade_is(&ev[1], "kraken:BTC-USD", "BTC/USD", 65000.2, 1.5, TP_SIDE_BUY,
             rfc("2026-02-01T00:00:02Z"));
    OK(p,
       "{\"channel\":\"trade\",\"type\":\"update\",\"data\":[{\"symbol\":\"BTC/USD\",\"side\":"
       "\"buy\",\"price\":65001,\"qty\":2,\"ord_type\":\"limit\",\"trade_id\":7005,\"timestamp\":"
       "\"2026-02-01T00:00:03Z\"}]}",
       TP_VMSG_DATA, 2);
    gap_is(&ev[0], "kraken:BTC-USD", 7003, 7004, rfc("2026-02-01T00:00:03Z"));
    ASSERT(!(ev[1].flags & TP_EV_SNAPSHOT));
    OK(p,
       "{\"channel\":\"ticker\",\"type\":\"update\",\"data\":[{\"symbol\":\"ETH/EUR\",\"bid\":"
       "2000.5,\"bid_qty\":3.25,\"ask\":2000.75,\"ask_qty\":1,\"last\":2000.6,\"volume\":10,"
       "\"change\":-1.5,\"timestamp\":\"2026-02-01T00:00:04Z\"}]}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "kraken:ETH-EUR", 2000.5, 3.25, 2000.75, 1, rfc("2026-02-01T00:00:04Z"), true);
    OK(p, "{\"channel\":\"heartbeat\"}", TP_VMSG_HEARTBEAT, 0);
    OK(p,
       "{\"channel\":\"status\",\"data\":[{\"api_version\":\"v2\",\"connection_id\":"
       "18239578009413566319,\"system\":\"maintenance\",\"version\":\"2.0.0\"}],\"type\":"
       "\"update\"}",
       TP_VMSG_STATUS, 0);
    ASSERT_EQ_STR(res.text, "maintenance");
    OK(p,
       "{\"method\":\"subscribe\",\"result\":{\"channel\":\"trade\",\"snapshot\":true,\"symbol\":"
       "\"BTC/USD\"},\"success\":true,\"time_in\":\"2026-02-01T00:00:00Z\",\"time_out\":"
       "\"2026-02-01T00:00:00Z\",\"req_id\":4}",
       TP_VMSG_SUBSCRIBED, 0);
    ASSERT_EQ_STR(res.text, "trade BTC/USD");
    ASSERT_EQ_INT(res.req_id, 4);
    OK(p,
       "{\"error\":\"Currency pair not supported\",\"method\":\"subscribe\",\"success\":false,"
       "\"symbol\":\"ABC/XYZ\",\"req_id\":5}",
       TP_VMSG_ERROR, 0);
    ASSERT_EQ_STR(res.text, "Currency pair not supported");
    OK(p, "{\"method\":\"pong\",\"req_id\":101,\"time_in\":\"x\",\"time_out\":\"y\"}", TP_VMSG_PONG,
       0);
    ASSERT_EQ_INT(res.req_id, 101);
    OK(p, "{\"channel\":\"book\",\"type\":\"update\",\"data\":[]}", TP_VMSG_IGNORED, 0);
    BAD(p, "{\"method\":\"subscribe\",\"params\":{\"channel\":\"trade\"}}", TP_VR_UNKNOWN);
    BAD(p,
        "{\"channel\":\"trade\",\"type\":\"update\",\"data\":[{\"symbol\":\"BTC/USD\",\"side\":"
        "\"buy\",\"price\":\"abc\",\"qty\":2,\"trade_id\":1,\"timestamp\":\"2026-02-01T00:00:03Z\"}"
        "]}",
        TP_VR_NUMBER);
    tp_venue_parser_free(p);
}

static void test_kraken_v1(void)
{
    struct tp_venue_parser *p = mk("kraken", NULL);
    OK(p,
       "[337,[[\"5541.20000\",\"0.15850568\",\"1534614057.321597\",\"s\",\"l\",\"\"],"
       "[\"6060.00000\",\"0.02455000\",\"1534614057.324998\",\"b\",\"m\",\"\"]],\"trade\","
       "\"XBT/EUR\"]",
       TP_VMSG_DATA, 2);
    trade_is(&ev[0], "kraken:BTC-EUR", "XBT/EUR", 5541.2, 0.15850568, TP_SIDE_SELL,
             INT64_C(1534614057321597000));
    trade_is(&ev[1], "kraken:BTC-EUR", "XBT/EUR", 6060, 0.02455, TP_SIDE_BUY,
             INT64_C(1534614057324998000));
    ASSERT(!(ev[0].flags & TP_EV_HAS_ID));
    /* ticker: lot volumes as sizes; no time of its own */
    OK(p,
       "[340,{\"a\":[\"5525.40000\",1,\"1.000\"],\"b\":[\"5525.10000\",1,\"1.500\"],\"c\":"
       "[\"5525.10000\",\"0.00398963\"],\"v\":[\"2634.11501494\",\"3591.17907851\"],\"p\":"
       "[\"5631.44067\",\"5653.78939\"],\"t\":[11493,16267],\"l\":[\"5505.00000\",\"5505.00000\"],"
       "\"h\":[\"5783.00000\",\"5783.00000\"],\"o\":[\"5760.70000\",\"5763.40000\"]},\"ticker\","
       "\"XBT/USD\"]",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "kraken:BTC-USD", 5525.1, 1.5, 5525.4, 1, RECV, false);
    OK(p,
       "[0,[\"5698.40000\",\"5700.00000\",\"1542057299.545897\",\"1.01234567\",\"0.98765432\"],"
       "\"spread\",\"XBT/USD\"]",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "kraken:BTC-USD", 5698.4, 1.01234567, 5700, 0.98765432,
             INT64_C(1542057299545897000), true);
    OK(p,
       "[1234,{\"a\":[[\"5541.30000\",\"2.50700000\",\"1534614248.456738\"]]},\"book-10\","
       "\"XBT/USD\"]",
       TP_VMSG_IGNORED, 0);
    OK(p,
       "[1234,{\"a\":[[\"1\",\"2\",\"3\"]]},{\"b\":[[\"1\",\"2\",\"3\"]],\"c\":\"974942666\"},"
       "\"book-10\",\"XBT/USD\"]",
       TP_VMSG_IGNORED, 0);
    OK(p, "{\"event\":\"heartbeat\"}", TP_VMSG_HEARTBEAT, 0);
    OK(p, "{\"event\":\"pong\",\"reqid\":42}", TP_VMSG_PONG, 0);
    ASSERT_EQ_INT(res.req_id, 42);
    OK(p,
       "{\"connectionID\":18239578009413566319,\"event\":\"systemStatus\",\"status\":\"online\","
       "\"version\":\"1.8.3\"}",
       TP_VMSG_STATUS, 0);
    ASSERT_EQ_STR(res.text, "online");
    OK(p,
       "{\"channelID\":10001,\"channelName\":\"ticker\",\"event\":\"subscriptionStatus\",\"pair\":"
       "\"XBT/EUR\",\"status\":\"subscribed\",\"subscription\":{\"name\":\"ticker\"}}",
       TP_VMSG_SUBSCRIBED, 0);
    ASSERT_EQ_STR(res.text, "ticker XBT/EUR");
    OK(p,
       "{\"errorMessage\":\"Subscription depth not supported\",\"event\":\"subscriptionStatus\","
       "\"pair\":\"XBT/USD\",\"status\":\"error\",\"subscription\":{\"depth\":42,\"name\":"
       "\"book\"}}",
       TP_VMSG_ERROR, 0);
    ASSERT_EQ_STR(res.text, "Subscription depth not supported");
    BAD(p, "[1,2,3]", TP_VR_UNKNOWN);
    BAD(p, "[1,[[\"1\",\"2\"]],\"trade\",\"XBT/USD\"]", TP_VR_FIELD);
    BAD(p, "[1,[],\"mystery\",\"XBT/USD\"]", TP_VR_UNKNOWN);
    tp_venue_parser_free(p);
}

/* ---- bybit --------------------------------------------------------------------------- */

static void test_bybit_trades(void)
{
    struct tp_venue_parser *p = mk("bybit", "linear");
    OK(p,
       "{\"topic\":\"publicTrade.BTCUSDT\",\"type\":\"snapshot\",\"ts\":1700000000100,\"data\":["
       "{\"T\":1700000000099,\"s\":\"BTCUSDT\",\"S\":\"Sell\",\"v\":\"0.003\",\"p\":\"36000.50\","
       "\"L\":\"MinusTick\",\"i\":\"f1e8d2c4-aaaa-5bbb-9ccc-000000000002\",\"BT\":false},"
       "{\"T\":1700000000095,\"s\":\"BTCUSDT\",\"S\":\"Buy\",\"v\":\"0.010\",\"p\":\"36000.60\","
       "\"L\":\"PlusTick\",\"i\":\"f1e8d2c4-aaaa-5bbb-9ccc-000000000001\",\"BT\":false}]}",
       TP_VMSG_DATA, 2);
    trade_is(&ev[0], "bybit:BTC-USDT-PERP", "BTCUSDT", 36000.6, 0.01, TP_SIDE_BUY,
             ms(1700000000095));
    id_str_is(&ev[0], "f1e8d2c4-aaaa-5bbb-9ccc-000000000001");
    trade_is(&ev[1], "bybit:BTC-USDT-PERP", "BTCUSDT", 36000.5, 0.003, TP_SIDE_SELL,
             ms(1700000000099));
    ASSERT(!(ev[0].flags & TP_EV_SNAPSHOT));
    tp_venue_parser_free(p);
    p = mk("bybit", NULL); /* spot: numeric ids, and plain instrument names */
    OK(p,
       "{\"topic\":\"publicTrade.ETHUSDT\",\"ts\":1700000000200,\"type\":\"snapshot\",\"data\":[{"
       "\"i\":\"2280000000000000001\",\"T\":1700000000199,\"p\":\"2000.01\",\"v\":\"0.5\",\"S\":"
       "\"Buy\",\"seq\":1,\"s\":\"ETHUSDT\",\"BT\":false,\"RPI\":false}]}",
       TP_VMSG_DATA, 1);
    trade_is(&ev[0], "bybit:ETH-USDT", "ETHUSDT", 2000.01, 0.5, TP_SIDE_BUY, ms(1700000000199));
    id_is(&ev[0], UINT64_C(2280000000000000001));
    /* spot tickers carry no book: the last price is a snapshot */
    OK(p,
       "{\"topic\":\"tickers.ETHUSDT\",\"ts\":1700000000300,\"type\":\"snapshot\",\"cs\":1,"
       "\"data\":{\"symbol\":\"ETHUSDT\",\"lastPrice\":\"2000.02\",\"highPrice24h\":\"2100\","
       "\"volume24h\":\"5\"}}",
       TP_VMSG_DATA, 1);
    ASSERT_EQ_STR(tp_kind_name(ev[0].kind), "snapshot");
    ASSERT_EQ_DBL(ev[0].price, 2000.02);
    ASSERT_EQ_INT(ev[0].ts, ms(1700000000300));
    const char *kl = "{\"topic\":\"kline.5.ETHUSDT\",\"data\":[{\"start\":1700000100000,\"end\":"
                     "1700000399999,\"interval\":\"5\",\"open\":\"2000\",\"close\":\"2001\","
                     "\"high\":\"2002\",\"low\":\"1999\",\"volume\":\"3.5\",\"turnover\":\"7000\","
                     "\"confirm\":%s,\"timestamp\":1700000400000}],\"ts\":1700000400000,"
                     "\"type\":\"snapshot\"}";
    char m[512];
    snprintf(m, sizeof m, kl, "false");
    OK(p, m, TP_VMSG_DATA, 0);
    snprintf(m, sizeof m, kl, "true");
    OK(p, m, TP_VMSG_DATA, 1);
    bar_is(&ev[0], "bybit:ETH-USDT", ms(1700000100000), 2000, 2002, 1999, 2001, 3.5);
    OK(p, "{\"success\":true,\"ret_msg\":\"subscribe\",\"conn_id\":\"c\",\"op\":\"subscribe\"}",
       TP_VMSG_SUBSCRIBED, 0);
    OK(p,
       "{\"success\":false,\"ret_msg\":\"error:handler not found,topic:foo.BTCUSDT\",\"conn_id\":"
       "\"c\",\"req_id\":\"12\",\"op\":\"subscribe\"}",
       TP_VMSG_ERROR, 0);
    ASSERT_EQ_STR(res.text, "error:handler not found,topic:foo.BTCUSDT");
    ASSERT(res.has_req_id && res.req_id == 12);
    OK(p, "{\"success\":true,\"ret_msg\":\"pong\",\"conn_id\":\"c\",\"op\":\"ping\"}", TP_VMSG_PONG,
       0);
    OK(p, "{\"args\":[\"1700000000000\"],\"op\":\"pong\"}", TP_VMSG_PONG, 0);
    OK(p,
       "{\"topic\":\"orderbook.50.ETHUSDT\",\"type\":\"delta\",\"ts\":1,\"data\":{\"s\":"
       "\"ETHUSDT\",\"b\":[],\"a\":[],\"u\":2,\"seq\":3}}",
       TP_VMSG_IGNORED, 0);
    BAD(p, "{\"topic\":\"publicTrade.ETHUSDT\",\"data\":{}}", TP_VR_FIELD);
    BAD(p, "{\"topic\":\"mystery.ETHUSDT\",\"data\":{}}", TP_VR_UNKNOWN);
    tp_venue_parser_free(p);
}

static void test_bybit_ticker_merge(void)
{
    struct tp_venue_parser *p = mk("bybit", "linear");
    OK(p,
       "{\"topic\":\"tickers.SOLUSDT\",\"type\":\"snapshot\",\"data\":{\"symbol\":\"SOLUSDT\","
       "\"tickDirection\":\"PlusTick\",\"lastPrice\":\"150.10\",\"markPrice\":\"150.12\","
       "\"bid1Price\":\"150.09\",\"bid1Size\":\"120.5\",\"ask1Price\":\"150.11\",\"ask1Size\":"
       "\"80\"},\"cs\":100,\"ts\":1700000000000}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "bybit:SOL-USDT-PERP", 150.09, 120.5, 150.11, 80, ms(1700000000000), true);
    /* a delta without book fields: no quote */
    OK(p,
       "{\"topic\":\"tickers.SOLUSDT\",\"type\":\"delta\",\"data\":{\"symbol\":\"SOLUSDT\","
       "\"markPrice\":\"150.13\",\"lastPrice\":\"150.11\"},\"cs\":101,\"ts\":1700000000100}",
       TP_VMSG_DATA, 0);
    /* a delta with only the ask: merged with the bid kept from before */
    OK(p,
       "{\"topic\":\"tickers.SOLUSDT\",\"type\":\"delta\",\"data\":{\"symbol\":\"SOLUSDT\","
       "\"ask1Price\":\"150.12\",\"ask1Size\":\"5\"},\"cs\":102,\"ts\":1700000000200}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "bybit:SOL-USDT-PERP", 150.09, 120.5, 150.12, 5, ms(1700000000200), true);
    OK(p,
       "{\"topic\":\"tickers.SOLUSDT\",\"type\":\"delta\",\"data\":{\"symbol\":\"SOLUSDT\","
       "\"bid1Size\":\"1\"},\"cs\":103,\"ts\":1700000000300}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "bybit:SOL-USDT-PERP", 150.09, 1, 150.12, 5, ms(1700000000300), true);
    /* a bad field leaves the merged state as it was */
    BAD(p,
        "{\"topic\":\"tickers.SOLUSDT\",\"type\":\"delta\",\"data\":{\"symbol\":\"SOLUSDT\","
        "\"bid1Price\":\"150.5\",\"ask1Size\":\"x\"},\"cs\":104,\"ts\":1700000000400}",
        TP_VR_NUMBER);
    OK(p,
       "{\"topic\":\"tickers.SOLUSDT\",\"type\":\"delta\",\"data\":{\"symbol\":\"SOLUSDT\","
       "\"ask1Size\":\"6\"},\"cs\":105,\"ts\":1700000000500}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "bybit:SOL-USDT-PERP", 150.09, 1, 150.12, 6, ms(1700000000500), true);
    /* symbols are merged separately; a snapshot starts afresh */
    OK(p,
       "{\"topic\":\"tickers.XRPUSDT\",\"type\":\"delta\",\"data\":{\"symbol\":\"XRPUSDT\","
       "\"bid1Price\":\"0.5\"},\"cs\":1,\"ts\":1700000000600}",
       TP_VMSG_DATA, 0);
    OK(p,
       "{\"topic\":\"tickers.SOLUSDT\",\"type\":\"snapshot\",\"data\":{\"symbol\":\"SOLUSDT\","
       "\"bid1Price\":\"151\",\"ask1Price\":\"152\"},\"cs\":106,\"ts\":1700000000700}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "bybit:SOL-USDT-PERP", 151, NAN, 152, NAN, ms(1700000000700), true);
    tp_venue_parser_free(p);
}

/* ---- bitstamp ------------------------------------------------------------------------ */

static void test_bitstamp(void)
{
    struct tp_venue_parser *p = mk("bitstamp", NULL);
    OK(p,
       "{\"data\":{\"id\":300000001,\"timestamp\":\"1700000000\",\"amount\":0.0125,\"amount_str\":"
       "\"0.01250000\",\"price\":36000.5,\"price_str\":\"36000.5\",\"type\":1,\"microtimestamp\":"
       "\"1700000000123456\",\"buy_order_id\":1,\"sell_order_id\":2},\"channel\":"
       "\"live_trades_btcusd\",\"event\":\"trade\"}",
       TP_VMSG_DATA, 1);
    trade_is(&ev[0], "bitstamp:BTC-USD", "btcusd", 36000.5, 0.0125, TP_SIDE_SELL,
             INT64_C(1700000000123456000));
    id_is(&ev[0], 300000001);
    /* the older server format: spaces, another key order; usdt/usd split right */
    OK(p,
       "{\"event\": \"trade\", \"channel\": \"live_trades_usdtusd\", \"data\": {\"amount\": 10.0, "
       "\"buy_order_id\": 3, \"sell_order_id\": 4, \"amount_str\": \"10.00000\", \"price_str\": "
       "\"1.00010\", \"timestamp\": \"1600000000\", \"price\": 1.0001, \"type\": 0, \"id\": 5, "
       "\"microtimestamp\": \"1600000000500000\"}}",
       TP_VMSG_DATA, 1);
    trade_is(&ev[0], "bitstamp:USDT-USD", "usdtusd", 1.0001, 10, TP_SIDE_BUY,
             INT64_C(1600000000500000000));
    OK(p,
       "{\"data\":{\"timestamp\":\"1700000001\",\"microtimestamp\":\"1700000001000001\",\"bids\":"
       "[[\"35999\",\"1.5\"],[\"35998\",\"2\"]],\"asks\":[[\"36001\",\"0.5\"]]},\"channel\":"
       "\"order_book_btceur\",\"event\":\"data\"}",
       TP_VMSG_DATA, 1);
    quote_is(&ev[0], "bitstamp:BTC-EUR", 35999, 1.5, 36001, 0.5, INT64_C(1700000001000001000),
             true);
    OK(p,
       "{\"data\":{\"timestamp\":\"1\",\"microtimestamp\":\"1000000\",\"bids\":[],\"asks\":[]},"
       "\"channel\":\"diff_order_book_btcusd\",\"event\":\"data\"}",
       TP_VMSG_IGNORED, 0);
    OK(p,
       "{\"event\":\"bts:subscription_succeeded\",\"channel\":\"live_trades_btcusd\",\"data\":{}}",
       TP_VMSG_SUBSCRIBED, 0);
    ASSERT_EQ_STR(res.text, "live_trades_btcusd");
    OK(p, "{\"event\":\"bts:heartbeat\",\"channel\":\"\",\"data\":{\"status\":\"success\"}}",
       TP_VMSG_PONG, 0);
    OK(p, "{\"event\":\"bts:request_reconnect\",\"channel\":\"\",\"data\":\"\"}", TP_VMSG_RECONNECT,
       0);
    OK(p,
       "{\"event\":\"bts:error\",\"channel\":\"\",\"data\":{\"code\":null,\"message\":\"Bad "
       "subscription string.\"}}",
       TP_VMSG_ERROR, 0);
    ASSERT_EQ_STR(res.text, "Bad subscription string.");
    BAD(p, "{\"event\":\"trade\",\"channel\":\"live_orders_btcusd\",\"data\":{}}", TP_VR_UNKNOWN);
    BAD(p,
        "{\"event\":\"trade\",\"channel\":\"live_trades_btcusd\",\"data\":{\"price_str\":\"1\"}}",
        TP_VR_FIELD);
    tp_venue_parser_free(p);
}

/* ---- finnhub ------------------------------------------------------------------------- */

static void test_finnhub(void)
{
    struct tp_venue_parser *p = mk("finnhub", NULL);
    OK(p,
       "{\"data\":[{\"c\":[\"1\",\"12\"],\"p\":190.55,\"s\":\"AAPL\",\"t\":1700000000500,\"v\":100}"
       ","
       "{\"c\":null,\"p\":36000.01,\"s\":\"BINANCE:BTCUSDT\",\"t\":1700000000400,\"v\":0.0015},"
       "{\"p\":1.0875,\"s\":\"OANDA:EUR_USD\",\"t\":1700000000500,\"v\":0}],\"type\":\"trade\"}",
       TP_VMSG_DATA, 3);
    trade_is(&ev[0], "finnhub:BINANCE_BTCUSDT", "BINANCE:BTCUSDT", 36000.01, 0.0015,
             TP_SIDE_UNKNOWN, ms(1700000000400));
    trade_is(&ev[1], "finnhub:AAPL", "AAPL", 190.55, 100, TP_SIDE_UNKNOWN, ms(1700000000500));
    trade_is(&ev[2], "finnhub:OANDA_EUR_USD", "OANDA:EUR_USD", 1.0875, 0, TP_SIDE_UNKNOWN,
             ms(1700000000500));
    ASSERT(!(ev[0].flags & TP_EV_HAS_ID));
    OK(p, "{\"type\":\"ping\"}", TP_VMSG_PING, 0);
    ASSERT_EQ_INT(res.reply_len, 0);
    OK(p, "{\"msg\":\"Subscribing to too many symbols\",\"type\":\"error\"}", TP_VMSG_ERROR, 0);
    ASSERT_EQ_STR(res.text, "Subscribing to too many symbols");
    BAD(p, "{\"data\":[{\"p\":-1,\"s\":\"AAPL\",\"t\":1,\"v\":1}],\"type\":\"trade\"}",
        TP_VR_NUMBER);
    BAD(p, "{\"type\":\"unknown\"}", TP_VR_UNKNOWN);
    tp_venue_parser_free(p);
}

/* ---- ordering, capacity -------------------------------------------------------------- */

static void test_order_and_capacity(void)
{
    struct tp_venue_parser *p = mk("finnhub", NULL);
    /* a shuffled batch comes out sorted by time, stable among equal times */
    char m[4096];
    size_t o = (size_t)snprintf(m, sizeof m, "{\"data\":[");
    static const int t[] = {5, 3, 9, 3, 1, 7, 3, 0, 8, 2, 6, 4};
    for (size_t i = 0; i < TP_ARRAY_LEN(t); i++)
        o += (size_t)snprintf(m + o, sizeof m - o, "%s{\"p\":%zu,\"s\":\"X\",\"t\":%lld,\"v\":1}",
                              i ? "," : "", i + 1, (long long)(1700000000000 + t[i]));
    snprintf(m + o, sizeof m - o, "],\"type\":\"trade\"}");
    OK(p, m, TP_VMSG_DATA, 12);
    for (int i = 1; i < 12; i++) ASSERT(ev[i].ts >= ev[i - 1].ts);
    /* the three trades at +3 keep their order: prices 2, 4, 7 */
    ASSERT_EQ_DBL(ev[3].price, 2);
    ASSERT_EQ_DBL(ev[4].price, 4);
    ASSERT_EQ_DBL(ev[5].price, 7);
    ASSERT_EQ_DBL(ev[0].price, 8);
    ASSERT_EQ_DBL(ev[11].price, 3);
    /* more events than the caller's array: refused whole */
    int n = parse_n(p, m, 5);
    ASSERT_EQ_INT(n, -E2BIG);
    ASSERT_EQ_INT(res.reason, TP_VR_EVENTS);
    ASSERT_EQ_INT(res.type, TP_VMSG_NONE);
    tp_venue_parser_free(p);
    /* a gap event needs room too */
    p = mk("binance", NULL);
    OK(p, "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"5\",\"q\":\"1\",\"T\":1,\"m\":true}",
       TP_VMSG_DATA, 1);
    ASSERT_EQ_INT(parse_n(p,
                          "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":5,\"p\":\"5\",\"q\":\"1\","
                          "\"T\":2,\"m\":true}",
                          1),
                  -E2BIG);
    tp_venue_parser_free(p);
    /* the symbol table is capped */
    struct tp_venue_opts vo = {.max_symbols = 2};
    ASSERT_EQ_INT(tp_venue_parser_new(tp_venue_find("okx"), &vo, &p), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(m, sizeof m,
                 "{\"arg\":{\"channel\":\"trades\"},\"data\":[{\"instId\":\"S%d-USDT\",\"tradeId\":"
                 "\"1\",\"px\":\"1\",\"sz\":\"1\",\"side\":\"buy\",\"ts\":\"1700000000000\"}]}",
                 i);
        int r = parse(p, m);
        if (i < 2)
            ASSERT_EQ_INT(r, 1);
        else
            ASSERT_EQ_INT(res.reason, TP_VR_SYMBOLS);
    }
    tp_venue_parser_free(p);
}

/* Random corruptions of valid messages never crash a parser, and whatever is accepted is sane. */
static void test_corruptions(void)
{
    static const struct {
        const char *venue, *msg;
    } seeds[] = {
        {"binance", "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1700000000001,"
                    "\"s\":\"BTCUSDT\",\"t\":12,\"p\":\"1.5\",\"q\":\"2\",\"T\":1700000000000,"
                    "\"m\":true}}"},
        {"coinbase", "{\"channel\":\"market_trades\",\"timestamp\":\"2026-01-01T00:00:00Z\","
                     "\"sequence_num\":3,\"events\":[{\"type\":\"update\",\"trades\":[{"
                     "\"trade_id\":\"9\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"size\":"
                     "\"1\",\"side\":\"BUY\",\"time\":\"2026-01-01T00:00:00Z\"}]}]}"},
        {"kraken", "[1,[[\"1.5\",\"2\",\"1700000000.5\",\"b\",\"l\",\"\"]],\"trade\",\"XBT/USD\"]"},
        {"bybit", "{\"topic\":\"tickers.BTCUSDT\",\"type\":\"delta\",\"data\":{\"symbol\":"
                  "\"BTCUSDT\",\"bid1Price\":\"1\",\"ask1Price\":\"2\"},\"ts\":1700000000000}"},
        {"okx",
         "{\"arg\":{\"channel\":\"candle1m\",\"instId\":\"A-B\"},\"data\":[[\"1700000000000\","
         "\"1\",\"2\",\"0.5\",\"1\",\"3\",\"4\"]]}"},
    };
    uint64_t x = 88172645463325252ULL;
    char buf[512];
    for (size_t s = 0; s < TP_ARRAY_LEN(seeds); s++) {
        struct tp_venue_parser *p = mk(seeds[s].venue, NULL);
        for (int it = 0; it < 3000; it++) {
            size_t n = strlen(seeds[s].msg);
            memcpy(buf, seeds[s].msg, n);
            for (int k = 0; k < 3; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                size_t at = x % n;
                buf[at] = "0123456789.-e\"{}[],:ab\\ "[(x >> 20) % 24];
            }
            int r = tp_venue_parse(p, buf, n, RECV, ev, CAP, &res);
            if (r < 0) {
                ASSERT(res.reason != TP_VR_NONE);
                continue;
            }
            for (int i = 0; i < r; i++) {
                if (ev[i].kind == TP_KIND_TRADE) ASSERT(ev[i].price > 0 && ev[i].size >= 0);
                if (i) ASSERT(ev[i].ts >= ev[i - 1].ts);
                ASSERT(ev[i].instr != 0);
            }
        }
        tp_venue_parser_free(p);
    }
}

/* ---- builders ------------------------------------------------------------------------ */

static const char *build(const char *venue, const char *const *syms, size_t n, unsigned ch,
                         const char *iv, uint64_t id, int want)
{
    static struct tp_buf b;
    static bool init;
    if (!init) {
        tp_buf_init(&b, 1 << 20);
        init = true;
    }
    tp_buf_reset(&b);
    struct tp_venue_sub s = {
        .symbols = syms, .nsymbols = n, .channels = ch, .interval = iv, .req_id = id};
    int r = tp_venue_subscribe(tp_venue_find(venue), &s, &b);
    ASSERT_EQ_INT(r, want);
    if (tp_buf_putc(&b, 0) < 0) TPT_FAIL("buf");
    return b.p;
}

static void test_builders(void)
{
    const char *s2[] = {"BTC-USDT", "eth-usdt"};
    ASSERT_EQ_STR(build("binance", s2, 2, TP_VCH_TRADES | TP_VCH_QUOTES | TP_VCH_BARS, "5m", 0, 1),
                  "{\"method\":\"SUBSCRIBE\",\"params\":[\"btcusdt@trade\",\"btcusdt@bookTicker\","
                  "\"btcusdt@kline_5m\",\"ethusdt@trade\",\"ethusdt@bookTicker\","
                  "\"ethusdt@kline_5m\"],\"id\":1}\n");
    ASSERT_EQ_STR(build("binance", s2, 1, TP_VCH_TRADES | TP_VCH_AGG, NULL, 9, 1),
                  "{\"method\":\"SUBSCRIBE\",\"params\":[\"btcusdt@aggTrade\"],\"id\":9}\n");
    build("binance", s2, 1, TP_VCH_BARS, "7m", 0, -EINVAL);
    /* more streams than one request may carry: split, ids counting up */
    static char names[450][24];
    const char *many[450];
    for (int i = 0; i < 450; i++) {
        snprintf(names[i], sizeof names[i], "S%dUSDT", i);
        many[i] = names[i];
    }
    const char *out = build("binance", many, 450, TP_VCH_TRADES, NULL, 1, 3);
    ASSERT(strstr(out, "\"id\":1}\n") && strstr(out, "\"id\":2}\n") && strstr(out, "\"id\":3}\n"));
    const char *cb[] = {"BTC-USD", "ETH-USD"};
    ASSERT_EQ_STR(build("coinbase", cb, 2, TP_VCH_TRADES | TP_VCH_QUOTES, NULL, 0, 3),
                  "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\",\"ETH-USD\"],\"channel\":"
                  "\"market_trades\"}\n"
                  "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\",\"ETH-USD\"],\"channel\":"
                  "\"ticker\"}\n"
                  "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\",\"ETH-USD\"],\"channel\":"
                  "\"heartbeats\"}\n");
    build("coinbase", cb, 2, TP_VCH_BARS, "1m", 0, -EINVAL);
    ASSERT_EQ_STR(build("okx", s2, 1, TP_VCH_TRADES | TP_VCH_BARS, "1h", 7, 1),
                  "{\"id\":\"7\",\"op\":\"subscribe\",\"args\":[{\"channel\":\"trades\",\"instId\":"
                  "\"BTC-USDT\"},{\"channel\":\"candle1H\",\"instId\":\"BTC-USDT\"}]}\n");
    const char *kr[] = {"BTC-USD"};
    ASSERT_EQ_STR(build("kraken", kr, 1, TP_VCH_TRADES | TP_VCH_QUOTES, NULL, 3, 2),
                  "{\"method\":\"subscribe\",\"params\":{\"channel\":\"trade\",\"symbol\":"
                  "[\"BTC/USD\"],\"snapshot\":true},\"req_id\":3}\n"
                  "{\"method\":\"subscribe\",\"params\":{\"channel\":\"ticker\",\"symbol\":"
                  "[\"BTC/USD\"]},\"req_id\":4}\n");
    build("kraken", kr, 1, TP_VCH_BARS, NULL, 0, -ENOTSUP);
    const char *bad[] = {"BTCUSD"};
    build("kraken", bad, 1, TP_VCH_TRADES, NULL, 0, -EINVAL);
    ASSERT_EQ_STR(
        build("bybit", s2, 2, TP_VCH_TRADES | TP_VCH_BARS, "1d", 0, 2),
        "{\"op\":\"subscribe\",\"args\":[\"publicTrade.BTCUSDT\",\"publicTrade.ETHUSDT\"]}\n"
        "{\"op\":\"subscribe\",\"args\":[\"kline.D.BTCUSDT\",\"kline.D.ETHUSDT\"]}\n");
    out = build("bybit", many, 25, TP_VCH_QUOTES, NULL, 0, 3); /* 10 topics per request */
    ASSERT(strstr(out, "tickers.S9USDT\"]}\n{") != NULL);
    ASSERT_EQ_STR(build("bitstamp", kr, 1, TP_VCH_TRADES | TP_VCH_QUOTES, NULL, 0, 2),
                  "{\"event\":\"bts:subscribe\",\"data\":{\"channel\":\"live_trades_btcusd\"}}\n"
                  "{\"event\":\"bts:subscribe\",\"data\":{\"channel\":\"order_book_btcusd\"}}\n");
    const char *fh[] = {"AAPL", "OANDA:EUR_USD"};
    ASSERT_EQ_STR(build("finnhub", fh, 2, TP_VCH_TRADES, NULL, 0, 2),
                  "{\"type\":\"subscribe\",\"symbol\":\"AAPL\"}\n"
                  "{\"type\":\"subscribe\",\"symbol\":\"OANDA:EUR_USD\"}\n");
    build("finnhub", fh, 2, TP_VCH_QUOTES, NULL, 0, -ENOTSUP);
    build("finnhub", fh, 0, TP_VCH_TRADES, NULL, 0, -EINVAL);
    const char *weird[] = {"BTC USD"};
    build("okx", weird, 1, TP_VCH_TRADES, NULL, 0, -EINVAL);
    /* pings */
    struct tp_buf b;
    tp_buf_init(&b, 256);
    ASSERT_EQ_INT(tp_venue_ping(tp_venue_find("okx"), 0, &b), 0);
    ASSERT(b.len == 4 && !memcmp(b.p, "ping", 4));
    tp_buf_reset(&b);
    ASSERT_EQ_INT(tp_venue_ping(tp_venue_find("bybit"), 5, &b), 0);
    ASSERT(b.len == strlen("{\"req_id\":\"5\",\"op\":\"ping\"}"));
    tp_buf_reset(&b);
    ASSERT_EQ_INT(tp_venue_ping(tp_venue_find("kraken"), 8, &b), 0);
    ASSERT(!memcmp(b.p, "{\"method\":\"ping\",\"req_id\":8}", b.len));
    ASSERT_EQ_INT(tp_venue_ping(tp_venue_find("binance"), 0, &b), -ENOTSUP);
    ASSERT(tp_venue_find("okx")->ping_every_ns > 0 &&
           tp_venue_find("okx")->ping_every_ns < 30 * TP_NS_PER_SEC);
    tp_buf_fini(&b);
}

/* ---- capture reader ------------------------------------------------------------------ */

static char *write_tmp(const char *content, size_t n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/tp_capture_XXXXXX");
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    ASSERT_EQ_INT(write(fd, content, n), (long long)n);
    close(fd);
    return path;
}

static void test_capture(void)
{
    const char *data =
        "{\"e\":\"trade\",\"E\":1700000000010,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"10\",\"q\":\"1\","
        "\"T\":1700000000010,\"m\":true}\n"
        "\n"
        "{\"u\":5,\"s\":\"BTCUSDT\",\"b\":\"9\",\"B\":\"1\",\"a\":\"11\",\"A\":\"2\"}\r\n"
        "not json\n"
        "{\"result\":null,\"id\":1}\n"
        "1700000001.5: {\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":4,\"p\":\"10\",\"q\":"
        "\"2\",\"T\":1700000001000,\"m\":false}\n"
        "wss://stream.binance.com:9443/ws <- 1700000001.6: {\"method\":\"SUBSCRIBE\"}\n"
        "wss://stream.binance.com:9443/ws <-> 1700000001.7\n"
        "1700000002.25: "
        "{\"u\":6,\"s\":\"ETHUSDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"2\",\"A\":\"1\"}\n"
        "{\"e\":\"trade\",\"E\":1,\"s\":\"ETHUSDT\",\"t\":1,\"p\":\"1.5\",\"q\":\"3\",\"T\":"
        "1700000000500,\"m\":true}"; /* no final newline */
    char *path = write_tmp(data, strlen(data));
    struct tp_capture_opts o = {.venue = "binance", .base_ns = 5};
    struct tp_capture *r;
    char err[128];
    ASSERT_EQ_INT(tp_capture_open(path, &o, &r, err, sizeof err), 0);
    ASSERT_EQ_U64(tp_capture_size(r), strlen(data));
    struct tp_event e;
    /* line 1: a trade, received (as far as the file says) at its own time */
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EVENT);
    ASSERT_EQ_INT(e.ts, ms(1700000000010));
    ASSERT_EQ_INT(e.ts_recv, ms(1700000000010));
    /* line 3: a book ticker without time: stamped with the last receive time */
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EVENT);
    ASSERT_EQ_STR(tp_kind_name(e.kind), "quote");
    ASSERT_EQ_INT(e.ts, ms(1700000000010));
    ASSERT_EQ_INT(e.ts_recv, ms(1700000000010));
    ASSERT(!(e.flags & TP_EV_TS_VENUE));
    /* line 4 is bad */
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_BAD);
    ASSERT_EQ_INT(tp_capture_last_reason(r), TP_VR_JSON);
    ASSERT_EQ_U64(tp_capture_last_line(r), 4);
    ASSERT(strlen(tp_capture_last_text(r)) > 0);
    /* line 6: a cryptofeed line; its trade reveals a gap (ids 2..3), then the trade */
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EVENT);
    ASSERT_EQ_STR(tp_status_name(e.status), "gap");
    ASSERT_EQ_INT(e.ts_recv, INT64_C(1700000001500000000));
    uint64_t off_mid = tp_capture_offset(r);
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EVENT);
    ASSERT_EQ_INT(e.ts, ms(1700000001000));
    ASSERT_EQ_INT(e.ts_recv, INT64_C(1700000001500000000));
    ASSERT(tp_capture_offset(r) > off_mid); /* the line is done once its last event is out */
    /* line 9: cryptofeed time for a quote without one of its own */
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EVENT);
    ASSERT_EQ_INT(e.ts, INT64_C(1700000002250000000));
    uint64_t off9 = tp_capture_offset(r), lines9 = tp_capture_lines(r);
    ASSERT_EQ_U64(lines9, 9);
    /* line 10: venue time earlier than the last receive time: received no earlier than that */
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EVENT);
    ASSERT_EQ_INT(e.ts, ms(1700000000500));
    ASSERT_EQ_INT(e.ts_recv, INT64_C(1700000002250000000));
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EOF);
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EOF);
    ASSERT_EQ_U64(tp_capture_offset(r), strlen(data));
    const struct tp_capture_stats *st = tp_capture_stats(r);
    ASSERT_EQ_U64(st->lines, 10);
    ASSERT_EQ_U64(st->blank, 1);
    ASSERT_EQ_U64(st->sent, 2);
    ASSERT_EQ_U64(st->messages, 7);
    ASSERT_EQ_U64(st->events, 6);
    ASSERT_EQ_U64(st->gaps, 1);
    ASSERT_EQ_U64(st->bad_total, 1);
    ASSERT_EQ_U64(st->bad[TP_VR_JSON], 1);
    ASSERT_EQ_U64(st->bad_lines[TP_VR_JSON][0], 4);
    ASSERT_EQ_U64(st->by_type[TP_VMSG_ACK], 1);
    ASSERT_EQ_U64(st->by_type[TP_VMSG_DATA], 5);
    tp_capture_free(r);
    /* resume after line 9: exactly the rest */
    o.start_offset = off9;
    o.start_lines = lines9;
    ASSERT_EQ_INT(tp_capture_open(path, &o, &r, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EVENT);
    ASSERT_EQ_STR(e.venue_symbol, "ETHUSDT");
    ASSERT_EQ_DBL(e.price, 1.5);
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EOF);
    ASSERT_EQ_U64(tp_capture_lines(r), 10);
    tp_capture_free(r);
    /* a line longer than line_max is skipped and reported; the next line is read */
    static char big[3000];
    memset(big, 'x', 2000);
    size_t bl = 2000;
    bl += (size_t)snprintf(big + bl, sizeof big - bl, "\n%s\n", "{\"result\":null,\"id\":1}");
    unlink(path);
    path = write_tmp(big, bl);
    o = (struct tp_capture_opts){.venue = "binance", .line_max = 100};
    ASSERT_EQ_INT(tp_capture_open(path, &o, &r, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_BAD);
    ASSERT_EQ_INT(tp_capture_last_reason(r), TP_VR_TOO_BIG);
    ASSERT_EQ_INT(tp_capture_next(r, &e), TP_CAPTURE_EOF);
    ASSERT_EQ_U64(tp_capture_stats(r)->too_long, 1);
    ASSERT_EQ_U64(tp_capture_stats(r)->by_type[TP_VMSG_ACK], 1);
    ASSERT_EQ_U64(tp_capture_lines(r), 2);
    tp_capture_free(r);
    unlink(path);
    /* errors at open */
    o = (struct tp_capture_opts){.venue = "nope"};
    ASSERT_EQ_INT(tp_capture_open("/nonexistent", &o, &r, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "unknown venue") != NULL);
    o.venue = "okx";
    ASSERT_EQ_INT(tp_capture_open("/nonexistent/x", &o, &r, err, sizeof err), -ENOENT);
    o.market = "linear";
    ASSERT_EQ_INT(tp_capture_open("/nonexistent/x", &o, &r, err, sizeof err), -EINVAL);
}

/* ---- recorded fixtures --------------------------------------------------------------- */

static bool is_request_file(const char *name)
{
    return strstr(name, "request") != NULL; /* *subscribe_requests_sent*, client_requests, ... */
}

static const char *fixtures_dir(char *buf, size_t cap)
{
    const char *shared = getenv("TP_SHARED");
    if (!shared) return NULL;
    snprintf(buf, cap, "%s/fixtures", shared);
    DIR *d = opendir(buf);
    if (!d) return NULL;
    closedir(d);
    return buf;
}

#define T_MIN INT64_C(1262304000000000000) /* 2010-01-01 */
#define T_MAX INT64_C(2051222400000000000) /* 2035-01-01 */

static void sane(const struct tp_event *e, int n, const char *venue, const char *file, int line)
{
    char pre[24];
    snprintf(pre, sizeof pre, "%s:", venue);
    for (int i = 0; i < n; i++) {
        const struct tp_event *x = &e[i];
        const char *name = tp_instr_name(x->instr);
        bool ok = !strncmp(name, pre, strlen(pre)) && x->vsym_len > 0 && x->ts >= T_MIN &&
                  x->ts <= T_MAX && (i == 0 || x->ts >= e[i - 1].ts);
        switch (x->kind) {
        case TP_KIND_TRADE:
            ok = ok && isfinite(x->price) && x->price > 0 && isfinite(x->size) && x->size >= 0 &&
                 (x->flags & TP_EV_TS_VENUE);
            break;
        case TP_KIND_QUOTE:
            ok = ok && x->bid > 0 && x->ask > 0 && isfinite(x->bid) && isfinite(x->ask) &&
                 !(x->bid_size < 0) && !(x->ask_size < 0);
            break;
        case TP_KIND_SNAPSHOT:
            ok = ok && x->price > 0 && isfinite(x->price);
            break;
        case TP_KIND_VBAR:
            ok = ok && x->low > 0 && x->low <= x->open && x->low <= x->price &&
                 x->high >= x->open && x->high >= x->price && x->size >= 0;
            break;
        case TP_KIND_STATUS:
            ok = ok && x->status == TP_ST_GAP && x->trade_id <= x->gap_last && x->trade_id > 0;
            break;
        default:
            ok = false;
        }
        if (!ok)
            TPT_FAIL("%s line %d: event %d (%s %s) is not sane", file, line, i, name,
                     tp_kind_name(x->kind));
    }
}

struct sweep {
    int files, lines, events, by_type[TP_VMSG_COUNT];
    int kinds[6];
};

/* Every line of every server file in fixtures/<dir> through venue's parser. */
static void sweep_dir(const char *root, const char *dir, const char *venue, struct sweep *sw)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *de;
    char *line = NULL;
    size_t lcap = 0;
    while ((de = readdir(d))) {
        const char *f = de->d_name;
        if (f[0] == '.' || is_request_file(f)) continue;
        size_t fl = strlen(f);
        if (!(fl > 6 && !strcmp(f + fl - 6, ".jsonl")) && !(fl > 4 && !strcmp(f + fl - 4, ".txt")))
            continue;
        snprintf(path, sizeof path, "%s/%s/%s", root, dir, f);
        FILE *in = fopen(path, "r");
        ASSERT(in != NULL);
        const char *market = !strncmp(f, "linear_", 7) ? "linear" : NULL;
        struct tp_venue_parser *p = mk(venue, market);
        sw->files++;
        ssize_t n;
        int ln = 0;
        while ((n = getline(&line, &lcap, in)) > 0) {
            ln++;
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
            if (!n) continue;
            int r = tp_venue_parse(p, line, (size_t)n, RECV, ev, CAP, &res);
            if (r < 0)
                TPT_FAIL("%s/%s line %d: %s (%s)", dir, f, ln, tp_vreason_name(res.reason),
                         res.text);
            sane(ev, r, venue, f, ln);
            sw->lines++;
            sw->events += r;
            sw->by_type[res.type]++;
            for (int i = 0; i < r; i++) sw->kinds[ev[i].kind]++;
        }
        fclose(in);
        tp_venue_parser_free(p);
    }
    free(line);
    closedir(d);
}

static void test_fixtures_sweep(void)
{
    char root[400];
    if (!fixtures_dir(root, sizeof root))
        TPT_SKIP("no ../shared/fixtures (TP_SHARED unset or folder absent): recorded traffic not "
                 "checked");
    static const struct {
        const char *dir, *venue;
        int min_trades, min_quotes, min_bars;
    } dirs[] = {
        /* lower bounds, well under what the files hold: each kind really is decoded */
        {"binance", "binance", 75, 600, 3},
        {"coinbase_advanced", "coinbase", 250, 150, 150},
        {"coinbase_exchange", "coinbase", 100, 100, 0},
        {"okx", "okx", 30, 40, 0},
        {"kraken", "kraken", 10, 18, 0},
        {"bybit", "bybit", 30, 0, 5},
        {"bitstamp", "bitstamp", 10, 0, 0},
        {"finnhub", "finnhub", 30, 0, 0},
    };
    int present = 0;
    for (size_t i = 0; i < TP_ARRAY_LEN(dirs); i++) {
        struct sweep sw = {0};
        sweep_dir(root, dirs[i].dir, dirs[i].venue, &sw);
        if (!sw.files) {
            fprintf(stderr, "  note: fixtures/%s absent\n", dirs[i].dir);
            continue;
        }
        present++;
        fprintf(stderr,
                "  %-18s %2d files %5d lines %6d events: %d trades %d quotes %d snapshots %d "
                "bars %d gaps; %d data %d ignored %d control\n",
                dirs[i].dir, sw.files, sw.lines, sw.events, sw.kinds[TP_KIND_TRADE],
                sw.kinds[TP_KIND_QUOTE], sw.kinds[TP_KIND_SNAPSHOT], sw.kinds[TP_KIND_VBAR],
                sw.kinds[TP_KIND_STATUS], sw.by_type[TP_VMSG_DATA], sw.by_type[TP_VMSG_IGNORED],
                sw.lines - sw.by_type[TP_VMSG_DATA] - sw.by_type[TP_VMSG_IGNORED]);
        ASSERT(sw.kinds[TP_KIND_TRADE] >= dirs[i].min_trades);
        ASSERT(sw.kinds[TP_KIND_QUOTE] >= dirs[i].min_quotes);
        ASSERT(sw.kinds[TP_KIND_VBAR] >= dirs[i].min_bars);
        ASSERT_EQ_INT(sw.by_type[TP_VMSG_NONE], 0);
    }
    if (!present) TPT_SKIP("no venue folder under fixtures/");
}

/* The same files through the capture reader: nothing bad, counts agree with the sweep. */
static void test_fixtures_capture(void)
{
    char root[400];
    if (!fixtures_dir(root, sizeof root)) TPT_SKIP("no ../shared/fixtures: capture reader not run");
    static const struct {
        const char *file, *venue, *market;
        int events;
    } files[] = {
        {"binance/combined_session_2021-04-17.jsonl", "binance", NULL, -1},
        {"binance/combined_aggTrade.jsonl", "binance", NULL, -1},
        {"coinbase_advanced/market_trades.jsonl", "coinbase", NULL, -1},
        {"okx/ping_pong_frames.txt", "okx", NULL, 0},
        {"kraken/v1_trade.jsonl", "kraken", NULL, 10},
        {"bybit/linear_kline.jsonl", "bybit", "linear", -1},
        {"bitstamp/live_trades.jsonl", "bitstamp", NULL, 10},
    };
    int done = 0;
    for (size_t i = 0; i < TP_ARRAY_LEN(files); i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", root, files[i].file);
        if (access(path, R_OK)) continue;
        /* a start time for what comes before the file's first timestamp */
        struct tp_capture_opts o = {
            .venue = files[i].venue, .market = files[i].market, .base_ns = T_MIN};
        struct tp_capture *r;
        char err[128];
        ASSERT_EQ_INT(tp_capture_open(path, &o, &r, err, sizeof err), 0);
        struct tp_event e;
        int rc, events = 0;
        int64_t last_recv = INT64_MIN;
        while ((rc = tp_capture_next(r, &e)) != TP_CAPTURE_EOF) {
            if (rc != TP_CAPTURE_EVENT)
                TPT_FAIL("%s line %llu: %s %s", files[i].file,
                         (unsigned long long)tp_capture_last_line(r),
                         tp_vreason_name(tp_capture_last_reason(r)), tp_capture_last_text(r));
            events++;
            ASSERT(e.ts_recv >= last_recv); /* receive times never go back */
            last_recv = e.ts_recv;
            ASSERT(e.ts_recv >= T_MIN);
        }
        const struct tp_capture_stats *st = tp_capture_stats(r);
        ASSERT_EQ_U64(st->bad_total, 0);
        ASSERT_EQ_U64(st->events, (uint64_t)events);
        if (files[i].events >= 0) ASSERT_EQ_INT(events, files[i].events);
        ASSERT_EQ_U64(tp_capture_offset(r), tp_capture_size(r));
        tp_capture_free(r);
        done++;
    }
    if (!done) TPT_SKIP("none of the capture files present");
}

/* The client's recorded requests, against the builders' output: `lines` lists the lines of the
 * file the builder's requests must equal, in order. */
static void test_fixtures_requests(void)
{
    char root[400];
    if (!fixtures_dir(root, sizeof root)) TPT_SKIP("no ../shared/fixtures: requests not compared");
    static const struct {
        const char *file;
        const char *lines;
        const char *venue;
        const char *syms;
        unsigned ch;
        const char *iv;
    } cases[] = {
        /* the recording also subscribed level2 (line 4), which tickpipe does not */
        {"coinbase_advanced/subscribe_requests_sent.jsonl", "1,2,3,5", "coinbase",
         "BTC-USD,ETH-USD", TP_VCH_TRADES | TP_VCH_BARS | TP_VCH_QUOTES, NULL},
        {"okx/subscribe_requests_sent.jsonl", "2", "okx", "BTC-USD-220527,UNI-USD-SWAP,BTC-USDT",
         TP_VCH_TRADES | TP_VCH_QUOTES, NULL},
        {"kraken/v2_client_requests.jsonl", "1", "kraken", "MATIC/USD", TP_VCH_TRADES, NULL},
        {"kraken/v2_client_requests.jsonl", "2", "kraken", "ALGO/USD", TP_VCH_QUOTES, NULL},
        {"bybit/spot_subscribe_requests_sent.jsonl", "1", "bybit", "BTCUSDT,ETHUSDT", TP_VCH_QUOTES,
         NULL},
        {"bybit/linear_subscribe_requests_sent.jsonl", "1", "bybit",
         "BTCUSDT,DOGEUSDT,ETHUSDT,SOLUSDT", TP_VCH_QUOTES, NULL},
        {"bybit/spot_subscribe_requests_sent.jsonl", "4", "bybit", "BTCUSDT", TP_VCH_TRADES, NULL},
        {"bybit/spot_subscribe_requests_sent.jsonl", "6", "bybit", "BTCUSDT", TP_VCH_BARS, "1m"},
        {"bitstamp/subscribe_requests_sent.jsonl", "12", "bitstamp", "ethusd", TP_VCH_TRADES, NULL},
        {"finnhub/client_requests.jsonl", "1,2,3", "finnhub", "AAPL,BINANCE:BTCUSDT,IC MARKETS:1",
         TP_VCH_TRADES, NULL},
    };
    int done = 0;
    char *line = NULL;
    size_t lcap = 0;
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", root, cases[i].file);
        if (access(path, R_OK)) continue;
        char symbuf[256];
        const char *syms[8];
        size_t ns = 0;
        snprintf(symbuf, sizeof symbuf, "%s", cases[i].syms);
        for (char *s = symbuf, *c; s && ns < 8; s = c ? c + 1 : NULL) {
            c = strchr(s, ',');
            if (c) *c = 0;
            syms[ns++] = s;
        }
        struct tp_buf b;
        tp_buf_init(&b, 1 << 16);
        struct tp_venue_sub sub = {
            .symbols = syms, .nsymbols = ns, .channels = cases[i].ch, .interval = cases[i].iv};
        int nreq = tp_venue_subscribe(tp_venue_find(cases[i].venue), &sub, &b);
        ASSERT(nreq >= 1);
        tp_buf_putc(&b, 0);
        char want[8192] = "";
        size_t wl = 0;
        int nwant = 0;
        for (const char *l = cases[i].lines; l && *l;
             l = strchr(l, ',') ? strchr(l, ',') + 1 : NULL) {
            int target = (int)strtol(l, NULL, 10), ln = 0;
            FILE *f = fopen(path, "r");
            ASSERT(f != NULL);
            while (getline(&line, &lcap, f) > 0)
                if (++ln == target) wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s", line);
            fclose(f);
            nwant++;
        }
        ASSERT_EQ_INT(nreq, nwant);
        if (strcmp(b.p, want))
            TPT_FAIL("%s lines %s:\n built:    %s recorded: %s", cases[i].file, cases[i].lines, b.p,
                     want);
        tp_buf_fini(&b);
        done++;
    }
    free(line);
    if (!done) TPT_SKIP("no request files present");
}

TPT_MAIN({"registry", test_registry}, {"binance_trades", test_binance_trades},
         {"binance_gaps", test_binance_gaps}, {"binance_other", test_binance_other},
         {"binance_malformed", test_binance_malformed},
         {"coinbase_advanced", test_coinbase_advanced}, {"coinbase_candles", test_coinbase_candles},
         {"coinbase_exchange", test_coinbase_exchange}, {"okx", test_okx},
         {"kraken_v2", test_kraken_v2}, {"kraken_v1", test_kraken_v1},
         {"bybit_trades", test_bybit_trades}, {"bybit_ticker_merge", test_bybit_ticker_merge},
         {"bitstamp", test_bitstamp}, {"finnhub", test_finnhub},
         {"order_and_capacity", test_order_and_capacity}, {"corruptions", test_corruptions},
         {"builders", test_builders}, {"capture", test_capture},
         {"fixtures_sweep", test_fixtures_sweep}, {"fixtures_capture", test_fixtures_capture},
         {"fixtures_requests", test_fixtures_requests})
