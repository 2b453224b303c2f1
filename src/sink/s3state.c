/*
 * s3state.c — the uploader's durable state: uploaded.log and the multipart files (formats and
 * invariants in s3.h).
 *
 * Both are append-only text with one record a line, written with a single write() and made
 * durable with fdatasync before the caller goes on; a line without its '\n' is a torn append
 * and is ignored. New files are created through a temporary name, fsynced and renamed, and
 * their directory fsynced, so a state file either exists whole or not at all.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink/s3_int.h"
#include "sink/sigv4.h"

#define LOG_MAX (1u << 30) /* uploaded.log larger than this is refused */

int s3_write_sync(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        p += w;
        n -= (size_t)w;
    }
    return fdatasync(fd) < 0 ? -errno : 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int mkdir_p(const char *dir)
{
    char b[PATH_MAX];
    if ((size_t)snprintf(b, sizeof b, "%s", dir) >= sizeof b) return -ENAMETOOLONG;
    for (char *p = b + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(b, 0755) < 0 && errno != EEXIST) return -errno;
        *p = '/';
    }
    if (mkdir(b, 0755) < 0 && errno != EEXIST) return -errno;
    return 0;
}

static void key_of(const char *s, uint64_t k[2])
{
    size_t n = strlen(s);
    tp_vmap_key(tp_vhash_a(s, n), tp_vhash_b(s, n), k);
}

static int remember(struct s3state *st, const char *key, uint64_t size, int64_t mtime)
{
    uint64_t k[2];
    key_of(key, k);
    uint32_t *slot;
    int rc = tp_vmap_put(&st->map, k, (uint32_t)st->n, &slot);
    if (rc < 0) return rc;
    if (rc == 0) { /* uploaded again (the file changed): the newest line wins */
        st->v[*slot].size = size;
        st->v[*slot].mtime = mtime;
        st->v[*slot].gone = false;
        return 0;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 256;
        struct s3_done *v = realloc(st->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        st->v = v;
        st->cap = cap;
    }
    char *copy = strdup(key);
    if (!copy) return -ENOMEM;
    st->v[st->n++] = (struct s3_done){size, mtime, copy, false};
    return 0;
}

static void mark_gone(struct s3state *st, const char *key)
{
    uint64_t k[2];
    key_of(key, k);
    const uint32_t *slot = tp_vmap_get(&st->map, k);
    if (slot) st->v[*slot].gone = true;
}

/* "v1 SIZE MTIME ETAG KEY", or "del KEY" (the object was deleted from the store) */
static int parse_done(char *line, struct s3state *st)
{
    if (!strncmp(line, "del ", 4) && line[4]) {
        mark_gone(st, line + 4);
        return 0;
    }
    unsigned long long size;
    long long mtime;
    int off = 0;
    if (sscanf(line, "v1 %llu %lld %*s %n", &size, &mtime, &off) < 2 || off == 0 || !line[off])
        return -EBADMSG;
    return remember(st, line + off, size, mtime);
}

int s3state_open(struct s3state *st, const char *dir, char *err, size_t errcap)
{
    memset(st, 0, sizeof *st);
    st->log_fd = -1;
    if ((size_t)snprintf(st->dir, sizeof st->dir, "%s", dir) >= sizeof st->dir) {
        snprintf(err, errcap, "state directory path too long");
        return -ENAMETOOLONG;
    }
    char path[PATH_MAX + 32];
    int rc = mkdir_p(dir);
    snprintf(path, sizeof path, "%s/mpu", dir);
    if (rc == 0) rc = mkdir_p(path);
    if (rc < 0) {
        snprintf(err, errcap, "cannot create %s: %s", path, strerror(-rc));
        return rc;
    }
    snprintf(path, sizeof path, "%s/uploaded.log", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errcap, "cannot open %s: %s", path, strerror(-rc));
        return rc;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || sb.st_size > (off_t)LOG_MAX) {
        close(fd);
        snprintf(err, errcap, "%s: unreadable or larger than 1 GiB", path);
        return -E2BIG;
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t r = pread(fd, buf + got, (size_t)sb.st_size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    buf[got] = 0;
    size_t lines = 0, bad = 0;
    for (char *p = buf; *p;) {
        char *nl = strchr(p, '\n');
        if (!nl) break; /* a torn last line: ignored */
        *nl = 0;
        if (*p) {
            lines++;
            rc = parse_done(p, st);
            if (rc == -ENOMEM || rc == -E2BIG) break;
            bad += rc < 0;
            rc = 0;
        }
        p = nl + 1;
    }
    free(buf);
    if (rc < 0) {
        close(fd);
        s3state_close(st);
        snprintf(err, errcap, "loading %s: %s", path, strerror(-rc));
        return rc;
    }
    (void)lines;
    (void)bad;
    st->log_fd = fd;
    return 0;
}

void s3state_close(struct s3state *st)
{
    if (st->log_fd >= 0) close(st->log_fd);
    st->log_fd = -1;
    tp_vmap_fini(&st->map);
    for (size_t i = 0; i < st->n; i++) free(st->v[i].key);
    free(st->v);
    st->v = NULL;
    st->n = st->cap = 0;
}

bool s3state_done(const struct s3state *st, const char *key, uint64_t size, int64_t mtime)
{
    uint64_t k[2];
    key_of(key, k);
    const uint32_t *slot = tp_vmap_get(&st->map, k);
    return slot && !st->v[*slot].gone && st->v[*slot].size == size && st->v[*slot].mtime == mtime;
}

int s3state_forget(struct s3state *st, const char *key)
{
    char line[S3_LINE_MAX];
    int n = snprintf(line, sizeof line, "del %s\n", key);
    if (n < 0 || (size_t)n >= sizeof line || strchr(key, '\n')) return -E2BIG;
    int rc = s3_write_sync(st->log_fd, line, (size_t)n);
    if (rc == 0) mark_gone(st, key);
    return rc;
}

int s3state_record(struct s3state *st, const char *key, uint64_t size, int64_t mtime,
                   const char *etag)
{
    char line[S3_LINE_MAX];
    int n = snprintf(line, sizeof line, "v1 %llu %lld %s %s\n", (unsigned long long)size,
                     (long long)mtime, etag && *etag ? etag : "-", key);
    if (n < 0 || (size_t)n >= sizeof line || strchr(key, '\n')) return -E2BIG;
    int rc = s3_write_sync(st->log_fd, line, (size_t)n);
    if (rc == 0) rc = remember(st, key, size, mtime);
    return rc;
}

/* ---- multipart state --------------------------------------------------------------------- */

static int mpu_path(const struct s3state *st, const char *key, char *out, size_t cap)
{
    char h[TP_SIGV4_HEX];
    tp_sha256_hex(key, strlen(key), h);
    int n = snprintf(out, cap, "%s/mpu/%s", st->dir, h);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

void s3mpu_fini(struct s3mpu *m)
{
    if (m->fd >= 0) close(m->fd);
    m->fd = -1;
    free(m->etag);
    m->etag = NULL;
}

static int alloc_parts(struct s3mpu *m)
{
    if (!m->part_size || m->part_size < TP_S3_MIN_PART) return -EBADMSG;
    uint64_t n = m->size ? (m->size + m->part_size - 1) / m->part_size : 1;
    if (n > S3_MAX_PARTS) return -E2BIG;
    m->nparts = (uint32_t)n;
    m->etag = calloc(n, sizeof *m->etag);
    return m->etag ? 0 : -ENOMEM;
}

int s3mpu_load(struct s3state *st, const char *key, struct s3mpu *m)
{
    memset(m, 0, sizeof *m);
    m->fd = -1;
    if (mpu_path(st, key, m->path, sizeof m->path) < 0) return -ENAMETOOLONG;
    int fd = open(m->path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? -ENOENT : -errno;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || sb.st_size > (off_t)(S3_LINE_MAX + (S3_MAX_PARTS + 1) * 256)) {
        close(fd);
        unlink(m->path);
        return -EBADMSG;
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    ssize_t got = pread(fd, buf, (size_t)sb.st_size, 0);
    buf[got > 0 ? got : 0] = 0;
    int rc = -EBADMSG;
    char *nl = strchr(buf, '\n');
    if (nl) {
        *nl = 0;
        unsigned long long size, psize;
        long long mtime;
        int off = 0;
        char id[S3_ID_MAX + 1];
        if (sscanf(buf, "v1 %llu %lld %llu %1024s %n", &size, &mtime, &psize, id, &off) == 4 &&
            off > 0 && !strcmp(buf + off, key)) {
            m->size = size;
            m->mtime = mtime;
            m->part_size = psize;
            snprintf(m->upload_id, sizeof m->upload_id, "%s", id);
            rc = alloc_parts(m);
        }
        for (char *p = nl + 1; rc == 0 && *p;) {
            char *e = strchr(p, '\n');
            if (!e) break; /* torn */
            *e = 0;
            unsigned n;
            char etag[S3_ETAG_MAX + 1];
            if (sscanf(p, "part %u %128s", &n, etag) == 2 && n >= 1 && n <= m->nparts)
                snprintf(m->etag[n - 1], sizeof m->etag[0], "%s", etag);
            else
                rc = -EBADMSG;
            p = e + 1;
        }
    }
    free(buf);
    if (rc < 0) {
        close(fd);
        free(m->etag);
        m->etag = NULL;
        if (rc == -EBADMSG) unlink(m->path);
        return rc;
    }
    m->fd = fd;
    return 0;
}

int s3mpu_create(struct s3state *st, const char *key, uint64_t size, int64_t mtime,
                 uint64_t part_size, const char *upload_id, struct s3mpu *m)
{
    memset(m, 0, sizeof *m);
    m->fd = -1;
    m->size = size;
    m->mtime = mtime;
    m->part_size = part_size;
    if (strlen(upload_id) > S3_ID_MAX || strpbrk(upload_id, " \n\t")) return -EBADMSG;
    snprintf(m->upload_id, sizeof m->upload_id, "%s", upload_id);
    int rc = alloc_parts(m);
    if (rc < 0) return rc;
    if (mpu_path(st, key, m->path, sizeof m->path) < 0) {
        s3mpu_fini(m);
        return -ENAMETOOLONG;
    }
    char tmp[PATH_MAX + 8], line[S3_LINE_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", m->path);
    int n = snprintf(line, sizeof line, "v1 %llu %lld %llu %s %s\n", (unsigned long long)size,
                     (long long)mtime, (unsigned long long)part_size, upload_id, key);
    if (n < 0 || (size_t)n >= sizeof line) {
        s3mpu_fini(m);
        return -E2BIG;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) rc = -errno;
    if (rc == 0) rc = s3_write_sync(fd, line, (size_t)n);
    if (fd >= 0) close(fd);
    if (rc == 0 && rename(tmp, m->path) < 0) rc = -errno;
    if (rc == 0) {
        char dir[PATH_MAX + 8];
        snprintf(dir, sizeof dir, "%s/mpu", st->dir);
        rc = fsync_dir(dir);
    }
    if (rc == 0) {
        m->fd = open(m->path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (m->fd < 0) rc = -errno;
    }
    if (rc < 0) {
        unlink(tmp);
        s3mpu_fini(m);
    }
    return rc;
}

int s3mpu_add_part(struct s3mpu *m, uint32_t n, const char *etag)
{
    if (n < 1 || n > m->nparts || strlen(etag) > S3_ETAG_MAX || !*etag || strpbrk(etag, " \n\t"))
        return -EINVAL;
    char line[S3_ETAG_MAX + 32];
    int len = snprintf(line, sizeof line, "part %u %s\n", n, etag);
    int rc = s3_write_sync(m->fd, line, (size_t)len);
    if (rc == 0) snprintf(m->etag[n - 1], sizeof m->etag[0], "%s", etag);
    return rc;
}

void s3mpu_remove(struct s3mpu *m)
{
    unlink(m->path);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", m->path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        fsync_dir(dir);
    }
    s3mpu_fini(m);
}
