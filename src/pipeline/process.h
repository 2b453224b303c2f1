/*
 * process.h — the process stage of `tickpipe run` (DESIGN.md §1 "Exactly-once results"): one
 * thread, owned by the pipeline, that reads the input journal with a cursor (durable records
 * only), feeds its events to the engine, and appends the engine's outputs (final bars,
 * anomalies, late events, gaps) to the output journal DATA/journal/output.
 *
 * Checkpoints are deterministic: after input offset o, when (o + 1) % checkpoint_every == 0,
 * a TP_REC_CHECKPOINT (input_next = o + 1, the engine's state) is appended and the output
 * journal committed. At start the output journal is scanned for its last checkpoint (a full
 * scan of what retention kept), cut right after it (the outputs past it are regenerated
 * identically, because the engine is deterministic and the input journal is append-only), the
 * engine loaded from it, and the input cursor started at its input_next (0 and a fresh engine
 * when there is none). The scan starts at the oldest record retention kept; retention keeps
 * the last checkpoint record, so an output journal with records but no checkpoint in them is
 * refused (-EBADMSG) rather than cut to nothing. The engine is never flushed at shutdown: open
 * windows stay open in the next checkpoint's state, and close when their input arrives.
 *
 * Stop: tp_process_finish, called once the input journal's writer is joined (so every input
 * record is durable), lets the thread process everything, commit, and end.
 */
#ifndef TP_PROCESS_H
#define TP_PROCESS_H

#include <stdatomic.h>

#include "log/journal.h"
#include "serve/live.h"

struct tp_process_opts {
    const char *data_dir;           /* output journal: DATA/journal/output */
    const char *input_dir;          /* the input journal's directory */
    const struct tp_journal *input; /* its writer, in this process (borrowed) */
    bool durable_only;              /* read only durable input records */
    enum tp_sync_mode sync;         /* output journal durability between checkpoints */
    uint64_t checkpoint_every;      /* input records per checkpoint; 0 = 100000 */
    struct tp_live *live;           /* NULL = publish nothing (borrowed) */
    uint64_t live_events_below;     /* events at input offsets below this go to the live store
                                       from here; the others were published provisionally by
                                       the journal writer (UINT64_MAX: all from here) */
    _Atomic uint64_t *checkpointed; /* NULL, or set to each checkpoint's input_next */
    _Atomic uint64_t *out_bound;    /* NULL, or set to the output offset below which records
                                       are durable (written, with durable_only false) */
    /* Added: the output journal's segment size (0 = the journal's default) and its retention
     * (both 0 = none). The process thread, the output journal's writer, deletes old segments
     * every second, never one holding a record at or after its last checkpoint record or
     * *sinks_keep (see below). */
    uint64_t segment_bytes;
    uint64_t retention_bytes;
    int64_t retention_age_ns;
    _Atomic uint64_t *sinks_keep; /* the oldest output offset a sink has not acknowledged,
                                     published by the pipeline (0 until it knows: nothing is
                                     removed); NULL = no sink reads the output journal */
};

struct tp_process_stats {
    uint64_t input_next;                  /* next input offset the engine reads */
    uint64_t checkpoint;                  /* input_next of the last checkpoint written or loaded */
    uint64_t bars, anomalies, late, gaps; /* outputs appended by this process */
    uint64_t output_next;                 /* the output journal's next offset */
    /* Added: the output offset of the last checkpoint record (UINT64_MAX when none), the
     * oldest output offset on disk, and output segments deleted by retention in this process. */
    uint64_t checkpoint_offset, output_first, retained;
};

struct tp_process;

/* Opens and recovers the output journal, loads the engine, starts the thread. 0 and *ret, or
 * a negative errno after logging why (nothing left running). */
int tp_process_start(const struct tp_process_opts *o, struct tp_process **ret);
/* Tells the thread that no more input will come: it processes what is durable and ends. */
void tp_process_finish(struct tp_process *p);
/* Joins the thread, commits and closes the output journal, frees; *final (may be NULL) gets
 * the last stats. Returns the first error. */
int tp_process_stop(struct tp_process *p, struct tp_process_stats *final);
/* The thread's sticky error, or 0. Any thread. */
int tp_process_error(const struct tp_process *p);
void tp_process_stats(const struct tp_process *p, struct tp_process_stats *ret);

#endif
