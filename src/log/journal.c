/*
 * journal.c — the writer side of the embedded log: segment files, the write buffer, group
 * commit, recovery at open, truncate and retention (see journal.h; format in segment.h and
 * docs/journal.md).
 *
 * Design. tp_journal_append copies a frame (length, CRC32C, payload) into the write buffer:
 * no syscall, no allocation. The buffer goes to the file with one write() when it is full, on
 * tp_journal_flush/commit, and in group-commit mode when the committer asks (below). A
 * segment rolls when the next frame would take it past segment_bytes (a segment always takes
 * at least one record, however large).
 *
 * Group commit (TP_SYNC_GROUP). A committer thread owns the fdatasync calls. Every
 * sync_interval_ns it raises `tick`; the writer, which checks `tick` with one relaxed load per
 * append, flushes its buffer at its next append and kicks the committer, which fdatasyncs and
 * publishes the durable offset. The writer also kicks after sync_records appends. When the
 * writer is idle (a tick stays unconsumed for a whole interval) the committer syncs what is
 * already written without waiting for it. So the writer waits on the disk only when it
 * rolls a segment, commits or closes.
 *
 * Invariants.
 *  1. Offsets are dense: the segment named B holds records B, B+1, ... and the next segment's
 *     name is the offset after its last record.
 *  2. The file holds exactly the records below `written`: a failed write() is cut back
 *     (ftruncate) to the last whole frame before the journal enters its failed state.
 *  3. written ≤ next, durable ≤ written; each only grows, except that tp_journal_truncate
 *     lowers all three to its offset.
 *  4. Any failed write, fdatasync, roll or truncate is sticky: j->err keeps the first error
 *     and every later call returns it (fsyncgate: a failed fdatasync may have dropped dirty
 *     pages, so retrying it would lie). Reopening the journal runs recovery.
 *  5. A new segment is created (and, unless TP_SYNC_NONE, the previous one is fdatasynced and
 *     the directory fsynced) before any record goes into it; segments are removed newest
 *     first, so a crash at any point leaves a prefix of dense offsets.
 *
 * Threads: the writer thread calls everything but the read-only accessors. The committer
 * touches only the fields under `mu` and the atomics. cur_fd changes only under `mu` while no
 * sync is in flight (`syncing`), so the committer never syncs a closed descriptor.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/tptime.h"
#include "log/segment.h"

#define DEFAULT_SEGMENT  (UINT64_C(64) << 20)
#define DEFAULT_INTERVAL (5 * TP_NS_PER_MS)
#define DEFAULT_RECORDS  10000
#define DEFAULT_BUFFER   ((size_t)256 << 10)
#define MAX_BUFFER       ((size_t)64 << 20)
#define MIN_BUFFER       ((size_t)4 << 10)
#define PATH_CAP         4096

struct tp_journal {
    /* Writer thread only. */
    uint8_t *buf; /* owned, bcap bytes */
    size_t blen, bcap;
    uint64_t next;          /* offset the next append gets */
    uint64_t seg_base;      /* base offset of the current segment */
    uint64_t seg_size;      /* bytes of the current segment in the file (not the buffer) */
    uint64_t seg_records;   /* records of the current segment, buffered ones included */
    uint64_t since_kick;    /* appends since the committer was last kicked */
    uint64_t unsynced_base; /* TP_SYNC_NONE: oldest segment that close must sync */
    uint64_t seg_bytes, sync_records;
    int64_t sync_interval;
    enum tp_sync_mode sync;
    const struct tp_io *io; /* borrowed */
    int lock_fd, dir_fd;
    _Atomic uint64_t a_next; /* written by the writer on each append, read by anyone */
    char dir[PATH_CAP];

    /* Published for any thread, on their own cache line. */
    _Alignas(64) _Atomic uint64_t a_written;
    _Atomic uint64_t a_durable, a_first, a_bytes;
    _Atomic int err;
    /* What failed first, for the operator ("fdatasync of DIR/NNN.seg"): written once by the
     * thread that wins where_set, before it publishes err. */
    atomic_flag where_set;
    char err_where[PATH_CAP + 64];

    /* Set by the committer, cleared by the writer. */
    _Alignas(64) _Atomic int tick;

    /* The committer handshake. */
    _Alignas(64) pthread_mutex_t mu;
    pthread_cond_t wake; /* kick or stop for the committer */
    pthread_cond_t idle; /* a sync finished */
    int cur_fd;          /* the current segment; changes under mu while !syncing */
    uint64_t cur_base;   /* its base offset (names the file in error reports), as cur_fd */
    bool syncing, kick, stop, thr_on;
    pthread_t thr;
};

static int posix_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}
static ssize_t posix_write(int fd, const void *p, size_t n)
{
    return write(fd, p, n);
}
static ssize_t posix_pread(int fd, void *p, size_t n, off_t off)
{
    return pread(fd, p, n, off);
}
static int posix_fdatasync(int fd)
{
    return fdatasync(fd);
}
static int posix_ftruncate(int fd, off_t len)
{
    return ftruncate(fd, len);
}
static int posix_close(int fd)
{
    return close(fd);
}

const struct tp_io tp_io_posix = {posix_open,      posix_write,     posix_pread,
                                  posix_fdatasync, posix_ftruncate, posix_close};

void tp_journal_opts_default(struct tp_journal_opts *o, const char *dir)
{
    memset(o, 0, sizeof *o);
    o->dir = dir;
    o->segment_bytes = DEFAULT_SEGMENT;
    o->sync = TP_SYNC_GROUP;
    o->sync_interval_ns = DEFAULT_INTERVAL;
    o->sync_records = DEFAULT_RECORDS;
    o->write_buffer = DEFAULT_BUFFER;
    o->io = &tp_io_posix;
}

const struct tp_io *tp_journal_io(const struct tp_journal *j)
{
    return j->io;
}

static void fail(struct tp_journal *j, int e)
{
    int zero = 0;
    atomic_compare_exchange_strong(&j->err, &zero, e);
}

/* fail(), saying which operation on which file (base: a segment; UINT64_MAX: the directory). */
static void fail_at(struct tp_journal *j, int e, const char *op, uint64_t base)
{
    if (!atomic_flag_test_and_set(&j->where_set)) {
        if (base == UINT64_MAX)
            snprintf(j->err_where, sizeof j->err_where, "%s of %s", op, j->dir);
        else
            snprintf(j->err_where, sizeof j->err_where, "%s of %s/%020llu.seg", op, j->dir,
                     (unsigned long long)base);
    }
    fail(j, e);
}

static int write_all(const struct tp_io *io, int fd, const void *p, size_t n)
{
    const uint8_t *s = p;
    while (n) {
        ssize_t k = io->write(fd, s, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return errno ? -errno : -EIO;
        }
        if (k == 0) return -EIO;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

static int do_sync(const struct tp_io *io, int fd)
{
    return io->fdatasync(fd) < 0 ? (errno ? -errno : -EIO) : 0;
}

static int sync_dir(struct tp_journal *j)
{
    return j->sync == TP_SYNC_NONE ? 0 : do_sync(j->io, j->dir_fd);
}

static void publish_written(struct tp_journal *j, uint64_t w)
{
    atomic_store_explicit(&j->a_written, w, memory_order_release);
    /* TP_SYNC_NONE opted out of durability: "durable" there means handed to the OS, so that
     * durable-only readers still make progress (docs/journal.md). */
    if (j->sync == TP_SYNC_NONE) atomic_store_explicit(&j->a_durable, w, memory_order_release);
}

static void publish_durable(struct tp_journal *j, uint64_t d)
{
    if (atomic_load_explicit(&j->a_durable, memory_order_relaxed) < d)
        atomic_store_explicit(&j->a_durable, d, memory_order_release);
}

/* Invariant 2: cut a partly written buffer back to the last whole frame, then fail. */
static int write_failed(struct tp_journal *j, int rc)
{
    (void)j->io->ftruncate(j->cur_fd, (off_t)j->seg_size);
    j->blen = 0;
    fail_at(j, rc, "write", j->seg_base);
    return rc;
}

static int flush_buf(struct tp_journal *j)
{
    if (!j->blen) return 0;
    int rc = write_all(j->io, j->cur_fd, j->buf, j->blen);
    if (rc < 0) return write_failed(j, rc);
    j->seg_size += j->blen;
    atomic_fetch_add_explicit(&j->a_bytes, j->blen, memory_order_relaxed);
    j->blen = 0;
    publish_written(j, j->next);
    return 0;
}

static void wait_idle(struct tp_journal *j)
{
    while (j->syncing) pthread_cond_wait(&j->idle, &j->mu);
}

static int path_of(const struct tp_journal *j, uint64_t base, char *out, size_t cap)
{
    return tp_seg_path(j->dir, base, out, cap);
}

/* Creates the segment `base` with its header; on success *ret_fd. On failure nothing is
 * left behind (a half-written header would only be cut by the next recovery). */
static int create_segment(struct tp_journal *j, uint64_t base, int *ret_fd)
{
    char path[PATH_CAP];
    int rc = path_of(j, base, path, sizeof path);
    if (rc < 0) return rc;
    int fd = j->io->open(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    uint8_t h[TP_SEG_HDR];
    tp_seg_header_encode(h, base);
    rc = write_all(j->io, fd, h, sizeof h);
    if (rc == 0 && j->sync != TP_SYNC_NONE) rc = do_sync(j->io, fd);
    if (rc == 0) rc = sync_dir(j);
    if (rc < 0) {
        j->io->close(fd);
        unlink(path);
        return rc;
    }
    *ret_fd = fd;
    return 0;
}

/* Rolls to a new segment at j->next. The old segment is flushed and (unless TP_SYNC_NONE)
 * fdatasynced first, so every segment but the last is complete and durable. */
static int roll(struct tp_journal *j)
{
    int rc = flush_buf(j);
    if (rc < 0) return rc;
    pthread_mutex_lock(&j->mu);
    wait_idle(j);
    if (j->sync != TP_SYNC_NONE) {
        rc = do_sync(j->io, j->cur_fd);
        if (rc == 0) publish_durable(j, j->next);
        if (rc < 0) fail_at(j, rc, "fdatasync", j->cur_base);
    }
    int fd = -1;
    if (rc == 0) {
        rc = create_segment(j, j->next, &fd);
        if (rc < 0) fail_at(j, rc, "creating the segment", j->next);
    }
    if (rc < 0) {
        pthread_mutex_unlock(&j->mu);
        return rc;
    }
    j->io->close(j->cur_fd);
    j->cur_fd = fd;
    j->cur_base = j->next;
    pthread_mutex_unlock(&j->mu);
    j->seg_base = j->next;
    j->seg_size = TP_SEG_HDR;
    j->seg_records = 0;
    atomic_fetch_add_explicit(&j->a_bytes, TP_SEG_HDR, memory_order_relaxed);
    return 0;
}

static void kick(struct tp_journal *j)
{
    pthread_mutex_lock(&j->mu);
    j->kick = true;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->mu);
}

/* The group-commit hand-off: write what is buffered, tell the committer. */
static int group_flush(struct tp_journal *j)
{
    int rc = flush_buf(j);
    atomic_store_explicit(&j->tick, 0, memory_order_relaxed);
    j->since_kick = 0;
    if (rc == 0) kick(j);
    return rc;
}

/* Big records (more than the buffer holds) go straight from the caller's memory. */
static int append_direct(struct tp_journal *j, const void *payload, size_t n)
{
    uint8_t h[TP_FRAME_HDR];
    tp_le32_put(h, (uint32_t)n);
    tp_le32_put(h + 4, tp_frame_crc(h, payload, n));
    int rc = write_all(j->io, j->cur_fd, h, sizeof h);
    if (rc == 0) rc = write_all(j->io, j->cur_fd, payload, n);
    if (rc < 0) return write_failed(j, rc);
    j->seg_size += TP_FRAME_HDR + n;
    atomic_fetch_add_explicit(&j->a_bytes, TP_FRAME_HDR + n, memory_order_relaxed);
    return 0;
}

int tp_journal_append(struct tp_journal *j, const void *payload, size_t n, uint64_t *ret_offset)
{
    int rc = atomic_load_explicit(&j->err, memory_order_relaxed);
    if (TP_UNLIKELY(rc)) return rc;
    if (TP_UNLIKELY(n > TP_JOURNAL_MAX_RECORD)) return -E2BIG;
    size_t fl = TP_FRAME_HDR + n;
    if (TP_UNLIKELY(j->seg_size + j->blen + fl > j->seg_bytes && j->seg_records > 0)) {
        rc = roll(j);
        if (rc < 0) return rc;
    }
    if (TP_UNLIKELY(j->blen + fl > j->bcap)) {
        rc = flush_buf(j);
        if (rc < 0) return rc;
        if (fl > j->bcap) {
            rc = append_direct(j, payload, n);
            if (rc < 0) return rc;
            uint64_t off = j->next++;
            j->seg_records++;
            atomic_store_explicit(&j->a_next, j->next, memory_order_relaxed);
            publish_written(j, j->next);
            if (ret_offset) *ret_offset = off;
            return 0;
        }
    }
    uint8_t *d = j->buf + j->blen;
    tp_le32_put(d, (uint32_t)n);
    memcpy(d + TP_FRAME_HDR, payload, n);
    tp_le32_put(d + 4, tp_frame_crc(d, d + TP_FRAME_HDR, n));
    j->blen += fl;
    j->seg_records++;
    uint64_t off = j->next++;
    atomic_store_explicit(&j->a_next, j->next, memory_order_relaxed);
    if (j->sync == TP_SYNC_GROUP &&
        (TP_UNLIKELY(atomic_load_explicit(&j->tick, memory_order_relaxed)) ||
         TP_UNLIKELY(j->sync_records && ++j->since_kick >= j->sync_records))) {
        rc = group_flush(j);
        if (rc < 0) return rc;
    }
    if (ret_offset) *ret_offset = off;
    return 0;
}

int tp_journal_flush(struct tp_journal *j)
{
    int rc = atomic_load_explicit(&j->err, memory_order_relaxed);
    return rc ? rc : flush_buf(j);
}

int tp_journal_commit(struct tp_journal *j)
{
    int rc = tp_journal_flush(j);
    if (rc < 0 || j->sync == TP_SYNC_NONE) return rc;
    pthread_mutex_lock(&j->mu);
    wait_idle(j);
    rc = atomic_load_explicit(&j->err, memory_order_relaxed);
    if (rc == 0) {
        uint64_t w = atomic_load_explicit(&j->a_written, memory_order_relaxed);
        rc = do_sync(j->io, j->cur_fd);
        if (rc < 0)
            fail_at(j, rc, "fdatasync", j->cur_base);
        else
            publish_durable(j, w);
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

/* Committer: syncs what is written. Called with mu held; drops it around fdatasync. */
static void committer_sync(struct tp_journal *j)
{
    if (atomic_load_explicit(&j->err, memory_order_relaxed)) return;
    uint64_t w = atomic_load_explicit(&j->a_written, memory_order_acquire);
    if (w <= atomic_load_explicit(&j->a_durable, memory_order_relaxed)) return;
    int fd = j->cur_fd;
    uint64_t base = j->cur_base;
    j->syncing = true;
    pthread_mutex_unlock(&j->mu);
    int rc = do_sync(j->io, fd);
    pthread_mutex_lock(&j->mu);
    j->syncing = false;
    pthread_cond_broadcast(&j->idle);
    if (rc < 0)
        fail_at(j, rc, "fdatasync", base);
    else
        publish_durable(j, w);
}

static void deadline_after(struct timespec *ts, int64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    int64_t t = (int64_t)ts->tv_nsec + ns % TP_NS_PER_SEC;
    ts->tv_sec += (time_t)(ns / TP_NS_PER_SEC + t / TP_NS_PER_SEC);
    ts->tv_nsec = (long)(t % TP_NS_PER_SEC);
}

static bool reached(const struct timespec *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

static void *committer(void *arg)
{
    struct tp_journal *j = arg;
    struct timespec deadline;
    pthread_mutex_lock(&j->mu);
    deadline_after(&deadline, j->sync_interval);
    while (!j->stop) {
        bool due = reached(&deadline);
        if (!j->kick && !due) {
            pthread_cond_timedwait(&j->wake, &j->mu, &deadline);
            continue;
        }
        bool sync_now = j->kick;
        j->kick = false;
        if (due) {
            /* A tick nobody consumed for a whole interval: the writer is idle, so sync what
             * it wrote without waiting for its kick. */
            if (atomic_exchange_explicit(&j->tick, 1, memory_order_relaxed)) sync_now = true;
            deadline_after(&deadline, j->sync_interval);
        }
        if (sync_now) committer_sync(j);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static void stop_committer(struct tp_journal *j)
{
    if (!j->thr_on) return;
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thr, NULL);
    j->thr_on = false;
}

/* mkdir -p; *created when the last component was made here. */
static int mkdirs(const char *path, bool *created)
{
    char tmp[PATH_CAP];
    size_t n = strlen(path);
    if (n >= sizeof tmp) return -ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    *created = false;
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != 0) continue;
        char c = tmp[i];
        tmp[i] = 0;
        if (mkdir(tmp, 0755) == 0) {
            if (i == n) *created = true;
        } else if (errno != EEXIST) {
            return -errno;
        }
        tmp[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0) return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* fsyncs the parent of a directory just created, so its entry survives a crash. */
static int sync_parent(struct tp_journal *j)
{
    char tmp[PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s", j->dir);
    char *slash = strrchr(tmp, '/');
    if (slash == tmp)
        tmp[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(tmp, sizeof tmp, ".");
    int fd = j->io->open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int rc = do_sync(j->io, fd);
    j->io->close(fd);
    return rc;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static uint64_t sum_sizes(const struct tp_journal *j, const struct tp_seg_list *l)
{
    uint64_t total = 0;
    char path[PATH_CAP];
    for (size_t i = 0; i < l->n; i++)
        if (path_of(j, l->base[i], path, sizeof path) == 0) total += file_size(path);
    return total;
}

/* Copies src into dst[cap], keeping its end (the file name) when it is too long. */
static void copy_tail(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n < cap) {
        memcpy(dst, src, n + 1);
        return;
    }
    memcpy(dst, "...", 3);
    memcpy(dst + 3, src + n - (cap - 4), cap - 4);
    dst[cap - 1] = 0;
}

/* Recovery of the last segment (journal.h): sets cur_fd, seg_size, seg_records, next. */
static int recover_last(struct tp_journal *j, uint64_t base, struct tp_journal_recovery *rep)
{
    char path[PATH_CAP];
    int rc = path_of(j, base, path, sizeof path);
    if (rc < 0) return rc;
    int fd = j->io->open(path, O_RDWR | O_APPEND | O_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct tp_segr r;
    tp_segr_init(&r, j->io, fd);
    struct tp_seg_scan s;
    uint64_t cut_from = 0, cut_bytes = 0;
    bool rewrite_header = false;
    const uint8_t *h;
    ssize_t k = tp_segr_peek(&r, 0, TP_SEG_HDR, &h);
    if (k < 0) {
        rc = (int)k;
        goto out_close;
    }
    uint64_t hbase = 0;
    if (k == TP_SEG_HDR && tp_seg_header_decode(h, &hbase) == 0) {
        if (hbase != base) {
            tp_error("journal: %s: header says base offset %llu", path, (unsigned long long)hbase);
            rc = -EBADMSG;
            goto out_close;
        }
        rc = tp_seg_scan(&r, TP_SEG_HDR, UINT64_MAX, &s);
        if (rc < 0) goto out_close;
    } else if (k < TP_SEG_HDR) {
        /* Crashed while creating the segment: the header never made it. */
        s = (struct tp_seg_scan){.st = TP_SCAN_TORN, .end = 0, .file_end = (uint64_t)k};
        rewrite_header = true;
    } else {
        /* A full but invalid header: torn only if nothing valid follows it. */
        rc = tp_seg_scan(&r, TP_SEG_HDR, UINT64_MAX, &s);
        if (rc < 0) goto out_close;
        if (s.frames == 0 && s.st != TP_SCAN_CORRUPT) {
            s.st = TP_SCAN_TORN;
            s.end = 0;
            rewrite_header = true;
        } else {
            tp_error("journal: %s: invalid segment header before valid frames", path);
            rc = -EBADMSG;
            goto out_close;
        }
    }
    if (s.st == TP_SCAN_CORRUPT) {
        if (s.valid_at)
            tp_error("journal: %s: corrupt frame at byte %llu followed by a valid frame at byte "
                     "%llu; not cutting (see `tickpipe journal verify`)",
                     path, (unsigned long long)s.end, (unsigned long long)s.valid_at);
        else
            tp_error("journal: %s: corrupt frame at byte %llu; not cutting", path,
                     (unsigned long long)s.end);
        rc = -EBADMSG;
        goto out_close;
    }
    if (s.st == TP_SCAN_TORN) {
        cut_from = s.end;
        cut_bytes = s.file_end - s.end;
        if (j->io->ftruncate(fd, (off_t)cut_from) < 0) {
            rc = -errno;
            goto out_close;
        }
        if (rewrite_header) {
            uint8_t hb[TP_SEG_HDR];
            tp_seg_header_encode(hb, base);
            rc = write_all(j->io, fd, hb, sizeof hb);
            if (rc < 0) goto out_close;
            s.end = TP_SEG_HDR;
            s.frames = 0;
        }
        tp_warn("journal: %s: cut a torn tail of %llu bytes at byte %llu", path,
                (unsigned long long)cut_bytes, (unsigned long long)cut_from);
    }
    /* What recovery found (and what an earlier process left in the page cache) is made
     * durable before anything new is appended after it. */
    if (j->sync != TP_SYNC_NONE || s.st == TP_SCAN_TORN) {
        rc = do_sync(j->io, fd);
        if (rc < 0) goto out_close;
    }
    tp_segr_fini(&r);
    j->cur_fd = fd;
    j->seg_base = j->cur_base = base;
    j->seg_size = s.end;
    j->seg_records = s.frames;
    j->next = base + s.frames;
    if (rep) {
        rep->truncated_bytes = cut_bytes;
        if (s.st == TP_SCAN_TORN) copy_tail(rep->truncated_file, sizeof rep->truncated_file, path);
    }
    return 0;
out_close:
    tp_segr_fini(&r);
    j->io->close(fd);
    return rc;
}

int tp_journal_open(const struct tp_journal_opts *opts, struct tp_journal **ret,
                    struct tp_journal_recovery *rep)
{
    if (!opts || !opts->dir || !opts->dir[0] || (unsigned)opts->sync > TP_SYNC_EVERY)
        return -EINVAL;
    if (strlen(opts->dir) + 2 + TP_SEG_NAMELEN >= PATH_CAP) return -ENAMETOOLONG;
    struct tp_journal *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    atomic_flag_clear(&j->where_set);
    snprintf(j->dir, sizeof j->dir, "%s", opts->dir);
    j->io = opts->io ? opts->io : &tp_io_posix;
    j->seg_bytes = opts->segment_bytes ? opts->segment_bytes : DEFAULT_SEGMENT;
    j->sync = opts->sync;
    j->sync_interval = opts->sync_interval_ns > 0 ? opts->sync_interval_ns : DEFAULT_INTERVAL;
    j->sync_records = opts->sync_records;
    j->bcap = opts->write_buffer ? opts->write_buffer : DEFAULT_BUFFER;
    j->bcap = TP_MIN(TP_MAX(j->bcap, MIN_BUFFER), MAX_BUFFER);
    j->lock_fd = j->dir_fd = j->cur_fd = -1;
    struct tp_journal_recovery rr = {0};
    struct tp_seg_list l = {0};
    int rc;
    j->buf = malloc(j->bcap);
    if (!j->buf) {
        rc = -ENOMEM;
        goto out_free;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->wake, &ca);
    pthread_cond_init(&j->idle, NULL);
    pthread_condattr_destroy(&ca);

    bool created;
    rc = mkdirs(j->dir, &created);
    if (rc < 0) goto out_sync;
    if (created && j->sync != TP_SYNC_NONE && (rc = sync_parent(j)) < 0) goto out_sync;

    /* One writer per journal: an advisory lock on dir/LOCK. */
    char path[PATH_CAP + 8];
    snprintf(path, sizeof path, "%s/LOCK", j->dir);
    j->lock_fd = j->io->open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->lock_fd < 0) {
        rc = -errno;
        goto out_sync;
    }
    if (flock(j->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        goto out_close;
    }
    j->dir_fd = j->io->open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (j->dir_fd < 0) {
        rc = -errno;
        goto out_close;
    }
    rc = tp_seg_list(j->dir, &l);
    if (rc < 0) goto out_close;
    if (l.n == 0) {
        rc = create_segment(j, 0, &j->cur_fd);
        if (rc < 0) goto out_list;
        j->seg_size = TP_SEG_HDR;
        rr.segments = 1;
    } else {
        rc = recover_last(j, l.base[l.n - 1], &rr);
        if (rc < 0) goto out_list;
        rr.first_offset = l.base[0];
        rr.segments = l.n;
    }
    j->unsynced_base = j->seg_base;
    rr.next_offset = j->next;
    atomic_store(&j->a_next, j->next);
    atomic_store(&j->a_written, j->next);
    atomic_store(&j->a_durable, j->next);
    atomic_store(&j->a_first, rr.first_offset);
    atomic_store(&j->a_bytes, l.n ? sum_sizes(j, &l) : TP_SEG_HDR);
    tp_seg_list_free(&l);

    if (j->sync == TP_SYNC_GROUP) {
        rc = pthread_create(&j->thr, NULL, committer, j);
        if (rc) {
            rc = -rc;
            goto out_close;
        }
        j->thr_on = true;
    }
    if (rep) *rep = rr;
    *ret = j;
    return 0;
out_list:
    tp_seg_list_free(&l);
out_close:
    if (j->cur_fd >= 0) j->io->close(j->cur_fd);
    if (j->dir_fd >= 0) j->io->close(j->dir_fd);
    if (j->lock_fd >= 0) j->io->close(j->lock_fd);
out_sync:
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->idle);
    pthread_mutex_destroy(&j->mu);
out_free:
    free(j->buf);
    free(j);
    return rc;
}

/* TP_SYNC_NONE close: every segment written by this process, then the directory. */
static int sync_all_unsynced(struct tp_journal *j)
{
    struct tp_seg_list l;
    int rc = tp_seg_list(j->dir, &l);
    if (rc < 0) return rc;
    char path[PATH_CAP];
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        if (l.base[i] < j->unsynced_base) continue;
        if (l.base[i] == j->seg_base) {
            rc = do_sync(j->io, j->cur_fd);
            continue;
        }
        if ((rc = path_of(j, l.base[i], path, sizeof path)) < 0) break;
        int fd = j->io->open(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            break;
        }
        rc = do_sync(j->io, fd);
        j->io->close(fd);
    }
    tp_seg_list_free(&l);
    if (rc == 0) rc = do_sync(j->io, j->dir_fd);
    return rc;
}

int tp_journal_close(struct tp_journal *j)
{
    if (!j) return 0;
    if (!atomic_load(&j->err)) flush_buf(j);
    stop_committer(j);
    if (!atomic_load(&j->err) && j->cur_fd >= 0) {
        uint64_t w = atomic_load(&j->a_written);
        int rc = j->sync == TP_SYNC_NONE ? sync_all_unsynced(j) : do_sync(j->io, j->cur_fd);
        if (rc < 0)
            fail_at(j, rc, "fdatasync at close", j->cur_base);
        else
            publish_durable(j, w);
    }
    int err = atomic_load(&j->err);
    if (j->cur_fd >= 0) j->io->close(j->cur_fd);
    if (j->dir_fd >= 0) j->io->close(j->dir_fd);
    if (j->lock_fd >= 0) j->io->close(j->lock_fd);
    pthread_cond_destroy(&j->wake);
    pthread_cond_destroy(&j->idle);
    pthread_mutex_destroy(&j->mu);
    free(j->buf);
    free(j);
    return err;
}

/* Finds the byte where record `offset` starts in the segment open on fd (base `base`). */
static int find_record(struct tp_journal *j, int fd, uint64_t base, uint64_t offset, uint64_t *pos)
{
    struct tp_segr r;
    tp_segr_init(&r, j->io, fd);
    const uint8_t *h;
    uint64_t hbase;
    struct tp_seg_scan s;
    int rc = 0;
    ssize_t k = tp_segr_peek(&r, 0, TP_SEG_HDR, &h);
    if (k < 0)
        rc = (int)k;
    else if (k < TP_SEG_HDR || tp_seg_header_decode(h, &hbase) < 0 || hbase != base)
        rc = -EBADMSG;
    else if ((rc = tp_seg_scan(&r, TP_SEG_HDR, offset - base, &s)) == 0) {
        if (s.st != TP_SCAN_LIMIT)
            rc = -EBADMSG;
        else
            *pos = s.end;
    }
    tp_segr_fini(&r);
    return rc;
}

int tp_journal_truncate(struct tp_journal *j, uint64_t offset)
{
    int rc = atomic_load(&j->err);
    if (rc) return rc;
    uint64_t first = atomic_load(&j->a_first);
    if (offset > j->next || offset < first) return -EINVAL;
    if (offset == j->next) return 0;
    rc = flush_buf(j);
    if (rc < 0) return rc;
    struct tp_seg_list l;
    rc = tp_seg_list(j->dir, &l);
    if (rc < 0) return rc;
    size_t s = 0; /* the segment that holds `offset`: the last with base ≤ offset */
    while (s + 1 < l.n && l.base[s + 1] <= offset) s++;
    if (l.n == 0 || l.base[s] > offset) {
        tp_seg_list_free(&l);
        return -EBADMSG;
    }
    char path[PATH_CAP];
    pthread_mutex_lock(&j->mu);
    wait_idle(j);
    /* Newest first (invariant 5). */
    for (size_t i = l.n; i-- > s + 1;) {
        if (l.base[i] == j->seg_base && j->cur_fd >= 0) {
            j->io->close(j->cur_fd);
            j->cur_fd = -1;
        }
        if ((rc = path_of(j, l.base[i], path, sizeof path)) < 0) goto out_fail;
        if (unlink(path) < 0) {
            rc = -errno;
            goto out_fail;
        }
    }
    if ((rc = sync_dir(j)) < 0) goto out_fail;
    if (l.base[s] != j->seg_base || j->cur_fd < 0) {
        if (j->cur_fd >= 0) j->io->close(j->cur_fd);
        j->cur_fd = -1;
        if ((rc = path_of(j, l.base[s], path, sizeof path)) < 0) goto out_fail;
        j->cur_fd = j->io->open(path, O_RDWR | O_APPEND | O_CLOEXEC, 0);
        if (j->cur_fd < 0) {
            rc = -errno;
            goto out_fail;
        }
    }
    uint64_t pos = 0;
    if ((rc = find_record(j, j->cur_fd, l.base[s], offset, &pos)) < 0) goto out_fail;
    if (j->io->ftruncate(j->cur_fd, (off_t)pos) < 0) {
        rc = -errno;
        goto out_fail;
    }
    if (j->sync != TP_SYNC_NONE && (rc = do_sync(j->io, j->cur_fd)) < 0) goto out_fail;
    j->seg_base = j->cur_base = l.base[s];
    j->seg_size = pos;
    j->seg_records = offset - l.base[s];
    j->next = offset;
    j->unsynced_base = TP_MIN(j->unsynced_base, j->seg_base);
    atomic_store(&j->a_next, offset);
    atomic_store(&j->a_written, offset);
    atomic_store(&j->a_durable, offset);
    l.n = s + 1;
    atomic_store(&j->a_bytes, sum_sizes(j, &l));
    pthread_mutex_unlock(&j->mu);
    tp_seg_list_free(&l);
    return 0;
out_fail:
    fail_at(j, rc, "truncate", j->seg_base);
    pthread_mutex_unlock(&j->mu);
    tp_seg_list_free(&l);
    return rc;
}

int tp_journal_retain(struct tp_journal *j, uint64_t keep_from, uint64_t max_bytes,
                      int64_t max_age_ns)
{
    int rc = atomic_load(&j->err);
    if (rc) return rc;
    if (!max_bytes && max_age_ns <= 0) return 0;
    struct tp_seg_list l;
    rc = tp_seg_list(j->dir, &l);
    if (rc < 0) return rc;
    char path[PATH_CAP];
    uint64_t total = atomic_load(&j->a_bytes);
    int64_t now = tp_now_ns();
    int deleted = 0;
    /* Oldest first, never the last segment, and only a prefix, so offsets stay dense. */
    for (size_t i = 0; i + 1 < l.n; i++) {
        if (l.base[i + 1] > keep_from) break;
        if ((rc = path_of(j, l.base[i], path, sizeof path)) < 0) break;
        struct stat st;
        if (stat(path, &st) < 0) {
            rc = -errno;
            break;
        }
        int64_t mtime = (int64_t)st.st_mtim.tv_sec * TP_NS_PER_SEC + st.st_mtim.tv_nsec;
        bool over = max_bytes && total > max_bytes;
        bool old = max_age_ns > 0 && now - mtime > max_age_ns;
        if (!over && !old) break;
        if (unlink(path) < 0) {
            rc = -errno;
            break;
        }
        total -= TP_MIN(total, (uint64_t)st.st_size);
        atomic_store(&j->a_bytes, total);
        atomic_store(&j->a_first, l.base[i + 1]);
        deleted++;
    }
    tp_seg_list_free(&l);
    if (deleted) {
        int r2 = sync_dir(j);
        if (r2 < 0 && rc == 0) rc = r2;
    }
    return rc < 0 ? rc : deleted;
}

uint64_t tp_journal_next_offset(const struct tp_journal *j)
{
    return atomic_load_explicit(&j->a_next, memory_order_relaxed);
}

uint64_t tp_journal_written(const struct tp_journal *j)
{
    return atomic_load_explicit(&j->a_written, memory_order_acquire);
}

uint64_t tp_journal_durable(const struct tp_journal *j)
{
    return atomic_load_explicit(&j->a_durable, memory_order_acquire);
}

uint64_t tp_journal_first_offset(const struct tp_journal *j)
{
    return atomic_load_explicit(&j->a_first, memory_order_relaxed);
}

uint64_t tp_journal_bytes(const struct tp_journal *j)
{
    return atomic_load_explicit(&j->a_bytes, memory_order_relaxed);
}

const char *tp_journal_error_where(const struct tp_journal *j)
{
    return atomic_load_explicit(&j->err, memory_order_acquire) ? j->err_where : "";
}

int tp_journal_error(const struct tp_journal *j)
{
    return atomic_load_explicit(&j->err, memory_order_relaxed);
}
