/*
 * vmap.h — an open-addressing hash map from a 128-bit key to a 32-bit value, and a string
 * interner on top of it, for `tickpipe validate` (which counts, deduplicates and joins
 * millions of rows a day without a database).
 *
 * Keys are two uint64 words chosen by the caller (an instrument id and a minute, an
 * instrument and a trade id, two independent hashes of a string); the pair (0, 0) is
 * reserved as the empty slot, so callers set a bit (tp_vmap_key does) to keep real keys
 * nonzero. Linear probing, load factor ≤ 1/2, capacity a power of two, growth by doubling
 * up to TP_VMAP_MAX entries (-E2BIG past it: a bound, so a hostile lake cannot take all
 * memory). Not thread-safe.
 */
#ifndef TP_VMAP_H
#define TP_VMAP_H

#include "core/tp.h"

#define TP_VMAP_MAX (1u << 28)

struct tp_vmap {
    uint64_t *k; /* 2 × cap words */
    uint32_t *v; /* cap values */
    size_t cap;  /* 0 or a power of two */
    size_t n;    /* entries */
};

/* A key from two words, never (0, 0). */
static inline void tp_vmap_key(uint64_t a, uint64_t b, uint64_t out[2])
{
    out[0] = a;
    out[1] = b | (UINT64_C(1) << 63);
}

void tp_vmap_fini(struct tp_vmap *m);
void tp_vmap_clear(struct tp_vmap *m); /* keeps the memory */
/* The value slot of key, or NULL when absent. */
uint32_t *tp_vmap_get(const struct tp_vmap *m, const uint64_t key[2]);
/* Inserts key with value v when absent. 1 inserted, 0 present (*ret_slot points at its
 * value either way; ret_slot may be NULL), or -ENOMEM / -E2BIG. */
int tp_vmap_put(struct tp_vmap *m, const uint64_t key[2], uint32_t v, uint32_t **ret_slot);

/* 64-bit hashes of bytes (two independent ones: FNV-1a and a multiply-rotate mix). */
uint64_t tp_vhash_a(const void *p, size_t n);
uint64_t tp_vhash_b(const void *p, size_t n);

/* Strings interned to dense ids 0, 1, 2, ... (names of instruments, files). */
struct tp_vstrs {
    struct tp_vmap map;
    char **s; /* owned, NUL-terminated */
    size_t n, cap;
};

/* The id of s[0..n), interning it when new. 0 and *ret_id, or -ENOMEM / -E2BIG. */
int tp_vstrs_intern(struct tp_vstrs *t, const char *s, size_t n, uint32_t *ret_id);
static inline const char *tp_vstrs_get(const struct tp_vstrs *t, uint32_t id)
{
    return id < t->n ? t->s[id] : "";
}
void tp_vstrs_fini(struct tp_vstrs *t);

#endif
