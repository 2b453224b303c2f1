/*
 * lake_read.c — ticks read back from Parquet as events (replay --input-format parquet), and
 * the listing of a lake's files (lake.h).
 *
 * A file is read row group by row group: the columns the tick table has, found by name, are
 * read whole (tp_pq_reader_read) and turned into events in file order. tickpipe's own files
 * give back what was journaled, except what the table does not keep: the event-time flag
 * (rows are taken as venue time, as a CSV row is), quote-only and snapshot-batch flags, and
 * sub-microsecond ts_recv. Files of other writers need `instrument` and a time (`ts_ns`
 * INT64, or `ts` as a timestamp or INT64 nanoseconds); every other column is optional, a
 * missing `kind` meaning trade. Numeric columns may be DOUBLE, INT32 or INT64; trade_id
 * STRING (a canonical unsigned number becomes a numeric id, as in CSV) or an integer.
 */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <sys/stat.h>

#include "core/instrument.h"
#include "sink/lake.h"

enum {
    F_TS_NS,
    F_TS,
    F_TS_RECV,
    F_INSTR,
    F_VSYM,
    F_KIND,
    F_PRICE,
    F_SIZE,
    F_SIDE,
    F_ID,
    F_BID,
    F_ASK,
    F_BID_SIZE,
    F_ASK_SIZE,
    F_OPEN,
    F_HIGH,
    F_LOW,
    F_CHANGE,
    F_VALUE,
    NF
};

static const char *const fnames[NF] = {"ts_ns", "ts",    "ts_recv",  "instrument", "venue_symbol",
                                       "kind",  "price", "size",     "side",       "trade_id",
                                       "bid",   "ask",   "bid_size", "ask_size",   "open",
                                       "high",  "low",   "change",   "value"};

struct tp_lake_ticks {
    struct tp_pq_reader *r;
    char path[PATH_MAX];
    int col[NF]; /* column index, or -1 */
    struct tp_pq_data d[NF];
    size_t rg, nrg;
    size_t row, nrows; /* in the current row group */
    uint64_t done;     /* rows returned */
    /* the last instrument name seen, and its id */
    char last_name[TP_INSTR_NAMELEN + 1];
    size_t last_len;
    uint32_t last_id;
};

static bool is_time(enum tp_pq_kind k)
{
    return k == TP_PQ_TS_MILLIS || k == TP_PQ_TS_MICROS || k == TP_PQ_TS_NANOS || k == TP_PQ_INT64;
}

static bool is_num(enum tp_pq_kind k)
{
    return k == TP_PQ_DOUBLE || k == TP_PQ_INT32 || k == TP_PQ_INT64;
}

/* Whether a column of kind k can serve field f. */
static bool fits(int f, enum tp_pq_kind k)
{
    switch (f) {
    case F_TS_NS:
        return k == TP_PQ_INT64;
    case F_TS:
    case F_TS_RECV:
        return is_time(k);
    case F_INSTR:
    case F_VSYM:
    case F_KIND:
    case F_SIDE:
        return k == TP_PQ_STRING || k == TP_PQ_BYTES;
    case F_ID:
        return k == TP_PQ_STRING || k == TP_PQ_BYTES || k == TP_PQ_INT64 || k == TP_PQ_INT32;
    default:
        return is_num(k);
    }
}

int tp_lake_ticks_open(const char *path, struct tp_lake_ticks **ret, char *err, size_t errcap)
{
    struct tp_lake_ticks *t = calloc(1, sizeof *t);
    if (!t) return -ENOMEM;
    snprintf(t->path, sizeof t->path, "%s", path);
    struct tp_pq_error pe;
    int rc = tp_pq_reader_open_path(&t->r, path, NULL, &pe);
    if (rc < 0) {
        snprintf(err, errcap, "%s", pe.msg);
        free(t);
        return rc;
    }
    for (int f = 0; f < NF; f++) {
        t->col[f] = tp_pq_reader_find(t->r, fnames[f]);
        if (t->col[f] < 0) continue;
        const struct tp_pq_column *c = tp_pq_reader_column(t->r, (size_t)t->col[f]);
        if (!fits(f, c->kind)) {
            snprintf(err, errcap, "column '%s' has a type tickpipe does not read as a tick field",
                     fnames[f]);
            tp_lake_ticks_free(t);
            return -EINVAL;
        }
    }
    if (t->col[F_INSTR] < 0 || (t->col[F_TS_NS] < 0 && t->col[F_TS] < 0)) {
        snprintf(err, errcap,
                 "not a table of ticks: it needs an 'instrument' column and a "
                 "'ts_ns' (INT64) or 'ts' (timestamp) column");
        tp_lake_ticks_free(t);
        return -EINVAL;
    }
    t->nrg = tp_pq_reader_row_groups(t->r);
    *ret = t;
    return 0;
}

uint64_t tp_lake_ticks_rows(const struct tp_lake_ticks *t)
{
    return tp_pq_reader_rows(t->r);
}

static void drop_group(struct tp_lake_ticks *t)
{
    for (int f = 0; f < NF; f++) tp_pq_data_fini(&t->d[f]);
}

void tp_lake_ticks_free(struct tp_lake_ticks *t)
{
    if (!t) return;
    drop_group(t);
    tp_pq_reader_close(t->r);
    free(t);
}

static int load_group(struct tp_lake_ticks *t, char *err, size_t errcap)
{
    drop_group(t);
    for (int f = 0; f < NF; f++) {
        if (t->col[f] < 0) continue;
        int rc = tp_pq_reader_read(t->r, t->rg, (size_t)t->col[f], &t->d[f]);
        if (rc < 0) {
            snprintf(err, errcap, "%s", tp_pq_reader_error(t->r)->msg);
            return rc;
        }
    }
    t->nrows = (size_t)tp_pq_reader_rg_rows(t->r, t->rg);
    t->row = 0;
    return 0;
}

static bool present(const struct tp_lake_ticks *t, int f, size_t i)
{
    return t->col[f] >= 0 && !t->d[f].is_null[i];
}

static int64_t get_i64(const struct tp_lake_ticks *t, int f, size_t i)
{
    const struct tp_pq_data *d = &t->d[f];
    return d->kind == TP_PQ_INT32 ? ((const int32_t *)d->values)[i]
                                  : ((const int64_t *)d->values)[i];
}

/* A time column in ns (INT64 is taken as ns). */
static int64_t get_time(const struct tp_lake_ticks *t, int f, size_t i, bool *ok)
{
    int64_t v = get_i64(t, f, i), m = 1;
    switch (t->d[f].kind) {
    case TP_PQ_TS_MILLIS:
        m = TP_NS_PER_MS;
        break;
    case TP_PQ_TS_MICROS:
        m = TP_NS_PER_US;
        break;
    default:
        break;
    }
    int64_t r;
    *ok = !__builtin_mul_overflow(v, m, &r);
    return r;
}

static double get_num(const struct tp_lake_ticks *t, int f, size_t i)
{
    if (!present(t, f, i)) return NAN;
    const struct tp_pq_data *d = &t->d[f];
    if (d->kind == TP_PQ_DOUBLE) return ((const double *)d->values)[i];
    return (double)get_i64(t, f, i);
}

static struct tp_pq_bytes get_str(const struct tp_lake_ticks *t, int f, size_t i)
{
    if (!present(t, f, i)) return (struct tp_pq_bytes){"", 0};
    return ((const struct tp_pq_bytes *)t->d[f].values)[i];
}

static bool canonical_u64(const char *p, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20 || (p[0] == '0' && n > 1)) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9 || __builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
            return false;
    }
    *out = v;
    return true;
}

/* The row as an event; -EBADMSG with a message when a field is unusable. */
static int build(struct tp_lake_ticks *t, size_t i, struct tp_event *ev, char *err, size_t errcap)
{
    uint64_t rowno = t->done + 1;
    enum tp_kind kind = TP_KIND_TRADE;
    if (present(t, F_KIND, i)) {
        struct tp_pq_bytes k = get_str(t, F_KIND, i);
        char kb[16];
        if (k.n >= sizeof kb) goto bad_kind;
        memcpy(kb, k.p, k.n);
        kb[k.n] = 0;
        if (tp_kind_parse(kb, &kind) < 0 || kind == TP_KIND_STATUS) goto bad_kind;
    }
    tp_event_init(ev, kind);
    ev->flags = TP_EV_TS_VENUE;
    bool ok = true;
    if (present(t, F_TS_NS, i))
        ev->ts = get_i64(t, F_TS_NS, i);
    else if (present(t, F_TS, i))
        ev->ts = get_time(t, F_TS, i, &ok);
    else {
        snprintf(err, errcap, "row %llu: no time (ts_ns and ts are null)",
                 (unsigned long long)rowno);
        return -EBADMSG;
    }
    ev->ts_recv = present(t, F_TS_RECV, i) ? get_time(t, F_TS_RECV, i, &ok) : ev->ts;
    if (!ok) {
        snprintf(err, errcap, "row %llu: a time out of range", (unsigned long long)rowno);
        return -EBADMSG;
    }
    struct tp_pq_bytes in = get_str(t, F_INSTR, i);
    if (in.n == t->last_len && t->last_id && !memcmp(in.p, t->last_name, in.n)) {
        ev->instr = t->last_id;
    } else {
        uint32_t id;
        if (in.n > TP_INSTR_NAMELEN || tp_instr_intern(in.p, in.n, &id) < 0) {
            snprintf(err, errcap, "row %llu: instrument '%.*s' is not venue:SYMBOL",
                     (unsigned long long)rowno, (int)TP_MIN(in.n, 80u), in.p);
            return -EBADMSG;
        }
        memcpy(t->last_name, in.p, in.n);
        t->last_len = in.n;
        t->last_id = ev->instr = id;
    }
    struct tp_pq_bytes vs = get_str(t, F_VSYM, i);
    if (vs.n) tp_event_set_vsym(ev, vs.p, vs.n);
    ev->price = get_num(t, F_PRICE, i);
    ev->size = get_num(t, F_SIZE, i);
    double *extra[] = {&ev->bid,  &ev->ask, &ev->bid_size, &ev->ask_size, &ev->open,
                       &ev->high, &ev->low, &ev->change,   &ev->value};
    for (int f = F_BID; f <= F_VALUE; f++) *extra[f - F_BID] = get_num(t, f, i);
    struct tp_pq_bytes sd = get_str(t, F_SIDE, i);
    enum tp_side side = TP_SIDE_UNKNOWN;
    if (sd.n && tp_side_parse(sd.p, sd.n, &side) < 0) {
        snprintf(err, errcap, "row %llu: side '%.*s' is not buy or sell", (unsigned long long)rowno,
                 (int)TP_MIN(sd.n, 40u), sd.p);
        return -EBADMSG;
    }
    ev->side = (uint8_t)side;
    if (present(t, F_ID, i)) {
        const struct tp_pq_data *d = &t->d[F_ID];
        if (d->kind == TP_PQ_INT32 || d->kind == TP_PQ_INT64) {
            tp_event_set_id(ev, (uint64_t)get_i64(t, F_ID, i));
        } else {
            struct tp_pq_bytes id = get_str(t, F_ID, i);
            uint64_t v;
            if (canonical_u64(id.p, id.n, &v))
                tp_event_set_id(ev, v);
            else if (id.n && tp_event_set_id_str(ev, id.p, id.n) < 0) {
                snprintf(err, errcap, "row %llu: trade_id longer than %d bytes",
                         (unsigned long long)rowno, TP_TRADE_ID_MAX);
                return -EBADMSG;
            }
        }
    }
    return 0;
bad_kind:
    snprintf(err, errcap, "row %llu: kind is not trade, quote, snapshot or bar",
             (unsigned long long)rowno);
    return -EBADMSG;
}

int tp_lake_ticks_next(struct tp_lake_ticks *t, struct tp_event *ev, char *err, size_t errcap)
{
    while (t->row >= t->nrows) {
        if (t->rg >= t->nrg) return 0;
        int rc = load_group(t, err, errcap);
        if (rc < 0) return rc;
        t->rg++;
    }
    int rc = build(t, t->row, ev, err, errcap);
    if (rc < 0) return rc;
    t->row++;
    t->done++;
    return 1;
}

/* ---- listing ---- */

struct list {
    char **p;
    size_t n, cap;
};

static int list_add(struct list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 64;
        if (nc > ((size_t)1 << 24)) return -E2BIG;
        char **p = realloc(l->p, nc * sizeof *p);
        if (!p) return -ENOMEM;
        l->p = p;
        l->cap = nc;
    }
    size_t k = strlen(path) + 1;
    if (!(l->p[l->n] = malloc(k))) return -ENOMEM;
    memcpy(l->p[l->n++], path, k);
    return 0;
}

static bool parquet_name(const char *name)
{
    size_t n = strlen(name);
    return n > 8 && !strcmp(name + n - 8, ".parquet");
}

static int walk(const char *dir, struct list *l, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.' || e->d_name[0] == '_') continue;
        char sub[PATH_MAX];
        int n = snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof sub) {
            rc = -ENAMETOOLONG;
            break;
        }
        struct stat st;
        if (stat(sub, &st) < 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 16) rc = walk(sub, l, depth + 1);
        } else if (S_ISREG(st.st_mode) && parquet_name(e->d_name)) {
            rc = list_add(l, sub);
        }
    }
    closedir(d);
    return rc;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tp_lake_list_files(const char *path, char ***ret_paths, size_t *ret_n)
{
    struct stat st;
    if (stat(path, &st) < 0) return -errno;
    struct list l = {0};
    int rc;
    if (!S_ISDIR(st.st_mode)) {
        rc = list_add(&l, path);
    } else {
        char ticks[PATH_MAX];
        int n = snprintf(ticks, sizeof ticks, "%s/ticks", path);
        struct stat ts;
        bool lake =
            n > 0 && (size_t)n < sizeof ticks && stat(ticks, &ts) == 0 && S_ISDIR(ts.st_mode);
        rc = walk(lake ? ticks : path, &l, 0);
    }
    if (rc < 0) {
        for (size_t i = 0; i < l.n; i++) free(l.p[i]);
        free(l.p);
        return rc;
    }
    qsort(l.p, l.n, sizeof *l.p, cmp_path);
    *ret_paths = l.p;
    *ret_n = l.n;
    return 0;
}
