/*
 * rest.c — the REST poller source (see rest.h): one thread per `--source VENUE:...` with one
 * libcurl multi handle, one easy handle per request (a symbol, or every symbol of a batch
 * venue), re-added to the multi handle for each poll so connections are reused.
 *
 * Schedule (all on the monotonic clock, judged every TICK at most):
 *   - a request is due `interval` after its last successful poll (per venue, configurable);
 *   - two requests of the source start at least `spacing` apart (a venue's per-minute limit);
 *   - nothing starts before `not_before`, the source-wide pause set by a rate limit: HTTP
 *     429 with Retry-After (seconds or an HTTP date, capped by retry_after_max), else a
 *     capped backoff with jitter (core/backoff.h, `rl`), which also serves rate-limit bodies
 *     sent with HTTP 200 (Alpha Vantage's Note / Information). A rate limit is logged once,
 *     with the venue's text, until a request succeeds again;
 *   - transient failures (timeout, connection refused or reset, HTTP 5xx) retry the request
 *     after its own backoff (`bo`); the other requests keep their schedule;
 *   - errors about a symbol (HTTP 4xx, Alpha Vantage "Error Message" or an empty quote,
 *     Yahoo chart.error, a symbol missing from a batch body) mark its instruments failing with
 *     the venue's text (logged when it changes, shown by tp_rest_status), and the request is
 *     polled again after max(interval, its backoff); the other symbols are not affected.
 *
 * Events: the parser's (rest.h), filtered to the source's instruments and deduplicated
 * against the last event of the same kind per instrument, so an unchanged value is never
 * emitted twice: vendor bars by start time (a bar is emitted once, when closed); venue-stamped
 * snapshots and quotes by (ts, values), older ts dropped; receive-stamped ones (Alpha Vantage
 * GLOBAL_QUOTE) by values. The journal's tail seeds the last events (resume), so a restart does
 * not repeat them either. A full ring drops and records a gap (source.h).
 *
 * Failover groups (tp_rest_failover, docs/venues.md): sources linked into a priority-ordered
 * group poll only while they are the group's active member; a member is judged after each poll
 * (p->verdict: data, a failure, or an error about one symbol that says nothing of the source),
 * unhealthy members probe with one request every `probe`, and switches are journaled as
 * `failover` status records by each member's own thread (see "failover groups" below).
 *
 * The source writes no connection status records: a poll every few minutes is not a
 * connection, and `connected` would make the engine's stale detector fire between polls.
 * Its state is in tp_source.link (subscribed while some request's last poll gave data,
 * disconnected otherwise), tp_rest_stats and tp_rest_status.
 *
 * Threads: new/resume on the main thread; run and everything it calls on the source's thread;
 * stats and status from any thread (atomics; the status text under a mutex).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <stdarg.h>
#include <strings.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/instrument.h"
#include "core/log.h"
#include "core/tptime.h"
#include "source/connstats.h"
#include "source/rest_int.h"

#define TICK_NS     (100 * TP_NS_PER_MS)
#define URL_MAX     2048
#define EV_START    512
#define PUT_WAIT_NS (50 * TP_NS_PER_MS)
#define ERR_MAX     320

struct inst {
    uint32_t id;
    char native[TP_VSYM_MAX + 1];
    char name[TP_INSTR_NAMELEN + 1];
    size_t req;
    bool have_snap, have_quote, have_bar, got;
    struct tp_event snap, quote;
    int64_t last_bar;
    bool failing;
    char err[ERR_MAX];
    _Atomic uint64_t c_errors; /* failed polls (connstats.h) */
    _Atomic bool c_failing;
};

struct req {
    size_t first, n; /* instruments [first, first + n) */
    char url[URL_MAX];
    char shown[URL_MAX]; /* the URL with the key hidden */
    char label[96];      /* the symbols, for log lines */
    CURL *easy;
    bool busy;
    int64_t due, started;
    struct tp_backoff bo;
    uint32_t fails; /* consecutive transient failures */
    struct tp_buf body;
    bool too_big;
    char retry_after[64];
    bool ok_last, done_once;
    char err[ERR_MAX]; /* last error logged (to log each change once) */
    char curl_err[CURL_ERROR_SIZE];
};

struct group;

struct poller {
    struct tp_source base;
    const struct tp_rest_venue *v;
    char vname[16];
    char opt[16];
    struct inst *in;
    size_t n;
    struct req *rq;
    size_t nrq;
    int64_t interval, spacing, timeout, bo_min, bo_max, ra_max;
    char base_url[URL_MAX];
    char key[256];
    char key_hdr[320];
    struct curl_slist *hdrs;

    /* (src) */
    CURLM *multi;
    struct tp_rest_parser *parser;
    struct tp_event *ev, *out;
    size_t evcap;
    int64_t not_before, last_start;
    struct tp_backoff rl;
    bool limited;

    /* Failover group (NULL: none). grp->mu guards the g* fields but gkick. */
    struct group *grp;
    size_t gi;         /* priority: 0 = the first */
    uint32_t gfails;   /* consecutive failed polls */
    bool gdown;        /* unhealthy: failed `after` polls in a row, not answered since */
    bool gprobing;     /* a probe request is in flight */
    int64_t gprobe_at; /* (mono) when a down member probes next */
    bool gnote;        /* a switch to journal for this member's instruments */
    bool gwas_active;  /* the role its status line shows */
    char gnote_id[TP_TRADE_ID_MAX + 1];
    _Atomic bool gkick;                       /* became the polling member: poll now */
    enum { V_FAIL, V_OK, V_NEUTRAL } verdict; /* (src) the last poll's outcome, for the group */
    char last_why[ERR_MAX];                   /* (src) the last failure's reason */

    _Atomic uint64_t c_requests, c_ok, c_events, c_unchanged, c_transport, c_timeouts, c_http,
        c_429, c_notes, c_venue_errors, c_bad;
    _Atomic uint32_t c_failing;
    _Atomic bool c_up;
    /* (connstats.h) */
    _Atomic uint64_t c_http5, c_http_other;
    _Atomic int c_state;                 /* enum tp_rest_state */
    _Atomic int64_t c_last_ok, c_resume; /* real clock; monotonic */
    pthread_mutex_t mu;
    char status[512];
};

static const struct tp_source_ops poller_ops;

#define INC(p, c) atomic_fetch_add_explicit(&(p)->c, 1, memory_order_relaxed)

static int fail(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static const char *dur(int64_t ns, char *buf, size_t cap)
{
    if (ns < TP_NS_PER_SEC)
        snprintf(buf, cap, "%lld ms", (long long)(ns / TP_NS_PER_MS));
    else if (ns < 100 * TP_NS_PER_SEC)
        snprintf(buf, cap, "%.1f s", (double)ns / 1e9);
    else
        snprintf(buf, cap, "%lld s", (long long)(ns / TP_NS_PER_SEC));
    return buf;
}

/* ---- status -------------------------------------------------------------------------- */

static bool group_state(struct poller *p, char *out, size_t cap);

static void update_status(struct poller *p)
{
    bool up = false;
    uint32_t failing = 0;
    for (size_t i = 0; i < p->nrq; i++) up |= p->rq[i].ok_last;
    bool polled = false;
    int64_t resume = p->not_before;
    for (size_t i = 0; i < p->n; i++) {
        failing += p->in[i].failing;
        atomic_store_explicit(&p->in[i].c_failing, p->in[i].failing, memory_order_relaxed);
    }
    for (size_t i = 0; i < p->nrq; i++) {
        polled |= p->rq[i].done_once;
        if (!p->rq[i].ok_last && p->rq[i].done_once && p->rq[i].due > resume)
            resume = p->rq[i].due; /* a failed request's backoff */
    }
    enum tp_rest_state rs = p->limited ? TP_RS_RATE_LIMITED
                            : !polled  ? TP_RS_WAITING
                            : !up      ? TP_RS_FAILING
                            : failing  ? TP_RS_DEGRADED
                                       : TP_RS_OK;
    atomic_store_explicit(&p->c_state, rs, memory_order_relaxed);
    atomic_store_explicit(&p->c_resume, resume, memory_order_relaxed);
    atomic_store_explicit(&p->c_up, up, memory_order_relaxed);
    atomic_store_explicit(&p->c_failing, failing, memory_order_relaxed);
    atomic_store_explicit(&p->base.link, up ? TP_ST_SUBSCRIBED : TP_ST_DISCONNECTED,
                          memory_order_relaxed);
    char s[sizeof p->status];
    size_t o = 0;
    if (!failing && !p->limited) {
        o = (size_t)snprintf(s, sizeof s, "%s", up ? "ok" : "waiting for the first poll");
    } else {
        if (p->limited) o = (size_t)snprintf(s, sizeof s, "rate limited");
        for (size_t i = 0; i < p->n && o < sizeof s; i++) {
            if (!p->in[i].failing) continue;
            o += (size_t)snprintf(s + o, sizeof s - o, "%s%s: %s", o ? "; " : "", p->in[i].name,
                                  p->in[i].err);
        }
    }
    char g[200];
    if (group_state(p, g, sizeof g)) { /* "failover ...; " before the rest, cut to fit */
        size_t gl = strlen(g);
        memmove(s + gl + 2, s, sizeof s - gl - 2);
        memcpy(s, g, gl);
        memcpy(s + gl, "; ", 2);
        s[sizeof s - 1] = 0;
    }
    pthread_mutex_lock(&p->mu);
    memcpy(p->status, s, sizeof s);
    pthread_mutex_unlock(&p->mu);
}

void tp_rest_status(const struct tp_source *src, char *out, size_t cap)
{
    if (!src || src->ops != &poller_ops) {
        snprintf(out, cap, "not a REST source");
        return;
    }
    struct poller *p = (struct poller *)src;
    pthread_mutex_lock(&p->mu);
    snprintf(out, cap, "%s", p->status);
    pthread_mutex_unlock(&p->mu);
}

bool tp_rest_stats(const struct tp_source *src, struct tp_rest_stats *ret)
{
    if (!src || src->ops != &poller_ops) return false;
    struct poller *p = (struct poller *)src;
#define L(c) atomic_load_explicit(&p->c, memory_order_relaxed)
    *ret = (struct tp_rest_stats){
        .requests = L(c_requests),
        .ok = L(c_ok),
        .events = L(c_events),
        .unchanged = L(c_unchanged),
        .transport = L(c_transport),
        .timeouts = L(c_timeouts),
        .http_errors = L(c_http),
        .rate_limited = L(c_429),
        .notes = L(c_notes),
        .venue_errors = L(c_venue_errors),
        .bad = L(c_bad),
        .failing = L(c_failing),
        .up = L(c_up),
        .http_5xx = L(c_http5),
        .http_other = L(c_http_other),
        .state = (uint8_t)L(c_state),
        .last_ok_real = L(c_last_ok),
        .resume_mono = L(c_resume),
        .n = (uint32_t)p->n,
    };
    for (size_t i = 0; i < p->n; i++) {
        ret->sym_instr[i] = p->in[i].id;
        ret->sym_errors[i] = L(in[i].c_errors);
        ret->sym_failing[i] = L(in[i].c_failing);
    }
#undef L
    return true;
}

/* ---- failover groups ------------------------------------------------------------------ */

/* A priority-ordered group of REST sources polling the same instruments: only the active
 * member polls. The active member becomes unhealthy after `after` failed polls in a row
 * (transport errors, timeouts, HTTP errors, 429, rate-limit notes, unusable bodies; not an
 * error about one symbol) and the first healthy member in priority order takes over. An
 * unhealthy member that is not active sends one request every `probe`; when it answers with
 * data it is healthy again and takes back over if it has a higher priority than the active
 * member (or the active member is unhealthy). With every member unhealthy the active one
 * keeps polling on its backoff. Each switch is logged and journaled as a `failover` status
 * record (id "FROM->TO") for the instruments of both members, written by each member's own
 * thread (gnote). Members are threads of their own: the state is under mu. */
struct group {
    pthread_mutex_t mu;
    size_t n, active;
    struct poller *m[TP_REST_GROUP_MAX];
    uint32_t after;
    int64_t probe;
    char label[160];
    _Atomic int refs;
};

/* Makes member k the active one (mu held). */
static void group_switch(struct group *g, size_t k, const char *why)
{
    struct poller *from = g->m[g->active], *to = g->m[k];
    g->active = k;
    char id[TP_TRADE_ID_MAX + 1];
    snprintf(id, sizeof id, "%s->%s", from->vname, to->vname);
    for (int i = 0; i < 2; i++) {
        struct poller *m = i ? to : from;
        m->gnote = true;
        memcpy(m->gnote_id, id, sizeof id);
    }
    atomic_store_explicit(&to->gkick, true, memory_order_relaxed);
    if (to->gi < from->gi)
        tp_info("failover %s: %s takes back over from %s (%s)", g->label, to->vname, from->vname,
                why);
    else
        tp_warn("failover %s: %s takes over from %s (%s)", g->label, to->vname, from->vname, why);
}

/* Judges the poll that just finished (p->verdict). */
static void group_outcome(struct poller *p, int64_t now)
{
    struct group *g = p->grp;
    if (!g) return;
    pthread_mutex_lock(&g->mu);
    bool probe = p->gprobing;
    p->gprobing = false;
    for (size_t k = 0; k < g->n; k++)
        if (!g->m[k]) { /* a member is being freed: the run is over */
            pthread_mutex_unlock(&g->mu);
            return;
        }
    if (p->verdict == V_OK) {
        p->gfails = 0;
        if (p->gdown) {
            p->gdown = false;
            tp_info("failover %s: %s answers again%s", g->label, p->vname, probe ? " (probe)" : "");
        }
        struct poller *a = g->m[g->active];
        if (g->active != p->gi && (p->gi < g->active || a->gdown)) {
            char why[64];
            snprintf(why, sizeof why, "%s answers again", p->vname);
            group_switch(g, p->gi, why);
            /* its other requests are overdue already; this one just polled */
            atomic_store_explicit(&p->gkick, false, memory_order_relaxed);
        }
    } else if (p->verdict == V_FAIL) {
        p->gfails++;
        if (p->gdown) {
            p->gprobe_at = now + g->probe;
        } else if (p->gfails >= g->after) {
            p->gdown = true;
            p->gprobe_at = now + g->probe;
            char ds[32];
            tp_warn("failover %s: %s is unhealthy after %u failed polls in a row (last: %s); "
                    "probed again every %s",
                    g->label, p->vname, p->gfails, p->last_why, dur(g->probe, ds, sizeof ds));
            if (g->active == p->gi) {
                size_t k = 0;
                while (k < g->n && (k == p->gi || g->m[k]->gdown)) k++;
                char why[ERR_MAX + 64];
                snprintf(why, sizeof why, "%s: %u failed polls in a row, the last: %.240s",
                         p->vname, p->gfails, p->last_why);
                if (k < g->n)
                    group_switch(g, k, why);
                else
                    tp_warn("failover %s: every source is unhealthy; %s keeps polling", g->label,
                            p->vname);
            }
        }
    }
    pthread_mutex_unlock(&g->mu);
}

/* p's place in its group for its status line; false when p is in none. */
static bool group_state(struct poller *p, char *out, size_t cap)
{
    struct group *g = p->grp;
    if (!g) return false;
    pthread_mutex_lock(&g->mu);
    const struct poller *a = g->m[g->active];
    int n = g->active == p->gi ? snprintf(out, cap, "failover %s: polling", g->label)
                               : snprintf(out, cap, "failover %s: standby, %s polls", g->label,
                                          a ? a->vname : "?");
    if (n > 0 && (size_t)n + 13 < cap && p->gdown) memcpy(out + n, " (unhealthy)", 13);
    pthread_mutex_unlock(&g->mu);
    return true;
}

enum role { ROLE_POLL, ROLE_PROBE, ROLE_IDLE };

/* What p does now; journals a pending switch for its instruments and, when p has just become
 * the active member, makes its requests due at once. */
static enum role group_tick(struct poller *p, int64_t now)
{
    struct group *g = p->grp;
    if (!g) return ROLE_POLL;
    pthread_mutex_lock(&g->mu);
    enum role role = g->active == p->gi                                ? ROLE_POLL
                     : p->gdown && !p->gprobing && now >= p->gprobe_at ? ROLE_PROBE
                                                                       : ROLE_IDLE;
    bool note = p->gnote;
    char id[TP_TRADE_ID_MAX + 1];
    memcpy(id, p->gnote_id, sizeof id);
    p->gnote = false;
    if (role == ROLE_PROBE) p->gprobing = true;
    bool changed = (g->active == p->gi) != p->gwas_active;
    p->gwas_active = g->active == p->gi;
    pthread_mutex_unlock(&g->mu);
    if (changed) update_status(p);
    if (atomic_exchange_explicit(&p->gkick, false, memory_order_relaxed))
        for (size_t i = 0; i < p->nrq; i++)
            if (!p->rq[i].busy && p->rq[i].due > now) p->rq[i].due = now;
    if (note) {
        int64_t t = tp_now_ns();
        for (size_t i = 0; i < p->n; i++) {
            struct tp_event e;
            tp_event_init(&e, TP_KIND_STATUS);
            e.status = TP_ST_FAILOVER;
            e.ts = e.ts_recv = t;
            e.instr = p->in[i].id;
            tp_event_set_vsym(&e, p->in[i].native, strlen(p->in[i].native));
            tp_event_set_id_str(&e, id, strlen(id));
            tp_source_put(&p->base, &e, 1, PUT_WAIT_NS);
        }
    }
    return role;
}

static void group_unref(struct group *g)
{
    if (!g || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1) return;
    pthread_mutex_destroy(&g->mu);
    free(g);
}

int tp_rest_failover(struct tp_source *const *src, size_t n, uint32_t after, int64_t probe_ns,
                     char *err, size_t errcap)
{
    if (n < 2 || n > TP_REST_GROUP_MAX) {
        snprintf(err, errcap, "a failover group has 2 to %d sources", TP_REST_GROUP_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!src[i] || src[i]->ops != &poller_ops) {
            snprintf(err, errcap, "'%s' is not a REST poller", src[i] ? src[i]->spec : "?");
            return -EINVAL;
        }
        const struct poller *p = (const struct poller *)src[i];
        if (p->grp) {
            snprintf(err, errcap, "'%s' is in another failover group already", src[i]->spec);
            return -EINVAL;
        }
        for (size_t k = 0; k < i; k++)
            if (src[k] == src[i]) {
                snprintf(err, errcap, "'%s' is named twice", src[i]->spec);
                return -EINVAL;
            }
    }
    struct group *g = calloc(1, sizeof *g);
    if (!g) return -ENOMEM;
    pthread_mutex_init(&g->mu, NULL);
    g->n = n;
    g->after = after ? after : 3;
    g->probe = probe_ns > 0 ? probe_ns : 300 * TP_NS_PER_SEC;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        struct poller *p = (struct poller *)src[i];
        g->m[i] = p;
        p->grp = g;
        p->gi = i;
        p->gwas_active = i == 0;
        if (o < sizeof g->label)
            o +=
                (size_t)snprintf(g->label + o, sizeof g->label - o, "%s%s", i ? "," : "", p->vname);
    }
    atomic_store_explicit(&g->refs, (int)n, memory_order_relaxed);
    tp_info("failover %s: %s polls; the next takes over after %u failed polls in a row", g->label,
            g->m[0]->vname, g->after);
    return 0;
}

/* ---- outcomes ------------------------------------------------------------------------ */

static void mark_failing(struct poller *p, struct req *r, const char *why)
{
    for (size_t i = r->first; i < r->first + r->n; i++) {
        p->in[i].failing = true;
        INC(p, in[i].c_errors);
        snprintf(p->in[i].err, sizeof p->in[i].err, "%s", why);
    }
}

/* A transient failure: retry after the request's backoff. */
static void transient(struct poller *p, struct req *r, int64_t now, const char *why)
{
    int64_t d = tp_backoff_next(&r->bo);
    snprintf(p->last_why, sizeof p->last_why, "%s", why);
    r->due = now + d;
    r->fails++;
    r->ok_last = false;
    mark_failing(p, r, why);
    char ds[32];
    dur(d, ds, sizeof ds);
    if (r->fails <= 3 || r->fails % 10 == 0)
        tp_warn("%s: %s: %s; retrying in %s (attempt %u)", p->vname, r->label, why, ds, r->fails);
}

/* An error about the request's symbols: logged when it changes, polled again later. */
static void symbol_error(struct poller *p, struct req *r, int64_t now, const char *why)
{
    int64_t d = tp_backoff_next(&r->bo);
    snprintf(p->last_why, sizeof p->last_why, "%s", why);
    if (d < p->interval) d = p->interval;
    r->due = now + d;
    r->ok_last = false;
    mark_failing(p, r, why);
    if (strcmp(r->err, why)) {
        snprintf(r->err, sizeof r->err, "%s", why);
        char ds[32];
        tp_error("%s: %s: %s (polled again in %s; the other symbols are not affected)", p->vname,
                 r->label, why, dur(d, ds, sizeof ds));
    }
}

/* The venue asks us to slow down: every request waits until now + delay. */
static void pause_all(struct poller *p, int64_t now, int64_t delay, const char *why)
{
    snprintf(p->last_why, sizeof p->last_why, "rate limited: %s", why);
    if (now + delay > p->not_before) p->not_before = now + delay;
    char ds[32];
    dur(delay, ds, sizeof ds);
    if (!p->limited)
        tp_warn("%s: rate limited: %s; pausing every request for %s (not logged again until a "
                "request succeeds)",
                p->vname, why, ds);
    else
        tp_debug("%s: still rate limited (%s): pausing %s", p->vname, why, ds);
    p->limited = true;
}

static bool same_values(const struct tp_event *a, const struct tp_event *b)
{
    const double x[] = {a->price, a->bid, a->ask, a->open, a->high, a->low, a->change};
    const double y[] = {b->price, b->bid, b->ask, b->open, b->high, b->low, b->change};
    for (size_t i = 0; i < TP_ARRAY_LEN(x); i++) {
        if (isnan(x[i]) != isnan(y[i])) return false;
        if (!isnan(x[i]) && x[i] != y[i]) return false;
    }
    return true;
}

/* True when e repeats what was last emitted for in (and records it otherwise). */
static bool unchanged(struct inst *in, const struct tp_event *e)
{
    if (e->kind == TP_KIND_VBAR) {
        if (in->have_bar && e->ts <= in->last_bar) return true;
        in->have_bar = true;
        in->last_bar = e->ts;
        return false;
    }
    bool *have = e->kind == TP_KIND_QUOTE ? &in->have_quote : &in->have_snap;
    struct tp_event *last = e->kind == TP_KIND_QUOTE ? &in->quote : &in->snap;
    if (*have) {
        bool venue = (e->flags & TP_EV_TS_VENUE) && (last->flags & TP_EV_TS_VENUE);
        if (venue && e->ts < last->ts) return true;
        if (same_values(e, last) && (!venue || e->ts == last->ts)) return true;
    }
    *have = true;
    *last = *e;
    return false;
}

static struct inst *find_inst(struct poller *p, uint32_t id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->in[i].id == id) return &p->in[i];
    return NULL;
}

static void data(struct poller *p, struct req *r, int64_t now, int nev)
{
    p->verdict = V_OK;
    for (size_t i = r->first; i < r->first + r->n; i++) p->in[i].got = false;
    size_t k = 0;
    for (int i = 0; i < nev; i++) {
        struct tp_event *e = &p->ev[i];
        struct inst *in = find_inst(p, e->instr);
        if (!in || in->req != (size_t)(r - p->rq)) continue; /* not asked for here */
        in->got = true;
        if (unchanged(in, e)) {
            INC(p, c_unchanged);
            continue;
        }
        if (p->v->quote_only) e->flags |= TP_EV_QUOTE_ONLY;
        p->out[k++] = *e;
    }
    if (k) {
        size_t put = tp_source_put(&p->base, p->out, k, PUT_WAIT_NS);
        atomic_fetch_add_explicit(&p->c_events, put, memory_order_relaxed);
    }
    if (p->limited) {
        tp_info("%s: requests succeed again after the rate limit", p->vname);
        p->limited = false;
        tp_backoff_reset(&p->rl);
    }
    tp_backoff_reset(&r->bo);
    r->fails = 0;
    r->due = now + p->interval;
    r->ok_last = true;
    r->err[0] = 0;
    for (size_t i = r->first; i < r->first + r->n; i++) {
        struct inst *in = &p->in[i];
        if (in->got) {
            if (in->failing) tp_info("%s: %s: data again", p->vname, in->name);
            in->failing = false;
            continue;
        }
        char why[ERR_MAX];
        snprintf(why, sizeof why, "no data for '%s' in the response (unknown symbol?)", in->native);
        if (!in->failing || strcmp(in->err, why))
            tp_error("%s: %s: %s; the other symbols are not affected", p->vname, in->name, why);
        in->failing = true;
        INC(in, c_errors);
        snprintf(in->err, sizeof in->err, "%s", why);
    }
}

/* Parses the body into p->ev, growing the array when a body has more events. */
static int parse_body(struct poller *p, struct req *r, int64_t recv, struct tp_rest_result *res)
{
    for (;;) {
        int n = tp_rest_parse(p->parser, r->body.p ? r->body.p : "", r->body.len, recv, p->ev,
                              p->evcap, res);
        if (n != -E2BIG || p->evcap >= TP_REST_EVENT_MAX) return n;
        size_t nc = p->evcap * 2;
        struct tp_event *e = realloc(p->ev, nc * sizeof *e);
        struct tp_event *o = e ? realloc(p->out, nc * sizeof *o) : NULL;
        if (e) p->ev = e;
        if (!o) return -ENOMEM;
        p->out = o;
        p->evcap = nc;
    }
}

static void finish(struct poller *p, struct req *r, CURLcode code)
{
    int64_t now = tp_mono_ns(), recv = tp_now_ns();
    r->busy = false;
    r->done_once = true;
    p->verdict = V_FAIL; /* unless data, or an error about the symbol, says otherwise */
    curl_multi_remove_handle(p->multi, r->easy);
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    char why[ERR_MAX];
    if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && r->too_big)) {
        char ds[32];
        if (code == CURLE_OPERATION_TIMEDOUT) {
            INC(p, c_timeouts);
            snprintf(why, sizeof why, "no complete response within %s (timeout)",
                     dur(p->timeout, ds, sizeof ds));
        } else {
            INC(p, c_transport);
            snprintf(why, sizeof why, "%s%s%s", curl_easy_strerror(code),
                     r->curl_err[0] ? ": " : "", r->curl_err);
        }
        transient(p, r, now, why);
        goto out;
    }
    if (r->too_big) {
        INC(p, c_bad);
        snprintf(why, sizeof why, "the response is larger than %u bytes", TP_REST_BODY_MAX);
        symbol_error(p, r, now, why);
        goto out;
    }
    if (status == 429) {
        INC(p, c_429);
        int64_t d;
        if (r->retry_after[0] &&
            tp_rest_retry_after(r->retry_after, strlen(r->retry_after), recv, &d) == 0) {
            if (d > p->ra_max) d = p->ra_max;
            char ds[32];
            snprintf(why, sizeof why, "HTTP 429 with Retry-After: %s (honoured: %s)",
                     r->retry_after, dur(d, ds, sizeof ds));
        } else {
            d = tp_backoff_next(&p->rl);
            snprintf(why, sizeof why, "HTTP 429 without a usable Retry-After");
        }
        r->ok_last = false;
        pause_all(p, now, d, why);
        r->due = p->not_before;
        goto out;
    }
    if (status >= 500 || status < 200) {
        INC(p, c_http);
        if (status >= 500)
            INC(p, c_http5);
        else
            INC(p, c_http_other);
        snprintf(why, sizeof why, "HTTP %ld", status);
        transient(p, r, now, why);
        goto out;
    }
    struct tp_rest_result res;
    int n = parse_body(p, r, recv, &res);
    if (status >= 400) {
        if (res.kind == TP_REST_ERROR) p->verdict = V_NEUTRAL; /* about the symbol */
        INC(p, c_http);
        snprintf(why, sizeof why, "HTTP %ld%s%s", status,
                 res.kind == TP_REST_ERROR || res.kind == TP_REST_RATE_LIMIT ? ": " : "",
                 res.kind == TP_REST_ERROR || res.kind == TP_REST_RATE_LIMIT ? res.text : "");
        symbol_error(p, r, now, why);
        goto out;
    }
    if (n >= 0) {
        INC(p, c_ok);
        atomic_store_explicit(&p->c_last_ok, recv, memory_order_relaxed);
        data(p, r, now, n);
        goto out;
    }
    r->ok_last = false;
    switch (res.kind) {
    case TP_REST_RATE_LIMIT: {
        INC(p, c_notes);
        int64_t d = tp_backoff_next(&p->rl);
        pause_all(p, now, d, res.text);
        r->due = p->not_before;
        break;
    }
    case TP_REST_ERROR:
        p->verdict = V_NEUTRAL;
        INC(p, c_venue_errors);
        symbol_error(p, r, now, res.text);
        break;
    default:
        INC(p, c_bad);
        snprintf(why, sizeof why, "unusable response: %.240s", res.text);
        symbol_error(p, r, now, why);
        break;
    }
out:
    group_outcome(p, now);
    update_status(p);
}

/* ---- curl ---------------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct req *r = ud;
    size_t n = size * nmemb;
    if (tp_buf_append(&r->body, ptr, n) < 0) {
        r->too_big = true;
        return 0;
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct req *r = ud;
    size_t n = size * nmemb;
    static const char k[] = "retry-after:";
    if (n > sizeof k - 1 && !strncasecmp(ptr, k, sizeof k - 1)) {
        const char *v = ptr + sizeof k - 1;
        size_t vl = n - (sizeof k - 1);
        while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
        if (vl >= sizeof r->retry_after) vl = sizeof r->retry_after - 1;
        memcpy(r->retry_after, v, vl);
        r->retry_after[vl] = 0;
    }
    return n;
}

static int setup_easy(struct poller *p, struct req *r)
{
    r->easy = curl_easy_init();
    if (!r->easy) return -ENOMEM;
    CURL *c = r->easy;
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(p->timeout / TP_NS_PER_MS));
    int64_t ct = p->timeout < 10 * TP_NS_PER_SEC ? p->timeout : 10 * TP_NS_PER_SEC;
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(ct / TP_NS_PER_MS));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "Mozilla/5.0 (compatible; tickpipe)");
    curl_easy_setopt(c, CURLOPT_PRIVATE, r);
    if (p->hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->hdrs);
    return 0;
}

static void start(struct poller *p, struct req *r, int64_t now)
{
    tp_buf_reset(&r->body);
    r->too_big = false;
    r->retry_after[0] = 0;
    r->curl_err[0] = 0;
    if (curl_multi_add_handle(p->multi, r->easy) != CURLM_OK) {
        transient(p, r, now, "libcurl refused the request");
        return;
    }
    r->busy = true;
    r->started = now;
    p->last_start = now;
    INC(p, c_requests);
    tp_debug("%s: GET %s", p->vname, r->shown);
}

/* Starts the due requests the spacing and any pause allow; returns the next time to look. */
static int64_t start_due(struct poller *p, int64_t now)
{
    int64_t next = now + TICK_NS;
    enum role role = group_tick(p, now);
    if (role == ROLE_IDLE) return next;              /* a standby member of a failover group */
    if (role == ROLE_PROBE && now < p->not_before) { /* its own rate-limit pause first */
        pthread_mutex_lock(&p->grp->mu);
        p->gprobing = false;
        p->gprobe_at = p->not_before;
        pthread_mutex_unlock(&p->grp->mu);
        return TP_MIN(next, p->not_before);
    }
    if (role == ROLE_PROBE) { /* one request, whatever its schedule */
        struct req *best = NULL;
        for (size_t i = 0; i < p->nrq; i++)
            if (!p->rq[i].busy && (!best || p->rq[i].due < best->due)) best = &p->rq[i];
        if (best) start(p, best, now);
        if (!best || !best->busy) { /* nothing to send: probe later */
            pthread_mutex_lock(&p->grp->mu);
            p->gprobing = false;
            p->gprobe_at = now + p->grp->probe;
            pthread_mutex_unlock(&p->grp->mu);
        }
        return next;
    }
    for (;;) {
        if (now < p->not_before) return TP_MIN(next, p->not_before);
        int64_t gap_end = p->last_start + p->spacing;
        struct req *best = NULL;
        for (size_t i = 0; i < p->nrq; i++) {
            struct req *r = &p->rq[i];
            if (r->busy) continue;
            if (!best || r->due < best->due) best = r;
        }
        if (!best) return next;
        int64_t at = TP_MAX(best->due, p->last_start ? gap_end : best->due);
        if (at > now) return TP_MIN(next, at);
        start(p, best, now);
        if (!best->busy) continue; /* refused: rescheduled */
    }
}

static int poller_run(struct tp_source *src)
{
    struct poller *p = (struct poller *)src;
    p->multi = curl_multi_init();
    if (!p->multi) return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < p->nrq; i++) {
        if ((rc = setup_easy(p, &p->rq[i])) < 0) goto out;
        p->rq[i].due = tp_mono_ns();
    }
    update_status(p);
    while (!tp_source_stopping(src)) {
        int64_t now = tp_mono_ns();
        int64_t next = start_due(p, now);
        int running = 0;
        curl_multi_perform(p->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(p->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            char *priv = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            if (priv) finish(p, (struct req *)(void *)priv, m->data.result);
        }
        now = tp_mono_ns();
        int64_t wait = next - now;
        if (wait > TICK_NS) wait = TICK_NS;
        if (wait < 1 * TP_NS_PER_MS) wait = 1 * TP_NS_PER_MS;
        curl_multi_poll(p->multi, NULL, 0, (int)(wait / TP_NS_PER_MS), NULL);
    }
out:
    for (size_t i = 0; i < p->nrq; i++) {
        struct req *r = &p->rq[i];
        if (!r->easy) continue;
        if (r->busy) curl_multi_remove_handle(p->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        r->busy = false;
    }
    curl_multi_cleanup(p->multi);
    p->multi = NULL;
    struct tp_rest_stats s;
    tp_rest_stats(src, &s);
    tp_info("%s: %llu requests, %llu with data, %llu events, %llu unchanged, %llu timeouts, %llu "
            "transport errors, %llu HTTP errors, %llu HTTP 429, %llu rate-limit notes, %llu venue "
            "errors, %llu unusable",
            p->vname, (unsigned long long)s.requests, (unsigned long long)s.ok,
            (unsigned long long)s.events, (unsigned long long)s.unchanged,
            (unsigned long long)s.timeouts, (unsigned long long)s.transport,
            (unsigned long long)s.http_errors, (unsigned long long)s.rate_limited,
            (unsigned long long)s.notes, (unsigned long long)s.venue_errors,
            (unsigned long long)s.bad);
    char st[sizeof p->status];
    tp_rest_status(src, st, sizeof st);
    tp_info("%s: status at stop: %s", p->vname, st);
    return rc;
}

/* ---- resume -------------------------------------------------------------------------- */

static void poller_resume(struct tp_source *src, const struct tp_event *e)
{
    struct poller *p = (struct poller *)src;
    struct inst *in = find_inst(p, e->instr);
    if (!in) return;
    if (e->kind == TP_KIND_VBAR || e->kind == TP_KIND_QUOTE || e->kind == TP_KIND_SNAPSHOT)
        (void)unchanged(in, e);
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static void poller_free(struct tp_source *src)
{
    struct poller *p = (struct poller *)src;
    if (p->grp) {
        pthread_mutex_lock(&p->grp->mu);
        p->grp->m[p->gi] = NULL; /* the group is never used once a member is freed */
        pthread_mutex_unlock(&p->grp->mu);
        group_unref(p->grp);
    }
    for (size_t i = 0; i < p->nrq; i++) tp_buf_fini(&p->rq[i].body);
    free(p->rq);
    free(p->in);
    free(p->ev);
    free(p->out);
    tp_rest_parser_free(p->parser);
    curl_slist_free_all(p->hdrs);
    pthread_mutex_destroy(&p->mu);
    tp_source_fini(src);
    free(p);
}

static const struct tp_source_ops poller_ops = {
    .kind = "rest",
    .resume = poller_resume,
    .run = poller_run,
    .free = poller_free,
};

/* "venue=VALUE" entries: the last one for v wins. */
static const char *lookup(const char *const *list, size_t n, const char *v)
{
    const char *r = NULL;
    size_t vl = strlen(v);
    for (size_t i = 0; i < n; i++)
        if (!strncmp(list[i], v, vl) && list[i][vl] == '=') r = list[i] + vl + 1;
    return r;
}

static void hide_key(const char *url, char *out, size_t cap)
{
    const char *t = strstr(url, "apikey=");
    if (!t) {
        snprintf(out, cap, "%s", url);
        return;
    }
    const char *e = t + 7 + strcspn(t + 7, "&");
    snprintf(out, cap, "%.*s***%s", (int)(t + 7 - url), url, e);
}

static int build(struct poller *p, const char *spec, const struct tp_rest_opts *o, char *err,
                 size_t errcap)
{
    size_t vl = strcspn(spec, ":");
    if (vl >= sizeof p->vname) return fail(err, errcap, "is not a known venue");
    memcpy(p->vname, spec, vl);
    p->vname[vl] = 0;
    p->v = tp_rest_find(p->vname);
    if (!p->v) return fail(err, errcap, "is not a known REST venue");
    if (spec[vl] != ':' || !spec[vl + 1])
        return fail(err, errcap, "names no symbol (%s:SYM,SYM,...)", p->vname);
    const char *syms = spec + vl + 1;
    const char *at = strchr(syms, '@');
    size_t slen = at ? (size_t)(at - syms) : strlen(syms);
    if (at) {
        if (strlen(at + 1) >= sizeof p->opt || !at[1])
            return fail(err, errcap, "has a bad option after '@'");
        memcpy(p->opt, at + 1, strlen(at + 1) + 1);
        if (strcmp(p->vname, "coingecko") && strcmp(p->vname, "yahoo") &&
            strcmp(p->vname, "alphavantage"))
            return fail(err, errcap, "has an option, which %s does not take", p->vname);
    }
    p->in = calloc(TP_REST_MAX_SYMS, sizeof *p->in);
    if (!p->in) return -ENOMEM;
    const char *s = syms, *end = syms + slen;
    while (s < end) {
        size_t l = strcspn(s, ",@");
        if ((size_t)(end - s) < l) l = (size_t)(end - s);
        if (l) {
            if (p->n == TP_REST_MAX_SYMS)
                return fail(err, errcap, "names more than %d symbols (use several sources)",
                            TP_REST_MAX_SYMS);
            char sym[64];
            if (l >= sizeof sym) return fail(err, errcap, "has a symbol that is too long");
            memcpy(sym, s, l);
            sym[l] = 0;
            struct inst *in = &p->in[p->n];
            int nl = tp_rest_instrument(p->v, sym, p->opt, in->name, sizeof in->name, in->native);
            if (nl < 0)
                return fail(err, errcap, "has a symbol '%s' (or option) %s cannot poll", sym,
                            p->vname);
            for (size_t k = 0; k < p->n; k++)
                if (!strcmp(p->in[k].name, in->name))
                    return fail(err, errcap, "names %s twice", in->name);
            if (tp_instr_intern(in->name, (size_t)nl, &in->id) < 0)
                return fail(err, errcap, "cannot register instrument %s", in->name);
            p->n++;
        }
        s += l;
        if (s < end && *s == ',') s++;
    }
    if (!p->n) return fail(err, errcap, "names no symbol (%s:SYM,SYM,...)", p->vname);

    /* Settings. */
    const char *ep = o ? lookup(o->endpoints, o->nendpoints, p->vname) : NULL;
    const char *base = ep ? ep : p->v->base;
    if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8))
        return fail(err, errcap, "endpoint '%s' is not an http:// or https:// URL", base);
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') bl--;
    if (bl >= sizeof p->base_url - 512) return fail(err, errcap, "endpoint URL too long");
    memcpy(p->base_url, base, bl);
    p->base_url[bl] = 0;
    p->interval = p->v->interval_ns;
    p->spacing = p->v->spacing_ns;
    const char *iv = o ? lookup(o->intervals, o->nintervals, p->vname) : NULL;
    if (iv && (tp_duration_parse(iv, &p->interval) < 0 || p->interval < 100 * TP_NS_PER_MS))
        return fail(err, errcap,
                    "has a poll interval '%s' that is not a duration of at least 100ms", iv);
    const char *sp = o ? lookup(o->spacings, o->nspacings, p->vname) : NULL;
    if (sp && (tp_duration_parse(sp, &p->spacing) < 0 || p->spacing < 0))
        return fail(err, errcap, "has a request spacing '%s' that is not a duration", sp);
    p->timeout = o && o->timeout_ns > 0 ? o->timeout_ns : 10 * TP_NS_PER_SEC;
    p->bo_min = o && o->backoff_min_ns > 0 ? o->backoff_min_ns : 2 * TP_NS_PER_SEC;
    p->bo_max = o && o->backoff_max_ns > 0 ? o->backoff_max_ns : 600 * TP_NS_PER_SEC;
    p->ra_max = o && o->retry_after_max_ns > 0 ? o->retry_after_max_ns : 3600 * TP_NS_PER_SEC;
    const char *key = NULL;
    if (p->v->key_env) {
        if (!strcmp(p->vname, "alphavantage") && o) key = o->alphavantage_key;
        if (!strcmp(p->vname, "fmp") && o) key = o->fmp_key;
        if (!strcmp(p->vname, "coingecko") && o) key = o->coingecko_key;
        if (!key || !*key) key = getenv(p->v->key_env);
        if ((!key || !*key) && p->v->key_required)
            return fail(err, errcap, "needs an API key: set %s (%s)", p->v->key_env,
                        p->v->key_help);
        if (key && strlen(key) >= sizeof p->key)
            return fail(err, errcap, "%s is too long", p->v->key_env);
        for (const char *c = key ? key : ""; *c; c++)
            if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
                return fail(err, errcap, "%s has characters a key does not have", p->v->key_env);
        if (key) snprintf(p->key, sizeof p->key, "%s", key);
    }
    if (p->key[0] && p->v->key_header) {
        snprintf(p->key_hdr, sizeof p->key_hdr, "%s: %s", p->v->key_header, p->key);
        p->hdrs = curl_slist_append(NULL, p->key_hdr);
        if (!p->hdrs) return -ENOMEM;
    }

    /* Requests. */
    p->nrq = p->v->batch ? 1 : p->n;
    p->rq = calloc(p->nrq, sizeof *p->rq);
    if (!p->rq) return -ENOMEM;
    uint64_t seed = (uint64_t)tp_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)p;
    tp_backoff_init(&p->rl, p->bo_min, p->bo_max, seed++);
    for (size_t i = 0; i < p->nrq; i++) {
        struct req *r = &p->rq[i];
        r->first = p->v->batch ? 0 : i;
        r->n = p->v->batch ? p->n : 1;
        const char *nat[TP_REST_MAX_SYMS];
        size_t lo = 0;
        for (size_t k = 0; k < r->n; k++) {
            nat[k] = p->in[r->first + k].native;
            p->in[r->first + k].req = i;
            if (lo < sizeof r->label)
                lo += (size_t)snprintf(r->label + lo, sizeof r->label - lo, "%s%s", k ? "," : "",
                                       p->in[r->first + k].native);
        }
        struct tp_buf b;
        tp_buf_init(&b, URL_MAX - 1);
        int rc = tp_buf_puts(&b, p->base_url);
        if (rc >= 0) rc = p->v->path(nat, r->n, p->opt, p->key[0] ? p->key : NULL, &b);
        if (rc >= 0) rc = tp_buf_putc(&b, 0);
        if (rc < 0) {
            tp_buf_fini(&b);
            return fail(err, errcap, "makes a request URL that is too long");
        }
        memcpy(r->url, b.p, b.len);
        tp_buf_fini(&b);
        hide_key(r->url, r->shown, sizeof r->shown);
        tp_buf_init(&r->body, TP_REST_BODY_MAX);
        tp_backoff_init(&r->bo, p->bo_min, p->bo_max, seed++);
    }
    int rc = tp_rest_parser_new(p->v, &p->parser);
    if (rc < 0) return rc;
    const char *nat[TP_REST_MAX_SYMS];
    for (size_t k = 0; k < p->n; k++) nat[k] = p->in[k].native;
    if (p->v->batch) tp_rest_parser_filter(p->parser, nat, p->n);
    p->evcap = EV_START;
    p->ev = malloc(p->evcap * sizeof *p->ev);
    p->out = malloc(p->evcap * sizeof *p->out);
    if (!p->ev || !p->out) return -ENOMEM;
    return 0;
}

int tp_rest_source_new(const char *spec, const struct tp_rest_opts *o, struct tp_source **ret,
                       char *err, size_t errcap)
{
    struct poller *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tp_source_init(&p->base, &poller_ops, spec, true);
    pthread_mutex_init(&p->mu, NULL);
    snprintf(p->status, sizeof p->status, "waiting for the first poll");
    atomic_store_explicit(&p->base.link, TP_ST_DISCONNECTED, memory_order_relaxed);
    int rc = build(p, spec, o, err, errcap);
    if (rc < 0) {
        if (rc == -ENOMEM) snprintf(err, errcap, "out of memory");
        poller_free(&p->base);
        return rc;
    }
    /* Alpha Vantage intraday: a compact response holds the latest 100 bars. */
    long mins = !strcmp(p->vname, "alphavantage") && p->opt[0] ? strtol(p->opt, NULL, 10) : 0;
    if (mins > 0 && p->interval > 100 * mins * 60 * TP_NS_PER_SEC)
        tp_warn("%s: polling every %lld s, but a response holds the latest 100 %s bars (%ld min): "
                "bars between two polls will be missing; poll at least every %ld min",
                p->vname, (long long)(p->interval / TP_NS_PER_SEC), p->opt, 100 * mins, 100 * mins);
    tp_info("%s: polling %zu symbol(s) in %zu request(s) every %lld ms from %s", p->vname, p->n,
            p->nrq, (long long)(p->interval / TP_NS_PER_MS), p->base_url);
    *ret = &p->base;
    return 0;
}
