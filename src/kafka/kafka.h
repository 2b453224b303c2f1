/*
 * kafka.h — what tickpipe's Kafka roles share (DESIGN.md §1, §6; docs/kafka.md): the
 * settings, librdkafka configurations with tickpipe's guarantees built in, the bridge from
 * librdkafka's logs and errors to tickpipe's log, the topics (found, created when missing and
 * allowed), and the message headers.
 *
 * Guarantees the configurations carry and --kafka-opt may not weaken (tp_kafka_opt_check
 * refuses these keys with another value): producers are idempotent with acks=all (no loss,
 * no duplicate, order kept per partition across retries); consumers never commit by
 * themselves (enable.auto.commit=false, enable.auto.offset.store=false): the process role
 * commits offsets only after its outputs are durable. Everything else passes through to
 * librdkafka (security.protocol, sasl.*, ssl.*, linger.ms, compression.codec, ...).
 *
 * Partitioning: keys are "instrument" (ticks) or "instrument|interval|ts..." (outputs); the
 * partition is chosen by Kafka's murmur2 hash of the instrument part only (the Java client's
 * default partitioner on the instrument), so every record of an instrument lands in one
 * partition, in order, whoever produces it.
 *
 * Threads: the functions here are for the thread that owns the handle, except the callbacks,
 * which librdkafka calls from its own threads and which only log and set atomics.
 */
#ifndef TP_KAFKA_H
#define TP_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

#include <signal.h>

#include "core/tp.h"

#define TP_KAFKA_SCHEMA_HEADER  "tickpipe-schema" /* value: TP_KAFKA_SCHEMA_VERSION */
#define TP_KAFKA_TYPE_HEADER    "tickpipe-type"   /* tick, bar, anomaly, checkpoint */
#define TP_KAFKA_SCHEMA_VERSION "1"
#define TP_KAFKA_MAX_OPTS       256
#define TP_KAFKA_MAX_PARTITIONS 4096 /* partitions of one topic tickpipe handles */

struct tp_kafka_opts {
    const char *brokers;     /* bootstrap.servers */
    const char *const *opts; /* "key=value" pass-through, nopts of them (borrowed) */
    size_t nopts;
    const char *topic_ticks;        /* "tickpipe.ticks" */
    const char *topic_bars;         /* "tickpipe.bars" */
    const char *topic_anomalies;    /* "tickpipe.anomalies" */
    const char *topic_checkpoints;  /* "tickpipe.checkpoints" (compacted when created) */
    const char *topic_late;         /* "tickpipe.late": late events */
    const char *topic_gaps;         /* "tickpipe.gaps": gaps */
    const char *topic_positions;    /* "tickpipe.positions": replay positions (compacted; added) */
    int partitions;                 /* of topics tickpipe creates */
    int replication;                /* of topics tickpipe creates; 0 = the broker's default */
    bool create_topics;             /* create missing topics (CreateTopics) */
    const char *group;              /* process role: consumer group */
    uint64_t checkpoint_every;      /* process role: input records per partition per checkpoint */
    uint64_t history;               /* serve role: records read back per partition at start */
    int64_t checkpoint_interval_ns; /* process role: and at least this often while busy */
    int64_t timeout_ns;             /* flushes, metadata and checkpoint reads give up after */
};

void tp_kafka_opts_default(struct tp_kafka_opts *o);

/* Checks one --kafka-opt value: "key=value" that librdkafka knows and that does not weaken a
 * guarantee above. 0, or -EINVAL with a one-line reason in err. */
int tp_kafka_opt_check(const char *kv, char *err, size_t errcap);

/* Shared, sticky state of one role's handles: the first fatal error and counters the
 * callbacks keep. Any thread. */
struct tp_kafka_health {
    _Atomic int fatal;       /* first fatal librdkafka error (rd_kafka_resp_err_t), or 0 */
    _Atomic uint64_t errors; /* error callbacks (transient ones included) */
    _Atomic uint64_t throttles;
    const char *role; /* for log lines: "ingest", "process" */
    /* From librdkafka's statistics (statistics.interval.ms, 1 s by default), summed over the
     * brokers, per handle type (0 producer, 1 consumer): retried requests, request and
     * response errors, request timeouts, disconnects. Absolute values. */
    _Atomic uint64_t retries[2], req_errors[2], timeouts[2], disconnects[2];
    /* The last error callback's code (rd_kafka_resp_err_t) and when (tp_mono_ns), for the
     * sinks' health: a role reports its outputs down while errors are recent. */
    _Atomic int last_err;
    _Atomic int64_t last_err_mono;
};

/* True when h saw no fatal error and no error callback in the last `window_ns`; else false
 * with the last error's text in *why (static). Any thread. */
bool tp_kafka_healthy(struct tp_kafka_health *h, int64_t window_ns, const char **why);

/* Sums of both handle types' statistics counters. Any thread. */
struct tp_kafka_client_stats {
    uint64_t retries, req_errors, timeouts, disconnects;
};
void tp_kafka_client_stats(struct tp_kafka_health *h, struct tp_kafka_client_stats *ret);
/* The end of a role's run: logs the client's counters, and the failure (`why`, or a shutdown
 * that failed with rc < 0). Returns the exit code. */
int tp_kafka_role_exit(struct tp_kafka_health *h, const char *role, const char *why, int rc);
/* A role's main loop: calls step(self, why) every poll_ns until it returns non-zero or one of
 * stop_signals arrives (logged). *why is what step left there (NULL when none). */
void tp_kafka_role_loop(int (*step)(void *self, const char **why), void *self, int64_t poll_ns,
                        const sigset_t *stop_signals, const char **why);

enum tp_kafka_kind { TP_KAFKA_PRODUCER, TP_KAFKA_CONSUMER, TP_KAFKA_READER };

/* A configuration for a handle of `kind` (a reader is a group-less consumer that assigns
 * partitions itself): the guarantees above, then the pass-through options, then the logging
 * and error callbacks reporting to h (borrowed; must outlive the handle). The configuration's
 * opaque is h: a role that adds callbacks of its own (delivery reports, rebalances) embeds its
 * tp_kafka_health as the first member of its struct and passes that. 0 and *ret (owned until
 * given to rd_kafka_new), or -EINVAL with the reason in err. */
int tp_kafka_conf(const struct tp_kafka_opts *o, enum tp_kafka_kind kind, struct tp_kafka_health *h,
                  rd_kafka_conf_t **ret, char *err, size_t errcap);

/* rd_kafka_new of kind with conf (taken over, also on failure); logs why on failure. The
 * handle or NULL. */
rd_kafka_t *tp_kafka_new(rd_kafka_conf_t *conf, enum tp_kafka_kind kind, const char *what);

/* Makes sure the topics exist: reads the cluster's metadata, creates the missing ones when
 * allowed (checkpoint topics with cleanup.policy=compact), and reads the partition counts
 * into counts[i] (0 when a topic still does not exist). Logs what it did. 0, or a negative
 * errno after logging (a topic missing and not creatable, the cluster unreachable). */
int tp_kafka_ensure_topics(rd_kafka_t *rk, const struct tp_kafka_opts *o, const char *const *topics,
                           const bool *compacted, size_t n, int *counts);

/* Reads messages [from, to) of one partition with a group-less consumer (TP_KAFKA_READER; it
 * is assigned that partition, then unassigned), oldest first, calling fn for each (borrowed
 * for the call); a nonzero return from fn stops the read and is returned. Ends early at the
 * partition's end. 0, fn's return, or -ETIMEDOUT / -EIO after logging. */
int tp_kafka_read_range(rd_kafka_t *reader, const char *topic, int32_t partition, int64_t from,
                        int64_t to, int64_t timeout_ns,
                        int (*fn)(void *arg, const rd_kafka_message_t *m), void *arg);

/* The partition of a key among partition_cnt: murmur2 of the key up to its first '|'. */
int32_t tp_kafka_partition(const void *key, size_t keylen, int32_t partition_cnt);

/* Headers for a message of type `type` ("tick", ...): schema version and type. Owned by the
 * caller until given to a produce call. */
rd_kafka_headers_t *tp_kafka_headers(const char *type);

#endif
