/*
 * pipeline.h — the running pipeline of `tickpipe run`: who owns which thread, and how they
 * start and stop (DESIGN.md §1).
 *
 *   source thread 1 ──ring──┐
 *   source thread 2 ──ring──┼──► journal writer thread ──► DATA/journal/input (+ committer)
 *   source thread N ──ring──┘
 *   main thread: signals, status line every status interval, shutdown
 *
 * The process stage (pipeline/process.h: a cursor on the input journal → engine → output
 * journal DATA/journal/output, with checkpoints) is one more thread owned by the pipeline; it
 * publishes to the live store given in the options. The command line only parses settings
 * into tp_pipeline_opts.
 *
 * Start: open the input journal (recovery report logged: torn tail cut, which file, how many
 * bytes), show each source the journal's last records (tp_source_ops.resume) and the position
 * records of replay sources (tp_source_ops.resume_pos, all of them) so it continues where the
 * log ends, start the writer, then the sources. A source that refuses the journal (a replay
 * file that changed) sets its error in resume_end and the start fails.
 *
 * Stop (a stop signal, every source at its end with exit_at_eof, or a failure): stop the
 * sources (each writes its last records and is joined), let the writer drain every ring,
 * commit (fdatasync), let the process stage read every record and commit the output journal,
 * close the input journal. Records a source handed to its ring before it was
 * joined are in the journal after a clean stop.
 *
 * Retention (retention_bytes, retention_age_ns) applies to each journal on its own: the writer
 * thread trims the input journal, the process stage the output journal (journal.segment_bytes
 * sets both journals' segment size), never a segment holding a record a sink has not
 * acknowledged or the last checkpoint still needs (docs/journal.md "Retention in tickpipe run").
 *
 * Threads: every function here is for the main thread; tp_pipeline_stats may be called from
 * any thread.
 */
#ifndef TP_PIPELINE_H
#define TP_PIPELINE_H

#include <signal.h>

#include "log/journal.h"
#include "serve/live.h"
#include "pipeline/sinkrun.h"
#include "source/source.h"

#define TP_PIPELINE_MAX_SOURCES 64
#define TP_PIPELINE_MAX_SINKS   16

struct tp_pipeline_opts {
    const char *data_dir;           /* the input journal is DATA/journal/input */
    struct tp_journal_opts journal; /* dir is filled in by the pipeline */
    size_t ring_capacity;           /* events per source ring, a power of two */
    uint64_t retention_bytes;       /* 0 = no size limit */
    int64_t retention_age_ns;       /* 0 = no age limit */
    int64_t status_interval_ns;     /* 0 = no status line */
    bool exit_at_eof;          /* stop when every source has reached its end (at once with none) */
    uint64_t resume_records;   /* journal tail shown to sources at start (0 = none) */
    uint64_t checkpoint_every; /* process stage: input records per checkpoint */
    struct tp_live *live;      /* process stage publishes here; NULL = nowhere */
    bool live_durable;         /* events reach the live store after the engine read them
                                  durably, not provisionally as the writer appends them */
    int64_t sink_give_up_ns;   /* at stop, how long a failing sink is retried; 0 = 10 s */
};

struct tp_pipeline_stats {
    uint64_t events;      /* records appended by this process */
    uint64_t next_offset; /* the journal's next offset */
    uint64_t durable;     /* offset below which every record is durable */
    uint64_t bytes;       /* journal bytes on disk */
    uint64_t drops;       /* events dropped at full rings */
    uint64_t gaps;        /* gap records written by sources */
    uint64_t queued;      /* events waiting in rings */
    uint64_t proc_next;   /* process stage: next input offset the engine reads */
    uint64_t bars;        /* process stage: final bars appended by this process */
    uint64_t anomalies;   /* process stage: anomalies appended by this process */
};

struct tp_pipeline;

/* A pipeline with no source yet. 0 and *ret (owned; tp_pipeline_free) or a negative errno. */
int tp_pipeline_new(const struct tp_pipeline_opts *o, struct tp_pipeline **ret);
/* Adds a source; takes it over, also on failure (-ENOSPC past TP_PIPELINE_MAX_SOURCES). */
int tp_pipeline_add_source(struct tp_pipeline *p, struct tp_source *src);
/* Adds a sink (sinkrun.h), run by its own thread from start to stop; takes `self` over, also
 * on failure (-ENOSPC past TP_PIPELINE_MAX_SINKS). `ops` must outlive the pipeline. */
int tp_pipeline_add_sink(struct tp_pipeline *p, const struct tp_sink_ops *ops, void *self);
/* Opens the journal, resumes the sources, starts every thread. 0, or a negative errno after
 * logging what failed (nothing is left running). */
int tp_pipeline_start(struct tp_pipeline *p);
/* Runs until one of `stop_signals` arrives (they must be blocked in every thread), every
 * source has ended (with exit_at_eof), or a failure; then stops cleanly. Returns the exit
 * code: TP_EXIT_OK, or TP_EXIT_RUNTIME after logging the failure. */
int tp_pipeline_run(struct tp_pipeline *p, const sigset_t *stop_signals);
/* True when tp_pipeline_run stopped because every source reached its end (exit_at_eof), not
 * for a signal or a failure. Main thread. */
bool tp_pipeline_ended_at_eof(const struct tp_pipeline *p);
/* Stops whatever still runs and frees. NULL is a no-op. */
void tp_pipeline_free(struct tp_pipeline *p);

void tp_pipeline_stats(const struct tp_pipeline *p, struct tp_pipeline_stats *ret);
/* The number of sinks; with i < that number and ret, fills ret with sink i's stats (running
 * sinks only: after stop the count is 0). */
size_t tp_pipeline_sink_stats(const struct tp_pipeline *p, size_t i, struct tp_sinkrun_stats *ret);

#endif
