/*
 * fuzz_venues.c — libFuzzer target for the venue parsers (source/venue.h).
 *
 * Input: the first byte picks the venue (binance, coinbase, okx, kraken, bybit spot, bybit
 * linear, bitstamp, finnhub); the rest is split at line breaks into messages fed, in order, to
 * one parser — so state carried between messages (gap detection, Bybit's ticker merge,
 * pending candles) is fuzzed too. Every result must be coherent: failures carry a reason,
 * successes a type, events come in time order with sane trade and quote values, and the
 * parser never writes past the small output array.
 */
#include <math.h>

#include "source/venue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 64

static const struct {
    const char *venue, *market;
} pick[] = {{"binance", NULL}, {"coinbase", NULL},  {"okx", NULL},      {"kraken", NULL},
            {"bybit", NULL},   {"bybit", "linear"}, {"bitstamp", NULL}, {"finnhub", NULL}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t which = data[0] % (sizeof pick / sizeof pick[0]);
    struct tp_venue_opts o = {.market = pick[which].market, .max_symbols = 64, .max_tokens = 4096};
    struct tp_venue_parser *p;
    if (tp_venue_parser_new(tp_venue_find(pick[which].venue), &o, &p) != 0) abort();
    static struct tp_event ev[CAP];
    struct tp_venue_result res;
    const char *s = (const char *)data + 1, *end = (const char *)data + size;
    int64_t recv = INT64_C(1700000000000000000);
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        int r = tp_venue_parse(p, s, n, recv, ev, CAP, &res);
        if (r < 0) {
            if (res.reason == TP_VR_NONE || res.type != TP_VMSG_NONE) abort();
            if ((r == -E2BIG) != (res.reason == TP_VR_EVENTS)) abort();
        } else {
            if (res.type == TP_VMSG_NONE || r > CAP || res.text_len > TP_VENUE_TEXT_MAX) abort();
            for (int i = 0; i < r; i++) {
                const struct tp_event *e = &ev[i];
                if (i && e->ts < ev[i - 1].ts) abort();
                if (e->instr == 0 || e->vsym_len == 0 || e->ts_recv != recv) abort();
                if (e->kind == TP_KIND_TRADE && !(e->price > 0 && e->size >= 0)) abort();
                if (e->kind == TP_KIND_QUOTE && !(e->bid > 0 && e->ask > 0)) abort();
                if (e->kind == TP_KIND_STATUS && e->trade_id > e->gap_last) abort();
                if (!isfinite(e->price) && e->kind == TP_KIND_TRADE) abort();
            }
        }
        recv += 1000;
        s += n + 1;
    }
    tp_venue_parser_free(p);
    return 0;
}
