/*
 * venue_bitstamp.c — Bitstamp WebSocket API v2 (wss://ws.bitstamp.net).
 *
 * Messages {"event","channel","data"} (key order and spacing vary between server versions;
 * nothing here depends on either):
 *   trade on live_trades_<pair>  data {id, timestamp (s), microtimestamp (µs), amount,
 *                                amount_str, price, price_str, type 0 = buy / 1 = sell (taker),
 *                                buy_order_id, sell_order_id} — the *_str decimals are used
 *                                when present; ids are global, not consecutive per pair
 *   data on order_book_<pair>    data {timestamp, microtimestamp, bids[[px, qty]...],
 *                                asks[...]} → a quote from the best levels
 *   data on diff_order_book_*, detail_order_book_*, full_order_book_*; order_* events of
 *   live_orders → ignored
 *   bts:subscription_succeeded → subscribed; bts:unsubscription_succeeded → ack;
 *   bts:heartbeat (the answer to ours) → pong; bts:request_reconnect → reconnect;
 *   bts:error {data: {code, message}} → error
 * Pairs are lower-case concatenations ("ethusd", "usdtusd"), split here with Bitstamp's own
 * quote currencies (the shared table would read "usdtusd" as USD-TUSD).
 */
#include "core/instrument.h"
#include "source/venue_int.h"

static int normalize(const char *market, const char *sym, size_t n, char *out, size_t cap)
{
    (void)market;
    static const char *const quotes[] = {"USDT", "USDC", "PYUSD", "EUR",
                                         "USD",  "GBP",  "BTC",   "ETH"};
    char up[TP_VSYM_MAX + 2];
    if (n > TP_VSYM_MAX) return -EINVAL;
    for (size_t i = 0; i < n; i++)
        up[i] = (sym[i] >= 'a' && sym[i] <= 'z') ? (char)(sym[i] - 'a' + 'A') : sym[i];
    for (size_t q = 0; q < TP_ARRAY_LEN(quotes); q++) {
        size_t ql = strlen(quotes[q]);
        if (n > ql && !memcmp(up + n - ql, quotes[q], ql)) {
            memmove(up + n - ql + 1, up + n - ql, ql);
            up[n - ql] = '-';
            return tp_instr_normalize("bitstamp", up, n + 1, out, cap);
        }
    }
    return tp_instr_normalize("bitstamp", up, n, out, cap);
}

static bool prefix(const struct tp_json *j, int tok, const char *pre, size_t *rest)
{
    size_t n = strlen(pre);
    if (tp_json_type(j, tok) != TP_JSON_STRING || tp_json_len(j, tok) <= n ||
        memcmp(tp_json_text(j, tok), pre, n))
        return false;
    *rest = n;
    return true;
}

static int trade(struct tp_vctx *c, int si, int d)
{
    struct tp_json *j = c->j;
    double px, sz;
    int64_t ts;
    int rc;
    int p = TP_JSON_GET(j, d, "price_str"), a = TP_JSON_GET(j, d, "amount_str");
    if (p < 0) p = TP_JSON_GET(j, d, "price");
    if (a < 0) a = TP_JSON_GET(j, d, "amount");
    int t = TP_JSON_GET(j, d, "microtimestamp");
    if (t < 0) t = TP_JSON_GET(j, d, "timestamp");
    if ((rc = tp_vc_price(c, p, "price", &px)) < 0 || (rc = tp_vc_size(c, a, "amount", &sz)) < 0 ||
        (rc = tp_vc_time(c, t, "microtimestamp", &ts)) < 0)
        return rc;
    int type = TP_JSON_GET(j, d, "type"), id = TP_JSON_GET(j, d, "id");
    struct tp_event *e = tp_vc_add(c, TP_KIND_TRADE, si, 0);
    if (!e) return TP_VC_FULL(c);
    e->price = px;
    e->size = sz;
    tp_vc_ts(e, ts);
    int64_t ty;
    if (tp_json_i64(j, type, &ty) == 0)
        e->side = ty == 0 ? TP_SIDE_BUY : ty == 1 ? TP_SIDE_SELL : TP_SIDE_UNKNOWN;
    if (id >= 0 && (rc = tp_vc_id(c, e, id)) < 0) return rc;
    return 0;
}

static int book_top(struct tp_vctx *c, int si, int d)
{
    struct tp_json *j = c->j;
    int64_t ts;
    int rc, t = TP_JSON_GET(j, d, "microtimestamp");
    if (t < 0) t = TP_JSON_GET(j, d, "timestamp");
    if ((rc = tp_vc_time(c, t, "microtimestamp", &ts)) < 0) return rc;
    int b = tp_json_at(j, TP_JSON_GET(j, d, "bids"), 0);
    int a = tp_json_at(j, TP_JSON_GET(j, d, "asks"), 0);
    if (b < 0 || a < 0) return 0; /* one-sided book */
    return tp_vc_quote(c, si, tp_json_at(j, b, 0), tp_json_at(j, b, 1), tp_json_at(j, a, 0),
                       tp_json_at(j, a, 1), ts, true);
}

static int parse(struct tp_vctx *c, const char *msg, size_t len)
{
    int rc = tp_vc_json(c, msg, len);
    if (rc < 0) return rc;
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) != TP_JSON_OBJECT) return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
    int ev = TP_JSON_GET(j, 0, "event"), chan = TP_JSON_GET(j, 0, "channel");
    int data = TP_JSON_GET(j, 0, "data");
    if (tp_json_type(j, ev) != TP_JSON_STRING) return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
    size_t off;
    if (TP_JSON_EQ(j, ev, "trade") || TP_JSON_EQ(j, ev, "data")) {
        bool trades = TP_JSON_EQ(j, ev, "trade");
        const char *pre = trades ? "live_trades_" : "order_book_";
        if (!trades && (prefix(j, chan, "diff_order_book_", &off) ||
                        prefix(j, chan, "detail_order_book_", &off) ||
                        prefix(j, chan, "full_order_book_", &off)))
            return tp_vc_ctl(c, TP_VMSG_IGNORED);
        if (!prefix(j, chan, pre, &off)) {
            tp_vc_text_tok(c, chan);
            return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
        }
        tp_vc_ctl(c, TP_VMSG_DATA);
        if (tp_json_type(j, data) != TP_JSON_OBJECT)
            return tp_vc_fail(c, TP_VR_FIELD, "data missing");
        int si = tp_vc_sym(c, tp_json_text(j, chan) + off, tp_json_len(j, chan) - off);
        if (si < 0) return si;
        return trades ? trade(c, si, data) : book_top(c, si, data);
    }
    if (TP_JSON_EQ(j, ev, "bts:subscription_succeeded")) {
        tp_vc_text_tok(c, chan);
        return tp_vc_ctl(c, TP_VMSG_SUBSCRIBED);
    }
    if (TP_JSON_EQ(j, ev, "bts:unsubscription_succeeded")) {
        tp_vc_text_tok(c, chan);
        return tp_vc_ctl(c, TP_VMSG_ACK);
    }
    if (TP_JSON_EQ(j, ev, "bts:heartbeat")) return tp_vc_ctl(c, TP_VMSG_PONG);
    if (TP_JSON_EQ(j, ev, "bts:request_reconnect")) {
        tp_vc_text(c, "bts:request_reconnect", 21);
        return tp_vc_ctl(c, TP_VMSG_RECONNECT);
    }
    if (TP_JSON_EQ(j, ev, "bts:error")) {
        tp_vc_code(c, TP_JSON_GET(j, data, "code"));
        tp_vc_text_tok(c, TP_JSON_GET(j, data, "message"));
        return tp_vc_ctl(c, TP_VMSG_ERROR);
    }
    if (TP_JSON_EQ(j, ev, "order_created") || TP_JSON_EQ(j, ev, "order_changed") ||
        TP_JSON_EQ(j, ev, "order_deleted"))
        return tp_vc_ctl(c, TP_VMSG_IGNORED);
    tp_vc_text_tok(c, ev);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

/* One request per channel: live_trades_<pair> for trades, order_book_<pair> for quotes. */
static int subscribe(const struct tp_venue_sub *sub, struct tp_buf *out)
{
    int n = 0, rc = 0;
    for (size_t i = 0; i < sub->nsymbols && !rc; i++) {
        char s[TP_VSYM_MAX + 1];
        if (tp_vb_native(sub->symbols[i], 0, true, s, sizeof s) < 0) return -EINVAL;
        if (sub->channels & TP_VCH_TRADES) {
            rc = tp_buf_printf(
                out, "{\"event\":\"bts:subscribe\",\"data\":{\"channel\":\"live_trades_%s\"}}\n",
                s);
            n++;
        }
        if (!rc && (sub->channels & TP_VCH_QUOTES)) {
            rc = tp_buf_printf(
                out, "{\"event\":\"bts:subscribe\",\"data\":{\"channel\":\"order_book_%s\"}}\n", s);
            n++;
        }
    }
    return rc < 0 ? rc : n;
}

static int ping(uint64_t req_id, struct tp_buf *out)
{
    (void)req_id;
    return tp_buf_puts(out, "{\"event\":\"bts:heartbeat\"}");
}

const struct tp_venue tp_venue_bitstamp = {
    .name = "bitstamp",
    .endpoint = "wss://ws.bitstamp.net",
    .ping_every_ns = 30 * TP_NS_PER_SEC,
    .channels = TP_VCH_TRADES | TP_VCH_QUOTES,
    .max_sub_args = 1,
    .parse = parse,
    .subscribe = subscribe,
    .ping = ping,
    .normalize = normalize,
};
