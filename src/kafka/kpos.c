/*
 * kpos.c — positions of replay sources over Kafka: the record codec, reading the last record
 * and scanning the ticks topic at start, and the sender's snapshots (see kpos.h for the design
 * and why the resume is exact).
 *
 * Reading the last record: the record's partition of the positions topic is read backwards
 * from its end in growing windows (64 messages, then 128, ...) until a window holds a record
 * of the source (keyed by its id, the name inside checked too); the last one in that window
 * wins (a partition keeps a key's records in the order they were written).
 *
 * Invariants of the sender's state:
 *  1. prod[q] >= dlv[q]: a delivery report follows its produce (per partition in order).
 *  2. pending => need[] and poffs[] describe the snapshot; remaining counts the partitions
 *     with dlv[q] < need[q]; ready <=> pending && remaining == 0 (or an initial/final record).
 *  3. floor[q] only grows, and is what the last record read or handed to the producer says.
 */
#include "kafka/kpos.h"

#include "core/log.h"
#include "core/tptime.h"
#include "log/journal.h"
#include "log/record.h"

#define MAGIC          "TPP1"
#define FIRST_WINDOW   64
#define MAX_WINDOW     ((int64_t)1 << 20)
#define PROGRESS_EVERY (2 * TP_NS_PER_SEC)

void tp_kpos_id(const char *ticks_topic, const char *name, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *s = ticks_topic; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    h = (h ^ (uint8_t)'|') * 0x100000001b3ull;
    for (const char *s = name; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The position of a zeroed END marker: the source's start. */
static void start_position(struct tp_source *src, struct tp_source_pos *ret)
{
    struct tp_event m;
    memset(&m, 0, sizeof m);
    m.kind = TP_KIND_MARK;
    m.status = TP_MARK_END;
    src->ops->position(src, &m, ret);
    ret->begin = false;
}

int tp_kpos_new(struct tp_source *src, const char *ticks_topic, int parts, struct tp_kpos **ret)
{
    struct tp_kpos *kp = calloc(1, sizeof *kp);
    if (!kp) return -ENOMEM;
    kp->src = src;
    kp->parts = parts;
    size_t n = (size_t)parts;
    kp->floor = calloc(n, sizeof *kp->floor);
    kp->have = calloc(n, sizeof *kp->have);
    kp->prod = calloc(n, sizeof *kp->prod);
    kp->dlv = calloc(n, sizeof *kp->dlv);
    kp->need = calloc(n, sizeof *kp->need);
    kp->poffs = calloc(n, sizeof *kp->poffs);
    if (!kp->floor || !kp->have || !kp->prod || !kp->dlv || !kp->need || !kp->poffs) {
        tp_kpos_free(kp);
        return -ENOMEM;
    }
    start_position(src, &kp->ppos);
    snprintf(kp->name, sizeof kp->name, "%s", kp->ppos.source);
    tp_kpos_id(ticks_topic, kp->name, kp->id);
    *ret = kp;
    return 0;
}

void tp_kpos_free(struct tp_kpos *kp)
{
    if (!kp) return;
    for (int q = 0; kp->have && q < kp->parts; q++) free(kp->have[q].v);
    free(kp->floor);
    free(kp->have);
    free(kp->prod);
    free(kp->dlv);
    free(kp->need);
    free(kp->poffs);
    free(kp);
}

/* ---- the record ---------------------------------------------------------------------------- */

int tp_kpos_encode(struct tp_buf *b, const struct tp_source_pos *pos, const int64_t *offs,
                   int parts)
{
    size_t start = b->len;
    int rc = tp_buf_append(b, MAGIC, 4);
    if (rc == 0) rc = tp_buf_u32(b, 0);
    if (rc == 0) rc = tp_rec_put_source_pos(b, pos);
    if (rc < 0) goto out_undo;
    uint32_t n = (uint32_t)(b->len - start - 8);
    for (int i = 0; i < 4; i++) b->p[start + 4 + (size_t)i] = (char)(n >> (8 * i));
    rc = tp_buf_u32(b, (uint32_t)parts);
    for (int q = 0; q < parts && rc == 0; q++) rc = tp_buf_i64(b, offs[q]);
    if (rc == 0) rc = tp_buf_u32(b, tp_crc32c(0, b->p + start, b->len - start));
    if (rc == 0) return 0;
out_undo:
    b->len = start;
    return rc;
}

int tp_kpos_decode(const void *p, size_t n, struct tp_source_pos *pos, int64_t *offs, int cap,
                   int *ret_parts)
{
    if (n < 4 + 4 + 4 + 4 || memcmp(p, MAGIC, 4)) return -EBADMSG;
    struct tp_rd r;
    tp_rd_init(&r, (const char *)p + n - 4, 4);
    if (tp_rd_u32(&r) != tp_crc32c(0, p, n - 4)) return -EBADMSG;
    tp_rd_init(&r, (const char *)p + 4, n - 8);
    uint32_t plen = tp_rd_u32(&r);
    if (r.err || plen > tp_rd_left(&r)) return -EBADMSG;
    struct tp_source_pos sp;
    if (tp_rec_get_source_pos(r.p, plen, &sp) < 0) return -EBADMSG;
    r.p += plen;
    uint32_t parts = tp_rd_u32(&r);
    if (r.err || parts == 0 || parts > TP_KAFKA_MAX_PARTITIONS || tp_rd_left(&r) != 8 * parts)
        return -EBADMSG;
    if ((int)parts > cap) return -E2BIG;
    for (uint32_t q = 0; q < parts; q++) offs[q] = tp_rd_i64(&r);
    if (r.err) return -EBADMSG;
    *pos = sp;
    *ret_parts = (int)parts;
    return 0;
}

/* ---- start: the last record ---------------------------------------------------------------- */

struct last_ctx {
    struct tp_kpos *kp;
    int64_t *offs; /* TP_KAFKA_MAX_PARTITIONS */
    bool got, stale;
    int got_parts;
    int64_t got_offset;
    struct tp_source_pos pos;
    uint64_t bad;
};

static int last_one(void *arg, const rd_kafka_message_t *m)
{
    struct last_ctx *c = arg;
    if (m->key_len != 16 || memcmp(m->key, c->kp->id, 16)) return 0;
    struct tp_source_pos pos;
    int parts;
    if (tp_kpos_decode(m->payload, m->len, &pos, c->offs, TP_KAFKA_MAX_PARTITIONS, &parts) < 0) {
        c->bad++;
        return 0;
    }
    if (strcmp(pos.source, c->kp->name)) return 0; /* another source with the same hash */
    c->got = true;
    c->pos = pos;
    c->got_parts = parts;
    c->got_offset = m->offset;
    if (parts == c->kp->parts) memcpy(c->kp->floor, c->offs, (size_t)parts * sizeof *c->offs);
    c->stale = parts != c->kp->parts;
    return 0;
}

static int read_last(rd_kafka_t *producer, rd_kafka_t *reader, const struct tp_kafka_opts *o,
                     int pos_parts, struct tp_kpos *kp, int64_t *offs)
{
    int32_t p = tp_kafka_partition(kp->id, 16, pos_parts);
    int tmo = (int)TP_MIN(o->timeout_ns / TP_NS_PER_MS, 600000);
    int64_t lo, hi;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(producer, o->topic_positions, p, &lo, &hi, tmo);
    if (err) {
        tp_error("kafka ingest: cannot read the offsets of %s [%d]: %s", o->topic_positions, (int)p,
                 rd_kafka_err2str(err));
        return -EIO;
    }
    struct last_ctx c = {.kp = kp, .offs = offs};
    int64_t end = hi, window = FIRST_WINDOW;
    while (end > lo && !c.got) {
        int64_t from = TP_MAX(lo, end - window);
        int rc = tp_kafka_read_range(reader, o->topic_positions, p, from, end, o->timeout_ns,
                                     last_one, &c);
        if (rc < 0) return rc;
        end = from;
        window = TP_MIN(window * 2, MAX_WINDOW);
    }
    if (c.bad)
        tp_warn("kafka ingest: %llu record(s) of %s under the key of source %s did not decode",
                (unsigned long long)c.bad, o->topic_positions, kp->name);
    if (!c.got) return 0;
    if (c.stale) {
        tp_error("kafka ingest: source %s: its position in %s (offset %lld) was recorded when %s "
                 "had %d partitions; it has %d now, so its instruments moved and the file cannot "
                 "be resumed exactly (to send it again from its start, use another "
                 "--kafka-topic-positions)",
                 kp->name, o->topic_positions, (long long)c.got_offset, o->topic_ticks, c.got_parts,
                 kp->parts);
        return -ESTALE;
    }
    kp->found = true;
    kp->last = c.pos;
    kp->last.begin = false;
    kp->seq = c.pos.events;
    return 0;
}

/* ---- start: the scan of the ticks topic ---------------------------------------------------- */

struct scan_ctx {
    struct tp_kpos **kp;
    size_t n;
    int32_t q;
    uint64_t read, total, kept;
    int64_t t0, next_progress;
    const char *topic;
    bool warned;
};

static void have_add(struct scan_ctx *c, struct tp_kpos *kp, int32_t q, uint64_t seq)
{
    struct tp_kpos_have *h = &kp->have[q];
    kp->have_n++;
    if (seq > kp->have_max) kp->have_max = seq;
    bool increasing = !h->n || seq > h->v[h->n - 1];
    if (seq > h->max) h->max = seq;
    if (h->maxonly) return;
    if (!increasing || c->kept >= TP_KPOS_HAVE_MAX) {
        if (!c->warned)
            tp_warn("kafka ingest: source %s: %s [%d]: %s; from there on every event up to the "
                    "largest number found is taken as sent",
                    kp->name, c->topic, (int)q,
                    increasing ? "too many events of the source after its position"
                               : "the source's event numbers are not increasing (two runs at "
                                 "once?)");
        c->warned = true;
        h->maxonly = true;
        c->kept -= h->n;
        free(h->v);
        h->v = NULL;
        h->n = h->cap = 0;
        return;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        uint64_t *v = realloc(h->v, cap * sizeof *v);
        if (!v) {
            h->maxonly = true; /* degrade rather than fail: still exact without holes */
            c->kept -= h->n;
            free(h->v);
            h->v = NULL;
            h->n = h->cap = 0;
            return;
        }
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = seq;
    c->kept++;
}

static bool header(rd_kafka_headers_t *h, const char *name, const void **v, size_t *n)
{
    return rd_kafka_header_get_last(h, name, v, n) == RD_KAFKA_RESP_ERR_NO_ERROR && *v;
}

static int scan_one(void *arg, const rd_kafka_message_t *m)
{
    struct scan_ctx *c = arg;
    c->read++;
    int64_t now = tp_mono_ns();
    if (now >= c->next_progress) {
        tp_info("kafka ingest: scanning %s: %llu of %llu message(s) read (%.1f s)", c->topic,
                (unsigned long long)c->read, (unsigned long long)c->total,
                (double)(now - c->t0) / 1e9);
        c->next_progress = now + PROGRESS_EVERY;
    }
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) || !h) return 0;
    const void *v;
    size_t n;
    if (!header(h, TP_KPOS_SOURCE_HEADER, &v, &n) || n != 16) return 0;
    struct tp_kpos *kp = NULL;
    for (size_t i = 0; i < c->n && !kp; i++)
        if (c->kp[i]->found && !memcmp(c->kp[i]->id, v, 16)) kp = c->kp[i];
    if (!kp || m->offset < kp->floor[c->q]) return 0;
    if (!header(h, TP_KPOS_SEQ_HEADER, &v, &n) || n == 0 || n > 20) return 0;
    uint64_t seq = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)((const char *)v)[i] - '0';
        if (d > 9 || seq > (UINT64_MAX - d) / 10) return 0;
        seq = seq * 10 + d;
    }
    if (seq > kp->last.events) have_add(c, kp, c->q, seq);
    return 0;
}

int tp_kpos_resume(rd_kafka_t *producer, rd_kafka_t *reader, const struct tp_kafka_opts *o,
                   int pos_parts, const int64_t *hi, struct tp_kpos **kp, size_t n)
{
    int64_t *offs = malloc(TP_KAFKA_MAX_PARTITIONS * sizeof *offs);
    if (!offs) return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = read_last(producer, reader, o, pos_parts, kp[i], offs);
    free(offs);
    if (rc < 0) return rc;
    bool any = false;
    int parts = n ? kp[0]->parts : 0;
    struct scan_ctx c = {.kp = kp, .n = n, .topic = o->topic_ticks, .t0 = tp_mono_ns()};
    int64_t *from = calloc((size_t)TP_MAX(parts, 1), sizeof *from);
    if (!from) return -ENOMEM;
    for (int q = 0; q < parts; q++) {
        from[q] = hi[q];
        for (size_t i = 0; i < n; i++)
            if (kp[i]->found) from[q] = TP_MIN(from[q], kp[i]->floor[q]);
        c.total += (uint64_t)TP_MAX(hi[q] - from[q], 0);
    }
    for (size_t i = 0; i < n; i++) {
        struct tp_kpos *k = kp[i];
        any |= k->found;
        if (k->found) {
            tp_info("kafka ingest: source %s: last position in %s at event %llu (byte %llu, "
                    "line %llu%s)",
                    k->name, o->topic_positions, (unsigned long long)k->last.events,
                    (unsigned long long)k->last.offset, (unsigned long long)k->last.line,
                    k->last.eof ? ", the end of the file" : "");
            continue;
        }
        /* The first run: an initial record (the start, the topic's ends) before any event. */
        memcpy(k->floor, hi, (size_t)parts * sizeof *hi);
        memcpy(k->poffs, hi, (size_t)parts * sizeof *hi);
        k->pending = k->ready = true;
        tp_info("kafka ingest: source %s: no position in %s: sending the file from its start",
                k->name, o->topic_positions);
    }
    if (any && c.total) {
        tp_info("kafka ingest: scanning %llu message(s) of %s written after the last position(s) "
                "for events already sent",
                (unsigned long long)c.total, o->topic_ticks);
        c.next_progress = c.t0 + PROGRESS_EVERY;
        for (int q = 0; q < parts && rc == 0; q++) {
            c.q = q;
            rc = tp_kafka_read_range(reader, o->topic_ticks, q, from[q], hi[q], o->timeout_ns,
                                     scan_one, &c);
        }
    }
    free(from);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n && any; i++) {
        struct tp_kpos *k = kp[i];
        if (!k->found) continue;
        tp_info("kafka ingest: source %s: %llu of its event(s) after the position are in %s "
                "already (up to #%llu); %llu message(s) scanned in %.3f s",
                k->name, (unsigned long long)k->have_n, o->topic_ticks,
                (unsigned long long)k->have_max, (unsigned long long)c.read,
                (double)(tp_mono_ns() - c.t0) / 1e9);
    }
    return 0;
}

/* ---- the sender ---------------------------------------------------------------------------- */

bool tp_kpos_dup(struct tp_kpos *kp, int32_t q, uint64_t seq)
{
    struct tp_kpos_have *h = &kp->have[q];
    if (seq > h->max) return false;
    if (h->maxonly) return true;
    while (h->at < h->n && h->v[h->at] < seq) h->at++;
    return h->at < h->n && h->v[h->at] == seq;
}

void tp_kpos_done(struct tp_kpos *kp, int32_t q, uint64_t seq, int how)
{
    kp->seq = seq;
    if (how == 0)
        kp->prod[q]++;
    else if (how == 1)
        kp->skipped++;
    else
        kp->rejected++;
    if (!kp->skip_logged && kp->have_n && seq >= kp->have_max) {
        tp_info("kafka ingest: source %s: %llu event(s) up to #%llu were in the topic already "
                "(sent before the restart) and were not sent again",
                kp->name, (unsigned long long)kp->skipped, (unsigned long long)kp->have_max);
        kp->skip_logged = true;
    }
}

static void snapshot(struct tp_kpos *kp, const struct tp_source_pos *pos, const int64_t *acked)
{
    kp->ppos = *pos;
    kp->remaining = 0;
    for (int q = 0; q < kp->parts; q++) {
        kp->need[q] = kp->prod[q];
        if (kp->dlv[q] < kp->need[q]) kp->remaining++;
        /* acked[q] bounds every later message of the source in q, unless the scan found one
         * past this position there (sent by the killed run): then the old bound stays. */
        kp->poffs[q] =
            kp->have[q].max <= pos->events ? TP_MAX(kp->floor[q], acked[q]) : kp->floor[q];
    }
    kp->pending = true;
    kp->ready = kp->remaining == 0;
}

int tp_kpos_mark(struct tp_kpos *kp, const struct tp_event *mark, const int64_t *acked, int64_t now)
{
    struct tp_source_pos pos;
    kp->src->ops->position(kp->src, mark, &pos);
    pos.begin = false;
    if (pos.events != kp->seq) {
        tp_error("kafka ingest: source %s: a position says %llu event(s), %llu were handed on "
                 "(a source bug)",
                 kp->name, (unsigned long long)pos.events, (unsigned long long)kp->seq);
        return -EPROTO;
    }
    if (mark->status != TP_MARK_END) return 0;
    kp->end = pos;
    kp->have_end = true;
    if (!kp->pending && now >= kp->next_at) snapshot(kp, &pos, acked);
    return 0;
}

void tp_kpos_delivered(struct tp_kpos *kp, int32_t q)
{
    kp->dlv[q]++;
    if (kp->pending && !kp->ready && kp->dlv[q] == kp->need[q] && --kp->remaining == 0)
        kp->ready = true;
}

bool tp_kpos_final(struct tp_kpos *kp, const int64_t *acked)
{
    if (!kp->have_end) return false;
    if (kp->written && kp->written_events == kp->end.events && kp->ppos.eof == kp->end.eof &&
        !kp->pending)
        return false;
    snapshot(kp, &kp->end, acked);
    return kp->ready;
}

int tp_kpos_record(struct tp_kpos *kp, struct tp_buf *b)
{
    tp_buf_reset(b);
    return tp_kpos_encode(b, &kp->ppos, kp->poffs, kp->parts);
}

void tp_kpos_written(struct tp_kpos *kp, int64_t now)
{
    for (int q = 0; q < kp->parts; q++) kp->floor[q] = TP_MAX(kp->floor[q], kp->poffs[q]);
    kp->written++;
    kp->written_events = kp->ppos.events;
    kp->pending = kp->ready = false;
    kp->next_at = now + TP_KPOS_EVERY_NS;
}
