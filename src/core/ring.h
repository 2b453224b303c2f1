/*
 * ring.h — a bounded single-producer / single-consumer ring of struct tp_event, the queue
 * between a source's thread and the journal writer (DESIGN.md §1, STYLE.md "Threads").
 *
 *        tail (consumer)                 head (producer)
 *          v                               v
 *   +----+----+----+----+----+----+----+----+----+----+
 *   |    | e0 | e1 | e2 | e3 | e4 | e5 |    |    |    |   slots[i & mask]
 *   +----+----+----+----+----+----+----+----+----+----+
 *          <------ readable ------------>  <- free -->
 *
 * Invariants:
 *   1. head and tail are free-running 64-bit counters (never wrap in practice);
 *      0 <= head - tail <= capacity, and capacity is a power of two.
 *   2. Only the producer stores head (release), only the consumer stores tail (release); each
 *      side reads the other's index with acquire, so a slot's contents are visible before its
 *      index is, and a slot is not rewritten before the consumer has released it.
 *   3. Each side keeps a cached copy of the other's index and reloads it only when the cache
 *      says the ring is full (producer) or empty (consumer): in steady state a batch costs one
 *      atomic store and no cross-core load.
 *   4. Events are written and read in place (reserve/commit, peek/release), so a batch is never
 *      copied twice; push/pop are copying conveniences on top.
 *
 * The ring itself never blocks and never drops: a full ring returns 0 slots, and the caller
 * applies its policy (a live source drops and records a gap, see source/source.h; a replayable
 * one waits on `space`). Two optional doorbells (struct tp_bell, a futex eventcount) let the
 * sleeping side be woken: `data` (shared by every ring one consumer drains; rung on commit) and
 * `space` (rung on release). Ringing costs one fence and one load when nobody sleeps.
 *
 * Threads: tp_ring_init/fini by the owner before/after both sides run; reserve/commit/push by
 * the one producer thread; peek/release/pop by the one consumer thread; tp_ring_count and the
 * drop counter from any thread.
 */
#ifndef TP_RING_H
#define TP_RING_H

#include <stdalign.h>
#include <stdatomic.h>

#include "core/event.h"

#define TP_RING_MAX_CAPACITY (1u << 24)

/* A futex-based eventcount: a waiter announces itself, re-checks its condition, then sleeps
 * until a notifier rings (or a timeout). No lost wake-ups: tp_bell_ring is called after the
 * notifier's state change and issues a seq_cst fence before it looks for waiters. */
struct tp_bell {
    _Atomic uint32_t seq;
    _Atomic uint32_t waiters;
};

void tp_bell_init(struct tp_bell *b);
/* Wakes every waiter (cheap when none waits). Any thread. */
void tp_bell_ring(struct tp_bell *b);
/* Waiter protocol: key = tp_bell_prepare(b); re-check the condition; if still false,
 * tp_bell_wait(b, key, timeout); then tp_bell_done(b) (in both cases). */
uint32_t tp_bell_prepare(struct tp_bell *b);
void tp_bell_wait(struct tp_bell *b, uint32_t key, int64_t timeout_ns);
void tp_bell_done(struct tp_bell *b);

struct tp_ring {
    /* Producer's line. */
    alignas(64) _Atomic uint64_t head;
    uint64_t tail_cache;
    _Atomic uint64_t drops; /* events a live producer dropped because the ring was full */
    /* Consumer's line. */
    alignas(64) _Atomic uint64_t tail;
    uint64_t head_cache;
    /* Read-only after init. */
    alignas(64) struct tp_event *slots; /* owned */
    uint64_t mask;
    struct tp_bell *data; /* borrowed, may be NULL: rung on commit */
    struct tp_bell space; /* rung on release */
};

/* Sets up a ring of `capacity` events (a power of two, 2..TP_RING_MAX_CAPACITY). data_bell is
 * borrowed (may be NULL) and must outlive the ring. 0, -EINVAL or -ENOMEM. */
int tp_ring_init(struct tp_ring *r, size_t capacity, struct tp_bell *data_bell);
/* Frees the slots. Both sides must have stopped. */
void tp_ring_fini(struct tp_ring *r);

static inline size_t tp_ring_capacity(const struct tp_ring *r)
{
    return (size_t)r->mask + 1;
}

/* Producer: up to `want` contiguous free slots starting at *ret (fewer at the wrap or when the
 * ring is nearly full; 0 when full). Fill them, then tp_ring_commit(n) for the first n. */
size_t tp_ring_reserve(struct tp_ring *r, size_t want, struct tp_event **ret);
/* Producer: publishes n reserved slots (n ≤ what the last reserve returned). */
void tp_ring_commit(struct tp_ring *r, size_t n);
/* Producer: copies up to n events in; returns how many fit. */
size_t tp_ring_push(struct tp_ring *r, const struct tp_event *ev, size_t n);
/* Producer (or any thread, for accounting): counts n dropped events. */
static inline void tp_ring_count_drop(struct tp_ring *r, uint64_t n)
{
    atomic_fetch_add_explicit(&r->drops, n, memory_order_relaxed);
}
static inline uint64_t tp_ring_drops(const struct tp_ring *r)
{
    return atomic_load_explicit(&r->drops, memory_order_relaxed);
}

/* Consumer: up to max contiguous readable events at *ret (borrowed until release); 0 when
 * empty. */
size_t tp_ring_peek(struct tp_ring *r, size_t max, const struct tp_event **ret);
/* Consumer: frees n peeked slots for the producer. */
void tp_ring_release(struct tp_ring *r, size_t n);
/* Consumer: copies up to max events out; returns how many. */
size_t tp_ring_pop(struct tp_ring *r, struct tp_event *out, size_t max);

/* Events in the ring right now (a snapshot; any thread). */
size_t tp_ring_count(const struct tp_ring *r);

#endif
