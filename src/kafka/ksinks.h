/*
 * ksinks.h — the sinks of one ticks partition in the Kafka process role (docs/kafka.md,
 * "Sinks"): the lake and PostgreSQL (any tp_sink_ops), one instance per sink type per assigned
 * partition, driven directly by the role's worker thread — no sink runner, no journal.
 *
 * Offsets. The sinks take journal-record payloads (log/record.h) at offsets of two logs; here
 * the offsets are made from Kafka's, so that they are deterministic (the same record always
 * has the same offset, whoever processes it) and never overlap between partitions:
 *
 *   input  (ticks)                      tp_koff(p, o, 0)   o = the tick's Kafka offset
 *   output (bars, anomalies, late, gaps) tp_koff(p, o, k)  k = the output's index among those
 *                                                          the tick at o made (0, 1, ...)
 *   tp_koff(p, o, k) = p << 51 | o << 15 | k     (12 + 36 + 15 = 63 bits: a PostgreSQL bigint)
 *
 * so a partition holds Kafka offsets below 2^36 (68.7 billion records) and a tick makes at
 * most 32768 outputs; the role refuses (exit 3) a record past either limit.
 *
 * Exactly once. Each instance keeps its acknowledged offsets (what is durably in the sink) in
 * the sink itself, under its own identity (PostgreSQL: tickpipe_offsets rows
 * `postgres/TOPIC/pN`; the lake: _tickpipe/ack.TOPIC.pN). tp_ksinks_write drops a record
 * whose offset is below the instance's acknowledged offset of its log (the skip rule): after
 * the partition is restored from a checkpoint older than what a sink holds, re-processing
 * writes nothing twice. The caller checkpoints the partition at input offset `next` only after
 * tp_ksinks_flush(final) succeeded with everything before `next` written, so a checkpoint is
 * never ahead of a sink.
 *
 * Failures. Calls return 0 or a negative errno; -EIO and -EBADMSG are fatal (as in
 * pipeline/sinkrun.h), anything else means "close, reopen later, resume from the acks" — the
 * caller pauses the partition and resets it to its checkpoint once tp_ksinks_open succeeds.
 *
 * Threads: the worker thread of the process role only.
 */
#ifndef TP_KSINKS_H
#define TP_KSINKS_H

#include "pipeline/sinkrun.h"

#define TP_KOFF_PART_BITS  12
#define TP_KOFF_INPUT_BITS 36
#define TP_KOFF_K_BITS     15
#define TP_KOFF_INPUT_MAX  ((INT64_C(1) << TP_KOFF_INPUT_BITS) - 1)
#define TP_KOFF_K_MAX      ((UINT32_C(1) << TP_KOFF_K_BITS) - 1)

/* The sink offset of output k of the tick at Kafka offset o of partition p (k = 0 for the tick
 * itself). The caller checks o <= TP_KOFF_INPUT_MAX and k <= TP_KOFF_K_MAX. */
static inline uint64_t tp_koff(int32_t p, int64_t o, uint32_t k)
{
    return (uint64_t)p << (TP_KOFF_INPUT_BITS + TP_KOFF_K_BITS) | (uint64_t)o << TP_KOFF_K_BITS | k;
}

/* The first offset past partition p's. */
static inline uint64_t tp_koff_end(int32_t p)
{
    return (uint64_t)(p + 1) << (TP_KOFF_INPUT_BITS + TP_KOFF_K_BITS);
}

/* A sink type: makes its instance for partition p of topic (the ticks topic). */
struct tp_ksink_kind {
    const char *name; /* "postgres", "lake": metrics and logs */
    /* 0 and *ret_ops, *ret_self (owned by the caller: ops->free), or a negative errno. */
    int (*make)(void *ctx, const char *topic, int32_t p, const struct tp_sink_ops **ret_ops,
                void **ret_self);
    void *ctx;
};

#define TP_KSINKS_MAX 4

/* Counters of one sink type over every partition (owned by the caller, updated by the sets). */
struct tp_ksink_totals {
    uint64_t written;  /* records handed to the instances (skipped ones not counted) */
    uint64_t skipped;  /* records below an instance's ack (already in the sink) */
    uint64_t failures; /* failed opens, writes and flushes */
    int error;         /* the last failure's errno (0 none) */
};

struct tp_ksinks;

/* The instances of kinds[0..n) for partition p (not opened). totals[i] belongs to kinds[i]
 * (borrowed; outlives the set). 0 and *ret, or a negative errno. */
int tp_ksinks_new(const struct tp_ksink_kind *kinds, size_t n, struct tp_ksink_totals *totals,
                  const char *topic, int32_t p, struct tp_ksinks **ret);
/* Closes and frees (NULL is a no-op). Nothing unflushed is kept. */
void tp_ksinks_free(struct tp_ksinks *s);
/* Opens every instance (reading its acks). 0, or the first failure (the set is then closed;
 * *ret_kind says which). */
int tp_ksinks_open(struct tp_ksinks *s, size_t *ret_kind);
/* Closes every instance (their unflushed batches are dropped). */
void tp_ksinks_close(struct tp_ksinks *s);
/* One record to every open instance that reads log, unless below its ack (the skip rule);
 * flushes an instance that asks for it. Offsets increase per log. 0 or the first failure. */
int tp_ksinks_write(struct tp_ksinks *s, enum tp_sink_log log, uint64_t off, const void *payload,
                    size_t n, size_t *ret_kind);
/* final: every instance makes everything it was given durable and acknowledged; else only the
 * instances whose flush period (ops->flush_ns) passed since their last flush and that have
 * records pending. 0 or the first failure. */
int tp_ksinks_flush(struct tp_ksinks *s, bool final, int64_t now_mono, size_t *ret_kind);
/* Records handed to instance `kind` and not yet acknowledged. */
uint64_t tp_ksinks_pending(const struct tp_ksinks *s, size_t kind);
/* True when the failure is fatal (-EIO: a failed fsync; -EBADMSG: corrupt data or state). */
static inline bool tp_ksinks_fatal(int rc)
{
    return rc == -EIO || rc == -EBADMSG;
}

#endif
