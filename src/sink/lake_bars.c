/*
 * lake_bars.c — final bars of one instrument and interval read back from the lake, for the
 * history of GET /api/bars (lake.h: tp_lake_bars_read).
 *
 * Layout used (docs/lake.md): LAKE/bars/interval=<I>/date=<D>/part-*.parquet, every file
 * sorted by (instrument, ts) with min/max statistics per row group; `date` is the UTC day of
 * the bar's window start. So a query for the newest `limit` bars of [from, to):
 *
 *   1. lists the date partitions of the interval, drops those whose day does not meet
 *      [from, to), and walks the rest newest first;
 *   2. in each file of a day (in name order = log offset order), skips the row groups whose
 *      `instrument` or `ts` statistics exclude the query, reads the `instrument` and `ts`
 *      columns of the others, and the remaining columns only when a row matches;
 *   3. sorts the day's matches by ts, keeps one bar per ts (the last file's: a rewritten batch
 *      has the higher offsets), and stops after the first day that completes `limit` bars
 *      (every older day holds only older bars).
 *
 * Invariants: the work is bounded by max_files, max_rows (rows decoded) and max_bytes (chunk
 * bytes read), and the result by limit; anything beyond a cap is an error (-E2BIG), never a
 * silently shortened answer. A file that vanishes between listing and opening (compaction
 * swapped the day's directory) makes the day be listed again, a few times at most.
 */
#include <dirent.h>
#include <limits.h>
#include <math.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "sink/lake.h"

#define NS_PER_DAY   (86400 * TP_NS_PER_SEC)
#define DEF_BYTES    (256u << 20)
#define DEF_ROWS     (4u << 20)
#define DEF_FILES    4096
#define MAX_DATES    (1u << 20)
#define DAY_RETRIES  3
#define MAX_DAY_BARS (16u << 20) /* a day of 1 ns bars would be absurd: refuse beyond */

/* The bars table's columns, by name (lake_writer.c: fill_bar). */
enum {
    C_INSTR,
    C_TS,
    C_OPEN,
    C_HIGH,
    C_LOW,
    C_CLOSE,
    C_VOLUME,
    C_NOTIONAL,
    C_VWAP,
    C_TRADES,
    C_BUY,
    C_SELL,
    C_FIRST,
    C_LAST,
    C_SMA,
    C_EMA,
    C_BBU,
    C_BBM,
    C_BBL,
    C_RSI,
    C_MACD,
    C_MACDS,
    C_MACDH,
    C_ATR,
    C_VOL20,
    NC
};

static const char *const cnames[NC] = {
    "instrument",  "ts",        "open",     "high",         "low",         "close",    "volume",
    "notional",    "vwap",      "trades",   "buy_volume",   "sell_volume", "first_ts", "last_ts",
    "sma_20",      "ema_20",    "bb_upper", "bb_middle",    "bb_lower",    "rsi_14",   "macd",
    "macd_signal", "macd_hist", "atr_14",   "volatility_20"};

struct vec {
    struct tp_bar *p;
    size_t n, cap;
};

static int vec_push(struct vec *v, const struct tp_bar *b)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? 2 * v->cap : 256;
        if (nc > MAX_DAY_BARS) return -E2BIG;
        struct tp_bar *p = realloc(v->p, nc * sizeof *p);
        if (!p) return -ENOMEM;
        v->p = p;
        v->cap = nc;
    }
    v->p[v->n++] = *b;
    return 0;
}

struct ctx {
    const struct tp_lake_bars_query *q;
    struct tp_lake_bars_stats *st;
    uint64_t max_bytes, max_rows;
    uint32_t max_files;
    uint32_t instr;
    size_t ilen;
    char *err;
    size_t errcap;
};

/* "what: why" into the error message; returns rc. */
static int fail(struct ctx *c, int rc, const char *what, const char *why)
{
    snprintf(c->err, c->errcap, "%s: %s", what, why);
    return rc;
}

static bool is_time(enum tp_pq_kind k)
{
    return k == TP_PQ_TS_MILLIS || k == TP_PQ_TS_MICROS || k == TP_PQ_TS_NANOS || k == TP_PQ_INT64;
}

static int64_t time_mul(enum tp_pq_kind k)
{
    return k == TP_PQ_TS_MILLIS ? TP_NS_PER_MS : k == TP_PQ_TS_MICROS ? TP_NS_PER_US : 1;
}

static int64_t get_i64(const struct tp_pq_data *d, size_t i)
{
    return d->kind == TP_PQ_INT32 ? ((const int32_t *)d->values)[i]
                                  : ((const int64_t *)d->values)[i];
}

static double get_num(const struct tp_pq_data *d, size_t i)
{
    if (!d->values || d->is_null[i]) return NAN;
    if (d->kind == TP_PQ_DOUBLE) return ((const double *)d->values)[i];
    return (double)get_i64(d, i);
}

static int64_t get_time(const struct tp_pq_data *d, size_t i)
{
    if (!d->values || d->is_null[i]) return 0;
    int64_t v = get_i64(d, i), r;
    return __builtin_mul_overflow(v, time_mul(d->kind), &r) ? 0 : r;
}

/* Reads one chunk, counting its bytes against the budget. */
static int read_chunk(struct ctx *c, struct tp_pq_reader *r, const char *path, size_t rg, int col,
                      struct tp_pq_data *d)
{
    c->st->bytes += tp_pq_reader_chunk_bytes(r, rg, (size_t)col);
    if (c->st->bytes > c->max_bytes) {
        snprintf(c->err, c->errcap,
                 "history read over its budget of %llu bytes (at %s); narrow from/to",
                 (unsigned long long)c->max_bytes, path);
        return -E2BIG;
    }
    int rc = tp_pq_reader_read(r, rg, (size_t)col, d);
    if (rc < 0) return fail(c, rc, path, tp_pq_reader_error(r)->msg);
    return 0;
}

/* The matching rows of one file into day. */
static int scan_file(struct ctx *c, const char *path, struct vec *day)
{
    const struct tp_lake_bars_query *q = c->q;
    if (++c->st->files > c->max_files) {
        snprintf(c->err, c->errcap,
                 "history read would open more than %u files (%s); narrow from/to",
                 (unsigned)c->max_files, path);
        return -E2BIG;
    }
    struct tp_pq_reader *r;
    struct tp_pq_error pe;
    int rc = tp_pq_reader_open_path(&r, path, NULL, &pe);
    if (rc < 0) return rc == -ENOENT ? rc : fail(c, rc, path, pe.msg);
    int col[NC];
    for (int f = 0; f < NC; f++) {
        col[f] = tp_pq_reader_find(r, cnames[f]);
        if (col[f] < 0) continue;
        enum tp_pq_kind k = tp_pq_reader_column(r, (size_t)col[f])->kind;
        bool ok = f == C_INSTR ? k == TP_PQ_STRING || k == TP_PQ_BYTES
                  : f == C_TS || f == C_FIRST || f == C_LAST
                      ? is_time(k)
                      : k == TP_PQ_DOUBLE || k == TP_PQ_INT64 || k == TP_PQ_INT32;
        if (!ok) col[f] = -1;
    }
    if (col[C_INSTR] < 0 || col[C_TS] < 0) {
        tp_pq_reader_close(r);
        return fail(c, -EBADMSG, path, "not a bars file (no instrument or ts column)");
    }
    enum tp_pq_kind tsk = tp_pq_reader_column(r, (size_t)col[C_TS])->kind;
    int64_t m = time_mul(tsk);
    /* The query's ts range in the column's unit: [lo, hi] inclusive. */
    int64_t lo = q->from == INT64_MIN ? INT64_MIN : tp_floor_div(q->from, m);
    int64_t hi = q->to == INT64_MAX ? INT64_MAX : tp_floor_div(q->to - 1, m);
    struct tp_pq_bytes name = {q->instrument, (uint32_t)c->ilen};
    struct tp_pq_data d[NC];
    memset(d, 0, sizeof d);
    size_t nrg = tp_pq_reader_row_groups(r);
    rc = 0;
    for (size_t rg = 0; rg < nrg && rc == 0; rg++) {
        c->st->row_groups++;
        if (!tp_pq_reader_may_contain_str(r, rg, (size_t)col[C_INSTR], name, name) ||
            !tp_pq_reader_may_contain_i64(r, rg, (size_t)col[C_TS], lo, hi)) {
            c->st->row_groups_skipped++;
            continue;
        }
        size_t n = (size_t)tp_pq_reader_rg_rows(r, rg);
        c->st->rows += n;
        if (c->st->rows > c->max_rows) {
            snprintf(c->err, c->errcap,
                     "history read over its budget of %llu rows (at %s); narrow from/to",
                     (unsigned long long)c->max_rows, path);
            rc = -E2BIG;
            break;
        }
        if ((rc = read_chunk(c, r, path, rg, col[C_INSTR], &d[C_INSTR])) < 0 ||
            (rc = read_chunk(c, r, path, rg, col[C_TS], &d[C_TS])) < 0)
            break;
        if (d[C_INSTR].n != d[C_TS].n) {
            rc = fail(c, -EBADMSG, path, "columns of unequal length");
            break;
        }
        bool rest = false;
        for (size_t i = 0; i < d[C_INSTR].n && i < n; i++) {
            const struct tp_pq_bytes *s = &((const struct tp_pq_bytes *)d[C_INSTR].values)[i];
            if (d[C_INSTR].is_null[i] || s->n != c->ilen || memcmp(s->p, q->instrument, c->ilen))
                continue;
            if (d[C_TS].is_null[i]) continue;
            int64_t ts = get_time(&d[C_TS], i);
            if (ts < q->from || ts >= q->to) continue;
            if (!rest) { /* the first match: the other columns are needed */
                for (int f = C_OPEN; f < NC && rc == 0; f++)
                    if (col[f] >= 0) rc = read_chunk(c, r, path, rg, col[f], &d[f]);
                if (rc < 0) break;
                for (int f = C_OPEN; f < NC; f++)
                    if (col[f] >= 0 && d[f].n != d[C_TS].n) {
                        rc = fail(c, -EBADMSG, path, "columns of unequal length");
                        break;
                    }
                if (rc < 0) break;
                rest = true;
            }
            struct tp_bar b;
            memset(&b, 0, sizeof b);
            b.instr = c->instr;
            b.interval_ns = q->interval_ns;
            b.ts = ts;
            b.open = get_num(&d[C_OPEN], i);
            b.high = get_num(&d[C_HIGH], i);
            b.low = get_num(&d[C_LOW], i);
            b.close = get_num(&d[C_CLOSE], i);
            b.volume = get_num(&d[C_VOLUME], i);
            b.notional = get_num(&d[C_NOTIONAL], i);
            b.vwap = get_num(&d[C_VWAP], i);
            double tr = get_num(&d[C_TRADES], i);
            b.trades = tr > 0 ? (uint64_t)tr : 0;
            b.buy_volume = get_num(&d[C_BUY], i);
            b.sell_volume = get_num(&d[C_SELL], i);
            b.first_ts = get_time(&d[C_FIRST], i);
            b.last_ts = get_time(&d[C_LAST], i);
            b.final = true;
            struct tp_ind_values *v = &b.ind;
            double *ind[] = {&v->sma,       &v->ema, &v->bb_upper,  &v->bb_middle,
                             &v->bb_lower,  &v->rsi, &v->macd,      &v->macd_signal,
                             &v->macd_hist, &v->atr, &v->volatility};
            for (int f = C_SMA; f <= C_VOL20; f++) *ind[f - C_SMA] = get_num(&d[f], i);
            if ((rc = vec_push(day, &b)) < 0) {
                if (rc == -E2BIG) fail(c, rc, path, "too many bars in one day");
                break;
            }
        }
        for (int f = 0; f < NC; f++) tp_pq_data_fini(&d[f]);
    }
    for (int f = 0; f < NC; f++) tp_pq_data_fini(&d[f]);
    tp_pq_reader_close(r);
    return rc;
}

/* A stable sort by ts: qsort on (ts, position) keys. */
struct key {
    int64_t ts;
    size_t pos;
};

static int cmp_key(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorts day by ts and keeps the last of equal ts (a later file). */
static int sort_dedupe(struct vec *day)
{
    if (day->n < 2) return 0;
    struct key *k = malloc(day->n * sizeof *k);
    struct tp_bar *o = malloc(day->n * sizeof *o);
    if (!k || !o) {
        free(k);
        free(o);
        return -ENOMEM;
    }
    for (size_t i = 0; i < day->n; i++) k[i] = (struct key){day->p[i].ts, i};
    qsort(k, day->n, sizeof *k, cmp_key);
    size_t m = 0;
    for (size_t i = 0; i < day->n; i++) {
        if (i + 1 < day->n && k[i + 1].ts == k[i].ts) continue;
        o[m++] = day->p[k[i].pos];
    }
    free(k);
    free(day->p);
    day->p = o;
    day->n = m;
    day->cap = day->n;
    return 0;
}

struct names {
    char **p;
    size_t n, cap;
};

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->p[i]);
    free(l->p);
    memset(l, 0, sizeof *l);
}

static int names_add(struct names *l, const char *s)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 32;
        if (nc > MAX_DATES) return -E2BIG;
        char **p = realloc(l->p, nc * sizeof *p);
        if (!p) return -ENOMEM;
        l->p = p;
        l->cap = nc;
    }
    size_t k = strlen(s) + 1;
    if (!(l->p[l->n] = malloc(k))) return -ENOMEM;
    memcpy(l->p[l->n++], s, k);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dir whose names pass keep(), sorted. A missing dir is an empty list. */
static int list_dir(const char *dir, bool (*keep)(const char *), struct names *out)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)))
        if (keep(e->d_name)) rc = names_add(out, e->d_name);
    closedir(d);
    if (rc == 0 && out->n) qsort(out->p, out->n, sizeof *out->p, cmp_str);
    return rc;
}

/* "date=YYYY-MM-DD" → its day number. */
static bool parse_date(const char *s, int64_t *day)
{
    if (strncmp(s, "date=", 5) || strlen(s) != 15) return false;
    s += 5;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9')) return false;
    int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned mo = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned dd = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (mo < 1 || mo > 12 || dd < 1 || dd > 31) return false;
    *day = tp_days_from_civil(y, mo, dd);
    return true;
}

static bool keep_date(const char *s)
{
    int64_t d;
    return parse_date(s, &d);
}

static bool keep_part(const char *s)
{
    size_t n = strlen(s);
    return s[0] != '.' && s[0] != '_' && n > 8 && !strcmp(s + n - 8, ".parquet");
}

/* One day's matching bars, sorted and deduplicated, into day (emptied first). */
static int scan_day(struct ctx *c, const char *daydir, struct vec *day)
{
    for (int attempt = 0;; attempt++) {
        day->n = 0;
        struct names files = {0};
        int rc = list_dir(daydir, keep_part, &files);
        for (size_t i = 0; i < files.n && rc == 0; i++) {
            char path[PATH_MAX];
            int k = snprintf(path, sizeof path, "%s/%s", daydir, files.p[i]);
            if (k < 0 || (size_t)k >= sizeof path) {
                rc = fail(c, -ENAMETOOLONG, daydir, "path too long");
                break;
            }
            rc = scan_file(c, path, day);
        }
        names_free(&files);
        if (rc == -ENOENT && attempt < DAY_RETRIES) continue; /* compaction swapped the day */
        if (rc == -ENOENT) fail(c, rc, daydir, "files keep vanishing (compaction?)");
        if (rc < 0) return rc;
        return sort_dedupe(day);
    }
}

int tp_lake_bars_read(const struct tp_lake_bars_query *q, struct tp_bar *out, size_t *ret_n,
                      struct tp_lake_bars_stats *st, char *err, size_t errcap)
{
    struct tp_lake_bars_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (!q->lake || !q->instrument || q->limit < 1 || q->interval_ns <= 0 || q->from > q->to) {
        snprintf(err, errcap, "bad history query");
        return -EINVAL;
    }
    struct ctx c = {
        .q = q,
        .st = st,
        .max_bytes = q->max_bytes ? q->max_bytes : DEF_BYTES,
        .max_rows = q->max_rows ? q->max_rows : DEF_ROWS,
        .max_files = q->max_files ? q->max_files : DEF_FILES,
        .ilen = strlen(q->instrument),
        .err = err,
        .errcap = errcap,
    };
    if (tp_instr_intern(q->instrument, c.ilen, &c.instr) < 0) {
        snprintf(err, errcap, "instrument '%.80s' is not venue:SYMBOL", q->instrument);
        return -EINVAL;
    }
    char iv[32], ev[96], dir[PATH_MAX];
    size_t ivn = tp_duration_format(q->interval_ns, iv, sizeof iv);
    int rc = tp_lake_escape(iv, ivn, ev, sizeof ev);
    if (rc < 0) return fail(&c, rc, iv, "cannot name the interval's partition");
    int k = snprintf(dir, sizeof dir, "%s/bars/interval=%s", q->lake, ev);
    if (k < 0 || (size_t)k >= sizeof dir) return fail(&c, -ENAMETOOLONG, q->lake, "path too long");
    struct names dates = {0};
    rc = list_dir(dir, keep_date, &dates);
    if (rc < 0) {
        names_free(&dates);
        return fail(&c, rc, dir, strerror(-rc));
    }
    st->dates = dates.n;
    /* Days newest first; each day's bars are kept as a segment, prepended. */
    struct vec *segs = calloc(dates.n ? dates.n : 1, sizeof *segs);
    size_t nsegs = 0, total = 0;
    if (!segs) rc = -ENOMEM;
    int64_t fday = q->from == INT64_MIN ? INT64_MIN : tp_floor_div(q->from, NS_PER_DAY);
    int64_t tday = q->to == INT64_MAX ? INT64_MAX : tp_floor_div(q->to - 1, NS_PER_DAY);
    size_t i = dates.n;
    while (rc == 0 && i > 0 && total < q->limit) {
        i--;
        int64_t day;
        parse_date(dates.p[i], &day);
        if (day < fday || day > tday) {
            st->dates_skipped++;
            continue;
        }
        char daydir[PATH_MAX];
        k = snprintf(daydir, sizeof daydir, "%s/%s", dir, dates.p[i]);
        if (k < 0 || (size_t)k >= sizeof daydir) {
            rc = fail(&c, -ENAMETOOLONG, dir, "path too long");
            break;
        }
        struct vec *v = &segs[nsegs];
        rc = scan_day(&c, daydir, v);
        if (rc == 0 && v->n) {
            total += v->n;
            nsegs++;
        } else {
            free(v->p);
            v->p = NULL;
        }
    }
    st->dates_skipped += i; /* older days not needed: the limit was reached */
    if (rc == -ENOMEM) snprintf(err, errcap, "out of memory reading the lake");
    if (rc == 0) {
        /* Oldest first: segments were collected newest day first. Keep the newest `limit`. */
        size_t skip = total > q->limit ? total - q->limit : 0, n = 0;
        for (size_t s = nsegs; s-- > 0;) {
            const struct vec *v = &segs[s];
            size_t from = skip < v->n ? skip : v->n;
            skip -= from;
            memcpy(out + n, v->p + from, (v->n - from) * sizeof *out);
            n += v->n - from;
        }
        *ret_n = n;
    }
    for (size_t s = 0; s < nsegs; s++) free(segs[s].p);
    free(segs);
    names_free(&dates);
    return rc;
}
