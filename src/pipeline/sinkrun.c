/*
 * sinkrun.c — a sink runner thread: journal cursors → sink ops, acknowledgements, retries
 * with capped backoff (see sinkrun.h for the contract).
 *
 * Invariants:
 *  1. A cursor is opened at the sink's acknowledged offset only once the log's bound has
 *     reached it (after a restart the output journal may be shorter than a sink's ack: the
 *     process stage cut it back to its last checkpoint and regenerates the same records).
 *  2. tp_cursor_next is called only while the cursor's offset is below the log's bound, so
 *     every record handed to the sink is durable in the log.
 *  3. Every failure closes the sink and both cursors; the next attempt starts over from the
 *     sink's own acknowledged offsets. Nothing is kept in the runner between attempts.
 *  4. `finish` is read before the bounds; the bounds read after it are final.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/log.h"
#include "core/backoff.h"
#include "core/tptime.h"
#include "log/journal.h"
#include "pipeline/sinkrun.h"

#define BATCH          4096 /* records per log per turn */
#define IDLE_SLEEP_NS  (5 * TP_NS_PER_MS)
#define FIRST_BACKOFF  (100 * TP_NS_PER_MS)
#define DEFAULT_MAX_BO (30 * TP_NS_PER_SEC)
#define DEFAULT_FLUSH  TP_NS_PER_SEC
#define STABLE_NS      (5 * TP_NS_PER_SEC) /* an attempt up this long ends an outage */

struct tp_sinkrun {
    const struct tp_sink_ops *ops;
    void *self;
    struct tp_sinkrun_env env;
    struct tp_cursor *cur[2];
    uint64_t want[2]; /* where the cursor opens (the ack at the last open) */

    pthread_t thread;
    bool thread_on;
    _Atomic bool finish, ended, up, caught_up;
    /* (runner thread) Outage bookkeeping. An attempt that opened but failed before any flush
     * succeeded (a full disk under the lake: open works, every commit fails) is no progress:
     * it neither resets the backoff nor ends the outage, so such a sink logs once per outage
     * and per distinct error, and backs off to its cap, instead of every 100 ms. */
    bool progressed;            /* a flush succeeded in the current attempt, or it stayed up
                                   STABLE_NS: resets the backoff */
    bool outage;                /* a failure was logged and no flush succeeded since */
    bool said_open;             /* "connected again" was said during this outage */
    int logged;                 /* the errno last logged in this outage */
    _Atomic int64_t give_up_at; /* monotonic deadline set by stop; 0 = none */
    _Atomic int fatal, error;
    _Atomic uint64_t ack[2], read[2], written, failures;
};

static bool reads(const struct tp_sinkrun *r, int log)
{
    return log == TP_LOG_INPUT ? r->ops->reads_input : r->ops->reads_output;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / TP_NS_PER_SEC),
                          .tv_nsec = (long)(ns % TP_NS_PER_SEC)};
    nanosleep(&ts, NULL);
}

static bool is_fatal(int rc)
{
    return rc == -EIO || rc == -EBADMSG;
}

static void close_cursors(struct tp_sinkrun *r)
{
    for (int l = 0; l < 2; l++) {
        tp_cursor_close(r->cur[l]);
        r->cur[l] = NULL;
    }
}

static void set_ack(struct tp_sinkrun *r, const uint64_t ack[2])
{
    for (int l = 0; l < 2; l++)
        atomic_store_explicit(&r->ack[l], reads(r, l) ? ack[l] : TP_SINK_NO_ACK,
                              memory_order_relaxed);
}

/* Opens the cursor of `log` once its bound has reached the sink's ack. 0 (maybe still not
 * open), or a negative errno. */
static int ensure_cursor(struct tp_sinkrun *r, int log, uint64_t bound)
{
    if (r->cur[log] || !reads(r, log) || bound < r->want[log]) return 0;
    int rc = tp_cursor_open(r->env.dir[log], r->want[log], NULL, false, &r->cur[log]);
    if (rc < 0) {
        r->cur[log] = NULL;
        if (rc == -ENOENT)
            tp_error("sink %s: the %s journal no longer holds offset %llu (removed by retention "
                     "or replaced): the sink cannot resume",
                     r->ops->name, log == TP_LOG_INPUT ? "input" : "output",
                     (unsigned long long)r->want[log]);
        return rc == -ENOENT ? -EBADMSG : rc;
    }
    return 0;
}

/* Hands up to BATCH records of `log` to the sink. Returns records handed, or a negative errno;
 * *flush_now is set when the sink asked for a flush. */
static int pump(struct tp_sinkrun *r, int log, uint64_t bound, bool *flush_now)
{
    int got = 0;
    struct tp_cursor *c = r->cur[log];
    while (c && got < BATCH && tp_cursor_offset(c) < bound) {
        const void *p;
        size_t n;
        uint64_t off;
        int rc = tp_cursor_next(c, &p, &n, &off);
        if (rc < 0) {
            tp_error("sink %s: bad journal record at %s: %s", r->ops->name, tp_cursor_where(c),
                     strerror(-rc));
            return -EBADMSG;
        }
        if (rc == 0) break;
        rc = r->ops->write(r->self, (enum tp_sink_log)log, off, p, n);
        if (rc < 0) return rc;
        got++;
        atomic_store_explicit(&r->read[log], off + 1, memory_order_relaxed);
        if (rc == 1) {
            *flush_now = true;
            break;
        }
    }
    if (got) atomic_fetch_add_explicit(&r->written, (uint64_t)got, memory_order_relaxed);
    return got;
}

static int do_flush(struct tp_sinkrun *r, bool final)
{
    uint64_t ack[2] = {TP_SINK_NO_ACK, TP_SINK_NO_ACK};
    int rc = r->ops->flush(r->self, final, ack);
    if (rc == 0) {
        set_ack(r, ack);
        r->progressed = true;
        r->outage = r->said_open = false;
    }
    return rc;
}

static bool stopping_now(struct tp_sinkrun *r)
{
    int64_t at = atomic_load_explicit(&r->give_up_at, memory_order_acquire);
    return at && tp_mono_ns() >= at;
}

/* One connected attempt: runs until a failure (negative errno) or the end (0). */
static int attempt(struct tp_sinkrun *r)
{
    uint64_t ack[2] = {TP_SINK_NO_ACK, TP_SINK_NO_ACK};
    int rc = r->ops->open(r->self, ack);
    if (rc < 0) return rc;
    set_ack(r, ack);
    for (int l = 0; l < 2; l++) {
        r->want[l] = reads(r, l) ? ack[l] : 0;
        atomic_store_explicit(&r->read[l], r->want[l], memory_order_relaxed);
    }
    if (atomic_exchange(&r->up, true) == false && r->outage && !r->said_open) {
        tp_info("sink %s: connected again; resuming from its acknowledged offsets", r->ops->name);
        r->said_open = true;
    }
    atomic_store(&r->error, 0);
    int64_t flush_every = r->ops->flush_ns > 0 ? r->ops->flush_ns : DEFAULT_FLUSH;
    int64_t last_flush = tp_mono_ns(), opened_at = last_flush;
    bool dirty = false;
    for (;;) {
        bool finishing = atomic_load_explicit(&r->finish, memory_order_acquire);
        uint64_t bound[2];
        int got = 0;
        bool flush_now = false;
        for (int l = 0; l < 2; l++) {
            bound[l] = reads(r, l) ? r->env.bound(r->env.ctx, (enum tp_sink_log)l) : 0;
            rc = ensure_cursor(r, l, bound[l]);
            if (rc < 0) return rc;
            rc = pump(r, l, bound[l], &flush_now);
            if (rc < 0) return rc;
            got += rc;
        }
        dirty |= got > 0;
        bool dry = true;
        for (int l = 0; l < 2; l++)
            if (reads(r, l) &&
                (!r->cur[l] ? bound[l] > r->want[l] : tp_cursor_offset(r->cur[l]) < bound[l]))
                dry = false;
        int64_t now = tp_mono_ns();
        if (finishing && dry) {
            rc = do_flush(r, true);
            if (rc < 0) return rc;
            atomic_store(&r->caught_up, true);
            return 0;
        }
        if (flush_now || (dirty && (dry || now - last_flush >= flush_every))) {
            rc = do_flush(r, false);
            if (rc < 0) return rc;
            dirty = false;
            last_flush = now;
        }
        bool all_acked = dry && !dirty;
        for (int l = 0; l < 2 && all_acked; l++)
            if (reads(r, l) && atomic_load_explicit(&r->ack[l], memory_order_relaxed) < bound[l])
                all_acked = false;
        atomic_store_explicit(&r->caught_up, all_acked, memory_order_relaxed);
        /* A connection that has stayed up without anything to flush also ends the outage (a
         * quiet pipeline): the next failure is logged and backs off from the floor. */
        if (r->outage && now - opened_at >= STABLE_NS) {
            r->outage = r->said_open = false;
            r->progressed = true;
        }
        if (got) continue;
        if (stopping_now(r)) return -ETIMEDOUT;
        sleep_ns(IDLE_SLEEP_NS);
    }
}

static void *runner_main(void *arg)
{
    struct tp_sinkrun *r = arg;
    struct tp_backoff bo;
    tp_backoff_init(&bo, FIRST_BACKOFF,
                    r->env.max_backoff_ns > 0 ? r->env.max_backoff_ns : DEFAULT_MAX_BO,
                    (uint64_t)tp_mono_ns() ^ (uintptr_t)r);
    for (;;) {
        int rc = attempt(r);
        close_cursors(r);
        r->ops->close(r->self);
        if (rc == 0) break;
        atomic_store(&r->up, false);
        atomic_store(&r->caught_up, false);
        if (is_fatal(rc)) {
            tp_error("sink %s: fatal: %s; stopping the sink (its data stays in the journal)",
                     r->ops->name, strerror(-rc));
            atomic_store(&r->fatal, rc);
            break;
        }
        atomic_fetch_add(&r->failures, 1);
        atomic_store(&r->error, -rc);
        if (!r->outage || r->logged != -rc)
            tp_warn("sink %s: %s; retrying with backoff (the journal keeps the data)", r->ops->name,
                    strerror(-rc));
        r->outage = true;
        r->logged = -rc;
        if (stopping_now(r)) break;
        /* An attempt that made progress counts as a success: the next outage starts at the
         * floor again. The wait is sliced so that a stop is seen. */
        if (r->progressed) tp_backoff_reset(&bo);
        r->progressed = false;
        int64_t until = tp_mono_ns() + tp_backoff_next(&bo);
        while (tp_mono_ns() < until && !stopping_now(r)) sleep_ns(10 * TP_NS_PER_MS);
    }
    atomic_store_explicit(&r->ended, true, memory_order_release);
    return NULL;
}

int tp_sinkrun_start(const struct tp_sink_ops *ops, void *self, const struct tp_sinkrun_env *env,
                     struct tp_sinkrun **ret)
{
    struct tp_sinkrun *r = calloc(1, sizeof *r);
    if (!r) {
        ops->free(self);
        return -ENOMEM;
    }
    r->ops = ops;
    r->self = self;
    r->env = *env;
    for (int l = 0; l < 2; l++) {
        /* Until the first open, a log it reads counts as acknowledged at 0 (for retention). */
        atomic_init(&r->ack[l], reads(r, l) ? 0 : TP_SINK_NO_ACK);
        atomic_init(&r->read[l], 0);
    }
    int rc = -pthread_create(&r->thread, NULL, runner_main, r);
    if (rc < 0) {
        tp_error("sink %s: cannot start its thread: %s", ops->name, strerror(-rc));
        ops->free(self);
        free(r);
        return rc;
    }
    r->thread_on = true;
    *ret = r;
    return 0;
}

void tp_sinkrun_finish(struct tp_sinkrun *r)
{
    atomic_store_explicit(&r->finish, true, memory_order_release);
}

bool tp_sinkrun_caught_up(const struct tp_sinkrun *r)
{
    return atomic_load_explicit(&r->caught_up, memory_order_relaxed) ||
           atomic_load_explicit(&r->ended, memory_order_acquire);
}

int tp_sinkrun_stop(struct tp_sinkrun *r, int64_t give_up_ns)
{
    if (!r) return 0;
    tp_sinkrun_finish(r);
    atomic_store_explicit(&r->give_up_at, tp_mono_ns() + TP_MAX(give_up_ns, 1),
                          memory_order_release);
    if (r->thread_on) pthread_join(r->thread, NULL);
    int rc = atomic_load(&r->fatal);
    if (rc == 0 && !atomic_load(&r->caught_up)) {
        rc = atomic_load(&r->error) ? -atomic_load(&r->error) : -ETIMEDOUT;
        tp_warn("sink %s: stopped before acknowledging everything (%s); it resumes from its "
                "acknowledged offsets at the next start",
                r->ops->name, strerror(-rc));
    }
    r->ops->free(r->self);
    free(r);
    return rc;
}

int tp_sinkrun_fatal(const struct tp_sinkrun *r)
{
    return atomic_load_explicit(&r->fatal, memory_order_acquire);
}

void tp_sinkrun_stats(const struct tp_sinkrun *r, struct tp_sinkrun_stats *ret)
{
    struct tp_sinkrun_stats s = {.name = r->ops->name};
    for (int l = 0; l < 2; l++) {
        s.ack[l] = atomic_load_explicit(&r->ack[l], memory_order_relaxed);
        s.read[l] = atomic_load_explicit(&r->read[l], memory_order_relaxed);
    }
    s.written = atomic_load_explicit(&r->written, memory_order_relaxed);
    s.failures = atomic_load_explicit(&r->failures, memory_order_relaxed);
    s.up = atomic_load_explicit(&r->up, memory_order_relaxed);
    s.error = atomic_load_explicit(&r->error, memory_order_relaxed);
    s.fatal = -atomic_load_explicit(&r->fatal, memory_order_relaxed);
    *ret = s;
}
