/*
 * faultshim.c — an LD_PRELOAD library for the fault campaign (tests/integration/fault_*.sh,
 * docs/operations.md "Faults"): it makes fsync/fdatasync fail and moves the wall clock of the
 * process it is loaded into, without touching the kernel or the file system.
 *
 * Built by CMake as libfaultshim.so without sanitizers (ASan insists on being first in
 * LD_PRELOAD, so the campaign preloads this into the optimized binary). Controlled by the
 * environment, read once at load:
 *
 *   FAULTSHIM_FSYNC_AFTER=N    the first N fsync/fdatasync calls on matching files succeed,
 *                              every later one on a matching file fails with EIO (without
 *                              calling the real function: as if the kernel had lost the
 *                              write-back). Unset: fsync is never failed.
 *   FAULTSHIM_FSYNC_MATCH=S    only files whose path (readlink of /proc/self/fd/N) contains S
 *                              count and fail (default: every file, directories included).
 *   FAULTSHIM_LOG=FILE         one line per injected failure ("fail PATH") and per fsync of a
 *                              path that already failed ("retry PATH": the fsyncgate mistake
 *                              the tests look for), appended with O_APPEND.
 *   FAULTSHIM_CLOCK_FILE=FILE  CLOCK_REALTIME (and _COARSE, gettimeofday, time) are shifted by
 *                              the signed number of seconds FILE holds; the file is re-read at
 *                              most every 10 ms of CLOCK_MONOTONIC, so a test moves the clock
 *                              of a running process by rewriting it. CLOCK_MONOTONIC and
 *                              CLOCK_BOOTTIME are never shifted: that is the point.
 *
 * Invariants: the real functions come from dlsym(RTLD_NEXT); the shim allocates nothing and
 * keeps its state in atomics and a small table guarded by a spin lock, so it is safe from any
 * thread. Paths of failed files are remembered (up to 64) to recognize retries.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_FAILED 64

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_clock_gettime)(clockid_t, struct timespec *);

static long fsync_after = -1; /* -1: never fail */
static const char *fsync_match;
static const char *log_path;
static const char *clock_file;

static _Atomic long fsync_calls;
static atomic_flag lock = ATOMIC_FLAG_INIT;
static char failed[MAX_FAILED][PATH_MAX];
static int nfailed;

static _Atomic int64_t clock_shift_ns;
static _Atomic int64_t clock_read_at; /* monotonic ns of the last read; 0 never */

__attribute__((constructor)) static void shim_init(void)
{
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    const char *s = getenv("FAULTSHIM_FSYNC_AFTER");
    if (s && *s) fsync_after = strtol(s, NULL, 10);
    s = getenv("FAULTSHIM_FSYNC_MATCH");
    if (s && *s) fsync_match = s;
    s = getenv("FAULTSHIM_LOG");
    if (s && *s) log_path = s;
    s = getenv("FAULTSHIM_CLOCK_FILE");
    if (s && *s) clock_file = s;
}

static void note(const char *what, const char *path)
{
    if (!log_path) return;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    char line[PATH_MAX + 16];
    int n = snprintf(line, sizeof line, "%s %s\n", what, path);
    if (n > 0) {
        ssize_t w = write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
    }
    close(fd);
}

static bool was_failed(const char *path)
{
    for (int i = 0; i < nfailed; i++)
        if (!strcmp(failed[i], path)) return true;
    return false;
}

/* Decides for one fsync-like call on fd: 0 let it through, -1 fail it with EIO. */
static int decide(int fd)
{
    if (fsync_after < 0) return 0;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) return 0;
    path[n] = 0;
    if (fsync_match && !strstr(path, fsync_match)) return 0;
    int verdict = 0;
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire)) {
    }
    if (was_failed(path)) {
        note("retry", path);
        verdict = -1; /* a page the kernel dropped stays dropped: still an error */
    } else if (atomic_fetch_add(&fsync_calls, 1) >= fsync_after) {
        if (nfailed < MAX_FAILED) snprintf(failed[nfailed++], PATH_MAX, "%s", path);
        note("fail", path);
        verdict = -1;
    }
    atomic_flag_clear_explicit(&lock, memory_order_release);
    return verdict;
}

int fsync(int fd)
{
    if (decide(fd) < 0) {
        errno = EIO;
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    if (decide(fd) < 0) {
        errno = EIO;
        return -1;
    }
    return real_fdatasync(fd);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    real_clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t shift_ns(void)
{
    if (!clock_file) return 0;
    int64_t now = mono_ns(), at = atomic_load_explicit(&clock_read_at, memory_order_relaxed);
    if (at == 0 || now - at >= 10000000) {
        atomic_store_explicit(&clock_read_at, now, memory_order_relaxed);
        int fd = open(clock_file, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            char b[64];
            ssize_t n = read(fd, b, sizeof b - 1);
            close(fd);
            if (n > 0) {
                b[n] = 0;
                char *end;
                long long secs = strtoll(b, &end, 10);
                if (end != b)
                    atomic_store_explicit(&clock_shift_ns, (int64_t)secs * 1000000000,
                                          memory_order_relaxed);
            }
        }
    }
    return atomic_load_explicit(&clock_shift_ns, memory_order_relaxed);
}

static void add_ns(struct timespec *ts, int64_t d)
{
    int64_t t = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + d;
    ts->tv_sec = (time_t)(t / 1000000000);
    ts->tv_nsec = (long)(t % 1000000000);
    if (ts->tv_nsec < 0) {
        ts->tv_nsec += 1000000000;
        ts->tv_sec--;
    }
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (!real_clock_gettime)
        real_clock_gettime =
            (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real_clock_gettime(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) add_ns(ts, shift_ns());
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *t)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (t) *t = ts.tv_sec;
    return ts.tv_sec;
}
