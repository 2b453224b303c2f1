/*
 * lake_tool.c — builds a small data directory by hand, as `tickpipe run` with the lake sink
 * would leave it, for the tests of `tickpipe validate` (tests/integration/validate_lake.sh):
 *
 *   lake_tool DIR [--days N] [--defect NAME]...
 *
 * What it writes, all deterministic (fixed seed):
 *   DIR/journal/input    the events: trades of sim:BTC-USD, sim:ETH-USD and binance:BTC-USDT
 *                        (one every ~20 s each, numeric ids, 2% delivered out of order within
 *                        the lateness, 0.3% late beyond it, 0.3% resent byte for byte) and
 *                        quotes of the quote-only fmp:EUR-USD every ~30 s, from 2024-03-01
 *   DIR/journal/output   what tickpipe's engine (src/engine) makes of them: final bars,
 *                        anomalies, late events (the real engine, so the bars follow its rules)
 *   DIR/lake/...         the same rows as Parquet in the layout of DESIGN.md §5: ticks by
 *                        date and venue, bars (not 1s) by interval and date, anomalies and late
 *                        by date; one file per table partition per batch of 4096 log offsets,
 *                        named part-<log>-0-<first>-<last>.parquet, rows sorted by (instrument,
 *                        ts, offset); DIR/lake/_tickpipe/ack with the next offsets
 * and prints one JSON line with the rows of each table and the trades and ticks written.
 *
 * Defects (each changes the lake only, except stale, which changes the feed):
 *   bar-high-lt-open  a 1m bar of sim:BTC-USD on day 2 gets high below its open and low
 *   dup-id            a trade of sim:ETH-USD on day 2 gets the id of the trade before it
 *   nan-price         a trade of binance:BTC-USDT on day 1 gets a NaN price
 *   neg-price         a trade of sim:ETH-USD on day 1 gets a negative price
 *   missing-day       the ticks files of day 2 are not written
 *   missing-hour      sim:BTC-USD's ticks of 10:00-11:00 on day 2 are left out
 *   count             one tick of sim:ETH-USD on the last day is left out
 *   open-gap          the feed of sim:BTC-USD reports a trade-id gap on day 1 (a status
 *                     record in the journal; the engine's gap output lands in gaps/)
 *   stale             binance:BTC-USDT stops trading 3 hours before the end
 * Exit 0, 1 on an error, 2 on usage.
 */
#include <math.h>
#include <sys/stat.h>

#include "core/instrument.h"
#include "core/rng.h"
#include "core/tptime.h"
#include "engine/engine.h"
#include "log/journal.h"
#include "log/record.h"
#include "sink/parquet.h"

#define BATCH   4096
#define DAY_NS  (86400 * TP_NS_PER_SEC)
#define HOUR_NS (3600 * TP_NS_PER_SEC)
#define NINST   4

static const char *const inst_names[NINST] = {"sim:BTC-USD", "sim:ETH-USD", "binance:BTC-USDT",
                                              "fmp:EUR-USD"};

enum { D_BAR, D_DUP, D_NAN, D_NEG, D_MISSING_DAY, D_MISSING_HOUR, D_COUNT, D_GAP, D_STALE, D_N };
static const char *const defect_names[D_N] = {
    "bar-high-lt-open", "dup-id", "nan-price", "neg-price", "missing-day",
    "missing-hour",     "count",  "open-gap",  "stale"};
static bool defect[D_N];

static void die(const char *what, int rc)
{
    fprintf(stderr, "lake_tool: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
    exit(1);
}

/* ---- rows kept for the lake -------------------------------------------------------------- */

struct row {
    int table; /* 0 ticks, 1 bars, 2 anomalies, 3 late, 4 gaps */
    uint64_t off;
    struct tp_event ev;   /* ticks, late */
    int64_t interval_ns;  /* late */
    struct tp_bar bar;    /* bars */
    struct tp_anomaly an; /* anomalies */
    struct tp_gap gap;    /* gaps */
    bool drop;            /* a defect leaves it out */
};

static struct row *rows;
static size_t nrows, caprows;

static struct row *new_row(int table, uint64_t off)
{
    if (nrows == caprows) {
        caprows = caprows ? caprows * 2 : 4096;
        rows = realloc(rows, caprows * sizeof *rows);
        if (!rows) die("realloc", ENOMEM);
    }
    struct row *r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    r->table = table;
    r->off = off;
    return r;
}

static struct tp_journal *jin, *jout;
static struct tp_buf rec;

static uint64_t append(struct tp_journal *j)
{
    uint64_t off;
    int rc = tp_journal_append(j, rec.p, rec.len, &off);
    if (rc < 0) die("journal append", rc);
    tp_buf_reset(&rec);
    return off;
}

static void on_bar(void *ctx, const struct tp_bar *b)
{
    (void)ctx;
    if (tp_rec_put_bar(&rec, b) < 0) die("put bar", ENOMEM);
    uint64_t off = append(jout);
    if (b->interval_ns < 60 * TP_NS_PER_SEC) return; /* the lake keeps no 1s bars */
    new_row(1, off)->bar = *b;
}

static void on_anomaly(void *ctx, const struct tp_anomaly *a)
{
    (void)ctx;
    if (tp_rec_put_anomaly(&rec, a) < 0) die("put anomaly", ENOMEM);
    new_row(2, append(jout))->an = *a;
}

static void on_late(void *ctx, const struct tp_event *e, int64_t iv)
{
    (void)ctx;
    if (tp_rec_put_late(&rec, e, iv) < 0) die("put late", ENOMEM);
    struct row *r = new_row(3, append(jout));
    r->ev = *e;
    r->interval_ns = iv;
}

static void on_gap(void *ctx, const struct tp_gap *g)
{
    (void)ctx;
    if (tp_rec_put_gap(&rec, g) < 0) die("put gap", ENOMEM);
    new_row(4, append(jout))->gap = *g;
}

/* ---- the feed ---------------------------------------------------------------------------- */

struct pend {
    int64_t deliver;
    struct tp_event ev;
};

static int cmp_pend(const void *a, const void *b)
{
    const struct pend *x = a, *y = b;
    if (x->deliver != y->deliver) return x->deliver < y->deliver ? -1 : 1;
    return x->ev.ts < y->ev.ts ? -1 : x->ev.ts > y->ev.ts;
}

static void make_feed(int64_t start, int days, struct pend **ret, size_t *ret_n)
{
    struct tp_rng rng;
    tp_rng_seed(&rng, 7);
    size_t n = 0, cap = 1 << 16;
    struct pend *v = malloc(cap * sizeof *v);
    if (!v) die("malloc", ENOMEM);
    int64_t end = start + days * DAY_NS;
    for (int k = 0; k < NINST; k++) {
        uint32_t id;
        if (tp_instr_intern(inst_names[k], strlen(inst_names[k]), &id) < 0) die("intern", EINVAL);
        double price = k == 0 ? 60000 : k == 1 ? 3000 : k == 2 ? 60010 : 1.08;
        uint64_t tid = 1000;
        int64_t stop = (k == 2 && defect[D_STALE]) ? end - 3 * HOUR_NS : end;
        for (int64_t t = start + (int64_t)(tp_rng_uniform(&rng) * 1e9); t < stop;) {
            if (n + 2 >= cap) {
                cap *= 2;
                v = realloc(v, cap * sizeof *v);
                if (!v) die("realloc", ENOMEM);
            }
            struct pend *p = &v[n++];
            struct tp_event *e = &p->ev;
            price *= exp(0.0004 * tp_rng_normal(&rng));
            double cents = k == 3 ? 1e5 : 100;
            double px = round(price * cents) / cents;
            if (k == 3) {
                tp_event_init(e, TP_KIND_QUOTE);
                e->flags |= TP_EV_QUOTE_ONLY;
                e->bid = px;
                e->ask = round((px + 0.0002) * cents) / cents;
                e->bid_size = 1e6;
                e->ask_size = 2e6;
            } else {
                tp_event_init(e, TP_KIND_TRADE);
                e->price = px;
                e->size = (double)(1 + tp_rng_below(&rng, 5000)) / 1000.0;
                e->side = tp_rng_below(&rng, 2) ? TP_SIDE_BUY : TP_SIDE_SELL;
                tp_event_set_id(e, tid++);
            }
            e->instr = id;
            e->ts = t;
            e->flags |= TP_EV_TS_VENUE;
            tp_event_set_vsym(e, inst_names[k], strlen(inst_names[k]));
            double u = tp_rng_uniform(&rng);
            int64_t delay = 1000000; /* 1 ms */
            if (k != 3 && u < 0.02)
                delay = (int64_t)(tp_rng_uniform(&rng) * 1.5e9);
            else if (k != 3 && u < 0.023)
                delay = (int64_t)((5 + tp_rng_uniform(&rng) * 95) * 1e9);
            p->deliver = t + delay;
            e->ts_recv = p->deliver;
            if (k != 3 && tp_rng_uniform(&rng) < 0.003) { /* resent byte for byte */
                v[n] = *p;
                v[n].deliver = p->deliver + 500000000;
                v[n].ev.ts_recv = v[n].deliver;
                n++;
            }
            t += (int64_t)(tp_rng_exp(&rng, k == 3 ? 30 : 20) * 1e9) + 1;
        }
    }
    if (defect[D_GAP]) {
        struct pend *p = &v[n++];
        tp_event_init(&p->ev, TP_KIND_STATUS);
        p->ev.status = TP_ST_GAP;
        p->ev.instr = tp_instr_find("sim:BTC-USD", 11);
        p->ev.ts = p->ev.ts_recv = p->deliver = start + 5 * HOUR_NS;
        p->ev.trade_id = 5000;
        p->ev.gap_last = 5010;
    }
    qsort(v, n, sizeof *v, cmp_pend);
    *ret = v;
    *ret_n = n;
}

/* ---- Parquet ----------------------------------------------------------------------------- */

#define TS(n)                                                                                      \
    {                                                                                              \
        .name = n, .kind = TP_PQ_TS_MICROS                                                         \
    }
#define TSO(n)                                                                                     \
    {                                                                                              \
        .name = n, .kind = TP_PQ_TS_MICROS, .optional = true                                       \
    }
#define I64(n)                                                                                     \
    {                                                                                              \
        .name = n, .kind = TP_PQ_INT64                                                             \
    }
#define STR(n)                                                                                     \
    {                                                                                              \
        .name = n, .kind = TP_PQ_STRING                                                            \
    }
#define STO(n)                                                                                     \
    {                                                                                              \
        .name = n, .kind = TP_PQ_STRING, .optional = true                                          \
    }
#define DBL(n)                                                                                     \
    {                                                                                              \
        .name = n, .kind = TP_PQ_DOUBLE, .optional = true                                          \
    }

static const struct tp_pq_column tick_schema[] = {
    TS("ts"),    I64("ts_ns"), TS("ts_recv"),   STR("instrument"), STO("venue_symbol"),
    STR("kind"), DBL("price"), DBL("size"),     STO("side"),       STO("trade_id"),
    DBL("bid"),  DBL("ask"),   DBL("bid_size"), DBL("ask_size"),   DBL("open"),
    DBL("high"), DBL("low"),   DBL("change"),   DBL("value"),      STO("interval"),
};
static const struct tp_pq_column bar_schema[] = {
    STR("instrument"),    STR("interval"),   TS("ts"),           DBL("open"),      DBL("high"),
    DBL("low"),           DBL("close"),      DBL("volume"),      DBL("notional"),  DBL("vwap"),
    I64("trades"),        DBL("buy_volume"), DBL("sell_volume"), TS("first_ts"),   TS("last_ts"),
    DBL("sma_20"),        DBL("ema_20"),     DBL("bb_upper"),    DBL("bb_middle"), DBL("bb_lower"),
    DBL("rsi_14"),        DBL("macd"),       DBL("macd_signal"), DBL("macd_hist"), DBL("atr_14"),
    DBL("volatility_20"),
};
static const struct tp_pq_column anomaly_schema[] = {
    STR("instrument"), TS("ts"),     STR("kind"),     DBL("observed"),
    DBL("expected"),   DBL("score"), STO("interval"),
};
static const struct tp_pq_column gap_schema[] = {
    STR("instrument"),
    TS("ts"),
    I64("first_missing"),
    I64("last_missing"),
    {.name = "backfilled", .kind = TP_PQ_BOOL},
};

/* Column arrays for up to MAXC columns of n rows. */
#define MAXC 26
struct cols {
    size_t n;
    void *v[MAXC];
    uint8_t *null[MAXC];
    char *ids; /* trade id text, 24 bytes a row */
};

static void cols_init(struct cols *c, const struct tp_pq_column *s, size_t ncols, size_t n)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    for (size_t i = 0; i < ncols; i++) {
        size_t sz = s[i].kind == TP_PQ_STRING ? sizeof(struct tp_pq_bytes)
                    : s[i].kind == TP_PQ_BOOL ? 1
                                              : 8;
        c->v[i] = calloc(n + 1, sz);
        c->null[i] = calloc(n + 1, 1);
        if (!c->v[i] || !c->null[i]) die("calloc", ENOMEM);
    }
    c->ids = calloc(n + 1, 24);
    if (!c->ids) die("calloc", ENOMEM);
}

static void cols_write(struct cols *c, const struct tp_pq_column *s, size_t ncols, const char *path)
{
    struct tp_pq_batch_col b[MAXC];
    for (size_t i = 0; i < ncols; i++) b[i] = (struct tp_pq_batch_col){c->v[i], c->null[i]};
    const struct tp_pq_kv kv[] = {{"tickpipe.schema_version", "1"}};
    struct tp_pq_options o;
    tp_pq_options_default(&o);
    o.kv = kv;
    o.nkv = 1;
    o.row_group_rows = 1000; /* several row groups per file */
    struct tp_pq_writer *w;
    int rc = tp_pq_writer_open_path(&w, path, s, ncols, &o);
    if (rc < 0) die(path, rc);
    rc = tp_pq_writer_append(w, b, c->n);
    if (rc == 0)
        rc = tp_pq_writer_close(w);
    else
        tp_pq_writer_abort(w);
    if (rc < 0) die(path, rc);
    for (size_t i = 0; i < ncols; i++) {
        free(c->v[i]);
        free(c->null[i]);
    }
    free(c->ids);
}

static void set_i64(struct cols *c, int col, size_t i, int64_t v)
{
    ((int64_t *)c->v[col])[i] = v;
}
static void set_dbl(struct cols *c, int col, size_t i, double v, bool null_when_nan)
{
    ((double *)c->v[col])[i] = v;
    if (null_when_nan && isnan(v)) c->null[col][i] = 1;
}
static void set_str(struct cols *c, int col, size_t i, const char *s)
{
    if (!s || !*s) {
        c->null[col][i] = 1;
        return;
    }
    ((struct tp_pq_bytes *)c->v[col])[i] = (struct tp_pq_bytes){s, (uint32_t)strlen(s)};
}

static const char *ivname(int64_t ns, char *buf, size_t cap)
{
    tp_duration_format(ns, buf, cap);
    return buf;
}

/* Interval names must outlive the columns: a small static table. */
static const char *ivstatic(int64_t ns)
{
    static char names[8][16];
    static int64_t keys[8];
    static int n;
    for (int i = 0; i < n; i++)
        if (keys[i] == ns) return names[i];
    if (n == 8) return "?";
    keys[n] = ns;
    return ivname(ns, names[n++], sizeof names[0]);
}

static void write_ticks(const char *path, struct row **v, size_t n, bool late)
{
    struct cols c;
    size_t nc = late ? 20 : 19;
    cols_init(&c, tick_schema, nc, n);
    for (size_t i = 0; i < n; i++) {
        const struct tp_event *e = &v[i]->ev;
        set_i64(&c, 0, i, tp_floor_div(e->ts, 1000));
        set_i64(&c, 1, i, e->ts);
        set_i64(&c, 2, i, tp_floor_div(e->ts_recv, 1000));
        set_str(&c, 3, i, tp_instr_name(e->instr));
        set_str(&c, 4, i, e->venue_symbol);
        set_str(&c, 5, i, tp_kind_name((enum tp_kind)e->kind));
        /* a defect's NaN is kept as NaN, not null: the validator must see it */
        set_dbl(&c, 6, i, e->price, e->kind != TP_KIND_TRADE);
        set_dbl(&c, 7, i, e->size, true);
        set_str(&c, 8, i, tp_side_name((enum tp_side)e->side));
        if (e->flags & TP_EV_HAS_ID) {
            snprintf(c.ids + 24 * i, 24, "%llu", (unsigned long long)e->trade_id);
            set_str(&c, 9, i, c.ids + 24 * i);
        } else {
            c.null[9][i] = 1;
        }
        set_dbl(&c, 10, i, e->bid, true);
        set_dbl(&c, 11, i, e->ask, true);
        set_dbl(&c, 12, i, e->bid_size, true);
        set_dbl(&c, 13, i, e->ask_size, true);
        set_dbl(&c, 14, i, e->open, true);
        set_dbl(&c, 15, i, e->high, true);
        set_dbl(&c, 16, i, e->low, true);
        set_dbl(&c, 17, i, e->change, true);
        set_dbl(&c, 18, i, e->value, true);
        if (late) set_str(&c, 19, i, ivstatic(v[i]->interval_ns));
    }
    cols_write(&c, tick_schema, nc, path);
}

static void write_bars(const char *path, struct row **v, size_t n)
{
    struct cols c;
    cols_init(&c, bar_schema, TP_ARRAY_LEN(bar_schema), n);
    for (size_t i = 0; i < n; i++) {
        const struct tp_bar *b = &v[i]->bar;
        set_str(&c, 0, i, tp_instr_name(b->instr));
        set_str(&c, 1, i, ivstatic(b->interval_ns));
        set_i64(&c, 2, i, tp_floor_div(b->ts, 1000));
        const double d[] = {b->open, b->high, b->low, b->close, b->volume, b->notional, b->vwap};
        for (int k = 0; k < 7; k++) set_dbl(&c, 3 + k, i, d[k], true);
        set_i64(&c, 10, i, (int64_t)b->trades);
        set_dbl(&c, 11, i, b->buy_volume, true);
        set_dbl(&c, 12, i, b->sell_volume, true);
        set_i64(&c, 13, i, tp_floor_div(b->first_ts, 1000));
        set_i64(&c, 14, i, tp_floor_div(b->last_ts, 1000));
        const struct tp_ind_values *x = &b->ind;
        const double ind[] = {x->sma,       x->ema, x->bb_upper,  x->bb_middle,
                              x->bb_lower,  x->rsi, x->macd,      x->macd_signal,
                              x->macd_hist, x->atr, x->volatility};
        for (int k = 0; k < 11; k++) set_dbl(&c, 15 + k, i, ind[k], true);
    }
    cols_write(&c, bar_schema, TP_ARRAY_LEN(bar_schema), path);
}

static void write_anomalies(const char *path, struct row **v, size_t n)
{
    struct cols c;
    cols_init(&c, anomaly_schema, TP_ARRAY_LEN(anomaly_schema), n);
    for (size_t i = 0; i < n; i++) {
        const struct tp_anomaly *a = &v[i]->an;
        set_str(&c, 0, i, tp_instr_name(a->instr));
        set_i64(&c, 1, i, tp_floor_div(a->ts, 1000));
        set_str(&c, 2, i, tp_anomaly_kind_name((enum tp_anomaly_kind)a->kind));
        set_dbl(&c, 3, i, a->observed, true);
        set_dbl(&c, 4, i, a->expected, true);
        set_dbl(&c, 5, i, a->score, true);
        if (a->interval_ns)
            set_str(&c, 6, i, ivstatic(a->interval_ns));
        else
            c.null[6][i] = 1;
    }
    cols_write(&c, anomaly_schema, TP_ARRAY_LEN(anomaly_schema), path);
}

static void write_gaps(const char *path, struct row **v, size_t n)
{
    struct cols c;
    cols_init(&c, gap_schema, TP_ARRAY_LEN(gap_schema), n);
    for (size_t i = 0; i < n; i++) {
        const struct tp_gap *g = &v[i]->gap;
        set_str(&c, 0, i, tp_instr_name(g->instr));
        set_i64(&c, 1, i, tp_floor_div(g->ts, 1000));
        set_i64(&c, 2, i, (int64_t)g->first_missing);
        set_i64(&c, 3, i, (int64_t)g->last_missing);
        ((uint8_t *)c.v[4])[i] = g->backfilled;
    }
    cols_write(&c, gap_schema, TP_ARRAY_LEN(gap_schema), path);
}

/* ---- layout ------------------------------------------------------------------------------ */

static void mkdirs(const char *path)
{
    char b[1600];
    snprintf(b, sizeof b, "%s", path);
    for (char *p = b + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(b, 0755);
            *p = '/';
        }
    mkdir(b, 0755);
}

static int64_t row_ts(const struct row *r)
{
    return r->table == 1   ? r->bar.ts
           : r->table == 2 ? r->an.ts
           : r->table == 4 ? r->gap.ts
                           : r->ev.ts;
}

static uint32_t row_instr(const struct row *r)
{
    return r->table == 1   ? r->bar.instr
           : r->table == 2 ? r->an.instr
           : r->table == 4 ? r->gap.instr
                           : r->ev.instr;
}

/* The partition directory of a row, relative to the lake. */
static void row_part(const struct row *r, char *out, size_t cap)
{
    char date[16];
    tp_date_format(row_ts(r), date);
    static const char *const tables[] = {"ticks", "bars", "anomalies", "late", "gaps"};
    if (r->table == 0) {
        const struct tp_instrument *in = tp_instr_get(r->ev.instr);
        snprintf(out, cap, "ticks/date=%s/venue=%.*s", date, (int)in->venue_len, in->name);
    } else if (r->table == 1) {
        char iv[16];
        snprintf(out, cap, "bars/interval=%s/date=%s", ivname(r->bar.interval_ns, iv, sizeof iv),
                 date);
    } else {
        snprintf(out, cap, "%s/date=%s", tables[r->table], date);
    }
}

static int cmp_rows(const void *a, const void *b)
{
    const struct row *x = *(struct row *const *)a, *y = *(struct row *const *)b;
    int c = strcmp(tp_instr_name(row_instr(x)), tp_instr_name(row_instr(y)));
    if (c) return c;
    if (x->table == 1 && x->bar.interval_ns != y->bar.interval_ns)
        return x->bar.interval_ns < y->bar.interval_ns ? -1 : 1;
    if (row_ts(x) != row_ts(y)) return row_ts(x) < row_ts(y) ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Writes the rows of one table whose offsets are in [first, last], one file per partition. */
static void write_batch(const char *lake, int table, uint64_t first, uint64_t last)
{
    struct row **v = malloc((nrows + 1) * sizeof *v);
    char(*parts)[256] = malloc((nrows + 1) * sizeof *parts);
    if (!v || !parts) die("malloc", ENOMEM);
    size_t n = 0;
    for (size_t i = 0; i < nrows; i++) {
        struct row *r = &rows[i];
        if (r->table != table || r->off < first || r->off > last || r->drop) continue;
        if (table == 0 && r->ev.kind == TP_KIND_STATUS) continue; /* not a tick */
        v[n] = r;
        row_part(r, parts[n], sizeof parts[0]);
        n++;
    }
    bool *done = calloc(n + 1, 1);
    struct row **sel = malloc((n + 1) * sizeof *sel);
    if (!done || !sel) die("malloc", ENOMEM);
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && !strcmp(parts[i], parts[j])) {
                sel[m++] = v[j];
                done[j] = true;
            }
        if (defect[D_MISSING_DAY] && table == 0 && strstr(parts[i], "date=2024-03-02")) continue;
        qsort(sel, m, sizeof *sel, cmp_rows);
        char dir[1400], path[1600];
        snprintf(dir, sizeof dir, "%s/%s", lake, parts[i]);
        mkdirs(dir);
        snprintf(path, sizeof path, "%s/part-%s-0-%020llu-%020llu.parquet", dir,
                 table == 0 ? "input" : "output", (unsigned long long)first,
                 (unsigned long long)last);
        if (table == 0 || table == 3)
            write_ticks(path, sel, m, table == 3);
        else if (table == 1)
            write_bars(path, sel, m);
        else if (table == 2)
            write_anomalies(path, sel, m);
        else
            write_gaps(path, sel, m);
    }
    free(done);
    free(sel);
    free(v);
    free(parts);
}

/* ---- defects ------------------------------------------------------------------------------ */

/* The k-th trade row (0-based, in offset order) of instrument name on day (1-based). */
static struct row *nth_trade(const char *name, int day, int k, int64_t start)
{
    uint32_t id = tp_instr_find(name, strlen(name));
    for (size_t i = 0; i < nrows; i++) {
        struct row *r = &rows[i];
        if (r->table != 0 || r->ev.instr != id || r->ev.kind != TP_KIND_TRADE) continue;
        if (tp_floor_div(r->ev.ts - start, DAY_NS) != day - 1) continue;
        if (k-- == 0) return r;
    }
    die("no such trade for a defect", EINVAL);
    return NULL;
}

static void apply_defects(int64_t start, int days)
{
    if (defect[D_BAR]) {
        uint32_t id = tp_instr_find("sim:BTC-USD", 11);
        for (size_t i = 0; i < nrows; i++) {
            struct tp_bar *b = &rows[i].bar;
            if (rows[i].table == 1 && b->instr == id && b->interval_ns == 60 * TP_NS_PER_SEC &&
                b->ts >= start + DAY_NS + HOUR_NS) {
                b->high = fmin(b->open, b->low) - 1;
                break;
            }
        }
    }
    if (defect[D_DUP]) {
        struct row *a = nth_trade("sim:ETH-USD", 2, 49, start);
        struct row *b = nth_trade("sim:ETH-USD", 2, 50, start);
        b->ev.trade_id = a->ev.trade_id;
    }
    if (defect[D_NAN]) nth_trade("binance:BTC-USDT", 1, 30, start)->ev.price = NAN;
    if (defect[D_NEG]) {
        struct row *r = nth_trade("sim:ETH-USD", 1, 40, start);
        r->ev.price = -r->ev.price;
    }
    if (defect[D_MISSING_HOUR]) {
        uint32_t id = tp_instr_find("sim:BTC-USD", 11);
        int64_t from = start + DAY_NS + 10 * HOUR_NS;
        for (size_t i = 0; i < nrows; i++)
            if (rows[i].table == 0 && rows[i].ev.instr == id && rows[i].ev.ts >= from &&
                rows[i].ev.ts < from + HOUR_NS)
                rows[i].drop = true;
    }
    if (defect[D_COUNT]) nth_trade("sim:ETH-USD", days, 3, start)->drop = true;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: lake_tool DIR [--days N] [--defect NAME]...\n");
        return 2;
    }
    const char *dir = argv[1];
    int days = 3;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--days") && i + 1 < argc) {
            days = (int)strtol(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--defect") && i + 1 < argc) {
            const char *d = argv[++i];
            int k = 0;
            while (k < D_N && strcmp(defect_names[k], d)) k++;
            if (k == D_N) {
                fprintf(stderr, "lake_tool: unknown defect %s\n", d);
                return 2;
            }
            defect[k] = true;
        } else {
            fprintf(stderr, "lake_tool: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if (days < 1 || days > 30) return 2;
    const int64_t start = tp_days_from_civil(2024, 3, 1) * DAY_NS;
    char jin_dir[1024], jout_dir[1024], lake[1024];
    snprintf(jin_dir, sizeof jin_dir, "%s/journal/input", dir);
    snprintf(jout_dir, sizeof jout_dir, "%s/journal/output", dir);
    snprintf(lake, sizeof lake, "%s/lake", dir);
    struct tp_journal_opts jo;
    tp_journal_opts_default(&jo, jin_dir);
    jo.sync = TP_SYNC_NONE;
    int rc = tp_journal_open(&jo, &jin, NULL);
    if (rc < 0) die(jin_dir, rc);
    jo.dir = jout_dir;
    rc = tp_journal_open(&jo, &jout, NULL);
    if (rc < 0) die(jout_dir, rc);
    tp_buf_init(&rec, 1 << 20);

    struct tp_engine_cfg cfg;
    tp_engine_cfg_default(&cfg);
    struct tp_engine_out out = {
        .bar = on_bar, .anomaly = on_anomaly, .late = on_late, .gap = on_gap};
    struct tp_engine *eng = tp_engine_new(&cfg, &out);
    if (!eng) die("engine", ENOMEM);

    struct pend *feed;
    size_t nfeed;
    make_feed(start, days, &feed, &nfeed);
    uint64_t trades = 0;
    for (size_t i = 0; i < nfeed; i++) {
        if (tp_rec_put_event(&rec, &feed[i].ev) < 0) die("put event", ENOMEM);
        uint64_t off = append(jin);
        new_row(0, off)->ev = feed[i].ev;
        trades += feed[i].ev.kind == TP_KIND_TRADE;
        tp_engine_process(eng, &feed[i].ev);
    }
    tp_engine_flush_all(eng);
    uint64_t next[2] = {tp_journal_next_offset(jin), tp_journal_next_offset(jout)};
    if ((rc = tp_journal_close(jin)) < 0 || (rc = tp_journal_close(jout)) < 0)
        die("journal close", rc);
    tp_engine_free(eng);
    free(feed);

    apply_defects(start, days);
    for (int t = 0; t < 5; t++) {
        uint64_t end = next[t == 0 ? 0 : 1];
        for (uint64_t f = 0; f < end; f += BATCH)
            write_batch(lake, t, f, TP_MIN(f + BATCH, end) - 1);
    }
    char ack[1100];
    snprintf(ack, sizeof ack, "%s/_tickpipe", lake);
    mkdirs(ack);
    snprintf(ack, sizeof ack, "%s/_tickpipe/ack", lake);
    FILE *f = fopen(ack, "w");
    if (!f) die(ack, errno);
    fprintf(f, "tickpipe lake ack 1\ninput %llu\noutput %llu\n", (unsigned long long)next[0],
            (unsigned long long)next[1]);
    fclose(f);

    uint64_t count[5] = {0};
    for (size_t i = 0; i < nrows; i++)
        count[rows[i].table] +=
            !rows[i].drop && !(rows[i].table == 0 && rows[i].ev.kind == TP_KIND_STATUS);
    printf("{\"ticks\": %llu, \"bars\": %llu, \"anomalies\": %llu, \"late\": %llu, "
           "\"gaps\": %llu, \"trades\": %llu, \"input\": %llu, \"output\": %llu}\n",
           (unsigned long long)count[0], (unsigned long long)count[1], (unsigned long long)count[2],
           (unsigned long long)count[3], (unsigned long long)count[4], (unsigned long long)trades,
           (unsigned long long)next[0], (unsigned long long)next[1]);
    free(rows);
    tp_buf_fini(&rec);
    return 0;
}
