/*
 * lake_writer.c — the lake's tables (schemas) and its batch writer (lake.h).
 *
 * Rows are kept compactly until their batch commits: a tick is a 56-byte struct whose rarely
 * present parts (the quote and forex doubles, a string trade id) live in a byte arena, and
 * whose venue symbol is an index into a small table of distinct symbols (one per instrument,
 * normally); outputs are kept as the engine's structs. `bytes` counts all of it plus the sort
 * keys a commit will need, so batch_bytes bounds the writer's memory.
 *
 * Commit: sort keys (partition, instrument rank by name, ts, arrival index) — qsort on a key
 * array, so that equal (instrument, ts) stay in offset order — then one file per run of equal
 * partition: written to .NAME.parquet.tmp in CHUNK-row slices, fsynced, closed; after every
 * table of the log, the renames, then an fsync of every directory touched. Dates are UTC days
 * of ts (floor division), so times before 1970 land on the right day.
 *
 * Invariants:
 *  1. A batch's offsets ascend; first/last are the first and last offset given since the last
 *     commit (rows or not).
 *  2. Arena offsets are stored +1 in u32 (0 = none); the arena never exceeds ARENA_MAX.
 *  3. Nothing is renamed before every file of the commit is fsynced.
 */
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/instrument.h"
#include "core/log.h"
#include "core/tptime.h"
#include "sink/lake.h"

#define CHUNK       8192
#define MAX_COLS    32
#define ARENA_MAX   ((size_t)UINT32_MAX - 1)
#define NS_PER_DAY  (86400 * TP_NS_PER_SEC)
#define DAY_BIAS    (INT64_C(1) << 20) /* |days| of any int64 ns time are below 2^17 */
#define EXTRAS      9
#define ID_TXT      24
#define MAX_RENAMES 4096
#define BATCH_MAX   ((size_t)1 << 31)

/* ---- schemas ----------------------------------------------------------------------------- */

#define REQ(n, k)                                                                                  \
    {                                                                                              \
        n, k, false, false                                                                         \
    }
#define OPT(n, k)                                                                                  \
    {                                                                                              \
        n, k, true, false                                                                          \
    }

static const struct tp_pq_column ticks_cols[] = {
    REQ("ts", TP_PQ_TS_MICROS),        REQ("ts_ns", TP_PQ_INT64),
    REQ("ts_recv", TP_PQ_TS_MICROS),   REQ("instrument", TP_PQ_STRING),
    OPT("venue_symbol", TP_PQ_STRING), REQ("kind", TP_PQ_STRING),
    OPT("price", TP_PQ_DOUBLE),        OPT("size", TP_PQ_DOUBLE),
    OPT("side", TP_PQ_STRING),         OPT("trade_id", TP_PQ_STRING),
    OPT("bid", TP_PQ_DOUBLE),          OPT("ask", TP_PQ_DOUBLE),
    OPT("bid_size", TP_PQ_DOUBLE),     OPT("ask_size", TP_PQ_DOUBLE),
    OPT("open", TP_PQ_DOUBLE),         OPT("high", TP_PQ_DOUBLE),
    OPT("low", TP_PQ_DOUBLE),          OPT("change", TP_PQ_DOUBLE),
    OPT("value", TP_PQ_DOUBLE),        REQ("interval", TP_PQ_STRING), /* late only */
};
#define NTICKS 19

static const struct tp_pq_column bars_cols[] = {
    REQ("instrument", TP_PQ_STRING),  REQ("interval", TP_PQ_STRING),
    REQ("ts", TP_PQ_TS_MICROS),       REQ("open", TP_PQ_DOUBLE),
    REQ("high", TP_PQ_DOUBLE),        REQ("low", TP_PQ_DOUBLE),
    REQ("close", TP_PQ_DOUBLE),       REQ("volume", TP_PQ_DOUBLE),
    REQ("notional", TP_PQ_DOUBLE),    OPT("vwap", TP_PQ_DOUBLE),
    REQ("trades", TP_PQ_INT64),       REQ("buy_volume", TP_PQ_DOUBLE),
    REQ("sell_volume", TP_PQ_DOUBLE), REQ("first_ts", TP_PQ_TS_MICROS),
    REQ("last_ts", TP_PQ_TS_MICROS),  OPT("sma_20", TP_PQ_DOUBLE),
    OPT("ema_20", TP_PQ_DOUBLE),      OPT("bb_upper", TP_PQ_DOUBLE),
    OPT("bb_middle", TP_PQ_DOUBLE),   OPT("bb_lower", TP_PQ_DOUBLE),
    OPT("rsi_14", TP_PQ_DOUBLE),      OPT("macd", TP_PQ_DOUBLE),
    OPT("macd_signal", TP_PQ_DOUBLE), OPT("macd_hist", TP_PQ_DOUBLE),
    OPT("atr_14", TP_PQ_DOUBLE),      OPT("volatility_20", TP_PQ_DOUBLE),
};

static const struct tp_pq_column anomalies_cols[] = {
    REQ("instrument", TP_PQ_STRING), REQ("ts", TP_PQ_TS_MICROS),    REQ("kind", TP_PQ_STRING),
    OPT("observed", TP_PQ_DOUBLE),   OPT("expected", TP_PQ_DOUBLE), OPT("score", TP_PQ_DOUBLE),
    OPT("interval", TP_PQ_STRING),
};

static const struct tp_pq_column gaps_cols[] = {
    REQ("instrument", TP_PQ_STRING),   REQ("ts", TP_PQ_TS_MICROS),
    REQ("first_missing", TP_PQ_INT64), REQ("last_missing", TP_PQ_INT64),
    REQ("backfilled", TP_PQ_BOOL),
};

const struct tp_pq_column *tp_lake_schema(enum tp_lake_table t, size_t *ret_ncols)
{
    switch (t) {
    case TP_LAKE_TICKS:
        *ret_ncols = NTICKS;
        return ticks_cols;
    case TP_LAKE_LATE:
        *ret_ncols = NTICKS + 1;
        return ticks_cols;
    case TP_LAKE_BARS:
        *ret_ncols = TP_ARRAY_LEN(bars_cols);
        return bars_cols;
    case TP_LAKE_ANOMALIES:
        *ret_ncols = TP_ARRAY_LEN(anomalies_cols);
        return anomalies_cols;
    case TP_LAKE_GAPS:
        *ret_ncols = TP_ARRAY_LEN(gaps_cols);
        return gaps_cols;
    default:
        *ret_ncols = 0;
        return NULL;
    }
}

/* ---- rows -------------------------------------------------------------------------------- */

struct tick {
    int64_t ts, ts_recv;
    double price, size;
    uint64_t id; /* numeric id, or arena offset + 1 of a string id (u8 len, bytes) */
    uint32_t instr;
    uint32_t vsym;    /* index + 1 into the symbol table; 0 = none */
    uint32_t ext;     /* arena offset + 1 of the present extras (doubles); 0 = none */
    uint16_t extmask; /* bit i: extra i (bid, ask, bid_size, ...) present */
    uint8_t kind, side;
    uint8_t idkind; /* 0 none, 1 numeric, 2 string */
};

struct late {
    struct tick t;
    int64_t interval_ns;
};

struct vec {
    char *p;
    size_t n, cap, elem;
};

/* Sort key of a row: partition (p1: venue rank for ticks, interval for bars; p2: UTC day),
 * instrument rank by name, ts, arrival index. */
struct key {
    int64_t p1, p2;
    uint32_t rank, idx;
    int64_t ts;
};

struct vsym {
    uint32_t off, len; /* in the arena */
};

struct batch {
    bool any;
    uint64_t first, last;
    size_t bytes;
};

struct chunk {
    struct tp_pq_batch_col c[MAX_COLS];
    union {
        int64_t i[CHUNK];
        double d[CHUNK];
        struct tp_pq_bytes s[CHUNK];
        uint8_t b[CHUNK];
    } * v[MAX_COLS];
    uint8_t *nul[MAX_COLS];
    char *idtxt; /* CHUNK x ID_TXT */
};

struct rename {
    char *from, *to;
};

struct tp_lake_writer {
    struct tp_lake_opts o;
    char dir[PATH_MAX];
    struct batch b[2];
    struct vec ticks, bars, anomalies, late, gaps;
    /* per log: the arena of variable parts, the venue symbols and each instrument's last one */
    struct tp_buf arena[2];
    struct vec vsyms[2];
    uint32_t *last_vsym[2];
    uint32_t *rank; /* per instrument id, during a commit: rank by name + 1 */
    struct chunk ch;
    char *ivtxt; /* CHUNK x 32: interval names of a chunk */
    struct tp_lake_stats st;
    struct vec ren; /* renames of the commit in progress */
};

static int vec_push(struct vec *v, const void *x)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 1024;
        char *p = realloc(v->p, nc * v->elem);
        if (!p) return -ENOMEM;
        v->p = p;
        v->cap = nc;
    }
    memcpy(v->p + v->n * v->elem, x, v->elem);
    v->n++;
    return 0;
}

static void vec_clear(struct vec *v, bool release)
{
    v->n = 0;
    if (release) {
        free(v->p);
        v->p = NULL;
        v->cap = 0;
    }
}

void tp_lake_opts_default(struct tp_lake_opts *o, const char *dir)
{
    *o = (struct tp_lake_opts){
        .dir = dir,
        .batch_offsets = UINT64_C(1) << 22,
        .batch_bytes = (size_t)128 << 20,
        .codec = TP_PQ_ZSTD,
        .row_group_rows = 65536,
    };
}

int tp_lake_writer_new(const struct tp_lake_opts *o, struct tp_lake_writer **ret)
{
    if (!o->dir || !*o->dir || o->batch_offsets == 0 || o->batch_bytes == 0 ||
        o->batch_bytes > BATCH_MAX || o->row_group_rows == 0)
        return -EINVAL;
    struct tp_lake_writer *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    w->o = *o;
    int n = snprintf(w->dir, sizeof w->dir, "%s", o->dir);
    if (n < 0 || (size_t)n >= sizeof w->dir - 256) {
        free(w);
        return -ENAMETOOLONG;
    }
    w->o.dir = w->dir;
    w->ticks.elem = sizeof(struct tick);
    w->bars.elem = sizeof(struct tp_bar);
    w->anomalies.elem = sizeof(struct tp_anomaly);
    w->late.elem = sizeof(struct late);
    w->gaps.elem = sizeof(struct tp_gap);
    w->ren.elem = sizeof(struct rename);
    bool ok = true;
    for (int l = 0; l < 2; l++) {
        w->vsyms[l].elem = sizeof(struct vsym);
        tp_buf_init(&w->arena[l], ARENA_MAX);
        w->last_vsym[l] = calloc(TP_INSTR_MAX + 1, sizeof *w->last_vsym[l]);
        ok &= w->last_vsym[l] != NULL;
    }
    w->rank = calloc(TP_INSTR_MAX + 1, sizeof *w->rank);
    w->ch.idtxt = malloc((size_t)CHUNK * ID_TXT);
    w->ivtxt = malloc((size_t)CHUNK * 32);
    ok &= w->rank && w->ch.idtxt && w->ivtxt;
    for (int i = 0; i < MAX_COLS && ok; i++) {
        w->ch.v[i] = malloc(sizeof *w->ch.v[i]);
        w->ch.nul[i] = malloc(CHUNK);
        ok = w->ch.v[i] && w->ch.nul[i];
    }
    if (!ok) {
        tp_lake_writer_free(w);
        return -ENOMEM;
    }
    *ret = w;
    return 0;
}

static void clear_renames(struct tp_lake_writer *w)
{
    struct rename *r = (struct rename *)(void *)w->ren.p;
    for (size_t i = 0; i < w->ren.n; i++) {
        free(r[i].from);
        free(r[i].to);
    }
    w->ren.n = 0;
}

void tp_lake_writer_free(struct tp_lake_writer *w)
{
    if (!w) return;
    vec_clear(&w->ticks, true);
    vec_clear(&w->bars, true);
    vec_clear(&w->anomalies, true);
    vec_clear(&w->late, true);
    vec_clear(&w->gaps, true);
    for (int l = 0; l < 2; l++) {
        vec_clear(&w->vsyms[l], true);
        tp_buf_fini(&w->arena[l]);
        free(w->last_vsym[l]);
    }
    clear_renames(w);
    vec_clear(&w->ren, true);
    free(w->rank);
    free(w->ch.idtxt);
    free(w->ivtxt);
    for (int i = 0; i < MAX_COLS; i++) {
        free(w->ch.v[i]);
        free(w->ch.nul[i]);
    }
    free(w);
}

void tp_lake_writer_stats(const struct tp_lake_writer *w, struct tp_lake_stats *ret)
{
    *ret = w->st;
}

/* Accepts offset `off` into log's batch. 0 or -EINVAL when it does not ascend. */
static int take_offset(struct tp_lake_writer *w, enum tp_sink_log log, uint64_t off)
{
    struct batch *b = &w->b[log];
    if (b->any && off <= b->last) return -EINVAL;
    if (!b->any) b->first = off;
    b->any = true;
    b->last = off;
    return 0;
}

bool tp_lake_due(const struct tp_lake_writer *w, enum tp_sink_log log)
{
    const struct batch *b = &w->b[log];
    if (!b->any) return false;
    return (b->last + 1) % w->o.batch_offsets == 0 || b->bytes >= w->o.batch_bytes;
}

bool tp_lake_pending(const struct tp_lake_writer *w, enum tp_sink_log log)
{
    return w->b[log].any;
}

int tp_lake_skip(struct tp_lake_writer *w, enum tp_sink_log log, uint64_t off)
{
    return take_offset(w, log, off);
}

/* Appends n bytes to log's arena; *ret = offset + 1. */
static int arena_put(struct tp_lake_writer *w, int log, const void *p, size_t n, uint32_t *ret)
{
    struct tp_buf *a = &w->arena[log];
    size_t at = a->len;
    if (at + n >= ARENA_MAX) return -E2BIG;
    int rc = tp_buf_append(a, p, n);
    if (rc < 0) return rc;
    *ret = (uint32_t)(at + 1);
    return 0;
}

static int vsym_index(struct tp_lake_writer *w, int log, const struct tp_event *e, uint32_t *ret)
{
    size_t n = strnlen(e->venue_symbol, TP_VSYM_MAX);
    if (!n) {
        *ret = 0;
        return 0;
    }
    uint32_t *cache = e->instr <= TP_INSTR_MAX ? &w->last_vsym[log][e->instr] : NULL;
    if (cache && *cache) {
        const struct vsym *v = (const struct vsym *)(void *)w->vsyms[log].p + (*cache - 1);
        if (v->len == n && !memcmp(w->arena[log].p + v->off, e->venue_symbol, n)) {
            *ret = *cache;
            return 0;
        }
    }
    uint32_t off;
    int rc = arena_put(w, log, e->venue_symbol, n, &off);
    if (rc < 0) return rc;
    struct vsym v = {off - 1, (uint32_t)n};
    if ((rc = vec_push(&w->vsyms[log], &v)) < 0) return rc;
    *ret = (uint32_t)w->vsyms[log].n;
    if (cache) *cache = *ret;
    return 0;
}

static double extra(const struct tp_event *e, int i)
{
    switch (i) {
    case 0:
        return e->bid;
    case 1:
        return e->ask;
    case 2:
        return e->bid_size;
    case 3:
        return e->ask_size;
    case 4:
        return e->open;
    case 5:
        return e->high;
    case 6:
        return e->low;
    case 7:
        return e->change;
    default:
        return e->value;
    }
}

/* The compact form of an event, its variable parts in log's arena (counted in its batch). */
static int make_tick(struct tp_lake_writer *w, int log, const struct tp_event *e, struct tick *t)
{
    struct tp_buf *a = &w->arena[log];
    size_t before = a->len, nsyms = w->vsyms[log].n;
    *t = (struct tick){.ts = e->ts,
                       .ts_recv = e->ts_recv,
                       .price = e->price,
                       .size = e->size,
                       .instr = e->instr,
                       .kind = e->kind,
                       .side = e->side};
    int rc = vsym_index(w, log, e, &t->vsym);
    if (rc < 0) return rc;
    double ex[EXTRAS];
    int nex = 0;
    for (int i = 0; i < EXTRAS; i++) {
        double v = extra(e, i);
        if (isnan(v)) continue;
        t->extmask |= (uint16_t)(1u << i);
        ex[nex++] = v;
    }
    if (nex && (rc = arena_put(w, log, ex, (size_t)nex * sizeof(double), &t->ext)) < 0) goto undo;
    if (e->flags & TP_EV_ID_STR) {
        uint8_t len = (uint8_t)strnlen(e->trade_id_str, TP_TRADE_ID_MAX);
        uint32_t off;
        if ((rc = arena_put(w, log, &len, 1, &off)) < 0 ||
            (rc = tp_buf_append(a, e->trade_id_str, len)) < 0)
            goto undo;
        t->idkind = 2;
        t->id = off;
    } else if (e->flags & TP_EV_HAS_ID) {
        t->idkind = 1;
        t->id = e->trade_id;
    }
    w->b[log].bytes += a->len - before + (w->vsyms[log].n - nsyms) * sizeof(struct vsym);
    return 0;
undo:
    a->len = before;
    if (w->vsyms[log].n > nsyms) {
        w->vsyms[log].n = nsyms;
        if (e->instr <= TP_INSTR_MAX) w->last_vsym[log][e->instr] = 0;
    }
    return rc;
}

int tp_lake_tick(struct tp_lake_writer *w, uint64_t off, const struct tp_event *e)
{
    int rc = take_offset(w, TP_LOG_INPUT, off);
    if (rc < 0 || e->kind == TP_KIND_STATUS) return rc;
    struct tick t;
    if ((rc = make_tick(w, TP_LOG_INPUT, e, &t)) < 0) return rc;
    if ((rc = vec_push(&w->ticks, &t)) < 0) return rc;
    w->b[TP_LOG_INPUT].bytes += sizeof t + sizeof(struct key);
    return 0;
}

static int push_out(struct tp_lake_writer *w, uint64_t off, struct vec *v, const void *row)
{
    int rc = take_offset(w, TP_LOG_OUTPUT, off);
    if (rc == 0) rc = vec_push(v, row);
    if (rc == 0) w->b[TP_LOG_OUTPUT].bytes += v->elem + sizeof(struct key);
    return rc;
}

int tp_lake_bar(struct tp_lake_writer *w, uint64_t off, const struct tp_bar *b)
{
    if (b->interval_ns < 60 * TP_NS_PER_SEC && !w->o.bars_1s)
        return take_offset(w, TP_LOG_OUTPUT, off);
    return push_out(w, off, &w->bars, b);
}

int tp_lake_anomaly(struct tp_lake_writer *w, uint64_t off, const struct tp_anomaly *a)
{
    return push_out(w, off, &w->anomalies, a);
}

int tp_lake_gap(struct tp_lake_writer *w, uint64_t off, const struct tp_gap *g)
{
    return push_out(w, off, &w->gaps, g);
}

int tp_lake_late(struct tp_lake_writer *w, uint64_t off, const struct tp_event *e,
                 int64_t interval_ns)
{
    int rc = take_offset(w, TP_LOG_OUTPUT, off);
    if (rc < 0) return rc;
    struct late l = {.interval_ns = interval_ns};
    if ((rc = make_tick(w, TP_LOG_OUTPUT, e, &l.t)) < 0) return rc;
    if ((rc = vec_push(&w->late, &l)) < 0) return rc;
    w->b[TP_LOG_OUTPUT].bytes += sizeof l + sizeof(struct key);
    return 0;
}

/* Drops log's batch with its arena and symbols (a big arena is given back). */
static void drop_batch(struct tp_lake_writer *w, enum tp_sink_log log)
{
    w->b[log] = (struct batch){0};
    if (log == TP_LOG_INPUT) {
        vec_clear(&w->ticks, w->ticks.cap > 65536);
    } else {
        vec_clear(&w->bars, w->bars.cap > 65536);
        vec_clear(&w->anomalies, w->anomalies.cap > 65536);
        vec_clear(&w->late, w->late.cap > 65536);
        vec_clear(&w->gaps, w->gaps.cap > 65536);
    }
    struct tp_buf *a = &w->arena[log];
    if (a->cap > ((size_t)16 << 20)) {
        tp_buf_fini(a);
        tp_buf_init(a, ARENA_MAX);
    } else {
        tp_buf_reset(a);
    }
    memset(w->last_vsym[log], 0, (TP_INSTR_MAX + 1) * sizeof *w->last_vsym[log]);
    vec_clear(&w->vsyms[log], false);
}

void tp_lake_discard(struct tp_lake_writer *w)
{
    drop_batch(w, TP_LOG_INPUT);
    drop_batch(w, TP_LOG_OUTPUT);
}

/* ---- commit ------------------------------------------------------------------------------ */

static int cmp_key(const void *pa, const void *pb)
{
    const struct key *a = pa, *b = pb;
    if (a->p1 != b->p1) return a->p1 < b->p1 ? -1 : 1;
    if (a->p2 != b->p2) return a->p2 < b->p2 ? -1 : 1;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_name(const void *pa, const void *pb)
{
    return strcmp(tp_instr_name(*(const uint32_t *)pa), tp_instr_name(*(const uint32_t *)pb));
}

static int64_t micros(int64_t ns)
{
    return tp_floor_div(ns, TP_NS_PER_US);
}

static int64_t day_of(int64_t ns)
{
    return tp_floor_div(ns, NS_PER_DAY);
}

/* One table's rows in a commit: how to get each row's instrument and ts, and its size. */
struct rows {
    enum tp_lake_table t;
    const char *base;
    size_t n, elem;
    int log;
};

static const struct tick *row_tick(const struct rows *r, size_t i)
{
    const void *p = r->base + i * r->elem;
    return r->t == TP_LAKE_LATE ? &((const struct late *)p)->t : p;
}

static uint32_t row_instr(const struct rows *r, size_t i)
{
    const void *p = r->base + i * r->elem;
    switch (r->t) {
    case TP_LAKE_BARS:
        return ((const struct tp_bar *)p)->instr;
    case TP_LAKE_ANOMALIES:
        return ((const struct tp_anomaly *)p)->instr;
    case TP_LAKE_GAPS:
        return ((const struct tp_gap *)p)->instr;
    default:
        return row_tick(r, i)->instr;
    }
}

static int64_t row_ts(const struct rows *r, size_t i)
{
    const void *p = r->base + i * r->elem;
    switch (r->t) {
    case TP_LAKE_BARS:
        return ((const struct tp_bar *)p)->ts;
    case TP_LAKE_ANOMALIES:
        return ((const struct tp_anomaly *)p)->ts;
    case TP_LAKE_GAPS:
        return ((const struct tp_gap *)p)->ts;
    default:
        return row_tick(r, i)->ts;
    }
}

/* ---- filling a chunk of columns ---- */

static void c_i64(struct chunk *ch, int c, size_t r, int64_t v)
{
    ch->v[c]->i[r] = v;
    ch->nul[c][r] = 0;
}

static void c_dbl(struct chunk *ch, int c, size_t r, double v)
{
    ch->v[c]->d[r] = v;
    ch->nul[c][r] = isnan(v); /* ignored for a required column: NaN is then stored */
}

static void c_str(struct chunk *ch, int c, size_t r, const char *p, size_t n)
{
    ch->v[c]->s[r] = (struct tp_pq_bytes){p ? p : "", p ? (uint32_t)n : 0};
    ch->nul[c][r] = p == NULL;
}

static void c_cstr(struct chunk *ch, int c, size_t r, const char *p)
{
    c_str(ch, c, r, p && *p ? p : NULL, p ? strlen(p) : 0);
}

static void c_bool(struct chunk *ch, int c, size_t r, bool v)
{
    ch->v[c]->b[r] = v;
    ch->nul[c][r] = 0;
}

static void c_interval(struct tp_lake_writer *w, int c, size_t r, int64_t ns)
{
    if (ns <= 0) {
        c_str(&w->ch, c, r, NULL, 0);
        return;
    }
    char *t = w->ivtxt + r * 32;
    size_t n = tp_duration_format(ns, t, 32);
    c_str(&w->ch, c, r, t, n);
}

static void fill_tick(struct tp_lake_writer *w, int log, const struct tick *t, size_t r)
{
    struct chunk *ch = &w->ch;
    const char *arena = w->arena[log].p;
    c_i64(ch, 0, r, micros(t->ts));
    c_i64(ch, 1, r, t->ts);
    c_i64(ch, 2, r, micros(t->ts_recv));
    c_cstr(ch, 3, r, tp_instr_name(t->instr));
    if (t->vsym) {
        const struct vsym *v = (const struct vsym *)(void *)w->vsyms[log].p + (t->vsym - 1);
        c_str(ch, 4, r, arena + v->off, v->len);
    } else {
        c_str(ch, 4, r, NULL, 0);
    }
    c_cstr(ch, 5, r, tp_kind_name((enum tp_kind)t->kind));
    c_dbl(ch, 6, r, t->price);
    c_dbl(ch, 7, r, t->size);
    c_cstr(ch, 8, r, t->side == TP_SIDE_BUY ? "buy" : t->side == TP_SIDE_SELL ? "sell" : NULL);
    if (t->idkind == 1) {
        char *o = ch->idtxt + r * ID_TXT;
        int n = snprintf(o, ID_TXT, "%llu", (unsigned long long)t->id);
        c_str(ch, 9, r, o, (size_t)n);
    } else if (t->idkind == 2) {
        const char *p = arena + (t->id - 1);
        c_str(ch, 9, r, p + 1, (uint8_t)p[0]);
    } else {
        c_str(ch, 9, r, NULL, 0);
    }
    double ex[EXTRAS];
    if (t->ext) memcpy(ex, arena + (t->ext - 1), (size_t)__builtin_popcount(t->extmask) * 8);
    for (int i = 0, k = 0; i < EXTRAS; i++)
        c_dbl(ch, 10 + i, r, t->extmask & (1u << i) ? ex[k++] : NAN);
}

static void fill_bar(struct tp_lake_writer *w, const struct tp_bar *b, size_t r)
{
    struct chunk *ch = &w->ch;
    c_cstr(ch, 0, r, tp_instr_name(b->instr));
    c_interval(w, 1, r, b->interval_ns);
    c_i64(ch, 2, r, micros(b->ts));
    const double v1[] = {b->open, b->high, b->low, b->close, b->volume, b->notional, b->vwap};
    for (int i = 0; i < 7; i++) c_dbl(ch, 3 + i, r, v1[i]);
    c_i64(ch, 10, r, b->trades > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)b->trades);
    c_dbl(ch, 11, r, b->buy_volume);
    c_dbl(ch, 12, r, b->sell_volume);
    c_i64(ch, 13, r, micros(b->first_ts));
    c_i64(ch, 14, r, micros(b->last_ts));
    const struct tp_ind_values *x = &b->ind;
    const double v2[] = {x->sma,  x->ema,         x->bb_upper,  x->bb_middle, x->bb_lower,  x->rsi,
                         x->macd, x->macd_signal, x->macd_hist, x->atr,       x->volatility};
    for (int i = 0; i < 11; i++) c_dbl(ch, 15 + i, r, v2[i]);
}

static void fill_anomaly(struct tp_lake_writer *w, const struct tp_anomaly *a, size_t r)
{
    struct chunk *ch = &w->ch;
    c_cstr(ch, 0, r, tp_instr_name(a->instr));
    c_i64(ch, 1, r, micros(a->ts));
    c_cstr(ch, 2, r, tp_anomaly_kind_name((enum tp_anomaly_kind)a->kind));
    c_dbl(ch, 3, r, a->observed);
    c_dbl(ch, 4, r, a->expected);
    c_dbl(ch, 5, r, a->score);
    c_interval(w, 6, r, a->interval_ns);
}

static void fill_gap(struct tp_lake_writer *w, const struct tp_gap *g, size_t r)
{
    struct chunk *ch = &w->ch;
    c_cstr(ch, 0, r, tp_instr_name(g->instr));
    c_i64(ch, 1, r, micros(g->ts));
    c_i64(ch, 2, r, (int64_t)g->first_missing);
    c_i64(ch, 3, r, (int64_t)g->last_missing);
    c_bool(ch, 4, r, g->backfilled);
}

static void fill_row(struct tp_lake_writer *w, const struct rows *rs, size_t i, size_t r)
{
    const void *p = rs->base + i * rs->elem;
    switch (rs->t) {
    case TP_LAKE_TICKS:
        fill_tick(w, rs->log, p, r);
        break;
    case TP_LAKE_LATE:
        fill_tick(w, rs->log, &((const struct late *)p)->t, r);
        c_interval(w, NTICKS, r, ((const struct late *)p)->interval_ns);
        break;
    case TP_LAKE_BARS:
        fill_bar(w, p, r);
        break;
    case TP_LAKE_ANOMALIES:
        fill_anomaly(w, p, r);
        break;
    case TP_LAKE_GAPS:
        fill_gap(w, p, r);
        break;
    default:
        break;
    }
}

/* ---- files ---- */

static int write_file(struct tp_lake_writer *w, const struct rows *rs, const struct key *k,
                      size_t n, const char *tmp, uint64_t first, uint64_t last)
{
    size_t ncols;
    const struct tp_pq_column *cols = tp_lake_schema(rs->t, &ncols);
    char offs[64];
    snprintf(offs, sizeof offs, "%llu-%llu", (unsigned long long)first, (unsigned long long)last);
    const struct tp_pq_kv kv[] = {
        {TP_LAKE_KV_VERSION, TP_LAKE_SCHEMA_VERSION},
        {"tickpipe.table", tp_lake_table_name(rs->t)},
        {"tickpipe.log", rs->log == TP_LOG_INPUT ? "input" : "output"},
        {"tickpipe.offsets", offs},
    };
    struct tp_pq_options po;
    tp_pq_options_default(&po);
    po.codec = w->o.codec;
    po.row_group_rows = w->o.row_group_rows;
    po.kv = kv;
    po.nkv = TP_ARRAY_LEN(kv);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    struct tp_pq_writer *pw;
    int rc = tp_pq_writer_open_fd(&pw, fd, cols, ncols, &po);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    for (size_t c = 0; c < ncols; c++)
        w->ch.c[c] = (struct tp_pq_batch_col){w->ch.v[c], cols[c].optional ? w->ch.nul[c] : NULL};
    for (size_t i = 0; i < n && rc == 0; i += CHUNK) {
        size_t m = TP_MIN(CHUNK, n - i);
        for (size_t r = 0; r < m; r++) {
            /* rows are gathered in sorted order, far from arrival order: fetch ahead */
            if (i + r + 8 < n) __builtin_prefetch(rs->base + (size_t)k[i + r + 8].idx * rs->elem);
            fill_row(w, rs, k[i + r].idx, r);
        }
        rc = tp_pq_writer_append(pw, w->ch.c, m);
    }
    if (rc == 0) {
        rc = tp_pq_writer_close(pw);
    } else {
        tp_pq_writer_abort(pw);
    }
    struct stat st;
    if (rc == 0 && fsync(fd) < 0) {
        /* Said here, where the file is known: the sink makes -EIO fatal (never retried). */
        tp_error("lake: fsync of %s failed: %s", tmp, strerror(errno));
        rc = -EIO;
    }
    if (rc == 0 && fstat(fd, &st) == 0) w->st.bytes += (uint64_t)st.st_size;
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc == 0) {
        w->st.files++;
        w->st.rows += n;
    }
    return rc;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* The partition directory of the row at key k into out. */
static int partition_dir(struct tp_lake_writer *w, const struct rows *rs, const struct key *k,
                         char *out, size_t cap)
{
    char date[16], ed[64], ev[3 * TP_INSTR_NAMELEN + 32];
    tp_date_format(k->p2 * NS_PER_DAY, date);
    int rc = tp_lake_escape(date, strlen(date), ed, sizeof ed);
    if (rc < 0) return rc;
    const char *table = tp_lake_table_name(rs->t);
    int n;
    if (rs->t == TP_LAKE_TICKS) {
        const struct tp_instrument *in = tp_instr_get(row_instr(rs, k->idx));
        rc = tp_lake_escape(in ? in->name : "", in ? in->venue_len : 0, ev, sizeof ev);
        if (rc < 0) return rc;
        n = snprintf(out, cap, "%s/%s/date=%s/venue=%s", w->dir, table, ed, ev);
    } else if (rs->t == TP_LAKE_BARS) {
        char iv[32];
        size_t ivn = tp_duration_format(k->p1, iv, sizeof iv);
        rc = tp_lake_escape(iv, ivn, ev, sizeof ev);
        if (rc < 0) return rc;
        n = snprintf(out, cap, "%s/%s/interval=%s/date=%s", w->dir, table, ev, ed);
    } else {
        n = snprintf(out, cap, "%s/%s/date=%s", w->dir, table, ed);
    }
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Writes one table's rows of the batch: one fsynced .tmp file per partition, queued for
 * renaming. */
static int commit_table(struct tp_lake_writer *w, const struct rows *rs, uint64_t first,
                        uint64_t last)
{
    if (rs->n == 0) return 0;
    if (rs->n > UINT32_MAX) return -E2BIG;
    struct key *keys = malloc(rs->n * sizeof *keys);
    uint32_t *ids = NULL;
    int64_t *vrank = NULL;
    int rc = -ENOMEM;
    if (!keys) goto out;
    /* instruments of the table, ranked by name; venues ranked in the same order */
    size_t nid = 0, cap_id = 64;
    ids = malloc(cap_id * sizeof *ids);
    if (!ids) goto out;
    for (size_t i = 0; i < rs->n; i++) {
        uint32_t id = row_instr(rs, i);
        if (id > TP_INSTR_MAX || w->rank[id]) continue;
        if (nid == cap_id) {
            uint32_t *p = realloc(ids, 2 * cap_id * sizeof *ids);
            if (!p) goto out;
            ids = p;
            cap_id *= 2;
        }
        ids[nid++] = id;
        w->rank[id] = 1;
    }
    qsort(ids, nid, sizeof *ids, cmp_name);
    vrank = malloc((nid + 1) * sizeof *vrank);
    if (!vrank) goto out;
    int64_t venue = 0;
    for (size_t i = 0; i < nid; i++) {
        const struct tp_instrument *a = tp_instr_get(ids[i]),
                                   *b = i ? tp_instr_get(ids[i - 1]) : NULL;
        if (b && (a->venue_len != b->venue_len || memcmp(a->name, b->name, a->venue_len))) venue++;
        vrank[i] = venue;
        w->rank[ids[i]] = (uint32_t)(i + 1);
    }
    for (size_t i = 0; i < rs->n; i++) {
        uint32_t id = row_instr(rs, i);
        uint32_t rk = id <= TP_INSTR_MAX ? w->rank[id] : 0;
        int64_t ts = row_ts(rs, i);
        struct key *k = &keys[i];
        k->rank = rk;
        k->idx = (uint32_t)i;
        k->ts = ts;
        k->p2 = day_of(ts);
        k->p1 = rs->t == TP_LAKE_TICKS ? (rk ? vrank[rk - 1] : -1)
                : rs->t == TP_LAKE_BARS
                    ? ((const struct tp_bar *)(void *)(rs->base + i * rs->elem))->interval_ns
                    : 0;
    }
    qsort(keys, rs->n, sizeof *keys, cmp_key);
    char name[TP_LAKE_NAME_MAX];
    rc = tp_lake_part_name((enum tp_sink_log)rs->log, w->o.partition, first, last, name,
                           sizeof name);
    for (size_t i = 0; i < rs->n && rc >= 0;) {
        size_t j = i + 1;
        while (j < rs->n && keys[j].p1 == keys[i].p1 && keys[j].p2 == keys[i].p2) j++;
        char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
        rc = partition_dir(w, rs, &keys[i], dir, sizeof dir);
        if (rc < 0) break;
        int n1 = snprintf(path, sizeof path, "%s/%s", dir, name);
        int n2 = snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
        if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof tmp) {
            rc = -ENAMETOOLONG;
            break;
        }
        if ((rc = tp_lake_mkdirs(dir)) < 0) break;
        struct rename ren = {dup_str(tmp), dup_str(path)};
        if (!ren.from || !ren.to || vec_push(&w->ren, &ren) < 0) {
            free(ren.from);
            free(ren.to);
            rc = -ENOMEM;
            break;
        }
        rc = write_file(w, rs, keys + i, j - i, tmp, first, last);
        i = j;
    }
    if (rc > 0) rc = 0;
out:
    for (size_t i = 0; ids && i < nid; i++) w->rank[ids[i]] = 0;
    free(vrank);
    free(ids);
    free(keys);
    return rc;
}

/* The directory part of path into out. */
static void dir_of(const char *path, char *out, size_t cap)
{
    const char *s = strrchr(path, '/');
    size_t n = s ? (size_t)(s - path) : 0;
    if (n >= cap) n = cap - 1;
    memcpy(out, path, n);
    out[n] = 0;
}

int tp_lake_commit(struct tp_lake_writer *w, enum tp_sink_log log, uint64_t *ret_next)
{
    struct batch *b = &w->b[log];
    if (!b->any) return 0;
    uint64_t first = b->first, last = b->last;
    struct rows tabs[4];
    int nt = 0;
    if (log == TP_LOG_INPUT) {
        tabs[nt++] = (struct rows){TP_LAKE_TICKS, w->ticks.p, w->ticks.n, w->ticks.elem, log};
    } else {
        tabs[nt++] = (struct rows){TP_LAKE_BARS, w->bars.p, w->bars.n, w->bars.elem, log};
        tabs[nt++] = (struct rows){TP_LAKE_ANOMALIES, w->anomalies.p, w->anomalies.n,
                                   w->anomalies.elem, log};
        tabs[nt++] = (struct rows){TP_LAKE_LATE, w->late.p, w->late.n, w->late.elem, log};
        tabs[nt++] = (struct rows){TP_LAKE_GAPS, w->gaps.p, w->gaps.n, w->gaps.elem, log};
    }
    clear_renames(w);
    int rc = 0;
    for (int i = 0; i < nt && rc == 0; i++) rc = commit_table(w, &tabs[i], first, last);
    /* Every file is durable under its .tmp name: make them visible, then the renames durable. */
    struct rename *r = (struct rename *)(void *)w->ren.p;
    size_t done = 0;
    for (; rc == 0 && done < w->ren.n; done++)
        if (rename(r[done].from, r[done].to) < 0) rc = -errno;
    for (size_t i = 0; rc == 0 && i < w->ren.n; i++) {
        char d[PATH_MAX], e[PATH_MAX];
        dir_of(r[i].to, d, sizeof d);
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++) {
            dir_of(r[k].to, e, sizeof e);
            seen = !strcmp(d, e);
        }
        if (!seen) rc = tp_lake_fsync_dir(d);
    }
    if (rc < 0)
        for (size_t i = done; i < w->ren.n; i++) unlink(r[i].from);
    clear_renames(w);
    drop_batch(w, log);
    if (rc < 0) return rc;
    w->st.commits++;
    *ret_next = last + 1;
    return 0;
}
