/*
 * backoff.c — capped exponential backoff with equal jitter (see backoff.h).
 */
#include "core/backoff.h"

#define MAX_SHIFT 40 /* 2^40 · 1 ns already exceeds any sensible cap */

void tp_backoff_init(struct tp_backoff *b, int64_t min_ns, int64_t max_ns, uint64_t seed)
{
    b->min_ns = min_ns > 0 ? min_ns : TP_NS_PER_MS;
    b->max_ns = max_ns >= b->min_ns ? max_ns : b->min_ns;
    b->attempt = 0;
    tp_rng_seed(&b->rng, seed);
}

int64_t tp_backoff_ceiling(const struct tp_backoff *b)
{
    uint32_t k = b->attempt < MAX_SHIFT ? b->attempt : MAX_SHIFT;
    /* min · 2^k without overflow: stop doubling once past the cap. */
    int64_t d = b->min_ns;
    for (uint32_t i = 0; i < k && d < b->max_ns; i++) d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
    return d < b->max_ns ? d : b->max_ns;
}

int64_t tp_backoff_next(struct tp_backoff *b)
{
    int64_t d = tp_backoff_ceiling(b);
    if (b->attempt < UINT32_MAX) b->attempt++;
    int64_t half = d / 2;
    return half + (int64_t)(tp_rng_uniform(&b->rng) * (double)(d - half));
}
