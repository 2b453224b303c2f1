/*
 * fuzz_backfill.c — libFuzzer target for the REST backfill parsers of Coinbase, OKX and Bybit
 * (source/backfill.h: tp_backfill_parse_coinbase, _okx, _bybit).
 *
 * Input: the first byte picks the parser (mod 3) and, by bit 2, a small output array (2
 * events, to reach the cap); the rest is one HTTP body. Each result must be coherent: a
 * failure is -EINVAL (with a NUL-terminated reason) or -E2BIG; data are trades of the asked
 * instrument and native symbol, at the given receive time, with a venue time, a positive
 * finite price, a finite non-negative size and an id (numeric, or a string of at most
 * TP_TRADE_ID_MAX characters), all within the output array.
 */
#include <math.h>

#include "core/instrument.h"
#include "source/backfill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static uint32_t ids[3];
    static const char *const names[] = {"coinbase:BTC-USD", "okx:BTC-USDT", "bybit:BTC-USDT"};
    static const char *const vsyms[] = {"BTC-USD", "BTC-USDT", "BTCUSDT"};
    unsigned which = data[0] % 3u;
    if (!ids[which] && tp_instr_intern(names[which], strlen(names[which]), &ids[which]) != 0)
        abort();
    static struct tp_event ev[CAP];
    size_t cap = (data[0] & 4) ? 2 : CAP;
    char err[160];
    const int64_t recv = INT64_C(1700000000000000000);
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    int n = which == 0   ? tp_backfill_parse_coinbase(body, len, ids[which], vsyms[which], recv, ev,
                                                      cap, err, sizeof err)
            : which == 1 ? tp_backfill_parse_okx(body, len, ids[which], vsyms[which], recv, ev, cap,
                                                 err, sizeof err)
                         : tp_backfill_parse_bybit(body, len, ids[which], vsyms[which], recv, ev,
                                                   cap, err, sizeof err);
    if (n < 0) {
        if (n != -EINVAL && n != -E2BIG) abort();
        if (n == -EINVAL && !memchr(err, 0, sizeof err)) abort();
        return 0;
    }
    if ((size_t)n > cap) abort();
    for (int i = 0; i < n; i++) {
        const struct tp_event *e = &ev[i];
        if (e->kind != TP_KIND_TRADE || e->instr != ids[which] || e->ts_recv != recv ||
            !(e->flags & TP_EV_TS_VENUE) || !(e->flags & TP_EV_HAS_ID) || !isfinite(e->price) ||
            !(e->price > 0) || !isfinite(e->size) || !(e->size >= 0) ||
            strcmp(e->venue_symbol, vsyms[which]))
            abort();
        if ((e->flags & TP_EV_ID_STR) &&
            (!e->trade_id_str[0] || strlen(e->trade_id_str) > TP_TRADE_ID_MAX))
            abort();
    }
    return 0;
}
