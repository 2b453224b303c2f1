/*
 * ring.c — the SPSC event ring and its futex doorbell (see ring.h for the invariants).
 */
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/ring.h"

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
    /* The kernel treats the word as a plain aligned uint32_t, which _Atomic uint32_t is. */
    return syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

void tp_bell_init(struct tp_bell *b)
{
    atomic_init(&b->seq, 0);
    atomic_init(&b->waiters, 0);
}

void tp_bell_ring(struct tp_bell *b)
{
    /* Orders the caller's state change (e.g. a head store) before the load of waiters; pairs
     * with the seq_cst increment in tp_bell_prepare. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&b->waiters, memory_order_relaxed) == 0) return;
    atomic_fetch_add_explicit(&b->seq, 1, memory_order_seq_cst);
    futex(&b->seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

uint32_t tp_bell_prepare(struct tp_bell *b)
{
    atomic_fetch_add_explicit(&b->waiters, 1, memory_order_seq_cst);
    /* Orders the announcement before the caller's re-check of its condition (the other half
     * of the store-buffering pair with the fence in tp_bell_ring). */
    atomic_thread_fence(memory_order_seq_cst);
    return atomic_load_explicit(&b->seq, memory_order_relaxed);
}

void tp_bell_wait(struct tp_bell *b, uint32_t key, int64_t timeout_ns)
{
    if (timeout_ns <= 0) return;
    struct timespec ts = {.tv_sec = (time_t)(timeout_ns / TP_NS_PER_SEC),
                          .tv_nsec = (long)(timeout_ns % TP_NS_PER_SEC)};
    /* Returns at once when seq already moved past key (a ring happened since prepare). */
    futex(&b->seq, FUTEX_WAIT_PRIVATE, key, &ts);
}

void tp_bell_done(struct tp_bell *b)
{
    atomic_fetch_sub_explicit(&b->waiters, 1, memory_order_relaxed);
}

int tp_ring_init(struct tp_ring *r, size_t capacity, struct tp_bell *data_bell)
{
    if (capacity < 2 || capacity > TP_RING_MAX_CAPACITY || (capacity & (capacity - 1)))
        return -EINVAL;
    struct tp_event *slots = calloc(capacity, sizeof *slots);
    if (!slots) return -ENOMEM;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->drops, 0);
    r->tail_cache = 0;
    r->head_cache = 0;
    r->slots = slots;
    r->mask = capacity - 1;
    r->data = data_bell;
    tp_bell_init(&r->space);
    return 0;
}

void tp_ring_fini(struct tp_ring *r)
{
    free(r->slots);
    r->slots = NULL;
}

size_t tp_ring_reserve(struct tp_ring *r, size_t want, struct tp_event **ret)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t cap = r->mask + 1;
    uint64_t free_n = cap - (head - r->tail_cache);
    if (free_n < want) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        free_n = cap - (head - r->tail_cache);
    }
    uint64_t idx = head & r->mask;
    uint64_t n = TP_MIN(TP_MIN((uint64_t)want, free_n), cap - idx);
    *ret = &r->slots[idx];
    return (size_t)n;
}

void tp_ring_commit(struct tp_ring *r, size_t n)
{
    if (!n) return;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    if (r->data) tp_bell_ring(r->data);
}

size_t tp_ring_push(struct tp_ring *r, const struct tp_event *ev, size_t n)
{
    size_t done = 0;
    while (done < n) {
        struct tp_event *slots;
        size_t k = tp_ring_reserve(r, n - done, &slots);
        if (!k) break;
        memcpy(slots, ev + done, k * sizeof *slots);
        tp_ring_commit(r, k);
        done += k;
    }
    return done;
}

size_t tp_ring_peek(struct tp_ring *r, size_t max, const struct tp_event **ret)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t avail = r->head_cache - tail;
    if (avail < max) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        avail = r->head_cache - tail;
    }
    uint64_t idx = tail & r->mask;
    uint64_t n = TP_MIN(TP_MIN((uint64_t)max, avail), r->mask + 1 - idx);
    *ret = &r->slots[idx];
    return (size_t)n;
}

void tp_ring_release(struct tp_ring *r, size_t n)
{
    if (!n) return;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    tp_bell_ring(&r->space);
}

size_t tp_ring_pop(struct tp_ring *r, struct tp_event *out, size_t max)
{
    size_t done = 0;
    while (done < max) {
        const struct tp_event *slots;
        size_t k = tp_ring_peek(r, max - done, &slots);
        if (!k) break;
        memcpy(out + done, slots, k * sizeof *slots);
        tp_ring_release(r, k);
        done += k;
    }
    return done;
}

size_t tp_ring_count(const struct tp_ring *r)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    return head >= tail ? (size_t)(head - tail) : 0;
}
