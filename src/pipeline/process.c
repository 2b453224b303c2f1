/*
 * process.c — the process stage: input journal cursor → engine → output journal, with
 * deterministic checkpoints (see process.h for the contract).
 *
 * Invariants:
 *  1. The output journal is written only by the process thread between its start and its
 *     join; tp_process_start recovers it before, tp_process_stop closes it after.
 *  2. The output journal's records after its last checkpoint are exactly the outputs of the
 *     input records [checkpoint input_next, input_next): a restart cuts them and regenerates
 *     them, so every output appears once, in the same order, whatever the crash point.
 *  3. `finish` is set only after the input writer was joined; the thread reads it before
 *     asking the cursor, so a cursor that is dry after `finish` was seen has read everything.
 *  4. An error is sticky (err); the thread then stops and the pipeline shuts down.
 *  5. Retention (this thread: the output journal's writer) never deletes a segment holding a
 *     record at or after min(the last checkpoint record, *sinks_keep). The checkpoint record
 *     itself is kept: a restart loads it and cuts only what follows it; and every sink resumes
 *     at or after its acknowledgement. A checkpoint counts only once committed (durable).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/tptime.h"
#include "engine/engine.h"
#include "log/record.h"
#include "pipeline/process.h"

#define DEFAULT_CHECKPOINT_EVERY 100000
#define OUT_BUF_MAX              ((size_t)64 << 10)
#define IDLE_SLEEP_NS            (2 * TP_NS_PER_MS)
#define FLUSH_EVERY              (50 * TP_NS_PER_MS)
#define PARTIAL_EVERY            (250 * TP_NS_PER_MS)
#define COUNTERS_EVERY           TP_NS_PER_SEC
#define PARTIAL_SLOTS            4096 /* throttle slots, by instrument id modulo */
#define RETAIN_EVERY             TP_NS_PER_SEC
#define PATH_CAP                 4096

struct tp_process {
    struct tp_process_opts o;
    char odir[PATH_CAP];
    struct tp_journal *out;
    struct tp_engine *eng;
    struct tp_cursor *cur;
    struct tp_buf b;     /* one output record */
    struct tp_buf state; /* one checkpoint's engine state */
    uint64_t input_next; /* thread-local copy */
    uint64_t ck_off;     /* output offset of the last committed checkpoint; UINT64_MAX: none */
    int retain_err;      /* (thread) the retention errno last logged, so it is said once */

    pthread_t thread;
    bool thread_on;
    _Atomic bool finish;
    _Atomic int err;
    _Atomic uint64_t a_input_next, a_checkpoint, a_bars, a_anomalies, a_late, a_gaps;
    _Atomic uint64_t a_ck_off, a_retained;
    int64_t partial_at[PARTIAL_SLOTS];
    int64_t last_recv, last_seen; /* the last event's ts_recv, and when the engine saw it */
};

static void fail(struct tp_process *p, int rc)
{
    int zero = 0;
    atomic_compare_exchange_strong(&p->err, &zero, rc);
}

static void append(struct tp_process *p)
{
    if (atomic_load_explicit(&p->err, memory_order_relaxed)) return;
    int rc = tp_journal_append(p->out, p->b.p, p->b.len, NULL);
    if (rc < 0) fail(p, rc);
}

static void inc(_Atomic uint64_t *a)
{
    atomic_fetch_add_explicit(a, 1, memory_order_relaxed);
}

/* ---- engine outputs --------------------------------------------------------------------- */

static void on_bar(void *ctx, const struct tp_bar *bar)
{
    struct tp_process *p = ctx;
    tp_buf_reset(&p->b);
    int rc = tp_rec_put_bar(&p->b, bar);
    if (rc < 0) return fail(p, rc);
    append(p);
    inc(&p->a_bars);
    if (p->o.live) tp_live_bar_final(p->o.live, bar);
}

static void on_anomaly(void *ctx, const struct tp_anomaly *a)
{
    struct tp_process *p = ctx;
    tp_buf_reset(&p->b);
    int rc = tp_rec_put_anomaly(&p->b, a);
    if (rc < 0) return fail(p, rc);
    append(p);
    inc(&p->a_anomalies);
    if (p->o.live) tp_live_anomaly(p->o.live, a);
}

static void on_late(void *ctx, const struct tp_event *e, int64_t interval_ns)
{
    struct tp_process *p = ctx;
    tp_buf_reset(&p->b);
    int rc = tp_rec_put_late(&p->b, e, interval_ns);
    if (rc < 0) return fail(p, rc);
    append(p);
    inc(&p->a_late);
}

static void on_gap(void *ctx, const struct tp_gap *g)
{
    struct tp_process *p = ctx;
    tp_buf_reset(&p->b);
    int rc = tp_rec_put_gap(&p->b, g);
    if (rc < 0) return fail(p, rc);
    append(p);
    inc(&p->a_gaps);
}

/* ---- checkpoints ------------------------------------------------------------------------ */

static void publish_checkpoint(struct tp_process *p)
{
    atomic_store_explicit(&p->a_checkpoint, p->input_next, memory_order_relaxed);
    atomic_store_explicit(&p->a_ck_off, p->ck_off, memory_order_relaxed);
    if (p->o.checkpointed)
        atomic_store_explicit(p->o.checkpointed, p->input_next, memory_order_relaxed);
}

static int write_checkpoint(struct tp_process *p)
{
    tp_buf_reset(&p->state);
    int rc = tp_engine_save(p->eng, &p->state);
    if (rc < 0) return rc;
    tp_buf_reset(&p->b);
    p->b.max = TP_JOURNAL_MAX_RECORD;
    rc = tp_rec_put_checkpoint(&p->b, p->input_next, p->state.p, p->state.len);
    uint64_t off = 0;
    if (rc == 0) rc = tp_journal_append(p->out, p->b.p, p->b.len, &off);
    if (p->b.cap > OUT_BUF_MAX) {
        /* Do not keep a checkpoint-sized buffer for small records. */
        tp_buf_fini(&p->b);
        tp_buf_init(&p->b, OUT_BUF_MAX);
    }
    p->b.max = OUT_BUF_MAX;
    if (rc == 0) rc = tp_journal_commit(p->out);
    if (rc == 0) {
        p->ck_off = off; /* durable: retention may now go up to it (invariant 5) */
        publish_checkpoint(p);
    }
    return rc;
}

/* Finds the output journal's last checkpoint, cuts what follows it, loads the engine.
 * Sets p->input_next (0 when there is none). */
static int recover(struct tp_process *p)
{
    struct tp_cursor *c;
    uint64_t first = tp_journal_first_offset(p->out), next = tp_journal_next_offset(p->out);
    p->input_next = 0;
    if (first == next) return 0;
    int rc = tp_cursor_open(p->odir, first, p->out, false, &c);
    if (rc < 0) return rc;
    bool found = false;
    uint64_t ck_off = 0, scanned = 0;
    for (;;) {
        const void *rec;
        size_t n;
        uint64_t off;
        rc = tp_cursor_next(c, &rec, &n, &off);
        if (rc <= 0) break;
        scanned++;
        if (tp_rec_type(rec, n) != TP_REC_CHECKPOINT) continue;
        found = true;
        ck_off = off;
        tp_buf_reset(&p->state);
        rc = tp_buf_append(&p->state, rec, n);
        if (rc < 0) break;
    }
    if (rc < 0) {
        tp_error("journal %s: cannot scan for its last checkpoint at %s: %s", p->odir,
                 tp_cursor_where(c), strerror(-rc));
        tp_cursor_close(c);
        return rc;
    }
    tp_cursor_close(c);
    if (!found && first > 0) {
        /* Retention keeps the last checkpoint (invariant 5): without one the records before
         * `first` are gone and the input they came from may be too. Cutting everything and
         * starting from input offset 0 would not give the same outputs: refuse. */
        tp_error("journal %s: no checkpoint in its records %llu..%llu (older ones were removed "
                 "by retention): the engine cannot resume; move the output journal away to "
                 "reprocess the input journal from its start",
                 p->odir, (unsigned long long)first, (unsigned long long)next);
        return -EBADMSG;
    }
    uint64_t cut = found ? ck_off + 1 : first;
    if (cut < next) {
        rc = tp_journal_truncate(p->out, cut);
        if (rc < 0) return rc;
        tp_info("journal %s: dropped %llu output record(s) after the last checkpoint (they "
                "are regenerated)",
                p->odir, (unsigned long long)(next - cut));
    }
    if (!found) {
        tp_info("journal %s: no checkpoint (%llu record(s) scanned): processing from input "
                "offset 0",
                p->odir, (unsigned long long)scanned);
        return 0;
    }
    const void *st;
    size_t stn;
    rc = tp_rec_get_checkpoint(p->state.p, p->state.len, &p->input_next, &st, &stn);
    if (rc == 0) rc = tp_engine_load(p->eng, st, stn);
    if (rc < 0) {
        tp_error("journal %s: the checkpoint at offset %llu does not load: %s", p->odir,
                 (unsigned long long)ck_off, strerror(-rc));
        return rc;
    }
    tp_info("journal %s: resumed from the checkpoint at offset %llu (%llu record(s) scanned): "
            "input offset %llu",
            p->odir, (unsigned long long)ck_off, (unsigned long long)scanned,
            (unsigned long long)p->input_next);
    p->ck_off = ck_off;
    publish_checkpoint(p);
    return 0;
}

/* ---- the thread ------------------------------------------------------------------------- */

static void publish_partials(struct tp_process *p, const struct tp_event *e, int64_t now)
{
    int64_t *at = &p->partial_at[e->instr % PARTIAL_SLOTS];
    if (now - *at < PARTIAL_EVERY) return;
    *at = now;
    for (int i = 0; i < TP_LIVE_MAX_INTERVALS; i++) {
        struct tp_bar bar;
        if (tp_engine_partial(p->eng, e->instr, i, &bar) == 0) tp_live_bar_update(p->o.live, &bar);
    }
}

static void publish_counters(struct tp_process *p)
{
    const struct tp_engine_stats *s = tp_engine_stats(p->eng);
    struct tp_live_counters c = {
        .events_in = tp_journal_next_offset(p->o.input),
        .events_out = tp_journal_next_offset(p->out),
        .duplicates = s->duplicates,
        .lag_ns = p->last_recv ? p->last_seen - p->last_recv : -1,
        .watermark_lag_ns = -1,
    };
    for (int i = 0; i < TP_MAX_INTERVALS; i++) c.late += s->late[i];
    tp_live_set_counters(p->o.live, &c);
}

/* Tells the sinks how far the output journal may be read. */
static void publish_bound(struct tp_process *p)
{
    if (!p->o.out_bound) return;
    uint64_t b = p->o.durable_only ? tp_journal_durable(p->out) : tp_journal_written(p->out);
    atomic_store_explicit(p->o.out_bound, b, memory_order_release);
}

/* Deletes old output segments: never one holding the last checkpoint record, a record after
 * it, or a record a sink has not acknowledged (invariant 5). A failure (a segment that cannot
 * be removed) is logged once per errno and retried at the next turn; it stops nothing. */
static void retain_outputs(struct tp_process *p)
{
    uint64_t keep = p->ck_off == UINT64_MAX ? 0 : p->ck_off;
    if (p->o.sinks_keep)
        keep = TP_MIN(keep, atomic_load_explicit(p->o.sinks_keep, memory_order_acquire));
    if (keep <= tp_journal_first_offset(p->out)) return;
    int n = tp_journal_retain(p->out, keep, p->o.retention_bytes, p->o.retention_age_ns);
    if (n > 0) {
        atomic_fetch_add_explicit(&p->a_retained, (uint64_t)n, memory_order_relaxed);
        tp_info("retention: removed %d old output journal segment(s); it starts at offset %llu", n,
                (unsigned long long)tp_journal_first_offset(p->out));
        p->retain_err = 0;
    } else if (n < 0 && p->retain_err != -n) {
        p->retain_err = -n;
        tp_warn("journal %s: retention failed: %s (retried every second)", p->odir, strerror(-n));
    }
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ns};
    nanosleep(&ts, NULL);
}

/* One input record: events go to the engine; every record counts for checkpoints. */
static int process_record(struct tp_process *p, const void *rec, size_t n, uint64_t off,
                          int64_t now)
{
    if (off != p->input_next) return -EBADMSG; /* the input journal must be contiguous */
    if (tp_rec_type(rec, n) == TP_REC_EVENT) {
        struct tp_event e;
        if (tp_rec_get_event(rec, n, &e) == 0) {
            tp_engine_process(p->eng, &e);
            if (e.ts_recv > 0 && (off & 63) == 0) { /* sampled: a clock read per 64 */
                p->last_recv = e.ts_recv;
                p->last_seen = tp_now_ns();
            }
            if (p->o.live) {
                if (off < p->o.live_events_below) tp_live_event(p->o.live, &e);
                if (e.kind == TP_KIND_TRADE) publish_partials(p, &e, now);
            }
        }
    }
    p->input_next = off + 1;
    atomic_store_explicit(&p->a_input_next, p->input_next, memory_order_relaxed);
    int rc = atomic_load_explicit(&p->err, memory_order_relaxed);
    if (rc == 0 && p->input_next % p->o.checkpoint_every == 0) rc = write_checkpoint(p);
    return rc;
}

static void *process_main(void *arg)
{
    struct tp_process *p = arg;
    int rc = 0;
    int64_t last_flush = tp_mono_ns(), last_counters = 0, last_retain = last_flush;
    bool dirty = false;
    bool retain = p->o.retention_bytes || p->o.retention_age_ns > 0;
    for (;;) {
        bool finishing = atomic_load_explicit(&p->finish, memory_order_acquire);
        const void *rec;
        size_t n;
        uint64_t off;
        rc = tp_cursor_next(p->cur, &rec, &n, &off);
        if (rc < 0) {
            tp_error("process: bad input record at %s: %s", tp_cursor_where(p->cur), strerror(-rc));
            break;
        }
        int64_t now = tp_mono_ns();
        bool idle = rc == 0;
        if (!idle) {
            rc = process_record(p, rec, n, off, now);
            if (rc < 0) break;
            dirty = true;
        }
        if (dirty && (idle || now - last_flush >= FLUSH_EVERY)) {
            rc = tp_journal_flush(p->out);
            if (rc < 0) break;
            dirty = false;
            last_flush = now;
        }
        publish_bound(p);
        if (p->o.live && now - last_counters >= COUNTERS_EVERY) {
            publish_counters(p);
            last_counters = now;
        }
        if (retain && now - last_retain >= RETAIN_EVERY) {
            retain_outputs(p);
            last_retain = now;
        }
        if (!idle) continue;
        if (finishing) break;
        sleep_ns(IDLE_SLEEP_NS);
    }
    if (rc == 0) rc = tp_journal_commit(p->out);
    if (rc < 0) fail(p, rc);
    if (rc == 0) publish_bound(p);
    if (p->o.live) publish_counters(p);
    return NULL;
}

/* ---- start and stop --------------------------------------------------------------------- */

static void free_all(struct tp_process *p)
{
    tp_cursor_close(p->cur);
    if (p->out) tp_journal_close(p->out);
    tp_engine_free(p->eng);
    tp_buf_fini(&p->b);
    tp_buf_fini(&p->state);
    free(p);
}

int tp_process_start(const struct tp_process_opts *o, struct tp_process **ret)
{
    struct tp_process *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->o = *o;
    if (!p->o.checkpoint_every) p->o.checkpoint_every = DEFAULT_CHECKPOINT_EVERY;
    tp_buf_init(&p->b, OUT_BUF_MAX);
    tp_buf_init(&p->state, TP_JOURNAL_MAX_RECORD);
    atomic_init(&p->finish, false);
    atomic_init(&p->err, 0);
    p->ck_off = UINT64_MAX;
    atomic_init(&p->a_ck_off, UINT64_MAX);
    atomic_init(&p->a_retained, 0);
    int n = snprintf(p->odir, sizeof p->odir, "%s/journal/output", o->data_dir);
    if (n < 0 || (size_t)n >= sizeof p->odir) {
        free_all(p);
        return -ENAMETOOLONG;
    }
    struct tp_engine_cfg cfg;
    tp_engine_cfg_default(&cfg);
    struct tp_engine_out eo = {
        .ctx = p, .bar = on_bar, .anomaly = on_anomaly, .late = on_late, .gap = on_gap};
    p->eng = tp_engine_new(&cfg, &eo);
    if (!p->eng) {
        free_all(p);
        return -ENOMEM;
    }
    struct tp_journal_opts jo;
    tp_journal_opts_default(&jo, p->odir);
    jo.sync = o->sync;
    if (o->segment_bytes) jo.segment_bytes = o->segment_bytes;
    struct tp_journal_recovery rep;
    int rc = tp_journal_open(&jo, &p->out, &rep);
    if (rc < 0) {
        tp_error("journal %s: cannot open: %s", p->odir,
                 rc == -EBUSY ? "in use by another process" : strerror(-rc));
        p->out = NULL;
        free_all(p);
        return rc;
    }
    if (rep.truncated_bytes)
        tp_warn("journal %s: recovery cut a torn tail of %llu byte(s) from %s", p->odir,
                (unsigned long long)rep.truncated_bytes, rep.truncated_file);
    rc = recover(p);
    if (rc < 0) {
        free_all(p);
        return rc;
    }
    publish_bound(p);
    rc = tp_cursor_open(o->input_dir, p->input_next, o->input, o->durable_only, &p->cur);
    if (rc < 0) {
        tp_error("process: cannot read the input journal %s from offset %llu: %s%s", o->input_dir,
                 (unsigned long long)p->input_next, strerror(-rc),
                 rc == -ENOENT ? " (removed by retention, or the input journal was replaced)" : "");
        p->cur = NULL;
        free_all(p);
        return rc;
    }
    atomic_init(&p->a_input_next, p->input_next);
    rc = -pthread_create(&p->thread, NULL, process_main, p);
    if (rc < 0) {
        tp_error("cannot start the process thread: %s", strerror(-rc));
        free_all(p);
        return rc;
    }
    p->thread_on = true;
    *ret = p;
    return 0;
}

void tp_process_finish(struct tp_process *p)
{
    atomic_store_explicit(&p->finish, true, memory_order_release);
}

int tp_process_stop(struct tp_process *p, struct tp_process_stats *final)
{
    if (!p) return 0;
    tp_process_finish(p);
    if (p->thread_on) pthread_join(p->thread, NULL);
    if (final) tp_process_stats(p, final);
    int rc = atomic_load_explicit(&p->err, memory_order_acquire);
    tp_cursor_close(p->cur);
    p->cur = NULL;
    char where[PATH_CAP + 64];
    snprintf(where, sizeof where, "%s", tp_journal_error_where(p->out));
    int crc = tp_journal_close(p->out);
    p->out = NULL;
    if (rc == 0) rc = crc;
    if (rc < 0)
        tp_error("journal %s: %s%s%s; the engine resumes from its last checkpoint at the next "
                 "start",
                 p->odir, where, *where ? " failed: " : "", strerror(-rc));
    free_all(p);
    return rc;
}

int tp_process_error(const struct tp_process *p)
{
    return atomic_load_explicit(&p->err, memory_order_acquire);
}

void tp_process_stats(const struct tp_process *p, struct tp_process_stats *ret)
{
    struct tp_process_stats s = {
        .input_next = atomic_load_explicit(&p->a_input_next, memory_order_relaxed),
        .checkpoint = atomic_load_explicit(&p->a_checkpoint, memory_order_relaxed),
        .bars = atomic_load_explicit(&p->a_bars, memory_order_relaxed),
        .anomalies = atomic_load_explicit(&p->a_anomalies, memory_order_relaxed),
        .late = atomic_load_explicit(&p->a_late, memory_order_relaxed),
        .gaps = atomic_load_explicit(&p->a_gaps, memory_order_relaxed),
        .output_next = p->out ? tp_journal_next_offset(p->out) : 0,
        .checkpoint_offset = atomic_load_explicit(&p->a_ck_off, memory_order_relaxed),
        .output_first = p->out ? tp_journal_first_offset(p->out) : 0,
        .retained = atomic_load_explicit(&p->a_retained, memory_order_relaxed),
    };
    *ret = s;
}
