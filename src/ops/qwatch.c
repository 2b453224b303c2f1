/*
 * qwatch.c — the quality report watcher (see qwatch.h).
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "ops/qwatch.h"

struct tp_qwatch {
    struct tp_live *l;
    char path[PATH_MAX];
    int64_t interval_ns;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

int tp_qwatch_poll(struct tp_live *l, const char *path, struct tp_qwatch_seen *last)
{
    struct stat sb;
    if (stat(path, &sb) < 0) return errno == ENOENT ? 0 : -errno;
    struct tp_qwatch_seen now = {(uint64_t)sb.st_ino, (uint64_t)sb.st_size,
                                 (int64_t)sb.st_mtim.tv_sec * TP_NS_PER_SEC + sb.st_mtim.tv_nsec};
    if (now.ino == last->ino && now.size == last->size && now.mtime_ns == last->mtime_ns) return 0;
    if (now.size > TP_LIVE_QUALITY_MAX) return -E2BIG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -errno;
    char *buf = malloc(TP_LIVE_QUALITY_MAX + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t n = 0;
    int rc = 0;
    while (n <= TP_LIVE_QUALITY_MAX) {
        ssize_t r = read(fd, buf + n, TP_LIVE_QUALITY_MAX + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = -errno;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (rc == 0 && n > TP_LIVE_QUALITY_MAX) rc = -E2BIG;
    while (rc == 0 && n && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;
    if (rc == 0) {
        struct tp_json j;
        tp_json_init(&j, 0, 0);
        if (tp_json_parse(&j, buf, n) < 0 || tp_json_type(&j, 0) != TP_JSON_OBJECT) rc = -EBADMSG;
        tp_json_fini(&j);
    }
    if (rc == 0) rc = tp_live_set_quality(l, buf, n);
    free(buf);
    if (rc < 0) return rc;
    *last = now;
    return 1;
}

static void *watch_main(void *arg)
{
    struct tp_qwatch *q = arg;
    struct tp_qwatch_seen seen = {0, 0, 0};
    pthread_mutex_lock(&q->mu);
    while (!q->stop) {
        pthread_mutex_unlock(&q->mu);
        tp_qwatch_poll(q->l, q->path, &seen); /* a bad file keeps the last good report */
        pthread_mutex_lock(&q->mu);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* the condvar's clock: immune to clock steps */
        int64_t t = (int64_t)ts.tv_sec * TP_NS_PER_SEC + ts.tv_nsec + q->interval_ns;
        ts.tv_sec = (time_t)(t / TP_NS_PER_SEC);
        ts.tv_nsec = (long)(t % TP_NS_PER_SEC);
        while (!q->stop && pthread_cond_timedwait(&q->cv, &q->mu, &ts) == 0) {
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int tp_qwatch_start(struct tp_live *l, const char *data, int64_t interval_ns,
                    struct tp_qwatch **ret)
{
    struct tp_qwatch *q = calloc(1, sizeof *q);
    if (!q) return -ENOMEM;
    if ((size_t)snprintf(q->path, sizeof q->path, "%s/quality.json", data) >= sizeof q->path) {
        free(q);
        return -ENAMETOOLONG;
    }
    q->l = l;
    q->interval_ns = interval_ns > 0 ? interval_ns : 2 * TP_NS_PER_SEC;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&q->thread, NULL, watch_main, q);
    if (rc) {
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->cv);
        free(q);
        return -rc;
    }
    *ret = q;
    return 0;
}

void tp_qwatch_stop(struct tp_qwatch *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}
