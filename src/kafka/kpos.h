/*
 * kpos.h — exact resume of positioned sources (replay files) in the ingest role over Kafka
 * (docs/kafka.md "Resuming a replay file"; source.h "Positions").
 *
 * The journal resumes a replay file from its TP_REC_SOURCE_POS records; the ticks topic cannot
 * hold them in line, because Kafka keeps order per partition only: after a SIGKILL each
 * partition holds a prefix of what was sent to it, and those prefixes end at different points
 * of the source's stream. So:
 *
 *  1. Every event of a positioned source carries two headers: `tickpipe-source` (the source
 *     id: 16 hex digits of the 64-bit FNV-1a hash of "TICKS_TOPIC|NAME", NAME being what its
 *     position records are called, `replay:/real/path`) and `tickpipe-seq` (its number in the
 *     source's stream, from 1; decimal). The sender computes each event's partition itself
 *     (tp_kafka_partition, the partitioner librdkafka is configured with, over the partition
 *     count read at start), so it knows where every event goes.
 *  2. About every 0.5 s, at a batch's END marker with number N (all events before it have
 *     seq <= N), the sender takes a *snapshot*: the source's position (ops->position of the
 *     marker), the count of its messages produced to each partition, and for each partition q
 *     a bound H[q]: 1 + the largest offset acknowledged in q by this producer so far (any
 *     source). Once every message of the source produced before the snapshot is delivered,
 *     the record (position, H[]) is produced to the positions topic (key = source id).
 *  3. At start the source's last record is read back: the source resumes at its position
 *     (resume_pos, then resume_end; it is shown no tail events), and every partition q of the
 *     ticks topic is read from H[q] to its current end: the seqs of the source found there
 *     (`have`) are the events after the position that the killed run got into the topic. The
 *     sender drops an event whose seq is in `have` of its partition; the others are sent.
 *
 * Why it is exact. (a) Every event with seq <= N is in the topic before the record is
 * written (its delivery was reported). (b) No event of the source with seq > N is before H[q]
 * in q: at the snapshot none had been produced yet, and a message produced later is written
 * after every message already acknowledged. So the events with seq > N in the topic are all
 * found by the scan, and nothing else is skipped. A restart inside the skipping keeps H[q]
 * until the run's own messages pass the old ones: H[q] of a new snapshot is the old bound
 * while the scan found, in q, a seq larger than N (rule in tp_kpos_mark). Seqs found in a
 * partition are increasing (a partition holds each run's messages in order, and a run sends
 * only seqs larger than those found), so membership is a cursor walk.
 *
 * Without a record (the first run) an initial one is written before any event is sent: the
 * source's start position (the position of a zeroed END marker) and H = the partitions' ends.
 *
 * Record value (little-endian), in the positions topic (compacted, 1 partition by default):
 *   "TPP1" | u32 n | TP_REC_SOURCE_POS payload (n bytes, log/record.h) | u32 partitions
 *          | partitions x i64 H[q] | u32 crc32c of everything before
 * with headers tickpipe-schema: 1, tickpipe-type: position.
 *
 * Threads: tp_kpos_new/free/load/scan are for the main thread before the sender starts; the
 * sender functions (dup, done, mark, delivered, ready, record, written) for the thread that
 * owns the producer (the sender, or the main thread after joining it).
 */
#ifndef TP_KPOS_H
#define TP_KPOS_H

#include "core/buf.h"
#include "kafka/kafka.h"
#include "source/source.h"

#define TP_KPOS_SOURCE_HEADER "tickpipe-source"    /* the source id, 16 hex digits */
#define TP_KPOS_SEQ_HEADER    "tickpipe-seq"       /* the event's number in its stream, from 1 */
#define TP_KPOS_EVERY_NS      (500 * TP_NS_PER_MS) /* at most one record per source this often */
#define TP_KPOS_HAVE_MAX      ((size_t)1 << 22) /* seqs remembered from the scan, all partitions */

/* The seqs of one source found in one partition after H (increasing). Past TP_KPOS_HAVE_MAX
 * in total a partition keeps only its largest (`maxonly`: every seq <= max is taken as
 * present, exact unless a failed run left a hole). */
struct tp_kpos_have {
    uint64_t *v;
    size_t n, cap, at; /* at: the sender's cursor */
    uint64_t max;
    bool maxonly;
};

struct tp_kpos {
    struct tp_source *src; /* borrowed */
    char name[TP_SOURCE_SPEC_MAX];
    char id[17]; /* 16 hex digits */
    int parts;   /* partitions of the ticks topic */

    /* Main thread, before start. */
    bool found;                /* a record of this source was read */
    struct tp_source_pos last; /* its position */
    int64_t *floor;            /* [parts] H of the last record read or written */
    struct tp_kpos_have *have; /* [parts] */
    uint64_t have_n, have_max; /* seqs > last.events found; their largest */

    /* The sender. */
    uint64_t seq; /* events of the stream handed on (the seq of the last one) */
    bool have_end;
    struct tp_source_pos end; /* the last END marker's position */
    uint64_t *prod, *dlv;     /* [parts] messages produced to / delivered in each partition */
    uint64_t skipped, rejected;
    bool skip_logged;
    /* the snapshot waiting for its deliveries (pending), then for its produce (ready) */
    bool pending, ready;
    struct tp_source_pos ppos;
    uint64_t *need; /* [parts] prod at the snapshot */
    int64_t *poffs; /* [parts] its H */
    size_t remaining;
    int64_t next_at;
    uint64_t written, written_events;
};

/* The id of source NAME in TICKS_TOPIC: 16 hex digits and a NUL into out[17]. */
void tp_kpos_id(const char *ticks_topic, const char *name, char out[17]);

/* A tracker for src (borrowed; src->ops->position must be set), whose events go to a ticks
 * topic of `parts` partitions. 0 and *ret (owned; tp_kpos_free), or -ENOMEM. */
int tp_kpos_new(struct tp_source *src, const char *ticks_topic, int parts, struct tp_kpos **ret);
void tp_kpos_free(struct tp_kpos *kp);

/* Appends the record of (pos, offs[parts]) to b. 0 or a negative errno. */
int tp_kpos_encode(struct tp_buf *b, const struct tp_source_pos *pos, const int64_t *offs,
                   int parts);
/* Decodes a record: *pos, up to cap offsets into offs, their count in *ret_parts. 0, or
 * -EBADMSG (not a record, damaged), -E2BIG (more than cap partitions). */
int tp_kpos_decode(const void *p, size_t n, struct tp_source_pos *pos, int64_t *offs, int cap,
                   int *ret_parts);

/* Main thread, before start. Reads the last record of each kp[i] from the positions topic
 * (pos_parts partitions) with reader (a TP_KAFKA_READER; producer answers watermark queries)
 * and sets found/last/floor; kp[i] without a record get floor = hi (the ticks topic's ends).
 * Then reads the ticks topic from the floors to hi[] and fills `have`. Logs what it found and
 * how long the scan took. 0, or a negative errno after logging (a record for another partition
 * count: -ESTALE). */
int tp_kpos_resume(rd_kafka_t *producer, rd_kafka_t *reader, const struct tp_kafka_opts *o,
                   int pos_parts, const int64_t *hi, struct tp_kpos **kp, size_t n);

/* Sender. True when the event seq, going to partition q, is in the topic already. */
bool tp_kpos_dup(struct tp_kpos *kp, int32_t q, uint64_t seq);
/* Sender: event seq (= kp->seq + 1) was handled: produced to q (how 0), found in the topic
 * (1, counted and logged once with the total), or refused by the encoder (2). */
void tp_kpos_done(struct tp_kpos *kp, int32_t q, uint64_t seq, int how);
/* Sender: a BEGIN or END marker of the source (PAD markers are not passed). acked[q] is 1 +
 * the largest offset acknowledged in q by this producer. Takes a snapshot at an END when one
 * is due (none pending, now past next_at). 0, or -EPROTO when the marker's count
 * does not match the events handed on (a source bug; logged). */
int tp_kpos_mark(struct tp_kpos *kp, const struct tp_event *mark, const int64_t *acked,
                 int64_t now);
/* Sender (delivery report): a message of the source was delivered in q. */
void tp_kpos_delivered(struct tp_kpos *kp, int32_t q);
/* Main thread after the sender stopped, with every message delivered: makes the last END's
 * record ready unless it was written already. True when one is ready. */
bool tp_kpos_final(struct tp_kpos *kp, const int64_t *acked);
/* The ready record into b (reset first). 0 or a negative errno. */
int tp_kpos_record(struct tp_kpos *kp, struct tp_buf *b);
/* The ready record was handed to the producer. */
void tp_kpos_written(struct tp_kpos *kp, int64_t now);

#endif
