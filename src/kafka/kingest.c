/*
 * kingest.c — the ingest role: sources → rings → sender thread → Kafka (see kingest.h for the
 * picture, the bounds and the delivery contract).
 *
 * The sender drains every ring in turn, up to SEND_BATCH events per ring per pass, so a busy
 * source cannot starve a quiet one. Each event becomes one message: value = the tick's JSON
 * (kafka/kcodec.h), key = the instrument, headers = schema version and type, timestamp = the
 * event time in ms (CreateTime). librdkafka copies the value; a ring slot is released only
 * once librdkafka took its message, so when librdkafka's queue is full the event stays in
 * the ring and the sender serves delivery reports until there is room.
 *
 * Invariants:
 *  1. The producer handle is used by the sender thread between its start and its join, and by
 *     the main thread only before (topic checks) and after (the final flush). Delivery
 *     reports run inside rd_kafka_poll/flush, so on whichever of the two owns it.
 *  2. `stopping` is set only after every source thread has been joined, so once the sender
 *     sees it and then finds the rings empty, nothing more can arrive.
 *  3. The first failure (a failed delivery, a refused produce, a fatal client error) is sticky
 *     in `err`: the sender stops producing at once (a later message must not overtake a lost
 *     one), the main thread sees it within POLL_NS and the run ends with exit 3.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/buf.h"
#include "core/instrument.h"
#include "core/log.h"
#include "core/tptime.h"
#include "source/connstats.h"
#include "kafka/kcodec.h"
#include "kafka/kingest.h"

#define SEND_BATCH   512
#define POLL_NS      (100 * TP_NS_PER_MS)
#define IDLE_WAIT_NS (20 * TP_NS_PER_MS)
#define FULL_POLL_MS 10
#define LIVE_EVERY   TP_NS_PER_SEC
#define VALUE_MAX    ((size_t)16 << 10)
#define DEFAULT_RING 65536
#define FAIL_LOG_MAX 10 /* failed deliveries logged one by one; then only counted */

struct tp_kingest {
    struct tp_kafka_health health; /* first: the librdkafka opaque (kafka.h) */
    struct tp_kingest_opts o;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    int partitions;
    uint64_t queue_cap; /* queue.buffering.max.messages */
    struct tp_source *src[TP_KINGEST_MAX_SOURCES];
    struct tp_ring ring[TP_KINGEST_MAX_SOURCES];
    size_t nsrc, nring;
    struct tp_bell data; /* rung by every ring's commit; the sender sleeps on it */

    pthread_t sender;
    bool sender_on;
    _Atomic bool stopping; /* every source joined: drain and end (invariant 2) */
    _Atomic int err;       /* the first failure (invariant 3) */
    _Atomic uint64_t produced, delivered, failed, rejected;
    _Atomic uint64_t lat_sum_us, lat_n;
    int64_t started_mono;
    uint64_t last_lat_sum, last_lat_n; /* main thread: for the status period's mean */
    uint64_t live_lat_sum, live_lat_n; /* main thread: for the live store's mean */
    int64_t live_lat_us;
    /* main thread: the run loop's state (tp_kingest_step) */
    int64_t next_status, last_t, next_live;
    uint64_t last_produced;
};

static void fail(struct tp_kingest *g, int rc)
{
    int zero = 0;
    atomic_compare_exchange_strong(&g->err, &zero, rc);
}

int tp_kingest_new(const struct tp_kingest_opts *o, struct tp_kingest **ret)
{
    struct tp_kingest *g = calloc(1, sizeof *g);
    if (!g) return -ENOMEM;
    g->o = *o;
    if (!g->o.ring_capacity) g->o.ring_capacity = DEFAULT_RING;
    g->health.role = "ingest";
    g->live_lat_us = -1;
    tp_bell_init(&g->data);
    *ret = g;
    return 0;
}

int tp_kingest_add_source(struct tp_kingest *g, struct tp_source *src)
{
    if (g->nsrc == TP_KINGEST_MAX_SOURCES) {
        tp_source_free(src);
        return -ENOSPC;
    }
    g->src[g->nsrc++] = src;
    return 0;
}

void tp_kingest_stats(struct tp_kingest *g, struct tp_kingest_stats *ret)
{
    struct tp_kingest_stats s = {
        .produced = atomic_load_explicit(&g->produced, memory_order_relaxed),
        .delivered = atomic_load_explicit(&g->delivered, memory_order_relaxed),
        .failed = atomic_load_explicit(&g->failed, memory_order_relaxed),
        .latency_us = -1,
    };
    s.in_flight = s.produced - TP_MIN(s.produced, s.delivered + s.failed);
    for (size_t i = 0; i < g->nring; i++) {
        s.drops += tp_ring_drops(&g->ring[i]);
        s.queued += tp_ring_count(&g->ring[i]);
    }
    for (size_t i = 0; i < g->nsrc; i++)
        s.gaps += atomic_load_explicit(&g->src[i]->gaps, memory_order_relaxed);
    uint64_t sum = atomic_load_explicit(&g->lat_sum_us, memory_order_relaxed);
    uint64_t n = atomic_load_explicit(&g->lat_n, memory_order_relaxed);
    if (n > g->last_lat_n) s.latency_us = (int64_t)((sum - g->last_lat_sum) / (n - g->last_lat_n));
    *ret = s;
}

/* ---- delivery reports (on the thread polling the producer) ------------------------------ */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct tp_kingest *g = opaque;
    if (!m->err) {
        atomic_fetch_add_explicit(&g->delivered, 1, memory_order_relaxed);
        int64_t us = rd_kafka_message_latency(m);
        if (us >= 0) {
            atomic_fetch_add_explicit(&g->lat_sum_us, (uint64_t)us, memory_order_relaxed);
            atomic_fetch_add_explicit(&g->lat_n, 1, memory_order_relaxed);
        }
        return;
    }
    uint64_t k = atomic_fetch_add_explicit(&g->failed, 1, memory_order_relaxed);
    if (k < FAIL_LOG_MAX)
        tp_error("kafka ingest: delivery to %s [%d] failed: %s (key %.*s)",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err),
                 (int)TP_MIN(m->key_len, 64), m->key ? (const char *)m->key : "");
    else if (k == FAIL_LOG_MAX)
        tp_error("kafka ingest: more deliveries failed (counted, not logged)");
    fail(g, -EIO);
}

/* ---- the sender thread ------------------------------------------------------------------ */

/* Produces one event. 0, 1 when librdkafka's queue is full (retry later), or a negative
 * errno (the failure is logged and sticky). */
static int produce(struct tp_kingest *g, struct tp_buf *b, const struct tp_event *e)
{
    tp_buf_reset(b);
    int rc = tp_kafka_tick_json(b, e);
    const char *key = tp_kafka_tick_key(e);
    if (rc < 0 || !*key) {
        if (atomic_fetch_add_explicit(&g->rejected, 1, memory_order_relaxed) == 0)
            tp_warn("kafka ingest: dropped an event that does not encode (instrument '%s', kind "
                    "%u)",
                    key, e->kind);
        return 0;
    }
    int64_t ms = e->ts > 0 ? e->ts / TP_NS_PER_MS : 0;
    rd_kafka_resp_err_t err =
        rd_kafka_producev(g->rk, RD_KAFKA_V_RKT(g->rkt), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_VALUE(b->p, b->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_TIMESTAMP(ms),
                          RD_KAFKA_V_HEADER(TP_KAFKA_SCHEMA_HEADER, TP_KAFKA_SCHEMA_VERSION,
                                            (ssize_t)strlen(TP_KAFKA_SCHEMA_VERSION)),
                          RD_KAFKA_V_HEADER(TP_KAFKA_TYPE_HEADER, "tick", 4), RD_KAFKA_V_END);
    if (!err) {
        atomic_fetch_add_explicit(&g->produced, 1, memory_order_relaxed);
        return 0;
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return 1;
    tp_error("kafka ingest: cannot produce to %s: %s", rd_kafka_topic_name(g->rkt),
             rd_kafka_err2str(err));
    fail(g, -EIO);
    return -EIO;
}

static bool rings_empty(struct tp_kingest *g)
{
    for (size_t i = 0; i < g->nring; i++)
        if (tp_ring_count(&g->ring[i])) return false;
    return true;
}

static bool failed(struct tp_kingest *g)
{
    if (atomic_load_explicit(&g->health.fatal, memory_order_relaxed)) fail(g, -EIO);
    return atomic_load_explicit(&g->err, memory_order_acquire) != 0;
}

static void *sender_main(void *arg)
{
    struct tp_kingest *g = arg;
    struct tp_buf b;
    tp_buf_init(&b, VALUE_MAX);
    while (!failed(g)) {
        size_t got = 0;
        bool full = false;
        for (size_t i = 0; i < g->nring && !full && !failed(g); i++) {
            const struct tp_event *ev;
            size_t n = tp_ring_peek(&g->ring[i], SEND_BATCH, &ev), k = 0;
            for (; k < n; k++) {
                int rc = produce(g, &b, &ev[k]);
                if (rc < 0) break;
                if (rc == 1) {
                    full = true;
                    break;
                }
            }
            if (k) tp_ring_release(&g->ring[i], k);
            got += k;
        }
        if (full) {
            rd_kafka_poll(g->rk, FULL_POLL_MS); /* delivery reports make room */
            continue;
        }
        rd_kafka_poll(g->rk, 0);
        if (got) continue;
        if (atomic_load_explicit(&g->stopping, memory_order_acquire) && rings_empty(g)) break;
        uint32_t key = tp_bell_prepare(&g->data);
        if (rings_empty(g) && !atomic_load_explicit(&g->stopping, memory_order_acquire))
            tp_bell_wait(&g->data, key, IDLE_WAIT_NS);
        tp_bell_done(&g->data);
    }
    tp_buf_fini(&b);
    return NULL;
}

/* ---- start ------------------------------------------------------------------------------ */

struct resume_ctx {
    struct tp_kingest *g;
    struct tp_kafka_dec dec;
    uint64_t seen, bad;
};

static int resume_one(void *arg, const rd_kafka_message_t *m)
{
    struct resume_ctx *c = arg;
    struct tp_event e;
    const char *why;
    if (tp_kafka_tick_parse(&c->dec, m->payload, m->len, &e, &why) < 0) {
        c->bad++;
        return 0;
    }
    for (size_t i = 0; i < c->g->nsrc; i++)
        if (c->g->src[i]->ops->resume) c->g->src[i]->ops->resume(c->g->src[i], &e);
    c->seen++;
    return 0;
}

/* Shows the topic's last records to the sources that want them (per partition, oldest first:
 * an instrument's records are in one partition). */
static int resume_sources(struct tp_kingest *g)
{
    const struct tp_kafka_opts *ko = &g->o.kafka;
    bool want = false;
    for (size_t i = 0; i < g->nsrc; i++) want |= g->src[i]->ops->resume != NULL;
    int tmo = (int)TP_MIN(ko->timeout_ns / TP_NS_PER_MS, 600000);
    uint64_t per = g->o.resume_records / (uint64_t)g->partitions + 1;
    rd_kafka_t *reader = NULL;
    struct resume_ctx c = {.g = g};
    tp_kafka_dec_init(&c.dec);
    bool whole = true, any = false;
    int rc = 0;
    for (int p = 0; p < g->partitions && rc == 0; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(g->rk, ko->topic_ticks, p, &lo, &hi, tmo);
        if (err) {
            tp_error("kafka ingest: cannot read the offsets of %s [%d]: %s", ko->topic_ticks, p,
                     rd_kafka_err2str(err));
            rc = -EIO;
            break;
        }
        any |= hi > 0;
        int64_t from = want && g->o.resume_records ? TP_MAX(lo, hi - (int64_t)per) : hi;
        whole &= from == 0;
        if (from >= hi) continue;
        if (!reader) {
            rd_kafka_conf_t *conf;
            char e[512];
            rc = tp_kafka_conf(ko, TP_KAFKA_READER, &g->health, &conf, e, sizeof e);
            if (rc < 0) {
                tp_error("kafka ingest: %s", e);
                break;
            }
            reader = tp_kafka_new(conf, TP_KAFKA_READER, "ingest (resume)");
            if (!reader) {
                rc = -EIO;
                break;
            }
        }
        rc = tp_kafka_read_range(reader, ko->topic_ticks, p, from, hi, ko->timeout_ns, resume_one,
                                 &c);
    }
    if (reader) {
        rd_kafka_consumer_close(reader);
        rd_kafka_destroy(reader);
    }
    tp_kafka_dec_fini(&c.dec);
    if (rc < 0) return rc;
    if (any)
        tp_info("kafka ingest: sources resume after the %llu last record(s) of %s%s",
                (unsigned long long)c.seen, ko->topic_ticks,
                c.bad ? " (some did not decode and were skipped)" : "");
    for (size_t i = 0; i < g->nsrc; i++)
        if (g->src[i]->ops->resume_end) g->src[i]->ops->resume_end(g->src[i], whole && !c.bad);
    return 0;
}

static uint64_t conf_u64(rd_kafka_t *rk, const char *key)
{
    char v[64];
    size_t n = sizeof v;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), key, v, &n) != RD_KAFKA_CONF_OK) return 0;
    return strtoull(v, NULL, 10);
}

/* Stops the sources, then the sender; waits for every delivery. Returns the first error. */
static int stop_all(struct tp_kingest *g)
{
    int rc = 0;
    for (size_t i = 0; i < g->nsrc; i++) {
        int src_rc = tp_source_stop(g->src[i]);
        if (src_rc < 0 && rc == 0) {
            tp_error("source %s failed: %s", g->src[i]->spec, strerror(-src_rc));
            rc = src_rc;
        }
    }
    atomic_store_explicit(&g->stopping, true, memory_order_release);
    tp_bell_ring(&g->data);
    if (g->sender_on) {
        pthread_join(g->sender, NULL);
        g->sender_on = false;
    }
    if (!g->rk) return rc;
    int64_t deadline = tp_mono_ns() + g->o.kafka.timeout_ns;
    while (rd_kafka_outq_len(g->rk) > 0 && tp_mono_ns() < deadline && !failed(g))
        rd_kafka_flush(g->rk, 100);
    int left = rd_kafka_outq_len(g->rk);
    if (left > 0) {
        tp_error("kafka ingest: %d message(s) still undelivered at shutdown%s: purged", left,
                 failed(g) ? " after a failure" : " (timed out)");
        rd_kafka_purge(g->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(g->rk, 1000); /* serves the purged messages' reports */
        fail(g, -ETIMEDOUT);
    }
    size_t unsent = 0;
    for (size_t i = 0; i < g->nring; i++) unsent += tp_ring_count(&g->ring[i]);
    if (unsent) tp_error("kafka ingest: %zu event(s) were never sent (the run failed)", unsent);
    int err = atomic_load_explicit(&g->err, memory_order_acquire);
    if (rc == 0) rc = err;
    return rc;
}

int tp_kingest_start(struct tp_kingest *g)
{
    const struct tp_kafka_opts *ko = &g->o.kafka;
    rd_kafka_conf_t *conf;
    char e[512];
    int rc = tp_kafka_conf(ko, TP_KAFKA_PRODUCER, &g->health, &conf, e, sizeof e);
    if (rc < 0) {
        tp_error("kafka ingest: %s", e);
        return rc;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    g->rk = tp_kafka_new(conf, TP_KAFKA_PRODUCER, "ingest");
    if (!g->rk) return -EIO;
    g->queue_cap = conf_u64(g->rk, "queue.buffering.max.messages");
    const char *topics[] = {ko->topic_ticks};
    const bool compacted[] = {false};
    rc = tp_kafka_ensure_topics(g->rk, ko, topics, compacted, 1, &g->partitions);
    if (rc < 0) goto out_stop;
    g->rkt = rd_kafka_topic_new(g->rk, ko->topic_ticks, NULL);
    if (!g->rkt) {
        tp_error("kafka ingest: cannot use topic %s: %s", ko->topic_ticks,
                 rd_kafka_err2str(rd_kafka_last_error()));
        rc = -EIO;
        goto out_stop;
    }
    tp_info("kafka ingest: producing to %s (%d partitions) on %s, idempotent, acks=all",
            ko->topic_ticks, g->partitions, ko->brokers);
    for (size_t i = 0; i < g->nsrc; i++) {
        rc = tp_ring_init(&g->ring[i], g->o.ring_capacity, &g->data);
        if (rc < 0) {
            tp_error("cannot make a ring of %zu events: %s", g->o.ring_capacity, strerror(-rc));
            goto out_stop;
        }
        g->nring++;
        g->src[i]->ring = &g->ring[i];
    }
    rc = resume_sources(g);
    if (rc < 0) goto out_stop;
    rc = -pthread_create(&g->sender, NULL, sender_main, g);
    if (rc < 0) {
        tp_error("cannot start the kafka sender: %s", strerror(-rc));
        goto out_stop;
    }
    g->sender_on = true;
    g->started_mono = tp_mono_ns();
    for (size_t i = 0; i < g->nsrc; i++) {
        rc = tp_source_start(g->src[i]);
        if (rc < 0) {
            tp_error("cannot start source %s: %s", g->src[i]->spec, strerror(-rc));
            goto out_stop;
        }
        tp_info("source %s started (%s)", g->src[i]->spec,
                g->src[i]->live ? "live: drops when its ring is full"
                                : "waits when its ring is full");
    }
    return 0;

out_stop:
    stop_all(g);
    return rc;
}

/* ---- run -------------------------------------------------------------------------------- */

static void publish_live(struct tp_kingest *g)
{
    struct tp_live *l = g->o.live;
    if (!l) return;
    for (size_t i = 0; i < g->nsrc; i++) {
        struct tp_source *s = g->src[i];
        enum tp_status st =
            atomic_load_explicit(&s->error, memory_order_relaxed)   ? TP_ST_DISCONNECTED
            : atomic_load_explicit(&s->ended, memory_order_relaxed) ? TP_ST_EOF
                                                                    : TP_ST_CONNECTED;
        tp_live_set_source(l, s->spec, st, atomic_load_explicit(&s->emitted, memory_order_relaxed),
                           i < g->nring ? tp_ring_drops(&g->ring[i]) : 0);
        struct tp_connstats cs;
        if (tp_source_connstats(s, tp_now_ns(), tp_mono_ns(), &cs))
            tp_live_set_source_conn(l, s->spec, &cs);
        if (i < g->nring) {
            char name[96];
            snprintf(name, sizeof name, "ring:%.80s", s->spec);
            tp_live_set_queue(l, name, tp_ring_count(&g->ring[i]), tp_ring_capacity(&g->ring[i]),
                              tp_ring_drops(&g->ring[i]));
        }
    }
    struct tp_kingest_stats s;
    tp_kingest_stats(g, &s);
    char name[96];
    snprintf(name, sizeof name, "kafka:%.40s", g->o.kafka.topic_ticks);
    int outq = g->rk ? rd_kafka_outq_len(g->rk) : 0;
    tp_live_set_sink(l, name, s.delivered, s.failed);
    const char *why;
    bool up = tp_kafka_healthy(&g->health, 5 * TP_NS_PER_SEC, &why) && !s.failed;
    tp_live_set_sink_health(l, name, up, (uint64_t)TP_MAX(outq, 0),
                            up    ? NULL
                            : why ? why
                                  : "delivery failed");
    tp_live_set_queue(l, "kafka producer:ingest", (uint64_t)TP_MAX(outq, 0), g->queue_cap, 0);
    uint64_t sum = atomic_load_explicit(&g->lat_sum_us, memory_order_relaxed);
    uint64_t n = atomic_load_explicit(&g->lat_n, memory_order_relaxed);
    if (n > g->live_lat_n)
        g->live_lat_us = (int64_t)((sum - g->live_lat_sum) / (n - g->live_lat_n));
    g->live_lat_sum = sum;
    g->live_lat_n = n;
    struct tp_kafka_client_stats cs;
    tp_kafka_client_stats(&g->health, &cs);
    struct tp_live_kafka lk = {
        .role = "ingest",
        .producer_queue = outq,
        .producer_queue_cap = (int64_t)g->queue_cap,
        .delivery_latency_us = g->live_lat_us,
        .consumer_lag = -1,
        .delivered = s.delivered,
        .failed = s.failed,
        .errors = atomic_load_explicit(&g->health.errors, memory_order_relaxed),
        .retries = cs.retries,
        .timeouts = cs.timeouts,
        .disconnects = cs.disconnects,
    };
    tp_live_set_kafka(l, &lk);
}

static bool all_ended(const struct tp_kingest *g)
{
    if (!g->nsrc) return true;
    for (size_t i = 0; i < g->nsrc; i++)
        if (!atomic_load_explicit(&g->src[i]->ended, memory_order_acquire)) return false;
    return true;
}

static void print_status(struct tp_kingest *g, double rate)
{
    struct tp_kingest_stats s;
    tp_kingest_stats(g, &s);
    g->last_lat_sum = atomic_load_explicit(&g->lat_sum_us, memory_order_relaxed);
    g->last_lat_n = atomic_load_explicit(&g->lat_n, memory_order_relaxed);
    char lat[32] = "-";
    if (s.latency_us >= 0) snprintf(lat, sizeof lat, "%.1f ms", (double)s.latency_us / 1000);
    tp_info("status: %.0f ev/s, %llu produced, %llu delivered, %llu in flight, %llu failed, "
            "delivery latency %s, rings %llu, drops %llu",
            rate, (unsigned long long)s.produced, (unsigned long long)s.delivered,
            (unsigned long long)s.in_flight, (unsigned long long)s.failed, lat,
            (unsigned long long)s.queued, (unsigned long long)s.drops);
}

int tp_kingest_step(struct tp_kingest *g, const char **why)
{
    int64_t interval = g->o.status_interval_ns, now = tp_mono_ns();
    if (!g->last_t) {
        g->last_t = g->next_live = now;
        g->next_status = now + interval;
    }
    if (failed(g)) {
        *why = "delivery to Kafka failed";
        return -1;
    }
    for (size_t i = 0; i < g->nsrc; i++)
        if (atomic_load_explicit(&g->src[i]->error, memory_order_acquire)) {
            *why = "a source failed";
            return -1;
        }
    if (g->o.exit_at_eof && all_ended(g) && rings_empty(g)) {
        tp_info("every source reached its end: stopping");
        return 1;
    }
    if (now >= g->next_live) {
        publish_live(g);
        g->next_live = now + LIVE_EVERY;
    }
    if (interval > 0 && now >= g->next_status) {
        uint64_t p = atomic_load_explicit(&g->produced, memory_order_relaxed);
        double secs = (double)(now - g->last_t) / 1e9;
        print_status(g, secs > 0 ? (double)(p - g->last_produced) / secs : 0);
        g->last_produced = p;
        g->last_t = now;
        g->next_status += interval;
        if (g->next_status <= now) g->next_status = now + interval;
    }
    return 0;
}

int tp_kingest_stop(struct tp_kingest *g, const char *why)
{
    int rc = stop_all(g);
    publish_live(g);
    struct tp_kingest_stats s;
    tp_kingest_stats(g, &s);
    double secs = (double)(tp_mono_ns() - g->started_mono) / 1e9;
    tp_info("stopped: %llu events produced in %.3f s (%.0f ev/s), %llu delivered, %llu failed, "
            "drops %llu, gaps %llu%s",
            (unsigned long long)s.produced, secs, secs > 0 ? (double)s.produced / secs : 0,
            (unsigned long long)s.delivered, (unsigned long long)s.failed,
            (unsigned long long)s.drops, (unsigned long long)s.gaps,
            rc == 0 && s.delivered == s.produced ? ", all delivered" : "");
    return tp_kafka_role_exit(&g->health, "ingest", why, rc);
}

static int step_fn(void *self, const char **why)
{
    return tp_kingest_step(self, why);
}

int tp_kingest_run(struct tp_kingest *g, const sigset_t *stop_signals)
{
    const char *why;
    tp_kafka_role_loop(step_fn, g, g->o.exit_at_eof ? POLL_NS / 10 : POLL_NS, stop_signals, &why);
    return tp_kingest_stop(g, why);
}

void tp_kingest_free(struct tp_kingest *g)
{
    if (!g) return;
    if (g->sender_on) stop_all(g);
    if (g->rkt) rd_kafka_topic_destroy(g->rkt);
    if (g->rk) rd_kafka_destroy(g->rk);
    for (size_t i = 0; i < g->nsrc; i++) tp_source_free(g->src[i]);
    for (size_t i = 0; i < g->nring; i++) tp_ring_fini(&g->ring[i]);
    free(g);
}
