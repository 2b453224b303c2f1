/*
 * lake_sink.c — the lake as a sink of both journals (pipeline/sinkrun.h): journal records →
 * the lake writer → committed batches → the ack file (the protocol is in lake.h).
 *
 * open:  takes the lake's lock; reads the ack (a lake without one but with part files is not
 *        trusted: fatal -EBADMSG, nothing removed); removes what lies past it; drops whatever
 *        the writer still held; unlocks; returns the ack.
 * write: decodes the record into its table (input: events; output: bars, anomalies, late,
 *        gaps; checkpoints and source positions only extend the batch); when the batch is
 *        due (an offset boundary or the memory cap) commits it and returns 1 so the runner
 *        picks up the new ack.
 * flush: with final, commits what is pending (a partial batch: the next one starts right
 *        after it); always reports the ack.
 *
 * A commit takes the lock (blocking: compaction holds it for its run), writes the batch's
 * files, then the ack file with the log's new offset, then unlocks. Runs on the runner's
 * thread only; logs once per decision, with the lake's path.
 *
 * Partition mode (tp_lake_sink_new_part, the Kafka process role): one sink per ticks
 * partition, all in one lake, possibly in several processes. Each keeps its own ack file
 * (_tickpipe/ack.TOPIC.pN) and writes part files whose partition field is N; its offsets are
 * the role's encoded offsets (partition in the high bits), so the files of two partitions
 * never share a name. The lake's lock serializes the commits of every instance; open removes
 * only partition N's files past its ack, so one instance's restart never touches another's
 * batches.
 */
#include <limits.h>

#include "core/log.h"
#include "log/record.h"
#include "sink/lake.h"

struct lake_sink {
    struct tp_lake_opts o;
    char dir[PATH_MAX];
    struct tp_lake_writer *w;
    uint64_t ack[2];
    bool opened_once;
    bool part_mode;            /* tp_lake_sink_new_part */
    char ack_name[128];        /* "ack" or "ack.TOPIC.pN" */
    char what[PATH_MAX + 160]; /* for messages: the lake's path, plus the partition */
};

static int ack_read(struct lake_sink *s, uint64_t a[2])
{
    return tp_lake_ack_read_named(s->dir, s->ack_name, a);
}

static int ack_write(struct lake_sink *s, const uint64_t a[2])
{
    return tp_lake_ack_write_named(s->dir, s->ack_name, a);
}

/* Partition mode: the embedded pipeline's ack means another offset space. */
static int check_not_embedded(struct lake_sink *s)
{
    uint64_t other[2];
    int rc = tp_lake_ack_read(s->dir, other);
    if (rc == -ENOENT) return 0;
    tp_error("lake %s: it has _tickpipe/ack, written by the embedded pipeline, whose offsets "
             "do not mix with the Kafka process role's: use another --data",
             s->dir);
    return -EBADMSG;
}

static int lake_open(void *self, uint64_t ack[2])
{
    struct lake_sink *s = self;
    tp_lake_discard(s->w);
    int rc = tp_lake_mkdirs(s->dir);
    if (rc < 0) {
        tp_error("lake %s: cannot create it: %s", s->dir, strerror(-rc));
        return rc;
    }
    int lk;
    if ((rc = tp_lake_lock(s->dir, true, &lk)) < 0) {
        tp_error("lake %s: cannot take its lock: %s", s->dir, strerror(-rc));
        return rc;
    }
    uint64_t a[2];
    int64_t only = s->part_mode ? (int64_t)s->o.partition : -1;
    rc = s->part_mode ? check_not_embedded(s) : 0;
    if (rc == 0) {
        rc = ack_read(s, a);
        if (rc == -ENOENT) {
            struct tp_lake_scan sc;
            rc = tp_lake_remove_past_part(s->dir, NULL, only, &sc);
            if (rc == 0 && sc.parts) {
                tp_error("lake %s: %llu part file(s) but no _tickpipe/%s: not removing "
                         "anything; restore the ack file or move the files away",
                         s->what, (unsigned long long)sc.parts, s->ack_name);
                rc = -EBADMSG;
            } else if (rc == 0) {
                a[0] = a[1] = 0;
                rc = ack_write(s, a);
            }
        } else if (rc == -EBADMSG) {
            tp_error("lake %s: _tickpipe/%s is malformed; not touching the lake", s->what,
                     s->ack_name);
        }
    }
    struct tp_lake_scan sc = {0};
    if (rc == 0) rc = tp_lake_remove_past_part(s->dir, a, only, &sc);
    tp_lake_unlock(lk);
    if (rc < 0) {
        if (rc != -EBADMSG) tp_error("lake %s: cannot open: %s", s->what, strerror(-rc));
        return rc;
    }
    if (sc.removed)
        tp_info("lake %s: removed %llu file(s) past the acknowledged offsets (input %llu, "
                "output %llu); they are written again",
                s->what, (unsigned long long)sc.removed, (unsigned long long)a[0],
                (unsigned long long)a[1]);
    if (!s->opened_once)
        tp_info("lake %s: resuming at input %llu, output %llu", s->what, (unsigned long long)a[0],
                (unsigned long long)a[1]);
    s->opened_once = true;
    s->ack[0] = ack[0] = a[0];
    s->ack[1] = ack[1] = a[1];
    return 0;
}

/* Commits log's batch and records the new ack, under the lock. */
static int commit(struct lake_sink *s, enum tp_sink_log log)
{
    int lk;
    int rc = tp_lake_lock(s->dir, true, &lk);
    if (rc < 0) return rc;
    uint64_t next = s->ack[log];
    rc = tp_lake_commit(s->w, log, &next);
    if (rc == 0 && next != s->ack[log]) {
        uint64_t a[2] = {s->ack[0], s->ack[1]};
        a[log] = next;
        rc = ack_write(s, a);
        if (rc == 0) s->ack[log] = next;
    }
    tp_lake_unlock(lk);
    if (rc < 0)
        tp_error("lake %s: commit of the %s log's batch failed: %s", s->what,
                 log == TP_LOG_INPUT ? "input" : "output", strerror(-rc));
    return rc;
}

static int bad_record(struct lake_sink *s, enum tp_sink_log log, uint64_t off)
{
    tp_error("lake %s: %s journal record %llu does not decode", s->what,
             log == TP_LOG_INPUT ? "input" : "output", (unsigned long long)off);
    return -EBADMSG;
}

static int lake_write(void *self, enum tp_sink_log log, uint64_t off, const void *p, size_t n)
{
    struct lake_sink *s = self;
    int rc;
    enum tp_rec_type t = tp_rec_type(p, n);
    if (log == TP_LOG_INPUT && t == TP_REC_EVENT) {
        struct tp_event e;
        if (tp_rec_get_event(p, n, &e) < 0) return bad_record(s, log, off);
        rc = tp_lake_tick(s->w, off, &e);
    } else if (log == TP_LOG_OUTPUT && t == TP_REC_BAR) {
        struct tp_bar b;
        if (tp_rec_get_bar(p, n, &b) < 0) return bad_record(s, log, off);
        rc = tp_lake_bar(s->w, off, &b);
    } else if (log == TP_LOG_OUTPUT && t == TP_REC_ANOMALY) {
        struct tp_anomaly a;
        if (tp_rec_get_anomaly(p, n, &a) < 0) return bad_record(s, log, off);
        rc = tp_lake_anomaly(s->w, off, &a);
    } else if (log == TP_LOG_OUTPUT && t == TP_REC_LATE) {
        struct tp_event e;
        int64_t iv;
        if (tp_rec_get_late(p, n, &e, &iv) < 0) return bad_record(s, log, off);
        rc = tp_lake_late(s->w, off, &e, iv);
    } else if (log == TP_LOG_OUTPUT && t == TP_REC_GAP) {
        struct tp_gap g;
        if (tp_rec_get_gap(p, n, &g) < 0) return bad_record(s, log, off);
        rc = tp_lake_gap(s->w, off, &g);
    } else {
        rc = tp_lake_skip(s->w, log, off); /* checkpoints, source positions */
    }
    if (rc < 0) return rc;
    if (!tp_lake_due(s->w, log)) return 0;
    rc = commit(s, log);
    return rc < 0 ? rc : 1;
}

static int lake_flush(void *self, bool final, uint64_t ack[2])
{
    struct lake_sink *s = self;
    for (int l = 0; l < 2 && final; l++)
        if (tp_lake_pending(s->w, (enum tp_sink_log)l)) {
            int rc = commit(s, (enum tp_sink_log)l);
            if (rc < 0) return rc;
        }
    ack[0] = s->ack[0];
    ack[1] = s->ack[1];
    return 0;
}

static void lake_close(void *self)
{
    struct lake_sink *s = self;
    tp_lake_discard(s->w);
}

static void lake_free(void *self)
{
    struct lake_sink *s = self;
    if (!s) return;
    tp_lake_writer_free(s->w);
    free(s);
}

const struct tp_sink_ops tp_lake_sink_ops = {
    .name = "lake",
    .reads_input = true,
    .reads_output = true,
    .flush_ns = TP_NS_PER_SEC,
    .open = lake_open,
    .write = lake_write,
    .flush = lake_flush,
    .close = lake_close,
    .free = lake_free,
};

static int sink_new(const struct tp_lake_opts *o, const char *topic, int64_t partition,
                    void **ret_self)
{
    struct lake_sink *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    int n = snprintf(s->dir, sizeof s->dir, "%s", o->dir ? o->dir : "");
    if (n <= 0 || (size_t)n >= sizeof s->dir) {
        free(s);
        return n <= 0 ? -EINVAL : -ENAMETOOLONG;
    }
    s->o = *o;
    s->o.dir = s->dir;
    snprintf(s->ack_name, sizeof s->ack_name, "ack");
    snprintf(s->what, sizeof s->what, "%s", s->dir);
    if (partition >= 0) {
        int an =
            snprintf(s->ack_name, sizeof s->ack_name, "ack.%s.p%lld", topic, (long long)partition);
        if (an < 0 || (size_t)an >= sizeof s->ack_name || strchr(topic, '/') || !*topic) {
            free(s);
            return -EINVAL;
        }
        s->part_mode = true;
        s->o.partition = (uint32_t)partition;
        snprintf(s->what, sizeof s->what, "%s [%.100s %lld]", s->dir, topic, (long long)partition);
    }
    int rc = tp_lake_writer_new(&s->o, &s->w);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *ret_self = s;
    return 0;
}

int tp_lake_sink_new(const struct tp_lake_opts *o, void **ret_self)
{
    return sink_new(o, "", -1, ret_self);
}

int tp_lake_sink_new_part(const struct tp_lake_opts *o, const char *topic, uint32_t partition,
                          void **ret_self)
{
    return sink_new(o, topic, partition, ret_self);
}
