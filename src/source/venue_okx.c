/*
 * venue_okx.c — OKX v5 public WebSocket (wss://ws.okx.com:8443/ws/v5/public; candles are on
 * /ws/v5/business since 2023-06).
 *
 * Messages:
 *   push     {"arg":{"channel","instId"},"data":[...]}
 *     trades, trades-all  data[{instId, tradeId, px, sz, side (taker), ts (ms string)}]
 *     tickers             data[{instId, bidPx, bidSz, askPx, askSz, last, ts}] → a quote, or a
 *                         snapshot of `last` when the book is one-sided (empty bidPx/askPx)
 *     bbo-tbt             data[{asks[[px,sz,..]], bids[[px,sz,..]], ts}] → a quote
 *     candle<bar>         data[[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]] → a vendor
 *                         bar when confirm is "1"; older 7-element pushes carry no confirm and
 *                         are final when the next bar starts
 *     books*, mark price, index, funding, open interest, ... → ignored
 *   events   {"event":"subscribe"|"unsubscribe"|"error"|"notice"|"login"|..., "arg", "code",
 *            "msg", "id", "connId"}; notice 64008 announces a service-upgrade disconnect
 *   text     "pong" (our "ping" answered); "ping" is answered with "pong"
 * OKX aggregates trades (tradeId is the last of a group), so trade ids are not consecutive:
 * no gap detection. instIds are already BASE-QUOTE[-SWAP|-YYMMDD|...].
 */
#include "source/venue_int.h"

static int trades(struct tp_vctx *c, int data)
{
    struct tp_json *j = c->j;
    TP_JSON_FOREACH_ELEM(j, data, d)
    {
        double px, sz;
        int64_t ts;
        int rc, si = tp_vc_sym_tok(c, TP_JSON_GET(j, d, "instId"));
        if (si < 0) return si;
        if ((rc = tp_vc_price(c, TP_JSON_GET(j, d, "px"), "px", &px)) < 0) return rc;
        if ((rc = tp_vc_size(c, TP_JSON_GET(j, d, "sz"), "sz", &sz)) < 0) return rc;
        if ((rc = tp_vc_time(c, TP_JSON_GET(j, d, "ts"), "ts", &ts)) < 0) return rc;
        int side = TP_JSON_GET(j, d, "side");
        int id = TP_JSON_GET(j, d, "tradeId");
        struct tp_event *e = tp_vc_add(c, TP_KIND_TRADE, si, 0);
        if (!e) return TP_VC_FULL(c);
        e->price = px;
        e->size = sz;
        tp_vc_ts(e, ts);
        e->side = TP_JSON_EQ(j, side, "buy")    ? TP_SIDE_BUY
                  : TP_JSON_EQ(j, side, "sell") ? TP_SIDE_SELL
                                                : TP_SIDE_UNKNOWN;
        if (id >= 0 && !tp_vc_empty(c, id) && (rc = tp_vc_id(c, e, id)) < 0) return rc;
    }
    return 0;
}

static int tickers(struct tp_vctx *c, int data)
{
    struct tp_json *j = c->j;
    TP_JSON_FOREACH_ELEM(j, data, d)
    {
        int64_t ts;
        int rc, si = tp_vc_sym_tok(c, TP_JSON_GET(j, d, "instId"));
        if (si < 0) return si;
        if ((rc = tp_vc_time(c, TP_JSON_GET(j, d, "ts"), "ts", &ts)) < 0) return rc;
        int bid = TP_JSON_GET(j, d, "bidPx"), ask = TP_JSON_GET(j, d, "askPx");
        if (bid < 0 || ask < 0) return tp_vc_fail(c, TP_VR_FIELD, "bidPx/askPx missing");
        if (!tp_vc_empty(c, bid) && !tp_vc_empty(c, ask)) {
            size_t before = c->n;
            rc = tp_vc_quote(c, si, bid, TP_JSON_GET(j, d, "bidSz"), ask,
                             TP_JSON_GET(j, d, "askSz"), ts, true);
            if (rc < 0) return rc;
            if (c->n > before) continue;
        }
        /* one-sided book: the last price, if any, as a snapshot */
        int last = TP_JSON_GET(j, d, "last");
        double px;
        if (tp_vc_empty(c, last)) continue;
        if ((rc = tp_vc_price(c, last, "last", &px)) < 0) return rc;
        struct tp_event *e = tp_vc_add(c, TP_KIND_SNAPSHOT, si, 0);
        if (!e) return TP_VC_FULL(c);
        e->price = px;
        tp_vc_ts(e, ts);
    }
    return 0;
}

static int bbo(struct tp_vctx *c, int si, int data)
{
    struct tp_json *j = c->j;
    TP_JSON_FOREACH_ELEM(j, data, d)
    {
        int64_t ts;
        int rc;
        if ((rc = tp_vc_time(c, TP_JSON_GET(j, d, "ts"), "ts", &ts)) < 0) return rc;
        int b = tp_json_at(j, TP_JSON_GET(j, d, "bids"), 0);
        int a = tp_json_at(j, TP_JSON_GET(j, d, "asks"), 0);
        if (b < 0 || a < 0) continue; /* a one-sided book: no quote */
        rc = tp_vc_quote(c, si, tp_json_at(j, b, 0), tp_json_at(j, b, 1), tp_json_at(j, a, 0),
                         tp_json_at(j, a, 1), ts, true);
        if (rc < 0) return rc;
    }
    return 0;
}

static int candles(struct tp_vctx *c, int si, int chan, int data)
{
    struct tp_json *j = c->j;
    char name[24];
    int nl = tp_json_unescape(j, chan, name, sizeof name);
    if (nl < 0) return tp_vc_fail(c, TP_VR_FIELD, "channel name too long");
    TP_JSON_FOREACH_ELEM(j, data, d)
    {
        if (tp_json_type(j, d) != TP_JSON_ARRAY || tp_json_size(j, d) < 6)
            return tp_vc_fail(c, TP_VR_FIELD, "candle is not an array of 6+ values");
        int64_t ts;
        double v[5];
        int rc;
        if ((rc = tp_vc_time(c, tp_json_at(j, d, 0), "candle ts", &ts)) < 0 ||
            (rc = tp_vc_price(c, tp_json_at(j, d, 1), "open", &v[0])) < 0 ||
            (rc = tp_vc_price(c, tp_json_at(j, d, 2), "high", &v[1])) < 0 ||
            (rc = tp_vc_price(c, tp_json_at(j, d, 3), "low", &v[2])) < 0 ||
            (rc = tp_vc_price(c, tp_json_at(j, d, 4), "close", &v[3])) < 0 ||
            (rc = tp_vc_size(c, tp_json_at(j, d, 5), "vol", &v[4])) < 0)
            return rc;
        if (tp_json_size(j, d) >= 9) {
            int conf = tp_json_at(j, d, 8);
            if (TP_JSON_EQ(j, conf, "1")) {
                if ((rc = tp_vc_bar(c, si, ts, v[0], v[1], v[2], v[3], v[4])) < 0) return rc;
            } else if (!TP_JSON_EQ(j, conf, "0")) {
                return tp_vc_fail(c, TP_VR_FIELD, "candle confirm is not \"0\" or \"1\"");
            }
        } else if ((rc = tp_vc_bar_update(c, si, name, ts, v[0], v[1], v[2], v[3], v[4], true)) <
                   0) {
            return rc;
        }
    }
    return 0;
}

static bool prefix(const struct tp_json *j, int tok, const char *pre)
{
    size_t n = strlen(pre);
    return tp_json_type(j, tok) == TP_JSON_STRING && tp_json_len(j, tok) >= n &&
           !memcmp(tp_json_text(j, tok), pre, n);
}

static int push(struct tp_vctx *c, int arg, int data)
{
    struct tp_json *j = c->j;
    int chan = TP_JSON_GET(j, arg, "channel");
    if (tp_json_type(j, chan) != TP_JSON_STRING)
        return tp_vc_fail(c, TP_VR_FIELD, "arg.channel missing");
    if (tp_json_type(j, data) != TP_JSON_ARRAY) return tp_vc_fail(c, TP_VR_FIELD, "data missing");
    if (TP_JSON_EQ(j, chan, "trades") || TP_JSON_EQ(j, chan, "trades-all")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        return trades(c, data);
    }
    if (TP_JSON_EQ(j, chan, "tickers")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        return tickers(c, data);
    }
    if (TP_JSON_EQ(j, chan, "bbo-tbt") || prefix(j, chan, "candle")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        int si = tp_vc_sym_tok(c, TP_JSON_GET(j, arg, "instId"));
        if (si < 0) return si;
        return TP_JSON_EQ(j, chan, "bbo-tbt") ? bbo(c, si, data) : candles(c, si, chan, data);
    }
    static const char *const ignored[] = {
        "books",         "mark-price",        "index-",       "funding-rate",
        "open-interest", "price-limit",       "opt-summary",  "estimated-price",
        "liquidation",   "instruments",       "status",       "public-struc-block-trades",
        "block-tickers", "mark-price-candle", "index-candle", "sprd-",
        "adl-warning",   "economic-calendar"};
    for (size_t i = 0; i < TP_ARRAY_LEN(ignored); i++)
        if (prefix(j, chan, ignored[i])) return tp_vc_ctl(c, TP_VMSG_IGNORED);
    tp_vc_text_tok(c, chan);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int event(struct tp_vctx *c, int ev)
{
    struct tp_json *j = c->j;
    tp_vc_req_id(c, TP_JSON_GET(j, 0, "id"));
    tp_vc_code(c, TP_JSON_GET(j, 0, "code"));
    int msg = TP_JSON_GET(j, 0, "msg");
    if (TP_JSON_EQ(j, ev, "subscribe")) {
        tp_vc_text_tok(c, TP_JSON_GET(j, 0, "arg"));
        return tp_vc_ctl(c, TP_VMSG_SUBSCRIBED);
    }
    if (TP_JSON_EQ(j, ev, "unsubscribe") || TP_JSON_EQ(j, ev, "login")) {
        tp_vc_text_tok(c, TP_JSON_GET(j, 0, "arg"));
        return tp_vc_ctl(c, TP_VMSG_ACK);
    }
    if (TP_JSON_EQ(j, ev, "error") || TP_JSON_EQ(j, ev, "channel-conn-count-error")) {
        tp_vc_text_tok(c, msg);
        return tp_vc_ctl(c, TP_VMSG_ERROR);
    }
    if (TP_JSON_EQ(j, ev, "notice")) {
        tp_vc_text_tok(c, msg);
        /* 64008: "The connection will soon be closed for a service upgrade." */
        return tp_vc_ctl(c, c->res->has_code && c->res->code == 64008 ? TP_VMSG_RECONNECT
                                                                      : TP_VMSG_STATUS);
    }
    if (TP_JSON_EQ(j, ev, "channel-conn-count")) {
        tp_vc_text_tok(c, TP_JSON_GET(j, 0, "connCount"));
        return tp_vc_ctl(c, TP_VMSG_STATUS);
    }
    tp_vc_text_tok(c, ev);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int parse(struct tp_vctx *c, const char *msg, size_t len)
{
    /* the keep-alive text frames (a trailing line break tolerated) */
    size_t n = len;
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) n--;
    if (n == 4 && !memcmp(msg, "pong", 4)) return tp_vc_ctl(c, TP_VMSG_PONG);
    if (n == 4 && !memcmp(msg, "ping", 4)) {
        tp_vc_reply(c, "pong", 4);
        return tp_vc_ctl(c, TP_VMSG_PING);
    }
    int rc = tp_vc_json(c, msg, len);
    if (rc < 0) return rc;
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) != TP_JSON_OBJECT) return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
    int ev = TP_JSON_GET(j, 0, "event");
    if (tp_json_type(j, ev) == TP_JSON_STRING) return event(c, ev);
    int arg = TP_JSON_GET(j, 0, "arg");
    int data = TP_JSON_GET(j, 0, "data");
    if (tp_json_type(j, arg) == TP_JSON_OBJECT && data >= 0) return push(c, arg, data);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int add_args(const struct tp_venue_sub *sub, struct tp_buf *out, const char *chan,
                    bool *first)
{
    int rc = 0;
    for (size_t i = 0; i < sub->nsymbols && !rc; i++) {
        char s[TP_VSYM_MAX + 1];
        int n = tp_vb_native(sub->symbols[i], '-', false, s, sizeof s);
        if (n < 0) return -EINVAL;
        if (!*first) rc = tp_buf_putc(out, ',');
        *first = false;
        if (!rc) rc = tp_buf_printf(out, "{\"channel\":\"%s\",\"instId\":", chan);
        if (!rc) rc = tp_vb_str(out, s, (size_t)n);
        if (!rc) rc = tp_buf_putc(out, '}');
    }
    return rc;
}

/* One request with every arg: tickers, then trades, then candles (which OKX serves on the
 * /business endpoint: a connector sends bars on a connection of its own). */
static int subscribe(const struct tp_venue_sub *sub, struct tp_buf *out)
{
    char cand[24] = "";
    if (sub->channels & TP_VCH_BARS) {
        unsigned cnt;
        char u;
        if (tp_vb_interval(sub->interval, &cnt, &u) < 0) return -EINVAL;
        char U = u == 'h' ? 'H' : u == 'd' ? 'D' : u == 'w' ? 'W' : u;
        snprintf(cand, sizeof cand, "candle%u%c", cnt, U);
    }
    int rc = tp_buf_puts(out, "{");
    if (!rc && sub->req_id)
        rc = tp_buf_printf(out, "\"id\":\"%llu\",", (unsigned long long)sub->req_id);
    if (!rc) rc = tp_buf_puts(out, "\"op\":\"subscribe\",\"args\":[");
    bool first = true;
    if (!rc && (sub->channels & TP_VCH_QUOTES)) rc = add_args(sub, out, "tickers", &first);
    if (!rc && (sub->channels & TP_VCH_TRADES)) rc = add_args(sub, out, "trades", &first);
    if (!rc && (sub->channels & TP_VCH_BARS)) rc = add_args(sub, out, cand, &first);
    if (!rc) rc = tp_buf_puts(out, "]}\n");
    return rc < 0 ? rc : 1;
}

static int ping(uint64_t req_id, struct tp_buf *out)
{
    (void)req_id;
    return tp_buf_puts(out, "ping");
}

const struct tp_venue tp_venue_okx = {
    .name = "okx",
    .endpoint = "wss://ws.okx.com:8443/ws/v5/public",
    .ping_every_ns = 25 * TP_NS_PER_SEC, /* dropped after 30 s without traffic */
    .channels = TP_VCH_TRADES | TP_VCH_QUOTES | TP_VCH_BARS,
    .max_sub_args = 0,
    .parse = parse,
    .subscribe = subscribe,
    .ping = ping,
};
