/*
 * test_process_retention.c — the process stage's retention of the output journal
 * (process.h; docs/journal.md "Truncate and retention"). An input journal of 30,500 trades
 * (3 instruments, 100 ms apart: about 9,000 final bars) is processed with 4 KiB output
 * segments, a checkpoint every 1,000 input records and a 16 KiB retention limit:
 *   - while the sinks' keep offset is 0 (not known yet) nothing is removed; with keep K only
 *     segments wholly below K go; with no sink, retention goes up to the last checkpoint
 *     record, which stays readable (a restart loads it);
 *   - a restart on the trimmed journal resumes from that checkpoint and regenerates the
 *     outputs after it: every kept record equals, byte for byte, the record at the same
 *     offset of a reference run without retention;
 *   - an output journal whose kept records hold no checkpoint is refused (-EBADMSG), not cut.
 */
#include <ftw.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/instrument.h"
#include "core/tptime.h"
#include "log/journal.h"
#include "log/record.h"
#include "pipeline/process.h"
#include "tpt.h"

#define N_INPUT 30500
#define SEG     4096
#define LIMIT   (16 * 1024)

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rmdir_all(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The input journal ROOT/in: N_INPUT trades, committed; *ret stays open (the writer). */
static void make_input(const char *root, struct tp_journal **ret)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s/in", root);
    struct tp_journal_opts jo;
    tp_journal_opts_default(&jo, dir);
    struct tp_journal *j;
    ASSERT_EQ_INT(tp_journal_open(&jo, &j, NULL), 0);
    uint32_t ins[3];
    const char *names[3] = {"test:AAA-USD", "test:BBB-USD", "test:CCC-USD"};
    for (int i = 0; i < 3; i++)
        ASSERT_EQ_INT(tp_instr_intern(names[i], strlen(names[i]), &ins[i]), 0);
    struct tp_buf b;
    tp_buf_init(&b, 4096);
    int64_t t0 = 1704067200 * TP_NS_PER_SEC;
    for (uint64_t k = 0; k < N_INPUT; k++) {
        struct tp_event e;
        tp_event_init(&e, TP_KIND_TRADE);
        e.instr = ins[k % 3];
        e.ts = e.ts_recv = t0 + (int64_t)k * 100 * TP_NS_PER_MS;
        e.price = 100.0 + (double)((k * 7919) % 200) / 8.0;
        e.size = 0.5 + (double)(k % 5);
        e.side = (uint8_t)(k % 2 ? TP_SIDE_BUY : TP_SIDE_SELL);
        tp_event_set_id(&e, k / 3 + 1);
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_event(&b, &e), 0);
        ASSERT_EQ_INT(tp_journal_append(j, b.p, b.len, NULL), 0);
    }
    ASSERT_EQ_INT(tp_journal_commit(j), 0);
    tp_buf_fini(&b);
    *ret = j;
}

static struct tp_process *start(const char *data, const char *in, const struct tp_journal *j,
                                bool retain, _Atomic uint64_t *keep)
{
    struct tp_process_opts o = {
        .data_dir = data,
        .input_dir = in,
        .input = j,
        .durable_only = true,
        .sync = TP_SYNC_GROUP,
        .checkpoint_every = 1000,
        .live_events_below = UINT64_MAX,
        .segment_bytes = SEG,
        .retention_bytes = retain ? LIMIT : 0,
        .sinks_keep = keep,
    };
    struct tp_process *p;
    ASSERT_EQ_INT(tp_process_start(&o, &p), 0);
    return p;
}

static void stats(struct tp_process *p, struct tp_process_stats *s)
{
    tp_process_stats(p, s);
}

/* Waits up to 10 s for the stage to have read every input record. */
static void wait_input(struct tp_process *p)
{
    struct tp_process_stats s;
    for (int i = 0; i < 1000; i++) {
        stats(p, &s);
        if (s.input_next == N_INPUT) return;
        usleep(10000);
    }
    TPT_FAIL("the process stage read %llu of %d input records", (unsigned long long)s.input_next,
             N_INPUT);
}

/* Sleeps over one retention turn (one a second). */
static void one_turn(void)
{
    usleep(1200 * 1000);
}

/* Waits up to 5 s for the output journal's first offset to pass `above`. */
static void wait_first_above(struct tp_process *p, uint64_t above, struct tp_process_stats *s)
{
    for (int i = 0; i < 500; i++) {
        stats(p, s);
        if (s->output_first > above) return;
        usleep(10000);
    }
    TPT_FAIL("retention did not pass offset %llu (first %llu)", (unsigned long long)above,
             (unsigned long long)s->output_first);
}

/* Every record of the output journal in `dir` from `from`, each compared with the one at the
 * same offset in `ref`; returns how many. */
static uint64_t compare(const char *dir, uint64_t from, const char *ref)
{
    struct tp_cursor *a, *b;
    ASSERT_EQ_INT(tp_cursor_open(dir, from, NULL, false, &a), 0);
    ASSERT_EQ_INT(tp_cursor_open(ref, from, NULL, false, &b), 0);
    uint64_t n = 0;
    for (;;) {
        const void *pa, *pb;
        size_t na, nb;
        uint64_t oa, ob;
        int ra = tp_cursor_next(a, &pa, &na, &oa), rb = tp_cursor_next(b, &pb, &nb, &ob);
        ASSERT(ra >= 0 && rb >= 0);
        ASSERT_EQ_INT(ra, rb);
        if (ra == 0) break;
        ASSERT_EQ_U64(oa, ob);
        if (na != nb || memcmp(pa, pb, na))
            TPT_FAIL("output record %llu differs from the reference's", (unsigned long long)oa);
        n++;
    }
    tp_cursor_close(a);
    tp_cursor_close(b);
    return n;
}

static void test_retain_resume(void)
{
    char root[64];
    snprintf(root, sizeof root, "/tmp/tp_procret_XXXXXX");
    ASSERT(mkdtemp(root));
    struct tp_journal *j;
    make_input(root, &j);
    char in[128], ref[128], data[128], odir[160], rdir[160];
    snprintf(in, sizeof in, "%s/in", root);
    snprintf(ref, sizeof ref, "%s/ref", root);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(rdir, sizeof rdir, "%s/journal/output", ref);
    snprintf(odir, sizeof odir, "%s/journal/output", data);

    /* The reference: no retention. */
    struct tp_process_stats rs, s;
    struct tp_process *r = start(ref, in, j, false, NULL);
    wait_input(r);
    ASSERT_EQ_INT(tp_process_stop(r, &rs), 0);
    ASSERT(rs.bars > 5000);
    ASSERT_EQ_U64(rs.output_first, 0);

    /* Sinks not known yet (keep 0): nothing goes. */
    _Atomic uint64_t keep = 0;
    struct tp_process *p = start(data, in, j, true, &keep);
    wait_input(p);
    one_turn();
    stats(p, &s);
    ASSERT_EQ_U64(s.output_first, 0);
    ASSERT_EQ_U64(s.retained, 0);
    ASSERT(s.checkpoint_offset != UINT64_MAX && s.checkpoint_offset > rs.output_next / 2);

    /* A sink acknowledged up to K: only segments below K go. */
    uint64_t k = s.checkpoint_offset / 2;
    atomic_store(&keep, k);
    wait_first_above(p, 0, &s);
    one_turn();
    stats(p, &s);
    ASSERT(s.retained > 0);
    ASSERT(s.output_first > 0 && s.output_first <= k);

    /* No sink: retention goes up to the last checkpoint record, which is kept. */
    atomic_store(&keep, UINT64_MAX);
    wait_first_above(p, k, &s);
    one_turn();
    stats(p, &s);
    ASSERT(s.output_first > k && s.output_first <= s.checkpoint_offset);
    uint64_t first = s.output_first, ck = s.checkpoint_offset;
    struct tp_cursor *c;
    ASSERT_EQ_INT(tp_cursor_open(odir, ck, NULL, false, &c), 0);
    const void *rec;
    size_t n;
    uint64_t off;
    ASSERT_EQ_INT(tp_cursor_next(c, &rec, &n, &off), 1);
    ASSERT_EQ_INT(tp_rec_type(rec, n), TP_REC_CHECKPOINT);
    tp_cursor_close(c);
    ASSERT_EQ_INT(tp_process_stop(p, &s), 0);
    /* N_INPUT is no multiple of the checkpoint interval: outputs follow the last checkpoint. */
    ASSERT(s.output_next > ck + 1);

    /* Restart on the trimmed journal: it resumes from the kept checkpoint, cuts what followed
     * it and regenerates it; everything kept equals the reference. */
    p = start(data, in, j, true, &keep);
    stats(p, &s);
    ASSERT_EQ_U64(s.checkpoint_offset, ck);
    ASSERT_EQ_U64(s.checkpoint, N_INPUT / 1000 * 1000); /* the thread may already be past it */
    wait_input(p);
    ASSERT_EQ_INT(tp_process_stop(p, &s), 0);
    ASSERT_EQ_U64(s.output_next, rs.output_next);
    ASSERT(s.output_first >= first);
    ASSERT_EQ_U64(compare(odir, s.output_first, rdir), rs.output_next - s.output_first);

    ASSERT_EQ_INT(tp_journal_close(j), 0);
    rmdir_all(root);
}

static void test_no_checkpoint_refused(void)
{
    char root[64];
    snprintf(root, sizeof root, "/tmp/tp_procret_XXXXXX");
    ASSERT(mkdtemp(root));
    struct tp_journal *j;
    make_input(root, &j);
    char in[128], odir[160];
    snprintf(in, sizeof in, "%s/in", root);
    snprintf(odir, sizeof odir, "%s/data/journal/output", root);
    /* An output journal of gap records only, its start removed. */
    struct tp_journal_opts jo;
    tp_journal_opts_default(&jo, odir);
    jo.segment_bytes = SEG;
    struct tp_journal *o;
    ASSERT_EQ_INT(tp_journal_open(&jo, &o, NULL), 0);
    struct tp_buf b;
    tp_buf_init(&b, 4096);
    uint32_t in0;
    ASSERT_EQ_INT(tp_instr_intern("test:AAA-USD", 12, &in0), 0);
    for (uint64_t i = 0; i < 2000; i++) {
        struct tp_gap g = {.instr = in0,
                           .ts = 1704067200 * TP_NS_PER_SEC,
                           .first_missing = i + 1,
                           .last_missing = i + 1};
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_gap(&b, &g), 0);
        ASSERT_EQ_INT(tp_journal_append(o, b.p, b.len, NULL), 0);
    }
    ASSERT_EQ_INT(tp_journal_commit(o), 0);
    ASSERT(tp_journal_retain(o, 1000, 1, 0) > 0);
    ASSERT(tp_journal_first_offset(o) > 0);
    ASSERT_EQ_INT(tp_journal_close(o), 0);
    tp_buf_fini(&b);

    char data[128];
    snprintf(data, sizeof data, "%s/data", root);
    struct tp_process_opts po = {.data_dir = data,
                                 .input_dir = in,
                                 .input = j,
                                 .durable_only = true,
                                 .sync = TP_SYNC_GROUP,
                                 .live_events_below = UINT64_MAX,
                                 .segment_bytes = SEG};
    struct tp_process *p = NULL;
    ASSERT_EQ_INT(tp_process_start(&po, &p), -EBADMSG);
    /* Nothing was cut. */
    ASSERT_EQ_INT(tp_journal_open(&jo, &o, NULL), 0);
    ASSERT_EQ_U64(tp_journal_next_offset(o), 2000);
    ASSERT_EQ_INT(tp_journal_close(o), 0);
    ASSERT_EQ_INT(tp_journal_close(j), 0);
    rmdir_all(root);
}

TPT_MAIN({"retain_resume", test_retain_resume},
         {"no_checkpoint_refused", test_no_checkpoint_refused})
