/*
 * pqout.h — `tickpipe gen --format parquet`: generated rows batched into column arrays and
 * appended to a Parquet writer (src/sink/parquet.h).
 *
 * A generator asks for the index of the next row (tp_gen_pq_row), fills that slot in each
 * column array (i64 for INT64 and timestamps, f64 for DOUBLE, str for STRING), then commits
 * it; every TP_GEN_PQ_BATCH rows the batch goes to the writer in one append, so the cost of
 * the column-wise API is paid once per batch, not per row.
 *
 * Invariants: 0 ≤ n < TP_GEN_PQ_BATCH between calls; err, once set, is sticky and every
 * later commit is a no-op that returns it. Strings are borrowed: they must live until the
 * next commit that flushes (generators point them at names they keep for the whole run).
 * The descriptor is borrowed and must be at offset 0 (the writer starts there). Memory is
 * bounded by the batch plus one row group of the writer (options in pqout.c). Not
 * thread-safe.
 */
#ifndef TP_GEN_PQOUT_H
#define TP_GEN_PQOUT_H

#include "sink/parquet.h"

#define TP_GEN_PQ_BATCH   65536u
#define TP_GEN_PQ_MAXCOLS 8u

union tp_gen_pq_col {
    int64_t *i64;
    double *f64;
    struct tp_pq_bytes *str;
    void *any;
};

struct tp_gen_pq {
    struct tp_pq_writer *w;                     /* owned until close/abort */
    int fd;                                     /* borrowed */
    int err;                                    /* 0 or the first error (negative errno); sticky */
    size_t ncols, n;                            /* columns; rows buffered in the batch */
    union tp_gen_pq_col col[TP_GEN_PQ_MAXCOLS]; /* owned, TP_GEN_PQ_BATCH values each */
};

/* Opens a writer on fd for the schema cols (kinds INT64, DOUBLE, STRING or timestamps;
 * at most TP_GEN_PQ_MAXCOLS) with the key-value metadata kv (copied). 0, -EINVAL, -ENOMEM
 * or a write error; on failure nothing is left to free. */
int tp_gen_pq_open(struct tp_gen_pq *p, int fd, const struct tp_pq_column *cols, size_t ncols,
                   const struct tp_pq_kv *kv, size_t nkv);

/* Appends the committed row p->n (filled by the caller) to the batch, writing the batch when
 * it is full. 0 or the sticky error. */
int tp_gen_pq_commit(struct tp_gen_pq *p);

/* Writes the last batch and the footer, frees everything; *ret_bytes (may be NULL) is the
 * file size. 0 or the first error (the file is then incomplete). */
int tp_gen_pq_close(struct tp_gen_pq *p, uint64_t *ret_bytes);

/* Frees everything without finishing the file. Safe after a failed open or a close. */
void tp_gen_pq_abort(struct tp_gen_pq *p);

#endif
