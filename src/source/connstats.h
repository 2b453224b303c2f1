/*
 * connstats.h — what an operator sees of a live connector: one plain snapshot per WebSocket
 * venue source or REST poller (its state, connects and disconnects by reason, backoff,
 * subscriptions, traffic, malformed frames, keep-alive, held instruments, silence, clock
 * skew, gaps and backfill; for pollers: polls, HTTP errors by class, timeouts, rate limits,
 * the current pause and per-instrument errors). /metrics (tickpipe_ws_*, tickpipe_rest_*),
 * /api/health (`sources[].connector`) and the dashboard's health panel show it; docs/api.md
 * lists every figure.
 *
 * Design: the connectors keep their counters as relaxed atomics in their own structs (one
 * writer, the source's thread; no lock on any hot path) and expose them through
 * tp_wsfeed_stats / tp_rest_stats. tp_source_connstats turns either into this one plain
 * struct, which the pipeline's main thread publishes into the live store
 * (tp_live_set_source_conn) every half second, and the HTTP thread formats.
 *
 * Invariants:
 *   1. Times are absolute real-clock nanoseconds (0: never), so a reader computes ages and
 *      remaining waits at the moment it answers, not when the snapshot was taken.
 *   2. Counters only grow for the life of a source (Prometheus counters).
 *   3. The struct is plain data of fixed size (no pointers): it may be copied anywhere.
 */
#ifndef TP_CONNSTATS_H
#define TP_CONNSTATS_H

#include "core/tp.h"

struct tp_source;

enum tp_conn_kind {
    TP_CONN_NONE = 0,
    TP_CONN_WS = 1,   /* a WebSocket venue source (source/wsfeed.h) */
    TP_CONN_REST = 2, /* a REST poller (source/rest.h) */
};

/* WebSocket connector states (tickpipe_ws_state). */
enum tp_ws_state {
    TP_WS_CONNECTING = 0, /* resolving, connecting, in the handshake (or about to) */
    TP_WS_CONNECTED,      /* open, subscription not yet acknowledged nor data seen */
    TP_WS_SUBSCRIBED,     /* acknowledged or data flowing */
    TP_WS_STALE,          /* open but silent for the probe period: a probe is out */
    TP_WS_BACKOFF,        /* waiting before the next attempt */
    TP_WS_STOPPED,        /* the run ended */
    TP_WS_STATES
};

/* REST poller states (tickpipe_rest_state). */
enum tp_rest_state {
    TP_RS_WAITING = 0,  /* no poll has finished yet */
    TP_RS_OK,           /* the last poll of every request gave data */
    TP_RS_DEGRADED,     /* some requests give data, some instruments fail */
    TP_RS_FAILING,      /* no request's last poll gave data */
    TP_RS_RATE_LIMITED, /* paused by a 429 or a rate-limit note */
    TP_RS_STATES
};

/* WebSocket disconnect reasons (tickpipe_ws_disconnects_total{reason}). */
enum tp_ws_dc {
    TP_DC_PEER = 0, /* the venue closed (close frame or end of stream) */
    TP_DC_STALE,    /* the watchdog: no frame for too long */
    TP_DC_PLANNED,  /* a venue notice (serverShutdown, ...) or the connection age limit */
    TP_DC_ERROR,    /* a write failed or the connection broke */
    TP_DC_STOP,     /* the run ended */
    TP_DC_REASONS
};

#define TP_CONN_VENUE_MAX 23
#define TP_CONN_SYMS      64 /* per-instrument entries kept (TP_REST_MAX_SYMS) */

struct tp_conn_sym {
    uint32_t instr;  /* instrument id (core/instrument.h) */
    bool failing;    /* its last poll failed */
    uint64_t errors; /* polls of it that failed (HTTP error, timeout, error body, missing) */
};

struct tp_connstats {
    uint8_t kind;  /* enum tp_conn_kind */
    uint8_t state; /* enum tp_ws_state or enum tp_rest_state */
    char venue[TP_CONN_VENUE_MAX + 1];
    int64_t last_rx;    /* WS: last frame of any kind; REST: last poll with data (0 never) */
    int64_t backoff_ns; /* WS: the delay of the current wait (0 when not waiting) */
    int64_t resume_at;  /* REST: no request starts before this (0 or past: none) */
    uint64_t connects;  /* WS: handshakes completed */
    uint64_t attempts;  /* WS: connection attempts started */
    uint64_t failures;  /* WS: attempts that failed before the handshake */
    uint64_t disconnects[TP_DC_REASONS];
    uint64_t sub_requests, sub_acks; /* WS: subscribe requests sent / acknowledgements */
    uint64_t messages, bytes;        /* WS: frames and their bytes received */
    uint64_t malformed;              /* WS: unusable or oversized frames */
    uint64_t venue_errors;           /* WS, REST: error messages or bodies from the venue */
    uint64_t pings_sent, pongs, pings_answered; /* WS keep-alive */
    uint32_t held;                              /* WS: instruments held (stale) now */
    uint32_t instruments;                       /* instruments of the source */
    bool have_skew;
    int64_t skew_ns;            /* WS: receive time minus venue time (minimum over 30-60 s) */
    uint64_t id_gaps;           /* WS: trade-id gaps the parser found */
    uint64_t outage_gaps;       /* WS: time gaps recorded over outages */
    uint64_t backfilled_gaps;   /* WS: gaps (ids, or an outage's time) wholly backfilled */
    uint64_t backfill_failed;   /* WS: gaps not (wholly) recovered */
    uint64_t backfilled_trades; /* WS: trades recovered */
    /* REST */
    uint64_t polls, successes, timeouts, transport;
    uint64_t http_4xx, http_5xx, http_other; /* HTTP errors by class (429 not among them) */
    uint64_t http_429, notes;                /* rate limits: HTTP 429; 200 with a Note */
    uint64_t bad;                            /* malformed bodies */
    uint32_t failing;                        /* instruments failing now */
    uint32_t nsyms;
    struct tp_conn_sym sym[TP_CONN_SYMS];
};

/* Fills *ret from a WebSocket or REST source (now_real/now_mono: the caller's clocks, to turn
 * monotonic deadlines into real times). false, *ret untouched, for other sources. Any thread. */
bool tp_source_connstats(const struct tp_source *s, int64_t now_real, int64_t now_mono,
                         struct tp_connstats *ret);

/* Names for labels: "connecting", ...; "waiting", ...; "peer", ...; "" out of range. */
const char *tp_ws_state_name(unsigned st);
const char *tp_rest_state_name(unsigned st);
const char *tp_ws_dc_name(unsigned r);

#endif
