/*
 * backoff.h — capped exponential backoff with jitter, for anything that reconnects (venue
 * connections, sinks): it never gives up, never waits longer than its cap, and spreads the
 * retries of many clients apart so that they do not reconnect in lockstep.
 *
 * After the k-th consecutive failure (k = 0 for the first), the delay is drawn uniformly from
 * [d/2, d] with d = min(max, min · 2^k) ("equal jitter"): it doubles on average, is never
 * below half the floor, never above the cap, and two clients that failed together drift apart.
 * A success resets the count (tp_backoff_reset); the caller decides what counts as one (for a
 * venue: a connection that stayed up and delivered data, not a bare TCP connect, so that a
 * server which accepts and drops at once is not hammered at the floor rate).
 *
 * Pure state, no clock and no locking: one owner thread.
 */
#ifndef TP_BACKOFF_H
#define TP_BACKOFF_H

#include "core/rng.h"

struct tp_backoff {
    int64_t min_ns, max_ns; /* floor (> 0) and cap (≥ floor) of d */
    uint32_t attempt;       /* consecutive failures since the last reset */
    struct tp_rng rng;
};

/* min_ns ≤ 0 becomes 1 ms; max_ns below min_ns becomes min_ns. seed decorrelates clients. */
void tp_backoff_init(struct tp_backoff *b, int64_t min_ns, int64_t max_ns, uint64_t seed);
/* Counts one more failure and returns the delay (ns) to wait before the next attempt. */
int64_t tp_backoff_next(struct tp_backoff *b);
/* The upper bound d of the next tp_backoff_next (for messages and tests). */
int64_t tp_backoff_ceiling(const struct tp_backoff *b);
static inline void tp_backoff_reset(struct tp_backoff *b)
{
    b->attempt = 0;
}

#endif
