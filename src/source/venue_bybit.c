/*
 * venue_bybit.c — Bybit v5 public WebSocket (wss://stream.bybit.com/v5/public/{spot,linear,
 * inverse,option}).
 *
 * Messages:
 *   publicTrade.SYM  {"topic","type":"snapshot","ts":ms,"data":[{T ms, s, S "Buy"|"Sell"
 *                    (taker), v size, p price, i id (numeric string on spot, UUID on
 *                    derivatives), L, BT, RPI, seq}]} — ids are not consecutive: no gap check
 *   tickers.SYM      {"topic","type":"snapshot"|"delta","ts","cs","data":{symbol, lastPrice,
 *                    bid1Price, bid1Size, ask1Price, ask1Size, ...}} — derivatives send one
 *                    snapshot, then deltas holding only the fields that changed: the parser
 *                    keeps each symbol's merged bid/ask/sizes/last and emits a quote when a
 *                    quote field changed. Spot tickers carry no book fields: their last price
 *                    becomes a snapshot event.
 *   kline.IV.SYM     {"topic","data":[{start, end, interval, open, close, high, low, volume,
 *                    turnover, confirm, timestamp}],"ts","type"} → a vendor bar when confirm
 *   orderbook.*, allLiquidation.*, liquidation.*, ... → ignored
 *   replies          {"success","ret_msg","conn_id","req_id","op":"subscribe"|"unsubscribe"|
 *                    "ping"|"auth"} ("ret_msg":"pong" answers a ping on spot and linear);
 *                    {"op":"pong","args":[ms]} answers a ping on option and spread
 * Markets: spot and linear symbols collide (BTCUSDT is both), so a parser for a derivatives
 * market names perpetuals bybit:BTC-USDT-PERP; dated contracts and options keep their
 * hyphenated names (bybit:BTC-26DEC25).
 */
#include "core/instrument.h"
#include "source/venue_int.h"

static int normalize(const char *market, const char *sym, size_t n, char *out, size_t cap)
{
    int r = tp_instr_normalize("bybit", sym, n, out, cap);
    if (r < 0) return r;
    bool deriv = !strcmp(market, "linear") || !strcmp(market, "inverse");
    if (!deriv || memchr(sym, '-', n)) return r;
    /* a perpetual: the split made BASE-QUOTE out of BASEQUOTE */
    const char *colon = memchr(out, ':', (size_t)r);
    if (!colon || !memchr(colon, '-', (size_t)(out + r - colon))) return r;
    if ((size_t)r + 5 >= cap || r + 5 > TP_INSTR_NAMELEN) return -EINVAL;
    memcpy(out + r, "-PERP", 6);
    return r + 5;
}

static int public_trade(struct tp_vctx *c, int data)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, data) != TP_JSON_ARRAY) return tp_vc_fail(c, TP_VR_FIELD, "data missing");
    TP_JSON_FOREACH_ELEM(j, data, d)
    {
        double px, sz;
        int64_t ts;
        int rc, si = tp_vc_sym_tok(c, TP_JSON_GET(j, d, "s"));
        if (si < 0) return si;
        if ((rc = tp_vc_price(c, TP_JSON_GET(j, d, "p"), "p", &px)) < 0 ||
            (rc = tp_vc_size(c, TP_JSON_GET(j, d, "v"), "v", &sz)) < 0 ||
            (rc = tp_vc_time(c, TP_JSON_GET(j, d, "T"), "T", &ts)) < 0)
            return rc;
        int side = TP_JSON_GET(j, d, "S"), id = TP_JSON_GET(j, d, "i");
        struct tp_event *e = tp_vc_add(c, TP_KIND_TRADE, si, 0);
        if (!e) return TP_VC_FULL(c);
        e->price = px;
        e->size = sz;
        tp_vc_ts(e, ts);
        e->side = TP_JSON_EQ(j, side, "Buy")    ? TP_SIDE_BUY
                  : TP_JSON_EQ(j, side, "Sell") ? TP_SIDE_SELL
                                                : TP_SIDE_UNKNOWN;
        if (id >= 0 && !tp_vc_empty(c, id) && (rc = tp_vc_id(c, e, id)) < 0) return rc;
    }
    return 0;
}

static const struct {
    const char *key;
    int f;
} tk_keys[] = {{"bid1Price", TK_BID},
               {"bid1Size", TK_BID_SZ},
               {"ask1Price", TK_ASK},
               {"ask1Size", TK_ASK_SZ},
               {"lastPrice", TK_LAST}};

static int tickers(struct tp_vctx *c, int data, bool snapshot)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, data) != TP_JSON_OBJECT) return tp_vc_fail(c, TP_VR_FIELD, "data missing");
    int64_t ts;
    int rc, si = tp_vc_sym_tok(c, TP_JSON_GET(j, data, "symbol"));
    if (si < 0) return si;
    if ((rc = tp_vc_time(c, TP_JSON_GET(j, 0, "ts"), "ts", &ts)) < 0) return rc;
    /* parse everything first, so a bad field leaves the merged state as it was */
    double val[TK_N];
    unsigned got = 0;
    for (size_t k = 0; k < TP_ARRAY_LEN(tk_keys); k++) {
        int t = tp_json_get(j, data, tk_keys[k].key, strlen(tk_keys[k].key));
        if (tp_vc_empty(c, t)) continue;
        if ((rc = tp_vc_size(c, t, tk_keys[k].key, &val[tk_keys[k].f])) < 0) return rc;
        got |= 1u << tk_keys[k].f;
    }
    struct tp_vsym *s = tp_vc_vsym(c, si);
    if (snapshot) s->tk_have = 0;
    for (int f = 0; f < TK_N; f++)
        if (got & (1u << f)) s->tk[f] = val[f];
    s->tk_have |= (uint8_t)got;
    const unsigned both = 1u << TK_BID | 1u << TK_ASK;
    const unsigned quote_fields = both | 1u << TK_BID_SZ | 1u << TK_ASK_SZ;
    if ((s->tk_have & both) == both) {
        if (!(got & quote_fields) || !(s->tk[TK_BID] > 0) || !(s->tk[TK_ASK] > 0)) return 0;
        double q[TK_N];
        memcpy(q, s->tk, sizeof q);
        unsigned have = s->tk_have;
        struct tp_event *e = tp_vc_add(c, TP_KIND_QUOTE, si, 0);
        if (!e) return TP_VC_FULL(c);
        e->bid = q[TK_BID];
        e->ask = q[TK_ASK];
        if (have & 1u << TK_BID_SZ) e->bid_size = q[TK_BID_SZ];
        if (have & 1u << TK_ASK_SZ) e->ask_size = q[TK_ASK_SZ];
        tp_vc_ts(e, ts);
        return 0;
    }
    if ((got & 1u << TK_LAST) && val[TK_LAST] > 0) {
        struct tp_event *e = tp_vc_add(c, TP_KIND_SNAPSHOT, si, 0);
        if (!e) return TP_VC_FULL(c);
        e->price = val[TK_LAST];
        tp_vc_ts(e, ts);
    }
    return 0;
}

static int kline(struct tp_vctx *c, int topic, int data)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, data) != TP_JSON_ARRAY) return tp_vc_fail(c, TP_VR_FIELD, "data missing");
    const char *t = tp_json_text(j, topic);
    size_t n = tp_json_len(j, topic);
    const char *dot = t + n;
    while (dot > t && dot[-1] != '.') dot--;
    if (dot == t) return tp_vc_fail(c, TP_VR_FIELD, "kline topic without a symbol");
    int si = tp_vc_sym(c, dot, (size_t)(t + n - dot));
    if (si < 0) return si;
    TP_JSON_FOREACH_ELEM(j, data, d)
    {
        bool confirm;
        if (tp_json_bool(j, TP_JSON_GET(j, d, "confirm"), &confirm) < 0)
            return tp_vc_fail(c, TP_VR_FIELD, "confirm: not a boolean");
        if (!confirm) continue;
        int64_t st;
        double o, h, l, cl, v;
        int rc;
        if ((rc = tp_vc_time(c, TP_JSON_GET(j, d, "start"), "start", &st)) < 0 ||
            (rc = tp_vc_price(c, TP_JSON_GET(j, d, "open"), "open", &o)) < 0 ||
            (rc = tp_vc_price(c, TP_JSON_GET(j, d, "high"), "high", &h)) < 0 ||
            (rc = tp_vc_price(c, TP_JSON_GET(j, d, "low"), "low", &l)) < 0 ||
            (rc = tp_vc_price(c, TP_JSON_GET(j, d, "close"), "close", &cl)) < 0 ||
            (rc = tp_vc_size(c, TP_JSON_GET(j, d, "volume"), "volume", &v)) < 0)
            return rc;
        if ((rc = tp_vc_bar(c, si, st, o, h, l, cl, v)) < 0) return rc;
    }
    return 0;
}

static bool topic_is(const struct tp_json *j, int topic, const char *name)
{
    size_t n = strlen(name), l = tp_json_len(j, topic);
    const char *t = tp_json_text(j, topic);
    return l > n && !memcmp(t, name, n) && t[n] == '.';
}

static int op_reply(struct tp_vctx *c, int op)
{
    struct tp_json *j = c->j;
    tp_vc_req_id(c, TP_JSON_GET(j, 0, "req_id"));
    if (TP_JSON_EQ(j, op, "pong")) return tp_vc_ctl(c, TP_VMSG_PONG);
    int succ = TP_JSON_GET(j, 0, "success"), msg = TP_JSON_GET(j, 0, "ret_msg");
    bool ok = false;
    if (succ < 0) {
        if (TP_JSON_EQ(j, op, "ping")) return tp_vc_ctl(c, TP_VMSG_PING); /* no reply needed */
        return tp_vc_fail(c, TP_VR_UNKNOWN, "op without success");
    }
    if (tp_json_bool(j, succ, &ok) < 0) return tp_vc_fail(c, TP_VR_FIELD, "success: not a boolean");
    tp_vc_text_tok(c, msg);
    if (!ok) return tp_vc_ctl(c, TP_VMSG_ERROR);
    if (TP_JSON_EQ(j, op, "ping") || TP_JSON_EQ(j, msg, "pong")) return tp_vc_ctl(c, TP_VMSG_PONG);
    if (TP_JSON_EQ(j, op, "subscribe")) return tp_vc_ctl(c, TP_VMSG_SUBSCRIBED);
    return tp_vc_ctl(c, TP_VMSG_ACK);
}

static int parse(struct tp_vctx *c, const char *msg, size_t len)
{
    int rc = tp_vc_json(c, msg, len);
    if (rc < 0) return rc;
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) != TP_JSON_OBJECT) return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
    int topic = TP_JSON_GET(j, 0, "topic");
    if (tp_json_type(j, topic) == TP_JSON_STRING) {
        int data = TP_JSON_GET(j, 0, "data");
        if (topic_is(j, topic, "publicTrade")) {
            tp_vc_ctl(c, TP_VMSG_DATA);
            return public_trade(c, data);
        }
        if (topic_is(j, topic, "tickers")) {
            tp_vc_ctl(c, TP_VMSG_DATA);
            int type = TP_JSON_GET(j, 0, "type");
            return tickers(c, data, !TP_JSON_EQ(j, type, "delta"));
        }
        if (topic_is(j, topic, "kline")) {
            tp_vc_ctl(c, TP_VMSG_DATA);
            return kline(c, topic, data);
        }
        static const char *const ignored[] = {"orderbook",  "allLiquidation", "liquidation",
                                              "insurance",  "priceLimit",     "adlAlert",
                                              "tickers_lt", "kline_lt",       "lt"};
        for (size_t i = 0; i < TP_ARRAY_LEN(ignored); i++)
            if (topic_is(j, topic, ignored[i])) return tp_vc_ctl(c, TP_VMSG_IGNORED);
        tp_vc_text_tok(c, topic);
        return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
    }
    int op = TP_JSON_GET(j, 0, "op");
    if (tp_json_type(j, op) == TP_JSON_STRING) return op_reply(c, op);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int group(const struct tp_venue_sub *sub, struct tp_buf *out, const char *prefix,
                 uint32_t per, uint64_t *id, int *nreq)
{
    int rc = 0;
    size_t i = 0;
    while (i < sub->nsymbols && !rc) {
        rc = tp_buf_putc(out, '{');
        if (!rc && *id)
            rc = tp_buf_printf(out, "\"req_id\":\"%llu\",", (unsigned long long)(*id)++);
        if (!rc) rc = tp_buf_puts(out, "\"op\":\"subscribe\",\"args\":[");
        for (uint32_t k = 0; k < per && i < sub->nsymbols && !rc; k++, i++) {
            char s[TP_VSYM_MAX + 1];
            if (tp_vb_native(sub->symbols[i], 0, false, s, sizeof s) < 0) return -EINVAL;
            rc = tp_buf_printf(out, "%s\"%s.%s\"", k ? "," : "", prefix, s);
        }
        if (!rc) rc = tp_buf_puts(out, "]}\n");
        (*nreq)++;
    }
    return rc;
}

/* One request per channel with up to max_sub_args (spot's limit) topics each: tickers, then
 * publicTrade, then kline. */
static int subscribe(const struct tp_venue_sub *sub, struct tp_buf *out)
{
    char kl[24] = "";
    if (sub->channels & TP_VCH_BARS) {
        unsigned cnt;
        char u;
        if (tp_vb_interval(sub->interval, &cnt, &u) < 0) return -EINVAL;
        if (u == 'm' && (cnt == 1 || cnt == 3 || cnt == 5 || cnt == 15 || cnt == 30))
            snprintf(kl, sizeof kl, "kline.%u", cnt);
        else if (u == 'h' && (cnt == 1 || cnt == 2 || cnt == 4 || cnt == 6 || cnt == 12))
            snprintf(kl, sizeof kl, "kline.%u", cnt * 60);
        else if (cnt == 1 && (u == 'd' || u == 'w' || u == 'M'))
            snprintf(kl, sizeof kl, "kline.%c", u == 'd' ? 'D' : u == 'w' ? 'W' : 'M');
        else
            return -EINVAL;
    }
    const uint32_t per = tp_venue_find("bybit")->max_sub_args;
    uint64_t id = sub->req_id;
    int n = 0, rc = 0;
    if (sub->channels & TP_VCH_QUOTES) rc = group(sub, out, "tickers", per, &id, &n);
    if (!rc && (sub->channels & TP_VCH_TRADES)) rc = group(sub, out, "publicTrade", per, &id, &n);
    if (!rc && (sub->channels & TP_VCH_BARS)) rc = group(sub, out, kl, per, &id, &n);
    return rc < 0 ? rc : n;
}

static int ping(uint64_t req_id, struct tp_buf *out)
{
    if (!req_id) return tp_buf_puts(out, "{\"op\":\"ping\"}");
    return tp_buf_printf(out, "{\"req_id\":\"%llu\",\"op\":\"ping\"}", (unsigned long long)req_id);
}

const struct tp_venue tp_venue_bybit = {
    .name = "bybit",
    .endpoint = "wss://stream.bybit.com/v5/public/spot",
    .ping_every_ns = 20 * TP_NS_PER_SEC,
    .channels = TP_VCH_TRADES | TP_VCH_QUOTES | TP_VCH_BARS,
    .max_sub_args = 10,
    .parse = parse,
    .subscribe = subscribe,
    .ping = ping,
    .normalize = normalize,
};
