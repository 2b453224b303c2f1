/*
 * kserve.c — the serve role: the output topics (and the ticks) → the live store (see
 * kserve.h for what is shown and why the consumer has no group).
 *
 * Invariants:
 *  1. The reader consumer and the positions (pos) belong to the worker thread between its
 *     start and its join; the main thread uses the consumer only before (topics, watermarks,
 *     assignment) and after, except rd_kafka_get_watermark_offsets, which reads librdkafka's
 *     cached state and is thread-safe. The group watcher handle belongs to the main thread.
 *  2. Nothing is committed, ever: the reader has no group membership, and the group watcher
 *     only fetches the process group's committed offsets (OffsetFetch), it never joins.
 *  3. The live store gets records in each partition's order; an instrument's records are in
 *     one partition of each topic, so its bars arrive in window order (tp_live_bar_final
 *     ignores a bar that is not newer: a result re-sent after a failover shows once).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/log.h"
#include "core/tptime.h"
#include "kafka/kcodec.h"
#include "kafka/kserve.h"

#define POLL_MS       50
#define LIVE_EVERY    TP_NS_PER_SEC
#define GROUP_EVERY   (5 * TP_NS_PER_SEC)
#define MAIN_POLL_NS  (100 * TP_NS_PER_MS)
#define HEALTH_WINDOW (5 * TP_NS_PER_SEC)
#define LAG_PARTS     8 /* partitions per topic whose lag is published one by one */
#define BAD_LOG_MAX   10

enum { T_TICKS, T_BARS, T_ANOM, T_N };

struct tp_kserve {
    struct tp_kafka_health health; /* first: the librdkafka opaque (kafka.h) */
    struct tp_kserve_opts o;
    rd_kafka_t *cons; /* the reader (worker) */
    rd_kafka_t *grp;  /* the group watcher (main thread); NULL when it could not be made */
    const char *topic[T_N];
    int nparts[T_N];
    int64_t *pos[T_N];      /* worker: next offset per partition */
    int64_t *hist_end[T_N]; /* the partitions' ends at start */
    struct tp_kafka_dec dec;

    pthread_t worker;
    bool worker_on;
    _Atomic bool stop;
    _Atomic int err;
    _Atomic uint64_t n[T_N], bad;
    _Atomic int64_t lag;
    _Atomic bool loaded;
    int64_t recv_lag_ns; /* worker: receive time of the newest tick to its arrival here */
    int64_t started_mono;

    /* main thread */
    int64_t next_status, last_t, next_group;
    uint64_t last_n;
};

static void fail(struct tp_kserve *s, int rc)
{
    int zero = 0;
    atomic_compare_exchange_strong(&s->err, &zero, rc);
}

static bool failed(struct tp_kserve *s)
{
    if (atomic_load_explicit(&s->health.fatal, memory_order_relaxed)) fail(s, -EIO);
    return atomic_load_explicit(&s->err, memory_order_acquire) != 0;
}

void tp_kserve_stats(struct tp_kserve *s, struct tp_kserve_stats *ret)
{
    struct tp_kserve_stats st = {
        .ticks = atomic_load_explicit(&s->n[T_TICKS], memory_order_relaxed),
        .bars = atomic_load_explicit(&s->n[T_BARS], memory_order_relaxed),
        .anomalies = atomic_load_explicit(&s->n[T_ANOM], memory_order_relaxed),
        .bad = atomic_load_explicit(&s->bad, memory_order_relaxed),
        .lag = atomic_load_explicit(&s->lag, memory_order_relaxed),
        .history_loaded = atomic_load_explicit(&s->loaded, memory_order_relaxed),
    };
    *ret = st;
}

/* ---- the worker ------------------------------------------------------------------------- */

static int topic_index(struct tp_kserve *s, const rd_kafka_message_t *m)
{
    const char *name = rd_kafka_topic_name(m->rkt);
    for (int t = 0; t < T_N; t++)
        if (!strcmp(name, s->topic[t])) return t;
    return -1;
}

static void bad_record(struct tp_kserve *s, const rd_kafka_message_t *m, const char *why)
{
    if (atomic_fetch_add_explicit(&s->bad, 1, memory_order_relaxed) < BAD_LOG_MAX)
        tp_warn("kafka serve: %s [%d] offset %lld: skipped: %s", rd_kafka_topic_name(m->rkt),
                (int)m->partition, (long long)m->offset, why);
}

static void on_message(struct tp_kserve *s, const rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
        bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL;
        tp_log(fatal ? TP_LOG_ERROR : TP_LOG_WARN, "kafka serve: consumer: %s",
               rd_kafka_message_errstr(m));
        if (fatal) fail(s, -EIO);
        return;
    }
    int t = topic_index(s, m);
    if (t < 0 || m->partition < 0 || m->partition >= s->nparts[t]) return;
    s->pos[t][m->partition] = m->offset + 1;
    const char *why = NULL;
    struct tp_live *l = s->o.live;
    if (t == T_TICKS) {
        struct tp_event e;
        if (tp_kafka_tick_parse(&s->dec, m->payload, m->len, &e, &why) < 0) {
            bad_record(s, m, why);
            return;
        }
        tp_live_event(l, &e);
        if (atomic_load_explicit(&s->loaded, memory_order_relaxed) && e.ts_recv > 0)
            s->recv_lag_ns = TP_MAX(tp_now_ns() - e.ts_recv, 0);
    } else if (t == T_BARS) {
        struct tp_bar b;
        if (tp_kafka_bar_parse(&s->dec, m->payload, m->len, &b, &why) < 0) {
            bad_record(s, m, why);
            return;
        }
        tp_live_bar_final(l, &b);
    } else {
        struct tp_anomaly a;
        if (tp_kafka_anomaly_parse(&s->dec, m->payload, m->len, &a, &why) < 0) {
            bad_record(s, m, why);
            return;
        }
        tp_live_anomaly(l, &a);
    }
    atomic_fetch_add_explicit(&s->n[t], 1, memory_order_relaxed);
}

/* Lag per partition, the history check, and the role's health in the live store. */
static void publish(struct tp_kserve *s)
{
    struct tp_live *l = s->o.live;
    int64_t total = 0;
    bool loaded = true;
    for (int t = 0; t < T_N; t++) {
        int64_t tlag = 0;
        for (int p = 0; p < s->nparts[t]; p++) {
            int64_t lo, hi;
            if (rd_kafka_get_watermark_offsets(s->cons, s->topic[t], p, &lo, &hi) || hi < 0)
                hi = s->hist_end[t][p];
            int64_t lag = TP_MAX(hi - TP_MAX(s->pos[t][p], lo), 0);
            tlag += lag;
            loaded &= s->pos[t][p] >= s->hist_end[t][p];
            if (p < LAG_PARTS) {
                char name[64];
                snprintf(name, sizeof name, "kafka lag:%.32s[%d]", s->topic[t], p);
                tp_live_set_queue(l, name, (uint64_t)lag, 0, 0);
            }
        }
        total += tlag;
    }
    atomic_store_explicit(&s->lag, total, memory_order_relaxed);
    if (loaded && !atomic_load_explicit(&s->loaded, memory_order_relaxed)) {
        atomic_store_explicit(&s->loaded, true, memory_order_relaxed);
        tp_info("kafka serve: history loaded in %.3f s: %llu ticks, %llu bars, %llu anomalies",
                (double)(tp_mono_ns() - s->started_mono) / 1e9,
                (unsigned long long)atomic_load_explicit(&s->n[T_TICKS], memory_order_relaxed),
                (unsigned long long)atomic_load_explicit(&s->n[T_BARS], memory_order_relaxed),
                (unsigned long long)atomic_load_explicit(&s->n[T_ANOM], memory_order_relaxed));
    }
    const char *why;
    bool up = tp_kafka_healthy(&s->health, HEALTH_WINDOW, &why);
    for (int t = 0; t < T_N; t++) {
        char name[64];
        snprintf(name, sizeof name, "kafka:%.40s", s->topic[t]);
        tp_live_set_source(l, name, up ? TP_ST_CONNECTED : TP_ST_DISCONNECTED,
                           atomic_load_explicit(&s->n[t], memory_order_relaxed), 0);
    }
    uint64_t ticks = atomic_load_explicit(&s->n[T_TICKS], memory_order_relaxed);
    uint64_t outs = atomic_load_explicit(&s->n[T_BARS], memory_order_relaxed) +
                    atomic_load_explicit(&s->n[T_ANOM], memory_order_relaxed);
    struct tp_live_counters c = {
        .events_in = ticks,
        .events_out = outs,
        .bad = atomic_load_explicit(&s->bad, memory_order_relaxed),
        .lag_ns = loaded && ticks ? s->recv_lag_ns : -1,
        .watermark_lag_ns = -1,
    };
    tp_live_set_counters(l, &c);
    struct tp_kafka_client_stats cs;
    tp_kafka_client_stats(&s->health, &cs);
    uint32_t parts = 0;
    for (int t = 0; t < T_N; t++) parts += (uint32_t)s->nparts[t];
    struct tp_live_kafka lk = {
        .role = "serve",
        .producer_queue = -1,
        .delivery_latency_us = -1,
        .consumer_lag = total,
        .partitions = parts,
        .consumed = ticks + outs,
        .errors = atomic_load_explicit(&s->health.errors, memory_order_relaxed),
        .retries = cs.retries,
        .timeouts = cs.timeouts,
        .disconnects = cs.disconnects,
    };
    tp_live_set_kafka(l, &lk);
}

static void *worker_main(void *arg)
{
    struct tp_kserve *s = arg;
    int64_t next_live = 0;
    while (!atomic_load_explicit(&s->stop, memory_order_acquire) && !failed(s)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->cons, POLL_MS);
        if (m) {
            on_message(s, m);
            rd_kafka_message_destroy(m);
        }
        int64_t now = tp_mono_ns();
        if (now >= next_live) {
            publish(s);
            next_live = now + LIVE_EVERY;
        }
    }
    publish(s);
    return NULL;
}

/* ---- start and stop --------------------------------------------------------------------- */

int tp_kserve_new(const struct tp_kserve_opts *o, struct tp_kserve **ret)
{
    if (!o->live) return -EINVAL;
    struct tp_kserve *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->o = *o;
    s->health.role = "serve";
    s->topic[T_TICKS] = o->kafka.topic_ticks;
    s->topic[T_BARS] = o->kafka.topic_bars;
    s->topic[T_ANOM] = o->kafka.topic_anomalies;
    tp_kafka_dec_init(&s->dec);
    atomic_init(&s->lag, 0);
    *ret = s;
    return 0;
}

/* The group watcher: a consumer in the process role's group that never subscribes, only
 * fetches the group's committed offsets. Failing to make it only loses that figure. */
static void start_group_watch(struct tp_kserve *s)
{
    rd_kafka_conf_t *conf;
    char e[512];
    if (tp_kafka_conf(&s->o.kafka, TP_KAFKA_CONSUMER, &s->health, &conf, e, sizeof e) < 0) {
        tp_warn("kafka serve: no view of group %s: %s", s->o.kafka.group, e);
        return;
    }
    s->grp = tp_kafka_new(conf, TP_KAFKA_CONSUMER, "serve (group view)");
}

int tp_kserve_start(struct tp_kserve *s)
{
    const struct tp_kafka_opts *ko = &s->o.kafka;
    rd_kafka_conf_t *conf;
    char e[512];
    int rc = tp_kafka_conf(ko, TP_KAFKA_READER, &s->health, &conf, e, sizeof e);
    if (rc < 0) {
        tp_error("kafka serve: %s", e);
        return rc;
    }
    s->cons = tp_kafka_new(conf, TP_KAFKA_READER, "serve");
    if (!s->cons) return -EIO;
    rd_kafka_poll_set_consumer(s->cons); /* errors come with the messages (worker) */
    const bool compacted[T_N] = {false, false, false};
    rc = tp_kafka_ensure_topics(s->cons, ko, (const char *const *)s->topic, compacted, T_N,
                                s->nparts);
    if (rc < 0) return rc;

    int tmo = (int)TP_MIN(TP_MAX(ko->timeout_ns / TP_NS_PER_MS, 1), 600000);
    int64_t hist = (int64_t)TP_MIN(ko->history, (uint64_t)INT64_MAX / 2);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
    uint64_t from_total = 0;
    for (int t = 0; t < T_N && rc == 0; t++) {
        s->pos[t] = calloc((size_t)s->nparts[t], sizeof(int64_t));
        s->hist_end[t] = calloc((size_t)s->nparts[t], sizeof(int64_t));
        if (!s->pos[t] || !s->hist_end[t]) {
            rc = -ENOMEM;
            break;
        }
        for (int p = 0; p < s->nparts[t]; p++) {
            int64_t lo, hi;
            rd_kafka_resp_err_t err =
                rd_kafka_query_watermark_offsets(s->cons, s->topic[t], p, &lo, &hi, tmo);
            if (err) {
                tp_error("kafka serve: cannot read the offsets of %s [%d]: %s", s->topic[t], p,
                         rd_kafka_err2str(err));
                rc = -EIO;
                break;
            }
            int64_t from = TP_MAX(lo, hi - hist);
            s->pos[t][p] = from;
            s->hist_end[t][p] = hi;
            from_total += (uint64_t)(hi - from);
            rd_kafka_topic_partition_list_add(l, s->topic[t], p)->offset = from;
        }
    }
    if (rc == 0) {
        rd_kafka_resp_err_t err = rd_kafka_assign(s->cons, l);
        if (err) {
            tp_error("kafka serve: cannot assign the partitions: %s", rd_kafka_err2str(err));
            rc = -EIO;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (rc < 0) return rc;
    tp_info("kafka serve: reading %s (%d partitions), %s (%d) and %s (%d) on %s without a "
            "group, from the last %llu records of each partition (%llu in all)",
            s->topic[T_TICKS], s->nparts[T_TICKS], s->topic[T_BARS], s->nparts[T_BARS],
            s->topic[T_ANOM], s->nparts[T_ANOM], ko->brokers, (unsigned long long)ko->history,
            (unsigned long long)from_total);
    start_group_watch(s);
    s->started_mono = tp_mono_ns();
    rc = -pthread_create(&s->worker, NULL, worker_main, s);
    if (rc < 0) {
        tp_error("cannot start the kafka serve thread: %s", strerror(-rc));
        return rc;
    }
    s->worker_on = true;
    return 0;
}

/* The process group's lag on the ticks topic: high watermark minus committed offset, summed
 * (a partition the group never committed counts whole). -1 when unknown. */
static int64_t group_lag(struct tp_kserve *s)
{
    if (!s->grp) return -1;
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(TP_MAX(s->nparts[T_TICKS], 1));
    for (int p = 0; p < s->nparts[T_TICKS]; p++)
        rd_kafka_topic_partition_list_add(l, s->topic[T_TICKS], p);
    int64_t lag = -1;
    if (rd_kafka_committed(s->grp, l, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        lag = 0;
        for (int i = 0; i < l->cnt; i++) {
            int64_t lo, hi;
            if (rd_kafka_get_watermark_offsets(s->cons, s->topic[T_TICKS], l->elems[i].partition,
                                               &lo, &hi) ||
                hi < 0)
                hi = s->hist_end[T_TICKS][l->elems[i].partition];
            int64_t c = l->elems[i].offset >= 0 ? l->elems[i].offset : TP_MAX(lo, 0);
            lag += TP_MAX(hi - c, 0);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return lag;
}

int tp_kserve_step(struct tp_kserve *s, const char **why)
{
    int64_t interval = s->o.status_interval_ns, now = tp_mono_ns();
    if (!s->last_t) {
        s->last_t = now;
        s->next_status = now + interval;
        s->next_group = now;
    }
    if (failed(s)) {
        *why = "the serve role failed";
        return -1;
    }
    if (s->grp) rd_kafka_poll(s->grp, 0); /* its error and statistics callbacks */
    if (now >= s->next_group) {
        int64_t lag = group_lag(s);
        if (lag >= 0) {
            char name[64];
            snprintf(name, sizeof name, "kafka group:%.34s", s->o.kafka.group);
            tp_live_set_queue(s->o.live, name, (uint64_t)lag, 0, 0);
        }
        s->next_group = tp_mono_ns() + GROUP_EVERY;
    }
    if (interval > 0 && now >= s->next_status) {
        struct tp_kserve_stats st;
        tp_kserve_stats(s, &st);
        uint64_t n = st.ticks + st.bars + st.anomalies;
        double secs = (double)(now - s->last_t) / 1e9;
        tp_info("status: %.0f rec/s, %llu ticks, %llu bars, %llu anomalies, lag %lld, %llu bad%s",
                secs > 0 ? (double)(n - s->last_n) / secs : 0, (unsigned long long)st.ticks,
                (unsigned long long)st.bars, (unsigned long long)st.anomalies, (long long)st.lag,
                (unsigned long long)st.bad, st.history_loaded ? "" : ", loading history");
        s->last_n = n;
        s->last_t = now;
        s->next_status += interval;
        if (s->next_status <= now) s->next_status = now + interval;
    }
    return 0;
}

static void stop_worker(struct tp_kserve *s)
{
    atomic_store_explicit(&s->stop, true, memory_order_release);
    if (s->worker_on) {
        pthread_join(s->worker, NULL);
        s->worker_on = false;
    }
}

int tp_kserve_stop(struct tp_kserve *s, const char *why)
{
    stop_worker(s);
    struct tp_kserve_stats st;
    tp_kserve_stats(s, &st);
    tp_info("stopped: %llu ticks, %llu bars, %llu anomalies shown, %llu bad",
            (unsigned long long)st.ticks, (unsigned long long)st.bars,
            (unsigned long long)st.anomalies, (unsigned long long)st.bad);
    return tp_kafka_role_exit(&s->health, "serve", why,
                              atomic_load_explicit(&s->err, memory_order_acquire));
}

static int step_fn(void *self, const char **why)
{
    return tp_kserve_step(self, why);
}

int tp_kserve_run(struct tp_kserve *s, const sigset_t *stop_signals)
{
    const char *why;
    tp_kafka_role_loop(step_fn, s, MAIN_POLL_NS, stop_signals, &why);
    return tp_kserve_stop(s, why);
}

void tp_kserve_free(struct tp_kserve *s)
{
    if (!s) return;
    stop_worker(s);
    if (s->cons) {
        rd_kafka_consumer_close(s->cons);
        rd_kafka_destroy(s->cons);
    }
    if (s->grp) rd_kafka_destroy(s->grp);
    for (int t = 0; t < T_N; t++) {
        free(s->pos[t]);
        free(s->hist_end[t]);
    }
    tp_kafka_dec_fini(&s->dec);
    free(s);
}
