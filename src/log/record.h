/*
 * record.h — what the journal's opaque payloads mean: one type byte, then a type-specific
 * binary body (little-endian; format in docs/journal.md). Instruments are stored by name so
 * records outlive a process's interned ids.
 *
 * Input log:  TP_REC_EVENT, TP_REC_SOURCE_POS.
 * Output log: TP_REC_BAR, TP_REC_ANOMALY, TP_REC_LATE, TP_REC_GAP, TP_REC_CHECKPOINT.
 *
 * Encoders append to a tp_buf; decoders validate everything and return -EBADMSG rather than
 * trust a field. Decoding an event or output interns its instrument. Pure; any thread.
 */
#ifndef TP_RECORD_H
#define TP_RECORD_H

#include "core/buf.h"
#include "core/event.h"
#include "engine/engine.h"

enum tp_rec_type {
    TP_REC_EVENT = 1,
    TP_REC_SOURCE_POS = 2,
    TP_REC_BAR = 3,
    TP_REC_ANOMALY = 4,
    TP_REC_LATE = 5,
    TP_REC_GAP = 6,
    TP_REC_CHECKPOINT = 7,
};

/* Where a file source stands: written in the same commit as the records read before it
 * (docs/ingest.md, "Replay sources", says how a source writes and resumes from them). */
struct tp_source_pos {
    char source[128];   /* the source's name, e.g. "replay:/path/file.csv" */
    uint64_t dev, ino;  /* file identity */
    uint64_t size;      /* size when first opened */
    uint64_t head_hash; /* hash of the first 64 KiB */
    uint64_t offset;    /* bytes consumed */
    uint64_t line;      /* lines consumed */
    uint64_t events;    /* events the source produced from the file so far (eof records
                         * included): the exact resume point (added) */
    bool eof;           /* the source reached the end (and wrote its eof records) */
    bool begin;         /* opens a batch: the event records after it, up to this source's next
                         * position record, are the source's next events (added) */
};

/* The type of a payload, or 0 when empty/unknown. */
enum tp_rec_type tp_rec_type(const void *p, size_t n);

int tp_rec_put_event(struct tp_buf *b, const struct tp_event *e);
int tp_rec_get_event(const void *p, size_t n, struct tp_event *ret);

int tp_rec_put_source_pos(struct tp_buf *b, const struct tp_source_pos *s);
int tp_rec_get_source_pos(const void *p, size_t n, struct tp_source_pos *ret);

int tp_rec_put_bar(struct tp_buf *b, const struct tp_bar *bar);
int tp_rec_get_bar(const void *p, size_t n, struct tp_bar *ret);

int tp_rec_put_anomaly(struct tp_buf *b, const struct tp_anomaly *a);
int tp_rec_get_anomaly(const void *p, size_t n, struct tp_anomaly *ret);

int tp_rec_put_late(struct tp_buf *b, const struct tp_event *e, int64_t interval_ns);
int tp_rec_get_late(const void *p, size_t n, struct tp_event *ret, int64_t *ret_interval);

int tp_rec_put_gap(struct tp_buf *b, const struct tp_gap *g);
int tp_rec_get_gap(const void *p, size_t n, struct tp_gap *ret);

/* A checkpoint: the input offset it covers (the next input record to read) and the engine's
 * serialized state. *state is borrowed from p. */
int tp_rec_put_checkpoint(struct tp_buf *b, uint64_t input_next, const void *state, size_t n);
int tp_rec_get_checkpoint(const void *p, size_t n, uint64_t *ret_input_next, const void **ret_state,
                          size_t *ret_n);

#endif
