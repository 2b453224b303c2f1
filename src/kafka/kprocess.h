/*
 * kprocess.h — `tickpipe run --role process --kafka BROKERS`: a member of a consumer group
 * reading `tickpipe.ticks`, one engine per assigned partition, final bars and anomalies
 * produced to `tickpipe.bars` and `tickpipe.anomalies` (DESIGN.md §1, §6; docs/kafka.md).
 *
 *   tickpipe.ticks [p] ──► worker thread: decode → engine of p ──► producer ──► tickpipe.bars
 *   (consumer group)        every checkpoint: flush outputs,                   tickpipe.anomalies
 *                           write p's checkpoint, commit p's offset ──► tickpipe.checkpoints
 *   main thread: signals, status line, shutdown
 *
 * Exactly-once results without transactions (the mock cluster's are not real, and a result
 * that is deterministic does not need them):
 *  1. Engines are deterministic functions of their partition's records, and output values
 *     are deterministic JSON keyed instrument|interval|ts: producing a result again gives the
 *     same key and the same bytes.
 *  2. A checkpoint of partition p at input offset `next` is written only after every output
 *     of p's records before `next` was delivered (acks=all, idempotent producer), and p's
 *     offset is committed (= next) only after the checkpoint was delivered.
 *  3. An instance assigned p restores p's latest checkpoint (kafka/kcheckpoint.h) and reads
 *     from its `next`: it repeats at most the records after that checkpoint, whose outputs
 *     it then produces again, byte-identical. A partition without a checkpoint starts at the
 *     beginning of the topic with a fresh engine.
 *  4. On revoke (a rebalance, or shutdown), the partitions given up are checkpointed and
 *     committed first, so the next owner repeats nothing; after a crash (SIGKILL), it repeats
 *     what followed the last checkpoint.
 * A delivery failure (outputs or checkpoints) is sticky: nothing is committed after it, and
 * the run stops with exit 3.
 *
 * With sinks (the lake, PostgreSQL: kafka/ksinks.h), a partition's sinks flush before its
 * checkpoint (2. then also covers them), and they skip what they already hold, so each row is
 * in them once whoever processed it, and however often.
 *
 * With exit_at_eof, the role stops once it holds partitions and has read every one of them
 * to its end. Late events and gaps go to `tickpipe.late` and `tickpipe.gaps` (kcodec.h keys).
 *
 * Threads: every function is for the main thread; the consumer, the producer and the
 * engines belong to the worker thread (rebalance callbacks run inside its consumer poll).
 */
#ifndef TP_KPROCESS_H
#define TP_KPROCESS_H

#include <signal.h>

#include "kafka/kafka.h"
#include "kafka/ksinks.h"
#include "serve/live.h"

struct tp_kprocess_opts {
    struct tp_kafka_opts kafka;
    int64_t status_interval_ns; /* 0 = no status line */
    bool exit_at_eof;
    struct tp_live *live; /* NULL = publish nothing (borrowed) */
    /* Sinks written per assigned partition (kafka/ksinks.h; docs/kafka.md "Sinks"): the
     * lake, PostgreSQL. A partition is checkpointed only once its sinks acknowledged what
     * precedes the checkpoint; a failing sink pauses its partition, which resumes from its
     * checkpoint once the sink opens again (capped backoff up to sink_max_backoff_ns, 0 =
     * 30 s). (added) */
    struct tp_ksink_kind sinks[TP_KSINKS_MAX];
    size_t nsinks;
    int64_t sink_max_backoff_ns;
};

struct tp_kprocess_stats {
    uint64_t records;     /* input records processed (repeats after a restore included) */
    uint64_t bad;         /* input records that did not decode (skipped) */
    uint64_t bars;        /* final bars produced */
    uint64_t anomalies;   /* anomalies produced */
    uint64_t delivered;   /* output and checkpoint messages acknowledged */
    uint64_t failed;      /* deliveries that failed */
    uint64_t checkpoints; /* partition checkpoints written and committed */
    uint64_t restores;    /* partitions restored from a checkpoint */
    uint64_t rebalances;  /* assignments and revocations */
    uint64_t commit_errors;
    uint64_t partitions; /* assigned now */
    int64_t lag;         /* records behind the high watermarks of the assigned partitions */
};

struct tp_kprocess;

/* 0 and *ret (owned; tp_kprocess_free) or a negative errno. */
int tp_kprocess_new(const struct tp_kprocess_opts *o, struct tp_kprocess **ret);
/* Connects, checks the topics, subscribes, starts the worker. 0, or a negative errno after
 * logging (nothing left running). */
int tp_kprocess_start(struct tp_kprocess *k);
/* Runs until a stop signal, the end of the input (exit_at_eof) or a failure; then
 * checkpoints, commits and leaves the group. TP_EXIT_OK or TP_EXIT_RUNTIME. */
int tp_kprocess_run(struct tp_kprocess *k, const sigset_t *stop_signals);
void tp_kprocess_free(struct tp_kprocess *k);

/* The run in steps, for a caller that runs several roles in one loop (--role all):
 * tp_kprocess_step prints the status line when due and returns 0 (go on), 1 (the end was
 * reached: exit_at_eof, or after tp_kprocess_finish) or -1 (failed; *why set). Call it every
 * 100 ms or so. tp_kprocess_stop then checkpoints, commits, leaves the group and returns the
 * exit code (why: the failure to report, or NULL). tp_kprocess_run = step until a signal,
 * then stop. */
int tp_kprocess_step(struct tp_kprocess *k, const char **why);
int tp_kprocess_stop(struct tp_kprocess *k, const char *why);
/* The input is complete (every tick was delivered to the topic): the worker stops once every
 * partition it holds is read to the topic's end as it is now. Any thread. */
void tp_kprocess_finish(struct tp_kprocess *k);

void tp_kprocess_stats(struct tp_kprocess *k, struct tp_kprocess_stats *ret);

#endif
