/*
 * backfill_bybit.c — the Bybit v5 REST recent trades body for the outage backfill
 * (GET /v5/market/recent-trade?category=spot|linear|inverse&symbol=S&limit=L,
 * bybit-exchange.github.io/docs/v5/market/recent-trade):
 *
 *   {"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[{"execId":"2290000001189048101",
 *    "symbol":"BTCUSDT","price":"65140.5","size":"0.002705","side":"Buy","time":"1786310822605",
 *    "isBlockTrade":false}, ...]},"retExtInfo":{},"time":1786310822700}      newest first
 *   {"retCode":10001,"retMsg":"params error: symbol invalid","result":{},...}   an error
 *
 * `side` is the taker's side, as `S` in the publicTrade stream; execId is the stream's `i`
 * (a numeric string on spot, a UUID on derivatives) and becomes the same id the live parser
 * makes. Rows of another symbol are skipped. There is no pagination: the list is the most
 * recent trades only (spot up to 60, derivatives up to 1000).
 */
#include "source/backfill_int.h"

int tp_backfill_parse_bybit(const char *body, size_t len, uint32_t instr, const char *vsym,
                            int64_t recv, struct tp_event *ev, size_t cap, char *err, size_t errcap)
{
    struct tp_json js;
    tp_json_init(&js, 0, 0);
    int n = -EINVAL;
    if (err && errcap) err[0] = 0;
    if (tp_json_parse(&js, body, len) < 0 || tp_json_type(&js, 0) != TP_JSON_OBJECT) {
        tp_backfill_err(&js, -1, "not a JSON object", err, errcap);
        goto out;
    }
    int64_t code;
    if (tp_json_i64(&js, TP_JSON_GET(&js, 0, "retCode"), &code) < 0) {
        tp_backfill_err(&js, -1, "no retCode", err, errcap);
        goto out;
    }
    if (code != 0) {
        tp_backfill_err(&js, TP_JSON_GET(&js, 0, "retMsg"), "the venue's error", err, errcap);
        goto out;
    }
    int list = TP_JSON_GET(&js, TP_JSON_GET(&js, 0, "result"), "list");
    if (tp_json_type(&js, list) != TP_JSON_ARRAY) {
        tp_backfill_err(&js, -1, "no result.list", err, errcap);
        goto out;
    }
    size_t k = 0, vl = strlen(vsym);
    TP_JSON_FOREACH_ELEM(&js, list, t)
    {
        if (tp_json_type(&js, t) != TP_JSON_OBJECT) {
            tp_backfill_err(&js, -1, "a trade is not an object", err, errcap);
            goto out;
        }
        int sym = TP_JSON_GET(&js, t, "symbol");
        if (sym >= 0 && !tp_json_eq(&js, sym, vsym, vl)) continue;
        if (k == cap) {
            n = -E2BIG;
            goto out;
        }
        struct tp_event *e = &ev[k];
        tp_event_init(e, TP_KIND_TRADE);
        if (tp_backfill_fields(&js, TP_JSON_GET(&js, t, "price"), TP_JSON_GET(&js, t, "size"),
                               TP_JSON_GET(&js, t, "time"), TP_JSON_GET(&js, t, "execId"), e) < 0) {
            tp_backfill_err(&js, -1, "a trade lacks a usable price, size, time or execId", err,
                            errcap);
            goto out;
        }
        int side = TP_JSON_GET(&js, t, "side");
        e->side = TP_JSON_EQ(&js, side, "Buy")    ? TP_SIDE_BUY
                  : TP_JSON_EQ(&js, side, "Sell") ? TP_SIDE_SELL
                                                  : TP_SIDE_UNKNOWN;
        e->instr = instr;
        e->ts_recv = recv;
        tp_event_set_vsym(e, vsym, vl);
        k++;
    }
    n = (int)k;
out:
    tp_json_fini(&js);
    return n;
}
