/*
 * backfill_okx.c — the OKX v5 REST trades body for the outage backfill
 * (GET /api/v5/market/history-trades?instId=I&type=1&after=ID&limit=100 and
 * GET /api/v5/market/trades, www.okx.com/docs-v5 "Get trades history"):
 *
 *   {"code":"0","msg":"","data":[{"instId":"BTC-USDT","side":"sell","sz":"0.00001",
 *    "px":"29963.2","tradeId":"242720720","ts":"1654161646974"}, ...]}     newest first
 *   {"code":"51001","msg":"Instrument ID does not exist","data":[]}        an error
 *
 * The rows have the shape of the WebSocket `trades` channel's data, so they go through the
 * live OKX parser (venue_okx.c) wrapped as a trades push: the same exact decimals, taker
 * side, venue time and id form (a numeric tradeId string becomes a number) as the stream.
 * Rows of another instId are skipped; a row without a tradeId (optional on the stream) makes
 * the body unusable: a fetched trade must be recognizable as a repeat.
 */
#include "core/buf.h"
#include "source/backfill_int.h"
#include "source/venue.h"

#define ROWS_MAX  4096
#define WRAP_HEAD "{\"arg\":{\"channel\":\"trades\"},\"data\":"

int tp_backfill_parse_okx(const char *body, size_t len, uint32_t instr, const char *vsym,
                          int64_t recv, struct tp_event *ev, size_t cap, char *err, size_t errcap)
{
    struct tp_json js;
    tp_json_init(&js, 0, 0);
    struct tp_venue_parser *p = NULL;
    struct tp_event *tmp = NULL;
    struct tp_buf w;
    tp_buf_init(&w, len + 64);
    int n = -EINVAL;
    if (err && errcap) err[0] = 0;
    if (tp_json_parse(&js, body, len) < 0 || tp_json_type(&js, 0) != TP_JSON_OBJECT) {
        tp_backfill_err(&js, -1, "not a JSON object", err, errcap);
        goto out;
    }
    int code = TP_JSON_GET(&js, 0, "code");
    if (!TP_JSON_EQ(&js, code, "0")) {
        tp_backfill_err(&js, TP_JSON_GET(&js, 0, "msg"), code < 0 ? "no code" : "the venue's error",
                        err, errcap);
        goto out;
    }
    int data = TP_JSON_GET(&js, 0, "data");
    if (tp_json_type(&js, data) != TP_JSON_ARRAY) {
        tp_backfill_err(&js, -1, "no data list", err, errcap);
        goto out;
    }
    if (!tp_json_size(&js, data)) {
        n = 0;
        goto out;
    }
    if (tp_buf_append(&w, WRAP_HEAD, sizeof WRAP_HEAD - 1) < 0 ||
        tp_buf_append(&w, tp_json_text(&js, data), tp_json_len(&js, data)) < 0 ||
        tp_buf_append(&w, "}", 1) < 0) {
        n = -E2BIG;
        goto out;
    }
    size_t rows = tp_json_size(&js, data);
    if (rows > ROWS_MAX) { /* a page is 100 rows: room for the live parser, capped */
        n = -E2BIG;
        goto out;
    }
    tmp = malloc(rows * sizeof *tmp);
    if (!tmp) {
        n = -ENOMEM;
        goto out;
    }
    struct tp_venue_opts vo = {.max_symbols = 64};
    if (tp_venue_parser_new(tp_venue_find("okx"), &vo, &p) < 0) {
        n = -ENOMEM;
        goto out;
    }
    struct tp_venue_result r;
    int m = tp_venue_parse(p, w.p, w.len, recv, tmp, rows, &r);
    if (m < 0) {
        if (err && errcap)
            snprintf(err, errcap, "a trade is unusable (%s%s%.*s)", tp_vreason_name(r.reason),
                     r.text_len ? ": " : "", (int)r.text_len, r.text);
        goto out;
    }
    size_t k = 0, vl = strlen(vsym);
    for (int i = 0; i < m; i++) {
        struct tp_event *e = &tmp[i];
        if (e->kind != TP_KIND_TRADE || e->vsym_len != vl || memcmp(e->venue_symbol, vsym, vl))
            continue;
        if (!(e->flags & TP_EV_HAS_ID)) { /* optional on the stream; needed here (dedup) */
            if (err && errcap) snprintf(err, errcap, "a trade has no tradeId");
            n = -EINVAL;
            goto out;
        }
        if (k == cap) {
            n = -E2BIG;
            goto out;
        }
        e->instr = instr;
        ev[k++] = *e;
    }
    n = (int)k;
out:
    tp_venue_parser_free(p);
    free(tmp);
    tp_buf_fini(&w);
    tp_json_fini(&js);
    return n;
}
