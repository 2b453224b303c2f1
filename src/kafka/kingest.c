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
 *  4. Positioned sources (replay files: ops->position set) are resumed exactly through the
 *     positions topic (kafka/kpos.h): the sender numbers their events, puts each in the
 *     partition it computes itself (tp_kafka_partition over the count read at start, the
 *     partitioner librdkafka is configured with), skips the ones the scan at start found in
 *     the topic, and writes a position record once the events before it were delivered. Its
 *     messages carry their source's index + 1 as the message opaque (0: another source, POS_TAG:
 *     a position record), so a delivery report finds its tracker. Other sources are unchanged
 *     but for the explicit partition.
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
#include "kafka/kpos.h"

#define SEND_BATCH    512
#define POLL_NS       (100 * TP_NS_PER_MS)
#define IDLE_WAIT_NS  (20 * TP_NS_PER_MS)
#define FULL_POLL_MS  10
#define LIVE_EVERY    TP_NS_PER_SEC
#define VALUE_MAX     ((size_t)16 << 10)
#define DEFAULT_RING  65536
#define FAIL_LOG_MAX  10 /* failed deliveries logged one by one; then only counted */
#define POS_TAG       ((void *)(uintptr_t)-1) /* the opaque of a position record */
#define POS_VALUE_MAX ((size_t)64 << 10)

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
    struct tp_kpos *kpos[TP_KINGEST_MAX_SOURCES]; /* per ring: NULL without positions */
    size_t npos;
    rd_kafka_topic_t *rkt_pos; /* the positions topic (npos > 0) */
    int pos_partitions;
    int64_t *acked; /* [partitions] 1 + the largest offset acknowledged (npos > 0; dr thread) */
    struct tp_buf posbuf; /* the thread owning the producer */

    pthread_t sender;
    bool sender_on;
    _Atomic bool stopping; /* every source joined: drain and end (invariant 2) */
    _Atomic int err;       /* the first failure (invariant 3) */
    _Atomic uint64_t produced, delivered, failed, rejected;
    _Atomic uint64_t pos_delivered; /* position records acknowledged */
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
    tp_buf_init(&g->posbuf, POS_VALUE_MAX);
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
    void *tag = m->_private;
    if (tag == POS_TAG) {
        if (!m->err) {
            atomic_fetch_add_explicit(&g->pos_delivered, 1, memory_order_relaxed);
            return;
        }
        tp_error("kafka ingest: a position record to %s [%d] failed: %s",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
        fail(g, -EIO);
        return;
    }
    if (!m->err) {
        int32_t q = m->partition;
        if (g->acked && q >= 0 && q < g->partitions) {
            if (m->offset >= 0 && m->offset + 1 > g->acked[q]) g->acked[q] = m->offset + 1;
            uintptr_t i = (uintptr_t)tag;
            if (i && i <= g->nring && g->kpos[i - 1]) tp_kpos_delivered(g->kpos[i - 1], q);
        }
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

/* Produces one event of ring r's source. 0, 1 when librdkafka's queue is full (retry later),
 * or a negative errno (the failure is logged and sticky). */
static int produce(struct tp_kingest *g, struct tp_buf *b, size_t r, const struct tp_event *e)
{
    struct tp_kpos *kp = g->kpos[r];
    uint64_t seq = kp ? kp->seq + 1 : 0;
    tp_buf_reset(b);
    int rc = tp_kafka_tick_json(b, e);
    const char *key = tp_kafka_tick_key(e);
    size_t keylen = strlen(key);
    if (rc < 0 || !keylen) {
        if (atomic_fetch_add_explicit(&g->rejected, 1, memory_order_relaxed) == 0)
            tp_warn("kafka ingest: dropped an event that does not encode (instrument '%s', kind "
                    "%u)",
                    key, e->kind);
        if (kp) tp_kpos_done(kp, 0, seq, 2);
        return 0;
    }
    int32_t q = tp_kafka_partition(key, keylen, g->partitions);
    if (kp && tp_kpos_dup(kp, q, seq)) {
        tp_kpos_done(kp, q, seq, 1);
        return 0;
    }
    int64_t ms = e->ts > 0 ? e->ts / TP_NS_PER_MS : 0;
    rd_kafka_resp_err_t err;
    if (kp) {
        char sq[24];
        int sn = snprintf(sq, sizeof sq, "%llu", (unsigned long long)seq);
        err = rd_kafka_producev(
            g->rk, RD_KAFKA_V_RKT(g->rkt), RD_KAFKA_V_PARTITION(q), RD_KAFKA_V_KEY(key, keylen),
            RD_KAFKA_V_VALUE(b->p, b->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_TIMESTAMP(ms), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(r + 1)),
            RD_KAFKA_V_HEADER(TP_KAFKA_SCHEMA_HEADER, TP_KAFKA_SCHEMA_VERSION,
                              (ssize_t)strlen(TP_KAFKA_SCHEMA_VERSION)),
            RD_KAFKA_V_HEADER(TP_KAFKA_TYPE_HEADER, "tick", 4),
            RD_KAFKA_V_HEADER(TP_KPOS_SOURCE_HEADER, kp->id, 16),
            RD_KAFKA_V_HEADER(TP_KPOS_SEQ_HEADER, sq, (ssize_t)sn), RD_KAFKA_V_END);
    } else {
        err = rd_kafka_producev(g->rk, RD_KAFKA_V_RKT(g->rkt), RD_KAFKA_V_PARTITION(q),
                                RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_VALUE(b->p, b->len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(ms),
                                RD_KAFKA_V_HEADER(TP_KAFKA_SCHEMA_HEADER, TP_KAFKA_SCHEMA_VERSION,
                                                  (ssize_t)strlen(TP_KAFKA_SCHEMA_VERSION)),
                                RD_KAFKA_V_HEADER(TP_KAFKA_TYPE_HEADER, "tick", 4), RD_KAFKA_V_END);
    }
    if (!err) {
        if (kp) tp_kpos_done(kp, q, seq, 0);
        atomic_fetch_add_explicit(&g->produced, 1, memory_order_relaxed);
        return 0;
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return 1;
    tp_error("kafka ingest: cannot produce to %s: %s", rd_kafka_topic_name(g->rkt),
             rd_kafka_err2str(err));
    fail(g, -EIO);
    return -EIO;
}

/* A position marker of ring r's source (PAD: nothing). 0 or a negative errno (sticky). */
static int on_mark(struct tp_kingest *g, size_t r, const struct tp_event *m)
{
    if (!g->kpos[r] || m->status == TP_MARK_PAD) return 0;
    int rc = tp_kpos_mark(g->kpos[r], m, g->acked, tp_mono_ns());
    if (rc < 0) fail(g, rc);
    return rc;
}

/* Produces the position record kp made ready. 0, 1 when librdkafka's queue is full, or a
 * negative errno (logged, sticky). */
static int produce_position(struct tp_kingest *g, struct tp_kpos *kp)
{
    int rc = tp_kpos_record(kp, &g->posbuf);
    if (rc < 0) {
        tp_error("kafka ingest: source %s: cannot encode its position: %s", kp->name,
                 strerror(-rc));
        fail(g, rc);
        return rc;
    }
    int32_t p = tp_kafka_partition(kp->id, 16, g->pos_partitions);
    rd_kafka_resp_err_t err =
        rd_kafka_producev(g->rk, RD_KAFKA_V_RKT(g->rkt_pos), RD_KAFKA_V_PARTITION(p),
                          RD_KAFKA_V_KEY(kp->id, 16), RD_KAFKA_V_VALUE(g->posbuf.p, g->posbuf.len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(POS_TAG),
                          RD_KAFKA_V_HEADER(TP_KAFKA_SCHEMA_HEADER, TP_KAFKA_SCHEMA_VERSION,
                                            (ssize_t)strlen(TP_KAFKA_SCHEMA_VERSION)),
                          RD_KAFKA_V_HEADER(TP_KAFKA_TYPE_HEADER, "position", 8), RD_KAFKA_V_END);
    if (!err) {
        tp_kpos_written(kp, tp_mono_ns());
        return 0;
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return 1;
    tp_error("kafka ingest: cannot produce to %s: %s", rd_kafka_topic_name(g->rkt_pos),
             rd_kafka_err2str(err));
    fail(g, -EIO);
    return -EIO;
}

/* The position records that are ready. 0, 1 when the queue is full, or a negative errno. */
static int produce_positions(struct tp_kingest *g)
{
    for (size_t i = 0; i < g->nring; i++)
        if (g->kpos[i] && g->kpos[i]->ready) {
            int rc = produce_position(g, g->kpos[i]);
            if (rc) return rc;
        }
    return 0;
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
                int rc =
                    ev[k].kind == TP_KIND_MARK ? on_mark(g, i, &ev[k]) : produce(g, &b, i, &ev[k]);
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
        if (g->npos) produce_positions(g); /* a full queue: at the next pass */
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
        if (c->g->src[i]->ops->resume && !c->g->kpos[i])
            c->g->src[i]->ops->resume(c->g->src[i], &e);
    c->seen++;
    return 0;
}

/* A group-less consumer for the reads at start, made on first use. 0 or a negative errno. */
static int need_reader(struct tp_kingest *g, rd_kafka_t **reader)
{
    if (*reader) return 0;
    rd_kafka_conf_t *conf;
    char e[512];
    int rc = tp_kafka_conf(&g->o.kafka, TP_KAFKA_READER, &g->health, &conf, e, sizeof e);
    if (rc < 0) {
        tp_error("kafka ingest: %s", e);
        return rc;
    }
    *reader = tp_kafka_new(conf, TP_KAFKA_READER, "ingest (resume)");
    return *reader ? 0 : -EIO;
}

/* Positioned sources: their last position, the events after it already in the topic
 * (kafka/kpos.h), and the position shown to the source. */
static int resume_positions(struct tp_kingest *g, rd_kafka_t **reader, const int64_t *hi)
{
    struct tp_kpos *kp[TP_KINGEST_MAX_SOURCES];
    size_t n = 0;
    for (size_t i = 0; i < g->nsrc; i++)
        if (g->kpos[i]) kp[n++] = g->kpos[i];
    int rc = need_reader(g, reader);
    if (rc == 0) rc = tp_kpos_resume(g->rk, *reader, &g->o.kafka, g->pos_partitions, hi, kp, n);
    if (rc < 0) return rc;
    for (size_t i = 0; i < g->nsrc; i++) {
        struct tp_kpos *k = g->kpos[i];
        if (k && k->found && g->src[i]->ops->resume_pos)
            g->src[i]->ops->resume_pos(g->src[i], &k->last, false);
    }
    return 0;
}

/* Shows the topic's last records to the sources that want them (per partition, oldest first:
 * an instrument's records are in one partition); positioned sources get their position
 * instead. */
static int resume_sources(struct tp_kingest *g)
{
    const struct tp_kafka_opts *ko = &g->o.kafka;
    bool want = false;
    for (size_t i = 0; i < g->nsrc; i++) want |= g->src[i]->ops->resume != NULL && !g->kpos[i];
    int tmo = (int)TP_MIN(ko->timeout_ns / TP_NS_PER_MS, 600000);
    uint64_t per = g->o.resume_records / (uint64_t)g->partitions + 1;
    rd_kafka_t *reader = NULL;
    struct resume_ctx c = {.g = g};
    tp_kafka_dec_init(&c.dec);
    bool whole = true, any = false;
    int rc = 0;
    int64_t *his = calloc((size_t)g->partitions, sizeof *his);
    if (!his) rc = -ENOMEM;
    for (int p = 0; p < g->partitions && rc == 0; p++) {
        int64_t lo;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(g->rk, ko->topic_ticks, p, &lo, &his[p], tmo);
        if (err) {
            tp_error("kafka ingest: cannot read the offsets of %s [%d]: %s", ko->topic_ticks, p,
                     rd_kafka_err2str(err));
            rc = -EIO;
            break;
        }
        int64_t hi = his[p];
        any |= hi > 0;
        int64_t from = want && g->o.resume_records ? TP_MAX(lo, hi - (int64_t)per) : hi;
        whole &= from == 0;
        if (from >= hi) continue;
        rc = need_reader(g, &reader);
        if (rc == 0)
            rc = tp_kafka_read_range(reader, ko->topic_ticks, p, from, hi, ko->timeout_ns,
                                     resume_one, &c);
    }
    if (rc == 0 && g->npos) rc = resume_positions(g, &reader, his);
    free(his);
    if (reader) {
        rd_kafka_consumer_close(reader);
        rd_kafka_destroy(reader);
    }
    tp_kafka_dec_fini(&c.dec);
    if (rc < 0) return rc;
    if (any && want)
        tp_info("kafka ingest: sources resume after the %llu last record(s) of %s%s",
                (unsigned long long)c.seen, ko->topic_ticks,
                c.bad ? " (some did not decode and were skipped)" : "");
    for (size_t i = 0; i < g->nsrc; i++) {
        struct tp_source *s = g->src[i];
        if (s->ops->resume_end) s->ops->resume_end(s, whole && !c.bad);
        if (atomic_load_explicit(&s->error, memory_order_acquire)) {
            tp_error("kafka ingest: source %s cannot continue (see above)", s->spec);
            return -EINVAL;
        }
    }
    return 0;
}

static uint64_t conf_u64(rd_kafka_t *rk, const char *key)
{
    char v[64];
    size_t n = sizeof v;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), key, v, &n) != RD_KAFKA_CONF_OK) return 0;
    return strtoull(v, NULL, 10);
}

/* Flushes the producer until its queue is empty, the deadline passes or a failure. */
static void drain(struct tp_kingest *g, int64_t deadline)
{
    while (rd_kafka_outq_len(g->rk) > 0 && tp_mono_ns() < deadline && !failed(g))
        rd_kafka_flush(g->rk, 100);
}

/* Main thread, the sender stopped and every message delivered: each positioned source's last
 * position, unless written already; then says what each did. */
static void final_positions(struct tp_kingest *g, int64_t deadline)
{
    for (size_t i = 0; i < g->nring && !failed(g); i++) {
        struct tp_kpos *kp = g->kpos[i];
        if (!kp || !tp_kpos_final(kp, g->acked)) continue;
        while (produce_position(g, kp) == 1 && tp_mono_ns() < deadline)
            rd_kafka_poll(g->rk, FULL_POLL_MS);
    }
    drain(g, deadline);
    for (size_t i = 0; i < g->nring; i++) {
        struct tp_kpos *kp = g->kpos[i];
        if (!kp) continue;
        tp_info("kafka ingest: source %s: %llu event(s) sent, %llu found in %s already (not sent "
                "again); %llu position record(s) written to %s, the last at event %llu",
                kp->name,
                (unsigned long long)(kp->seq - (kp->found ? kp->last.events : 0) - kp->skipped -
                                     kp->rejected),
                (unsigned long long)kp->skipped, g->o.kafka.topic_ticks,
                (unsigned long long)kp->written, g->o.kafka.topic_positions,
                (unsigned long long)kp->written_events);
    }
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
    drain(g, deadline);
    if (g->npos && rd_kafka_outq_len(g->rk) == 0 && !failed(g)) final_positions(g, deadline);
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

/* Trackers for the positioned sources, the positions topic (created when missing and allowed:
 * one partition, compacted), and the acknowledged offsets. 0 or a negative errno (logged). */
static int setup_positions(struct tp_kingest *g)
{
    const struct tp_kafka_opts *ko = &g->o.kafka;
    for (size_t i = 0; i < g->nsrc; i++) {
        if (!g->src[i]->ops->position) continue;
        int rc = tp_kpos_new(g->src[i], ko->topic_ticks, g->partitions, &g->kpos[i]);
        if (rc < 0) return rc;
        g->npos++;
    }
    if (!g->npos) return 0;
    struct tp_kafka_opts po = *ko;
    po.partitions = 1;
    const char *topics[] = {ko->topic_positions};
    const bool compacted[] = {true};
    int rc = tp_kafka_ensure_topics(g->rk, &po, topics, compacted, 1, &g->pos_partitions);
    if (rc < 0) return rc;
    g->rkt_pos = rd_kafka_topic_new(g->rk, ko->topic_positions, NULL);
    g->acked = calloc((size_t)g->partitions, sizeof *g->acked);
    if (!g->rkt_pos || !g->acked) {
        tp_error("kafka ingest: cannot use topic %s", ko->topic_positions);
        return -EIO;
    }
    tp_info("kafka ingest: %zu replay source(s): positions in %s, events numbered in headers %s "
            "and %s",
            g->npos, ko->topic_positions, TP_KPOS_SOURCE_HEADER, TP_KPOS_SEQ_HEADER);
    return 0;
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
    rc = setup_positions(g);
    if (rc < 0) goto out_stop;
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
    if (g->npos) {
        /* First runs: the initial records, delivered before any event is sent. */
        rc = produce_positions(g);
        if (rc == 0) drain(g, tp_mono_ns() + ko->timeout_ns);
        if (rc != 0 || rd_kafka_outq_len(g->rk) > 0 || failed(g)) {
            tp_error("kafka ingest: the initial position record(s) were not delivered to %s",
                     ko->topic_positions);
            rc = -EIO;
            goto out_stop;
        }
    }
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
    if (g->rkt_pos) rd_kafka_topic_destroy(g->rkt_pos);
    if (g->rk) rd_kafka_destroy(g->rk);
    for (size_t i = 0; i < TP_KINGEST_MAX_SOURCES; i++) tp_kpos_free(g->kpos[i]);
    free(g->acked);
    tp_buf_fini(&g->posbuf);
    for (size_t i = 0; i < g->nsrc; i++) tp_source_free(g->src[i]);
    for (size_t i = 0; i < g->nring; i++) tp_ring_fini(&g->ring[i]);
    free(g);
}
