/*
 * lake.h — the data lake (DESIGN.md §5; docs/lake.md): hive-partitioned Parquet tables under
 * DATA/lake written from the journals, their commit protocol, compaction, and reading ticks
 * back.
 *
 *   lake/ticks/date=D/venue=V/part-input-0-F-L.parquet      from the input log
 *   lake/bars/interval=I/date=D/part-output-0-F-L.parquet   from the output log
 *   lake/anomalies/date=D/...  lake/late/date=D/...  lake/gaps/date=D/...
 *   lake/_tickpipe/ack   the acknowledged offsets      lake/_tickpipe/lock   the lake's lock
 *
 * Batches. The writer keeps one batch per log: the rows of the offsets [first, last] it was
 * given since the last commit. A batch is due after offset o when (o + 1) is a multiple of
 * batch_offsets (boundaries aligned to the log, not to the start) or when its rows reach
 * batch_bytes of memory; a commit also happens at a final flush. Committing writes, for each
 * table and partition with rows, one file named after the batch's offsets, its rows sorted by
 * (instrument, ts, offset). Given the same log and the same starting offset the batches, and so
 * the files, are the same: file boundaries never depend on the clock.
 *
 * Commit protocol (invariants the crash test checks):
 *  1. A file is written as .NAME.parquet.tmp (matched by no *.parquet glob, and skipped as a
 *     hidden file by Spark, Hadoop and pyarrow listings), fsynced, and only then renamed to
 *     NAME.parquet; the directories are fsynced after the renames. A visible *.parquet is
 *     always complete.
 *  2. The ack file is replaced (tmp, fsync, rename, fsync) only after every file of the batch
 *     is durable under its final name; it says, per log, the next offset not yet in the lake.
 *  3. At open, every part file whose first offset is at or past its log's ack, and every
 *     *.parquet.tmp, is removed: the batch is written again, with the same name and content.
 *  4. Commits and compaction hold the lake's lock (flock on _tickpipe/lock), so compaction
 *     never sees a half-committed batch and the cleanup of 3 never removes its staging files.
 *
 * Threads: a writer or sink belongs to one thread; the free functions are pure or do their own
 * I/O and may be called from any thread. Errors are negative errno values; -EIO means a failed
 * fsync (never retried silently) and -EBADMSG a lake that is not in a state tickpipe wrote.
 */
#ifndef TP_LAKE_H
#define TP_LAKE_H

#include "core/event.h"
#include "engine/engine.h"
#include "pipeline/sinkrun.h"
#include "sink/parquet.h"

#define TP_LAKE_SCHEMA_VERSION "1"
#define TP_LAKE_KV_VERSION     "tickpipe.schema_version"

enum tp_lake_table {
    TP_LAKE_TICKS = 0,
    TP_LAKE_BARS,
    TP_LAKE_ANOMALIES,
    TP_LAKE_LATE,
    TP_LAKE_GAPS,
    TP_LAKE_NTABLES
};

/* "ticks", "bars", "anomalies", "late", "gaps". Static. */
const char *tp_lake_table_name(enum tp_lake_table t);
/* The log a table comes from. */
enum tp_sink_log tp_lake_table_log(enum tp_lake_table t);
/* The Parquet columns of a table (static), in the order of DESIGN.md §5. */
const struct tp_pq_column *tp_lake_schema(enum tp_lake_table t, size_t *ret_ncols);

/* ---- names ------------------------------------------------------------------------------- */

/* A hive partition value escaped as Hive and Spark do (FileUtils.escapePathName): the bytes
 * 0x00-0x1F and 0x7F and the characters " # % ' * / : = ? \ { [ ] ^ become %XX (upper-case
 * hex); everything else, UTF-8 included, is kept. An empty value is Hive's default partition
 * __HIVE_DEFAULT_PARTITION__. Writes a NUL-terminated string; returns its length, or
 * -ENAMETOOLONG when it does not fit in cap. */
int tp_lake_escape(const char *s, size_t n, char *out, size_t cap);
/* The inverse for %XX sequences (others are kept as they are). Returns the length or
 * -ENAMETOOLONG. */
int tp_lake_unescape(const char *s, size_t n, char *out, size_t cap);

#define TP_LAKE_NAME_MAX 80
/* "part-<log>-<partition>-<first>-<last>.parquet", log "input" or "output", offsets as 20
 * zero-padded digits so names sort by offset. Returns the length or -ENAMETOOLONG. */
int tp_lake_part_name(enum tp_sink_log log, uint32_t partition, uint64_t first, uint64_t last,
                      char *out, size_t cap);
/* True when name is exactly such a name (first <= last); fills the out-parameters. */
bool tp_lake_parse_part_name(const char *name, enum tp_sink_log *log, uint32_t *partition,
                             uint64_t *first, uint64_t *last);

/* ---- the lake's state files -------------------------------------------------------------- */

/* Reads LAKE/_tickpipe/ack into ack[2] (input, output). 0, -ENOENT when there is none,
 * -EBADMSG when it is malformed. */
int tp_lake_ack_read(const char *lake, uint64_t ack[2]);
/* Writes it atomically and durably (ack.tmp, fsync, rename, fsync of the directory); creates
 * LAKE/_tickpipe when missing. */
int tp_lake_ack_write(const char *lake, const uint64_t ack[2]);

/* The same for another ack file LAKE/_tickpipe/NAME (the Kafka process role keeps one per
 * ticks partition, "ack.TOPIC.pN": docs/kafka.md). */
int tp_lake_ack_read_named(const char *lake, const char *name, uint64_t ack[2]);
int tp_lake_ack_write_named(const char *lake, const char *name, const uint64_t ack[2]);

/* Takes the lake's lock (creating LAKE/_tickpipe/lock). wait: block until free; else -EBUSY
 * when another process holds it. 0 and *ret_fd, to give to tp_lake_unlock. */
int tp_lake_lock(const char *lake, bool wait, int *ret_fd);
void tp_lake_unlock(int fd);

struct tp_lake_scan {
    uint64_t parts;   /* part files found */
    uint64_t removed; /* files removed (past the ack, or *.parquet.tmp) */
    uint64_t foreign; /* other files left alone */
};

/* Walks every table's tree: removes the part files at or past their log's ack (first >=
 * ack[log]) and every *.parquet.tmp, fsyncing the directories it changed. With ack NULL it
 * only counts. 0 and *ret (may be NULL), or a negative errno. Call with the lock held. */
int tp_lake_remove_past(const char *lake, const uint64_t ack[2], struct tp_lake_scan *ret);

/* The same restricted to the part files whose partition field is `partition` (-1: all): the
 * others are counted as foreign and left alone (*.parquet.tmp files are still removed: under
 * the lock no commit is in flight). */
int tp_lake_remove_past_part(const char *lake, const uint64_t ack[2], int64_t partition,
                             struct tp_lake_scan *ret);

/* Creates dir and its missing parents (0755); each directory it created is made durable by
 * an fsync of its parent. 0 or a negative errno. */
int tp_lake_mkdirs(const char *dir);
/* fsync of a directory. 0 or a negative errno (-EIO when the fsync failed). */
int tp_lake_fsync_dir(const char *dir);
/* Removes path and everything beneath it. 0 or a negative errno; a missing path is 0. */
int tp_lake_rmtree(const char *path);
/* Puts directory src at dst atomically: renameat2(RENAME_EXCHANGE) when dst exists (src then
 * holds the old dst, which is removed), rename when not; fsyncs both parents. A reader of dst
 * sees the old tree or the new one, never a mix. -ENOTSUP when the filesystem cannot
 * exchange. */
int tp_lake_swap_dir(const char *src, const char *dst);

/* ---- the writer -------------------------------------------------------------------------- */

struct tp_lake_opts {
    const char *dir;        /* the lake's root, e.g. DATA/lake (borrowed for _new; copied) */
    uint64_t batch_offsets; /* a batch closes after each multiple of this (default 1 << 22) */
    size_t batch_bytes;     /* ... or when its rows use this much memory (default 128 MiB) */
    bool bars_1s;           /* also write bars shorter than a minute (default false) */
    enum tp_pq_codec codec; /* default ZSTD */
    size_t row_group_rows;  /* default 65536 */
    uint32_t partition;     /* the part files' partition field (default 0; the Kafka process
                             * role: the ticks partition) (added) */
};

/* Fills o with the defaults, dir = dir. */
void tp_lake_opts_default(struct tp_lake_opts *o, const char *dir);

struct tp_lake_stats {
    uint64_t commits; /* batches committed */
    uint64_t files;   /* files written */
    uint64_t rows;    /* rows written */
    uint64_t bytes;   /* bytes written */
};

struct tp_lake_writer;

/* 0 and *ret (owned; tp_lake_writer_free), -EINVAL for a bad option, -ENOMEM. */
int tp_lake_writer_new(const struct tp_lake_opts *o, struct tp_lake_writer **ret);
void tp_lake_writer_free(struct tp_lake_writer *w);

/* Rows of offset `off` of their log; offsets of one log must increase (-EINVAL otherwise).
 * tp_lake_tick skips status events (they are not ticks) and tp_lake_bar the bars it does not
 * keep, as tp_lake_skip does: the offset still belongs to the batch. Values are copied. */
int tp_lake_tick(struct tp_lake_writer *w, uint64_t off, const struct tp_event *e);
int tp_lake_bar(struct tp_lake_writer *w, uint64_t off, const struct tp_bar *b);
int tp_lake_anomaly(struct tp_lake_writer *w, uint64_t off, const struct tp_anomaly *a);
int tp_lake_late(struct tp_lake_writer *w, uint64_t off, const struct tp_event *e,
                 int64_t interval_ns);
int tp_lake_gap(struct tp_lake_writer *w, uint64_t off, const struct tp_gap *g);
int tp_lake_skip(struct tp_lake_writer *w, enum tp_sink_log log, uint64_t off);

/* True when log's batch should be committed now (an offset boundary or the memory cap). */
bool tp_lake_due(const struct tp_lake_writer *w, enum tp_sink_log log);
/* True when log's batch holds at least one offset. */
bool tp_lake_pending(const struct tp_lake_writer *w, enum tp_sink_log log);
/* Commits log's batch (protocol steps 1; the caller writes the ack): *ret_next = last + 1.
 * The batch is emptied whether or not it succeeds (a failed commit leaves files that the
 * next open's cleanup removes). With no offset pending, 0 and *ret_next untouched. */
int tp_lake_commit(struct tp_lake_writer *w, enum tp_sink_log log, uint64_t *ret_next);
/* Drops both batches (after a failure, before starting again from the ack). */
void tp_lake_discard(struct tp_lake_writer *w);
void tp_lake_writer_stats(const struct tp_lake_writer *w, struct tp_lake_stats *ret);

/* ---- the sink (pipeline/sinkrun.h) ------------------------------------------------------- */

/* The lake as a sink of both journals: open takes the lock, reads (or creates) the ack and
 * removes what is past it; write decodes records into the writer and commits due batches
 * (under the lock, then the ack file); flush(final) commits what is pending. */
extern const struct tp_sink_ops tp_lake_sink_ops;
/* A sink for tp_pipeline_add_sink (self owned by the runner). 0 or a negative errno. */
int tp_lake_sink_new(const struct tp_lake_opts *o, void **ret_self);

/* The lake as the sink of one partition of the Kafka process role (docs/kafka.md, "Sinks"):
 * the same ops, but its acknowledged offsets are in LAKE/_tickpipe/ack.TOPIC.pPARTITION,
 * its part files carry `partition` in their names (o->partition is overridden), and open
 * removes only that partition's files past its ack. A lake that has the embedded pipeline's
 * _tickpipe/ack is refused (-EBADMSG at open): the two offset spaces do not mix. topic is
 * copied. 0 or a negative errno. */
int tp_lake_sink_new_part(const struct tp_lake_opts *o, const char *topic, uint32_t partition,
                          void **ret_self);

/* ---- compaction -------------------------------------------------------------------------- */

struct tp_lake_compact_opts {
    const char *dir;      /* the lake's root */
    size_t max_inputs;    /* files merged into one (default 16; more make a few files) */
    bool dry_run;         /* only say what would be merged */
    int64_t lock_wait_ns; /* how long to wait for the lock (default 10 s) */
    enum tp_pq_codec codec;
    size_t row_group_rows;
    /* Progress and messages (may be NULL): called with a line of text. */
    void (*say)(void *ctx, const char *line);
    void *ctx;
};

struct tp_lake_compact_stats {
    uint64_t partitions; /* leaf partitions compacted */
    uint64_t inputs;     /* files merged */
    uint64_t outputs;    /* files written */
    uint64_t rows;       /* rows rewritten */
};

/* Merges, in every leaf partition of every table, the committed part files (last offset
 * below the ack) into one sorted file per max_inputs of them, and swaps the partition's
 * directory atomically (tp_lake_swap_dir). Holds the lake's lock throughout; -EBUSY when it
 * cannot take it within lock_wait_ns. err gets a message on failure. */
int tp_lake_compact(const struct tp_lake_compact_opts *o, struct tp_lake_compact_stats *ret,
                    char *err, size_t errcap);

/* ---- reading ticks ----------------------------------------------------------------------- */

struct tp_lake_ticks;

/* Opens a Parquet file of ticks: tickpipe's own, or another writer's with the same column
 * names (ts_ns INT64, or ts as a timestamp; instrument; the others optional). 0 and *ret, or
 * a negative errno with a message in err. */
int tp_lake_ticks_open(const char *path, struct tp_lake_ticks **ret, char *err, size_t errcap);
/* The next row as an event (file order). 1, 0 at the end, or a negative errno with a message
 * in err (a malformed file, a bad instrument name, ...). */
int tp_lake_ticks_next(struct tp_lake_ticks *r, struct tp_event *ev, char *err, size_t errcap);
uint64_t tp_lake_ticks_rows(const struct tp_lake_ticks *r);
void tp_lake_ticks_free(struct tp_lake_ticks *r);

/* Every *.parquet file under path (a file is itself; a directory is walked, its `ticks`
 * subdirectory when it has one; names starting with '.' or '_' are skipped), sorted by path.
 * 0 and *ret_paths (owned: free each, then the array) and *ret_n, or a negative errno. */
int tp_lake_list_files(const char *path, char ***ret_paths, size_t *ret_n);

/* ---- reading bars (GET /api/bars history) ------------------------------------------------ */

struct tp_lake_bars_query {
    const char *lake;       /* the lake's root (DATA/lake); borrowed */
    const char *instrument; /* venue:SYMBOL; borrowed */
    int64_t interval_ns;    /* the bars' interval: LAKE/bars/interval=<it>/ */
    int64_t from, to;       /* window starts ts with from <= ts < to */
    size_t limit;           /* the newest `limit` bars of the range (>= 1) */
    uint64_t max_bytes;     /* cap on the column chunk bytes read (0: 256 MiB) */
    uint64_t max_rows;      /* cap on the rows decoded (0: 4 Mi) */
    uint32_t max_files;     /* cap on the files opened (0: 4096) */
};

struct tp_lake_bars_stats {
    uint64_t dates, dates_skipped; /* date partitions listed, and pruned by from/to or limit */
    uint64_t files;                /* files opened */
    uint64_t row_groups, row_groups_skipped; /* row groups seen, and pruned by statistics */
    uint64_t rows;                           /* rows decoded */
    uint64_t bytes;                          /* column chunk bytes read */
};

/* The newest q->limit final bars of one instrument and interval with from <= ts < to, from
 * LAKE/bars, oldest first, into out (room for q->limit; instr interned, final true, indicators
 * NaN where null; first_ts and last_ts have the lake's microsecond precision). Date partitions
 * are read newest first and outside [from, to) skipped; within a file, row groups whose
 * instrument or ts statistics exclude the query are skipped; a bar present in several files
 * (a batch rewritten after a crash) is taken once, from the file with the highest offsets.
 * The walk stops at the first date partition that completes `limit` bars. A lake without
 * that interval (or without bars at all) gives 0 bars. 0 and *ret_n, or a negative errno with
 * a message in err: -E2BIG when a cap was reached (narrow the range), -EBADMSG a malformed
 * file, -EINVAL a bad query, or the errno of a failed read. Any thread; reads the disk. */
int tp_lake_bars_read(const struct tp_lake_bars_query *q, struct tp_bar *out, size_t *ret_n,
                      struct tp_lake_bars_stats *st, char *err, size_t errcap);

#endif
