/*
 * source.c — the shared part of every source: its thread, and the full-ring policy (drops
 * become per-instrument gap records once space returns). See source.h.
 */
#include "core/tptime.h"
#include "source/source.h"

void tp_source_init(struct tp_source *s, const struct tp_source_ops *ops, const char *spec,
                    bool live)
{
    s->ops = ops;
    snprintf(s->spec, sizeof s->spec, "%s", spec);
    s->live = live;
    s->ring = NULL;
    s->started = false;
    atomic_init(&s->stop, false);
    atomic_init(&s->ended, false);
    atomic_init(&s->error, 0);
    tp_bell_init(&s->wake);
    atomic_init(&s->emitted, 0);
    atomic_init(&s->gaps, 0);
    atomic_init(&s->bad, 0);
    atomic_init(&s->link, 0);
    s->pend = NULL;
    s->npend = s->pend_cap = 0;
    s->untracked = 0;
}

void tp_source_fini(struct tp_source *s)
{
    free(s->pend);
    s->pend = NULL;
    s->npend = s->pend_cap = 0;
}

void tp_source_free(struct tp_source *s)
{
    if (!s) return;
    if (s->started) tp_source_stop(s);
    s->ops->free(s);
}

static void *thread_main(void *arg)
{
    struct tp_source *s = arg;
    int rc = s->ops->run(s);
    if (rc < 0) atomic_store_explicit(&s->error, rc, memory_order_release);
    return NULL;
}

int tp_source_start(struct tp_source *s)
{
    if (!s->ring || s->started) return -EINVAL;
    int rc = pthread_create(&s->thread, NULL, thread_main, s);
    if (rc) return -rc;
    s->started = true;
    return 0;
}

int tp_source_stop(struct tp_source *s)
{
    if (!s->started) return 0;
    atomic_store_explicit(&s->stop, true, memory_order_release);
    tp_bell_ring(&s->wake);
    tp_bell_ring(&s->ring->space);
    pthread_join(s->thread, NULL);
    s->started = false;
    return atomic_load_explicit(&s->error, memory_order_acquire);
}

void tp_source_sleep(struct tp_source *s, int64_t ns)
{
    uint32_t key = tp_bell_prepare(&s->wake);
    if (!tp_source_stopping(s)) tp_bell_wait(&s->wake, key, ns);
    tp_bell_done(&s->wake);
}

bool tp_source_wait_space(struct tp_source *s, int64_t timeout_ns)
{
    struct tp_event *slot;
    if (tp_ring_reserve(s->ring, 1, &slot)) return true;
    uint32_t key = tp_bell_prepare(&s->ring->space);
    bool space = tp_ring_reserve(s->ring, 1, &slot) > 0;
    if (!space && !tp_source_stopping(s)) tp_bell_wait(&s->ring->space, key, timeout_ns);
    tp_bell_done(&s->ring->space);
    return space || tp_ring_reserve(s->ring, 1, &slot) > 0;
}

void tp_source_drop(struct tp_source *s, const struct tp_event *e)
{
    tp_ring_count_drop(s->ring, 1);
    for (size_t i = 0; i < s->npend; i++) {
        struct tp_gap_pending *g = &s->pend[i];
        if (g->instr != e->instr) continue;
        if (e->ts < g->first_ts) g->first_ts = e->ts;
        if (e->ts > g->last_ts) g->last_ts = e->ts;
        return;
    }
    if (s->npend == s->pend_cap) {
        size_t cap = s->pend_cap ? s->pend_cap * 2 : 16;
        if (cap > TP_SOURCE_MAX_GAPS) cap = TP_SOURCE_MAX_GAPS;
        struct tp_gap_pending *p = cap > s->pend_cap ? realloc(s->pend, cap * sizeof *p) : NULL;
        if (!p) {
            s->untracked++; /* counted as a drop, but no gap record: the table is full */
            return;
        }
        s->pend = p;
        s->pend_cap = cap;
    }
    struct tp_gap_pending *g = &s->pend[s->npend++];
    g->instr = e->instr;
    g->flags = e->flags & (TP_EV_TS_VENUE | TP_EV_QUOTE_ONLY);
    g->first_ts = g->last_ts = e->ts;
    memcpy(g->vsym, e->venue_symbol, sizeof g->vsym);
}

size_t tp_source_put_gaps(struct tp_source *s, struct tp_event *slots, size_t n)
{
    size_t k = TP_MIN(n, s->npend);
    for (size_t i = 0; i < k; i++) {
        const struct tp_gap_pending *g = &s->pend[i];
        struct tp_event *e = &slots[i];
        tp_event_init(e, TP_KIND_STATUS);
        e->status = TP_ST_GAP;
        e->instr = g->instr;
        e->ts = e->ts_recv = g->last_ts;
        e->flags = (uint16_t)(g->flags | TP_EV_GAP_TIME);
        e->trade_id = (uint64_t)g->first_ts;
        e->gap_last = (uint64_t)g->last_ts;
        tp_event_set_vsym(e, g->vsym, strlen(g->vsym));
    }
    if (k) {
        memmove(s->pend, s->pend + k, (s->npend - k) * sizeof *s->pend);
        s->npend -= k;
        atomic_fetch_add_explicit(&s->gaps, k, memory_order_relaxed);
    }
    return k;
}

size_t tp_source_put(struct tp_source *s, const struct tp_event *ev, size_t n, int64_t timeout_ns)
{
    size_t done = 0;
    int64_t deadline = tp_mono_ns() + timeout_ns;
    while (done < n || s->npend) {
        struct tp_event *slots;
        size_t k = tp_ring_reserve(s->ring, (n - done) + s->npend, &slots);
        if (k) {
            size_t g = tp_source_put_gaps(s, slots, k);
            size_t m = TP_MIN(k - g, n - done);
            memcpy(slots + g, ev + done, m * sizeof *slots);
            tp_ring_commit(s->ring, g + m);
            atomic_fetch_add_explicit(&s->emitted, g + m, memory_order_relaxed);
            done += m;
            continue;
        }
        /* A live source gives up at the deadline; a replayable one waits as long as it is
         * not stopping, and then still until the deadline (its last records). */
        int64_t left = deadline - tp_mono_ns();
        if (left <= 0 && (s->live || tp_source_stopping(s))) break;
        tp_source_wait_space(s, left > 0 ? left : 100 * TP_NS_PER_MS);
    }
    if (s->live)
        for (size_t i = done; i < n; i++) tp_source_drop(s, &ev[i]);
    return done;
}
