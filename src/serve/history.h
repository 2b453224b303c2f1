/*
 * history.h — the lake reads of GET /api/bars, off the HTTP event loop (DESIGN.md §7: disk
 * reads of the lake never run on an event-loop thread).
 *
 * A small pool of worker threads takes jobs from a bounded queue, runs tp_lake_bars_read for
 * each, and puts the finished job on a done list, then calls wake(arg) (lws_cancel_service),
 * so that the HTTP thread collects it (tp_hist_done) and resumes the connection that waits
 * for it. A full queue refuses a job at once (-EBUSY: the HTTP side answers 503), so a burst
 * of history requests never grows memory or latency without bound.
 *
 *   submit ──▶ QUEUED ──worker──▶ RUNNING ──▶ DONE ──tp_hist_done──▶ the owner's
 *                 │                  │          │
 *                 └──── cancel ──────┴──────────┴──▶ freed (queued, done: at once;
 *                                                     running: by the worker when it ends)
 *
 * Threads: tp_hist_new/stop/free on the thread that owns the server (main); submit, done and
 * cancel on the one owner thread (the HTTP thread); the workers touch a job only while it is
 * RUNNING. A job handed out by tp_hist_done belongs to the caller (tp_hist_job_free).
 */
#ifndef TP_HISTORY_H
#define TP_HISTORY_H

#include "core/instrument.h"
#include "sink/lake.h"

struct tp_hist_cfg {
    const char *lake;   /* the lake's root (DATA/lake); copied */
    unsigned threads;   /* workers: 2 */
    unsigned queue;     /* jobs waiting at most: 32 */
    uint64_t max_bytes; /* per job: chunk bytes read (0: the reader's default, 256 MiB) */
    int64_t delay_ns;   /* a test hook: each job sleeps this long before reading (0) */
};

void tp_hist_cfg_default(struct tp_hist_cfg *c, const char *lake);

struct tp_hist_job {
    /* The request, set before submitting. */
    char instrument[TP_INSTR_NAMELEN + 1];
    int64_t interval_ns, from, to;
    size_t limit;
    void *owner; /* the submitter's (the waiting connection); not used by the pool */
    /* The result, valid once the job is done. */
    int rc;              /* 0 or a negative errno */
    char err[256];       /* why, when rc < 0 */
    struct tp_bar *bars; /* n bars, oldest first (owned by the job) */
    size_t n;
    struct tp_lake_bars_stats st;
    /* The pool's. */
    int state;
    bool cancelled;
    struct tp_hist_job *next;
};

struct tp_hist;

/* Starts the workers. wake(arg) is called from a worker after a job is done (thread-safe,
 * cheap). 0 and *ret, -EINVAL (threads or queue 0 or above 64 / 4096), -ENOMEM, -EAGAIN. */
int tp_hist_new(const struct tp_hist_cfg *c, void (*wake)(void *), void *arg, struct tp_hist **ret);
/* A new job (zeroed; free with tp_hist_job_free unless submitted). NULL on out of memory. */
struct tp_hist_job *tp_hist_job_new(void);
void tp_hist_job_free(struct tp_hist_job *j);
/* Queues j (the pool owns it until tp_hist_done hands it back or tp_hist_cancel frees it).
 * 0, -EBUSY when the queue is full, -ESHUTDOWN after tp_hist_stop (j stays the caller's). */
int tp_hist_submit(struct tp_hist *h, struct tp_hist_job *j);
/* The next finished job, now the caller's; NULL when none. */
struct tp_hist_job *tp_hist_done(struct tp_hist *h);
/* The owner of a submitted job went away: the job is freed (now, or when its worker ends). */
void tp_hist_cancel(struct tp_hist *h, struct tp_hist_job *j);
/* Jobs waiting in the queue now (for tests and /metrics). */
size_t tp_hist_queued(struct tp_hist *h);
/* Stops and joins the workers (a running job ends first; queued jobs stay until cancelled or
 * freed). Idempotent. */
void tp_hist_stop(struct tp_hist *h);
/* Stops the workers and frees the pool and every job it still holds. NULL is a no-op. */
void tp_hist_free(struct tp_hist *h);

#endif
