/*
 * rng.h — a small, fast, deterministic random number generator (xoshiro256**, seeded through
 * splitmix64) with the distributions the simulator and the dataset generator need. The same
 * seed gives the same sequence on every machine that has the same libm. Not thread-safe: one
 * generator per thread.
 */
#ifndef TP_RNG_H
#define TP_RNG_H

#include <math.h>

#include "core/tp.h"

struct tp_rng {
    uint64_t s[4];
    bool have_spare;
    double spare;
};

static inline uint64_t tp_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void tp_rng_seed(struct tp_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = tp_splitmix64(&seed);
    r->have_spare = false;
    r->spare = 0;
}

static inline uint64_t tp_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t tp_rng_u64(struct tp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = tp_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = tp_rng_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double tp_rng_uniform(struct tp_rng *r)
{
    return (double)(tp_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n); n > 0. */
static inline uint64_t tp_rng_below(struct tp_rng *r, uint64_t n)
{
    return (uint64_t)(tp_rng_uniform(r) * (double)n) % n;
}

/* Standard normal (Marsaglia polar method). */
static inline double tp_rng_normal(struct tp_rng *r)
{
    if (r->have_spare) {
        r->have_spare = false;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2 * tp_rng_uniform(r) - 1;
        v = 2 * tp_rng_uniform(r) - 1;
        s = u * u + v * v;
    } while (s >= 1 || s == 0);
    double m = sqrt(-2 * log(s) / s);
    r->spare = v * m;
    r->have_spare = true;
    return u * m;
}

/* Exponential with the given mean. */
static inline double tp_rng_exp(struct tp_rng *r, double mean)
{
    return -mean * log1p(-tp_rng_uniform(r));
}

#endif
