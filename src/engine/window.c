/*
 * window.c — the ring of open windows of one (instrument, interval) (window.h).
 *
 * Lookup checks the newest window first (in-order trades hit it), then walks back; an
 * out-of-order window is inserted by shifting the newer ones one slot towards the back.
 * Both walks are bounded by the ring's maximum, which the engine derives from the lateness
 * and the hold cap, and are short in practice (a few windows).
 */
#include <math.h>

#include "engine/window.h"

void tp_wring_init(struct tp_wring *r, uint32_t max)
{
    r->w = NULL;
    r->head = r->n = r->cap = 0;
    r->max = max;
}

void tp_wring_fini(struct tp_wring *r)
{
    free(r->w);
    r->w = NULL;
    r->head = r->n = r->cap = 0;
}

/* Doubles the capacity (up to max), moving the windows to slots 0..n−1. */
static int grow(struct tp_wring *r)
{
    uint32_t ncap = r->cap ? r->cap * 2 : 4;
    if (ncap > r->max) ncap = r->max;
    if (ncap <= r->cap) return -ENOSPC;
    struct tp_win *nw = malloc(sizeof *nw * ncap);
    if (!nw) return -ENOMEM;
    for (uint32_t i = 0; i < r->n; i++) nw[i] = *tp_wring_at(r, i);
    free(r->w);
    r->w = nw;
    r->cap = ncap;
    r->head = 0;
    return 0;
}

struct tp_win *tp_wring_get(struct tp_wring *r, int64_t start)
{
    /* Position i: the first window whose start is ≥ start, searched from the back. */
    uint32_t i = r->n;
    while (i > 0 && tp_wring_at(r, i - 1)->start >= start) i--;
    if (i < r->n && tp_wring_at(r, i)->start == start) return tp_wring_at(r, i);
    if (r->n == r->cap && grow(r) < 0) return NULL;
    for (uint32_t j = r->n; j > i; j--) *tp_wring_at(r, j) = *tp_wring_at(r, j - 1);
    r->n++;
    struct tp_win *w = tp_wring_at(r, i);
    memset(w, 0, sizeof *w);
    w->start = start;
    return w;
}

void tp_win_to_bar(const struct tp_win *w, uint32_t instr, int64_t interval_ns, struct tp_bar *b)
{
    b->instr = instr;
    b->interval_ns = interval_ns;
    b->ts = w->start;
    b->open = w->open;
    b->high = w->high;
    b->low = w->low;
    b->close = w->close;
    b->volume = w->volume;
    b->notional = w->notional;
    if (w->volume > 0) {
        double v = w->notional / w->volume;
        /* Rounding can put Σp·s / Σs a hair outside [low, high]; a vwap never is. */
        b->vwap = v < w->low ? w->low : v > w->high ? w->high : v;
    } else {
        b->vwap = NAN;
    }
    b->trades = w->trades;
    b->buy_volume = w->buy;
    b->sell_volume = w->sell;
    b->first_ts = w->first_ts;
    b->last_ts = w->last_ts;
    b->final = false;
    b->filled = false;
    tp_ind_values_clear(&b->ind);
}
