/*
 * venue_finnhub.c — Finnhub real-time trades (wss://ws.finnhub.io?token=KEY).
 *
 * Messages:
 *   {"data":[{"p":price,"s":SYMBOL,"t":ms,"v":volume,"c":[conditions]|null}, ...],
 *    "type":"trade"} — batches, possibly of several symbols, in any order; prices and
 *    volumes are JSON numbers (read exactly from their text); v may be 0 (FX); no side, no
 *    trade id
 *   {"type":"ping"} — sent when no trades flow (outside market hours); nothing to answer
 *   {"type":"error","msg":"..."}; {"type":"news",...} → ignored
 * Symbols: "AAPL", "BINANCE:BTCUSDT", "OANDA:EUR_USD", "IC MARKETS:1"; characters outside
 * A-Z 0-9 . _ - become '_' (finnhub:BINANCE_BTCUSDT). Subscriptions name the native symbol,
 * one per request.
 */
#include "source/venue_int.h"

static int trades(struct tp_vctx *c, int data)
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
            (rc = tp_vc_time(c, TP_JSON_GET(j, d, "t"), "t", &ts)) < 0)
            return rc;
        struct tp_event *e = tp_vc_add(c, TP_KIND_TRADE, si, 0);
        if (!e) return TP_VC_FULL(c);
        e->price = px;
        e->size = sz;
        tp_vc_ts(e, ts);
    }
    return 0;
}

static int parse(struct tp_vctx *c, const char *msg, size_t len)
{
    int rc = tp_vc_json(c, msg, len);
    if (rc < 0) return rc;
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) != TP_JSON_OBJECT) return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
    int type = TP_JSON_GET(j, 0, "type");
    if (TP_JSON_EQ(j, type, "trade")) {
        tp_vc_ctl(c, TP_VMSG_DATA);
        return trades(c, TP_JSON_GET(j, 0, "data"));
    }
    if (TP_JSON_EQ(j, type, "ping")) return tp_vc_ctl(c, TP_VMSG_PING);
    if (TP_JSON_EQ(j, type, "error")) {
        tp_vc_text_tok(c, TP_JSON_GET(j, 0, "msg"));
        return tp_vc_ctl(c, TP_VMSG_ERROR);
    }
    if (TP_JSON_EQ(j, type, "news")) return tp_vc_ctl(c, TP_VMSG_IGNORED);
    tp_vc_text_tok(c, type);
    return tp_vc_fail(c, TP_VR_UNKNOWN, NULL);
}

static int subscribe(const struct tp_venue_sub *sub, struct tp_buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < sub->nsymbols && !rc; i++) {
        const char *s = sub->symbols[i];
        size_t n = strlen(s);
        if (!n || n > TP_VSYM_MAX) return -EINVAL;
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)s[k] < 0x20 || (unsigned char)s[k] > 0x7e) return -EINVAL;
        rc = tp_buf_puts(out, "{\"type\":\"subscribe\",\"symbol\":");
        if (!rc) rc = tp_vb_str(out, s, n);
        if (!rc) rc = tp_buf_puts(out, "}\n");
    }
    return rc < 0 ? rc : (int)sub->nsymbols;
}

const struct tp_venue tp_venue_finnhub = {
    .name = "finnhub",
    .endpoint = "wss://ws.finnhub.io",
    .ping_every_ns = 0,
    .channels = TP_VCH_TRADES,
    .max_sub_args = 1,
    .parse = parse,
    .subscribe = subscribe,
};
