/*
 * ws.c — the WebSocket client connection and name resolver of ws.h, on libwebsockets.
 *
 * One lws context per struct tp_ws, created and serviced by the owner thread, with a single
 * protocol whose callback forwards to the handler. lws's own keep-alive is switched off (a
 * retry policy with no hang-up time): the connector's watchdog judges liveness, on traffic it
 * can see. A periodic lws timer (`tick`) bounds how long lws_service sleeps, because lws
 * ignores the timeout argument since 3.2.
 *
 * Connection bookkeeping: `wsi` is the live connection (NULL when none). A connection the
 * owner dropped is detached first (its opaque pointer cleared, `wsi` set to NULL) and then
 * killed asynchronously by lws; callbacks that still arrive for it find no opaque pointer and
 * are ignored, so the handler hears of each connection's end exactly once.
 *
 * Outgoing frames wait in a bounded FIFO of copies (each with LWS_PRE bytes of headroom, as
 * lws_write requires) and go out one per writable callback.
 */
#include <libwebsockets.h>
#include <netdb.h>
#include <signal.h>
#include <arpa/inet.h>

#include "core/tptime.h"
#include "source/ws.h"

#define DEFAULT_MAX_MESSAGE (16u << 20)
#define DEFAULT_MAX_QUEUE   256
#define DEFAULT_TICK_NS     (100 * TP_NS_PER_MS)
#define DEFAULT_CONNECT_NS  (10 * TP_NS_PER_SEC)

struct frame {
    unsigned char *buf; /* LWS_PRE + len bytes, owned */
    size_t len;
    bool ping;
};

struct tp_ws {
    struct lws_context *ctx;
    struct tp_ws_handler h;
    struct lws *wsi; /* the live connection, or NULL */
    bool open;       /* handshake done */
    bool connecting; /* inside lws_client_connect_via_info: adopt the wsi of its callbacks */
    uint64_t ends;   /* connections ended (handler.closed calls) */
    int64_t connect_timeout, connect_deadline;
    char why[160]; /* close reason collected from the peer */

    char *rx; /* reassembly buffer, owned */
    size_t rxlen, rxcap, rxmax;
    bool rx_over;   /* the message being received is past the cap: discard it */
    size_t rx_seen; /* bytes of a discarded message */

    struct frame *q; /* FIFO of qcap frames */
    size_t qhead, qn, qcap;

    lws_sorted_usec_list_t sul;
    int64_t tick_us;
};

/* lws's keep-alive off: no ping, no hang-up (the connector's watchdog decides). */
static const lws_retry_bo_t no_validity = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

/* ---- URL ---- */

int tp_ws_url_parse(const char *url, struct tp_ws_url *ret)
{
    struct tp_ws_url u;
    memset(&u, 0, sizeof u);
    const char *p;
    if (!strncmp(url, "ws://", 5)) {
        p = url + 5;
    } else if (!strncmp(url, "wss://", 6)) {
        p = url + 6;
        u.tls = true;
    } else {
        return -EINVAL;
    }
    const char *hs = p, *he;
    if (*p == '[') {
        hs = p + 1;
        he = strchr(hs, ']');
        if (!he) return -EINVAL;
        p = he + 1;
    } else {
        p += strcspn(p, ":/?");
        he = p;
    }
    size_t hl = (size_t)(he - hs);
    if (!hl || hl > TP_WS_HOST_MAX) return -EINVAL;
    memcpy(u.host, hs, hl);
    for (size_t i = 0; i < hl; i++)
        if ((unsigned char)u.host[i] <= ' ' || u.host[i] == '@' || u.host[i] == '#') return -EINVAL;
    u.port = u.tls ? 443 : 80;
    if (*p == ':') {
        char *end;
        errno = 0;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || errno || port < 1 || port > 65535) return -EINVAL;
        u.port = (int)port;
        p = end;
    }
    if (*p && *p != '/' && *p != '?') return -EINVAL;
    int n = snprintf(u.path, sizeof u.path, "%s%s", *p == '/' ? "" : "/", p);
    if (n < 0 || (size_t)n >= sizeof u.path) return -EINVAL;
    for (const char *c = u.path; *c; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) return -EINVAL;
    *ret = u;
    return 0;
}

/* ---- frames ---- */

static void q_clear(struct tp_ws *w)
{
    for (size_t i = 0; i < w->qn; i++) free(w->q[(w->qhead + i) % w->qcap].buf);
    w->qhead = w->qn = 0;
}

static int q_push(struct tp_ws *w, const char *text, size_t len, bool ping)
{
    if (!w->wsi || !w->open) return -ENOTCONN;
    if (w->qn == w->qcap) return -ENOBUFS;
    if (len > w->rxmax) return -E2BIG;
    unsigned char *b = malloc(LWS_PRE + len + 1);
    if (!b) return -ENOMEM;
    if (len) memcpy(b + LWS_PRE, text, len);
    w->q[(w->qhead + w->qn) % w->qcap] = (struct frame){b, len, ping};
    w->qn++;
    lws_callback_on_writable(w->wsi);
    return 0;
}

int tp_ws_send(struct tp_ws *w, const char *text, size_t len)
{
    return q_push(w, text, len, false);
}

int tp_ws_ping(struct tp_ws *w)
{
    return q_push(w, NULL, 0, true);
}

/* ---- connection end ---- */

/* Forgets the live connection and tells the handler, once. */
static void ended(struct tp_ws *w, const char *why)
{
    bool was_open = w->open;
    if (w->wsi) lws_set_opaque_user_data(w->wsi, NULL);
    w->wsi = NULL;
    w->open = false;
    w->rxlen = 0;
    w->rx_over = false;
    q_clear(w);
    w->ends++;
    if (w->h.closed) w->h.closed(w->h.ctx, was_open, why && *why ? why : "closed");
}

void tp_ws_drop(struct tp_ws *w, const char *why)
{
    if (!w->wsi) return;
    struct lws *wsi = w->wsi;
    ended(w, why);
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

bool tp_ws_active(const struct tp_ws *w)
{
    return w->wsi != NULL;
}

/* ---- the lws callback ---- */

static void rx(struct tp_ws *w, struct lws *wsi, const char *in, size_t len)
{
    if (!w->rx_over) {
        if (w->rxlen + len > w->rxmax) {
            w->rx_over = true;
            w->rx_seen = w->rxlen;
            w->rxlen = 0;
        } else {
            if (w->rxlen + len + 1 > w->rxcap) {
                size_t nc = w->rxcap ? w->rxcap : 4096;
                while (nc < w->rxlen + len + 1) nc *= 2;
                if (nc > w->rxmax + 1) nc = w->rxmax + 1;
                char *p = realloc(w->rx, nc);
                if (!p) { /* treat as too big: the message is lost, the connection lives */
                    w->rx_over = true;
                    w->rx_seen = w->rxlen;
                    w->rxlen = 0;
                } else {
                    w->rx = p;
                    w->rxcap = nc;
                }
            }
            if (!w->rx_over) {
                memcpy(w->rx + w->rxlen, in, len);
                w->rxlen += len;
            }
        }
    }
    if (w->rx_over) w->rx_seen += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return;
    if (w->rx_over) {
        size_t seen = w->rx_seen;
        w->rx_over = false;
        w->rx_seen = 0;
        if (w->h.too_big) w->h.too_big(w->h.ctx, seen);
        return;
    }
    w->rx[w->rxlen] = 0;
    size_t n = w->rxlen;
    w->rxlen = 0;
    if (w->h.message) w->h.message(w->h.ctx, w->rx, n, lws_frame_is_binary(wsi) != 0);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    struct tp_ws *w = lws_get_opaque_user_data(wsi);
    if (w && !w->wsi && w->connecting) w->wsi = wsi;
    if (!w || w->wsi != wsi) {
        /* A dropped connection's last callbacks, or lws's own housekeeping. */
        if (reason == LWS_CALLBACK_CLIENT_WRITEABLE || reason == LWS_CALLBACK_CLIENT_RECEIVE)
            return w ? -1 : 0;
        return 0;
    }
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        /* in: a NUL-terminated reason, or NULL */
        char why[160];
        snprintf(why, sizeof why, "connect failed: %.120s", in ? (const char *)in : "unknown");
        ended(w, why);
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        w->open = true;
        w->why[0] = 0;
        if (w->h.open) w->h.open(w->h.ctx);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        rx(w, wsi, in, len);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (w->h.pong) w->h.pong(w->h.ctx);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!w->qn) break;
        struct frame *f = &w->q[w->qhead];
        int n = lws_write(wsi, f->buf + LWS_PRE, f->len, f->ping ? LWS_WRITE_PING : LWS_WRITE_TEXT);
        free(f->buf);
        w->qhead = (w->qhead + 1) % w->qcap;
        w->qn--;
        if (n < (int)f->len) {
            ended(w, "write failed");
            return -1;
        }
        if (w->qn) lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const unsigned char *b = in;
        if (len >= 2)
            snprintf(w->why, sizeof w->why, "peer closed (code %u%s%.*s)", (b[0] << 8) | b[1],
                     len > 2 ? ": " : "", (int)TP_MIN(len - 2, 100), (const char *)b + 2);
        else
            snprintf(w->why, sizeof w->why, "peer closed");
        break;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        ended(w, w->why[0] ? w->why : "connection closed");
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"tp-ws-client", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the context ---- */

static void tick(lws_sorted_usec_list_t *sul)
{
    struct tp_ws *w = lws_container_of(sul, struct tp_ws, sul);
    if (w->wsi && !w->open && tp_mono_ns() > w->connect_deadline)
        tp_ws_drop(w, "connect timed out");
    lws_sul_schedule(w->ctx, 0, &w->sul, tick, w->tick_us);
}

int tp_ws_new(const struct tp_ws_opts *o, const struct tp_ws_handler *h, struct tp_ws **ret)
{
    struct tp_ws *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    w->h = *h;
    w->rxmax = o && o->max_message ? o->max_message : DEFAULT_MAX_MESSAGE;
    w->qcap = o && o->max_queue ? o->max_queue : DEFAULT_MAX_QUEUE;
    int64_t tick_ns = o && o->tick_ns > 0 ? o->tick_ns : DEFAULT_TICK_NS;
    w->tick_us = TP_MAX(tick_ns / 1000, 1000);
    w->connect_timeout =
        o && o->connect_timeout_ns > 0 ? o->connect_timeout_ns : DEFAULT_CONNECT_NS;
    w->q = calloc(w->qcap, sizeof *w->q);
    if (!w->q) {
        free(w);
        return -ENOMEM;
    }
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = o ? o->ca_file : NULL;
    info.retry_and_idle_policy = &no_validity;
    info.user = w;
    info.gid = -1;
    info.uid = -1;
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        free(w->q);
        free(w);
        return -EIO;
    }
    lws_sul_schedule(w->ctx, 0, &w->sul, tick, w->tick_us);
    *ret = w;
    return 0;
}

void tp_ws_free(struct tp_ws *w)
{
    if (!w) return;
    tp_ws_drop(w, "shutting down");
    lws_sul_cancel(&w->sul);
    lws_context_destroy(w->ctx);
    q_clear(w);
    free(w->q);
    free(w->rx);
    free(w);
}

int tp_ws_connect(struct tp_ws *w, const struct tp_ws_url *u, const char *address)
{
    if (w->wsi) return -EBUSY;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = w->ctx;
    ci.address = address;
    ci.port = u->port;
    ci.path = u->path;
    ci.host = u->host;
    ci.origin = u->host;
    ci.ssl_connection = u->tls ? LCCSCF_USE_SSL : 0;
    ci.ietf_version_or_minus_one = -1;
    ci.local_protocol_name = protocols[0].name;
    ci.retry_and_idle_policy = &no_validity;
    ci.opaque_user_data = w;
    w->open = false;
    w->why[0] = 0;
    w->rxlen = 0;
    w->rx_over = false;
    w->connect_deadline = tp_mono_ns() + w->connect_timeout;
    uint64_t ends = w->ends;
    w->connecting = true;
    struct lws *wsi = lws_client_connect_via_info(&ci);
    w->connecting = false;
    if (w->ends != ends) return 0; /* it failed at once, and closed was called */
    if (!wsi) {
        w->wsi = NULL;
        return -EIO;
    }
    w->wsi = wsi;
    return 0;
}

int tp_ws_service(struct tp_ws *w)
{
    return lws_service(w->ctx, 0) < 0 ? -EIO : 0;
}

/* ---- name resolution ---- */

struct tp_ws_resolver {
    struct gaicb cb;
    struct addrinfo hints;
    char host[TP_WS_HOST_MAX + 1];
    char last_host[TP_WS_HOST_MAX + 1];
    unsigned rr; /* round-robin position for last_host */
    bool busy;   /* a getaddrinfo_a request is in flight */
    bool numeric;
    char addr[TP_WS_ADDR_MAX + 1];
};

int tp_ws_resolver_new(struct tp_ws_resolver **ret)
{
    struct tp_ws_resolver *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    *ret = r;
    return 0;
}

/* Waits for the request in flight (after a cancel that could not stop it) and frees it. */
static void settle(struct tp_ws_resolver *r)
{
    if (!r->busy) return;
    if (gai_cancel(&r->cb) != EAI_CANCELED) {
        const struct gaicb *list[1] = {&r->cb};
        while (gai_error(&r->cb) == EAI_INPROGRESS) gai_suspend(list, 1, NULL);
    }
    if (r->cb.ar_result) freeaddrinfo(r->cb.ar_result);
    r->cb.ar_result = NULL;
    r->busy = false;
}

void tp_ws_resolver_free(struct tp_ws_resolver *r)
{
    if (!r) return;
    settle(r);
    free(r);
}

void tp_ws_resolve_cancel(struct tp_ws_resolver *r)
{
    settle(r);
    r->numeric = false;
}

int tp_ws_resolve_start(struct tp_ws_resolver *r, const char *host, int port)
{
    (void)port;
    settle(r);
    size_t n = strlen(host);
    if (!n || n > TP_WS_HOST_MAX) return -EINVAL;
    memcpy(r->host, host, n + 1);
    /* A numeric address needs no lookup. */
    unsigned char tmp[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1) {
        if (n > TP_WS_ADDR_MAX) return -EINVAL;
        memcpy(r->addr, host, n + 1);
        r->numeric = true;
        return 0;
    }
    r->numeric = false;
    memset(&r->cb, 0, sizeof r->cb);
    memset(&r->hints, 0, sizeof r->hints);
    r->hints.ai_family = AF_UNSPEC;
    r->hints.ai_socktype = SOCK_STREAM;
    r->hints.ai_flags = AI_ADDRCONFIG;
    r->cb.ar_name = r->host;
    r->cb.ar_request = &r->hints;
    struct gaicb *list[1] = {&r->cb};
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
    if (rc) return rc == EAI_MEMORY ? -ENOMEM : -EAGAIN;
    r->busy = true;
    return 0;
}

int tp_ws_resolve_poll(struct tp_ws_resolver *r, char addr[TP_WS_ADDR_MAX + 1], char *err,
                       size_t errcap)
{
    if (r->numeric) {
        memcpy(addr, r->addr, strlen(r->addr) + 1);
        return 0;
    }
    if (!r->busy) {
        snprintf(err, errcap, "no lookup started");
        return -EHOSTUNREACH;
    }
    int e = gai_error(&r->cb);
    if (e == EAI_INPROGRESS) return -EINPROGRESS;
    r->busy = false;
    struct addrinfo *res = r->cb.ar_result;
    r->cb.ar_result = NULL;
    if (e || !res) {
        snprintf(err, errcap, "cannot resolve %s: %s", r->host, e ? gai_strerror(e) : "no address");
        if (res) freeaddrinfo(res);
        return -EHOSTUNREACH;
    }
    unsigned count = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) count++;
    if (strcmp(r->last_host, r->host)) {
        memcpy(r->last_host, r->host, strlen(r->host) + 1);
        r->rr = 0;
    }
    struct addrinfo *pick = res;
    for (unsigned i = 0; i < r->rr % count; i++) pick = pick->ai_next;
    r->rr++;
    const void *src = pick->ai_family == AF_INET6
                          ? (const void *)&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr
                          : (const void *)&((struct sockaddr_in *)pick->ai_addr)->sin_addr;
    char buf[INET6_ADDRSTRLEN];
    const char *ok = inet_ntop(pick->ai_family, src, buf, sizeof buf);
    freeaddrinfo(res);
    if (!ok) {
        snprintf(err, errcap, "cannot resolve %s: bad address", r->host);
        return -EHOSTUNREACH;
    }
    memcpy(addr, buf, strlen(buf) + 1);
    return 0;
}
