/*
 * test_kpos.c — the replay positions of the Kafka ingest role (kafka/kpos.h): the record
 * codec (round trip, damage, caps), the source id, the sender's bookkeeping (event numbers
 * checked against the markers, a snapshot ready only once every earlier message of the source
 * was delivered in every partition, the offset bounds it records) and the skipping of events
 * found in the topic. The Kafka reads at start are tested end to end in
 * tests/integration/kafka_ingest_resume.sh.
 */
#include "kafka/kpos.h"
#include "tpt.h"

/* A positioned source whose markers carry the count in ts, like replay's. */
static void fake_position(struct tp_source *s, const struct tp_event *m, struct tp_source_pos *ret)
{
    (void)s;
    memset(ret, 0, sizeof *ret);
    snprintf(ret->source, sizeof ret->source, "replay:/data/fake.csv");
    ret->events = (uint64_t)m->ts;
    ret->offset = (uint64_t)m->ts * 10;
    ret->eof = m->side != 0;
}

static const struct tp_source_ops fake_ops = {.kind = "fake", .position = fake_position};

static struct tp_event marker(enum tp_mark k, uint64_t events)
{
    struct tp_event m;
    memset(&m, 0, sizeof m);
    m.kind = TP_KIND_MARK;
    m.status = (uint8_t)k;
    m.ts = (int64_t)events;
    return m;
}

static void test_codec(void)
{
    struct tp_source_pos pos = {.events = 12345, .offset = 999, .line = 77, .eof = true};
    snprintf(pos.source, sizeof pos.source, "replay:/x/y.csv");
    int64_t offs[3] = {5, 0, 1234567890123};
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    ASSERT_EQ_INT(tp_buf_puts(&b, "junk"), 0); /* encode appends */
    ASSERT_EQ_INT(tp_kpos_encode(&b, &pos, offs, 3), 0);
    const char *rec = b.p + 4;
    size_t n = b.len - 4;
    struct tp_source_pos got;
    int64_t o[4];
    int parts = 0;
    ASSERT_EQ_INT(tp_kpos_decode(rec, n, &got, o, 4, &parts), 0);
    ASSERT_EQ_INT(parts, 3);
    ASSERT_EQ_U64(got.events, 12345);
    ASSERT_EQ_U64(got.offset, 999);
    ASSERT_EQ_U64(got.line, 77);
    ASSERT(got.eof);
    ASSERT_EQ_STR(got.source, "replay:/x/y.csv");
    ASSERT_EQ_INT(o[0], 5);
    ASSERT_EQ_INT(o[2], 1234567890123);
    ASSERT_EQ_INT(tp_kpos_decode(rec, n, &got, o, 2, &parts), -E2BIG);
    ASSERT_EQ_INT(tp_kpos_decode(rec, n - 1, &got, o, 4, &parts), -EBADMSG);
    char *copy = malloc(n);
    for (size_t i = 0; i < n; i++) { /* every flipped byte is caught */
        memcpy(copy, rec, n);
        copy[i] ^= 0x20;
        ASSERT_EQ_INT(tp_kpos_decode(copy, n, &got, o, 4, &parts), -EBADMSG);
    }
    free(copy);
    tp_buf_fini(&b);
}

static void test_id(void)
{
    char a[17], b[17], c[17];
    tp_kpos_id("tickpipe.ticks", "replay:/a.csv", a);
    tp_kpos_id("tickpipe.ticks", "replay:/a.csv", b);
    tp_kpos_id("other.ticks", "replay:/a.csv", c);
    ASSERT_EQ_INT(strlen(a), 16);
    ASSERT_EQ_STR(a, b);
    ASSERT(strcmp(a, c) != 0);
    for (int i = 0; i < 16; i++)
        ASSERT((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
}

static void test_snapshot(void)
{
    struct tp_source src;
    tp_source_init(&src, &fake_ops, "replay:fake.csv", false);
    struct tp_kpos *kp;
    ASSERT_EQ_INT(tp_kpos_new(&src, "t", 2, &kp), 0);
    ASSERT_EQ_STR(kp->name, "replay:/data/fake.csv");
    int64_t acked[2] = {100, 200};
    kp->floor[0] = 50;
    kp->floor[1] = 60;
    struct tp_event m = marker(TP_MARK_BEGIN, 0);
    ASSERT_EQ_INT(tp_kpos_mark(kp, &m, acked, 0), 0);
    /* three events: 1 and 3 to partition 0, 2 to partition 1 */
    tp_kpos_done(kp, 0, 1, 0);
    tp_kpos_done(kp, 1, 2, 0);
    tp_kpos_done(kp, 0, 3, 0);
    m = marker(TP_MARK_END, 3);
    ASSERT_EQ_INT(tp_kpos_mark(kp, &m, acked, 0), 0);
    ASSERT(kp->pending && !kp->ready);
    ASSERT_EQ_INT(kp->poffs[0], 100); /* max(floor, acked) */
    ASSERT_EQ_INT(kp->poffs[1], 200);
    tp_kpos_delivered(kp, 0);
    tp_kpos_delivered(kp, 1);
    ASSERT(!kp->ready); /* event 3 is still in flight */
    /* later events do not change the snapshot, and their deliveries do not complete it */
    m = marker(TP_MARK_BEGIN, 3);
    ASSERT_EQ_INT(tp_kpos_mark(kp, &m, acked, 0), 0);
    tp_kpos_done(kp, 1, 4, 0);
    tp_kpos_delivered(kp, 1);
    ASSERT(!kp->ready);
    tp_kpos_delivered(kp, 0);
    ASSERT(kp->ready);
    ASSERT_EQ_U64(kp->ppos.events, 3);
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    ASSERT_EQ_INT(tp_kpos_record(kp, &b), 0);
    struct tp_source_pos got;
    int64_t o[2];
    int parts;
    ASSERT_EQ_INT(tp_kpos_decode(b.p, b.len, &got, o, 2, &parts), 0);
    ASSERT_EQ_U64(got.events, 3);
    ASSERT_EQ_INT(o[1], 200);
    tp_kpos_written(kp, 1000);
    ASSERT(!kp->pending && kp->floor[0] == 100);
    /* a marker whose count does not match what was handed on is a source bug */
    m = marker(TP_MARK_END, 7);
    ASSERT_EQ_INT(tp_kpos_mark(kp, &m, acked, 0), -EPROTO);
    /* not due before next_at; the final record catches the last END */
    m = marker(TP_MARK_END, 4);
    ASSERT_EQ_INT(tp_kpos_mark(kp, &m, acked, 10), 0);
    ASSERT(!kp->pending);
    ASSERT(tp_kpos_final(kp, acked));
    ASSERT_EQ_U64(kp->ppos.events, 4);
    tp_kpos_written(kp, 2000);
    ASSERT(!tp_kpos_final(kp, acked)); /* written already */
    tp_buf_fini(&b);
    tp_kpos_free(kp);
    tp_source_fini(&src);
}

/* After a restart: events found in the topic are skipped, and the bound of a partition that
 * still holds events past the snapshot's count stays where it was. */
static void test_skip(void)
{
    struct tp_source src;
    tp_source_init(&src, &fake_ops, "replay:fake.csv", false);
    struct tp_kpos *kp;
    ASSERT_EQ_INT(tp_kpos_new(&src, "t", 2, &kp), 0);
    kp->found = true;
    kp->seq = 10; /* the position said 10 events */
    kp->floor[0] = 40;
    kp->floor[1] = 70;
    uint64_t in0[] = {11, 13, 16}, in1[] = {12};
    kp->have[0].v = malloc(sizeof in0);
    memcpy(kp->have[0].v, in0, sizeof in0);
    kp->have[0].n = kp->have[0].cap = 3;
    kp->have[0].max = 16;
    kp->have[1].v = malloc(sizeof in1);
    memcpy(kp->have[1].v, in1, sizeof in1);
    kp->have[1].n = kp->have[1].cap = 1;
    kp->have[1].max = 12;
    kp->have_n = 4;
    kp->have_max = 16;
    /* events 11..17: partition 0 for odd, 1 for even, and 16 to 0 */
    int32_t part[] = {0, 1, 0, 1, 0, 0, 0};
    bool dup[] = {true, true, true, false, false, true, false};
    for (uint64_t s = 11; s <= 17; s++) {
        int32_t q = part[s - 11];
        bool d = tp_kpos_dup(kp, q, s);
        ASSERT_EQ_INT(d, dup[s - 11]);
        ASSERT_EQ_INT(tp_kpos_dup(kp, q, s), d); /* a retry asks again: same answer */
        tp_kpos_done(kp, q, s, d ? 1 : 0);
        if (s == 14) {
            struct tp_event m = marker(TP_MARK_END, 14);
            int64_t acked[2] = {500, 600};
            ASSERT_EQ_INT(tp_kpos_mark(kp, &m, acked, 0), 0);
            ASSERT_EQ_INT(kp->poffs[0], 40); /* 16 is in partition 0 past the old bound */
            ASSERT_EQ_INT(kp->poffs[1], 600);
        }
    }
    ASSERT_EQ_U64(kp->skipped, 4);
    ASSERT(kp->skip_logged);
    tp_kpos_free(kp);
    tp_source_fini(&src);
}

TPT_MAIN({"codec", test_codec}, {"id", test_id}, {"snapshot", test_snapshot}, {"skip", test_skip})
