/*
 * etl.c — spec parsing and in-memory interval summaries (see etl.h).
 *
 * The aggregator keeps its rows in one array and finds them through an open-addressing index
 * (linear probing, load ≤ 1/2) of row numbers keyed by (instrument, spec, window start); both
 * double as needed up to max_rows, so memory is bounded by the cap the caller chose.
 */
#include <math.h>

#include "core/instrument.h"
#include "core/num.h"
#include "core/tptime.h"
#include "etl/etl.h"

static const char *const field_names[TP_ETL_NFIELDS] = {
    "price", "size", "bid", "ask", "bid_size", "ask_size", "open", "high", "low", "change", "value",
};

const char *tp_etl_field_name(enum tp_etl_field f)
{
    return (unsigned)f < TP_ETL_NFIELDS ? field_names[f] : "";
}

double tp_etl_field_value(const struct tp_event *e, enum tp_etl_field f)
{
    switch (f) {
    case TP_ETL_PRICE:
        return e->price;
    case TP_ETL_SIZE:
        return e->size;
    case TP_ETL_BID:
        return e->bid;
    case TP_ETL_ASK:
        return e->ask;
    case TP_ETL_BID_SIZE:
        return e->bid_size;
    case TP_ETL_ASK_SIZE:
        return e->ask_size;
    case TP_ETL_OPEN:
        return e->open;
    case TP_ETL_HIGH:
        return e->high;
    case TP_ETL_LOW:
        return e->low;
    case TP_ETL_CHANGE:
        return e->change;
    case TP_ETL_VALUE:
        return e->value;
    default:
        return NAN;
    }
}

int tp_etl_spec_parse(const char *s, struct tp_etl_spec *ret, char *err, size_t errlen)
{
    const char *colon = strchr(s, ':');
    char iv[32];
    size_t il = colon ? (size_t)(colon - s) : 0;
    if (!colon || il == 0 || il >= sizeof iv) {
        snprintf(err, errlen, "is not INTERVAL:FIELD (e.g. 10m:price)");
        return -EINVAL;
    }
    memcpy(iv, s, il);
    iv[il] = 0;
    struct tp_etl_spec sp;
    memset(&sp, 0, sizeof sp);
    if (tp_duration_parse(iv, &sp.interval_ns) < 0 || sp.interval_ns <= 0 ||
        sp.interval_ns % TP_NS_PER_US) {
        snprintf(err, errlen,
                 "has no valid interval (a positive duration of whole microseconds, e.g. 10m)");
        return -EINVAL;
    }
    const char *f = colon + 1;
    int k = 0;
    while (k < TP_ETL_NFIELDS && strcmp(f, field_names[k])) k++;
    if (k == TP_ETL_NFIELDS) {
        snprintf(err, errlen,
                 "names no known field (price, size, bid, ask, bid_size, ask_size, open, high, "
                 "low, change, value)");
        return -EINVAL;
    }
    sp.field = (enum tp_etl_field)k;
    tp_duration_format(sp.interval_ns, sp.interval, sizeof sp.interval);
    snprintf(sp.name, sizeof sp.name, "%s:%s", sp.interval, field_names[k]);
    *ret = sp;
    return 0;
}

/* ---- aggregation ---- */

struct tp_etl_agg {
    struct tp_etl_row *rows;
    size_t n, cap, max;
    uint32_t *index; /* row number + 1; 0 = empty */
    size_t icap;     /* a power of two, >= 2 * cap */
    bool sorted;
};

struct tp_etl_agg *tp_etl_agg_new(size_t max_rows)
{
    struct tp_etl_agg *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->max = TP_MIN(max_rows, (size_t)UINT32_MAX - 1);
    return a;
}

void tp_etl_agg_free(struct tp_etl_agg *a)
{
    if (!a) return;
    free(a->rows);
    free(a->index);
    free(a);
}

static size_t slot(const struct tp_etl_agg *a, uint32_t instr, uint32_t spec, int64_t ts)
{
    uint64_t h = (uint64_t)ts * 0x9e3779b97f4a7c15u;
    h ^= ((uint64_t)instr << 32 | spec) * 0xc2b2ae3d27d4eb4fu;
    h ^= h >> 29;
    return (size_t)h & (a->icap - 1);
}

static int grow(struct tp_etl_agg *a)
{
    if (a->n == a->max) return -E2BIG;
    size_t cap = a->cap ? TP_MIN(a->cap * 2, a->max) : TP_MIN((size_t)1024, a->max);
    struct tp_etl_row *rows = realloc(a->rows, cap * sizeof *rows);
    if (!rows) return -ENOMEM;
    a->rows = rows;
    a->cap = cap;
    size_t icap = 1;
    while (icap < 2 * cap) icap <<= 1;
    if (icap == a->icap) return 0;
    uint32_t *index = calloc(icap, sizeof *index);
    if (!index) return -ENOMEM;
    free(a->index);
    a->index = index;
    a->icap = icap;
    for (size_t i = 0; i < a->n; i++) {
        const struct tp_etl_row *r = &a->rows[i];
        size_t s = slot(a, r->instr, r->spec, r->ts);
        while (a->index[s]) s = (s + 1) & (icap - 1);
        a->index[s] = (uint32_t)(i + 1);
    }
    return 0;
}

int tp_etl_agg_add(struct tp_etl_agg *a, uint32_t idx, const struct tp_etl_spec *spec,
                   const struct tp_event *e, uint64_t off)
{
    if (e->kind == TP_KIND_STATUS) return 0;
    double v = tp_etl_field_value(e, spec->field);
    if (isnan(v)) return 0;
    return tp_etl_agg_put(a, idx, spec->interval_ns, e->instr, e->ts, v, off);
}

int tp_etl_agg_put(struct tp_etl_agg *a, uint32_t idx, int64_t interval_ns, uint32_t instr,
                   int64_t t, double v, uint64_t off)
{
    int64_t ts = tp_window_start(t, interval_ns);
    size_t s = a->icap ? slot(a, instr, idx, ts) : 0;
    for (; a->icap && a->index[s]; s = (s + 1) & (a->icap - 1)) {
        struct tp_etl_row *r = &a->rows[a->index[s] - 1];
        if (r->instr != instr || r->spec != idx || r->ts != ts) continue;
        r->sum += v;
        if (v < r->min) r->min = v;
        if (v > r->max) r->max = v;
        if (t < r->first_ts || (t == r->first_ts && off < r->first_ord))
            r->first = v, r->first_ts = t, r->first_ord = off;
        if (t > r->last_ts || (t == r->last_ts && off > r->last_ord))
            r->last = v, r->last_ts = t, r->last_ord = off;
        r->count++;
        return 0;
    }
    if (a->n == a->cap) { /* a new window: room for it, and its slot in the new index */
        int rc = grow(a);
        if (rc < 0) return rc;
        s = slot(a, instr, idx, ts);
        while (a->index[s]) s = (s + 1) & (a->icap - 1);
    }
    struct tp_etl_row *r = &a->rows[a->n];
    *r = (struct tp_etl_row){.instr = instr,
                             .spec = idx,
                             .ts = ts,
                             .sum = v,
                             .min = v,
                             .max = v,
                             .first = v,
                             .last = v,
                             .first_ts = t,
                             .last_ts = t,
                             .first_ord = off,
                             .last_ord = off,
                             .count = 1};
    a->index[s] = (uint32_t)++a->n;
    a->sorted = false;
    return 0;
}

static int cmp_rows(const void *x, const void *y)
{
    const struct tp_etl_row *a = x, *b = y;
    if (a->instr != b->instr) {
        int c = strcmp(tp_instr_name(a->instr), tp_instr_name(b->instr));
        if (c) return c;
    }
    if (a->spec != b->spec) return a->spec < b->spec ? -1 : 1;
    return (a->ts > b->ts) - (a->ts < b->ts);
}

size_t tp_etl_agg_rows(struct tp_etl_agg *a, const struct tp_etl_row **ret)
{
    if (!a->sorted && a->n) {
        qsort(a->rows, a->n, sizeof a->rows[0], cmp_rows);
        /* the index points at old positions: rebuild it */
        memset(a->index, 0, a->icap * sizeof a->index[0]);
        for (size_t i = 0; i < a->n; i++) {
            const struct tp_etl_row *r = &a->rows[i];
            size_t s = slot(a, r->instr, r->spec, r->ts);
            while (a->index[s]) s = (s + 1) & (a->icap - 1);
            a->index[s] = (uint32_t)(i + 1);
        }
    }
    a->sorted = true;
    *ret = a->rows;
    return a->n;
}

/* ---- CSV ---- */

const char *tp_etl_csv_header(void)
{
    return "instrument,field,interval,ts,avg,min,max,first,last,count\n";
}

int tp_etl_csv_row(struct tp_buf *b, const struct tp_etl_row *r, const struct tp_etl_spec *spec)
{
    char t[TP_TIME_STRLEN];
    tp_time_format(r->ts, t);
    int rc = tp_buf_printf(b, "%s,%s,%s,%s", tp_instr_name(r->instr),
                           tp_etl_field_name(spec->field), spec->interval, t);
    const double v[] = {r->sum / (double)r->count, r->min, r->max, r->first, r->last};
    for (size_t i = 0; i < TP_ARRAY_LEN(v) && !rc; i++) {
        char num[TP_NUM_STRLEN] = "";
        if (isfinite(v[i])) tp_num_format(v[i], num);
        rc = tp_buf_printf(b, ",%s", num);
    }
    return rc ? rc : tp_buf_printf(b, ",%llu\n", (unsigned long long)r->count);
}
