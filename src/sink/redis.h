/*
 * redis.h — the Redis sink (`tickpipe run --redis URL`, DESIGN.md §6; docs/redis.md): the
 * latest state per instrument, final bars in capped streams, and pub/sub publications, written
 * through hiredis with pipelined MULTI/EXEC batches.
 *
 * What it writes (instrument names are `venue:SYMBOL`, intervals 1s/1m/...):
 *
 *   tickpipe:last:<instrument>               hash: price, size, ts, ts_ns (the last trade or
 *                                            snapshot), bid, ask, bid_size, ask_size,
 *                                            quote_ts, quote_ts_ns (the last quote); each
 *                                            group is updated only when its new time is not
 *                                            older than the stored one (a Lua script run
 *                                            with EVALSHA)
 *   tickpipe:bars:<instrument>:<interval>    stream of final bars (the bar columns of
 *                                            DESIGN.md §5, null as ""), entry id
 *                                            <ms>-<ns remainder> of the bar's ts, capped with
 *                                            XADD MAXLEN ~ maxlen
 *   tickpipe:offsets                         hash: redis.input, redis.output — the next
 *                                            journal offsets the sink wants, written in the
 *                                            same MULTI/EXEC as the data they cover (the
 *                                            Kafka process role: redis/TOPIC/pN.input, ...
 *                                            per ticks partition)
 *   PUBLISH tickpipe:ticks:<instrument>      each tick (trade, quote, snapshot, vendor bar)
 *   PUBLISH tickpipe:bars:<instrument>:<interval>   each final bar
 *   PUBLISH tickpipe:anomalies:<instrument>  each anomaly
 *   (published values are JSON objects keyed by the column names of DESIGN.md §5)
 *
 * Delivery: the sink runner (pipeline/sinkrun.h) re-delivers records after the stored
 * offsets after any failure; the hash guard and the stream ids (an XADD whose id is not above
 * the stream's last is refused by Redis: already there) make that change nothing, and
 * publications are made at most once (see redis.c).
 *
 * The URL and key helpers are pure functions (any thread). The sink object belongs to its
 * runner thread.
 */
#ifndef TP_REDIS_H
#define TP_REDIS_H

#include "core/tp.h"
#include "pipeline/sinkrun.h"

#define TP_REDIS_DEFAULT_PORT   6379
#define TP_REDIS_DEFAULT_MAXLEN 10000
#define TP_REDIS_KEY_MAX        160 /* longest key or channel name, with NUL */
#define TP_REDIS_ID_STRLEN      48  /* a stream id "<ms>-<seq>" with NUL */

/* A parsed redis://[[user]:password@]host[:port][/db] URL (user and password percent-
 * decoded; an IPv6 host in brackets). */
struct tp_redis_url {
    char host[256];
    int port;
    int db;
    char user[128];     /* "" for none (AUTH password alone) */
    char password[256]; /* "" for none (no AUTH) */
};

/* Parses url. 0 and *ret, or -EINVAL with a one-line reason in err (which never repeats the
 * password). */
int tp_redis_url_parse(const char *url, struct tp_redis_url *ret, char *err, size_t errcap);

/* Keys and channels. Each writes a NUL-terminated name into out[cap] and returns its length,
 * or -ENAMETOOLONG when it does not fit. */
int tp_redis_key_last(const char *instrument, char *out, size_t cap);
int tp_redis_key_bars(const char *instrument, int64_t interval_ns, char *out, size_t cap);
int tp_redis_chan_ticks(const char *instrument, char *out, size_t cap);
int tp_redis_chan_anomalies(const char *instrument, char *out, size_t cap);

/* The stream entry id of a bar starting at ts: "<ts / 1e6>-<ts % 1e6>" (milliseconds, then
 * the nanoseconds below them), so ids increase with ts and a bar always gets the same id.
 * Returns the length, or -ERANGE when ts ≤ 0 (Redis ids must be above 0-0). */
int tp_redis_stream_id(int64_t ts, char out[TP_REDIS_ID_STRLEN]);

/* The Lua script that updates a last-state hash unless the stored time is newer (see its
 * text in redis_keys.c for the arguments). Static. */
const char *tp_redis_last_script(void);

struct tp_redis_cfg {
    const char *url;    /* borrowed for the call */
    uint64_t maxlen;    /* entries kept per bar stream (approximately); 0 = default */
    size_t batch;       /* records per MULTI/EXEC; 0 = 1000 */
    int64_t timeout_ns; /* connect, read and write timeout; 0 = 5 s */
    /* Its fields in tickpipe:offsets are NAME.input and NAME.output; NULL = "redis". The
     * Kafka process role names one sink per ticks partition "redis/TOPIC/pN". (added) */
    const char *name;
};

/* Counters of one sink (since it was made). */
struct tp_redis_stats {
    uint64_t transactions; /* MULTI/EXEC batches that were executed */
    uint64_t last_updates; /* last-state script calls that applied */
    uint64_t last_older;   /* ... that the time guard refused */
    uint64_t bars_added;   /* XADD entries added */
    uint64_t bars_present; /* XADD refused as already there (id not above the last) */
    uint64_t bars_skipped; /* bars whose ts gives no valid id (ts ≤ 0) */
    uint64_t published;    /* PUBLISH commands executed */
    uint64_t noscript;     /* times the script cache had lost the script */
    uint64_t errors;       /* other error replies (logged) */
};

struct tp_redis_sink;

/* The sink's operations for tp_pipeline_add_sink / tp_sinkrun_start (reads both logs). */
extern const struct tp_sink_ops tp_redis_sink_ops;

/* A sink for cfg (nothing connects until the runner opens it). 0 and *ret (freed by the
 * runner through the ops, or tp_redis_sink_ops.free), -EINVAL with a reason in err for a bad
 * URL, or -ENOMEM. */
int tp_redis_sink_new(const struct tp_redis_cfg *cfg, struct tp_redis_sink **ret, char *err,
                      size_t errcap);
/* "host:port/db" without credentials, for messages. Borrowed from the sink. */
const char *tp_redis_sink_where(const struct tp_redis_sink *s);
/* The counters; the sink's thread (or after its runner stopped). */
void tp_redis_sink_stats(const struct tp_redis_sink *s, struct tp_redis_stats *ret);

#endif
