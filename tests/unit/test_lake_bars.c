/*
 * test_lake_bars.c — bars read back from the lake for /api/bars (tp_lake_bars_read) and the
 * worker pool that runs those reads off the HTTP loop (serve/history.h).
 *
 * A lake is written with the lake writer: 1m bars of three instruments over two UTC days, in
 * several committed batches (files) with small row groups, plus one bar written again in a
 * later file. Checks: the newest `limit` bars of a range, oldest first, with every column;
 * from/to; the walk stopping at the first day that completes the limit; date partitions and
 * row groups pruned; the later file winning a repeated bar; empty answers for an unknown
 * instrument or interval; a corrupt file and a byte budget as errors. The pool: a job runs in
 * a worker and is handed back with its bars, a full queue refuses, and cancelling a queued or
 * running job frees it (ASan checks the leaks).
 */
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "serve/history.h"
#include "sink/lake.h"
#include "tpt.h"

#define MIN_NS (60 * TP_NS_PER_SEC)
#define DAY_NS (86400 * TP_NS_PER_SEC)
#define NBARS  240            /* per instrument: 4 hours of 1m bars, two on each side of midnight */
#define DAY1   INT64_C(20415) /* 2025-11-23 */
#define T0     (DAY1 * DAY_NS + DAY_NS - 2 * 3600 * TP_NS_PER_SEC)
#define REPEAT 17 /* bar index of sim:BTC-USD written again later, with close + 1000 */

static char root[64];

static uint32_t instr(const char *name)
{
    uint32_t id;
    if (tp_instr_intern(name, strlen(name), &id) < 0) TPT_FAIL("intern %s", name);
    return id;
}

/* The close of bar i of instrument k (before the repeat). */
static double close_of(int k, int i)
{
    return 100.0 * (k + 1) + i * 0.25;
}

static void make_lake(void)
{
    snprintf(root, sizeof root, "/tmp/tp_lbars_XXXXXX");
    if (!mkdtemp(root)) TPT_FAIL("mkdtemp: %s", strerror(errno));
    const uint32_t ids[3] = {instr("sim:BTC-USD"), instr("sim:ETH-USD"), instr("sim:AAPL")};
    struct tp_lake_opts o;
    tp_lake_opts_default(&o, root);
    o.row_group_rows = 16;
    struct tp_lake_writer *w;
    ASSERT_EQ_INT(tp_lake_writer_new(&o, &w), 0);
    uint64_t off = 0, next = 0;
    for (int i = 0; i < NBARS; i++) {
        for (int k = 0; k < 3; k++) {
            struct tp_bar b = {.instr = ids[k],
                               .interval_ns = MIN_NS,
                               .ts = T0 + i * MIN_NS,
                               .open = close_of(k, i) - 0.5,
                               .high = close_of(k, i) + 1,
                               .low = close_of(k, i) - 1,
                               .close = close_of(k, i),
                               .volume = 2 + i,
                               .notional = (2 + i) * close_of(k, i),
                               .vwap = close_of(k, i),
                               .trades = (uint64_t)(10 + i),
                               .buy_volume = 1,
                               .sell_volume = 1 + i,
                               .first_ts = T0 + i * MIN_NS + 1234567,
                               .last_ts = T0 + i * MIN_NS + 59 * TP_NS_PER_SEC + 999,
                               .final = true};
            tp_ind_values_clear(&b.ind);
            if (i >= 19) b.ind.sma = close_of(k, i) - 2; /* warm-up: null before */
            ASSERT_EQ_INT(tp_lake_bar(w, off++, &b), 0);
        }
        if (i % 50 == 49) ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_OUTPUT, &next), 0);
    }
    /* The repeated bar, in a later file. */
    struct tp_bar b = {.instr = ids[0],
                       .interval_ns = MIN_NS,
                       .ts = T0 + REPEAT * MIN_NS,
                       .open = 1,
                       .high = 2000,
                       .low = 1,
                       .close = close_of(0, REPEAT) + 1000,
                       .first_ts = T0 + REPEAT * MIN_NS,
                       .last_ts = T0 + REPEAT * MIN_NS,
                       .final = true};
    tp_ind_values_clear(&b.ind);
    ASSERT_EQ_INT(tp_lake_bar(w, off++, &b), 0);
    ASSERT_EQ_INT(tp_lake_commit(w, TP_LOG_OUTPUT, &next), 0);
    tp_lake_writer_free(w);
}

static int query(const char *name, int64_t iv, int64_t from, int64_t to, size_t limit,
                 struct tp_bar *out, size_t *n, struct tp_lake_bars_stats *st, uint64_t max_bytes)
{
    struct tp_lake_bars_query q = {.lake = root,
                                   .instrument = name,
                                   .interval_ns = iv,
                                   .from = from,
                                   .to = to,
                                   .limit = limit,
                                   .max_bytes = max_bytes};
    char err[256] = "";
    int rc = tp_lake_bars_read(&q, out, n, st, err, sizeof err);
    if (rc < 0) fprintf(stderr, "    (read: %s)\n", err);
    return rc;
}

static void test_all_and_columns(void)
{
    make_lake();
    static struct tp_bar v[1000];
    size_t n = 0;
    struct tp_lake_bars_stats st;
    ASSERT_EQ_INT(query("sim:ETH-USD", MIN_NS, INT64_MIN, INT64_MAX, 1000, v, &n, &st, 0), 0);
    ASSERT_EQ_U64(n, NBARS);
    ASSERT_EQ_U64(st.dates, 2);
    for (int i = 0; i < NBARS; i++) {
        ASSERT_EQ_U64(v[i].ts, T0 + i * MIN_NS);
        ASSERT_EQ_INT(v[i].instr, instr("sim:ETH-USD"));
        ASSERT_EQ_U64(v[i].interval_ns, MIN_NS);
        ASSERT(v[i].final);
        ASSERT_EQ_DBL(v[i].close, close_of(1, i));
        ASSERT_EQ_DBL(v[i].open, close_of(1, i) - 0.5);
        ASSERT_EQ_DBL(v[i].high, close_of(1, i) + 1);
        ASSERT_EQ_DBL(v[i].low, close_of(1, i) - 1);
        ASSERT_EQ_DBL(v[i].volume, 2 + i);
        ASSERT_EQ_DBL(v[i].notional, (2 + i) * close_of(1, i));
        ASSERT_EQ_DBL(v[i].vwap, close_of(1, i));
        ASSERT_EQ_U64(v[i].trades, 10 + i);
        ASSERT_EQ_DBL(v[i].sell_volume, 1 + i);
        /* the lake keeps microseconds */
        ASSERT_EQ_U64(v[i].first_ts, T0 + i * MIN_NS + 1234000);
        ASSERT_EQ_U64(v[i].last_ts, T0 + i * MIN_NS + 59 * TP_NS_PER_SEC);
        if (i < 19)
            ASSERT(isnan(v[i].ind.sma));
        else
            ASSERT_EQ_DBL(v[i].ind.sma, close_of(1, i) - 2);
        ASSERT(isnan(v[i].ind.rsi));
    }
    /* the repeated bar: once, the later file's */
    ASSERT_EQ_INT(query("sim:BTC-USD", MIN_NS, INT64_MIN, INT64_MAX, 1000, v, &n, &st, 0), 0);
    ASSERT_EQ_U64(n, NBARS);
    ASSERT_EQ_DBL(v[REPEAT].close, close_of(0, REPEAT) + 1000);
    ASSERT_EQ_DBL(v[REPEAT + 1].close, close_of(0, REPEAT + 1));
    ASSERT_EQ_INT(tp_lake_rmtree(root), 0);
}

static void test_limit_range_pruning(void)
{
    make_lake();
    static struct tp_bar v[1000];
    size_t n = 0;
    struct tp_lake_bars_stats st;
    /* the newest 10 of everything: all on the second day, the first is not read */
    ASSERT_EQ_INT(query("sim:AAPL", MIN_NS, INT64_MIN, INT64_MAX, 10, v, &n, &st, 0), 0);
    ASSERT_EQ_U64(n, 10);
    for (int i = 0; i < 10; i++) ASSERT_EQ_U64(v[i].ts, T0 + (NBARS - 10 + i) * MIN_NS);
    ASSERT_EQ_U64(st.dates_skipped, 1);
    /* across midnight: [23:50, 00:10) limit 15 -> 00:55..00:09 spans both days */
    int64_t mid = (DAY1 + 1) * DAY_NS;
    ASSERT_EQ_INT(
        query("sim:AAPL", MIN_NS, mid - 10 * MIN_NS, mid + 10 * MIN_NS, 15, v, &n, &st, 0), 0);
    ASSERT_EQ_U64(n, 15);
    ASSERT_EQ_U64(v[0].ts, mid - 5 * MIN_NS);
    ASSERT_EQ_U64(v[14].ts, mid + 9 * MIN_NS);
    ASSERT_EQ_U64(st.dates_skipped, 0);
    /* inside the first day only: the second is pruned by its date, and row groups of other
     * instruments and times by their statistics */
    ASSERT_EQ_INT(
        query("sim:ETH-USD", MIN_NS, T0 + 30 * MIN_NS, T0 + 40 * MIN_NS, 500, v, &n, &st, 0), 0);
    ASSERT_EQ_U64(n, 10);
    ASSERT_EQ_U64(v[0].ts, T0 + 30 * MIN_NS);
    ASSERT_EQ_U64(st.dates_skipped, 1);
    ASSERT(st.row_groups_skipped > 0);
    ASSERT(st.row_groups - st.row_groups_skipped <= 3);
    /* to is exclusive, from inclusive */
    ASSERT_EQ_INT(query("sim:ETH-USD", MIN_NS, T0, T0 + MIN_NS, 500, v, &n, &st, 0), 0);
    ASSERT_EQ_U64(n, 1);
    ASSERT_EQ_U64(v[0].ts, T0);
    /* unknown instrument, interval, or an empty range: no bars, no error */
    ASSERT_EQ_INT(query("sim:NOPE", MIN_NS, INT64_MIN, INT64_MAX, 500, v, &n, &st, 0), 0);
    ASSERT_EQ_U64(n, 0);
    ASSERT_EQ_INT(query("sim:AAPL", 5 * MIN_NS, INT64_MIN, INT64_MAX, 500, v, &n, &st, 0), 0);
    ASSERT_EQ_U64(n, 0);
    ASSERT_EQ_INT(query("sim:AAPL", MIN_NS, T0 - DAY_NS, T0, 500, v, &n, &st, 0), 0);
    ASSERT_EQ_U64(n, 0);
    ASSERT(st.files > 0 && st.row_groups_skipped == st.row_groups); /* its day, not its times */
    ASSERT_EQ_INT(query("sim:AAPL", MIN_NS, T0 - 2 * DAY_NS, T0 - DAY_NS, 500, v, &n, &st, 0), 0);
    ASSERT_EQ_U64(n, 0);
    ASSERT_EQ_U64(st.files, 0); /* no day of it in the lake */
    /* a bad query */
    ASSERT_EQ_INT(query("nope", MIN_NS, INT64_MIN, INT64_MAX, 500, v, &n, &st, 0), -EINVAL);
    ASSERT_EQ_INT(query("sim:AAPL", MIN_NS, INT64_MIN, INT64_MAX, 0, v, &n, &st, 0), -EINVAL);
    ASSERT_EQ_INT(tp_lake_rmtree(root), 0);
}

static void test_errors(void)
{
    make_lake();
    static struct tp_bar v[1000];
    size_t n = 0;
    struct tp_lake_bars_stats st;
    /* a byte budget smaller than the data */
    ASSERT_EQ_INT(query("sim:AAPL", MIN_NS, INT64_MIN, INT64_MAX, 1000, v, &n, &st, 64), -E2BIG);
    /* a corrupt file among the good ones */
    char path[256];
    snprintf(path, sizeof path,
             "%s/bars/interval=1m/date=2025-11-23/part-output-0-00000000000000000000-"
             "00000000000000000001.parquet",
             root);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(fd >= 0);
    ASSERT_EQ_INT(write(fd, "PAR1 not really", 15), 15);
    close(fd);
    struct tp_lake_bars_query q = {.lake = root,
                                   .instrument = "sim:AAPL",
                                   .interval_ns = MIN_NS,
                                   .from = INT64_MIN,
                                   .to = INT64_MAX,
                                   .limit = 1000};
    char err[256] = "";
    int rc = tp_lake_bars_read(&q, v, &n, &st, err, sizeof err);
    ASSERT(rc == -EBADMSG || rc == -E2BIG);
    ASSERT(strstr(err, "part-output-0-00000000000000000000-00000000000000000001.parquet"));
    /* the newest 10 are on the other day: the corrupt file is not even opened */
    q.limit = 10;
    ASSERT_EQ_INT(tp_lake_bars_read(&q, v, &n, &st, err, sizeof err), 0);
    ASSERT_EQ_U64(n, 10);
    ASSERT_EQ_INT(tp_lake_rmtree(root), 0);
}

/* ---- the pool ---- */

static atomic_int wakes;

static void on_wake(void *arg)
{
    (void)arg;
    atomic_fetch_add(&wakes, 1);
}

static struct tp_hist_job *job(const char *name, size_t limit)
{
    struct tp_hist_job *j = tp_hist_job_new();
    ASSERT(j != NULL);
    snprintf(j->instrument, sizeof j->instrument, "%s", name);
    j->interval_ns = MIN_NS;
    j->from = INT64_MIN;
    j->to = INT64_MAX;
    j->limit = limit;
    return j;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_pool(void)
{
    make_lake();
    struct tp_hist_cfg c;
    tp_hist_cfg_default(&c, root);
    c.threads = 1;
    c.queue = 2;
    c.delay_ns = 300 * TP_NS_PER_MS;
    struct tp_hist *h;
    ASSERT_EQ_INT(tp_hist_new(&c, on_wake, NULL, &h), 0);
    struct tp_hist_job *j1 = job("sim:BTC-USD", 5), *j2 = job("sim:ETH-USD", 7),
                       *j3 = job("sim:AAPL", 3), *j4 = job("sim:AAPL", 3);
    ASSERT_EQ_INT(tp_hist_submit(h, j1), 0);
    for (int i = 0; i < 200 && tp_hist_queued(h); i++) sleep_ms(5); /* j1 runs */
    ASSERT_EQ_U64(tp_hist_queued(h), 0);
    ASSERT_EQ_INT(tp_hist_submit(h, j2), 0);
    ASSERT_EQ_INT(tp_hist_submit(h, j3), 0);
    ASSERT_EQ_INT(tp_hist_submit(h, j4), -EBUSY); /* the queue holds 2 */
    tp_hist_job_free(j4);
    tp_hist_cancel(h, j3); /* queued: freed now */
    tp_hist_cancel(h, j1); /* running: freed by its worker */
    ASSERT_EQ_U64(tp_hist_queued(h), 1);
    struct tp_hist_job *d = NULL;
    for (int i = 0; i < 400 && !d; i++) {
        d = tp_hist_done(h);
        if (!d) sleep_ms(5);
    }
    ASSERT(d == j2);
    ASSERT_EQ_INT(d->rc, 0);
    ASSERT_EQ_U64(d->n, 7);
    ASSERT_EQ_U64(d->bars[6].ts, T0 + (NBARS - 1) * MIN_NS);
    ASSERT_EQ_DBL(d->bars[6].close, close_of(1, NBARS - 1));
    ASSERT(atomic_load(&wakes) >= 1);
    ASSERT(tp_hist_done(h) == NULL); /* j1 was cancelled: never handed back */
    tp_hist_job_free(d);
    /* a failing read is handed back with its error */
    struct tp_hist_job *bad = job("not-a-name", 3);
    ASSERT_EQ_INT(tp_hist_submit(h, bad), 0);
    d = NULL;
    for (int i = 0; i < 400 && !d; i++) {
        d = tp_hist_done(h);
        if (!d) sleep_ms(5);
    }
    ASSERT(d == bad);
    ASSERT_EQ_INT(d->rc, -EINVAL);
    ASSERT(d->err[0] != 0);
    tp_hist_job_free(d);
    /* freeing with a job still queued and one running frees both */
    ASSERT_EQ_INT(tp_hist_submit(h, job("sim:AAPL", 3)), 0);
    ASSERT_EQ_INT(tp_hist_submit(h, job("sim:AAPL", 3)), 0);
    tp_hist_free(h);
    ASSERT_EQ_INT(tp_lake_rmtree(root), 0);
}

TPT_MAIN({"all_and_columns", test_all_and_columns},
         {"limit_range_pruning", test_limit_range_pruning}, {"errors", test_errors},
         {"pool", test_pool})
