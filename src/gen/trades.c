/*
 * trades.c — the benchmark trades dataset (see gen.h for what is promised).
 *
 * Design. One event-time clock advances by exponential gaps (a Poisson stream of `rate`
 * trades a second over all instruments). Each new trade picks its instrument from a Zipf
 * distribution (binary search in the cumulative weights), moves that instrument's price by a
 * normal step of about 1 bp in whole ticks (0.01, floored at one tick), draws a size in
 * thousandths (exponential, mean 1) and a side, and takes the instrument's next trade id
 * (1, 2, 3, ... in creation order). Then it is either written at once, or held back — as a
 * venue that delivers a message late would — in a min-heap keyed by its release time:
 * `out_of_order` of the trades for up to 0.95 × lateness, `late` of them for 2 to 60 ×
 * lateness. A held-back trade is written just before the first new trade whose time is past
 * its release, so it arrives after newer trades of its instrument with a lower trade id.
 * Independently, `duplicates` of the rows re-emit, byte for byte, one of the last DUP_RING
 * rows written. Ids re-emitted this way are at most a few thousand below their instrument's
 * high-water mark at the default rate, well inside any dedup window.
 *
 * Invariants: every (instrument, trade_id) is created once and written once, plus once per
 * re-emission, so a row is a duplicate exactly when it is a re-emission; the loop keeps
 * written + held-back ≤ rows and drains the heap at the end, so exactly `rows` rows are
 * written. The counts in tp_gen_trades_stats are computed on the written rows (after
 * truncation to the timestamp unit), in file order, with the rules of DESIGN.md §3, not
 * from the targets.
 *
 * Parquet (format TP_GEN_PARQUET): the same rows with the lake's time columns (DESIGN.md
 * §5): ts TIMESTAMP(MICROS, UTC) and ts_ns INT64 (the exact written time in ns, whatever the
 * unit), then instrument STRING, price and size DOUBLE (ticks/100.0 and thousandths/1000.0:
 * the doubles a reader of the CSV text gets), side STRING, trade_id INT64.
 */
#include <math.h>

#include "core/num.h"
#include "core/rng.h"
#include "gen/gen.h"
#include "gen/pqout.h"
#include "gen/wbuf.h"

#define TRADES_HEADER "ts,instrument,price,size,side,trade_id\n"
#define DUP_RING      1024u
#define HELD_MAX      65536u
#define PRICE_MIN     100.0    /* ticks: 1.00 */
#define PRICE_SPAN    5000.0   /* start prices log-uniform in [1.00, 5000.00) */
#define STEP_REL      1e-4     /* price step σ relative to the price */
#define SIZE_MEAN     1000.0   /* thousandths */
#define SIZE_MAX_K    10000000 /* 10,000 units */

const int64_t tp_gen_interval_ns[TP_GEN_INTERVALS] = {
    TP_NS_PER_SEC,       60 * TP_NS_PER_SEC,   300 * TP_NS_PER_SEC,
    900 * TP_NS_PER_SEC, 3600 * TP_NS_PER_SEC, 86400 * TP_NS_PER_SEC,
};
const char *const tp_gen_interval_name[TP_GEN_INTERVALS] = {"1s", "1m", "5m", "15m", "1h", "1d"};

struct row {
    int64_t ts;    /* ns, truncated to the unit */
    int64_t price; /* ticks of 0.01 */
    uint64_t id;   /* trade id */
    uint32_t size; /* thousandths */
    uint32_t inst; /* index into instruments */
    bool buy;
};

struct held {
    int64_t release; /* ns of event time after which it is written */
    struct row r;
};

struct inst {
    int64_t price; /* ticks */
    uint64_t next_id;
    int64_t max_ts; /* max ts of its non-duplicate rows written so far; INT64_MIN: none */
    uint8_t nlen;
    char name[27];
};

struct gen {
    const struct tp_gen_trades_opts *o;
    struct tp_gen_trades_stats st;
    struct tp_wbuf w;
    struct tp_gen_pq pq; /* used instead of w for TP_GEN_PARQUET */
    struct tp_rng rng;
    struct inst *inst;
    double *cdf;
    struct held *heap;
    size_t nheap;
    struct row ring[DUP_RING];
    size_t nring, ring_next;
    int64_t unit_ns;
};

static int64_t unit_ns(enum tp_ts_unit u)
{
    switch (u) {
    case TP_TS_S:
        return TP_NS_PER_SEC;
    case TP_TS_MS:
        return TP_NS_PER_MS;
    case TP_TS_US:
        return TP_NS_PER_US;
    case TP_TS_NS:
        return 1;
    default:
        return 0;
    }
}

static bool heap_less(const struct held *a, const struct held *b)
{
    return a->release < b->release;
}

static void heap_push(struct gen *g, const struct held *h)
{
    size_t i = g->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(h, &g->heap[parent])) break;
        g->heap[i] = g->heap[parent];
        i = parent;
    }
    g->heap[i] = *h;
}

static struct row heap_pop(struct gen *g)
{
    struct row top = g->heap[0].r;
    struct held last = g->heap[--g->nheap];
    size_t i = 0, n = g->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_less(&g->heap[c + 1], &g->heap[c])) c++;
        if (!heap_less(&g->heap[c], &last)) break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (n > 0) g->heap[i] = last;
    return top;
}

/* Classifies a non-duplicate row against its instrument's history (gen.h) and updates it. */
static void classify(struct gen *g, const struct row *r)
{
    struct inst *in = &g->inst[r->inst];
    struct tp_gen_trades_stats *st = &g->st;
    st->trades++;
    if (in->max_ts == INT64_MIN || r->ts >= in->max_ts) {
        st->in_order++;
        in->max_ts = r->ts;
        return;
    }
    int64_t wm = in->max_ts - g->o->lateness_ns;
    if (r->ts >= wm) {
        st->out_of_order++;
        return;
    }
    st->beyond_lateness++;
    for (int k = 0; k < TP_GEN_INTERVALS; k++) {
        int64_t w = tp_gen_interval_ns[k];
        if (wm >= tp_window_start(r->ts, w) + w) st->late[k]++;
    }
}

/* Buffers r as a Parquet row. False after a write error (sticky, ends the run). */
static bool put_pq(struct gen *g, const struct row *r)
{
    const struct inst *in = &g->inst[r->inst];
    struct tp_gen_pq *P = &g->pq;
    size_t i = P->n;
    P->col[0].i64[i] = tp_floor_div(r->ts, TP_NS_PER_US);
    P->col[1].i64[i] = r->ts;
    P->col[2].str[i] = (struct tp_pq_bytes){in->name, in->nlen};
    P->col[3].f64[i] = (double)r->price / 100.0;
    P->col[4].f64[i] = (double)r->size / 1000.0;
    P->col[5].str[i] = r->buy ? (struct tp_pq_bytes){"buy", 3} : (struct tp_pq_bytes){"sell", 4};
    P->col[6].i64[i] = (int64_t)r->id;
    return tp_gen_pq_commit(P) == 0;
}

/* Writes r as a CSV line. False after a write error (sticky, ends the run). */
static bool put_csv(struct gen *g, const struct row *r)
{
    const struct inst *in = &g->inst[r->inst];
    char *p = tp_wbuf_room(&g->w, 128);
    if (!p) return false;
    size_t o = tp_fmt_i64(p, tp_floor_div(r->ts, g->unit_ns));
    p[o++] = ',';
    memcpy(p + o, in->name, in->nlen);
    o += in->nlen;
    p[o++] = ',';
    o += tp_fmt_fixed(p + o, r->price, 2);
    p[o++] = ',';
    o += tp_fmt_fixed(p + o, r->size, 3);
    if (r->buy) {
        memcpy(p + o, ",buy,", 5);
        o += 5;
    } else {
        memcpy(p + o, ",sell,", 6);
        o += 6;
    }
    o += tp_fmt_u64(p + o, r->id);
    p[o++] = '\n';
    tp_wbuf_commit(&g->w, o);
    return true;
}

/* Reports an error through w.err, which every loop of the generator checks. */
static bool failed(const struct gen *g)
{
    return g->w.err || g->pq.err;
}

static void emit(struct gen *g, const struct row *r, bool dup)
{
    if (!(g->o->format == TP_GEN_PARQUET ? put_pq(g, r) : put_csv(g, r))) return;

    struct tp_gen_trades_stats *st = &g->st;
    if (st->rows == 0 || r->ts < st->min_ts) st->min_ts = r->ts;
    if (st->rows == 0 || r->ts > st->max_ts) st->max_ts = r->ts;
    st->rows++;
    if (dup)
        st->duplicates++;
    else
        classify(g, r);
    g->ring[g->ring_next] = *r;
    g->ring_next = (g->ring_next + 1) % DUP_RING;
    if (g->nring < DUP_RING) g->nring++;
    if (g->o->progress && st->rows % TP_GEN_PROGRESS_EVERY == 0)
        g->o->progress(st->rows, g->o->rows, g->o->progress_arg);
}

static uint32_t pick_instrument(struct gen *g)
{
    uint32_t n = g->o->symbols;
    double u = tp_rng_uniform(&g->rng) * g->cdf[n - 1];
    uint32_t lo = 0, hi = n - 1; /* first k with cdf[k] > u */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (g->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int setup(struct gen *g)
{
    const struct tp_gen_trades_opts *o = g->o;
    g->inst = calloc(o->symbols, sizeof *g->inst);
    g->cdf = calloc(o->symbols, sizeof *g->cdf);
    g->heap = calloc(HELD_MAX, sizeof *g->heap);
    if (!g->inst || !g->cdf || !g->heap) return -ENOMEM;
    int width = 4;
    for (uint32_t n = o->symbols; n >= 10000; n /= 10) width++;
    double total = 0;
    for (uint32_t k = 0; k < o->symbols; k++) {
        struct inst *in = &g->inst[k];
        int n = snprintf(in->name, sizeof in->name, "gen:S%0*u-USD", width, k + 1);
        in->nlen = (uint8_t)n;
        in->price = llround(PRICE_MIN * exp(tp_rng_uniform(&g->rng) * log(PRICE_SPAN)));
        in->next_id = 1;
        in->max_ts = INT64_MIN;
        total += pow((double)(k + 1), -o->zipf);
        g->cdf[k] = total;
    }
    return 0;
}

static bool opts_valid(const struct tp_gen_trades_opts *o)
{
    return o->symbols >= 1 && o->symbols <= TP_GEN_MAX_SYMBOLS && isfinite(o->rate) &&
           o->rate > 0 && o->rate <= 1e9 && isfinite(o->zipf) && o->zipf >= 0 && o->zipf <= 10 &&
           o->out_of_order >= 0 && o->late >= 0 && o->out_of_order + o->late <= 1 &&
           o->duplicates >= 0 && o->duplicates < 1 && o->lateness_ns > 0 &&
           o->lateness_ns <= 3600 * TP_NS_PER_SEC && unit_ns(o->unit) &&
           o->start_ns > INT64_MIN / 4 && o->start_ns < INT64_MAX / 4 &&
           (o->format == TP_GEN_CSV || o->format == TP_GEN_PARQUET);
}

int tp_gen_trades(int fd, const struct tp_gen_trades_opts *o, struct tp_gen_trades_stats *ret)
{
    if (!opts_valid(o)) return -EINVAL;
    struct gen *g = calloc(1, sizeof *g);
    if (!g) return -ENOMEM;
    g->o = o;
    g->unit_ns = unit_ns(o->unit);
    tp_rng_seed(&g->rng, o->seed);
    g->w.fd = fd;
    int rc = setup(g);
    if (rc < 0) goto out_free;
    if (o->format == TP_GEN_PARQUET) {
        const struct tp_pq_column cols[] = {
            {.name = "ts", .kind = TP_PQ_TS_MICROS},      {.name = "ts_ns", .kind = TP_PQ_INT64},
            {.name = "instrument", .kind = TP_PQ_STRING}, {.name = "price", .kind = TP_PQ_DOUBLE},
            {.name = "size", .kind = TP_PQ_DOUBLE},       {.name = "side", .kind = TP_PQ_STRING},
            {.name = "trade_id", .kind = TP_PQ_INT64},
        };
        char seedtxt[24];
        snprintf(seedtxt, sizeof seedtxt, "%llu", (unsigned long long)o->seed);
        const struct tp_pq_kv kv[] = {{"tickpipe.dataset", "trades"}, {"tickpipe.seed", seedtxt}};
        rc = tp_gen_pq_open(&g->pq, fd, cols, TP_ARRAY_LEN(cols), kv, 2);
        if (rc < 0) goto out_free;
    } else {
        rc = tp_wbuf_init(&g->w, fd);
        if (rc < 0) goto out_free;
        tp_wbuf_put(&g->w, TRADES_HEADER, sizeof TRADES_HEADER - 1);
    }
    const double gap_mean = 1e9 / o->rate;
    int64_t clock = o->start_ns;
    bool first = true;
    while (g->st.rows + g->nheap < o->rows && !failed(g)) {
        if (g->nring > 0 && tp_rng_uniform(&g->rng) < o->duplicates) {
            emit(g, &g->ring[tp_rng_below(&g->rng, g->nring)], true);
            continue;
        }
        if (!first) clock += llround(tp_rng_exp(&g->rng, gap_mean));
        first = false;
        while (g->nheap > 0 && g->heap[0].release < clock) {
            struct row r = heap_pop(g);
            emit(g, &r, false);
        }
        struct row r;
        r.inst = pick_instrument(g);
        struct inst *in = &g->inst[r.inst];
        double sigma = fmax(0.5, (double)in->price * STEP_REL);
        /* one draw each, outside TP_MAX/TP_MIN (macros evaluate their arguments twice) */
        int64_t price = in->price + llround(sigma * tp_rng_normal(&g->rng));
        in->price = TP_MAX(1, price);
        r.price = in->price;
        int64_t size = 1 + llround(tp_rng_exp(&g->rng, SIZE_MEAN));
        r.size = (uint32_t)TP_MIN(SIZE_MAX_K, size);
        r.buy = tp_rng_u64(&g->rng) >> 63;
        r.id = in->next_id++;
        r.ts = tp_floor_div(clock, g->unit_ns) * g->unit_ns;

        double u = tp_rng_uniform(&g->rng), delay = -1;
        if (u < o->out_of_order)
            delay = tp_rng_uniform(&g->rng) * 0.95 * (double)o->lateness_ns;
        else if (u < o->out_of_order + o->late)
            delay = (2 + 58 * tp_rng_uniform(&g->rng)) * (double)o->lateness_ns;
        if (delay >= 0 && g->nheap < HELD_MAX) {
            struct held h = {.release = clock + llround(delay), .r = r};
            heap_push(g, &h);
        } else {
            emit(g, &r, false);
        }
    }
    while (g->nheap > 0 && !failed(g)) {
        struct row r = heap_pop(g);
        emit(g, &r, false);
    }
    uint64_t bytes = 0;
    if (o->format == TP_GEN_PARQUET) {
        rc = tp_gen_pq_close(&g->pq, &bytes);
    } else {
        rc = tp_wbuf_flush(&g->w);
        bytes = g->w.flushed;
    }
    if (rc == 0) {
        if (o->progress) o->progress(g->st.rows, o->rows, o->progress_arg);
        g->st.bytes = bytes;
        *ret = g->st;
    }
out_free:
    tp_gen_pq_abort(&g->pq);
    tp_wbuf_fini(&g->w);
    free(g->inst);
    free(g->cdf);
    free(g->heap);
    free(g);
    return rc;
}

static const char *unit_name(enum tp_ts_unit u)
{
    switch (u) {
    case TP_TS_S:
        return "s";
    case TP_TS_MS:
        return "ms";
    case TP_TS_US:
        return "us";
    default:
        return "ns";
    }
}

int tp_gen_trades_sidecar(const struct tp_gen_trades_opts *o, const struct tp_gen_trades_stats *s,
                          const char *file, struct tp_buf *out)
{
    char start[TP_TIME_STRLEN], tmin[TP_TIME_STRLEN], tmax[TP_TIME_STRLEN], lat[32];
    char rate[TP_NUM_STRLEN], zipf[TP_NUM_STRLEN], ooo[TP_NUM_STRLEN], late[TP_NUM_STRLEN],
        dup[TP_NUM_STRLEN];
    tp_num_format(o->rate, rate);
    tp_num_format(o->zipf, zipf);
    tp_num_format(o->out_of_order, ooo);
    tp_num_format(o->late, late);
    tp_num_format(o->duplicates, dup);
    tp_time_format(o->start_ns, start);
    tp_time_format(s->rows ? s->min_ts : o->start_ns, tmin);
    tp_time_format(s->rows ? s->max_ts : o->start_ns, tmax);
    tp_duration_format(o->lateness_ns, lat, sizeof lat);
    int rc = 0;
    rc |= tp_buf_puts(out, "{\n  \"dataset\": \"trades\",\n  \"file\": \"");
    for (const char *c = file; *c; c++) { /* JSON string escaping of the name */
        if (*c == '"' || *c == '\\')
            rc |= tp_buf_printf(out, "\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            rc |= tp_buf_printf(out, "\\u%04x", (unsigned char)*c);
        else
            rc |= tp_buf_putc(out, *c);
    }
    rc |= tp_buf_printf(out,
                        "\",\n  \"format\": \"%s\",\n"
                        "  \"columns\": [\"ts\", %s\"instrument\", \"price\", \"size\", "
                        "\"side\", \"trade_id\"],\n"
                        "  \"ts_unit\": \"%s\",\n  \"seed\": %llu,\n  \"symbols\": %u,\n"
                        "  \"start\": \"%s\",\n  \"rate\": %s,\n  \"zipf\": %s,\n"
                        "  \"lateness\": \"%s\",\n  \"lateness_ns\": %lld,\n"
                        "  \"target_out_of_order\": %s,\n  \"target_late\": %s,\n"
                        "  \"target_duplicates\": %s,\n",
                        o->format == TP_GEN_PARQUET ? "parquet" : "csv",
                        o->format == TP_GEN_PARQUET ? "\"ts_ns\", " : "", unit_name(o->unit),
                        (unsigned long long)o->seed, o->symbols, start, rate, zipf, lat,
                        (long long)o->lateness_ns, ooo, late, dup);
    rc |= tp_buf_printf(out,
                        "  \"rows\": %llu,\n  \"trades\": %llu,\n  \"in_order\": %llu,\n"
                        "  \"out_of_order\": %llu,\n  \"beyond_lateness\": %llu,\n"
                        "  \"duplicates\": %llu,\n  \"late\": {",
                        (unsigned long long)s->rows, (unsigned long long)s->trades,
                        (unsigned long long)s->in_order, (unsigned long long)s->out_of_order,
                        (unsigned long long)s->beyond_lateness, (unsigned long long)s->duplicates);
    for (int k = 0; k < TP_GEN_INTERVALS; k++)
        rc |= tp_buf_printf(out, "%s\"%s\": %llu", k ? ", " : "", tp_gen_interval_name[k],
                            (unsigned long long)s->late[k]);
    rc |=
        tp_buf_printf(out,
                      "},\n  \"min_ts\": \"%s\",\n  \"max_ts\": \"%s\",\n"
                      "  \"min_ts_ns\": \"%lld\",\n  \"max_ts_ns\": \"%lld\",\n"
                      "  \"bytes\": %llu\n}\n",
                      tmin, tmax, (long long)(s->rows ? s->min_ts : o->start_ns),
                      (long long)(s->rows ? s->max_ts : o->start_ns), (unsigned long long)s->bytes);
    return rc ? -ENOMEM : 0;
}
