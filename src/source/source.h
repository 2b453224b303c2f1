/*
 * source.h — the interface every source implements (sim, venues, pollers, replay, kafka), and
 * the helpers they share: a thread of its own, the ring it writes into, and the policy when
 * that ring is full (DESIGN.md §1).
 *
 * A source is a struct tp_source embedded first in the implementation's own struct, with a
 * small vtable (curl's connection filters, Redis's rio). The pipeline owns sources: it gives
 * each one a ring (`ring`), feeds it the tail of the input journal (`resume`) so it can
 * continue where the log ends, starts it (tp_source_start runs ops->run on a new thread) and
 * stops it (tp_source_stop asks, wakes, joins).
 *
 * Full-ring policy:
 *   - live (`live` true: a venue or the paced simulator; its input cannot be read again): never
 *     block. An event that does not fit is dropped, counted in ring->drops, and remembered per
 *     instrument as a missing time range; when space returns, the source first writes one
 *     TP_ST_GAP status per instrument (TP_EV_GAP_TIME, trade_id = first missing ts,
 *     gap_last = last missing ts, ts = last missing ts) and then carries on.
 *   - replayable (`live` false: files, kafka, the unpaced simulator): wait for space
 *     (tp_source_wait_space) — its input can be produced again, so nothing is lost.
 *
 * Positions (sources whose input can be read again from a known place: replay files). Such a
 * source puts its events in its ring in *batches*: one BEGIN marker, the batch's events, one
 * END marker, all committed at once (one tp_ring_commit of contiguous slots). Markers are ring
 * slots of kind TP_KIND_MARK, never events (the record codec refuses the kind). The journal
 * writer turns each BEGIN/END marker into a TP_REC_SOURCE_POS record (ops->position says what
 * it holds; `begin` set for BEGIN) and skips PAD markers (filler a source commits when a batch
 * would not fit before the ring's wrap). Invariants:
 *   1. A batch reaches the journal contiguously: once the writer has appended a BEGIN, it
 *      appends nothing from another ring before that batch's END.
 *   2. So an END position is never journaled before the events it covers (the journal is a
 *      prefix of what was appended, and a crash keeps a prefix of it), and after a crash the
 *      journal ends either after a complete batch or inside one whose BEGIN is the source's
 *      last position record: the event records after that BEGIN are the batch's first events.
 * At start the source is shown its position records (resume_pos) and the events after them
 * (resume), and so knows exactly how many of its events the journal holds.
 *
 * Threads: fields marked (src) belong to the source's thread once started; atomics may be read
 * by any thread; everything else is set by the pipeline (main thread) before start.
 */
#ifndef TP_SOURCE_H
#define TP_SOURCE_H

#include <pthread.h>

#include "core/ring.h"
#include "log/record.h"

struct tp_source;

/* Ring slots that are not events (see "Positions" above): kind TP_KIND_MARK, status one of
 * enum tp_mark; the other fields are the source's own business (ops->position reads them). */
#define TP_KIND_MARK 0xff
enum tp_mark {
    TP_MARK_PAD = 1,   /* filler: the writer skips it */
    TP_MARK_BEGIN = 2, /* a batch starts: journaled as a position record with begin set */
    TP_MARK_END = 3,   /* the batch ends: journaled as a position record */
};

struct tp_source_ops {
    const char *kind; /* "sim", "replay", ... */
    /* Optional. Called (main thread, before start) with each event record found at the tail
     * of the input journal, oldest first; e is borrowed for the call. */
    void (*resume)(struct tp_source *s, const struct tp_event *e);
    /* Optional. Called (main thread, before start) after the tail was shown; `whole` is true
     * when what was shown is the journal's entire history (nothing older exists). A source
     * that cannot continue (its input changed) logs why and sets `error` (a negative errno):
     * the pipeline then does not start. */
    void (*resume_end)(struct tp_source *s, bool whole);
    /* Optional (added). Called (main thread, before start) with each TP_REC_SOURCE_POS record
     * of the input journal, oldest first: first those older than the tail (in_tail false, with
     * no resume() call among them), then those of the tail, interleaved with the resume()
     * calls in journal order. pos is borrowed for the call. */
    void (*resume_pos)(struct tp_source *s, const struct tp_source_pos *pos, bool in_tail);
    /* Required from a source that puts BEGIN/END markers in its ring (added): fills *ret with
     * the position record the marker stands for. Called on the journal writer's thread: it
     * may read only the marker and what the source set before start. */
    void (*position)(struct tp_source *s, const struct tp_event *mark, struct tp_source_pos *ret);
    /* The source's body, run on its own thread by tp_source_start. Returns when
     * tp_source_stopping() becomes true (after writing its last records) or when the source
     * reached its end (after setting `ended`). 0, or a negative errno (the pipeline fails). */
    int (*run)(struct tp_source *s);
    /* Frees the implementation (the thread has been joined). */
    void (*free)(struct tp_source *s);
};

struct tp_gap_pending {
    uint32_t instr;
    uint16_t flags; /* TP_EV_TS_VENUE / TP_EV_QUOTE_ONLY of the dropped events */
    int64_t first_ts, last_ts;
    char vsym[TP_VSYM_MAX + 1];
};

#define TP_SOURCE_SPEC_MAX 128
#define TP_SOURCE_MAX_GAPS 4096 /* instruments with an open gap remembered at once */

struct tp_source {
    const struct tp_source_ops *ops;
    char spec[TP_SOURCE_SPEC_MAX]; /* as given: "sim", "sim:BTC-USD,ETH-USD" */
    bool live;
    struct tp_ring *ring; /* borrowed: set by the pipeline before start */

    pthread_t thread;
    bool started;
    _Atomic bool stop;        /* asked to stop (tp_source_stop) */
    _Atomic bool ended;       /* reached its end (a finite source) */
    _Atomic int error;        /* what run returned, when it failed */
    struct tp_bell wake;      /* rung by tp_source_stop: interrupts tp_source_sleep */
    _Atomic uint64_t emitted; /* events committed to the ring */
    _Atomic uint64_t gaps;    /* gap records written */
    _Atomic uint64_t bad;     /* rows or messages rejected as malformed by this process
                                 (/metrics tickpipe_bad_events_total) */
    _Atomic int link;         /* a connected source's state (enum tp_status: connected, subscribed,
                                 disconnected); 0 for sources without a connection */

    struct tp_gap_pending *pend; /* (src) open gaps, npend of them */
    size_t npend, pend_cap;
    uint64_t untracked; /* (src) drops that found the gap table full */
};

/* Fills the common part. spec is copied (truncated to TP_SOURCE_SPEC_MAX - 1). */
void tp_source_init(struct tp_source *s, const struct tp_source_ops *ops, const char *spec,
                    bool live);
/* Frees the common part's memory (called by implementations' free). */
void tp_source_fini(struct tp_source *s);
/* Frees a source (ops->free); NULL is a no-op. Stops it first if it runs. */
void tp_source_free(struct tp_source *s);

/* Main thread: starts ops->run on a new thread. 0 or a negative errno. */
int tp_source_start(struct tp_source *s);
/* Main thread: asks the source to stop, wakes it, joins it. Returns its run result. */
int tp_source_stop(struct tp_source *s);

/* Source thread helpers. */
static inline bool tp_source_stopping(struct tp_source *s)
{
    return atomic_load_explicit(&s->stop, memory_order_acquire);
}
/* Sleeps up to ns, returning early when stop is requested. */
void tp_source_sleep(struct tp_source *s, int64_t ns);
/* Waits up to timeout_ns for at least one free slot (or stop). True when there is space. */
bool tp_source_wait_space(struct tp_source *s, int64_t timeout_ns);
/* Live policy: counts e as dropped and extends the open gap of its instrument. */
void tp_source_drop(struct tp_source *s, const struct tp_event *e);
/* Writes the pending gap records into slots[0..n) (oldest gap first) and forgets them;
 * returns how many were written. Call it first after each successful reserve. */
size_t tp_source_put_gaps(struct tp_source *s, struct tp_event *slots, size_t n);
/* Puts n events into the ring: pending gaps first, then ev; a live source waits at most
 * timeout_ns for space and drops what still does not fit, a replayable one waits until it
 * fits, or, once stop is requested, at most timeout_ns. Returns how many of ev were committed. For
 * a source's last records (disconnected, eof) and for sources that produce one event at a time. */
size_t tp_source_put(struct tp_source *s, const struct tp_event *ev, size_t n, int64_t timeout_ns);

#endif
