/*
 * test_ring.c — the SPSC event ring: order and no loss across two threads (with both sides
 * sleeping on the doorbells when empty/full), full-ring behaviour and drop counting,
 * wrap-around of reserve/peek, bad capacities.
 */
#include <pthread.h>

#include "core/ring.h"
#include "core/tptime.h"
#include "tpt.h"

#define SPSC_ITEMS 10000000ULL

struct spsc {
    struct tp_ring ring;
    struct tp_bell data;
    uint64_t consumed;
    uint64_t errors;
    uint64_t first_bad, first_bad_want;
};

static void *producer(void *arg)
{
    struct spsc *t = arg;
    uint64_t next = 0;
    while (next < SPSC_ITEMS) {
        struct tp_event *slots;
        size_t want = (size_t)TP_MIN(SPSC_ITEMS - next, 1 + next % 300);
        size_t n = tp_ring_reserve(&t->ring, want, &slots);
        if (!n) {
            uint32_t key = tp_bell_prepare(&t->ring.space);
            if (!tp_ring_reserve(&t->ring, 1, &slots))
                tp_bell_wait(&t->ring.space, key, 100 * TP_NS_PER_MS);
            tp_bell_done(&t->ring.space);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            slots[i].trade_id = next + i;
            slots[i].ts = (int64_t)(next + i) * 3;
        }
        tp_ring_commit(&t->ring, n);
        next += n;
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct spsc *t = arg;
    while (t->consumed < SPSC_ITEMS) {
        const struct tp_event *slots;
        size_t n = tp_ring_peek(&t->ring, 1 + t->consumed % 500, &slots);
        if (!n) {
            uint32_t key = tp_bell_prepare(&t->data);
            if (!tp_ring_count(&t->ring)) tp_bell_wait(&t->data, key, 100 * TP_NS_PER_MS);
            tp_bell_done(&t->data);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t want = t->consumed + i;
            if (slots[i].trade_id != want || slots[i].ts != (int64_t)want * 3) {
                if (!t->errors++) {
                    t->first_bad = slots[i].trade_id;
                    t->first_bad_want = want;
                }
            }
        }
        tp_ring_release(&t->ring, n);
        t->consumed += n;
    }
    return NULL;
}

static void test_spsc_two_threads(void)
{
    struct spsc t = {0};
    tp_bell_init(&t.data);
    ASSERT_EQ_INT(tp_ring_init(&t.ring, 1024, &t.data), 0);
    pthread_t p, c;
    int64_t t0 = tp_mono_ns();
    ASSERT_EQ_INT(pthread_create(&c, NULL, consumer, &t), 0);
    ASSERT_EQ_INT(pthread_create(&p, NULL, producer, &t), 0);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    double secs = (double)(tp_mono_ns() - t0) / 1e9;
    fprintf(stderr, "  %llu items in %.2f s (%.1f M/s)\n", SPSC_ITEMS, secs,
            (double)SPSC_ITEMS / secs / 1e6);
    if (t.errors)
        TPT_FAIL("%llu out-of-order items, first got %llu want %llu", (unsigned long long)t.errors,
                 (unsigned long long)t.first_bad, (unsigned long long)t.first_bad_want);
    ASSERT_EQ_U64(t.consumed, SPSC_ITEMS);
    ASSERT_EQ_U64(tp_ring_count(&t.ring), 0);
    ASSERT_EQ_U64(tp_ring_drops(&t.ring), 0);
    tp_ring_fini(&t.ring);
}

static void test_full_ring_drops(void)
{
    struct tp_ring r;
    ASSERT_EQ_INT(tp_ring_init(&r, 8, NULL), 0);
    struct tp_event ev[20];
    for (int i = 0; i < 20; i++) {
        tp_event_init(&ev[i], TP_KIND_TRADE);
        tp_event_set_id(&ev[i], (uint64_t)i);
    }
    /* A live producer's policy: push what fits, count the rest as dropped. */
    size_t n = tp_ring_push(&r, ev, 11);
    ASSERT_EQ_INT(n, 8);
    tp_ring_count_drop(&r, 11 - n);
    ASSERT_EQ_INT(tp_ring_count(&r), 8);
    struct tp_event *slots;
    ASSERT_EQ_INT(tp_ring_reserve(&r, 1, &slots), 0);
    tp_ring_count_drop(&r, 1);
    ASSERT_EQ_U64(tp_ring_drops(&r), 4);

    struct tp_event out[20];
    ASSERT_EQ_INT(tp_ring_pop(&r, out, 5), 5);
    for (int i = 0; i < 5; i++) ASSERT_EQ_U64(out[i].trade_id, (uint64_t)i);
    /* Space returned: 5 more fit, across the wrap. */
    n = tp_ring_push(&r, ev + 12, 8);
    ASSERT_EQ_INT(n, 5);
    tp_ring_count_drop(&r, 8 - n);
    ASSERT_EQ_U64(tp_ring_drops(&r), 7);
    ASSERT_EQ_INT(tp_ring_pop(&r, out, 20), 8);
    uint64_t want[] = {5, 6, 7, 12, 13, 14, 15, 16};
    for (int i = 0; i < 8; i++) ASSERT_EQ_U64(out[i].trade_id, want[i]);
    ASSERT_EQ_INT(tp_ring_pop(&r, out, 20), 0);
    tp_ring_fini(&r);
}

static void test_contiguous_at_wrap(void)
{
    struct tp_ring r;
    ASSERT_EQ_INT(tp_ring_init(&r, 8, NULL), 0);
    struct tp_event *s;
    ASSERT_EQ_INT(tp_ring_reserve(&r, 6, &s), 6);
    tp_ring_commit(&r, 6);
    const struct tp_event *c;
    ASSERT_EQ_INT(tp_ring_peek(&r, 100, &c), 6);
    tp_ring_release(&r, 6);
    /* head at 6: only 2 contiguous slots before the wrap, then 6 more from slot 0. */
    ASSERT_EQ_INT(tp_ring_reserve(&r, 8, &s), 2);
    ASSERT(s == &r.slots[6]);
    s[0].trade_id = 60;
    s[1].trade_id = 70;
    tp_ring_commit(&r, 2);
    ASSERT_EQ_INT(tp_ring_reserve(&r, 8, &s), 6);
    ASSERT(s == &r.slots[0]);
    s[0].trade_id = 80;
    tp_ring_commit(&r, 1);
    ASSERT_EQ_INT(tp_ring_peek(&r, 100, &c), 2);
    ASSERT_EQ_U64(c[1].trade_id, 70);
    tp_ring_release(&r, 2);
    ASSERT_EQ_INT(tp_ring_peek(&r, 100, &c), 1);
    ASSERT_EQ_U64(c[0].trade_id, 80);
    tp_ring_release(&r, 1);
    ASSERT_EQ_INT(tp_ring_count(&r), 0);
    tp_ring_fini(&r);
}

static void test_bad_capacity(void)
{
    struct tp_ring r;
    ASSERT_EQ_INT(tp_ring_init(&r, 0, NULL), -EINVAL);
    ASSERT_EQ_INT(tp_ring_init(&r, 1, NULL), -EINVAL);
    ASSERT_EQ_INT(tp_ring_init(&r, 100, NULL), -EINVAL);
    ASSERT_EQ_INT(tp_ring_init(&r, (size_t)TP_RING_MAX_CAPACITY * 2, NULL), -EINVAL);
}

TPT_MAIN({"spsc_two_threads", test_spsc_two_threads}, {"full_ring_drops", test_full_ring_drops},
         {"contiguous_at_wrap", test_contiguous_at_wrap}, {"bad_capacity", test_bad_capacity})
