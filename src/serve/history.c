/*
 * history.c — the worker pool of lake reads (see history.h for the states of a job).
 *
 * One mutex guards the queue, the done list and every job's state; workers wait on a
 * condition variable. A worker holds no lock while it reads the lake. Invariants: a job is on
 * at most one list; a QUEUED job is on the queue, a DONE one on the done list, a RUNNING one
 * on neither (its worker holds it); `cancelled` is set only on a RUNNING job, which its
 * worker then frees instead of listing it as done.
 */
#include <pthread.h>
#include <time.h>

#include "core/log.h"
#include "core/tptime.h"
#include "serve/history.h"

enum { J_NEW = 0, J_QUEUED, J_RUNNING, J_DONE };

#define MAX_THREADS 64
#define MAX_QUEUE   4096

struct list {
    struct tp_hist_job *head, *tail;
    size_t n;
};

struct tp_hist {
    struct tp_hist_cfg cfg;
    char *lake;
    void (*wake)(void *);
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct list queue, done;
    bool stop;
    bool joined;
    pthread_t *th;
    unsigned nth;
};

void tp_hist_cfg_default(struct tp_hist_cfg *c, const char *lake)
{
    c->lake = lake;
    c->threads = 2;
    c->queue = 32;
    c->max_bytes = 0;
    c->delay_ns = 0;
}

static void push(struct list *l, struct tp_hist_job *j)
{
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->n++;
}

static struct tp_hist_job *pop(struct list *l)
{
    struct tp_hist_job *j = l->head;
    if (!j) return NULL;
    l->head = j->next;
    if (!l->head) l->tail = NULL;
    l->n--;
    j->next = NULL;
    return j;
}

static bool unlink_job(struct list *l, struct tp_hist_job *j)
{
    struct tp_hist_job *prev = NULL;
    for (struct tp_hist_job *p = l->head; p; prev = p, p = p->next) {
        if (p != j) continue;
        if (prev)
            prev->next = p->next;
        else
            l->head = p->next;
        if (l->tail == p) l->tail = prev;
        l->n--;
        p->next = NULL;
        return true;
    }
    return false;
}

struct tp_hist_job *tp_hist_job_new(void)
{
    return calloc(1, sizeof(struct tp_hist_job));
}

void tp_hist_job_free(struct tp_hist_job *j)
{
    if (!j) return;
    free(j->bars);
    free(j);
}

static void run_job(struct tp_hist *h, struct tp_hist_job *j)
{
    if (h->cfg.delay_ns > 0) {
        struct timespec ts = {.tv_sec = h->cfg.delay_ns / TP_NS_PER_SEC,
                              .tv_nsec = h->cfg.delay_ns % TP_NS_PER_SEC};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
    }
    j->bars = malloc(j->limit * sizeof *j->bars);
    if (!j->bars) {
        j->rc = -ENOMEM;
        snprintf(j->err, sizeof j->err, "out of memory");
        return;
    }
    struct tp_lake_bars_query q = {
        .lake = h->lake,
        .instrument = j->instrument,
        .interval_ns = j->interval_ns,
        .from = j->from,
        .to = j->to,
        .limit = j->limit,
        .max_bytes = h->cfg.max_bytes,
    };
    j->rc = tp_lake_bars_read(&q, j->bars, &j->n, &j->st, j->err, sizeof j->err);
    if (j->rc < 0) {
        j->n = 0;
        tp_warn("http: history of %s: %s", j->instrument, j->err);
    }
}

static void *worker(void *arg)
{
    struct tp_hist *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->stop && !h->queue.n) pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop) break;
        struct tp_hist_job *j = pop(&h->queue);
        j->state = J_RUNNING;
        pthread_mutex_unlock(&h->mu);
        run_job(h, j);
        pthread_mutex_lock(&h->mu);
        if (j->cancelled) {
            tp_hist_job_free(j);
            continue;
        }
        j->state = J_DONE;
        push(&h->done, j);
        pthread_mutex_unlock(&h->mu);
        h->wake(h->arg);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int tp_hist_new(const struct tp_hist_cfg *c, void (*wake)(void *), void *arg, struct tp_hist **ret)
{
    if (!c->lake || !wake || c->threads < 1 || c->threads > MAX_THREADS || c->queue < 1 ||
        c->queue > MAX_QUEUE || c->delay_ns < 0)
        return -EINVAL;
    struct tp_hist *h = calloc(1, sizeof *h);
    if (!h) return -ENOMEM;
    h->cfg = *c;
    size_t n = strlen(c->lake) + 1;
    h->lake = malloc(n);
    h->th = calloc(c->threads, sizeof *h->th);
    if (!h->lake || !h->th) {
        free(h->lake);
        free(h->th);
        free(h);
        return -ENOMEM;
    }
    memcpy(h->lake, c->lake, n);
    h->cfg.lake = h->lake;
    h->wake = wake;
    h->arg = arg;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    for (; h->nth < c->threads; h->nth++)
        if (pthread_create(&h->th[h->nth], NULL, worker, h)) break;
    if (h->nth == 0) {
        tp_hist_free(h);
        return -EAGAIN;
    }
    *ret = h;
    return 0;
}

int tp_hist_submit(struct tp_hist *h, struct tp_hist_job *j)
{
    int rc = 0;
    pthread_mutex_lock(&h->mu);
    if (h->stop)
        rc = -ESHUTDOWN;
    else if (h->queue.n >= h->cfg.queue)
        rc = -EBUSY;
    else {
        j->state = J_QUEUED;
        j->cancelled = false;
        push(&h->queue, j);
        pthread_cond_signal(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

struct tp_hist_job *tp_hist_done(struct tp_hist *h)
{
    pthread_mutex_lock(&h->mu);
    struct tp_hist_job *j = pop(&h->done);
    if (j) j->state = J_NEW;
    pthread_mutex_unlock(&h->mu);
    return j;
}

void tp_hist_cancel(struct tp_hist *h, struct tp_hist_job *j)
{
    if (!j) return;
    bool free_now = false;
    pthread_mutex_lock(&h->mu);
    switch (j->state) {
    case J_QUEUED:
        free_now = unlink_job(&h->queue, j);
        break;
    case J_DONE:
        free_now = unlink_job(&h->done, j);
        break;
    case J_RUNNING:
        j->cancelled = true;
        break;
    default: /* handed back already: the caller's */
        free_now = true;
        break;
    }
    pthread_mutex_unlock(&h->mu);
    if (free_now) tp_hist_job_free(j);
}

size_t tp_hist_queued(struct tp_hist *h)
{
    pthread_mutex_lock(&h->mu);
    size_t n = h->queue.n;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void tp_hist_stop(struct tp_hist *h)
{
    if (!h || h->joined) return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    for (unsigned i = 0; i < h->nth; i++) pthread_join(h->th[i], NULL);
    h->joined = true;
}

void tp_hist_free(struct tp_hist *h)
{
    if (!h) return;
    tp_hist_stop(h);
    struct tp_hist_job *j;
    while ((j = pop(&h->queue))) tp_hist_job_free(j);
    while ((j = pop(&h->done))) tp_hist_job_free(j);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h->th);
    free(h->lake);
    free(h);
}
