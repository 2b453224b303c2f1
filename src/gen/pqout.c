/*
 * pqout.c — batching generated rows into a Parquet file (see pqout.h).
 *
 * Writer options: ZSTD (the default codec), row groups of at most 1,048,576 rows — the
 * minute-2024 dataset is one row group, a 10 M-row trades file ten — and page statistics,
 * so DuckDB can skip row groups on ts and instrument.
 */
#include <unistd.h>

#include "gen/pqout.h"

static size_t value_size(enum tp_pq_kind k)
{
    switch (k) {
    case TP_PQ_INT64:
    case TP_PQ_TS_MILLIS:
    case TP_PQ_TS_MICROS:
    case TP_PQ_TS_NANOS:
        return sizeof(int64_t);
    case TP_PQ_DOUBLE:
        return sizeof(double);
    case TP_PQ_STRING:
        return sizeof(struct tp_pq_bytes);
    default:
        return 0;
    }
}

static void free_cols(struct tp_gen_pq *p)
{
    for (size_t i = 0; i < TP_GEN_PQ_MAXCOLS; i++) {
        free(p->col[i].any);
        p->col[i].any = NULL;
    }
}

int tp_gen_pq_open(struct tp_gen_pq *p, int fd, const struct tp_pq_column *cols, size_t ncols,
                   const struct tp_pq_kv *kv, size_t nkv)
{
    memset(p, 0, sizeof *p);
    if (ncols == 0 || ncols > TP_GEN_PQ_MAXCOLS) return -EINVAL;
    for (size_t i = 0; i < ncols; i++) {
        size_t sz = value_size(cols[i].kind);
        if (!sz || cols[i].optional) return -EINVAL;
        p->col[i].any = calloc(TP_GEN_PQ_BATCH, sz);
        if (!p->col[i].any) {
            free_cols(p);
            return -ENOMEM;
        }
    }
    struct tp_pq_options o;
    tp_pq_options_default(&o);
    o.kv = kv;
    o.nkv = nkv;
    int rc = tp_pq_writer_open_fd(&p->w, fd, cols, ncols, &o);
    if (rc < 0) {
        free_cols(p);
        p->w = NULL;
        return rc;
    }
    p->fd = fd;
    p->ncols = ncols;
    return 0;
}

static int flush_batch(struct tp_gen_pq *p)
{
    if (p->err) return p->err;
    if (p->n == 0) return 0;
    struct tp_pq_batch_col b[TP_GEN_PQ_MAXCOLS];
    for (size_t i = 0; i < p->ncols; i++) b[i] = (struct tp_pq_batch_col){p->col[i].any, NULL};
    int rc = tp_pq_writer_append(p->w, b, p->n);
    p->n = 0;
    if (rc < 0) p->err = rc;
    return rc;
}

int tp_gen_pq_commit(struct tp_gen_pq *p)
{
    if (p->err) return p->err;
    if (++p->n == TP_GEN_PQ_BATCH) return flush_batch(p);
    return 0;
}

int tp_gen_pq_close(struct tp_gen_pq *p, uint64_t *ret_bytes)
{
    int rc = flush_batch(p);
    uint64_t bytes = 0;
    if (p->w) {
        if (rc == 0) {
            bytes = tp_pq_writer_bytes(p->w); /* before the footer; the true size below */
            rc = tp_pq_writer_close(p->w);
        } else {
            tp_pq_writer_abort(p->w);
        }
        p->w = NULL;
    }
    if (rc == 0) {
        off_t end = lseek(p->fd, 0, SEEK_CUR);
        if (end >= 0) bytes = (uint64_t)end;
        if (ret_bytes) *ret_bytes = bytes;
    }
    free_cols(p);
    return rc;
}

void tp_gen_pq_abort(struct tp_gen_pq *p)
{
    tp_pq_writer_abort(p->w);
    p->w = NULL;
    free_cols(p);
}
