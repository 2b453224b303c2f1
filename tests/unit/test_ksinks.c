/*
 * test_ksinks.c — the Kafka process role's per-partition sinks (kafka/ksinks.h): the offset
 * encoding, the skip rule, flush scheduling and failure reporting over a fake sink, and the
 * lake in partition mode (its own ack file, cleanup limited to its partition, refusal of an
 * embedded pipeline's lake).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "kafka/ksinks.h"
#include "log/record.h"
#include "sink/lake.h"
#include "tpt.h"

static void test_offsets(void)
{
    ASSERT_EQ_U64(tp_koff(0, 0, 0), 0);
    /* the largest fits a PostgreSQL bigint exactly */
    ASSERT_EQ_U64(tp_koff(4095, TP_KOFF_INPUT_MAX, TP_KOFF_K_MAX), (uint64_t)INT64_MAX);
    ASSERT_EQ_INT(TP_KOFF_PART_BITS + TP_KOFF_INPUT_BITS + TP_KOFF_K_BITS, 63);
    /* order: outputs of a record, then the next record; partitions in disjoint ranges */
    for (int32_t p = 0; p < 4096; p += 1365) {
        ASSERT(tp_koff(p, 7, TP_KOFF_K_MAX) < tp_koff(p, 8, 0));
        ASSERT(tp_koff(p, 7, 0) < tp_koff(p, 7, 1));
        ASSERT(tp_koff(p, TP_KOFF_INPUT_MAX, TP_KOFF_K_MAX) < tp_koff_end(p));
        if (p + 1 < 4096) ASSERT_EQ_U64(tp_koff_end(p), tp_koff(p + 1, 0, 0));
    }
    ASSERT(tp_koff(1, 0, 0) > tp_koff(0, TP_KOFF_INPUT_MAX, TP_KOFF_K_MAX));
}

/* ---- a fake sink: durable[] is what it "holds"; pending since the last flush ---------------- */

struct fake {
    uint64_t durable[2]; /* acknowledged */
    uint64_t next[2];
    uint64_t got[64];
    enum tp_sink_log log[64];
    size_t n;
    int fail_write; /* errno to fail the next write with */
    int fail_open;
    int flushes;
    bool ask_flush; /* write returns 1 */
};

static int f_open(void *self, uint64_t ack[2])
{
    struct fake *f = self;
    if (f->fail_open) return -f->fail_open;
    for (int l = 0; l < 2; l++) ack[l] = f->next[l] = f->durable[l];
    return 0;
}

static int f_write(void *self, enum tp_sink_log log, uint64_t off, const void *p, size_t n)
{
    struct fake *f = self;
    (void)p;
    (void)n;
    if (f->fail_write) {
        int e = f->fail_write;
        f->fail_write = 0;
        return -e;
    }
    if (f->n < 64) {
        f->got[f->n] = off;
        f->log[f->n++] = log;
    }
    f->next[log] = off + 1;
    return f->ask_flush ? 1 : 0;
}

static int f_flush(void *self, bool final, uint64_t ack[2])
{
    struct fake *f = self;
    (void) final;
    f->flushes++;
    for (int l = 0; l < 2; l++) ack[l] = f->durable[l] = f->next[l];
    return 0;
}

static void f_close(void *self)
{
    (void)self;
}

static void f_free(void *self)
{
    (void)self;
}

static const struct tp_sink_ops fake_ops = {
    .name = "fake",
    .reads_input = true,
    .reads_output = true,
    .flush_ns = 100 * TP_NS_PER_MS,
    .open = f_open,
    .write = f_write,
    .flush = f_flush,
    .close = f_close,
    .free = f_free,
};

static struct fake fakes[2];

static int make_fake(void *ctx, const char *topic, int32_t p, const struct tp_sink_ops **ops,
                     void **self)
{
    (void)topic;
    (void)p;
    *ops = &fake_ops;
    *self = &fakes[(intptr_t)ctx];
    return 0;
}

static void test_skip_rule(void)
{
    memset(fakes, 0, sizeof fakes);
    fakes[0].durable[0] = tp_koff(2, 5, 0);
    fakes[0].durable[1] = tp_koff(2, 6, 1);
    fakes[1].durable[0] = tp_koff(2, 3, 0);
    struct tp_ksink_kind kinds[2] = {{"a", make_fake, (void *)0}, {"b", make_fake, (void *)1}};
    struct tp_ksink_totals tot[2] = {0};
    struct tp_ksinks *s;
    ASSERT_EQ_INT(tp_ksinks_new(kinds, 2, tot, "t", 2, &s), 0);
    size_t kind = 9;
    ASSERT_EQ_INT(tp_ksinks_open(s, &kind), 0);
    for (int64_t o = 3; o <= 6; o++) {
        ASSERT_EQ_INT(tp_ksinks_write(s, TP_LOG_INPUT, tp_koff(2, o, 0), "x", 1, &kind), 0);
        for (uint32_t k = 0; k < 2; k++)
            ASSERT_EQ_INT(tp_ksinks_write(s, TP_LOG_OUTPUT, tp_koff(2, o, k), "y", 1, &kind), 0);
    }
    /* a: inputs 5, 6 and outputs (6,1) only; b: every input from 3 and every output */
    ASSERT_EQ_U64(fakes[0].n, 3);
    ASSERT_EQ_U64(fakes[0].got[0], tp_koff(2, 5, 0));
    ASSERT_EQ_U64(fakes[0].got[1], tp_koff(2, 6, 0));
    ASSERT_EQ_U64(fakes[0].got[2], tp_koff(2, 6, 1));
    ASSERT_EQ_INT(fakes[0].log[2], TP_LOG_OUTPUT);
    ASSERT_EQ_U64(fakes[1].n, 12);
    ASSERT_EQ_U64(tot[0].written, 3);
    ASSERT_EQ_U64(tot[0].skipped, 9);
    ASSERT_EQ_U64(tot[1].written, 12);
    ASSERT_EQ_U64(tp_ksinks_pending(s, 0), 3);

    /* not due yet (flush_ns 100 ms), then due; final always */
    int64_t now = tp_mono_ns();
    ASSERT_EQ_INT(tp_ksinks_flush(s, false, now, &kind), 0);
    ASSERT_EQ_INT(fakes[0].flushes, 0);
    ASSERT_EQ_INT(tp_ksinks_flush(s, false, now + TP_NS_PER_SEC, &kind), 0);
    ASSERT_EQ_INT(fakes[0].flushes, 1);
    ASSERT_EQ_U64(tp_ksinks_pending(s, 0), 0);
    ASSERT_EQ_U64(fakes[0].durable[0], tp_koff(2, 6, 0) + 1);
    ASSERT_EQ_INT(tp_ksinks_flush(s, true, now, &kind), 0);
    ASSERT_EQ_INT(fakes[0].flushes, 2);

    /* a failure names its sink; the caller closes; reopening resumes from the acks */
    fakes[1].fail_write = ECONNRESET;
    ASSERT_EQ_INT(tp_ksinks_write(s, TP_LOG_INPUT, tp_koff(2, 7, 0), "x", 1, &kind), -ECONNRESET);
    ASSERT_EQ_U64(kind, 1);
    ASSERT_EQ_U64(tot[1].failures, 1);
    ASSERT(!tp_ksinks_fatal(-ECONNRESET));
    ASSERT(tp_ksinks_fatal(-EIO) && tp_ksinks_fatal(-EBADMSG));
    tp_ksinks_close(s);
    fakes[0].fail_open = ECONNREFUSED;
    ASSERT_EQ_INT(tp_ksinks_open(s, &kind), -ECONNREFUSED);
    ASSERT_EQ_U64(kind, 0);
    fakes[0].fail_open = 0;
    ASSERT_EQ_INT(tp_ksinks_open(s, &kind), 0);
    size_t before = fakes[0].n;
    ASSERT_EQ_INT(tp_ksinks_write(s, TP_LOG_INPUT, tp_koff(2, 6, 0), "x", 1, &kind), 0);
    ASSERT_EQ_U64(fakes[0].n, before); /* already durable: skipped */

    /* a sink that asks for a flush gets it at once */
    fakes[0].ask_flush = true;
    int fl = fakes[0].flushes;
    ASSERT_EQ_INT(tp_ksinks_write(s, TP_LOG_INPUT, tp_koff(2, 8, 0), "x", 1, &kind), 0);
    ASSERT_EQ_INT(fakes[0].flushes, fl + 1);
    tp_ksinks_free(s);
}

/* ---- the lake in partition mode ---------------------------------------------------------- */

static char root[] = "/tmp/tp_test_ksinks.XXXXXX";

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) TPT_FAIL("cannot create %s", path);
    fclose(f);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_lake_partitions(void)
{
    if (!mkdtemp(root)) TPT_FAIL("mkdtemp: %s", strerror(errno));
    char lake[256], path[512];
    snprintf(lake, sizeof lake, "%s/lake", root);
    struct tp_lake_opts o;
    tp_lake_opts_default(&o, lake);
    o.batch_offsets = UINT64_MAX;
    void *s0, *s1;
    ASSERT_EQ_INT(tp_lake_sink_new_part(&o, "ticks", 0, &s0), 0);
    ASSERT_EQ_INT(tp_lake_sink_new_part(&o, "ticks", 1, &s1), 0);
    uint64_t ack[2];
    ASSERT_EQ_INT(tp_lake_sink_ops.open(s0, ack), 0);
    ASSERT_EQ_U64(ack[0], 0);
    ASSERT_EQ_INT(tp_lake_sink_ops.open(s1, ack), 0);

    struct tp_event e;
    tp_event_init(&e, TP_KIND_TRADE);
    ASSERT_EQ_INT(tp_instr_intern("sim:KS-USD", 10, &e.instr), 0);
    e.ts = e.ts_recv = INT64_C(1767225600) * TP_NS_PER_SEC;
    e.price = 10;
    e.size = 1;
    struct tp_buf b;
    tp_buf_init(&b, 4096);
    ASSERT_EQ_INT(tp_rec_put_event(&b, &e), 0);
    for (int32_t p = 0; p < 2; p++) {
        void *s = p ? s1 : s0;
        for (int64_t off = 0; off < 3; off++)
            ASSERT(tp_lake_sink_ops.write(s, TP_LOG_INPUT, tp_koff(p, off, 0), b.p, b.len) >= 0);
        ASSERT_EQ_INT(tp_lake_sink_ops.flush(s, true, ack), 0);
        ASSERT_EQ_U64(ack[0], tp_koff(p, 2, 0) + 1);
    }
    /* one ack file each, the embedded pipeline's none */
    snprintf(path, sizeof path, "%s/_tickpipe/ack.ticks.p1", lake);
    ASSERT(exists(path));
    snprintf(path, sizeof path, "%s/_tickpipe/ack", lake);
    ASSERT(!exists(path));
    uint64_t a1[2];
    ASSERT_EQ_INT(tp_lake_ack_read_named(lake, "ack.ticks.p1", a1), 0);
    ASSERT_EQ_U64(a1[0], tp_koff(1, 2, 0) + 1);

    /* files past each partition's ack (a crash mid-commit): p0's open removes only its own */
    char dir[512], f0[600], f1[600], name[TP_LAKE_NAME_MAX];
    snprintf(dir, sizeof dir, "%s/ticks/date=2026-01-01/venue=sim", lake);
    ASSERT(tp_lake_part_name(TP_LOG_INPUT, 0, tp_koff(0, 3, 0), tp_koff(0, 4, 0), name,
                             sizeof name) > 0);
    snprintf(f0, sizeof f0, "%s/%s", dir, name);
    ASSERT(tp_lake_part_name(TP_LOG_INPUT, 1, tp_koff(1, 3, 0), tp_koff(1, 4, 0), name,
                             sizeof name) > 0);
    snprintf(f1, sizeof f1, "%s/%s", dir, name);
    touch(f0);
    touch(f1);
    tp_lake_sink_ops.close(s0);
    ASSERT_EQ_INT(tp_lake_sink_ops.open(s0, ack), 0);
    ASSERT_EQ_U64(ack[0], tp_koff(0, 2, 0) + 1);
    ASSERT(!exists(f0));
    ASSERT(exists(f1));
    tp_lake_sink_ops.close(s1);
    ASSERT_EQ_INT(tp_lake_sink_ops.open(s1, ack), 0);
    ASSERT(!exists(f1));

    /* a lake of the embedded pipeline is refused */
    uint64_t zero[2] = {0, 0};
    ASSERT_EQ_INT(tp_lake_ack_write(lake, zero), 0);
    tp_lake_sink_ops.close(s0);
    ASSERT_EQ_INT(tp_lake_sink_ops.open(s0, ack), -EBADMSG);
    tp_lake_sink_ops.free(s0);
    tp_lake_sink_ops.free(s1);
    tp_buf_fini(&b);
    ASSERT_EQ_INT(tp_lake_rmtree(root), 0);
}

TPT_MAIN({"offsets", test_offsets}, {"skip_rule", test_skip_rule},
         {"lake_partitions", test_lake_partitions})
