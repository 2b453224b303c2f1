/*
 * api.h — the JSON API and /metrics as pure functions of a request and the live store
 * (DESIGN.md §7, docs/api.md): the HTTP layer (http.c) decodes the request into a route and
 * parameters, calls tp_api_get, and sends what it returns. No sockets here, so every route
 * and every bad parameter is unit-tested directly.
 *
 * Parameters are validated strictly: an unknown or repeated parameter, or a malformed value,
 * gives 400 with {"error": "..."} naming the parameter. Responses are JSON arrays of objects
 * keyed by the §5 column names (rows.h), except /healthz and /api/health (one object) and
 * /metrics (Prometheus text exposition format 0.0.4).
 */
#ifndef TP_API_H
#define TP_API_H

#include "core/buf.h"
#include "core/instrument.h"
#include "serve/live.h"

enum tp_route {
    TP_ROUTE_OTHER = 0, /* unknown: 404 */
    TP_ROUTE_ASSET,     /* the dashboard and its static files */
    TP_ROUTE_HEALTHZ,
    TP_ROUTE_METRICS,
    TP_ROUTE_INSTRUMENTS,
    TP_ROUTE_BARS,
    TP_ROUTE_TICKS,
    TP_ROUTE_ANOMALIES,
    TP_ROUTE_QUALITY,
    TP_ROUTE_HEALTH,
    TP_ROUTE_STREAM,
    TP_ROUTE_N
};

/* HTTP status codes counted per route in /metrics. */
#define TP_API_CODES 12
extern const int tp_api_codes[TP_API_CODES]; /* 101 200 204 304 400 401 403 404 405 413 500 503 */

/* The serve side's own counters, kept by the HTTP thread. */
struct tp_serve_stats {
    int64_t started_ns;                              /* wall clock at start */
    uint64_t requests[TP_ROUTE_N][TP_API_CODES + 1]; /* [route][code index]; last = other */
    uint64_t stream_ws, stream_sse;                  /* connected stream clients */
    uint64_t stream_dropped_lagged;                  /* clients dropped for falling behind */
    uint64_t stream_refused;                         /* stream connections over the limit */
    uint64_t stream_messages;                        /* messages queued to clients */
    uint64_t feed_missed; /* feed messages overwritten before the HTTP thread read them */
    double events_per_s;  /* over the last second: events_in (or published) */
};

struct tp_api_param {
    const char *key; /* borrowed, NUL-terminated, URL-decoded */
    const char *val;
};
#define TP_API_MAX_PARAMS 16
#define TP_API_MAX_BODY   (32u << 20) /* cap on any response body */

/* The route of a URL path (no query). */
enum tp_route tp_api_route(const char *path);
/* Route name for /metrics labels ("/api/bars", "asset", "other"). */
const char *tp_api_route_name(enum tp_route r);
/* Counts a response. */
void tp_api_count(struct tp_serve_stats *ss, enum tp_route r, int status);

/* Answers a GET of route r (not ASSET, STREAM or OTHER) with params p[0..np) from the live
 * store: writes the body into `body` (reset first; its max should be TP_API_MAX_BODY), sets
 * *ctype to a static string, and returns the HTTP status (200, 400, 404, or 500 when the body
 * would exceed its cap or memory is short). */
int tp_api_get(struct tp_live *l, const struct tp_serve_stats *ss, enum tp_route r,
               const struct tp_api_param *p, size_t np, struct tp_buf *body, const char **ctype);

/* GET /api/bars in two steps, for answers that need the lake (http.c runs the lake read in
 * a worker between them; history.h). */
struct tp_api_bars_req {
    char instrument[TP_INSTR_NAMELEN + 1]; /* venue:SYMBOL, validated */
    uint32_t id;                           /* 0: not seen by this process */
    int64_t interval_ns, from, to;         /* bars with from <= ts < to */
    size_t limit;
};
/* Validates the parameters into *ret: 0, or 400 with the error in body (reset first). */
int tp_api_bars_parse(const struct tp_api_param *p, size_t np, struct tp_api_bars_req *ret,
                      struct tp_buf *body);
/* Answers r from the live store merged with hist[0..nhist) (final bars from the lake, oldest
 * first; NULL for none): the live store's bar wins on an equal ts; the newest r->limit bars,
 * oldest first. With live_only_if_full, answers only when the live store alone holds
 * r->limit bars of the range (so the lake cannot add a newer one) and returns 0 otherwise,
 * writing nothing. Else like tp_api_get: the status (200, or 500 with the error). */
int tp_api_bars_answer(struct tp_live *l, const struct tp_api_bars_req *r,
                       const struct tp_bar *hist, size_t nhist, bool live_only_if_full,
                       struct tp_buf *body, const char **ctype);

/* Writes {"error": msg} into body (reset first). */
void tp_api_error(struct tp_buf *body, const char *msg);

/* The health object (GET /api/health and the stream's "health" message) into a writer. */
struct tp_jw;
void tp_api_health(struct tp_jw *w, const struct tp_live_stats *st,
                   const struct tp_serve_stats *ss);

/* Prometheus text for /metrics (metrics.c). 0 or -E2BIG. */
int tp_metrics_write(struct tp_buf *b, const struct tp_live_stats *st,
                     const struct tp_serve_stats *ss);
/* (added) The connector families alone (tickpipe_ws_*, tickpipe_rest_*: the sources with
 * has_conn), ages and remaining waits taken at now_real (ns since the epoch). Families of a
 * kind no source has are left out. 0 or -E2BIG. tp_metrics_write calls it. */
int tp_metrics_write_connectors(struct tp_buf *b, const struct tp_live_stats *st, int64_t now_real);

#endif
