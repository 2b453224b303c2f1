/*
 * pg_conn.c — libpq connections, SQL with errors mapped to errnos, the schema and its
 * migrations, staging tables and day partitions (see pg_int.h; the tables are documented in
 * docs/postgres.md).
 *
 * Migrations: `migrations[]` lists every schema version, oldest first; each is SQL run once,
 * in order. They are forward only (a version is never edited once released: a change is a
 * new version) and transactional (PostgreSQL's DDL is: all pending versions and their rows
 * in tickpipe_schema_version commit together or not at all). An advisory lock serializes
 * tickpipe processes that migrate the same database at once.
 */
#include "sink/pg_int.h"

#include "core/tptime.h"

/* Advisory lock keys (pg_advisory_xact_lock): arbitrary, fixed, "tp" in the high bits. */
#define LOCK_MIGRATE    INT64_C(0x7470000000000001)
#define LOCK_PARTITIONS INT64_C(0x7470000000000002)

/* The ticks columns of DESIGN.md §5, shared by ticks and late. */
#define TICK_COLUMNS                                                                               \
    "ts timestamptz NOT NULL, ts_ns bigint NOT NULL, ts_recv timestamptz, "                        \
    "instrument text NOT NULL, venue_symbol text, kind text NOT NULL, price double precision, "    \
    "size double precision, side text, trade_id text, bid double precision, "                      \
    "ask double precision, bid_size double precision, ask_size double precision, "                 \
    "open double precision, high double precision, low double precision, "                         \
    "change double precision, value double precision"

static const char SCHEMA_V1[] =
    /* raw events, one row per input journal record (trades, quotes, snapshots, vendor bars);
     * no btree: block-range indexes cost almost nothing to maintain at COPY speed and serve
     * time ranges and offset ranges (docs/postgres.md) */
    "CREATE TABLE ticks (" TICK_COLUMNS ", log_offset bigint NOT NULL) "
    "PARTITION BY RANGE (ts);"
    "CREATE INDEX ticks_ts ON ticks USING brin (ts) WITH (autosummarize = on);"
    "CREATE INDEX ticks_log_offset ON ticks USING brin (log_offset) "
    "WITH (autosummarize = on);"
    /* final bars with their indicators */
    "CREATE TABLE bars (instrument text NOT NULL, interval text NOT NULL, "
    "ts timestamptz NOT NULL, open double precision, high double precision, "
    "low double precision, close double precision, volume double precision, "
    "notional double precision, vwap double precision, trades bigint NOT NULL, "
    "buy_volume double precision, sell_volume double precision, first_ts timestamptz, "
    "last_ts timestamptz, sma_20 double precision, ema_20 double precision, "
    "bb_upper double precision, bb_middle double precision, bb_lower double precision, "
    "rsi_14 double precision, macd double precision, macd_signal double precision, "
    "macd_hist double precision, atr_14 double precision, volatility_20 double precision, "
    "PRIMARY KEY (instrument, interval, ts));"
    "CREATE INDEX bars_ts ON bars (ts);"
    "CREATE TABLE anomalies (instrument text NOT NULL, ts timestamptz NOT NULL, "
    "kind text NOT NULL, observed double precision, expected double precision, "
    "score double precision, interval text NOT NULL, ts_ns bigint NOT NULL, "
    "PRIMARY KEY (instrument, ts_ns, kind, interval));"
    "CREATE INDEX anomalies_ts ON anomalies (ts);"
    /* late trades: the ticks columns and the interval they were late for, keyed by their
     * output journal offset (two late trades may agree on every column) */
    "CREATE TABLE late (" TICK_COLUMNS ", interval text NOT NULL, "
    "log_offset bigint PRIMARY KEY);"
    "CREATE INDEX late_instrument_ts ON late (instrument, ts);"
    "CREATE TABLE gaps (instrument text NOT NULL, ts timestamptz NOT NULL, "
    "first_missing numeric(20,0) NOT NULL, last_missing numeric(20,0) NOT NULL, "
    "backfilled boolean NOT NULL, by_time boolean NOT NULL, ts_ns bigint NOT NULL, "
    "PRIMARY KEY (instrument, ts_ns, first_missing, last_missing));"
    /* per instrument and UTC day: rows that reached this database */
    "CREATE TABLE quality (instrument text NOT NULL, ts timestamptz NOT NULL, "
    "ticks bigint NOT NULL DEFAULT 0, trades bigint NOT NULL DEFAULT 0, "
    "quotes bigint NOT NULL DEFAULT 0, late bigint NOT NULL DEFAULT 0, "
    "gaps bigint NOT NULL DEFAULT 0, anomalies bigint NOT NULL DEFAULT 0, "
    "PRIMARY KEY (instrument, ts));"
    /* tickpipe etl's interval summaries */
    "CREATE TABLE summary (instrument text NOT NULL, field text NOT NULL, "
    "interval text NOT NULL, ts timestamptz NOT NULL, avg double precision, "
    "min double precision, max double precision, first double precision, "
    "last double precision, count bigint NOT NULL, "
    "PRIMARY KEY (instrument, field, interval, ts));"
    /* what each writer has acknowledged: the next offset of each log it reads */
    "CREATE TABLE tickpipe_offsets (sink text NOT NULL, log text NOT NULL, "
    "next_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), "
    "PRIMARY KEY (sink, log));";

/* tickpipe validate's results (docs/validate.md): per instrument and day in quality, the
 * whole report in quality_reports */
static const char SCHEMA_V2[] =
    "ALTER TABLE quality ADD COLUMN validated_at timestamptz, ADD COLUMN validation text, "
    "ADD COLUMN problems bigint, ADD COLUMN failed_checks text;"
    "CREATE TABLE quality_reports (run_at timestamptz PRIMARY KEY, ok boolean NOT NULL, "
    "report jsonb NOT NULL);";

static const struct migration {
    int version;
    const char *what;
    const char *sql;
} migrations[] = {
    {1, "ticks, bars, anomalies, late, gaps, quality, summary, tickpipe_offsets", SCHEMA_V1},
    {2, "validation results: quality columns, quality_reports", SCHEMA_V2},
};

_Static_assert(TP_ARRAY_LEN(migrations) == TP_PG_SCHEMA_VERSION, "one migration per version");

static void seterr(char *err, size_t n, const char *msg)
{
    if (!n) return;
    snprintf(err, n, "%s", msg && *msg ? msg : "unknown error");
    /* libpq messages end with a newline and may span lines: keep one line */
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = p[1] ? ' ' : 0;
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* notices ("relation already exists, skipping") are not news */
}

int tp_pg_conninfo_check(const char *conninfo, char *err, size_t errlen)
{
    char *msg = NULL;
    PQconninfoOption *o = PQconninfoParse(conninfo, &msg);
    if (!o) {
        seterr(err, errlen, msg ? msg : "out of memory");
        PQfreemem(msg);
        return -EINVAL;
    }
    PQconninfoFree(o);
    return 0;
}

int tp_pg_connect(const char *conninfo, PGconn **ret, char *err, size_t errlen)
{
    /* Entries before dbname are defaults the conninfo may override (libpq processes the
     * arrays in order and expands dbname in place). */
    static const char *const keys[] = {"fallback_application_name",
                                       "connect_timeout",
                                       "keepalives",
                                       "keepalives_idle",
                                       "keepalives_interval",
                                       "keepalives_count",
                                       "tcp_user_timeout",
                                       "dbname",
                                       NULL};
    const char *vals[] = {"tickpipe", "10", "1", "10", "5", "3", "30000", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        seterr(err, errlen, PQerrorMessage(c));
        PQfinish(c);
        return -ECONNREFUSED;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    *ret = c;
    return 0;
}

int tp_pg_errno(PGconn *c, const PGresult *r)
{
    if (!c || PQstatus(c) == CONNECTION_BAD) return -ECONNRESET;
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!st || strlen(st) != 5) return r ? -EPROTO : -ECONNRESET;
    if (!strcmp(st, "23505")) return -EEXIST;
    /* connection exceptions, insufficient resources, operator intervention (shutdown),
     * serialization failure and deadlock, lock not available */
    if (!strncmp(st, "08", 2) || !strncmp(st, "53", 2) || !strncmp(st, "57P", 3) ||
        !strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03"))
        return -EAGAIN;
    return -EPROTO;
}

int tp_pg_exec(PGconn *c, const char *sql, PGresult **ret, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (ret)
            *ret = r;
        else
            PQclear(r);
        return 0;
    }
    int rc = tp_pg_errno(c, r);
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    seterr(err, errlen, msg && *msg ? msg : PQerrorMessage(c));
    PQclear(r);
    return rc;
}

int tp_pg_copy(PGconn *c, const char *copy_sql, const void *data, size_t n, char *err,
               size_t errlen)
{
    PGresult *r = PQexec(c, copy_sql);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        int rc = tp_pg_errno(c, r);
        seterr(err, errlen, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    PQclear(r);
    const char *p = data;
    bool ok = true;
    /* PQputCopyData takes an int: send in chunks */
    for (size_t off = 0; off < n && ok;) {
        size_t k = TP_MIN(n - off, (size_t)1 << 20);
        ok = PQputCopyData(c, p + off, (int)k) == 1;
        off += k;
    }
    if (PQputCopyEnd(c, ok ? NULL : "tickpipe: sending failed") != 1) ok = false;
    int rc = 0;
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            rc = tp_pg_errno(c, r);
            seterr(err, errlen, PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    if (rc == 0 && (!ok || PQstatus(c) == CONNECTION_BAD)) {
        rc = -ECONNRESET;
        seterr(err, errlen, PQerrorMessage(c));
    }
    return rc;
}

static uint32_t rd32(const char *p)
{
    const uint8_t *u = (const uint8_t *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* Parses one row at p[0..n): bytes used, 0 when incomplete, -1 at the trailer, or
 * -EBADMSG. */
static long parse_row(const char *p, size_t n, struct tp_pgrow *r)
{
    if (n < 2) return 0;
    int16_t nf = (int16_t)(((uint8_t)p[0] << 8) | (uint8_t)p[1]);
    if (nf == -1) return -1;
    if (nf < 0 || nf > TP_PGROW_MAX) return -EBADMSG;
    size_t at = 2;
    r->n = nf;
    for (int i = 0; i < nf; i++) {
        if (n - at < 4) return 0;
        int32_t len = (int32_t)rd32(p + at);
        at += 4;
        if (len < -1) return -EBADMSG;
        r->len[i] = len;
        r->p[i] = p + at;
        if (len > 0) {
            if (n - at < (size_t)len) return 0;
            at += (size_t)len;
        }
    }
    return (long)at;
}

int tp_pg_copy_out(PGconn *c, const char *copy_sql, int (*row)(void *ctx, const struct tp_pgrow *r),
                   void *ctx, char *err, size_t errlen)
{
    static const char sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', 0};
    PGresult *r = PQexec(c, copy_sql);
    if (!r || PQresultStatus(r) != PGRES_COPY_OUT) {
        int rc = tp_pg_errno(c, r);
        seterr(err, errlen, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return rc;
    }
    PQclear(r);
    struct tp_buf b; /* unparsed bytes: at most a partial row and one chunk */
    tp_buf_init(&b, (2u << 20) + 64);
    size_t at = 0;
    bool header = false, done = false;
    int rc = 0;
    char *chunk;
    int k;
    while ((k = PQgetCopyData(c, &chunk, 0)) > 0) {
        if (rc == 0 && !done) {
            /* drop what was parsed, then append */
            if (at) {
                memmove(b.p, b.p + at, b.len - at);
                b.len -= at;
                at = 0;
            }
            rc = tp_buf_append(&b, chunk, (size_t)k);
            if (rc < 0) seterr(err, errlen, "a COPY row larger than 1 MiB");
        }
        PQfreemem(chunk);
        while (rc == 0 && !done) {
            if (!header) {
                if (b.len - at < 19) break;
                if (memcmp(b.p + at, sig, sizeof sig)) {
                    rc = -EBADMSG;
                    break;
                }
                uint32_t ext = rd32(b.p + at + 15);
                if (b.len - at < 19 + (size_t)ext) break;
                at += 19 + ext;
                header = true;
                continue;
            }
            struct tp_pgrow pr;
            long used = parse_row(b.p + at, b.len - at, &pr);
            if (used == 0) break;
            if (used == -1) {
                done = true;
                break;
            }
            if (used < 0) {
                rc = (int)used;
                break;
            }
            at += (size_t)used;
            rc = row(ctx, &pr);
        }
        if (rc == -EBADMSG) seterr(err, errlen, "not a binary COPY stream");
    }
    tp_buf_fini(&b);
    /* the end of the stream: k == -1, then the command's result */
    if (k == -2 && rc == 0) {
        rc = -ECONNRESET;
        seterr(err, errlen, PQerrorMessage(c));
    }
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            rc = tp_pg_errno(c, r);
            seterr(err, errlen, PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    return rc;
}

void tp_pg_rollback(PGconn *c)
{
    if (c && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
}

static int scalar_int(PGconn *c, const char *sql, int64_t *ret, char *err, size_t errlen)
{
    PGresult *r;
    int rc = tp_pg_exec(c, sql, &r, err, errlen);
    if (rc < 0) return rc;
    if (PQntuples(r) != 1 || PQnfields(r) != 1) {
        PQclear(r);
        seterr(err, errlen, "unexpected result shape");
        return -EPROTO;
    }
    *ret = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

int tp_pg_migrate(PGconn *c, int *ret_from, char *err, size_t errlen)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "BEGIN; SELECT pg_advisory_xact_lock(%lld);"
             "CREATE TABLE IF NOT EXISTS tickpipe_schema_version (version integer PRIMARY KEY, "
             "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
             (long long)LOCK_MIGRATE);
    int rc = tp_pg_exec(c, sql, NULL, err, errlen);
    int64_t have = 0;
    if (rc == 0)
        rc = scalar_int(c, "SELECT coalesce(max(version), 0) FROM tickpipe_schema_version", &have,
                        err, errlen);
    if (rc == 0 && have > TP_PG_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "the database's tickpipe schema is at version %lld, newer than this tickpipe "
                 "knows (%d): upgrade tickpipe (migrations only go forward)",
                 (long long)have, TP_PG_SCHEMA_VERSION);
        rc = -EBADMSG;
    }
    for (size_t i = 0; rc == 0 && i < TP_ARRAY_LEN(migrations); i++) {
        const struct migration *m = &migrations[i];
        if (m->version <= have) continue;
        rc = tp_pg_exec(c, m->sql, NULL, err, errlen);
        if (rc == 0) {
            snprintf(sql, sizeof sql,
                     "INSERT INTO tickpipe_schema_version (version, description) "
                     "VALUES (%d, '%s')",
                     m->version, m->what);
            rc = tp_pg_exec(c, sql, NULL, err, errlen);
        }
        if (rc < 0) {
            char why[TP_PG_ERRLEN];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "schema migration to version %d: %s", m->version, why);
        }
    }
    if (rc == 0) rc = tp_pg_exec(c, "COMMIT", NULL, err, errlen);
    if (rc < 0) {
        tp_pg_rollback(c);
        return rc;
    }
    *ret_from = (int)have;
    return 0;
}

int tp_pg_stage_tables(PGconn *c, char *err, size_t errlen)
{
    static const char sql[] =
        "CREATE TEMP TABLE IF NOT EXISTS stage_bars (LIKE bars, log_offset bigint NOT NULL) "
        "ON COMMIT DELETE ROWS;"
        "CREATE TEMP TABLE IF NOT EXISTS stage_anomalies (LIKE anomalies, "
        "log_offset bigint NOT NULL) ON COMMIT DELETE ROWS;"
        "CREATE TEMP TABLE IF NOT EXISTS stage_late (LIKE late) ON COMMIT DELETE ROWS;"
        "CREATE TEMP TABLE IF NOT EXISTS stage_gaps (instrument text NOT NULL, "
        "ts timestamptz NOT NULL, first_missing text NOT NULL, last_missing text NOT NULL, "
        "backfilled boolean NOT NULL, by_time boolean NOT NULL, ts_ns bigint NOT NULL, "
        "log_offset bigint NOT NULL) ON COMMIT DELETE ROWS;"
        "CREATE TEMP TABLE IF NOT EXISTS stage_quality (LIKE quality INCLUDING DEFAULTS) "
        "ON COMMIT DELETE ROWS;"
        "CREATE TEMP TABLE IF NOT EXISTS stage_summary (LIKE summary) ON COMMIT DELETE ROWS";
    return tp_pg_exec(c, sql, NULL, err, errlen);
}

static void day_name(int64_t day, char *out, size_t n, bool iso)
{
    int64_t y;
    unsigned m, d;
    tp_civil_from_days(day, &y, &m, &d);
    if (iso)
        snprintf(out, n, "%04lld-%02u-%02u", (long long)y, m, d);
    else
        snprintf(out, n, "%04lld%02u%02u", (long long)y, m, d);
}

int tp_pg_day_partitions(PGconn *c, const int64_t *days, size_t n, char *err, size_t errlen)
{
    if (!n) return 0;
    struct tp_buf sql;
    tp_buf_init(&sql, 256 + n * 192);
    int rc = tp_buf_printf(&sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld);",
                           (long long)LOCK_PARTITIONS);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char name[32], from[32], to[32];
        day_name(days[i], name, sizeof name, false);
        day_name(days[i], from, sizeof from, true);
        day_name(days[i] + 1, to, sizeof to, true);
        rc = tp_buf_printf(&sql,
                           "CREATE TABLE IF NOT EXISTS ticks_p%s PARTITION OF ticks FOR VALUES "
                           "FROM ('%s 00:00:00+00') TO ('%s 00:00:00+00');",
                           name, from, to);
    }
    if (rc == 0) rc = tp_buf_puts(&sql, "COMMIT");
    if (rc == 0)
        rc = tp_pg_exec(c, sql.p, NULL, err, errlen);
    else
        seterr(err, errlen, "out of memory");
    tp_buf_fini(&sql);
    if (rc < 0) tp_pg_rollback(c);
    return rc;
}
