/*
 * venue_kraken.c — Kraken spot WebSocket: API v2 (wss://ws.kraken.com/v2, the default) and
 * v1 (wss://ws.kraken.com), which recorded captures use. Told apart by shape: v1 data
 * messages are arrays, v1 control messages have "event"; v2 messages have "channel" or
 * "method".
 *
 * v2:
 *   trade      {"channel":"trade","type":"snapshot"|"update","data":[{symbol, side (taker),
 *              price, qty (JSON numbers, read exactly from their text), ord_type, trade_id,
 *              timestamp (RFC 3339)}]} — the snapshot (last 50 trades) comes again on every
 *              subscription (TP_EV_SNAPSHOT); trade_id is consecutive per book: gap stream
 *   ticker     data[{symbol, bid, bid_qty, ask, ask_qty, last, ..., timestamp?}] → quotes
 *   heartbeat  {"channel":"heartbeat"}; status data[{system, api_version, connection_id,
 *              version}] → status "online" / "maintenance" / ...
 *   replies    {"method":"subscribe"|"unsubscribe"|"pong", "success", "result", "error",
 *              "req_id", "time_in", "time_out"}
 *   book, ohlc, instrument, level3 → ignored
 * v1:
 *   trade      [channelID, [[price, volume, time "s.µs", side "b"|"s", "l"|"m", misc], ...],
 *              "trade", "XBT/USD"] — taker side, no trade ids
 *   ticker     [channelID, {"a":[ask, wholeLotVol, lotVol], "b":[bid, ...], "c", ...},
 *              "ticker", pair] — no time of its own
 *   spread     [channelID, [bid, ask, time, bidVol, askVol], "spread", pair] → a quote
 *   book-N, ohlc-N → ignored
 *   events     heartbeat, pong, systemStatus, subscriptionStatus (subscribed, unsubscribed,
 *              error with errorMessage)
 * Pairs: "XBT/USD" (v1) and "BTC/USD" (v2) both become kraken:BTC-USD.
 */
#include "source/venue_int.h"

enum { STREAM_TRADE = 1 };

/* ---- v1 ---- */

static int v1_trade(struct tp_vctx *c, int si, int data)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, data) != TP_JSON_ARRAY) return tp_vc_fail(c, TP_VR_FIELD, "trades");
    TP_JSON_FOREACH_ELEM(j, data, t)
    {
        double px, sz;
        int64_t ts;
        int rc;
        if (tp_json_type(j, t) != TP_JSON_ARRAY || tp_json_size(j, t) < 4)
            return tp_vc_fail(c, TP_VR_FIELD, "trade is not an array of 4+ values");
        if ((rc = tp_vc_price(c, tp_json_at(j, t, 0), "price", &px)) < 0 ||
            (rc = tp_vc_size(c, tp_json_at(j, t, 1), "volume", &sz)) < 0 ||
            (rc = tp_vc_time(c, tp_json_at(j, t, 2), "time", &ts)) < 0)
            return rc;
        int side = tp_json_at(j, t, 3);
        struct tp_event *e = tp_vc_add(c, TP_KIND_TRADE, si, 0);
        if (!e) return TP_VC_FULL(c);
        e->price = px;
        e->size = sz;
        tp_vc_ts(e, ts);
        e->side = TP_JSON_EQ(j, side, "b")   ? TP_SIDE_BUY
                  : TP_JSON_EQ(j, side, "s") ? TP_SIDE_SELL
                                             : TP_SIDE_UNKNOWN;
    }
    return 0;
}

static int v1_array(struct tp_vctx *c)
{
    struct tp_json *j = c->j;
    uint32_t n = tp_json_size(j, 0);
    if (n < 4) return tp_vc_fail(c, TP_VR_UNKNOWN, "array message with fewer than 4 elements");
    int name = tp_json_at(j, 0, n - 2), pair = tp_json_at(j, 0, n - 1);
    int data = tp_json_at(j, 0, 1);
    if (tp_json_type(j, name) != TP_JSON_STRING || tp_json_type(j, pair) != TP_JSON_STRING)
        return tp_vc_fail(c, TP_VR_UNKNOWN, "array message without channel name and pair");
    if (TP_JSON_EQ(j, name, "trade") || TP_JSON_EQ(j, name, "ticker") ||
        TP_JSON_EQ(j, name, "spread")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        int si = tp_vc_sym_tok(c, pair);
        if (si < 0) return si;
        if (TP_JSON_EQ(j, name, "trade")) return v1_trade(c, si, data);
        if (TP_JSON_EQ(j, name, "ticker")) {
            int a = TP_JSON_GET(j, data, "a"), b = TP_JSON_GET(j, data, "b");
            if (tp_json_type(j, a) != TP_JSON_ARRAY || tp_json_type(j, b) != TP_JSON_ARRAY)
                return tp_vc_fail(c, TP_VR_FIELD, "ticker a/b missing");
            return tp_vc_quote(c, si, tp_json_at(j, b, 0), tp_json_at(j, b, 2), tp_json_at(j, a, 0),
                               tp_json_at(j, a, 2), 0, false);
        }
        int64_t ts;
        int rc;
        if (tp_json_type(j, data) != TP_JSON_ARRAY || tp_json_size(j, data) < 3)
            return tp_vc_fail(c, TP_VR_FIELD, "spread is not an array of 3+ values");
        if ((rc = tp_vc_time(c, tp_json_at(j, data, 2), "time", &ts)) < 0) return rc;
        return tp_vc_quote(c, si, tp_json_at(j, data, 0), tp_json_at(j, data, 3),
                           tp_json_at(j, data, 1), tp_json_at(j, data, 4), ts, true);
    }
    const char *s = tp_json_text(j, name);
    size_t l = tp_json_len(j, name);
    if ((l >= 4 && !memcmp(s, "book", 4)) || (l >= 4 && !memcmp(s, "ohlc", 4)))
        return tp_vc_ctl(c, TP_VMSG_IGNORED);
    tp_vc_text_tok(c, name);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int v1_event(struct tp_vctx *c, int ev)
{
    struct tp_json *j = c->j;
    tp_vc_req_id(c, TP_JSON_GET(j, 0, "reqid"));
    if (TP_JSON_EQ(j, ev, "heartbeat")) return tp_vc_ctl(c, TP_VMSG_HEARTBEAT);
    if (TP_JSON_EQ(j, ev, "pong")) return tp_vc_ctl(c, TP_VMSG_PONG);
    if (TP_JSON_EQ(j, ev, "systemStatus")) {
        tp_vc_text_tok(c, TP_JSON_GET(j, 0, "status"));
        return tp_vc_ctl(c, TP_VMSG_STATUS);
    }
    if (TP_JSON_EQ(j, ev, "subscriptionStatus")) {
        int st = TP_JSON_GET(j, 0, "status");
        if (TP_JSON_EQ(j, st, "error")) {
            tp_vc_text_tok(c, TP_JSON_GET(j, 0, "errorMessage"));
            return tp_vc_ctl(c, TP_VMSG_ERROR);
        }
        int name = TP_JSON_GET(j, 0, "channelName");
        if (name < 0) name = TP_JSON_GET(j, TP_JSON_GET(j, 0, "subscription"), "name");
        tp_vc_text_tok(c, name);
        int pair = TP_JSON_GET(j, 0, "pair");
        if (tp_json_type(j, pair) == TP_JSON_STRING) {
            tp_vc_text_append(c, " ", 1);
            tp_vc_text_append(c, tp_json_text(j, pair), tp_json_len(j, pair));
        }
        return tp_vc_ctl(c, TP_JSON_EQ(j, st, "subscribed") ? TP_VMSG_SUBSCRIBED : TP_VMSG_ACK);
    }
    if (TP_JSON_EQ(j, ev, "error")) {
        tp_vc_text_tok(c, TP_JSON_GET(j, 0, "errorMessage"));
        return tp_vc_ctl(c, TP_VMSG_ERROR);
    }
    tp_vc_text_tok(c, ev);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

/* ---- v2 ---- */

static int v2_data(struct tp_vctx *c, bool trade, int data)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, data) != TP_JSON_ARRAY) return tp_vc_fail(c, TP_VR_FIELD, "data missing");
    TP_JSON_FOREACH_ELEM(j, data, d)
    {
        int rc, si = tp_vc_sym_tok(c, TP_JSON_GET(j, d, "symbol"));
        if (si < 0) return si;
        int64_t ts = 0;
        int tt = TP_JSON_GET(j, d, "timestamp");
        if ((trade || tt >= 0) && (rc = tp_vc_time(c, tt, "timestamp", &ts)) < 0) return rc;
        if (!trade) {
            rc = tp_vc_quote(c, si, TP_JSON_GET(j, d, "bid"), TP_JSON_GET(j, d, "bid_qty"),
                             TP_JSON_GET(j, d, "ask"), TP_JSON_GET(j, d, "ask_qty"), ts, tt >= 0);
            if (rc < 0) return rc;
            continue;
        }
        double px, sz;
        if ((rc = tp_vc_price(c, TP_JSON_GET(j, d, "price"), "price", &px)) < 0 ||
            (rc = tp_vc_size(c, TP_JSON_GET(j, d, "qty"), "qty", &sz)) < 0)
            return rc;
        int side = TP_JSON_GET(j, d, "side"), id = TP_JSON_GET(j, d, "trade_id");
        struct tp_event *e = tp_vc_add(c, TP_KIND_TRADE, si, STREAM_TRADE);
        if (!e) return TP_VC_FULL(c);
        e->price = px;
        e->size = sz;
        tp_vc_ts(e, ts);
        e->side = TP_JSON_EQ(j, side, "buy")    ? TP_SIDE_BUY
                  : TP_JSON_EQ(j, side, "sell") ? TP_SIDE_SELL
                                                : TP_SIDE_UNKNOWN;
        if (id >= 0 && (rc = tp_vc_id(c, e, id)) < 0) return rc;
    }
    return 0;
}

static int v2_channel(struct tp_vctx *c, int chan)
{
    struct tp_json *j = c->j;
    bool trade = TP_JSON_EQ(j, chan, "trade");
    if (trade || TP_JSON_EQ(j, chan, "ticker")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        c->snapshot = trade && TP_JSON_EQ(j, TP_JSON_GET(j, 0, "type"), "snapshot");
        return v2_data(c, trade, TP_JSON_GET(j, 0, "data"));
    }
    if (TP_JSON_EQ(j, chan, "heartbeat")) return tp_vc_ctl(c, TP_VMSG_HEARTBEAT);
    if (TP_JSON_EQ(j, chan, "status")) {
        int d = tp_json_at(j, TP_JSON_GET(j, 0, "data"), 0);
        tp_vc_text_tok(c, TP_JSON_GET(j, d, "system"));
        return tp_vc_ctl(c, TP_VMSG_STATUS);
    }
    static const char *const ignored[] = {"book",   "ohlc",       "instrument",
                                          "level3", "executions", "balances"};
    for (size_t i = 0; i < TP_ARRAY_LEN(ignored); i++)
        if (tp_json_eq(j, chan, ignored[i], strlen(ignored[i])))
            return tp_vc_ctl(c, TP_VMSG_IGNORED);
    tp_vc_text_tok(c, chan);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int v2_method(struct tp_vctx *c, int method)
{
    struct tp_json *j = c->j;
    tp_vc_req_id(c, TP_JSON_GET(j, 0, "req_id"));
    if (TP_JSON_EQ(j, method, "pong")) return tp_vc_ctl(c, TP_VMSG_PONG);
    bool ok;
    int succ = TP_JSON_GET(j, 0, "success");
    if (succ < 0) return tp_vc_fail(c, TP_VR_UNKNOWN, "a request, not a reply"); /* our own */
    if (tp_json_bool(j, succ, &ok) < 0) return tp_vc_fail(c, TP_VR_FIELD, "success: not a boolean");
    if (!ok) {
        tp_vc_text_tok(c, TP_JSON_GET(j, 0, "error"));
        return tp_vc_ctl(c, TP_VMSG_ERROR);
    }
    int res = TP_JSON_GET(j, 0, "result");
    int chan = TP_JSON_GET(j, res, "channel"), sym = TP_JSON_GET(j, res, "symbol");
    tp_vc_text_tok(c, chan);
    if (tp_json_type(j, sym) == TP_JSON_STRING) {
        tp_vc_text_append(c, " ", 1);
        tp_vc_text_append(c, tp_json_text(j, sym), tp_json_len(j, sym));
    }
    if (TP_JSON_EQ(j, method, "subscribe")) return tp_vc_ctl(c, TP_VMSG_SUBSCRIBED);
    return tp_vc_ctl(c, TP_VMSG_ACK);
}

static int parse(struct tp_vctx *c, const char *msg, size_t len)
{
    int rc = tp_vc_json(c, msg, len);
    if (rc < 0) return rc;
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) == TP_JSON_ARRAY) return v1_array(c);
    if (tp_json_type(j, 0) != TP_JSON_OBJECT) return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
    int chan = TP_JSON_GET(j, 0, "channel");
    if (tp_json_type(j, chan) == TP_JSON_STRING) return v2_channel(c, chan);
    int method = TP_JSON_GET(j, 0, "method");
    if (tp_json_type(j, method) == TP_JSON_STRING) return v2_method(c, method);
    int ev = TP_JSON_GET(j, 0, "event");
    if (tp_json_type(j, ev) == TP_JSON_STRING) return v1_event(c, ev);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int one_channel(const struct tp_venue_sub *sub, struct tp_buf *out, const char *chan,
                       bool snapshot, uint64_t req_id)
{
    int rc = tp_buf_printf(
        out, "{\"method\":\"subscribe\",\"params\":{\"channel\":\"%s\",\"symbol\":[", chan);
    for (size_t i = 0; i < sub->nsymbols && !rc; i++) {
        char s[TP_VSYM_MAX + 1];
        int n = tp_vb_native(sub->symbols[i], '/', false, s, sizeof s);
        if (n < 0 || !memchr(s, '/', (size_t)n)) return -EINVAL; /* v2 needs BASE/QUOTE */
        if (i) rc = tp_buf_putc(out, ',');
        if (!rc) rc = tp_vb_str(out, s, (size_t)n);
    }
    if (!rc) rc = tp_buf_puts(out, snapshot ? "],\"snapshot\":true}" : "]}");
    if (!rc && req_id) rc = tp_buf_printf(out, ",\"req_id\":%llu", (unsigned long long)req_id);
    if (!rc) rc = tp_buf_puts(out, "}\n");
    return rc;
}

/* v2: one request per channel; trades with the snapshot of recent trades (it closes the gap
 * left by a reconnect, deduplicated by trade id). */
static int subscribe(const struct tp_venue_sub *sub, struct tp_buf *out)
{
    int n = 0, rc = 0;
    uint64_t id = sub->req_id;
    if ((sub->channels & TP_VCH_TRADES) && !(rc = one_channel(sub, out, "trade", true, id))) {
        n++;
        if (id) id++;
    }
    if (!rc && (sub->channels & TP_VCH_QUOTES) &&
        !(rc = one_channel(sub, out, "ticker", false, id)))
        n++;
    return rc < 0 ? rc : n;
}

static int ping(uint64_t req_id, struct tp_buf *out)
{
    if (!req_id) return tp_buf_puts(out, "{\"method\":\"ping\"}");
    return tp_buf_printf(out, "{\"method\":\"ping\",\"req_id\":%llu}", (unsigned long long)req_id);
}

const struct tp_venue tp_venue_kraken = {
    .name = "kraken",
    .endpoint = "wss://ws.kraken.com/v2",
    .ping_every_ns = 30 * TP_NS_PER_SEC,
    .channels = TP_VCH_TRADES | TP_VCH_QUOTES,
    .max_sub_args = 0,
    .parse = parse,
    .subscribe = subscribe,
    .ping = ping,
};
