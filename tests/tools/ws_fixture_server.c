/*
 * ws_fixture_server.c — a loopback WebSocket server (libwebsockets) that plays recorded venue
 * frames to `tickpipe run --source VENUE:... --endpoint VENUE=ws://127.0.0.1:PORT/...` and
 * misbehaves on cue, for tests/integration/venue_live.sh.
 *
 *   ws_fixture_server --file FRAMES --plan PLAN --log LOG --port-file F
 *                     [--ack-file ACKS] [--reply MSG=REPLY]... [--extra FILE] [--rate N]
 *                     [--cert PEM --key PEM]
 *
 * FRAMES holds one text frame per line; one cursor runs over it for the whole session, so a
 * reconnecting client continues where the last connection stopped. PLAN gives each accepted
 * connection, in order, a comma-separated list of actions; connections are separated by ';',
 * and connections past the plan get "wait,rest":
 *
 *   wait        wait for the client's first text message (its subscription)
 *   send:N      send the next N frames, at --rate frames per second (default 500)
 *   rest        send every remaining frame
 *   skip:N      skip N frames (lost in an outage: never sent to anyone)
 *   sleep:MS    pause
 *   ping        send a protocol ping (the client's pong is logged)
 *   extra:K     send line K (1-based) of --extra (notices, malformed frames)
 *   drop        end the connection abruptly: shutdown(SHUT_WR), no closing handshake
 *   close       close with code 1001 (going away)
 *   silent      stop reading and writing: no data, no pong (a stalled server)
 *   refuse      (alone) refuse the handshake
 *
 * After its last action a connection stays open and answers messages. Every text message
 * received is answered with its --reply (MSG is a shell pattern: * and ?), else with the next
 * --ack-file line (cycling), else not at all. LOG gets one line per event, flushed at once: conn N
 * open | conn N recv TEXT | conn N sent K (frame index, 1-based) | conn N skip A..B | conn N pong |
 * conn N drop | conn N close | conn N silent | conn N refused | conn N closed | conn N plan done |
 * all plans done
 *
 * Test tool only: plain C over libwebsockets, one thread.
 */
#include <libwebsockets.h>
#include <fnmatch.h>
#include <signal.h>
#include <sys/socket.h>

#include "core/tp.h"

#define MAX_LINES   100000
#define MAX_PLANS   32
#define MAX_ACTIONS 32
#define MAX_REPLIES 16
#define FRAME_MAX   (1 << 20)

enum act {
    A_WAIT,
    A_SEND,
    A_REST,
    A_SKIP,
    A_SLEEP,
    A_PING,
    A_EXTRA,
    A_DROP,
    A_CLOSE,
    A_SILENT,
    A_REFUSE
};

struct action {
    enum act a;
    long n;
};

struct plan {
    struct action act[MAX_ACTIONS];
    int n;
};

struct lines {
    char **l;
    size_t n;
};

static struct lines frames, acks, extra;
static struct plan plans[MAX_PLANS];
static int nplans;
static const char *reply_msg[MAX_REPLIES], *reply_txt[MAX_REPLIES];
static int nreplies;
static size_t cursor; /* next frame to send */
static size_t ack_next;
static long rate = 500;
static int conns;
static int plans_done;
static FILE *logfp;
static volatile sig_atomic_t stop;

struct pss {
    int id;
    const struct plan *p;
    struct plan own; /* for connections past the plan */
    int ai;          /* current action */
    long left;       /* frames left in a send */
    bool got_msg;
    bool pending_write; /* the current action writes in WRITEABLE */
    bool sleeping;
    bool finished; /* drop / silent / done: no more actions */
    char *rx;
    size_t rxlen;
    /* replies waiting to be written */
    const char *outq[64];
    int outn;
};

static void logline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logline(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(logfp, fmt, ap);
    va_end(ap);
    fputc('\n', logfp);
    fflush(logfp);
}

static int load(const char *path, struct lines *out)
{
    FILE *f = fopen(path, "r");
    if (!f) return -errno;
    out->l = calloc(MAX_LINES, sizeof *out->l);
    char *buf = malloc(FRAME_MAX);
    if (!out->l || !buf) return -ENOMEM;
    while (out->n < MAX_LINES && fgets(buf, FRAME_MAX, f)) {
        size_t n = strlen(buf);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
        if (!n) continue;
        out->l[out->n] = malloc(n + 1);
        if (!out->l[out->n]) return -ENOMEM;
        memcpy(out->l[out->n], buf, n + 1);
        out->n++;
    }
    free(buf);
    fclose(f);
    return 0;
}

static int parse_plan(const char *s)
{
    char *copy = strdup(s), *save1 = NULL;
    if (!copy) return -ENOMEM;
    for (char *c = strtok_r(copy, ";", &save1); c && nplans < MAX_PLANS;
         c = strtok_r(NULL, ";", &save1)) {
        struct plan *p = &plans[nplans++];
        char *save2 = NULL;
        for (char *a = strtok_r(c, ",", &save2); a && p->n < MAX_ACTIONS;
             a = strtok_r(NULL, ",", &save2)) {
            struct action *x = &p->act[p->n++];
            char *colon = strchr(a, ':');
            x->n = colon ? strtol(colon + 1, NULL, 10) : 0;
            if (colon) *colon = 0;
            static const char *const names[] = {"wait",  "send", "rest",  "skip",   "sleep", "ping",
                                                "extra", "drop", "close", "silent", "refuse"};
            int k = -1;
            for (int i = 0; i < (int)TP_ARRAY_LEN(names); i++)
                if (!strcmp(a, names[i])) k = i;
            if (k < 0) {
                fprintf(stderr, "ws_fixture_server: unknown action '%s'\n", a);
                free(copy);
                return -EINVAL;
            }
            x->a = (enum act)k;
        }
    }
    free(copy);
    return 0;
}

static int write_text(struct lws *wsi, const char *s)
{
    size_t n = strlen(s);
    unsigned char *b = malloc(LWS_PRE + n);
    if (!b) return -1;
    memcpy(b + LWS_PRE, s, n);
    int w = lws_write(wsi, b + LWS_PRE, n, LWS_WRITE_TEXT);
    free(b);
    return w < (int)n ? -1 : 0;
}

static void advance(struct lws *wsi, struct pss *c);

/* The connection's plan is over (its last action ran, or it dropped, closed, went silent). */
static void finish(struct pss *c)
{
    c->finished = true;
    logline("conn %d plan done", c->id);
    if (c->id <= nplans && ++plans_done == nplans) logline("all plans done");
}

static void next_action(struct lws *wsi, struct pss *c)
{
    c->ai++;
    c->pending_write = false;
    c->left = 0;
    advance(wsi, c);
}

/* Runs the current action as far as it goes without writing; sets pending_write when it
 * needs the writable callback. */
static void advance(struct lws *wsi, struct pss *c)
{
    if (c->finished || c->sleeping || c->pending_write) return;
    if (c->ai >= c->p->n) {
        finish(c);
        return;
    }
    const struct action *a = &c->p->act[c->ai];
    switch (a->a) {
    case A_WAIT:
        if (c->got_msg) next_action(wsi, c);
        return;
    case A_SEND:
    case A_REST:
        c->left = a->a == A_REST ? (long)(frames.n - TP_MIN(cursor, frames.n)) : a->n;
        if (c->left <= 0 || cursor >= frames.n) {
            next_action(wsi, c);
            return;
        }
        c->pending_write = true;
        lws_callback_on_writable(wsi);
        return;
    case A_SKIP: {
        size_t from = cursor + 1, to = TP_MIN(cursor + (size_t)a->n, frames.n);
        if (to >= from) logline("conn %d skip %zu..%zu", c->id, from, to);
        cursor = to;
        next_action(wsi, c);
        return;
    }
    case A_SLEEP:
        c->sleeping = true;
        lws_set_timer_usecs(wsi, (lws_usec_t)a->n * 1000);
        return;
    case A_PING:
    case A_EXTRA:
    case A_CLOSE:
        c->pending_write = true;
        lws_callback_on_writable(wsi);
        return;
    case A_DROP:
        logline("conn %d drop", c->id);
        shutdown(lws_get_socket_fd(wsi), SHUT_WR);
        finish(c);
        return;
    case A_SILENT:
        logline("conn %d silent", c->id);
        lws_rx_flow_control(wsi, 0);
        finish(c);
        return;
    case A_REFUSE: /* handled at the handshake */
        next_action(wsi, c);
        return;
    }
}

static void queue_reply(struct lws *wsi, struct pss *c, const char *msg)
{
    const char *r = NULL;
    for (int i = 0; i < nreplies && !r; i++)
        if (!fnmatch(reply_msg[i], msg, FNM_NOESCAPE)) r = reply_txt[i];
    if (!r && acks.n) r = acks.l[ack_next++ % acks.n];
    if (!r || c->outn == (int)TP_ARRAY_LEN(c->outq)) return;
    c->outq[c->outn++] = r;
    lws_callback_on_writable(wsi);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct pss *c = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        int id = conns + 1;
        if (id <= nplans && plans[id - 1].n == 1 && plans[id - 1].act[0].a == A_REFUSE) {
            conns++;
            logline("conn %d refused", id);
            if (++plans_done == nplans) logline("all plans done");
            return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        memset(c, 0, sizeof *c);
        c->id = ++conns;
        if (c->id <= nplans) {
            c->p = &plans[c->id - 1];
        } else {
            c->own.act[0] = (struct action){A_WAIT, 0};
            c->own.act[1] = (struct action){A_REST, 0};
            c->own.n = 2;
            c->p = &c->own;
        }
        logline("conn %d open", c->id);
        advance(wsi, c);
        break;
    case LWS_CALLBACK_RECEIVE: {
        char *p = realloc(c->rx, c->rxlen + len + 1);
        if (!p) return -1;
        c->rx = p;
        memcpy(c->rx + c->rxlen, in, len);
        c->rxlen += len;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) break;
        c->rx[c->rxlen] = 0;
        for (size_t i = 0; i < c->rxlen; i++)
            if (c->rx[i] == '\n' || c->rx[i] == '\r') c->rx[i] = ' ';
        logline("conn %d recv %s", c->id, c->rx);
        c->got_msg = true;
        queue_reply(wsi, c, c->rx);
        c->rxlen = 0;
        advance(wsi, c);
        break;
    }
    case LWS_CALLBACK_RECEIVE_PONG:
        logline("conn %d pong", c->id);
        break;
    case LWS_CALLBACK_TIMER:
        if (c->sleeping) {
            c->sleeping = false;
            next_action(wsi, c);
        } else if (c->pending_write) {
            lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (c->outn) {
            int r = write_text(wsi, c->outq[0]);
            memmove(c->outq, c->outq + 1, (size_t)(--c->outn) * sizeof c->outq[0]);
            if (r) return -1;
            lws_callback_on_writable(wsi);
            break;
        }
        if (!c->pending_write || c->finished) break;
        const struct action *a = &c->p->act[c->ai];
        if (a->a == A_SEND || a->a == A_REST) {
            if (cursor >= frames.n || c->left <= 0) {
                next_action(wsi, c);
                break;
            }
            if (write_text(wsi, frames.l[cursor])) return -1;
            cursor++;
            logline("conn %d sent %zu", c->id, cursor);
            if (--c->left <= 0 || cursor >= frames.n) {
                next_action(wsi, c);
            } else if (rate > 0) {
                lws_set_timer_usecs(wsi, 1000000 / rate);
            } else {
                lws_callback_on_writable(wsi);
            }
        } else if (a->a == A_PING) {
            unsigned char b[LWS_PRE + 4];
            memcpy(b + LWS_PRE, "tp", 2);
            if (lws_write(wsi, b + LWS_PRE, 2, LWS_WRITE_PING) < 2) return -1;
            logline("conn %d ping", c->id);
            next_action(wsi, c);
        } else if (a->a == A_EXTRA) {
            if (a->n >= 1 && (size_t)a->n <= extra.n) {
                if (write_text(wsi, extra.l[a->n - 1])) return -1;
                logline("conn %d extra %ld", c->id, a->n);
            }
            next_action(wsi, c);
        } else if (a->a == A_CLOSE) {
            logline("conn %d close", c->id);
            lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"bye", 3);
            finish(c);
            return -1;
        }
        break;
    }
    case LWS_CALLBACK_CLOSED:
        logline("conn %d closed", c->id);
        free(c->rx);
        c->rx = NULL;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"fixture", callback, sizeof(struct pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: ws_fixture_server --file FRAMES --plan PLAN --log LOG --port-file F "
                    "[--ack-file F] [--reply MSG=REPLY]... [--extra F] [--rate N] "
                    "[--cert PEM --key PEM]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *file = NULL, *plan = NULL, *logpath = NULL, *portfile = NULL, *ackfile = NULL,
               *extrafile = NULL, *cert = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        i++;
        if (!strcmp(a, "--file"))
            file = v;
        else if (!strcmp(a, "--plan"))
            plan = v;
        else if (!strcmp(a, "--log"))
            logpath = v;
        else if (!strcmp(a, "--port-file"))
            portfile = v;
        else if (!strcmp(a, "--ack-file"))
            ackfile = v;
        else if (!strcmp(a, "--extra"))
            extrafile = v;
        else if (!strcmp(a, "--rate"))
            rate = strtol(v, NULL, 10);
        else if (!strcmp(a, "--cert"))
            cert = v;
        else if (!strcmp(a, "--key"))
            key = v;
        else if (!strcmp(a, "--reply") && nreplies < MAX_REPLIES && strchr(v, '=')) {
            char *d = strdup(v);
            char *eq = strchr(d, '=');
            *eq = 0;
            reply_msg[nreplies] = d;
            reply_txt[nreplies++] = eq + 1;
        } else
            usage();
    }
    if (!file || !plan || !logpath || !portfile) usage();
    if (load(file, &frames) < 0 || (ackfile && load(ackfile, &acks) < 0) ||
        (extrafile && load(extrafile, &extra) < 0)) {
        fprintf(stderr, "ws_fixture_server: cannot read the frame files\n");
        return 1;
    }
    if (parse_plan(plan) < 0) return 2;
    logfp = fopen(logpath, "w");
    if (!logfp) return 1;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = 0;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.vhost_name = "default";
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cert && key) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cert;
        info.ssl_private_key_filepath = key;
    }
    info.gid = -1;
    info.uid = -1;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "ws_fixture_server: cannot start\n");
        return 1;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
    int port = vh ? lws_get_vhost_listen_port(vh) : -1;
    FILE *pf = fopen(portfile, "w");
    if (!pf || port <= 0) return 1;
    fprintf(pf, "%d\n", port);
    fclose(pf);
    while (!stop)
        if (lws_service(ctx, 0) < 0) break;
    lws_context_destroy(ctx);
    fclose(logfp);
    return 0;
}
