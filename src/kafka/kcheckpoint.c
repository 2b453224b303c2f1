/*
 * kcheckpoint.c — engine checkpoints in a Kafka topic (see kcheckpoint.h for the format and
 * why any complete checkpoint found is a valid place to resume).
 *
 * Reading: the chunks of the wanted key found in a window [start, end) of the partition are
 * collected (their data copied, bounded by TP_KCK_STATE_MAX in total); if some write is
 * complete (every chunk 0..chunks-1 present, same total and crc), the one with the largest
 * `next` wins and is assembled and checked; otherwise the window moves back, doubling, until
 * the partition's start.
 */
#include <unistd.h>

#include "core/log.h"
#include "core/tptime.h"
#include "kafka/kcheckpoint.h"
#include "log/journal.h"

#define MAGIC        "TPK1"
#define HEADER_BYTES (4 + 8 + 8 + 8 + 4 + 4 + 8 + 4)
#define FIRST_WINDOW 64
#define MAX_FOUND    65536 /* chunks remembered while scanning */

static int timeout_ms(const struct tp_kafka_opts *o)
{
    int64_t ms = o->timeout_ns / TP_NS_PER_MS;
    return ms <= 0 ? 1 : ms > 600000 ? 600000 : (int)ms;
}

int tp_kck_init(struct tp_kck *s, const struct tp_kafka_opts *o, rd_kafka_t *producer,
                int partitions, struct tp_kafka_health *h)
{
    *s = (struct tp_kck){.o = o, .producer = producer, .partitions = partitions};
    s->chunk = TP_KCK_CHUNK_DEFAULT;
    s->writer = (uint64_t)tp_now_ns() ^ ((uint64_t)getpid() << 40) ^ (uint64_t)tp_mono_ns();
    rd_kafka_conf_t *conf;
    char e[512];
    int rc = tp_kafka_conf(o, TP_KAFKA_READER, h, &conf, e, sizeof e);
    if (rc < 0) {
        tp_error("kafka checkpoints: %s", e);
        return rc;
    }
    s->reader = tp_kafka_new(conf, TP_KAFKA_READER, "process (checkpoints)");
    if (!s->reader) return -EIO;
    s->rkt = rd_kafka_topic_new(producer, o->topic_checkpoints, NULL);
    if (!s->rkt) {
        tp_error("kafka checkpoints: cannot use topic %s: %s", o->topic_checkpoints,
                 rd_kafka_err2str(rd_kafka_last_error()));
        tp_kck_fini(s);
        return -EIO;
    }
    return 0;
}

void tp_kck_fini(struct tp_kck *s)
{
    if (s->rkt) rd_kafka_topic_destroy(s->rkt);
    if (s->reader) {
        rd_kafka_consumer_close(s->reader);
        rd_kafka_destroy(s->reader);
    }
    s->rkt = NULL;
    s->reader = NULL;
}

static int key_prefix(const struct tp_kck *s, int32_t p, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s|%s|%d|", s->o->group, s->o->topic_ticks, (int)p);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}

int tp_kck_write(struct tp_kck *s, int32_t p, int64_t next, const void *state, size_t n)
{
    if (n > TP_KCK_STATE_MAX) {
        tp_error("kafka checkpoints: the engine state of partition %d is %zu bytes, more than "
                 "%zu",
                 (int)p, n, TP_KCK_STATE_MAX);
        return -E2BIG;
    }
    char key[512];
    int kl = key_prefix(s, p, key, sizeof key - 16);
    if (kl < 0) return kl;
    uint32_t chunks = n ? (uint32_t)((n + s->chunk - 1) / s->chunk) : 1;
    uint32_t crc = tp_crc32c(0, state, n);
    uint64_t seq = ++s->seq;
    struct tp_buf b;
    tp_buf_init(&b, HEADER_BYTES + s->chunk);
    int rc = 0;
    for (uint32_t i = 0; i < chunks && rc == 0; i++) {
        size_t off = (size_t)i * s->chunk, len = TP_MIN(s->chunk, n - off);
        tp_buf_reset(&b);
        rc = tp_buf_append(&b, MAGIC, 4);
        if (rc == 0) rc = tp_buf_u64(&b, (uint64_t)next);
        if (rc == 0) rc = tp_buf_u64(&b, s->writer);
        if (rc == 0) rc = tp_buf_u64(&b, seq);
        if (rc == 0) rc = tp_buf_u32(&b, i);
        if (rc == 0) rc = tp_buf_u32(&b, chunks);
        if (rc == 0) rc = tp_buf_u64(&b, n);
        if (rc == 0) rc = tp_buf_u32(&b, crc);
        if (rc == 0 && len) rc = tp_buf_append(&b, (const char *)state + off, len);
        if (rc < 0) break;
        int klen = kl + snprintf(key + kl, sizeof key - (size_t)kl, "%u", i);
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                s->producer, RD_KAFKA_V_RKT(s->rkt), RD_KAFKA_V_PARTITION(p % s->partitions),
                RD_KAFKA_V_KEY(key, (size_t)klen), RD_KAFKA_V_VALUE(b.p, b.len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADER(TP_KAFKA_SCHEMA_HEADER, TP_KAFKA_SCHEMA_VERSION,
                                  (ssize_t)strlen(TP_KAFKA_SCHEMA_VERSION)),
                RD_KAFKA_V_HEADER(TP_KAFKA_TYPE_HEADER, "checkpoint", 10), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(s->producer, 10);
                continue;
            }
            if (err) {
                tp_error("kafka checkpoints: cannot produce to %s: %s", s->o->topic_checkpoints,
                         rd_kafka_err2str(err));
                rc = -EIO;
            }
            break;
        }
    }
    tp_buf_fini(&b);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

struct found {
    int64_t offset, next;
    uint64_t writer, seq, total;
    uint32_t idx, chunks, crc;
    char *data;
    size_t len;
};

struct scan {
    const char *prefix;
    size_t plen;
    struct found *f;
    size_t n, cap;
    size_t bytes; /* data held */
    int err;
};

static int collect(void *arg, const rd_kafka_message_t *m)
{
    struct scan *sc = arg;
    if (m->key_len <= sc->plen || memcmp(m->key, sc->prefix, sc->plen)) return 0;
    struct tp_rd r;
    tp_rd_init(&r, m->payload, m->len);
    char magic[4];
    tp_rd_bytes(&r, magic, 4);
    struct found f = {.offset = m->offset};
    f.next = tp_rd_i64(&r);
    f.writer = tp_rd_u64(&r);
    f.seq = tp_rd_u64(&r);
    f.idx = tp_rd_u32(&r);
    f.chunks = tp_rd_u32(&r);
    f.total = tp_rd_u64(&r);
    f.crc = tp_rd_u32(&r);
    if (r.err || memcmp(magic, MAGIC, 4) || f.idx >= f.chunks || f.total > TP_KCK_STATE_MAX ||
        f.next < 0)
        return 0; /* not a checkpoint chunk of ours: ignore */
    f.len = tp_rd_left(&r);
    if (sc->n == MAX_FOUND || sc->bytes + f.len > 2 * TP_KCK_STATE_MAX) {
        sc->err = -E2BIG;
        return 1;
    }
    if (sc->n == sc->cap) {
        size_t ncap = sc->cap ? sc->cap * 2 : 64;
        struct found *nf = realloc(sc->f, ncap * sizeof *nf);
        if (!nf) {
            sc->err = -ENOMEM;
            return 1;
        }
        sc->f = nf;
        sc->cap = ncap;
    }
    f.data = malloc(f.len ? f.len : 1);
    if (!f.data) {
        sc->err = -ENOMEM;
        return 1;
    }
    memcpy(f.data, r.p, f.len);
    sc->bytes += f.len;
    sc->f[sc->n++] = f;
    return 0;
}

/* The chunk idx of write (writer, seq) among the found ones, or NULL. */
static const struct found *find_chunk(const struct scan *sc, uint64_t writer, uint64_t seq,
                                      uint32_t idx)
{
    for (size_t i = sc->n; i-- > 0;)
        if (sc->f[i].writer == writer && sc->f[i].seq == seq && sc->f[i].idx == idx)
            return &sc->f[i];
    return NULL;
}

static bool complete(const struct scan *sc, const struct found *head)
{
    for (uint32_t i = 0; i < head->chunks; i++) {
        const struct found *c = find_chunk(sc, head->writer, head->seq, i);
        if (!c || c->chunks != head->chunks || c->total != head->total || c->crc != head->crc ||
            c->next != head->next)
            return false;
    }
    return true;
}

/* Assembles the best complete write into out: 1, 0 when none, or -EBADMSG. */
static int assemble(const struct scan *sc, int64_t *next, struct tp_buf *out)
{
    const struct found *best = NULL;
    for (size_t i = 0; i < sc->n; i++) {
        const struct found *f = &sc->f[i];
        if (f->idx != 0 || (best && f->next < best->next) || !complete(sc, f)) continue;
        best = f;
    }
    if (!best) return 0;
    tp_buf_reset(out);
    for (uint32_t i = 0; i < best->chunks; i++) {
        const struct found *c = find_chunk(sc, best->writer, best->seq, i);
        if (tp_buf_append(out, c->data, c->len) < 0) return -E2BIG;
    }
    if (out->len != best->total || tp_crc32c(0, out->p, out->len) != best->crc) return -EBADMSG;
    *next = best->next;
    return 1;
}

static void scan_free(struct scan *sc)
{
    for (size_t i = 0; i < sc->n; i++) free(sc->f[i].data);
    free(sc->f);
}

int tp_kck_read(struct tp_kck *s, int32_t p, int64_t *next, struct tp_buf *out)
{
    const char *topic = s->o->topic_checkpoints;
    int32_t q = p % s->partitions;
    int64_t lo, hi;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(s->reader, topic, q, &lo, &hi, timeout_ms(s->o));
    if (err) {
        tp_error("kafka checkpoints: cannot read the offsets of %s [%d]: %s", topic, (int)q,
                 rd_kafka_err2str(err));
        return -EIO;
    }
    char prefix[512];
    int pl = key_prefix(s, p, prefix, sizeof prefix);
    if (pl < 0) return pl;
    struct scan sc = {.prefix = prefix, .plen = (size_t)pl};
    int rc = 0;
    int64_t end = hi, window = FIRST_WINDOW;
    while (end > lo) {
        int64_t start = TP_MAX(lo, end - window);
        rc = tp_kafka_read_range(s->reader, topic, q, start, end, s->o->timeout_ns, collect, &sc);
        if (rc == 1) rc = sc.err;
        if (rc < 0) break;
        rc = assemble(&sc, next, out);
        if (rc != 0) break;
        end = start;
        window *= 2;
    }
    scan_free(&sc);
    if (rc == -EBADMSG)
        tp_error("kafka checkpoints: the checkpoint of partition %d in %s [%d] is corrupt", (int)p,
                 topic, (int)q);
    else if (rc == -E2BIG || rc == -ENOMEM)
        tp_error("kafka checkpoints: reading the checkpoint of partition %d: %s", (int)p,
                 strerror(-rc));
    return rc;
}
