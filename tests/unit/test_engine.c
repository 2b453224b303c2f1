/*
 * test_engine.c — the streaming engine (src/engine/engine.h, DESIGN.md §3, docs/engine.md).
 *
 * Golden cases with hand-computed expectations: window boundaries (first and last
 * nanosecond, pre-1970 times), the open/close tie rule, the vwap clamp, out-of-order and late
 * trades per interval, duplicates of each kind and their bounds, empty and filled intervals,
 * quote-only bars, heartbeats, holds and their cap, eof, crossed quotes, stale, gaps,
 * indicators against tp_ind fed the same bars, the callback order, and the checkpoint
 * property: for every split point of a generated stream, prefix; save; load into a fresh
 * engine; suffix gives exactly the callbacks of one uninterrupted engine.
 */
#include <math.h>

#include "core/instrument.h"
#include "core/rng.h"
#include "engine/engine.h"
#include "tpt.h"

#define SEC TP_NS_PER_SEC
#define MS  TP_NS_PER_MS
/* 2023-11-14T00:00:00Z: aligned to every default interval (a whole UTC day). */
#define T0 (INT64_C(19675) * 86400 * SEC)

/* ---- recording callbacks -------------------------------------------------------------- */

struct item {
    char type; /* 'B' bar, 'A' anomaly, 'L' late, 'G' gap */
    struct tp_bar bar;
    struct tp_anomaly an;
    struct tp_event ev;
    int64_t iv;
    struct tp_gap gap;
};

struct rec {
    struct item *it;
    size_t n, cap;
};

static struct item *rec_push(struct rec *r, char type)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->it = realloc(r->it, r->cap * sizeof *r->it);
        if (!r->it) abort();
    }
    struct item *it = &r->it[r->n++];
    memset(it, 0, sizeof *it);
    it->type = type;
    return it;
}

static void on_bar(void *ctx, const struct tp_bar *b)
{
    rec_push(ctx, 'B')->bar = *b;
}

static void on_anomaly(void *ctx, const struct tp_anomaly *a)
{
    rec_push(ctx, 'A')->an = *a;
}

static void on_late(void *ctx, const struct tp_event *e, int64_t iv)
{
    struct item *it = rec_push(ctx, 'L');
    it->ev = *e;
    it->iv = iv;
}

static void on_gap(void *ctx, const struct tp_gap *g)
{
    rec_push(ctx, 'G')->gap = *g;
}

static void rec_free(struct rec *r)
{
    free(r->it);
    memset(r, 0, sizeof *r);
}

static size_t rec_count(const struct rec *r, char type)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) n += r->it[i].type == type;
    return n;
}

/* The k-th item of a type (0-based); fails the test when absent. */
static const struct item *rec_nth(const struct rec *r, char type, size_t k)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->it[i].type == type && k-- == 0) return &r->it[i];
    TPT_FAIL("no item %c #%zu (have %zu)", type, k, rec_count(r, type));
    return NULL;
}

static uint64_t dbl_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* A canonical line for an item, naming instruments (not ids). */
static void item_line(const struct item *it, char *out, size_t cap)
{
    switch (it->type) {
    case 'B': {
        const struct tp_bar *b = &it->bar;
        const struct tp_ind_values *v = &b->ind;
        snprintf(out, cap,
                 "B %s %lld %lld o%llx h%llx l%llx c%llx v%llx n%llx w%llx t%llu b%llx s%llx "
                 "%lld %lld f%d%d i%llx %llx %llx %llx %llx %llx %llx %llx %llx %llx %llx",
                 tp_instr_name(b->instr), (long long)b->interval_ns, (long long)b->ts,
                 (unsigned long long)dbl_bits(b->open), (unsigned long long)dbl_bits(b->high),
                 (unsigned long long)dbl_bits(b->low), (unsigned long long)dbl_bits(b->close),
                 (unsigned long long)dbl_bits(b->volume), (unsigned long long)dbl_bits(b->notional),
                 (unsigned long long)dbl_bits(b->vwap), (unsigned long long)b->trades,
                 (unsigned long long)dbl_bits(b->buy_volume),
                 (unsigned long long)dbl_bits(b->sell_volume), (long long)b->first_ts,
                 (long long)b->last_ts, b->final, b->filled, (unsigned long long)dbl_bits(v->sma),
                 (unsigned long long)dbl_bits(v->ema), (unsigned long long)dbl_bits(v->bb_upper),
                 (unsigned long long)dbl_bits(v->bb_middle),
                 (unsigned long long)dbl_bits(v->bb_lower), (unsigned long long)dbl_bits(v->rsi),
                 (unsigned long long)dbl_bits(v->macd),
                 (unsigned long long)dbl_bits(v->macd_signal),
                 (unsigned long long)dbl_bits(v->macd_hist), (unsigned long long)dbl_bits(v->atr),
                 (unsigned long long)dbl_bits(v->volatility));
        break;
    }
    case 'A':
        snprintf(out, cap, "A %s %lld %d %llx %llx %llx %lld", tp_instr_name(it->an.instr),
                 (long long)it->an.ts, it->an.kind, (unsigned long long)dbl_bits(it->an.observed),
                 (unsigned long long)dbl_bits(it->an.expected),
                 (unsigned long long)dbl_bits(it->an.score), (long long)it->an.interval_ns);
        break;
    case 'L':
        snprintf(out, cap, "L %s %lld %d %llx %llx %lld", tp_instr_name(it->ev.instr),
                 (long long)it->ev.ts, it->ev.kind, (unsigned long long)dbl_bits(it->ev.price),
                 (unsigned long long)dbl_bits(it->ev.size), (long long)it->iv);
        break;
    case 'G':
        snprintf(out, cap, "G %s %lld %llu %llu %d %d", tp_instr_name(it->gap.instr),
                 (long long)it->gap.ts, (unsigned long long)it->gap.first_missing,
                 (unsigned long long)it->gap.last_missing, it->gap.by_time, it->gap.backfilled);
        break;
    default:
        snprintf(out, cap, "?");
    }
}

/* ---- engines and events --------------------------------------------------------------- */

static uint32_t I(const char *name)
{
    uint32_t id = 0;
    if (tp_instr_intern(name, strlen(name), &id) < 0) TPT_FAIL("intern %s", name);
    return id;
}

static struct tp_engine_out outs(struct rec *r)
{
    struct tp_engine_out o = {r, on_bar, on_anomaly, on_late, on_gap};
    return o;
}

/* An engine with the default cfg but the given intervals ("" keeps the defaults). */
static struct tp_engine *mk(struct rec *r, const char *intervals, struct tp_engine_cfg *cfg_out)
{
    struct tp_engine_cfg c;
    tp_engine_cfg_default(&c);
    if (*intervals) ASSERT_EQ_INT(tp_engine_parse_intervals(&c, intervals), 0);
    if (cfg_out) {
        /* The caller adjusts the cfg and builds the engine itself. */
        *cfg_out = c;
        return NULL;
    }
    struct tp_engine_out o = outs(r);
    struct tp_engine *e = tp_engine_new(&c, &o);
    ASSERT(e != NULL);
    return e;
}

static struct tp_engine *mk_cfg(struct rec *r, const struct tp_engine_cfg *c)
{
    struct tp_engine_out o = outs(r);
    struct tp_engine *e = tp_engine_new(c, &o);
    ASSERT(e != NULL);
    return e;
}

static struct tp_event trade(uint32_t in, int64_t ts, double price, double size, int side)
{
    struct tp_event ev;
    tp_event_init(&ev, TP_KIND_TRADE);
    ev.instr = in;
    ev.ts = ev.ts_recv = ts;
    ev.price = price;
    ev.size = size;
    ev.side = (uint8_t)side;
    return ev;
}

static struct tp_event trade_id(uint32_t in, int64_t ts, double price, double size, uint64_t id)
{
    struct tp_event ev = trade(in, ts, price, size, TP_SIDE_BUY);
    tp_event_set_id(&ev, id);
    return ev;
}

static struct tp_event quote(uint32_t in, int64_t ts, double bid, double ask, bool quote_only)
{
    struct tp_event ev;
    tp_event_init(&ev, TP_KIND_QUOTE);
    ev.instr = in;
    ev.ts = ev.ts_recv = ts;
    ev.bid = bid;
    ev.ask = ask;
    ev.bid_size = ev.ask_size = 1;
    if (quote_only) ev.flags |= TP_EV_QUOTE_ONLY;
    return ev;
}

static struct tp_event status(uint32_t in, enum tp_status st, int64_t ts)
{
    struct tp_event ev;
    tp_event_init(&ev, TP_KIND_STATUS);
    ev.instr = in;
    ev.ts = ev.ts_recv = ts;
    ev.status = (uint8_t)st;
    return ev;
}

static void P(struct tp_engine *e, struct tp_event ev)
{
    tp_engine_process(e, &ev);
}

#define ASSERT_BAR(it, ts_, o, h, l, c, vol, n)                                                    \
    do {                                                                                           \
        const struct tp_bar *bar_ = &(it)->bar;                                                    \
        ASSERT_EQ_INT(bar_->ts, ts_);                                                              \
        ASSERT_EQ_DBL(bar_->open, o);                                                              \
        ASSERT_EQ_DBL(bar_->high, h);                                                              \
        ASSERT_EQ_DBL(bar_->low, l);                                                               \
        ASSERT_EQ_DBL(bar_->close, c);                                                             \
        ASSERT_EQ_DBL(bar_->volume, vol);                                                          \
        ASSERT_EQ_U64(bar_->trades, n);                                                            \
    } while (0)

/* ---- bars ------------------------------------------------------------------------------- */

static void test_window_boundaries(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s,1m", NULL);
    uint32_t a = I("test:BOUND");
    P(e, trade(a, T0, 100, 1, TP_SIDE_BUY));               /* exactly at a boundary */
    P(e, trade(a, T0 + SEC - 1, 101, 2, TP_SIDE_SELL));    /* last ns of [T0, T0+1s) */
    P(e, trade(a, T0 + SEC, 102, 3, TP_SIDE_UNKNOWN));     /* first ns of the next */
    P(e, trade(a, T0 + 60 * SEC - 1, 99, 4, TP_SIDE_BUY)); /* last ns of the minute */
    P(e, trade(a, T0 + 60 * SEC, 98, 5, TP_SIDE_BUY));     /* first ns of the next minute */
    ASSERT_EQ_INT(r.n, 2); /* W = T0+58s−1ns closed [0] and [1s]; [59s..) is open */
    P(e, status(a, TP_ST_EOF, T0 + 61 * SEC));
    /* 1s: [0] [1] [59] [60]; then 1m: [0] [60], interval ascending then start ascending. */
    ASSERT_EQ_INT(r.n, 6);
    const struct item *it = &r.it[0];
    ASSERT_EQ_INT(it->bar.interval_ns, SEC);
    ASSERT_BAR(it, T0, 100, 101, 100, 101, 3, 2);
    ASSERT_EQ_DBL(it->bar.notional, 100 + 202);
    ASSERT_EQ_DBL(it->bar.vwap, 302.0 / 3);
    ASSERT_EQ_DBL(it->bar.buy_volume, 1);
    ASSERT_EQ_DBL(it->bar.sell_volume, 2);
    ASSERT_EQ_INT(it->bar.first_ts, T0);
    ASSERT_EQ_INT(it->bar.last_ts, T0 + SEC - 1);
    ASSERT(it->bar.final && !it->bar.filled);
    ASSERT_EQ_INT(it->bar.instr, a);
    ASSERT_BAR(&r.it[1], T0 + SEC, 102, 102, 102, 102, 3, 1);
    ASSERT_EQ_DBL(r.it[1].bar.buy_volume + r.it[1].bar.sell_volume, 0);
    ASSERT_BAR(&r.it[2], T0 + 59 * SEC, 99, 99, 99, 99, 4, 1);
    ASSERT_BAR(&r.it[3], T0 + 60 * SEC, 98, 98, 98, 98, 5, 1);
    ASSERT_EQ_INT(r.it[4].bar.interval_ns, 60 * SEC);
    ASSERT_BAR(&r.it[4], T0, 100, 102, 99, 99, 10, 4);
    ASSERT_EQ_DBL(r.it[4].bar.notional, 100 + 202 + 306 + 396);
    ASSERT_EQ_INT(r.it[4].bar.last_ts, T0 + 60 * SEC - 1);
    ASSERT_BAR(&r.it[5], T0 + 60 * SEC, 98, 98, 98, 98, 5, 1);
    ASSERT_EQ_INT(tp_engine_stats(e)->bars[0], 4);
    ASSERT_EQ_INT(tp_engine_stats(e)->bars[1], 2);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_negative_times(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s,1m", NULL);
    uint32_t a = I("test:NEG");
    P(e, trade(a, -SEC - SEC / 2, 10, 1, 0)); /* 1969-12-31T23:59:58.5 */
    P(e, trade(a, -SEC, 11, 1, 0));           /* first ns of [-1s, 0) */
    P(e, trade(a, -1, 12, 1, 0));             /* last ns before the epoch */
    P(e, trade(a, 0, 13, 1, 0));              /* the epoch itself */
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(r.n, 5);
    ASSERT_BAR(&r.it[0], -2 * SEC, 10, 10, 10, 10, 1, 1);
    ASSERT_BAR(&r.it[1], -SEC, 11, 12, 11, 12, 2, 2);
    ASSERT_BAR(&r.it[2], 0, 13, 13, 13, 13, 1, 1);
    ASSERT_BAR(&r.it[3], -60 * SEC, 10, 12, 10, 12, 3, 3);
    ASSERT_BAR(&r.it[4], 0, 13, 13, 13, 13, 1, 1);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_tie_rule(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t a = I("test:TIE");
    P(e, trade(a, T0 + 500 * MS, 10, 1, 0));
    P(e, trade(a, T0 + 500 * MS, 11, 1, 0));
    P(e, trade(a, T0 + 200 * MS, 9, 1, 0)); /* smallest ts, first arrival: the open */
    P(e, trade(a, T0 + 200 * MS, 8, 1, 0));
    P(e, trade(a, T0 + 900 * MS, 13, 1, 0));
    P(e, trade(a, T0 + 900 * MS, 14, 1, 0)); /* largest ts, last arrival: the close */
    P(e, trade(a, T0 + 700 * MS, 15, 1, 0));
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_BAR(&r.it[0], T0, 9, 15, 8, 14, 7, 7);
    ASSERT_EQ_INT(r.it[0].bar.first_ts, T0 + 200 * MS);
    ASSERT_EQ_INT(r.it[0].bar.last_ts, T0 + 900 * MS);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_vwap_clamp(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t a = I("test:VWAP");
    /* Σp·s / Σs is a hair above p for p = 0.1 and below for p = 0.3 in doubles. */
    double n1 = 0.1 * 0.1 + 0.1 * 0.1 + 0.1 * 0.2, v1 = 0.1 + 0.1 + 0.2;
    double n3 = 0.3 * 0.1 + 0.3 * 0.1 + 0.3 * 0.1, v3 = 0.1 + 0.1 + 0.1;
    ASSERT(n1 / v1 > 0.1 && n3 / v3 < 0.3); /* the case is real */
    P(e, trade(a, T0, 0.1, 0.1, 0));
    P(e, trade(a, T0 + 1, 0.1, 0.1, 0));
    P(e, trade(a, T0 + 2, 0.1, 0.2, 0));
    P(e, trade(a, T0 + SEC, 0.3, 0.1, 0));
    P(e, trade(a, T0 + SEC + 1, 0.3, 0.1, 0));
    P(e, trade(a, T0 + SEC + 2, 0.3, 0.1, 0));
    P(e, trade(a, T0 + 2 * SEC, 5, 0, 0)); /* volume 0: vwap null */
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(r.n, 3);
    ASSERT_EQ_DBL(r.it[0].bar.notional, n1);
    ASSERT_EQ_DBL(r.it[0].bar.vwap, 0.1);
    ASSERT_EQ_DBL(r.it[1].bar.vwap, 0.3);
    ASSERT(isnan(r.it[2].bar.vwap));
    ASSERT_EQ_DBL(r.it[2].bar.volume, 0);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_out_of_order(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t a = I("test:OOO");
    P(e, trade(a, T0 + 5500 * MS, 5, 1, 0)); /* W = T0+3.5s */
    P(e, trade(a, T0 + 4200 * MS, 4, 1, 0)); /* its window ends at 5s > W: on time */
    P(e, trade(a, T0 + 3600 * MS, 3, 1, 0)); /* [3s, 4s) ends after W too */
    P(e, trade(a, T0 + 5100 * MS, 6, 1, 0));
    ASSERT_EQ_INT(r.n, 0);
    P(e, trade(a, T0 + 6 * SEC, 7, 1, 0)); /* W = T0+4s closes [3s, 4s) */
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_BAR(&r.it[0], T0 + 3 * SEC, 3, 3, 3, 3, 1, 1);
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(r.n, 4);
    ASSERT_BAR(&r.it[1], T0 + 4 * SEC, 4, 4, 4, 4, 1, 1);
    ASSERT_BAR(&r.it[2], T0 + 5 * SEC, 6, 6, 5, 5, 2, 2);
    ASSERT_BAR(&r.it[3], T0 + 6 * SEC, 7, 7, 7, 7, 1, 1);
    ASSERT_EQ_INT(tp_engine_stats(e)->late[0], 0);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_late_per_interval(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s,1m", NULL);
    uint32_t a = I("test:LATE");
    P(e, trade_id(a, T0 + 10500 * MS, 10, 1, 1)); /* W = T0+8.5s */
    P(e, trade_id(a, T0 + 7300 * MS, 7, 2, 2));   /* [7s,8s) is final: late for 1s only */
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_EQ_INT(r.it[0].type, 'L');
    ASSERT_EQ_INT(r.it[0].iv, SEC);
    ASSERT_EQ_INT(r.it[0].ev.ts, T0 + 7300 * MS);
    ASSERT_EQ_DBL(r.it[0].ev.price, 7);
    P(e, trade_id(a, T0 + 7300 * MS, 7, 2, 2)); /* its resend is a duplicate, not late again */
    ASSERT_EQ_INT(r.n, 1);
    P(e, trade_id(a, T0 + 8 * SEC, 8, 1, 3)); /* [8s,9s) ends at 9s > W: on time */
    ASSERT_EQ_INT(r.n, 1);
    P(e, trade_id(a, T0 + 70 * SEC, 70, 1, 4)); /* W = T0+68s closes 1s bars and the minute */
    size_t nb = rec_count(&r, 'B');
    ASSERT_EQ_INT(nb, 3); /* 1s [8] [10], 1m [0] */
    const struct item *m = rec_nth(&r, 'B', 2);
    ASSERT_EQ_INT(m->bar.interval_ns, 60 * SEC);
    ASSERT_BAR(m, T0, 7, 10, 7, 10, 4, 3);      /* the late 1s trade counts in the minute */
    P(e, trade_id(a, T0 + 30 * SEC, 30, 1, 5)); /* late for both: two callbacks, 1s then 1m */
    ASSERT_EQ_INT(rec_count(&r, 'L'), 3);
    ASSERT_EQ_INT(rec_nth(&r, 'L', 1)->iv, SEC);
    ASSERT_EQ_INT(rec_nth(&r, 'L', 2)->iv, 60 * SEC);
    const struct tp_engine_stats *st = tp_engine_stats(e);
    ASSERT_EQ_INT(st->late[0], 2);
    ASSERT_EQ_INT(st->late[1], 1);
    ASSERT_EQ_INT(st->duplicates, 1);
    ASSERT_EQ_INT(st->trades, 5);
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(rec_count(&r, 'B'), 5); /* + 1s [70], 1m [60] */
    tp_engine_free(e);
    rec_free(&r);
}

/* ---- duplicates ------------------------------------------------------------------------ */

static void test_dup_numeric_and_string(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t a = I("test:DUPN"), b = I("test:DUPS");
    P(e, trade_id(a, T0 + 100 * MS, 1, 1, 1));
    P(e, trade_id(a, T0 + 200 * MS, 2, 1, 3));
    P(e, trade_id(a, T0 + 300 * MS, 3, 1, 2)); /* out of order, new */
    P(e, trade_id(a, T0 + 400 * MS, 4, 1, 2)); /* duplicate */
    P(e, trade_id(a, T0 + 99 * SEC, 5, 1, 3)); /* duplicate far ahead: must not raise W */
    P(e, trade_id(a, T0 + 500 * MS, 6, 1, 4)); /* would be late if W had moved */
    ASSERT_EQ_INT(r.n, 0);
    struct tp_event s1 = trade(b, T0 + 100 * MS, 10, 1, 0), s2 = s1, s3 = s1;
    tp_event_set_id_str(&s1, "abc-1", 5);
    tp_event_set_id_str(&s2, "abc-2", 5);
    tp_event_set_id_str(&s3, "abc-1", 5);
    s3.ts = T0 + 90 * SEC; /* duplicate, far ahead: no W */
    P(e, s1);
    P(e, s2);
    P(e, s3);
    struct tp_event s4 = trade(b, T0 + 100 * MS, 10, 1, 0);
    tp_event_set_id(&s4, 1); /* numeric 1 is not string "1": separate spaces */
    P(e, s4);
    struct tp_event s5 = trade(b, T0 + 100 * MS, 10, 1, 0), s6 = s5;
    tp_event_set_id_str(&s5, "", 0); /* an empty id is no id: both kept */
    tp_event_set_id_str(&s6, "", 0);
    s6.price = 11;
    P(e, s5);
    P(e, s6);
    const struct tp_engine_stats *st = tp_engine_stats(e);
    ASSERT_EQ_INT(st->duplicates, 3);
    ASSERT_EQ_INT(st->trades, 9);
    ASSERT_EQ_INT(st->late[0], 0);
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(r.n, 2);
    ASSERT_BAR(&r.it[0], T0, 1, 6, 1, 6, 4, 4);
    ASSERT_BAR(&r.it[1], T0, 10, 11, 10, 11, 5, 5);
    tp_engine_free(e);
    rec_free(&r);
}

static struct tp_event snap(struct tp_event ev)
{
    ev.flags |= TP_EV_SNAPSHOT;
    return ev;
}

static void test_dup_snapshot_content(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1m", NULL);
    uint32_t a = I("test:DUPC");
    struct tp_event x = trade(a, T0 + 1 * SEC, 100, 1, TP_SIDE_BUY);
    struct tp_event y = trade(a, T0 + 2 * SEC, 101, 2, TP_SIDE_SELL);
    struct tp_event z = trade(a, T0 + 3 * SEC, 102, 3, TP_SIDE_BUY);
    P(e, x);
    P(e, x); /* two identical live trades: both count (no id, not a snapshot) */
    P(e, y);
    /* Reconnect: the venue resends x, x, x, y, z as a snapshot batch. */
    P(e, snap(x));
    P(e, snap(x));
    P(e, snap(x)); /* a third copy: more than the stream had, new */
    P(e, snap(y));
    P(e, snap(z));
    const struct tp_engine_stats *st = tp_engine_stats(e);
    ASSERT_EQ_INT(st->duplicates, 3);
    /* A second resend of the same batch is entirely duplicate. */
    P(e, snap(x));
    P(e, snap(x));
    P(e, snap(x));
    P(e, snap(y));
    P(e, snap(z));
    ASSERT_EQ_INT(st->duplicates, 8);
    /* y with another side is another trade. */
    struct tp_event y2 = y;
    y2.side = TP_SIDE_BUY;
    P(e, snap(y2));
    ASSERT_EQ_INT(st->duplicates, 8);
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_EQ_U64(r.it[0].bar.trades, 6); /* x x y | x z | y2 */
    ASSERT_EQ_DBL(r.it[0].bar.volume, 1 + 1 + 2 + 1 + 3 + 2);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_dedup_bounds(void)
{
    struct rec r = {0};
    struct tp_engine_cfg c;
    mk(&r, "1h", &c);
    c.dedup_bitmap_bits = 64;
    c.dedup_str_max = 4;
    c.dedup_str_max_age_ns = 10 * SEC;
    struct tp_engine *e = mk_cfg(&r, &c);
    const struct tp_engine_stats *st = tp_engine_stats(e);
    uint32_t a = I("test:BOUNDN"), b = I("test:BOUNDS"), d = I("test:BOUNDC");
    P(e, trade_id(a, T0, 1, 1, 1000));
    P(e, trade_id(a, T0, 1, 1, 936)); /* hwm − 64: older than the window */
    ASSERT_EQ_INT(st->duplicates, 1);
    ASSERT_EQ_INT(st->dedup_evictions, 1);
    P(e, trade_id(a, T0, 1, 1, 937)); /* inside the window, unseen: new */
    P(e, trade_id(a, T0, 1, 1, 937));
    ASSERT_EQ_INT(st->duplicates, 2);
    P(e, trade_id(a, T0, 1, 1, 1000 + 63)); /* slides the window; 1000 stays inside */
    P(e, trade_id(a, T0, 1, 1, 1000));
    ASSERT_EQ_INT(st->duplicates, 3);
    P(e, trade_id(a, T0, 1, 1, 1000 + 64 + 999)); /* a jump larger than the bitmap */
    P(e, trade_id(a, T0, 1, 1, 1000 + 64 + 998)); /* unseen, inside: new */
    ASSERT_EQ_INT(st->duplicates, 3);
    ASSERT_EQ_INT(st->dedup_evictions, 1);

    /* String ids: at most 4 kept; the oldest goes first. */
    char id[8];
    for (int i = 0; i < 6; i++) {
        struct tp_event s = trade(b, T0 + i * MS, 5, 1, 0);
        int n = snprintf(id, sizeof id, "s%d", i);
        tp_event_set_id_str(&s, id, (size_t)n);
        P(e, s);
    }
    ASSERT_EQ_INT(st->dedup_evictions, 3); /* s0, s1 evicted */
    struct tp_event s = trade(b, T0 + 6 * MS, 5, 1, 0);
    tp_event_set_id_str(&s, "s5", 2);
    P(e, s);
    ASSERT_EQ_INT(st->duplicates, 4); /* s5 still known */
    tp_event_set_id_str(&s, "s0", 2);
    P(e, s); /* forgotten: accepted again (the documented cost of the bound) */
    ASSERT_EQ_INT(st->duplicates, 4);
    ASSERT_EQ_INT(st->dedup_evictions, 4); /* s2 made room */
    /* Age: 11 s later every kept id is older than 10 s and goes. */
    struct tp_event late = trade(b, T0 + 11 * SEC, 5, 1, 0);
    tp_event_set_id_str(&late, "new", 3);
    P(e, late);
    ASSERT_EQ_INT(st->dedup_evictions, 8);
    tp_event_set_id_str(&s, "s5", 2);
    P(e, s);
    ASSERT_EQ_INT(st->duplicates, 4);

    /* Id-less trades: at most 4096 remembered. */
    uint64_t ev0 = st->dedup_evictions;
    for (int i = 0; i < 5000; i++) P(e, trade(d, T0 + i, 1, 1, 0));
    ASSERT_EQ_INT(st->dedup_evictions - ev0, 5000 - 4096);
    P(e, snap(trade(d, T0 + 4999, 1, 1, 0))); /* kept: duplicate */
    P(e, snap(trade(d, T0 + 1, 1, 1, 0)));    /* evicted: accepted */
    ASSERT_EQ_INT(st->duplicates, 5);
    tp_engine_free(e);
    rec_free(&r);
}

/* Random ids against a plain model of the documented rules: the numeric window, and the
 * string set's count and age bounds (exercises the index's deletions thoroughly). */
static void test_dedup_model(void)
{
    struct rec r = {0};
    struct tp_engine_cfg c;
    mk(&r, "1d", &c);
    c.dedup_bitmap_bits = 64;
    c.dedup_str_max = 50;
    c.dedup_str_max_age_ns = 30 * SEC;
    struct tp_engine *e = mk_cfg(&r, &c);
    const struct tp_engine_stats *st = tp_engine_stats(e);
    uint32_t a = I("test:MODELN"), b = I("test:MODELS");
    struct tp_rng g;
    tp_rng_seed(&g, 99);

    static bool seen[20000];
    uint64_t hwm = 0;
    bool has = false;
    for (int k = 0; k < 20000; k++) {
        uint64_t id = has ? hwm + 10 - tp_rng_below(&g, 90) : 5000;
        if (tp_rng_below(&g, 100) == 0) id = hwm + 30 + tp_rng_below(&g, 100); /* jumps */
        bool want = (has && id + 64 <= hwm) || seen[id];
        uint64_t d0 = st->duplicates;
        P(e, trade_id(a, T0, 1, 1, id));
        if ((st->duplicates != d0) != want)
            TPT_FAIL("numeric id %llu (hwm %llu): dup %d, want %d", (unsigned long long)id,
                     (unsigned long long)hwm, st->duplicates != d0, want);
        if (!want) seen[id] = true;
        if (!has || id > hwm) hwm = id;
        has = true;
        if (hwm >= 19000) break;
    }

    struct {
        uint32_t id;
        int64_t ts;
    } fifo[50];
    int n = 0;
    int64_t ref = INT64_MIN, ts = T0;
    uint64_t evictions = st->dedup_evictions;
    for (int k = 0; k < 50000; k++) {
        ts += (int64_t)tp_rng_below(&g, 1500 * MS) - 500 * MS;
        uint32_t id = (uint32_t)tp_rng_below(&g, 400);
        if (ts > ref) ref = ts;
        while (n && ref - fifo[0].ts > c.dedup_str_max_age_ns) {
            memmove(fifo, fifo + 1, sizeof fifo[0] * (size_t)--n);
            evictions++;
        }
        bool want = false;
        for (int i = 0; i < n; i++) want = want || fifo[i].id == id;
        if (!want) {
            if (n == 50) {
                memmove(fifo, fifo + 1, sizeof fifo[0] * (size_t)--n);
                evictions++;
            }
            fifo[n].id = id;
            fifo[n++].ts = ts;
        }
        char s[16];
        int l = snprintf(s, sizeof s, "id%u", id);
        struct tp_event ev = trade(b, ts, 1, 1, 0);
        tp_event_set_id_str(&ev, s, (size_t)l);
        uint64_t d0 = st->duplicates;
        P(e, ev);
        if ((st->duplicates != d0) != want) TPT_FAIL("string id %s at %d: want dup %d", s, k, want);
        ASSERT_EQ_U64(st->dedup_evictions, evictions);
    }
    tp_engine_free(e);
    rec_free(&r);
}

/* ---- empty intervals and fill --------------------------------------------------------- */

static void test_empty_interval_and_fill(void)
{
    for (int fill = 0; fill < 2; fill++) {
        struct rec r = {0};
        struct tp_engine_cfg c;
        mk(&r, "1s", &c);
        c.fill = fill;
        c.ind.sma = 2;
        c.ind.atr = 2;
        c.ind.rsi = 2;
        struct tp_engine *e = mk_cfg(&r, &c);
        uint32_t a = I("test:FILL");
        P(e, trade(a, T0 + 100 * MS, 11, 1, 0));
        P(e, trade(a, T0 + 200 * MS, 9, 1, 0));
        P(e, trade(a, T0 + 300 * MS, 10, 1, 0));
        P(e, trade(a, T0 + 2100 * MS, 13, 1, 0));
        P(e, trade(a, T0 + 2200 * MS, 11, 1, 0));
        P(e, trade(a, T0 + 2300 * MS, 12, 1, 0));
        P(e, trade(a, T0 + 3100 * MS, 16, 1, 0));
        P(e, trade(a, T0 + 3200 * MS, 14, 1, 0));
        P(e, trade(a, T0 + 3300 * MS, 15, 1, 0));
        P(e, status(a, TP_ST_HEARTBEAT, T0 + 7 * SEC)); /* W = T0+5s */
        /* Real bars at 0, 2, 3; fill: 1 between them and 4 after (W = 5s), none before 0. */
        ASSERT_EQ_INT(r.n, fill ? 5u : 3u);
        const struct item *f1 = fill ? &r.it[1] : NULL;
        if (fill) {
            ASSERT(f1->bar.filled && f1->bar.final);
            ASSERT_BAR(f1, T0 + SEC, 10, 10, 10, 10, 0, 0);
            ASSERT(isnan(f1->bar.vwap));
            ASSERT(isnan(f1->bar.ind.sma) && isnan(f1->bar.ind.atr));
            ASSERT(r.it[4].bar.filled);
            ASSERT_EQ_INT(r.it[4].bar.ts, T0 + 4 * SEC);
            ASSERT_EQ_DBL(r.it[4].bar.close, 15);
        }
        const struct item *b3 = &r.it[fill ? 3 : 2];
        ASSERT_BAR(b3, T0 + 3 * SEC, 16, 16, 14, 15, 3, 3);
        /* Indicators saw the real bars only. */
        struct tp_ind *ref = tp_ind_new(&c.ind), *withfill = tp_ind_new(&c.ind);
        struct tp_ind_values v, vf;
        tp_ind_update(ref, 11, 9, 10, &v);
        tp_ind_update(ref, 13, 11, 12, &v);
        tp_ind_update(ref, 16, 14, 15, &v);
        tp_ind_update(withfill, 11, 9, 10, &vf);
        tp_ind_update(withfill, 10, 10, 10, &vf);
        tp_ind_update(withfill, 13, 11, 12, &vf);
        tp_ind_update(withfill, 16, 14, 15, &vf);
        ASSERT(!isnan(v.atr) && v.atr != vf.atr); /* feeding the fill bar would show */
        ASSERT_EQ_DBL(b3->bar.ind.sma, v.sma);
        ASSERT_EQ_DBL(b3->bar.ind.atr, v.atr);
        ASSERT_EQ_DBL(b3->bar.ind.rsi, v.rsi);
        tp_ind_free(ref);
        tp_ind_free(withfill);
        /* eof: no trailing fill bars to infinity. */
        tp_engine_flush_all(e);
        ASSERT_EQ_INT(r.n, fill ? 5u : 3u);
        tp_engine_free(e);
        rec_free(&r);
    }
}

/* ---- quote-only ------------------------------------------------------------------------- */

static void test_quote_only(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t fx = I("test:EUR-USD"), q = I("test:QUOTES");
    P(e, quote(fx, T0 + 100 * MS, 1.0850, 1.0852, true));
    P(e, quote(fx, T0 + 700 * MS, 1.0854, 1.0858, true));
    P(e, quote(fx, T0 + 400 * MS, 1.0840, 1.0842, true));
    P(e, trade(fx, T0 + 500 * MS, 2, 1, 0)); /* a quote-only instrument takes no trades */
    /* Quotes of an instrument with trades build no bars and do not move W. */
    P(e, trade(q, T0 + 100 * MS, 50, 1, 0));
    P(e, quote(q, T0 + 60 * SEC, 49, 51, false));
    ASSERT_EQ_INT(r.n, 0);
    P(e, quote(fx, T0 + 3 * SEC, 1.09, 1.0902, true)); /* W = T0+1s */
    ASSERT_EQ_INT(r.n, 1);
    const struct tp_bar *b = &r.it[0].bar;
    ASSERT_EQ_INT(b->instr, fx);
    ASSERT_BAR(&r.it[0], T0, (1.0850 + 1.0852) / 2, (1.0854 + 1.0858) / 2, (1.0840 + 1.0842) / 2,
               (1.0854 + 1.0858) / 2, 0, 3);
    ASSERT(isnan(b->vwap));
    ASSERT_EQ_DBL(b->notional, 0);
    ASSERT_EQ_INT(tp_engine_stats(e)->ignored, 1);
    ASSERT_EQ_INT(tp_engine_stats(e)->quotes, 5);
    tp_engine_free(e);
    rec_free(&r);
}

/* ---- heartbeats, holds, eof ----------------------------------------------------------- */

static void test_heartbeat_closes(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s,1m", NULL);
    uint32_t a = I("test:QUIET");
    P(e, trade(a, T0 + 500 * MS, 7, 1, 0));
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 2999 * MS)); /* W = T0+0.999s: nothing yet */
    ASSERT_EQ_INT(r.n, 0);
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 3 * SEC)); /* W = T0+1s closes [0, 1s) */
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_BAR(&r.it[0], T0, 7, 7, 7, 7, 1, 1);
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 62 * SEC)); /* closes the minute (and is stale) */
    ASSERT_EQ_INT(rec_count(&r, 'B'), 2);
    ASSERT_EQ_INT(r.it[1].bar.interval_ns, 60 * SEC);
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 30 * SEC)); /* older: no effect */
    P(e, trade(a, T0 + 59 * SEC, 8, 1, 0));          /* late for both */
    ASSERT_EQ_INT(rec_count(&r, 'L'), 2);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_hold_and_cap(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t a = I("test:HOLD");
    P(e, trade(a, T0 + 500 * MS, 1, 1, 0));
    P(e, status(a, TP_ST_HOLD, T0 + 1 * SEC)); /* W stays ≤ T0 − 1s (hold ts − lateness) */
    P(e, trade(a, T0 + 10 * SEC, 10, 1, 0));
    P(e, trade(a, T0 + 20 * SEC, 20, 1, 0));
    ASSERT_EQ_INT(r.n, 0);
    P(e, trade(a, T0 + 800 * MS, 2, 1, 0)); /* backfilled: lands in [0, 1s) */
    ASSERT_EQ_INT(rec_count(&r, 'L'), 0);
    P(e, status(a, TP_ST_RELEASE, T0 + 21 * SEC)); /* W = T0+18s */
    ASSERT_EQ_INT(r.n, 2);
    ASSERT_BAR(&r.it[0], T0, 1, 2, 1, 2, 2, 2);
    ASSERT_BAR(&r.it[1], T0 + 10 * SEC, 10, 10, 10, 10, 1, 1);
    tp_engine_free(e);
    rec_free(&r);

    /* Without the hold, the same backfilled trade is late. */
    e = mk(&r, "1s", NULL);
    uint32_t b = I("test:NOHOLD");
    P(e, trade(b, T0 + 500 * MS, 1, 1, 0));
    P(e, trade(b, T0 + 10 * SEC, 10, 1, 0));
    P(e, trade(b, T0 + 800 * MS, 2, 1, 0));
    ASSERT_EQ_INT(rec_count(&r, 'L'), 1);
    tp_engine_free(e);
    rec_free(&r);

    /* The cap: the hold starts at raw W = T0 − 1.5s and ends once raw W ≥ T0 + 58.5s. */
    e = mk(&r, "1s", NULL);
    uint32_t c = I("test:HOLDCAP");
    P(e, trade(c, T0 + 500 * MS, 1, 1, 0));
    P(e, status(c, TP_ST_HOLD, T0 + 5 * SEC)); /* the limit T0+3s is above W: W may reach it */
    P(e, status(c, TP_ST_HEARTBEAT, T0 + 30 * SEC));
    ASSERT_EQ_INT(r.n, 1);                   /* W = T0+3s (the limit) closed [0, 1s) */
    P(e, trade(c, T0 + 3500 * MS, 3, 1, 0)); /* [3s, 4s) is open at W = 3s */
    P(e, trade(c, T0 + 60 * SEC, 60, 1, 0)); /* raw T0+58s: 59.5s into the hold */
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_EQ_INT(rec_count(&r, 'L'), 0);
    P(e, trade(c, T0 + 60500 * MS, 61, 1, 0)); /* raw T0+58.5s: 60s, released */
    ASSERT_EQ_INT(r.n, 2);                     /* W = T0+58.5s: [60s, 61s) stays open */
    ASSERT_BAR(&r.it[1], T0 + 3 * SEC, 3, 3, 3, 3, 1, 1);
    tp_engine_free(e);
    rec_free(&r);
}

/* A hold lets many windows stay open (here 60 one-second windows, filled newest first):
 * each lands in its window, and the release emits them in start order. */
static void test_hold_many_windows(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t a = I("test:HOLDMANY");
    P(e, trade(a, T0 + 500 * MS, 1, 1, 0));
    P(e, status(a, TP_ST_HOLD, T0 + SEC)); /* W ≤ T0 − 1s */
    for (int k = 59; k >= 1; k--) P(e, trade(a, T0 + k * SEC + 500 * MS, 100 + k, 1, 0));
    ASSERT_EQ_INT(r.n, 0);
    ASSERT_EQ_INT(tp_engine_stats(e)->late[0], 0);
    P(e, status(a, TP_ST_RELEASE, T0 + 60 * SEC)); /* W = raw = T0 + 57.5s */
    ASSERT_EQ_INT(r.n, 57);
    for (int k = 0; k < 57; k++) {
        ASSERT_EQ_INT(r.it[k].bar.ts, T0 + k * SEC);
        ASSERT_EQ_DBL(r.it[k].bar.close, k ? 100 + k : 1);
    }
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(r.n, 60);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_eof_and_order(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s,1m,1h", NULL);
    /* Interned B before A: ids ascend the other way from names. */
    uint32_t b = I("test:ORDB"), a = I("test:ORDA");
    ASSERT(b < a);
    P(e, trade(b, T0 + 1500 * MS, 2, 1, 0));
    P(e, trade(b, T0 + 500 * MS, 1, 1, 0));
    P(e, trade(a, T0 + 61 * SEC, 3, 1, 0));
    P(e, trade(a, T0 + 60500 * MS, 4, 1, 0));
    ASSERT_EQ_INT(r.n, 0);
    P(e, status(b, TP_ST_EOF, T0 + 2 * SEC)); /* b only: 1s [0] [1], 1m [0], 1h [0] */
    ASSERT_EQ_INT(r.n, 4);
    ASSERT_EQ_INT(r.it[0].bar.ts, T0);
    ASSERT_EQ_INT(r.it[1].bar.ts, T0 + SEC);
    ASSERT_EQ_INT(r.it[2].bar.interval_ns, 60 * SEC);
    ASSERT_EQ_INT(r.it[3].bar.interval_ns, 3600 * SEC);
    P(e, trade(b, T0 + 99 * SEC, 5, 1, 0)); /* after eof every window is final: late ×3 */
    ASSERT_EQ_INT(rec_count(&r, 'L'), 3);
    uint32_t c = I("test:ORDC");
    P(e, trade(c, T0, 6, 1, 0));
    r.n = 0;
    tp_engine_flush_all(e); /* by name: ORDA then ORDC (ORDB is done) */
    ASSERT_EQ_INT(r.n, 2 + 1 + 1 + 3);
    for (int i = 0; i < 4; i++) ASSERT_EQ_INT(r.it[i].bar.instr, a);
    ASSERT_EQ_INT(r.it[0].bar.ts, T0 + 60 * SEC);
    ASSERT_EQ_INT(r.it[1].bar.ts, T0 + 61 * SEC);
    for (int i = 4; i < 7; i++) ASSERT_EQ_INT(r.it[i].bar.instr, c);
    tp_engine_flush_all(e); /* idempotent */
    ASSERT_EQ_INT(r.n, 7);
    tp_engine_free(e);
    rec_free(&r);
}

/* ---- detectors --------------------------------------------------------------------------- */

static void test_crossed_quote(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t a = I("test:CROSS");
    P(e, quote(a, T0, 100, 100.5, false));
    P(e, quote(a, T0 + SEC, 101, 100.5, false));        /* crossed */
    P(e, quote(a, T0 + 5 * SEC, 100.5, 100.5, false));  /* locked, within the cooldown */
    P(e, quote(a, T0 + 11 * SEC, 100.5, 100.5, false)); /* 10 s later: alarms again */
    ASSERT_EQ_INT(r.n, 2);
    const struct tp_anomaly *x = &r.it[0].an;
    ASSERT_EQ_INT(x->kind, TP_AN_CROSSED_QUOTE);
    ASSERT_EQ_INT(x->instr, a);
    ASSERT_EQ_INT(x->ts, T0 + SEC);
    ASSERT_EQ_DBL(x->observed, 101);
    ASSERT_EQ_DBL(x->expected, 100.5);
    ASSERT_EQ_DBL(x->score, 0.5);
    ASSERT_EQ_INT(x->interval_ns, 0);
    ASSERT_EQ_INT(r.it[1].an.ts, T0 + 11 * SEC);
    ASSERT_EQ_DBL(r.it[1].an.score, 0);
    ASSERT_EQ_INT(tp_engine_stats(e)->anomalies[TP_AN_CROSSED_QUOTE], 2);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_stale(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1h", NULL);
    uint32_t a = I("test:STALE");
    P(e, trade(a, T0, 1, 1, 0));
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 30 * SEC));
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 60 * SEC - 1));
    ASSERT_EQ_INT(r.n, 0);
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 75 * SEC));
    ASSERT_EQ_INT(r.n, 1);
    const struct tp_anomaly *s = &r.it[0].an;
    ASSERT_EQ_INT(s->kind, TP_AN_STALE);
    ASSERT_EQ_INT(s->ts, T0 + 75 * SEC);
    ASSERT_EQ_DBL(s->observed, 75);
    ASSERT_EQ_DBL(s->expected, 60);
    ASSERT_EQ_DBL(s->score, 1.25);
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 200 * SEC)); /* one alarm until the next event */
    ASSERT_EQ_INT(r.n, 1);
    P(e, trade(a, T0 + 201 * SEC, 1, 1, 0));
    P(e, status(a, TP_ST_DISCONNECTED, T0 + 202 * SEC));
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 400 * SEC)); /* disconnected: no alarm */
    ASSERT_EQ_INT(r.n, 1);
    P(e, status(a, TP_ST_CONNECTED, T0 + 401 * SEC)); /* the stale clock restarts here */
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 460 * SEC));
    ASSERT_EQ_INT(r.n, 1);
    P(e, status(a, TP_ST_HEARTBEAT, T0 + 461 * SEC));
    ASSERT_EQ_INT(rec_count(&r, 'A'), 2);
    ASSERT_EQ_DBL(rec_nth(&r, 'A', 1)->an.observed, 60);
    /* An instrument with no market event: the clock starts at its first heartbeat. */
    uint32_t b = I("test:STALE2");
    P(e, status(b, TP_ST_HEARTBEAT, T0));
    P(e, status(b, TP_ST_HEARTBEAT, T0 + 60 * SEC));
    ASSERT_EQ_INT(rec_count(&r, 'A'), 3);
    ASSERT_EQ_INT(tp_engine_stats(e)->anomalies[TP_AN_STALE], 3);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_gap(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t a = I("test:GAP");
    struct tp_event g = status(a, TP_ST_GAP, T0 + 5 * SEC);
    g.trade_id = 100;
    g.gap_last = 105;
    P(e, g);
    struct tp_event gt = status(a, TP_ST_GAP, T0 + 9 * SEC);
    gt.flags |= TP_EV_GAP_TIME;
    gt.trade_id = (uint64_t)(T0 + 6 * SEC);
    gt.gap_last = (uint64_t)(T0 + 8500 * MS);
    P(e, gt);
    ASSERT_EQ_INT(r.n, 4);
    ASSERT_EQ_INT(r.it[0].type, 'G');
    ASSERT_EQ_INT(r.it[0].gap.instr, a);
    ASSERT_EQ_INT(r.it[0].gap.ts, T0 + 5 * SEC);
    ASSERT_EQ_U64(r.it[0].gap.first_missing, 100);
    ASSERT_EQ_U64(r.it[0].gap.last_missing, 105);
    ASSERT(!r.it[0].gap.by_time && !r.it[0].gap.backfilled);
    ASSERT_EQ_INT(r.it[1].type, 'A');
    ASSERT_EQ_INT(r.it[1].an.kind, TP_AN_GAP);
    ASSERT_EQ_DBL(r.it[1].an.observed, 6);
    ASSERT(r.it[2].gap.by_time);
    ASSERT_EQ_U64(r.it[2].gap.first_missing, (uint64_t)(T0 + 6 * SEC));
    ASSERT_EQ_DBL(r.it[3].an.observed, 2.5);
    ASSERT_EQ_INT(tp_engine_stats(e)->gaps, 2);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_bad_events(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t a = I("test:BAD");
    P(e, trade(a, T0 + 10 * SEC, NAN, 1, 0));
    P(e, trade(a, T0 + 10 * SEC, 0, 1, 0));
    P(e, trade(a, T0 + 10 * SEC, -1, 1, 0));
    P(e, trade(a, T0 + 10 * SEC, INFINITY, 1, 0));
    P(e, trade(a, T0 + 10 * SEC, 1, -1, 0));
    P(e, trade(a, T0 + 10 * SEC, 1, NAN, 0));
    P(e, trade(a, INT64_MAX, 1, 1, 0));
    P(e, quote(a, T0 + 10 * SEC, NAN, 1, false));
    struct tp_event s;
    tp_event_init(&s, TP_KIND_SNAPSHOT);
    s.instr = a;
    s.ts = T0 + 10 * SEC;
    s.price = 1;
    P(e, s); /* snapshots never raise W either */
    tp_event_init(&s, TP_KIND_VBAR);
    s.instr = a;
    s.ts = T0 + 20 * SEC;
    s.price = 1;
    P(e, s);
    P(e, trade(9999999, T0, 1, 1, 0));      /* not an interned instrument */
    P(e, trade(a, T0 + 100 * MS, 1, 0, 0)); /* size 0 is a trade */
    const struct tp_engine_stats *st = tp_engine_stats(e);
    ASSERT_EQ_INT(st->ignored, 9);
    ASSERT_EQ_INT(st->snapshots, 1);
    ASSERT_EQ_INT(st->vbars, 1);
    ASSERT_EQ_INT(st->trades, 1);
    ASSERT_EQ_INT(st->events, 12);
    ASSERT_EQ_INT(rec_count(&r, 'L'), 0);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_indicators_and_volspike(void)
{
    struct rec r = {0};
    struct tp_engine_cfg c;
    mk(&r, "1s", &c);
    struct tp_engine *e = mk_cfg(&r, &c);
    uint32_t a = I("test:IND");
    struct tp_rng g;
    tp_rng_seed(&g, 7);
    double px = 100;
    for (int s = 0; s < 60; s++)
        for (int k = 0; k < 4; k++) {
            px *= exp(0.002 * tp_rng_normal(&g));
            double size = s == 45 ? 50 : 1; /* bar 45 has 10× the usual volume */
            P(e, trade(a, T0 + s * SEC + k * 200 * MS, px, size, 0));
        }
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(rec_count(&r, 'B'), 60);
    struct tp_ind *ref = tp_ind_new(&c.ind);
    for (size_t k = 0; k < 60; k++) {
        const struct item *it = rec_nth(&r, 'B', k);
        struct tp_ind_values v;
        tp_ind_update(ref, it->bar.high, it->bar.low, it->bar.close, &v);
        const struct tp_ind_values *b = &it->bar.ind;
        ASSERT_EQ_DBL(b->sma, v.sma);
        ASSERT_EQ_DBL(b->ema, v.ema);
        ASSERT_EQ_DBL(b->bb_upper, v.bb_upper);
        ASSERT_EQ_DBL(b->bb_lower, v.bb_lower);
        ASSERT_EQ_DBL(b->rsi, v.rsi);
        ASSERT_EQ_DBL(b->macd, v.macd);
        ASSERT_EQ_DBL(b->macd_signal, v.macd_signal);
        ASSERT_EQ_DBL(b->macd_hist, v.macd_hist);
        ASSERT_EQ_DBL(b->atr, v.atr);
        ASSERT_EQ_DBL(b->volatility, v.volatility);
        if (k < 19) ASSERT(isnan(b->sma));
        if (k >= 33) ASSERT(!isnan(b->macd) && !isnan(b->sma) && !isnan(b->rsi));
    }
    tp_ind_free(ref);
    /* The spike alarm follows its bar directly. */
    ASSERT_EQ_INT(tp_engine_stats(e)->anomalies[TP_AN_VOLUME_SPIKE], 1);
    size_t i = 0;
    while (!(r.it[i].type == 'A' && r.it[i].an.kind == TP_AN_VOLUME_SPIKE)) i++;
    ASSERT(i > 0 && r.it[i - 1].type == 'B');
    ASSERT_EQ_INT(r.it[i - 1].bar.ts, T0 + 45 * SEC);
    ASSERT_EQ_INT(r.it[i].an.instr, a);
    ASSERT_EQ_INT(r.it[i].an.interval_ns, SEC);
    ASSERT_EQ_DBL(r.it[i].an.observed, 200);
    tp_engine_free(e);
    rec_free(&r);
}

static void test_return_zscore(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s", NULL);
    uint32_t a = I("test:RETZ");
    double px = 100;
    for (int k = 0; k <= 101; k++) {
        px *= k % 2 ? 1.001 : 1 / 1.001;
        P(e, trade(a, T0 + k * 10 * MS, px, 1, 0));
    }
    ASSERT_EQ_INT(r.n, 0);
    P(e, trade(a, T0 + 3 * SEC, px * 1.05, 1, 0)); /* W = T0+1s closes [0, 1s) first */
    ASSERT_EQ_INT(r.n, 2);
    ASSERT_EQ_INT(r.it[0].type, 'B');
    ASSERT_EQ_INT(r.it[1].type, 'A');
    ASSERT_EQ_INT(r.it[1].an.kind, TP_AN_RETURN_ZSCORE);
    ASSERT_EQ_INT(r.it[1].an.instr, a);
    ASSERT_EQ_DBL(r.it[1].an.observed, px * 1.05);
    tp_engine_free(e);
    rec_free(&r);
}

/* ---- configuration, partial bars ------------------------------------------------------ */

static void test_cfg_and_parse(void)
{
    struct tp_engine_cfg c;
    tp_engine_cfg_default(&c);
    ASSERT_EQ_INT(c.n_intervals, 6);
    const int64_t want[] = {SEC, 60 * SEC, 300 * SEC, 900 * SEC, 3600 * SEC, 86400 * SEC};
    for (int i = 0; i < 6; i++) ASSERT_EQ_INT(c.intervals[i], want[i]);
    ASSERT_EQ_INT(c.lateness_ns, 2 * SEC);
    ASSERT_EQ_INT(c.hold_cap_ns, 60 * SEC);
    ASSERT(!c.fill);
    ASSERT_EQ_INT(c.dedup_bitmap_bits, 1 << 16);
    ASSERT_EQ_INT(c.dedup_str_max, 100000);
    ASSERT_EQ_INT(c.dedup_str_max_age_ns, 600 * SEC);
    ASSERT_EQ_INT(c.ind.sma, 20);
    ASSERT_EQ_INT(c.an.window, 100);
    ASSERT_EQ_INT(tp_engine_parse_intervals(&c, "1s,1m,5m"), 0);
    ASSERT_EQ_INT(c.n_intervals, 3);
    ASSERT_EQ_INT(c.intervals[2], 300 * SEC);
    ASSERT_EQ_INT(tp_engine_parse_intervals(&c, "500ms, 1s ,1h"), 0);
    ASSERT_EQ_INT(c.intervals[0], 500 * MS);
    const char *bad[] = {"",    "1m,1s", "1s,1s", "1s,,1m", "1s,",  "x",  "0s",
                         "-1s", "1q",    "10ns",  "1s;1m",  "400d", ",1s"};
    for (size_t i = 0; i < TP_ARRAY_LEN(bad); i++) {
        struct tp_engine_cfg d = c;
        if (tp_engine_parse_intervals(&d, bad[i]) != -EINVAL) TPT_FAIL("accepted \"%s\"", bad[i]);
        ASSERT_EQ_INT(d.n_intervals, 3); /* unchanged on error */
    }
    char many[256] = "";
    for (int i = 1; i <= 17; i++) {
        size_t l = strlen(many);
        snprintf(many + l, sizeof many - l, "%s%ds", i > 1 ? "," : "", i);
    }
    ASSERT_EQ_INT(tp_engine_parse_intervals(&c, many), -EINVAL);
    many[strlen(many) - 4] = 0; /* drop ",17s": 16 intervals */
    ASSERT_EQ_INT(tp_engine_parse_intervals(&c, many), 0);
    ASSERT_EQ_INT(c.n_intervals, 16);

    struct tp_engine_out o = {0};
    tp_engine_cfg_default(&c);
    c.dedup_bitmap_bits = 1000; /* not a power of two */
    ASSERT(tp_engine_new(&c, &o) == NULL);
    tp_engine_cfg_default(&c);
    c.lateness_ns = -1;
    ASSERT(tp_engine_new(&c, &o) == NULL);
    tp_engine_cfg_default(&c);
    c.intervals[1] = c.intervals[0];
    ASSERT(tp_engine_new(&c, &o) == NULL);
    tp_engine_cfg_default(&c);
    c.ind.sma = 0;
    ASSERT(tp_engine_new(&c, &o) == NULL);
    tp_engine_cfg_default(&c);
    struct tp_engine *e = tp_engine_new(&c, NULL); /* no callbacks at all */
    ASSERT(e != NULL);
    P(e, trade(I("test:NOOUT"), T0, 1, 1, 0));
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(tp_engine_stats(e)->bars[5], 1);
    tp_engine_free(e);
    tp_engine_free(NULL);
}

static void test_partial(void)
{
    struct rec r = {0};
    struct tp_engine *e = mk(&r, "1s,1m", NULL);
    uint32_t a = I("test:PART");
    struct tp_bar b;
    ASSERT_EQ_INT(tp_engine_partial(e, a, 0, &b), -ENOENT);
    P(e, trade(a, T0 + 100 * MS, 5, 2, TP_SIDE_BUY));
    P(e, trade(a, T0 + 1100 * MS, 6, 1, TP_SIDE_SELL));
    P(e, trade(a, T0 + 200 * MS, 4, 1, TP_SIDE_SELL));
    ASSERT_EQ_INT(tp_engine_partial(e, a, 0, &b), 0); /* the newest open 1s window */
    ASSERT_EQ_INT(b.ts, T0 + SEC);
    ASSERT(!b.final);
    ASSERT_EQ_DBL(b.close, 6);
    ASSERT_EQ_INT(tp_engine_partial(e, a, 1, &b), 0);
    ASSERT_EQ_INT(b.ts, T0);
    ASSERT_EQ_U64(b.trades, 3);
    ASSERT_EQ_DBL(b.vwap, (10.0 + 6 + 4) / 4);
    ASSERT_EQ_DBL(b.sell_volume, 2);
    ASSERT(isnan(b.ind.sma));
    ASSERT_EQ_INT(tp_engine_partial(e, a, 2, &b), -ENOENT);
    ASSERT_EQ_INT(tp_engine_partial(e, 9999999, 0, &b), -ENOENT);
    tp_engine_flush_all(e);
    ASSERT_EQ_INT(tp_engine_partial(e, a, 0, &b), -ENOENT);
    tp_engine_free(e);
    rec_free(&r);
}

/* ---- id independence and the checkpoint property -------------------------------------- */

/* A stream over 5 instruments exercising every path: ids of each kind, resends, snapshot
 * batches, out-of-order and late trades, quotes (crossed, quote-only), heartbeats, holds,
 * gaps, connection changes, bad rows and an eof. Deterministic for a seed. */
static size_t gen_stream(uint64_t seed, const uint32_t ins[5], struct tp_event *out, size_t n)
{
    struct tp_rng g;
    tp_rng_seed(&g, seed);
    int64_t t = T0 - 30 * SEC;
    double px[5] = {100, 2000, 30, 1.08, 7};
    uint64_t nid[5] = {1000, 1000, 1000, 1000, 1000};
    size_t k = 0;
    while (k < n) {
        int j = (int)tp_rng_below(&g, 5);
        uint32_t in = ins[j];
        t += (int64_t)tp_rng_below(&g, 400 * MS);
        int64_t ts = t;
        uint64_t u = tp_rng_below(&g, 1000);
        if (u < 120) ts -= (int64_t)tp_rng_below(&g, 5 * SEC); /* out of order or late */
        struct tp_event ev;
        if (j == 3) { /* quote-only forex */
            px[3] *= exp(0.0005 * tp_rng_normal(&g));
            ev = quote(in, ts, px[3] - 0.0001, px[3] + 0.0001, true);
            if (u % 97 == 0) ev.ask = ev.bid - 0.0001; /* crossed */
        } else if (u < 20) {
            ev = status(in, TP_ST_HEARTBEAT, t + (int64_t)tp_rng_below(&g, 3 * SEC));
        } else if (u < 24) {
            ev = status(in, TP_ST_HOLD, t);
        } else if (u < 30) {
            ev = status(in, TP_ST_RELEASE, t);
        } else if (u < 36) {
            ev = status(in, TP_ST_GAP, t);
            ev.trade_id = nid[j];
            ev.gap_last = nid[j] + tp_rng_below(&g, 5);
        } else if (u < 39) {
            ev = status(in, u % 2 ? TP_ST_DISCONNECTED : TP_ST_CONNECTED, t);
        } else if (u < 43) {
            ev = quote(in, ts, px[j] * 1.0001, px[j] * (u % 2 ? 0.9999 : 1.0002), false);
        } else if (u < 45) {
            ev = trade(in, ts, NAN, 1, 0); /* bad */
        } else if (u < 70 && k > 0 && out[k - 1].kind == TP_KIND_TRADE) {
            ev = out[k - 1]; /* a resend */
            if (!(ev.flags & TP_EV_HAS_ID)) ev.flags |= TP_EV_SNAPSHOT;
        } else {
            px[j] *= exp(0.001 * tp_rng_normal(&g) + (u == 999 ? 0.05 : 0));
            ev = trade(in, ts, px[j], 0.5 + (double)tp_rng_below(&g, 100) / 10,
                       (int)tp_rng_below(&g, 3));
            if (j == 0) {
                tp_event_set_id(&ev, nid[j]++);
                if (u % 50 == 0) nid[j] += 100; /* jumps in ids */
            } else if (j == 1) {
                char s[24];
                int l = snprintf(s, sizeof s, "x-%llu", (unsigned long long)nid[j]++);
                tp_event_set_id_str(&ev, s, (size_t)l);
            }
        }
        out[k++] = ev;
        if (k == n / 2 && k < n) out[k++] = status(ins[4], TP_ST_EOF, t);
    }
    return k;
}

static struct tp_engine_cfg ck_cfg(void)
{
    struct tp_engine_cfg c;
    tp_engine_cfg_default(&c);
    c.fill = true;
    c.dedup_bitmap_bits = 256;
    c.dedup_str_max = 40;
    c.dedup_str_max_age_ns = 20 * SEC;
    c.ind.sma = 5;
    c.ind.macd_fast = 3;
    c.ind.macd_slow = 6;
    c.ind.macd_sig = 2;
    c.an.window = 20;
    c.an.z = 2;
    c.an.vol_lookback = 3;
    c.an.vol_mult = 1.5;
    c.an.stale_ns = 2 * SEC;
    c.hold_cap_ns = 10 * SEC;
    ASSERT_EQ_INT(tp_engine_parse_intervals(&c, "1s,5s,1m"), 0);
    return c;
}

static bool deq(double a, double b)
{
    return dbl_bits(a) == dbl_bits(b);
}

/* Field by field (structs have padding); lines only for the failure message. */
static bool same_item(const struct item *x, const struct item *y)
{
    if (x->type != y->type) return false;
    switch (x->type) {
    case 'B': {
        const struct tp_bar *a = &x->bar, *b = &y->bar;
        const double *va = &a->ind.sma, *vb = &b->ind.sma;
        for (size_t i = 0; i < sizeof a->ind / sizeof(double); i++)
            if (!deq(va[i], vb[i])) return false;
        return a->instr == b->instr && a->interval_ns == b->interval_ns && a->ts == b->ts &&
               deq(a->open, b->open) && deq(a->high, b->high) && deq(a->low, b->low) &&
               deq(a->close, b->close) && deq(a->volume, b->volume) &&
               deq(a->notional, b->notional) && deq(a->vwap, b->vwap) && a->trades == b->trades &&
               deq(a->buy_volume, b->buy_volume) && deq(a->sell_volume, b->sell_volume) &&
               a->first_ts == b->first_ts && a->last_ts == b->last_ts && a->final == b->final &&
               a->filled == b->filled;
    }
    case 'A':
        return x->an.instr == y->an.instr && x->an.ts == y->an.ts && x->an.kind == y->an.kind &&
               deq(x->an.observed, y->an.observed) && deq(x->an.expected, y->an.expected) &&
               deq(x->an.score, y->an.score) && x->an.interval_ns == y->an.interval_ns;
    case 'L':
        return x->iv == y->iv && x->ev.instr == y->ev.instr && x->ev.ts == y->ev.ts &&
               x->ev.kind == y->ev.kind && deq(x->ev.price, y->ev.price) &&
               deq(x->ev.size, y->ev.size) && deq(x->ev.bid, y->ev.bid);
    case 'G':
        return x->gap.instr == y->gap.instr && x->gap.ts == y->gap.ts &&
               x->gap.first_missing == y->gap.first_missing &&
               x->gap.last_missing == y->gap.last_missing && x->gap.by_time == y->gap.by_time &&
               x->gap.backfilled == y->gap.backfilled;
    }
    return false;
}

static void test_checkpoint_every_split(void)
{
    enum { N = 2000 };
    static struct tp_event evs[N + 1];
    const uint32_t ins[5] = {I("ck:NUM"), I("ck:STR"), I("ck:NOID"), I("ck:FX"), I("ck:EOF")};
    size_t n = gen_stream(11, ins, evs, N);
    struct tp_engine_cfg c = ck_cfg();

    /* Reference: one engine, and where each event's callbacks begin. */
    static size_t start[N + 2];
    struct rec ref = {0};
    struct tp_engine *e = mk_cfg(&ref, &c);
    for (size_t k = 0; k < n; k++) {
        start[k] = ref.n;
        tp_engine_process(e, &evs[k]);
    }
    start[n] = ref.n;
    tp_engine_flush_all(e);
    tp_engine_free(e);
    /* The stream really exercises the paths the property is about. */
    ASSERT(rec_count(&ref, 'L') > 10);
    ASSERT(rec_count(&ref, 'G') > 5);
    ASSERT(rec_count(&ref, 'B') > 200);
    ASSERT(rec_count(&ref, 'A') > 10);

    struct rec pre = {0}, suf = {0};
    struct tp_engine *a = mk_cfg(&pre, &c);
    struct tp_buf b, b2;
    tp_buf_init(&b, 64 << 20);
    tp_buf_init(&b2, 64 << 20);
    char lx[1024], ly[1024];
    uint64_t dups = 0, evictions = 0;
    for (size_t k = 0; k <= n; k++) {
        if (k > 0) tp_engine_process(a, &evs[k - 1]);
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_engine_save(a, &b), 0);
        struct tp_engine *bb = mk_cfg(&suf, &c);
        ASSERT_EQ_INT(tp_engine_load(bb, b.p, b.len), 0);
        if (k % 97 == 0) { /* the checkpoint is canonical: save(load(x)) == x */
            tp_buf_reset(&b2);
            ASSERT_EQ_INT(tp_engine_save(bb, &b2), 0);
            ASSERT_EQ_INT(b2.len, b.len);
            ASSERT(memcmp(b.p, b2.p, b.len) == 0);
        }
        suf.n = 0;
        for (size_t j = k; j < n; j++) tp_engine_process(bb, &evs[j]);
        tp_engine_flush_all(bb);
        if (pre.n != start[k])
            TPT_FAIL("split %zu: prefix gave %zu callbacks, want %zu", k, pre.n, start[k]);
        if (suf.n != ref.n - start[k])
            TPT_FAIL("split %zu: suffix gave %zu callbacks, want %zu", k, suf.n, ref.n - start[k]);
        for (size_t j = 0; j < suf.n; j++)
            if (!same_item(&suf.it[j], &ref.it[start[k] + j])) {
                item_line(&suf.it[j], lx, sizeof lx);
                item_line(&ref.it[start[k] + j], ly, sizeof ly);
                TPT_FAIL("split %zu, callback %zu:\n   got  %s\n   want %s", k, j, lx, ly);
            }
        const struct tp_engine_stats *sa = tp_engine_stats(bb);
        if (k == n) {
            dups = sa->duplicates;
            evictions = sa->dedup_evictions;
        }
        tp_engine_free(bb);
    }
    ASSERT(dups > 20);
    ASSERT(evictions > 0);
    tp_engine_free(a);
    tp_buf_fini(&b);
    tp_buf_fini(&b2);
    rec_free(&ref);
    rec_free(&pre);
    rec_free(&suf);
}

static void test_checkpoint_malformed(void)
{
    enum { N = 600 };
    static struct tp_event evs[N + 1];
    const uint32_t ins[5] = {I("ck:NUM"), I("ck:STR"), I("ck:NOID"), I("ck:FX"), I("ck:EOF")};
    size_t n = gen_stream(5, ins, evs, N);
    struct tp_engine_cfg c = ck_cfg();
    struct rec r = {0};
    struct tp_engine *e = mk_cfg(&r, &c);
    for (size_t k = 0; k < n; k++) tp_engine_process(e, &evs[k]);
    struct tp_buf b;
    tp_buf_init(&b, 64 << 20);
    ASSERT_EQ_INT(tp_engine_save(e, &b), 0);
    struct tp_engine *f = mk_cfg(&r, &c);
    /* Every truncation is refused, and leaves an empty engine. */
    for (size_t len = 0; len < b.len; len += 1 + len / 64) {
        ASSERT_EQ_INT(tp_engine_load(f, b.p, len), -EBADMSG);
        ASSERT_EQ_INT(tp_engine_stats(f)->events, 0);
        struct tp_bar bar;
        ASSERT_EQ_INT(tp_engine_partial(f, ins[0], 0, &bar), -ENOENT);
    }
    ASSERT_EQ_INT(tp_engine_load(f, b.p, b.len - 1), -EBADMSG);
    /* Trailing bytes, a bad magic, a newer version. */
    char *copy = malloc(b.len + 1);
    memcpy(copy, b.p, b.len);
    copy[b.len] = 0;
    ASSERT_EQ_INT(tp_engine_load(f, copy, b.len + 1), -EBADMSG);
    copy[0] ^= 1;
    ASSERT_EQ_INT(tp_engine_load(f, copy, b.len), -EBADMSG);
    copy[0] ^= 1;
    copy[4] = 2;
    ASSERT_EQ_INT(tp_engine_load(f, copy, b.len), -EBADMSG);
    copy[4] = 1;
    ASSERT_EQ_INT(tp_engine_load(f, copy, b.len), 0);
    ASSERT_EQ_INT(tp_engine_stats(f)->events, n);
    /* Flipping any single byte never crashes (the result may still be valid). */
    for (size_t i = 8; i < b.len; i += 7) {
        copy[i] ^= 0x5a;
        int rc = tp_engine_load(f, copy, b.len);
        ASSERT(rc == 0 || rc == -EBADMSG);
        copy[i] ^= 0x5a;
    }
    free(copy);
    tp_engine_free(f);
    /* Another cfg is a mismatch. */
    c.lateness_ns = 3 * SEC;
    f = mk_cfg(&r, &c);
    ASSERT_EQ_INT(tp_engine_load(f, b.p, b.len), -EBADMSG);
    tp_engine_free(f);
    tp_engine_free(e);
    tp_buf_fini(&b);
    rec_free(&r);
}

/* The same stream over instruments whose ids are interned in opposite orders gives the same
 * callbacks, instrument for instrument: nothing is ordered by id. */
static void test_id_independence(void)
{
    const uint32_t p1 = I("idp:AAA"), p2 = I("idp:BBB");
    const uint32_t q2 = I("idq:BBB"), q1 = I("idq:AAA");
    ASSERT(p1 < p2 && q2 < q1);
    struct rec rp = {0}, rq = {0};
    struct tp_engine_cfg c = ck_cfg();
    struct tp_engine *ep = mk_cfg(&rp, &c), *eq = mk_cfg(&rq, &c);
    struct tp_rng g;
    tp_rng_seed(&g, 3);
    for (int k = 0; k < 300; k++) {
        bool first = tp_rng_below(&g, 2);
        int64_t ts = T0 + k * 150 * MS;
        double price = 10 + (double)tp_rng_below(&g, 100) / 10;
        P(ep, trade(first ? p1 : p2, ts, price, 1, 0));
        P(eq, trade(first ? q1 : q2, ts, price, 1, 0));
    }
    tp_engine_flush_all(ep);
    tp_engine_flush_all(eq);
    ASSERT_EQ_INT(rp.n, rq.n);
    char lx[1024], ly[1024];
    for (size_t i = 0; i < rp.n; i++) {
        item_line(&rp.it[i], lx, sizeof lx);
        item_line(&rq.it[i], ly, sizeof ly);
        /* Same line after the venue: "idp:" vs "idq:". */
        if (strcmp(lx + 5, ly + 5) != 0) TPT_FAIL("callback %zu:\n  %s\n  %s", i, lx, ly);
    }
    tp_engine_free(ep);
    tp_engine_free(eq);
    rec_free(&rp);
    rec_free(&rq);
}

TPT_MAIN({"window_boundaries", test_window_boundaries}, {"negative_times", test_negative_times},
         {"tie_rule", test_tie_rule}, {"vwap_clamp", test_vwap_clamp},
         {"out_of_order", test_out_of_order}, {"late_per_interval", test_late_per_interval},
         {"dup_numeric_and_string", test_dup_numeric_and_string},
         {"dup_snapshot_content", test_dup_snapshot_content}, {"dedup_bounds", test_dedup_bounds},
         {"dedup_model", test_dedup_model},
         {"empty_interval_and_fill", test_empty_interval_and_fill}, {"quote_only", test_quote_only},
         {"heartbeat_closes", test_heartbeat_closes}, {"hold_and_cap", test_hold_and_cap},
         {"hold_many_windows", test_hold_many_windows}, {"eof_and_order", test_eof_and_order},
         {"crossed_quote", test_crossed_quote}, {"stale", test_stale}, {"gap", test_gap},
         {"bad_events", test_bad_events}, {"indicators_and_volspike", test_indicators_and_volspike},
         {"return_zscore", test_return_zscore}, {"cfg_and_parse", test_cfg_and_parse},
         {"partial", test_partial}, {"id_independence", test_id_independence},
         {"checkpoint_every_split", test_checkpoint_every_split},
         {"checkpoint_malformed", test_checkpoint_malformed})
