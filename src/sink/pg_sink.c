/*
 * pg_sink.c — the PostgreSQL sink (see pg.h; tables and choices in docs/postgres.md).
 *
 * A batch is built in memory as binary COPY streams, one per table (ticks, and staging tables
 * for the rest), and written by `flush` in one transaction:
 *
 *   [day partitions the batch needs, created beforehand in their own transaction]
 *   BEGIN; SELECT ... FROM tickpipe_offsets WHERE sink = 'postgres' FOR UPDATE
 *   [replay only: DELETE FROM ticks WHERE log_offset in the batch's range]
 *   COPY ticks ; COPY stage_quality ; COPY stage_bars ; ...
 *   INSERT ... SELECT FROM stage_* ON CONFLICT ... ; quality += what was inserted
 *   UPDATE tickpipe_offsets SET next_offset = ... ; COMMIT
 *
 * Invariants:
 *  1. Rows of log offsets >= the acknowledged offset of their log are never committed: every
 *     transaction that writes rows also moves the offsets past them. So after open, the sink
 *     resumes exactly where the database ends.
 *  2. The offsets row is locked and checked at the start of each transaction: if it is not
 *     what this sink acknowledged last, someone else writes with the same sink name (or
 *     reset it), and the transaction is abandoned (-ESTALE: the runner reopens and resumes
 *     from what the table says).
 *  3. By 1, COPY straight into `ticks` (which has no unique index: see docs/postgres.md)
 *     cannot duplicate a row unless the offsets were moved back by hand. Open checks for
 *     that: it finds the largest ticks offset at or past the acknowledged one (a block-range
 *     index scan); while a batch's offsets are below it, the batch first deletes the rows of
 *     its own offset range (delete-by-offset-range), so a replayed offset changes nothing.
 *  4. `quality` counts the rows each transaction inserted, minus those a replay deleted
 *     (from DELETE ... RETURNING); bars, anomalies, gaps and late count only rows inserted,
 *     not updated (INSERT ... RETURNING). So it stays exact under replays.
 *  5. Memory: one batch, each buffer capped; `write` asks for a flush at the thresholds,
 *     before any buffer can reach its cap. Failing calls keep nothing: the runner re-delivers
 *     from the acknowledged offsets after open.
 *
 * Runs on the sink runner's thread only.
 */
#include <math.h>

#include "core/instrument.h"
#include "core/log.h"
#include "core/tptime.h"
#include "log/record.h"
#include "sink/pg.h"
#include "sink/pg_int.h"

#define SINK_NAME "postgres"

#define FLUSH_TICK_BYTES (8u << 20) /* ticks COPY stream that asks for a flush */
#define FLUSH_OUT_BYTES  (4u << 20) /* output tables together */
#define ROW_MAX          2048u      /* more than any encoded row */
#define MAX_DAYS         64         /* distinct days per batch (partitions to ensure) */
#define FLUSH_DAYS       48
#define QMAP_CAP         8192 /* (instrument, day) quality counters per batch */
#define FLUSH_QMAP       4096
#define KNOWN_MAX        4096 /* cached partition days */
#define AHEAD_DAYS       3    /* partitions created ahead of today (UTC) */
#define AHEAD_EVERY      (3600 * TP_NS_PER_SEC)

enum { B_TICKS, B_QUAL, B_BARS, B_ANOM, B_LATE, B_GAPS, NBUF };

static const char *const copy_into[NBUF] = {
    [B_TICKS] = "COPY ticks FROM STDIN (FORMAT binary)",
    [B_QUAL] = "COPY stage_quality (instrument, ts, ticks, trades, quotes, late, gaps, anomalies) "
               "FROM STDIN (FORMAT binary)",
    [B_BARS] = "COPY stage_bars FROM STDIN (FORMAT binary)",
    [B_ANOM] = "COPY stage_anomalies FROM STDIN (FORMAT binary)",
    [B_LATE] = "COPY stage_late FROM STDIN (FORMAT binary)",
    [B_GAPS] = "COPY stage_gaps FROM STDIN (FORMAT binary)",
};

struct qent {
    uint32_t instr; /* 0 = free slot */
    int64_t day;
    uint64_t ticks, trades, quotes;
};

struct tp_pg_sink {
    char *conninfo;
    char name[128]; /* its rows in tickpipe_offsets: "postgres", or "postgres/TOPIC/pN" */
    uint64_t off_begin, off_end; /* its offsets are in [off_begin, off_end) (0, UINT64_MAX; a
                                  * Kafka partition's range): new offsets rows start at
                                  * off_begin, and ticks outside are never looked at */
    PGconn *c;
    struct tp_buf buf[NBUF]; /* binary COPY streams (header written with the first row) */
    uint64_t rows[NBUF];
    uint64_t ack[2];     /* acknowledged: what tickpipe_offsets says */
    uint64_t next[2];    /* after the last record handed to write */
    uint64_t replay_end; /* ticks rows exist below this offset, past the ack (invariant 3) */
    int64_t days[MAX_DAYS];
    size_t ndays;
    int64_t known[KNOWN_MAX]; /* sorted days whose partition exists */
    size_t nknown;
    int64_t next_ahead; /* monotonic time of the next ahead-of-time partition check */
    struct qent *q;
    size_t nq;
    struct tp_buf sql;
    char err[TP_PG_ERRLEN];
    char logged[TP_PG_ERRLEN + 64]; /* the last message logged (one line per outage) */
};

/* ---- errors ---- */

static int fail(struct tp_pg_sink *s, int rc, const char *what)
{
    char line[TP_PG_ERRLEN + 64];
    snprintf(line, sizeof line, "%s: %s", what, s->err);
    if (strcmp(line, s->logged)) {
        tp_warn("sink %s: %s", s->name, line);
        snprintf(s->logged, sizeof s->logged, "%s", line);
    }
    return rc;
}

/* ---- partitions ---- */

static bool known_day(const struct tp_pg_sink *s, int64_t day, size_t *at)
{
    size_t lo = 0, hi = s->nknown;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->known[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return lo < s->nknown && s->known[lo] == day;
}

static void add_known(struct tp_pg_sink *s, int64_t day)
{
    size_t at;
    if (known_day(s, day, &at)) return;
    if (s->nknown == KNOWN_MAX) { /* forget: the next batch re-checks with IF NOT EXISTS */
        s->nknown = 0;
        at = 0;
    }
    memmove(&s->known[at + 1], &s->known[at], (s->nknown - at) * sizeof s->known[0]);
    s->known[at] = day;
    s->nknown++;
}

/* Creates the partitions of days[0..n) not known to exist. */
static int ensure_days(struct tp_pg_sink *s, const int64_t *days, size_t n)
{
    int64_t need[MAX_DAYS];
    size_t k = 0, at;
    for (size_t i = 0; i < n && k < MAX_DAYS; i++)
        if (!known_day(s, days[i], &at)) need[k++] = days[i];
    if (!k) return 0;
    int rc = tp_pg_day_partitions(s->c, need, k, s->err, sizeof s->err);
    if (rc < 0) return fail(s, rc, "creating day partitions of ticks");
    for (size_t i = 0; i < k; i++) add_known(s, need[i]);
    return 0;
}

/* Yesterday, today and AHEAD_DAYS days ahead (UTC, wall clock), once an hour. */
static int ensure_ahead(struct tp_pg_sink *s)
{
    int64_t now = tp_mono_ns();
    if (now < s->next_ahead) return 0;
    int64_t today = tp_pg_day(tp_now_ns());
    int64_t days[AHEAD_DAYS + 2];
    for (int i = 0; i < AHEAD_DAYS + 2; i++) days[i] = today - 1 + i;
    int rc = ensure_days(s, days, TP_ARRAY_LEN(days));
    if (rc == 0) s->next_ahead = now + AHEAD_EVERY;
    return rc;
}

/* ---- encoding ---- */

static void reset_batch(struct tp_pg_sink *s)
{
    for (int i = 0; i < NBUF; i++) {
        tp_buf_reset(&s->buf[i]);
        s->rows[i] = 0;
    }
    s->ndays = 0;
    if (s->nq) memset(s->q, 0, QMAP_CAP * sizeof s->q[0]);
    s->nq = 0;
}

/* Starts a row in buffer i (the stream's header before the first). */
static int row(struct tp_pg_sink *s, int i, int nfields)
{
    int rc = 0;
    if (s->rows[i]++ == 0) rc = tp_pgc_header(&s->buf[i]);
    return rc ? rc : tp_pgc_row(&s->buf[i], nfields);
}

static int text(struct tp_buf *b, const char *str)
{
    return tp_pgc_text(b, str, strlen(str));
}

static int interval_text(struct tp_buf *b, int64_t ns)
{
    char iv[32] = "";
    if (ns > 0) tp_duration_format(ns, iv, sizeof iv);
    return text(b, iv);
}

/* The 19 ticks columns of an event. */
static int tick_columns(struct tp_buf *b, const struct tp_event *e)
{
    int rc = tp_pgc_ts(b, e->ts);
    rc = rc ? rc : tp_pgc_i8(b, e->ts);
    rc = rc ? rc : tp_pgc_ts(b, e->ts_recv);
    rc = rc ? rc : text(b, tp_instr_name(e->instr));
    rc = rc ? rc : tp_pgc_text_or_null(b, e->venue_symbol, e->vsym_len);
    rc = rc ? rc : text(b, tp_kind_name((enum tp_kind)e->kind));
    rc = rc ? rc : tp_pgc_f8(b, e->price);
    rc = rc ? rc : tp_pgc_f8(b, e->size);
    const char *side = tp_side_name((enum tp_side)e->side);
    rc = rc ? rc : tp_pgc_text_or_null(b, side, strlen(side));
    if (rc) return rc;
    if ((e->flags & TP_EV_ID_STR) && e->trade_id_len) {
        rc = tp_pgc_text(b, e->trade_id_str, e->trade_id_len);
    } else if (e->flags & TP_EV_HAS_ID) {
        char id[24];
        int n = snprintf(id, sizeof id, "%llu", (unsigned long long)e->trade_id);
        rc = tp_pgc_text(b, id, (size_t)n);
    } else {
        rc = tp_pgc_null(b);
    }
    const double v[] = {e->bid,  e->ask, e->bid_size, e->ask_size, e->open,
                        e->high, e->low, e->change,   e->value};
    for (size_t i = 0; i < TP_ARRAY_LEN(v) && !rc; i++) rc = tp_pgc_f8(b, v[i]);
    return rc;
}

static struct qent *qslot(struct tp_pg_sink *s, uint32_t instr, int64_t day)
{
    uint64_t h = ((uint64_t)instr * 0x9e3779b97f4a7c15u) ^ ((uint64_t)day * 0xc2b2ae3d27d4eb4fu);
    for (size_t i = (size_t)(h >> 51) & (QMAP_CAP - 1);; i = (i + 1) & (QMAP_CAP - 1)) {
        struct qent *q = &s->q[i];
        if (q->instr == instr && q->day == day) return q;
        if (q->instr == 0) {
            q->instr = instr;
            q->day = day;
            s->nq++;
            return q;
        }
    }
}

static int put_tick(struct tp_pg_sink *s, const struct tp_event *e, uint64_t off)
{
    struct tp_buf *b = &s->buf[B_TICKS];
    int rc = row(s, B_TICKS, 20);
    rc = rc ? rc : tick_columns(b, e);
    rc = rc ? rc : tp_pgc_i8(b, (int64_t)off);
    if (rc) return rc;
    int64_t day = tp_pg_day(e->ts);
    size_t i = 0;
    while (i < s->ndays && s->days[i] != day) i++;
    if (i == s->ndays) s->days[s->ndays++] = day; /* < MAX_DAYS: write flushes at FLUSH_DAYS */
    struct qent *q = qslot(s, e->instr, day);
    q->ticks++;
    q->trades += e->kind == TP_KIND_TRADE;
    q->quotes += e->kind == TP_KIND_QUOTE;
    return 0;
}

static int put_bar(struct tp_pg_sink *s, const struct tp_bar *r, uint64_t off)
{
    struct tp_buf *b = &s->buf[B_BARS];
    int rc = row(s, B_BARS, 27);
    rc = rc ? rc : text(b, tp_instr_name(r->instr));
    rc = rc ? rc : interval_text(b, r->interval_ns);
    rc = rc ? rc : tp_pgc_ts(b, r->ts);
    const double a[] = {r->open, r->high, r->low, r->close, r->volume, r->notional, r->vwap};
    for (size_t i = 0; i < TP_ARRAY_LEN(a) && !rc; i++) rc = tp_pgc_f8(b, a[i]);
    rc = rc ? rc : tp_pgc_i8(b, (int64_t)r->trades);
    rc = rc ? rc : tp_pgc_f8(b, r->buy_volume);
    rc = rc ? rc : tp_pgc_f8(b, r->sell_volume);
    rc = rc ? rc : tp_pgc_ts(b, r->first_ts);
    rc = rc ? rc : tp_pgc_ts(b, r->last_ts);
    const struct tp_ind_values *v = &r->ind;
    const double ind[] = {v->sma,  v->ema,         v->bb_upper,  v->bb_middle, v->bb_lower,  v->rsi,
                          v->macd, v->macd_signal, v->macd_hist, v->atr,       v->volatility};
    for (size_t i = 0; i < TP_ARRAY_LEN(ind) && !rc; i++) rc = tp_pgc_f8(b, ind[i]);
    return rc ? rc : tp_pgc_i8(b, (int64_t)off);
}

static int put_anomaly(struct tp_pg_sink *s, const struct tp_anomaly *a, uint64_t off)
{
    struct tp_buf *b = &s->buf[B_ANOM];
    int rc = row(s, B_ANOM, 9);
    rc = rc ? rc : text(b, tp_instr_name(a->instr));
    rc = rc ? rc : tp_pgc_ts(b, a->ts);
    rc = rc ? rc : text(b, tp_anomaly_kind_name((enum tp_anomaly_kind)a->kind));
    rc = rc ? rc : tp_pgc_f8(b, a->observed);
    rc = rc ? rc : tp_pgc_f8(b, a->expected);
    rc = rc ? rc : tp_pgc_f8(b, a->score);
    rc = rc ? rc : interval_text(b, a->interval_ns);
    rc = rc ? rc : tp_pgc_i8(b, a->ts);
    return rc ? rc : tp_pgc_i8(b, (int64_t)off);
}

static int put_late(struct tp_pg_sink *s, const struct tp_event *e, int64_t iv, uint64_t off)
{
    struct tp_buf *b = &s->buf[B_LATE];
    int rc = row(s, B_LATE, 21);
    rc = rc ? rc : tick_columns(b, e);
    rc = rc ? rc : interval_text(b, iv);
    return rc ? rc : tp_pgc_i8(b, (int64_t)off);
}

static int put_gap(struct tp_pg_sink *s, const struct tp_gap *g, uint64_t off)
{
    struct tp_buf *b = &s->buf[B_GAPS];
    char first[24], last[24];
    int nf = snprintf(first, sizeof first, "%llu", (unsigned long long)g->first_missing);
    int nl = snprintf(last, sizeof last, "%llu", (unsigned long long)g->last_missing);
    int rc = row(s, B_GAPS, 8);
    rc = rc ? rc : text(b, tp_instr_name(g->instr));
    rc = rc ? rc : tp_pgc_ts(b, g->ts);
    rc = rc ? rc : tp_pgc_text(b, first, (size_t)nf);
    rc = rc ? rc : tp_pgc_text(b, last, (size_t)nl);
    rc = rc ? rc : tp_pgc_bool(b, g->backfilled);
    rc = rc ? rc : tp_pgc_bool(b, g->by_time);
    rc = rc ? rc : tp_pgc_i8(b, g->ts);
    return rc ? rc : tp_pgc_i8(b, (int64_t)off);
}

/* The quality counters of the batch's ticks as stage_quality rows. */
static int put_quality(struct tp_pg_sink *s)
{
    struct tp_buf *b = &s->buf[B_QUAL];
    tp_buf_reset(b);
    s->rows[B_QUAL] = 0;
    int rc = 0;
    for (size_t i = 0; i < QMAP_CAP && !rc; i++) {
        const struct qent *q = &s->q[i];
        if (!q->instr) continue;
        rc = row(s, B_QUAL, 8);
        rc = rc ? rc : text(b, tp_instr_name(q->instr));
        rc = rc ? rc : tp_pgc_ts(b, q->day * 86400 * TP_NS_PER_SEC);
        const uint64_t v[] = {q->ticks, q->trades, q->quotes, 0, 0, 0};
        for (size_t k = 0; k < TP_ARRAY_LEN(v) && !rc; k++) rc = tp_pgc_i8(b, (int64_t)v[k]);
    }
    return rc;
}

/* ---- the transaction ---- */

#define DAY_OF(col) "date_trunc('day', " col ", 'UTC')"

/* invariant 3: the rows of the batch's input offset range go, and their counts with them */
static const char SQL_TICKS_REPLAY[] =
    "WITH del AS (DELETE FROM ticks WHERE log_offset >= %llu AND log_offset < %llu "
    "RETURNING instrument, ts, kind) "
    "INSERT INTO stage_quality (instrument, ts, ticks, trades, quotes) "
    "SELECT instrument, date_trunc('day', ts, 'UTC'), -count(*), "
    "-count(*) FILTER (WHERE kind = 'trade'), -count(*) FILTER (WHERE kind = 'quote') "
    "FROM del GROUP BY 1, 2";

static const char SQL_BARS[] =
    "INSERT INTO bars SELECT DISTINCT ON (instrument, interval, ts) instrument, interval, ts, "
    "open, high, low, close, volume, notional, vwap, trades, buy_volume, sell_volume, first_ts, "
    "last_ts, sma_20, ema_20, bb_upper, bb_middle, bb_lower, rsi_14, macd, macd_signal, "
    "macd_hist, atr_14, volatility_20 FROM stage_bars "
    "ORDER BY instrument, interval, ts, log_offset DESC "
    "ON CONFLICT (instrument, interval, ts) DO UPDATE SET open = excluded.open, "
    "high = excluded.high, low = excluded.low, close = excluded.close, "
    "volume = excluded.volume, notional = excluded.notional, vwap = excluded.vwap, "
    "trades = excluded.trades, buy_volume = excluded.buy_volume, "
    "sell_volume = excluded.sell_volume, first_ts = excluded.first_ts, "
    "last_ts = excluded.last_ts, sma_20 = excluded.sma_20, ema_20 = excluded.ema_20, "
    "bb_upper = excluded.bb_upper, bb_middle = excluded.bb_middle, "
    "bb_lower = excluded.bb_lower, rsi_14 = excluded.rsi_14, macd = excluded.macd, "
    "macd_signal = excluded.macd_signal, macd_hist = excluded.macd_hist, "
    "atr_14 = excluded.atr_14, volatility_20 = excluded.volatility_20;";

static const char SQL_ANOM[] =
    "WITH up AS (INSERT INTO anomalies SELECT DISTINCT ON (instrument, ts_ns, kind, interval) "
    "instrument, ts, kind, observed, expected, score, interval, ts_ns FROM stage_anomalies "
    "ORDER BY instrument, ts_ns, kind, interval, log_offset DESC "
    "ON CONFLICT (instrument, ts_ns, kind, interval) DO UPDATE SET ts = excluded.ts, "
    "observed = excluded.observed, expected = excluded.expected, score = excluded.score "
    "RETURNING instrument, ts, xmax = 0 AS inserted) "
    "INSERT INTO stage_quality (instrument, ts, anomalies) "
    "SELECT instrument, " DAY_OF("ts") ", count(*) FROM up WHERE inserted GROUP BY 1, 2;";

static const char SQL_LATE[] =
    "WITH ins AS (INSERT INTO late SELECT * FROM stage_late ON CONFLICT (log_offset) DO NOTHING "
    "RETURNING instrument, ts) "
    "INSERT INTO stage_quality (instrument, ts, late) "
    "SELECT instrument, " DAY_OF("ts") ", count(*) FROM ins GROUP BY 1, 2;";

static const char SQL_GAPS[] =
    "WITH up AS (INSERT INTO gaps SELECT DISTINCT ON (instrument, ts_ns, first_missing::numeric, "
    "last_missing::numeric) instrument, ts, first_missing::numeric, last_missing::numeric, "
    "backfilled, by_time, ts_ns FROM stage_gaps "
    "ORDER BY instrument, ts_ns, first_missing::numeric, last_missing::numeric, log_offset DESC "
    "ON CONFLICT (instrument, ts_ns, first_missing, last_missing) DO UPDATE SET "
    "backfilled = excluded.backfilled, by_time = excluded.by_time, ts = excluded.ts "
    "RETURNING instrument, ts, xmax = 0 AS inserted) "
    "INSERT INTO stage_quality (instrument, ts, gaps) "
    "SELECT instrument, " DAY_OF("ts") ", count(*) FROM up WHERE inserted GROUP BY 1, 2;";

static const char SQL_QUALITY[] =
    "INSERT INTO quality (instrument, ts, ticks, trades, quotes, late, gaps, anomalies) "
    "SELECT instrument, ts, sum(ticks), sum(trades), sum(quotes), sum(late), sum(gaps), "
    "sum(anomalies) FROM stage_quality GROUP BY 1, 2 "
    "ON CONFLICT (instrument, ts) DO UPDATE SET ticks = quality.ticks + excluded.ticks, "
    "trades = quality.trades + excluded.trades, quotes = quality.quotes + excluded.quotes, "
    "late = quality.late + excluded.late, gaps = quality.gaps + excluded.gaps, "
    "anomalies = quality.anomalies + excluded.anomalies;";

/* Locks this sink's offsets rows and checks them against what it acknowledged (invariant 2). */
static int begin_checked(struct tp_pg_sink *s)
{
    PGresult *r;
    struct tp_buf *q = &s->sql;
    tp_buf_reset(q);
    int rc = tp_buf_printf(q,
                           "BEGIN; SELECT log, next_offset FROM tickpipe_offsets "
                           "WHERE sink = '%s' FOR UPDATE",
                           s->name);
    if (rc == 0) rc = tp_pg_exec(s->c, q->p, &r, s->err, sizeof s->err);
    if (rc < 0) return rc;
    int ok = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *log = PQgetvalue(r, i, 0);
        uint64_t v = strtoull(PQgetvalue(r, i, 1), NULL, 10);
        int l = !strcmp(log, "input") ? 0 : !strcmp(log, "output") ? 1 : -1;
        if (l >= 0 && v == s->ack[l]) ok++;
    }
    PQclear(r);
    if (ok != 2) {
        snprintf(s->err, sizeof s->err,
                 "tickpipe_offsets for sink '%s' changed under this process "
                 "(another tickpipe writing to this database, or a reset by hand): resuming "
                 "from what the table says",
                 s->name);
        return -ESTALE;
    }
    return 0;
}

static int copy_buf(struct tp_pg_sink *s, int i, const char *sql)
{
    if (!s->rows[i]) return 0;
    struct tp_buf *b = &s->buf[i];
    size_t len = b->len;
    int rc = tp_pgc_trailer(b);
    if (rc == 0) rc = tp_pg_copy(s->c, sql, b->p, b->len, s->err, sizeof s->err);
    b->len = len; /* the trailer again next time, if this batch is retried */
    return rc;
}

static int commit_batch(struct tp_pg_sink *s)
{
    int rc = begin_checked(s);
    if (rc < 0) return rc;
    struct tp_buf *q = &s->sql;
    bool replay = s->ack[0] < s->replay_end && s->next[0] > s->ack[0];
    if (replay) {
        tp_buf_reset(q);
        rc = tp_buf_printf(q, SQL_TICKS_REPLAY, (unsigned long long)TP_MAX(s->ack[0], s->off_begin),
                           (unsigned long long)s->next[0]);
        if (rc == 0) rc = tp_pg_exec(s->c, q->p, NULL, s->err, sizeof s->err);
    }
    if (rc == 0) rc = copy_buf(s, B_TICKS, copy_into[B_TICKS]);
    if (rc == 0) rc = put_quality(s);
    for (int i = B_QUAL; i < NBUF && rc == 0; i++) rc = copy_buf(s, i, copy_into[i]);
    if (rc < 0) return rc;

    tp_buf_reset(q);
    bool ticks = s->rows[B_TICKS] > 0 || replay;
    if (rc == 0 && s->rows[B_BARS]) rc = tp_buf_puts(q, SQL_BARS);
    if (rc == 0 && s->rows[B_ANOM]) rc = tp_buf_puts(q, SQL_ANOM);
    if (rc == 0 && s->rows[B_LATE]) rc = tp_buf_puts(q, SQL_LATE);
    if (rc == 0 && s->rows[B_GAPS]) rc = tp_buf_puts(q, SQL_GAPS);
    if (rc == 0 && (ticks || s->rows[B_ANOM] || s->rows[B_LATE] || s->rows[B_GAPS]))
        rc = tp_buf_puts(q, SQL_QUALITY);
    if (rc == 0)
        rc = tp_buf_printf(q,
                           "UPDATE tickpipe_offsets SET next_offset = CASE log WHEN 'input' "
                           "THEN %llu ELSE %llu END, updated_at = now() "
                           "WHERE sink = '%s'; COMMIT",
                           (unsigned long long)s->next[0], (unsigned long long)s->next[1], s->name);
    if (rc < 0) return rc;
    return tp_pg_exec(s->c, q->p, NULL, s->err, sizeof s->err);
}

/* ---- ops ---- */

static void sink_close(void *self)
{
    struct tp_pg_sink *s = self;
    if (s->c) PQfinish(s->c);
    s->c = NULL;
}

static int read_offsets(struct tp_pg_sink *s, uint64_t ack[2])
{
    PGresult *r;
    struct tp_buf *q = &s->sql;
    tp_buf_reset(q);
    int rc = tp_buf_printf(q,
                           "INSERT INTO tickpipe_offsets (sink, log, next_offset) VALUES "
                           "('%s', 'input', %llu), ('%s', 'output', %llu) ON CONFLICT DO NOTHING;"
                           "SELECT log, next_offset FROM tickpipe_offsets WHERE sink = '%s'",
                           s->name, (unsigned long long)s->off_begin, s->name,
                           (unsigned long long)s->off_begin, s->name);
    if (rc == 0) rc = tp_pg_exec(s->c, q->p, &r, s->err, sizeof s->err);
    if (rc < 0) return rc;
    int got = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *log = PQgetvalue(r, i, 0);
        int l = !strcmp(log, "input") ? 0 : !strcmp(log, "output") ? 1 : -1;
        long long v = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        if (l < 0 || v < 0) continue;
        ack[l] = (uint64_t)v;
        got |= 1 << l;
    }
    PQclear(r);
    if (got != 3) {
        snprintf(s->err, sizeof s->err, "tickpipe_offsets lacks this sink's rows");
        return -EPROTO;
    }
    return 0;
}

/* A named sink (one Kafka partition's) shares the offset space of its siblings only: rows of
 * the embedded pipeline's sink, or of another ticks topic's partitions, mean another offset
 * space in the same tables (their offsets overlap). -EBADMSG (fatal), logged. */
static int check_space(struct tp_pg_sink *s)
{
    if (!strcmp(s->name, SINK_NAME)) return 0;
    const char *slash = strrchr(s->name, '/');
    size_t pre = slash ? (size_t)(slash - s->name) + 1 : 0;
    struct tp_buf *q = &s->sql;
    tp_buf_reset(q);
    int rc = tp_buf_printf(q,
                           "SELECT sink FROM tickpipe_offsets WHERE sink = '" SINK_NAME "' OR "
                           "(sink LIKE '" SINK_NAME "/%%' AND left(sink, %zu) <> '%.*s') LIMIT 1",
                           pre, (int)pre, s->name);
    PGresult *r;
    if (rc == 0) rc = tp_pg_exec(s->c, q->p, &r, s->err, sizeof s->err);
    if (rc < 0) return rc;
    if (PQntuples(r) > 0) {
        tp_error("sink %s: this database also holds the rows of the sink '%s' (tickpipe_offsets), "
                 "whose offsets overlap this one's: one database takes the embedded pipeline's "
                 "results or those of one ticks topic's process role (docs/kafka.md, \"Sinks\")",
                 s->name, PQgetvalue(r, 0, 0));
        rc = -EBADMSG;
    }
    PQclear(r);
    return rc;
}

/* Invariant 3: ticks rows at or past the acknowledged input offset exist only if the offsets
 * were moved back by hand; replay_end is then past the largest of them. */
static int find_replay(struct tp_pg_sink *s, uint64_t ack_in)
{
    char sql[200], end[64] = "";
    if (s->off_end <= INT64_MAX)
        snprintf(end, sizeof end, " AND log_offset < %llu", (unsigned long long)s->off_end);
    snprintf(sql, sizeof sql, "SELECT max(log_offset) FROM ticks WHERE log_offset >= %llu%s",
             (unsigned long long)TP_MAX(ack_in, s->off_begin), end);
    PGresult *r;
    int rc = tp_pg_exec(s->c, sql, &r, s->err, sizeof s->err);
    if (rc < 0) return rc;
    s->replay_end = 0;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        s->replay_end = strtoull(PQgetvalue(r, 0, 0), NULL, 10) + 1;
        tp_info("sink %s: ticks exist at input offsets %llu..%llu, past the "
                "acknowledged offset: replacing them offset range by offset range",
                s->name, (unsigned long long)ack_in, (unsigned long long)s->replay_end - 1);
    }
    PQclear(r);
    return 0;
}

static int sink_open(void *self, uint64_t ack[2])
{
    struct tp_pg_sink *s = self;
    sink_close(s);
    reset_batch(s);
    s->replay_end = 0;
    s->nknown = 0; /* partitions may have been dropped meanwhile */
    s->next_ahead = 0;
    int rc = tp_pg_connect(s->conninfo, &s->c, s->err, sizeof s->err);
    if (rc < 0) return fail(s, rc, "connecting");
    int from = 0;
    rc = tp_pg_migrate(s->c, &from, s->err, sizeof s->err);
    if (rc < 0) {
        if (rc == -EBADMSG) tp_error("sink %s: %s", s->name, s->err);
        return fail(s, rc, "schema");
    }
    if (from < TP_PG_SCHEMA_VERSION)
        tp_info("sink %s: schema migrated from version %d to %d", s->name, from,
                TP_PG_SCHEMA_VERSION);
    rc = tp_pg_stage_tables(s->c, s->err, sizeof s->err);
    if (rc < 0) return fail(s, rc, "staging tables");
    rc = ensure_ahead(s);
    if (rc < 0) return rc;
    uint64_t a[2];
    rc = check_space(s);
    if (rc == -EBADMSG) return rc;
    if (rc < 0) return fail(s, rc, "reading tickpipe_offsets");
    rc = read_offsets(s, a);
    if (rc < 0) return fail(s, rc, "reading tickpipe_offsets");
    rc = find_replay(s, a[0]);
    if (rc < 0) return fail(s, rc, "looking for ticks past the acknowledged offset");
    for (int l = 0; l < 2; l++) ack[l] = s->ack[l] = s->next[l] = a[l];
    if (s->logged[0]) tp_info("sink %s: connected", s->name);
    s->logged[0] = 0;
    return 0;
}

static int sink_write(void *self, enum tp_sink_log log, uint64_t off, const void *p, size_t n)
{
    struct tp_pg_sink *s = self;
    int rc = 0;
    switch (tp_rec_type(p, n)) {
    case TP_REC_EVENT: {
        struct tp_event e;
        rc = tp_rec_get_event(p, n, &e);
        if (rc == 0 && e.kind != TP_KIND_STATUS) rc = put_tick(s, &e, off);
        break;
    }
    case TP_REC_BAR: {
        struct tp_bar b;
        rc = tp_rec_get_bar(p, n, &b);
        if (rc == 0 && b.final) rc = put_bar(s, &b, off);
        break;
    }
    case TP_REC_ANOMALY: {
        struct tp_anomaly a;
        rc = tp_rec_get_anomaly(p, n, &a);
        if (rc == 0) rc = put_anomaly(s, &a, off);
        break;
    }
    case TP_REC_LATE: {
        struct tp_event e;
        int64_t iv;
        rc = tp_rec_get_late(p, n, &e, &iv);
        if (rc == 0) rc = put_late(s, &e, iv, off);
        break;
    }
    case TP_REC_GAP: {
        struct tp_gap g;
        rc = tp_rec_get_gap(p, n, &g);
        if (rc == 0) rc = put_gap(s, &g, off);
        break;
    }
    case TP_REC_SOURCE_POS:
    case TP_REC_CHECKPOINT:
        break;
    default:
        rc = -EBADMSG;
    }
    if (rc < 0) {
        if (rc == -EBADMSG)
            tp_error("sink %s: %s journal record %llu does not decode", s->name,
                     log == TP_LOG_INPUT ? "input" : "output", (unsigned long long)off);
        return rc;
    }
    s->next[log] = off + 1;
    size_t out = 0;
    for (int i = B_BARS; i < NBUF; i++) out += s->buf[i].len;
    return s->buf[B_TICKS].len >= FLUSH_TICK_BYTES || out >= FLUSH_OUT_BYTES ||
           s->ndays >= FLUSH_DAYS || s->nq >= FLUSH_QMAP;
}

static int sink_flush(void *self, bool final, uint64_t ack[2])
{
    struct tp_pg_sink *s = self;
    (void) final; /* every flush writes everything it was given */
    if (!s->c) return -ENOTCONN;
    bool any = false;
    for (int i = 0; i < NBUF; i++) any |= s->rows[i] > 0;
    if (any || s->next[0] != s->ack[0] || s->next[1] != s->ack[1]) {
        int rc = ensure_ahead(s);
        if (rc == 0) rc = ensure_days(s, s->days, s->ndays);
        if (rc < 0) return rc;
        rc = commit_batch(s);
        if (rc < 0) {
            tp_pg_rollback(s->c);
            return fail(s, rc, "writing a batch");
        }
        s->ack[0] = s->next[0];
        s->ack[1] = s->next[1];
        reset_batch(s);
        if (s->logged[0]) tp_info("sink %s: writing again", s->name);
        s->logged[0] = 0;
    }
    ack[0] = s->ack[0];
    ack[1] = s->ack[1];
    return 0;
}

static void sink_free(void *self)
{
    struct tp_pg_sink *s = self;
    if (!s) return;
    sink_close(s);
    for (int i = 0; i < NBUF; i++) tp_buf_fini(&s->buf[i]);
    tp_buf_fini(&s->sql);
    free(s->q);
    free(s->conninfo);
    free(s);
}

const struct tp_sink_ops tp_pg_sink_ops = {
    .name = SINK_NAME,
    .reads_input = true,
    .reads_output = true,
    .flush_ns = 500 * TP_NS_PER_MS,
    .open = sink_open,
    .write = sink_write,
    .flush = sink_flush,
    .close = sink_close,
    .free = sink_free,
};

int tp_pg_sink_new(const char *conninfo, struct tp_pg_sink **ret, char *err, size_t errlen)
{
    return tp_pg_sink_new_named(conninfo, SINK_NAME, 0, UINT64_MAX, ret, err, errlen);
}

/* A name goes into SQL literals: letters, digits and . _ - / only. */
static bool name_ok(const char *name)
{
    if (!*name) return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-' || *c == '/'))
            return false;
    return true;
}

int tp_pg_sink_new_named(const char *conninfo, const char *name, uint64_t off_begin,
                         uint64_t off_end, struct tp_pg_sink **ret, char *err, size_t errlen)
{
    if (!name_ok(name) || strlen(name) >= sizeof((struct tp_pg_sink *)0)->name) {
        snprintf(err, errlen, "the sink name '%.64s' is not letters, digits, '.', '_', '-', '/'",
                 name);
        return -EINVAL;
    }
    int rc = tp_pg_conninfo_check(conninfo, err, errlen);
    if (rc < 0) return rc;
    struct tp_pg_sink *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->off_begin = off_begin;
    s->off_end = off_end;
    s->conninfo = strdup(conninfo);
    s->q = calloc(QMAP_CAP, sizeof *s->q);
    if (!s->conninfo || !s->q) {
        sink_free(s);
        return -ENOMEM;
    }
    tp_buf_init(&s->buf[B_TICKS], FLUSH_TICK_BYTES + 2 * ROW_MAX);
    tp_buf_init(&s->buf[B_QUAL], (size_t)QMAP_CAP * 128 + 64);
    for (int i = B_BARS; i < NBUF; i++) tp_buf_init(&s->buf[i], FLUSH_OUT_BYTES + 2 * ROW_MAX);
    tp_buf_init(&s->sql, 64u << 10);
    *ret = s;
    return 0;
}
