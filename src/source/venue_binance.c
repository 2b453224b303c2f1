/*
 * venue_binance.c — Binance spot market streams (stream.binance.com).
 *
 * Messages (raw `/ws/<stream>` payloads, or the combined-stream envelope
 * {"stream":"<name>","data":<payload>}; a payload may be an array of events, as `!ticker@arr`):
 *   trade       {"e":"trade","E":ms,"s":SYM,"t":id,"p":"px","q":"qty","T":ms,"m":bool,...}
 *   aggTrade    as trade with "a" (aggregate id), "f"/"l" (first/last trade id)
 *   bookTicker  {"u":id,"s":SYM,"b":"bid","B":"qty","a":"ask","A":"qty"} — no type, no time
 *   24hrTicker  quote from b/B/a/A at E
 *   kline       {"e":"kline","E":ms,"s":SYM,"k":{"t":open ms,"o","h","l","c","v","x":closed}}
 *   serverShutdown {"e":"serverShutdown","E":ms} — planned disconnect
 *   replies     {"result":...,"id":N}; errors {"error":{"code","msg"},"id":N} and the bare
 *               {"code":N,"msg":"..."} of the documented error table
 *   ignored     depthUpdate, partial depth {"lastUpdateId",...}, mini tickers, rolling window
 *               tickers, avgPrice
 * Conventions: "m" true means the buyer was the maker, so the taker sold. Trade time is "T"
 * (else "E"); times are ms, or µs on `timeUnit=MICROSECOND` connections (told apart by digit
 * count). Trade ids ("t") and aggregate ids ("a") are consecutive per symbol: each is a gap
 * detection stream. Symbols are concatenated (BTCUSDT → binance:BTC-USDT).
 *
 * The payload's members are read in one pass into a table indexed by single-letter key (the
 * hot path: a trade frame costs one tokenization, one member walk and two exact decimal
 * conversions).
 */
#include "source/venue_int.h"

enum { STREAM_TRADE = 1, STREAM_AGG = 2 };

#define KEYS 58 /* single-letter keys 'A'..'z' */

static inline int key1(const struct tp_json *j, int k)
{
    const struct tp_json_tok *t = &j->tok[k];
    if (t->len != 1 || t->esc) return -1;
    int ch = j->src[t->off] - 'A';
    return ch >= 0 && ch < KEYS ? ch : -1;
}

#define F(ch) f[(ch) - 'A']

static int taker_side(struct tp_vctx *c, int tok, struct tp_event *e)
{
    bool m;
    if (tok < 0) return 0; /* unknown */
    if (tp_json_bool(c->j, tok, &m) < 0) return tp_vc_fail(c, TP_VR_FIELD, "m: not a boolean");
    e->side = m ? TP_SIDE_SELL : TP_SIDE_BUY;
    return 0;
}

static int trade(struct tp_vctx *c, const int *f, int idtok, int stream)
{
    double px, qty;
    int64_t ts;
    int rc, si = tp_vc_sym_tok(c, F('s'));
    if (si < 0) return si;
    if ((rc = tp_vc_price(c, F('p'), "p", &px)) < 0) return rc;
    if ((rc = tp_vc_size(c, F('q'), "q", &qty)) < 0) return rc;
    int tt = F('T') >= 0 ? F('T') : F('E');
    if ((rc = tp_vc_time(c, tt, "T", &ts)) < 0) return rc;
    struct tp_event *e = tp_vc_add(c, TP_KIND_TRADE, si, stream);
    if (!e) return TP_VC_FULL(c);
    e->price = px;
    e->size = qty;
    tp_vc_ts(e, ts);
    if ((rc = taker_side(c, F('m'), e)) < 0) return rc;
    if (idtok >= 0 && (rc = tp_vc_id(c, e, idtok)) < 0) return rc;
    return 0;
}

static int quote(struct tp_vctx *c, const int *f, int tstok)
{
    int rc, si = tp_vc_sym_tok(c, F('s'));
    if (si < 0) return si;
    int64_t ts = 0;
    if (tstok >= 0 && (rc = tp_vc_time(c, tstok, "E", &ts)) < 0) return rc;
    return tp_vc_quote(c, si, F('b'), F('B'), F('a'), F('A'), ts, tstok >= 0);
}

static int kline(struct tp_vctx *c, const int *f)
{
    struct tp_json *j = c->j;
    int k = F('k');
    if (tp_json_type(j, k) != TP_JSON_OBJECT) return tp_vc_fail(c, TP_VR_FIELD, "k missing");
    int g[KEYS];
    for (int i = 0; i < KEYS; i++) g[i] = -1;
    TP_JSON_FOREACH_MEMBER(j, k, kk, kv)
    {
        int ch = key1(j, kk);
        if (ch >= 0 && g[ch] < 0) g[ch] = kv;
    }
    bool closed;
    if (tp_json_bool(j, g['x' - 'A'], &closed) < 0)
        return tp_vc_fail(c, TP_VR_FIELD, "k.x: not a boolean");
    int si = tp_vc_sym_tok(c, F('s') >= 0 ? F('s') : g['s' - 'A']);
    if (si < 0) return si;
    if (!closed) return 0; /* an update of the open bar: not a vendor bar yet */
    double o, h, l, cl, v;
    int64_t t;
    int rc;
    if ((rc = tp_vc_time(c, g['t' - 'A'], "k.t", &t)) < 0 ||
        (rc = tp_vc_price(c, g['o' - 'A'], "k.o", &o)) < 0 ||
        (rc = tp_vc_price(c, g['h' - 'A'], "k.h", &h)) < 0 ||
        (rc = tp_vc_price(c, g['l' - 'A'], "k.l", &l)) < 0 ||
        (rc = tp_vc_price(c, g['c' - 'A'], "k.c", &cl)) < 0 ||
        (rc = tp_vc_size(c, g['v' - 'A'], "k.v", &v)) < 0)
        return rc;
    return tp_vc_bar(c, si, t, o, h, l, cl, v);
}

/* One event payload (an object). */
static int payload(struct tp_vctx *c, int o)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, o) != TP_JSON_OBJECT)
        return tp_vc_fail(c, TP_VR_FIELD, "payload is not an object");
    int f[KEYS];
    for (int i = 0; i < KEYS; i++) f[i] = -1;
    TP_JSON_FOREACH_MEMBER(j, o, k, v)
    {
        int ch = key1(j, k);
        if (ch >= 0 && f[ch] < 0) f[ch] = v;
    }
    int e = F('e');
    if (e < 0) {
        if (F('u') >= 0 && F('b') >= 0 && F('a') >= 0) {
            tp_vc_ctl(c, TP_VMSG_DATA);
            return quote(c, f, -1); /* spot bookTicker: no time of its own */
        }
        if (TP_JSON_GET(j, o, "lastUpdateId") >= 0) return tp_vc_ctl(c, TP_VMSG_IGNORED);
        return tp_vc_fail(c, TP_VR_UNKNOWN, "payload without an event type");
    }
    if (TP_JSON_EQ(j, e, "trade")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        return trade(c, f, F('t'), STREAM_TRADE);
    }
    if (TP_JSON_EQ(j, e, "aggTrade")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        return trade(c, f, F('a'), STREAM_AGG);
    }
    if (TP_JSON_EQ(j, e, "kline")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        return kline(c, f);
    }
    if (TP_JSON_EQ(j, e, "bookTicker")) { /* futures-style book ticker: has a time */
        tp_vc_ctl(c, TP_VMSG_DATA);
        return quote(c, f, F('T') >= 0 ? F('T') : F('E'));
    }
    if (TP_JSON_EQ(j, e, "24hrTicker")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        return quote(c, f, F('E'));
    }
    if (TP_JSON_EQ(j, e, "serverShutdown")) {
        tp_vc_text(c, "serverShutdown", 14);
        return tp_vc_ctl(c, TP_VMSG_RECONNECT);
    }
    static const char *const ignored[] = {"depthUpdate",     "24hrMiniTicker", "1hTicker",
                                          "4hTicker",        "1dTicker",       "avgPrice",
                                          "markPriceUpdate", "forceOrder"};
    for (size_t i = 0; i < TP_ARRAY_LEN(ignored); i++)
        if (tp_json_eq(j, e, ignored[i], strlen(ignored[i]))) return tp_vc_ctl(c, TP_VMSG_IGNORED);
    tp_vc_text_tok(c, e);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int error_obj(struct tp_vctx *c, int o)
{
    struct tp_json *j = c->j;
    tp_vc_code(c, TP_JSON_GET(j, o, "code"));
    tp_vc_text_tok(c, TP_JSON_GET(j, o, "msg"));
    return tp_vc_ctl(c, TP_VMSG_ERROR);
}

static int parse(struct tp_vctx *c, const char *msg, size_t len)
{
    int rc = tp_vc_json(c, msg, len);
    if (rc < 0) return rc;
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) == TP_JSON_ARRAY) {
        TP_JSON_FOREACH_ELEM(j, 0, el)
        {
            if ((rc = payload(c, el)) < 0) return rc;
        }
        return tp_vc_ctl(c, TP_VMSG_DATA);
    }
    if (tp_json_type(j, 0) != TP_JSON_OBJECT) return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
    /* Fast path: a raw payload starts with its event type. */
    if (j->n > 1 && key1(j, 1) == 'e' - 'A') return payload(c, 0);
    int data = TP_JSON_GET(j, 0, "data");
    if (data >= 0 && TP_JSON_GET(j, 0, "stream") >= 0) {
        if (tp_json_type(j, data) == TP_JSON_ARRAY) {
            TP_JSON_FOREACH_ELEM(j, data, el)
            {
                if ((rc = payload(c, el)) < 0) return rc;
            }
            return tp_vc_ctl(c, TP_VMSG_DATA);
        }
        return payload(c, data);
    }
    int id = TP_JSON_GET(j, 0, "id");
    int err = TP_JSON_GET(j, 0, "error");
    if (err >= 0) {
        tp_vc_req_id(c, id);
        if (tp_json_type(j, err) == TP_JSON_OBJECT) return error_obj(c, err);
        tp_vc_text_tok(c, err);
        return tp_vc_ctl(c, TP_VMSG_ERROR);
    }
    int result = TP_JSON_GET(j, 0, "result");
    if (result >= 0 && id >= 0) {
        tp_vc_req_id(c, id);
        if (tp_json_type(j, result) != TP_JSON_NULL) tp_vc_text_tok(c, result);
        return tp_vc_ctl(c, TP_VMSG_ACK);
    }
    if (TP_JSON_GET(j, 0, "code") >= 0 && TP_JSON_GET(j, 0, "msg") >= 0) {
        tp_vc_req_id(c, id);
        return error_obj(c, 0);
    }
    return payload(c, 0);
}

static int add_stream(struct tp_buf *out, int *n, const char *sym, const char *suffix)
{
    int rc = 0;
    if (*n) rc = tp_buf_putc(out, ',');
    if (!rc) rc = tp_buf_printf(out, "\"%s@%s\"", sym, suffix);
    (*n)++;
    return rc;
}

static int subscribe(const struct tp_venue_sub *sub, struct tp_buf *out)
{
    char kl[24] = "";
    if (sub->channels & TP_VCH_BARS) {
        unsigned cnt;
        char u;
        if (tp_vb_interval(sub->interval, &cnt, &u) < 0) return -EINVAL;
        bool ok =
            (u == 's' && cnt == 1) ||
            (u == 'm' && (cnt == 1 || cnt == 3 || cnt == 5 || cnt == 15 || cnt == 30)) ||
            (u == 'h' && (cnt == 1 || cnt == 2 || cnt == 4 || cnt == 6 || cnt == 8 || cnt == 12)) ||
            (u == 'd' && (cnt == 1 || cnt == 3)) || ((u == 'w' || u == 'M') && cnt == 1);
        if (!ok) return -EINVAL;
        snprintf(kl, sizeof kl, "kline_%u%c", cnt, u);
    }
    const uint32_t per = tp_venue_find("binance")->max_sub_args;
    uint64_t id = sub->req_id ? sub->req_id : 1;
    int nreq = 0, nin = 0, rc = 0;
    for (size_t i = 0; i < sub->nsymbols && rc == 0; i++) {
        char s[TP_VSYM_MAX + 1];
        if (tp_vb_native(sub->symbols[i], 0, true, s, sizeof s) < 0) return -EINVAL;
        const char *chans[3];
        int nc = 0;
        if (sub->channels & TP_VCH_TRADES)
            chans[nc++] = sub->channels & TP_VCH_AGG ? "aggTrade" : "trade";
        if (sub->channels & TP_VCH_QUOTES) chans[nc++] = "bookTicker";
        if (sub->channels & TP_VCH_BARS) chans[nc++] = kl;
        for (int k = 0; k < nc && rc == 0; k++) {
            if (nin == 0) rc = tp_buf_puts(out, "{\"method\":\"SUBSCRIBE\",\"params\":[");
            if (!rc) rc = add_stream(out, &nin, s, chans[k]);
            if (!rc && (uint32_t)nin == per) {
                rc = tp_buf_printf(out, "],\"id\":%llu}\n", (unsigned long long)id++);
                nin = 0;
                nreq++;
            }
        }
    }
    if (!rc && nin) {
        rc = tp_buf_printf(out, "],\"id\":%llu}\n", (unsigned long long)id);
        nreq++;
    }
    return rc < 0 ? rc : nreq;
}

const struct tp_venue tp_venue_binance = {
    .name = "binance",
    .endpoint = "wss://stream.binance.com:9443/stream",
    .ping_every_ns = 0, /* the server pings (protocol frames) every 20 s */
    .channels = TP_VCH_TRADES | TP_VCH_QUOTES | TP_VCH_BARS | TP_VCH_AGG,
    .max_sub_args = 200,
    .parse = parse,
    .subscribe = subscribe,
};
