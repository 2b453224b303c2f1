/*
 * kafka.c — configurations, callbacks, topics and headers shared by the Kafka roles (see
 * kafka.h for the guarantees and the partitioning rule).
 *
 * Configuration order: tickpipe's defaults (a few tuned for a pipeline: linger, partition
 * EOF events), then --kafka-opt values in order, then the settings no option may change
 * (idempotence, acks, manual commits, the partitioner), so a pass-through option can tune
 * anything but those.
 */
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <strings.h>
#include <time.h>

#include "core/json.h"
#include "core/log.h"
#include "core/tptime.h"
#include "kafka/kafka.h"

#define ERR_LOG_EVERY TP_NS_PER_SEC /* the same transient error is logged at most this often */

void tp_kafka_opts_default(struct tp_kafka_opts *o)
{
    *o = (struct tp_kafka_opts){
        .topic_ticks = "tickpipe.ticks",
        .topic_bars = "tickpipe.bars",
        .topic_anomalies = "tickpipe.anomalies",
        .topic_checkpoints = "tickpipe.checkpoints",
        .topic_late = "tickpipe.late",
        .topic_gaps = "tickpipe.gaps",
        .topic_positions = "tickpipe.positions",
        .history = 2000,
        .partitions = 6,
        .replication = 0,
        .create_topics = true,
        .group = "tickpipe-process",
        .checkpoint_every = 100000,
        .checkpoint_interval_ns = 5 * TP_NS_PER_SEC,
        .timeout_ns = 30 * TP_NS_PER_SEC,
    };
}

/* ---- options ---------------------------------------------------------------------------- */

struct pinned {
    const char *key;
    const char *ok[3]; /* values that keep the guarantee (NULL: none; the key is tickpipe's) */
    const char *why;
};

static const struct pinned pinned[] = {
    {"enable.idempotence", {"true", "1", NULL}, "the producer is always idempotent"},
    {"acks", {"all", "-1", NULL}, "outputs are durable only with acks=all"},
    {"request.required.acks", {"all", "-1", NULL}, "outputs are durable only with acks=all"},
    {"enable.auto.commit", {"false", "0", NULL}, "offsets are committed after outputs are durable"},
    {"enable.auto.offset.store",
     {"false", "0", NULL},
     "offsets are committed after outputs are durable"},
    {"transactional.id", {NULL}, "tickpipe does not use transactions (docs/kafka.md)"},
    {"partitioner", {NULL}, "records are partitioned by instrument (docs/kafka.md)"},
    {"group.id", {NULL}, "use --kafka-group"},
    {"bootstrap.servers", {NULL}, "use --kafka"},
    {"metadata.broker.list", {NULL}, "use --kafka"},
};

static const struct pinned *find_pinned(const char *key, size_t kl)
{
    for (size_t i = 0; i < TP_ARRAY_LEN(pinned); i++)
        if (strlen(pinned[i].key) == kl && !strncmp(pinned[i].key, key, kl)) return &pinned[i];
    return NULL;
}

/* Splits "k=v" into a NUL-terminated key copy; returns the value or NULL. */
static const char *split_kv(const char *kv, char *key, size_t cap)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || (size_t)(eq - kv) >= cap) return NULL;
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = 0;
    return eq + 1;
}

int tp_kafka_opt_check(const char *kv, char *err, size_t errcap)
{
    char key[256];
    const char *val = split_kv(kv, key, sizeof key);
    if (!val) {
        snprintf(err, errcap, "is not KEY=VALUE");
        return -EINVAL;
    }
    const struct pinned *p = find_pinned(key, strlen(key));
    if (p) {
        bool fine = false;
        for (size_t i = 0; i < TP_ARRAY_LEN(p->ok) && p->ok[i]; i++)
            fine |= !strcasecmp(val, p->ok[i]);
        if (!fine) {
            snprintf(err, errcap, "cannot be set: %s", p->why);
            return -EINVAL;
        }
    }
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char e[512];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(c, key, val, e, sizeof e);
    rd_kafka_conf_destroy(c);
    if (r != RD_KAFKA_CONF_OK) {
        snprintf(err, errcap, "is refused by librdkafka: %s", e);
        return -EINVAL;
    }
    return 0;
}

/* ---- callbacks -------------------------------------------------------------------------- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct tp_kafka_health *h = rd_kafka_opaque(rk);
    const char *role = h && h->role ? h->role : "kafka";
    enum tp_log_level l = level <= 3   ? TP_LOG_ERROR
                          : level == 4 ? TP_LOG_WARN
                          : level <= 6 ? TP_LOG_INFO
                                       : TP_LOG_DEBUG;
    /* One option list configures producers and consumers alike: that a handle ignores the
     * other kind's options is expected, not worth a warning. */
    if (!strcmp(fac, "CONFWARN") && strstr(buf, "will be ignored by this")) l = TP_LOG_DEBUG;
    tp_log(l, "kafka %s (%s): %s: %s", role, rd_kafka_name(rk), fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct tp_kafka_health *h = opaque;
    const char *role = h && h->role ? h->role : "kafka";
    atomic_fetch_add_explicit(&h->errors, 1, memory_order_relaxed);
    atomic_store_explicit(&h->last_err, err, memory_order_relaxed);
    atomic_store_explicit(&h->last_err_mono, tp_mono_ns(), memory_order_relaxed);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
        int zero = 0;
        atomic_compare_exchange_strong(&h->fatal, &zero, orig ? (int)orig : err);
        tp_error("kafka %s: fatal error: %s: %s", role, rd_kafka_err2name(orig), why);
        return;
    }
    /* Transient errors (a broker down, a timeout): librdkafka retries; say so, not too often. */
    static _Atomic int64_t last_at;
    static _Atomic int last_err;
    int64_t now = tp_mono_ns(), at = atomic_load_explicit(&last_at, memory_order_relaxed);
    if (err != atomic_load_explicit(&last_err, memory_order_relaxed) || now - at >= ERR_LOG_EVERY) {
        atomic_store_explicit(&last_at, now, memory_order_relaxed);
        atomic_store_explicit(&last_err, err, memory_order_relaxed);
        tp_warn("kafka %s: %s: %s (librdkafka retries)", role,
                rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    }
}

static void throttle_cb(rd_kafka_t *rk, const char *broker, int32_t id, int ms, void *opaque)
{
    struct tp_kafka_health *h = opaque;
    if (ms > 0) atomic_fetch_add_explicit(&h->throttles, 1, memory_order_relaxed);
}

/* librdkafka's statistics JSON: sums the per-broker counters tickpipe reports. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct tp_kafka_health *h = opaque;
    int t = rd_kafka_type(rk) == RD_KAFKA_PRODUCER ? 0 : 1;
    struct tp_json j;
    tp_json_init(&j, 0, 16);
    if (tp_json_parse(&j, json, len) == 0) {
        uint64_t sum[4] = {0};
        static const char *const keys[4] = {"txretries", "txerrs", "req_timeouts", "disconnects"};
        int brokers = TP_JSON_GET(&j, 0, "brokers");
        if (tp_json_type(&j, brokers) == TP_JSON_OBJECT) {
            TP_JSON_FOREACH_MEMBER(&j, brokers, k, v)
            {
                for (int i = 0; i < 4; i++) {
                    uint64_t x;
                    if (tp_json_u64(&j, tp_json_get(&j, v, keys[i], strlen(keys[i])), &x) == 0)
                        sum[i] += x;
                }
                uint64_t rx;
                if (tp_json_u64(&j, TP_JSON_GET(&j, v, "rxerrs"), &rx) == 0) sum[1] += rx;
            }
        }
        atomic_store_explicit(&h->retries[t], sum[0], memory_order_relaxed);
        atomic_store_explicit(&h->req_errors[t], sum[1], memory_order_relaxed);
        atomic_store_explicit(&h->timeouts[t], sum[2], memory_order_relaxed);
        atomic_store_explicit(&h->disconnects[t], sum[3], memory_order_relaxed);
    }
    tp_json_fini(&j);
    return 0; /* librdkafka frees json */
}

void tp_kafka_client_stats(struct tp_kafka_health *h, struct tp_kafka_client_stats *ret)
{
    struct tp_kafka_client_stats s = {0};
    for (int t = 0; t < 2; t++) {
        s.retries += atomic_load_explicit(&h->retries[t], memory_order_relaxed);
        s.req_errors += atomic_load_explicit(&h->req_errors[t], memory_order_relaxed);
        s.timeouts += atomic_load_explicit(&h->timeouts[t], memory_order_relaxed);
        s.disconnects += atomic_load_explicit(&h->disconnects[t], memory_order_relaxed);
    }
    *ret = s;
}

bool tp_kafka_healthy(struct tp_kafka_health *h, int64_t window_ns, const char **why)
{
    int fatal = atomic_load_explicit(&h->fatal, memory_order_relaxed);
    if (fatal) {
        *why = rd_kafka_err2str((rd_kafka_resp_err_t)fatal);
        return false;
    }
    int64_t at = atomic_load_explicit(&h->last_err_mono, memory_order_relaxed);
    if (at && tp_mono_ns() - at < window_ns) {
        *why = rd_kafka_err2str(
            (rd_kafka_resp_err_t)atomic_load_explicit(&h->last_err, memory_order_relaxed));
        return false;
    }
    *why = NULL;
    return true;
}

void tp_kafka_role_loop(int (*step)(void *self, const char **why), void *self, int64_t poll_ns,
                        const sigset_t *stop_signals, const char **why)
{
    *why = NULL;
    for (;;) {
        struct timespec ts = {.tv_sec = poll_ns / TP_NS_PER_SEC,
                              .tv_nsec = (long)(poll_ns % TP_NS_PER_SEC)};
        int sig = sigtimedwait(stop_signals, NULL, &ts);
        if (sig > 0) {
            tp_info("received %s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
        if (step(self, why)) return;
    }
}

int tp_kafka_role_exit(struct tp_kafka_health *h, const char *role, const char *why, int rc)
{
    struct tp_kafka_client_stats cs;
    tp_kafka_client_stats(h, &cs);
    tp_info("kafka client: %llu retried requests, %llu request errors, %llu timeouts, %llu "
            "disconnects",
            (unsigned long long)cs.retries, (unsigned long long)cs.req_errors,
            (unsigned long long)cs.timeouts, (unsigned long long)cs.disconnects);
    if (why || rc < 0) {
        tp_error("tickpipe run --role %s: %s", role, why ? why : "shutdown failed");
        return TP_EXIT_RUNTIME;
    }
    return TP_EXIT_OK;
}

/* Partitions by the key's instrument part (up to the first '|'), with Kafka's murmur2. */
static int32_t partitioner_cb(const rd_kafka_topic_t *rkt, const void *key, size_t keylen,
                              int32_t partition_cnt, void *rkt_opaque, void *msg_opaque)
{
    return tp_kafka_partition(key, keylen, partition_cnt);
}

int32_t tp_kafka_partition(const void *key, size_t keylen, int32_t partition_cnt)
{
    const char *bar = key ? memchr(key, '|', keylen) : NULL;
    if (bar) keylen = (size_t)(bar - (const char *)key);
    return rd_kafka_msg_partitioner_murmur2(NULL, key, keylen, partition_cnt, NULL, NULL);
}

/* ---- configuration ---------------------------------------------------------------------- */

static int set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errcap)
{
    char e[512];
    if (rd_kafka_conf_set(c, k, v, e, sizeof e) == RD_KAFKA_CONF_OK) return 0;
    snprintf(err, errcap, "%s=%s: %s", k, v, e);
    return -EINVAL;
}

int tp_kafka_conf(const struct tp_kafka_opts *o, enum tp_kafka_kind kind, struct tp_kafka_health *h,
                  rd_kafka_conf_t **ret, char *err, size_t errcap)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = set(c, "bootstrap.servers", o->brokers, err, errcap);
    if (rc < 0) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    /* Defaults an option may change. */
    if (kind != TP_KAFKA_READER) rc = set(c, "statistics.interval.ms", "1000", err, errcap);
    if (rc == 0 && kind == TP_KAFKA_PRODUCER) {
        rc = set(c, "linger.ms", "5", err, errcap);
        /* JSON ticks compress about 8:1 in batches. */
        if (rc == 0) rc = set(c, "compression.codec", "lz4", err, errcap);
    }
    if (rc == 0 && kind != TP_KAFKA_PRODUCER) {
        rc = set(c, "enable.partition.eof", "true", err, errcap);
        if (rc == 0) rc = set(c, "auto.offset.reset", "earliest", err, errcap);
    }
    for (size_t i = 0; i < o->nopts && rc == 0; i++) {
        char key[256];
        const char *val = split_kv(o->opts[i], key, sizeof key);
        if (!val) {
            snprintf(err, errcap, "--kafka-opt %s: is not KEY=VALUE", o->opts[i]);
            rc = -EINVAL;
            break;
        }
        /* A consumer-only key on a producer (or the reverse) is accepted here; librdkafka
         * says at creation that the handle ignores it. */
        char e[512];
        if (rd_kafka_conf_set(c, key, val, e, sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, errcap, "--kafka-opt %s: %s", o->opts[i], e);
            rc = -EINVAL;
        }
    }
    /* The guarantees, last. */
    if (rc == 0 && kind == TP_KAFKA_PRODUCER) {
        rc = set(c, "enable.idempotence", "true", err, errcap);
        if (rc == 0) rc = set(c, "acks", "all", err, errcap);
    }
    if (rc == 0 && kind == TP_KAFKA_CONSUMER) {
        rc = set(c, "group.id", o->group, err, errcap);
        if (rc == 0) rc = set(c, "enable.auto.commit", "false", err, errcap);
        if (rc == 0) rc = set(c, "enable.auto.offset.store", "false", err, errcap);
    }
    if (rc == 0 && kind == TP_KAFKA_READER) {
        /* librdkafka's consumer API needs a group id even for manual assignments; a reader
         * never subscribes or commits, so the group stays empty. */
        rc = set(c, "group.id", "tickpipe-reader", err, errcap);
        if (rc == 0) rc = set(c, "enable.auto.commit", "false", err, errcap);
    }
    if (rc < 0) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    if (kind == TP_KAFKA_PRODUCER) {
        rd_kafka_topic_conf_t *tc = rd_kafka_conf_get_default_topic_conf(c);
        if (!tc) {
            tc = rd_kafka_topic_conf_new();
            rd_kafka_topic_conf_set_partitioner_cb(tc, partitioner_cb);
            rd_kafka_conf_set_default_topic_conf(c, tc);
        } else {
            rd_kafka_topic_conf_set_partitioner_cb(tc, partitioner_cb);
        }
    }
    rd_kafka_conf_set_opaque(c, h);
    rd_kafka_conf_set_log_cb(c, log_cb);
    rd_kafka_conf_set_error_cb(c, error_cb);
    rd_kafka_conf_set_throttle_cb(c, throttle_cb);
    if (kind != TP_KAFKA_READER) rd_kafka_conf_set_stats_cb(c, stats_cb);
    *ret = c;
    return 0;
}

rd_kafka_t *tp_kafka_new(rd_kafka_conf_t *conf, enum tp_kafka_kind kind, const char *what)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(kind == TP_KAFKA_PRODUCER ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER,
                                  conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        tp_error("kafka %s: cannot create the client: %s", what, err);
    }
    return rk;
}

/* ---- topics ----------------------------------------------------------------------------- */

static int timeout_ms(const struct tp_kafka_opts *o)
{
    int64_t ms = o->timeout_ns / TP_NS_PER_MS;
    return ms <= 0 ? 1 : ms > 600000 ? 600000 : (int)ms;
}

/* Partition counts of the topics from the cluster's metadata (0: absent). */
static int read_counts(rd_kafka_t *rk, const struct tp_kafka_opts *o, const char *const *topics,
                       size_t n, int *counts)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms(o));
    if (err) {
        tp_error("kafka: cannot read the cluster's metadata from %s: %s", o->brokers,
                 rd_kafka_err2str(err));
        return -EIO;
    }
    for (size_t i = 0; i < n; i++) {
        counts[i] = 0;
        for (int t = 0; t < md->topic_cnt; t++)
            if (!strcmp(md->topics[t].topic, topics[i]) && !md->topics[t].err)
                counts[i] = md->topics[t].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

static void create_missing(rd_kafka_t *rk, const struct tp_kafka_opts *o, const char *const *topics,
                           const bool *compacted, size_t n, const int *counts)
{
    rd_kafka_NewTopic_t *nt[16];
    size_t k = 0;
    char err[512];
    for (size_t i = 0; i < n && k < TP_ARRAY_LEN(nt); i++) {
        if (counts[i]) continue;
        nt[k] = rd_kafka_NewTopic_new(topics[i], o->partitions,
                                      o->replication > 0 ? o->replication : -1, err, sizeof err);
        if (!nt[k]) {
            tp_error("kafka: cannot describe topic %s to create: %s", topics[i], err);
            continue;
        }
        if (compacted[i]) rd_kafka_NewTopic_set_config(nt[k], "cleanup.policy", "compact");
        tp_info("kafka: creating topic %s (%d partitions%s)", topics[i], o->partitions,
                compacted[i] ? ", compacted" : "");
        k++;
    }
    if (!k) return;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, timeout_ms(o), err, sizeof err);
    rd_kafka_CreateTopics(rk, nt, k, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms(o) + 1000);
    if (!ev) {
        tp_warn("kafka: CreateTopics got no answer");
    } else if (rd_kafka_event_error(ev)) {
        tp_warn("kafka: CreateTopics failed: %s", rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t nres = 0;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &nres);
        for (size_t i = 0; i < nres; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                tp_warn("kafka: cannot create topic %s: %s", rd_kafka_topic_result_name(tr[i]),
                        rd_kafka_topic_result_error_string(tr[i]));
        }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy_array(nt, k);
}

int tp_kafka_ensure_topics(rd_kafka_t *rk, const struct tp_kafka_opts *o, const char *const *topics,
                           const bool *compacted, size_t n, int *counts)
{
    int rc = read_counts(rk, o, topics, n, counts);
    if (rc < 0) return rc;
    bool missing = false;
    for (size_t i = 0; i < n; i++) missing |= counts[i] == 0;
    if (missing && o->create_topics) {
        create_missing(rk, o, topics, compacted, n, counts);
        /* Metadata catches up with a creation after a moment. */
        int64_t until = tp_mono_ns() + TP_MIN(o->timeout_ns, 10 * TP_NS_PER_SEC);
        do {
            rc = read_counts(rk, o, topics, n, counts);
            if (rc < 0) return rc;
            missing = false;
            for (size_t i = 0; i < n; i++) missing |= counts[i] == 0;
            if (missing) {
                struct timespec ts = {0, 200 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        } while (missing && tp_mono_ns() < until);
    }
    for (size_t i = 0; i < n; i++) {
        if (counts[i] > TP_KAFKA_MAX_PARTITIONS) {
            tp_error("kafka: topic %s has %d partitions; tickpipe handles at most %d", topics[i],
                     counts[i], TP_KAFKA_MAX_PARTITIONS);
            return -E2BIG;
        }
        if (!counts[i]) {
            tp_error("kafka: topic %s does not exist%s", topics[i],
                     o->create_topics ? " and could not be created (see above)"
                                      : " (--kafka-no-create-topics)");
            return -ENOENT;
        }
    }
    return 0;
}

rd_kafka_headers_t *tp_kafka_headers(const char *type)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, TP_KAFKA_SCHEMA_HEADER, -1, TP_KAFKA_SCHEMA_VERSION, -1);
    rd_kafka_header_add(h, TP_KAFKA_TYPE_HEADER, -1, type, -1);
    return h;
}

int tp_kafka_read_range(rd_kafka_t *reader, const char *topic, int32_t partition, int64_t from,
                        int64_t to, int64_t timeout_ns,
                        int (*fn)(void *arg, const rd_kafka_message_t *m), void *arg)
{
    if (from >= to) return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = from;
    rd_kafka_resp_err_t err = rd_kafka_assign(reader, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        tp_error("kafka: cannot read %s [%d]: %s", topic, (int)partition, rd_kafka_err2str(err));
        return -EIO;
    }
    int rc = 0;
    int64_t deadline = tp_mono_ns() + timeout_ns;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(reader, 100);
        if (!m) {
            if (tp_mono_ns() > deadline) {
                tp_error("kafka: reading %s [%d] from offset %lld timed out", topic, (int)partition,
                         (long long)from);
                rc = -ETIMEDOUT;
                break;
            }
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        if (m->err) {
            bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL ||
                         m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE;
            tp_log(fatal ? TP_LOG_ERROR : TP_LOG_WARN, "kafka: reading %s [%d]: %s", topic,
                   (int)partition, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            if (fatal) {
                rc = -EIO;
                break;
            }
            continue;
        }
        int64_t off = m->offset;
        if (off < to) rc = fn(arg, m);
        rd_kafka_message_destroy(m);
        if (rc || off >= to - 1) break;
    }
    rd_kafka_assign(reader, NULL);
    return rc;
}
