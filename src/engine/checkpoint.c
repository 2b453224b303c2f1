/*
 * checkpoint.c — tp_engine_save / tp_engine_load: the engine's whole state as bytes, keyed
 * by instrument name so that it loads in a process whose interned ids differ (engine.h;
 * format summary in docs/engine.md).
 *
 * Layout (little-endian, varints LEB128, strings varint-length-prefixed):
 *
 *   u32 magic "TPEC" | u32 version (1)
 *   cfg fingerprint: every field of tp_engine_cfg that changes outputs; load refuses another
 *   stats: every counter, varints
 *   varint instrument count, then per instrument, in strictly ascending name order:
 *     name | u8 flags | i64 raw, W, hold limit, hold start, last event, last crossed alarm
 *     per interval: u8 emitted | i64 emitted end | f64 last close | varint windows,
 *                   each window's accumulators | blob indicator | blob volume spike
 *     blob return z-score | dedup state (dedup.c)
 *
 * A blob is a u32 length and the bytes another module's _save wrote; its _load must consume
 * exactly them. Doubles are stored as their bits, so a loaded engine continues with the very
 * same sums: processing a prefix, saving, loading into a fresh engine and processing the rest
 * gives the same callbacks as processing everything at once (tested at every split point).
 *
 * Load validates everything it reads (structure, ranges, the engine's invariants) and returns
 * -EBADMSG otherwise, leaving the engine empty.
 */
#include <math.h>

#include "core/instrument.h"
#include "engine/engine_int.h"

#define CK_MAGIC   UINT32_C(0x43455054) /* "TPEC" read as little-endian bytes */
#define CK_VERSION 1u

enum {
    F_QUOTE_ONLY = 1,
    F_CONNECTED = 2,
    F_STALE_ALARMED = 4,
    F_HAS_CROSSED = 8,
    F_HELD = 16,
    F_EOF = 32,
};

/* ---- save ------------------------------------------------------------------------------ */

static int save_cfg(const struct tp_engine_cfg *c, struct tp_buf *b)
{
    int rc = tp_buf_u8(b, (uint8_t)c->n_intervals);
    for (int i = 0; i < c->n_intervals && rc == 0; i++) rc = tp_buf_i64(b, c->intervals[i]);
    if (rc == 0) rc = tp_buf_i64(b, c->lateness_ns);
    if (rc == 0) rc = tp_buf_i64(b, c->hold_cap_ns);
    if (rc == 0) rc = tp_buf_u8(b, c->fill ? 1 : 0);
    if (rc == 0) rc = tp_buf_u32(b, c->dedup_bitmap_bits);
    if (rc == 0) rc = tp_buf_u32(b, c->dedup_str_max);
    if (rc == 0) rc = tp_buf_i64(b, c->dedup_str_max_age_ns);
    const int ip[] = {c->ind.sma,       c->ind.ema,       c->ind.bb,         c->ind.rsi,
                      c->ind.macd_fast, c->ind.macd_slow, c->ind.macd_sig,   c->ind.atr,
                      c->ind.vol,       c->an.window,     c->an.vol_lookback};
    for (size_t i = 0; i < TP_ARRAY_LEN(ip) && rc == 0; i++) rc = tp_buf_u32(b, (uint32_t)ip[i]);
    if (rc == 0) rc = tp_buf_f64(b, c->ind.bb_k);
    if (rc == 0) rc = tp_buf_f64(b, c->an.z);
    if (rc == 0) rc = tp_buf_f64(b, c->an.vol_mult);
    if (rc == 0) rc = tp_buf_i64(b, c->an.cooldown_ns);
    if (rc == 0) rc = tp_buf_i64(b, c->an.stale_ns);
    return rc;
}

static int save_stats(const struct tp_engine_stats *s, struct tp_buf *b)
{
    const uint64_t head[] = {s->events, s->trades, s->quotes,     s->snapshots,
                             s->vbars,  s->status, s->duplicates, s->dedup_evictions,
                             s->gaps,   s->ignored};
    int rc = 0;
    for (size_t i = 0; i < TP_ARRAY_LEN(head) && rc == 0; i++) rc = tp_buf_varint(b, head[i]);
    for (int i = 0; i < TP_MAX_INTERVALS && rc == 0; i++) rc = tp_buf_varint(b, s->late[i]);
    for (int i = 0; i < TP_MAX_INTERVALS && rc == 0; i++) rc = tp_buf_varint(b, s->bars[i]);
    for (int i = 0; i < TP_AN_KINDS && rc == 0; i++) rc = tp_buf_varint(b, s->anomalies[i]);
    return rc;
}

/* Reserves a u32 length at *at; blob_end writes the length of what followed. */
static int blob_begin(struct tp_buf *b, size_t *at)
{
    *at = b->len;
    return tp_buf_u32(b, 0);
}

static int blob_end(struct tp_buf *b, size_t at)
{
    size_t n = b->len - at - 4;
    if (n > UINT32_MAX) return -E2BIG;
    for (int k = 0; k < 4; k++) b->p[at + (size_t)k] = (char)((n >> (8 * k)) & 0xff);
    return 0;
}

static int save_win(const struct tp_win *w, struct tp_buf *b)
{
    const int64_t t[] = {w->start, w->first_ts, w->last_ts};
    const double d[] = {w->open,   w->high,     w->low, w->close,
                        w->volume, w->notional, w->buy, w->sell};
    int rc = 0;
    for (size_t i = 0; i < TP_ARRAY_LEN(t) && rc == 0; i++) rc = tp_buf_i64(b, t[i]);
    for (size_t i = 0; i < TP_ARRAY_LEN(d) && rc == 0; i++) rc = tp_buf_f64(b, d[i]);
    if (rc == 0) rc = tp_buf_varint(b, w->trades);
    return rc;
}

static int save_inst(const struct tp_engine *e, const struct inst *in, struct tp_buf *b)
{
    size_t at;
    uint8_t fl = (uint8_t)((in->quote_only ? F_QUOTE_ONLY : 0) | (in->connected ? F_CONNECTED : 0) |
                           (in->stale_alarmed ? F_STALE_ALARMED : 0) |
                           (in->has_crossed ? F_HAS_CROSSED : 0) | (in->wm.held ? F_HELD : 0) |
                           (in->wm.eof ? F_EOF : 0));
    int rc = tp_buf_str(b, in->name, strlen(in->name));
    if (rc == 0) rc = tp_buf_u8(b, fl);
    const int64_t t[] = {in->wm.raw,        in->wm.w,    in->wm.hold_limit,
                         in->wm.hold_start, in->last_ev, in->last_crossed};
    for (size_t i = 0; i < TP_ARRAY_LEN(t) && rc == 0; i++) rc = tp_buf_i64(b, t[i]);
    for (int i = 0; i < e->cfg.n_intervals && rc == 0; i++) {
        const struct islot *s = &in->iv[i];
        rc = tp_buf_u8(b, s->has_emitted ? 1 : 0);
        if (rc == 0) rc = tp_buf_i64(b, s->emitted_end);
        if (rc == 0) rc = tp_buf_f64(b, s->last_close);
        if (rc == 0) rc = tp_buf_varint(b, s->ring.n);
        for (uint32_t k = 0; k < s->ring.n && rc == 0; k++)
            rc = save_win(tp_wring_at(&s->ring, k), b);
        if (rc == 0) rc = blob_begin(b, &at);
        if (rc == 0) rc = tp_ind_save(s->ind, b);
        if (rc == 0) rc = blob_end(b, at);
        if (rc == 0) rc = blob_begin(b, &at);
        if (rc == 0) rc = tp_volspike_save(s->vs, b);
        if (rc == 0) rc = blob_end(b, at);
    }
    if (rc == 0) rc = blob_begin(b, &at);
    if (rc == 0) rc = tp_retz_save(in->retz, b);
    if (rc == 0) rc = blob_end(b, at);
    if (rc == 0) rc = tp_dedup_save(&in->dd, &e->dcfg, b);
    return rc;
}

int tp_engine_save(const struct tp_engine *e, struct tp_buf *b)
{
    size_t len0 = b->len;
    int rc = tp_buf_u32(b, CK_MAGIC);
    if (rc == 0) rc = tp_buf_u32(b, CK_VERSION);
    if (rc == 0) rc = save_cfg(&e->cfg, b);
    if (rc == 0) rc = save_stats(&e->st, b);
    if (rc == 0) rc = tp_buf_varint(b, e->n_inst);
    for (uint32_t i = 0; i < e->n_inst && rc == 0; i++) rc = save_inst(e, e->by_name[i], b);
    if (rc < 0) b->len = len0;
    return rc;
}

/* ---- load ------------------------------------------------------------------------------ */

/* A time the engine can hold: an accepted ts, minus the lateness or plus an interval. */
static bool time_ok(int64_t t)
{
    const int64_t slack = INT64_C(1) << 56; /* > 2 years, more than any lateness or interval */
    return t >= -TP_ENGINE_TS_MAX - slack && t <= TP_ENGINE_TS_MAX + slack;
}

static int load_blob(struct tp_rd *r, struct tp_rd *sub)
{
    uint32_t n = tp_rd_u32(r);
    if (r->err || n > tp_rd_left(r)) return -EBADMSG;
    tp_rd_init(sub, r->p, n);
    r->p += n;
    return 0;
}

static bool blob_done(int rc, const struct tp_rd *sub)
{
    return rc == 0 && !sub->err && tp_rd_left(sub) == 0;
}

static int load_win(struct tp_rd *r, int64_t iv, struct tp_win *w)
{
    w->start = tp_rd_i64(r);
    w->first_ts = tp_rd_i64(r);
    w->last_ts = tp_rd_i64(r);
    double *d[] = {&w->open,   &w->high,     &w->low, &w->close,
                   &w->volume, &w->notional, &w->buy, &w->sell};
    for (size_t i = 0; i < TP_ARRAY_LEN(d); i++) {
        *d[i] = tp_rd_f64(r);
        if (!isfinite(*d[i])) return -EBADMSG;
    }
    w->trades = tp_rd_varint(r);
    if (r->err || w->start < -TP_ENGINE_TS_MAX - iv || w->start > TP_ENGINE_TS_MAX ||
        tp_window_start(w->start, iv) != w->start || w->trades == 0 || w->first_ts < w->start ||
        w->first_ts > w->last_ts || w->last_ts - w->start >= iv || w->low > w->high)
        return -EBADMSG;
    return 0;
}

static int load_inst(struct tp_engine *e, struct tp_rd *r, char prev[TP_INSTR_NAMELEN + 1])
{
    const char *name;
    size_t nlen;
    tp_rd_str(r, &name, &nlen, TP_INSTR_NAMELEN);
    if (r->err) return -EBADMSG;
    char nm[TP_INSTR_NAMELEN + 1];
    memcpy(nm, name, nlen);
    nm[nlen] = 0;
    if (strlen(nm) != nlen || (prev[0] && strcmp(prev, nm) >= 0)) return -EBADMSG;
    memcpy(prev, nm, nlen + 1);
    uint32_t id;
    int rc = tp_instr_intern(nm, nlen, &id);
    if (rc == -EINVAL) return -EBADMSG;
    if (rc < 0) return rc;
    if (id < e->by_id_cap && e->by_id[id]) return -EBADMSG;
    struct inst *in = tp_engine_inst_new(e, id);
    if (!in) return -ENOMEM;

    uint8_t fl = tp_rd_u8(r);
    int64_t raw = tp_rd_i64(r), w = tp_rd_i64(r), hl = tp_rd_i64(r), hs = tp_rd_i64(r);
    int64_t last_ev = tp_rd_i64(r), last_crossed = tp_rd_i64(r);
    if (r->err || fl > 63) return -EBADMSG;
    bool held = fl & F_HELD, eof = fl & F_EOF;
    if (raw != TP_WM_NEG_INF && !time_ok(raw)) return -EBADMSG;
    if (eof ? (held || w != TP_WM_POS_INF)
            : (held ? w > raw || !time_ok(hl) || !time_ok(hs) || (w != TP_WM_NEG_INF && !time_ok(w))
                    : w != raw))
        return -EBADMSG;
    if ((last_ev != INT64_MIN && !time_ok(last_ev)) || !time_ok(last_crossed)) return -EBADMSG;
    in->wm.raw = raw;
    in->wm.w = w;
    in->wm.hold_limit = hl;
    in->wm.hold_start = hs;
    in->wm.held = held;
    in->wm.eof = eof;
    in->quote_only = fl & F_QUOTE_ONLY;
    in->connected = fl & F_CONNECTED;
    in->stale_alarmed = fl & F_STALE_ALARMED;
    in->has_crossed = fl & F_HAS_CROSSED;
    in->last_ev = last_ev;
    in->last_crossed = last_crossed;

    for (int i = 0; i < e->cfg.n_intervals; i++) {
        struct islot *s = &in->iv[i];
        int64_t iv = e->cfg.intervals[i];
        uint8_t em = tp_rd_u8(r);
        s->emitted_end = tp_rd_i64(r);
        s->last_close = tp_rd_f64(r);
        uint64_t nwin = tp_rd_varint(r);
        if (r->err || em > 1 || nwin > s->ring.max) return -EBADMSG;
        s->has_emitted = em;
        if (em && (!time_ok(s->emitted_end) || !isfinite(s->last_close))) return -EBADMSG;
        int64_t prev_start = INT64_MIN;
        for (uint64_t k = 0; k < nwin; k++) {
            struct tp_win tmp;
            if (load_win(r, iv, &tmp) < 0) return -EBADMSG;
            /* Ascending and open (start + iv > W; nothing is open after eof). */
            if (tmp.start <= prev_start || eof || (w != TP_WM_NEG_INF && tmp.start + iv <= w))
                return -EBADMSG;
            prev_start = tmp.start;
            struct tp_win *slot = tp_wring_get(&s->ring, tmp.start);
            if (!slot) return -ENOMEM;
            *slot = tmp;
        }
        struct tp_rd sub;
        if (load_blob(r, &sub) < 0 || !blob_done(tp_ind_load(s->ind, &sub), &sub)) return -EBADMSG;
        if (load_blob(r, &sub) < 0 || !blob_done(tp_volspike_load(s->vs, &sub), &sub))
            return -EBADMSG;
    }
    struct tp_rd sub;
    if (load_blob(r, &sub) < 0 || !blob_done(tp_retz_load(in->retz, &sub), &sub)) return -EBADMSG;
    rc = tp_dedup_load(&in->dd, &e->dcfg, r);
    if (rc < 0) return rc;
    tp_engine_inst_rearm(e, in);
    return 0;
}

static int load_all(struct tp_engine *e, struct tp_rd *r)
{
    if (tp_rd_u32(r) != CK_MAGIC || tp_rd_u32(r) != CK_VERSION || r->err) return -EBADMSG;

    /* The fingerprint must be byte-identical to our own cfg's. */
    struct tp_buf mine;
    tp_buf_init(&mine, 4096);
    int rc = save_cfg(&e->cfg, &mine);
    if (rc == 0) {
        if (tp_rd_left(r) < mine.len || memcmp(r->p, mine.p, mine.len) != 0)
            rc = -EBADMSG;
        else
            r->p += mine.len;
    }
    tp_buf_fini(&mine);
    if (rc < 0) return rc;

    struct tp_engine_stats *s = &e->st;
    uint64_t *head[] = {&s->events, &s->trades, &s->quotes,     &s->snapshots,
                        &s->vbars,  &s->status, &s->duplicates, &s->dedup_evictions,
                        &s->gaps,   &s->ignored};
    for (size_t i = 0; i < TP_ARRAY_LEN(head); i++) *head[i] = tp_rd_varint(r);
    for (int i = 0; i < TP_MAX_INTERVALS; i++) s->late[i] = tp_rd_varint(r);
    for (int i = 0; i < TP_MAX_INTERVALS; i++) s->bars[i] = tp_rd_varint(r);
    for (int i = 0; i < TP_AN_KINDS; i++) s->anomalies[i] = tp_rd_varint(r);

    uint64_t n = tp_rd_varint(r);
    if (r->err || n > TP_INSTR_MAX) return -EBADMSG;
    char prev[TP_INSTR_NAMELEN + 1] = "";
    for (uint64_t i = 0; i < n; i++) {
        rc = load_inst(e, r, prev);
        if (rc < 0) return rc;
    }
    if (r->err || tp_rd_left(r) != 0) return -EBADMSG;
    return 0;
}

int tp_engine_load(struct tp_engine *e, const void *p, size_t n)
{
    tp_engine_inst_clear(e);
    memset(&e->st, 0, sizeof e->st);
    struct tp_rd r;
    tp_rd_init(&r, p, n);
    int rc = load_all(e, &r);
    if (rc < 0) {
        tp_engine_inst_clear(e);
        memset(&e->st, 0, sizeof e->st);
    }
    return rc;
}
