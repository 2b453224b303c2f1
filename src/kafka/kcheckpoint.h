/*
 * kcheckpoint.h — engine checkpoints of the process role, per input partition, kept in a
 * Kafka topic (`tickpipe.checkpoints`, compacted when tickpipe creates it). Why a topic and
 * not DATA/: the instance that takes a partition over after a failover may run on another
 * machine; the cluster is the one store every member of the group can read. docs/kafka.md.
 *
 * A checkpoint of input partition p is the engine's serialized state after the records
 * before input offset `next`. It is written as one or more chunks (a state larger than a
 * Kafka message is split), each a message to partition p % partitions(checkpoint topic),
 * keyed "GROUP|TOPIC|p|CHUNK" (so compaction keeps the latest of every chunk), value:
 *
 *   "TPK1" | u64 next | u64 writer | u64 seq | u32 chunk | u32 chunks | u64 total | u32 crc32c
 *   | bytes                                             (little-endian; crc of the whole state)
 *
 * `writer` is random per process and `seq` counts its checkpoints, so chunks of different
 * writes never mix. Reading scans the partition backwards from its end in growing windows
 * and takes the complete checkpoint with the largest `next` among those found in the first
 * window that holds one.
 *
 * Validity: a checkpoint is written only after every output of the records before `next`
 * was delivered (the process role flushes its producer first), so any complete checkpoint
 * in the topic, even one from an instance that has since been presumed dead, is a correct
 * place to resume from: the outputs after it are produced again, byte-identical.
 *
 * Threads: the functions are for the thread owning the handles.
 */
#ifndef TP_KCHECKPOINT_H
#define TP_KCHECKPOINT_H

#include "core/buf.h"
#include "kafka/kafka.h"

#define TP_KCK_CHUNK_DEFAULT ((size_t)512 << 10) /* bytes of state per message */
#define TP_KCK_STATE_MAX     ((size_t)256 << 20) /* largest state written or read */

struct tp_kck {
    const struct tp_kafka_opts *o; /* borrowed */
    rd_kafka_t *producer;          /* borrowed: writes go through the role's producer */
    rd_kafka_t *reader;            /* owned: a group-less consumer for restores */
    rd_kafka_topic_t *rkt;         /* the checkpoint topic on the producer */
    int partitions;                /* of the checkpoint topic */
    size_t chunk;                  /* bytes of state per message */
    uint64_t writer, seq;
};

/* Prepares the store: the reader handle, the topic handle. h is the role's health (the
 * reader's callbacks report to it). 0 or a negative errno after logging. */
int tp_kck_init(struct tp_kck *s, const struct tp_kafka_opts *o, rd_kafka_t *producer,
                int partitions, struct tp_kafka_health *h);
void tp_kck_fini(struct tp_kck *s);

/* Produces the checkpoint (state[0..n) borrowed, copied) of input partition p at `next`.
 * Delivery is the caller's business (flush the producer, check the reports: messages carry
 * no per-message opaque). 0, or a negative errno after logging (a refused produce). */
int tp_kck_write(struct tp_kck *s, int32_t p, int64_t next, const void *state, size_t n);

/* Reads the latest checkpoint of input partition p. 1 with *next and the state in out
 * (reset first), 0 when there is none, or a negative errno after logging (unreachable,
 * corrupt). */
int tp_kck_read(struct tp_kck *s, int32_t p, int64_t *next, struct tp_buf *out);

#endif
