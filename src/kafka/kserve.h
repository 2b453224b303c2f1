/*
 * kserve.h — `tickpipe run --role serve --kafka BROKERS`: the HTTP API, live stream and
 * dashboard of a split deployment, fed from the topics the other roles write (DESIGN.md §1
 * "serve", §7; docs/kafka.md):
 *
 *   tickpipe.ticks      ──┐
 *   tickpipe.bars       ──┼──► worker thread: decode (kafka/kcodec.h) ──► live store ──► HTTP
 *   tickpipe.anomalies  ──┘     (one group-less consumer; partitions assigned, not shared)
 *   main thread: signals, status line, the process group's progress (committed offsets)
 *
 * A serve instance is a reader, not a member of a processing group: it assigns itself every
 * partition of the three topics (no group, no rebalances, no offsets committed), so any
 * number of instances can run side by side, each showing everything, and none disturbs the
 * process role's group. At start it reads back the last `history` records of each partition
 * (kafka.history, --kafka-serve-history) so the store starts filled: the last prices and
 * ticks, the recent bars of every series, the recent anomalies; then it follows the topics.
 * The topics' partitions are read as they were at start (a partition added later is seen
 * after a restart).
 *
 * What it shows: instruments, ticks and source status (from the ticks topic's status
 * records), final bars with indicators, anomalies, and health: the sources entry
 * `kafka:TOPIC` per topic (connected while the cluster answers), consumer lag per partition
 * (queues `kafka lag:TOPIC[p]`, the first 8 partitions of each topic), the process group's
 * lag (queue `kafka group:GROUP`: ticks not yet committed by --kafka-group), the lag from a
 * tick's receive time to its arrival here (tickpipe_lag_seconds), and the role's entry in
 * tickpipe_kafka_* (records consumed, errors). Open (partial) bars are not in any topic, so
 * a serve instance shows final bars only.
 *
 * Threads: every function is for the main thread; the consumer belongs to the worker.
 */
#ifndef TP_KSERVE_H
#define TP_KSERVE_H

#include <signal.h>

#include "kafka/kafka.h"
#include "serve/live.h"

struct tp_kserve_opts {
    struct tp_kafka_opts kafka; /* topics, history, group (whose progress is shown) */
    int64_t status_interval_ns; /* 0 = no status line */
    struct tp_live *live;       /* where everything goes (borrowed; required) */
};

struct tp_kserve_stats {
    uint64_t ticks, bars, anomalies; /* records published to the live store */
    uint64_t bad;                    /* records that did not decode (skipped) */
    int64_t lag;                     /* records behind the topics' ends */
    bool history_loaded;             /* every partition read past its end at start */
};

struct tp_kserve;

/* 0 and *ret (owned; tp_kserve_free), -EINVAL without a live store, or -ENOMEM. */
int tp_kserve_new(const struct tp_kserve_opts *o, struct tp_kserve **ret);
/* Connects, finds the topics (creating them when missing and allowed), assigns every
 * partition from its history start, starts the worker. 0, or a negative errno after logging. */
int tp_kserve_start(struct tp_kserve *s);
/* One step of the main loop (every 100 ms or so): status line, group progress, failures.
 * 0 go on, -1 failed (*why set). */
int tp_kserve_step(struct tp_kserve *s, const char **why);
/* Stops the worker; returns the exit code (why: a failure to report, or NULL). */
int tp_kserve_stop(struct tp_kserve *s, const char *why);
/* step until a stop signal or a failure, then stop. */
int tp_kserve_run(struct tp_kserve *s, const sigset_t *stop_signals);
void tp_kserve_free(struct tp_kserve *s);

void tp_kserve_stats(struct tp_kserve *s, struct tp_kserve_stats *ret);

#endif
