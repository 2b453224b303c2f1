/*
 * pipeline.c — sources → rings → journal writer, with the main thread's status line and a
 * clean shutdown (see pipeline.h for the picture).
 *
 * The writer thread drains every ring in turn, up to WRITE_BATCH events per ring per pass, so
 * a busy source cannot starve a quiet one; each event becomes one TP_REC_EVENT record, and
 * each BEGIN/END position marker of a replay source one TP_REC_SOURCE_POS record (the source
 * says what it holds: ops->position). A batch that a BEGIN opened is written to its END before
 * the writer turns to another ring (source.h, "Positions", invariant 1). It makes
 * records visible (tp_journal_flush) whenever it finds the rings empty and at least every
 * FLUSH_EVERY while busy; durability is the journal's business (its committer in group mode),
 * except in TP_SYNC_EVERY mode where the writer commits after each pass that wrote anything.
 * When every ring is empty it sleeps on the shared doorbell that the sources ring on commit.
 *
 * Invariants:
 *  1. The journal is written only by the writer thread between its start and its join; the
 *     main thread opens it before and closes it after.
 *  2. `stopping` is set only after every source thread has been joined, so when the writer
 *     sees it and then finds the rings empty, nothing more can arrive.
 *  3. A writer failure is sticky (werr); the main thread sees it within POLL_NS and shuts
 *     down; sources blocked on a full ring are woken by their stop.
 */
#include <pthread.h>
#include <time.h>

#include "core/buf.h"
#include "core/instrument.h"
#include "core/log.h"
#include "core/tptime.h"
#include "source/connstats.h"
#include "log/record.h"
#include "pipeline/pipeline.h"
#include "pipeline/process.h"

#define WRITE_BATCH  1024
#define FLUSH_EVERY  (2 * TP_NS_PER_MS)
#define RETAIN_EVERY TP_NS_PER_SEC
#define POLL_NS      (100 * TP_NS_PER_MS)
#define IDLE_WAIT_NS (100 * TP_NS_PER_MS)
#define REC_BUF_MAX  ((size_t)64 << 10)
#define DEFAULT_RING 65536
#define PATH_CAP     4096
#define LIVE_EVERY   (500 * TP_NS_PER_MS)

struct tp_pipeline {
    struct tp_pipeline_opts o;
    bool ended_at_eof; /* tp_pipeline_run stopped because every source ended (main thread) */
    char jdir[PATH_CAP];
    struct tp_journal *j;
    struct tp_source *src[TP_PIPELINE_MAX_SOURCES];
    struct tp_ring ring[TP_PIPELINE_MAX_SOURCES];
    size_t nsrc, nring;
    struct tp_bell data; /* rung by every ring's commit; the writer sleeps on it */

    struct tp_process *proc;          /* the process stage; NULL before start and after stop */
    _Atomic uint64_t proc_checkpoint; /* its last checkpoint's input offset, for retention */
    pthread_t writer;
    bool writer_on;
    bool batch_open[TP_PIPELINE_MAX_SOURCES]; /* (writer) ring i's BEGIN written, END not yet */
    _Atomic bool stopping;                    /* every source joined: drain and end (invariant 2) */
    _Atomic int werr;                         /* the writer's first failure */
    _Atomic uint64_t events;
    _Atomic uint64_t rejected; /* events the record codec refused (a source bug) */
    int64_t started_mono;
    _Atomic int64_t last_append_mono;   /* when the writer last appended */
    struct tp_process_stats final_proc; /* the process stage's stats when it stopped */
    uint64_t final_next;                /* the journal's next offset when it was closed */

    /* Sinks: added before start, runners started after the process stage, stopped after it. */
    const struct tp_sink_ops *sink_ops[TP_PIPELINE_MAX_SINKS];
    void *sink_self[TP_PIPELINE_MAX_SINKS];
    struct tp_sinkrun *sink[TP_PIPELINE_MAX_SINKS];
    size_t nsink;
    char odir[PATH_CAP];        /* the output journal's directory */
    _Atomic uint64_t out_bound; /* the process stage's durable output offset */
    _Atomic uint64_t out_keep;  /* the oldest output offset a sink has not acknowledged
                                   (UINT64_MAX: none reads it), for the process stage's
                                   retention of the output journal; 0 until the writer's first
                                   retention turn */
};

int tp_pipeline_new(const struct tp_pipeline_opts *o, struct tp_pipeline **ret)
{
    struct tp_pipeline *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->o = *o;
    if (!p->o.ring_capacity) p->o.ring_capacity = DEFAULT_RING;
    int n = snprintf(p->jdir, sizeof p->jdir, "%s/journal/input", o->data_dir);
    int m = snprintf(p->odir, sizeof p->odir, "%s/journal/output", o->data_dir);
    if (n < 0 || (size_t)n >= sizeof p->jdir || m < 0 || (size_t)m >= sizeof p->odir) {
        free(p);
        return -ENAMETOOLONG;
    }
    p->o.journal.dir = p->jdir;
    tp_bell_init(&p->data);
    atomic_init(&p->stopping, false);
    atomic_init(&p->werr, 0);
    atomic_init(&p->events, 0);
    atomic_init(&p->rejected, 0);
    atomic_init(&p->last_append_mono, 0);
    atomic_init(&p->proc_checkpoint, 0);
    atomic_init(&p->out_keep, 0);
    *ret = p;
    return 0;
}

int tp_pipeline_add_source(struct tp_pipeline *p, struct tp_source *src)
{
    if (p->nsrc == TP_PIPELINE_MAX_SOURCES) {
        tp_source_free(src);
        return -ENOSPC;
    }
    p->src[p->nsrc++] = src;
    return 0;
}

int tp_pipeline_add_sink(struct tp_pipeline *p, const struct tp_sink_ops *ops, void *self)
{
    if (p->nsink == TP_PIPELINE_MAX_SINKS) {
        ops->free(self);
        return -ENOSPC;
    }
    p->sink_ops[p->nsink] = ops;
    p->sink_self[p->nsink++] = self;
    return 0;
}

size_t tp_pipeline_sink_stats(const struct tp_pipeline *p, size_t i, struct tp_sinkrun_stats *ret)
{
    size_t n = 0;
    while (n < p->nsink && p->sink[n]) n++;
    if (i < n && ret) tp_sinkrun_stats(p->sink[i], ret);
    return n;
}

/* How far a sink may read each journal (sinkrun.h). The input journal is open while any sink
 * runs (stop_all stops the sinks before closing it). */
static uint64_t sink_bound(void *ctx, enum tp_sink_log log)
{
    struct tp_pipeline *p = ctx;
    if (log == TP_LOG_OUTPUT) return atomic_load_explicit(&p->out_bound, memory_order_acquire);
    return p->o.journal.sync == TP_SYNC_NONE ? tp_journal_written(p->j) : tp_journal_durable(p->j);
}

/* The oldest offset of `log` some sink has not acknowledged (UINT64_MAX when no sink reads
 * it). A sink that has not opened yet counts as acknowledged at 0 (sinkrun.c). */
static uint64_t sinks_keep(struct tp_pipeline *p, enum tp_sink_log log)
{
    uint64_t keep = UINT64_MAX;
    for (size_t i = 0; i < p->nsink && p->sink[i]; i++) {
        struct tp_sinkrun_stats s;
        tp_sinkrun_stats(p->sink[i], &s);
        if (s.ack[log] != TP_SINK_NO_ACK) keep = TP_MIN(keep, s.ack[log]);
    }
    return keep;
}

/* The oldest input offset something still needs: the process stage's last checkpoint and
 * every sink's acknowledgement. */
static uint64_t keep_from(struct tp_pipeline *p)
{
    uint64_t keep = atomic_load_explicit(&p->proc_checkpoint, memory_order_relaxed);
    return TP_MIN(keep, sinks_keep(p, TP_LOG_INPUT));
}

void tp_pipeline_stats(const struct tp_pipeline *p, struct tp_pipeline_stats *ret)
{
    struct tp_pipeline_stats s = {0};
    s.events = atomic_load_explicit(&p->events, memory_order_relaxed);
    if (p->j) {
        s.next_offset = tp_journal_next_offset(p->j);
        s.durable = tp_journal_durable(p->j);
        s.bytes = tp_journal_bytes(p->j);
    }
    for (size_t i = 0; i < p->nring; i++) {
        s.drops += tp_ring_drops(&p->ring[i]);
        s.queued += tp_ring_count(&p->ring[i]);
    }
    for (size_t i = 0; i < p->nsrc; i++)
        s.gaps += atomic_load_explicit(&p->src[i]->gaps, memory_order_relaxed);
    if (p->proc) {
        struct tp_process_stats ps;
        tp_process_stats(p->proc, &ps);
        s.proc_next = ps.input_next;
        s.bars = ps.bars;
        s.anomalies = ps.anomalies;
    } else {
        s.proc_next = p->final_proc.input_next;
        s.bars = p->final_proc.bars;
        s.anomalies = p->final_proc.anomalies;
    }
    *ret = s;
}

/* ---- the writer thread ------------------------------------------------------------------ */

/* A BEGIN or END marker of ring r's source as a position record. */
static int write_position(struct tp_pipeline *p, size_t r, struct tp_buf *b,
                          const struct tp_event *mark)
{
    struct tp_source *src = p->src[r];
    struct tp_source_pos pos;
    memset(&pos, 0, sizeof pos);
    src->ops->position(src, mark, &pos);
    pos.begin = mark->status == TP_MARK_BEGIN;
    tp_buf_reset(b);
    int rc = tp_rec_put_source_pos(b, &pos);
    if (rc < 0) {
        tp_error("journal writer: source %s gave a position the codec refused: %s", src->spec,
                 strerror(-rc));
        return rc;
    }
    p->batch_open[r] = pos.begin;
    return tp_journal_append(p->j, b->p, b->len, NULL);
}

/* Writes ring r's slots ev[0..n); *events gets how many were events. */
static int write_events(struct tp_pipeline *p, size_t r, struct tp_buf *b,
                        const struct tp_event *ev, size_t n, size_t *events)
{
    *events = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].kind == TP_KIND_MARK) {
            if (ev[i].status == TP_MARK_PAD) continue;
            if (!p->src[r]->ops->position) return -EINVAL; /* a source bug */
            int rc = write_position(p, r, b, &ev[i]);
            if (rc < 0) return rc;
            continue;
        }
        tp_buf_reset(b);
        int rc = tp_rec_put_event(b, &ev[i]);
        if (rc < 0) {
            /* A malformed event is a source's bug: skip it, count it, say so once. */
            if (atomic_fetch_add_explicit(&p->rejected, 1, memory_order_relaxed) == 0)
                tp_warn("journal writer: dropped an event the record codec refused (%s): "
                        "instrument '%s', kind %u",
                        strerror(-rc), tp_instr_name(ev[i].instr), ev[i].kind);
            continue;
        }
        rc = tp_journal_append(p->j, b->p, b->len, NULL);
        if (rc < 0) return rc;
        ++*events;
    }
    /* Provisional: the dashboard sees events as soon as they are in the log's buffer, like a
     * tickerplant publishing what it has logged before fsync (DESIGN.md §1 "Serve"). */
    if (p->o.live && !p->o.live_durable) tp_live_events(p->o.live, ev, n);
    return 0;
}

static bool rings_empty(struct tp_pipeline *p)
{
    for (size_t i = 0; i < p->nring; i++)
        if (tp_ring_count(&p->ring[i])) return false;
    return true;
}

static void *writer_main(void *arg)
{
    struct tp_pipeline *p = arg;
    struct tp_buf b;
    tp_buf_init(&b, REC_BUF_MAX);
    int rc = 0;
    int64_t last_flush = tp_mono_ns(), last_retain = last_flush;
    bool dirty = false; /* appended since the last flush */
    bool retain = p->o.retention_bytes || p->o.retention_age_ns;
    for (;;) {
        size_t got = 0, events = 0;
        for (size_t i = 0; i < p->nring && rc == 0; i++) {
            /* An open batch is written to its end first (it was committed whole, so the rest
             * is there; a ring found empty anyway is left rather than waited for). */
            do {
                const struct tp_event *ev;
                size_t n = tp_ring_peek(&p->ring[i], WRITE_BATCH, &ev), k = 0;
                if (!n) break;
                rc = write_events(p, i, &b, ev, n, &k);
                tp_ring_release(&p->ring[i], n);
                got += n;
                events += k;
            } while (rc == 0 && p->batch_open[i]);
        }
        if (rc < 0) break;
        if (got) {
            atomic_fetch_add_explicit(&p->events, events, memory_order_relaxed);
            atomic_store_explicit(&p->last_append_mono, tp_mono_ns(), memory_order_relaxed);
            dirty = true;
        }
        int64_t now = tp_mono_ns();
        bool every = p->o.journal.sync == TP_SYNC_EVERY;
        if (dirty && (every || !got || now - last_flush >= FLUSH_EVERY)) {
            rc = every ? tp_journal_commit(p->j) : tp_journal_flush(p->j);
            if (rc < 0) break;
            dirty = false;
            last_flush = now;
        }
        if (retain && now - last_retain >= RETAIN_EVERY) {
            /* The process stage restarts from its last checkpoint and each sink from its
             * acknowledgement: keep everything after the oldest. */
            uint64_t keep = keep_from(p);
            int n = tp_journal_retain(p->j, keep, p->o.retention_bytes, p->o.retention_age_ns);
            if (n > 0) tp_info("retention: removed %d old input journal segment(s)", n);
            /* The output journal is the process stage's to trim (its writer, journal.h): it
             * gets the sinks' part of its keep_from from here (the sinks are all started
             * before this thread, so reading them races with nothing). */
            atomic_store_explicit(&p->out_keep, sinks_keep(p, TP_LOG_OUTPUT), memory_order_release);
            last_retain = now;
        }
        if (got) continue;
        if (atomic_load_explicit(&p->stopping, memory_order_acquire) && rings_empty(p)) break;
        uint32_t key = tp_bell_prepare(&p->data);
        if (rings_empty(p) && !atomic_load_explicit(&p->stopping, memory_order_acquire))
            tp_bell_wait(&p->data, key, IDLE_WAIT_NS);
        tp_bell_done(&p->data);
    }
    if (rc == 0) rc = tp_journal_commit(p->j);
    if (rc < 0) {
        /* Said at once (the stop that follows may take a while: sinks drain first), with the
         * file: a full disk or a failed fsync is the operator's to fix before a restart. */
        const char *where = tp_journal_error_where(p->j);
        tp_error("journal %s: %s%s%s; stopping: records below offset %llu are in the journal "
                 "(durable below %llu), nothing after them was acknowledged; free the space or "
                 "fix the disk, then restart",
                 p->jdir, where, *where ? " failed: " : "", strerror(-rc),
                 (unsigned long long)tp_journal_written(p->j),
                 (unsigned long long)tp_journal_durable(p->j));
        atomic_store_explicit(&p->werr, rc, memory_order_release);
    }
    tp_buf_fini(&b);
    return NULL;
}

/* ---- start ------------------------------------------------------------------------------ */

static void log_recovery(const struct tp_pipeline *p, const struct tp_journal_recovery *r)
{
    tp_info("journal %s: %llu segment(s), offsets %llu..%llu", p->jdir,
            (unsigned long long)r->segments, (unsigned long long)r->first_offset,
            (unsigned long long)r->next_offset);
    if (r->truncated_bytes)
        tp_warn("journal %s: recovery cut a torn tail of %llu byte(s) from %s", p->jdir,
                (unsigned long long)r->truncated_bytes, r->truncated_file);
    else
        tp_info("journal %s: no torn tail", p->jdir);
}

static int read_records(struct tp_pipeline *p, uint64_t from, uint64_t to, bool tail);

/* Shows the journal's last records to the sources that want them, and every older position
 * record to the sources that record positions. */
static int resume_sources(struct tp_pipeline *p)
{
    bool want = false, want_pos = false;
    for (size_t i = 0; i < p->nsrc; i++) {
        want |= p->src[i]->ops->resume != NULL || p->src[i]->ops->resume_pos != NULL;
        want_pos |= p->src[i]->ops->resume_pos != NULL;
    }
    uint64_t next = tp_journal_next_offset(p->j), first = tp_journal_first_offset(p->j);
    uint64_t from = next - first > p->o.resume_records ? next - p->o.resume_records : first;
    int rc = 0;
    /* A replay source's last position may be older than the tail (another source wrote much
     * since): the positions before the tail are scanned too (a read of the whole journal, at
     * the cursor's speed; only with such a source). */
    if (want_pos && first < from) rc = read_records(p, first, from, false);
    if (rc == 0 && want && from < next) rc = read_records(p, from, next, true);
    /* The sources saw the whole history when it starts at offset 0 and all of it was read. */
    bool whole = rc == 0 && from == 0 && (next == 0 || want);
    for (size_t i = 0; i < p->nsrc && rc == 0; i++) {
        struct tp_source *s = p->src[i];
        if (s->ops->resume_end) s->ops->resume_end(s, whole);
        int err = atomic_load_explicit(&s->error, memory_order_acquire);
        if (err < 0) {
            tp_error("source %s cannot continue the journal (see above)", s->spec);
            rc = err;
        }
    }
    return rc;
}

/* Shows the journal's records [from, to) to the sources: events and positions (tail), or
 * positions only (!tail). */
static int read_records(struct tp_pipeline *p, uint64_t from, uint64_t to, bool tail)
{
    struct tp_cursor *c;
    int rc = tp_cursor_open(p->jdir, from, p->j, false, &c);
    if (rc < 0) {
        tp_error("journal %s: cannot read its records from offset %llu: %s", p->jdir,
                 (unsigned long long)from, strerror(-rc));
        return rc;
    }
    uint64_t seen = 0, positions = 0;
    for (;;) {
        const void *rec;
        size_t n;
        uint64_t off;
        rc = tp_cursor_next(c, &rec, &n, &off);
        if (rc <= 0) break;
        if (off >= to) break;
        enum tp_rec_type t = tp_rec_type(rec, n);
        if (t == TP_REC_SOURCE_POS) {
            struct tp_source_pos pos;
            if (tp_rec_get_source_pos(rec, n, &pos) < 0) continue;
            for (size_t i = 0; i < p->nsrc; i++)
                if (p->src[i]->ops->resume_pos) p->src[i]->ops->resume_pos(p->src[i], &pos, tail);
            positions++;
            continue;
        }
        if (!tail || t != TP_REC_EVENT) continue;
        struct tp_event e;
        if (tp_rec_get_event(rec, n, &e) < 0) continue;
        for (size_t i = 0; i < p->nsrc; i++)
            if (p->src[i]->ops->resume) p->src[i]->ops->resume(p->src[i], &e);
        seen++;
    }
    if (rc < 0)
        tp_error("journal %s: bad record at %s: %s", p->jdir, tp_cursor_where(c), strerror(-rc));
    else if (tail)
        tp_info("sources resume after offset %llu (%llu event and %llu position record(s) read)",
                (unsigned long long)to, (unsigned long long)seen, (unsigned long long)positions);
    else
        tp_info("journal %s: %llu position record(s) before offset %llu", p->jdir,
                (unsigned long long)positions, (unsigned long long)to);
    tp_cursor_close(c);
    return rc < 0 ? rc : 0;
}

/* Stops the sources, then the writer; closes the journal. Returns the first error. */
static int stop_all(struct tp_pipeline *p)
{
    int rc = 0;
    for (size_t i = 0; i < p->nsrc; i++) {
        int src_rc = tp_source_stop(p->src[i]);
        if (src_rc < 0 && rc == 0) {
            tp_error("source %s failed: %s", p->src[i]->spec, strerror(-src_rc));
            rc = src_rc;
        }
    }
    atomic_store_explicit(&p->stopping, true, memory_order_release);
    tp_bell_ring(&p->data);
    if (p->writer_on) {
        pthread_join(p->writer, NULL);
        p->writer_on = false;
    }
    int wrc = atomic_load_explicit(&p->werr, memory_order_acquire);
    bool told = wrc < 0; /* the writer logged its failure */
    if (p->proc) {
        /* The writer is joined: every input record is durable; the process stage reads them
         * all, commits the output journal and ends. */
        int prc = tp_process_stop(p->proc, &p->final_proc);
        p->proc = NULL;
        if (prc < 0 && rc == 0) rc = prc;
        if (prc == 0)
            atomic_store_explicit(&p->out_bound, p->final_proc.output_next, memory_order_release);
    }
    /* Both journals are complete: each sink reads to the end and acknowledges everything (or
     * gives up after sink_give_up_ns when its server is away; it resumes at the next start). */
    for (size_t i = 0; i < p->nsink && p->sink[i]; i++) tp_sinkrun_finish(p->sink[i]);
    for (size_t i = 0; i < p->nsink; i++) {
        if (!p->sink[i]) {
            if (p->sink_self[i]) p->sink_ops[i]->free(p->sink_self[i]);
            p->sink_self[i] = NULL;
            continue;
        }
        int64_t give_up = p->o.sink_give_up_ns ? p->o.sink_give_up_ns : 10 * TP_NS_PER_SEC;
        int src = tp_sinkrun_stop(p->sink[i], give_up);
        p->sink[i] = NULL;
        p->sink_self[i] = NULL;
        if (src < 0 && rc == 0) rc = src;
    }
    if (p->j) {
        p->final_next = tp_journal_next_offset(p->j);
        char where[PATH_CAP + 64];
        snprintf(where, sizeof where, "%s", tp_journal_error_where(p->j));
        int crc = tp_journal_close(p->j);
        if (wrc == 0) wrc = crc;
        p->j = NULL;
        if (wrc < 0 && !told)
            tp_error("journal %s: %s%s%s", p->jdir, where, *where ? " failed: " : "",
                     strerror(-wrc));
    }
    if (wrc < 0 && rc == 0) rc = wrc;
    return rc;
}

int tp_pipeline_start(struct tp_pipeline *p)
{
    struct tp_journal_recovery rep;
    int rc = tp_journal_open(&p->o.journal, &p->j, &rep);
    if (rc < 0) {
        if (rc == -EBUSY)
            tp_error("journal %s: in use by another process (it holds the journal's lock)",
                     p->jdir);
        else
            tp_error("journal %s: cannot open: %s", p->jdir, strerror(-rc));
        p->j = NULL;
        return rc;
    }
    log_recovery(p, &rep);
    for (size_t i = 0; i < p->nsrc; i++) {
        rc = tp_ring_init(&p->ring[i], p->o.ring_capacity, &p->data);
        if (rc < 0) {
            tp_error("cannot make a ring of %zu events: %s", p->o.ring_capacity, strerror(-rc));
            goto out_stop;
        }
        p->nring++;
        p->src[i]->ring = &p->ring[i];
    }
    rc = resume_sources(p);
    if (rc < 0) goto out_stop;
    struct tp_process_opts pro = {
        .data_dir = p->o.data_dir,
        .input_dir = p->jdir,
        .input = p->j,
        .durable_only = p->o.journal.sync != TP_SYNC_NONE,
        .sync = p->o.journal.sync,
        .checkpoint_every = p->o.checkpoint_every,
        .live = p->o.live,
        .live_events_below = p->o.live_durable ? UINT64_MAX : tp_journal_next_offset(p->j),
        .checkpointed = &p->proc_checkpoint,
        .out_bound = &p->out_bound,
        .segment_bytes = p->o.journal.segment_bytes,
        .retention_bytes = p->o.retention_bytes,
        .retention_age_ns = p->o.retention_age_ns,
        .sinks_keep = &p->out_keep,
    };
    rc = tp_process_start(&pro, &p->proc);
    if (rc < 0) {
        p->proc = NULL;
        goto out_stop;
    }
    for (size_t i = 0; i < p->nsink; i++) {
        struct tp_sinkrun_env env = {.dir = {p->jdir, p->odir}, .bound = sink_bound, .ctx = p};
        void *self = p->sink_self[i];
        p->sink_self[i] = NULL; /* taken over by the runner, also on failure */
        rc = tp_sinkrun_start(p->sink_ops[i], self, &env, &p->sink[i]);
        if (rc < 0) {
            p->sink[i] = NULL;
            goto out_stop;
        }
        tp_info("sink %s started", p->sink_ops[i]->name);
    }
    rc = -pthread_create(&p->writer, NULL, writer_main, p);
    if (rc < 0) {
        tp_error("cannot start the journal writer: %s", strerror(-rc));
        goto out_stop;
    }
    p->writer_on = true;
    p->started_mono = tp_mono_ns();
    for (size_t i = 0; i < p->nsrc; i++) {
        rc = tp_source_start(p->src[i]);
        if (rc < 0) {
            tp_error("cannot start source %s: %s", p->src[i]->spec, strerror(-rc));
            goto out_stop;
        }
        tp_info("source %s started (%s)", p->src[i]->spec,
                p->src[i]->live ? "live: drops when its ring is full"
                                : "waits when its ring is full");
    }
    return 0;

out_stop:
    stop_all(p);
    return rc;
}

/* ---- run -------------------------------------------------------------------------------- */

static void human_bytes(uint64_t n, char *out, size_t cap)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < TP_ARRAY_LEN(unit)) v /= 1024, u++;
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void print_status(const struct tp_pipeline_stats *s, double rate)
{
    char bytes[32];
    human_bytes(s->bytes, bytes, sizeof bytes);
    tp_info("status: %.0f ev/s, %llu events, journal next %llu durable %llu, %s, drops %llu; "
            "engine at %llu, %llu bars, %llu anomalies",
            rate, (unsigned long long)s->events, (unsigned long long)s->next_offset,
            (unsigned long long)s->durable, bytes, (unsigned long long)s->drops,
            (unsigned long long)s->proc_next, (unsigned long long)s->bars,
            (unsigned long long)s->anomalies);
}

/* Sources, sinks and queues for /metrics and the dashboard (main thread, while running). */
static void publish_live(struct tp_pipeline *p)
{
    struct tp_live *l = p->o.live;
    if (!l) return;
    uint64_t bad = 0;
    for (size_t i = 0; i < p->nsrc; i++)
        bad += atomic_load_explicit(&p->src[i]->bad, memory_order_relaxed);
    tp_live_set_source_bad(l, bad);
    for (size_t i = 0; i < p->nsrc; i++) {
        struct tp_source *s = p->src[i];
        int link = atomic_load_explicit(&s->link, memory_order_relaxed);
        enum tp_status st = atomic_load_explicit(&s->error, memory_order_relaxed)
                                ? TP_ST_DISCONNECTED
                            : atomic_load_explicit(&s->ended, memory_order_relaxed) ? TP_ST_EOF
                            : link ? (enum tp_status)link
                                   : TP_ST_CONNECTED;
        tp_live_set_source(l, s->spec, st, atomic_load_explicit(&s->emitted, memory_order_relaxed),
                           i < p->nring ? tp_ring_drops(&p->ring[i]) : 0);
        struct tp_connstats cs;
        if (tp_source_connstats(s, tp_now_ns(), tp_mono_ns(), &cs))
            tp_live_set_source_conn(l, s->spec, &cs);
        if (i < p->nring) {
            char name[96];
            snprintf(name, sizeof name, "ring:%.80s", s->spec);
            tp_live_set_queue(l, name, tp_ring_count(&p->ring[i]), tp_ring_capacity(&p->ring[i]),
                              tp_ring_drops(&p->ring[i]));
        }
    }
    for (size_t i = 0; i < p->nsink && p->sink[i]; i++) {
        struct tp_sinkrun_stats s;
        tp_sinkrun_stats(p->sink[i], &s);
        tp_live_set_sink(l, s.name, s.written, s.failures);
        /* Lag: for each log the sink reads, its bound minus the sink's acknowledged offset. */
        uint64_t lag = 0;
        for (int g = 0; g < 2; g++) {
            if (s.ack[g] == TP_SINK_NO_ACK) continue;
            uint64_t bound = sink_bound(p, (enum tp_sink_log)g);
            if (bound > s.ack[g]) lag += bound - s.ack[g];
        }
        tp_live_set_sink_health(l, s.name, s.up, lag, s.error ? strerror(s.error) : NULL);
    }
}

static bool all_ended(const struct tp_pipeline *p)
{
    if (!p->nsrc) return true; /* no source: the input journal is all there is */
    for (size_t i = 0; i < p->nsrc; i++)
        if (!atomic_load_explicit(&p->src[i]->ended, memory_order_acquire)) return false;
    return true;
}

int tp_pipeline_run(struct tp_pipeline *p, const sigset_t *stop_signals)
{
    int64_t interval = p->o.status_interval_ns;
    int64_t now = tp_mono_ns(), next_status = now + interval, last_t = now, next_live = now;
    uint64_t last_events = 0;
    const char *why = NULL;
    for (;;) {
        now = tp_mono_ns();
        int64_t wait = p->o.exit_at_eof ? POLL_NS / 10 : POLL_NS;
        if (interval > 0 && next_status - now < wait) wait = TP_MAX(next_status - now, 0);
        struct timespec ts = {.tv_sec = (time_t)(wait / TP_NS_PER_SEC),
                              .tv_nsec = (long)(wait % TP_NS_PER_SEC)};
        int sig = sigtimedwait(stop_signals, NULL, &ts);
        if (sig > 0) {
            tp_info("received %s: stopping", sig == SIGINT    ? "SIGINT"
                                             : sig == SIGTERM ? "SIGTERM"
                                                              : "a stop signal");
            break;
        }
        if (atomic_load_explicit(&p->werr, memory_order_acquire)) {
            why = "the journal writer failed";
            break;
        }
        if (p->proc && tp_process_error(p->proc)) {
            why = "the process stage failed";
            break;
        }
        bool failed = false;
        for (size_t i = 0; i < p->nsrc; i++)
            failed |= atomic_load_explicit(&p->src[i]->error, memory_order_acquire) != 0;
        if (failed) {
            why = "a source failed";
            break;
        }
        for (size_t i = 0; i < p->nsink && p->sink[i] && !why; i++)
            if (tp_sinkrun_fatal(p->sink[i])) why = "a sink failed";
        if (why) break;
        if (p->o.exit_at_eof && all_ended(p)) {
            tp_info("every source reached its end: stopping");
            p->ended_at_eof = true;
            break;
        }
        now = tp_mono_ns();
        if (now >= next_live) {
            publish_live(p);
            next_live = now + LIVE_EVERY;
        }
        if (interval > 0 && now >= next_status) {
            struct tp_pipeline_stats s;
            tp_pipeline_stats(p, &s);
            double secs = (double)(now - last_t) / 1e9;
            print_status(&s, secs > 0 ? (double)(s.events - last_events) / secs : 0);
            last_events = s.events;
            last_t = now;
            next_status += interval;
            if (next_status <= now) next_status = now + interval;
        }
    }
    struct tp_pipeline_stats s;
    int rc = stop_all(p);
    tp_pipeline_stats(p, &s);
    double secs = (double)(tp_mono_ns() - p->started_mono) / 1e9;
    double wsecs = (double)(atomic_load_explicit(&p->last_append_mono, memory_order_relaxed) -
                            p->started_mono) /
                   1e9;
    uint64_t rejected = atomic_load_explicit(&p->rejected, memory_order_relaxed);
    tp_info("stopped: %llu events in %.3f s (%.0f ev/s; %.0f ev/s until the last append), "
            "journal next %llu%s, drops %llu, gaps %llu; engine at %llu, %llu bars, "
            "%llu anomalies%s",
            (unsigned long long)s.events, secs, secs > 0 ? (double)s.events / secs : 0,
            wsecs > 0 ? (double)s.events / wsecs : 0, (unsigned long long)p->final_next,
            rc < 0 ? "" : " all durable", (unsigned long long)s.drops, (unsigned long long)s.gaps,
            (unsigned long long)s.proc_next, (unsigned long long)s.bars,
            (unsigned long long)s.anomalies, rejected ? ", some events refused (see above)" : "");
    if (why || rc < 0) {
        tp_error("tickpipe run: %s", why ? why : "shutdown failed");
        return TP_EXIT_RUNTIME;
    }
    return TP_EXIT_OK;
}

void tp_pipeline_free(struct tp_pipeline *p)
{
    if (!p) return;
    if (p->writer_on || p->j || p->nsink) stop_all(p);
    for (size_t i = 0; i < p->nsrc; i++) tp_source_free(p->src[i]);
    for (size_t i = 0; i < p->nring; i++) tp_ring_fini(&p->ring[i]);
    free(p);
}

bool tp_pipeline_ended_at_eof(const struct tp_pipeline *p)
{
    return p->ended_at_eof;
}
