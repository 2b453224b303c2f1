/*
 * wsfeed.c — the live WebSocket venue source (see wsfeed.h for the lifecycle and the records
 * it writes).
 *
 * Everything runs on the source's thread: its loop alternates tp_ws_service (which returns at
 * least every TICK) with `step`, the timer work of the current state. The ws callbacks
 * (on_open, on_message, on_pong, on_closed) only record what happened and parse messages;
 * decisions that need the clock are taken in step.
 *
 * Invariants:
 *   1. Per instrument, records follow the connection: connected → subscribed → heartbeat* →
 *      (disconnected → hold) → ... → gap? → release; a hold is written only for an instrument
 *      not already held, and a release only for a held one.
 *   2. Heartbeat times never decrease per instrument and never pass the last receive time
 *      proven complete (the last frame of any kind) minus the measured skew: the engine is
 *      never told that data is complete beyond what arrived. No heartbeat before the skew is
 *      known (or SKEW_WAIT has shown that the feed has no venue times).
 *   3. Heartbeats are written only while a connection is subscribed; nothing advances a
 *      held instrument's watermark while disconnected.
 *   4. The ring is never waited on for market data (drop + gap, source.h); status records get
 *      a short grace (STATUS_WAIT) because a lost hold costs more than a late one.
 */
#include <ctype.h>
#include <stdarg.h>
#include <libwebsockets.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/instrument.h"
#include "core/log.h"
#include "core/tptime.h"
#include "source/backfill.h"
#include "source/connstats.h"
#include "source/ws.h"
#include "source/wsfeed.h"

#define TICK_NS          (100 * TP_NS_PER_MS)
#define HEARTBEAT_NS     TP_NS_PER_SEC
#define STATUS_WAIT      (200 * TP_NS_PER_MS)
#define SKEW_WINDOW_NS   (30 * TP_NS_PER_SEC)
#define STABLE_NS        (10 * TP_NS_PER_SEC) /* subscribed this long: backoff resets */
#define SKEW_WAIT_NS     (3 * TP_NS_PER_SEC) /* no venue time by then: heartbeats in receive time */
#define RESOLVE_LIMIT_NS (15 * TP_NS_PER_SEC)
#define EV_START         1024
#define EV_MAX           65536
#define LOG_FIRST        5 /* per connection, then every LOG_EVERY-th */
#define LOG_EVERY        1000
#define REQ_BUF_MAX      (1u << 20)

enum state { ST_WAIT, ST_RESOLVE, ST_CONNECT, ST_OPEN };

/* Per instrument of the subscription. */
struct inst {
    uint32_t id;
    char vsym[TP_VSYM_MAX + 1];
    uint8_t vlen;
    bool held;             /* a hold was written and not yet released */
    bool seen;             /* the journal's tail has a record of it */
    int64_t hold_ts;       /* venue time the hold covers from */
    int64_t last_hb;       /* newest heartbeat ts written (INT64_MIN: none) */
    int64_t last_ts;       /* newest record ts (resume) */
    int64_t last_trade_ts; /* newest trade seen (backfill: the hold of a gap starts there) */
    uint32_t bf_pending;   /* id gaps of this instrument being backfilled (it stays held) */
    /* outage windows (OKX, Bybit): the last trade seen, the last before the outage, the
     * first after it (ts INT64_MIN: none) */
    struct tp_backfill_edge bf_last, bf_from, bf_first;
    bool bf_want_first; /* the next trade is the first after an outage */
};

struct feed {
    struct tp_source base;
    struct tp_wsfeed_spec *sp; /* owned */
    struct tp_wsfeed_opts o;   /* endpoints/ca/token: not kept after new */
    char url[TP_WSFEED_URL_MAX];
    char shown[TP_WSFEED_URL_MAX]; /* url with any token hidden, for logs */
    struct tp_ws_url u;
    const char *name; /* "binance", or "bybit/linear" (shown in logs) */
    char namebuf[40];
    bool quote_only;
    struct inst *in; /* sp->nsyms */
    size_t n;
    struct tp_buf req; /* the subscribe requests, '\n'-separated */
    size_t nreq;
    int64_t send_gap_ns; /* between two requests */
    int64_t max_age_ns;  /* reconnect before the venue's connection age limit (0: none) */
    char ca_file[512];

    /* (src) connection */
    struct tp_ws *ws;
    struct tp_ws_resolver *res;
    enum state st;
    struct tp_backoff bo;
    int64_t due;             /* ST_WAIT: mono time of the next attempt */
    int64_t resolve_started; /* mono */
    char addr[TP_WS_ADDR_MAX + 1];
    uint32_t attempt;        /* attempts since the last open connection */
    int64_t opened_mono;     /* ST_OPEN since */
    int64_t last_rx_mono;    /* last frame of any kind */
    int64_t last_rx_real;    /* the same, real clock */
    int64_t last_probe_mono; /* last probe or app ping sent */
    int64_t last_app_ping;   /* last application ping sent */
    size_t req_off;          /* next request to send (offset into req) */
    int64_t next_send;       /* mono: pacing of requests */
    bool sent_any;           /* a request went out on this connection */
    bool subscribed;         /* ack or data after subscribing */
    int64_t subscribed_mono; /* when */
    int64_t resume_vts;      /* venue time at subscription: the end of an outage gap */
    bool stable;             /* backoff was reset on this connection */
    bool connected_written;  /* a connected record is in the log for this connection */
    bool planned;            /* the next close is a planned reconnect */
    bool ever_subscribed;    /* some connection was subscribed (this run) */
    bool stopping;           /* the run is ending: no reconnect */
    int64_t next_hb;         /* mono */
    uint64_t conn_logs;      /* log lines about bad frames on this connection */
    uint64_t conn_errs;      /* venue errors logged on this connection */
    char status_text[64];    /* last venue status seen */
    uint64_t ping_id;

    /* (src) skew: minimum of ts_recv - ts over two rotating windows */
    int64_t skew, skew_cur, skew_prev, skew_rot;
    bool have_skew, have_cur, have_prev;

    /* (src) REST backfill of id gaps (NULL: off) */
    struct tp_backfill *bf;
    char bf_base[512];
    enum tp_backfill_venue bf_venue;
    bool bf_window; /* outages are fetched as time windows (no consecutive ids) */
    size_t bf_last; /* find_inst cache */

    /* (src) parsing */
    struct tp_venue_parser *parser;
    struct tp_event *ev;
    size_t evcap;
    struct tp_event *st_ev; /* n status records */

    /* counters (any thread reads) */
    _Atomic uint64_t c_connects, c_failures, c_disconnects, c_watchdog, c_planned, c_messages,
        c_events, c_bad, c_too_big, c_venue_errors, c_id_gaps, c_outage_gaps, c_pings, c_pongs,
        c_subs, c_bf_gaps, c_bf_trades, c_bf_failed;
    _Atomic bool c_connected;
    /* (connstats.h) */
    _Atomic uint64_t c_attempts, c_dc_peer, c_dc_error, c_dc_stop, c_bytes, c_acks, c_ping_replies,
        c_bf_done;
    _Atomic uint32_t c_held;
    _Atomic int c_state;                          /* enum tp_ws_state */
    _Atomic int64_t c_backoff, c_last_rx, c_skew; /* ns; c_last_rx real clock */
    _Atomic bool c_have_skew;
    bool own_drop; /* (src) the connection is being dropped by us (watchdog, planned) */
};

static const struct tp_source_ops feed_ops;

#define INC(f, c)    atomic_fetch_add_explicit(&(f)->c, 1, memory_order_relaxed)
#define SET(f, c, v) atomic_store_explicit(&(f)->c, v, memory_order_relaxed)

/* ---- spec ---------------------------------------------------------------------------- */

static const char *const ws_venues[] = {"binance", "coinbase", "okx",    "kraken",
                                        "bybit",   "bitstamp", "finnhub"};

bool tp_wsfeed_is_venue(const char *spec)
{
    size_t vl = strcspn(spec, ":/");
    for (size_t i = 0; i < TP_ARRAY_LEN(ws_venues); i++)
        if (strlen(ws_venues[i]) == vl && !strncmp(spec, ws_venues[i], vl)) return true;
    return false;
}

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

static int parse_channels(const char *s, struct tp_wsfeed_spec *sp, char *err, size_t errcap)
{
    unsigned ch = 0;
    while (*s) {
        size_t l = strcspn(s, "+");
        char tok[24];
        if (!l || l >= sizeof tok) return fail(err, errcap, "has an empty or unknown channel");
        memcpy(tok, s, l);
        tok[l] = 0;
        if (!strcmp(tok, "trades")) {
            ch |= TP_VCH_TRADES;
        } else if (!strcmp(tok, "agg")) {
            ch |= TP_VCH_TRADES | TP_VCH_AGG;
        } else if (!strcmp(tok, "quotes")) {
            ch |= TP_VCH_QUOTES;
        } else if (!strncmp(tok, "bars", 4) && (tok[4] == 0 || tok[4] == '=')) {
            ch |= TP_VCH_BARS;
            const char *iv = tok[4] ? tok + 5 : "";
            if (strlen(iv) >= sizeof sp->interval)
                return fail(err, errcap, "has a bad interval '%s'", iv);
            memcpy(sp->interval, iv, strlen(iv) + 1);
        } else {
            return fail(err, errcap,
                        "has an unknown channel '%s' (trades, agg, quotes, bars[=INTERVAL])", tok);
        }
        s += l;
        if (*s == '+') s++;
    }
    sp->channels = ch;
    return 0;
}

int tp_wsfeed_parse_spec(const char *spec, struct tp_wsfeed_spec *sp, char *err, size_t errcap)
{
    memset(sp, 0, sizeof *sp);
    const char *colon = strchr(spec, ':');
    if (!colon) return fail(err, errcap, "names no symbol (VENUE:SYM,SYM,...)");
    size_t vl = strcspn(spec, "/:");
    char vname[16];
    if (vl >= sizeof vname) return fail(err, errcap, "is not a known venue");
    memcpy(vname, spec, vl);
    vname[vl] = 0;
    sp->v = tp_venue_find(vname);
    if (!sp->v || !tp_wsfeed_is_venue(vname)) return fail(err, errcap, "is not a known venue");
    if (spec[vl] == '/') {
        size_t ml = (size_t)(colon - (spec + vl + 1));
        if (!ml || ml >= sizeof sp->market) return fail(err, errcap, "has a bad market");
        memcpy(sp->market, spec + vl + 1, ml);
        sp->market[ml] = 0;
        struct tp_venue_parser *p;
        struct tp_venue_opts vo = {.market = sp->market};
        if (tp_venue_parser_new(sp->v, &vo, &p) < 0)
            return fail(err, errcap, "has a market '%s' this venue does not have", sp->market);
        tp_venue_parser_free(p);
    }
    const char *syms = colon + 1;
    const char *at = strchr(syms, '@');
    size_t slen = at ? (size_t)(at - syms) : strlen(syms);
    if (at) {
        int rc = parse_channels(at + 1, sp, err, errcap);
        if (rc < 0) return rc;
        if (!sp->channels) return fail(err, errcap, "names no channel after '@'");
    } else {
        sp->channels =
            sp->v->channels & TP_VCH_QUOTES ? TP_VCH_TRADES | TP_VCH_QUOTES : TP_VCH_TRADES;
    }
    unsigned offered = sp->v->channels | TP_VCH_HEARTBEAT;
    if ((sp->channels & ~offered) != 0)
        return fail(err, errcap, "asks for a channel %s does not offer", sp->v->name);
    if ((sp->channels & TP_VCH_BARS) && !strcmp(sp->v->name, "okx") &&
        (sp->channels & (TP_VCH_TRADES | TP_VCH_QUOTES)))
        return fail(err, errcap,
                    "mixes bars with trades or quotes: OKX serves candles on another endpoint "
                    "(use two sources: okx:SYM@bars and okx:SYM)");
    /* Symbols. */
    const char *p = syms, *end = syms + slen;
    while (p < end) {
        size_t l = strcspn(p, ",@");
        if ((size_t)(end - p) < l) l = (size_t)(end - p);
        if (l) {
            if (sp->nsyms == TP_WSFEED_MAX_SYMBOLS)
                return fail(err, errcap,
                            "names more than 256 symbols (split them over several sources)");
            if (l > TP_VSYM_MAX) return fail(err, errcap, "has a symbol that is too long");
            char *s = sp->syms[sp->nsyms];
            for (size_t k = 0; k < l; k++) s[k] = (char)toupper((unsigned char)p[k]);
            s[l] = 0;
            int nl = tp_venue_instrument(sp->v, sp->market, s, sp->instr[sp->nsyms],
                                         sizeof sp->instr[0], sp->native[sp->nsyms]);
            if (nl < 0) return fail(err, errcap, "has a symbol '%s' the venue cannot spell", s);
            for (size_t k = 0; k < sp->nsyms; k++)
                if (!strcmp(sp->instr[k], sp->instr[sp->nsyms]))
                    return fail(err, errcap, "names %s twice", sp->instr[k]);
            sp->nsyms++;
        }
        p += l;
        if (p < end && *p == ',') p++;
    }
    if (!sp->nsyms) return fail(err, errcap, "names no symbol (VENUE:SYM,SYM,...)");
    /* The builder is the judge of what the venue accepts (intervals, spellings). */
    struct tp_buf b;
    tp_buf_init(&b, REQ_BUF_MAX);
    int rc = tp_wsfeed_requests(sp, &b);
    tp_buf_fini(&b);
    if (rc == -ENOTSUP)
        return fail(err, errcap, "asks for a channel %s does not offer", sp->v->name);
    if (rc == -E2BIG) return fail(err, errcap, "makes subscribe requests that are too long");
    if (rc < 0)
        return fail(err, errcap,
                    "cannot be subscribed (a symbol %s cannot spell, or an interval it does not "
                    "have)",
                    sp->v->name);
    return 0;
}

int tp_wsfeed_requests(const struct tp_wsfeed_spec *sp, struct tp_buf *out)
{
    const char *ptr[TP_WSFEED_MAX_SYMBOLS];
    for (size_t i = 0; i < sp->nsyms; i++) ptr[i] = sp->syms[i];
    struct tp_venue_sub sub = {
        .symbols = ptr,
        .nsymbols = sp->nsyms,
        .channels = sp->channels,
        .interval = sp->interval[0] ? sp->interval : NULL,
        .req_id = 1,
        .market = sp->market[0] ? sp->market : NULL,
    };
    return tp_venue_subscribe(sp->v, &sub, out);
}

/* ---- endpoint ------------------------------------------------------------------------ */

int tp_wsfeed_url(const struct tp_wsfeed_spec *sp, const struct tp_wsfeed_opts *o, char *url,
                  size_t cap, char *err, size_t errcap)
{
    char key[40];
    snprintf(key, sizeof key, "%s%s%s", sp->v->name, sp->market[0] ? "/" : "", sp->market);
    const char *over = NULL;
    /* The most specific override wins: "bybit/linear=" before "bybit=". */
    for (int pass = 0; pass < 2 && !over; pass++) {
        const char *k = pass == 0 ? key : sp->v->name;
        size_t kl = strlen(k);
        for (size_t i = 0; o && i < o->nendpoints; i++)
            if (!strncmp(o->endpoints[i], k, kl) && o->endpoints[i][kl] == '=')
                over = o->endpoints[i] + kl + 1;
    }
    int n;
    if (over) {
        n = snprintf(url, cap, "%s", over);
    } else if (!strcmp(sp->v->name, "bybit")) {
        n = snprintf(url, cap, "wss://stream.bybit.com/v5/public/%s",
                     sp->market[0] ? sp->market : "spot");
    } else if (!strcmp(sp->v->name, "okx") && (sp->channels & TP_VCH_BARS)) {
        n = snprintf(url, cap, "wss://ws.okx.com:8443/ws/v5/business");
    } else {
        n = snprintf(url, cap, "%s", sp->v->endpoint);
    }
    if (n < 0 || (size_t)n >= cap) return fail(err, errcap, "endpoint URL too long");
    if (!strcmp(sp->v->name, "finnhub") && !strstr(url, "token=")) {
        const char *tok = o && o->finnhub_token ? o->finnhub_token : getenv("FINNHUB_API_TOKEN");
        if (!tok || !*tok)
            return fail(err, errcap,
                        "needs an API token: set FINNHUB_API_TOKEN (finnhub.io gives free keys)");
        for (const char *c = tok; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
                return fail(err, errcap, "FINNHUB_API_TOKEN has characters a token does not have");
        size_t l = strlen(url);
        n = snprintf(url + l, cap - l, "%stoken=%s", strchr(url, '?') ? "&" : "?", tok);
        if (n < 0 || (size_t)n >= cap - l) return fail(err, errcap, "endpoint URL too long");
    }
    struct tp_ws_url u;
    if (tp_ws_url_parse(url, &u) < 0)
        return fail(err, errcap, "endpoint '%s' is not a ws:// or wss:// URL", over ? over : url);
    return 0;
}

/* url with the value of any token= parameter replaced by "***". */
static void hide_token(const char *url, char *out, size_t cap)
{
    const char *t = strstr(url, "token=");
    if (!t) {
        snprintf(out, cap, "%s", url);
        return;
    }
    const char *e = t + 6 + strcspn(t + 6, "&");
    snprintf(out, cap, "%.*s***%s", (int)(t + 6 - url), url, e);
}

/* A duration for log lines: "250 ms", "2.1 s", "95 s". */
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

/* ---- records ------------------------------------------------------------------------- */

static int64_t vtime(const struct feed *f, int64_t real)
{
    return real - (f->have_skew ? f->skew : 0);
}

static void status_init(struct feed *f, struct tp_event *e, size_t i, enum tp_status st, int64_t ts)
{
    tp_event_init(e, TP_KIND_STATUS);
    e->status = (uint8_t)st;
    e->instr = f->in[i].id;
    e->ts = ts;
    e->ts_recv = tp_now_ns();
    e->flags = (uint16_t)(TP_EV_TS_VENUE | (f->quote_only ? TP_EV_QUOTE_ONLY : 0));
    tp_event_set_vsym(e, f->in[i].vsym, f->in[i].vlen);
}

static void put_status_records(struct feed *f, size_t k)
{
    if (k) tp_source_put(&f->base, f->st_ev, k, STATUS_WAIT);
}

/* One record of kind st for every instrument, at ts. */
static void status_all(struct feed *f, enum tp_status st, int64_t ts)
{
    for (size_t i = 0; i < f->n; i++) status_init(f, &f->st_ev[i], i, st, ts);
    put_status_records(f, f->n);
}

/* Holds every instrument not held yet, at the last time the data is known complete. */
static void hold_all(struct feed *f, int64_t ts)
{
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        struct inst *in = &f->in[i];
        if (in->held) continue;
        in->held = true;
        in->hold_ts = ts;
        in->bf_from = in->bf_last;
        in->bf_first.ts = INT64_MIN;
        in->bf_want_first = true;
        status_init(f, &f->st_ev[k++], i, TP_ST_HOLD, ts);
    }
    put_status_records(f, k);
}

static void heartbeat_all(struct feed *f)
{
    int64_t hb = vtime(f, f->last_rx_real);
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        struct inst *in = &f->in[i];
        int64_t t = in->last_hb != INT64_MIN && in->last_hb > hb ? in->last_hb : hb;
        in->last_hb = t;
        status_init(f, &f->st_ev[k++], i, TP_ST_HEARTBEAT, t);
    }
    put_status_records(f, k);
}

/* Queues the REST backfill of the outage of in (OKX, Bybit): the trades between the last one
 * before the outage and the first one after it; in stays held until it is done. */
static void backfill_window(struct feed *f, struct inst *in)
{
    int rc = tp_backfill_request_window(f->bf, in->id, in->vsym, &in->bf_from, &in->bf_first,
                                        in->hold_ts, f->resume_vts);
    if (rc < 0) {
        INC(f, c_bf_failed);
        tp_warn("%s: the outage gap of %s is not backfilled (%s)", f->name, tp_instr_name(in->id),
                rc == -ENOSPC ? "too many gaps at once" : "bad range");
        return;
    }
    INC(f, c_bf_gaps);
    in->bf_pending++;
}

/* The outage is over: a time gap for instruments whose trades carry no consecutive ids (with
 * a backfill of it where the venue serves one), then the release. */
static void release_all(struct feed *f)
{
    size_t k = 0;
    uint64_t gaps = 0;
    for (size_t i = 0; i < f->n; i++) {
        struct inst *in = &f->in[i];
        if (!in->held || in->bf_pending) continue;
        if (f->resume_vts > in->hold_ts && !tp_venue_parser_tracks_ids(f->parser, in->id)) {
            struct tp_event *e = &f->st_ev[k++];
            status_init(f, e, i, TP_ST_GAP, f->resume_vts);
            e->flags |= TP_EV_GAP_TIME;
            e->trade_id = (uint64_t)in->hold_ts;
            e->gap_last = (uint64_t)f->resume_vts;
            gaps++;
            if (f->bf && f->bf_window) backfill_window(f, in);
        }
        in->bf_want_first = false;
    }
    put_status_records(f, k);
    k = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (!f->in[i].held || f->in[i].bf_pending) continue; /* released when backfilled */
        f->in[i].held = false;
        status_init(f, &f->st_ev[k++], i, TP_ST_RELEASE, f->resume_vts);
    }
    put_status_records(f, k);
    if (gaps) {
        atomic_fetch_add_explicit(&f->c_outage_gaps, gaps, memory_order_relaxed);
        char a[TP_TIME_STRLEN], b[TP_TIME_STRLEN];
        int64_t first = INT64_MAX;
        for (size_t i = 0; i < f->n; i++) first = TP_MIN(first, f->in[i].hold_ts);
        tp_time_format(first, a);
        tp_time_format(f->resume_vts, b);
        tp_warn("%s: gap recorded for %llu instrument(s) over the outage %s .. %s", f->name,
                (unsigned long long)gaps, a, b);
    }
}

/* ---- skew ---------------------------------------------------------------------------- */

static void skew_sample(struct feed *f, int64_t d)
{
    if (!f->have_cur || d < f->skew_cur) {
        f->skew_cur = d;
        f->have_cur = true;
    }
    int64_t s = f->have_prev && f->skew_prev < f->skew_cur ? f->skew_prev : f->skew_cur;
    f->skew = s;
    f->have_skew = true;
}

static void skew_rotate(struct feed *f, int64_t now)
{
    if (now < f->skew_rot) return;
    f->skew_rot = now + SKEW_WINDOW_NS;
    f->skew_prev = f->skew_cur;
    f->have_prev = f->have_cur;
    f->have_cur = false;
}

/* ---- connection events (ws callbacks) -------------------------------------------------- */

static void on_open(void *ctx)
{
    struct feed *f = ctx;
    int64_t now = tp_mono_ns();
    f->st = ST_OPEN;
    f->opened_mono = f->last_rx_mono = f->last_probe_mono = f->last_app_ping = now;
    f->last_rx_real = tp_now_ns();
    f->req_off = 0;
    f->next_send = now;
    f->sent_any = f->subscribed = f->stable = false;
    f->conn_logs = f->conn_errs = 0;
    f->attempt = 0;
    tp_venue_parser_new_connection(f->parser);
    INC(f, c_connects);
    SET(f, c_state, TP_WS_CONNECTED);
    SET(f, c_last_rx, f->last_rx_real);
    f->own_drop = false;
    atomic_store_explicit(&f->c_connected, true, memory_order_relaxed);
    atomic_store_explicit(&f->base.link, TP_ST_CONNECTED, memory_order_relaxed);
    tp_info("%s: connected to %s (%s); subscribing (%zu request(s))", f->name, f->shown, f->addr,
            f->nreq);
    status_all(f, TP_ST_CONNECTED, vtime(f, f->last_rx_real));
    f->connected_written = true;
}

static void mark_subscribed(struct feed *f)
{
    if (f->subscribed || !f->sent_any) return;
    f->subscribed = true;
    f->ever_subscribed = true;
    f->subscribed_mono = tp_mono_ns();
    f->resume_vts = vtime(f, f->last_rx_real);
    f->next_hb = f->subscribed_mono;
    atomic_store_explicit(&f->base.link, TP_ST_SUBSCRIBED, memory_order_relaxed);
    SET(f, c_state, TP_WS_SUBSCRIBED);
    tp_info("%s: subscribed (%zu instrument(s))", f->name, f->n);
    status_all(f, TP_ST_SUBSCRIBED, f->resume_vts);
}

static void log_bad(struct feed *f, const struct tp_venue_result *r, const char *msg, size_t len)
{
    uint64_t k = ++f->conn_logs;
    if (k > LOG_FIRST && k % LOG_EVERY) return;
    tp_warn("%s: unusable message (%s%s%.*s): %.80s%s", f->name, tp_vreason_name(r->reason),
            r->text_len ? ": " : "", (int)r->text_len, r->text, msg, len > 80 ? "..." : "");
}

static void on_control(struct feed *f, const struct tp_venue_result *r)
{
    switch (r->type) {
    case TP_VMSG_SUBSCRIBED:
    case TP_VMSG_ACK:
        INC(f, c_acks);
        mark_subscribed(f);
        break;
    case TP_VMSG_ERROR: {
        INC(f, c_venue_errors);
        uint64_t k = ++f->conn_errs;
        if (k <= LOG_FIRST || k % LOG_EVERY == 0)
            tp_warn("%s: the venue reports an error%s%.0lld: %.*s", f->name, r->has_code ? " " : "",
                    r->has_code ? (long long)r->code : 0LL, (int)r->text_len, r->text);
        break;
    }
    case TP_VMSG_PING:
        if (r->reply_len && tp_ws_send(f->ws, r->reply, r->reply_len) == 0) /* the venue asks */
            INC(f, c_ping_replies);
        break;
    case TP_VMSG_PONG:
        INC(f, c_pongs);
        break;
    case TP_VMSG_STATUS:
        if (strncmp(f->status_text, r->text, sizeof f->status_text - 1)) {
            snprintf(f->status_text, sizeof f->status_text, "%.*s", (int)r->text_len, r->text);
            tp_info("%s: venue status: %s", f->name, f->status_text);
        }
        break;
    case TP_VMSG_RECONNECT:
        tp_info("%s: the venue announces a disconnect (%.*s): reconnecting now", f->name,
                (int)r->text_len, r->text);
        f->planned = true;
        INC(f, c_planned);
        f->own_drop = true;
        tp_ws_drop(f->ws, "planned reconnect");
        break;
    default: /* heartbeats, ignored data: evidence only */
        break;
    }
}

/* ---- REST backfill of id gaps -------------------------------------------------------- */

static struct inst *find_inst_cached(struct feed *f, uint32_t id)
{
    if (f->bf_last < f->n && f->in[f->bf_last].id == id) return &f->in[f->bf_last];
    for (size_t i = 0; i < f->n; i++)
        if (f->in[i].id == id) {
            f->bf_last = i;
            return &f->in[i];
        }
    return NULL;
}

static void edge_of(struct tp_backfill_edge *g, const struct tp_event *e)
{
    g->ts = e->ts;
    g->has_id = (e->flags & TP_EV_HAS_ID) != 0;
    g->id_str = (e->flags & TP_EV_ID_STR) != 0;
    g->id = e->trade_id;
    if (g->id_str)
        memcpy(g->sid, e->trade_id_str, sizeof g->sid);
    else
        g->sid[0] = 0;
}

/* The edges of outage windows: the newest trade, and the first after an outage. */
static void note_trade(struct inst *in, const struct tp_event *e)
{
    if (in->bf_last.ts == INT64_MIN || e->ts >= in->bf_last.ts) edge_of(&in->bf_last, e);
    if (in->bf_want_first && in->bf_first.ts == INT64_MIN) edge_of(&in->bf_first, e);
}

/* Puts ev[0..n) into the ring; after each id gap the parser reported, a hold for its
 * instrument (at its last trade before the gap: the missing trades are not older) and a
 * backfill request, so the fetched trades land in their windows (DESIGN.md §3). */
static void put_with_backfill(struct feed *f, size_t n)
{
    size_t start = 0, put = 0;
    for (size_t i = 0; i < n; i++) {
        struct tp_event *e = &f->ev[i];
        struct inst *in = find_inst_cached(f, e->instr);
        if (!in) continue;
        if (e->kind == TP_KIND_TRADE) {
            if (e->ts > in->last_trade_ts) in->last_trade_ts = e->ts;
            if (f->bf_window) note_trade(in, e);
            continue;
        }
        if (e->kind != TP_KIND_STATUS || e->status != TP_ST_GAP || (e->flags & TP_EV_GAP_TIME))
            continue;
        int rc = tp_backfill_request(f->bf, e->instr, in->vsym, e->trade_id, e->gap_last);
        if (rc < 0) {
            INC(f, c_bf_failed);
            tp_warn("%s: the gap in %s trade ids %llu..%llu is not backfilled (%s)", f->name,
                    tp_instr_name(e->instr), (unsigned long long)e->trade_id,
                    (unsigned long long)e->gap_last,
                    rc == -E2BIG    ? "too many ids"
                    : rc == -ENOSPC ? "too many gaps at once"
                                    : "bad range");
            continue;
        }
        INC(f, c_bf_gaps);
        in->bf_pending++;
        put += tp_source_put(&f->base, f->ev + start, i + 1 - start, 0);
        start = i + 1;
        if (!in->held) {
            int64_t ts = in->last_trade_ts != INT64_MIN ? in->last_trade_ts
                         : i + 1 < n                    ? f->ev[i + 1].ts
                                                        : e->ts;
            in->held = true;
            in->hold_ts = ts;
            status_init(f, &f->st_ev[0], (size_t)(in - f->in), TP_ST_HOLD, ts);
            put_status_records(f, 1);
        }
    }
    put += tp_source_put(&f->base, f->ev + start, n - start, 0);
    atomic_fetch_add_explicit(&f->c_events, put, memory_order_relaxed);
}

static void on_backfilled(void *ctx, const struct tp_backfill_result *r)
{
    struct feed *f = ctx;
    struct inst *in = find_inst_cached(f, r->instr);
    if (!in) return;
    size_t i = (size_t)(in - f->in);
    if (r->n) {
        size_t put = tp_source_put(&f->base, r->ev, r->n, STATUS_WAIT);
        atomic_fetch_add_explicit(&f->c_events, put, memory_order_relaxed);
        atomic_fetch_add_explicit(&f->c_bf_trades, put, memory_order_relaxed);
        for (size_t k = 0; k < r->n; k++)
            if (r->ev[k].ts > in->last_trade_ts) in->last_trade_ts = r->ev[k].ts;
    }
    uint64_t want = r->last - r->first + 1;
    if (r->by_time) {
        char a[TP_TIME_STRLEN], b[TP_TIME_STRLEN];
        tp_time_format((int64_t)r->first, a);
        tp_time_format((int64_t)r->last, b);
        if (r->complete) {
            struct tp_event *e = &f->st_ev[0];
            status_init(f, e, i, TP_ST_GAP, vtime(f, f->last_rx_real));
            e->flags |= TP_EV_GAP_TIME | TP_EV_BACKFILLED;
            e->trade_id = r->first;
            e->gap_last = r->last;
            put_status_records(f, 1);
            INC(f, c_bf_done);
            tp_info("%s: gap in %s over the outage %s .. %s backfilled: %zu trade(s) from REST",
                    f->name, tp_instr_name(r->instr), a, b, r->n);
        } else {
            INC(f, c_bf_failed);
            tp_warn("%s: backfill of %s over the outage %s .. %s not complete: %s; %zu trade(s) "
                    "fetched; the gap stays recorded as not backfilled",
                    f->name, tp_instr_name(r->instr), a, b,
                    r->error ? r->error : "the venue's trades do not cover it", r->n);
        }
    } else if (r->complete) {
        struct tp_event *e = &f->st_ev[0];
        status_init(f, e, i, TP_ST_GAP, vtime(f, f->last_rx_real));
        e->trade_id = r->first;
        e->gap_last = r->last;
        e->flags |= TP_EV_BACKFILLED;
        put_status_records(f, 1);
        INC(f, c_bf_done);
        tp_info("%s: gap in %s trade ids %llu..%llu backfilled: %zu trade(s) from REST", f->name,
                tp_instr_name(r->instr), (unsigned long long)r->first, (unsigned long long)r->last,
                r->n);
    } else {
        INC(f, c_bf_failed);
        tp_warn("%s: backfill of %s trade ids %llu..%llu %s%s: %zu of %llu trade(s) fetched; the "
                "gap stays recorded",
                f->name, tp_instr_name(r->instr), (unsigned long long)r->first,
                (unsigned long long)r->last, r->error ? "failed: " : "incomplete",
                r->error ? r->error : "", r->n, (unsigned long long)want);
    }
    if (in->bf_pending) in->bf_pending--;
    /* Released now unless an outage holds it: release_all does that once resubscribed. */
    if (!in->bf_pending && in->held && f->subscribed) {
        in->held = false;
        status_init(f, &f->st_ev[0], i, TP_ST_RELEASE, vtime(f, f->last_rx_real));
        put_status_records(f, 1);
    }
}

static void on_message(void *ctx, const char *msg, size_t len, bool binary)
{
    struct feed *f = ctx;
    (void)binary;
    int64_t real = tp_now_ns();
    f->last_rx_mono = tp_mono_ns();
    f->last_rx_real = real;
    INC(f, c_messages);
    SET(f, c_last_rx, real);
    atomic_fetch_add_explicit(&f->c_bytes, len, memory_order_relaxed);
    struct tp_venue_result r;
    int n;
    for (;;) {
        n = tp_venue_parse(f->parser, msg, len, real, f->ev, f->evcap, &r);
        if (n != -E2BIG || f->evcap >= EV_MAX) break;
        size_t nc = f->evcap * 2;
        struct tp_event *e = realloc(f->ev, nc * sizeof *e);
        if (!e) break;
        f->ev = e;
        f->evcap = nc;
    }
    if (n < 0) {
        INC(f, c_bad);
        INC(f, base.bad);
        log_bad(f, &r, msg, len);
        return;
    }
    if (r.seq_gap)
        tp_warn("%s: the connection's sequence skipped %llu..%llu", f->name,
                (unsigned long long)r.seq_first, (unsigned long long)r.seq_last);
    if (r.type != TP_VMSG_DATA) {
        on_control(f, &r);
        return;
    }
    mark_subscribed(f);
    if (!n) return;
    for (int i = 0; i < n; i++) {
        struct tp_event *e = &f->ev[i];
        if (f->quote_only) e->flags |= TP_EV_QUOTE_ONLY;
        if ((e->flags & TP_EV_TS_VENUE) && e->kind != TP_KIND_STATUS && e->kind != TP_KIND_VBAR)
            skew_sample(f, e->ts_recv - e->ts);
    }
    if (f->have_skew) {
        SET(f, c_skew, f->skew);
        SET(f, c_have_skew, true);
    }
    if (r.gaps) {
        atomic_fetch_add_explicit(&f->c_id_gaps, r.gaps, memory_order_relaxed);
        for (int i = 0; i < n; i++)
            if (f->ev[i].kind == TP_KIND_STATUS && f->ev[i].status == TP_ST_GAP)
                tp_warn("%s: gap in %s trade ids: %llu..%llu missing", f->name,
                        tp_instr_name(f->ev[i].instr), (unsigned long long)f->ev[i].trade_id,
                        (unsigned long long)f->ev[i].gap_last);
    }
    if (f->bf) {
        put_with_backfill(f, (size_t)n);
        return;
    }
    size_t put = tp_source_put(&f->base, f->ev, (size_t)n, 0);
    atomic_fetch_add_explicit(&f->c_events, put, memory_order_relaxed);
}

static void on_too_big(void *ctx, size_t len)
{
    struct feed *f = ctx;
    f->last_rx_mono = tp_mono_ns();
    f->last_rx_real = tp_now_ns();
    INC(f, c_too_big);
    INC(f, base.bad);
    SET(f, c_last_rx, f->last_rx_real);
    atomic_fetch_add_explicit(&f->c_bytes, len, memory_order_relaxed);
    tp_warn("%s: a %zu-byte message exceeds the size cap and was skipped", f->name, len);
}

static void on_pong(void *ctx)
{
    struct feed *f = ctx;
    f->last_rx_mono = tp_mono_ns();
    f->last_rx_real = tp_now_ns();
    INC(f, c_pongs);
    SET(f, c_last_rx, f->last_rx_real);
}

static void retry_later(struct feed *f, const char *why, bool was_open)
{
    int64_t delay = 0;
    if (f->planned) {
        f->planned = false; /* at once; the count of failures stays as it is */
    } else {
        delay = tp_backoff_next(&f->bo);
    }
    f->st = ST_WAIT;
    f->due = tp_mono_ns() + delay;
    f->attempt++;
    SET(f, c_backoff, delay);
    SET(f, c_state, delay ? TP_WS_BACKOFF : TP_WS_CONNECTING);
    char d[32];
    dur(delay, d, sizeof d);
    if (was_open || f->attempt <= 3 || f->attempt % 10 == 0)
        tp_warn("%s: %s; reconnecting in %s (attempt %u)", f->name, why, d, f->attempt);
    else
        tp_debug("%s: %s; reconnecting in %s (attempt %u)", f->name, why, d, f->attempt);
}

static void on_closed(void *ctx, bool was_open, const char *why)
{
    struct feed *f = ctx;
    atomic_store_explicit(&f->c_connected, false, memory_order_relaxed);
    atomic_store_explicit(&f->base.link, TP_ST_DISCONNECTED, memory_order_relaxed);
    if (!was_open && f->stopping) return;
    if (!was_open) {
        INC(f, c_failures);
        retry_later(f, why, false);
        return;
    }
    INC(f, c_disconnects);
    /* Our own drops (watchdog, planned) were counted where they were decided; the others by
     * ws.c's reason text: a close frame ("peer closed ...") or the end of the stream
     * ("connection closed") is the venue's doing, anything else an error. */
    if (f->stopping)
        INC(f, c_dc_stop);
    else if (!f->own_drop &&
             (!strncmp(why, "peer closed", 11) || !strcmp(why, "connection closed")))
        INC(f, c_dc_peer);
    else if (!f->own_drop)
        INC(f, c_dc_error);
    f->own_drop = false;
    int64_t up = tp_mono_ns() - f->opened_mono;
    /* Data is known complete up to the last frame received. */
    int64_t h = vtime(f, f->last_rx_real);
    if (f->connected_written) {
        status_all(f, TP_ST_DISCONNECTED, h);
        f->connected_written = false;
    }
    if (f->ever_subscribed) hold_all(f, h);
    char msg[256], d[32];
    dur(up, d, sizeof d);
    snprintf(msg, sizeof msg, "disconnected after %s (%s)", d, why);
    f->subscribed = false;
    if (f->stopping) {
        tp_info("%s: %s", f->name, msg);
        return;
    }
    retry_later(f, msg, true);
}

/* ---- the loop ------------------------------------------------------------------------ */

static void start_attempt(struct feed *f, int64_t now)
{
    int rc = tp_ws_resolve_start(f->res, f->u.host, f->u.port);
    if (rc < 0) {
        INC(f, c_failures);
        retry_later(f, "cannot start the name lookup", false);
        return;
    }
    INC(f, c_attempts);
    SET(f, c_state, TP_WS_CONNECTING);
    SET(f, c_backoff, 0);
    f->st = ST_RESOLVE;
    f->resolve_started = now;
}

static void resolve_step(struct feed *f, int64_t now)
{
    char err[160] = "";
    int rc = tp_ws_resolve_poll(f->res, f->addr, err, sizeof err);
    if (rc == -EINPROGRESS) {
        if (now - f->resolve_started > RESOLVE_LIMIT_NS) {
            tp_ws_resolve_cancel(f->res);
            INC(f, c_failures);
            retry_later(f, "the name lookup timed out", false);
        }
        return;
    }
    if (rc < 0) {
        INC(f, c_failures);
        retry_later(f, err, false);
        return;
    }
    f->st = ST_CONNECT;
    rc = tp_ws_connect(f->ws, &f->u, f->addr);
    if (rc < 0) {
        INC(f, c_failures);
        retry_later(f, "libwebsockets refused the connection", false);
    }
}

/* Sends the next subscribe request when its turn has come. */
static void send_requests(struct feed *f, int64_t now)
{
    while (f->req_off < f->req.len && now >= f->next_send) {
        const char *s = f->req.p + f->req_off;
        const char *nl = memchr(s, '\n', f->req.len - f->req_off);
        size_t l = nl ? (size_t)(nl - s) : f->req.len - f->req_off;
        int rc = tp_ws_send(f->ws, s, l);
        if (rc == -ENOBUFS) return; /* the queue drains first */
        if (rc < 0) return;
        f->req_off += l + (nl ? 1 : 0);
        f->sent_any = true;
        INC(f, c_subs);
        f->next_send = now + f->send_gap_ns;
        if (f->send_gap_ns) return;
    }
}

static void open_step(struct feed *f, int64_t now)
{
    send_requests(f, now);
    int64_t idle = now - f->last_rx_mono;
    if (idle >= f->o.watchdog_ns) {
        INC(f, c_watchdog);
        f->own_drop = true;
        char why[96], d[32];
        dur(idle, d, sizeof d);
        snprintf(why, sizeof why, "watchdog: no message for %s", d);
        tp_ws_drop(f->ws, why);
        return;
    }
    if (f->max_age_ns && now - f->opened_mono >= f->max_age_ns) {
        INC(f, c_planned);
        f->planned = true;
        f->own_drop = true;
        tp_info("%s: the connection reached the venue's age limit: reconnecting", f->name);
        tp_ws_drop(f->ws, "connection age limit");
        return;
    }
    /* The venue's own keep-alive, on its period. */
    const struct tp_venue *v = f->sp->v;
    bool app_due = v->ping_every_ns && now - f->last_app_ping >= v->ping_every_ns;
    bool probe_due = idle >= f->o.probe_ns && now - f->last_probe_mono >= f->o.probe_ns;
    if (app_due || probe_due) {
        char buf[TP_VENUE_REPLY_MAX + 1];
        struct tp_buf b = {.p = buf, .len = 0, .cap = sizeof buf, .max = sizeof buf};
        int rc = v->ping ? tp_venue_ping(v, ++f->ping_id, &b) : -ENOTSUP;
        if (rc == 0)
            rc = tp_ws_send(f->ws, b.p, b.len);
        else
            rc = tp_ws_ping(f->ws);
        if (rc == 0) INC(f, c_pings);
        f->last_probe_mono = now;
        if (app_due) f->last_app_ping = now;
    }
    if (!f->subscribed) return;
    SET(f, c_state, idle >= f->o.probe_ns ? TP_WS_STALE : TP_WS_SUBSCRIBED);
    if (!f->stable && now - f->subscribed_mono >= STABLE_NS) {
        f->stable = true;
        tp_backoff_reset(&f->bo);
    }
    bool any_held = false;
    for (size_t i = 0; i < f->n && !any_held; i++) any_held = f->in[i].held && !f->in[i].bf_pending;
    if (any_held && now - f->subscribed_mono >= (f->o.settle_ns > 0 ? f->o.settle_ns : 0))
        release_all(f);
    /* A heartbeat claims the data complete up to a venue time: not before the skew between the
     * venue's clock and ours is measured (or the feed turned out to carry no venue times,
     * and its events are stamped with receive times like the heartbeat). */
    if (now >= f->next_hb && (f->have_skew || now - f->subscribed_mono >= SKEW_WAIT_NS)) {
        heartbeat_all(f);
        f->next_hb = now + HEARTBEAT_NS;
    }
}

static void step(struct feed *f)
{
    int64_t now = tp_mono_ns();
    skew_rotate(f, now);
    if (f->bf) tp_backfill_poll(f->bf, on_backfilled, f);
    uint32_t held = 0;
    for (size_t i = 0; i < f->n; i++) held += f->in[i].held;
    SET(f, c_held, held);
    switch (f->st) {
    case ST_WAIT:
        if (now >= f->due) start_attempt(f, now);
        break;
    case ST_RESOLVE:
        resolve_step(f, now);
        break;
    case ST_CONNECT: /* ws.c times the handshake out */
        break;
    case ST_OPEN:
        open_step(f, now);
        break;
    }
}

static void log_summary(struct feed *f)
{
    struct tp_wsfeed_stats s;
    tp_wsfeed_stats(&f->base, &s);
    const struct tp_venue_stats *ps = tp_venue_parser_stats(f->parser);
    char reasons[256] = "";
    size_t o = 0;
    for (int r = 1; r < TP_VR_COUNT; r++)
        if (ps->by_reason[r] && o < sizeof reasons)
            o += (size_t)snprintf(reasons + o, sizeof reasons - o, " %s=%llu",
                                  tp_vreason_name((enum tp_vreason)r),
                                  (unsigned long long)ps->by_reason[r]);
    tp_info("%s: %llu messages, %llu events, %llu unusable%s%s, %llu connects, %llu failed "
            "attempts, %llu disconnects (%llu watchdog, %llu planned), %llu id gaps, %llu outage "
            "gaps, %llu backfilled trades (%llu gaps queued, %llu not recovered)",
            f->name, (unsigned long long)s.messages, (unsigned long long)s.events,
            (unsigned long long)s.bad, o ? ":" : "", reasons, (unsigned long long)s.connects,
            (unsigned long long)s.failures, (unsigned long long)s.disconnects,
            (unsigned long long)s.watchdog, (unsigned long long)s.planned,
            (unsigned long long)s.id_gaps, (unsigned long long)s.outage_gaps,
            (unsigned long long)s.backfill_trades, (unsigned long long)s.backfills,
            (unsigned long long)s.backfill_failed);
}

static int feed_run(struct tp_source *src)
{
    struct feed *f = (struct feed *)src;
    struct tp_ws_handler h = {
        .ctx = f,
        .open = on_open,
        .message = on_message,
        .too_big = on_too_big,
        .pong = on_pong,
        .closed = on_closed,
    };
    struct tp_ws_opts wo = {
        .ca_file = f->ca_file[0] ? f->ca_file : NULL,
        .tick_ns = TICK_NS,
        .connect_timeout_ns = f->o.connect_timeout_ns,
    };
    int rc = tp_ws_new(&wo, &h, &f->ws);
    if (rc < 0) {
        tp_error("%s: cannot start a WebSocket client%s", f->name,
                 f->ca_file[0] ? " (is the CA file readable?)" : "");
        return rc;
    }
    rc = tp_ws_resolver_new(&f->res);
    if (rc < 0) {
        tp_ws_free(f->ws);
        f->ws = NULL;
        return rc;
    }
    if (f->bf_base[0]) {
        struct tp_backfill_opts bo = {.base_url = f->bf_base,
                                      .agg = (f->sp->channels & TP_VCH_AGG) != 0,
                                      .venue = f->bf_venue,
                                      .timeout_ns = f->o.backfill_timeout_ns,
                                      .market = f->sp->market};
        if (tp_backfill_new(&bo, &f->bf) < 0) tp_warn("%s: gap backfill unavailable", f->name);
    }
    /* Instruments the journal shows as connected when the last run ended without a
     * disconnect (a crash): data after their last record is unknown until resubscribed. */
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        struct inst *in = &f->in[i];
        if (!in->seen || in->held) continue;
        in->held = true;
        in->hold_ts = in->last_ts;
        status_init(f, &f->st_ev[k++], i, TP_ST_HOLD, in->last_ts);
    }
    put_status_records(f, k);
    for (size_t i = 0; i < f->n; i++)
        if (f->in[i].held) f->ever_subscribed = true; /* outage gap once resubscribed */
    f->st = ST_WAIT;
    f->due = tp_mono_ns();
    while (!tp_source_stopping(src)) {
        step(f);
        if (tp_ws_service(f->ws) < 0) {
            tp_error("%s: the WebSocket event loop failed", f->name);
            break;
        }
    }
    /* Last records: the connection ends with the run (disconnected, hold). */
    f->stopping = true;
    tp_ws_drop(f->ws, "stopping");
    SET(f, c_state, TP_WS_STOPPED);
    SET(f, c_backoff, 0);
    tp_ws_free(f->ws);
    f->ws = NULL;
    tp_ws_resolver_free(f->res);
    f->res = NULL;
    if (f->bf && tp_backfill_pending(f->bf))
        tp_warn("%s: stopping with %zu gap(s) not backfilled yet", f->name,
                tp_backfill_pending(f->bf));
    tp_backfill_free(f->bf);
    f->bf = NULL;
    log_summary(f);
    return 0;
}

/* ---- resume: the journal's tail ------------------------------------------------------ */

static struct inst *find_inst(struct feed *f, uint32_t id)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->in[i].id == id) return &f->in[i];
    return NULL;
}

static void feed_resume(struct tp_source *src, const struct tp_event *e)
{
    struct feed *f = (struct feed *)src;
    struct inst *in = find_inst(f, e->instr);
    if (!in) return;
    in->seen = true;
    if (e->ts > in->last_ts) in->last_ts = e->ts;
    if (e->kind != TP_KIND_STATUS) return;
    if (e->status == TP_ST_HOLD) {
        in->held = true;
        in->hold_ts = e->ts;
    } else if (e->status == TP_ST_RELEASE) {
        in->held = false;
    } else if (e->status == TP_ST_HEARTBEAT) {
        in->last_hb = TP_MAX(in->last_hb, e->ts);
    }
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static void feed_free(struct tp_source *src)
{
    struct feed *f = (struct feed *)src;
    tp_venue_parser_free(f->parser);
    tp_buf_fini(&f->req);
    free(f->in);
    free(f->ev);
    free(f->st_ev);
    free(f->sp);
    tp_source_fini(src);
    free(f);
}

static const struct tp_source_ops feed_ops = {
    .kind = "venue",
    .resume = feed_resume,
    .run = feed_run,
    .free = feed_free,
};

bool tp_wsfeed_stats(const struct tp_source *src, struct tp_wsfeed_stats *ret)
{
    if (!src || src->ops != &feed_ops) return false;
    struct feed *f = (struct feed *)src;
#define L(c) atomic_load_explicit(&f->c, memory_order_relaxed)
    *ret = (struct tp_wsfeed_stats){
        .connects = L(c_connects),
        .failures = L(c_failures),
        .disconnects = L(c_disconnects),
        .watchdog = L(c_watchdog),
        .planned = L(c_planned),
        .messages = L(c_messages),
        .events = L(c_events),
        .bad = L(c_bad),
        .too_big = L(c_too_big),
        .venue_errors = L(c_venue_errors),
        .id_gaps = L(c_id_gaps),
        .outage_gaps = L(c_outage_gaps),
        .pings_sent = L(c_pings),
        .pongs = L(c_pongs),
        .subscribes_sent = L(c_subs),
        .backfills = L(c_bf_gaps),
        .backfill_trades = L(c_bf_trades),
        .backfill_failed = L(c_bf_failed),
        .connected = L(c_connected),
        .attempts = L(c_attempts),
        .peer_closed = L(c_dc_peer),
        .errors = L(c_dc_error),
        .stopped = L(c_dc_stop),
        .bytes = L(c_bytes),
        .acks = L(c_acks),
        .pings_answered = L(c_ping_replies),
        .backfilled_gaps = L(c_bf_done),
        .held = L(c_held),
        .instruments = (uint32_t)f->n,
        .state = (uint8_t)L(c_state),
        .backoff_ns = L(c_backoff),
        .last_rx_real = L(c_last_rx),
        .have_skew = L(c_have_skew),
        .skew_ns = L(c_skew),
    };
#undef L
    return true;
}

/* The REST API of the gap backfill for the source's venue: an explicit VENUE-rest= endpoint,
 * else the public one unless the WebSocket endpoint was replaced (a testnet or a test server:
 * its REST API is elsewhere, or nowhere). Venues without one leave gaps reported only. */
static void set_backfill(struct feed *f, const struct tp_wsfeed_opts *o)
{
    static const struct {
        const char *venue, *key, *url;
        enum tp_backfill_venue bv;
    } apis[] = {
        {"binance", "binance-rest=", "https://api.binance.com", TP_BACKFILL_BINANCE},
        {"coinbase", "coinbase-rest=", "https://api.exchange.coinbase.com", TP_BACKFILL_COINBASE},
        {"okx", "okx-rest=", "https://www.okx.com", TP_BACKFILL_OKX},
        {"bybit", "bybit-rest=", "https://api.bybit.com", TP_BACKFILL_BYBIT},
    };
    const char *name = f->sp->v->name;
    size_t k = 0;
    while (k < TP_ARRAY_LEN(apis) && strcmp(apis[k].venue, name)) k++;
    if (k == TP_ARRAY_LEN(apis)) return;
    if (apis[k].bv == TP_BACKFILL_BYBIT && f->sp->market[0] && strcmp(f->sp->market, "linear") &&
        strcmp(f->sp->market, "inverse") && strcmp(f->sp->market, "spot"))
        return; /* options: recent-trade needs a base coin, not a symbol */
    const char *rest = NULL;
    bool ws_over = false;
    size_t kl = strlen(apis[k].key), vl = strlen(name);
    for (size_t i = 0; i < o->nendpoints; i++) {
        const char *e = o->endpoints[i];
        if (!strncmp(e, apis[k].key, kl)) rest = e + kl;
        if (!strncmp(e, name, vl) && (e[vl] == '=' || e[vl] == '/')) ws_over = true;
    }
    if (!rest && !ws_over) rest = apis[k].url;
    if (rest && strlen(rest) < sizeof f->bf_base) {
        memcpy(f->bf_base, rest, strlen(rest) + 1);
        f->bf_venue = apis[k].bv;
        f->bf_window = apis[k].bv == TP_BACKFILL_OKX || apis[k].bv == TP_BACKFILL_BYBIT;
        tp_backfill_global_init();
    } else if (ws_over) {
        tp_info("%s: gaps are reported, not backfilled: --endpoint %s= is set without %s", f->name,
                name, apis[k].key);
    }
}

int tp_wsfeed_source_new(const char *spec, const struct tp_wsfeed_opts *o, struct tp_source **ret,
                         char *err, size_t errcap)
{
    struct feed *f = calloc(1, sizeof *f);
    if (!f) return -ENOMEM;
    /* lws's notices (its version, each connection) are noise here; errors and warnings stay.
     * The level is global to lws: the HTTP server sets the same one. */
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    tp_source_init(&f->base, &feed_ops, spec, true);
    atomic_store_explicit(&f->base.link, TP_ST_DISCONNECTED, memory_order_relaxed);
    tp_buf_init(&f->req, REQ_BUF_MAX);
    int rc = -ENOMEM;
    f->sp = malloc(sizeof *f->sp);
    if (!f->sp) goto out;
    rc = tp_wsfeed_parse_spec(spec, f->sp, err, errcap);
    if (rc < 0) goto out;
    struct tp_wsfeed_spec *sp = f->sp;
    rc = tp_wsfeed_url(sp, o, f->url, sizeof f->url, err, errcap);
    if (rc < 0) goto out;
    tp_ws_url_parse(f->url, &f->u);
    hide_token(f->url, f->shown, sizeof f->shown);
    snprintf(f->namebuf, sizeof f->namebuf, "%s%s%s", sp->v->name, sp->market[0] ? "/" : "",
             sp->market);
    f->name = f->namebuf;
    if (o) f->o = *o;
    f->o.endpoints = NULL;
    f->o.nendpoints = 0;
    f->o.finnhub_token = NULL;
    f->o.ca_file = NULL;
    if (o && o->ca_file) {
        if (strlen(o->ca_file) >= sizeof f->ca_file) {
            rc = fail(err, errcap, "has a --venue-ca-file path longer than %zu bytes",
                      sizeof f->ca_file - 1);
            goto out;
        }
        memcpy(f->ca_file, o->ca_file, strlen(o->ca_file) + 1);
    }
    if (f->o.watchdog_ns <= 0) f->o.watchdog_ns = 30 * TP_NS_PER_SEC;
    if (f->o.probe_ns <= 0) f->o.probe_ns = f->o.watchdog_ns / 3;
    if (f->o.backoff_min_ns <= 0) f->o.backoff_min_ns = 500 * TP_NS_PER_MS;
    if (f->o.backoff_max_ns <= 0) f->o.backoff_max_ns = 60 * TP_NS_PER_SEC;
    if (f->o.settle_ns == 0) f->o.settle_ns = TP_NS_PER_SEC;
    tp_backoff_init(&f->bo, f->o.backoff_min_ns, f->o.backoff_max_ns,
                    (uint64_t)tp_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)f);
    /* Binance counts every incoming message against 5 per second; the others are generous. */
    f->send_gap_ns = !strcmp(sp->v->name, "binance") ? 250 * TP_NS_PER_MS : 20 * TP_NS_PER_MS;
    f->max_age_ns =
        !strcmp(sp->v->name, "binance") ? 23 * 3600 * TP_NS_PER_SEC + 50 * 60 * TP_NS_PER_SEC : 0;
    f->quote_only = !(sp->channels & TP_VCH_TRADES) && (sp->channels & TP_VCH_QUOTES);
    if (o && o->backfill && (sp->channels & TP_VCH_TRADES)) set_backfill(f, o);
    rc = tp_wsfeed_requests(sp, &f->req);
    if (rc < 0) {
        snprintf(err, errcap, "cannot build the subscribe requests");
        goto out;
    }
    f->nreq = (size_t)rc;
    rc = -ENOMEM;
    f->n = sp->nsyms;
    f->in = calloc(f->n, sizeof *f->in);
    f->st_ev = calloc(f->n, sizeof *f->st_ev);
    f->evcap = EV_START;
    f->ev = malloc(f->evcap * sizeof *f->ev);
    if (!f->in || !f->st_ev || !f->ev) goto out;
    for (size_t i = 0; i < f->n; i++) {
        struct inst *in = &f->in[i];
        rc = tp_instr_intern(sp->instr[i], strlen(sp->instr[i]), &in->id);
        if (rc < 0) {
            snprintf(err, errcap, "cannot register instrument %s", sp->instr[i]);
            goto out;
        }
        size_t vl = strlen(sp->native[i]);
        memcpy(in->vsym, sp->native[i], vl + 1);
        in->vlen = (uint8_t)vl;
        in->last_hb = INT64_MIN;
        in->last_ts = INT64_MIN;
        in->last_trade_ts = INT64_MIN;
        in->bf_last.ts = in->bf_from.ts = in->bf_first.ts = INT64_MIN;
        in->bf_want_first = true; /* an outage before this run ends at the first trade */
    }
    struct tp_venue_opts vo = {.market = sp->market[0] ? sp->market : NULL};
    rc = tp_venue_parser_new(sp->v, &vo, &f->parser);
    if (rc < 0) {
        snprintf(err, errcap, "cannot create the %s parser", sp->v->name);
        goto out;
    }
    *ret = &f->base;
    return 0;
out:
    if (rc == -ENOMEM) snprintf(err, errcap, "out of memory");
    feed_free(&f->base);
    return rc;
}
