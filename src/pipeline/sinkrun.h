/*
 * sinkrun.h — sink runners: one thread per sink that reads the journals and hands their
 * records to the sink, and acknowledges what the sink made durable (DESIGN.md §1 "Exactly-once
 * results", §6 "Every sink survives its server going away").
 *
 * A sink (the lake, PostgreSQL, Redis, S3, ...) implements tp_sink_ops and says which logs it
 * reads: the input journal (ticks: TP_REC_EVENT, TP_REC_SOURCE_POS records) and/or the output
 * journal (TP_REC_BAR, _ANOMALY, _LATE, _GAP, _CHECKPOINT records). The sink keeps its own
 * acknowledged offsets durably, next to its data and written with it (the lake in a file
 * renamed with its parts, PostgreSQL in tickpipe_offsets in the same transaction): `open`
 * returns them, and the runner reads each log from there. The sink writes idempotently (same
 * offsets → same result), so re-delivering records after a crash duplicates nothing.
 *
 * The runner:
 *   - reads only records below each log's bound (the durable offset, given by the pipeline),
 *     so a sink never acknowledges a record the log could still lose;
 *   - calls `write` for each record in offset order per log (the two logs are interleaved in
 *     no particular order between them); `write` returning 1 asks for a flush before more;
 *   - calls `flush(final=false)` every flush_ns (ops), when a write asks for it, and when the
 *     logs are dry and something was written since the last flush; the sink returns its new
 *     acknowledged offsets (it may keep records buffered past them: the lake cuts files at
 *     offset boundaries);
 *   - on finish (the pipeline stops), reads to the final bounds, then calls flush(final=true),
 *     after which the sink must have acknowledged everything it was given;
 *   - on a failure (any negative errno from open/write/flush, except the fatal ones) logs it
 *     once per outage, calls `close`, waits with capped exponential backoff (100 ms doubling
 *     to max_backoff_ns, with jitter), and starts over from `open`: the log keeps the data, the
 *     sink resumes from its acknowledged offsets, memory stays bounded. An outage ends when a
 *     flush succeeds or a connection stays up 5 s; an attempt that opened but failed before
 *     that (a full disk under the lake) neither resets the backoff nor logs again. -EIO and
 *     -EBADMSG are fatal (a failed fsync is never retried silently; corrupt data is not
 *     skipped): the runner stops with the error and the pipeline shuts down.
 *
 * Payloads handed to `write` are borrowed until the call returns. The ops are called only on
 * the runner's thread.
 */
#ifndef TP_SINKRUN_H
#define TP_SINKRUN_H

#include <stdatomic.h>

#include "core/tp.h"

enum tp_sink_log { TP_LOG_INPUT = 0, TP_LOG_OUTPUT = 1 };

#define TP_SINK_NO_ACK UINT64_MAX /* this log is not read by the sink */

struct tp_sink_ops {
    const char *name;  /* "lake", "postgres", ... (logs and metrics) */
    bool reads_input;  /* ticks */
    bool reads_output; /* bars, anomalies, late, gaps */
    int64_t flush_ns;  /* periodic flush; 0 = 1 s */
    /* Connects / opens; sets the acknowledged offsets (the next offset it wants) of the logs
     * it reads. 0 or a negative errno. */
    int (*open)(void *self, uint64_t ack[2]);
    /* One record at `offset` of `log`. 0, 1 (flush before more), or a negative errno. */
    int (*write)(void *self, enum tp_sink_log log, uint64_t offset, const void *payload, size_t n);
    /* Makes writes durable; sets the new acknowledged offsets. With final, everything written
     * must be acknowledged. 0 or a negative errno. */
    int (*flush)(void *self, bool final, uint64_t ack[2]);
    /* Disconnects (after a failure, or at the end); the sink may be opened again. */
    void (*close)(void *self);
    /* Frees the sink. */
    void (*free)(void *self);
};

/* What the pipeline gives a runner: where the journals are and how far they may be read. */
struct tp_sinkrun_env {
    const char *dir[2]; /* journal directories (input, output) */
    /* The offset below which `log` may be read (durable records); any thread. */
    uint64_t (*bound)(void *ctx, enum tp_sink_log log);
    void *ctx;
    int64_t max_backoff_ns; /* 0 = 30 s */
};

struct tp_sinkrun_stats {
    const char *name;
    uint64_t ack[2];   /* acknowledged offsets (TP_SINK_NO_ACK when the log is not read) */
    uint64_t read[2];  /* next offset the runner reads */
    uint64_t written;  /* records handed to the sink by this process */
    uint64_t failures; /* failed attempts (each one retried) */
    bool up;           /* the last open succeeded and no failure since */
    int error;         /* the last failure's errno (0 none) */
    int fatal;         /* a fatal error: the runner stopped */
};

struct tp_sinkrun;

/* Starts a runner thread for the sink (self is taken over: freed by tp_sinkrun_stop, also when
 * this fails). 0 and *ret, or a negative errno. */
int tp_sinkrun_start(const struct tp_sink_ops *ops, void *self, const struct tp_sinkrun_env *env,
                     struct tp_sinkrun **ret);
/* Tells the runner the logs are complete: it reads to the bounds, flushes with final, ends. */
void tp_sinkrun_finish(struct tp_sinkrun *r);
/* True once the runner has acknowledged everything below the bounds (or ended). Any thread. */
bool tp_sinkrun_caught_up(const struct tp_sinkrun *r);
/* Joins (after finish: once everything is acknowledged, or at once when it is failing), closes
 * and frees the sink. Returns the fatal error or, if the final flush never succeeded, the last
 * failure; 0 when everything was acknowledged. */
int tp_sinkrun_stop(struct tp_sinkrun *r, int64_t give_up_ns);
/* The runner's fatal error, or 0. Any thread. */
int tp_sinkrun_fatal(const struct tp_sinkrun *r);
void tp_sinkrun_stats(const struct tp_sinkrun *r, struct tp_sinkrun_stats *ret);

#endif
