/*
 * fuzz_rest.c — libFuzzer target for the REST body parsers (source/rest.h).
 *
 * Input: the first byte picks the parser (its low 3 bits mod 6: coingecko, alphavantage, yahoo,
 * fmp, Binance aggTrades and historicalTrades for the gap backfill, source/backfill.h; bit 3
 * turns on a symbol filter, as the poller sets for batch venues); the rest is one HTTP body.
 * The body is parsed twice by the same parser (the token array is reused between bodies), and
 * each result must be coherent: a failure has a kind and no events, data comes in time order
 * with an instrument of the venue and the receive time given, within the small output array;
 * vendor bars (Yahoo charts, Alpha Vantage intraday series, seeds av_intraday_*) have open,
 * high, low and a venue time.
 */
#include <math.h>

#include "core/instrument.h"
#include "source/backfill.h"
#include "source/rest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 32

static const char *const venues[] = {"coingecko", "alphavantage", "yahoo", "fmp"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned which = (data[0] & 7u) % 6;
    if (which >= 4) { /* the backfill's Binance trades: ids 100..199 wanted */
        static uint32_t id;
        if (!id && tp_instr_intern("binance:BTC-USDT", 16, &id) != 0) abort();
        static struct tp_event bev[CAP];
        uint64_t max;
        int n = tp_backfill_parse_binance((const char *)data + 1, size - 1, which == 4, id,
                                          "BTCUSDT", 100, 199, 7, bev, CAP, &max);
        if ((n < 0 && n != -EINVAL && n != -E2BIG) || n > CAP) abort();
        for (int i = 0; i < n; i++)
            if (bev[i].kind != TP_KIND_TRADE || bev[i].trade_id < 100 || bev[i].trade_id > 199 ||
                bev[i].trade_id > max || bev[i].ts_recv != 7 || bev[i].instr != id ||
                bev[i].side == TP_SIDE_UNKNOWN)
                abort();
        return 0;
    }
    const char *vname = venues[which];
    struct tp_rest_parser *p;
    if (tp_rest_parser_new(tp_rest_find(vname), &p) != 0) abort();
    if (data[0] & 8) {
        const char *want[] = {"EUR/USD", "bitcoin", "AAPL"};
        if (tp_rest_parser_filter(p, want, 3) != 0) abort();
    }
    static struct tp_event ev[CAP];
    struct tp_rest_result res;
    const int64_t recv = INT64_C(1700000000000000000);
    for (int round = 0; round < 2; round++) {
        int n = tp_rest_parse(p, (const char *)data + 1, size - 1, recv, ev, CAP, &res);
        if (n < 0) {
            if (n != -EINVAL && n != -E2BIG) abort();
            if (res.kind == TP_REST_NONE || res.kind == TP_REST_DATA) abort();
        } else {
            if (res.kind != TP_REST_DATA || n > CAP) abort();
        }
        if (res.text_len > TP_REST_TEXT_MAX || strlen(res.text) != res.text_len) abort();
        for (int i = 0; i < n; i++) {
            const struct tp_event *e = &ev[i];
            if (i && e->ts < ev[i - 1].ts) abort();
            if (e->ts_recv != recv || e->instr == 0 || e->vsym_len == 0) abort();
            const char *name = tp_instr_name(e->instr);
            if (strncmp(name, vname, strlen(vname)) || name[strlen(vname)] != ':') abort();
            if (e->kind != TP_KIND_SNAPSHOT && e->kind != TP_KIND_QUOTE && e->kind != TP_KIND_VBAR)
                abort();
            if (e->kind == TP_KIND_QUOTE && (isnan(e->bid) || isnan(e->ask))) abort();
            if (e->kind != TP_KIND_QUOTE && isnan(e->price)) abort();
            /* vendor bars (Yahoo charts, Alpha Vantage intraday series) carry o/h/l/c and a
             * venue time */
            if (e->kind == TP_KIND_VBAR &&
                (isnan(e->open) || isnan(e->high) || isnan(e->low) || !(e->flags & TP_EV_TS_VENUE)))
                abort();
        }
    }
    tp_rest_parser_free(p);
    return 0;
}
