/*
 * record.c — the codec of journal payloads (see record.h; the byte layout is in
 * docs/journal.md).
 *
 * Layout rules: a type byte, then fields in a fixed order. Times are 8 raw little-endian
 * bytes (full range, no surprises before 1970), related times are zigzag varint deltas
 * (ts_recv − ts, first_ts − ts, last_ts − first_ts, wrapping so that every int64 round-trips),
 * small integers are LEB128 varints, strings are a varint length and bytes, instruments are
 * stored by name. Optional doubles are covered by a presence bitmap: a double is absent when
 * it holds exactly the canonical NaN (what tp_event_init and tp_ind_values_clear put there)
 * and is otherwise stored as its 8 raw bytes, so every value round-trips bit for bit (-0,
 * infinities, other NaNs).
 *
 * Encodings are canonical: varints minimal, bits of flag bytes known, absent doubles never
 * written as present, strings without NUL, no trailing bytes. Decoders accept exactly the
 * canonical encodings, so decode followed by encode gives back the input bytes (the fuzz
 * target checks it). Encoders refuse (-EINVAL) any value a decoder would refuse, so nothing
 * unreadable is ever written.
 *
 * Each encoder reserves its worst-case size once and writes with plain stores; on any error
 * the buffer is left as it was. Pure; any thread (decoding interns through the thread-safe
 * instrument table, and only once the whole record has validated).
 */
#include <endian.h>
#include <math.h>
#include <stddef.h>

#include "log/record.h"

#include "core/instrument.h"

#define EVENT_MAX                                                                                  \
    (4 + 3 + 8 + 10 + 1 + TP_INSTR_NAMELEN + 1 + TP_VSYM_MAX + 3 + 11 * 8 + 10 + 10 + 1 +          \
     TP_TRADE_ID_MAX)
#define SOURCE_MAX  128
#define EV_FLAGS    0x7fu
#define EV_DOUBLES  11
#define BAR_DOUBLES 20
#define BIT_ID      (1u << 11)
#define BIT_GAPLAST (1u << 12)
#define BIT_IDSTR   (1u << 13)

/* ---- writing into reserved space ---- */

struct wr {
    uint8_t *p;
};

static void w_u8(struct wr *w, uint8_t v)
{
    *w->p++ = v;
}

static void w_u64(struct wr *w, uint64_t v)
{
    v = htole64(v);
    memcpy(w->p, &v, 8);
    w->p += 8;
}

static void w_uv(struct wr *w, uint64_t v)
{
    while (v >= 0x80) {
        *w->p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *w->p++ = (uint8_t)v;
}

static uint64_t zigzag(uint64_t d)
{
    return (d << 1) ^ (uint64_t)(-(int64_t)(d >> 63));
}

static uint64_t unzigzag(uint64_t z)
{
    return (z >> 1) ^ (uint64_t)(-(int64_t)(z & 1));
}

static void w_str(struct wr *w, const char *s, size_t n)
{
    w_uv(w, n);
    memcpy(w->p, s, n);
    w->p += n;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static uint64_t absent_bits(void)
{
    return dbits(NAN);
}

/* Writes the presence bitmap and then the present doubles of v[0..n). */
static void w_doubles(struct wr *w, const double *const *v, int n, uint32_t extra)
{
    uint64_t nan = absent_bits();
    uint32_t bits = extra;
    for (int i = 0; i < n; i++)
        if (dbits(*v[i]) != nan) bits |= 1u << i;
    w_uv(w, bits);
    for (int i = 0; i < n; i++)
        if (bits & (1u << i)) w_u64(w, dbits(*v[i]));
}

static bool clean_str(const char *s, size_t n)
{
    return !memchr(s, 0, n);
}

/* The stored name of an instrument id: "" for 0; NULL for an id nobody interned. */
static const char *instr_name(uint32_t id)
{
    if (id == 0) return "";
    const struct tp_instrument *in = tp_instr_get(id);
    return in ? in->name : NULL;
}

static int begin(struct tp_buf *b, size_t max, struct wr *w)
{
    int rc = tp_buf_reserve(b, max);
    if (rc < 0) return rc;
    w->p = (uint8_t *)b->p + b->len;
    return 0;
}

static int finish(struct tp_buf *b, const struct wr *w)
{
    b->len = (size_t)((char *)w->p - b->p);
    b->p[b->len] = 0;
    return 0;
}

/* ---- reading ----
 *
 * The readers are inline and check bounds once per field: a varint of one byte (most of them)
 * costs a compare and a load, a u64 one unaligned load. A failed check sets r->err, returns 0
 * and does not move, so the decoders check err once at the end. */

static inline uint8_t rd_u8(struct tp_rd *r)
{
    if (TP_UNLIKELY(r->p >= r->end)) {
        r->err = true;
        return 0;
    }
    return *r->p++;
}

static inline uint64_t rd_u64(struct tp_rd *r)
{
    if (TP_UNLIKELY(r->end - r->p < 8)) {
        r->err = true;
        return 0;
    }
    uint64_t v;
    memcpy(&v, r->p, 8);
    r->p += 8;
    return le64toh(v);
}

static uint64_t r_uv_slow(struct tp_rd *r)
{
    /* Three bytes (trade ids up to 2^21) without the loop. */
    if (r->end - r->p >= 3 && (r->p[1] & 0x80) && !(r->p[2] & 0x80) && r->p[2]) {
        uint64_t v =
            (uint64_t)(r->p[0] & 0x7f) | (uint64_t)(r->p[1] & 0x7f) << 7 | (uint64_t)r->p[2] << 14;
        r->p += 3;
        return v;
    }
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->err || r->p >= r->end) break;
        uint8_t c = *r->p++;
        if (i == 9 && c > 1) break;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            if (i > 0 && c == 0) break;
            return v;
        }
    }
    r->err = true;
    return 0;
}

/* A minimal LEB128 varint (no overlong forms, no bits past 64). One and two bytes inline. */
static inline uint64_t r_uv(struct tp_rd *r)
{
    if (TP_LIKELY(r->p < r->end && *r->p < 0x80)) return *r->p++;
    if (r->end - r->p >= 2 && r->p[1] && r->p[1] < 0x80) {
        uint64_t v = (uint64_t)(r->p[0] & 0x7f) | (uint64_t)r->p[1] << 7;
        r->p += 2;
        return v;
    }
    return r_uv_slow(r);
}

static inline uint8_t r_u8_max(struct tp_rd *r, uint8_t lo, uint8_t hi)
{
    uint8_t v = rd_u8(r);
    if (v < lo || v > hi) r->err = true;
    return v;
}

/* A string of at most max bytes: *s points into the record (borrowed). Returns its length. */
static inline size_t r_span(struct tp_rd *r, const char **s, size_t max)
{
    uint64_t n = r_uv(r); /* minimal, unlike tp_rd_str's length */
    *s = (const char *)r->p;
    if (TP_UNLIKELY(r->err || n > max || n > tp_rd_left(r))) {
        r->err = true;
        return 0;
    }
    r->p += n;
    return (size_t)n;
}

/* A string of at most max bytes without NUL, copied into dst (NUL-terminated). */
static inline size_t r_cstr(struct tp_rd *r, char *dst, size_t max)
{
    if (TP_LIKELY(r->p < r->end && *r->p == 0)) { /* empty, the usual venue_symbol */
        r->p++;
        dst[0] = 0;
        return 0;
    }
    const char *s;
    size_t n = r_span(r, &s, max);
    if (r->err || !clean_str(s, n)) {
        r->err = true;
        dst[0] = 0;
        return 0;
    }
    memcpy(dst, s, n);
    dst[n] = 0;
    return n;
}

/* The event's optional doubles, price to value, lie next to each other (checked below). */
static const uint16_t ev_double_off[EV_DOUBLES];
static const double nan_run[EV_DOUBLES] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
_Static_assert(offsetof(struct tp_event, value) ==
                   offsetof(struct tp_event, price) + (EV_DOUBLES - 1) * sizeof(double),
               "the event's doubles are one run");

/* The presence bitmap and the present doubles: field i of the n is written at
 * (char *)base + off[i] (NaN when absent). */
static inline void r_doubles(struct tp_rd *r, void *base, const uint16_t *off, int n,
                             uint32_t extra_mask, uint32_t *ret_bits)
{
    uint64_t bits = r_uv(r);
    uint64_t nan = absent_bits();
    if (bits >> n & ~(uint64_t)(extra_mask >> n)) r->err = true;
    if (off == ev_double_off) /* an event's doubles are one run: fill it at once */
        memcpy((char *)base + off[0], nan_run, sizeof nan_run);
    else
        for (int i = 0; i < n; i++) memcpy((char *)base + off[i], &nan, 8);
    /* The present ones, lowest bit first (a trade has two or three of eleven). */
    for (uint64_t m = bits & ((UINT64_C(1) << n) - 1); m; m &= m - 1) {
        uint64_t u = rd_u64(r);
        if (u == nan) r->err = true;
        memcpy((char *)base + off[__builtin_ctzll(m)], &u, 8);
    }
    *ret_bits = (uint32_t)bits;
}

/* An instrument name, borrowed from the record (validated later by interning). */
struct name {
    const char *p;
    size_t n;
};

static inline void r_instr(struct tp_rd *r, struct name *nm)
{
    nm->n = r_span(r, &nm->p, TP_INSTR_NAMELEN);
}

/* Interning takes the instrument table's mutex; a decoder sees the same names again and
 * again, so each thread keeps the ids of the names it met in a direct-mapped cache of
 * (id, tag) pairs, checked against the table's own copy of the name. The table never forgets
 * or renumbers a name, so a cached id stays right for the process's life, and only names the
 * table accepted are cached. */
#define NAME_CACHE 4096

struct name_slot {
    uint32_t id, tag;
};

static _Thread_local struct name_slot name_cache[NAME_CACHE];

static inline uint32_t name_hash(const char *s, size_t n)
{
    uint64_t a = 0, b = 0;
    memcpy(&a, s, n < 8 ? n : 8);
    if (n > 8) memcpy(&b, s + n - 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ n) * 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32);
}

static int intern(const struct name *nm, uint32_t *id)
{
    if (nm->n == 0) {
        *id = 0;
        return 0;
    }
    uint32_t h = name_hash(nm->p, nm->n);
    struct name_slot *set = &name_cache[h & (NAME_CACHE - 2)]; /* two ways */
    for (int w = 0; w < 2; w++) {
        struct name_slot *c = &set[w];
        if (c->tag != h || !c->id) continue;
        const struct tp_instrument *in = tp_instr_get(c->id);
        if (in && !memcmp(in->name, nm->p, nm->n) && in->name[nm->n] == 0) {
            *id = c->id;
            if (w) { /* most recent first */
                struct name_slot t = set[0];
                set[0] = set[1];
                set[1] = t;
            }
            return 0;
        }
    }
    int rc = tp_instr_intern(nm->p, nm->n, id);
    if (rc < 0) return rc == -EINVAL ? -EBADMSG : rc;
    set[1] = set[0];
    set[0] = (struct name_slot){.id = *id, .tag = h};
    return 0;
}

enum tp_rec_type tp_rec_type(const void *p, size_t n)
{
    if (n == 0) return 0;
    uint8_t t = *(const uint8_t *)p;
    return t >= TP_REC_EVENT && t <= TP_REC_CHECKPOINT ? (enum tp_rec_type)t : 0;
}

/* ---- events ---- */

static int check_event(const struct tp_event *e, const char **name)
{
    *name = instr_name(e->instr);
    if (!*name || e->kind < TP_KIND_TRADE || e->kind > TP_KIND_STATUS || e->side > TP_SIDE_SELL ||
        e->status > TP_ST_LAST || (e->flags & ~EV_FLAGS) || e->vsym_len > TP_VSYM_MAX ||
        e->trade_id_len > TP_TRADE_ID_MAX || !clean_str(e->venue_symbol, e->vsym_len) ||
        !clean_str(e->trade_id_str, e->trade_id_len))
        return -EINVAL;
    return 0;
}

static void put_event_body(struct wr *w, const struct tp_event *e, const char *name)
{
    w_u8(w, e->kind);
    w_u8(w, e->side);
    w_u8(w, e->status);
    w_uv(w, e->flags);
    w_u64(w, (uint64_t)e->ts);
    w_uv(w, zigzag((uint64_t)e->ts_recv - (uint64_t)e->ts));
    w_str(w, name, strlen(name));
    w_str(w, e->venue_symbol, e->vsym_len);
    const double *const v[EV_DOUBLES] = {&e->price,    &e->size,     &e->bid,  &e->ask,
                                         &e->bid_size, &e->ask_size, &e->open, &e->high,
                                         &e->low,      &e->change,   &e->value};
    uint32_t extra = (e->trade_id ? BIT_ID : 0) | (e->gap_last ? BIT_GAPLAST : 0) |
                     (e->trade_id_len ? BIT_IDSTR : 0);
    w_doubles(w, v, EV_DOUBLES, extra);
    if (e->trade_id) w_uv(w, e->trade_id);
    if (e->gap_last) w_uv(w, e->gap_last);
    if (e->trade_id_len) w_str(w, e->trade_id_str, e->trade_id_len);
}

static const uint16_t ev_double_off[EV_DOUBLES] = {
    offsetof(struct tp_event, price),    offsetof(struct tp_event, size),
    offsetof(struct tp_event, bid),      offsetof(struct tp_event, ask),
    offsetof(struct tp_event, bid_size), offsetof(struct tp_event, ask_size),
    offsetof(struct tp_event, open),     offsetof(struct tp_event, high),
    offsetof(struct tp_event, low),      offsetof(struct tp_event, change),
    offsetof(struct tp_event, value)};

/* Reads an event body; the instrument name is left in nm for the caller to intern. */
static inline void get_event_body(struct tp_rd *r, struct tp_event *e, struct name *nm)
{
    memset(e, 0, sizeof *e);
    e->kind = r_u8_max(r, TP_KIND_TRADE, TP_KIND_STATUS);
    e->side = r_u8_max(r, 0, TP_SIDE_SELL);
    e->status = r_u8_max(r, 0, TP_ST_LAST);
    uint64_t flags = r_uv(r);
    if (flags & ~(uint64_t)EV_FLAGS) r->err = true;
    e->flags = (uint16_t)flags;
    e->ts = (int64_t)rd_u64(r);
    e->ts_recv = (int64_t)((uint64_t)e->ts + unzigzag(r_uv(r)));
    r_instr(r, nm);
    e->vsym_len = (uint8_t)r_cstr(r, e->venue_symbol, TP_VSYM_MAX);
    uint32_t bits = 0;
    r_doubles(r, e, ev_double_off, EV_DOUBLES, BIT_ID | BIT_GAPLAST | BIT_IDSTR, &bits);
    if (bits & BIT_ID) {
        e->trade_id = r_uv(r);
        if (e->trade_id == 0) r->err = true;
    }
    if (bits & BIT_GAPLAST) {
        e->gap_last = r_uv(r);
        if (e->gap_last == 0) r->err = true;
    }
    if (bits & BIT_IDSTR) {
        e->trade_id_len = (uint8_t)r_cstr(r, e->trade_id_str, TP_TRADE_ID_MAX);
        if (e->trade_id_len == 0) r->err = true;
    }
}

int tp_rec_put_event(struct tp_buf *b, const struct tp_event *e)
{
    const char *name;
    struct wr w = {0};
    int rc = check_event(e, &name);
    if (rc == 0) rc = begin(b, 1 + EVENT_MAX, &w);
    if (rc < 0) return rc;
    w_u8(&w, TP_REC_EVENT);
    put_event_body(&w, e, name);
    return finish(b, &w);
}

static int event_done(struct tp_rd *r, struct tp_event *e, const struct name *nm,
                      struct tp_event *ret)
{
    if (r->err || tp_rd_left(r)) return -EBADMSG;
    int rc = intern(nm, &e->instr);
    if (rc < 0) return rc;
    *ret = *e;
    return 0;
}

int tp_rec_get_event(const void *p, size_t n, struct tp_event *ret)
{
    struct tp_rd r;
    tp_rd_init(&r, p, n);
    if (rd_u8(&r) != TP_REC_EVENT) return -EBADMSG;
    struct tp_event e;
    struct name nm;
    get_event_body(&r, &e, &nm);
    return event_done(&r, &e, &nm, ret);
}

int tp_rec_put_late(struct tp_buf *b, const struct tp_event *e, int64_t interval_ns)
{
    const char *name;
    struct wr w = {0};
    int rc = check_event(e, &name);
    if (rc == 0 && interval_ns <= 0) rc = -EINVAL;
    if (rc == 0) rc = begin(b, 1 + 10 + EVENT_MAX, &w);
    if (rc < 0) return rc;
    w_u8(&w, TP_REC_LATE);
    w_uv(&w, (uint64_t)interval_ns);
    put_event_body(&w, e, name);
    return finish(b, &w);
}

int tp_rec_get_late(const void *p, size_t n, struct tp_event *ret, int64_t *ret_interval)
{
    struct tp_rd r;
    tp_rd_init(&r, p, n);
    if (rd_u8(&r) != TP_REC_LATE) return -EBADMSG;
    uint64_t iv = r_uv(&r);
    if (iv == 0 || iv > INT64_MAX) return -EBADMSG;
    struct tp_event e;
    struct name nm;
    get_event_body(&r, &e, &nm);
    int rc = event_done(&r, &e, &nm, ret);
    if (rc == 0) *ret_interval = (int64_t)iv;
    return rc;
}

/* ---- source positions ---- */

int tp_rec_put_source_pos(struct tp_buf *b, const struct tp_source_pos *s)
{
    size_t n = strnlen(s->source, sizeof s->source);
    if (n >= sizeof s->source) return -EINVAL;
    struct wr w = {0};
    int rc = begin(b, 1 + 1 + SOURCE_MAX + 6 * 10 + 8 + 1, &w);
    if (rc < 0) return rc;
    w_u8(&w, TP_REC_SOURCE_POS);
    w_str(&w, s->source, n);
    w_uv(&w, s->dev);
    w_uv(&w, s->ino);
    w_uv(&w, s->size);
    w_u64(&w, s->head_hash);
    w_uv(&w, s->offset);
    w_uv(&w, s->line);
    w_uv(&w, s->events);
    w_u8(&w, (uint8_t)((s->eof ? 1 : 0) | (s->begin ? 2 : 0)));
    return finish(b, &w);
}

int tp_rec_get_source_pos(const void *p, size_t n, struct tp_source_pos *ret)
{
    struct tp_rd r;
    tp_rd_init(&r, p, n);
    if (rd_u8(&r) != TP_REC_SOURCE_POS) return -EBADMSG;
    struct tp_source_pos s;
    memset(&s, 0, sizeof s);
    r_cstr(&r, s.source, sizeof s.source - 1);
    s.dev = r_uv(&r);
    s.ino = r_uv(&r);
    s.size = r_uv(&r);
    s.head_hash = rd_u64(&r);
    s.offset = r_uv(&r);
    s.line = r_uv(&r);
    s.events = r_uv(&r);
    uint8_t fl = r_u8_max(&r, 0, 3);
    s.eof = fl & 1;
    s.begin = (fl & 2) != 0;
    if (r.err || tp_rd_left(&r)) return -EBADMSG;
    *ret = s;
    return 0;
}

/* ---- bars ---- */

#define BAR_DOUBLE_PTRS(b)                                                                         \
    {                                                                                              \
        &(b)->open, &(b)->high, &(b)->low, &(b)->close, &(b)->volume, &(b)->notional, &(b)->vwap,  \
            &(b)->buy_volume, &(b)->sell_volume, &(b)->ind.sma, &(b)->ind.ema, &(b)->ind.bb_upper, \
            &(b)->ind.bb_middle, &(b)->ind.bb_lower, &(b)->ind.rsi, &(b)->ind.macd,                \
            &(b)->ind.macd_signal, &(b)->ind.macd_hist, &(b)->ind.atr, &(b)->ind.volatility        \
    }

static const uint16_t bar_double_off[BAR_DOUBLES] = {offsetof(struct tp_bar, open),
                                                     offsetof(struct tp_bar, high),
                                                     offsetof(struct tp_bar, low),
                                                     offsetof(struct tp_bar, close),
                                                     offsetof(struct tp_bar, volume),
                                                     offsetof(struct tp_bar, notional),
                                                     offsetof(struct tp_bar, vwap),
                                                     offsetof(struct tp_bar, buy_volume),
                                                     offsetof(struct tp_bar, sell_volume),
                                                     offsetof(struct tp_bar, ind.sma),
                                                     offsetof(struct tp_bar, ind.ema),
                                                     offsetof(struct tp_bar, ind.bb_upper),
                                                     offsetof(struct tp_bar, ind.bb_middle),
                                                     offsetof(struct tp_bar, ind.bb_lower),
                                                     offsetof(struct tp_bar, ind.rsi),
                                                     offsetof(struct tp_bar, ind.macd),
                                                     offsetof(struct tp_bar, ind.macd_signal),
                                                     offsetof(struct tp_bar, ind.macd_hist),
                                                     offsetof(struct tp_bar, ind.atr),
                                                     offsetof(struct tp_bar, ind.volatility)};

int tp_rec_put_bar(struct tp_buf *b, const struct tp_bar *bar)
{
    const char *name = instr_name(bar->instr);
    if (!name || bar->interval_ns <= 0) return -EINVAL;
    struct wr w = {0};
    int rc =
        begin(b, 1 + 1 + TP_INSTR_NAMELEN + 10 + 8 + 10 + 10 + 10 + 1 + 3 + BAR_DOUBLES * 8, &w);
    if (rc < 0) return rc;
    w_u8(&w, TP_REC_BAR);
    w_str(&w, name, strlen(name));
    w_uv(&w, (uint64_t)bar->interval_ns);
    w_u64(&w, (uint64_t)bar->ts);
    w_uv(&w, zigzag((uint64_t)bar->first_ts - (uint64_t)bar->ts));
    w_uv(&w, zigzag((uint64_t)bar->last_ts - (uint64_t)bar->first_ts));
    w_uv(&w, bar->trades);
    w_u8(&w, (uint8_t)((bar->final ? 1 : 0) | (bar->filled ? 2 : 0)));
    const double *const v[BAR_DOUBLES] = BAR_DOUBLE_PTRS(bar);
    w_doubles(&w, v, BAR_DOUBLES, 0);
    return finish(b, &w);
}

int tp_rec_get_bar(const void *p, size_t n, struct tp_bar *ret)
{
    struct tp_rd r;
    tp_rd_init(&r, p, n);
    if (rd_u8(&r) != TP_REC_BAR) return -EBADMSG;
    struct tp_bar bar;
    memset(&bar, 0, sizeof bar);
    struct name nm;
    r_instr(&r, &nm);
    uint64_t iv = r_uv(&r);
    if (iv == 0 || iv > INT64_MAX) r.err = true;
    bar.interval_ns = (int64_t)iv;
    bar.ts = (int64_t)rd_u64(&r);
    bar.first_ts = (int64_t)((uint64_t)bar.ts + unzigzag(r_uv(&r)));
    bar.last_ts = (int64_t)((uint64_t)bar.first_ts + unzigzag(r_uv(&r)));
    bar.trades = r_uv(&r);
    uint8_t fl = r_u8_max(&r, 0, 3);
    bar.final = fl & 1;
    bar.filled = (fl & 2) != 0;
    uint32_t bits;
    r_doubles(&r, &bar, bar_double_off, BAR_DOUBLES, 0, &bits);
    if (r.err || tp_rd_left(&r)) return -EBADMSG;
    int rc = intern(&nm, &bar.instr);
    if (rc < 0) return rc;
    *ret = bar;
    return 0;
}

/* ---- anomalies ---- */

int tp_rec_put_anomaly(struct tp_buf *b, const struct tp_anomaly *a)
{
    const char *name = instr_name(a->instr);
    if (!name || a->kind < TP_AN_RETURN_ZSCORE || a->kind > TP_AN_GAP || a->interval_ns < 0)
        return -EINVAL;
    struct wr w = {0};
    int rc = begin(b, 1 + 1 + TP_INSTR_NAMELEN + 8 + 1 + 10 + 1 + 3 * 8, &w);
    if (rc < 0) return rc;
    w_u8(&w, TP_REC_ANOMALY);
    w_str(&w, name, strlen(name));
    w_u64(&w, (uint64_t)a->ts);
    w_u8(&w, a->kind);
    w_uv(&w, (uint64_t)a->interval_ns);
    const double *const v[3] = {&a->observed, &a->expected, &a->score};
    w_doubles(&w, v, 3, 0);
    return finish(b, &w);
}

int tp_rec_get_anomaly(const void *p, size_t n, struct tp_anomaly *ret)
{
    struct tp_rd r;
    tp_rd_init(&r, p, n);
    if (rd_u8(&r) != TP_REC_ANOMALY) return -EBADMSG;
    struct tp_anomaly a;
    memset(&a, 0, sizeof a);
    struct name nm;
    r_instr(&r, &nm);
    a.ts = (int64_t)rd_u64(&r);
    a.kind = r_u8_max(&r, TP_AN_RETURN_ZSCORE, TP_AN_GAP);
    uint64_t iv = r_uv(&r);
    if (iv > INT64_MAX) r.err = true;
    a.interval_ns = (int64_t)iv;
    static const uint16_t off[3] = {offsetof(struct tp_anomaly, observed),
                                    offsetof(struct tp_anomaly, expected),
                                    offsetof(struct tp_anomaly, score)};
    uint32_t bits;
    r_doubles(&r, &a, off, 3, 0, &bits);
    if (r.err || tp_rd_left(&r)) return -EBADMSG;
    int rc = intern(&nm, &a.instr);
    if (rc < 0) return rc;
    *ret = a;
    return 0;
}

/* ---- gaps ---- */

int tp_rec_put_gap(struct tp_buf *b, const struct tp_gap *g)
{
    const char *name = instr_name(g->instr);
    if (!name) return -EINVAL;
    struct wr w = {0};
    int rc = begin(b, 1 + 1 + TP_INSTR_NAMELEN + 8 + 10 + 10 + 1, &w);
    if (rc < 0) return rc;
    w_u8(&w, TP_REC_GAP);
    w_str(&w, name, strlen(name));
    w_u64(&w, (uint64_t)g->ts);
    w_uv(&w, g->first_missing);
    w_uv(&w, g->last_missing);
    w_u8(&w, (uint8_t)((g->by_time ? 1 : 0) | (g->backfilled ? 2 : 0)));
    return finish(b, &w);
}

int tp_rec_get_gap(const void *p, size_t n, struct tp_gap *ret)
{
    struct tp_rd r;
    tp_rd_init(&r, p, n);
    if (rd_u8(&r) != TP_REC_GAP) return -EBADMSG;
    struct tp_gap g;
    memset(&g, 0, sizeof g);
    struct name nm;
    r_instr(&r, &nm);
    g.ts = (int64_t)rd_u64(&r);
    g.first_missing = r_uv(&r);
    g.last_missing = r_uv(&r);
    uint8_t fl = r_u8_max(&r, 0, 3);
    g.by_time = fl & 1;
    g.backfilled = (fl & 2) != 0;
    if (r.err || tp_rd_left(&r)) return -EBADMSG;
    int rc = intern(&nm, &g.instr);
    if (rc < 0) return rc;
    *ret = g;
    return 0;
}

/* ---- checkpoints ---- */

int tp_rec_put_checkpoint(struct tp_buf *b, uint64_t input_next, const void *state, size_t n)
{
    if (n > SIZE_MAX - 21) return -E2BIG;
    struct wr w = {0};
    int rc = begin(b, 1 + 10 + 10 + n, &w);
    if (rc < 0) return rc;
    w_u8(&w, TP_REC_CHECKPOINT);
    w_uv(&w, input_next);
    w_uv(&w, n);
    if (n) memcpy(w.p, state, n);
    w.p += n;
    return finish(b, &w);
}

int tp_rec_get_checkpoint(const void *p, size_t n, uint64_t *ret_input_next, const void **ret_state,
                          size_t *ret_n)
{
    struct tp_rd r;
    tp_rd_init(&r, p, n);
    if (rd_u8(&r) != TP_REC_CHECKPOINT) return -EBADMSG;
    uint64_t next = r_uv(&r);
    uint64_t len = r_uv(&r);
    if (r.err || len != tp_rd_left(&r)) return -EBADMSG;
    *ret_input_next = next;
    *ret_state = r.p;
    *ret_n = (size_t)len;
    return 0;
}
