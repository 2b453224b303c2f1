/*
 * ws.h — one WebSocket client connection at a time on a libwebsockets context owned by the
 * calling thread (a venue source's thread: DESIGN.md §7 keeps the venues' event loops apart
 * from the HTTP server's), plus the URL parser and the asynchronous name resolution the
 * connectors use.
 *
 * The owner drives everything from its own loop:
 *
 *     tp_ws_resolve_start(host) ... tp_ws_resolve_poll() → numeric address   (off the loop)
 *     tp_ws_connect(w, url, address) → handler.open / handler.closed
 *     tp_ws_service(w)   runs lws once; returns within the tick given at creation
 *     tp_ws_send / tp_ws_ping queue frames; handler.message gets whole messages
 *     tp_ws_drop(w)      abandons the connection at once (handler.closed runs before it returns)
 *
 * Every callback runs on the owner's thread, inside tp_ws_service (or tp_ws_drop). A
 * connection ends exactly once with handler.closed (connect failure, peer close, error, drop),
 * after which a new tp_ws_connect may start. Messages are reassembled from fragments into a
 * buffer capped at max_message; a longer message is discarded and reported as too_big.
 *
 * Name resolution never blocks the loop: a numeric address resolves at once; a name goes to
 * glibc's getaddrinfo_a and is polled. DNS is the one step lws would otherwise do
 * synchronously inside its connect.
 */
#ifndef TP_WS_H
#define TP_WS_H

#include "core/tp.h"

#define TP_WS_HOST_MAX 255
#define TP_WS_PATH_MAX 1023
#define TP_WS_ADDR_MAX 63

struct tp_ws_url {
    bool tls;                      /* wss:// */
    int port;                      /* given, or 80 / 443 */
    char host[TP_WS_HOST_MAX + 1]; /* name or address (IPv6 without brackets) */
    char path[TP_WS_PATH_MAX + 1]; /* "/..." with the query, "/" when absent */
};

/* Parses ws://HOST[:PORT][/PATH][?QUERY] or wss://...; 0 or -EINVAL. */
int tp_ws_url_parse(const char *url, struct tp_ws_url *ret);

struct tp_ws_handler {
    void *ctx;
    void (*open)(void *ctx); /* handshake done */
    void (*message)(void *ctx, const char *msg, size_t len, bool binary);
    void (*too_big)(void *ctx, size_t len);                    /* a message past the cap */
    void (*pong)(void *ctx);                                   /* a protocol pong */
    void (*closed)(void *ctx, bool was_open, const char *why); /* why: never NULL */
};

struct tp_ws_opts {
    const char *ca_file;        /* PEM bundle to trust for wss:// (NULL: the system's) */
    size_t max_message;         /* reassembly cap in bytes (0: 16 MiB) */
    size_t max_queue;           /* frames waiting to be sent (0: 256) */
    int64_t tick_ns;            /* longest time tp_ws_service blocks (0: 100 ms) */
    int64_t connect_timeout_ns; /* TCP + TLS + handshake (0: 10 s) */
};

struct tp_ws;

/* A context with no connection. 0 and *ret (owned), or -ENOMEM / -EIO (lws could not start,
 * e.g. an unreadable ca_file); handler is copied. Call from the owner thread. */
int tp_ws_new(const struct tp_ws_opts *o, const struct tp_ws_handler *h, struct tp_ws **ret);
/* Drops any connection (closed is called) and frees. NULL is a no-op. */
void tp_ws_free(struct tp_ws *w);

/* Starts connecting to u (Host header, SNI and certificate name from u->host) at the numeric
 * address. 0 (open or closed follows), -EBUSY (a connection exists), or -EIO (lws refused at
 * once; closed is not called). */
int tp_ws_connect(struct tp_ws *w, const struct tp_ws_url *u, const char *address);
/* True between tp_ws_connect and closed. */
bool tp_ws_active(const struct tp_ws *w);
/* Queues a text frame (copied). 0, -ENOTCONN (not open), -ENOBUFS (queue full), -ENOMEM. */
int tp_ws_send(struct tp_ws *w, const char *text, size_t len);
/* Queues a protocol ping. Same results. */
int tp_ws_ping(struct tp_ws *w);
/* Ends the connection now, without a closing handshake (the peer may be gone); calls
 * closed(was_open, why) before returning. No-op when there is no connection. */
void tp_ws_drop(struct tp_ws *w, const char *why);
/* Services lws once: returns after network activity or at the next tick. <0 when lws failed. */
int tp_ws_service(struct tp_ws *w);

/* Name resolution (one request per resolver). */
struct tp_ws_resolver;
int tp_ws_resolver_new(struct tp_ws_resolver **ret);
/* Frees; waits for a request in flight that cannot be cancelled. NULL is a no-op. */
void tp_ws_resolver_free(struct tp_ws_resolver *r);
/* Starts resolving host (a name or a numeric address). 0 or a negative errno. */
int tp_ws_resolve_start(struct tp_ws_resolver *r, const char *host, int port);
/* 0 and addr when done, -EINPROGRESS while running, -EHOSTUNREACH (with a reason in err) when
 * it failed. Addresses are tried round-robin over successive requests for the same host. */
int tp_ws_resolve_poll(struct tp_ws_resolver *r, char addr[TP_WS_ADDR_MAX + 1], char *err,
                       size_t errcap);
/* Abandons a request in flight (its result is discarded). */
void tp_ws_resolve_cancel(struct tp_ws_resolver *r);

#endif
