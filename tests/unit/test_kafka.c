/*
 * test_kafka.c — the Kafka records (kafka/kcodec.h) and option checks (kafka/kafka.h), without
 * a cluster (the integration tests kafka_*.sh use librdkafka's mock cluster).
 *
 * Round trips compare the binary journal encoding (log/record.h) of the event before and
 * after JSON, so every field and flag must survive, NaNs included.
 */
#include <math.h>

#include "core/buf.h"
#include "core/instrument.h"
#include "core/tptime.h"
#include "kafka/kafka.h"
#include "kafka/kcodec.h"
#include "kafka/ksource.h"
#include "log/record.h"
#include "tpt.h"

static struct tp_event ev(enum tp_kind kind, const char *instr, int64_t ts)
{
    struct tp_event e;
    tp_event_init(&e, kind);
    if (tp_instr_intern(instr, strlen(instr), &e.instr) < 0) TPT_FAIL("intern %s", instr);
    e.ts = ts;
    e.ts_recv = ts + 1234;
    e.flags |= TP_EV_TS_VENUE;
    return e;
}

static void roundtrip(const struct tp_event *e)
{
    struct tp_buf json, a, b, json2;
    tp_buf_init(&json, 1 << 16);
    tp_buf_init(&json2, 1 << 16);
    tp_buf_init(&a, 1 << 16);
    tp_buf_init(&b, 1 << 16);
    ASSERT_EQ_INT(tp_kafka_tick_json(&json, e), 0);
    struct tp_kafka_dec d;
    tp_kafka_dec_init(&d);
    struct tp_event got;
    const char *why = NULL;
    int rc = tp_kafka_tick_parse(&d, json.p, json.len, &got, &why);
    if (rc) TPT_FAIL("parse of %.*s: %s", (int)json.len, json.p, why);
    ASSERT_EQ_INT(tp_rec_put_event(&a, e), 0);
    ASSERT_EQ_INT(tp_rec_put_event(&b, &got), 0);
    if (a.len != b.len || memcmp(a.p, b.p, a.len))
        TPT_FAIL("event changed: %.*s", (int)json.len, json.p);
    ASSERT_EQ_INT(tp_kafka_tick_json(&json2, &got), 0);
    ASSERT(json.len == json2.len && !memcmp(json.p, json2.p, json.len));
    ASSERT_EQ_STR(tp_kafka_tick_key(e), tp_instr_name(e->instr));
    tp_kafka_dec_fini(&d);
    tp_buf_fini(&json);
    tp_buf_fini(&json2);
    tp_buf_fini(&a);
    tp_buf_fini(&b);
}

static void test_tick_roundtrip(void)
{
    int64_t t = INT64_C(1795437240123456789);
    struct tp_event e = ev(TP_KIND_TRADE, "binance:BTC-USDT", t);
    e.price = 60001.23;
    e.size = 0.000001;
    e.side = TP_SIDE_BUY;
    tp_event_set_id(&e, UINT64_MAX);
    tp_event_set_vsym(&e, "BTCUSDT", 7);
    roundtrip(&e);

    e = ev(TP_KIND_TRADE, "coinbase:BTC-USD", t);
    e.price = 0.1 + 0.2; /* not a short decimal: shortest round-trip form */
    e.size = 0;
    e.side = TP_SIDE_SELL;
    {
        const char *id = "a\"b\\c\xc3\xa9-1";
        tp_event_set_id_str(&e, id, strlen(id));
    }
    tp_event_set_vsym(&e, "BTC \"USD\"", 9);
    e.value = -1e-300;
    roundtrip(&e);

    e = ev(TP_KIND_TRADE, "sim:AAPL", t);
    tp_event_set_id_str(&e, "123", 3); /* a string id that looks numeric stays a string */
    e.price = 190;
    e.size = 5;
    e.flags &= (uint16_t)~TP_EV_TS_VENUE;
    roundtrip(&e);

    e = ev(TP_KIND_QUOTE, "fmp:EUR-USD", -1500000001); /* before 1970 */
    e.bid = 1.07997;
    e.ask = 1.08004;
    e.bid_size = 1e6;
    e.ask_size = 0;
    e.open = 1.07;
    e.high = 1.09;
    e.low = 1.06;
    e.change = -0.0012;
    e.flags |= TP_EV_QUOTE_ONLY;
    roundtrip(&e);

    e = ev(TP_KIND_SNAPSHOT, "coingecko:BTC", t);
    e.price = 59999.5;
    e.flags |= TP_EV_SNAPSHOT;
    roundtrip(&e);

    e = ev(TP_KIND_VBAR, "yahoo:AAPL", t);
    e.open = 1, e.high = 2, e.low = 0.5, e.price = 1.5, e.size = 1000;
    roundtrip(&e);

    for (int st = TP_ST_CONNECTED; st <= TP_ST_RELEASE; st++) {
        e = ev(TP_KIND_STATUS, "okx:ETH-USDT", t + st);
        e.status = (uint8_t)st;
        if (st == TP_ST_GAP) {
            e.trade_id = 100;
            e.gap_last = 250;
        }
        roundtrip(&e);
    }
    e = ev(TP_KIND_STATUS, "sim:BTC-USD", t);
    e.status = TP_ST_GAP;
    e.flags |= TP_EV_GAP_TIME;
    e.trade_id = (uint64_t)(t - 5 * TP_NS_PER_SEC);
    e.gap_last = (uint64_t)t;
    roundtrip(&e);
}

static int parse(const char *s, struct tp_event *e, const char **why)
{
    struct tp_kafka_dec d;
    tp_kafka_dec_init(&d);
    int rc = tp_kafka_tick_parse(&d, s, strlen(s), e, why);
    tp_kafka_dec_fini(&d);
    return rc;
}

static void test_tick_parse_foreign(void)
{
    /* A producer that writes only the columns it knows. */
    struct tp_event e;
    const char *why = NULL;
    ASSERT_EQ_INT(parse("{\"ts\":\"2026-11-23T12:34:00.5Z\",\"instrument\":\"x:Y-Z\","
                        "\"kind\":\"trade\",\"price\":\"1.5\",\"size\":2,\"extra\":[1,{}]}",
                        &e, &why),
                  0);
    ASSERT_EQ_INT(e.kind, TP_KIND_TRADE);
    ASSERT_EQ_STR(tp_instr_name(e.instr), "x:Y-Z");
    ASSERT_EQ_DBL(e.price, 1.5);
    ASSERT_EQ_DBL(e.size, 2);
    ASSERT(isnan(e.bid) && isnan(e.value));
    ASSERT_EQ_INT(e.ts_recv, e.ts);
    ASSERT_EQ_INT(e.side, TP_SIDE_UNKNOWN);
    ASSERT(!(e.flags & TP_EV_HAS_ID));
    char t[TP_TIME_STRLEN];
    tp_time_format(e.ts, t);
    ASSERT_EQ_STR(t, "2026-11-23T12:34:00.500000000Z");
    /* ts_ns wins over ts; epoch digits are accepted. */
    ASSERT_EQ_INT(parse("{\"ts_ns\":\"1795437240000000001\",\"ts\":\"garbage\",\"instrument\":"
                        "\"x:Y\",\"kind\":\"quote\",\"bid\":1,\"ask\":2}",
                        &e, &why),
                  0);
    ASSERT_EQ_INT(e.ts, INT64_C(1795437240000000001));
}

static void test_tick_parse_rejects(void)
{
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"", "not JSON"},
        {"[1]", "not a JSON object"},
        {"{\"kind\":\"trade\",\"ts\":1}", "bad instrument"},
        {"{\"kind\":\"trade\",\"ts\":1,\"instrument\":\"NOVENUE\"}", "bad instrument"},
        {"{\"kind\":\"fill\",\"ts\":1,\"instrument\":\"a:B\"}", "bad kind"},
        {"{\"kind\":\"trade\",\"instrument\":\"a:B\"}", "bad ts"},
        {"{\"kind\":\"trade\",\"ts\":\"yesterday\",\"instrument\":\"a:B\"}", "bad ts"},
        {"{\"kind\":\"trade\",\"ts\":1,\"instrument\":\"a:B\",\"price\":true}", "bad number"},
        {"{\"kind\":\"trade\",\"ts\":1,\"instrument\":\"a:B\",\"trade_id\":-3}", "bad trade_id"},
        {"{\"kind\":\"trade\",\"ts\":1,\"instrument\":\"a:B\",\"side\":\"up\"}", "bad side"},
        {"{\"kind\":\"status\",\"ts\":1,\"instrument\":\"a:B\",\"status\":\"napping\"}",
         "bad status"},
        {"{\"kind\":\"status\",\"ts\":1,\"instrument\":\"a:B\",\"status\":\"gap\"}",
         "bad gap bounds"},
        {"{\"kind\":\"trade\",\"ts\":1,\"instrument\":\"a:B\",\"quote_only\":1}", "bad flag"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tp_event e;
        const char *why = NULL;
        if (parse(bad[i].json, &e, &why) != -EINVAL) TPT_FAIL("accepted %s", bad[i].json);
        if (!why || strcmp(why, bad[i].why)) TPT_FAIL("%s: why '%s'", bad[i].json, why);
    }
}

static void test_output_keys(void)
{
    struct tp_bar bar = {0};
    ASSERT_EQ_INT(tp_instr_intern("sim:BTC-USD", 11, &bar.instr), 0);
    bar.interval_ns = 60 * TP_NS_PER_SEC;
    bar.ts = INT64_C(1795437240000000000);
    bar.open = bar.high = bar.low = bar.close = 1;
    bar.vwap = NAN;
    bar.final = true;
    tp_ind_values_clear(&bar.ind);
    struct tp_buf k, v, v2;
    tp_buf_init(&k, 1024);
    tp_buf_init(&v, 1 << 16);
    tp_buf_init(&v2, 1 << 16);
    ASSERT_EQ_INT(tp_kafka_bar_key(&k, &bar), 0);
    ASSERT_EQ_STR(k.p, "sim:BTC-USD|1m|2026-11-23T12:34:00.000000000Z");
    ASSERT_EQ_INT(tp_kafka_bar_json(&v, &bar), 0);
    ASSERT_EQ_INT(tp_kafka_bar_json(&v2, &bar), 0);
    ASSERT(v.len == v2.len && !memcmp(v.p, v2.p, v.len));
    ASSERT(strstr(v.p, "\"final\":true") && strstr(v.p, "\"vwap\":null"));
    ASSERT(!strncmp(v.p, "{\"instrument\":\"sim:BTC-USD\",\"interval\":\"1m\"", 42));

    struct tp_anomaly a = {.instr = bar.instr, .ts = bar.ts + 5, .kind = TP_AN_RETURN_ZSCORE};
    tp_buf_reset(&k);
    ASSERT_EQ_INT(tp_kafka_anomaly_key(&k, &a), 0);
    ASSERT_EQ_STR(k.p, "sim:BTC-USD||2026-11-23T12:34:00.000000005Z|return_zscore");
    a.interval_ns = 5 * 60 * TP_NS_PER_SEC;
    a.kind = TP_AN_VOLUME_SPIKE;
    tp_buf_reset(&k);
    ASSERT_EQ_INT(tp_kafka_anomaly_key(&k, &a), 0);
    ASSERT_EQ_STR(k.p, "sim:BTC-USD|5m|2026-11-23T12:34:00.000000005Z|volume_spike");
    tp_buf_reset(&v);
    ASSERT_EQ_INT(tp_kafka_anomaly_json(&v, &a), 0);
    ASSERT(strstr(v.p, "\"kind\":\"volume_spike\"") && strstr(v.p, "\"interval\":\"5m\""));
    /* Keys partition by their instrument part: a bar lands where the instrument's ticks do. */
    for (int32_t n = 1; n <= 64; n *= 2)
        ASSERT_EQ_INT(tp_kafka_partition(k.p, k.len, n), tp_kafka_partition("sim:BTC-USD", 11, n));
    tp_buf_fini(&k);
    tp_buf_fini(&v);
    tp_buf_fini(&v2);
}

/* Bars and anomalies read back by the serve role: decode ∘ encode gives the same bytes. */
static void test_output_roundtrip(void)
{
    struct tp_bar bar = {0};
    ASSERT_EQ_INT(tp_instr_intern("sim:ETH-USD", 11, &bar.instr), 0);
    bar.interval_ns = 5 * 60 * TP_NS_PER_SEC;
    bar.ts = INT64_C(1795437000000000000);
    bar.open = 3001.25;
    bar.high = 3010.5;
    bar.low = 2999.125;
    bar.close = 3005;
    bar.volume = 1.5e-3;
    bar.notional = 4.50751;
    bar.vwap = 3005.0066666666666;
    bar.trades = 17;
    bar.buy_volume = 1e-3;
    bar.sell_volume = 5e-4;
    bar.first_ts = bar.ts + 12345;
    bar.last_ts = bar.ts + 299999999999;
    bar.final = true;
    tp_ind_values_clear(&bar.ind);
    bar.ind.sma = 3000.1;
    bar.ind.rsi = 55.5;
    struct tp_buf v, v2;
    tp_buf_init(&v, 1 << 16);
    tp_buf_init(&v2, 1 << 16);
    ASSERT_EQ_INT(tp_kafka_bar_json(&v, &bar), 0);
    struct tp_kafka_dec d;
    tp_kafka_dec_init(&d);
    struct tp_bar got;
    const char *why = NULL;
    ASSERT_EQ_INT(tp_kafka_bar_parse(&d, v.p, v.len, &got, &why), 0);
    ASSERT_EQ_INT(got.instr, bar.instr);
    ASSERT(got.final && got.trades == 17 && got.ts == bar.ts && got.last_ts == bar.last_ts);
    ASSERT(isnan(got.ind.ema) && got.ind.rsi == 55.5);
    ASSERT_EQ_INT(tp_kafka_bar_json(&v2, &got), 0);
    ASSERT(v.len == v2.len && !memcmp(v.p, v2.p, v.len));

    struct tp_anomaly a = {.instr = bar.instr,
                           .ts = bar.ts + 7,
                           .kind = TP_AN_CROSSED_QUOTE,
                           .observed = 3001,
                           .expected = 3000.5,
                           .score = NAN};
    struct tp_anomaly ga;
    tp_buf_reset(&v);
    tp_buf_reset(&v2);
    ASSERT_EQ_INT(tp_kafka_anomaly_json(&v, &a), 0);
    ASSERT_EQ_INT(tp_kafka_anomaly_parse(&d, v.p, v.len, &ga, &why), 0);
    ASSERT(ga.kind == TP_AN_CROSSED_QUOTE && ga.interval_ns == 0 && ga.ts == a.ts);
    ASSERT_EQ_INT(tp_kafka_anomaly_json(&v2, &ga), 0);
    ASSERT(v.len == v2.len && !memcmp(v.p, v2.p, v.len));
    static const char *const bad[] = {"{\"instrument\":\"a:B\",\"ts\":1,\"kind\":\"boom\"}",
                                      "{\"instrument\":\"a:B\",\"kind\":\"stale\"}", "[]"};
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++)
        ASSERT_EQ_INT(tp_kafka_anomaly_parse(&d, bad[i], strlen(bad[i]), &ga, &why), -EINVAL);
    const char *nobar = "{\"instrument\":\"a:B\",\"ts\":1,\"interval\":\"soon\"}";
    ASSERT_EQ_INT(tp_kafka_bar_parse(&d, nobar, strlen(nobar), &got, &why), -EINVAL);
    ASSERT_EQ_STR(why, "bad interval");
    tp_kafka_dec_fini(&d);
    tp_buf_fini(&v);
    tp_buf_fini(&v2);
}

/* Late events and gaps: keys unique per input offset / first missing id, values as §5. */
static void test_late_gap(void)
{
    struct tp_event e = ev(TP_KIND_TRADE, "sim:BTC-USD", INT64_C(1795437240000000001));
    e.price = 60000.5;
    e.size = 0.25;
    tp_event_set_id(&e, 42);
    struct tp_buf k, v;
    tp_buf_init(&k, 1024);
    tp_buf_init(&v, 1 << 16);
    ASSERT_EQ_INT(tp_kafka_late_key(&k, &e, 60 * TP_NS_PER_SEC, 1234), 0);
    ASSERT_EQ_STR(k.p, "sim:BTC-USD|1m|2026-11-23T12:34:00.000000001Z|1234");
    ASSERT_EQ_INT(tp_kafka_late_json(&v, &e, 60 * TP_NS_PER_SEC), 0);
    ASSERT(strstr(v.p, "\"trade_id\":42") && strstr(v.p, "\"price\":60000.5"));
    ASSERT(v.len > 14 && !strcmp(v.p + v.len - 16, "\"interval\":\"1m\"}"));
    /* The late value is a tick that decodes to the same event (its interval ignored). */
    struct tp_kafka_dec d;
    tp_kafka_dec_init(&d);
    struct tp_event got;
    const char *why;
    ASSERT_EQ_INT(tp_kafka_tick_parse(&d, v.p, v.len, &got, &why), 0);
    ASSERT(got.ts == e.ts && got.price == e.price && got.trade_id == 42);
    tp_kafka_dec_fini(&d);

    struct tp_gap g = {.instr = e.instr, .ts = e.ts, .first_missing = 100, .last_missing = 120};
    tp_buf_reset(&k);
    tp_buf_reset(&v);
    ASSERT_EQ_INT(tp_kafka_gap_key(&k, &g), 0);
    ASSERT_EQ_STR(k.p, "sim:BTC-USD||2026-11-23T12:34:00.000000001Z|100");
    ASSERT_EQ_INT(tp_kafka_gap_json(&v, &g), 0);
    ASSERT_EQ_STR(v.p, "{\"instrument\":\"sim:BTC-USD\",\"ts\":\"2026-11-23T12:34:00.000000001Z\","
                       "\"first_missing\":100,\"last_missing\":120,\"backfilled\":false}");
    g.by_time = true;
    g.first_missing = (uint64_t)INT64_C(1795437180000000000);
    g.last_missing = (uint64_t)INT64_C(1795437181000000000);
    g.backfilled = true;
    tp_buf_reset(&k);
    tp_buf_reset(&v);
    ASSERT_EQ_INT(tp_kafka_gap_key(&k, &g), 0);
    ASSERT_EQ_STR(k.p,
                  "sim:BTC-USD||2026-11-23T12:34:00.000000001Z|2026-11-23T12:33:00.000000000Z");
    ASSERT_EQ_INT(tp_kafka_gap_json(&v, &g), 0);
    ASSERT(strstr(v.p, "\"last_missing\":\"2026-11-23T12:33:01.000000000Z\",\"backfilled\":true"));
    tp_buf_fini(&k);
    tp_buf_fini(&v);
}

static void test_opt_check(void)
{
    char err[600];
    ASSERT_EQ_INT(tp_kafka_opt_check("linger.ms=20", err, sizeof err), 0);
    ASSERT_EQ_INT(tp_kafka_opt_check("security.protocol=SASL_SSL", err, sizeof err), 0);
    ASSERT_EQ_INT(tp_kafka_opt_check("session.timeout.ms=3000", err, sizeof err), 0);
    ASSERT_EQ_INT(tp_kafka_opt_check("acks=all", err, sizeof err), 0); /* keeps the guarantee */
    ASSERT_EQ_INT(tp_kafka_opt_check("enable.idempotence=true", err, sizeof err), 0);
    static const char *const refused[] = {
        "acks=1",
        "enable.idempotence=false",
        "enable.auto.commit=true",
        "group.id=x",
        "bootstrap.servers=h:1",
        "transactional.id=t",
        "partitioner=random",
        "no.such.key=1",
        "linger.ms=soon",
        "novalue",
        "=x",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        err[0] = 0;
        if (tp_kafka_opt_check(refused[i], err, sizeof err) != -EINVAL)
            TPT_FAIL("accepted %s", refused[i]);
        ASSERT(err[0]);
    }
}

static void test_map_forex(void)
{
    char err[512];
    struct tp_kmap *m;
    ASSERT_EQ_INT(tp_kmap_new("ts=date,instrument=ticker,bid=bid,ask=ask,open=open,low=low,"
                              "high=high,change=changes,venue=fmp,quote_only",
                              &m, err, sizeof err),
                  0);
    /* An array (as FMP answers) whose events go out in time order; numbers as strings. */
    const char *rec = "[{\"ticker\":\"GBP/USD\",\"bid\":\"1.27012\",\"ask\":\"1.27025\","
                      "\"open\":\"1.2702\",\"low\":1.2575,\"high\":\"1.2829\","
                      "\"changes\":-0.0002,\"date\":\"2026-11-23 12:00:01\"},"
                      "{\"ticker\":\"EURUSD\",\"bid\":1.08009,\"ask\":1.08019,"
                      "\"date\":\"2026-11-23T12:00:00Z\",\"volume\":5}]";
    struct tp_event ev[4];
    const char *why = NULL;
    ASSERT_EQ_INT(tp_kmap_decode(m, rec, strlen(rec), ev, 4, &why), 2);
    ASSERT_EQ_STR(tp_instr_name(ev[0].instr), "fmp:EUR-USD");
    ASSERT_EQ_STR(ev[0].venue_symbol, "EURUSD");
    ASSERT_EQ_STR(tp_instr_name(ev[1].instr), "fmp:GBP-USD");
    ASSERT_EQ_STR(ev[1].venue_symbol, "GBP/USD");
    ASSERT(ev[0].ts < ev[1].ts);
    ASSERT_EQ_INT(ev[1].kind, TP_KIND_QUOTE);
    ASSERT(ev[1].flags & TP_EV_QUOTE_ONLY);
    ASSERT_EQ_DBL(ev[1].bid, 1.27012);
    ASSERT_EQ_DBL(ev[1].low, 1.2575);
    ASSERT_EQ_DBL(ev[1].change, -0.0002);
    ASSERT(isnan(ev[0].open) && isnan(ev[0].price));
    ASSERT_EQ_INT(ev[1].ts_recv, ev[1].ts); /* never the wall clock */
    /* Too many events for the room given, and a quote without an ask. */
    ASSERT_EQ_INT(tp_kmap_decode(m, rec, strlen(rec), ev, 1, &why), -EINVAL);
    const char *half = "{\"ticker\":\"EURUSD\",\"bid\":1.1,\"date\":1795437240}";
    ASSERT_EQ_INT(tp_kmap_decode(m, half, strlen(half), ev, 4, &why), -EINVAL);
    ASSERT_EQ_STR(why, "neither a price nor bid and ask");
    tp_kmap_free(m);
}

static void test_map_trades(void)
{
    char err[512];
    struct tp_kmap *m;
    ASSERT_EQ_INT(
        tp_kmap_new("ts=t,instrument=s,price=p,size=q,side=side,trade_id=id", &m, err, sizeof err),
        0);
    const char *rec = "{\"t\":1795437240123,\"s\":\"binance:BTC-USDT\",\"p\":\"60000.5\","
                      "\"q\":0.25,\"side\":\"sell\",\"id\":\"12345\"}";
    struct tp_event e;
    const char *why = NULL;
    ASSERT_EQ_INT(tp_kmap_decode(m, rec, strlen(rec), &e, 1, &why), 1);
    ASSERT_EQ_INT(e.kind, TP_KIND_TRADE);
    ASSERT_EQ_INT(e.ts, INT64_C(1795437240123000000)); /* 13 digits: milliseconds */
    ASSERT_EQ_INT(e.side, TP_SIDE_SELL);
    ASSERT((e.flags & TP_EV_HAS_ID) && !(e.flags & TP_EV_ID_STR));
    ASSERT_EQ_U64(e.trade_id, 12345);
    const char *bad[] = {"{\"t\":1,\"s\":\"BTCUSDT\",\"p\":1}", /* no venue: not venue:SYMBOL */
                         "{\"t\":\"x\",\"s\":\"a:B\",\"p\":1}",
                         "{\"t\":1,\"s\":\"a:B\",\"p\":-1}",
                         "{\"t\":1,\"s\":\"a:B\",\"p\":1,\"side\":7}",
                         "nope",
                         "[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tp_kmap_decode(m, bad[i], strlen(bad[i]), &e, 1, &why) != -EINVAL)
            TPT_FAIL("accepted %s", bad[i]);
    tp_kmap_free(m);
    static const char *const maps[] = {"instrument=s",
                                       "ts=t",
                                       "ts=t,instrument=s,ts=u",
                                       "ts=t,instrument=s,colour=c",
                                       "ts=t,instrument=s,venue=FMP",
                                       "ts=t,instrument=s,price"};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        err[0] = 0;
        if (tp_ksource_map_check(maps[i], err, sizeof err) != -EINVAL)
            TPT_FAIL("accepted %s", maps[i]);
        ASSERT(err[0]);
    }
}

TPT_MAIN({"tick_roundtrip", test_tick_roundtrip}, {"tick_parse_foreign", test_tick_parse_foreign},
         {"tick_parse_rejects", test_tick_parse_rejects}, {"output_keys", test_output_keys},
         {"opt_check", test_opt_check}, {"map_forex", test_map_forex},
         {"map_trades", test_map_trades}, {"output_roundtrip", test_output_roundtrip},
         {"late_gap", test_late_gap})
