/*
 * backfill.h — fetches the trades a venue's WebSocket stream skipped, by trade id, from the
 * venue's REST API, without blocking the caller's event loop (libcurl multi, polled), so that
 * a gap the parser reported can be filled (issue 6 §3; docs/venues.md "Gap backfill").
 *
 * Binance only so far: aggregate trade ids from GET /api/v3/aggTrades?symbol=S&fromId=N
 * &limit=L, trade ids from GET /api/v3/historicalTrades?symbol=S&fromId=N&limit=L (public;
 * $BINANCE_API_KEY is sent as X-MBX-APIKEY when set). A gap of up to max_ids ids is fetched
 * in pages of at most 1000, one request at a time per backfill object (gentle on the venue's
 * weight limits); a failed page is retried twice after 0.5 s and 1 s, then the gap is given
 * up. Requests and their results are handled in tp_backfill_poll, on the owner's thread.
 *
 * Invariant: the trades handed to `done` are exactly the ids within [first, last] the venue
 * returned, in increasing id order, each once, as normalized trade events (DESIGN.md §2:
 * exact decimals, taker side from isBuyerMaker / m, venue time).
 */
#ifndef TP_BACKFILL_H
#define TP_BACKFILL_H

#include "core/event.h"

#define TP_BACKFILL_QUEUE 256 /* gaps waiting at once */

struct tp_backfill_opts {
    const char *base_url; /* "https://api.binance.com" or a test server (copied) */
    bool agg;             /* aggTrade ids (else trade ids) */
    int64_t timeout_ns;   /* per request (0: 10 s) */
    uint64_t max_ids;     /* largest gap fetched (0: 10000); a larger one is given up */
};

struct tp_backfill_result {
    uint32_t instr;
    uint64_t first, last;
    const struct tp_event *ev; /* borrowed for the call */
    size_t n;
    const char *error; /* NULL, or why the gap could not be (wholly) fetched */
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

#endif
