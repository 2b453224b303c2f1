/*
 * journal.h — the embedded log: a segmented, CRC-framed, append-only journal on local disk
 * with group commit (DESIGN.md §1; format in docs/journal.md).
 *
 * A journal is a directory of segment files named by the offset of their first record.
 * Offsets are dense from 0: record N is the N-th record ever appended. The payload of a record
 * is opaque bytes (log/record.h gives their meaning). One writer per journal (one thread);
 * any number of cursors read it, in the writer's process or another, and tail it.
 *
 * Durability: tp_journal_append buffers; records become visible to cursors in this process
 * when written to the file (tp_journal_flush, or when the buffer fills), and durable when a
 * commit has fdatasync'ed them. With TP_SYNC_GROUP a commit happens at the latest every
 * sync_interval_ns or sync_records records (by a committer thread, so the writer does not
 * wait on the disk); TP_SYNC_NONE never syncs (benchmarks; the OS flushes eventually), but a
 * close still syncs. tp_journal_durable() is the offset below which every record is durable.
 *
 * Recovery: tp_journal_open scans the last segment; a torn tail (a partial or corrupt final
 * frame with nothing valid after it) is cut and reported in the recovery report. Corruption
 * followed by valid records is not a torn tail: open fails with -EBADMSG and names the file
 * and byte, and nothing is cut. A cursor that meets a bad frame returns -EBADMSG; it never
 * returns a record whose CRC does not match.
 *
 * Failure of fdatasync is fatal to the journal (no silent retry: fsyncgate): the journal
 * enters a failed state and every later append/commit returns the error.
 */
#ifndef TP_JOURNAL_H
#define TP_JOURNAL_H

#include <sys/types.h>

#include "core/tp.h"

/* The I/O layer, injectable for fault tests (short writes, ENOSPC, fsync failure). Each
 * function has the POSIX semantics of its namesake (returns -1 and sets errno on failure). */
struct tp_io {
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*write)(int fd, const void *buf, size_t n);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    int (*fdatasync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*close)(int fd);
};
/* The real thing. */
extern const struct tp_io tp_io_posix;

enum tp_sync_mode {
    TP_SYNC_NONE = 0,  /* never fdatasync except at close */
    TP_SYNC_GROUP = 1, /* every sync_interval_ns or sync_records, in the background */
    TP_SYNC_EVERY = 2, /* each tp_journal_commit call syncs before returning */
};

#define TP_JOURNAL_MAX_RECORD (256u << 20) /* largest payload accepted */

struct tp_journal_opts {
    const char *dir;          /* created if missing (with parents) */
    uint64_t segment_bytes;   /* roll to a new segment past this size; default 64 MiB */
    enum tp_sync_mode sync;   /* default TP_SYNC_GROUP */
    int64_t sync_interval_ns; /* default 5 ms */
    uint64_t sync_records;    /* default 10000; 0 = no count limit */
    size_t write_buffer;      /* bytes buffered before a write(); default 256 KiB */
    const struct tp_io *io;   /* NULL = tp_io_posix */
};

/* Fills o with the defaults for a journal in dir (borrowed): 64 MiB segments, TP_SYNC_GROUP
 * every 5 ms or 10000 records, a 256 KiB write buffer, tp_io_posix. (Added: a zeroed opts
 * struct means TP_SYNC_NONE and no record limit, since those zeros are meaningful; the zero
 * sizes and interval are read as their defaults.) */
void tp_journal_opts_default(struct tp_journal_opts *o, const char *dir);

/* What recovery found at open. */
struct tp_journal_recovery {
    uint64_t next_offset;     /* offset the next append gets */
    uint64_t first_offset;    /* oldest offset still on disk (after retention) */
    uint64_t segments;        /* segment files found */
    uint64_t truncated_bytes; /* torn tail cut from the last segment, 0 if none */
    char truncated_file[256]; /* which file was cut */
};

struct tp_journal;

/* Opens (creating if needed) the journal in opts->dir. 0 and *ret (owned; tp_journal_close),
 * or a negative errno. rep may be NULL. */
int tp_journal_open(const struct tp_journal_opts *opts, struct tp_journal **ret,
                    struct tp_journal_recovery *rep);
/* Syncs what is written, stops the committer, closes. NULL is a no-op. Returns the first
 * error the journal met (0 when none). */
int tp_journal_close(struct tp_journal *j);

/* Appends one record of n bytes (n ≤ TP_JOURNAL_MAX_RECORD). 0 and *ret_offset (may be
 * NULL), or a negative errno (the journal has failed, or -E2BIG). Writer thread only. */
int tp_journal_append(struct tp_journal *j, const void *payload, size_t n, uint64_t *ret_offset);
/* Writes the buffered records to the file (visible to cursors, not yet durable). */
int tp_journal_flush(struct tp_journal *j);
/* Flushes and fdatasyncs now; on return every appended record is durable. */
int tp_journal_commit(struct tp_journal *j);
/* Removes every record at or after offset (offset ≤ next offset): used to drop outputs past
 * the last checkpoint so that they are regenerated identically. Writer thread only. */
int tp_journal_truncate(struct tp_journal *j, uint64_t offset);
/* Deletes whole segments that end before keep_from, while the journal is larger than
 * max_bytes (0 = no size limit) or the segment is older than max_age_ns (0 = no age limit).
 * Returns the number of segments deleted or a negative errno. */
int tp_journal_retain(struct tp_journal *j, uint64_t keep_from, uint64_t max_bytes,
                      int64_t max_age_ns);

uint64_t tp_journal_next_offset(const struct tp_journal *j);  /* any thread */
uint64_t tp_journal_written(const struct tp_journal *j);      /* in the file; any thread */
uint64_t tp_journal_durable(const struct tp_journal *j);      /* synced; any thread */
uint64_t tp_journal_first_offset(const struct tp_journal *j); /* oldest kept */
uint64_t tp_journal_bytes(const struct tp_journal *j);        /* total on disk */
int tp_journal_error(const struct tp_journal *j);             /* first fatal error or 0 */
/* What the first fatal error was doing, for a log line: "fdatasync of DIR/NNN.seg", "write of
 * DIR/NNN.seg", ...; "" while there is no error. Borrowed until tp_journal_close. Any thread. */
const char *tp_journal_error_where(const struct tp_journal *j);

/* A reader. Reads records in offset order; tails the journal. */
struct tp_cursor;

/* Opens a cursor on the journal in dir at offset `from`. If `live` is the journal's writer in
 * this process, the cursor reads only up to tp_journal_durable(live) (or _written when
 * durable_only is false); if NULL, it reads what is in the files (another process's journal,
 * or one at rest). 0 and *ret, or a negative errno (-ENOENT: no such offset on disk). */
int tp_cursor_open(const char *dir, uint64_t from, const struct tp_journal *live, bool durable_only,
                   struct tp_cursor **ret);
void tp_cursor_close(struct tp_cursor *c);
/* The next record: 1 with *payload (borrowed, valid until the next call), *n and *offset;
 * 0 when no record is available yet (tail); a negative errno on error (-EBADMSG for a
 * corrupt frame, naming nothing: tp_cursor_where says where). */
int tp_cursor_next(struct tp_cursor *c, const void **payload, size_t *n, uint64_t *offset);
/* Offset the next tp_cursor_next will return. */
uint64_t tp_cursor_offset(const struct tp_cursor *c);
/* "file:byte" of the cursor's position, for error messages. */
const char *tp_cursor_where(const struct tp_cursor *c);

/* CRC32C (Castagnoli), hardware-accelerated where the CPU has it. */
uint32_t tp_crc32c(uint32_t crc, const void *p, size_t n);

#endif
