/*
 * fuzz_journal_open.c — libFuzzer target for journal recovery and cursors (log/journal.h).
 *
 * The first input byte chooses how the rest becomes a segment file in a scratch directory:
 * bit 0 set prepends a valid segment header (so the fuzzer reaches the frames without
 * finding a CRC), bit 1 names the segment 00000000000000001000.seg instead of offset 0.
 * Then: a cursor reads the files as they are (it may stop or report -EBADMSG, never crash);
 * the journal opens, and either fails leaving the file untouched, or succeeds with every
 * record below its next offset readable, takes one more record, and reopens with it. Any
 * broken promise aborts. fdatasync is a no-op here (speed; durability is not what is fuzzed).
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "log/journal.h"
#include "log/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];

static int nosync(int fd)
{
    (void)fd;
    return 0;
}

static struct tp_io io;

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/tp-fuzz-journal-%ld-XXXXXX", base, (long)getpid());
    if (!mkdtemp(dir)) abort();
    io = tp_io_posix;
    io.fdatasync = nosync;
    tp_log_set_level((enum tp_log_level)(TP_LOG_ERROR + 1));
}

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    if (!d) abort();
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
}

/* Reads from `from` to the end; returns the records read, or -1 on an error. */
static long read_all(uint64_t from, const struct tp_journal *live)
{
    struct tp_cursor *c;
    if (tp_cursor_open(dir, from, live, false, &c) < 0) return -1;
    long n = 0;
    const void *p;
    size_t len;
    uint64_t off;
    int rc;
    while ((rc = tp_cursor_next(c, &p, &len, &off)) == 1) {
        if (off != from + (uint64_t)n) abort();
        n++;
    }
    tp_cursor_close(c);
    return rc < 0 ? -1 : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) setup();
    if (size < 1 || size > (1u << 20)) return 0;
    clear_dir();
    uint8_t mode = data[0];
    uint64_t base = mode & 2 ? 1000 : 0;
    char path[512];
    if (tp_seg_path(dir, base, path, sizeof path) < 0) abort();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) abort();
    if (mode & 1) {
        uint8_t h[TP_SEG_HDR];
        tp_seg_header_encode(h, base);
        if (write(fd, h, sizeof h) != (ssize_t)sizeof h) abort();
    }
    if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) abort();
    close(fd);
    struct stat before, after;
    if (stat(path, &before) < 0) abort();

    long at_rest = read_all(base, NULL);

    struct tp_journal_opts o;
    tp_journal_opts_default(&o, dir);
    o.sync = TP_SYNC_NONE;
    o.io = &io;
    struct tp_journal *j;
    struct tp_journal_recovery rep;
    int rc = tp_journal_open(&o, &j, &rep);
    if (rc < 0) {
        if (stat(path, &after) < 0 || after.st_size != before.st_size) abort(); /* nothing cut */
        return 0;
    }
    uint64_t next = rep.next_offset;
    if (next < base || rep.first_offset != base) abort();
    /* Everything recovery kept is readable, and a reader of the files saw at least that. */
    long n = read_all(base, j);
    if (n < 0 || (uint64_t)n != next - base) abort();
    if (at_rest >= 0 && at_rest != n) abort();
    uint64_t off;
    if (tp_journal_append(j, "fuzz", 4, &off) < 0 || off != next) abort();
    if (tp_journal_close(j) < 0) abort();
    rc = tp_journal_open(&o, &j, &rep);
    if (rc < 0 || rep.next_offset != next + 1 || rep.truncated_bytes != 0) abort();
    if (tp_journal_close(j) < 0) abort();
    if (read_all(base, NULL) != n + 1) abort();
    return 0;
}
