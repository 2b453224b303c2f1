/*
 * instrument.c — the interned instrument table (see instrument.h).
 *
 * Design: entries live in fixed chunks that are never moved, so a pointer handed out stays
 * valid; `slots` maps id → entry and is published with release stores, so readers need no
 * lock. The name → id map is an open-addressing hash guarded by the intern mutex; lookups by
 * name also take it (they are not on a hot path: callers cache ids).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/instrument.h"

#define HASH_CAP (TP_INSTR_MAX * 2)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tp_instrument *_Atomic slots[TP_INSTR_MAX + 1];
static _Atomic uint32_t count;
static uint32_t *hash; /* HASH_CAP ids, 0 = empty; under lock */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static bool valid_name(const char *s, size_t n, size_t *venue_len)
{
    if (n == 0 || n > TP_INSTR_NAMELEN) return false;
    const char *colon = memchr(s, ':', n);
    if (!colon || colon == s || colon == s + n - 1) return false;
    size_t v = (size_t)(colon - s);
    for (size_t i = 0; i < v; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
            return false;
    for (size_t i = v + 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    *venue_len = v;
    return true;
}

static uint32_t find_locked(const char *name, size_t n, size_t *slot)
{
    if (!hash) {
        hash = calloc(HASH_CAP, sizeof *hash);
        if (!hash) return 0;
    }
    size_t h = fnv1a(name, n) % HASH_CAP;
    for (;; h = (h + 1) % HASH_CAP) {
        uint32_t id = hash[h];
        if (!id) {
            *slot = h;
            return 0;
        }
        const struct tp_instrument *in = atomic_load_explicit(&slots[id], memory_order_relaxed);
        if (strlen(in->name) == n && !memcmp(in->name, name, n)) return id;
    }
}

int tp_instr_intern(const char *name, size_t n, uint32_t *ret_id)
{
    size_t vlen;
    if (!valid_name(name, n, &vlen)) return -EINVAL;
    pthread_mutex_lock(&lock);
    size_t slot = 0;
    uint32_t id = find_locked(name, n, &slot);
    if (!id) {
        if (!hash) {
            pthread_mutex_unlock(&lock);
            return -ENOMEM;
        }
        uint32_t c = atomic_load_explicit(&count, memory_order_relaxed);
        if (c >= TP_INSTR_MAX) {
            pthread_mutex_unlock(&lock);
            return -ENOSPC;
        }
        struct tp_instrument *in = calloc(1, sizeof *in);
        if (!in) {
            pthread_mutex_unlock(&lock);
            return -ENOMEM;
        }
        id = c + 1;
        in->id = id;
        memcpy(in->name, name, n);
        in->name[n] = 0;
        in->venue_len = (uint8_t)vlen;
        atomic_store_explicit(&slots[id], in, memory_order_release);
        hash[slot] = id;
        atomic_store_explicit(&count, id, memory_order_release);
    }
    pthread_mutex_unlock(&lock);
    *ret_id = id;
    return 0;
}

uint32_t tp_instr_find(const char *name, size_t n)
{
    pthread_mutex_lock(&lock);
    size_t slot;
    uint32_t id = find_locked(name, n, &slot);
    pthread_mutex_unlock(&lock);
    return id;
}

const struct tp_instrument *tp_instr_get(uint32_t id)
{
    if (id == 0 || id > TP_INSTR_MAX) return NULL;
    return atomic_load_explicit(&slots[id], memory_order_acquire);
}

const char *tp_instr_name(uint32_t id)
{
    const struct tp_instrument *in = tp_instr_get(id);
    return in ? in->name : "";
}

uint32_t tp_instr_count(void)
{
    return atomic_load_explicit(&count, memory_order_acquire);
}

void tp_instr_set_tick(uint32_t id, double tick)
{
    struct tp_instrument *in = (struct tp_instrument *)tp_instr_get(id);
    if (in) in->tick = tick;
}

/* Quote currencies for splitting concatenated symbols, longest first so USDT wins over USD. */
static const char *const quotes[] = {"FDUSD", "USDT", "USDC", "TUSD", "BUSD", "EUR", "USD", "GBP",
                                     "JPY",   "TRY",  "BRL",  "AUD",  "BTC",  "ETH", "BNB", "DAI"};

int tp_instr_normalize(const char *venue, const char *sym, size_t symlen, char *out, size_t cap)
{
    size_t vl = strlen(venue);
    char s[TP_INSTR_NAMELEN + 1];
    if (symlen == 0 || symlen > TP_INSTR_NAMELEN) return -EINVAL;
    bool has_sep = false; /* only a plain alphanumeric symbol is split */
    for (size_t i = 0; i < symlen; i++) {
        char c = (char)toupper((unsigned char)sym[i]);
        if (c == '/') c = '-';
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            c = '_';
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) has_sep = true;
        s[i] = c;
    }
    s[symlen] = 0;
    char norm[2 * TP_INSTR_NAMELEN + 2];
    size_t nl = 0;
    if (!has_sep) {
        for (size_t q = 0; q < TP_ARRAY_LEN(quotes); q++) {
            size_t ql = strlen(quotes[q]);
            if (symlen > ql + 1 && !memcmp(s + symlen - ql, quotes[q], ql)) {
                memcpy(norm, s, symlen - ql);
                nl = symlen - ql;
                norm[nl++] = '-';
                memcpy(norm + nl, quotes[q], ql);
                nl += ql;
                break;
            }
        }
    }
    if (!nl) {
        memcpy(norm, s, symlen);
        nl = symlen;
    }
    norm[nl] = 0;
    /* XBT is BTC (Kraken), as a whole base or quote part. */
    char fixed[2 * TP_INSTR_NAMELEN + 2];
    size_t fl = 0;
    for (size_t i = 0; i < nl;) {
        bool start = i == 0 || norm[i - 1] == '-';
        bool end = i + 3 == nl || (i + 3 < nl && norm[i + 3] == '-');
        if (start && end && i + 3 <= nl && !memcmp(norm + i, "XBT", 3)) {
            memcpy(fixed + fl, "BTC", 3);
            fl += 3;
            i += 3;
        } else {
            fixed[fl++] = norm[i++];
        }
    }
    if (vl + 1 + fl + 1 > cap || vl + 1 + fl > TP_INSTR_NAMELEN) return -EINVAL;
    for (size_t i = 0; i < vl; i++)
        if (!(islower((unsigned char)venue[i]) || isdigit((unsigned char)venue[i]) ||
              venue[i] == '_'))
            return -EINVAL;
    memcpy(out, venue, vl);
    out[vl] = ':';
    memcpy(out + vl + 1, fixed, fl);
    out[vl + 1 + fl] = 0;
    return (int)(vl + 1 + fl);
}
