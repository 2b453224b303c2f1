/*
 * cmd_replay.c — `tickpipe replay INPUT... --out DIR`: runs the engine over CSV files (or
 * journals) in order and writes its outputs as files (DESIGN.md §4; docs/replay.md).
 *
 * Flow: check every setting and every input's header before reading a row (a bad --map is a
 * usage error, not a half-done run); then for each input, in order, feed its events to one
 * engine and, when the input ends, one TP_ST_EOF status event per instrument it contained, in
 * instrument-name order, stamped with the largest event time of the input. That is exactly
 * what the `run` replay source writes to the log, so `replay FILE` and `run --source
 * replay:FILE --exit-at-eof` give the same outputs. The engine's callbacks write
 * DIR/bars.csv.tmp, anomalies.csv.tmp, late.csv.tmp; at the end they are synced and renamed
 * into place, then stats.json. On any failure the .tmp files are removed and nothing that was
 * in DIR before is touched.
 *
 * --format parquet writes the lake layout instead (sink/lake.h, docs/lake.md): the input
 * events as ticks and the engine's bars (every interval asked for), anomalies, late events
 * and gaps, through the lake writer, with offsets counted per input event and per output
 * row. The tables are written under DIR/.replay-PID.tmp (outside every table's glob) and
 * each DIR/<table> is swapped in at the end (tp_lake_swap_dir), so a query sees the old
 * table or the new one. --input-format parquet reads tick files (a lake's ticks/, a
 * directory of them, or files) with the lake's tick reader, files in path order.
 *
 * Determinism: the outputs depend only on the inputs and the settings (no clock reaches the
 * engine; --speed only sleeps). stats.json carries the wall time and so differs between runs.
 *
 * Threads: a reader thread parses the inputs into batches of events; the main thread runs the
 * engine and writes the outputs (see "reading the inputs on a thread of their own").
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/settings.h"
#include "core/buf.h"
#include "core/instrument.h"
#include "core/num.h"
#include "core/tptime.h"
#include "engine/engine.h"
#include "log/journal.h"
#include "log/record.h"
#include "log/segment.h"
#include "sink/csvout.h"
#include "sink/lake.h"
#include "source/capture.h"
#include "source/csvin.h"
#include "source/venue.h"

#define CMD "replay"

#define SET(n, t, d, h)                                                                            \
    {                                                                                              \
        .name = n, .type = t, .def = d, .help = h                                                  \
    }

static struct tp_setting settings[] = {
    {.name = "out",
     .type = TP_SET_STR,
     .def = "",
     .help = "output directory (created if missing)",
     .short_flag = 'o'},
    SET("format", TP_SET_STR, "csv",
        "output format: csv (bars.csv, ...), or parquet (the lake layout: DIR/ticks, bars, "
        "anomalies, late, gaps)"),
    SET("input-format", TP_SET_STR, "csv",
        "csv files, journal directories (their TP_REC_EVENT records), or parquet tick files "
        "(files, directories, a lake)"),
    SET("venue", TP_SET_STR, "",
        "read raw captures (one wire message a line) through this venue's parser"),
    SET("map", TP_SET_LIST, "", "FIELD=COLUMN,... e.g. ts=timestamp,price=stock_price,value=x"),
    SET("instrument", TP_SET_STR, "", "instrument (venue:SYMBOL) of rows without one"),
    SET("ts-unit", TP_SET_STR, "", "unit of epoch timestamps: s, ms, us, ns (else by digits)"),
    SET("speed", TP_SET_DOUBLE, "", "pace by event time at X times real time"),
    SET("max", TP_SET_BOOL, "", "as fast as possible (the default)"),
    SET("strict", TP_SET_BOOL, "", "stop at the first bad row (exit 1)"),
    SET("quote-only", TP_SET_BOOL, "",
        "the inputs are quote feeds: bars from the mid price, volume 0"),
    SET("line-max", TP_SET_INT, "65536", "longest CSV record, bytes (longer rows are rejected)"),
    SET("intervals", TP_SET_STR, "1s,1m,5m,15m,1h,1d", "bar intervals, ascending"),
    SET("lateness", TP_SET_DUR, "2s", "allowed lateness: watermark = max event time - this"),
    SET("fill", TP_SET_BOOL, "", "emit fill bars (repeat the close) for intervals without trades"),
    SET("sma-period", TP_SET_INT, "20", "SMA period (column sma_20)"),
    SET("ema-period", TP_SET_INT, "20", "EMA period (column ema_20)"),
    SET("bb-period", TP_SET_INT, "20", "Bollinger period"),
    SET("bb-k", TP_SET_DOUBLE, "2", "Bollinger width in standard deviations"),
    SET("rsi-period", TP_SET_INT, "14", "RSI period (column rsi_14)"),
    SET("macd-fast", TP_SET_INT, "12", "MACD fast EMA period"),
    SET("macd-slow", TP_SET_INT, "26", "MACD slow EMA period"),
    SET("macd-signal", TP_SET_INT, "9", "MACD signal EMA period"),
    SET("atr-period", TP_SET_INT, "14", "ATR period (column atr_14)"),
    SET("vol-period", TP_SET_INT, "20", "log returns in volatility_20"),
    SET("zscore-window", TP_SET_INT, "100", "returns behind return_zscore's mean and deviation"),
    SET("zscore", TP_SET_DOUBLE, "3", "return_zscore alarm threshold (|z| above)"),
    SET("volume-lookback", TP_SET_INT, "20", "bars behind volume_spike's mean volume"),
    SET("volume-mult", TP_SET_DOUBLE, "5", "volume_spike: volume above this times the mean"),
    SET("anomaly-cooldown", TP_SET_DUR, "10s",
        "an instrument alarms at most once per kind in this time"),
    SET("stale-after", TP_SET_DUR, "60s", "stale: no event for this long while connected"),
    SET("dedup-window", TP_SET_INT, "65536", "numeric trade ids remembered below the highest"),
    SET("dedup-max-ids", TP_SET_INT, "100000", "string trade ids remembered per instrument"),
    SET("dedup-max-age", TP_SET_DUR, "10m", "event-time age after which string ids are forgotten"),
};
#define NSET TP_ARRAY_LEN(settings)

static struct tp_setting *S(const char *name)
{
    return tp_setting(settings, NSET, name);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tickpipe replay INPUT... --out DIR [--input-format csv|journal|parquet]\n"
            "                       [--format csv|parquet]\n"
            "                       [--map FIELD=COLUMN,...] [--instrument NAME]\n"
            "                       [--ts-unit s|ms|us|ns] [--quote-only]\n"
            "                       [--speed X|--max] [--strict]\n"
            "                       [--lateness 2s] [--intervals 1s,1m,5m,15m,1h,1d]\n"
            "\n"
            "Runs the engine over the inputs in order and writes DIR/bars.csv, anomalies.csv,\n"
            "late.csv and stats.json. CSV input has a header row; default columns\n"
            "ts,instrument,price,size[,side][,trade_id], also kind, bid, ask, bid_size,\n"
            "ask_size, value, venue_symbol, ts_recv, open, high, low, change when present.\n"
            "Fields: ts, ts_recv, instrument, venue_symbol, kind, price, size, side, trade_id,\n"
            "bid, ask, bid_size, ask_size, open, high, low, change, value. Bad rows are counted\n"
            "per reason in stats.json and skipped (--strict: the first one stops the run).\n"
            "Exit: 0 ok, 1 a bad row with --strict, 2 usage, 3 I/O failure.\n");
    tp_settings_help(f, settings, NSET);
}

/* ---- state of one run -------------------------------------------------------------------- */

struct writer;

struct bad_at {
    int input; /* index into inputs */
    uint64_t line;
};

struct run {
    const char *venue; /* --venue: inputs are raw captures */
    char **inputs;
    int ninputs;
    bool journal;
    bool pq_in;      /* --input-format parquet: inputs are tick files (expanded) */
    char **pq_files; /* owned list of those files */
    size_t npq;
    bool pq_out; /* --format parquet */
    struct tp_lake_writer *lake;
    char stage[PATH_MAX]; /* DIR/.replay-PID.tmp */
    uint64_t in_off, out_off;
    int lake_err; /* first lake writer error (sticky) */
    struct tp_csvin_opts copts;
    char *map; /* the --map values joined by ',' */
    const char *out;
    char tmp[3][PATH_MAX]; /* bars, anomalies, late .tmp paths */
    struct tp_csvout *w[3];
    struct tp_engine_cfg cfg;
    struct tp_engine *eng;

    double speed; /* 0 = as fast as possible */
    int64_t pace_t0, pace_w0, pace_tmax;

    bool progress;
    int64_t start_ns, last_progress_ns;
    uint64_t events_read;
    uint64_t records; /* CSV records (events + bad rows) */
    uint64_t bad[TP_CSV_R_COUNT];
    struct bad_at bad_first[TP_CSV_R_COUNT][TP_CSVIN_KEEP_LINES];
    uint64_t *in_events; /* per input */
    uint64_t *in_bad;

    /* instruments of the current input */
    uint8_t *seen; /* TP_INSTR_MAX + 1 flags */
    uint32_t *seen_ids;
    uint32_t nseen;
    int64_t input_max_ts;
    bool any_ts;

    struct writer *writer; /* the writer thread's queue, while replay_inputs runs */
};

/* Set by SIGINT and SIGTERM (a lock-free atomic, which a handler may store to) or by a failed
 * output; read by both threads. */
static atomic_int interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- engine outputs ----------------------------------------------------------------------
 *
 * The engine's callbacks (main thread) copy each output into a batch for the writer thread,
 * which formats the rows and writes the files (see "threads" below). */

struct out_item {
    uint8_t table; /* enum tp_csv_table */
    int64_t interval_ns;
    union {
        struct tp_bar bar;
        struct tp_anomaly an;
        struct tp_event ev;
    } u;
};

static struct out_item *out_slot(struct run *r);

/* After a lake row: commits the batch when due; errors are kept (the callbacks are void). */
static void lake_after(struct run *r, enum tp_sink_log log, int rc)
{
    uint64_t next;
    if (rc == 0 && tp_lake_due(r->lake, log)) rc = tp_lake_commit(r->lake, log, &next);
    if (rc < 0 && !r->lake_err) r->lake_err = rc;
}

static void out_bar(void *ctx, const struct tp_bar *b)
{
    struct run *r = ctx;
    if (r->pq_out) return lake_after(r, TP_LOG_OUTPUT, tp_lake_bar(r->lake, r->out_off++, b));
    struct out_item *it = out_slot(r);
    it->table = TP_CSV_BARS;
    it->u.bar = *b;
}

static void out_anomaly(void *ctx, const struct tp_anomaly *a)
{
    struct run *r = ctx;
    if (r->pq_out) return lake_after(r, TP_LOG_OUTPUT, tp_lake_anomaly(r->lake, r->out_off++, a));
    struct out_item *it = out_slot(r);
    it->table = TP_CSV_ANOMALIES;
    it->u.an = *a;
}

static void out_late(void *ctx, const struct tp_event *e, int64_t interval_ns)
{
    struct run *r = ctx;
    if (r->pq_out)
        return lake_after(r, TP_LOG_OUTPUT, tp_lake_late(r->lake, r->out_off++, e, interval_ns));
    struct out_item *it = out_slot(r);
    it->table = TP_CSV_LATE;
    it->u.ev = *e;
    it->interval_ns = interval_ns;
}

/* Gaps go only to the lake (the CSV outputs have no gaps table). */
static void out_gap(void *ctx, const struct tp_gap *g)
{
    struct run *r = ctx;
    if (r->pq_out) lake_after(r, TP_LOG_OUTPUT, tp_lake_gap(r->lake, r->out_off++, g));
}

/* ---- settings ---------------------------------------------------------------------------- */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tickpipe " CMD ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'tickpipe help " CMD "')\n");
    va_end(ap);
    return TP_EXIT_USAGE;
}

/* An INT setting into an int within [lo, hi]. */
static int int_setting(const char *name, int lo, int hi, int *out)
{
    int64_t v = S(name)->i;
    if (v < lo || v > hi) {
        fprintf(stderr, "tickpipe " CMD ": --%s: %lld is outside [%d, %d]\n", name, (long long)v,
                lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int configure(struct run *r)
{
    const char *fmt = S("format")->str;
    if (!strcmp(fmt, "parquet"))
        r->pq_out = true;
    else if (strcmp(fmt, "csv"))
        return usage_error("--format: '%s' is not csv or parquet", fmt);
    const char *inf = S("input-format")->str;
    if (!strcmp(inf, "journal"))
        r->journal = true;
    else if (!strcmp(inf, "parquet"))
        r->pq_in = true;
    else if (strcmp(inf, "csv"))
        return usage_error("--input-format: '%s' is not csv, journal or parquet", inf);
    if (S("venue")->str && *S("venue")->str) {
        r->venue = S("venue")->str;
        if (!tp_venue_find(r->venue))
            return usage_error("--venue: unknown venue '%s' (binance, coinbase, okx, kraken, "
                               "bybit, bitstamp, finnhub)",
                               r->venue);
        if (r->journal || r->pq_in)
            return usage_error("%s", "--venue reads raw captures, not journals or Parquet");
    }
    r->out = S("out")->str;
    if (!r->out || !*r->out) return usage_error("%s", "--out DIR is required");

    /* --map: values joined by ',' */
    struct tp_setting *m = S("map");
    size_t len = 1;
    for (size_t i = 0; i < m->nlist; i++) len += strlen(m->list[i]) + 1;
    r->map = calloc(1, len);
    if (!r->map) return TP_EXIT_RUNTIME;
    for (size_t i = 0, o = 0; i < m->nlist; i++) {
        size_t n = strlen(m->list[i]);
        if (i) r->map[o++] = ',';
        memcpy(r->map + o, m->list[i], n);
        o += n;
    }
    char err[512];
    if (tp_csvin_map_check(r->map, err, sizeof err) < 0) return usage_error("--%s", err);
    r->copts.map = *r->map ? r->map : NULL;

    const char *instr = S("instrument")->str;
    if (instr && *instr) {
        uint32_t id;
        if (tp_instr_intern(instr, strlen(instr), &id) < 0)
            return usage_error("--instrument: '%s' is not venue:SYMBOL (like seed:STOCK)", instr);
        r->copts.instrument = instr;
    }
    const char *unit = S("ts-unit")->str;
    if (unit && *unit && tp_ts_unit_parse(unit, &r->copts.ts_unit) < 0)
        return usage_error("--ts-unit: '%s' is not s, ms, us or ns", unit);
    int64_t lm = S("line-max")->i;
    if (lm < 64 || lm > TP_CSVIN_LINE_MAX_LIMIT) {
        fprintf(stderr, "tickpipe " CMD ": --line-max: %lld is outside [64, %u]\n", (long long)lm,
                TP_CSVIN_LINE_MAX_LIMIT);
        return TP_EXIT_USAGE;
    }
    r->copts.line_max = (size_t)lm;
    r->copts.quote_only = S("quote-only")->b;

    struct tp_setting *sp = S("speed");
    if (strcmp(sp->origin, "default")) {
        if (S("max")->b) return usage_error("%s", "--speed and --max exclude each other");
        if (!(sp->d > 0)) return usage_error("%s", "--speed must be greater than 0");
        r->speed = sp->d;
    }

    /* the engine */
    struct tp_engine_cfg *c = &r->cfg;
    tp_engine_cfg_default(c);
    if (tp_engine_parse_intervals(c, S("intervals")->str) < 0)
        return usage_error("--intervals: '%s' is not an ascending list like 1s,1m,5m",
                           S("intervals")->str);
    c->lateness_ns = S("lateness")->i;
    c->fill = S("fill")->b;
    struct tp_ind_cfg *ic = &c->ind;
    if (int_setting("sma-period", 1, TP_IND_MAX_PERIOD, &ic->sma) ||
        int_setting("ema-period", 1, TP_IND_MAX_PERIOD, &ic->ema) ||
        int_setting("bb-period", 1, TP_IND_MAX_PERIOD, &ic->bb) ||
        int_setting("rsi-period", 1, TP_IND_MAX_PERIOD, &ic->rsi) ||
        int_setting("macd-fast", 1, TP_IND_MAX_PERIOD, &ic->macd_fast) ||
        int_setting("macd-slow", 1, TP_IND_MAX_PERIOD, &ic->macd_slow) ||
        int_setting("macd-signal", 1, TP_IND_MAX_PERIOD, &ic->macd_sig) ||
        int_setting("atr-period", 1, TP_IND_MAX_PERIOD, &ic->atr) ||
        int_setting("vol-period", 1, TP_IND_MAX_PERIOD, &ic->vol))
        return TP_EXIT_USAGE;
    ic->bb_k = S("bb-k")->d;
    if (tp_ind_cfg_check(ic) < 0)
        return usage_error("%s", "indicator settings do not fit together (macd-fast must be "
                                 "below macd-slow, bb-k above 0)");
    struct tp_anomaly_cfg *ac = &c->an;
    if (int_setting("zscore-window", 2, TP_AN_MAX_WINDOW, &ac->window) ||
        int_setting("volume-lookback", 1, TP_AN_MAX_WINDOW, &ac->vol_lookback))
        return TP_EXIT_USAGE;
    ac->z = S("zscore")->d;
    ac->vol_mult = S("volume-mult")->d;
    ac->cooldown_ns = S("anomaly-cooldown")->i;
    ac->stale_ns = S("stale-after")->i;
    if (tp_anomaly_cfg_check(ac) < 0)
        return usage_error("%s", "anomaly settings out of range (zscore and volume-mult must "
                                 "be above 0)");
    int dw;
    if (int_setting("dedup-window", 64, 1 << 26, &dw)) return TP_EXIT_USAGE;
    c->dedup_bitmap_bits = (uint32_t)dw;
    int dm;
    if (int_setting("dedup-max-ids", 1, 1 << 26, &dm)) return TP_EXIT_USAGE;
    c->dedup_str_max = (uint32_t)dm;
    c->dedup_str_max_age_ns = S("dedup-max-age")->i;
    return 0;
}

/* ---- inputs ------------------------------------------------------------------------------ */

/* Checks every input before any work: CSV headers and mapping, journal directories. */
static int check_inputs(struct run *r)
{
    for (int i = 0; i < r->ninputs; i++) {
        const char *path = r->inputs[i];
        if (r->pq_in) {
            struct tp_lake_ticks *t;
            char err[512];
            int rc = tp_lake_ticks_open(path, &t, err, sizeof err);
            if (rc < 0) {
                /* not Parquet, or not a table of ticks: the wrong input, as a bad CSV header */
                fprintf(stderr, "tickpipe " CMD ": %s: %s\n", path, err);
                return rc == -EINVAL || rc == -EBADMSG || rc == -ENOTSUP ? TP_EXIT_USAGE
                                                                         : TP_EXIT_RUNTIME;
            }
            tp_lake_ticks_free(t);
            continue;
        }
        if (r->journal) {
            struct tp_seg_list l;
            int rc = tp_seg_list(path, &l);
            if (rc < 0) {
                fprintf(stderr, "tickpipe " CMD ": %s: cannot read journal: %s\n", path,
                        strerror(-rc));
                return TP_EXIT_RUNTIME;
            }
            tp_seg_list_free(&l);
            continue;
        }
        if (r->venue) {
            struct tp_capture_opts o = {.venue = r->venue};
            struct tp_capture *cin;
            char cerr[512];
            int rc = tp_capture_open(path, &o, &cin, cerr, sizeof cerr);
            if (rc < 0) {
                fprintf(stderr, "tickpipe " CMD ": %s: %s\n", path, cerr);
                return rc == -EINVAL ? TP_EXIT_USAGE : TP_EXIT_RUNTIME;
            }
            tp_capture_free(cin);
            continue;
        }
        struct tp_csvin *in;
        char err[768];
        int rc = tp_csvin_open(path, &r->copts, &in, err, sizeof err);
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": %s: %s\n", path, err);
            return rc == -EINVAL ? TP_EXIT_USAGE : TP_EXIT_RUNTIME;
        }
        tp_csvin_free(in);
    }
    return 0;
}

static void progress(struct run *r, int input, double frac, bool force)
{
    int64_t now = tp_mono_ns();
    if (!force && now - r->last_progress_ns < 250 * TP_NS_PER_MS) return;
    r->last_progress_ns = now;
    double secs = (double)(now - r->start_ns) / 1e9;
    char pct[16] = "";
    if (frac >= 0) snprintf(pct, sizeof pct, " %3.0f%%", frac * 100);
    fprintf(stderr, "\r\033[Kreplay: [%d/%d] %s%s  %llu events  %.1fM/s", input + 1, r->ninputs,
            r->inputs[input], pct, (unsigned long long)r->events_read,
            secs > 0 ? (double)r->events_read / secs / 1e6 : 0.0);
}

/* Sleeps until the wall clock reaches the event's time at r->speed times real time. */
static void pace(struct run *r, int64_t ts)
{
    if (!r->pace_w0) {
        r->pace_w0 = tp_mono_ns();
        r->pace_t0 = r->pace_tmax = ts;
        return;
    }
    if (ts <= r->pace_tmax) return;
    r->pace_tmax = ts;
    double due = (double)r->pace_w0 + (double)(ts - r->pace_t0) / r->speed;
    int64_t now = tp_mono_ns();
    if (due - (double)now < 200e3 || due > 9e18) return;
    struct timespec t = {.tv_sec = (time_t)(due / 1e9)};
    t.tv_nsec = (long)(due - (double)t.tv_sec * 1e9);
    if (t.tv_nsec < 0) t.tv_nsec = 0;
    if (t.tv_nsec > 999999999) t.tv_nsec = 999999999;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR && !interrupted) {
    }
}

static void feed(struct run *r, const struct tp_event *ev)
{
    if (r->speed > 0 && ev->kind != TP_KIND_STATUS) pace(r, ev->ts);
    if (r->pq_out && ev->kind != TP_KIND_STATUS)
        lake_after(r, TP_LOG_INPUT, tp_lake_tick(r->lake, r->in_off++, ev));
    if (ev->instr && ev->instr <= TP_INSTR_MAX && !r->seen[ev->instr]) {
        r->seen[ev->instr] = 1;
        r->seen_ids[r->nseen++] = ev->instr;
    }
    if (!r->any_ts || ev->ts > r->input_max_ts) r->input_max_ts = ev->ts;
    r->any_ts = true;
    r->events_read++;
    tp_engine_process(r->eng, ev);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(tp_instr_name(*(const uint32_t *)a), tp_instr_name(*(const uint32_t *)b));
}

/* The last input ended: an eof status per instrument the inputs contained, in name order,
 * stamped with the largest event time seen. Only after the last input, so that files that
 * continue one another (a day per file) are one stream, not late after the first. */
static void end_of_input(struct run *r)
{
    qsort(r->seen_ids, r->nseen, sizeof *r->seen_ids, by_name);
    for (uint32_t i = 0; i < r->nseen; i++) {
        struct tp_event ev;
        tp_event_init(&ev, TP_KIND_STATUS);
        ev.status = TP_ST_EOF;
        ev.instr = r->seen_ids[i];
        ev.ts = ev.ts_recv = r->input_max_ts;
        tp_engine_process(r->eng, &ev);
        r->seen[r->seen_ids[i]] = 0;
    }
    r->nseen = 0;
    r->any_ts = false;
    r->input_max_ts = 0;
}

static void count_bad(struct run *r, int input, const struct tp_csvin_stats *st)
{
    for (int k = 0; k < TP_CSV_R_COUNT; k++) {
        for (uint64_t j = 0; j < st->bad[k] && j < TP_CSVIN_KEEP_LINES; j++)
            if (r->bad[k] + j < TP_CSVIN_KEEP_LINES)
                r->bad_first[k][r->bad[k] + j] = (struct bad_at){input, st->bad_lines[k][j]};
        r->bad[k] += st->bad[k];
    }
    r->records += st->records;
    r->in_bad[input] = st->bad_total;
}

/* ---- threads ------------------------------------------------------------------------------
 *
 *   reader thread ──batches of events──► main thread ──batches of outputs──► writer thread
 *   (CSV, captures, journals)             (the engine)                         (rows, files)
 *
 * The engine sees exactly the event sequence a single thread would give it and the writer
 * writes each table's rows in the engine's order, so the outputs do not change; the three
 * parts of the work overlap on the machine's cores. Each arrow is a bounded queue (struct bq)
 * of NBATCH batches that circulate between a free list and a full list under one mutex (a
 * handover per a few thousand items). A side that finds no batch waits: the reader when the
 * engine falls behind, the engine when the writer does.
 *
 * Ownership: the reader owns its readers and r->bad, bad_first, records, in_bad; the main
 * thread owns the engine, r->seen*, events_read, in_events; the writer owns r->w[] between its
 * start and its join. The main thread reads the others' fields only after joining them. */

#define BATCH     8192 /* events per input batch */
#define OUT_BATCH 2048 /* outputs per output batch */
#define NBATCH    6

struct bq_node {
    struct bq_node *next;
};

struct bq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct bq_node *free_list;
    struct bq_node *head, *tail; /* full batches, oldest first */
    bool done;                   /* the producer has handed over its last batch */
};

static void bq_init(struct bq *q, void *mem, size_t size, int n)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->free_list = q->head = q->tail = NULL;
    q->done = false;
    for (int k = 0; k < n; k++) {
        struct bq_node *b = (struct bq_node *)((char *)mem + (size_t)k * size);
        b->next = q->free_list;
        q->free_list = b;
    }
}

static void bq_fini(struct bq *q)
{
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

/* Producer: a free batch (waits for one). */
static void *bq_take_free(struct bq *q)
{
    pthread_mutex_lock(&q->mu);
    while (!q->free_list) pthread_cond_wait(&q->cv, &q->mu);
    struct bq_node *b = q->free_list;
    q->free_list = b->next;
    pthread_mutex_unlock(&q->mu);
    b->next = NULL;
    return b;
}

/* Producer: hands a filled batch over; last says it is the final one. */
static void bq_put(struct bq *q, void *batch, bool last)
{
    struct bq_node *b = batch;
    pthread_mutex_lock(&q->mu);
    if (b) {
        b->next = NULL;
        if (q->tail)
            q->tail->next = b;
        else
            q->head = b;
        q->tail = b;
    }
    if (last) q->done = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Consumer: the next full batch, or NULL once the producer is done and all were taken. */
static void *bq_take_full(struct bq *q)
{
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->done) pthread_cond_wait(&q->cv, &q->mu);
    struct bq_node *b = q->head;
    if (b) {
        q->head = b->next;
        if (!q->head) q->tail = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return b;
}

/* Consumer: returns an emptied batch to the free list. */
static void bq_give_back(struct bq *q, void *batch)
{
    struct bq_node *b = batch;
    pthread_mutex_lock(&q->mu);
    b->next = q->free_list;
    q->free_list = b;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

struct batch {
    struct bq_node node;
    uint32_t n;
    int input;       /* index of the input the events come from */
    bool input_done; /* the input ended cleanly after these events */
    double frac;     /* how far through the input the reader was, or -1 */
    struct tp_event ev[BATCH];
};

struct out_batch {
    struct bq_node node;
    uint32_t n;
    struct out_item it[OUT_BATCH];
};

struct feeder {
    struct bq q;
    int rc;            /* the reader's exit code (0 ok), set before it is done */
    struct batch *cur; /* (reader) being filled */
    struct run *r;
};

struct writer {
    struct bq q;
    _Atomic bool failed;   /* a table could not be written (the error is in its tp_csvout) */
    struct out_batch *cur; /* (main thread) being filled */
    struct run *r;
};

/* Main thread: the next output slot (hands a full batch to the writer). */
static struct out_item *out_slot(struct run *r)
{
    struct writer *w = r->writer;
    if (w->cur && w->cur->n == OUT_BATCH) {
        bq_put(&w->q, w->cur, false);
        w->cur = NULL;
    }
    if (!w->cur) {
        w->cur = bq_take_free(&w->q);
        w->cur->n = 0;
    }
    return &w->cur->it[w->cur->n++];
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct run *r = w->r;
    struct out_batch *b;
    while ((b = bq_take_full(&w->q)) != NULL) {
        for (uint32_t k = 0; k < b->n; k++) {
            const struct out_item *it = &b->it[k];
            int rc = it->table == TP_CSV_BARS ? tp_csvout_bar(r->w[0], &it->u.bar)
                     : it->table == TP_CSV_ANOMALIES
                         ? tp_csvout_anomaly(r->w[1], &it->u.an)
                         : tp_csvout_late(r->w[2], &it->u.ev, it->interval_ns);
            if (rc < 0) atomic_store_explicit(&w->failed, true, memory_order_relaxed);
        }
        bq_give_back(&w->q, b);
    }
    return NULL;
}

/* Reader: the next free batch. */
static struct batch *take_batch(struct feeder *f, int input)
{
    struct batch *b = bq_take_free(&f->q);
    b->n = 0;
    b->input = input;
    b->input_done = false;
    b->frac = -1;
    return b;
}

/* Reader: the slot for the next event of input `input` (hands a full batch over). */
static inline struct tp_event *slot(struct feeder *f, int input)
{
    if (f->cur && f->cur->n == BATCH) {
        bq_put(&f->q, f->cur, false);
        f->cur = NULL;
    }
    if (!f->cur) f->cur = take_batch(f, input);
    return &f->cur->ev[f->cur->n];
}

/* Reader: ends input i; the batch that carries its last events says so. */
static void input_end(struct feeder *f, int i, bool clean)
{
    if (!f->cur) f->cur = take_batch(f, i);
    f->cur->input_done = clean;
    bq_put(&f->q, f->cur, false);
    f->cur = NULL;
}

static int read_csv(struct feeder *f, int i)
{
    struct run *r = f->r;
    const char *path = r->inputs[i];
    struct tp_csvin *in;
    char err[768];
    int rc = tp_csvin_open(path, &r->copts, &in, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": %s: %s\n", path, err);
        return rc == -EINVAL ? TP_EXIT_USAGE : TP_EXIT_RUNTIME;
    }
    bool strict = S("strict")->b;
    uint64_t size = tp_csvin_size(in);
    int ret = 0;
    for (;;) {
        struct tp_event *ev = slot(f, i);
        rc = tp_csvin_next(in, ev);
        if (rc == TP_CSVIN_EOF) break;
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": %s: read: %s\n", path, strerror(-rc));
            ret = TP_EXIT_RUNTIME;
            break;
        }
        if (rc == TP_CSVIN_BAD && strict) {
            enum tp_csv_reason why = tp_csvin_last_reason(in);
            fprintf(stderr, "tickpipe " CMD ": %s:%llu: bad row: %s (%s)\n", path,
                    (unsigned long long)tp_csvin_record_line(in), tp_csv_reason_name(why),
                    tp_csv_reason_text(why));
            ret = TP_EXIT_PROBLEM;
            break;
        }
        if (rc == TP_CSVIN_EVENT && ++f->cur->n == BATCH) {
            f->cur->frac = size ? (double)tp_csvin_offset(in) / (double)size : -1;
            if (interrupted) break;
        }
    }
    count_bad(r, i, tp_csvin_stats(in));
    tp_csvin_free(in);
    return ret;
}

/* A raw capture through the venue's parser, exactly as live (source/capture.h). Bad lines are
 * reported on stderr per reason with their first line numbers; --strict stops at the first. */
static int read_capture(struct feeder *f, int i)
{
    struct run *r = f->r;
    const char *path = r->inputs[i];
    struct tp_capture_opts o = {.venue = r->venue};
    struct tp_capture *in;
    char err[512];
    int rc = tp_capture_open(path, &o, &in, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": %s: %s\n", path, err);
        return rc == -EINVAL ? TP_EXIT_USAGE : TP_EXIT_RUNTIME;
    }
    int ret = 0;
    for (;;) {
        struct tp_event *ev = slot(f, i);
        rc = tp_capture_next(in, ev);
        if (rc == TP_CAPTURE_EOF) break;
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": %s: read: %s\n", path, strerror(-rc));
            ret = TP_EXIT_RUNTIME;
            break;
        }
        if (rc == TP_CAPTURE_BAD && S("strict")->b) {
            fprintf(stderr, "tickpipe " CMD ": %s:%llu: bad message: %s (%s)\n", path,
                    (unsigned long long)tp_capture_last_line(in),
                    tp_vreason_name(tp_capture_last_reason(in)), tp_capture_last_text(in));
            ret = TP_EXIT_PROBLEM;
            break;
        }
        if (rc == TP_CAPTURE_EVENT && ++f->cur->n == BATCH && interrupted) break;
    }
    const struct tp_capture_stats *st = tp_capture_stats(in);
    for (int k = 0; k < TP_VR_COUNT; k++)
        if (st->bad[k])
            fprintf(stderr, "tickpipe " CMD ": %s: %llu bad messages: %s (first at line %llu)\n",
                    path, (unsigned long long)st->bad[k], tp_vreason_name((enum tp_vreason)k),
                    (unsigned long long)st->bad_lines[k][0]);
    r->in_bad[i] = st->bad_total;
    tp_capture_free(in);
    return ret;
}

/* A Parquet file of ticks, in file order. */
static int read_parquet(struct feeder *f, int i)
{
    struct run *r = f->r;
    const char *path = r->inputs[i];
    struct tp_lake_ticks *t;
    char err[512];
    int rc = tp_lake_ticks_open(path, &t, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": %s: %s\n", path, err);
        return TP_EXIT_RUNTIME;
    }
    uint64_t total = tp_lake_ticks_rows(t), n = 0;
    int ret = 0;
    for (;;) {
        struct tp_event *ev = slot(f, i);
        rc = tp_lake_ticks_next(t, ev, err, sizeof err);
        if (rc != 1) break;
        if (ev->kind == TP_KIND_QUOTE && r->copts.quote_only) ev->flags |= TP_EV_QUOTE_ONLY;
        n++;
        if (++f->cur->n == BATCH) {
            f->cur->frac = total ? (double)n / (double)total : -1;
            if (interrupted) break;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": %s: %s\n", path, err);
        ret = S("strict")->b ? TP_EXIT_PROBLEM : TP_EXIT_RUNTIME;
    }
    tp_lake_ticks_free(t);
    return ret;
}

static int read_journal(struct feeder *f, int i)
{
    struct run *r = f->r;
    const char *dir = r->inputs[i];
    struct tp_seg_list l;
    int rc = tp_seg_list(dir, &l);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": %s: cannot read journal: %s\n", dir, strerror(-rc));
        return TP_EXIT_RUNTIME;
    }
    uint64_t first = l.n ? l.base[0] : 0;
    size_t nseg = l.n;
    tp_seg_list_free(&l);
    if (nseg == 0) return 0; /* an empty journal */
    struct tp_cursor *c;
    if ((rc = tp_cursor_open(dir, first, NULL, false, &c)) < 0) {
        fprintf(stderr, "tickpipe " CMD ": %s: cannot open journal: %s\n", dir, strerror(-rc));
        return TP_EXIT_RUNTIME;
    }
    const void *p;
    size_t n;
    uint64_t off;
    int ret = 0;
    while ((rc = tp_cursor_next(c, &p, &n, &off)) != 0) {
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": %s: %s: %s\n", dir, tp_cursor_where(c),
                    rc == -EBADMSG ? "corrupt record" : strerror(-rc));
            ret = TP_EXIT_RUNTIME;
            break;
        }
        if (tp_rec_type(p, n) != TP_REC_EVENT) continue;
        if (tp_rec_get_event(p, n, slot(f, i)) < 0) {
            fprintf(stderr, "tickpipe " CMD ": %s: record %llu: malformed event\n", dir,
                    (unsigned long long)off);
            ret = TP_EXIT_RUNTIME;
            break;
        }
        if (++f->cur->n == BATCH && interrupted) break;
    }
    tp_cursor_close(c);
    return ret;
}

static void *reader_main(void *arg)
{
    struct feeder *f = arg;
    struct run *r = f->r;
    int rc = 0;
    for (int i = 0; i < r->ninputs && !rc && !interrupted; i++) {
        rc = r->journal ? read_journal(f, i)
             : r->pq_in ? read_parquet(f, i)
             : r->venue ? read_capture(f, i)
                        : read_csv(f, i);
        input_end(f, i, !rc && !interrupted);
    }
    f->rc = rc; /* published by the queue's mutex */
    bq_put(&f->q, NULL, true);
    return NULL;
}

/* Runs the reader and the writer threads and the engine here, over every input. The exit
 * code. */
static int replay_inputs(struct run *r)
{
    struct feeder f = {.r = r};
    struct writer w = {.r = r};
    atomic_init(&w.failed, false);
    struct batch *in_mem = calloc(NBATCH, sizeof *in_mem);
    struct out_batch *out_mem = calloc(NBATCH, sizeof *out_mem);
    if (!in_mem || !out_mem) {
        free(in_mem);
        free(out_mem);
        return TP_EXIT_RUNTIME;
    }
    bq_init(&f.q, in_mem, sizeof *in_mem, NBATCH);
    bq_init(&w.q, out_mem, sizeof *out_mem, NBATCH);
    r->writer = &w;
    pthread_t rt, wt;
    int rc = pthread_create(&wt, NULL, writer_main, &w);
    if (rc) {
        fprintf(stderr, "tickpipe " CMD ": cannot start the writer thread: %s\n", strerror(rc));
        rc = TP_EXIT_RUNTIME;
        goto out;
    }
    rc = pthread_create(&rt, NULL, reader_main, &f);
    if (rc) {
        fprintf(stderr, "tickpipe " CMD ": cannot start the reader thread: %s\n", strerror(rc));
        bq_put(&w.q, NULL, true);
        pthread_join(wt, NULL);
        rc = TP_EXIT_RUNTIME;
        goto out;
    }
    struct batch *b;
    while ((b = bq_take_full(&f.q)) != NULL) {
        if (!interrupted) {
            for (uint32_t k = 0; k < b->n; k++) feed(r, &b->ev[k]);
            r->in_events[b->input] += b->n;
            if (b->input_done && b->input == r->ninputs - 1) end_of_input(r);
            if (atomic_load_explicit(&w.failed, memory_order_relaxed))
                interrupted = 1; /* a table failed: stop reading (the writer says which) */
            if (r->progress) progress(r, b->input, b->frac, false);
        }
        bq_give_back(&f.q, b);
    }
    pthread_join(rt, NULL);
    bq_put(&w.q, w.cur, true);
    w.cur = NULL;
    pthread_join(wt, NULL);
    rc = f.rc;
    if (!rc && r->lake_err) {
        fprintf(stderr, "tickpipe " CMD ": writing the lake under %s: %s\n", r->stage,
                strerror(-r->lake_err));
        rc = TP_EXIT_RUNTIME;
    }
    for (int k = 0; k < 3 && !rc && !r->pq_out; k++)
        if (tp_csvout_error(r->w[k])) {
            fprintf(stderr, "tickpipe " CMD ": %s: %s\n", r->tmp[k],
                    strerror(-tp_csvout_error(r->w[k])));
            rc = TP_EXIT_RUNTIME;
        }
out:
    r->writer = NULL;
    bq_fini(&f.q);
    bq_fini(&w.q);
    free(in_mem);
    free(out_mem);
    return rc;
}

/* ---- outputs ----------------------------------------------------------------------------- */

static const char *const out_names[] = {"bars.csv", "anomalies.csv", "late.csv"};
static const enum tp_csv_table out_tables[] = {TP_CSV_BARS, TP_CSV_ANOMALIES, TP_CSV_LATE};

static int mkdir_p(const char *dir)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return -ENAMETOOLONG;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) < 0 && errno != EEXIST) return -errno;
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST) return -errno;
    struct stat st;
    if (stat(p, &st) < 0) return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int out_path(const struct run *r, const char *name, const char *suffix, char *buf)
{
    int n = snprintf(buf, PATH_MAX, "%s/%s%s", r->out, name, suffix);
    return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int open_outputs(struct run *r)
{
    int rc = mkdir_p(r->out);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": --out %s: %s\n", r->out, strerror(-rc));
        return TP_EXIT_RUNTIME;
    }
    if (r->pq_out) {
        char name[64];
        snprintf(name, sizeof name, ".replay-%ld", (long)getpid());
        if ((rc = out_path(r, name, ".tmp", r->stage)) == 0) rc = tp_lake_rmtree(r->stage);
        if (rc == 0) rc = tp_lake_mkdirs(r->stage);
        struct tp_lake_opts lo;
        tp_lake_opts_default(&lo, r->stage);
        lo.bars_1s = true; /* every interval asked for */
        if (rc == 0) rc = tp_lake_writer_new(&lo, &r->lake);
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": %s: %s\n", r->stage, strerror(-rc));
            r->lake = NULL;
            return TP_EXIT_RUNTIME;
        }
        return 0;
    }
    for (int k = 0; k < 3; k++) {
        if ((rc = out_path(r, out_names[k], ".tmp", r->tmp[k])) == 0)
            rc = tp_csvout_open(r->tmp[k], out_tables[k], &r->w[k]);
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": %s/%s.tmp: %s\n", r->out, out_names[k],
                    strerror(-rc));
            return TP_EXIT_RUNTIME;
        }
    }
    return 0;
}

static void discard_outputs(struct run *r)
{
    tp_lake_writer_free(r->lake);
    r->lake = NULL;
    if (r->stage[0]) tp_lake_rmtree(r->stage);
    r->stage[0] = 0;
    for (int k = 0; k < 3; k++) {
        if (r->w[k]) tp_csvout_close(r->w[k], false);
        r->w[k] = NULL;
        if (r->tmp[k][0]) unlink(r->tmp[k]);
    }
}

static void json_str(struct tp_buf *b, const char *s)
{
    tp_buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            tp_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            tp_buf_printf(b, "\\u%04x", c);
        else
            tp_buf_putc(b, (char)c);
    }
    tp_buf_putc(b, '"');
}

static void json_interval_counts(struct tp_buf *b, const struct run *r, const uint64_t *v)
{
    tp_buf_putc(b, '{');
    for (int k = 0; k < r->cfg.n_intervals; k++) {
        char name[32];
        tp_duration_format(r->cfg.intervals[k], name, sizeof name);
        tp_buf_printf(b, "%s\"%s\": %llu", k ? ", " : "", name, (unsigned long long)v[k]);
    }
    tp_buf_putc(b, '}');
}

static int write_stats(struct run *r, const char *path, double wall)
{
    const struct tp_engine_stats *st = tp_engine_stats(r->eng);
    struct tp_buf b;
    tp_buf_init(&b, 64u << 20);
    tp_buf_puts(&b, "{\n  \"inputs\": [");
    for (int i = 0; i < r->ninputs; i++) {
        tp_buf_puts(&b, i ? ",\n    {\"path\": " : "\n    {\"path\": ");
        json_str(&b, r->inputs[i]);
        tp_buf_printf(&b, ", \"format\": \"%s\", \"events\": %llu, \"bad_rows\": %llu}",
                      r->journal ? "journal"
                      : r->pq_in ? "parquet"
                                 : "csv",
                      (unsigned long long)r->in_events[i], (unsigned long long)r->in_bad[i]);
    }
    uint64_t bad_total = 0;
    for (int k = 0; k < TP_CSV_R_COUNT; k++) bad_total += r->bad[k];
    tp_buf_printf(&b,
                  "\n  ],\n  \"events_read\": %llu,\n  \"rows_read\": %llu,\n"
                  "  \"trades\": %llu,\n  \"quotes\": %llu,\n  \"snapshots\": %llu,\n"
                  "  \"vendor_bars\": %llu,\n  \"status\": %llu,\n  \"duplicates\": %llu,\n"
                  "  \"dedup_evictions\": %llu,\n  \"ignored\": %llu,\n  \"gaps\": %llu,\n",
                  (unsigned long long)r->events_read,
                  (unsigned long long)(r->journal || r->pq_in ? r->events_read : r->records),
                  (unsigned long long)st->trades, (unsigned long long)st->quotes,
                  (unsigned long long)st->snapshots, (unsigned long long)st->vbars,
                  (unsigned long long)st->status, (unsigned long long)st->duplicates,
                  (unsigned long long)st->dedup_evictions, (unsigned long long)st->ignored,
                  (unsigned long long)st->gaps);
    tp_buf_puts(&b, "  \"late\": ");
    json_interval_counts(&b, r, st->late);
    tp_buf_puts(&b, ",\n  \"bars\": ");
    json_interval_counts(&b, r, st->bars);
    tp_buf_puts(&b, ",\n  \"anomalies\": {");
    for (int k = 1; k < TP_AN_KINDS; k++)
        tp_buf_printf(&b, "%s\"%s\": %llu", k > 1 ? ", " : "",
                      tp_anomaly_kind_name((enum tp_anomaly_kind)k),
                      (unsigned long long)st->anomalies[k]);
    tp_buf_printf(&b, "},\n  \"bad_rows\": {\n    \"total\": %llu", (unsigned long long)bad_total);
    for (int k = 0; k < TP_CSV_R_COUNT; k++) {
        tp_buf_printf(&b, ",\n    \"%s\": {\"count\": %llu, \"first\": [",
                      tp_csv_reason_name((enum tp_csv_reason)k), (unsigned long long)r->bad[k]);
        for (uint64_t j = 0; j < r->bad[k] && j < TP_CSVIN_KEEP_LINES; j++) {
            tp_buf_puts(&b, j ? ", {\"file\": " : "{\"file\": ");
            json_str(&b, r->inputs[r->bad_first[k][j].input]);
            tp_buf_printf(&b, ", \"line\": %llu}", (unsigned long long)r->bad_first[k][j].line);
        }
        tp_buf_puts(&b, "]}");
    }
    char secs[TP_NUM_STRLEN], rate[TP_NUM_STRLEN];
    tp_num_format(round(wall * 1e6) / 1e6, secs);
    tp_num_format(wall > 0 ? round((double)r->events_read / wall) : 0, rate);
    tp_buf_printf(&b, "\n  },\n  \"wall_seconds\": %s,\n  \"events_per_second\": %s\n}\n", secs,
                  rate);
    if (!b.p) {
        tp_buf_fini(&b);
        return -ENOMEM;
    }
    int rc = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) rc = -errno;
    for (size_t o = 0; !rc && o < b.len;) {
        ssize_t w = write(fd, b.p + o, b.len - o);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
            rc = -errno;
        else
            o += (size_t)w;
    }
    if (!rc && fsync(fd) < 0) rc = -errno;
    if (fd >= 0 && close(fd) < 0 && !rc) rc = -errno;
    tp_buf_fini(&b);
    return rc;
}

/* The lake layout: commits what is pending, then swaps each table directory in. */
static int finish_lake(struct run *r)
{
    uint64_t next;
    int rc = r->lake_err;
    for (int l = 0; l < 2 && rc == 0; l++) rc = tp_lake_commit(r->lake, (enum tp_sink_log)l, &next);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": writing the lake under %s: %s\n", r->stage,
                strerror(-rc));
        return TP_EXIT_RUNTIME;
    }
    for (int t = 0; t < TP_LAKE_NTABLES; t++) {
        const char *name = tp_lake_table_name((enum tp_lake_table)t);
        char src[PATH_MAX], dst[PATH_MAX];
        if ((rc = out_path(r, name, "", dst)) == 0 &&
            snprintf(src, sizeof src, "%s/%s", r->stage, name) >= (int)sizeof src)
            rc = -ENAMETOOLONG;
        if (rc == 0) rc = tp_lake_mkdirs(src); /* an empty table replaces an old one too */
        if (rc == 0) rc = tp_lake_swap_dir(src, dst);
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": putting %s in place: %s\n", dst, strerror(-rc));
            return TP_EXIT_RUNTIME;
        }
    }
    return 0;
}

/* Syncs and closes the tables, writes stats.json, renames everything into place. */
static int finish_outputs(struct run *r, double wall)
{
    if (r->pq_out) {
        int rc = finish_lake(r);
        if (rc) return rc;
        char stats_tmp[PATH_MAX], dst[PATH_MAX];
        rc = out_path(r, "stats.json", ".tmp", stats_tmp);
        if (!rc) rc = write_stats(r, stats_tmp, wall);
        if (!rc) rc = out_path(r, "stats.json", "", dst);
        if (!rc && rename(stats_tmp, dst) < 0) rc = -errno;
        if (!rc) rc = tp_lake_fsync_dir(r->out);
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": %s/stats.json: %s\n", r->out, strerror(-rc));
            unlink(stats_tmp);
            return TP_EXIT_RUNTIME;
        }
        discard_outputs(r); /* the (now empty) staging directory */
        return 0;
    }
    for (int k = 0; k < 3; k++) {
        int rc = tp_csvout_close(r->w[k], true);
        r->w[k] = NULL;
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": %s: %s\n", r->tmp[k], strerror(-rc));
            return TP_EXIT_RUNTIME;
        }
    }
    char stats_tmp[PATH_MAX], dst[PATH_MAX];
    int rc = out_path(r, "stats.json", ".tmp", stats_tmp);
    if (!rc) rc = write_stats(r, stats_tmp, wall);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": %s/stats.json.tmp: %s\n", r->out, strerror(-rc));
        unlink(stats_tmp);
        return TP_EXIT_RUNTIME;
    }
    for (int k = 0; k < 4; k++) {
        const char *src = k < 3 ? r->tmp[k] : stats_tmp;
        if ((rc = out_path(r, k < 3 ? out_names[k] : "stats.json", "", dst)) == 0 &&
            rename(src, dst) < 0)
            rc = -errno;
        if (rc < 0) {
            fprintf(stderr, "tickpipe " CMD ": rename %s: %s\n", src, strerror(-rc));
            unlink(stats_tmp);
            return TP_EXIT_RUNTIME;
        }
        if (k < 3) r->tmp[k][0] = 0;
    }
    int dfd = open(r->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd); /* the renames themselves */
        close(dfd);
    }
    return 0;
}

/* ---- the command ------------------------------------------------------------------------- */

static void run_free(struct run *r)
{
    discard_outputs(r);
    for (size_t i = 0; i < r->npq; i++) free(r->pq_files[i]);
    free(r->pq_files);
    tp_engine_free(r->eng);
    free(r->map);
    free(r->in_events);
    free(r->in_bad);
    free(r->seen);
    free(r->seen_ids);
}

int tp_cmd_replay(int argc, char **argv)
{
    if (tp_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct tp_settings_result res;
    int rc = tp_settings_parse(CMD, settings, NSET, argc, argv, &res);
    if (rc) {
        free(res.positional);
        return rc;
    }
    struct run r = {.inputs = res.positional, .ninputs = res.npositional};
    if (r.ninputs == 0) {
        free(res.positional);
        return usage_error("%s", "no INPUT given");
    }
    if ((rc = configure(&r)) != 0) goto out;
    if (r.pq_in) {
        /* every tick file under the inputs, in order */
        for (int i = 0; i < r.ninputs; i++) {
            char **files;
            size_t n;
            int lrc = tp_lake_list_files(r.inputs[i], &files, &n);
            if (lrc < 0) {
                fprintf(stderr, "tickpipe " CMD ": %s: %s\n", r.inputs[i], strerror(-lrc));
                rc = TP_EXIT_RUNTIME;
                goto out;
            }
            char **all = realloc(r.pq_files, (r.npq + n + 1) * sizeof *all);
            if (!all) {
                for (size_t k = 0; k < n; k++) free(files[k]);
                free(files);
                rc = TP_EXIT_RUNTIME;
                goto out;
            }
            r.pq_files = all;
            memcpy(r.pq_files + r.npq, files, n * sizeof *files);
            r.npq += n;
            free(files);
        }
        if (r.npq == 0 || r.npq > INT_MAX) {
            rc = usage_error("%s", "no *.parquet file in the inputs");
            goto out;
        }
        r.inputs = r.pq_files;
        r.ninputs = (int)r.npq;
    }
    r.in_events = calloc((size_t)r.ninputs, sizeof *r.in_events);
    r.in_bad = calloc((size_t)r.ninputs, sizeof *r.in_bad);
    r.seen = calloc(TP_INSTR_MAX + 1, 1);
    r.seen_ids = calloc(TP_INSTR_MAX + 1, sizeof *r.seen_ids);
    if (!r.in_events || !r.in_bad || !r.seen || !r.seen_ids) {
        rc = TP_EXIT_RUNTIME;
        goto out;
    }
    if ((rc = check_inputs(&r)) != 0) goto out;

    struct tp_engine_out eo = {
        .ctx = &r, .bar = out_bar, .anomaly = out_anomaly, .late = out_late, .gap = out_gap};
    r.eng = tp_engine_new(&r.cfg, &eo);
    if (!r.eng) {
        fprintf(stderr, "tickpipe " CMD ": the engine refused the settings (or out of memory)\n");
        rc = TP_EXIT_USAGE;
        goto out;
    }
    if ((rc = open_outputs(&r)) != 0) goto out;

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    r.progress = isatty(STDERR_FILENO);
    r.start_ns = tp_mono_ns();
    rc = replay_inputs(&r);
    if (r.progress) {
        progress(&r, r.ninputs - 1, -1, true);
        fputc('\n', stderr);
    }
    if (interrupted && !rc) {
        fprintf(stderr, "tickpipe " CMD ": interrupted; no outputs written\n");
        rc = TP_EXIT_RUNTIME;
    }
    if (rc) goto out;
    double wall = (double)(tp_mono_ns() - r.start_ns) / 1e9;
    if ((rc = finish_outputs(&r, wall)) != 0) goto out;

    uint64_t bad = 0;
    for (int k = 0; k < TP_CSV_R_COUNT; k++) bad += r.bad[k];
    if (bad)
        fprintf(stderr, "tickpipe " CMD ": %llu bad rows skipped (by reason in %s/stats.json)\n",
                (unsigned long long)bad, r.out);
    if (r.progress) {
        const struct tp_engine_stats *st = tp_engine_stats(r.eng);
        uint64_t bars = 0;
        for (int k = 0; k < r.cfg.n_intervals; k++) bars += st->bars[k];
        fprintf(stderr, "replay: %llu events, %llu bars in %.2f s -> %s\n",
                (unsigned long long)r.events_read, (unsigned long long)bars, wall, r.out);
    }
out:
    run_free(&r);
    free(res.positional);
    return rc;
}
