/*
 * vpg.c — `tickpipe validate --postgres`: the validator's checks over the PostgreSQL tables
 * the sink writes (docs/postgres.md), and the reconciliation of lake, database and journal
 * counts (see validate.h; the rules in docs/validate.md).
 *
 * Design: every check is one SQL query whose aggregates the server computes (GROUP BY, window
 * functions; it spills to disk when it must), so memory here is bounded by what comes back:
 * per (instrument, day) counts, and at most ROWS_MAX offending rows per query, each with the
 * total count of offending rows (`count(*) OVER ()`, computed before the LIMIT). Every such
 * query returns the same columns, so one function (examples()) turns them into problems:
 *
 *   instrument text, ts_ns bigint, detail text (NULL: a row that was checked and is fine),
 *   fail boolean (false: a warning), problems bigint (total), checked bigint (total)
 *
 * Problems name their source as "postgres:<table>" where the lake's name a file, and the row
 * by its key (ticks: log_offset, the input journal offset; bars: instrument, interval, ts).
 *
 * Invariants:
 *  1. Read-only: the checks never write (storing the report is tp_validate_store_pg).
 *  2. A check whose table is missing or misshapen (the schema check) is skipped, not run.
 *  3. A lost connection ends the run (-ECONNRESET, exit 3); an SQL error of one check is that
 *     check's failure, so a database changed by hand still gets a report.
 */
#include <libpq-fe.h>

#include "core/tptime.h"
#include "ops/validate_int.h"
#include "sink/pg_int.h"

#define ROWS_MAX 10000 /* offending rows fetched per query (the count covers the rest) */

enum { T_TICKS, T_BARS, T_ANOM, T_LATE, T_GAPS, T_QUAL, T_OFFS, T_N };
static const char *const tables[T_N] = {"ticks", "bars",    "anomalies",       "late",
                                        "gaps",  "quality", "tickpipe_offsets"};
static const char *const sources[T_N] = {
    "postgres:ticks", "postgres:bars",    "postgres:anomalies",       "postgres:late",
    "postgres:gaps",  "postgres:quality", "postgres:tickpipe_offsets"};

/* The columns each table must have, with information_schema's data_type. */
static const struct col {
    int t;
    const char *name, *type;
} cols[] = {
#define TICKCOLS(t)                                                                                \
    {t, "ts", "timestamp with time zone"}, {t, "ts_ns", "bigint"},                                 \
        {t, "ts_recv", "timestamp with time zone"}, {t, "instrument", "text"},                     \
        {t, "venue_symbol", "text"}, {t, "kind", "text"}, {t, "price", "double precision"},        \
        {t, "size", "double precision"}, {t, "side", "text"}, {t, "trade_id", "text"},             \
        {t, "bid", "double precision"}, {t, "ask", "double precision"},                            \
        {t, "bid_size", "double precision"}, {t, "ask_size", "double precision"},                  \
        {t, "open", "double precision"}, {t, "high", "double precision"},                          \
        {t, "low", "double precision"}, {t, "change", "double precision"},                         \
        {t, "value", "double precision"},                                                          \
    {                                                                                              \
        t, "log_offset", "bigint"                                                                  \
    }
    TICKCOLS(T_TICKS),
    TICKCOLS(T_LATE),
    {T_LATE, "interval", "text"},
    {T_BARS, "instrument", "text"},
    {T_BARS, "interval", "text"},
    {T_BARS, "ts", "timestamp with time zone"},
    {T_BARS, "open", "double precision"},
    {T_BARS, "high", "double precision"},
    {T_BARS, "low", "double precision"},
    {T_BARS, "close", "double precision"},
    {T_BARS, "volume", "double precision"},
    {T_BARS, "notional", "double precision"},
    {T_BARS, "vwap", "double precision"},
    {T_BARS, "trades", "bigint"},
    {T_BARS, "buy_volume", "double precision"},
    {T_BARS, "sell_volume", "double precision"},
    {T_BARS, "first_ts", "timestamp with time zone"},
    {T_BARS, "last_ts", "timestamp with time zone"},
    {T_BARS, "sma_20", "double precision"},
    {T_BARS, "ema_20", "double precision"},
    {T_BARS, "bb_upper", "double precision"},
    {T_BARS, "bb_middle", "double precision"},
    {T_BARS, "bb_lower", "double precision"},
    {T_BARS, "rsi_14", "double precision"},
    {T_BARS, "macd", "double precision"},
    {T_BARS, "macd_signal", "double precision"},
    {T_BARS, "macd_hist", "double precision"},
    {T_BARS, "atr_14", "double precision"},
    {T_BARS, "volatility_20", "double precision"},
    {T_ANOM, "instrument", "text"},
    {T_ANOM, "ts", "timestamp with time zone"},
    {T_ANOM, "kind", "text"},
    {T_ANOM, "observed", "double precision"},
    {T_ANOM, "expected", "double precision"},
    {T_ANOM, "score", "double precision"},
    {T_ANOM, "interval", "text"},
    {T_ANOM, "ts_ns", "bigint"},
    {T_GAPS, "instrument", "text"},
    {T_GAPS, "ts", "timestamp with time zone"},
    {T_GAPS, "first_missing", "numeric"},
    {T_GAPS, "last_missing", "numeric"},
    {T_GAPS, "backfilled", "boolean"},
    {T_GAPS, "ts_ns", "bigint"},
    {T_QUAL, "instrument", "text"},
    {T_QUAL, "ts", "timestamp with time zone"},
    {T_QUAL, "ticks", "bigint"},
    {T_QUAL, "trades", "bigint"},
    {T_QUAL, "quotes", "bigint"},
    {T_OFFS, "sink", "text"},
    {T_OFFS, "log", "text"},
    {T_OFFS, "next_offset", "bigint"},
#undef TICKCOLS
};

struct pgx {
    struct tp_validate_report *r;
    PGconn *c;
    bool ok[T_N]; /* the table is there with its columns (invariant 2) */
    int fatal;    /* the connection is gone: the run ends */
    char *err;
    size_t errcap;
    uint64_t step, nsteps;
};

/* ---- helpers ----------------------------------------------------------------------------- */

static void progress(struct pgx *x)
{
    x->step++;
    if (x->r->o.progress) x->r->o.progress(x->r->o.ctx, x->step, x->nsteps);
}

/* Runs sql; the result (PQclear it) or NULL. A broken connection sets x->fatal; any other
 * error is a failure of check c (when c < TP_VC_N). */
static PGresult *query(struct pgx *x, enum tp_vcheck c, const char *what, const char *sql)
{
    if (x->fatal) return NULL;
    PGresult *res = NULL;
    char e[TP_PG_ERRLEN];
    int rc = tp_pg_exec(x->c, sql, &res, e, sizeof e);
    if (rc == 0 && res && PQresultStatus(res) == PGRES_TUPLES_OK) return res;
    if (res) PQclear(res);
    if (rc == 0) rc = -EPROTO;
    if (rc == -ECONNRESET || rc == -ECONNREFUSED || PQstatus(x->c) != CONNECTION_OK) {
        x->fatal = rc == -ECONNREFUSED ? rc : -ECONNRESET;
        snprintf(x->err, x->errcap, "postgres: %s: %s", what, e);
        return NULL;
    }
    if (c < TP_VC_N)
        vx_problem_src(x->r, c, TP_VS_FAIL, NULL, UINT32_MAX, INT64_MIN, "%s: query failed: %s",
                       what, e);
    tp_pg_rollback(x->c);
    return NULL;
}

static int64_t i64v(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static uint32_t instr_id(struct pgx *x, const char *name)
{
    uint32_t id;
    if (tp_vstrs_intern(&x->r->instr, name, strlen(name), &id) < 0) return UINT32_MAX;
    return id;
}

/* Turns the rows of a query of the common shape (file comment) into problems of check c. */
static void examples(struct pgx *x, enum tp_vcheck c, int table, const char *what, const char *sql)
{
    PGresult *res = query(x, c, what, sql);
    progress(x);
    if (!res) return;
    struct tp_validate_report *r = x->r;
    int n = PQntuples(res), nf = PQnfields(res);
    uint64_t total = 0, seen = 0;
    for (int i = 0; i < n; i++) {
        if (i == 0) {
            total = (uint64_t)i64v(res, 0, 4);
            if (nf > 5) r->c[c].checked += (uint64_t)i64v(res, 0, 5);
        }
        if (PQgetisnull(res, i, 2)) continue;
        uint32_t id = PQgetisnull(res, i, 0) ? UINT32_MAX : instr_id(x, PQgetvalue(res, i, 0));
        int64_t ts = PQgetisnull(res, i, 1) ? INT64_MIN : i64v(res, i, 1);
        bool fail = !strcmp(PQgetvalue(res, i, 3), "t");
        vx_problem_src(r, c, fail ? TP_VS_FAIL : TP_VS_WARN, sources[table], id, ts, "%s",
                       PQgetvalue(res, i, 2));
        seen++;
    }
    if (total > seen) {
        /* counted, not listed: the failures come first in every query's order */
        struct vcheck *k = &r->c[c];
        k->problems += total - seen;
        if (k->st < TP_VS_FAIL) k->st = TP_VS_FAIL;
    }
    PQclear(res);
}

/* An example query: `SELECT instrument, ts_ns, detail, fail, count(*) OVER () FROM (inner)
 * q WHERE detail IS NOT NULL ORDER BY fail DESC, ts_ns LIMIT ROWS_MAX`. */
static void simple(struct pgx *x, enum tp_vcheck c, int table, const char *what, const char *inner)
{
    if (!x->ok[table]) return;
    char *sql = NULL;
    size_t need = strlen(inner) + 256;
    sql = malloc(need);
    if (!sql) {
        x->fatal = -ENOMEM;
        return;
    }
    snprintf(sql, need,
             "SELECT instrument, ts_ns, detail, fail, count(*) OVER () FROM (%s) q "
             "WHERE detail IS NOT NULL ORDER BY fail DESC, ts_ns LIMIT %u",
             inner, ROWS_MAX);
    examples(x, c, table, what, sql);
    free(sql);
}

/* Floors a bigint of ns to its minute / day (floor division for times before 1970). */
#define MIN_OF(e) "((" e ") - mod(mod(" e ", 60000000000) + 60000000000, 60000000000))"
#define DAY_OF(e) "floor((" e ") / 86400000000000.0)::bigint"
#define NS_OF(e)  "(extract(epoch FROM " e ") * 1000000000)::bigint"
#define TIME(e)   "to_char(" e " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* an interval's text ("1m", "15m", "1h") in ns; NULL when it is not one */
#define IVL_NS(e)                                                                                  \
    "(CASE WHEN " e " ~ '^[0-9]{1,6}[smhd]$' THEN left(" e ", -1)::bigint * CASE right(" e         \
    ", 1) WHEN 's' THEN 1000000000 WHEN 'm' THEN 60000000000 WHEN 'h' THEN 3600000000000 "         \
    "ELSE 86400000000000 END END)"
#define ISNAN(c) "WHEN " c " = 'NaN' THEN '" c " is NaN' "

/* ---- the checks -------------------------------------------------------------------------- */

static void check_schema(struct pgx *x)
{
    struct tp_validate_report *r = x->r;
    PGresult *res = query(x, TP_VC_SCHEMA, "schema",
                          "SELECT table_name::text, column_name::text, data_type::text "
                          "FROM information_schema.columns WHERE table_schema = current_schema() "
                          "AND table_name IN ('ticks', 'bars', 'anomalies', 'late', 'gaps', "
                          "'quality', 'tickpipe_offsets')");
    progress(x);
    if (!res) return;
    bool present[T_N] = {false};
    for (int t = 0; t < T_N; t++) x->ok[t] = true;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < T_N; t++)
            if (!strcmp(PQgetvalue(res, i, 0), tables[t])) present[t] = true;
    for (int t = 0; t < T_N; t++)
        if (!present[t]) {
            x->ok[t] = false;
            vx_problem_src(r, TP_VC_SCHEMA, TP_VS_FAIL, sources[t], UINT32_MAX, INT64_MIN,
                           "table %s is missing", tables[t]);
        }
    for (size_t k = 0; k < TP_ARRAY_LEN(cols); k++) {
        const struct col *cl = &cols[k];
        if (!present[cl->t]) continue;
        r->c[TP_VC_SCHEMA].checked++;
        const char *type = NULL;
        for (int i = 0; i < n && !type; i++)
            if (!strcmp(PQgetvalue(res, i, 0), tables[cl->t]) &&
                !strcmp(PQgetvalue(res, i, 1), cl->name))
                type = PQgetvalue(res, i, 2);
        if (type && !strcmp(type, cl->type)) continue;
        x->ok[cl->t] = false;
        if (type)
            vx_problem_src(r, TP_VC_SCHEMA, TP_VS_FAIL, sources[cl->t], UINT32_MAX, INT64_MIN,
                           "column %s.%s is %s, not %s", tables[cl->t], cl->name, type, cl->type);
        else
            vx_problem_src(r, TP_VC_SCHEMA, TP_VS_FAIL, sources[cl->t], UINT32_MAX, INT64_MIN,
                           "column %s.%s is missing", tables[cl->t], cl->name);
    }
    PQclear(res);
}

static const struct tp_validate_report *sort_r;

static int cmp_day(const void *a, const void *b)
{
    const struct vdaycount *x = a, *y = b;
    int c = strcmp(x->date, y->date);
    return c ? c
             : strcmp(tp_vstrs_get(&sort_r->instr, x->instr),
                      tp_vstrs_get(&sort_r->instr, y->instr));
}

/* Without the lake, the report's days are the database's (by date, then instrument). */
static int db_days(struct pgx *x)
{
    struct tp_validate_report *r = x->r;
    size_t n = 0;
    for (size_t i = 0; i < r->niday; i++) n += r->iday[i].db;
    if (!n) return 0;
    struct vdaycount *v = realloc(r->days, (r->ndays + n) * sizeof *v);
    if (!v) return -ENOMEM;
    r->days = v;
    r->capdays = r->ndays + n;
    for (size_t i = 0; i < r->niday; i++) {
        const struct viday *d = &r->iday[i];
        if (!d->db) continue;
        struct vdaycount *dc = &r->days[r->ndays++];
        memset(dc, 0, sizeof *dc);
        tp_date_format(d->day * 86400 * TP_NS_PER_SEC, dc->date);
        dc->instr = d->instr;
        dc->ticks = d->db_ticks;
        dc->trades = d->db_trades;
        dc->quotes = d->db_quotes;
        dc->other = d->db_ticks - d->db_trades - d->db_quotes;
        dc->bars_1m = d->db_bars;
        dc->first_ts = d->db_first;
        dc->last_ts = d->db_last;
    }
    sort_r = r;
    qsort(r->days, r->ndays, sizeof *r->days, cmp_day);
    return 0;
}

/* Per (instrument, day) counts of ticks and 1m bars; rows per table; the sink's offsets; the
 * quality table against the counts. */
static void check_counts(struct pgx *x)
{
    struct tp_validate_report *r = x->r;
    if (x->ok[T_TICKS]) {
        PGresult *res =
            query(x, TP_VC_COUNTS, "ticks per day",
                  "SELECT instrument, " DAY_OF(
                      "ts_ns") ", count(*), "
                               "count(*) FILTER (WHERE kind = 'trade'), count(*) FILTER (WHERE "
                               "kind = 'quote'), "
                               "min(ts_ns), max(ts_ns) FROM ticks GROUP BY 1, 2 ORDER BY 2, 1");
        progress(x);
        for (int i = 0; res && i < PQntuples(res); i++) {
            uint32_t id = instr_id(x, PQgetvalue(res, i, 0));
            struct viday *d = id == UINT32_MAX ? NULL : vx_iday(r, id, i64v(res, i, 1));
            if (!d) {
                r->iday_dropped++;
                continue;
            }
            d->db = true;
            d->db_ticks = (uint64_t)i64v(res, i, 2);
            r->db_rows[TP_LF_TICKS] += d->db_ticks;
            r->c[TP_VC_COUNTS].checked += d->db_ticks;
            d->db_trades = (uint64_t)i64v(res, i, 3);
            d->db_quotes = (uint64_t)i64v(res, i, 4);
            d->db_first = i64v(res, i, 5);
            d->db_last = i64v(res, i, 6);
        }
        if (res) PQclear(res);
        if (!r->db_rows[TP_LF_TICKS])
            vx_problem_src(r, TP_VC_COUNTS, TP_VS_FAIL, sources[T_TICKS], UINT32_MAX, INT64_MIN,
                           "the database has no ticks");
    }
    if (x->ok[T_BARS]) {
        PGresult *res =
            query(x, TP_VC_COUNTS, "1m bars per day",
                  "SELECT instrument, " DAY_OF(NS_OF("ts")) ", count(*) FROM bars "
                                                            "WHERE interval = '1m' GROUP BY 1, 2");
        progress(x);
        for (int i = 0; res && i < PQntuples(res); i++) {
            uint32_t id = instr_id(x, PQgetvalue(res, i, 0));
            struct viday *d = id == UINT32_MAX ? NULL : vx_iday(r, id, i64v(res, i, 1));
            if (!d) {
                r->iday_dropped++;
                continue;
            }
            d->db = true;
            d->db_bars = (uint64_t)i64v(res, i, 2);
        }
        if (res) PQclear(res);
    }
    if (!r->lake_ran && db_days(x) < 0) x->fatal = -ENOMEM;
    /* rows per table */
    static const struct {
        int t;
        enum tp_lf_table lf;
    } tabs[] = {{T_BARS, TP_LF_BARS},
                {T_ANOM, TP_LF_ANOMALIES},
                {T_LATE, TP_LF_LATE},
                {T_GAPS, TP_LF_GAPS}};
    for (size_t k = 0; k < TP_ARRAY_LEN(tabs); k++) {
        if (!x->ok[tabs[k].t]) continue;
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[tabs[k].t]);
        PGresult *res = query(x, TP_VC_COUNTS, tables[tabs[k].t], sql);
        if (res && PQntuples(res) == 1) r->db_rows[tabs[k].lf] = (uint64_t)i64v(res, 0, 0);
        if (res) PQclear(res);
    }
    progress(x);
    if (x->ok[T_OFFS]) {
        PGresult *res = query(x, TP_VC_COUNTS, "offsets",
                              "SELECT log, next_offset FROM tickpipe_offsets "
                              "WHERE sink = 'postgres'");
        int got = 0;
        for (int i = 0; res && i < PQntuples(res); i++) {
            int l = !strcmp(PQgetvalue(res, i, 0), "input")    ? 0
                    : !strcmp(PQgetvalue(res, i, 0), "output") ? 1
                                                               : -1;
            if (l < 0) continue;
            r->db_ack[l] = (uint64_t)i64v(res, i, 1);
            got |= 1 << l;
        }
        r->db_ack_known = got == 3;
        if (res) PQclear(res);
    }
    /* quality: the sink's per-day counters equal counts of the rows */
    if (x->ok[T_QUAL] && x->ok[T_TICKS])
        simple(x, TP_VC_COUNTS, T_QUAL, "quality against ticks",
               "SELECT coalesce(q.instrument, c.instrument) AS instrument, " NS_OF(
                   "coalesce(q.ts, c.ts)") " AS ts_ns, "
                                           "CASE WHEN q.ticks IS DISTINCT FROM coalesce(c.ticks, "
                                           "0) OR q.trades IS DISTINCT FROM coalesce(c.trades, 0) "
                                           "OR q.quotes IS DISTINCT FROM coalesce(c.quotes, 0) "
                                           "THEN format('quality says %s ticks, %s trades, %s "
                                           "quotes for %s; the ticks table has %s, %s, %s', "
                                           "coalesce(q.ticks, 0), coalesce(q.trades, 0), "
                                           "coalesce(q.quotes, 0), "
                                           "to_char(coalesce(q.ts, c.ts) AT TIME ZONE 'UTC', "
                                           "'YYYY-MM-DD'), coalesce(c.ticks, 0), "
                                           "coalesce(c.trades, 0), coalesce(c.quotes, 0)) END AS "
                                           "detail, true AS fail FROM quality q FULL JOIN "
                                           "(SELECT instrument, date_trunc('day', ts, 'UTC') AS "
                                           "ts, count(*) AS ticks, count(*) FILTER (WHERE kind = "
                                           "'trade') AS trades, count(*) FILTER (WHERE kind = "
                                           "'quote') AS quotes FROM ticks GROUP BY 1, 2) c USING "
                                           "(instrument, ts)");
}

static void check_nulls_values(struct pgx *x)
{
    simple(x, TP_VC_NULLS, T_TICKS, "ticks: nulls and NaN",
           "SELECT instrument, ts_ns, 'log_offset ' || log_offset || ': ' || CASE "
           "WHEN kind = 'trade' AND price IS NULL THEN 'trade price is null' "
           "WHEN kind = 'trade' AND size IS NULL THEN 'trade size is null' "
           "WHEN kind IN ('snapshot', 'bar') AND price IS NULL THEN kind || ' price is null' "
           "WHEN kind = 'quote' AND bid IS NULL AND ask IS NULL THEN 'quote without bid and "
           "ask' " ISNAN("price") ISNAN("size") ISNAN("bid") ISNAN("ask") ISNAN("bid_size")
               ISNAN("ask_size") ISNAN("open") ISNAN("high") ISNAN("low") ISNAN("change")
                   ISNAN("value") "END AS detail, true AS fail FROM ticks");
    simple(x, TP_VC_NULLS, T_BARS, "bars: nulls and NaN",
           "SELECT instrument, " NS_OF(
               "ts") " AS ts_ns, interval || ' bar: ' || CASE "
                     "WHEN open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL OR volume "
                     "IS NULL "
                     "THEN 'open, high, low, close or volume is null' " ISNAN("open") ISNAN("high")
                         ISNAN("low") ISNAN("close") ISNAN("volume") ISNAN("notional") ISNAN("vwap")
                             ISNAN("buy_volume") ISNAN("sell_volume") ISNAN("sma_20") ISNAN(
                                 "ema_20") ISNAN("bb_upper") ISNAN("bb_middle") ISNAN("bb_lower")
                                 ISNAN("rsi_14") ISNAN("macd") ISNAN("macd_signal")
                                     ISNAN("macd_hist") ISNAN("atr_14") ISNAN(
                                         "volatility_20") "END AS detail, true AS fail FROM bars");
    simple(x, TP_VC_NULLS, T_ANOM, "anomalies: NaN",
           "SELECT instrument, ts_ns, kind || ': ' || CASE " ISNAN("observed") ISNAN("expected")
               ISNAN("score") "END AS detail, true AS fail FROM anomalies");
    simple(x, TP_VC_NULLS, T_LATE, "late: NaN",
           "SELECT instrument, ts_ns, 'late log_offset ' || log_offset || ': ' || CASE " ISNAN(
               "price") ISNAN("size") ISNAN("bid") ISNAN("ask") "END AS detail, true AS fail "
                                                                "FROM late");
    simple(x, TP_VC_VALUES, T_TICKS, "ticks: values",
           "SELECT instrument, ts_ns, 'log_offset ' || log_offset || ': ' || CASE "
           "WHEN kind NOT IN ('trade', 'quote', 'snapshot', 'bar') "
           "THEN format('unknown kind ''%s''', kind) "
           "WHEN price <= 0 THEN 'price ' || price WHEN bid <= 0 THEN 'bid ' || bid "
           "WHEN ask <= 0 THEN 'ask ' || ask WHEN open <= 0 THEN 'open ' || open "
           "WHEN high <= 0 THEN 'high ' || high WHEN low <= 0 THEN 'low ' || low "
           "WHEN size < 0 THEN 'size ' || size WHEN bid_size < 0 THEN 'bid_size ' || bid_size "
           "WHEN ask_size < 0 THEN 'ask_size ' || ask_size "
           "WHEN floor(ts_ns / 1000.0) <> extract(epoch FROM ts) * 1000000 "
           "THEN 'ts and ts_ns disagree' END AS detail, true AS fail FROM ticks");
    simple(x, TP_VC_VALUES, T_BARS, "bars: values",
           "SELECT instrument, " NS_OF("ts") " AS ts_ns, CASE WHEN open <= 0 OR high <= 0 OR "
                                             "low <= 0 OR close <= 0 THEN interval || ' bar with "
                                             "a price <= 0' END AS detail, true AS fail FROM bars");
}

static void check_duplicates(struct pgx *x)
{
    if (!x->ok[T_TICKS]) return;
    examples(
        x, TP_VC_DUPLICATES, T_TICKS, "duplicate trade ids",
        "SELECT instrument, ts_ns, detail, fail, count(*) OVER (), sum(n) OVER () FROM ("
        "SELECT instrument, min(ts_ns) AS ts_ns, count(*) AS n, "
        "count(DISTINCT (ts_ns, price, size)) > 1 AS fail, "
        "format('trade id %s appears %s times (log_offset %s)%s', trade_id, count(*), "
        "array_to_string((array_agg(log_offset ORDER BY log_offset))[1:5], ', '), "
        "CASE WHEN count(DISTINCT (ts_ns, price, size)) > 1 "
        "THEN ' with different ts, price or size' ELSE ': identical copies' END) AS detail "
        "FROM ticks WHERE kind = 'trade' AND trade_id IS NOT NULL "
        "GROUP BY instrument, trade_id, " DAY_OF("ts_ns") " HAVING count(*) > 1) d "
                                                          "ORDER BY fail DESC, ts_ns LIMIT 10000");
}

static void check_bars(struct pgx *x)
{
    simple(
        x, TP_VC_BARS, T_BARS, "bars: consistency",
        "SELECT instrument, " NS_OF(
            "ts") " AS ts_ns, interval || ' bar: ' || CASE "
                  "WHEN high < low THEN format('high %s < low %s', high, low) "
                  "WHEN NOT (low <= open AND open <= high) "
                  "THEN format('open %s outside [low %s, high %s]', open, low, high) "
                  "WHEN NOT (low <= close AND close <= high) "
                  "THEN format('close %s outside [low %s, high %s]', close, low, high) "
                  "WHEN volume < 0 THEN format('volume %s < 0', volume) "
                  "WHEN trades <= 0 THEN format('trades %s <= 0', trades) "
                  "WHEN volume > 0 AND vwap IS NULL THEN 'vwap is null with volume > 0' "
                  "WHEN NOT (low <= vwap AND vwap <= high) "
                  "THEN format('vwap %s outside [low %s, high %s]', vwap, low, high) "
                  "WHEN " IVL_NS(
                      "interval") " IS NULL THEN 'unknown interval' "
                                  "WHEN " NS_OF("ts") " % " IVL_NS(
                                      "interval") " <> 0 "
                                                  "THEN 'ts is not aligned to the interval' "
                                                  "WHEN NOT (ts <= first_ts AND first_ts <= "
                                                  "last_ts AND " NS_OF("last_ts") " < " NS_OF(
                                                      "ts") " + " IVL_NS("interval") ") "
                                                                                     "THEN "
                                                                                     "'first_ts/"
                                                                                     "last_ts "
                                                                                     "outside the "
                                                                                     "window' END "
                                                                                     "AS detail, "
                                                                                     "true AS fail "
                                                                                     "FROM bars");
}

/* 1m bars against the trades of their minute (docs/validate.md, *Reconciling bars with
 * ticks*): duplicates of an id after the first and trades late for 1m left out; open and
 * close by (ts, log_offset) — the input journal's order is the engine's arrival order. */
static void check_reconcile(struct pgx *x)
{
    if (!x->ok[T_TICKS] || !x->ok[T_BARS] || !x->ok[T_LATE]) return;
    char sql[4096];
    snprintf(
        sql, sizeof sql,
        "WITH tr AS (SELECT instrument, ts_ns, price, size, trade_id, log_offset, "
        "row_number() OVER (PARTITION BY instrument, trade_id, " DAY_OF(
            "ts_ns") " ORDER BY log_offset) AS nth FROM ticks WHERE kind = 'trade'), "
                     "lt AS (SELECT DISTINCT instrument, ts_ns, price, size, trade_id FROM late "
                     "WHERE interval = '1m' AND kind = 'trade'), "
                     "t AS (SELECT * FROM tr WHERE (trade_id IS NULL OR nth = 1) "
                     "AND price > 0 AND price <> 'NaN' AND size >= 0 AND size <> 'NaN' "
                     "AND NOT EXISTS (SELECT 1 FROM lt WHERE lt.instrument = tr.instrument AND "
                     "CASE WHEN tr.trade_id IS NOT NULL THEN lt.trade_id = tr.trade_id ELSE "
                     "lt.trade_id IS NULL AND lt.ts_ns = tr.ts_ns AND lt.price = tr.price AND "
                     "lt.size = tr.size END)), "
                     "m AS (SELECT instrument, " MIN_OF(
                         "ts_ns") " AS mn, max(price) AS hi, min(price) AS lo, sum(size) AS vol, "
                                  "count(*) AS n, (array_agg(price ORDER BY ts_ns, "
                                  "log_offset))[1] AS op, (array_agg(price ORDER BY ts_ns DESC, "
                                  "log_offset DESC))[1] AS cl FROM t GROUP BY 1, 2), "
                                  "b AS (SELECT instrument, " NS_OF(
                                      "ts") " AS mn, open, high, low, close, volume, trades "
                                            "FROM bars WHERE interval = '1m'), "
                                            "lim AS (SELECT instrument, min(ts_ns) AS f, "
                                            "max(ts_ns) AS l FROM ticks GROUP BY 1), "
                                            "lb AS (SELECT instrument, max(mn) AS lastbar FROM b "
                                            "GROUP BY 1), "
                                            "ins AS (SELECT DISTINCT instrument FROM t), "
                                            "j AS (SELECT coalesce(m.instrument, b.instrument) "
                                            "AS instrument, coalesce(m.mn, b.mn) AS ts_ns, CASE "
                                            "WHEN b.instrument IS NULL THEN format('%%s trade "
                                            "ticks but no 1m bar', m.n) "
                                            "WHEN m.instrument IS NULL THEN format('1m bar of %%s "
                                            "trades, but no trade ticks', "
                                            "b.trades) "
                                            "WHEN b.high <> m.hi OR b.low <> m.lo THEN format('1m "
                                            "bar high/low %%s/%%s, ticks give "
                                            "%%s/%%s', b.high, b.low, m.hi, m.lo) "
                                            "WHEN b.open <> m.op THEN format('1m bar open %%s, "
                                            "ticks give %%s', b.open, m.op) "
                                            "WHEN b.close <> m.cl THEN format('1m bar close %%s, "
                                            "ticks give %%s', b.close, m.cl) "
                                            "WHEN b.trades <> m.n THEN format('1m bar of %%s "
                                            "trades, ticks give %%s', b.trades, m.n) "
                                            "WHEN abs(b.volume - m.vol) > 1e-9 * greatest(1, "
                                            "abs(m.vol)) "
                                            "THEN format('1m bar volume %%s, ticks give %%s', "
                                            "b.volume, m.vol) END AS detail "
                                            "FROM m FULL JOIN b ON m.instrument = b.instrument AND "
                                            "m.mn = b.mn) "
                                            "SELECT j.instrument, j.ts_ns, j.detail, true, "
                                            "count(j.detail) OVER (), count(*) OVER () "
                                            "FROM j JOIN lim USING (instrument) JOIN lb USING "
                                            "(instrument) "
                                            "JOIN ins USING (instrument) "
                                            "WHERE j.ts_ns > " MIN_OF(
                                                "lim.f") " AND j.ts_ns + 60000000000 + %lld <= "
                                                         "lim.l "
                                                         "AND j.ts_ns <= lb.lastbar "
                                                         "ORDER BY j.detail IS NULL, j.ts_ns LIMIT "
                                                         "%u",
        (long long)x->r->o.lateness_ns, ROWS_MAX);
    uint64_t before = x->r->c[TP_VC_RECONCILE].checked;
    examples(x, TP_VC_RECONCILE, T_BARS, "1m bars against ticks", sql);
    vx_note(x->r, TP_VC_RECONCILE, "database: %llu complete bar-minutes compared",
            (unsigned long long)(x->r->c[TP_VC_RECONCILE].checked - before));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void check_coverage(struct pgx *x)
{
    struct tp_validate_report *r = x->r;
    /* days without ticks between the first and the last (from the counts) */
    size_t n = 0;
    int64_t *days = malloc((r->niday + 1) * sizeof *days);
    if (!days) {
        x->fatal = -ENOMEM;
        return;
    }
    for (size_t i = 0; i < r->niday; i++)
        if (r->iday[i].db && r->iday[i].db_ticks) days[n++] = r->iday[i].day;
    qsort(days, n, sizeof *days, cmp_i64);
    for (size_t i = 1; i < n; i++)
        if (days[i] - days[i - 1] > 1) {
            char from[16], to[16];
            tp_date_format((days[i - 1] + 1) * 86400 * TP_NS_PER_SEC, from);
            tp_date_format((days[i] - 1) * 86400 * TP_NS_PER_SEC, to);
            vx_problem_src(r, TP_VC_COVERAGE, TP_VS_FAIL, sources[T_TICKS], UINT32_MAX,
                           (days[i - 1] + 1) * 86400 * TP_NS_PER_SEC, "no ticks for %s%s%s", from,
                           days[i] - days[i - 1] > 2 ? " to " : "",
                           days[i] - days[i - 1] > 2 ? to : "");
        }
    free(days);
    if (r->o.max_gap_ns) {
        int64_t gap_min = (r->o.max_gap_ns + 60 * TP_NS_PER_SEC - 1) / (60 * TP_NS_PER_SEC);
        char sql[1536];
        snprintf(sql, sizeof sql,
                 "SELECT instrument, mn AS ts_ns, CASE WHEN gap >= %lld THEN "
                 "format('no ticks for %%s minutes (from %%s)', gap, " TIME(
                     "to_timestamp((mn - gap * 60000000000) / 1e9)") ") END AS detail, true AS "
                                                                     "fail FROM (SELECT "
                                                                     "instrument, mn, (mn - "
                                                                     "lag(mn) OVER (PARTITION BY "
                                                                     "instrument ORDER BY mn)) / "
                                                                     "60000000000 - 1 AS gap "
                                                                     "FROM (SELECT DISTINCT "
                                                                     "instrument, " MIN_OF(
                                                                         "ts_ns") " AS mn FROM "
                                                                                  "ticks) s) g",
                 (long long)gap_min);
        simple(x, TP_VC_COVERAGE, T_TICKS, "minutes without ticks", sql);
    }
    simple(x, TP_VC_COVERAGE, T_GAPS, "recorded gaps",
           "SELECT instrument, ts_ns, CASE WHEN NOT backfilled THEN format('recorded gap "
           "%s..%s not backfilled', first_missing, last_missing) END AS detail, true AS fail "
           "FROM gaps");
}

static void check_freshness(struct pgx *x)
{
    struct tp_validate_report *r = x->r;
    if (!r->o.max_age_ns || !x->ok[T_TICKS]) return;
    char sql[768];
    snprintf(sql, sizeof sql,
             "SELECT instrument, l AS ts_ns, CASE WHEN l < %lld THEN format('latest event is "
             "%%s s old', (%lld - l) / 1000000000) END AS detail, true AS fail FROM (SELECT "
             "instrument, max(ts_ns) AS l FROM ticks GROUP BY 1) f",
             (long long)(r->o.as_of_ns - r->o.max_age_ns), (long long)r->o.as_of_ns);
    simple(x, TP_VC_FRESHNESS, T_TICKS, "freshness", sql);
}

/* Lake, database and journal counts per (instrument, day). */
static void check_database(struct pgx *x)
{
    struct tp_validate_report *r = x->r;
    if (!r->lake_ran) {
        vx_skip(r, TP_VC_DATABASE, "no lake to compare with (--data)");
        return;
    }
    /* counts are comparable when both acknowledged the same offsets; else mismatches are
     * what a running pipeline shows, and are warnings */
    bool same = r->db_ack_known && r->lake_ack_known && r->db_ack[0] == r->lake_ack[0] &&
                r->db_ack[1] == r->lake_ack[1];
    /* the journal is comparable when it still holds everything (no retention) and both
     * stores acknowledged all of it */
    bool jok = same && r->jhave[0] && r->jhave[1] && r->jfirst[0] == 0 && r->jfirst[1] == 0 &&
               r->jnext[0] == r->db_ack[0] && r->jnext[1] == r->db_ack[1];
    enum tp_vstatus sev = same ? TP_VS_FAIL : TP_VS_WARN;
    uint64_t mism = 0;
    for (size_t i = 0; i < r->niday; i++) {
        const struct viday *d = &r->iday[i];
        if (!d->lake && !d->db && !d->jnl) continue;
        r->c[TP_VC_DATABASE].checked++;
        int64_t ts = d->day * 86400 * TP_NS_PER_SEC;
        char date[16];
        tp_date_format(ts, date);
        char jt[48] = "", jb[48] = "";
        if (jok && d->jnl) {
            snprintf(jt, sizeof jt, ", journal %llu", (unsigned long long)d->j_ticks);
            snprintf(jb, sizeof jb, ", journal %llu", (unsigned long long)d->j_bars);
        }
        bool tbad = d->lake_ticks != d->db_ticks || (jok && d->j_ticks != d->db_ticks);
        bool bbad = d->lake_bars != d->db_bars || (jok && d->j_bars != d->db_bars);
        if (tbad)
            vx_problem_src(r, TP_VC_DATABASE, sev, "postgres:ticks", d->instr, ts,
                           "%s %s: ticks: lake %llu, database %llu%s", date,
                           tp_vstrs_get(&r->instr, d->instr), (unsigned long long)d->lake_ticks,
                           (unsigned long long)d->db_ticks, jt);
        if (bbad)
            vx_problem_src(r, TP_VC_DATABASE, sev, "postgres:bars", d->instr, ts,
                           "%s %s: 1m bars: lake %llu, database %llu%s", date,
                           tp_vstrs_get(&r->instr, d->instr), (unsigned long long)d->lake_bars,
                           (unsigned long long)d->db_bars, jb);
        mism += tbad || bbad;
    }
    if (r->iday_dropped)
        vx_problem_src(r, TP_VC_DATABASE, TP_VS_FAIL, NULL, UINT32_MAX, INT64_MIN,
                       "%llu (instrument, day) counts not kept (more than %u)",
                       (unsigned long long)r->iday_dropped, VX_IDAY_MAX);
    if (!same) {
        if (r->db_ack_known && r->lake_ack_known)
            vx_note(r, TP_VC_DATABASE,
                    "the lake acknowledged input %llu / output %llu, the database %llu / %llu: "
                    "differences are warnings while they catch up",
                    (unsigned long long)r->lake_ack[0], (unsigned long long)r->lake_ack[1],
                    (unsigned long long)r->db_ack[0], (unsigned long long)r->db_ack[1]);
        else
            vx_note(r, TP_VC_DATABASE, "acknowledged offsets unknown: differences are warnings");
    }
    vx_note(r, TP_VC_DATABASE, "%llu (instrument, day) compared (ticks and 1m bars)%s",
            (unsigned long long)(r->c[TP_VC_DATABASE].checked),
            jok     ? ", the journal too"
            : !same ? ""
                    : ", not the journal (retention or not read)");
    (void)mism;
}

int vx_pg(struct tp_validate_report *r, char *err, size_t errcap)
{
    struct pgx x = {.r = r, .err = err, .errcap = errcap, .nsteps = 17};
    char e[TP_PG_ERRLEN];
    int rc = tp_pg_connect(r->o.postgres, &x.c, e, sizeof e);
    if (rc < 0) {
        snprintf(err, errcap, "postgres: %s", e);
        return rc;
    }
    check_schema(&x);
    check_counts(&x);
    check_nulls_values(&x);
    check_duplicates(&x);
    check_bars(&x);
    check_reconcile(&x);
    check_coverage(&x);
    check_freshness(&x);
    if (!x.fatal) check_database(&x);
    if (r->o.progress && x.step < x.nsteps) r->o.progress(r->o.ctx, x.nsteps, x.nsteps);
    PQfinish(x.c);
    return x.fatal;
}

/* ---- storing the report ------------------------------------------------------------------ */

static int exec_params(PGconn *c, const char *sql, int n, const char *const *v, char *err,
                       size_t errcap)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = tp_pg_errno(c, res);
        snprintf(err, errcap, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(c));
        for (char *p = err; *p; p++)
            if (*p == '\n') *p = p[1] ? ' ' : 0;
    }
    PQclear(res);
    return rc;
}

int tp_validate_store_pg(const struct tp_validate_report *r, const struct tp_buf *json, char *err,
                         size_t errcap)
{
    PGconn *c;
    char e[TP_PG_ERRLEN];
    int rc = tp_pg_connect(r->o.postgres, &c, e, sizeof e);
    if (rc < 0) {
        snprintf(err, errcap, "%s", e);
        return rc;
    }
    PGresult *res = NULL;
    rc = tp_pg_exec(c, "SELECT to_regclass('tickpipe_schema_version') IS NOT NULL", &res, e,
                    sizeof e);
    bool have = rc == 0 && res && PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
    if (res) PQclear(res);
    if (rc == 0 && !have) {
        snprintf(err, errcap,
                 "the database has no tickpipe schema (run the pipeline with "
                 "--postgres first)");
        rc = -ENOENT;
    }
    int from;
    if (rc == 0) rc = tp_pg_migrate(c, &from, e, sizeof e);
    if (rc == 0) rc = tp_pg_exec(c, "BEGIN", NULL, e, sizeof e);
    char run_at[TP_TIME_STRLEN];
    tp_time_format(r->run_at, run_at);
    if (rc == 0) {
        char *body = malloc(json->len + 1);
        if (!body) {
            rc = -ENOMEM;
        } else {
            memcpy(body, json->p, json->len);
            body[json->len] = 0;
            const char *v[] = {run_at, tp_validate_ok(r) ? "t" : "f", body};
            rc = exec_params(c,
                             "INSERT INTO quality_reports (run_at, ok, report) "
                             "VALUES ($1, $2, $3::jsonb) ON CONFLICT (run_at) DO UPDATE SET "
                             "ok = excluded.ok, report = excluded.report",
                             3, v, e, sizeof e);
            free(body);
        }
    }
    for (size_t i = 0; rc == 0 && i < r->niday; i++) {
        const struct viday *d = &r->iday[i];
        char day[TP_TIME_STRLEN], problems[24], failed[TP_VC_N * 12] = "";
        tp_time_format(d->day * 86400 * TP_NS_PER_SEC, day);
        snprintf(problems, sizeof problems, "%llu", (unsigned long long)(d->fail + d->warn));
        size_t fl = 0;
        for (int k = 0; k < TP_VC_N; k++)
            if (d->failed_mask >> k & 1)
                fl += (size_t)snprintf(failed + fl, sizeof failed - fl, "%s%s", fl ? "," : "",
                                       tp_vcheck_name((enum tp_vcheck)k));
        const char *v[] = {
            tp_vstrs_get(&r->instr, d->instr),          day,      run_at,
            d->fail ? "fail" : d->warn ? "warn" : "ok", problems, fl ? failed : NULL};
        rc = exec_params(c,
                         "INSERT INTO quality (instrument, ts, validated_at, validation, "
                         "problems, failed_checks) VALUES ($1, $2, $3, $4, $5, $6) "
                         "ON CONFLICT (instrument, ts) DO UPDATE SET validated_at = "
                         "excluded.validated_at, validation = excluded.validation, "
                         "problems = excluded.problems, failed_checks = excluded.failed_checks",
                         6, v, e, sizeof e);
    }
    if (rc == 0) rc = tp_pg_exec(c, "COMMIT", NULL, e, sizeof e);
    if (rc < 0) {
        if (!err[0] || rc != -ENOENT) snprintf(err, errcap, "%s", e);
        tp_pg_rollback(c);
    }
    PQfinish(c);
    return rc;
}
