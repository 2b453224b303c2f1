/*
 * rest.h — REST pollers (`--source coingecko:bitcoin,ethereum`, `alphavantage:MSFT`,
 * `yahoo:AAPL`, `fmp:EUR-USD`): each venue's HTTP body parser (src/source/rest_<venue>.c)
 * and the poller source that drives them over libcurl's multi interface (src/source/rest.c).
 * docs/venues.md ("REST pollers") says what the user sees.
 *
 * Parsers. A body in, normalized events (DESIGN.md §2) and a classification out:
 *   - coingecko /api/v3/simple/price → `snapshot` per coin and currency (ts = last_updated_at);
 *   - alphavantage GLOBAL_QUOTE → `snapshot` (price, open, high, low, change; ts = the receive
 *     time: the quote names a trading day, not a time), CURRENCY_EXCHANGE_RATE → `snapshot`
 *     (ts = "Last Refreshed" when its zone is UTC); TIME_SERIES_INTRADAY, FX_INTRADAY,
 *     CRYPTO_INTRADAY (spec option `@5min`) → vendor `bar`s (ts = bar start, converted from
 *     the body's zone, US/Eastern or UTC, exactly; the newest bar held back);
 *   - yahoo v8 chart → vendor `bar`s (ts = bar start; only bars already closed at the
 *     chart's regularMarketTime, none with null values) and a `snapshot` of
 *     regularMarketPrice at regularMarketTime;
 *   - fmp /api/v3/fx → `quote` (bid, ask, open, high, low, change; ts = "date", UTC),
 *     flagged quote-only (a forex quote feed, DESIGN.md §3).
 * Numbers are read exactly from their text (core/json.h → core/num.h). Events of one body
 * come out in time order. A body that is not data says why: a rate-limit message (Alpha
 * Vantage's "Note" / "Information" sent with HTTP 200, CoinGecko's status 429), an error
 * (Alpha Vantage "Error Message", an empty "Global Quote", Yahoo's chart.error, FMP's "Error
 * Message"), or malformed. Parsers are pure apart from interning instrument names; a
 * tp_rest_parser belongs to one thread.
 *
 * Poller source. One thread per REST source with one curl multi handle; each request covers
 * one symbol (alphavantage, yahoo) or all of them (coingecko, fmp). See rest.c for the
 * schedule: interval per venue, a least spacing between requests, Retry-After honoured,
 * capped backoff with jitter (core/backoff.h) after failures and rate-limit notes, per-request
 * errors that never stop the other requests, and no re-emission of unchanged values.
 */
#ifndef TP_REST_H
#define TP_REST_H

#include "core/event.h"
#include "source/source.h"

#define TP_REST_TEXT_MAX  255
#define TP_REST_MAX_SYMS  64 /* per source */
#define TP_REST_BODY_MAX  (8u << 20)
#define TP_REST_EVENT_MAX 16384 /* events one body may give */

enum tp_rest_kind {
    TP_REST_NONE = 0,
    TP_REST_DATA,       /* market data (events; possibly none) */
    TP_REST_RATE_LIMIT, /* the venue says we call too often (text) */
    TP_REST_ERROR,      /* the venue reports an error for the request (text) */
    TP_REST_BAD,        /* malformed or not this venue's format (text says what failed) */
};

struct tp_rest_result {
    enum tp_rest_kind kind;
    uint16_t text_len;
    char text[TP_REST_TEXT_MAX + 1];
};

struct tp_rest_parser;
struct tp_rest_venue; /* rest_int.h */

/* The REST venue called name ("coingecko", "alphavantage", "yahoo", "fmp"), NULL when
 * unknown. Borrowed, static. */
const struct tp_rest_venue *tp_rest_find(const char *name);
/* True when spec names a REST venue ("coingecko:...", "yahoo"). */
bool tp_rest_is_venue(const char *spec);
const char *tp_rest_venue_name(const struct tp_rest_venue *v);

/* A parser for venue v: 0 and *ret (owned), -ENOMEM. */
int tp_rest_parser_new(const struct tp_rest_venue *v, struct tp_rest_parser **ret);
void tp_rest_parser_free(struct tp_rest_parser *p);
/* Restricts the events to the native symbols sym[0..n) (copied; n = 0: no restriction),
 * for bodies that list everything the venue has (FMP's /fx). 0, -E2BIG (more than
 * TP_REST_MAX_SYMS). */
int tp_rest_parser_filter(struct tp_rest_parser *p, const char *const *sym, size_t n);
/* Parses body[0..len) (borrowed) received at recv_ns into ev[0..cap), in time order. Returns
 * the number of events, or -EINVAL (TP_REST_BAD, or a body that is not data: res->kind says
 * which), -E2BIG (more than cap events). *res is always written. */
int tp_rest_parse(struct tp_rest_parser *p, const char *body, size_t len, int64_t recv_ns,
                  struct tp_event *ev, size_t cap, struct tp_rest_result *res);

/* The instrument name and native spelling (as the venue writes it in its bodies) of a user
 * symbol of venue v; opt is the spec's "@..." option (CoinGecko: the vs currency, default
 * usd) or NULL. Returns the name's length or -EINVAL. */
int tp_rest_instrument(const struct tp_rest_venue *v, const char *sym, const char *opt, char *out,
                       size_t cap, char native[TP_VSYM_MAX + 1]);

/* A Retry-After value (delta-seconds or an HTTP date, RFC 9110 §10.2.3) as a delay from
 * now_real (ns since the epoch). 0 and *ret_ns (≥ 0; a date in the past gives 0), -EINVAL. */
int tp_rest_retry_after(const char *s, size_t n, int64_t now_real, int64_t *ret_ns);

/* Poller options (cmd_run's settings). Strings are borrowed for tp_rest_source_new only. */
struct tp_rest_opts {
    const char *const *endpoints; /* "venue=URL" overrides (http:// or https://) */
    size_t nendpoints;
    const char *const *intervals; /* "venue=DURATION": poll interval per request */
    size_t nintervals;
    const char *const *spacings; /* "venue=DURATION": least time between two requests */
    size_t nspacings;
    int64_t timeout_ns;     /* whole request (0: 10 s) */
    int64_t backoff_min_ns; /* after failures (0: 2 s, 10 min) */
    int64_t backoff_max_ns;
    int64_t retry_after_max_ns;   /* longest Retry-After honoured (0: 1 h) */
    const char *alphavantage_key; /* NULL: $ALPHAVANTAGE_API_KEY */
    const char *fmp_key;          /* NULL: $FMP_API_KEY */
    const char *coingecko_key;    /* NULL: $COINGECKO_API_KEY (optional demo key) */
};

/* Creates the source for spec `VENUE:SYM[,SYM...][@OPTION]` (owned; tp_source_free). 0,
 * -EINVAL with a one-line reason in err, -ENOMEM. Main thread. */
int tp_rest_source_new(const char *spec, const struct tp_rest_opts *o, struct tp_source **ret,
                       char *err, size_t errcap);

/* Failover (docs/venues.md "Failover"): links the REST sources src[0..n) (2 to
 * TP_REST_GROUP_MAX, highest priority first, each in at most one group, none started yet) into
 * a group of which only one polls: the first healthy one in priority order. A member is
 * unhealthy after `after` (0: 3) failed polls in a row (transport errors, timeouts, HTTP
 * errors, 429, rate-limit notes, unusable bodies; not errors about one symbol); an unhealthy
 * member sends one probe request every probe_ns (0: 5 min) and takes back over when it
 * answers. Each switch is logged and journaled as `failover` status records (id "FROM->TO")
 * on both members' instruments; events keep their own source's instruments. 0, -EINVAL (err
 * says why), -ENOMEM. Main thread. */
#define TP_REST_GROUP_MAX 8
int tp_rest_failover(struct tp_source *const *src, size_t n, uint32_t after, int64_t probe_ns,
                     char *err, size_t errcap);

/* Counters of a REST source, readable from any thread. */
struct tp_rest_stats {
    uint64_t requests;     /* started */
    uint64_t ok;           /* bodies that were data */
    uint64_t events;       /* events put into the ring */
    uint64_t unchanged;    /* events not emitted: the same values as the last ones */
    uint64_t transport;    /* connect failures, resets (curl errors but timeouts) */
    uint64_t timeouts;     /* requests past the timeout */
    uint64_t http_errors;  /* HTTP status ≥ 400 but 429 */
    uint64_t rate_limited; /* HTTP 429 */
    uint64_t notes;        /* rate-limit bodies sent with 200 (Alpha Vantage Note/Information) */
    uint64_t venue_errors; /* error bodies (Error Message, chart.error, empty quote) */
    uint64_t bad;          /* malformed bodies */
    uint32_t failing;      /* instruments whose last poll failed */
    bool up;               /* the last poll of some request gave data */
    /* (added: source/connstats.h) */
    uint64_t http_5xx;    /* of http_errors: status 5xx */
    uint64_t http_other;  /* of http_errors: status < 200 (4xx: the rest) */
    uint8_t state;        /* enum tp_rest_state */
    int64_t last_ok_real; /* last poll with data, real clock (0 never) */
    int64_t resume_mono;  /* no request starts before this (monotonic; 0 none) */
    uint32_t n;           /* instruments (sym_* entries) */
    uint32_t sym_instr[TP_REST_MAX_SYMS];
    uint64_t sym_errors[TP_REST_MAX_SYMS]; /* failed polls of the instrument */
    bool sym_failing[TP_REST_MAX_SYMS];
};
/* false when src is not a REST source. */
bool tp_rest_stats(const struct tp_source *src, struct tp_rest_stats *ret);
/* One line on the source's state: "ok" or the failing instruments and why. Any thread. */
void tp_rest_status(const struct tp_source *src, char *out, size_t cap);

#endif
