/*
 * pg_etl.c — `tickpipe etl` on PostgreSQL (see pg.h and docs/etl.md): incremental interval
 * summaries computed by SQL over `ticks`, and the upsert of summaries computed from the
 * journal.
 *
 * One incremental pass of a spec, all in one REPEATABLE READ transaction (one snapshot, so the
 * bound and the rows agree), under a session advisory lock that serializes etl processes:
 *   hwm = tickpipe_offsets('etl', spec)      what this spec has summarized
 *   hi  = tickpipe_offsets('postgres', 'input')   what the sink has committed (the sink
 *         commits rows and this offset together, so every row below hi is visible)
 *   touched = windows of rows with hwm <= log_offset < hi and the field not null (BRIN index
 *         on log_offset: the rows of a range are found without a scan of the table)
 *   summary ← aggregates of every row below hi of each touched window (primary key index on
 *         (instrument, ts)), INSERT ... ON CONFLICT DO UPDATE
 *   hwm ← hi
 * A rerun with nothing new touches nothing; a late row (a new offset, an old ts) touches its
 * old window, which is recomputed whole, so summaries always equal a full recomputation.
 */
#include "core/instrument.h"
#include "core/log.h"
#include "sink/pg.h"
#include "sink/pg_int.h"

#define LOCK_ETL INT64_C(0x7470000000000003)

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
    tp_buf_reset(q);
    rc = tp_buf_printf(
        q,
        "WITH touched AS (SELECT DISTINCT instrument, ts_ns - ((ts_ns %% %lld) + %lld) %% %lld "
        "AS w FROM ticks WHERE log_offset >= %llu AND log_offset < %llu AND %s IS NOT NULL), "
        "win AS (SELECT instrument, "
        "'epoch'::timestamptz + (w / 1000) * interval '1 microsecond' AS ws, "
        "'epoch'::timestamptz + ((w + %lld) / 1000) * interval '1 microsecond' AS we "
        "FROM touched), "
        "agg AS (SELECT win.instrument, win.ws, avg(x.%s) AS avg, min(x.%s) AS min, "
        "max(x.%s) AS max, (array_agg(x.%s ORDER BY x.ts_ns, x.log_offset))[1] AS first, "
        "(array_agg(x.%s ORDER BY x.ts_ns DESC, x.log_offset DESC))[1] AS last, "
        "count(*) AS count FROM win JOIN ticks x ON x.instrument = win.instrument "
        "AND x.ts >= win.ws AND x.ts < win.we "
        "WHERE x.%s IS NOT NULL AND x.log_offset < %llu GROUP BY win.instrument, win.ws) "
        "INSERT INTO summary (instrument, field, interval, ts, avg, min, max, first, last, count) "
        "SELECT instrument, '%s', '%s', ws, avg, min, max, first, last, count FROM agg "
        "ON CONFLICT (instrument, field, interval, ts) DO UPDATE SET avg = excluded.avg, "
        "min = excluded.min, max = excluded.max, first = excluded.first, "
        "last = excluded.last, count = excluded.count",
        iv, iv, iv, (unsigned long long)hwm, (unsigned long long)hi, f, iv, f, f, f, f, f, f,
        (unsigned long long)hi, f, sp->interval);
    PGresult *r = NULL;
    if (rc == 0) rc = tp_pg_exec(e->c, q->p, &r, err, errlen);
    if (rc < 0) return rc;
    res->windows = strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
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

int tp_pg_etl_store(struct tp_pg_etl *e, const struct tp_etl_row *rows, size_t n,
                    const struct tp_etl_spec *specs, char *err, size_t errlen)
{
    struct tp_buf *b = &e->sql;
    int rc = tp_pg_exec(e->c, "BEGIN", NULL, err, errlen);
    /* in slices, so that the COPY buffer stays bounded */
    for (size_t i = 0; i < n && rc == 0;) {
        tp_buf_reset(b);
        rc = tp_pgc_header(b);
        size_t k = 0;
        for (; i < n && rc == 0 && b->len < (16u << 20); i++, k++) {
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
        if (rc == 0 && k)
            rc = tp_pg_copy(e->c, "COPY stage_summary FROM STDIN (FORMAT binary)", b->p, b->len,
                            err, errlen);
        if (rc == 0)
            rc = tp_pg_exec(e->c,
                            "INSERT INTO summary SELECT * FROM stage_summary "
                            "ON CONFLICT (instrument, field, interval, ts) DO UPDATE SET "
                            "avg = excluded.avg, min = excluded.min, max = excluded.max, "
                            "first = excluded.first, last = excluded.last, "
                            "count = excluded.count; TRUNCATE stage_summary",
                            NULL, err, errlen);
    }
    if (rc == 0) rc = tp_pg_exec(e->c, "COMMIT", NULL, err, errlen);
    if (rc < 0) tp_pg_rollback(e->c);
    return rc;
}
