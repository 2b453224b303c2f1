/*
 * parquet.h — tickpipe's own Apache Parquet writer and reader for flat tables (no Parquet
 * library is packaged for Debian 12). docs/parquet.md says which parts of the specification
 * are implemented and how.
 *
 * A table is a list of flat columns, each required or optional (nullable), of one of the
 * kinds below (a physical type plus the logical type that makes DuckDB, Spark, pandas and
 * BigQuery read it as intended):
 *
 *   kind              physical      logical / converted type
 *   TP_PQ_BOOL        BOOLEAN       -
 *   TP_PQ_INT32       INT32         -
 *   TP_PQ_INT64       INT64         -
 *   TP_PQ_DOUBLE      DOUBLE        -
 *   TP_PQ_STRING      BYTE_ARRAY    STRING / UTF8
 *   TP_PQ_BYTES       BYTE_ARRAY    -
 *   TP_PQ_TS_MILLIS   INT64         TIMESTAMP(MILLIS, utc) / TIMESTAMP_MILLIS
 *   TP_PQ_TS_MICROS   INT64         TIMESTAMP(MICROS, utc) / TIMESTAMP_MICROS
 *   TP_PQ_TS_NANOS    INT64         TIMESTAMP(NANOS, utc)
 *
 * Writer. Rows are appended column-wise in batches: for each column an array of n values
 * (int32_t, int64_t, double, uint8_t 0/1 for BOOL, struct tp_pq_bytes for STRING/BYTES)
 * and, for an optional column, an array of n null flags (nonzero = null; the value at a null
 * row is ignored). The writer buffers a row group in memory (up to row_group_rows rows or
 * row_group_bytes bytes), then writes it column chunk by column chunk: an optional
 * dictionary page (PLAIN values) and data pages (v1 or v2) whose values are RLE_DICTIONARY
 * indices or PLAIN values, with RLE definition levels for optional columns, compressed with
 * ZSTD, SNAPPY or nothing, with page and chunk statistics. Close writes the footer. Memory is
 * bounded by row_group_bytes plus the encoded row group.
 *
 * Reader. Opens a file (or bytes in memory), validates the magic, the footer length and the
 * Thrift metadata (every length, offset and count is checked against the file and against
 * the limits; a malformed file gives a negative errno and a message, never a crash), exposes
 * the schema, the row groups and their statistics, and reads a column chunk back into
 * arrays (PLAIN, dictionary and RLE encodings; data page v1 and v2; ZSTD, SNAPPY,
 * UNCOMPRESSED). Files of other writers (DuckDB, Arrow) with the same types read as well;
 * a column of another type is listed as TP_PQ_OTHER and not readable.
 *
 * Errors are negative errno values: -EBADMSG malformed file, -ENOTSUP a valid feature not
 * implemented here (nested schema, another encoding or codec), -E2BIG a size beyond a limit,
 * -EINVAL bad arguments, -ENOMEM, or the errno of a failed read/write.
 *
 * Threads: a writer or reader belongs to one thread at a time; distinct ones are independent.
 */
#ifndef TP_PARQUET_H
#define TP_PARQUET_H

#include "core/tp.h"

enum tp_pq_kind {
    TP_PQ_OTHER = 0, /* reader only: a column of a type tickpipe does not read */
    TP_PQ_BOOL,
    TP_PQ_INT32,
    TP_PQ_INT64,
    TP_PQ_DOUBLE,
    TP_PQ_STRING,
    TP_PQ_BYTES,
    TP_PQ_TS_MILLIS,
    TP_PQ_TS_MICROS,
    TP_PQ_TS_NANOS,
};

/* Compression codecs, numbered as in the Parquet format. */
enum tp_pq_codec {
    TP_PQ_UNCOMPRESSED = 0,
    TP_PQ_SNAPPY = 1,
    TP_PQ_ZSTD = 6,
};

/* A string or byte array (borrowed). */
struct tp_pq_bytes {
    const char *p;
    uint32_t n;
};

/* A column of the schema. */
struct tp_pq_column {
    const char *name;     /* UTF-8, borrowed (the writer copies it) */
    enum tp_pq_kind kind; /* not TP_PQ_OTHER when writing */
    bool optional;        /* may hold nulls */
    bool local_time;      /* timestamps: isAdjustedToUTC=false (a wall-clock time); default UTC */
};

struct tp_pq_kv {
    const char *key;   /* borrowed */
    const char *value; /* borrowed; NULL for a key without value */
};

struct tp_pq_options {
    enum tp_pq_codec codec;    /* default ZSTD */
    int zstd_level;            /* default 3 */
    size_t row_group_rows;     /* a row group ends at this many rows (default 1048576) */
    size_t row_group_bytes;    /* ... or when its buffered values reach this (default 128 MiB) */
    size_t page_rows;          /* a data page holds at most this many rows (default 65536) */
    size_t page_bytes;         /* ... and about this many value bytes (default 1 MiB) */
    bool dictionary;           /* try dictionary encoding (default true) */
    size_t dict_max_bytes;     /* fall back to PLAIN past this dictionary size (default 1 MiB) */
    size_t dict_max_entries;   /* ... or this many distinct values (default 65536) */
    bool page_v2;              /* DATA_PAGE_V2 instead of DATA_PAGE (default false) */
    bool page_stats;           /* statistics in every data page header (default true) */
    size_t stats_max_bytes;    /* string min/max longer than this are truncated (default 64) */
    size_t max_value_bytes;    /* a string/bytes value longer than this is refused (16 MiB) */
    const char *created_by;    /* default "tickpipe version <v>"; borrowed */
    const struct tp_pq_kv *kv; /* file key-value metadata, copied at open */
    size_t nkv;
};

/* Fills o with the defaults above. */
void tp_pq_options_default(struct tp_pq_options *o);

/* A column of one batch passed to tp_pq_writer_append(). */
struct tp_pq_batch_col {
    const void *values;     /* n values of the column's kind (borrowed for the call) */
    const uint8_t *is_null; /* n flags, nonzero = null; NULL when no row is null */
};

struct tp_pq_writer;

/* Opens a writer on fd (borrowed: the caller closes it, and fsyncs it if it wants; the
 * writer writes from the current offset, which must be the file's start or the offsets in
 * the footer are wrong) or on a new file at path (created or truncated, mode 0644, closed by
 * tp_pq_writer_close). The schema (ncols columns, names unique and non-empty) is copied; the
 * options are copied (NULL for the defaults). Writes the leading magic. *out is a new
 * writer on success. */
int tp_pq_writer_open_fd(struct tp_pq_writer **out, int fd, const struct tp_pq_column *cols,
                         size_t ncols, const struct tp_pq_options *opt);
int tp_pq_writer_open_path(struct tp_pq_writer **out, const char *path,
                           const struct tp_pq_column *cols, size_t ncols,
                           const struct tp_pq_options *opt);

/* Appends n rows: cols[i] holds column i's values (see above). A null in a required column
 * is -EINVAL and appends nothing; a value longer than max_value_bytes is -E2BIG. Row groups
 * are written as they fill. After a write error every call fails with that error. */
int tp_pq_writer_append(struct tp_pq_writer *w, const struct tp_pq_batch_col *cols, size_t n);

/* Writes the buffered rows as a row group now (no-op when none are buffered). */
int tp_pq_writer_flush(struct tp_pq_writer *w);

/* Rows appended so far; bytes written so far (the file size once closed). */
uint64_t tp_pq_writer_rows(const struct tp_pq_writer *w);
uint64_t tp_pq_writer_bytes(const struct tp_pq_writer *w);

/* Writes the last row group and the footer, closes the file when the writer opened it, and
 * frees the writer (also on failure). Returns 0 or the first error. */
int tp_pq_writer_close(struct tp_pq_writer *w);
/* Frees the writer without finishing the file (the file is incomplete). NULL is a no-op. */
void tp_pq_writer_abort(struct tp_pq_writer *w);

/* ---- reader ---- */

/* Limits against hostile files; zero fields take the defaults. */
struct tp_pq_limits {
    size_t max_footer;     /* footer bytes (default 64 MiB) */
    size_t max_chunk;      /* column chunk bytes read at once (default 1 GiB) */
    size_t max_page;       /* uncompressed page bytes (default 256 MiB) */
    size_t max_columns;    /* leaf columns (default 4096) */
    size_t max_row_groups; /* default 1048576 */
};

/* The reader's message about its last error. */
struct tp_pq_error {
    int code;      /* the negative errno returned */
    char msg[200]; /* what was wrong, and where */
};

/* Statistics of a column chunk, decoded for the column's kind. */
struct tp_pq_stats {
    bool has_null_count;
    int64_t null_count;
    bool has_minmax; /* min and max are present (from min_value/max_value, else legacy) */
    union {
        int64_t i; /* INT32, INT64, timestamps; BOOL as 0/1 */
        double d;
        struct tp_pq_bytes s; /* points into the reader's footer */
    } min, max;
    bool min_exact, max_exact; /* false when the writer truncated a string bound */
};

struct tp_pq_reader;

/* Opens path, or n bytes at p (borrowed until tp_pq_reader_close), and decodes the footer.
 * limits may be NULL. On failure returns a negative errno and, when err is not NULL, fills
 * it with the code and a message. */
int tp_pq_reader_open_path(struct tp_pq_reader **out, const char *path,
                           const struct tp_pq_limits *limits, struct tp_pq_error *err);
int tp_pq_reader_open_mem(struct tp_pq_reader **out, const void *p, size_t n,
                          const struct tp_pq_limits *limits, struct tp_pq_error *err);
void tp_pq_reader_close(struct tp_pq_reader *r);

/* The schema: ncols flat columns (pointers valid while the reader is open). */
size_t tp_pq_reader_ncols(const struct tp_pq_reader *r);
const struct tp_pq_column *tp_pq_reader_column(const struct tp_pq_reader *r, size_t col);
/* Index of the column with that name, or -1. */
int tp_pq_reader_find(const struct tp_pq_reader *r, const char *name);
uint64_t tp_pq_reader_rows(const struct tp_pq_reader *r);
size_t tp_pq_reader_row_groups(const struct tp_pq_reader *r);
uint64_t tp_pq_reader_rg_rows(const struct tp_pq_reader *r, size_t rg);
/* Key-value metadata: the value for key (NUL-terminated copy owned by the reader), or NULL. */
const char *tp_pq_reader_kv(const struct tp_pq_reader *r, const char *key);
const char *tp_pq_reader_created_by(const struct tp_pq_reader *r);
/* The chunk's codec and its statistics; false when the chunk has none usable. */
enum tp_pq_codec tp_pq_reader_codec(const struct tp_pq_reader *r, size_t rg, size_t col);
bool tp_pq_reader_stats(const struct tp_pq_reader *r, size_t rg, size_t col,
                        struct tp_pq_stats *out);
/* The chunk's total_compressed_size from the footer (what reading it costs in I/O), 0 for
 * an unknown chunk. */
uint64_t tp_pq_reader_chunk_bytes(const struct tp_pq_reader *r, size_t rg, size_t col);
/* Whether row group rg may hold a non-null value v of column col with lo <= v <= hi (by its
 * statistics; true when it has none). For INT32/INT64/timestamps, DOUBLE, STRING/BYTES. */
bool tp_pq_reader_may_contain_i64(const struct tp_pq_reader *r, size_t rg, size_t col, int64_t lo,
                                  int64_t hi);
bool tp_pq_reader_may_contain_dbl(const struct tp_pq_reader *r, size_t rg, size_t col, double lo,
                                  double hi);
bool tp_pq_reader_may_contain_str(const struct tp_pq_reader *r, size_t rg, size_t col,
                                  struct tp_pq_bytes lo, struct tp_pq_bytes hi);

/* A column chunk read back: n rows; values as for the writer (int32_t, int64_t, double,
 * uint8_t, struct tp_pq_bytes pointing into `heap`), zero at null rows; is_null[i] nonzero
 * for a null row (all zero for a required column). Owned; free with tp_pq_data_fini. */
struct tp_pq_data {
    enum tp_pq_kind kind;
    size_t n;
    size_t null_count;
    void *values;
    uint8_t *is_null;
    char *heap;
};

/* Reads column col of row group rg into *out. On failure returns a negative errno (the
 * message via tp_pq_reader_error) and leaves *out empty. */
int tp_pq_reader_read(struct tp_pq_reader *r, size_t rg, size_t col, struct tp_pq_data *out);
void tp_pq_data_fini(struct tp_pq_data *d);
/* The last error of this reader. */
const struct tp_pq_error *tp_pq_reader_error(const struct tp_pq_reader *r);

#endif
