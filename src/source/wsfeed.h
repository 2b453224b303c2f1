/*
 * wsfeed.h — live WebSocket venue sources (`--source binance:BTC-USDT,ETH-USDT`): one
 * connection per source on its own thread and libwebsockets context (source/ws.h), messages
 * through the venue's parser (source/venue.h) into the source's ring, and the connection
 * lifecycle that never silently stalls (DESIGN.md §1–§3; docs/venues.md says what the user
 * sees):
 *
 *   WAIT ──due──► RESOLVE ──address──► CONNECT ──handshake──► OPEN ──ack or data──► SUBSCRIBED
 *    ▲              │ fails              │ fails / times out     │ closed, watchdog, venue notice,
 *    └──────────────┴────────────────────┴──── backoff ◄─────────┘ connection age
 *
 *   - subscribe: every request of the subscription (tp_venue_subscribe), paced as the venue
 *     requires, on every connection, so a reconnect resubscribes everything;
 *   - keep-alive: the venue's application ping on its period; after `probe` of silence a probe
 *     (the venue's ping, else a protocol ping) whose answer proves the link alive; a
 *     `watchdog` without any frame ends the connection; venue pings are answered;
 *   - reconnect: capped exponential backoff with jitter (core/backoff.h), never giving up; at
 *     once for planned disconnects (Binance serverShutdown, Bitstamp bts:request_reconnect,
 *     OKX notice 64008) and before a venue's connection age limit (Binance 24 h);
 *   - records (DESIGN.md §3), per instrument of the subscription: `connected` on open,
 *     `subscribed` at the first ack or data, a `heartbeat` every second while subscribed with
 *     ts = the last receive time proven complete (last frame) minus the measured venue clock
 *     skew; `disconnected` and a `hold` at that time when the connection ends, and, once the
 *     new connection is subscribed and has settled, a `gap` over the outage (times) for
 *     instruments whose trades are not consecutively numbered (numbered ones get an exact id
 *     gap from the parser at their next trade) and a `release`. Holds survive restarts: the
 *     journal's tail (resume) tells which instruments are held and since when.
 *   - a full ring drops and records a gap (source.h), it never blocks.
 *
 * Threads: tp_wsfeed_source_new and the resume hooks run on the main thread, everything else
 * on the source's thread. tp_wsfeed_stats may be called from any thread.
 */
#ifndef TP_WSFEED_H
#define TP_WSFEED_H

#include "core/instrument.h"
#include "source/source.h"
#include "source/venue.h"

#define TP_WSFEED_MAX_SYMBOLS 256 /* per source (one connection); more: more --source */
#define TP_WSFEED_URL_MAX     1024

struct tp_wsfeed_opts {
    const char *const *endpoints; /* borrowed: "venue=URL" or "venue/market=URL" overrides */
    size_t nendpoints;
    const char *ca_file;    /* trusted CAs for wss:// (NULL: the system's) */
    int64_t watchdog_ns;    /* no frame for this long: reconnect (0: 30 s) */
    int64_t probe_ns;       /* silent this long: probe with a ping (0: watchdog / 3) */
    int64_t backoff_min_ns; /* reconnect delay floor and cap (0: 500 ms, 60 s) */
    int64_t backoff_max_ns;
    int64_t settle_ns;          /* hold kept after resubscribing (0: 1 s; < 0: none) */
    int64_t connect_timeout_ns; /* TCP + TLS + handshake (0: 10 s) */
    const char *finnhub_token;  /* NULL: $FINNHUB_API_TOKEN */
    bool backfill; /* (added) fetch gaps from the venue's REST API (Binance and Coinbase id
                      gaps, OKX and Bybit outages: the "VENUE-rest=URL" endpoint, else the
                      public API unless the WebSocket endpoint is overridden; backfill.h) */
    int64_t backfill_timeout_ns; /* (added) per backfill request (0: 10 s) */
};

/* A parsed spec `VENUE[/MARKET]:SYM[,SYM...][@CHAN[+CHAN...]]`, CHAN one of trades, agg
 * (Binance aggTrade as the trades), quotes, bars or bars=INTERVAL; default trades+quotes
 * (Finnhub: trades). */
struct tp_wsfeed_spec {
    const struct tp_venue *v;
    char market[16]; /* "" = default */
    size_t nsyms;
    char syms[TP_WSFEED_MAX_SYMBOLS][TP_VSYM_MAX + 1];       /* as given, upper-cased */
    char native[TP_WSFEED_MAX_SYMBOLS][TP_VSYM_MAX + 1];     /* the venue's spelling in data */
    char instr[TP_WSFEED_MAX_SYMBOLS][TP_INSTR_NAMELEN + 1]; /* instrument names */
    unsigned channels;                                       /* enum tp_vchan */
    char interval[8];                                        /* bars */
};

/* True when spec names a WebSocket venue ("binance", "bybit/linear:..."). */
bool tp_wsfeed_is_venue(const char *spec);
/* Parses spec (see above). 0, or -EINVAL with a one-line reason in err. */
int tp_wsfeed_parse_spec(const char *spec, struct tp_wsfeed_spec *ret, char *err, size_t errcap);
/* The URL to connect to for a parsed spec: an --endpoint override or the venue's default
 * (Bybit by market; OKX candles on /business; Finnhub with its token). 0, or -EINVAL with a
 * reason (a malformed override, Finnhub without a token). */
int tp_wsfeed_url(const struct tp_wsfeed_spec *sp, const struct tp_wsfeed_opts *o, char *url,
                  size_t cap, char *err, size_t errcap);
/* The subscribe requests for sp into out ('\n'-separated, as tp_venue_subscribe). Returns the
 * number of requests or a negative errno. */
int tp_wsfeed_requests(const struct tp_wsfeed_spec *sp, struct tp_buf *out);

/* Creates the source (owned; tp_source_free). 0, -EINVAL with a reason in err, -ENOMEM. */
int tp_wsfeed_source_new(const char *spec, const struct tp_wsfeed_opts *o, struct tp_source **ret,
                         char *err, size_t errcap);

/* Counters of a running (or stopped) venue source, readable from any thread. */
struct tp_wsfeed_stats {
    uint64_t connects;     /* handshakes completed */
    uint64_t failures;     /* attempts that failed before the handshake (DNS, TCP, TLS, HTTP) */
    uint64_t disconnects;  /* open connections that ended */
    uint64_t watchdog;     /* of which ended by the watchdog */
    uint64_t planned;      /* of which ended for a venue notice or the connection age */
    uint64_t messages;     /* frames received */
    uint64_t events;       /* market events put into the ring */
    uint64_t bad;          /* frames the parser could not use (malformed, unknown) */
    uint64_t too_big;      /* frames past the size cap */
    uint64_t venue_errors; /* error messages from the venue */
    uint64_t id_gaps;      /* trade-id gaps found by the parser */
    uint64_t outage_gaps;  /* time gaps written after an outage */
    uint64_t pings_sent, pongs;
    uint64_t subscribes_sent;
    uint64_t backfills;       /* (added) gaps queued for REST backfill (ids or outages) */
    uint64_t backfill_trades; /* trades recovered */
    uint64_t backfill_failed; /* gaps not (wholly) recovered */
    bool connected;
    /* (added: source/connstats.h) */
    uint64_t attempts;        /* connection attempts started */
    uint64_t peer_closed;     /* disconnects: the venue closed (close frame, end of stream) */
    uint64_t errors;          /* disconnects: a write failed, the connection broke */
    uint64_t stopped;         /* disconnects: the run ended */
    uint64_t bytes;           /* bytes of the frames received */
    uint64_t acks;            /* subscription acknowledgements received */
    uint64_t pings_answered;  /* venue application pings answered */
    uint64_t backfilled_gaps; /* gaps (ids or outages) wholly backfilled */
    uint32_t held;            /* instruments held now (outage, gap being backfilled) */
    uint32_t instruments;     /* of the subscription */
    uint8_t state;            /* enum tp_ws_state */
    int64_t backoff_ns;       /* the current wait before the next attempt (0 none) */
    int64_t last_rx_real;     /* last frame of any kind, real clock (0 never) */
    bool have_skew;
    int64_t skew_ns; /* receive time minus venue time */
};
/* Snapshot of a wsfeed source's counters; false when src is not a wsfeed source. */
bool tp_wsfeed_stats(const struct tp_source *src, struct tp_wsfeed_stats *ret);

#endif
