/*
 * backfill_coinbase.c — the Coinbase Exchange REST trades body for the gap backfill
 * (GET /products/{product_id}/trades, docs.cdp.coinbase.com "Get product trades"):
 *
 *   [{"time":"2026-11-26T05:00:00.123456Z","trade_id":74,"price":"10.00000000",
 *     "size":"0.01000000","side":"buy"}, ...]            newest first
 *   {"message":"NotFound"}                                an error (with a 4xx status)
 *
 * `side` is the MAKER order's side (the docs: "buy" is a down-tick, the maker was a buy), as
 * in the WebSocket match and market_trades messages: the taker is the opposite side, the
 * mapping venue_coinbase.c uses. trade_id is a number here and a string on the Advanced Trade
 * stream; both become the same numeric id, so the engine sees repeats as repeats.
 */
#include "source/backfill_int.h"

int tp_backfill_parse_coinbase(const char *body, size_t len, uint32_t instr, const char *vsym,
                               int64_t recv, struct tp_event *ev, size_t cap, char *err,
                               size_t errcap)
{
    struct tp_json js;
    tp_json_init(&js, 0, 0);
    int n = -EINVAL;
    if (err && errcap) err[0] = 0;
    if (tp_json_parse(&js, body, len) < 0) {
        tp_backfill_err(&js, -1, "not JSON", err, errcap);
        goto out;
    }
    if (tp_json_type(&js, 0) == TP_JSON_OBJECT) {
        tp_backfill_err(&js, TP_JSON_GET(&js, 0, "message"), "the venue's error", err, errcap);
        goto out;
    }
    if (tp_json_type(&js, 0) != TP_JSON_ARRAY) {
        tp_backfill_err(&js, -1, "not a list of trades", err, errcap);
        goto out;
    }
    size_t k = 0;
    TP_JSON_FOREACH_ELEM(&js, 0, t)
    {
        if (tp_json_type(&js, t) != TP_JSON_OBJECT) {
            tp_backfill_err(&js, -1, "a trade is not an object", err, errcap);
            goto out;
        }
        if (k == cap) {
            n = -E2BIG;
            goto out;
        }
        struct tp_event *e = &ev[k];
        tp_event_init(e, TP_KIND_TRADE);
        if (tp_backfill_fields(&js, TP_JSON_GET(&js, t, "price"), TP_JSON_GET(&js, t, "size"),
                               TP_JSON_GET(&js, t, "time"), TP_JSON_GET(&js, t, "trade_id"),
                               e) < 0) {
            tp_backfill_err(&js, -1, "a trade lacks a usable price, size, time or trade_id", err,
                            errcap);
            goto out;
        }
        int side = TP_JSON_GET(&js, t, "side");
        e->side = TP_JSON_EQ(&js, side, "buy")    ? TP_SIDE_SELL /* a buy order made the book */
                  : TP_JSON_EQ(&js, side, "sell") ? TP_SIDE_BUY
                                                  : TP_SIDE_UNKNOWN;
        e->instr = instr;
        e->ts_recv = recv;
        tp_event_set_vsym(e, vsym, strlen(vsym));
        k++;
    }
    n = (int)k;
out:
    tp_json_fini(&js);
    return n;
}
