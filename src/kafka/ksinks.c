/*
 * ksinks.c — one partition's sink instances in the Kafka process role (see ksinks.h).
 *
 * Invariants:
 *  1. An instance is written only while open; its ack[] are what its last open or flush
 *     returned, so a record below ack[log] is durably in the sink already and is dropped.
 *  2. `pending` counts the records handed to an instance since its last successful flush; a
 *     final flush that succeeds leaves it 0 (the sink acknowledged everything it was given).
 *  3. A failure closes nothing by itself: the caller decides (tp_ksinks_close), so that the
 *     set is either wholly open or wholly closed when the caller looks.
 */
#include "core/log.h"
#include "core/tptime.h"
#include "kafka/ksinks.h"

struct inst {
    const struct tp_sink_ops *ops;
    void *self;
    bool open;
    uint64_t ack[2];
    uint64_t pending;
    int64_t flushed_at;
};

struct tp_ksinks {
    struct inst in[TP_KSINKS_MAX];
    struct tp_ksink_totals *tot[TP_KSINKS_MAX];
    size_t n;
};

int tp_ksinks_new(const struct tp_ksink_kind *kinds, size_t n, struct tp_ksink_totals *totals,
                  const char *topic, int32_t p, struct tp_ksinks **ret)
{
    if (n > TP_KSINKS_MAX) return -EINVAL;
    struct tp_ksinks *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = kinds[i].make(kinds[i].ctx, topic, p, &s->in[i].ops, &s->in[i].self);
        if (rc < 0) {
            tp_ksinks_free(s);
            return rc;
        }
        s->tot[i] = &totals[i];
        s->n++;
    }
    *ret = s;
    return 0;
}

void tp_ksinks_close(struct tp_ksinks *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct inst *x = &s->in[i];
        if (x->open) x->ops->close(x->self);
        x->open = false;
        x->pending = 0;
    }
}

void tp_ksinks_free(struct tp_ksinks *s)
{
    if (!s) return;
    tp_ksinks_close(s);
    for (size_t i = 0; i < s->n; i++) s->in[i].ops->free(s->in[i].self);
    free(s);
}

static int failed(struct tp_ksinks *s, size_t i, int rc, size_t *ret_kind)
{
    s->tot[i]->failures++;
    s->tot[i]->error = -rc;
    if (ret_kind) *ret_kind = i;
    return rc;
}

int tp_ksinks_open(struct tp_ksinks *s, size_t *ret_kind)
{
    int64_t now = tp_mono_ns();
    for (size_t i = 0; i < s->n; i++) {
        struct inst *x = &s->in[i];
        if (x->open) continue;
        uint64_t ack[2] = {TP_SINK_NO_ACK, TP_SINK_NO_ACK};
        int rc = x->ops->open(x->self, ack);
        if (rc < 0) {
            x->ops->close(x->self);
            tp_ksinks_close(s);
            return failed(s, i, rc, ret_kind);
        }
        x->open = true;
        x->ack[0] = x->ops->reads_input ? ack[0] : TP_SINK_NO_ACK;
        x->ack[1] = x->ops->reads_output ? ack[1] : TP_SINK_NO_ACK;
        x->pending = 0;
        x->flushed_at = now;
    }
    return 0;
}

static int flush_one(struct tp_ksinks *s, size_t i, bool final, int64_t now, size_t *ret_kind)
{
    struct inst *x = &s->in[i];
    uint64_t ack[2] = {x->ack[0], x->ack[1]};
    int rc = x->ops->flush(x->self, final, ack);
    if (rc < 0) return failed(s, i, rc, ret_kind);
    bool moved = false;
    for (int l = 0; l < 2; l++) {
        if (x->ack[l] == TP_SINK_NO_ACK) continue;
        moved |= ack[l] != x->ack[l];
        x->ack[l] = ack[l];
    }
    /* A sink acknowledges a whole batch at once: what it was given is then all in (the lake's
     * non-final flush commits nothing and moves no ack). */
    if (final || moved) x->pending = 0;
    x->flushed_at = now;
    return 0;
}

int tp_ksinks_write(struct tp_ksinks *s, enum tp_sink_log log, uint64_t off, const void *payload,
                    size_t n, size_t *ret_kind)
{
    for (size_t i = 0; i < s->n; i++) {
        struct inst *x = &s->in[i];
        if (!x->open || x->ack[log] == TP_SINK_NO_ACK) continue;
        if (off < x->ack[log]) { /* invariant 1: already in the sink */
            s->tot[i]->skipped++;
            continue;
        }
        int rc = x->ops->write(x->self, log, off, payload, n);
        if (rc < 0) return failed(s, i, rc, ret_kind);
        x->pending++;
        s->tot[i]->written++;
        if (rc == 1) {
            rc = flush_one(s, i, false, tp_mono_ns(), ret_kind);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

int tp_ksinks_flush(struct tp_ksinks *s, bool final, int64_t now, size_t *ret_kind)
{
    for (size_t i = 0; i < s->n; i++) {
        struct inst *x = &s->in[i];
        if (!x->open) continue;
        int64_t every = x->ops->flush_ns > 0 ? x->ops->flush_ns : TP_NS_PER_SEC;
        if (!final && (!x->pending || now - x->flushed_at < every)) continue;
        int rc = flush_one(s, i, final, now, ret_kind);
        if (rc < 0) return rc;
    }
    return 0;
}

uint64_t tp_ksinks_pending(const struct tp_ksinks *s, size_t kind)
{
    return kind < s->n ? s->in[kind].pending : 0;
}
