/*
 * dedup.c — duplicate detection for trades (dedup.h).
 *
 * The numeric bitmap is a ring of bits: bit (id mod bits) stands for the one id of the window
 * (hwm − bits, hwm] congruent to it, so sliding the window clears the bits of the ids it
 * passes over (at most the whole bitmap, word by word).
 *
 * The two sets share one structure, struct tp_fset: entries in a FIFO ring (insertion order
 * is eviction order, which is what the count and age bounds need) and a linear-probing index
 * of ring slots with backward-shift deletion, so lookups, inserts and evictions are O(1)
 * expected without tombstones. The index has at least twice as many slots as the ring. The
 * hash only finds entries; it never decides an order, so outputs do not depend on it.
 */
#include <math.h>

#include "engine/dedup.h"
#include "engine/watermark.h"

struct str_ent {
    uint64_t h;
    int64_t ts;
    uint8_t len;
    char id[TP_TRADE_ID_MAX];
};

struct snap_ent {
    uint64_t h;
    int64_t ts;
    double price, size;
    uint32_t n;   /* times the key was seen (stream and new batch copies) */
    uint32_t m;   /* copies matched in batch `run` */
    uint32_t run; /* the batch m counts for */
    uint8_t side;
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return mix64(h);
}

static uint64_t dbits(double v)
{
    v += 0.0; /* -0 and +0 are the same size */
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static uint64_t hash_snap(int64_t ts, double price, double size, uint8_t side)
{
    uint64_t h = mix64((uint64_t)ts ^ UINT64_C(0x9e3779b97f4a7c15));
    h = mix64(h ^ dbits(price));
    h = mix64(h ^ (dbits(size) + side));
    return h;
}

/* ---- FIFO hashed set ---------------------------------------------------------------- */

static void fset_init(struct tp_fset *s, uint32_t esz, uint32_t max)
{
    memset(s, 0, sizeof *s);
    s->esz = esz;
    s->max = max;
    s->ref = INT64_MIN;
}

static void fset_fini(struct tp_fset *s)
{
    free(s->ents);
    free(s->idx);
    s->ents = NULL;
    s->idx = NULL;
    s->n = s->cap = s->icap = s->head = 0;
}

static inline void *fset_slot(const struct tp_fset *s, uint32_t slot)
{
    return s->ents + (size_t)slot * s->esz;
}

static inline void *fset_at(const struct tp_fset *s, uint32_t i)
{
    return fset_slot(s, (s->head + i) & (s->cap - 1));
}

static inline uint64_t ent_hash(const void *e)
{
    uint64_t h;
    memcpy(&h, e, sizeof h);
    return h;
}

static inline int64_t ent_ts(const void *e)
{
    int64_t t;
    memcpy(&t, (const char *)e + 8, sizeof t);
    return t;
}

/* An index slot: the low 32 bits of the entry's hash (its tag: the home slot, and a filter
 * that spares reading the entry on a mismatch) above its ring slot + 1; 0 when empty. */
static inline uint64_t idx_val(uint64_t h, uint32_t slot)
{
    return (h << 32) | (uint64_t)(slot + 1);
}

static inline uint32_t idx_slot(uint64_t v)
{
    return (uint32_t)v - 1;
}

static inline uint32_t idx_tag(uint64_t v)
{
    return (uint32_t)(v >> 32);
}

static void idx_insert(struct tp_fset *s, uint64_t h, uint32_t slot)
{
    uint32_t m = s->icap - 1, i = (uint32_t)h & m;
    while (s->idx[i]) i = (i + 1) & m;
    s->idx[i] = idx_val(h, slot);
}

static void idx_remove(struct tp_fset *s, uint32_t slot)
{
    uint32_t m = s->icap - 1, i = (uint32_t)ent_hash(fset_slot(s, slot)) & m;
    while (idx_slot(s->idx[i]) != slot) i = (i + 1) & m;
    /* Backward-shift: pull later members of the probe run into the hole when their home
     * slot does not lie cyclically in (hole, j]. */
    for (uint32_t j = i;;) {
        j = (j + 1) & m;
        if (!s->idx[j]) break;
        uint32_t k = idx_tag(s->idx[j]) & m;
        bool movable = i <= j ? (k <= i || k > j) : (k <= i && k > j);
        if (movable) {
            s->idx[i] = s->idx[j];
            i = j;
        }
    }
    s->idx[i] = 0;
}

static void fset_pop(struct tp_fset *s)
{
    idx_remove(s, s->head);
    s->head = (s->head + 1) & (s->cap - 1);
    s->n--;
}

/* Evicts the entries older than max_age against ref (count them). */
static void fset_expire(struct tp_fset *s, int64_t max_age, uint64_t *evictions)
{
    if (max_age <= 0) return;
    while (s->n && s->ref - ent_ts(fset_at(s, 0)) > max_age) {
        fset_pop(s);
        (*evictions)++;
    }
}

static int fset_grow(struct tp_fset *s)
{
    uint32_t ncap = s->cap ? s->cap * 2 : 64;
    while (ncap / 2 >= s->max && ncap > 64) ncap /= 2; /* smallest power of two ≥ max */
    if (ncap <= s->cap) return -ENOSPC;
    uint8_t *ne = malloc((size_t)ncap * s->esz);
    uint64_t *ni = calloc((size_t)ncap * 2, sizeof *ni);
    if (!ne || !ni) {
        free(ne);
        free(ni);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < s->n; i++) memcpy(ne + (size_t)i * s->esz, fset_at(s, i), s->esz);
    free(s->ents);
    free(s->idx);
    s->ents = ne;
    s->idx = ni;
    s->cap = ncap;
    s->icap = ncap * 2;
    s->head = 0;
    for (uint32_t i = 0; i < s->n; i++) idx_insert(s, ent_hash(fset_slot(s, i)), i);
    return 0;
}

/* A new entry at the back (its hash and ts written, the rest zeroed), evicting the oldest
 * when the set is full. NULL on out of memory. */
static void *fset_push(struct tp_fset *s, uint64_t h, int64_t ts, uint64_t *evictions)
{
    if (s->n == s->cap && s->cap < s->max && fset_grow(s) < 0 && s->cap == 0) return NULL;
    if (s->n == s->max || s->n == s->cap) {
        fset_pop(s);
        (*evictions)++;
    }
    uint32_t slot = (s->head + s->n) & (s->cap - 1);
    void *e = fset_slot(s, slot);
    memset(e, 0, s->esz);
    memcpy(e, &h, sizeof h);
    memcpy((char *)e + 8, &ts, sizeof ts);
    s->n++;
    idx_insert(s, h, slot);
    if (ts > s->ref) s->ref = ts;
    return e;
}

static struct str_ent *str_find(const struct tp_fset *s, uint64_t h, const char *id, size_t n)
{
    if (!s->n) return NULL;
    uint32_t m = s->icap - 1;
    for (uint32_t i = (uint32_t)h & m; s->idx[i]; i = (i + 1) & m) {
        if (idx_tag(s->idx[i]) != (uint32_t)h) continue;
        struct str_ent *e = fset_slot(s, idx_slot(s->idx[i]));
        if (e->h == h && e->len == n && !memcmp(e->id, id, n)) return e;
    }
    return NULL;
}

static struct snap_ent *snap_find(const struct tp_fset *s, uint64_t h, int64_t ts, double price,
                                  double size, uint8_t side)
{
    if (!s->n) return NULL;
    uint32_t m = s->icap - 1;
    for (uint32_t i = (uint32_t)h & m; s->idx[i]; i = (i + 1) & m) {
        if (idx_tag(s->idx[i]) != (uint32_t)h) continue;
        struct snap_ent *e = fset_slot(s, idx_slot(s->idx[i]));
        if (e->h == h && e->ts == ts && e->price == price && e->size == size && e->side == side)
            return e;
    }
    return NULL;
}

/* ---- the three kinds of ids ----------------------------------------------------------- */

void tp_dedup_init(struct tp_dedup *d, const struct tp_dedup_cfg *c)
{
    memset(d, 0, sizeof *d);
    fset_init(&d->str, sizeof(struct str_ent), c->str_max);
    fset_init(&d->snap, sizeof(struct snap_ent), c->snap_max);
}

void tp_dedup_fini(struct tp_dedup *d)
{
    free(d->bits);
    d->bits = NULL;
    fset_fini(&d->str);
    fset_fini(&d->snap);
}

/* Clears the bits of ids lo..hi (inclusive, hi − lo < nbits), wrapping around the ring. */
static void clear_ids(uint64_t *bits, uint32_t nbits, uint64_t lo, uint64_t hi)
{
    uint64_t mask = nbits - 1;
    for (uint64_t id = lo; id <= hi;) {
        uint64_t b = id & mask;
        if ((b & 63) == 0 && hi - id >= 63) {
            bits[b >> 6] = 0;
            id += 64;
        } else {
            bits[b >> 6] &= ~(UINT64_C(1) << (b & 63));
            if (id == hi) break;
            id++;
        }
    }
}

static bool dedup_num(struct tp_dedup *d, const struct tp_dedup_cfg *c, uint64_t id,
                      uint64_t *evictions)
{
    uint64_t mask = c->bits - 1;
    if (!d->bits) {
        d->bits = calloc(c->bits / 64, sizeof *d->bits);
        if (!d->bits) return false;
    }
    if (!d->has_hwm || id > d->hwm) {
        if (!d->has_hwm || id - d->hwm >= c->bits)
            memset(d->bits, 0, c->bits / 8);
        else
            clear_ids(d->bits, c->bits, d->hwm + 1, id);
        d->has_hwm = true;
        d->hwm = id;
    } else if (d->hwm - id >= c->bits) {
        (*evictions)++; /* too old to tell: treated as a duplicate */
        return true;
    }
    uint64_t b = id & mask, bit = UINT64_C(1) << (b & 63);
    if (d->bits[b >> 6] & bit) return true;
    d->bits[b >> 6] |= bit;
    return false;
}

static bool dedup_str(struct tp_dedup *d, const struct tp_dedup_cfg *c, const struct tp_event *ev,
                      uint64_t *evictions)
{
    size_t n = ev->trade_id_len;
    if (n > TP_TRADE_ID_MAX) n = TP_TRADE_ID_MAX;
    uint64_t h = hash_bytes(ev->trade_id_str, n);
    if (ev->ts > d->str.ref) d->str.ref = ev->ts;
    fset_expire(&d->str, c->max_age, evictions);
    if (str_find(&d->str, h, ev->trade_id_str, n)) return true;
    struct str_ent *e = fset_push(&d->str, h, ev->ts, evictions);
    if (e) {
        e->len = (uint8_t)n;
        memcpy(e->id, ev->trade_id_str, n);
    }
    return false;
}

static bool dedup_content(struct tp_dedup *d, const struct tp_dedup_cfg *c,
                          const struct tp_event *ev, uint64_t *evictions)
{
    bool flagged = ev->flags & TP_EV_SNAPSHOT;
    if (flagged) {
        /* A batch is written in time order: a step back in ts starts the next batch. */
        if (!d->in_run || ev->ts < d->run_last_ts) d->run++;
        d->in_run = true;
        d->run_last_ts = ev->ts;
    } else {
        d->in_run = false;
    }
    uint64_t h = hash_snap(ev->ts, ev->price, ev->size, ev->side);
    if (ev->ts > d->snap.ref) d->snap.ref = ev->ts;
    fset_expire(&d->snap, c->max_age, evictions);
    struct snap_ent *e = snap_find(&d->snap, h, ev->ts, ev->price, ev->size, ev->side);
    if (e) {
        if (flagged) {
            if (e->run != d->run) {
                e->run = d->run;
                e->m = 0;
            }
            if (e->m < e->n) {
                e->m++;
                return true;
            }
            e->m++;
        }
        if (e->n < UINT32_MAX) e->n++;
        return false;
    }
    e = fset_push(&d->snap, h, ev->ts, evictions);
    if (e) {
        e->price = ev->price;
        e->size = ev->size;
        e->side = ev->side;
        e->n = 1;
        e->m = flagged ? 1 : 0;
        e->run = flagged ? d->run : 0;
    }
    return false;
}

bool tp_dedup_trade(struct tp_dedup *d, const struct tp_dedup_cfg *c, const struct tp_event *ev,
                    uint64_t *evictions)
{
    if (ev->flags & TP_EV_HAS_ID) {
        if (!(ev->flags & TP_EV_ID_STR)) return dedup_num(d, c, ev->trade_id, evictions);
        /* An empty string id identifies nothing: such trades are id-less. */
        if (ev->trade_id_len > 0) return dedup_str(d, c, ev, evictions);
    }
    return dedup_content(d, c, ev, evictions);
}

/* ---- checkpoint ------------------------------------------------------------------------ */

/* Bitmap words as runs: varint count, then a u8 kind (0 zeros, 1 ones, 2 literal words). */
static int save_bits(const uint64_t *w, uint32_t nw, struct tp_buf *b)
{
    int rc = 0;
    for (uint32_t i = 0; i < nw && rc == 0;) {
        uint32_t j = i;
        if (w[i] == 0 || w[i] == UINT64_MAX) {
            while (j < nw && w[j] == w[i]) j++;
            rc = tp_buf_varint(b, j - i);
            if (rc == 0) rc = tp_buf_u8(b, w[i] == 0 ? 0 : 1);
        } else {
            while (j < nw && w[j] != 0 && w[j] != UINT64_MAX) j++;
            rc = tp_buf_varint(b, j - i);
            if (rc == 0) rc = tp_buf_u8(b, 2);
            for (uint32_t k = i; k < j && rc == 0; k++) rc = tp_buf_u64(b, w[k]);
        }
        i = j;
    }
    return rc;
}

static int load_bits(uint64_t *w, uint32_t nw, struct tp_rd *r)
{
    for (uint32_t i = 0; i < nw;) {
        uint64_t run = tp_rd_varint(r);
        uint8_t kind = tp_rd_u8(r);
        if (r->err || run == 0 || run > nw - i || kind > 2) return -EBADMSG;
        for (uint64_t k = 0; k < run; k++)
            w[i++] = kind == 0 ? 0 : kind == 1 ? UINT64_MAX : tp_rd_u64(r);
        if (r->err) return -EBADMSG;
    }
    return 0;
}

int tp_dedup_save(const struct tp_dedup *d, const struct tp_dedup_cfg *c, struct tp_buf *b)
{
    int rc =
        tp_buf_u8(b, (uint8_t)((d->bits ? 1 : 0) | (d->has_hwm ? 2 : 0) | (d->in_run ? 4 : 0)));
    if (rc == 0) rc = tp_buf_u64(b, d->hwm);
    if (rc == 0) rc = tp_buf_u32(b, d->run);
    if (rc == 0) rc = tp_buf_i64(b, d->run_last_ts);
    if (rc == 0 && d->bits) rc = save_bits(d->bits, c->bits / 64, b);

    if (rc == 0) rc = tp_buf_i64(b, d->str.ref);
    if (rc == 0) rc = tp_buf_varint(b, d->str.n);
    for (uint32_t i = 0; i < d->str.n && rc == 0; i++) {
        const struct str_ent *e = fset_at(&d->str, i);
        rc = tp_buf_i64(b, e->ts);
        if (rc == 0) rc = tp_buf_str(b, e->id, e->len);
    }
    if (rc == 0) rc = tp_buf_i64(b, d->snap.ref);
    if (rc == 0) rc = tp_buf_varint(b, d->snap.n);
    for (uint32_t i = 0; i < d->snap.n && rc == 0; i++) {
        const struct snap_ent *e = fset_at(&d->snap, i);
        rc = tp_buf_i64(b, e->ts);
        if (rc == 0) rc = tp_buf_f64(b, e->price);
        if (rc == 0) rc = tp_buf_f64(b, e->size);
        if (rc == 0) rc = tp_buf_u8(b, e->side);
        if (rc == 0) rc = tp_buf_u32(b, e->n);
        if (rc == 0) rc = tp_buf_u32(b, e->m);
        if (rc == 0) rc = tp_buf_u32(b, e->run);
    }
    return rc;
}

int tp_dedup_load(struct tp_dedup *d, const struct tp_dedup_cfg *c, struct tp_rd *r)
{
    uint64_t ev = 0; /* evictions cannot happen while loading ≤ max entries */
    uint8_t fl = tp_rd_u8(r);
    d->hwm = tp_rd_u64(r);
    d->run = tp_rd_u32(r);
    d->run_last_ts = tp_rd_i64(r);
    if (r->err || fl > 7) return -EBADMSG;
    d->has_hwm = fl & 2;
    d->in_run = fl & 4;
    if (fl & 1) {
        d->bits = calloc(c->bits / 64, sizeof *d->bits);
        if (!d->bits) return -ENOMEM;
        if (load_bits(d->bits, c->bits / 64, r) < 0) return -EBADMSG;
    } else if (d->has_hwm) {
        return -EBADMSG;
    }

    int64_t ref = tp_rd_i64(r);
    uint64_t n = tp_rd_varint(r);
    if (r->err || n > c->str_max) return -EBADMSG;
    for (uint64_t i = 0; i < n; i++) {
        int64_t ts = tp_rd_i64(r);
        const char *s;
        size_t len;
        tp_rd_str(r, &s, &len, TP_TRADE_ID_MAX);
        if (r->err || ts < -TP_ENGINE_TS_MAX || ts > TP_ENGINE_TS_MAX) return -EBADMSG;
        uint64_t h = hash_bytes(s, len);
        if (str_find(&d->str, h, s, len)) return -EBADMSG;
        struct str_ent *e = fset_push(&d->str, h, ts, &ev);
        if (!e) return -ENOMEM;
        e->len = (uint8_t)len;
        memcpy(e->id, s, len);
    }
    if (ref < d->str.ref || ref > TP_ENGINE_TS_MAX) return -EBADMSG;
    d->str.ref = ref;

    ref = tp_rd_i64(r);
    n = tp_rd_varint(r);
    if (r->err || n > c->snap_max) return -EBADMSG;
    for (uint64_t i = 0; i < n; i++) {
        int64_t ts = tp_rd_i64(r);
        double price = tp_rd_f64(r), size = tp_rd_f64(r);
        uint8_t side = tp_rd_u8(r);
        uint32_t cnt = tp_rd_u32(r), m = tp_rd_u32(r), run = tp_rd_u32(r);
        if (r->err || cnt == 0 || side > 2 || ts < -TP_ENGINE_TS_MAX || ts > TP_ENGINE_TS_MAX ||
            !isfinite(price) || !isfinite(size))
            return -EBADMSG;
        uint64_t h = hash_snap(ts, price, size, side);
        if (snap_find(&d->snap, h, ts, price, size, side)) return -EBADMSG;
        struct snap_ent *e = fset_push(&d->snap, h, ts, &ev);
        if (!e) return -ENOMEM;
        e->price = price;
        e->size = size;
        e->side = side;
        e->n = cnt;
        e->m = m;
        e->run = run;
    }
    if (ref < d->snap.ref || ref > TP_ENGINE_TS_MAX) return -EBADMSG;
    d->snap.ref = ref;
    return ev ? -EBADMSG : 0;
}
