/*
 * lake_fs.c — the lake's names and files: hive escaping, part file names, the ack file, the
 * lock, the cleanup past the ack, and the directory helpers the commit protocol and compaction
 * need (lake.h gives the protocol).
 *
 * Durability rules followed here: a file becomes visible by rename only after its data is
 * fsynced; a rename, an unlink or a new directory is durable only after an fsync of the
 * directory that holds the entry, so every function that changes a directory fsyncs it before
 * returning success. A failed fsync is -EIO (lake.h: never retried silently).
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/tptime.h"
#include "sink/lake.h"

#define DEFAULT_PARTITION "__HIVE_DEFAULT_PARTITION__"
#define ACK_MAGIC         "tickpipe lake ack 1"
#define ACK_MAX           256

static const char *const table_names[TP_LAKE_NTABLES] = {"ticks", "bars", "anomalies", "late",
                                                         "gaps"};

const char *tp_lake_table_name(enum tp_lake_table t)
{
    return (unsigned)t < TP_LAKE_NTABLES ? table_names[t] : "";
}

enum tp_sink_log tp_lake_table_log(enum tp_lake_table t)
{
    return t == TP_LAKE_TICKS ? TP_LOG_INPUT : TP_LOG_OUTPUT;
}

/* ---- names ------------------------------------------------------------------------------- */

static bool needs_escape(unsigned char c)
{
    if (c < 0x20 || c == 0x7f) return true;
    return c && strchr("\"#%'*/:=?\\{[]^", c) != NULL;
}

int tp_lake_escape(const char *s, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n == 0) {
        if (cap < sizeof DEFAULT_PARTITION) return -ENAMETOOLONG;
        memcpy(out, DEFAULT_PARTITION, sizeof DEFAULT_PARTITION);
        return (int)sizeof DEFAULT_PARTITION - 1;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t need = needs_escape(c) ? 3 : 1;
        if (o + need + 1 > cap || o + need > INT_MAX) return -ENAMETOOLONG;
        if (need == 3) {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
    return (int)o;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int tp_lake_unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 2 > cap || o >= INT_MAX) return -ENAMETOOLONG;
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
            (l = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    return (int)o;
}

static const char *log_name(enum tp_sink_log log)
{
    return log == TP_LOG_INPUT ? "input" : "output";
}

int tp_lake_part_name(enum tp_sink_log log, uint32_t partition, uint64_t first, uint64_t last,
                      char *out, size_t cap)
{
    int n = snprintf(out, cap, "part-%s-%u-%020llu-%020llu.parquet", log_name(log), partition,
                     (unsigned long long)first, (unsigned long long)last);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}

/* Exactly `digits` decimal digits at *p into *v; advances *p. */
static bool take_u64(const char **p, int digits, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < digits; i++) {
        unsigned d = (unsigned)((*p)[i] - '0');
        if (d > 9) return false;
        if (x > (UINT64_MAX - d) / 10) return false;
        x = x * 10 + d;
    }
    *p += digits;
    *v = x;
    return true;
}

bool tp_lake_parse_part_name(const char *name, enum tp_sink_log *log, uint32_t *partition,
                             uint64_t *first, uint64_t *last)
{
    const char *p = name;
    if (strncmp(p, "part-", 5)) return false;
    p += 5;
    enum tp_sink_log l;
    if (!strncmp(p, "input-", 6)) {
        l = TP_LOG_INPUT;
        p += 6;
    } else if (!strncmp(p, "output-", 7)) {
        l = TP_LOG_OUTPUT;
        p += 7;
    } else {
        return false;
    }
    int nd = 0;
    while (p[nd] >= '0' && p[nd] <= '9') nd++;
    uint64_t part, f, t;
    if (nd < 1 || nd > 10 || (nd > 1 && p[0] == '0') || !take_u64(&p, nd, &part) ||
        part > UINT32_MAX || *p++ != '-')
        return false;
    if (!take_u64(&p, 20, &f) || *p++ != '-' || !take_u64(&p, 20, &t)) return false;
    if (strcmp(p, ".parquet") || f > t) return false;
    *log = l;
    *partition = (uint32_t)part;
    *first = f;
    *last = t;
    return true;
}

/* ---- directories ------------------------------------------------------------------------- */

int tp_lake_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) < 0 ? (errno == EINVAL || errno == EROFS ? 0 : -EIO) : 0;
    if (rc < 0) tp_error("lake: fsync of the directory %s failed: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

/* The parent of path into out ("." when it has none). */
static int parent_of(const char *path, char *out, size_t cap)
{
    const char *s = strrchr(path, '/');
    if (!s) return snprintf(out, cap, ".") < (int)cap ? 0 : -ENAMETOOLONG;
    size_t n = s == path ? 1 : (size_t)(s - path);
    if (n + 1 > cap) return -ENAMETOOLONG;
    memcpy(out, path, n);
    out[n] = 0;
    return 0;
}

int tp_lake_mkdirs(const char *dir)
{
    char p[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0) return -EINVAL;
    if (n + 1 > sizeof p) return -ENAMETOOLONG;
    memcpy(p, dir, n + 1);
    while (n > 1 && p[n - 1] == '/') p[--n] = 0;
    struct stat st;
    if (stat(p, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    /* Create from the top: each new directory is made durable in its parent. */
    for (char *s = p + 1;; s++) {
        bool end = *s == 0;
        if (*s != '/' && !end) continue;
        *s = 0;
        if (mkdir(p, 0755) == 0) {
            char par[PATH_MAX];
            int rc = parent_of(p, par, sizeof par);
            if (rc == 0) rc = tp_lake_fsync_dir(par);
            if (rc < 0) return rc;
        } else if (errno != EEXIST) {
            return -errno;
        }
        if (end) break;
        *s = '/';
    }
    if (stat(p, &st) < 0) return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int tp_lake_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode)) return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    DIR *d = opendir(path);
    if (!d) return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[PATH_MAX];
        int n = snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rc = n < 0 || (size_t)n >= sizeof sub ? -ENAMETOOLONG : tp_lake_rmtree(sub);
    }
    closedir(d);
    if (rc == 0 && rmdir(path) < 0 && errno != ENOENT) rc = -errno;
    return rc;
}

int tp_lake_swap_dir(const char *src, const char *dst)
{
    char ps[PATH_MAX], pd[PATH_MAX];
    int rc = parent_of(src, ps, sizeof ps);
    if (rc == 0) rc = parent_of(dst, pd, sizeof pd);
    if (rc < 0) return rc;
    struct stat st;
    bool exists = lstat(dst, &st) == 0;
    if (exists) {
        if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_EXCHANGE) < 0)
            return errno == EINVAL || errno == ENOSYS ? -ENOTSUP : -errno;
    } else if (rename(src, dst) < 0) {
        return -errno;
    }
    rc = tp_lake_fsync_dir(pd);
    if (rc == 0 && strcmp(ps, pd)) rc = tp_lake_fsync_dir(ps);
    if (rc < 0) return rc;
    /* src now holds the old tree (when there was one): nobody reads it any more. */
    if (exists) {
        rc = tp_lake_rmtree(src);
        if (rc == 0) rc = tp_lake_fsync_dir(ps);
    }
    return rc;
}

/* ---- the ack file and the lock ----------------------------------------------------------- */

static int state_path(const char *lake, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/_tickpipe%s%s", lake, *name ? "/" : "", name);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static bool parse_line(const char **p, const char *key, uint64_t *v)
{
    size_t k = strlen(key);
    if (strncmp(*p, key, k) || (*p)[k] != ' ') return false;
    const char *q = *p + k + 1;
    int nd = 0;
    while (q[nd] >= '0' && q[nd] <= '9') nd++;
    if (nd < 1 || nd > 20 || (nd > 1 && q[0] == '0') || q[nd] != '\n') return false;
    if (!take_u64(&q, nd, v)) return false;
    *p = q + 1;
    return true;
}

int tp_lake_ack_read(const char *lake, uint64_t ack[2])
{
    return tp_lake_ack_read_named(lake, "ack", ack);
}

int tp_lake_ack_read_named(const char *lake, const char *name, uint64_t ack[2])
{
    char path[PATH_MAX];
    int rc = state_path(lake, name, path, sizeof path);
    if (rc < 0) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    char b[ACK_MAX + 1];
    size_t n = 0;
    while (n < ACK_MAX) {
        ssize_t r = read(fd, b + n, ACK_MAX - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = -errno;
            close(fd);
            return rc;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    b[n] = 0;
    const char *p = b;
    uint64_t a[2];
    if (strncmp(p, ACK_MAGIC "\n", sizeof ACK_MAGIC) || n == ACK_MAX) return -EBADMSG;
    p += sizeof ACK_MAGIC;
    if (!parse_line(&p, "input", &a[0]) || !parse_line(&p, "output", &a[1]) || *p) return -EBADMSG;
    ack[0] = a[0];
    ack[1] = a[1];
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tp_lake_ack_write(const char *lake, const uint64_t ack[2])
{
    return tp_lake_ack_write_named(lake, "ack", ack);
}

int tp_lake_ack_write_named(const char *lake, const char *name, const uint64_t ack[2])
{
    char dir[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX], tmpname[NAME_MAX + 1];
    int tn = snprintf(tmpname, sizeof tmpname, "%s.tmp", name);
    if (tn < 0 || (size_t)tn >= sizeof tmpname) return -ENAMETOOLONG;
    int rc = state_path(lake, "", dir, sizeof dir);
    if (rc == 0) rc = state_path(lake, tmpname, tmp, sizeof tmp);
    if (rc == 0) rc = state_path(lake, name, path, sizeof path);
    if (rc == 0) rc = tp_lake_mkdirs(dir);
    if (rc < 0) return rc;
    char b[ACK_MAX];
    int n = snprintf(b, sizeof b, ACK_MAGIC "\ninput %llu\noutput %llu\n",
                     (unsigned long long)ack[0], (unsigned long long)ack[1]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    rc = write_all(fd, b, (size_t)n);
    if (rc == 0 && fsync(fd) < 0) {
        tp_error("lake: fsync of %s failed: %s", tmp, strerror(errno));
        rc = -EIO;
    }
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
    if (rc == 0) rc = tp_lake_fsync_dir(dir);
    if (rc < 0) unlink(tmp);
    return rc;
}

int tp_lake_lock(const char *lake, bool wait, int *ret_fd)
{
    char dir[PATH_MAX], path[PATH_MAX];
    int rc = state_path(lake, "", dir, sizeof dir);
    if (rc == 0) rc = state_path(lake, "lock", path, sizeof path);
    if (rc == 0) rc = tp_lake_mkdirs(dir);
    if (rc < 0) return rc;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
        if (errno == EINTR) continue;
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
        return rc;
    }
    *ret_fd = fd;
    return 0;
}

void tp_lake_unlock(int fd)
{
    if (fd < 0) return;
    flock(fd, LOCK_UN);
    close(fd);
}

/* ---- cleanup past the ack ---------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* Walks dir (depth-limited: a table is at most two partition levels deep, plus slack). */
static int scan_dir(const char *dir, const uint64_t ack[2], int64_t only, struct tp_lake_scan *s,
                    int depth)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    bool changed = false;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        const char *name = e->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
        char sub[PATH_MAX];
        int n = snprintf(sub, sizeof sub, "%s/%s", dir, name);
        if (n < 0 || (size_t)n >= sizeof sub) {
            rc = -ENAMETOOLONG;
            break;
        }
        struct stat st;
        if (lstat(sub, &st) < 0) {
            if (errno != ENOENT) rc = -errno;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (depth < 8) rc = scan_dir(sub, ack, only, s, depth + 1);
            continue;
        }
        enum tp_sink_log log;
        uint32_t part;
        uint64_t first, last;
        bool remove = false;
        if (tp_lake_parse_part_name(name, &log, &part, &first, &last)) {
            if (only >= 0 && part != (uint64_t)only) {
                s->foreign++;
                continue;
            }
            s->parts++;
            remove = ack && first >= ack[log];
        } else if (ends_with(name, ".parquet.tmp")) {
            remove = ack != NULL;
        } else {
            s->foreign++;
        }
        if (!remove) continue;
        if (unlink(sub) < 0 && errno != ENOENT) {
            rc = -errno;
            break;
        }
        s->removed++;
        changed = true;
    }
    closedir(d);
    if (rc == 0 && changed) rc = tp_lake_fsync_dir(dir);
    return rc;
}

int tp_lake_remove_past(const char *lake, const uint64_t ack[2], struct tp_lake_scan *ret)
{
    return tp_lake_remove_past_part(lake, ack, -1, ret);
}

int tp_lake_remove_past_part(const char *lake, const uint64_t ack[2], int64_t partition,
                             struct tp_lake_scan *ret)
{
    struct tp_lake_scan s = {0};
    for (int t = 0; t < TP_LAKE_NTABLES; t++) {
        char dir[PATH_MAX];
        int n = snprintf(dir, sizeof dir, "%s/%s", lake, table_names[t]);
        if (n < 0 || (size_t)n >= sizeof dir) return -ENAMETOOLONG;
        int rc = scan_dir(dir, ack, partition, &s, 0);
        if (rc < 0) return rc;
    }
    if (ret) *ret = s;
    return 0;
}
