/*
 * test_pipeline.c — sources → rings → journal writer: a finite simulator run ends by itself
 * with every event in the journal (dense offsets, trade ids increasing per instrument); a
 * second run resumes where the journal ends (ids continue, time does not go back); a stop
 * signal drains and commits (disconnected records last); a failing disk ends the run with
 * exit code 3.
 */
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "log/journal.h"
#include "log/record.h"
#include "pipeline/pipeline.h"
#include "source/sim.h"
#include "tpt.h"

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static char *tmpdir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/tp_pipeline_XXXXXX");
    if (!mkdtemp(dir)) TPT_FAIL("mkdtemp failed");
    return dir;
}

static void rmdir_all(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct tp_pipeline_opts opts(const char *data)
{
    struct tp_pipeline_opts o = {
        .data_dir = data,
        .ring_capacity = 1024,
        .status_interval_ns = 0,
        .exit_at_eof = true,
        .resume_records = 1u << 18,
    };
    tp_journal_opts_default(&o.journal, NULL);
    return o;
}

static int run_sim(const struct tp_pipeline_opts *o, const char *spec,
                   const struct tp_sim_source_opts *so, const sigset_t *sigs)
{
    struct tp_pipeline *p;
    ASSERT_EQ_INT(tp_pipeline_new(o, &p), 0);
    struct tp_source *s;
    char err[256];
    ASSERT_EQ_INT(tp_sim_source_new(spec, so, &s, err, sizeof err), 0);
    ASSERT_EQ_INT(tp_pipeline_add_source(p, s), 0);
    sigset_t none;
    sigemptyset(&none);
    int rc = tp_pipeline_start(p);
    if (rc == 0)
        rc = tp_pipeline_run(p, sigs ? sigs : &none);
    else
        rc = -1;
    tp_pipeline_free(p);
    return rc;
}

struct scan {
    uint64_t records, market, eof, disconnected, last_status;
    uint64_t last_id[TP_SIM_MAX_INSTR + 64];
    uint64_t first_id_run[TP_SIM_MAX_INSTR + 64]; /* first id after offset `mark` */
    int64_t last_ts;
    uint64_t mark;
};

/* Reads the whole input journal, checking dense offsets, market event ts never going back, and
 * strictly increasing trade ids per instrument. */
static void scan(const char *data, struct scan *sc)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/journal/input", data);
    struct tp_cursor *c;
    ASSERT_EQ_INT(tp_cursor_open(dir, 0, NULL, false, &c), 0);
    uint64_t mark = sc->mark;
    memset(sc, 0, sizeof *sc);
    sc->mark = mark;
    sc->last_ts = INT64_MIN;
    for (;;) {
        const void *rec;
        size_t n;
        uint64_t off;
        int rc = tp_cursor_next(c, &rec, &n, &off);
        ASSERT(rc >= 0);
        if (rc == 0) break;
        ASSERT_EQ_U64(off, sc->records);
        sc->records++;
        struct tp_event e;
        ASSERT_EQ_INT(tp_rec_get_event(rec, n, &e), 0);
        /* Market events never go back in time, across restarts too. (Status records of a
         * restarted live sim are stamped by the clock, which may be behind the previous run's
         * max-pace event time: they are not checked.) */
        if (e.kind == TP_KIND_TRADE || e.kind == TP_KIND_QUOTE) {
            if (e.ts < sc->last_ts)
                TPT_FAIL("offset %llu: %s ts %lld before %lld", (unsigned long long)off,
                         tp_instr_name(e.instr), (long long)e.ts, (long long)sc->last_ts);
            sc->last_ts = e.ts;
        }
        ASSERT(e.instr < TP_ARRAY_LEN(sc->last_id));
        if (e.kind == TP_KIND_TRADE) {
            if (sc->last_id[e.instr] && e.trade_id <= sc->last_id[e.instr])
                TPT_FAIL("offset %llu: %s trade id %llu after %llu", (unsigned long long)off,
                         tp_instr_name(e.instr), (unsigned long long)e.trade_id,
                         (unsigned long long)sc->last_id[e.instr]);
            if (off >= sc->mark && !sc->first_id_run[e.instr])
                sc->first_id_run[e.instr] = e.trade_id;
            sc->last_id[e.instr] = e.trade_id;
        }
        if (e.kind == TP_KIND_TRADE || e.kind == TP_KIND_QUOTE) sc->market++;
        if (e.kind == TP_KIND_STATUS) {
            sc->last_status = off;
            sc->eof += e.status == TP_ST_EOF;
            sc->disconnected += e.status == TP_ST_DISCONNECTED;
        }
    }
    tp_cursor_close(c);
}

static void test_finite_run_then_resume(void)
{
    char *data = tmpdir();
    struct tp_pipeline_opts o = opts(data);
    struct tp_sim_source_opts so = {
        .seed = 5, .rate = 100000, .max_pace = true, .max_events = 20000};
    ASSERT_EQ_INT(run_sim(&o, "sim", &so, NULL), TP_EXIT_OK);
    struct scan a = {0};
    scan(data, &a);
    ASSERT_EQ_U64(a.market, 20000);
    ASSERT_EQ_U64(a.eof, 10);
    ASSERT_EQ_U64(a.last_status, a.records - 1);
    /* 20000 events at 100000/s span 0.2 s: 10 connected, maybe 10 heartbeats, 10 eof */
    ASSERT(a.records >= 20020 && a.records <= 20030);
    /* an empty journal is the whole history: trade ids start at 1 */
    uint32_t eth = tp_instr_find("sim:ETH-USD", 11);
    ASSERT_EQ_U64(a.first_id_run[eth], 1);

    /* Second run: resumes after the journal's end. */
    so.seed = 6;
    so.max_pace = false; /* live for a moment, then it stops at its budget */
    so.max_events = 3000;
    o.ring_capacity = 8192; /* holds the whole live run: no drop even if the writer stalls */
    ASSERT_EQ_INT(run_sim(&o, "sim", &so, NULL), TP_EXIT_OK);
    struct scan b = {.mark = a.records};
    scan(data, &b);
    ASSERT_EQ_U64(b.market, 23000);
    ASSERT_EQ_U64(b.eof, 20);
    uint32_t btc = tp_instr_find("sim:BTC-USD", 11);
    ASSERT(btc && a.last_id[btc]);
    ASSERT_EQ_U64(b.first_id_run[btc], a.last_id[btc] + 1);
    rmdir_all(data);
}

static void *send_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 300 * 1000000};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR1);
    return NULL;
}

static void test_signal_drains_and_commits(void)
{
    char *data = tmpdir();
    struct tp_pipeline_opts o = opts(data);
    o.exit_at_eof = false;
    o.journal.sync = TP_SYNC_GROUP;
    struct tp_sim_source_opts so = {.seed = 1, .rate = 50000};
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    pthread_t t;
    ASSERT_EQ_INT(pthread_create(&t, NULL, send_later, NULL), 0);
    ASSERT_EQ_INT(run_sim(&o, "sim:ETH-USD,USD-JPY", &so, &sigs), TP_EXIT_OK);
    pthread_join(t, NULL);
    struct scan s = {0};
    scan(data, &s);
    ASSERT(s.market > 1000);
    ASSERT_EQ_U64(s.disconnected, 2);
    ASSERT_EQ_U64(s.last_status, s.records - 1);
    rmdir_all(data);
}

/* An I/O layer whose writes fail with ENOSPC after a while. */
static _Atomic int writes_left;
static ssize_t failing_write(int fd, const void *p, size_t n)
{
    if (atomic_fetch_sub(&writes_left, 1) <= 0) {
        errno = ENOSPC;
        return -1;
    }
    return write(fd, p, n);
}

static void test_disk_failure_exits_3(void)
{
    char *data = tmpdir();
    struct tp_pipeline_opts o = opts(data);
    o.exit_at_eof = false;
    static struct tp_io io;
    io = tp_io_posix;
    io.write = failing_write;
    o.journal.io = &io;
    atomic_store(&writes_left, 20);
    struct tp_sim_source_opts so = {.seed = 1, .rate = 100000, .max_pace = true};
    int64_t t0 = tp_mono_ns();
    ASSERT_EQ_INT(run_sim(&o, "sim", &so, NULL), TP_EXIT_RUNTIME);
    ASSERT(tp_mono_ns() - t0 < 10 * TP_NS_PER_SEC);
    rmdir_all(data);
}

TPT_MAIN({"finite_run_then_resume", test_finite_run_then_resume},
         {"signal_drains_and_commits", test_signal_drains_and_commits},
         {"disk_failure_exits_3", test_disk_failure_exits_3})
