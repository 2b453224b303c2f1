/*
 * connstats.c — one operator-facing snapshot of a WebSocket or REST connector (see
 * connstats.h): reads the connector's own atomics through tp_wsfeed_stats / tp_rest_stats
 * and maps them onto struct tp_connstats, turning monotonic deadlines into real times.
 */
#include "source/connstats.h"
#include "source/rest.h"
#include "source/wsfeed.h"

static const char *const ws_names[TP_WS_STATES] = {"connecting", "connected", "subscribed",
                                                   "stale",      "backoff",   "stopped"};
static const char *const rest_names[TP_RS_STATES] = {"waiting", "ok", "degraded", "failing",
                                                     "rate_limited"};
static const char *const dc_names[TP_DC_REASONS] = {"peer", "stale", "planned", "error", "stop"};

const char *tp_ws_state_name(unsigned st)
{
    return st < TP_WS_STATES ? ws_names[st] : "";
}

const char *tp_rest_state_name(unsigned st)
{
    return st < TP_RS_STATES ? rest_names[st] : "";
}

const char *tp_ws_dc_name(unsigned r)
{
    return r < TP_DC_REASONS ? dc_names[r] : "";
}

/* The venue part of a spec: "bybit/linear:BTCUSDT" → "bybit". */
static void venue_of(const char *spec, char *out, size_t cap)
{
    size_t n = strcspn(spec, ":/@");
    if (n >= cap) n = cap - 1;
    memcpy(out, spec, n);
    out[n] = 0;
}

static void from_ws(const struct tp_wsfeed_stats *w, struct tp_connstats *c)
{
    c->kind = TP_CONN_WS;
    c->state = w->state < TP_WS_STATES ? w->state : TP_WS_CONNECTING;
    c->last_rx = w->last_rx_real;
    c->backoff_ns = c->state == TP_WS_BACKOFF ? w->backoff_ns : 0;
    c->connects = w->connects;
    c->attempts = w->attempts;
    c->failures = w->failures;
    c->disconnects[TP_DC_PEER] = w->peer_closed;
    c->disconnects[TP_DC_STALE] = w->watchdog;
    c->disconnects[TP_DC_PLANNED] = w->planned;
    c->disconnects[TP_DC_ERROR] = w->errors;
    c->disconnects[TP_DC_STOP] = w->stopped;
    c->sub_requests = w->subscribes_sent;
    c->sub_acks = w->acks;
    c->messages = w->messages;
    c->bytes = w->bytes;
    c->malformed = w->bad + w->too_big;
    c->venue_errors = w->venue_errors;
    c->pings_sent = w->pings_sent;
    c->pongs = w->pongs;
    c->pings_answered = w->pings_answered;
    c->held = w->held;
    c->instruments = w->instruments;
    c->have_skew = w->have_skew;
    c->skew_ns = w->have_skew ? w->skew_ns : 0;
    c->id_gaps = w->id_gaps;
    c->outage_gaps = w->outage_gaps;
    c->backfilled_gaps = w->backfilled_gaps;
    c->backfill_failed = w->backfill_failed;
    c->backfilled_trades = w->backfill_trades;
}

static void from_rest(const struct tp_rest_stats *r, int64_t now_real, int64_t now_mono,
                      struct tp_connstats *c)
{
    c->kind = TP_CONN_REST;
    c->state = r->state < TP_RS_STATES ? r->state : TP_RS_WAITING;
    c->last_rx = r->last_ok_real;
    c->resume_at = r->resume_mono > now_mono ? now_real + (r->resume_mono - now_mono) : 0;
    c->polls = r->requests;
    c->successes = r->ok;
    c->timeouts = r->timeouts;
    c->transport = r->transport;
    c->http_5xx = r->http_5xx;
    c->http_other = r->http_other;
    uint64_t other = r->http_5xx + r->http_other;
    c->http_4xx = r->http_errors > other ? r->http_errors - other : 0;
    c->http_429 = r->rate_limited;
    c->notes = r->notes;
    c->venue_errors = r->venue_errors;
    c->bad = r->bad;
    c->failing = r->failing;
    c->instruments = r->n;
    c->nsyms = TP_MIN(r->n, (uint32_t)TP_CONN_SYMS);
    for (uint32_t i = 0; i < c->nsyms; i++)
        c->sym[i] = (struct tp_conn_sym){
            .instr = r->sym_instr[i], .failing = r->sym_failing[i], .errors = r->sym_errors[i]};
}

bool tp_source_connstats(const struct tp_source *s, int64_t now_real, int64_t now_mono,
                         struct tp_connstats *ret)
{
    struct tp_wsfeed_stats w;
    if (tp_wsfeed_stats(s, &w)) {
        memset(ret, 0, sizeof *ret);
        venue_of(s->spec, ret->venue, sizeof ret->venue);
        from_ws(&w, ret);
        return true;
    }
    struct tp_rest_stats r;
    if (tp_rest_stats(s, &r)) {
        memset(ret, 0, sizeof *ret);
        venue_of(s->spec, ret->venue, sizeof ret->venue);
        from_rest(&r, now_real, now_mono, ret);
        return true;
    }
    return false;
}
