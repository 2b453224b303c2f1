/*
 * test_sinkrun.c — sink runners over real journals: complete delivery of both logs, resume
 * from the sink's acknowledgement after transient failures (nothing lost, re-delivery only
 * past the ack), fatal errors stop the runner, waiting for a log to reach the ack, giving up
 * at stop when the server never comes back.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/tptime.h"
#include "log/journal.h"
#include "pipeline/sinkrun.h"
#include "tpt.h"

#define NREC 3000

/* A sink that keeps "durable" data in memory: a bitmap per log, written at flush. */
struct msink {
    uint8_t pending[2][NREC], durable[2][NREC];
    uint64_t ack[2];
    uint64_t next_expected[2];
    int opens, writes, order_errors;
    int fail_write_at; /* input offset whose first write fails (-1 none) */
    int fail_flushes;  /* flushes that fail with -ECONNRESET */
    int fail_opens;    /* opens that fail with -ECONNREFUSED (-1 forever) */
    int fatal_at;      /* output offset whose write returns -EIO (-1 none) */
    bool reads_in, reads_out;
};

static int m_open(void *self, uint64_t ack[2])
{
    struct msink *m = self;
    if (m->fail_opens) {
        if (m->fail_opens > 0) m->fail_opens--;
        return -ECONNREFUSED;
    }
    m->opens++;
    memset(m->pending, 0, sizeof m->pending);
    for (int l = 0; l < 2; l++) ack[l] = m->next_expected[l] = m->ack[l];
    return 0;
}

static int m_write(void *self, enum tp_sink_log log, uint64_t off, const void *p, size_t n)
{
    struct msink *m = self;
    if (off != m->next_expected[log]) m->order_errors++;
    m->next_expected[log] = off + 1;
    if (log == TP_LOG_INPUT && (int)off == m->fail_write_at) {
        m->fail_write_at = -1;
        return -ECONNRESET;
    }
    if (log == TP_LOG_OUTPUT && (int)off == m->fatal_at) return -EIO;
    /* the payload is the offset, as text */
    char want[32];
    int k = snprintf(want, sizeof want, "%c%llu", log ? 'o' : 'i', (unsigned long long)off);
    if ((size_t)k != n || memcmp(want, p, n)) m->order_errors++;
    if (off < NREC) m->pending[log][off] = 1;
    m->writes++;
    return (m->writes % 700) == 0; /* ask for a flush now and then */
}

static int m_flush(void *self, bool final, uint64_t ack[2])
{
    struct msink *m = self;
    if (m->fail_flushes) {
        m->fail_flushes--;
        return -ECONNRESET;
    }
    for (int l = 0; l < 2; l++) {
        for (int i = 0; i < NREC; i++) m->durable[l][i] |= m->pending[l][i];
        memset(m->pending[l], 0, NREC);
        m->ack[l] = m->next_expected[l];
        ack[l] = m->ack[l];
    }
    (void) final;
    return 0;
}

static void m_close(void *self)
{
    (void)self;
}

static void m_free(void *self)
{
    (void)self; /* owned by the test */
}

static struct tp_sink_ops ops_both = {
    .name = "mem",
    .reads_input = true,
    .reads_output = true,
    .flush_ns = 20 * TP_NS_PER_MS,
    .open = m_open,
    .write = m_write,
    .flush = m_flush,
    .close = m_close,
    .free = m_free,
};

static char root[64];
static char dirs[2][128];
static _Atomic uint64_t bounds[2];

static uint64_t bound(void *ctx, enum tp_sink_log log)
{
    (void)ctx;
    return atomic_load(&bounds[log]);
}

static void make_journals(void)
{
    snprintf(root, sizeof root, "/tmp/tp_sinkrun_XXXXXX");
    if (!mkdtemp(root)) TPT_FAIL("mkdtemp: %s", strerror(errno));
    for (int l = 0; l < 2; l++) {
        snprintf(dirs[l], sizeof dirs[l], "%s/%s", root, l ? "output" : "input");
        struct tp_journal_opts o;
        tp_journal_opts_default(&o, dirs[l]);
        o.segment_bytes = 8192; /* several segments */
        struct tp_journal *j;
        ASSERT_EQ_INT(tp_journal_open(&o, &j, NULL), 0);
        for (int i = 0; i < NREC; i++) {
            char rec[32];
            int k = snprintf(rec, sizeof rec, "%c%d", l ? 'o' : 'i', i);
            ASSERT_EQ_INT(tp_journal_append(j, rec, (size_t)k, NULL), 0);
        }
        ASSERT_EQ_INT(tp_journal_close(j), 0);
        atomic_store(&bounds[l], NREC);
    }
}

static void cleanup(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
}

static struct tp_sinkrun *start(struct msink *m, const struct tp_sink_ops *ops)
{
    struct tp_sinkrun_env env = {
        .dir = {dirs[0], dirs[1]}, .bound = bound, .max_backoff_ns = 200 * TP_NS_PER_MS};
    struct tp_sinkrun *r;
    ASSERT_EQ_INT(tp_sinkrun_start(ops, m, &env, &r), 0);
    return r;
}

static void wait_caught_up(struct tp_sinkrun *r)
{
    for (int i = 0; i < 1000 && !tp_sinkrun_caught_up(r); i++) usleep(10000);
}

static void check_all_durable(const struct msink *m, int upto_in, int upto_out)
{
    for (int i = 0; i < upto_in; i++)
        if (!m->durable[0][i]) TPT_FAIL("input offset %d never made durable", i);
    for (int i = 0; i < upto_out; i++)
        if (!m->durable[1][i]) TPT_FAIL("output offset %d never made durable", i);
}

static void test_delivers_everything(void)
{
    make_journals();
    static struct msink m = {.fail_write_at = -1, .fatal_at = -1};
    struct tp_sinkrun *r = start(&m, &ops_both);
    wait_caught_up(r);
    ASSERT(tp_sinkrun_caught_up(r));
    struct tp_sinkrun_stats s;
    tp_sinkrun_stats(r, &s);
    ASSERT_EQ_U64(s.ack[0], NREC);
    ASSERT_EQ_U64(s.ack[1], NREC);
    ASSERT(s.up);
    ASSERT_EQ_INT(tp_sinkrun_stop(r, TP_NS_PER_SEC), 0);
    ASSERT_EQ_INT(m.order_errors, 0);
    ASSERT_EQ_INT(m.opens, 1);
    check_all_durable(&m, NREC, NREC);
    cleanup();
}

static void test_transient_failures_resume_from_ack(void)
{
    make_journals();
    static struct msink m = {
        .fail_write_at = 1500, .fail_flushes = 2, .fail_opens = 2, .fatal_at = -1};
    /* start with the output log shorter than the sink's ack would be: a resumed sink */
    m.ack[0] = 100;
    m.ack[1] = 2500;
    for (int i = 0; i < 100; i++) m.durable[0][i] = 1;
    for (int i = 0; i < 2500; i++) m.durable[1][i] = 1;
    atomic_store(&bounds[1], 2000); /* the log is behind the ack: the runner must wait */
    struct tp_sinkrun *r = start(&m, &ops_both);
    usleep(300000);
    struct tp_sinkrun_stats s;
    tp_sinkrun_stats(r, &s);
    ASSERT(s.failures >= 3); /* two refused opens, the failed write and the failed flushes */
    atomic_store(&bounds[1], NREC);
    wait_caught_up(r);
    ASSERT_EQ_INT(tp_sinkrun_stop(r, TP_NS_PER_SEC), 0);
    ASSERT_EQ_INT(m.order_errors, 0);
    ASSERT(m.opens >= 2);
    check_all_durable(&m, NREC, NREC);
    ASSERT_EQ_U64(m.ack[0], NREC);
    ASSERT_EQ_U64(m.ack[1], NREC);
    cleanup();
}

static void test_fatal_stops(void)
{
    make_journals();
    static struct msink m = {.fail_write_at = -1, .fatal_at = 1234};
    struct tp_sinkrun *r = start(&m, &ops_both);
    for (int i = 0; i < 500 && !tp_sinkrun_fatal(r); i++) usleep(10000);
    ASSERT_EQ_INT(tp_sinkrun_fatal(r), -EIO);
    ASSERT_EQ_INT(tp_sinkrun_stop(r, TP_NS_PER_SEC), -EIO);
    ASSERT_EQ_INT(m.opens, 1); /* never retried */
    cleanup();
}

static void test_gives_up_at_stop(void)
{
    make_journals();
    static struct msink m = {.fail_write_at = -1, .fatal_at = -1, .fail_opens = -1};
    struct tp_sinkrun *r = start(&m, &ops_both);
    usleep(100000);
    int64_t t0 = tp_mono_ns();
    int rc = tp_sinkrun_stop(r, 300 * TP_NS_PER_MS);
    int64_t took = tp_mono_ns() - t0;
    ASSERT_EQ_INT(rc, -ECONNREFUSED);
    ASSERT(took < 3 * TP_NS_PER_SEC);
    ASSERT_EQ_INT(m.opens, 0);
    cleanup();
}

static void test_input_only(void)
{
    make_journals();
    static struct msink m = {.fail_write_at = -1, .fatal_at = -1};
    struct tp_sink_ops ops = ops_both;
    ops.reads_output = false;
    struct tp_sinkrun *r = start(&m, &ops);
    wait_caught_up(r);
    struct tp_sinkrun_stats s;
    tp_sinkrun_stats(r, &s);
    ASSERT_EQ_U64(s.ack[0], NREC);
    ASSERT_EQ_U64(s.ack[1], TP_SINK_NO_ACK);
    ASSERT_EQ_INT(tp_sinkrun_stop(r, TP_NS_PER_SEC), 0);
    check_all_durable(&m, NREC, 0);
    for (int i = 0; i < NREC; i++)
        if (m.durable[1][i]) TPT_FAIL("output offset %d delivered to an input-only sink", i);
    cleanup();
}

/* A sink whose open works but whose flushes fail (a full disk under the lake: the directory
 * opens, every commit fails) made no progress: the backoff must grow, not restart at the
 * floor after every open. Five failed flushes wait at least 50+100+200+400+800 ms (equal
 * jitter keeps half of each step); restarting at the floor each time would take 250 ms. */
static void test_backoff_grows_without_progress(void)
{
    make_journals();
    static struct msink m = {.fail_write_at = -1, .fatal_at = -1, .fail_flushes = 5};
    struct tp_sinkrun_env env = {
        .dir = {dirs[0], dirs[1]}, .bound = bound, .max_backoff_ns = 5 * TP_NS_PER_SEC};
    struct tp_sinkrun *r;
    int64_t t0 = tp_mono_ns();
    ASSERT_EQ_INT(tp_sinkrun_start(&ops_both, &m, &env, &r), 0);
    for (int i = 0; i < 1000 && !tp_sinkrun_caught_up(r); i++) usleep(10000);
    int64_t took = tp_mono_ns() - t0;
    ASSERT(tp_sinkrun_caught_up(r));
    struct tp_sinkrun_stats s;
    tp_sinkrun_stats(r, &s);
    ASSERT_EQ_U64(s.failures, 5);
    ASSERT(took >= 1500 * TP_NS_PER_MS);
    ASSERT_EQ_INT(m.opens, 6);
    ASSERT_EQ_INT(tp_sinkrun_stop(r, TP_NS_PER_SEC), 0);
    check_all_durable(&m, NREC, NREC);
    cleanup();
}

TPT_MAIN({"delivers_everything", test_delivers_everything},
         {"backoff_grows_without_progress", test_backoff_grows_without_progress},
         {"transient_failures_resume_from_ack", test_transient_failures_resume_from_ack},
         {"fatal_stops", test_fatal_stops}, {"gives_up_at_stop", test_gives_up_at_stop},
         {"input_only", test_input_only})
