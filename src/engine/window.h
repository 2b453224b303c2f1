/*
 * window.h — the open windows of one (instrument, interval): bar accumulators kept in a small
 * ring sorted by window start (engine internal; see docs/engine.md).
 *
 * Several windows of one interval can be open at once (out-of-order trades within the
 * allowed lateness, a held watermark). The engine bounds how many (window count ≤
 * (hold cap + lateness) / interval + 3, proved in docs/engine.md) and sizes the ring's
 * maximum from it; the ring grows by doubling up to that maximum, so steady state allocates
 * nothing.
 *
 * Invariants: slots head .. head+n−1 (mod cap) hold windows with strictly ascending `start`;
 * cap is a power of two ≤ max; every window has at least one input (trades ≥ 1).
 * Owned by the engine thread.
 */
#ifndef TP_WINDOW_H
#define TP_WINDOW_H

#include "engine/bar.h"

/* Accumulators of one open window. Open/close follow the tie rule of DESIGN.md §3: open is
 * the first arrival among the smallest ts, close the last arrival among the largest ts. */
struct tp_win {
    int64_t start;
    int64_t first_ts, last_ts;
    double open, high, low, close;
    double volume, notional, buy, sell;
    uint64_t trades;
};

struct tp_wring {
    struct tp_win *w; /* cap slots, owned */
    uint32_t head, n, cap, max;
};

void tp_wring_init(struct tp_wring *r, uint32_t max);
void tp_wring_fini(struct tp_wring *r);

static inline struct tp_win *tp_wring_at(const struct tp_wring *r, uint32_t i)
{
    return &r->w[(r->head + i) & (r->cap - 1)];
}
static inline struct tp_win *tp_wring_front(const struct tp_wring *r)
{
    return r->n ? tp_wring_at(r, 0) : NULL;
}
static inline struct tp_win *tp_wring_back(const struct tp_wring *r)
{
    return r->n ? tp_wring_at(r, r->n - 1) : NULL;
}
static inline void tp_wring_pop(struct tp_wring *r)
{
    r->head = (r->head + 1) & (r->cap - 1);
    r->n--;
}

/* The window starting at `start`, inserted (empty, trades = 0) in order when absent.
 * NULL when the ring is at its maximum or out of memory. */
struct tp_win *tp_wring_get(struct tp_wring *r, int64_t start);

/* Adds one input (a trade, or a quote's mid with size 0) to a window. */
static inline void tp_win_add(struct tp_win *w, int64_t ts, double price, double size, int side)
{
    if (w->trades == 0) {
        w->first_ts = w->last_ts = ts;
        w->open = w->high = w->low = w->close = price;
    } else {
        if (ts < w->first_ts) {
            w->first_ts = ts;
            w->open = price;
        }
        if (ts >= w->last_ts) {
            w->last_ts = ts;
            w->close = price;
        }
        if (price > w->high) w->high = price;
        if (price < w->low) w->low = price;
    }
    w->trades++;
    w->volume += size;
    w->notional += price * size;
    if (side == 1)
        w->buy += size;
    else if (side == 2)
        w->sell += size;
}

/* Fills *b from a window (final and filled false, indicators NaN). */
void tp_win_to_bar(const struct tp_win *w, uint32_t instr, int64_t interval_ns, struct tp_bar *b);

#endif
