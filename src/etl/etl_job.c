/*
 * etl_job.c — one etl pass over PostgreSQL or the lake, and the scheduler thread of
 * `tickpipe run --etl-every` (etl_job.h). The passes are those of `tickpipe etl`: the same
 * functions, the same log lines.
 *
 * The scheduler's state (counters, stop flag, last result) is guarded by one mutex, never held
 * across a pass; the thread waits on a monotonic condition variable so a stop wakes it at once.
 */
#include <pthread.h>

#include "core/log.h"
#include "core/tptime.h"
#include "etl/etl_job.h"
#include "serve/live.h"
#include "sink/pg.h"

int tp_etl_job_add_spec(struct tp_etl_job *j, const char *s, char *err, size_t errlen)
{
    struct tp_etl_spec sp;
    int rc = tp_etl_spec_parse(s, &sp, err, errlen);
    if (rc < 0) return rc;
    for (uint32_t k = 0; k < j->nspec; k++)
        if (!strcmp(j->spec[k].name, sp.name)) return 0;
    if (j->nspec >= TP_ETL_MAX_SPECS) {
        snprintf(err, errlen, "is one spec over %d", TP_ETL_MAX_SPECS);
        return -E2BIG;
    }
    j->spec[j->nspec++] = sp;
    return 0;
}

static int pass_pg(const struct tp_etl_job *j)
{
    char err[TP_PG_ERRLEN];
    struct tp_pg_etl *e;
    int rc = tp_pg_etl_open(j->pg, &e, err, sizeof err);
    if (rc < 0) {
        tp_error("etl: postgres: %s", err);
        return rc;
    }
    for (uint32_t i = 0; i < j->nspec && rc == 0; i++) {
        struct tp_pg_etl_result res;
        int64_t t0 = tp_mono_ns();
        if (j->progress)
            fprintf(stderr, "etl: [%u/%u] %s: summarizing in PostgreSQL...\n", i + 1, j->nspec,
                    j->spec[i].name);
        rc = tp_pg_etl_update(e, &j->spec[i], j->full, &res, err, sizeof err);
        if (rc < 0) {
            tp_error("etl: %s: %s", j->spec[i].name, err);
            break;
        }
        tp_info("etl: %s: %llu windows upserted from ticks offsets %llu..%llu in %.3f s",
                j->spec[i].name, (unsigned long long)res.windows, (unsigned long long)res.from,
                (unsigned long long)res.to, (double)(tp_mono_ns() - t0) / 1e9);
    }
    tp_pg_etl_close(e);
    return rc;
}

static int pass_lake(const struct tp_etl_job *j)
{
    char err[512];
    struct tp_etl_lake_result res;
    int64_t t0 = tp_mono_ns();
    if (j->progress)
        fprintf(stderr, "etl: lake: summarizing the tick files of %s (%u spec%s)...\n", j->lake,
                j->nspec, j->nspec == 1 ? "" : "s");
    int rc = tp_etl_lake_update(j->lake, j->spec, j->nspec, j->full, &res, err, sizeof err);
    if (rc < 0) {
        tp_error("etl: lake: %s", err);
        return rc;
    }
    tp_info("etl: lake: %llu tick files; %llu dates recomputed (%llu ticks, %llu windows); "
            "summary files: %llu written, %llu unchanged, %llu removed, in %.3f s",
            (unsigned long long)res.files, (unsigned long long)res.dates,
            (unsigned long long)res.ticks, (unsigned long long)res.windows,
            (unsigned long long)res.files_written, (unsigned long long)res.files_same,
            (unsigned long long)res.files_removed, (double)(tp_mono_ns() - t0) / 1e9);
    return 0;
}

int tp_etl_job_pass(const struct tp_etl_job *j)
{
    return j->pg ? pass_pg(j) : pass_lake(j);
}

/* ---- the scheduler ---- */

struct tp_etl_sched {
    struct tp_etl_job job;
    int64_t period_ns;
    struct tp_live *live;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, last_pass; /* guarded by mu */
    struct tp_etl_sched_stats st;
    int last_rc;
};

static void one_pass(struct tp_etl_sched *s)
{
    int rc = tp_etl_job_pass(&s->job);
    pthread_mutex_lock(&s->mu);
    s->last_rc = rc;
    if (rc < 0) {
        s->st.failures++;
    } else {
        s->st.passes++;
        s->st.last_ns = tp_now_ns();
    }
    struct tp_etl_sched_stats st = s->st;
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) tp_warn("etl: this pass failed; trying again at the next period");
    if (s->live) {
        tp_live_set_sink(s->live, "etl", st.passes, st.failures);
        tp_live_set_sink_health(s->live, "etl", rc == 0, 0, rc < 0 ? strerror(-rc) : NULL);
    }
}

static void *sched_main(void *arg)
{
    struct tp_etl_sched *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        int64_t due = tp_mono_ns() + s->period_ns;
        while (!s->stop) {
            int64_t now = tp_mono_ns();
            if (now >= due) break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t at = (int64_t)ts.tv_sec * TP_NS_PER_SEC + ts.tv_nsec + (due - now);
            ts.tv_sec = (time_t)(at / TP_NS_PER_SEC);
            ts.tv_nsec = (long)(at % TP_NS_PER_SEC);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        if (s->stop) break;
        pthread_mutex_unlock(&s->mu);
        one_pass(s);
        pthread_mutex_lock(&s->mu);
    }
    bool last = s->last_pass;
    pthread_mutex_unlock(&s->mu);
    if (last) one_pass(s);
    return NULL;
}

int tp_etl_sched_start(const struct tp_etl_job *j, int64_t period_ns, struct tp_live *live,
                       struct tp_etl_sched **ret)
{
    if (period_ns <= 0) return -EINVAL;
    struct tp_etl_sched *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->job = *j;
    s->period_ns = period_ns;
    s->live = live;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (live) tp_live_set_sink(live, "etl", 0, 0);
    int rc = pthread_create(&s->thread, NULL, sched_main, s);
    if (rc) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return -rc;
    }
    *ret = s;
    return 0;
}

void tp_etl_sched_stats(struct tp_etl_sched *s, struct tp_etl_sched_stats *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->st;
    pthread_mutex_unlock(&s->mu);
}

int tp_etl_sched_stop(struct tp_etl_sched *s, bool last_pass, struct tp_etl_sched_stats *st)
{
    if (!s) return 0;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    s->last_pass = last_pass;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    if (st) *st = s->st;
    int rc = s->last_rc;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    return rc;
}
