/*
 * backfill.h — fetches the trades a venue's WebSocket stream skipped, by trade id, from the
 * venue's REST API, without blocking the caller's event loop (libcurl multi, polled), so that
 * a gap the parser reported can be filled (issue 6 §3; docs/venues.md "Gap backfill").
 *
 * Venues (docs/venues.md "Gap backfill"):
 *   binance   id gaps: aggregate trade ids from GET /api/v3/aggTrades?symbol=S&fromId=N&limit=L,
 *             trade ids from GET /api/v3/historicalTrades (public; $BINANCE_API_KEY is sent as
 *             X-MBX-APIKEY when set); pages of up to 1000 forward from the first missing id.
 *   coinbase  id gaps: the Exchange API GET /products/P/trades?limit=L&after=C (newest first;
 *             `after` asks for trades older than id C), pages of up to 1000 backward from the
 *             last missing id + 1 (backfill_coinbase.c).
 *   okx       outage windows: GET /api/v5/market/history-trades?instId=I&type=1&limit=100
 *             [&after=C] (newest first, older than trade id C), pages of 100 backward from the
 *             first trade after the outage until the last trade before it (backfill_okx.c,
 *             through the live OKX parser: the same shape as the WebSocket trades).
 *   bybit     outage windows: GET /v5/market/recent-trade?category=K&symbol=S&limit=L, the
 *             most recent L trades only (spot 60, derivatives 1000): a window older than that
 *             is reported as not recovered, never as complete (backfill_bybit.c).
 * One request at a time per backfill object, at least page_gap apart (the venue's rate
 * limits), at most max_pages pages per gap; a failed page is retried twice after 0.5 s and
 * 1 s, then the gap is given up. Requests and results are handled in tp_backfill_poll, on the
 * owner's thread.
 *
 * Invariants: for an id gap, the trades handed to `done` are exactly the ids within
 * [first, last] the venue returned, in increasing id order, each once; for a window, the
 * trades strictly between its two edges (by id where both edges have numeric ids, else by
 * time, the edge trades themselves excluded), in time order, each once. All are normalized
 * trade events as the live parsers make them (DESIGN.md §2: exact decimals, taker side, venue
 * time, ids numeric when the text is a canonical unsigned integer, else strings).
 */
#ifndef TP_BACKFILL_H
#define TP_BACKFILL_H

#include "core/event.h"

#define TP_BACKFILL_QUEUE 256 /* gaps waiting at once */

enum tp_backfill_venue {
    TP_BACKFILL_BINANCE = 0,
    TP_BACKFILL_COINBASE,
    TP_BACKFILL_OKX,
    TP_BACKFILL_BYBIT,
};

struct tp_backfill_opts {
    const char *base_url; /* "https://api.binance.com" or a test server (copied) */
    bool agg;             /* aggTrade ids (else trade ids) */
    int64_t timeout_ns;   /* per request (0: 10 s) */
    uint64_t max_ids;     /* largest gap fetched (0: 10000); a larger one is given up */
    /* (added) */
    enum tp_backfill_venue venue; /* 0: Binance */
    const char *market;           /* Bybit category: spot (NULL), linear, inverse */
    unsigned max_pages;           /* per gap (0: max_ids / page size; OKX 50; Bybit 1) */
    int64_t page_gap_ns;          /* between two requests (0: the venue's: 100-150 ms) */
};

/* One edge of an outage window: the last trade the stream delivered before it, or the first
 * after it (ts INT64_MIN: unknown; then the window's time bound is used alone). */
struct tp_backfill_edge {
    int64_t ts;
    bool has_id, id_str; /* id_str: the id is the string sid, else the number id */
    uint64_t id;
    char sid[TP_TRADE_ID_MAX + 1];
};

struct tp_backfill_result {
    uint32_t instr;
    uint64_t first, last;      /* the id gap; for a window (by_time): its times, as int64 */
    const struct tp_event *ev; /* borrowed for the call */
    size_t n;
    const char *error; /* NULL, or why the gap could not be (wholly) fetched */
    bool by_time;      /* (added) an outage window (tp_backfill_request_window) */
    bool complete;     /* (added) the whole gap is covered: every missing trade is in ev */
};

struct tp_backfill;

/* libcurl's global setup: call on the main thread, before any thread calls tp_backfill_new
 * (curl_global_init is not thread-safe in every libcurl build). */
void tp_backfill_global_init(void);
/* 0 and *ret (owned), -ENOMEM, -EINVAL (not an http(s) URL). Owner thread. */
int tp_backfill_new(const struct tp_backfill_opts *o, struct tp_backfill **ret);
void tp_backfill_free(struct tp_backfill *b); /* abandons transfers; NULL is a no-op */
/* Queues ids first..last of native symbol vsym (Binance spelling: BTCUSDT) for instr. 0,
 * -ENOSPC (queue full), -E2BIG (more than max_ids ids: not fetched), -EINVAL. */
int tp_backfill_request(struct tp_backfill *b, uint32_t instr, const char *vsym, uint64_t first,
                        uint64_t last);
/* (added) Queues an outage window of instr (OKX, Bybit: trades without consecutive ids): the
 * trades after `from` and before `to` (either edge may be unknown: ts INT64_MIN), reported
 * against the gap record's times gap_from..gap_to. 0, -ENOSPC, -EINVAL, -ENOTSUP (a venue
 * without windows: Binance, Coinbase). */
int tp_backfill_request_window(struct tp_backfill *b, uint32_t instr, const char *vsym,
                               const struct tp_backfill_edge *from,
                               const struct tp_backfill_edge *to, int64_t gap_from, int64_t gap_to);
/* Runs transfers without blocking; calls done for every gap finished (fetched or given up). */
void tp_backfill_poll(struct tp_backfill *b,
                      void (*done)(void *ctx, const struct tp_backfill_result *r), void *ctx);
/* Gaps queued or in flight. */
size_t tp_backfill_pending(const struct tp_backfill *b);

/* Parses a Binance REST trades body (a JSON array; aggTrades when agg) into ev[0..cap): the
 * trades whose id is in [first, last], for instr / vsym, received at recv. *max_id gets the
 * largest id in the body (0 when empty). Returns the count or -EINVAL (malformed), -E2BIG. */
int tp_backfill_parse_binance(const char *body, size_t len, bool agg, uint32_t instr,
                              const char *vsym, uint64_t first, uint64_t last, int64_t recv,
                              struct tp_event *ev, size_t cap, uint64_t *max_id);

/* (added) The REST parsers of the other venues: every trade of one body for native symbol
 * vsym (rows of other symbols skipped), as instr, received at recv, into ev[0..cap): Coinbase
 * and Bybit in the body's order (newest first), OKX in time order (the live parser orders
 * them). Each trade has an id. Returns the count, -EINVAL (malformed, or the venue's error
 * envelope: err gets its text when errcap), -E2BIG (more than cap). */
int tp_backfill_parse_coinbase(const char *body, size_t len, uint32_t instr, const char *vsym,
                               int64_t recv, struct tp_event *ev, size_t cap, char *err,
                               size_t errcap);
int tp_backfill_parse_okx(const char *body, size_t len, uint32_t instr, const char *vsym,
                          int64_t recv, struct tp_event *ev, size_t cap, char *err, size_t errcap);
int tp_backfill_parse_bybit(const char *body, size_t len, uint32_t instr, const char *vsym,
                            int64_t recv, struct tp_event *ev, size_t cap, char *err,
                            size_t errcap);

#endif
