/*
 * venue_coinbase.c — Coinbase market data: the Advanced Trade feed
 * (wss://advanced-trade-ws.coinbase.com, the default) and the older Exchange feed
 * (ws-feed.exchange.coinbase.com), told apart by shape: Advanced messages are envelopes
 * {"channel","timestamp","sequence_num","events":[...]}, Exchange messages have "type".
 *
 * Advanced Trade:
 *   market_trades  events[{type: snapshot|update, trades[{product_id, trade_id, price, size,
 *                  time, side}]}] — `side` is the MAKER's side (a trade at the ask is marked
 *                  SELL: checked against the ticker in recorded sessions), so the taker is the
 *                  opposite; snapshots list recent trades newest first and are resent on every
 *                  subscription (TP_EV_SNAPSHOT).
 *   ticker, ticker_batch  events[{tickers[{product_id, best_bid, best_bid_quantity, best_ask,
 *                  best_ask_quantity, price, ...}]}] — quotes at the envelope's timestamp.
 *   candles        events[{candles[{start (epoch s), open, high, low, close, volume,
 *                  product_id}]}] — 5-minute bars without a "closed" mark: a bar is final when
 *                  a later one starts (snapshots: every bar but the newest).
 *   heartbeats     keep-alive (heartbeat_counter); subscriptions → subscribed;
 *   l2_data, level2, status → ignored. sequence_num is per connection, across channels: a
 *   skip is reported in the result (seq_gap).
 * Exchange:
 *   match, last_match  {trade_id, side (maker's), size, price, product_id, sequence, time} —
 *                  last_match is the product's previous trade, resent on subscription;
 *   ticker         {best_bid, best_ask, best_bid_size?, best_ask_size?, time?};
 *   heartbeat      {last_trade_id, product_id, time}: a last_trade_id beyond the last match
 *                  seen is a gap (0 is a known quirk and means nothing);
 *   subscriptions, error {message, reason}; l2update, snapshot and the full channel → ignored.
 * Trade ids are consecutive per product in both feeds: one gap detection stream.
 */
#include "source/venue_int.h"

enum { STREAM_TRADE = 1 };

static enum tp_side taker_from_maker(const struct tp_json *j, int tok)
{
    if (TP_JSON_EQ(j, tok, "BUY") || TP_JSON_EQ(j, tok, "buy")) return TP_SIDE_SELL;
    if (TP_JSON_EQ(j, tok, "SELL") || TP_JSON_EQ(j, tok, "sell")) return TP_SIDE_BUY;
    return TP_SIDE_UNKNOWN;
}

/* One trade object (both feeds use the same field names). */
static int trade(struct tp_vctx *c, int o)
{
    struct tp_json *j = c->j;
    double px, sz;
    int64_t ts;
    int rc, si = tp_vc_sym_tok(c, TP_JSON_GET(j, o, "product_id"));
    if (si < 0) return si;
    if ((rc = tp_vc_price(c, TP_JSON_GET(j, o, "price"), "price", &px)) < 0) return rc;
    if ((rc = tp_vc_size(c, TP_JSON_GET(j, o, "size"), "size", &sz)) < 0) return rc;
    if ((rc = tp_vc_time(c, TP_JSON_GET(j, o, "time"), "time", &ts)) < 0) return rc;
    struct tp_event *e = tp_vc_add(c, TP_KIND_TRADE, si, STREAM_TRADE);
    if (!e) return TP_VC_FULL(c);
    e->price = px;
    e->size = sz;
    tp_vc_ts(e, ts);
    e->side = (uint8_t)taker_from_maker(j, TP_JSON_GET(j, o, "side"));
    int id = TP_JSON_GET(j, o, "trade_id");
    if (id >= 0 && (rc = tp_vc_id(c, e, id)) < 0) return rc;
    return 0;
}

static int candle(struct tp_vctx *c, int k, int *si, int64_t *st, double v[5])
{
    struct tp_json *j = c->j;
    int rc;
    *si = tp_vc_sym_tok(c, TP_JSON_GET(j, k, "product_id"));
    if (*si < 0) return *si;
    if ((rc = tp_vc_time(c, TP_JSON_GET(j, k, "start"), "start", st)) < 0 ||
        (rc = tp_vc_price(c, TP_JSON_GET(j, k, "open"), "open", &v[0])) < 0 ||
        (rc = tp_vc_price(c, TP_JSON_GET(j, k, "high"), "high", &v[1])) < 0 ||
        (rc = tp_vc_price(c, TP_JSON_GET(j, k, "low"), "low", &v[2])) < 0 ||
        (rc = tp_vc_price(c, TP_JSON_GET(j, k, "close"), "close", &v[3])) < 0 ||
        (rc = tp_vc_size(c, TP_JSON_GET(j, k, "volume"), "volume", &v[4])) < 0)
        return rc;
    return 0;
}

/* Updates: the pending bar becomes final when a later one starts. Snapshots (recent history,
 * in any order): first each product's newest bar becomes its pending bar, then every older
 * bar is emitted as final. */
static int adv_candles(struct tp_vctx *c, int ev, bool snap)
{
    struct tp_json *j = c->j;
    int arr = TP_JSON_GET(j, ev, "candles");
    if (tp_json_type(j, arr) != TP_JSON_ARRAY) return tp_vc_fail(c, TP_VR_FIELD, "candles missing");
    int rc, si;
    int64_t st;
    double v[5];
    TP_JSON_FOREACH_ELEM(j, arr, k)
    {
        if ((rc = candle(c, k, &si, &st, v)) < 0) return rc;
        rc = tp_vc_bar_update(c, si, "candles", st, v[0], v[1], v[2], v[3], v[4], !snap);
        if (rc < 0) return rc;
    }
    if (!snap) return 0;
    TP_JSON_FOREACH_ELEM(j, arr, k)
    {
        if ((rc = candle(c, k, &si, &st, v)) < 0) return rc;
        if (st < tp_vc_bar_pending(c, si, "candles") &&
            (rc = tp_vc_bar(c, si, st, v[0], v[1], v[2], v[3], v[4])) < 0)
            return rc;
    }
    return 0;
}

static int advanced(struct tp_vctx *c, int chan)
{
    struct tp_json *j = c->j;
    int rc;
    uint64_t seq;
    if (tp_json_u64(j, TP_JSON_GET(j, 0, "sequence_num"), &seq) == 0) tp_vc_seq(c, seq);
    int events = TP_JSON_GET(j, 0, "events");
    bool trades = TP_JSON_EQ(j, chan, "market_trades");
    bool ticker = TP_JSON_EQ(j, chan, "ticker") || TP_JSON_EQ(j, chan, "ticker_batch");
    bool candles = TP_JSON_EQ(j, chan, "candles");
    if (trades || ticker || candles) {
        if (tp_json_type(j, events) != TP_JSON_ARRAY)
            return tp_vc_fail(c, TP_VR_FIELD, "events missing");
        int64_t ts = 0;
        if (ticker && (rc = tp_vc_time(c, TP_JSON_GET(j, 0, "timestamp"), "timestamp", &ts)) < 0)
            return rc;
        tp_vc_ctl(c, TP_VMSG_DATA);
        TP_JSON_FOREACH_ELEM(j, events, ev)
        {
            bool snap = TP_JSON_EQ(j, TP_JSON_GET(j, ev, "type"), "snapshot");
            if (candles) {
                c->snapshot = snap;
                if ((rc = adv_candles(c, ev, snap)) < 0) return rc;
                continue;
            }
            int arr = trades ? TP_JSON_GET(j, ev, "trades") : TP_JSON_GET(j, ev, "tickers");
            if (tp_json_type(j, arr) != TP_JSON_ARRAY)
                return tp_vc_fail(c, TP_VR_FIELD, trades ? "trades missing" : "tickers missing");
            c->snapshot = trades && snap;
            TP_JSON_FOREACH_ELEM(j, arr, t)
            {
                if (trades) {
                    rc = trade(c, t);
                } else {
                    int si = tp_vc_sym_tok(c, TP_JSON_GET(j, t, "product_id"));
                    if (si < 0) return si;
                    rc = tp_vc_quote(c, si, TP_JSON_GET(j, t, "best_bid"),
                                     TP_JSON_GET(j, t, "best_bid_quantity"),
                                     TP_JSON_GET(j, t, "best_ask"),
                                     TP_JSON_GET(j, t, "best_ask_quantity"), ts, true);
                }
                if (rc < 0) return rc;
            }
        }
        c->snapshot = false;
        return 0;
    }
    if (TP_JSON_EQ(j, chan, "heartbeats")) {
        int ev = tp_json_at(j, events, 0);
        tp_vc_text_tok(c, TP_JSON_GET(j, ev, "heartbeat_counter"));
        return tp_vc_ctl(c, TP_VMSG_HEARTBEAT);
    }
    if (TP_JSON_EQ(j, chan, "subscriptions")) {
        int ev = tp_json_at(j, events, 0);
        tp_vc_text_tok(c, TP_JSON_GET(j, ev, "subscriptions"));
        return tp_vc_ctl(c, TP_VMSG_SUBSCRIBED);
    }
    if (TP_JSON_EQ(j, chan, "l2_data") || TP_JSON_EQ(j, chan, "level2") ||
        TP_JSON_EQ(j, chan, "status") || TP_JSON_EQ(j, chan, "user") ||
        TP_JSON_EQ(j, chan, "futures_balance_summary"))
        return tp_vc_ctl(c, TP_VMSG_IGNORED);
    tp_vc_text_tok(c, chan);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int exchange(struct tp_vctx *c, int type)
{
    struct tp_json *j = c->j;
    int rc;
    bool last = TP_JSON_EQ(j, type, "last_match");
    if (last || TP_JSON_EQ(j, type, "match")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        c->snapshot = last;
        return trade(c, 0);
    }
    if (TP_JSON_EQ(j, type, "ticker")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        int si = tp_vc_sym_tok(c, TP_JSON_GET(j, 0, "product_id"));
        if (si < 0) return si;
        int64_t ts = 0;
        int tt = TP_JSON_GET(j, 0, "time");
        if (tt >= 0 && (rc = tp_vc_time(c, tt, "time", &ts)) < 0) return rc;
        return tp_vc_quote(c, si, TP_JSON_GET(j, 0, "best_bid"), TP_JSON_GET(j, 0, "best_bid_size"),
                           TP_JSON_GET(j, 0, "best_ask"), TP_JSON_GET(j, 0, "best_ask_size"), ts,
                           tt >= 0);
    }
    if (TP_JSON_EQ(j, type, "heartbeat")) {
        tp_vc_ctl(c, TP_VMSG_HEARTBEAT);
        int si = tp_vc_sym_tok(c, TP_JSON_GET(j, 0, "product_id"));
        if (si < 0) return si;
        uint64_t last_id;
        int64_t ts = c->recv;
        int tt = TP_JSON_GET(j, 0, "time");
        if (tt >= 0 && (rc = tp_vc_time(c, tt, "time", &ts)) < 0) return rc;
        if (tp_json_u64(j, TP_JSON_GET(j, 0, "last_trade_id"), &last_id) == 0 && last_id > 0)
            return tp_vc_id_seen(c, si, STREAM_TRADE, last_id, ts, tt >= 0);
        return 0;
    }
    if (TP_JSON_EQ(j, type, "subscriptions")) {
        tp_vc_text_tok(c, TP_JSON_GET(j, 0, "channels"));
        return tp_vc_ctl(c, TP_VMSG_SUBSCRIBED);
    }
    if (TP_JSON_EQ(j, type, "error")) {
        tp_vc_text_tok(c, TP_JSON_GET(j, 0, "message"));
        int reason = TP_JSON_GET(j, 0, "reason");
        if (reason >= 0) {
            char buf[TP_VENUE_TEXT_MAX + 1];
            int n = tp_json_unescape(j, reason, buf, sizeof buf);
            if (n < 0) n = n == -E2BIG ? TP_VENUE_TEXT_MAX : 0;
            tp_vc_text_append(c, ": ", 2);
            tp_vc_text_append(c, buf, (size_t)n);
        }
        return tp_vc_ctl(c, TP_VMSG_ERROR);
    }
    static const char *const ignored[] = {"l2update", "snapshot", "received", "open",   "done",
                                          "change",   "activate", "status",   "auction"};
    for (size_t i = 0; i < TP_ARRAY_LEN(ignored); i++)
        if (tp_json_eq(j, type, ignored[i], strlen(ignored[i])))
            return tp_vc_ctl(c, TP_VMSG_IGNORED);
    tp_vc_text_tok(c, type);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int parse(struct tp_vctx *c, const char *msg, size_t len)
{
    int rc = tp_vc_json(c, msg, len);
    if (rc < 0) return rc;
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) != TP_JSON_OBJECT) return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
    int chan = TP_JSON_GET(j, 0, "channel");
    if (tp_json_type(j, chan) == TP_JSON_STRING && TP_JSON_GET(j, 0, "events") >= 0)
        return advanced(c, chan);
    int type = TP_JSON_GET(j, 0, "type");
    if (tp_json_type(j, type) == TP_JSON_STRING) return exchange(c, type);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int one_channel(const struct tp_venue_sub *sub, struct tp_buf *out, const char *chan)
{
    int rc = tp_buf_puts(out, "{\"type\":\"subscribe\",\"product_ids\":[");
    for (size_t i = 0; i < sub->nsymbols && !rc; i++) {
        char s[TP_VSYM_MAX + 1];
        int n = tp_vb_native(sub->symbols[i], '-', false, s, sizeof s);
        if (n < 0) return -EINVAL;
        if (i) rc = tp_buf_putc(out, ',');
        if (!rc) rc = tp_vb_str(out, s, (size_t)n);
    }
    if (!rc) rc = tp_buf_printf(out, "],\"channel\":\"%s\"}\n", chan);
    return rc;
}

/* Advanced Trade: one channel per request; heartbeats always (they keep the other channels
 * open when a market is quiet). */
static int subscribe(const struct tp_venue_sub *sub, struct tp_buf *out)
{
    if (sub->channels & TP_VCH_BARS) {
        unsigned cnt;
        char u;
        if (tp_vb_interval(sub->interval ? sub->interval : "5m", &cnt, &u) < 0 || cnt != 5 ||
            u != 'm')
            return -EINVAL; /* candles are 5-minute bars only */
    }
    int n = 0, rc = 0;
    if (!rc && (sub->channels & TP_VCH_TRADES) && !(rc = one_channel(sub, out, "market_trades")))
        n++;
    if (!rc && (sub->channels & TP_VCH_BARS) && !(rc = one_channel(sub, out, "candles"))) n++;
    if (!rc && (sub->channels & TP_VCH_QUOTES) && !(rc = one_channel(sub, out, "ticker"))) n++;
    if (!rc && !(rc = one_channel(sub, out, "heartbeats"))) n++;
    return rc < 0 ? rc : n;
}

const struct tp_venue tp_venue_coinbase = {
    .name = "coinbase",
    .endpoint = "wss://advanced-trade-ws.coinbase.com",
    .ping_every_ns = 0, /* the heartbeats channel keeps the connection busy */
    .channels = TP_VCH_TRADES | TP_VCH_QUOTES | TP_VCH_BARS | TP_VCH_HEARTBEAT,
    .max_sub_args = 0,
    .parse = parse,
    .subscribe = subscribe,
};
