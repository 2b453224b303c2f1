/*
 * pg_etl.c — `tickpipe etl` on PostgreSQL (see pg.h and docs/etl.md): incremental interval
 * summaries of `ticks`, and the upsert of summaries computed from the journal.
 *
 * One incremental pass of a spec, all in one REPEATABLE READ transaction (one snapshot, so the
 * bound and the rows agree), under a session advisory lock that serializes etl processes:
 *   hwm = tickpipe_offsets('etl', spec)          what this spec has summarized
 *   hi  = tickpipe_offsets('postgres', 'input')  what the sink has committed (the sink commits
 *         rows and this offset together, so every row below hi is in the snapshot)
 *   touched = the (instrument, window) of rows with hwm <= log_offset < hi and the field not
 *         null (block-range index on log_offset), streamed to the client;
 *   rows = every row below hi in the time ranges covering the touched windows (block-range
 *         index on ts; adjacent windows merged into one range), streamed by binary COPY and
 *         aggregated here with the journal path's aggregator (etl/etl.h), so both inputs
 *         give the same summaries; rows of untouched windows in those ranges are skipped;
 *   summary ← those windows, COPY into stage_summary, INSERT ... ON CONFLICT DO UPDATE;
 *   hwm ← hi.
 * A rerun with nothing new touches nothing; a late row (a new offset, an old ts) touches its
 * old window, which is recomputed whole, so summaries always equal a full recomputation.
 * Memory: the touched set and the aggregator, both capped at MAX_WINDOWS.
 */
#include "core/instrument.h"
#include "core/log.h"
#include "core/tptime.h"
#include "sink/pg.h"
#include "sink/pg_int.h"

#define LOCK_ETL    INT64_C(0x7470000000000003)
#define MAX_WINDOWS (8u << 20) /* touched windows held in one pass */
#define MAX_RANGES  256        /* time ranges in one scan of ticks */

struct tp_pg_etl {
    PGconn *c;
    struct tp_buf sql;
};

int tp_pg_etl_open(const char *conninfo, struct tp_pg_etl **ret, char *err, size_t errlen)
{
    int rc = tp_pg_conninfo_check(conninfo, err, errlen);
    if (rc < 0) return rc;
    struct tp_pg_etl *e = calloc(1, sizeof *e);
    if (!e) return -ENOMEM;
    tp_buf_init(&e->sql, 64u << 20);
    rc = tp_pg_connect(conninfo, &e->c, err, errlen);
    int from = 0;
    if (rc == 0) rc = tp_pg_migrate(e->c, &from, err, errlen);
    if (rc == 0) rc = tp_pg_stage_tables(e->c, err, errlen);
    if (rc < 0) {
        tp_pg_etl_close(e);
        return rc;
    }
    if (from < TP_PG_SCHEMA_VERSION)
        tp_info("etl: schema migrated from version %d to %d", from, TP_PG_SCHEMA_VERSION);
    *ret = e;
    return 0;
}

void tp_pg_etl_close(struct tp_pg_etl *e)
{
    if (!e) return;
    if (e->c) PQfinish(e->c);
    tp_buf_fini(&e->sql);
    free(e);
}

static int get_u64(PGconn *c, const char *sql, bool *found, uint64_t *ret, char *err, size_t errlen)
{
    PGresult *r;
    int rc = tp_pg_exec(c, sql, &r, err, errlen);
    if (rc < 0) return rc;
    *found = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
    long long v = *found ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    *ret = v > 0 ? (uint64_t)v : 0;
    return 0;
}

/* ---- the windows new rows touched ---- */

struct wkey {
    uint32_t instr; /* 0 = free */
    int64_t w;
};

struct pass {
    struct tp_pg_etl *e;
    const struct tp_etl_spec *sp;
    struct wkey *set; /* open addressing, load <= 1/2 */
    size_t nset, cap;
    struct tp_etl_agg *agg;
    uint64_t skipped; /* rows whose instrument is not a valid name */
};

static size_t wslot(const struct pass *ps, uint32_t instr, int64_t w)
{
    uint64_t h = ((uint64_t)w * 0x9e3779b97f4a7c15u) ^ ((uint64_t)instr * 0xc2b2ae3d27d4eb4fu);
    return (size_t)(h ^ h >> 31) & (ps->cap - 1);
}

static bool touched(const struct pass *ps, uint32_t instr, int64_t w)
{
    for (size_t i = wslot(ps, instr, w);; i = (i + 1) & (ps->cap - 1)) {
        if (!ps->set[i].instr) return false;
        if (ps->set[i].instr == instr && ps->set[i].w == w) return true;
    }
}

static int touch(struct pass *ps, uint32_t instr, int64_t w)
{
    if (2 * (ps->nset + 1) > ps->cap) {
        if (ps->nset >= MAX_WINDOWS) return -E2BIG;
        size_t cap = ps->cap ? ps->cap * 2 : 4096;
        struct wkey *old = ps->set;
        size_t ocap = ps->cap;
        ps->set = calloc(cap, sizeof *ps->set);
        if (!ps->set) {
            ps->set = old;
            return -ENOMEM;
        }
        ps->cap = cap;
        for (size_t i = 0; i < ocap; i++) {
            if (!old[i].instr) continue;
            size_t k = wslot(ps, old[i].instr, old[i].w);
            while (ps->set[k].instr) k = (k + 1) & (cap - 1);
            ps->set[k] = old[i];
        }
        free(old);
    }
    size_t i = wslot(ps, instr, w);
    for (; ps->set[i].instr; i = (i + 1) & (ps->cap - 1))
        if (ps->set[i].instr == instr && ps->set[i].w == w) return 0;
    ps->set[i] = (struct wkey){.instr = instr, .w = w};
    ps->nset++;
    return 0;
}

/* The interned id of a text field holding an instrument name; 0 when it is not one. */
static uint32_t instr_of(const struct tp_pgrow *r, int i)
{
    uint32_t id = 0;
    if (r->len[i] <= 0 || tp_instr_intern(r->p[i], (size_t)r->len[i], &id) < 0) return 0;
    return id;
}

static int on_touched(void *ctx, const struct tp_pgrow *r)
{
    struct pass *ps = ctx;
    if (r->n != 2 || r->len[1] != 8) return -EBADMSG;
    uint32_t id = instr_of(r, 0);
    if (!id) {
        ps->skipped++;
        return 0;
    }
    return touch(ps, id, (int64_t)tp_pgr_u64(r->p[1]));
}

static int on_row(void *ctx, const struct tp_pgrow *r)
{
    struct pass *ps = ctx;
    if (r->n != 4 || r->len[1] != 8 || r->len[2] != 8 || r->len[3] != 8) return -EBADMSG;
    uint32_t id = instr_of(r, 0);
    if (!id) return 0;
    int64_t ts = (int64_t)tp_pgr_u64(r->p[1]);
    if (!touched(ps, id, tp_window_start(ts, ps->sp->interval_ns))) return 0;
    return tp_etl_agg_put(ps->agg, 0, ps->sp->interval_ns, id, ts, tp_pgr_f8(r->p[3]),
                          tp_pgr_u64(r->p[2]));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Appends to q the time ranges that cover every touched window: adjacent windows merged,
 * then the closest ranges merged until at most MAX_RANGES remain (a block-range index scan
 * per range; merging only reads a few more rows, filtered out by `touched`). */
static int ranges_sql(struct pass *ps, struct tp_buf *q)
{
    int64_t iv = ps->sp->interval_ns;
    int64_t *w = malloc((ps->nset ? ps->nset : 1) * sizeof *w);
    if (!w) return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < ps->cap; i++)
        if (ps->set[i].instr) w[n++] = ps->set[i].w;
    qsort(w, n, sizeof *w, cmp_i64);
    /* ranges [lo[k], hi[k]) in place: lo in w, hi in a second array */
    int64_t *hi = malloc((n ? n : 1) * sizeof *hi);
    if (!hi) {
        free(w);
        return -ENOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && w[i] <= hi[m - 1]) {
            hi[m - 1] = TP_MAX(hi[m - 1], w[i] + iv);
            continue;
        }
        w[m] = w[i];
        hi[m++] = w[i] + iv;
    }
    while (m > MAX_RANGES) { /* merge across the smallest gaps, halving the count */
        int64_t *gap = malloc((m - 1) * sizeof *gap);
        if (!gap) {
            free(w);
            free(hi);
            return -ENOMEM;
        }
        for (size_t i = 0; i + 1 < m; i++) gap[i] = w[i + 1] - hi[i];
        qsort(gap, m - 1, sizeof *gap, cmp_i64);
        int64_t cut = gap[(m - 1) / 2];
        free(gap);
        size_t k = 0;
        for (size_t i = 0; i < m; i++) {
            if (k && w[i] - hi[k - 1] <= cut) {
                hi[k - 1] = hi[i];
                continue;
            }
            w[k] = w[i];
            hi[k++] = hi[i];
        }
        m = k;
    }
    int rc = 0;
    for (size_t i = 0; i < m && rc == 0; i++)
        rc = tp_buf_printf(q,
                           "%s(ts >= 'epoch'::timestamptz + %lld * interval '1 microsecond' AND "
                           "ts < 'epoch'::timestamptz + %lld * interval '1 microsecond')",
                           i ? " OR " : "", (long long)(w[i] / 1000), (long long)(hi[i] / 1000));
    free(w);
    free(hi);
    return rc;
}

static int store_rows(struct tp_pg_etl *e, const struct tp_etl_row *rows, size_t n,
                      const struct tp_etl_spec *specs, uint64_t *ret, char *err, size_t errlen);

static int update_locked(struct tp_pg_etl *e, const struct tp_etl_spec *sp, bool full,
                         struct tp_pg_etl_result *res, char *err, size_t errlen)
{
    struct tp_buf *q = &e->sql;
    tp_buf_reset(q);
    /* the spec's name is ours ("10m:price"): digits, unit letters, ':' and a field name */
    int rc = tp_buf_printf(q,
                           "BEGIN ISOLATION LEVEL REPEATABLE READ;"
                           "INSERT INTO tickpipe_offsets (sink, log, next_offset) "
                           "VALUES ('etl', '%s', 0) ON CONFLICT DO NOTHING;"
                           "SELECT next_offset FROM tickpipe_offsets "
                           "WHERE sink = 'etl' AND log = '%s'",
                           sp->name, sp->name);
    bool found;
    uint64_t hwm = 0, hi = 0;
    if (rc == 0) rc = get_u64(e->c, q->p, &found, &hwm, err, errlen);
    if (rc == 0)
        rc = get_u64(e->c,
                     "SELECT next_offset FROM tickpipe_offsets "
                     "WHERE sink = 'postgres' AND log = 'input'",
                     &found, &hi, err, errlen);
    if (rc == 0 && !found) /* ticks written by something else than the sink */
        rc = get_u64(e->c, "SELECT max(log_offset) + 1 FROM ticks", &found, &hi, err, errlen);
    if (rc < 0) return rc;
    if (full) hwm = 0;
    res->from = hwm;
    res->to = hi > hwm ? hi : hwm;
    res->windows = 0;
    if (hi <= hwm) return tp_pg_exec(e->c, "COMMIT", NULL, err, errlen);

    const char *f = tp_etl_field_name(sp->field);
    long long iv = (long long)sp->interval_ns;
    struct pass ps = {.e = e, .sp = sp};
    tp_buf_reset(q);
    rc = tp_buf_printf(q,
                       "COPY (SELECT DISTINCT instrument, ts_ns - ((ts_ns %% %lld) + %lld) %% %lld "
                       "FROM ticks WHERE log_offset >= %llu AND log_offset < %llu AND %s IS NOT "
                       "NULL) TO STDOUT (FORMAT binary)",
                       iv, iv, iv, (unsigned long long)hwm, (unsigned long long)hi, f);
    if (rc == 0) rc = tp_pg_copy_out(e->c, q->p, on_touched, &ps, err, errlen);
    if (rc == 0 && ps.nset) {
        tp_buf_reset(q);
        rc = tp_buf_printf(q,
                           "COPY (SELECT instrument, ts_ns, log_offset, %s FROM ticks WHERE %s IS "
                           "NOT NULL AND log_offset < %llu AND (",
                           f, f, (unsigned long long)hi);
        if (rc == 0) rc = ranges_sql(&ps, q);
        if (rc == 0) rc = tp_buf_puts(q, ")) TO STDOUT (FORMAT binary)");
        ps.agg = rc == 0 ? tp_etl_agg_new(MAX_WINDOWS) : NULL;
        if (rc == 0 && !ps.agg) rc = -ENOMEM;
        if (rc == 0) rc = tp_pg_copy_out(e->c, q->p, on_row, &ps, err, errlen);
        const struct tp_etl_row *rows;
        size_t n = rc == 0 ? tp_etl_agg_rows(ps.agg, &rows) : 0;
        if (rc == 0) rc = store_rows(e, rows, n, sp, &res->windows, err, errlen);
    }
    if (rc == -E2BIG) snprintf(err, errlen, "more than %u windows in one pass", MAX_WINDOWS);
    if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
    if (ps.skipped)
        tp_warn("etl: %llu rows of ticks skipped: not an instrument name",
                (unsigned long long)ps.skipped);
    free(ps.set);
    tp_etl_agg_free(ps.agg);
    if (rc < 0) return rc;
    tp_buf_reset(q);
    rc = tp_buf_printf(q,
                       "UPDATE tickpipe_offsets SET next_offset = %llu, updated_at = now() "
                       "WHERE sink = 'etl' AND log = '%s'; COMMIT",
                       (unsigned long long)hi, sp->name);
    return rc ? rc : tp_pg_exec(e->c, q->p, NULL, err, errlen);
}

int tp_pg_etl_update(struct tp_pg_etl *e, const struct tp_etl_spec *spec, bool full,
                     struct tp_pg_etl_result *ret, char *err, size_t errlen)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", (long long)LOCK_ETL);
    int rc = tp_pg_exec(e->c, sql, NULL, err, errlen);
    if (rc < 0) return rc;
    struct tp_pg_etl_result res;
    rc = update_locked(e, spec, full, &res, err, errlen);
    if (rc < 0) tp_pg_rollback(e->c);
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)", (long long)LOCK_ETL);
    char ignored[TP_PG_ERRLEN];
    tp_pg_exec(e->c, sql, NULL, ignored, sizeof ignored);
    if (rc == 0) *ret = res;
    return rc;
}

static int store_rows(struct tp_pg_etl *e, const struct tp_etl_row *rows, size_t n,
                      const struct tp_etl_spec *specs, uint64_t *ret, char *err, size_t errlen)
{
    struct tp_buf *b = &e->sql;
    int rc = 0;
    *ret = 0;
    /* in slices, so that the COPY buffer stays bounded */
    for (size_t i = 0; i < n && rc == 0;) {
        tp_buf_reset(b);
        rc = tp_pgc_header(b);
        for (; i < n && rc == 0 && b->len < (16u << 20); i++) {
            const struct tp_etl_row *r = &rows[i];
            const struct tp_etl_spec *sp = &specs[r->spec];
            const char *instr = tp_instr_name(r->instr), *f = tp_etl_field_name(sp->field);
            rc = tp_pgc_row(b, 10);
            rc = rc ? rc : tp_pgc_text(b, instr, strlen(instr));
            rc = rc ? rc : tp_pgc_text(b, f, strlen(f));
            rc = rc ? rc : tp_pgc_text(b, sp->interval, strlen(sp->interval));
            rc = rc ? rc : tp_pgc_ts(b, r->ts);
            const double v[] = {r->sum / (double)r->count, r->min, r->max, r->first, r->last};
            for (size_t j = 0; j < TP_ARRAY_LEN(v) && !rc; j++) rc = tp_pgc_f8(b, v[j]);
            rc = rc ? rc : tp_pgc_i8(b, (int64_t)r->count);
        }
        if (rc == 0) rc = tp_pgc_trailer(b);
        if (rc < 0) {
            snprintf(err, errlen, "encoding summaries: %s", strerror(-rc));
            break;
        }
        rc = tp_pg_copy(e->c, "COPY stage_summary FROM STDIN (FORMAT binary)", b->p, b->len, err,
                        errlen);
        PGresult *r = NULL;
        if (rc == 0)
            rc = tp_pg_exec(e->c,
                            "INSERT INTO summary SELECT * FROM stage_summary "
                            "ON CONFLICT (instrument, field, interval, ts) DO UPDATE SET "
                            "avg = excluded.avg, min = excluded.min, max = excluded.max, "
                            "first = excluded.first, last = excluded.last, "
                            "count = excluded.count",
                            &r, err, errlen);
        if (rc == 0) {
            *ret += strtoull(PQcmdTuples(r), NULL, 10);
            PQclear(r);
            rc = tp_pg_exec(e->c, "TRUNCATE stage_summary", NULL, err, errlen);
        }
    }
    return rc;
}

int tp_pg_etl_store(struct tp_pg_etl *e, const struct tp_etl_row *rows, size_t n,
                    const struct tp_etl_spec *specs, char *err, size_t errlen)
{
    uint64_t done;
    int rc = tp_pg_exec(e->c, "BEGIN", NULL, err, errlen);
    if (rc == 0) rc = store_rows(e, rows, n, specs, &done, err, errlen);
    if (rc == 0) rc = tp_pg_exec(e->c, "COMMIT", NULL, err, errlen);
    if (rc < 0) tp_pg_rollback(e->c);
    return rc;
}
