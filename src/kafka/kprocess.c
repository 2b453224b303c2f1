/*
 * kprocess.c — the process role: consumer group → per-partition engines → output topics, with
 * per-partition checkpoints (see kprocess.h for the exactly-once argument).
 *
 * State per assigned partition (struct part): its engine, `next` (the next input offset to
 * process; -1 before the first record of a partition without checkpoint), `ck_next` (the
 * `next` of its last durable checkpoint), `committed` (the offset last committed).
 *
 * Invariants:
 *  1. The consumer, the producer, the engines and every struct part belong to the worker
 *     thread; rebalance callbacks and delivery reports run inside its poll calls. The main
 *     thread reads only atomics, and touches the handles only after the worker is joined.
 *  2. For every partition: committed ≤ ck_next ≤ next, and the outputs of the records before
 *     ck_next were delivered before the checkpoint was produced (checkpoint() flushes first).
 *  3. After the first failure (`err`), nothing more is checkpointed or committed.
 *  4. Sinks (ksinks.h): a partition's sink instances are open unless it is `down`; while down
 *     the partition is paused in the consumer, its records are dropped unprocessed, and it is
 *     neither checkpointed nor committed. When its sinks open again it is reset to its last
 *     checkpoint (engine restored, consumer seeked to its `next`) and resumed: the sinks skip
 *     what they already hold. checkpoint() flushes a partition's sinks (final) before its
 *     checkpoint, and leaves out a partition whose sinks fail then.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/backoff.h"
#include "core/buf.h"
#include "core/instrument.h"
#include "core/log.h"
#include "core/tptime.h"
#include "engine/engine.h"
#include "kafka/kcheckpoint.h"
#include "kafka/kcodec.h"
#include "kafka/kprocess.h"
#include "log/record.h"

#define POLL_MS        50
#define CK_CHECK_EVERY (100 * TP_NS_PER_MS)
#define LIVE_EVERY     TP_NS_PER_SEC
#define PARTIAL_EVERY  (250 * TP_NS_PER_MS)
#define PARTIAL_SLOTS  4096
#define MAIN_POLL_NS   (100 * TP_NS_PER_MS)
#define OUT_MAX        ((size_t)64 << 10)
#define BAD_LOG_MAX    10
#define FAIL_LOG_MAX   10
#define LIVE_LAG_PARTS 16                  /* partitions whose lag is published one by one */
#define HEALTH_WINDOW  (5 * TP_NS_PER_SEC) /* outputs shown down this long after an error */

/* Output topics; a message's opaque is its index + 1 (checkpoints have none). */
enum out { OUT_BARS, OUT_ANOM, OUT_LATE, OUT_GAPS, OUT_N };

struct tp_kprocess;

struct part {
    struct tp_kprocess *k;
    int32_t p;
    struct tp_engine *eng;
    int64_t next, ck_next, committed;
    uint64_t since_ck;
    int64_t ck_at;
    bool eof;
    int64_t end; /* after tp_kprocess_finish: the partition's end to reach (-1 unknown) */
    struct tp_ksinks *sinks; /* NULL without sinks */
    bool down;               /* invariant 4 */
    size_t down_kind;        /* the sink that failed */
    int64_t retry_at;        /* when to open the sinks again */
    struct tp_backoff bo;
    uint32_t kout; /* outputs made so far by the record being processed */
};

struct tp_kprocess {
    struct tp_kafka_health health; /* first: the librdkafka opaque (kafka.h) */
    struct tp_kprocess_opts o;
    rd_kafka_t *prod, *cons;
    rd_kafka_topic_t *rkt[OUT_N];
    const char *out_topic[OUT_N];
    uint64_t queue_cap; /* the producer's queue.buffering.max.messages */
    int64_t cur_offset; /* worker: the input offset being processed (late events' keys) */
    struct tp_kck ck;
    bool ck_on;
    struct part *parts[TP_KAFKA_MAX_PARTITIONS]; /* by partition number */
    size_t nparts;
    struct tp_engine_cfg cfg;
    struct tp_kafka_dec dec;
    struct tp_buf key, val, state;
    int64_t partial_at[PARTIAL_SLOTS];
    struct tp_ksink_totals sink_tot[TP_KSINKS_MAX]; /* worker */
    struct tp_buf rec;                              /* worker: a record for the sinks */
    _Atomic uint64_t sink_resets;                   /* partitions reset after a sink outage */
    bool assigning;                                 /* worker: inside an assignment */

    pthread_t worker;
    bool worker_on;
    _Atomic bool stop;    /* main → worker: leave */
    _Atomic bool reached; /* worker → main: every partition read to its end (exit_at_eof) */
    _Atomic bool finish;  /* main → worker: the input is complete; stop at its end */
    _Atomic int err;      /* the first failure (invariant 3) */
    _Atomic uint64_t records, bad, bars, anomalies, delivered, delivered_out, failed, checkpoints,
        restores, rebalances, commit_errors, npart, late, gaps;
    _Atomic uint64_t dlv[OUT_N];        /* deliveries per output topic */
    _Atomic uint64_t lat_sum_us, lat_n; /* delivery latency of outputs */
    uint64_t last_lat_sum, last_lat_n;  /* worker: at the last publish */
    int64_t lat_us;                     /* worker: mean of the last publish period, -1 none */
    _Atomic int64_t lag;
    int64_t started_mono;
    /* main thread: the run loop's state (tp_kprocess_step) */
    int64_t next_status, last_t;
    uint64_t last_records;
};

static void fail(struct tp_kprocess *k, int rc)
{
    int zero = 0;
    atomic_compare_exchange_strong(&k->err, &zero, rc);
}

static bool failed(struct tp_kprocess *k)
{
    if (atomic_load_explicit(&k->health.fatal, memory_order_relaxed)) fail(k, -EIO);
    return atomic_load_explicit(&k->err, memory_order_acquire) != 0;
}

static void inc(_Atomic uint64_t *a)
{
    atomic_fetch_add_explicit(a, 1, memory_order_relaxed);
}

void tp_kprocess_stats(struct tp_kprocess *k, struct tp_kprocess_stats *ret)
{
    struct tp_kprocess_stats s = {
        .records = atomic_load_explicit(&k->records, memory_order_relaxed),
        .bad = atomic_load_explicit(&k->bad, memory_order_relaxed),
        .bars = atomic_load_explicit(&k->bars, memory_order_relaxed),
        .anomalies = atomic_load_explicit(&k->anomalies, memory_order_relaxed),
        .delivered = atomic_load_explicit(&k->delivered, memory_order_relaxed),
        .failed = atomic_load_explicit(&k->failed, memory_order_relaxed),
        .checkpoints = atomic_load_explicit(&k->checkpoints, memory_order_relaxed),
        .restores = atomic_load_explicit(&k->restores, memory_order_relaxed),
        .rebalances = atomic_load_explicit(&k->rebalances, memory_order_relaxed),
        .commit_errors = atomic_load_explicit(&k->commit_errors, memory_order_relaxed),
        .partitions = atomic_load_explicit(&k->npart, memory_order_relaxed),
        .lag = atomic_load_explicit(&k->lag, memory_order_relaxed),
    };
    *ret = s;
}

/* ---- outputs ---------------------------------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct tp_kprocess *k = opaque;
    if (!m->err) {
        inc(&k->delivered);
        uintptr_t t = (uintptr_t)m->_private;
        if (t >= 1 && t <= OUT_N) {
            inc(&k->delivered_out);
            inc(&k->dlv[t - 1]);
            int64_t us = rd_kafka_message_latency(m);
            if (us >= 0) {
                atomic_fetch_add_explicit(&k->lat_sum_us, (uint64_t)us, memory_order_relaxed);
                inc(&k->lat_n);
            }
        }
        return;
    }
    uint64_t n = atomic_fetch_add_explicit(&k->failed, 1, memory_order_relaxed);
    if (n < FAIL_LOG_MAX)
        tp_error("kafka process: delivery to %s [%d] failed: %s (key %.*s)",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err),
                 (int)TP_MIN(m->key_len, 96), m->key ? (const char *)m->key : "");
    else if (n == FAIL_LOG_MAX)
        tp_error("kafka process: more deliveries failed (counted, not logged)");
    fail(k, -EIO);
}

/* Produces k->key / k->val to output topic t, waiting for room in librdkafka's queue. */
static void produce(struct tp_kprocess *k, enum out t, const char *type, int64_t ts)
{
    rd_kafka_topic_t *rkt = k->rkt[t];
    int64_t ms = ts > 0 ? ts / TP_NS_PER_MS : 0;
    while (!failed(k)) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            k->prod, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(k->key.p, k->key.len),
            RD_KAFKA_V_VALUE(k->val.p, k->val.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_TIMESTAMP(ms), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(t + 1)),
            RD_KAFKA_V_HEADER(TP_KAFKA_SCHEMA_HEADER, TP_KAFKA_SCHEMA_VERSION,
                              (ssize_t)strlen(TP_KAFKA_SCHEMA_VERSION)),
            RD_KAFKA_V_HEADER(TP_KAFKA_TYPE_HEADER, type, (ssize_t)strlen(type)), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(k->prod, 10);
            continue;
        }
        if (err) {
            tp_error("kafka process: cannot produce to %s: %s", rd_kafka_topic_name(rkt),
                     rd_kafka_err2str(err));
            fail(k, -EIO);
        }
        return;
    }
}

/* ---- sinks (invariant 4) ------------------------------------------------------------------ */

static void pause_part(struct tp_kprocess *k, int32_t p, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, k->o.kafka.topic_ticks, p);
    rd_kafka_resp_err_t err =
        pause ? rd_kafka_pause_partitions(k->cons, l) : rd_kafka_resume_partitions(k->cons, l);
    if (err || l->elems[0].err)
        tp_warn("kafka process: cannot %s %s [%d]: %s", pause ? "pause" : "resume",
                k->o.kafka.topic_ticks, (int)p, rd_kafka_err2str(err ? err : l->elems[0].err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* A sink of pt failed with rc: a fatal error stops the run; any other pauses the partition,
 * closes its sinks and schedules their reopening. */
static void sinks_down(struct tp_kprocess *k, struct part *pt, int rc, size_t kind)
{
    const char *name = k->o.sinks[kind].name;
    if (tp_ksinks_fatal(rc)) {
        tp_error("kafka process: sink %s of %s [%d]: %s: stopping", name, k->o.kafka.topic_ticks,
                 (int)pt->p, strerror(-rc));
        fail(k, rc);
        return;
    }
    int64_t now = tp_mono_ns(), d = tp_backoff_next(&pt->bo);
    pt->retry_at = now + d;
    if (pt->down) return;
    pt->down = true;
    pt->down_kind = kind;
    tp_ksinks_close(pt->sinks);
    if (!k->assigning) pause_part(k, pt->p, true); /* else after the assignment */
    tp_warn("kafka process: sink %s of %s [%d] failed (%s): partition paused; it resumes from "
            "its checkpoint once the sink opens again (next try in %.1f s)",
            name, k->o.kafka.topic_ticks, (int)pt->p, strerror(-rc), (double)d / 1e9);
}

/* The record in k->rec at `off` of `log` to pt's sinks. */
static void sink_write(struct tp_kprocess *k, struct part *pt, enum tp_sink_log log, uint64_t off)
{
    size_t kind = 0;
    int rc = tp_ksinks_write(pt->sinks, log, off, k->rec.p, k->rec.len, &kind);
    if (rc < 0) sinks_down(k, pt, rc, kind);
}

static bool sinks_on(struct part *pt)
{
    return pt->sinks && !pt->down;
}

/* The offset of pt's next output, or false after stopping the run (too many outputs). */
static bool out_offset(struct tp_kprocess *k, struct part *pt, uint64_t *ret)
{
    if (pt->kout > TP_KOFF_K_MAX) {
        tp_error("kafka process: the record at %s [%d] offset %lld made more than %u outputs, "
                 "more than the sinks' offsets hold (docs/kafka.md, \"Sinks\")",
                 k->o.kafka.topic_ticks, (int)pt->p, (long long)k->cur_offset,
                 (unsigned)TP_KOFF_K_MAX + 1);
        fail(k, -ERANGE);
        return false;
    }
    *ret = tp_koff(pt->p, k->cur_offset, pt->kout++);
    return true;
}

static void sink_bar(struct tp_kprocess *k, struct part *pt, const struct tp_bar *bar)
{
    uint64_t off;
    if (!out_offset(k, pt, &off) || !sinks_on(pt)) return;
    tp_buf_reset(&k->rec);
    if (tp_rec_put_bar(&k->rec, bar) == 0) sink_write(k, pt, TP_LOG_OUTPUT, off);
}

static void on_bar(void *ctx, const struct tp_bar *bar)
{
    struct part *pt = ctx;
    struct tp_kprocess *k = pt->k;
    tp_buf_reset(&k->key);
    tp_buf_reset(&k->val);
    if (tp_kafka_bar_key(&k->key, bar) < 0 || tp_kafka_bar_json(&k->val, bar) < 0) {
        tp_error("kafka process: a bar does not encode");
        fail(k, -EINVAL);
        return;
    }
    produce(k, OUT_BARS, "bar", bar->ts);
    inc(&k->bars);
    if (pt->sinks) sink_bar(k, pt, bar);
    if (k->o.live) tp_live_bar_final(k->o.live, bar);
}

static void on_anomaly(void *ctx, const struct tp_anomaly *a)
{
    struct part *pt = ctx;
    struct tp_kprocess *k = pt->k;
    tp_buf_reset(&k->key);
    tp_buf_reset(&k->val);
    if (tp_kafka_anomaly_key(&k->key, a) < 0 || tp_kafka_anomaly_json(&k->val, a) < 0) {
        tp_error("kafka process: an anomaly does not encode");
        fail(k, -EINVAL);
        return;
    }
    produce(k, OUT_ANOM, "anomaly", a->ts);
    inc(&k->anomalies);
    uint64_t off;
    if (pt->sinks && out_offset(k, pt, &off) && sinks_on(pt)) {
        tp_buf_reset(&k->rec);
        if (tp_rec_put_anomaly(&k->rec, a) == 0) sink_write(k, pt, TP_LOG_OUTPUT, off);
    }
    if (k->o.live) tp_live_anomaly(k->o.live, a);
}

/* A late trade, keyed by its input offset (two late trades may share a time). */
static void on_late(void *ctx, const struct tp_event *e, int64_t interval_ns)
{
    struct part *pt = ctx;
    struct tp_kprocess *k = pt->k;
    tp_buf_reset(&k->key);
    tp_buf_reset(&k->val);
    if (tp_kafka_late_key(&k->key, e, interval_ns, k->cur_offset) < 0 ||
        tp_kafka_late_json(&k->val, e, interval_ns) < 0) {
        tp_error("kafka process: a late event does not encode");
        fail(k, -EINVAL);
        return;
    }
    produce(k, OUT_LATE, "late", e->ts);
    inc(&k->late);
    uint64_t off;
    if (pt->sinks && out_offset(k, pt, &off) && sinks_on(pt)) {
        tp_buf_reset(&k->rec);
        if (tp_rec_put_late(&k->rec, e, interval_ns) == 0) sink_write(k, pt, TP_LOG_OUTPUT, off);
    }
}

static void on_gap(void *ctx, const struct tp_gap *g)
{
    struct part *pt = ctx;
    struct tp_kprocess *k = pt->k;
    tp_buf_reset(&k->key);
    tp_buf_reset(&k->val);
    if (tp_kafka_gap_key(&k->key, g) < 0 || tp_kafka_gap_json(&k->val, g) < 0) {
        tp_error("kafka process: a gap does not encode");
        fail(k, -EINVAL);
        return;
    }
    produce(k, OUT_GAPS, "gap", g->ts);
    inc(&k->gaps);
    uint64_t off;
    if (pt->sinks && out_offset(k, pt, &off) && sinks_on(pt)) {
        tp_buf_reset(&k->rec);
        if (tp_rec_put_gap(&k->rec, g) == 0) sink_write(k, pt, TP_LOG_OUTPUT, off);
    }
}

/* Waits until everything produced is delivered. 0, or the failure. */
static int flush_all(struct tp_kprocess *k)
{
    int64_t deadline = tp_mono_ns() + k->o.kafka.timeout_ns;
    while (rd_kafka_outq_len(k->prod) > 0 && !failed(k)) {
        if (tp_mono_ns() > deadline) {
            tp_error("kafka process: %d message(s) not delivered within the timeout",
                     rd_kafka_outq_len(k->prod));
            fail(k, -ETIMEDOUT);
            break;
        }
        rd_kafka_flush(k->prod, 100);
    }
    return atomic_load_explicit(&k->err, memory_order_acquire);
}

/* ---- checkpoints ------------------------------------------------------------------------ */

/* Checkpoints and commits the given partitions (invariant 2). 0 or the failure. */
static int checkpoint(struct tp_kprocess *k, struct part **given, size_t ngiven)
{
    if (failed(k)) return atomic_load_explicit(&k->err, memory_order_acquire);
    /* The sinks first (invariant 4): a partition whose sinks are down, or fail now, is not
     * checkpointed (its last checkpoint stays behind what they hold). */
    struct part *ps[TP_KAFKA_MAX_PARTITIONS];
    size_t n = 0;
    int64_t t = tp_mono_ns();
    for (size_t i = 0; i < ngiven; i++) {
        struct part *pt = given[i];
        if (pt->down) continue;
        if (pt->sinks) {
            size_t kind = 0;
            int src = tp_ksinks_flush(pt->sinks, true, t, &kind);
            if (src < 0) {
                sinks_down(k, pt, src, kind);
                if (failed(k)) return atomic_load_explicit(&k->err, memory_order_acquire);
                continue;
            }
            tp_backoff_reset(&pt->bo);
        }
        ps[n++] = pt;
    }
    int rc = flush_all(k); /* the outputs */
    size_t wrote = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct part *pt = ps[i];
        if (pt->next < 0 || pt->next == pt->ck_next) continue;
        tp_buf_reset(&k->state);
        rc = tp_engine_save(pt->eng, &k->state);
        if (rc < 0) {
            tp_error("kafka process: cannot save the engine of partition %d: %s", (int)pt->p,
                     strerror(-rc));
            fail(k, rc);
            break;
        }
        rc = tp_kck_write(&k->ck, pt->p, pt->next, k->state.p, k->state.len);
        if (rc < 0) fail(k, rc);
        wrote++;
    }
    if (rc == 0 && wrote) rc = flush_all(k); /* then the checkpoints */
    if (rc < 0) return rc;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    int64_t now = tp_mono_ns();
    for (size_t i = 0; i < n; i++) {
        struct part *pt = ps[i];
        if (pt->next < 0) continue;
        if (pt->ck_next != pt->next) inc(&k->checkpoints);
        pt->ck_next = pt->next;
        pt->since_ck = 0;
        pt->ck_at = now;
        if (pt->committed != pt->next)
            rd_kafka_topic_partition_list_add(l, k->o.kafka.topic_ticks, pt->p)->offset = pt->next;
    }
    if (l->cnt) {
        /* Offsets are progress markers (the checkpoint is what a new owner resumes from): a
         * refused commit, e.g. after the group moved on, is counted, not fatal. */
        rd_kafka_resp_err_t err = rd_kafka_commit(k->cons, l, 0);
        if (err) {
            inc(&k->commit_errors);
            tp_warn("kafka process: offset commit failed: %s", rd_kafka_err2str(err));
        } else {
            for (int i = 0; i < l->cnt; i++) {
                struct part *pt = k->parts[l->elems[i].partition];
                if (pt) pt->committed = l->elems[i].offset;
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return 0;
}

static void checkpoint_due(struct tp_kprocess *k, bool all)
{
    struct part *due[TP_KAFKA_MAX_PARTITIONS];
    size_t n = 0;
    int64_t now = tp_mono_ns();
    for (size_t p = 0; p < TP_KAFKA_MAX_PARTITIONS && n < k->nparts; p++) {
        struct part *pt = k->parts[p];
        if (!pt || pt->down) continue;
        bool dirty = pt->next >= 0 && (pt->next != pt->ck_next || pt->committed != pt->next);
        if (dirty && (all || pt->since_ck >= k->o.kafka.checkpoint_every ||
                      now - pt->ck_at >= k->o.kafka.checkpoint_interval_ns))
            due[n++] = pt;
    }
    if (n) checkpoint(k, due, n);
}

/* ---- partitions ------------------------------------------------------------------------- */

static void part_free(struct part *pt)
{
    if (!pt) return;
    tp_ksinks_free(pt->sinks);
    tp_engine_free(pt->eng);
    free(pt);
}

/* pt's engine, from its latest checkpoint when there is one (pt->next = pt->ck_next = its
 * offset, else -1). 0 or a negative errno (logged). */
static int engine_restore(struct tp_kprocess *k, struct part *pt)
{
    struct tp_engine_out eo = {
        .ctx = pt, .bar = on_bar, .anomaly = on_anomaly, .late = on_late, .gap = on_gap};
    pt->eng = tp_engine_new(&k->cfg, &eo);
    if (!pt->eng) return -ENOMEM;
    pt->next = pt->ck_next = -1;
    int64_t next;
    int rc = tp_kck_read(&k->ck, pt->p, &next, &k->state);
    if (rc == 1) {
        rc = tp_engine_load(pt->eng, k->state.p, k->state.len);
        if (rc < 0) {
            tp_error("kafka process: the checkpoint of partition %d does not load (%s): were "
                     "the engine settings changed? Use another --kafka-group to start over",
                     (int)pt->p, strerror(-rc));
        } else {
            pt->next = pt->ck_next = next;
            inc(&k->restores);
        }
    }
    if (rc < 0) {
        tp_engine_free(pt->eng);
        pt->eng = NULL;
    }
    return rc < 0 ? rc : 0;
}

/* A partition's engine, from its latest checkpoint when there is one, and its sinks. NULL on
 * failure (logged, sticky). */
static struct part *part_restore(struct tp_kprocess *k, int32_t p)
{
    struct part *pt = calloc(1, sizeof *pt);
    if (!pt) {
        fail(k, -ENOMEM);
        return NULL;
    }
    pt->k = k;
    pt->p = p;
    pt->next = pt->ck_next = pt->committed = -1;
    pt->ck_at = tp_mono_ns();
    pt->end = -1;
    int64_t bmax = k->o.sink_max_backoff_ns > 0 ? k->o.sink_max_backoff_ns : 30 * TP_NS_PER_SEC;
    tp_backoff_init(&pt->bo, 100 * TP_NS_PER_MS, bmax, (uint64_t)pt->ck_at ^ (uint64_t)p);
    int rc = engine_restore(k, pt);
    if (rc == 0 && k->o.nsinks) {
        rc = tp_ksinks_new(k->o.sinks, k->o.nsinks, k->sink_tot, k->o.kafka.topic_ticks, p,
                           &pt->sinks);
        if (rc < 0) {
            tp_error("kafka process: cannot make the sinks of partition %d: %s", (int)p,
                     strerror(-rc));
        } else {
            size_t kind = 0;
            int src = tp_ksinks_open(pt->sinks, &kind);
            if (src < 0) sinks_down(k, pt, src, kind); /* paused once assigned */
        }
    }
    if (rc < 0 || failed(k)) {
        fail(k, rc < 0 ? rc : -EIO);
        part_free(pt);
        return NULL;
    }
    return pt;
}

/* After a sink outage (invariant 4): the sinks opened again; back to the last checkpoint. */
static void part_reset(struct tp_kprocess *k, struct part *pt)
{
    struct tp_engine *old = pt->eng;
    pt->eng = NULL;
    int rc = engine_restore(k, pt);
    if (rc < 0) {
        pt->eng = old;
        fail(k, rc);
        return;
    }
    tp_engine_free(old);
    pt->since_ck = 0;
    pt->eof = false;
    pt->end = -1;
    pt->down = false;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, k->o.kafka.topic_ticks, pt->p)->offset =
        pt->next >= 0 ? pt->next : RD_KAFKA_OFFSET_BEGINNING;
    int tmo = (int)TP_MIN(k->o.kafka.timeout_ns / TP_NS_PER_MS, 10000);
    rd_kafka_error_t *e = rd_kafka_seek_partitions(k->cons, l, tmo);
    if (e || l->elems[0].err) {
        tp_error("kafka process: cannot seek %s [%d] back to its checkpoint: %s",
                 k->o.kafka.topic_ticks, (int)pt->p,
                 e ? rd_kafka_error_string(e) : rd_kafka_err2str(l->elems[0].err));
        if (e) rd_kafka_error_destroy(e);
        fail(k, -EIO);
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (failed(k)) return;
    pause_part(k, pt->p, false);
    inc(&k->sink_resets);
    if (pt->next >= 0)
        tp_info("kafka process: sinks of %s [%d] open again: resuming from its checkpoint at "
                "offset %lld",
                k->o.kafka.topic_ticks, (int)pt->p, (long long)pt->next);
    else
        tp_info("kafka process: sinks of %s [%d] open again: resuming from its start",
                k->o.kafka.topic_ticks, (int)pt->p);
}

/* Periodic sink flushes, and the reopening of those that failed: one reopening per call,
 * as an open may wait for its server (PostgreSQL's connect timeout, 10 s) and the poll loop
 * must go on between two. */
static void sinks_tick(struct tp_kprocess *k, int64_t now)
{
    size_t seen = 0;
    bool tried = false;
    for (int32_t p = 0; p < TP_KAFKA_MAX_PARTITIONS && seen < k->nparts && !failed(k); p++) {
        struct part *pt = k->parts[p];
        if (!pt) continue;
        seen++;
        if (!pt->sinks) continue;
        size_t kind = 0;
        if (!pt->down) {
            int rc = tp_ksinks_flush(pt->sinks, false, now, &kind);
            if (rc < 0) sinks_down(k, pt, rc, kind);
            continue;
        }
        if (now < pt->retry_at || tried) continue;
        tried = true;
        int rc = tp_ksinks_open(pt->sinks, &kind);
        if (rc < 0)
            sinks_down(k, pt, rc, kind); /* already down: the next try, later */
        else
            part_reset(k, pt);
    }
}

static void on_rebalance(rd_kafka_t *c, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *l,
                         void *opaque)
{
    struct tp_kprocess *k = opaque;
    bool coop = !strcmp(rd_kafka_rebalance_protocol(c), "COOPERATIVE");
    inc(&k->rebalances);
    char list[512];
    size_t o = 0;
    list[0] = 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < l->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &l->elems[i];
            int32_t p = tp->partition;
            if (p < 0 || p >= TP_KAFKA_MAX_PARTITIONS || failed(k)) continue;
            if (!k->parts[p]) {
                k->assigning = true;
                k->parts[p] = part_restore(k, p);
                k->assigning = false;
                if (k->parts[p]) k->nparts++;
            }
            struct part *pt = k->parts[p];
            tp->offset = pt && pt->next >= 0 ? pt->next : RD_KAFKA_OFFSET_BEGINNING;
            if (o < sizeof list - 48) {
                int w = pt && pt->next >= 0
                            ? snprintf(list + o, sizeof list - o, " %d@%lld", (int)p,
                                       (long long)pt->next)
                            : snprintf(list + o, sizeof list - o, " %d@start", (int)p);
                if (w > 0) o += (size_t)w;
            }
        }
        tp_info("kafka process: assigned %s partition(s)%s (from the checkpoint offsets)",
                k->o.kafka.topic_ticks, list);
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(c, l);
            if (e) {
                tp_error("kafka process: assign: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                fail(k, -EIO);
            }
        } else {
            rd_kafka_assign(c, l);
        }
        for (int i = 0; i < l->cnt; i++) { /* sinks that did not open: paused (invariant 4) */
            int32_t p = l->elems[i].partition;
            if (p >= 0 && p < TP_KAFKA_MAX_PARTITIONS && k->parts[p] && k->parts[p]->down)
                pause_part(k, p, true);
        }
    } else {
        bool lost = rd_kafka_assignment_lost(c);
        struct part *ps[TP_KAFKA_MAX_PARTITIONS];
        size_t n = 0;
        for (int i = 0; i < l->cnt; i++) {
            int32_t p = l->elems[i].partition;
            if (p >= 0 && p < TP_KAFKA_MAX_PARTITIONS && k->parts[p]) ps[n++] = k->parts[p];
            if (o < sizeof list - 16) {
                int w = snprintf(list + o, sizeof list - o, " %d", (int)p);
                if (w > 0) o += (size_t)w;
            }
        }
        /* What is given up is checkpointed and committed first, so its next owner repeats
         * nothing (a lost assignment too: the checkpoint is valid, a commit may be refused). */
        if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) checkpoint(k, ps, n);
        for (size_t i = 0; i < n; i++) /* the next owner of a paused one must not inherit it */
            if (ps[i]->down) pause_part(k, ps[i]->p, false);
        for (size_t i = 0; i < n; i++) {
            k->parts[ps[i]->p] = NULL;
            part_free(ps[i]);
            k->nparts--;
        }
        tp_info("kafka process: %s partition(s)%s%s", lost ? "lost" : "revoked", list,
                failed(k) ? " (after a failure: not checkpointed)"
                          : ", checkpointed and committed");
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(c, l);
            if (e) rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(c, NULL);
        }
    }
    atomic_store_explicit(&k->npart, k->nparts, memory_order_relaxed);
}

/* ---- the worker thread ------------------------------------------------------------------ */

static void publish_partials(struct tp_kprocess *k, struct part *pt, const struct tp_event *e,
                             int64_t now)
{
    int64_t *at = &k->partial_at[e->instr % PARTIAL_SLOTS];
    if (now - *at < PARTIAL_EVERY) return;
    *at = now;
    for (int i = 0; i < TP_LIVE_MAX_INTERVALS; i++) {
        struct tp_bar bar;
        if (tp_engine_partial(pt->eng, e->instr, i, &bar) == 0) tp_live_bar_update(k->o.live, &bar);
    }
}

static bool schema_ok(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) || !h) return true; /* no headers: accept */
    const void *v;
    size_t n;
    if (rd_kafka_header_get_last(h, TP_KAFKA_SCHEMA_HEADER, &v, &n)) return true;
    return n == strlen(TP_KAFKA_SCHEMA_VERSION) && !memcmp(v, TP_KAFKA_SCHEMA_VERSION, n);
}

static void on_message(struct tp_kprocess *k, const rd_kafka_message_t *m, int64_t now)
{
    int32_t p = m->partition;
    struct part *pt = p >= 0 && p < TP_KAFKA_MAX_PARTITIONS ? k->parts[p] : NULL;
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (pt) pt->eof = true;
            return;
        }
        bool fatal =
            m->err == RD_KAFKA_RESP_ERR__FATAL || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE;
        tp_log(fatal ? TP_LOG_ERROR : TP_LOG_WARN, "kafka process: consumer: %s",
               rd_kafka_message_errstr(m));
        if (fatal) fail(k, -EIO);
        return;
    }
    if (!pt || pt->down || m->offset < pt->next) return; /* not ours, paused, or processed */
    if (pt->sinks && m->offset > TP_KOFF_INPUT_MAX) {
        tp_error("kafka process: %s [%d] offset %lld is past the sinks' offsets (2^%d records "
                 "per partition: docs/kafka.md, \"Sinks\")",
                 k->o.kafka.topic_ticks, (int)p, (long long)m->offset, TP_KOFF_INPUT_BITS);
        fail(k, -ERANGE);
        return;
    }
    struct tp_event e;
    const char *why = "unsupported schema version";
    if (!schema_ok(m) || tp_kafka_tick_parse(&k->dec, m->payload, m->len, &e, &why) < 0) {
        if (atomic_fetch_add_explicit(&k->bad, 1, memory_order_relaxed) < BAD_LOG_MAX)
            tp_warn("kafka process: %s [%d] offset %lld: skipped: %s", k->o.kafka.topic_ticks,
                    (int)p, (long long)m->offset, why);
    } else {
        k->cur_offset = m->offset;
        pt->kout = 0;
        if (sinks_on(pt)) {
            tp_buf_reset(&k->rec);
            if (tp_rec_put_event(&k->rec, &e) == 0)
                sink_write(k, pt, TP_LOG_INPUT, tp_koff(p, m->offset, 0));
        }
        tp_engine_process(pt->eng, &e);
        if (k->o.live) {
            tp_live_event(k->o.live, &e);
            if (e.kind == TP_KIND_TRADE) publish_partials(k, pt, &e, now);
        }
    }
    pt->next = m->offset + 1;
    pt->since_ck++;
    pt->eof = false;
    inc(&k->records);
    if (pt->since_ck >= k->o.kafka.checkpoint_every) checkpoint(k, &pt, 1);
}

/* The sinks as the embedded pipeline shows its sink runners: one per type ("postgres",
 * "lake"), over every partition this instance holds; lag = records handed to them and not yet
 * acknowledged; down while any partition is paused by a failure of that type. */
static void publish_sinks(struct tp_kprocess *k)
{
    for (size_t i = 0; i < k->o.nsinks; i++) {
        const struct tp_ksink_totals *t = &k->sink_tot[i];
        bool up = true;
        uint64_t lag = 0;
        size_t seen = 0;
        for (int32_t p = 0; p < TP_KAFKA_MAX_PARTITIONS && seen < k->nparts; p++) {
            struct part *pt = k->parts[p];
            if (!pt) continue;
            seen++;
            if (!pt->sinks) continue;
            if (pt->down && pt->down_kind == i) up = false;
            lag += tp_ksinks_pending(pt->sinks, i);
        }
        tp_live_set_sink(k->o.live, k->o.sinks[i].name, t->written, t->failures);
        tp_live_set_sink_health(k->o.live, k->o.sinks[i].name, up, lag,
                                up || !t->error ? NULL : strerror(t->error));
    }
}

/* Lag per partition from the watermarks librdkafka already has (no request). */
static void publish_lag(struct tp_kprocess *k)
{
    int64_t total = 0;
    size_t seen = 0;
    for (int32_t p = 0; p < TP_KAFKA_MAX_PARTITIONS && seen < k->nparts; p++) {
        struct part *pt = k->parts[p];
        if (!pt) continue;
        seen++;
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(k->cons, k->o.kafka.topic_ticks, p, &lo, &hi) || hi < 0)
            continue;
        int64_t lag = hi - (pt->next >= 0 ? pt->next : lo);
        if (lag < 0) lag = 0;
        total += lag;
        if (k->o.live && p < LIVE_LAG_PARTS) {
            char name[64];
            snprintf(name, sizeof name, "kafka lag:%.32s[%d]", k->o.kafka.topic_ticks, (int)p);
            tp_live_set_queue(k->o.live, name, (uint64_t)lag, 0, 0);
        }
    }
    atomic_store_explicit(&k->lag, total, memory_order_relaxed);
    uint64_t lsum = atomic_load_explicit(&k->lat_sum_us, memory_order_relaxed);
    uint64_t ln = atomic_load_explicit(&k->lat_n, memory_order_relaxed);
    if (ln > k->last_lat_n) k->lat_us = (int64_t)((lsum - k->last_lat_sum) / (ln - k->last_lat_n));
    k->last_lat_sum = lsum;
    k->last_lat_n = ln;
    if (k->o.live) {
        struct tp_live_counters c = {
            .events_in = atomic_load_explicit(&k->records, memory_order_relaxed),
            .events_out = atomic_load_explicit(&k->bars, memory_order_relaxed) +
                          atomic_load_explicit(&k->anomalies, memory_order_relaxed),
            .bad = atomic_load_explicit(&k->bad, memory_order_relaxed),
            .late = atomic_load_explicit(&k->late, memory_order_relaxed),
            .lag_ns = -1,
            .watermark_lag_ns = -1,
        };
        tp_live_set_counters(k->o.live, &c);
        /* One sink per output topic: its results delivered (checkpoints are not results);
         * errors: the role's failed deliveries; lag: messages in the producer's queue. */
        const char *why;
        bool up = tp_kafka_healthy(&k->health, HEALTH_WINDOW, &why) &&
                  !atomic_load_explicit(&k->failed, memory_order_relaxed);
        int outq = rd_kafka_outq_len(k->prod);
        for (int t = 0; t < OUT_N; t++) {
            char name[64];
            snprintf(name, sizeof name, "kafka:%.40s", k->out_topic[t]);
            tp_live_set_sink(k->o.live, name,
                             atomic_load_explicit(&k->dlv[t], memory_order_relaxed),
                             atomic_load_explicit(&k->failed, memory_order_relaxed));
            tp_live_set_sink_health(k->o.live, name, up, (uint64_t)TP_MAX(outq, 0),
                                    up    ? NULL
                                    : why ? why
                                          : "delivery failed");
        }
        tp_live_set_queue(k->o.live, "kafka producer:process", (uint64_t)TP_MAX(outq, 0),
                          k->queue_cap, 0);
        publish_sinks(k);
        struct tp_kafka_client_stats cs;
        tp_kafka_client_stats(&k->health, &cs);
        struct tp_live_kafka lk = {
            .role = "process",
            .producer_queue = outq,
            .producer_queue_cap = (int64_t)k->queue_cap,
            .delivery_latency_us = k->lat_us,
            .consumer_lag = total,
            .partitions = (uint32_t)k->nparts,
            .rebalances = atomic_load_explicit(&k->rebalances, memory_order_relaxed),
            .delivered = atomic_load_explicit(&k->delivered, memory_order_relaxed),
            .failed = atomic_load_explicit(&k->failed, memory_order_relaxed),
            .consumed = atomic_load_explicit(&k->records, memory_order_relaxed),
            .errors = atomic_load_explicit(&k->health.errors, memory_order_relaxed),
            .retries = cs.retries,
            .timeouts = cs.timeouts,
            .disconnects = cs.disconnects,
        };
        tp_live_set_kafka(k->o.live, &lk);
    }
}

static bool all_at_end(const struct tp_kprocess *k)
{
    if (!k->nparts) return false;
    for (size_t p = 0; p < TP_KAFKA_MAX_PARTITIONS; p++)
        if (k->parts[p] && (!k->parts[p]->eof || k->parts[p]->down)) return false;
    return true;
}

/* After tp_kprocess_finish: the input is complete, so each partition's end is its high
 * watermark now (asked of the leader once); done when every held partition reached it. A
 * partition's EOF flag alone could be stale (set before the last ticks arrived). */
static bool all_at_final_end(struct tp_kprocess *k)
{
    if (!k->nparts) return false;
    int tmo = (int)TP_MIN(k->o.kafka.timeout_ns / TP_NS_PER_MS, 10000);
    for (int32_t p = 0; p < TP_KAFKA_MAX_PARTITIONS; p++) {
        struct part *pt = k->parts[p];
        if (!pt) continue;
        if (pt->down) return false;
        if (pt->end < 0) {
            int64_t lo, hi;
            rd_kafka_resp_err_t err =
                rd_kafka_query_watermark_offsets(k->cons, k->o.kafka.topic_ticks, p, &lo, &hi, tmo);
            if (err) return false;      /* asked again at the next check */
            pt->end = hi > lo ? hi : 0; /* an empty partition (or all retained away) is done */
        }
        if (pt->end > 0 && pt->next < pt->end) return false;
    }
    return true;
}

static void *worker_main(void *arg)
{
    struct tp_kprocess *k = arg;
    int64_t next_ck = 0, next_live = 0;
    while (!atomic_load_explicit(&k->stop, memory_order_acquire) && !failed(k)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->cons, POLL_MS);
        int64_t now = tp_mono_ns();
        bool idle = !m;
        if (m) {
            on_message(k, m, now);
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(k->prod, 0);
        bool tick = now >= next_ck;
        if (tick) {
            sinks_tick(k, now);
            checkpoint_due(k, false);
            next_ck = now + CK_CHECK_EVERY;
        }
        if (now >= next_live) {
            publish_lag(k);
            next_live = now + LIVE_EVERY;
        }
        if (k->o.exit_at_eof && (tick || idle) && all_at_end(k)) {
            tp_info("kafka process: every assigned partition read to its end");
            atomic_store_explicit(&k->reached, true, memory_order_release);
            break;
        }
        if (tick && atomic_load_explicit(&k->finish, memory_order_acquire) && all_at_final_end(k)) {
            tp_info("kafka process: every assigned partition read to the end of the input");
            atomic_store_explicit(&k->reached, true, memory_order_release);
            break;
        }
    }
    checkpoint_due(k, true);
    /* Leaving the group revokes what is left (the rebalance callback commits nothing new). */
    rd_kafka_consumer_close(k->cons);
    publish_lag(k);
    return NULL;
}

/* ---- start and stop --------------------------------------------------------------------- */

int tp_kprocess_new(const struct tp_kprocess_opts *o, struct tp_kprocess **ret)
{
    struct tp_kprocess *k = calloc(1, sizeof *k);
    if (!k) return -ENOMEM;
    k->o = *o;
    k->health.role = "process";
    k->lat_us = -1;
    tp_engine_cfg_default(&k->cfg);
    tp_kafka_dec_init(&k->dec);
    tp_buf_init(&k->key, 1024);
    tp_buf_init(&k->val, OUT_MAX);
    tp_buf_init(&k->state, TP_KCK_STATE_MAX);
    tp_buf_init(&k->rec, OUT_MAX);
    atomic_init(&k->lag, 0);
    *ret = k;
    return 0;
}

int tp_kprocess_start(struct tp_kprocess *k)
{
    const struct tp_kafka_opts *ko = &k->o.kafka;
    rd_kafka_conf_t *conf;
    char e[512];
    int rc = tp_kafka_conf(ko, TP_KAFKA_PRODUCER, &k->health, &conf, e, sizeof e);
    if (rc < 0) {
        tp_error("kafka process: %s", e);
        return rc;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    k->prod = tp_kafka_new(conf, TP_KAFKA_PRODUCER, "process (outputs)");
    if (!k->prod) return -EIO;
    const char *topics[] = {ko->topic_ticks, ko->topic_bars, ko->topic_anomalies,
                            ko->topic_late,  ko->topic_gaps, ko->topic_checkpoints};
    const bool compacted[] = {false, false, false, false, false, true};
    int counts[6];
    rc = tp_kafka_ensure_topics(k->prod, ko, topics, compacted, 6, counts);
    if (rc < 0) return rc;
    k->queue_cap = 0;
    {
        char v[64];
        size_t vn = sizeof v;
        if (rd_kafka_conf_get(rd_kafka_conf(k->prod), "queue.buffering.max.messages", v, &vn) ==
            RD_KAFKA_CONF_OK)
            k->queue_cap = strtoull(v, NULL, 10);
    }
    for (int t = 0; t < OUT_N; t++) {
        k->out_topic[t] = topics[1 + t];
        k->rkt[t] = rd_kafka_topic_new(k->prod, topics[1 + t], NULL);
        if (!k->rkt[t]) {
            tp_error("kafka process: cannot use the output topic %s: %s", topics[1 + t],
                     rd_kafka_err2str(rd_kafka_last_error()));
            return -EIO;
        }
    }
    rc = tp_kck_init(&k->ck, ko, k->prod, counts[5], &k->health);
    if (rc < 0) return rc;
    k->ck_on = true;

    rc = tp_kafka_conf(ko, TP_KAFKA_CONSUMER, &k->health, &conf, e, sizeof e);
    if (rc < 0) {
        tp_error("kafka process: %s", e);
        return rc;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    k->cons = tp_kafka_new(conf, TP_KAFKA_CONSUMER, "process (input)");
    if (!k->cons) return -EIO;
    rd_kafka_poll_set_consumer(k->cons);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, ko->topic_ticks, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(k->cons, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        tp_error("kafka process: cannot subscribe to %s: %s", ko->topic_ticks,
                 rd_kafka_err2str(err));
        return -EIO;
    }
    tp_info("kafka process: group %s reads %s (%d partitions) on %s; outputs to %s, %s, %s and "
            "%s; checkpoints in %s",
            ko->group, ko->topic_ticks, counts[0], ko->brokers, ko->topic_bars, ko->topic_anomalies,
            ko->topic_late, ko->topic_gaps, ko->topic_checkpoints);
    rc = -pthread_create(&k->worker, NULL, worker_main, k);
    if (rc < 0) {
        tp_error("cannot start the kafka process thread: %s", strerror(-rc));
        return rc;
    }
    k->worker_on = true;
    k->started_mono = tp_mono_ns();
    return 0;
}

static int stop_worker(struct tp_kprocess *k)
{
    atomic_store_explicit(&k->stop, true, memory_order_release);
    if (k->worker_on) {
        pthread_join(k->worker, NULL);
        k->worker_on = false;
    }
    if (k->prod) flush_all(k);
    return atomic_load_explicit(&k->err, memory_order_acquire);
}

static void print_status(struct tp_kprocess *k, double rate)
{
    struct tp_kprocess_stats s;
    tp_kprocess_stats(k, &s);
    tp_info("status: %.0f rec/s, %llu records, %llu partition(s), lag %lld, %llu bars, %llu "
            "anomalies, %llu checkpoints, %llu rebalances, %llu bad",
            rate, (unsigned long long)s.records, (unsigned long long)s.partitions, (long long)s.lag,
            (unsigned long long)s.bars, (unsigned long long)s.anomalies,
            (unsigned long long)s.checkpoints, (unsigned long long)s.rebalances,
            (unsigned long long)s.bad);
}

void tp_kprocess_finish(struct tp_kprocess *k)
{
    atomic_store_explicit(&k->finish, true, memory_order_release);
}

int tp_kprocess_step(struct tp_kprocess *k, const char **why)
{
    int64_t interval = k->o.status_interval_ns, now = tp_mono_ns();
    if (!k->last_t) {
        k->last_t = now;
        k->next_status = now + interval;
    }
    if (failed(k)) {
        *why = "the process role failed";
        return -1;
    }
    if (atomic_load_explicit(&k->reached, memory_order_acquire)) return 1;
    if (interval > 0 && now >= k->next_status) {
        uint64_t r = atomic_load_explicit(&k->records, memory_order_relaxed);
        double secs = (double)(now - k->last_t) / 1e9;
        print_status(k, secs > 0 ? (double)(r - k->last_records) / secs : 0);
        k->last_records = r;
        k->last_t = now;
        k->next_status += interval;
        if (k->next_status <= now) k->next_status = now + interval;
    }
    return 0;
}

int tp_kprocess_stop(struct tp_kprocess *k, const char *why)
{
    int rc = stop_worker(k);
    struct tp_kprocess_stats s;
    tp_kprocess_stats(k, &s);
    double secs = (double)(tp_mono_ns() - k->started_mono) / 1e9;
    tp_info("stopped: %llu records in %.3f s (%.0f rec/s), %llu bars, %llu anomalies, %llu "
            "late, %llu gaps, %llu delivered, %llu failed, %llu checkpoints, %llu restores, %llu "
            "rebalances, %llu bad, %llu commit errors, %llu sink resets",
            (unsigned long long)s.records, secs, secs > 0 ? (double)s.records / secs : 0,
            (unsigned long long)s.bars, (unsigned long long)s.anomalies,
            (unsigned long long)atomic_load_explicit(&k->late, memory_order_relaxed),
            (unsigned long long)atomic_load_explicit(&k->gaps, memory_order_relaxed),
            (unsigned long long)s.delivered, (unsigned long long)s.failed,
            (unsigned long long)s.checkpoints, (unsigned long long)s.restores,
            (unsigned long long)s.rebalances, (unsigned long long)s.bad,
            (unsigned long long)s.commit_errors,
            (unsigned long long)atomic_load_explicit(&k->sink_resets, memory_order_relaxed));
    for (size_t i = 0; i < k->o.nsinks; i++)
        tp_info("sink %s: %llu records written, %llu already there (skipped), %llu failures",
                k->o.sinks[i].name, (unsigned long long)k->sink_tot[i].written,
                (unsigned long long)k->sink_tot[i].skipped,
                (unsigned long long)k->sink_tot[i].failures);
    return tp_kafka_role_exit(&k->health, "process", why, rc);
}

static int step_fn(void *self, const char **why)
{
    return tp_kprocess_step(self, why);
}

int tp_kprocess_run(struct tp_kprocess *k, const sigset_t *stop_signals)
{
    const char *why;
    tp_kafka_role_loop(step_fn, k, MAIN_POLL_NS, stop_signals, &why);
    return tp_kprocess_stop(k, why);
}

void tp_kprocess_free(struct tp_kprocess *k)
{
    if (!k) return;
    if (k->worker_on) stop_worker(k);
    for (size_t p = 0; p < TP_KAFKA_MAX_PARTITIONS; p++) part_free(k->parts[p]);
    if (k->cons) rd_kafka_destroy(k->cons);
    if (k->ck_on) tp_kck_fini(&k->ck);
    for (int t = 0; t < OUT_N; t++)
        if (k->rkt[t]) rd_kafka_topic_destroy(k->rkt[t]);
    if (k->prod) {
        if (rd_kafka_outq_len(k->prod) > 0) {
            rd_kafka_purge(k->prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(k->prod, 1000);
        }
        rd_kafka_destroy(k->prod);
    }
    tp_kafka_dec_fini(&k->dec);
    tp_buf_fini(&k->key);
    tp_buf_fini(&k->val);
    tp_buf_fini(&k->state);
    tp_buf_fini(&k->rec);
    free(k);
}
