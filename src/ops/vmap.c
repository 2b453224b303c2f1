/*
 * vmap.c — the validator's hash map and string interner (see vmap.h).
 */
#include "ops/vmap.h"

static size_t slot_of(const uint64_t k[2], size_t cap)
{
    uint64_t h =
        k[0] * UINT64_C(0x9E3779B97F4A7C15) ^ (k[1] + (k[1] >> 29)) * UINT64_C(0xBF58476D1CE4E5B9);
    h ^= h >> 31;
    return (size_t)h & (cap - 1);
}

void tp_vmap_fini(struct tp_vmap *m)
{
    free(m->k);
    free(m->v);
    memset(m, 0, sizeof *m);
}

void tp_vmap_clear(struct tp_vmap *m)
{
    if (m->k) memset(m->k, 0, 2 * m->cap * sizeof *m->k);
    m->n = 0;
}

uint32_t *tp_vmap_get(const struct tp_vmap *m, const uint64_t key[2])
{
    if (!m->cap) return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        const uint64_t *k = &m->k[2 * i];
        if (k[0] == key[0] && k[1] == key[1]) return &m->v[i];
        if (!k[0] && !k[1]) return NULL;
    }
}

static int grow(struct tp_vmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    if (cap / 2 > TP_VMAP_MAX) return -E2BIG;
    uint64_t *k = calloc(2 * cap, sizeof *k);
    uint32_t *v = malloc(cap * sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        const uint64_t *ok = &m->k[2 * i];
        if (!ok[0] && !ok[1]) continue;
        size_t j = slot_of(ok, cap);
        while (k[2 * j] || k[2 * j + 1]) j = (j + 1) & (cap - 1);
        k[2 * j] = ok[0];
        k[2 * j + 1] = ok[1];
        v[j] = m->v[i];
    }
    free(m->k);
    free(m->v);
    m->k = k;
    m->v = v;
    m->cap = cap;
    return 0;
}

int tp_vmap_put(struct tp_vmap *m, const uint64_t key[2], uint32_t val, uint32_t **ret_slot)
{
    if ((m->n + 1) * 2 > m->cap) {
        if (m->n >= TP_VMAP_MAX) return -E2BIG;
        int rc = grow(m);
        if (rc < 0) return rc;
    }
    size_t i = slot_of(key, m->cap);
    for (;; i = (i + 1) & (m->cap - 1)) {
        uint64_t *k = &m->k[2 * i];
        if (k[0] == key[0] && k[1] == key[1]) {
            if (ret_slot) *ret_slot = &m->v[i];
            return 0;
        }
        if (!k[0] && !k[1]) break;
    }
    m->k[2 * i] = key[0];
    m->k[2 * i + 1] = key[1];
    m->v[i] = val;
    m->n++;
    if (ret_slot) *ret_slot = &m->v[i];
    return 1;
}

uint64_t tp_vhash_a(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

uint64_t tp_vhash_b(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = UINT64_C(0x243F6A8885A308D3) ^ n;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ s[i]) * UINT64_C(0xff51afd7ed558ccd);
        h = (h << 27) | (h >> 37);
    }
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    return h ^ (h >> 33);
}

int tp_vstrs_intern(struct tp_vstrs *t, const char *s, size_t n, uint32_t *ret_id)
{
    uint64_t key[2];
    tp_vmap_key(tp_vhash_a(s, n), tp_vhash_b(s, n), key);
    uint32_t *slot = tp_vmap_get(&t->map, key);
    if (slot) {
        *ret_id = *slot;
        return 0;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **v = realloc(t->s, cap * sizeof *v);
        if (!v) return -ENOMEM;
        t->s = v;
        t->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (!copy) return -ENOMEM;
    memcpy(copy, s, n);
    copy[n] = 0;
    int rc = tp_vmap_put(&t->map, key, (uint32_t)t->n, NULL);
    if (rc < 0) {
        free(copy);
        return rc;
    }
    t->s[t->n] = copy;
    *ret_id = (uint32_t)t->n++;
    return 0;
}

void tp_vstrs_fini(struct tp_vstrs *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->s[i]);
    free(t->s);
    tp_vmap_fini(&t->map);
    memset(t, 0, sizeof *t);
}
