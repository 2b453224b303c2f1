/*
 * test_backfill.c — the REST backfill parsers of Coinbase, OKX and Bybit (source/backfill.h),
 * on bodies written here from each venue's documented response format: exact values, the
 * taker side, venue times, the id form, the venues' error envelopes, rows of other symbols,
 * malformed bodies and the output cap; and, for each venue, that a trade read from REST is
 * the same event as the same trade read by the live WebSocket parser (so the engine's
 * deduplication recognizes a repeat).
 */
#include "core/instrument.h"
#include "source/backfill.h"
#include "source/venue.h"
#include "tpt.h"

#define RECV INT64_C(1786310900000000000)

static struct tp_event ev[16], live[16];
static char err[160];

static uint32_t instr(const char *name)
{
    uint32_t id;
    ASSERT_EQ_INT(tp_instr_intern(name, strlen(name), &id), 0);
    return id;
}

/* The live parser's events for one message of venue (market may be NULL). */
static int parse_live(const char *venue, const char *market, const char *msg)
{
    struct tp_venue_parser *p;
    struct tp_venue_opts vo = {.market = market};
    ASSERT_EQ_INT(tp_venue_parser_new(tp_venue_find(venue), &vo, &p), 0);
    struct tp_venue_result r;
    int n = tp_venue_parse(p, msg, strlen(msg), RECV, live, TP_ARRAY_LEN(live), &r);
    tp_venue_parser_free(p);
    return n;
}

static void same_trade(const struct tp_event *a, const struct tp_event *b)
{
    ASSERT_EQ_INT(a->kind, TP_KIND_TRADE);
    ASSERT_EQ_INT(b->kind, TP_KIND_TRADE);
    ASSERT_EQ_INT(a->instr, b->instr);
    ASSERT_EQ_DBL(a->price, b->price);
    ASSERT_EQ_DBL(a->size, b->size);
    ASSERT_EQ_INT(a->ts, b->ts);
    ASSERT_EQ_INT(a->side, b->side);
    ASSERT_EQ_INT(a->flags & (TP_EV_HAS_ID | TP_EV_ID_STR | TP_EV_TS_VENUE),
                  b->flags & (TP_EV_HAS_ID | TP_EV_ID_STR | TP_EV_TS_VENUE));
    if (a->flags & TP_EV_ID_STR)
        ASSERT_EQ_STR(a->trade_id_str, b->trade_id_str);
    else
        ASSERT_EQ_U64(a->trade_id, b->trade_id);
    ASSERT_EQ_STR(a->venue_symbol, b->venue_symbol);
}

static void test_coinbase(void)
{
    /* GET /products/BTC-USD/trades: newest first; side is the maker's. */
    static const char body[] =
        "[{\"time\":\"2026-11-26T05:00:01.500000Z\",\"trade_id\":880003,\"price\":\"91234.56\","
        "\"size\":\"0.00150000\",\"side\":\"buy\"},"
        "{\"time\":\"2026-11-26T05:00:01.250001Z\",\"trade_id\":880002,\"price\":\"91234.57\","
        "\"size\":\"0.2\",\"side\":\"sell\"},"
        "{\"time\":\"2026-11-26T05:00:00Z\",\"trade_id\":880001,\"price\":\"91234.5\","
        "\"size\":\"1\",\"side\":\"sell\"}]";
    uint32_t id = instr("coinbase:BTC-USD");
    int n = tp_backfill_parse_coinbase(body, strlen(body), id, "BTC-USD", RECV, ev, 16, err,
                                       sizeof err);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_U64(ev[0].trade_id, 880003);
    ASSERT((ev[0].flags & (TP_EV_HAS_ID | TP_EV_ID_STR)) == TP_EV_HAS_ID);
    ASSERT_EQ_DBL(ev[0].price, 91234.56);
    ASSERT_EQ_DBL(ev[0].size, 0.0015);
    ASSERT_EQ_INT(ev[0].side, TP_SIDE_SELL); /* a buy order made the book: the taker sold */
    ASSERT_EQ_INT(ev[1].side, TP_SIDE_BUY);
    ASSERT_EQ_INT(ev[0].ts, INT64_C(1795669201500000000));
    ASSERT_EQ_INT(ev[1].ts, INT64_C(1795669201250001000));
    ASSERT_EQ_INT(ev[2].ts, INT64_C(1795669200000000000));
    ASSERT(ev[2].flags & TP_EV_TS_VENUE);
    ASSERT_EQ_INT(ev[2].instr, id);
    ASSERT_EQ_INT(ev[2].ts_recv, RECV);
    ASSERT_EQ_STR(ev[2].venue_symbol, "BTC-USD");
    /* The same trade on the Advanced Trade stream (trade_id a string there): the same event. */
    static const char adv[] =
        "{\"channel\":\"market_trades\",\"client_id\":\"\",\"timestamp\":\"2026-11-26T05:00:01."
        "6Z\",\"sequence_num\":7,\"events\":[{\"type\":\"update\",\"trades\":[{\"trade_id\":"
        "\"880003\",\"product_id\":\"BTC-USD\",\"price\":\"91234.56\",\"size\":\"0.00150000\","
        "\"side\":\"BUY\",\"time\":\"2026-11-26T05:00:01.500000Z\"}]}]}";
    ASSERT_EQ_INT(parse_live("coinbase", NULL, adv), 1);
    same_trade(&ev[0], &live[0]);
    /* the error envelope, malformed bodies, the cap */
    static const char nf[] = "{\"message\":\"NotFound\"}";
    ASSERT_EQ_INT(
        tp_backfill_parse_coinbase(nf, strlen(nf), id, "BTC-USD", RECV, ev, 16, err, sizeof err),
        -EINVAL);
    ASSERT(strstr(err, "NotFound"));
    ASSERT_EQ_INT(
        tp_backfill_parse_coinbase("[1]", 3, id, "BTC-USD", RECV, ev, 16, err, sizeof err),
        -EINVAL);
    static const char bad[] = "[{\"time\":\"2026-11-26T05:00:00Z\",\"trade_id\":1,"
                              "\"price\":\"-1\",\"size\":\"1\",\"side\":\"buy\"}]";
    ASSERT_EQ_INT(
        tp_backfill_parse_coinbase(bad, strlen(bad), id, "BTC-USD", RECV, ev, 16, err, sizeof err),
        -EINVAL);
    ASSERT_EQ_INT(tp_backfill_parse_coinbase(body, strlen(body) - 1, id, "BTC-USD", RECV, ev, 16,
                                             err, sizeof err),
                  -EINVAL);
    ASSERT_EQ_INT(
        tp_backfill_parse_coinbase(body, strlen(body), id, "BTC-USD", RECV, ev, 2, err, sizeof err),
        -E2BIG);
    ASSERT_EQ_INT(tp_backfill_parse_coinbase("[]", 2, id, "BTC-USD", RECV, ev, 16, NULL, 0), 0);
}

static void test_okx(void)
{
    /* GET /api/v5/market/history-trades?instId=BTC-USDT&type=1: newest first. */
    static const char body[] =
        "{\"code\":\"0\",\"msg\":\"\",\"data\":["
        "{\"instId\":\"BTC-USDT\",\"side\":\"sell\",\"sz\":\"0.00001\",\"px\":\"29963.2\","
        "\"tradeId\":\"242720722\",\"ts\":\"1654161646974\",\"count\":\"1\",\"source\":\"0\"},"
        "{\"instId\":\"ETH-USDT\",\"side\":\"buy\",\"sz\":\"1\",\"px\":\"1800\","
        "\"tradeId\":\"99\",\"ts\":\"1654161646900\"},"
        "{\"instId\":\"BTC-USDT\",\"side\":\"buy\",\"sz\":\"0.25\",\"px\":\"29963.1\","
        "\"tradeId\":\"242720720\",\"ts\":\"1654161646800\"}]}";
    uint32_t id = instr("okx:BTC-USDT");
    int n =
        tp_backfill_parse_okx(body, strlen(body), id, "BTC-USDT", RECV, ev, 16, err, sizeof err);
    ASSERT_EQ_INT(n, 2); /* the ETH-USDT row is another instrument's */
    /* through the live parser: in time order */
    ASSERT_EQ_U64(ev[0].trade_id, 242720720);
    ASSERT_EQ_U64(ev[1].trade_id, 242720722);
    ASSERT((ev[1].flags & (TP_EV_HAS_ID | TP_EV_ID_STR)) == TP_EV_HAS_ID);
    ASSERT_EQ_DBL(ev[1].price, 29963.2);
    ASSERT_EQ_DBL(ev[1].size, 0.00001);
    ASSERT_EQ_INT(ev[1].side, TP_SIDE_SELL); /* OKX gives the taker's side */
    ASSERT_EQ_INT(ev[0].side, TP_SIDE_BUY);
    ASSERT_EQ_INT(ev[1].ts, INT64_C(1654161646974) * 1000000);
    ASSERT_EQ_INT(ev[1].instr, id);
    ASSERT_EQ_INT(ev[1].ts_recv, RECV);
    static const char push[] =
        "{\"arg\":{\"channel\":\"trades\",\"instId\":\"BTC-USDT\"},\"data\":[{\"instId\":"
        "\"BTC-USDT\",\"tradeId\":\"242720722\",\"px\":\"29963.2\",\"sz\":\"0.00001\",\"side\":"
        "\"sell\",\"ts\":\"1654161646974\",\"count\":\"1\"}]}";
    ASSERT_EQ_INT(parse_live("okx", NULL, push), 1);
    same_trade(&ev[1], &live[0]);
    static const char e1[] = "{\"code\":\"51001\",\"msg\":\"Instrument ID does not exist\","
                             "\"data\":[]}";
    ASSERT_EQ_INT(
        tp_backfill_parse_okx(e1, strlen(e1), id, "BTC-USDT", RECV, ev, 16, err, sizeof err),
        -EINVAL);
    ASSERT(strstr(err, "Instrument ID does not exist"));
    static const char empty[] = "{\"code\":\"0\",\"msg\":\"\",\"data\":[]}";
    ASSERT_EQ_INT(
        tp_backfill_parse_okx(empty, strlen(empty), id, "BTC-USDT", RECV, ev, 16, err, sizeof err),
        0);
    static const char bad[] = "{\"code\":\"0\",\"data\":[{\"instId\":\"BTC-USDT\",\"px\":\"x\","
                              "\"sz\":\"1\",\"side\":\"buy\",\"tradeId\":\"1\",\"ts\":\"1\"}]}";
    ASSERT_EQ_INT(
        tp_backfill_parse_okx(bad, strlen(bad), id, "BTC-USDT", RECV, ev, 16, err, sizeof err),
        -EINVAL);
    ASSERT_EQ_INT(tp_backfill_parse_okx("[]", 2, id, "BTC-USDT", RECV, ev, 16, err, sizeof err),
                  -EINVAL);
    ASSERT_EQ_INT(
        tp_backfill_parse_okx(body, strlen(body), id, "BTC-USDT", RECV, ev, 1, err, sizeof err),
        -E2BIG);
}

static void test_bybit(void)
{
    /* GET /v5/market/recent-trade?category=spot&symbol=BTCUSDT: newest first. */
    static const char spot[] =
        "{\"retCode\":0,\"retMsg\":\"OK\",\"result\":{\"category\":\"spot\",\"list\":["
        "{\"execId\":\"2290000001189048102\",\"symbol\":\"BTCUSDT\",\"price\":\"65140.5\","
        "\"size\":\"0.000373\",\"side\":\"Buy\",\"time\":\"1786310823896\","
        "\"isBlockTrade\":false,\"isRPITrade\":false,\"seq\":\"112488547165\"},"
        "{\"execId\":\"2290000001189048101\",\"symbol\":\"BTCUSDT\",\"price\":\"65140.4\","
        "\"size\":\"0.002705\",\"side\":\"Sell\",\"time\":\"1786310822605\","
        "\"isBlockTrade\":false}]},\"retExtInfo\":{},\"time\":1786310824000}";
    uint32_t id = instr("bybit:BTC-USDT");
    int n =
        tp_backfill_parse_bybit(spot, strlen(spot), id, "BTCUSDT", RECV, ev, 16, err, sizeof err);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_U64(ev[0].trade_id, UINT64_C(2290000001189048102));
    ASSERT((ev[0].flags & (TP_EV_HAS_ID | TP_EV_ID_STR)) == TP_EV_HAS_ID);
    ASSERT_EQ_DBL(ev[0].price, 65140.5);
    ASSERT_EQ_DBL(ev[0].size, 0.000373);
    ASSERT_EQ_INT(ev[0].side, TP_SIDE_BUY); /* the taker's side */
    ASSERT_EQ_INT(ev[1].side, TP_SIDE_SELL);
    ASSERT_EQ_INT(ev[1].ts, INT64_C(1786310822605) * 1000000);
    ASSERT_EQ_STR(ev[1].venue_symbol, "BTCUSDT");
    /* the same trade as the recorded publicTrade stream has it */
    static const char push[] =
        "{\"topic\":\"publicTrade.BTCUSDT\",\"ts\":1786310823897,\"type\":\"snapshot\","
        "\"data\":[{\"i\":\"2290000001189048102\",\"T\":1786310823896,\"p\":\"65140.5\","
        "\"v\":\"0.000373\",\"S\":\"Buy\",\"seq\":112488547165,\"s\":\"BTCUSDT\",\"BT\":false,"
        "\"RPI\":false}]}";
    ASSERT_EQ_INT(parse_live("bybit", NULL, push), 1);
    same_trade(&ev[0], &live[0]);
    /* linear: UUID ids stay strings, as on the stream */
    static const char lin[] =
        "{\"retCode\":0,\"retMsg\":\"OK\",\"result\":{\"category\":\"linear\",\"list\":["
        "{\"execId\":\"a7a4d8b2-5f11-5e5b-a1c3-3c3d7c2f1e01\",\"symbol\":\"BTCUSDT\","
        "\"price\":\"65100\",\"size\":\"0.01\",\"side\":\"Sell\",\"time\":\"1786310823000\","
        "\"isBlockTrade\":false},"
        "{\"execId\":\"x\",\"symbol\":\"ETHUSDT\",\"price\":\"1\",\"size\":\"1\",\"side\":\"Buy\","
        "\"time\":\"1786310823000\"}]}}";
    uint32_t pid = instr("bybit:BTC-USDT-PERP");
    n = tp_backfill_parse_bybit(lin, strlen(lin), pid, "BTCUSDT", RECV, ev, 16, err, sizeof err);
    ASSERT_EQ_INT(n, 1); /* ETHUSDT skipped */
    ASSERT(ev[0].flags & TP_EV_ID_STR);
    ASSERT_EQ_STR(ev[0].trade_id_str, "a7a4d8b2-5f11-5e5b-a1c3-3c3d7c2f1e01");
    ASSERT_EQ_INT(ev[0].instr, pid);
    static const char lpush[] =
        "{\"topic\":\"publicTrade.BTCUSDT\",\"ts\":1786310823001,\"type\":\"snapshot\","
        "\"data\":[{\"T\":1786310823000,\"s\":\"BTCUSDT\",\"S\":\"Sell\",\"v\":\"0.01\","
        "\"p\":\"65100\",\"L\":\"MinusTick\",\"i\":\"a7a4d8b2-5f11-5e5b-a1c3-3c3d7c2f1e01\","
        "\"BT\":false}]}";
    ASSERT_EQ_INT(parse_live("bybit", "linear", lpush), 1);
    same_trade(&ev[0], &live[0]);
    static const char e1[] = "{\"retCode\":10001,\"retMsg\":\"params error: symbol invalid\","
                             "\"result\":{},\"retExtInfo\":{},\"time\":1786310824000}";
    ASSERT_EQ_INT(
        tp_backfill_parse_bybit(e1, strlen(e1), id, "BTCUSDT", RECV, ev, 16, err, sizeof err),
        -EINVAL);
    ASSERT(strstr(err, "symbol invalid"));
    ASSERT_EQ_INT(tp_backfill_parse_bybit("{\"retCode\":0,\"result\":{}}", 26, id, "BTCUSDT", RECV,
                                          ev, 16, err, sizeof err),
                  -EINVAL);
    ASSERT_EQ_INT(
        tp_backfill_parse_bybit(spot, strlen(spot), id, "BTCUSDT", RECV, ev, 1, err, sizeof err),
        -E2BIG);
}

TPT_MAIN({"coinbase", test_coinbase}, {"okx", test_okx}, {"bybit", test_bybit})
