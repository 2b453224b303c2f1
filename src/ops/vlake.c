/*
 * vlake.c — the validator's pass over the lake (see validate.h; rules in docs/validate.md).
 *
 * Order. The files are grouped by their date= partition and the dates are read in order.
 * Within a date: late files first (the 1m-late trades are left out of the recomputed bars),
 * then ticks (row checks, counts, trade-id sets, per instrument-minute aggregates, minute
 * occupancy for coverage), then bars (consistency; 1m bars against the aggregates), then
 * anomalies and gaps. At the end of a date the unmatched aggregates and the occupancy are
 * settled and the day's maps are cleared, so memory holds one day.
 *
 * Reconcile findings wait in a pending list until the end, when each instrument's first
 * tick, last tick and last 1m bar are known: only complete minutes count — after the minute
 * of the instrument's first tick in the lake, ending at least the lateness before its last
 * tick, and not after its last 1m bar (the bars table may lag the ticks table) — and
 * instruments without trade ticks (quote-only) are not reconciled.
 *
 * Files whose columns are missing or of the wrong type are reported under `schema` and not
 * row-checked; a row is reported once per check, by its first problem in that check.
 */
#include <math.h>
#include <stdarg.h>

#include "core/tptime.h"
#include "ops/validate_int.h"
#include "sink/parquet.h"

#define KM(k)  (1u << (k))
#define K_TS   (KM(TP_PQ_TS_MILLIS) | KM(TP_PQ_TS_MICROS) | KM(TP_PQ_TS_NANOS))
#define K_TSI  (K_TS | KM(TP_PQ_INT64))
#define K_STR  KM(TP_PQ_STRING)
#define K_DBL  KM(TP_PQ_DOUBLE)
#define K_INT  (KM(TP_PQ_INT64) | KM(TP_PQ_INT32))
#define K_ID   (K_STR | K_INT)
#define K_BOOL KM(TP_PQ_BOOL)
#define K_ANY  UINT32_MAX

#define PEND_MAX  (1u << 20)
#define MIN_NS    (60 * TP_NS_PER_SEC)
#define DAY_NS    (86400 * TP_NS_PER_SEC)
#define MAX_COLS  32
#define BITS_WORD 64
#define DAY_WORDS ((1440 + BITS_WORD - 1) / BITS_WORD)

struct colspec {
    const char *name;
    uint32_t kinds; /* the kinds accepted */
    bool read;      /* read for the row checks */
};

/* ticks; late has the same columns plus interval */
enum {
    T_TS,
    T_TS_NS,
    T_TS_RECV,
    T_INSTR,
    T_VSYM,
    T_KIND,
    T_PRICE,
    T_SIZE,
    T_SIDE,
    T_ID,
    T_BID,
    T_ASK,
    T_BIDSZ,
    T_ASKSZ,
    T_OPEN,
    T_HIGH,
    T_LOW,
    T_CHANGE,
    T_VALUE,
    T_INTERVAL,
    T_N
};
static const struct colspec tick_cols[T_N] = {
    {"ts", K_TS, true},
    {"ts_ns", KM(TP_PQ_INT64), true},
    {"ts_recv", K_TSI, false},
    {"instrument", K_STR, true},
    {"venue_symbol", K_STR, false},
    {"kind", K_STR, true},
    {"price", K_DBL, true},
    {"size", K_DBL, true},
    {"side", K_STR, false},
    {"trade_id", K_ID, true},
    {"bid", K_DBL, true},
    {"ask", K_DBL, true},
    {"bid_size", K_DBL, true},
    {"ask_size", K_DBL, true},
    {"open", K_DBL, true},
    {"high", K_DBL, true},
    {"low", K_DBL, true},
    {"change", K_DBL, true},
    {"value", K_DBL, true},
    {"interval", K_STR, true},
};

enum {
    B_INSTR,
    B_INTERVAL,
    B_TS,
    B_OPEN,
    B_HIGH,
    B_LOW,
    B_CLOSE,
    B_VOLUME,
    B_NOTIONAL,
    B_VWAP,
    B_TRADES,
    B_BUYV,
    B_SELLV,
    B_FIRST,
    B_LAST,
    B_IND0, /* the indicators: doubles, null before their warm-up */
    B_N = B_IND0 + 11
};
static const struct colspec bar_cols[B_N] = {
    {"instrument", K_STR, true},  {"interval", K_STR, true},      {"ts", K_TS, true},
    {"open", K_DBL, true},        {"high", K_DBL, true},          {"low", K_DBL, true},
    {"close", K_DBL, true},       {"volume", K_DBL, true},        {"notional", K_DBL, true},
    {"vwap", K_DBL, true},        {"trades", K_INT, true},        {"buy_volume", K_DBL, true},
    {"sell_volume", K_DBL, true}, {"first_ts", K_TSI, true},      {"last_ts", K_TSI, true},
    {"sma_20", K_DBL, true},      {"ema_20", K_DBL, true},        {"bb_upper", K_DBL, true},
    {"bb_middle", K_DBL, true},   {"bb_lower", K_DBL, true},      {"rsi_14", K_DBL, true},
    {"macd", K_DBL, true},        {"macd_signal", K_DBL, true},   {"macd_hist", K_DBL, true},
    {"atr_14", K_DBL, true},      {"volatility_20", K_DBL, true},
};

enum { A_INSTR, A_TS, A_KIND, A_OBS, A_EXP, A_SCORE, A_INTERVAL, A_N };
static const struct colspec anomaly_cols[A_N] = {
    {"instrument", K_STR, true}, {"ts", K_TS, true},        {"kind", K_STR, true},
    {"observed", K_DBL, true},   {"expected", K_DBL, true}, {"score", K_DBL, true},
    {"interval", K_STR, false},
};

enum { G_INSTR, G_TS, G_FIRST, G_LAST, G_BACKFILLED, G_N };
static const struct colspec gap_cols[G_N] = {
    {"instrument", K_STR, true},    {"ts", K_TS, true},           {"first_missing", K_ANY, false},
    {"last_missing", K_ANY, false}, {"backfilled", K_BOOL, true},
};

/* ---- one file ---------------------------------------------------------------------------- */

struct vfile {
    struct tp_pq_reader *rd;
    uint32_t fi; /* index into r->files */
    const struct colspec *spec;
    size_t ncols;
    int idx[MAX_COLS];             /* column in the file, -1 when absent */
    struct tp_pq_data d[MAX_COLS]; /* the current row group */
    uint32_t last_instr;           /* the previous row's instrument (rows sorted by it) */
    struct tp_pq_bytes last_name;
};

static void vf_free_rg(struct vfile *vf)
{
    for (size_t c = 0; c < vf->ncols; c++) tp_pq_data_fini(&vf->d[c]);
    memset(vf->d, 0, sizeof vf->d);
    vf->last_instr = UINT32_MAX; /* last_name pointed into the freed values */
}

static void vf_close(struct vfile *vf)
{
    vf_free_rg(vf);
    tp_pq_reader_close(vf->rd);
    vf->rd = NULL;
}

static const char *kind_name(enum tp_pq_kind k)
{
    static const char *const n[] = {"other",  "bool",   "int32",     "int64",     "double",
                                    "string", "binary", "ts_millis", "ts_micros", "ts_nanos"};
    return (unsigned)k < TP_ARRAY_LEN(n) ? n[k] : "?";
}

/* Opens file fi and checks its columns against spec. False when it cannot be row-checked
 * (the problem is recorded). */
static bool vf_open(struct tp_validate_report *r, uint32_t fi, const struct colspec *spec,
                    size_t ncols, struct vfile *vf)
{
    memset(vf, 0, sizeof *vf);
    vf->fi = fi;
    vf->spec = spec;
    vf->ncols = ncols;
    vf->last_instr = UINT32_MAX;
    char path[TP_LAKE_PATH_MAX + 600];
    snprintf(path, sizeof path, "%s/lake/%s", r->data, r->files.v[fi].rel);
    struct tp_pq_error err = {0};
    int rc = tp_pq_reader_open_path(&vf->rd, path, NULL, &err);
    r->c[TP_VC_SCHEMA].checked++;
    if (rc < 0) {
        vx_problem(r, TP_VC_SCHEMA, TP_VS_FAIL, fi, UINT32_MAX, INT64_MIN, "cannot read: %s",
                   err.msg[0] ? err.msg : strerror(-rc));
        vf->rd = NULL;
        return false;
    }
    bool ok = true;
    for (size_t c = 0; c < ncols; c++) {
        int i = tp_pq_reader_find(vf->rd, spec[c].name);
        vf->idx[c] = i;
        if (i < 0) {
            vx_problem(r, TP_VC_SCHEMA, TP_VS_FAIL, fi, UINT32_MAX, INT64_MIN,
                       "column %s is missing", spec[c].name);
            ok = false;
            continue;
        }
        enum tp_pq_kind k = tp_pq_reader_column(vf->rd, (size_t)i)->kind;
        if (spec[c].kinds != K_ANY && !(spec[c].kinds & KM(k))) {
            vx_problem(r, TP_VC_SCHEMA, TP_VS_FAIL, fi, UINT32_MAX, INT64_MIN,
                       "column %s has type %s", spec[c].name, kind_name(k));
            ok = false;
        }
    }
    r->rows_read += tp_pq_reader_rows(vf->rd);
    r->files.v[fi].rows = (int64_t)tp_pq_reader_rows(vf->rd);
    r->table_rows[r->files.v[fi].table] += tp_pq_reader_rows(vf->rd);
    if (!ok) vf_close(vf);
    return ok;
}

static int vf_read_rg(struct tp_validate_report *r, struct vfile *vf, size_t rg)
{
    vf_free_rg(vf);
    for (size_t c = 0; c < vf->ncols; c++) {
        if (!vf->spec[c].read || vf->idx[c] < 0) continue;
        int rc = tp_pq_reader_read(vf->rd, rg, (size_t)vf->idx[c], &vf->d[c]);
        if (rc < 0) {
            vx_problem(r, TP_VC_SCHEMA, TP_VS_FAIL, vf->fi, UINT32_MAX, INT64_MIN,
                       "row group %zu, column %s: %s", rg, vf->spec[c].name,
                       tp_pq_reader_error(vf->rd)->msg);
            vf_free_rg(vf);
            return rc;
        }
    }
    return 0;
}

static bool isnull(const struct vfile *vf, int c, size_t i)
{
    const struct tp_pq_data *d = &vf->d[c];
    return !d->values || (d->is_null && d->is_null[i]);
}

static double f64(const struct vfile *vf, int c, size_t i)
{
    return isnull(vf, c, i) ? NAN : ((const double *)vf->d[c].values)[i];
}

static struct tp_pq_bytes str(const struct vfile *vf, int c, size_t i)
{
    if (isnull(vf, c, i)) return (struct tp_pq_bytes){"", 0};
    return ((const struct tp_pq_bytes *)vf->d[c].values)[i];
}

static int64_t i64(const struct vfile *vf, int c, size_t i)
{
    const struct tp_pq_data *d = &vf->d[c];
    if (d->kind == TP_PQ_INT32) return ((const int32_t *)d->values)[i];
    return ((const int64_t *)d->values)[i];
}

/* A time column in ns (INT64 is taken as ns). False when null or out of range. */
static bool time_ns(const struct vfile *vf, int c, size_t i, int64_t *ret)
{
    if (isnull(vf, c, i)) return false;
    int64_t v = i64(vf, c, i), mul = 1;
    switch (vf->d[c].kind) {
    case TP_PQ_TS_MILLIS:
        mul = TP_NS_PER_MS;
        break;
    case TP_PQ_TS_MICROS:
        mul = TP_NS_PER_US;
        break;
    default:
        break;
    }
    return !__builtin_mul_overflow(v, mul, ret);
}

static bool str_eq(struct tp_pq_bytes b, const char *s)
{
    size_t n = strlen(s);
    return b.n == n && !memcmp(b.p, s, n);
}

/* ---- the run's state --------------------------------------------------------------------- */

struct agg {
    uint32_t instr;
    uint32_t file;
    int64_t minute;
    int64_t min_ts, max_ts;
    double open_lo, open_hi, close_lo, close_hi, high, low, volume;
    uint64_t n;
    bool matched;
};

struct dinst {
    uint32_t instr;
    uint32_t day; /* index into r->days */
    uint64_t bits[DAY_WORDS];
};

struct vday {
    char date[16];
    int64_t start; /* ns of 00:00 */
    struct tp_vmap aggmap, ids, late, barkeys, instmap;
    struct agg *aggs;
    size_t naggs, capaggs;
    struct dinst *di;
    size_t ndi, capdi;
    uint64_t resent; /* resent duplicate ids today */
};

struct run {
    struct tp_validate_report *r;
    struct vday day;
    uint64_t done, total;
    int err; /* first fatal error (-ENOMEM, -E2BIG) */
    uint64_t resent;
    uint64_t gaps_open, gaps_backfilled;
};

static void fatal(struct run *x, int rc)
{
    if (!x->err) x->err = rc;
}

static bool grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t n = TP_MAX(need, *cap ? *cap * 2 : 256);
    void *p = realloc(*v, n * elem);
    if (!p) return false;
    *v = p;
    *cap = n;
    return true;
}

/* The instrument id of row i (column c), reusing the previous row's when equal. */
static bool instr_of(struct run *x, struct vfile *vf, int c, size_t i, uint32_t *ret)
{
    if (isnull(vf, c, i)) return false;
    struct tp_pq_bytes b = str(vf, c, i);
    if (b.n == 0) return false;
    if (vf->last_instr != UINT32_MAX && b.n == vf->last_name.n &&
        !memcmp(b.p, vf->last_name.p, b.n)) {
        *ret = vf->last_instr;
        return true;
    }
    uint32_t id;
    int rc = tp_vstrs_intern(&x->r->instr, b.p, TP_MIN(b.n, 64u), &id);
    if (rc < 0) {
        fatal(x, rc);
        return false;
    }
    if (!vx_inst(x->r, id)) {
        fatal(x, -ENOMEM);
        return false;
    }
    vf->last_instr = id;
    vf->last_name = b;
    *ret = id;
    return true;
}

static struct dinst *day_inst(struct run *x, uint32_t instr)
{
    struct vday *d = &x->day;
    uint64_t key[2];
    tp_vmap_key(instr, 0, key);
    uint32_t *slot = tp_vmap_get(&d->instmap, key);
    if (slot) return &d->di[*slot];
    struct tp_validate_report *r = x->r;
    if (!grow((void **)&d->di, &d->capdi, d->ndi + 1, sizeof *d->di) ||
        !grow((void **)&r->days, &r->capdays, r->ndays + 1, sizeof *r->days)) {
        fatal(x, -ENOMEM);
        return NULL;
    }
    int rc = tp_vmap_put(&d->instmap, key, (uint32_t)d->ndi, NULL);
    if (rc < 0) {
        fatal(x, rc);
        return NULL;
    }
    struct dinst *di = &d->di[d->ndi++];
    memset(di, 0, sizeof *di);
    di->instr = instr;
    di->day = (uint32_t)r->ndays;
    struct vdaycount *dc = &r->days[r->ndays++];
    memset(dc, 0, sizeof *dc);
    snprintf(dc->date, sizeof dc->date, "%.15s", d->date);
    dc->instr = instr;
    return di;
}

static void pending(struct run *x, uint32_t instr, uint32_t file, int64_t minute, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
static void pending(struct run *x, uint32_t instr, uint32_t file, int64_t minute, const char *fmt,
                    ...)
{
    struct tp_validate_report *r = x->r;
    if (r->npend >= PEND_MAX) {
        r->pend_dropped++;
        return;
    }
    if (!grow((void **)&r->pend, &r->cappend, r->npend + 1, sizeof *r->pend)) {
        fatal(x, -ENOMEM);
        return;
    }
    struct vpending *p = &r->pend[r->npend++];
    p->instr = instr;
    p->file = file;
    p->minute_ns = minute;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof p->detail, fmt, ap);
    va_end(ap);
}

/* The identity of a trade for duplicates and the late set: (instrument, id) when it has an
 * id, else (instrument, ts, price, size). */
static bool trade_key(const struct vfile *vf, size_t i, uint32_t instr, int64_t ts, double price,
                      double size, uint64_t key[2])
{
    if (!isnull(vf, T_ID, i)) {
        if (vf->d[T_ID].kind == TP_PQ_STRING) {
            struct tp_pq_bytes b = str(vf, T_ID, i);
            tp_vmap_key(tp_vhash_a(b.p, b.n),
                        (tp_vhash_b(b.p, b.n) & UINT64_C(0x3FFFFFFF00000000)) |
                            (UINT64_C(1) << 62) | instr,
                        key);
        } else {
            tp_vmap_key((uint64_t)i64(vf, T_ID, i), instr, key);
        }
        return true;
    }
    struct {
        int64_t ts;
        double p, s;
    } c = {ts, price, size};
    tp_vmap_key(tp_vhash_a(&c, sizeof c), (UINT64_C(1) << 61) | instr, key);
    return false;
}

/* ---- ticks and late ---------------------------------------------------------------------- */

static const int tick_doubles[] = {T_PRICE, T_SIZE, T_BID, T_ASK,    T_BIDSZ, T_ASKSZ,
                                   T_OPEN,  T_HIGH, T_LOW, T_CHANGE, T_VALUE};

enum tick_kind { TK_TRADE, TK_QUOTE, TK_SNAPSHOT, TK_BAR, TK_OTHER };

static enum tick_kind tick_kind(struct tp_pq_bytes b)
{
    if (str_eq(b, "trade")) return TK_TRADE;
    if (str_eq(b, "quote")) return TK_QUOTE;
    if (str_eq(b, "snapshot")) return TK_SNAPSHOT;
    if (str_eq(b, "bar")) return TK_BAR;
    return TK_OTHER;
}

static void add_agg(struct run *x, uint32_t fi, uint32_t instr, int64_t ts, double p, double q)
{
    struct vday *d = &x->day;
    int64_t minute = tp_window_start(ts, MIN_NS);
    uint64_t key[2];
    tp_vmap_key(instr, (uint64_t)minute, key);
    uint32_t *slot;
    int rc = tp_vmap_put(&d->aggmap, key, (uint32_t)d->naggs, &slot);
    if (rc < 0) {
        fatal(x, rc);
        return;
    }
    if (rc == 1) {
        if (!grow((void **)&d->aggs, &d->capaggs, d->naggs + 1, sizeof *d->aggs)) {
            fatal(x, -ENOMEM);
            return;
        }
        struct agg *a = &d->aggs[d->naggs++];
        *a = (struct agg){.instr = instr,
                          .file = fi,
                          .minute = minute,
                          .min_ts = ts,
                          .max_ts = ts,
                          .open_lo = p,
                          .open_hi = p,
                          .close_lo = p,
                          .close_hi = p,
                          .high = p,
                          .low = p,
                          .volume = q,
                          .n = 1};
        return;
    }
    struct agg *a = &d->aggs[*slot];
    if (ts < a->min_ts) {
        a->min_ts = ts;
        a->open_lo = a->open_hi = p;
    } else if (ts == a->min_ts) {
        a->open_lo = fmin(a->open_lo, p);
        a->open_hi = fmax(a->open_hi, p);
    }
    if (ts > a->max_ts) {
        a->max_ts = ts;
        a->close_lo = a->close_hi = p;
    } else if (ts == a->max_ts) {
        a->close_lo = fmin(a->close_lo, p);
        a->close_hi = fmax(a->close_hi, p);
    }
    a->high = fmax(a->high, p);
    a->low = fmin(a->low, p);
    a->volume += q;
    a->n++;
}

static void tick_row(struct run *x, struct vfile *vf, size_t i, bool late)
{
    struct tp_validate_report *r = x->r;
    const struct tp_lake_file *lf = &r->files.v[vf->fi];
    uint32_t fi = vf->fi, instr = UINT32_MAX;
    bool have_instr = instr_of(x, vf, T_INSTR, i, &instr);
    int64_t ts = INT64_MIN, ts_us;
    bool have_ts = false;
    if (!isnull(vf, T_TS_NS, i)) {
        ts = i64(vf, T_TS_NS, i);
        have_ts = true;
    } else {
        have_ts = time_ns(vf, T_TS, i, &ts);
    }
    r->c[TP_VC_NULLS].checked++;
    if (!have_instr || !have_ts || isnull(vf, T_KIND, i) ||
        (!late && !isnull(vf, T_TS, i) && isnull(vf, T_TS_NS, i))) {
        vx_problem(r, TP_VC_NULLS, TP_VS_FAIL, fi, have_instr ? instr : UINT32_MAX,
                   have_ts ? ts : INT64_MIN, "row %zu: null %s", i,
                   !have_instr             ? "instrument"
                   : !have_ts              ? "ts"
                   : isnull(vf, T_KIND, i) ? "kind"
                                           : "ts_ns");
        if (!have_instr || !have_ts) return;
    }
    enum tick_kind k = tick_kind(str(vf, T_KIND, i));
    double price = f64(vf, T_PRICE, i), size = f64(vf, T_SIZE, i);

    /* NaN anywhere (a null is not NaN) */
    for (size_t j = 0; j < TP_ARRAY_LEN(tick_doubles); j++) {
        int c = tick_doubles[j];
        if (!isnull(vf, c, i) && isnan(f64(vf, c, i))) {
            vx_problem(r, TP_VC_NULLS, TP_VS_FAIL, fi, instr, ts, "row %zu: %s is NaN", i,
                       vf->spec[c].name);
            break;
        }
    }
    /* required values by kind */
    const char *missing = NULL;
    if ((k == TK_TRADE || k == TK_SNAPSHOT || k == TK_BAR) && isnull(vf, T_PRICE, i))
        missing = "price";
    else if (k == TK_TRADE && isnull(vf, T_SIZE, i))
        missing = "size";
    else if (k == TK_QUOTE && isnull(vf, T_BID, i) && isnull(vf, T_ASK, i))
        missing = "bid and ask";
    if (missing)
        vx_problem(r, TP_VC_NULLS, TP_VS_FAIL, fi, instr, ts, "row %zu: %s %s is null", i,
                   k == TK_QUOTE   ? "quote"
                   : k == TK_TRADE ? "trade"
                                   : "row",
                   missing);

    /* values */
    r->c[TP_VC_VALUES].checked++;
    const char *bad = NULL;
    double badv = 0;
    static const int pos[] = {T_PRICE, T_BID, T_ASK, T_OPEN, T_HIGH, T_LOW};
    static const int nonneg[] = {T_SIZE, T_BIDSZ, T_ASKSZ};
    for (size_t j = 0; j < TP_ARRAY_LEN(pos) && !bad; j++) {
        double v = f64(vf, pos[j], i);
        if (v <= 0) bad = vf->spec[pos[j]].name, badv = v; /* false for null and NaN */
    }
    for (size_t j = 0; j < TP_ARRAY_LEN(nonneg) && !bad; j++) {
        double v = f64(vf, nonneg[j], i);
        if (v < 0) bad = vf->spec[nonneg[j]].name, badv = v;
    }
    if (bad)
        vx_problem(r, TP_VC_VALUES, TP_VS_FAIL, fi, instr, ts, "row %zu: %s %.17g", i, bad, badv);
    else if (k == TK_OTHER)
        vx_problem(r, TP_VC_VALUES, TP_VS_FAIL, fi, instr, ts, "row %zu: unknown kind '%.*s'", i,
                   (int)TP_MIN(str(vf, T_KIND, i).n, 32u), str(vf, T_KIND, i).p);
    else if (!isnull(vf, T_TS, i) && !isnull(vf, T_TS_NS, i) && time_ns(vf, T_TS, i, &ts_us) &&
             tp_floor_div(ts, TP_NS_PER_US) * TP_NS_PER_US != ts_us &&
             vf->d[T_TS].kind != TP_PQ_TS_MILLIS)
        vx_problem(r, TP_VC_VALUES, TP_VS_FAIL, fi, instr, ts, "row %zu: ts and ts_ns disagree", i);

    /* partitions */
    r->c[TP_VC_PARTITIONS].checked++;
    char date[16];
    tp_date_format(ts, date);
    const char *name = tp_vstrs_get(&r->instr, instr), *colon = strchr(name, ':');
    size_t vlen = colon ? (size_t)(colon - name) : 0;
    if (strcmp(date, lf->date))
        vx_problem(r, TP_VC_PARTITIONS, TP_VS_FAIL, fi, instr, ts,
                   "row %zu: ts is on %s, the file is in date=%s", i, date, lf->date);
    else if (!late && (!colon || strlen(lf->venue) != vlen || memcmp(lf->venue, name, vlen)))
        vx_problem(r, TP_VC_PARTITIONS, TP_VS_FAIL, fi, instr, ts,
                   "row %zu: instrument is not of venue=%s", i, lf->venue);

    if (late) {
        struct tp_pq_bytes iv = str(vf, T_INTERVAL, i);
        if (k == TK_TRADE && str_eq(iv, "1m")) {
            uint64_t key[2];
            trade_key(vf, i, instr, ts, price, size, key);
            int rc = tp_vmap_put(&x->day.late, key, 0, NULL);
            if (rc < 0) fatal(x, rc);
        }
        return;
    }

    /* counts, coverage, first/last */
    struct vinst *in = &r->inst[instr];
    struct dinst *di = day_inst(x, instr);
    if (!di) return;
    struct vdaycount *dc = &r->days[di->day];
    if (!dc->ticks || ts < dc->first_ts) dc->first_ts = ts;
    if (!dc->ticks || ts > dc->last_ts) dc->last_ts = ts;
    dc->ticks++;
    dc->trades += k == TK_TRADE;
    dc->quotes += k == TK_QUOTE;
    dc->other += k != TK_TRADE && k != TK_QUOTE;
    if (!in->any || ts < in->first_ts) in->first_ts = ts;
    if (!in->any || ts > in->last_ts) in->last_ts = ts;
    in->any = true;
    int64_t mod = (ts - x->day.start) / MIN_NS;
    if (mod >= 0 && mod < 1440) di->bits[mod / BITS_WORD] |= UINT64_C(1) << (mod % BITS_WORD);
    if (k != TK_TRADE) return;
    in->has_trades = true;

    /* duplicates, late, the aggregate */
    uint64_t key[2];
    bool has_id = trade_key(vf, i, instr, ts, price, size, key);
    if (has_id) {
        struct {
            int64_t ts;
            double p, s;
        } c = {ts, price, size};
        uint32_t content = (uint32_t)tp_vhash_a(&c, sizeof c), *slot;
        r->c[TP_VC_DUPLICATES].checked++;
        int rc = tp_vmap_put(&x->day.ids, key, content, &slot);
        if (rc < 0) {
            fatal(x, rc);
            return;
        }
        if (rc == 0) {
            char id[80];
            if (vf->d[T_ID].kind == TP_PQ_STRING)
                snprintf(id, sizeof id, "%.*s", (int)TP_MIN(str(vf, T_ID, i).n, 64u),
                         str(vf, T_ID, i).p);
            else
                snprintf(id, sizeof id, "%lld", (long long)i64(vf, T_ID, i));
            if (*slot != content)
                vx_problem(r, TP_VC_DUPLICATES, TP_VS_FAIL, fi, instr, ts,
                           "row %zu: trade id %s appears twice with different ts, price or size", i,
                           id);
            else
                vx_problem(r, TP_VC_DUPLICATES, TP_VS_WARN, fi, instr, ts,
                           "row %zu: trade id %s resent (an identical copy)", i, id);
            x->resent += *slot == content;
            return; /* the engine keeps the first */
        }
    }
    if (tp_vmap_get(&x->day.late, key)) return;
    if (isfinite(price) && price > 0 && isfinite(size) && size >= 0)
        add_agg(x, fi, instr, ts, price, size);
}

/* ---- bars -------------------------------------------------------------------------------- */

static void fmt_dur(int64_t ns, char *out, size_t cap)
{
    tp_duration_format(ns, out, cap);
}

static void reconcile_bar(struct run *x, uint32_t fi, uint32_t instr, int64_t ts, double o,
                          double h, double l, double c, double v, int64_t trades)
{
    struct tp_validate_report *r = x->r;
    struct vinst *in = &r->inst[instr];
    if (!in->any_bar || ts > in->last_bar) in->last_bar = ts;
    in->any_bar = true;
    uint64_t key[2];
    tp_vmap_key(instr, (uint64_t)ts, key);
    uint32_t *slot = tp_vmap_get(&x->day.aggmap, key);
    if (!slot) {
        pending(x, instr, fi, ts, "1m bar of %lld trades, but no trade ticks in the lake",
                (long long)trades);
        return;
    }
    struct agg *a = &x->day.aggs[*slot];
    a->matched = true;
    r->c[TP_VC_RECONCILE].checked++;
    double tol = 1e-9 * fmax(1, fabs(a->volume));
    if (h != a->high || l != a->low)
        pending(x, instr, fi, ts, "high/low %.17g/%.17g, ticks give %.17g/%.17g", h, l, a->high,
                a->low);
    else if (o < a->open_lo || o > a->open_hi)
        pending(x, instr, fi, ts, "open %.17g, ticks give %.17g", o, a->open_lo);
    else if (c < a->close_lo || c > a->close_hi)
        pending(x, instr, fi, ts, "close %.17g, ticks give %.17g", c, a->close_lo);
    else if ((uint64_t)trades != a->n)
        pending(x, instr, fi, ts, "trades %lld, ticks give %llu", (long long)trades,
                (unsigned long long)a->n);
    else if (!(fabs(v - a->volume) <= tol))
        pending(x, instr, fi, ts, "volume %.17g, ticks give %.17g", v, a->volume);
}

static void bar_row(struct run *x, struct vfile *vf, size_t i)
{
    struct tp_validate_report *r = x->r;
    const struct tp_lake_file *lf = &r->files.v[vf->fi];
    uint32_t fi = vf->fi, instr = UINT32_MAX;
    bool have_instr = instr_of(x, vf, B_INSTR, i, &instr);
    int64_t ts = INT64_MIN, ivl = 0;
    bool have_ts = time_ns(vf, B_TS, i, &ts);
    struct tp_pq_bytes ivs = str(vf, B_INTERVAL, i);
    bool have_ivl = !isnull(vf, B_INTERVAL, i) && vx_interval_parse(ivs.p, ivs.n, &ivl);
    r->c[TP_VC_NULLS].checked++;
    if (!have_instr || !have_ts || !have_ivl) {
        vx_problem(r, TP_VC_NULLS, TP_VS_FAIL, fi, have_instr ? instr : UINT32_MAX,
                   have_ts ? ts : INT64_MIN, "row %zu: %s", i,
                   !have_instr ? "null instrument"
                   : !have_ts  ? "null ts"
                               : "null or unknown interval");
        return;
    }
    double o = f64(vf, B_OPEN, i), h = f64(vf, B_HIGH, i), l = f64(vf, B_LOW, i),
           c = f64(vf, B_CLOSE, i), v = f64(vf, B_VOLUME, i), vw = f64(vf, B_VWAP, i);
    for (int col = B_OPEN; col < B_N; col++) {
        if (col == B_TRADES || col == B_FIRST || col == B_LAST) continue;
        bool null = isnull(vf, col, i);
        if ((null && col <= B_VOLUME) || (!null && isnan(f64(vf, col, i)))) {
            vx_problem(r, TP_VC_NULLS, TP_VS_FAIL, fi, instr, ts, "row %zu: %s is %s", i,
                       vf->spec[col].name, null ? "null" : "NaN");
            break;
        }
    }
    if (isnull(vf, B_TRADES, i))
        vx_problem(r, TP_VC_NULLS, TP_VS_FAIL, fi, instr, ts, "row %zu: trades is null", i);
    int64_t trades = isnull(vf, B_TRADES, i) ? 0 : i64(vf, B_TRADES, i);

    /* values: prices positive */
    r->c[TP_VC_VALUES].checked++;
    if (l <= 0 || o <= 0 || c <= 0 || h <= 0)
        vx_problem(r, TP_VC_VALUES, TP_VS_FAIL, fi, instr, ts, "row %zu: %s bar with a price <= 0",
                   i, lf->interval);

    /* consistency */
    r->c[TP_VC_BARS].checked++;
    char iv[16];
    fmt_dur(ivl, iv, sizeof iv);
    int64_t first, last;
    bool hf = time_ns(vf, B_FIRST, i, &first), hl = time_ns(vf, B_LAST, i, &last);
    const char *why = NULL;
    char buf[160];
    if (!(l <= o && o <= h))
        snprintf(buf, sizeof buf, "open %.17g outside [low %.17g, high %.17g]", o, l, h), why = buf;
    else if (!(l <= c && c <= h))
        snprintf(buf, sizeof buf, "close %.17g outside [low %.17g, high %.17g]", c, l, h),
            why = buf;
    else if (!(v >= 0))
        snprintf(buf, sizeof buf, "volume %.17g < 0", v), why = buf;
    else if (trades <= 0)
        snprintf(buf, sizeof buf, "trades %lld <= 0", (long long)trades), why = buf;
    else if (v > 0 && isnull(vf, B_VWAP, i))
        why = "vwap is null with volume > 0";
    else if (!isnull(vf, B_VWAP, i) && !(l <= vw && vw <= h))
        snprintf(buf, sizeof buf, "vwap %.17g outside [low %.17g, high %.17g]", vw, l, h),
            why = buf;
    else if (tp_window_start(ts, ivl) != ts)
        why = "ts is not aligned to the interval";
    else if (hf && hl && !(ts <= first && first <= last && last < ts + ivl))
        why = "first_ts/last_ts outside the window";
    if (why)
        vx_problem(r, TP_VC_BARS, TP_VS_FAIL, fi, instr, ts, "row %zu: %s bar: %s", i, iv, why);

    uint64_t key[2];
    tp_vmap_key(((uint64_t)instr << 20) ^ (uint64_t)(ivl / TP_NS_PER_SEC), (uint64_t)ts, key);
    int rc = tp_vmap_put(&x->day.barkeys, key, 0, NULL);
    if (rc < 0) {
        fatal(x, rc);
        return;
    }
    if (rc == 0)
        vx_problem(r, TP_VC_BARS, TP_VS_FAIL, fi, instr, ts, "row %zu: a second %s bar", i, iv);

    /* partitions */
    r->c[TP_VC_PARTITIONS].checked++;
    char date[16];
    tp_date_format(ts, date);
    if (strcmp(date, lf->date))
        vx_problem(r, TP_VC_PARTITIONS, TP_VS_FAIL, fi, instr, ts,
                   "row %zu: ts is on %s, the file is in date=%s", i, date, lf->date);
    else if (strcmp(iv, lf->interval) && !str_eq(ivs, lf->interval))
        vx_problem(r, TP_VC_PARTITIONS, TP_VS_FAIL, fi, instr, ts,
                   "row %zu: interval %s in interval=%s", i, iv, lf->interval);

    if (ivl == MIN_NS && rc == 1) {
        struct dinst *di = day_inst(x, instr);
        if (di) r->days[di->day].bars_1m++;
        reconcile_bar(x, fi, instr, ts, o, h, l, c, v, trades);
    }
}

/* ---- anomalies and gaps ------------------------------------------------------------------ */

static void row_date(struct run *x, struct vfile *vf, size_t i, uint32_t instr, int64_t ts)
{
    struct tp_validate_report *r = x->r;
    const struct tp_lake_file *lf = &r->files.v[vf->fi];
    char date[16];
    tp_date_format(ts, date);
    r->c[TP_VC_PARTITIONS].checked++;
    if (strcmp(date, lf->date))
        vx_problem(r, TP_VC_PARTITIONS, TP_VS_FAIL, vf->fi, instr, ts,
                   "row %zu: ts is on %s, the file is in date=%s", i, date, lf->date);
}

static void anomaly_row(struct run *x, struct vfile *vf, size_t i)
{
    struct tp_validate_report *r = x->r;
    uint32_t instr = UINT32_MAX;
    bool hi = instr_of(x, vf, A_INSTR, i, &instr);
    int64_t ts = INT64_MIN;
    bool ht = time_ns(vf, A_TS, i, &ts);
    r->c[TP_VC_NULLS].checked++;
    if (!hi || !ht || isnull(vf, A_KIND, i)) {
        vx_problem(r, TP_VC_NULLS, TP_VS_FAIL, vf->fi, hi ? instr : UINT32_MAX, ht ? ts : INT64_MIN,
                   "row %zu: anomaly with a null %s", i,
                   !hi   ? "instrument"
                   : !ht ? "ts"
                         : "kind");
        if (!ht) return;
    }
    for (int c = A_OBS; c <= A_SCORE; c++)
        if (!isnull(vf, c, i) && isnan(f64(vf, c, i))) {
            vx_problem(r, TP_VC_NULLS, TP_VS_FAIL, vf->fi, hi ? instr : UINT32_MAX, ts,
                       "row %zu: %s is NaN", i, vf->spec[c].name);
            break;
        }
    row_date(x, vf, i, hi ? instr : UINT32_MAX, ts);
}

static void gap_row(struct run *x, struct vfile *vf, size_t i)
{
    struct tp_validate_report *r = x->r;
    uint32_t instr = UINT32_MAX;
    bool hi = instr_of(x, vf, G_INSTR, i, &instr);
    int64_t ts = INT64_MIN;
    bool ht = time_ns(vf, G_TS, i, &ts);
    r->c[TP_VC_NULLS].checked++;
    if (!hi || !ht) {
        vx_problem(r, TP_VC_NULLS, TP_VS_FAIL, vf->fi, hi ? instr : UINT32_MAX, ht ? ts : INT64_MIN,
                   "row %zu: gap with a null %s", i, !hi ? "instrument" : "ts");
        if (!ht) return;
    }
    row_date(x, vf, i, hi ? instr : UINT32_MAX, ts);
    bool backfilled =
        !isnull(vf, G_BACKFILLED, i) && ((const uint8_t *)vf->d[G_BACKFILLED].values)[i];
    r->c[TP_VC_COVERAGE].checked++;
    if (backfilled) {
        x->gaps_backfilled++;
    } else {
        x->gaps_open++;
        vx_problem(r, TP_VC_COVERAGE, TP_VS_FAIL, vf->fi, hi ? instr : UINT32_MAX, ts,
                   "row %zu: a recorded gap that was not backfilled", i);
    }
}

/* ---- files and days ---------------------------------------------------------------------- */

static void read_file(struct run *x, uint32_t fi)
{
    struct tp_validate_report *r = x->r;
    const struct tp_lake_file *lf = &r->files.v[fi];
    const struct colspec *spec;
    size_t n;
    switch (lf->table) {
    case TP_LF_TICKS:
        spec = tick_cols, n = T_N - 1; /* no interval */
        break;
    case TP_LF_LATE:
        spec = tick_cols, n = T_N;
        break;
    case TP_LF_BARS:
        spec = bar_cols, n = B_N;
        break;
    case TP_LF_ANOMALIES:
        spec = anomaly_cols, n = A_N;
        break;
    default:
        spec = gap_cols, n = G_N;
        break;
    }
    struct vfile *vf = calloc(1, sizeof *vf);
    if (!vf) {
        fatal(x, -ENOMEM);
        return;
    }
    if (vf_open(r, fi, spec, n, vf)) {
        r->files_read++;
        size_t nrg = tp_pq_reader_row_groups(vf->rd);
        for (size_t rg = 0; rg < nrg && !x->err; rg++) {
            if (vf_read_rg(r, vf, rg) < 0) break;
            size_t rows = (size_t)tp_pq_reader_rg_rows(vf->rd, rg);
            for (size_t i = 0; i < rows && !x->err; i++) {
                switch (lf->table) {
                case TP_LF_TICKS:
                    tick_row(x, vf, i, false);
                    break;
                case TP_LF_LATE:
                    tick_row(x, vf, i, true);
                    break;
                case TP_LF_BARS:
                    bar_row(x, vf, i);
                    break;
                case TP_LF_ANOMALIES:
                    anomaly_row(x, vf, i);
                    break;
                default:
                    gap_row(x, vf, i);
                    break;
                }
            }
        }
        vf_close(vf);
    }
    free(vf);
    x->done++;
    if (r->o.progress) r->o.progress(r->o.ctx, x->done, x->total);
}

/* Parses "YYYY-MM-DD" (a real date) into days since the epoch. */
static bool parse_date(const char *s, int64_t *ret)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return false;
    int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (m < 1 || m > 12 || d < 1 || d > 31) return false;
    int64_t z = tp_days_from_civil(y, m, d), yy;
    unsigned mm, dd;
    tp_civil_from_days(z, &yy, &mm, &dd);
    if (yy != y || mm != m || dd != d) return false;
    *ret = z;
    return true;
}

static void end_of_day(struct run *x)
{
    struct tp_validate_report *r = x->r;
    struct vday *d = &x->day;
    for (size_t i = 0; i < d->naggs; i++) {
        const struct agg *a = &d->aggs[i];
        if (!a->matched)
            pending(x, a->instr, a->file, a->minute, "%llu trade ticks but no 1m bar",
                    (unsigned long long)a->n);
    }
    /* coverage: runs of minutes without a tick, carried across days */
    int64_t gap_min = r->o.max_gap_ns ? (r->o.max_gap_ns + MIN_NS - 1) / MIN_NS : 0;
    int64_t day_min = d->start / MIN_NS;
    for (size_t k = 0; k < d->ndi; k++) {
        struct dinst *di = &d->di[k];
        struct vinst *in = &r->inst[di->instr];
        for (int m = 0; m < 1440; m++) {
            if (!(di->bits[m / BITS_WORD] >> (m % BITS_WORD) & 1)) continue;
            int64_t abs = day_min + m;
            if (in->cov && gap_min && abs - in->last_minute - 1 >= gap_min) {
                char a[TP_TIME_STRLEN], dur[32];
                tp_time_format((in->last_minute + 1) * MIN_NS, a);
                fmt_dur((abs - in->last_minute - 1) * MIN_NS, dur, sizeof dur);
                vx_problem(r, TP_VC_COVERAGE, TP_VS_FAIL, UINT32_MAX, di->instr, abs * MIN_NS,
                           "no ticks for %s (from %s)", dur, a);
            }
            in->cov = true;
            in->last_minute = abs;
        }
    }
    tp_vmap_clear(&d->aggmap);
    tp_vmap_clear(&d->ids);
    tp_vmap_clear(&d->late);
    tp_vmap_clear(&d->barkeys);
    tp_vmap_clear(&d->instmap);
    d->naggs = d->ndi = 0;
}

static void day_fini(struct vday *d)
{
    tp_vmap_fini(&d->aggmap);
    tp_vmap_fini(&d->ids);
    tp_vmap_fini(&d->late);
    tp_vmap_fini(&d->barkeys);
    tp_vmap_fini(&d->instmap);
    free(d->aggs);
    free(d->di);
}

static int cmp_date_table(const void *a, const void *b, void *arg)
{
    const struct tp_lake_file *v = arg;
    const struct tp_lake_file *x = &v[*(const uint32_t *)a], *y = &v[*(const uint32_t *)b];
    int c = strcmp(x->date, y->date);
    if (c) return c;
    /* late before ticks before bars, anomalies, gaps */
    static const int rank[TP_LF_N] = {[TP_LF_LATE] = 0,
                                      [TP_LF_TICKS] = 1,
                                      [TP_LF_BARS] = 2,
                                      [TP_LF_ANOMALIES] = 3,
                                      [TP_LF_GAPS] = 4};
    if (rank[x->table] != rank[y->table]) return rank[x->table] - rank[y->table];
    return strcmp(x->rel, y->rel);
}

static void settle(struct run *x)
{
    struct tp_validate_report *r = x->r;
    /* reconcile: only complete minutes of instruments with trades */
    uint64_t edge = 0, quote_only = 0;
    for (size_t i = 0; i < r->npend; i++) {
        const struct vpending *p = &r->pend[i];
        const struct vinst *in = &r->inst[p->instr];
        if (!in->has_trades) {
            quote_only++;
            continue;
        }
        bool complete =
            in->any && in->any_bar && p->minute_ns > tp_window_start(in->first_ts, MIN_NS) &&
            p->minute_ns + MIN_NS + r->o.lateness_ns <= in->last_ts && p->minute_ns <= in->last_bar;
        if (!complete) {
            edge++;
            continue;
        }
        vx_problem(r, TP_VC_RECONCILE, TP_VS_FAIL, p->file, p->instr, p->minute_ns, "%s",
                   p->detail);
    }
    if (r->pend_dropped)
        vx_problem(r, TP_VC_RECONCILE, TP_VS_FAIL, UINT32_MAX, UINT32_MAX, INT64_MIN,
                   "%llu more findings not kept (more than %u)",
                   (unsigned long long)r->pend_dropped, PEND_MAX);
    bool any_bar = false;
    for (size_t i = 0; i < r->ninst; i++) any_bar |= r->inst[i].any_bar;
    if (!any_bar)
        vx_skip(r, TP_VC_RECONCILE, "no 1m bars in the lake");
    else
        vx_note(r, TP_VC_RECONCILE,
                "%llu bar-minutes compared; the first minute of an instrument, minutes near the "
                "end of its ticks or past its last bar (%llu findings) and the bars of "
                "quote-only instruments (%llu) are not judged",
                (unsigned long long)r->c[TP_VC_RECONCILE].checked, (unsigned long long)edge,
                (unsigned long long)quote_only);

    /* freshness */
    if (!r->o.max_age_ns) {
        vx_skip(r, TP_VC_FRESHNESS, "no --max-age given");
    } else {
        for (uint32_t id = 0; id < r->instr.n; id++) {
            const struct vinst *in = &r->inst[id];
            if (!in->any) continue;
            r->c[TP_VC_FRESHNESS].checked++;
            if (r->o.as_of_ns - in->last_ts > r->o.max_age_ns) {
                char age[32];
                fmt_dur((r->o.as_of_ns - in->last_ts) / TP_NS_PER_SEC * TP_NS_PER_SEC, age,
                        sizeof age);
                vx_problem(r, TP_VC_FRESHNESS, TP_VS_FAIL, UINT32_MAX, id, in->last_ts,
                           "latest event is %s old", age);
            }
        }
        char a[TP_TIME_STRLEN], m[32];
        tp_time_format(r->o.as_of_ns, a);
        fmt_dur(r->o.max_age_ns, m, sizeof m);
        vx_note(r, TP_VC_FRESHNESS, "as of %s, max age %s", a, m);
    }

    if (x->resent)
        vx_note(r, TP_VC_DUPLICATES,
                "%llu resent copies (identical rows; the engine drops them, a reader of the "
                "lake should too)",
                (unsigned long long)x->resent);
    if (x->gaps_open || x->gaps_backfilled)
        vx_note(r, TP_VC_COVERAGE, "%llu recorded gaps, %llu backfilled",
                (unsigned long long)(x->gaps_open + x->gaps_backfilled),
                (unsigned long long)x->gaps_backfilled);
    if (r->o.max_gap_ns) {
        char g[32];
        fmt_dur(r->o.max_gap_ns, g, sizeof g);
        vx_note(r, TP_VC_COVERAGE, "max gap %s", g);
    }
    r->c[TP_VC_COUNTS].checked = r->table_rows[TP_LF_TICKS];
}

int vx_lake(struct tp_validate_report *r, char *err, size_t errcap)
{
    char lake[600];
    snprintf(lake, sizeof lake, "%s/lake", r->data);
    int rc = tp_lake_files_list(lake, &r->files);
    if (rc < 0) {
        snprintf(err, errcap, "cannot list %s: %s", lake, strerror(-rc));
        return rc;
    }
    struct run *x = calloc(1, sizeof *x);
    uint32_t *order = malloc((r->files.n + 1) * sizeof *order);
    if (!x || !order) {
        free(x);
        free(order);
        return -ENOMEM;
    }
    x->r = r;

    /* files that cannot be placed; the dates of the ticks */
    size_t n = 0;
    uint64_t nticks = 0;
    for (uint32_t i = 0; i < r->files.n; i++) {
        const struct tp_lake_file *f = &r->files.v[i];
        int64_t z;
        bool date_ok = parse_date(f->date, &z);
        bool need_venue = f->table == TP_LF_TICKS, need_ivl = f->table == TP_LF_BARS;
        int64_t ivl;
        if (f->bad_partition || !date_ok || (need_venue && !f->venue[0]) ||
            (need_ivl && !vx_interval_parse(f->interval, strlen(f->interval), &ivl))) {
            vx_problem(r, TP_VC_PARTITIONS, TP_VS_FAIL, i, UINT32_MAX, INT64_MIN,
                       "not in a %s partition (date=YYYY-MM-DD%s): not read",
                       tp_lf_table_name(f->table),
                       need_venue ? "/venue=V"
                       : need_ivl ? ", interval=I"
                                  : "");
            continue;
        }
        nticks += f->table == TP_LF_TICKS;
        order[n++] = i;
    }
    qsort_r(order, n, sizeof *order, cmp_date_table, r->files.v);
    x->total = n;

    if (r->files.n == 0)
        vx_problem(r, TP_VC_SCHEMA, TP_VS_FAIL, UINT32_MAX, UINT32_MAX, INT64_MIN,
                   "no lake files under %s", lake);
    if (nticks == 0)
        vx_problem(r, TP_VC_COUNTS, TP_VS_FAIL, UINT32_MAX, UINT32_MAX, INT64_MIN,
                   "the lake has no ticks files");

    int64_t prev_tick_day = INT64_MIN;
    for (size_t k = 0; k < n && !x->err;) {
        const char *date = r->files.v[order[k]].date;
        struct vday *d = &x->day;
        snprintf(d->date, sizeof d->date, "%.15s", date);
        int64_t z = 0;
        parse_date(date, &z);
        d->start = z * DAY_NS;
        r->dates++;
        size_t first_day_row = r->ndays;
        bool has_ticks = false;
        for (; k < n && !x->err && !strcmp(r->files.v[order[k]].date, date); k++) {
            has_ticks |= r->files.v[order[k]].table == TP_LF_TICKS;
            read_file(x, order[k]);
        }
        if (has_ticks) {
            if (prev_tick_day != INT64_MIN && z - prev_tick_day > 1) {
                char from[16], to[16];
                tp_date_format((prev_tick_day + 1) * DAY_NS, from);
                tp_date_format((z - 1) * DAY_NS, to);
                vx_problem(r, TP_VC_COVERAGE, TP_VS_FAIL, UINT32_MAX, UINT32_MAX,
                           (prev_tick_day + 1) * DAY_NS, "no ticks files for %s%s%s", from,
                           z - prev_tick_day > 2 ? " to " : "", z - prev_tick_day > 2 ? to : "");
            }
            prev_tick_day = z;
        }
        end_of_day(x);
        (void)first_day_row;
    }
    if (!x->err) settle(x);
    rc = x->err;
    if (rc < 0)
        snprintf(err, errcap, "reading the lake: %s%s", strerror(-rc),
                 rc == -E2BIG ? " (a day has more keys than the validator holds)" : "");
    day_fini(&x->day);
    free(x);
    free(order);
    return rc;
}
