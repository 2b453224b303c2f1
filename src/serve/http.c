/*
 * http.c — the HTTP server (see serve.h): libwebsockets in a thread of its own, one protocol
 * that answers plain HTTP (the dashboard, the API, /metrics), Server-Sent Events and
 * WebSocket upgrades on /api/stream.
 *
 * Threads: tp_serve_start and tp_serve_stop run on the main thread; everything else here runs
 * on the HTTP thread, inside lws callbacks, and owns `struct tp_serve` except the fields
 * marked otherwise. The pipeline never calls in: it publishes into the live store, whose
 * notify hook calls lws_cancel_service (thread-safe), and the HTTP thread then drains the
 * store's feed (LWS_CALLBACK_EVENT_WAIT_CANCELLED). A timer every `display_ns` sends the
 * coalesced open bars and prices, and once a second the health message, the events/s rate,
 * and SSE keep-alive comments.
 *
 * A plain response is formatted in full (bounded by TP_API_MAX_BODY) into the connection's
 * own buffer, then written in chunks as the socket drains (LWS_CALLBACK_HTTP_WRITEABLE);
 * embedded assets are written straight from the read-only table. A stream client's messages
 * wait in its bounded queue (stream.h) and go out one WebSocket message per writable
 * callback, or batched into one write for SSE.
 *
 * /api/bars that needs the lake's history (the live store does not hold `limit` bars of the
 * range, and the interval is one the lake keeps) is parsed on the loop, handed to a worker of
 * the history pool (history.h), and the connection waits (WAIT) without blocking the loop;
 * the worker's wake-up (lws_cancel_service) makes the loop collect finished reads, mark
 * their connections READY and ask for a writable callback, in which the lake's bars are
 * merged with the live store's and the response starts. A client that closes meanwhile
 * cancels its job (freed at once, or by the worker when its read ends).
 *
 * Per-connection state (struct pss) is lws's per-session allocation:
 *   mode IDLE ─HTTP→ BODY ─all written→ IDLE (keep-alive) or closed
 *        IDLE ─/api/bars with history→ WAIT ─read done→ READY ─writable→ BODY
 *        IDLE ─/api/stream, SSE→ SSE ─lagged message written→ closed
 *        IDLE ─upgrade→ WS ─lagged message written→ closed
 */
#include <arpa/inet.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/tptime.h"
#include "serve/api.h"
#include "serve/assets.h"
#include "serve/history.h"
#include "serve/rows.h"
#include "serve/serve.h"
#include "serve/stream.h"

_Static_assert(LWS_PRE <= TP_SMSG_PRE, "stream messages need LWS_PRE bytes of headroom");

#define CHUNK        (32 * 1024) /* bytes written per writable callback */
#define DRAIN_BATCH  256         /* feed messages copied per lock */
#define TAKE_BATCH   512         /* open bars / prices taken per lock */
#define HDR_BUF      2048
#define TOKEN_MAX    255
#define SSE_PING_SEC 15
#define MAX_QUERY    4096
#define HISTORY_SEC  30 /* a connection waiting for a lake read longer is closed */

enum mode { M_IDLE = 0, M_BODY, M_SSE, M_WS, M_WAIT, M_READY };

struct pss {
    enum mode mode;
    struct tp_buf body;        /* owned: a formatted response */
    const unsigned char *data; /* what is being written: body.p or an embedded asset */
    size_t len, off;
    bool close_after;          /* close instead of keep-alive once written */
    struct tp_sclient *client; /* owned (also listed in tp_serve.clients) */
    char *rx;                  /* WebSocket message being assembled; owned */
    size_t rxlen;
    bool rx_overflow;
    struct tp_hist_job *job;     /* WAIT/READY: the lake read (the pool's until READY) */
    struct tp_api_bars_req breq; /* WAIT/READY: the request it answers */
    unsigned flags;              /* WAIT/READY: the response's header flags */
    struct lws *wsi;             /* WAIT: this connection */
    struct pss *wprev, *wnext;   /* WAIT: in tp_serve.waiting */
    bool waiting;
};

struct tp_serve {
    struct tp_live *live; /* borrowed */
    struct tp_serve_cfg cfg;
    char token[TOKEN_MAX + 1];
    size_t token_len;
    char host[64];
    int port;
    bool loopback;
    struct lws_context *ctx;
    pthread_t thread;
    atomic_bool stop; /* set by the main thread */

    struct tp_serve_stats stats;
    struct tp_sclient **clients; /* cfg.max_clients slots */
    uint32_t nclients;
    uint64_t cursor; /* feed position */
    lws_sorted_usec_list_t sul;
    int64_t last_sec_ns, last_ping_ns;
    uint64_t last_events;
    unsigned wanted; /* union of the clients' tp_sub_kinds */

    struct tp_buf fmt;          /* scratch for stream messages */
    unsigned char *wbuf;        /* LWS_PRE + CHUNK */
    struct tp_live_msg *msgs;   /* DRAIN_BATCH */
    struct tp_bar *bars;        /* TAKE_BATCH */
    struct tp_live_instr *sums; /* TAKE_BATCH */
    struct tp_live_stats *st;
    struct tp_hist *hist;  /* NULL: no lake */
    int64_t lake_min_iv;   /* shorter bars are not in the lake */
    uint64_t hist_refused; /* history requests refused with 503: the queue was full */
    struct pss *waiting;   /* connections in WAIT (a list, to notice clients that leave) */
};

void tp_serve_cfg_default(struct tp_serve_cfg *c)
{
    c->http = "127.0.0.1:8080";
    c->token = NULL;
    c->max_clients = 64;
    c->client_queue = 16384;
    c->client_queue_bytes = 8u << 20;
    c->display_ns = 100 * TP_NS_PER_MS;
    c->lake = NULL;
    c->lake_min_interval_ns = 60 * TP_NS_PER_SEC;
    c->history_threads = 2;
    c->history_queue = 32;
    c->history_delay_ns = 0;
}

/* ---- Addresses and tokens ---- */

int tp_serve_parse_addr(const char *s, char *host, size_t hostcap, int *port, bool *loopback)
{
    const char *colon;
    size_t hlen;
    const char *h = s;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return -EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return -EINVAL;
        hlen = (size_t)(colon - s);
    }
    char buf[64];
    if (hlen == 0 || hlen >= hostcap || hlen >= sizeof buf) return -EINVAL;
    const char *p = colon + 1;
    long v = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++) v = v * 10 + (*p - '0');
    if (!digits || *p || v > 65535) return -EINVAL;
    memcpy(buf, h, hlen);
    buf[hlen] = 0;
    struct in_addr a4;
    struct in6_addr a6;
    bool lo;
    if (!strcmp(buf, "localhost")) {
        lo = true;
    } else if (s[0] != '[' && inet_pton(AF_INET, buf, &a4) == 1) {
        lo = (ntohl(a4.s_addr) >> 24) == 127;
    } else if (s[0] == '[' && inet_pton(AF_INET6, buf, &a6) == 1) {
        lo = IN6_IS_ADDR_LOOPBACK(&a6);
    } else {
        return -EINVAL;
    }
    memcpy(host, buf, hlen + 1);
    *port = (int)v;
    *loopback = lo;
    return 0;
}

static bool token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("._~+/=-", c);
}

/* Constant-time comparison with the configured token. */
static bool token_ok(const struct tp_serve *s, const char *t, size_t n)
{
    if (!s->token_len) return true;
    unsigned diff = (unsigned)(n ^ s->token_len);
    for (size_t i = 0; i < s->token_len; i++)
        diff |= (unsigned char)s->token[i] ^ (unsigned char)(i < n ? t[i] : 0);
    return diff == 0;
}

/* ---- Request helpers ---- */

static int hdr(struct lws *wsi, enum lws_token_indexes h, char *buf, size_t cap)
{
    int n = lws_hdr_total_length(wsi, h);
    if (n <= 0 || (size_t)n >= cap) return n <= 0 ? 0 : -1;
    return lws_hdr_copy(wsi, buf, (int)cap, h) < 0 ? -1 : n;
}

struct query {
    struct tp_api_param p[TP_API_MAX_PARAMS];
    size_t n;
    char store[MAX_QUERY];
    const char *token; /* the `token` parameter, removed from p */
    const char *sse;   /* the `sse` parameter, removed from p (stream only) */
    bool too_many;
};

/* Collects the URL parameters (lws splits them at '&' and URL-decodes them). */
static void parse_query(struct lws *wsi, struct query *q, bool stream)
{
    size_t used = 0;
    q->n = 0;
    q->token = q->sse = NULL;
    q->too_many = false;
    for (int idx = 0;; idx++) {
        int len = lws_hdr_copy_fragment(wsi, q->store + used, (int)(sizeof(q->store) - used),
                                        WSI_TOKEN_HTTP_URI_ARGS, idx);
        if (len < 0) break;
        char *kv = q->store + used;
        used += (size_t)len + 1;
        /* An empty query ("/api/x?" or a trailing '&') reaches us from lws as an empty
         * fragment or as a lone "/": neither is a parameter. */
        if (len == 0 || (len == 1 && kv[0] == '/')) continue;
        char *eq = strchr(kv, '=');
        const char *val = "";
        if (eq) {
            *eq = 0;
            val = eq + 1;
        }
        if (!strcmp(kv, "token")) {
            q->token = val;
            continue;
        }
        if (stream && !strcmp(kv, "sse")) {
            q->sse = val;
            continue;
        }
        if (q->n >= TP_API_MAX_PARAMS) {
            q->too_many = true;
            continue;
        }
        q->p[q->n].key = kv;
        q->p[q->n].val = val;
        q->n++;
        if (used >= sizeof(q->store) - 1) break;
    }
}

static const char *qget(const struct query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (!strcmp(q->p[i].key, key)) return q->p[i].val;
    return NULL;
}

/* The Host header names this loopback server: a loopback host and our port. */
static bool host_ok(const struct tp_serve *s, struct lws *wsi, char *host, size_t cap)
{
    int n = hdr(wsi, WSI_TOKEN_HOST, host, cap);
    if (n <= 0) return false;
    if (!s->loopback) return true;
    char h[80];
    int port;
    bool lo;
    return tp_serve_parse_addr(host, h, sizeof(h), &port, &lo) == 0 && lo && port == s->port;
}

/* A token from the Authorization header, the query, or the tp_token cookie. */
static bool authorized(const struct tp_serve *s, struct lws *wsi, const struct query *q,
                       bool *from_query)
{
    *from_query = false;
    if (!s->token_len) return true;
    char buf[1024];
    int n = hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, buf, sizeof(buf));
    if (n > 7 && !strncasecmp(buf, "Bearer ", 7) && token_ok(s, buf + 7, (size_t)n - 7))
        return true;
    if (q->token && token_ok(s, q->token, strlen(q->token))) {
        *from_query = true;
        return true;
    }
    n = hdr(wsi, WSI_TOKEN_HTTP_COOKIE, buf, sizeof(buf));
    for (char *c = n > 0 ? buf : NULL; c && *c;) {
        while (*c == ' ' || *c == ';') c++;
        char *end = strchr(c, ';');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len > 9 && !strncmp(c, "tp_token=", 9) && token_ok(s, c + 9, len - 9)) return true;
        c = end;
    }
    return false;
}

/* ---- Responses ---- */

static void pss_reset(struct pss *p)
{
    tp_buf_fini(&p->body);
    p->data = NULL;
    p->len = p->off = 0;
    p->mode = M_IDLE;
}

enum { H_CACHE_NONE = 0, H_CACHE_REVALIDATE = 1, H_HTML = 2, H_COOKIE = 4, H_AUTH = 8 };

static int add_hdr(struct lws *wsi, const char *name, const char *val, unsigned char **p,
                   unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)val,
                                       (int)strlen(val), p, end);
}

/* Writes the status line and headers; the body follows from the writable callback. */
static int send_headers(struct tp_serve *s, struct lws *wsi, int status, const char *ctype,
                        size_t len, unsigned flags, const char *etag)
{
    unsigned char buf[LWS_PRE + HDR_BUF], *start = buf + LWS_PRE, *p = start,
                                          *end = buf + sizeof(buf) - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)status, ctype, (lws_filepos_t)len, &p, end) ||
        add_hdr(wsi, "cache-control:", flags & H_CACHE_REVALIDATE ? "no-cache" : "no-store", &p,
                end) ||
        add_hdr(wsi, "x-content-type-options:", "nosniff", &p, end) ||
        add_hdr(wsi, "referrer-policy:", "no-referrer", &p, end) ||
        add_hdr(wsi, "x-frame-options:", "DENY", &p, end))
        return -1;
    if (etag && add_hdr(wsi, "etag:", etag, &p, end)) return -1;
    if ((flags & H_HTML) &&
        add_hdr(wsi, "content-security-policy:",
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
                &p, end))
        return -1;
    if (flags & H_AUTH && add_hdr(wsi, "www-authenticate:", "Bearer realm=\"tickpipe\"", &p, end))
        return -1;
    if (flags & H_COOKIE) {
        char cookie[TOKEN_MAX + 64];
        snprintf(cookie, sizeof(cookie), "tp_token=%s; Path=/; HttpOnly; SameSite=Strict",
                 s->token);
        if (add_hdr(wsi, "set-cookie:", cookie, &p, end)) return -1;
    }
    return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

/* Starts a response whose body is pss->body (or `data` when not NULL, borrowed). Returns
 * what the HTTP callback should return. */
static int respond(struct tp_serve *s, struct lws *wsi, struct pss *pss, enum tp_route route,
                   int status, const char *ctype, const unsigned char *data, size_t len,
                   unsigned flags, const char *etag)
{
    tp_api_count(&s->stats, route, status);
    if (!data) {
        data = (const unsigned char *)pss->body.p;
        len = pss->body.len;
    }
    if (send_headers(s, wsi, status, ctype, len, flags, etag)) return -1;
    if (len == 0) {
        pss_reset(pss);
        if (pss->close_after) return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    pss->mode = M_BODY;
    pss->data = data;
    pss->len = len;
    pss->off = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

static int respond_error(struct tp_serve *s, struct lws *wsi, struct pss *pss, enum tp_route route,
                         int status, const char *msg, unsigned flags)
{
    tp_buf_fini(&pss->body);
    tp_buf_init(&pss->body, 4096);
    tp_api_error(&pss->body, msg);
    return respond(s, wsi, pss, route, status, "application/json", NULL, 0, flags, NULL);
}

static int write_body(struct tp_serve *s, struct lws *wsi, struct pss *pss)
{
    size_t n = TP_MIN(pss->len - pss->off, (size_t)CHUNK);
    bool last = pss->off + n == pss->len;
    memcpy(s->wbuf + LWS_PRE, pss->data + pss->off, n);
    if (lws_write(wsi, s->wbuf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    pss->off += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    pss_reset(pss);
    if (pss->close_after) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- Stream clients ---- */

static void update_wants(struct tp_serve *s)
{
    unsigned k = 0;
    for (uint32_t i = 0; i < s->nclients; i++) k |= tp_sub_kinds(&s->clients[i]->sub);
    s->wanted = k;
    unsigned live = 0;
    if (k & (1u << TP_SK_TICKS)) live |= TP_LIVE_TICK;
    if (k & (1u << TP_SK_FINAL_BARS)) live |= TP_LIVE_FINAL_BAR;
    if (k & (1u << TP_SK_ANOMALIES)) live |= TP_LIVE_ANOMALY;
    if (k & (1u << TP_SK_STATUS)) live |= TP_LIVE_STATUS;
    tp_live_feed_want(s->live, live);
}

static struct tp_sclient *client_new(struct tp_serve *s, struct lws *wsi, bool sse)
{
    if (s->nclients >= s->cfg.max_clients) return NULL;
    struct tp_sclient *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    if (tp_squeue_init(&c->q, s->cfg.client_queue, s->cfg.client_queue_bytes)) {
        free(c);
        return NULL;
    }
    c->sse = sse;
    c->conn = wsi;
    s->clients[s->nclients++] = c;
    if (sse)
        s->stats.stream_sse++;
    else
        s->stats.stream_ws++;
    return c;
}

static void client_free(struct tp_serve *s, struct tp_sclient *c)
{
    if (!c) return;
    for (uint32_t i = 0; i < s->nclients; i++)
        if (s->clients[i] == c) {
            s->clients[i] = s->clients[--s->nclients];
            break;
        }
    if (c->sse)
        s->stats.stream_sse--;
    else
        s->stats.stream_ws--;
    tp_squeue_fini(&c->q);
    free(c);
    update_wants(s);
}

static void lagged(struct tp_serve *s, struct tp_sclient *c)
{
    s->stats.stream_dropped_lagged++;
    /* A client that reads nothing never becomes writable: close it after a grace period
     * whatever happens. */
    lws_set_timeout(c->conn, PENDING_TIMEOUT_LAGGING, 3);
    lws_callback_on_writable(c->conn);
}

static void lag(struct tp_serve *s, struct tp_sclient *c)
{
    tp_sclient_lag(c);
    lagged(s, c);
}

/* Offers m to c and asks for a writable callback; counts a lag. */
static void offer(struct tp_serve *s, struct tp_sclient *c, struct tp_smsg *m)
{
    if (c->state != TP_SC_OPEN) return;
    if (tp_sclient_offer(c, m)) {
        lagged(s, c);
        return;
    }
    s->stats.stream_messages++;
    lws_callback_on_writable(c->conn);
}

/* Wraps a row as {"type": type, "data": row} into s->fmt and makes a message of it. */
static struct tp_smsg *make_msg(struct tp_serve *s, const char *type, const struct tp_live_msg *lm,
                                const struct tp_bar *bar, const struct tp_live_instr *sum)
{
    struct tp_jw w;
    tp_buf_reset(&s->fmt);
    tp_jw_init(&w, &s->fmt);
    tp_jw_obj(&w);
    tp_jw_key(&w, "type");
    tp_jw_str(&w, type);
    tp_jw_key(&w, "data");
    if (bar)
        tp_row_bar(&w, bar);
    else if (sum)
        tp_row_instrument(&w, sum);
    else if (lm->kind == TP_LIVE_TICK)
        tp_row_tick(&w, &lm->u.ev);
    else if (lm->kind == TP_LIVE_STATUS)
        tp_row_status(&w, &lm->u.ev);
    else if (lm->kind == TP_LIVE_FINAL_BAR)
        tp_row_bar(&w, &lm->u.bar);
    else
        tp_row_anomaly(&w, &lm->u.an);
    tp_jw_obj_end(&w);
    if (w.err) return NULL;
    return tp_smsg_new(s->fmt.p, s->fmt.len);
}

/* Sends one message to every client that matches (kind, instr, interval); formats lazily. */
static void fan_out(struct tp_serve *s, enum tp_sk k, uint32_t instr, int64_t iv, const char *type,
                    const struct tp_live_msg *lm, const struct tp_bar *bar,
                    const struct tp_live_instr *sum)
{
    struct tp_smsg *m = NULL;
    for (uint32_t i = 0; i < s->nclients; i++) {
        struct tp_sclient *c = s->clients[i];
        if (c->state != TP_SC_OPEN || !tp_sub_match(&c->sub, k, instr, iv)) continue;
        if (!m && !(m = make_msg(s, type, lm, bar, sum))) return;
        if (bar && !bar->final) {
            m->coalesce = true;
            m->instr = bar->instr;
            m->interval_ns = bar->interval_ns;
            m->ts = bar->ts;
        }
        offer(s, c, m);
    }
    tp_smsg_unref(m);
}

static void send_text(struct tp_serve *s, struct tp_sclient *c, const char *text, size_t n)
{
    struct tp_smsg *m = tp_smsg_new(text, n);
    if (!m) return;
    offer(s, c, m);
    tp_smsg_unref(m);
}

static void send_subscribed(struct tp_serve *s, struct tp_sclient *c)
{
    struct tp_jw w;
    tp_buf_reset(&s->fmt);
    tp_jw_init(&w, &s->fmt);
    tp_sub_describe(&w, &c->sub);
    if (!w.err) send_text(s, c, s->fmt.p, s->fmt.len);
    /* A new prices subscriber gets the current summaries at once, not only later changes. */
    if (!(tp_sub_kinds(&c->sub) & (1u << TP_SK_PRICES))) return;
    size_t n = tp_live_instruments(s->live, s->sums, TAKE_BATCH);
    for (size_t i = 0; i < n && c->state == TP_SC_OPEN; i++) {
        if (!tp_sub_match(&c->sub, TP_SK_PRICES, s->sums[i].instr, 0)) continue;
        struct tp_smsg *m = make_msg(s, "price", NULL, NULL, &s->sums[i]);
        if (!m) break;
        offer(s, c, m);
        tp_smsg_unref(m);
    }
}

static void send_error(struct tp_serve *s, struct tp_sclient *c, const char *msg)
{
    struct tp_jw w;
    tp_buf_reset(&s->fmt);
    tp_jw_init(&w, &s->fmt);
    tp_jw_obj(&w);
    tp_jw_key(&w, "type");
    tp_jw_str(&w, "error");
    tp_jw_key(&w, "error");
    tp_jw_str(&w, msg);
    tp_jw_obj_end(&w);
    if (!w.err) send_text(s, c, s->fmt.p, s->fmt.len);
}

static enum tp_sk sk_of(uint8_t kind)
{
    switch (kind) {
    case TP_LIVE_TICK:
        return TP_SK_TICKS;
    case TP_LIVE_FINAL_BAR:
        return TP_SK_FINAL_BARS;
    case TP_LIVE_ANOMALY:
        return TP_SK_ANOMALIES;
    default:
        return TP_SK_STATUS;
    }
}

/* Moves everything new in the live feed to the clients' queues. */
static void drain(struct tp_serve *s)
{
    tp_live_rearm(s->live);
    for (;;) {
        uint64_t missed;
        size_t n = tp_live_feed_read(s->live, &s->cursor, s->msgs, DRAIN_BATCH, &missed);
        if (missed) {
            /* The feed overran us: clients of feed kinds have a hole in their stream, which
             * is what lagging means; they are told and dropped like a slow client. */
            s->stats.feed_missed += missed;
            unsigned feedk = (1u << TP_SK_TICKS) | (1u << TP_SK_FINAL_BARS) |
                             (1u << TP_SK_ANOMALIES) | (1u << TP_SK_STATUS);
            for (uint32_t i = 0; i < s->nclients; i++) {
                struct tp_sclient *c = s->clients[i];
                if (c->state == TP_SC_OPEN && (tp_sub_kinds(&c->sub) & feedk)) lag(s, c);
            }
        }
        for (size_t i = 0; i < n; i++) {
            const struct tp_live_msg *lm = &s->msgs[i];
            enum tp_sk k = sk_of(lm->kind);
            uint32_t instr;
            int64_t iv = 0;
            const char *type;
            switch (lm->kind) {
            case TP_LIVE_TICK:
                instr = lm->u.ev.instr, type = "tick";
                break;
            case TP_LIVE_STATUS:
                instr = lm->u.ev.instr, type = "status";
                break;
            case TP_LIVE_FINAL_BAR:
                instr = lm->u.bar.instr, iv = lm->u.bar.interval_ns, type = "final_bar";
                break;
            default:
                instr = lm->u.an.instr, type = "anomaly";
                break;
            }
            fan_out(s, k, instr, iv, type, lm, NULL, NULL);
        }
        if (n < DRAIN_BATCH) break;
    }
}

static void send_health(struct tp_serve *s)
{
    bool any = false;
    for (uint32_t i = 0; i < s->nclients && !any; i++)
        any = s->clients[i]->state == TP_SC_OPEN &&
              (tp_sub_kinds(&s->clients[i]->sub) & (1u << TP_SK_STATUS));
    if (!any) return;
    struct tp_jw w;
    tp_buf_reset(&s->fmt);
    tp_jw_init(&w, &s->fmt);
    tp_jw_obj(&w);
    tp_jw_key(&w, "type");
    tp_jw_str(&w, "health");
    tp_jw_key(&w, "data");
    tp_api_health(&w, s->st, &s->stats);
    tp_jw_obj_end(&w);
    if (w.err) return;
    struct tp_smsg *m = tp_smsg_new(s->fmt.p, s->fmt.len);
    if (!m) return;
    for (uint32_t i = 0; i < s->nclients; i++) {
        struct tp_sclient *c = s->clients[i];
        if (tp_sub_kinds(&c->sub) & (1u << TP_SK_STATUS)) offer(s, c, m);
    }
    tp_smsg_unref(m);
}

static void reap_gone(struct tp_serve *s);

static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct tp_serve *s = lws_container_of(sul, struct tp_serve, sul);
    drain(s);
    reap_gone(s);
    if (s->wanted & (1u << TP_SK_BARS)) {
        size_t n;
        do {
            n = tp_live_take_open_bars(s->live, s->bars, TAKE_BATCH);
            for (size_t i = 0; i < n; i++)
                fan_out(s, TP_SK_BARS, s->bars[i].instr, s->bars[i].interval_ns, "bar", NULL,
                        &s->bars[i], NULL);
        } while (n == TAKE_BATCH);
    }
    if (s->wanted & (1u << TP_SK_PRICES)) {
        size_t n;
        do {
            n = tp_live_take_instruments(s->live, s->sums, TAKE_BATCH);
            for (size_t i = 0; i < n; i++)
                fan_out(s, TP_SK_PRICES, s->sums[i].instr, 0, "price", NULL, NULL, &s->sums[i]);
        } while (n == TAKE_BATCH);
    }
    int64_t now = tp_mono_ns();
    if (now - s->last_sec_ns >= TP_NS_PER_SEC) {
        tp_live_stats(s->live, s->st);
        uint64_t ev = s->st->c.events_in ? s->st->c.events_in : s->st->published;
        double dt = (double)(now - s->last_sec_ns) / 1e9;
        s->stats.events_per_s =
            s->last_sec_ns && ev >= s->last_events ? (double)(ev - s->last_events) / dt : 0;
        s->last_events = ev;
        s->last_sec_ns = now;
        /* The history queue in /metrics and the health panel, like the pipeline's queues. */
        if (s->hist)
            tp_live_set_queue(s->live, "http:history", tp_hist_queued(s->hist),
                              s->cfg.history_queue, s->hist_refused);
        send_health(s);
    }
    if (now - s->last_ping_ns >= SSE_PING_SEC * TP_NS_PER_SEC) {
        s->last_ping_ns = now;
        for (uint32_t i = 0; i < s->nclients; i++)
            if (s->clients[i]->sse) lws_callback_on_writable(s->clients[i]->conn);
    }
    lws_sul_schedule(s->ctx, 0, &s->sul, on_tick, s->cfg.display_ns / 1000);
}

/* Writes queued messages of an SSE client, batched as `data: <json>\n\n` events. */
static int write_sse(struct tp_serve *s, struct lws *wsi, struct pss *pss)
{
    struct tp_sclient *c = pss->client;
    if (c->state == TP_SC_CLOSING) return -1;
    unsigned char *out = s->wbuf + LWS_PRE;
    size_t n = 0;
    struct tp_smsg *m;
    while ((m = tp_squeue_peek(&c->q)) != NULL) {
        size_t need = 6 + m->len + 2;
        if (n && n + need > CHUNK) break;
        if (need > CHUNK) { /* larger than a chunk: send it alone, unbatched */
            if (lws_write(wsi, (unsigned char *)"data: ", 6, LWS_WRITE_HTTP) < 6 ||
                lws_write(wsi, m->data + TP_SMSG_PRE, m->len, LWS_WRITE_HTTP) < (int)m->len ||
                lws_write(wsi, (unsigned char *)"\n\n", 2, LWS_WRITE_HTTP) < 2)
                return -1;
        } else {
            memcpy(out + n, "data: ", 6);
            memcpy(out + n + 6, m->data + TP_SMSG_PRE, m->len);
            memcpy(out + n + 6 + m->len, "\n\n", 2);
            n += need;
        }
        tp_squeue_pop(&c->q);
        c->sent++;
    }
    if (n == 0 && c->state == TP_SC_OPEN) {
        memcpy(out, ": keep-alive\n\n", 14); /* a comment, ignored by EventSource */
        n = 14;
    }
    if (n && lws_write(wsi, out, n, LWS_WRITE_HTTP) < (int)n) return -1;
    if (c->state == TP_SC_LAGGED && !c->q.n) c->state = TP_SC_CLOSING;
    if (c->q.n || c->state == TP_SC_CLOSING) lws_callback_on_writable(wsi);
    return 0;
}

/* Appends the header of an unmasked, final text frame of n payload bytes (RFC 6455 §5.2). */
static size_t ws_header(unsigned char *p, size_t n)
{
    p[0] = 0x81; /* FIN, opcode text */
    if (n < 126) {
        p[1] = (unsigned char)n;
        return 2;
    }
    if (n < 65536) {
        p[1] = 126;
        p[2] = (unsigned char)(n >> 8);
        p[3] = (unsigned char)n;
        return 4;
    }
    p[1] = 127;
    for (int i = 0; i < 8; i++) p[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    return 10;
}

/* Writes queued messages as WebSocket frames, each its own text message (the protocol is
 * unchanged), but up to CHUNK bytes of them framed here and handed to the socket in one
 * write: a send per message (plus lws's poll to see whether the pipe choked) made the
 * per-message cost two syscalls, which capped a client near the tick rates the benchmark
 * drives (bench/latency.sh). The frames are written raw (LWS_WRITE_RAW); a partial send is
 * buffered by lws as for any write, so frames are never interleaved with lws's own control
 * frames. A message longer than a chunk goes out alone through lws_write. */
static int write_ws(struct tp_serve *s, struct lws *wsi, struct pss *pss)
{
    struct tp_sclient *c = pss->client;
    if (c->state == TP_SC_CLOSING) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)"lagged", 6);
        return -1;
    }
    unsigned char *out = s->wbuf + LWS_PRE;
    size_t n = 0;
    struct tp_smsg *m;
    while ((m = tp_squeue_peek(&c->q)) != NULL) {
        size_t need = 10 + (size_t)m->len;
        if (need > CHUNK) {
            if (n) break; /* send what is batched first */
            if (lws_write(wsi, m->data + TP_SMSG_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
                return -1;
        } else {
            if (n + need > CHUNK) break;
            n += ws_header(out + n, m->len);
            memcpy(out + n, m->data + TP_SMSG_PRE, m->len);
            n += m->len;
        }
        tp_squeue_pop(&c->q);
        c->sent++;
        if (c->state == TP_SC_LAGGED && !c->q.n) c->state = TP_SC_CLOSING;
        if (!n) break; /* an unbatched message: one per callback */
    }
    if (n && lws_write(wsi, out, n, LWS_WRITE_RAW) < (int)n) return -1;
    if (c->q.n || c->state == TP_SC_CLOSING) lws_callback_on_writable(wsi);
    return 0;
}

/* ---- HTTP requests ---- */

static bool wants_sse(struct lws *wsi, const struct query *q)
{
    if (q->sse) return strcmp(q->sse, "0") != 0;
    char acc[256];
    return hdr(wsi, WSI_TOKEN_HTTP_ACCEPT, acc, sizeof(acc)) > 0 &&
           strstr(acc, "text/event-stream") != NULL;
}

static int start_sse(struct tp_serve *s, struct lws *wsi, struct pss *pss, const struct query *q,
                     unsigned flags)
{
    static const char *const allowed[] = {"instruments", "kinds", "intervals"};
    for (size_t i = 0; i < q->n; i++) {
        bool ok = false;
        for (size_t k = 0; k < TP_ARRAY_LEN(allowed) && !ok; k++)
            ok = !strcmp(q->p[i].key, allowed[k]);
        if (!ok) {
            char err[96];
            snprintf(err, sizeof(err), "unknown parameter '%.40s'", q->p[i].key);
            return respond_error(s, wsi, pss, TP_ROUTE_STREAM, 400, err, 0);
        }
    }
    struct tp_sub sub;
    char err[160];
    memset(&sub, 0, sizeof(sub));
    if (tp_sub_query(&sub, qget(q, "instruments"), qget(q, "kinds"), qget(q, "intervals"), err,
                     sizeof(err)))
        return respond_error(s, wsi, pss, TP_ROUTE_STREAM, 400, err, 0);
    struct tp_sclient *c = client_new(s, wsi, true);
    if (!c) {
        s->stats.stream_refused++;
        return respond_error(s, wsi, pss, TP_ROUTE_STREAM, 503, "too many stream clients", 0);
    }
    c->sub = sub;
    tp_api_count(&s->stats, TP_ROUTE_STREAM, 200);
    if (send_headers(s, wsi, 200, "text/event-stream", LWS_ILLEGAL_HTTP_CONTENT_LEN, flags, NULL)) {
        client_free(s, c);
        return -1;
    }
    /* An event stream lives as long as the client: no transaction timeout (liveness comes
     * from the keep-alive comments; lws_http_mark_sse is for HTTP/2 streams only). */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    pss->mode = M_SSE;
    pss->client = c;
    update_wants(s);
    send_subscribed(s, c);
    lws_callback_on_writable(wsi);
    return 0;
}

static void wait_add(struct tp_serve *s, struct pss *p)
{
    p->wprev = NULL;
    p->wnext = s->waiting;
    if (s->waiting) s->waiting->wprev = p;
    s->waiting = p;
    p->waiting = true;
}

static void wait_del(struct tp_serve *s, struct pss *p)
{
    if (!p->waiting) return;
    if (p->wprev)
        p->wprev->wnext = p->wnext;
    else
        s->waiting = p->wnext;
    if (p->wnext) p->wnext->wprev = p->wprev;
    p->wprev = p->wnext = NULL;
    p->waiting = false;
}

/* Clients that closed while their lake read waits or runs: lws does not read a connection
 * whose request is being answered, so it would learn of the close only when the answer is
 * written. A peek at each waiting socket (a few at most: the queue is bounded) notices it
 * within a timer tick; the read is cancelled and the connection closed. */
static void reap_gone(struct tp_serve *s)
{
    for (struct pss *p = s->waiting, *nx; p; p = nx) {
        nx = p->wnext;
        int fd = lws_get_socket_fd(p->wsi);
        char c;
        ssize_t r = fd >= 0 ? recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) : 0;
        if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
            continue; /* still there (or already sending its next request) */
        wait_del(s, p);
        tp_hist_cancel(s->hist, p->job);
        p->job = NULL;
        p->mode = M_IDLE;
        lws_set_timeout(p->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    }
}

/* /api/bars: answered from the live store when it holds `limit` bars of the range or the
 * interval is not in the lake; else a lake read is queued and the connection waits. */
static int start_bars(struct tp_serve *s, struct lws *wsi, struct pss *pss, const struct query *q,
                      unsigned flags)
{
    const char *ctype = "application/json";
    tp_buf_init(&pss->body, TP_API_MAX_BODY);
    int status = tp_api_bars_parse(q->p, q->n, &pss->breq, &pss->body);
    if (!status) {
        bool lake = pss->breq.interval_ns >= s->lake_min_iv;
        status = tp_api_bars_answer(s->live, &pss->breq, NULL, 0, lake, &pss->body, &ctype);
    }
    if (status) return respond(s, wsi, pss, TP_ROUTE_BARS, status, ctype, NULL, 0, flags, NULL);
    struct tp_hist_job *j = tp_hist_job_new();
    if (!j) return respond_error(s, wsi, pss, TP_ROUTE_BARS, 503, "out of memory", flags);
    memcpy(j->instrument, pss->breq.instrument, sizeof j->instrument);
    j->interval_ns = pss->breq.interval_ns;
    j->from = pss->breq.from;
    j->to = pss->breq.to;
    j->limit = pss->breq.limit;
    j->owner = pss;
    if (tp_hist_submit(s->hist, j) < 0) {
        tp_hist_job_free(j);
        s->hist_refused++;
        return respond_error(s, wsi, pss, TP_ROUTE_BARS, 503,
                             "too many history requests at once; retry shortly", flags);
    }
    pss->job = j;
    pss->flags = flags;
    pss->wsi = wsi;
    pss->mode = M_WAIT;
    wait_add(s, pss);
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, HISTORY_SEC);
    return 0;
}

/* Finished lake reads: their connections become writable (finish_bars answers). */
static void collect(struct tp_serve *s)
{
    if (!s->hist) return;
    struct tp_hist_job *j;
    while ((j = tp_hist_done(s->hist)) != NULL) {
        struct pss *p = j->owner; /* a closed connection cancelled its job: never here */
        wait_del(s, p);
        p->mode = M_READY;
        lws_callback_on_writable(p->wsi);
    }
}

static int finish_bars(struct tp_serve *s, struct lws *wsi, struct pss *pss)
{
    struct tp_hist_job *j = pss->job;
    pss->job = NULL;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    const char *ctype = "application/json";
    int status;
    if (j->rc < 0) {
        /* Over a budget or out of memory: the server is busy (503); else the lake is bad. */
        status = j->rc == -E2BIG || j->rc == -ENOMEM ? 503 : 500;
        char msg[300];
        snprintf(msg, sizeof msg, "lake read failed: %s", j->err);
        tp_api_error(&pss->body, msg);
    } else {
        status = tp_api_bars_answer(s->live, &pss->breq, j->bars, j->n, false, &pss->body, &ctype);
    }
    tp_hist_job_free(j);
    return respond(s, wsi, pss, TP_ROUTE_BARS, status, ctype, NULL, 0, pss->flags, NULL);
}

static int on_http(struct tp_serve *s, struct lws *wsi, struct pss *pss, const char *path)
{
    struct query *q = malloc(sizeof(*q));
    int rc;
    if (!q) return -1;
    if (pss->job) { /* not expected: lws holds a new request until the last one is done */
        wait_del(s, pss);
        tp_hist_cancel(s->hist, pss->job);
        pss->job = NULL;
    }
    pss_reset(pss);
    pss->close_after = false;
    const struct tp_asset *asset = tp_asset_find(path);
    enum tp_route route = asset ? TP_ROUTE_ASSET : tp_api_route(path);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        pss->close_after = true; /* do not wait for a request body we will not read */
        rc = respond_error(s, wsi, pss, route, 405, "method not allowed: only GET", 0);
        goto out_free;
    }
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == '\\') {
            rc = respond_error(s, wsi, pss, route, 400, "bad path", 0);
            goto out_free;
        }
    char host[256];
    if (!host_ok(s, wsi, host, sizeof(host))) {
        rc = respond_error(s, wsi, pss, route, 403,
                           "Host must name this loopback server (127.0.0.1, localhost or [::1] "
                           "with its port)",
                           0);
        goto out_free;
    }
    parse_query(wsi, q, route == TP_ROUTE_STREAM);
    bool from_query = false;
    if (route != TP_ROUTE_HEALTHZ && !authorized(s, wsi, q, &from_query)) {
        rc = respond_error(s, wsi, pss, route, 401,
                           "missing or wrong token (Authorization: Bearer TOKEN, or ?token=)",
                           H_AUTH);
        goto out_free;
    }
    unsigned flags = from_query ? H_COOKIE : 0;
    if (q->too_many) {
        rc = respond_error(s, wsi, pss, route, 400, "too many parameters", flags);
        goto out_free;
    }
    if (route == TP_ROUTE_ASSET) {
        char inm[128];
        if (hdr(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH, inm, sizeof(inm)) > 0 &&
            !strcmp(inm, asset->etag)) {
            rc = respond(s, wsi, pss, route, 304, asset->ctype, (const unsigned char *)"", 0,
                         flags | H_CACHE_REVALIDATE, asset->etag);
            goto out_free;
        }
        bool html = strstr(asset->ctype, "text/html") != NULL;
        rc = respond(s, wsi, pss, route, 200, asset->ctype, asset->data, asset->len,
                     flags | H_CACHE_REVALIDATE | (html ? H_HTML : 0), asset->etag);
        goto out_free;
    }
    if (route == TP_ROUTE_STREAM) {
        if (wants_sse(wsi, q))
            rc = start_sse(s, wsi, pss, q, flags);
        else
            rc = respond_error(s, wsi, pss, route, 400,
                               "use a WebSocket upgrade, or Server-Sent Events (Accept: "
                               "text/event-stream or ?sse=1)",
                               flags);
        goto out_free;
    }
    if (route == TP_ROUTE_OTHER) {
        rc = respond_error(s, wsi, pss, route, 404, "not found", flags);
        goto out_free;
    }
    if (route == TP_ROUTE_BARS && s->hist) {
        rc = start_bars(s, wsi, pss, q, flags);
        goto out_free;
    }
    const char *ctype;
    tp_buf_init(&pss->body, TP_API_MAX_BODY);
    int status = tp_api_get(s->live, &s->stats, route, q->p, q->n, &pss->body, &ctype);
    rc = respond(s, wsi, pss, route, status, ctype, NULL, 0, flags, NULL);
out_free:
    free(q);
    return rc;
}

/* Sends a complete small JSON error response from a callback that may not wait for
 * writability (an upgrade being refused), then the caller returns 1. */
static int refuse_upgrade(struct tp_serve *s, struct lws *wsi, int status, const char *msg)
{
    struct tp_buf b;
    tp_buf_init(&b, 4096);
    tp_api_error(&b, msg);
    tp_api_count(&s->stats, TP_ROUTE_STREAM, status);
    unsigned char buf[LWS_PRE + HDR_BUF + 512], *start = buf + LWS_PRE, *p = start,
                                                *end = buf + sizeof(buf) - 1;
    int rc = -1;
    if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", b.len, &p, end) ||
        add_hdr(wsi, "cache-control:", "no-store", &p, end) ||
        add_hdr(wsi, "connection:", "close", &p, end) || lws_finalize_http_header(wsi, &p, end) ||
        (size_t)(end - p) < b.len)
        goto out_fini;
    memcpy(p, b.p, b.len);
    p += b.len;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < 0) goto out_fini;
    rc = 1;
out_fini:
    tp_buf_fini(&b);
    return rc;
}

static int confirm_upgrade(struct tp_serve *s, struct lws *wsi)
{
    char path[256], host[256], origin[300];
    int n = hdr(wsi, WSI_TOKEN_GET_URI, path, sizeof(path));
    if (n <= 0 || tp_api_route(path) != TP_ROUTE_STREAM)
        return refuse_upgrade(s, wsi, 404, "WebSocket is served on /api/stream only");
    if (!host_ok(s, wsi, host, sizeof(host)))
        return refuse_upgrade(s, wsi, 403, "Host must name this loopback server");
    /* Browsers always send Origin on a WebSocket; it must be this server itself. */
    n = hdr(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin));
    if (n < 0) return refuse_upgrade(s, wsi, 403, "foreign Origin");
    if (n > 0 && (strncasecmp(origin, "http://", 7) || strcasecmp(origin + 7, host)))
        return refuse_upgrade(s, wsi, 403, "foreign Origin");
    struct query *q = malloc(sizeof(*q));
    if (!q) return -1;
    parse_query(wsi, q, true);
    bool from_query = false;
    int rc = 0;
    if (!authorized(s, wsi, q, &from_query))
        rc = refuse_upgrade(s, wsi, 401, "missing or wrong token");
    else if (s->nclients >= s->cfg.max_clients) {
        s->stats.stream_refused++;
        rc = refuse_upgrade(s, wsi, 503, "too many stream clients");
    }
    free(q);
    return rc;
}

static int ws_established(struct tp_serve *s, struct lws *wsi, struct pss *pss)
{
    struct query *q = malloc(sizeof(*q));
    if (!q) return -1;
    parse_query(wsi, q, true);
    struct tp_sclient *c = client_new(s, wsi, false);
    if (!c) {
        free(q);
        s->stats.stream_refused++;
        return -1;
    }
    tp_api_count(&s->stats, TP_ROUTE_STREAM, 101);
    pss->mode = M_WS;
    pss->client = c;
    char err[160];
    if (tp_sub_query(&c->sub, qget(q, "instruments"), qget(q, "kinds"), qget(q, "intervals"), err,
                     sizeof(err))) {
        memset(&c->sub, 0, sizeof(c->sub));
        send_error(s, c, err);
    }
    free(q);
    update_wants(s);
    send_subscribed(s, c);
    return 0;
}

static void ws_receive(struct tp_serve *s, struct lws *wsi, struct pss *pss, const void *in,
                       size_t len)
{
    struct tp_sclient *c = pss->client;
    if (!c) return;
    if (!pss->rx && !(pss->rx = malloc(TP_SUB_MAX_MSG))) return;
    if (pss->rx_overflow || pss->rxlen + len > TP_SUB_MAX_MSG)
        pss->rx_overflow = true;
    else {
        memcpy(pss->rx + pss->rxlen, in, len);
        pss->rxlen += len;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return;
    char err[160];
    enum tp_sub_op op;
    if (pss->rx_overflow) {
        send_error(s, c, "message too long (at most 4096 bytes)");
    } else if (tp_sub_message(&c->sub, pss->rx, pss->rxlen, &op, err, sizeof(err))) {
        send_error(s, c, err);
    } else if (op == TP_SUB_OP_PING) {
        char pong[96];
        char ts[TP_TIME_STRLEN];
        tp_time_format(tp_now_ns(), ts);
        int n = snprintf(pong, sizeof(pong), "{\"type\":\"pong\",\"ts\":\"%s\"}", ts);
        send_text(s, c, pong, (size_t)n);
    } else {
        update_wants(s);
        send_subscribed(s, c);
    }
    pss->rxlen = 0;
    pss->rx_overflow = false;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct tp_serve *s = ctx ? lws_context_user(ctx) : NULL;
    struct pss *pss = user;
    if (!s) return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
        lws_sul_schedule(s->ctx ? s->ctx : ctx, 0, &s->sul, on_tick, s->cfg.display_ns / 1000);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        drain(s);
        collect(s);
        return 0;
    case LWS_CALLBACK_HTTP:
        /* lws URL-decodes the path: a %00 would cut it short, so a path whose C string is
         * shorter than its length had a NUL in it and is refused (as a control character). */
        if (in && strlen(in) != len) return on_http(s, wsi, pss, "/\x01");
        return on_http(s, wsi, pss, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_BODY:
        return 0; /* ignored: only GET is served */
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!pss) return 0;
        if (pss->mode == M_BODY) return write_body(s, wsi, pss);
        if (pss->mode == M_READY && pss->job) return finish_bars(s, wsi, pss);
        if (pss->mode == M_SSE && pss->client) return write_sse(s, wsi, pss);
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_CLOSED:
        if (pss) {
            wait_del(s, pss);
            if (pss->job) tp_hist_cancel(s->hist, pss->job);
            pss->job = NULL;
            if (pss->client) client_free(s, pss->client);
            pss->client = NULL;
            pss_reset(pss);
            free(pss->rx);
            pss->rx = NULL;
        }
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (!in || strcmp(in, "websocket")) return refuse_upgrade(s, wsi, 400, "bad upgrade");
        return confirm_upgrade(s, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return ws_established(s, wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        ws_receive(s, wsi, pss, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (pss && pss->client) return write_ws(s, wsi, pss);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(struct pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const lws_retry_bo_t idle_policy = {
    .secs_since_valid_ping = 30,   /* a WebSocket quiet this long gets a PING */
    .secs_since_valid_hangup = 70, /* and is closed if it stays silent */
};

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    /* lws reports what clients do wrong (oversized headers, bad frames) as errors: they are
     * warnings for tickpipe, which keeps serving. */
    (void)level;
    tp_warn("http: %.*s", (int)n, line);
}

static void *run(void *arg)
{
    struct tp_serve *s = arg;
    while (!atomic_load_explicit(&s->stop, memory_order_acquire))
        if (lws_service(s->ctx, 0) < 0) break;
    return NULL;
}

static void notify(void *arg)
{
    struct tp_serve *s = arg;
    lws_cancel_service(s->ctx);
}

/* A history worker finished a read (history.h): the loop collects it. */
static void wake_hist(void *arg)
{
    struct tp_serve *s = arg;
    lws_cancel_service(s->ctx);
}

/* Binds a throwaway socket to learn the exact reason a listen would fail (lws only says that
 * it failed). The port is free again before lws binds it. */
static int probe_bind(const char *host, int port, bool v6)
{
    if (port == 0) return 0;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1, rc = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (v6) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        inet_pton(AF_INET6, host, &a.sin6_addr);
        if (bind(fd, (struct sockaddr *)&a, sizeof(a))) rc = -errno;
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, host, &a.sin_addr);
        if (bind(fd, (struct sockaddr *)&a, sizeof(a))) rc = -errno;
    }
    if (!rc && listen(fd, 1)) rc = -errno;
    close(fd);
    return rc;
}

int tp_serve_start(struct tp_live *live, const struct tp_serve_cfg *cfg, struct tp_serve **ret,
                   char *err, size_t errcap)
{
    struct tp_serve_cfg c;
    if (cfg)
        c = *cfg;
    else
        tp_serve_cfg_default(&c);
    if (!c.http) c.http = "127.0.0.1:8080";
    char host[64];
    int port;
    bool loopback;
    if (tp_serve_parse_addr(c.http, host, sizeof(host), &port, &loopback)) {
        snprintf(err, errcap,
                 "bad --http address '%s': expected ADDR:PORT with a numeric IPv4 address, "
                 "[IPv6] or localhost (e.g. 127.0.0.1:8080)",
                 c.http);
        return -EINVAL;
    }
    size_t tlen = c.token ? strlen(c.token) : 0;
    if (!loopback && tlen == 0) {
        snprintf(err, errcap,
                 "refusing to serve on %s without a token: a non-loopback address needs "
                 "TICKPIPE_TOKEN (clients then send Authorization: Bearer TOKEN)",
                 c.http);
        return -EPERM;
    }
    if (tlen > TOKEN_MAX) {
        snprintf(err, errcap, "TICKPIPE_TOKEN is longer than %d characters", TOKEN_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < tlen; i++)
        if (!token_char(c.token[i])) {
            snprintf(err, errcap,
                     "TICKPIPE_TOKEN may only hold A-Z a-z 0-9 and . _ ~ + / = - (it is sent in "
                     "headers and a cookie)");
            return -EINVAL;
        }
    if (c.max_clients < 1 || c.max_clients > 4096 || c.client_queue < 1 || c.client_queue > 65536 ||
        c.client_queue_bytes < 1024 || c.client_queue_bytes > (256u << 20) ||
        c.display_ns < TP_NS_PER_MS || c.display_ns > 10 * TP_NS_PER_SEC) {
        snprintf(err, errcap, "stream settings out of range");
        return -EINVAL;
    }
    const char *bindhost = strcmp(host, "localhost") ? host : "127.0.0.1";
    bool v6 = strchr(bindhost, ':') != NULL;
    int rc = probe_bind(bindhost, port, v6);
    if (rc) {
        snprintf(err, errcap, "cannot listen on %s: %s", c.http, strerror(-rc));
        return rc;
    }

    struct tp_serve *s = calloc(1, sizeof(*s));
    if (!s) goto out_nomem;
    s->live = live;
    s->cfg = c;
    s->cfg.http = NULL; /* borrowed for the call only */
    s->cfg.token = NULL;
    memcpy(s->token, c.token ? c.token : "", tlen + 1);
    s->token_len = tlen;
    memcpy(s->host, bindhost, strlen(bindhost) + 1);
    s->loopback = loopback;
    s->stats.started_ns = tp_now_ns();
    atomic_init(&s->stop, false);
    tp_buf_init(&s->fmt, 1u << 20);
    s->clients = calloc(c.max_clients, sizeof(*s->clients));
    s->wbuf = malloc(LWS_PRE + CHUNK);
    s->msgs = malloc(DRAIN_BATCH * sizeof(*s->msgs));
    s->bars = malloc(TAKE_BATCH * sizeof(*s->bars));
    s->sums = malloc(TAKE_BATCH * sizeof(*s->sums));
    s->st = calloc(1, sizeof(*s->st));
    if (!s->clients || !s->wbuf || !s->msgs || !s->bars || !s->sums || !s->st) goto out_free;
    s->cursor = tp_live_feed_head(live);

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = port;
    info.iface = s->host;
    info.protocols = protocols;
    info.user = s;
    info.vhost_name = "default";
    info.server_string = "tickpipe";
    info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   (v6 ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6);
    info.max_http_header_data = 4096; /* bounded request line and headers */
    info.max_http_header_pool = 64;   /* requests being parsed at once */
    info.timeout_secs = 10;
    info.timeout_secs_ah_idle = 10;
    info.keepalive_timeout = 5;
    info.retry_and_idle_policy = &idle_policy;
    info.gid = -1;
    info.uid = -1;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        snprintf(err, errcap, "cannot listen on %s (libwebsockets could not start)", c.http);
        rc = -EADDRNOTAVAIL;
        goto out_free;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(s->ctx, "default");
    s->port = vh ? lws_get_vhost_listen_port(vh) : port;
    if (s->port <= 0) s->port = port;
    if (c.lake) {
        struct tp_hist_cfg hc;
        tp_hist_cfg_default(&hc, c.lake);
        hc.threads = c.history_threads;
        hc.queue = c.history_queue;
        hc.delay_ns = c.history_delay_ns;
        rc = tp_hist_new(&hc, wake_hist, s, &s->hist);
        if (rc < 0) {
            snprintf(err, errcap, "cannot start the history readers: %s", strerror(-rc));
            lws_context_destroy(s->ctx);
            goto out_free;
        }
    }
    s->lake_min_iv = c.lake_min_interval_ns;
    s->cfg.lake = NULL; /* borrowed for the call only (the pool copied it) */
    tp_live_set_notify(live, notify, s);
    if (pthread_create(&s->thread, NULL, run, s)) {
        tp_live_set_notify(live, NULL, NULL);
        snprintf(err, errcap, "cannot start the HTTP thread");
        tp_hist_stop(s->hist);
        lws_context_destroy(s->ctx);
        tp_hist_free(s->hist);
        rc = -EAGAIN;
        goto out_free;
    }
    *ret = s;
    return 0;
out_free:
    tp_buf_fini(&s->fmt);
    free(s->clients);
    free(s->wbuf);
    free(s->msgs);
    free(s->bars);
    free(s->sums);
    free(s->st);
    free(s);
    if (rc) return rc;
out_nomem:
    snprintf(err, errcap, "out of memory");
    return -ENOMEM;
}

int tp_serve_port(const struct tp_serve *s)
{
    return s->port;
}

void tp_serve_stop(struct tp_serve *s)
{
    if (!s) return;
    tp_live_set_notify(s->live, NULL, NULL); /* no publisher touches the context after this */
    atomic_store_explicit(&s->stop, true, memory_order_release);
    lws_cancel_service(s->ctx);
    pthread_join(s->thread, NULL);
    tp_hist_stop(s->hist);       /* no worker wakes the context after this */
    lws_context_destroy(s->ctx); /* closes every connection: CLOSED callbacks free clients
                                    and cancel their history jobs */
    tp_hist_free(s->hist);
    tp_live_feed_want(s->live, 0);
    tp_buf_fini(&s->fmt);
    free(s->clients);
    free(s->wbuf);
    free(s->msgs);
    free(s->bars);
    free(s->sums);
    free(s->st);
    free(s);
}
