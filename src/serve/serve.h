/*
 * serve.h — the HTTP server of `tickpipe run` (DESIGN.md §7): the dashboard, the JSON API,
 * /metrics and the live stream, on libwebsockets, in a thread and event loop of its own that
 * only reads the live store (serve/live.h). Nothing on that loop blocks: no DNS, no disk
 * (the dashboard is embedded), no database. /api/bars history from the lake is read by a
 * small pool of worker threads (serve/history.h); the connection waits without blocking the
 * loop and is resumed when its read is done.
 *
 * Security: binds 127.0.0.1:8080 by default. Binding any non-loopback address requires a
 * token, and tp_serve_start refuses to start without one. When a token is set, every request
 * but /healthz must carry it (Authorization: Bearer, the `token` URL parameter, which also
 * sets an HttpOnly SameSite=Strict cookie for the dashboard's own requests, or that cookie).
 * On a loopback bind the Host header must name a loopback host and the port (a guard against
 * DNS rebinding); WebSocket upgrades must come from the same origin as the Host; there is no
 * CORS at all. Request headers are bounded (4 KiB), idle connections time out, and static
 * paths match the embedded table exactly.
 */
#ifndef TP_SERVE_H
#define TP_SERVE_H

#include "serve/live.h"

struct tp_serve_cfg {
    const char *http;          /* "ADDR:PORT" ("127.0.0.1:8080"; "[::1]:8080"; port 0 picks
                                  a free port); borrowed for the call */
    const char *token;         /* NULL or "" for none; copied */
    uint32_t max_clients;      /* stream clients at once: 64 */
    uint32_t client_queue;     /* messages queued per stream client: 16384 */
    size_t client_queue_bytes; /* bytes queued per stream client: 8 MiB */
    int64_t display_ns;        /* bar updates and prices are coalesced to this period: 100 ms */
    /* History of /api/bars from the lake, read by worker threads (serve/history.h): */
    const char *lake;             /* the lake's root (DATA/lake); NULL: live store only; copied */
    int64_t lake_min_interval_ns; /* shorter bars are not in the lake (live only): 1 min */
    unsigned history_threads;     /* 2 */
    unsigned history_queue;       /* requests waiting at most (503 beyond): 32 */
    int64_t history_delay_ns;     /* test hook: each lake read waits this long first (0) */
};

void tp_serve_cfg_default(struct tp_serve_cfg *c);

struct tp_serve;

/* Parses "ADDR:PORT" into host (a numeric address, or "localhost") and port; tells whether it
 * is a loopback address. 0, or -EINVAL. */
int tp_serve_parse_addr(const char *s, char *host, size_t hostcap, int *port, bool *loopback);

/* Starts the server thread on live (borrowed; it must outlive the server). 0 and *ret, or a
 * negative errno with a one-line reason in err: -EINVAL (bad address or settings), -EPERM (a
 * non-loopback bind without a token), -EADDRINUSE and the like (cannot listen), -ENOMEM.
 * Main thread. */
int tp_serve_start(struct tp_live *live, const struct tp_serve_cfg *cfg, struct tp_serve **ret,
                   char *err, size_t errcap);
/* The port actually bound (the chosen one when cfg asked for port 0). */
int tp_serve_port(const struct tp_serve *s);
/* Stops the thread, closes every connection, frees s. NULL is a no-op. Main thread. */
void tp_serve_stop(struct tp_serve *s);

#endif
