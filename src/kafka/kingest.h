/*
 * kingest.h — `tickpipe run --role ingest --kafka BROKERS`: sources → Kafka topic
 * `tickpipe.ticks` (DESIGN.md §1, §6; docs/kafka.md). Kafka is the input log: no journal on
 * disk.
 *
 *   source thread 1 ──ring──┐
 *   source thread N ──ring──┼──► sender thread ──► librdkafka (idempotent, acks=all)
 *                           │     JSON, key = instrument          │ delivery reports
 *   main thread: signals, status line, shutdown ◄─────────────────┘ (counted per source)
 *
 * Buffers and their bounds: each source's ring (its capacity; a live source drops with a
 * gap record when it is full, a replayable one waits), then librdkafka's queue
 * (queue.buffering.max.messages / .kbytes): when it is full the sender polls for delivery
 * reports and retries, leaving the events in the ring, so back-pressure reaches the sources.
 *
 * Delivery: a message is acknowledged by its delivery report; the idempotent producer
 * retries internally (no duplicate, order kept per partition). A failed delivery (after
 * message.timeout.ms, or a fatal idempotence error) is logged, counted, and fails the run:
 * it stops and exits 3 rather than carry on with a hole in the log.
 *
 * Start: make sure the topic exists (created with --kafka-partitions when missing and
 * allowed), show the sources the topic's last records (up to resume_records, per partition,
 * oldest first: the simulator continues its prices and ids), start the sender and the
 * sources. Replay sources (ops->position) are resumed exactly instead, through the positions
 * topic and event numbers in headers (kafka/kpos.h). Stop: stop the sources, let the sender
 * drain every ring, wait (up to the Kafka timeout) until every message is delivered, then
 * write the replay sources' last positions.
 *
 * Threads: every function is for the main thread.
 */
#ifndef TP_KINGEST_H
#define TP_KINGEST_H

#include <signal.h>

#include "kafka/kafka.h"
#include "serve/live.h"
#include "source/source.h"

#define TP_KINGEST_MAX_SOURCES 64

struct tp_kingest_opts {
    struct tp_kafka_opts kafka;
    size_t ring_capacity;       /* events per source ring, a power of two */
    int64_t status_interval_ns; /* 0 = no status line */
    bool exit_at_eof;           /* stop when every source has reached its end */
    uint64_t resume_records;    /* topic tail shown to sources at start (0 = none) */
    struct tp_live *live;       /* health published here; NULL = nowhere (borrowed) */
};

struct tp_kingest_stats {
    uint64_t produced;  /* messages handed to librdkafka */
    uint64_t delivered; /* acknowledged by the cluster */
    uint64_t failed;    /* deliveries that failed */
    uint64_t in_flight; /* librdkafka's queue (produced, not yet reported) */
    uint64_t drops;     /* events dropped at full rings */
    uint64_t gaps;      /* gap records written by sources */
    uint64_t queued;    /* events waiting in rings */
    int64_t latency_us; /* mean delivery latency of the last status period; -1 none */
};

struct tp_kingest;

/* 0 and *ret (owned; tp_kingest_free) or a negative errno. */
int tp_kingest_new(const struct tp_kingest_opts *o, struct tp_kingest **ret);
/* Adds a source; takes it over, also on failure (-ENOSPC past TP_KINGEST_MAX_SOURCES). */
int tp_kingest_add_source(struct tp_kingest *g, struct tp_source *src);
/* Connects, resumes the sources, starts every thread. 0, or a negative errno after logging
 * what failed (nothing left running). */
int tp_kingest_start(struct tp_kingest *g);
/* Runs until a stop signal, every source at its end (exit_at_eof), or a failure; then stops
 * cleanly. TP_EXIT_OK, or TP_EXIT_RUNTIME after logging the failure. */
int tp_kingest_run(struct tp_kingest *g, const sigset_t *stop_signals);
void tp_kingest_free(struct tp_kingest *g);

/* The run in steps (--role all runs several roles in one loop): tp_kingest_step publishes
 * health and prints the status line when due; 0 go on, 1 every source reached its end
 * (exit_at_eof) and the rings are empty, -1 failed (*why set). tp_kingest_stop stops
 * cleanly (every message delivered, or the failure) and returns the exit code.
 * tp_kingest_run = step every 100 ms (10 ms with exit_at_eof) until a signal, then stop. */
int tp_kingest_step(struct tp_kingest *g, const char **why);
int tp_kingest_stop(struct tp_kingest *g, const char *why);

void tp_kingest_stats(struct tp_kingest *g, struct tp_kingest_stats *ret);

#endif
