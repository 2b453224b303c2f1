/*
 * live.h — the live state the pipeline publishes and the HTTP side reads (DESIGN.md §1 "serve",
 * §7): what the dashboard, the JSON API, the live stream and /metrics show.
 *
 * Writers (the pipeline's threads) call the tp_live_* publish functions; readers (the HTTP
 * thread) take copies. One mutex guards everything; it is held only for O(1) updates and for
 * memcpy of bounded arrays, never across I/O, formatting or allocation by a reader. Every
 * structure has a fixed capacity (struct tp_live_cfg) and a documented policy when full:
 *
 *   - instruments: at most max_instruments (default 256) are tracked; events of further
 *     instruments are counted (instruments_dropped) and otherwise ignored;
 *   - per instrument: last price, bid, ask, 24 h change and volume (from event time, in
 *     288 five-minute buckets), source status, record count and average price, and a ring of
 *     the last `ticks` (256) events: the oldest is overwritten;
 *   - per (instrument, interval), at most TP_LIVE_MAX_INTERVALS (8) intervals: a ring of the
 *     last `bars` (500) final bars (oldest overwritten) and up to TP_LIVE_OPEN_MAX (4) open
 *     bars (several windows can be open while the watermark lags; the oldest is evicted);
 *   - anomalies: one ring of the last `anomalies` (1024);
 *   - the stream feed: a ring of `feed` (32768) messages (ticks, final bars, anomalies,
 *     status) with sequence numbers, which the HTTP thread drains; a reader that falls more
 *     than a ring behind learns how many it missed. Kinds no stream client wants
 *     (tp_live_feed_want) are not copied into it, so an idle dashboard costs nothing;
 *   - named sources, sinks and queues for /metrics: TP_LIVE_MAX_NAMED (32) each; the health
 *     of the Kafka roles running in this process: TP_LIVE_MAX_KAFKA (4).
 *
 * Memory is allocated lazily per instrument and per series, so the worst case is
 * max_instruments × (ticks × sizeof(struct tp_event) + 8 × bars × sizeof(struct tp_bar)),
 * about 250 MiB at the defaults and typically a few MiB.
 *
 * Open bars are coalesced: an update replaces the previous state of that window, and the
 * stream side takes only the windows changed since its last look (tp_live_take_open_bars), at
 * its display rate. The same holds for instrument summaries (tp_live_take_instruments).
 *
 * Thread safety: every function may be called from any thread. The take/feed functions keep a
 * single reader's position and are meant for one reader thread (the HTTP thread).
 */
#ifndef TP_LIVE_H
#define TP_LIVE_H

#include "core/buf.h"
#include "core/event.h"
#include "engine/anomaly.h"
#include "engine/bar.h"
#include "source/connstats.h"

#define TP_LIVE_MAX_INTERVALS 8
#define TP_LIVE_OPEN_MAX      4
#define TP_LIVE_NAME_MAX                                                                           \
    127 /* longest source, sink or queue name, without NUL (a whole                                \
           --source spec: TP_SOURCE_SPEC_MAX - 1) */
#define TP_LIVE_MAX_NAMED     32
#define TP_LIVE_ERROR_MAX     63         /* longest sink error text kept, without NUL (truncated) */
#define TP_LIVE_MAX_INSTR_CAP 65536      /* cap on cfg.max_instruments */
#define TP_LIVE_MAX_RING      (1u << 20) /* cap on any ring capacity */

struct tp_live_cfg {
    uint32_t max_instruments; /* 256 */
    uint32_t ticks;           /* recent events kept per instrument: 256 */
    uint32_t bars;            /* final bars kept per (instrument, interval): 500 */
    uint32_t anomalies;       /* 1024 */
    uint32_t feed;            /* stream feed ring: 32768 */
};

void tp_live_cfg_default(struct tp_live_cfg *c);

/* Kinds of stream feed messages; also the bits of tp_live_feed_want. */
enum tp_live_kind {
    TP_LIVE_TICK = 1 << 0,      /* a trade, quote, snapshot or vendor bar */
    TP_LIVE_FINAL_BAR = 1 << 1, /* a final bar with its indicators */
    TP_LIVE_ANOMALY = 1 << 2,
    TP_LIVE_STATUS = 1 << 3, /* a source status event (heartbeats excluded) */
};

struct tp_live_msg {
    uint64_t seq; /* 1, 2, ... in publish order */
    uint8_t kind; /* one enum tp_live_kind bit */
    union {
        struct tp_event ev; /* TICK and STATUS */
        struct tp_bar bar;  /* FINAL_BAR */
        struct tp_anomaly an;
    } u;
};

/* Pipeline counters that the live store cannot derive itself (set as absolute values). */
struct tp_live_counters {
    uint64_t events_in;  /* records appended to the input log */
    uint64_t events_out; /* records appended to the output log */
    uint64_t late;       /* late trades (per interval) */
    uint64_t duplicates;
    uint64_t bad;             /* rows or messages rejected by a parser */
    int64_t lag_ns;           /* receive time to engine processing of the last event; <0 unknown */
    int64_t watermark_lag_ns; /* newest event time minus the lowest watermark; <0 unknown */
};

struct tp_live_named {
    char name[TP_LIVE_NAME_MAX + 1];
    uint8_t status;    /* sources: enum tp_status of the source as a whole */
    uint64_t events;   /* sources: events produced; sinks: records written */
    uint64_t dropped;  /* sources: dropped on overflow; sinks: errors; queues: dropped */
    uint64_t depth;    /* queues */
    uint64_t capacity; /* queues */
    /* Sinks, from tp_live_set_sink_health (health stays false until it is called): */
    bool health;                       /* up and lag below are known */
    bool up;                           /* connected, no failure since the last open */
    uint64_t lag;                      /* records in the logs not yet acknowledged */
    char error[TP_LIVE_ERROR_MAX + 1]; /* the last failure's text; empty when none */
};

/* The health of one Kafka role in this process (src/kafka/; docs/kafka.md): what /metrics
 * and the dashboard's health panel show of its clients. -1 marks a figure the role does not
 * have (no producer, no consumer, no delivery yet). */
#define TP_LIVE_MAX_KAFKA 4 /* roles in one process: ingest, process, serve */
struct tp_live_kafka {
    char role[16];               /* "ingest", "process", "serve"; the entry's key */
    int64_t producer_queue;      /* messages in the producer's queue (not yet delivered) */
    int64_t producer_queue_cap;  /* its capacity (queue.buffering.max.messages); 0 unknown */
    int64_t delivery_latency_us; /* mean produce-to-acknowledgement time, last period */
    int64_t consumer_lag;        /* records behind the high watermarks of its partitions */
    uint32_t partitions;         /* partitions its consumer holds */
    uint64_t rebalances;         /* assignments and revocations */
    uint64_t delivered, failed;  /* producer messages acknowledged / failed */
    uint64_t consumed;           /* records its consumer read */
    uint64_t errors;             /* client error callbacks (transient ones included) */
    uint64_t retries, timeouts, disconnects; /* from the client's statistics */
};

/* A copy of one instrument's summary, as /api/instruments shows it. */
struct tp_live_instr {
    uint32_t instr;
    char venue_symbol[TP_VSYM_MAX + 1];
    int64_t ts;            /* event time of the newest event (0 before any) */
    double price;          /* last trade or snapshot price; mid for quote-only; NaN none */
    double bid, ask;       /* last quote; NaN none */
    double change_24h;     /* price − the first price of the last 24 h; NaN none */
    double change_24h_pct; /* change_24h / that first price × 100 */
    double volume_24h;     /* Σ trade size over the last 24 h of event time */
    uint8_t status;        /* enum tp_status of the last status event (heartbeats only
                              confirm connected); TP_ST_NONE before any */
    int64_t status_ts;     /* its event time */
    uint64_t records;      /* events seen (trades, quotes, snapshots, vendor bars) */
    double avg_price;      /* mean of trade and snapshot prices; NaN none */
};

/* Everything /metrics and the health panel need, copied at once. */
struct tp_live_stats {
    struct tp_live_counters c;
    uint64_t published;  /* events given to tp_live_event */
    uint64_t bars_final; /* final bars published */
    uint64_t bars_by_interval[TP_LIVE_MAX_INTERVALS];
    int64_t intervals[TP_LIVE_MAX_INTERVALS]; /* interval_ns of bars_by_interval; 0 unused */
    uint64_t anomalies_by_kind[TP_AN_KINDS];  /* index enum tp_anomaly_kind; 0 = other */
    uint64_t instruments;                     /* tracked */
    uint64_t instruments_dropped;             /* events of instruments beyond max_instruments */
    uint64_t feed_seq;                        /* messages put into the stream feed */
    struct tp_live_named sources[TP_LIVE_MAX_NAMED];
    struct tp_live_named sinks[TP_LIVE_MAX_NAMED];
    struct tp_live_named queues[TP_LIVE_MAX_NAMED];
    uint32_t nsources, nsinks, nqueues;
    struct tp_live_kafka kafka[TP_LIVE_MAX_KAFKA];
    uint32_t nkafka;
    /* (added) The connector of sources[i] (WebSocket venues, REST pollers), when has_conn[i]
     * (source/connstats.h). */
    bool has_conn[TP_LIVE_MAX_NAMED];
    struct tp_connstats conn[TP_LIVE_MAX_NAMED];
};

struct tp_live;

/* A new store with cfg's capacities (NULL: the defaults). NULL on out of memory or when a
 * capacity is 0 or above its cap. Free with tp_live_free (after every user has stopped). */
struct tp_live *tp_live_new(const struct tp_live_cfg *cfg);
void tp_live_free(struct tp_live *l);

/* ---- Publishing (the pipeline). Borrowed arguments, copied. ---- */

/* A normalized event: trades, quotes, snapshots and vendor bars update the instrument's
 * summary and tick ring; status events its status. Events with instr 0 are ignored. */
void tp_live_event(struct tp_live *l, const struct tp_event *e);
/* The same for n events under one lock (the journal writer's batches). */
void tp_live_events(struct tp_live *l, const struct tp_event *e, size_t n);
/* The current state of an open bar (b->final false). Ignored when a final bar of that window
 * or a later one was already published. */
void tp_live_bar_update(struct tp_live *l, const struct tp_bar *b);
/* A final bar with its indicators; removes open bars up to its window. Ignored unless newer
 * than the last final bar of its series. */
void tp_live_bar_final(struct tp_live *l, const struct tp_bar *b);
void tp_live_anomaly(struct tp_live *l, const struct tp_anomaly *a);
void tp_live_set_counters(struct tp_live *l, const struct tp_live_counters *c);
/* The malformed rows and messages the sources rejected (an absolute value, added to the
 * counters' `bad` in tp_live_stats): the pipeline's sources count them, not the engine. */
void tp_live_set_source_bad(struct tp_live *l, uint64_t bad);
/* Creates or updates the named entry. 0, -EINVAL (empty or too long name) or -ENOSPC. */
int tp_live_set_source(struct tp_live *l, const char *name, enum tp_status st, uint64_t events,
                       uint64_t dropped);
int tp_live_set_sink(struct tp_live *l, const char *name, uint64_t records, uint64_t errors);
/* (added) The connector statistics of source `name` (copied); creates the entry like
 * tp_live_set_source. 0, -EINVAL or -ENOSPC. */
int tp_live_set_source_conn(struct tp_live *l, const char *name, const struct tp_connstats *c);
/* A sink's health: up, lag (records behind the logs' bounds) and the last error's text (NULL
 * or "" none; truncated to TP_LIVE_ERROR_MAX). Creates the entry like tp_live_set_sink. */
int tp_live_set_sink_health(struct tp_live *l, const char *name, bool up, uint64_t lag,
                            const char *last_error);
int tp_live_set_queue(struct tp_live *l, const char *name, uint64_t depth, uint64_t capacity,
                      uint64_t dropped);

/* Creates or replaces the entry of k->role. 0, -EINVAL (empty role) or -ENOSPC. */
int tp_live_set_kafka(struct tp_live *l, const struct tp_live_kafka *k);

/* The latest data-quality report: one JSON object as `tickpipe validate` stores it in
 * DATA/quality.json (src/ops/qwatch.h reads the file in a thread of its own and publishes it
 * here; the HTTP loop never reads the disk). Copies n ≤ TP_LIVE_QUALITY_MAX bytes, replacing
 * the previous report. 0, -E2BIG or -ENOMEM. Any thread. */
#define TP_LIVE_QUALITY_MAX (4u << 20)
int tp_live_set_quality(struct tp_live *l, const char *json, size_t n);
/* Appends the latest report to b: 1 when there is one, 0 when none, or -E2BIG/-ENOMEM. */
int tp_live_quality(struct tp_live *l, struct tp_buf *b);

/* ---- Reading (the HTTP thread). Outputs are caller-owned arrays; nothing is retained. ---- */

/* Copies up to cap instrument summaries in instrument-name order; returns how many. */
size_t tp_live_instruments(struct tp_live *l, struct tp_live_instr *out, size_t cap);
/* One instrument's summary: 0, or -ENOENT when it is not tracked. */
int tp_live_instrument(struct tp_live *l, uint32_t instr, struct tp_live_instr *out);
/* The newest up to cap events of instr, oldest first; returns how many. */
size_t tp_live_ticks(struct tp_live *l, uint32_t instr, struct tp_event *out, size_t cap);
/* The newest up to cap bars of (instr, interval_ns) with from ≤ ts < to, oldest first: final
 * bars, then the open ones after the last final bar (final false). */
size_t tp_live_bars(struct tp_live *l, uint32_t instr, int64_t interval_ns, int64_t from,
                    int64_t to, struct tp_bar *out, size_t cap);
/* The newest up to cap anomalies with ts ≥ since (and of instr, unless 0), in publish order. */
size_t tp_live_anomalies(struct tp_live *l, int64_t since, uint32_t instr, struct tp_anomaly *out,
                         size_t cap);
void tp_live_stats(struct tp_live *l, struct tp_live_stats *out);
/* Capacities in force. */
void tp_live_get_cfg(const struct tp_live *l, struct tp_live_cfg *out);

/* ---- The stream feed (one reader: the HTTP thread). ---- */

/* fn(arg) is called by a publisher when the feed, open bars or summaries gain something after
 * the reader last drained (at most once per drain, so a busy pipeline does not flood the
 * reader with wake-ups). fn must be cheap and thread-safe (lws_cancel_service). NULL clears. */
void tp_live_set_notify(struct tp_live *l, void (*fn)(void *), void *arg);
/* Which enum tp_live_kind bits the feed should carry (default none). */
void tp_live_feed_want(struct tp_live *l, unsigned kinds);
/* Copies up to cap messages after *cursor (a seq; start at 0... or tp_live_feed_head to skip
 * the past) and advances it. *missed gets how many were overwritten before being read. */
size_t tp_live_feed_read(struct tp_live *l, uint64_t *cursor, struct tp_live_msg *out, size_t cap,
                         uint64_t *missed);
/* The seq of the newest message (0 before any). */
uint64_t tp_live_feed_head(struct tp_live *l);
/* Re-arms the notification; call before draining (a publish after it notifies again). */
void tp_live_rearm(struct tp_live *l);
/* Copies up to cap open bars changed since the previous call and marks them seen. */
size_t tp_live_take_open_bars(struct tp_live *l, struct tp_bar *out, size_t cap);
/* Copies up to cap instrument summaries changed since the previous call, marks them seen. */
size_t tp_live_take_instruments(struct tp_live *l, struct tp_live_instr *out, size_t cap);

#endif
