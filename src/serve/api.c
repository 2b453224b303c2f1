/*
 * api.c — the JSON API routes (see api.h; fields in docs/api.md).
 *
 * Each handler validates every parameter first, then copies what it needs out of the live
 * store into a heap array sized by the (capped) limit, then formats without holding any lock.
 */
#include <math.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "serve/api.h"
#include "serve/json.h"
#include "serve/rows.h"

#define LIMIT_MAX 10000

const int tp_api_codes[TP_API_CODES] = {101, 200, 204, 304, 400, 401, 403, 404, 405, 413, 500, 503};

static const struct {
    const char *path;
    enum tp_route r;
} routes[] = {
    {"/healthz", TP_ROUTE_HEALTHZ},
    {"/metrics", TP_ROUTE_METRICS},
    {"/api/instruments", TP_ROUTE_INSTRUMENTS},
    {"/api/bars", TP_ROUTE_BARS},
    {"/api/ticks", TP_ROUTE_TICKS},
    {"/api/anomalies", TP_ROUTE_ANOMALIES},
    {"/api/quality", TP_ROUTE_QUALITY},
    {"/api/health", TP_ROUTE_HEALTH},
    {"/api/stream", TP_ROUTE_STREAM},
};

enum tp_route tp_api_route(const char *path)
{
    for (size_t i = 0; i < TP_ARRAY_LEN(routes); i++)
        if (!strcmp(path, routes[i].path)) return routes[i].r;
    return TP_ROUTE_OTHER;
}

const char *tp_api_route_name(enum tp_route r)
{
    if (r == TP_ROUTE_ASSET) return "asset";
    for (size_t i = 0; i < TP_ARRAY_LEN(routes); i++)
        if (routes[i].r == r) return routes[i].path;
    return "other";
}

void tp_api_count(struct tp_serve_stats *ss, enum tp_route r, int status)
{
    size_t k = 0;
    while (k < TP_API_CODES && tp_api_codes[k] != status) k++;
    if ((unsigned)r < TP_ROUTE_N) ss->requests[r][k]++;
}

void tp_api_error(struct tp_buf *body, const char *msg)
{
    struct tp_jw w;
    tp_buf_reset(body);
    tp_jw_init(&w, body);
    tp_jw_obj(&w);
    tp_jw_key(&w, "error");
    tp_jw_str(&w, msg);
    tp_jw_obj_end(&w);
}

/* ---- Parameters ---- */

struct params {
    const struct tp_api_param *p;
    size_t n;
    char err[160];
};

/* The error messages name the parameter: "bad parameter 'limit': expected ...". */
static int bad(struct params *ps, const char *key, const char *why)
{
    snprintf(ps->err, sizeof(ps->err), "bad parameter '%s': %s", key, why);
    return -EINVAL;
}

static int missing(struct params *ps, const char *key)
{
    snprintf(ps->err, sizeof(ps->err), "missing parameter '%s'", key);
    return -EINVAL;
}

/* Every parameter must be one of `allowed` (a NULL-terminated list) and appear once. */
static int check_names(struct params *ps, const char *const *allowed)
{
    for (size_t i = 0; i < ps->n; i++) {
        const char *k = ps->p[i].key;
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(*a, k);
        if (!ok) {
            /* Echo a bounded, printable part of the unknown name only. */
            char safe[40];
            size_t j = 0;
            for (; k[j] && j < sizeof(safe) - 1; j++)
                safe[j] = (k[j] >= 0x20 && k[j] < 0x7f) ? k[j] : '?';
            safe[j] = 0;
            snprintf(ps->err, sizeof(ps->err), "unknown parameter '%s'", safe);
            return -EINVAL;
        }
        for (size_t m = 0; m < i; m++)
            if (!strcmp(ps->p[m].key, k)) {
                snprintf(ps->err, sizeof(ps->err), "parameter '%s' given twice", k);
                return -EINVAL;
            }
    }
    return 0;
}

static const char *get(const struct params *ps, const char *key)
{
    for (size_t i = 0; i < ps->n; i++)
        if (!strcmp(ps->p[i].key, key)) return ps->p[i].val;
    return NULL;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s), i = 0;
    if (n == 0 || n > TP_INSTR_NAMELEN) return false;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
        i++;
    if (i == 0 || i == n || s[i] != ':') return false;
    size_t j = ++i;
    for (; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return i > j;
}

/* instrument: required or optional; *ret 0 for a well-formed name not seen yet. */
static int p_instrument(struct params *ps, bool required, bool *given, uint32_t *ret)
{
    const char *v = get(ps, "instrument");
    *given = v != NULL;
    *ret = 0;
    if (!v) return required ? missing(ps, "instrument") : 0;
    if (!valid_name(v))
        return bad(ps, "instrument",
                   "expected venue:SYMBOL (venue a-z 0-9 _, symbol A-Z 0-9 . _ -)");
    *ret = tp_instr_find(v, strlen(v));
    return 0;
}

static int p_time(struct params *ps, const char *key, int64_t def, int64_t *ret)
{
    const char *v = get(ps, key);
    if (!v) {
        *ret = def;
        return 0;
    }
    if (tp_time_parse(v, strlen(v), TP_TS_AUTO, ret))
        return bad(ps, key, "expected an RFC 3339 time or an epoch number (s, ms, us or ns)");
    return 0;
}

static int p_limit(struct params *ps, size_t def, size_t *ret)
{
    const char *v = get(ps, "limit");
    if (!v) {
        *ret = def;
        return 0;
    }
    size_t n = 0, i = 0;
    for (; v[i] >= '0' && v[i] <= '9' && i < 6; i++) n = n * 10 + (size_t)(v[i] - '0');
    if (i == 0 || v[i] || n < 1 || n > LIMIT_MAX)
        return bad(ps, "limit", "expected an integer from 1 to 10000");
    *ret = n;
    return 0;
}

static int p_interval(struct params *ps, int64_t *ret)
{
    const char *v = get(ps, "interval");
    if (!v) {
        *ret = 60 * TP_NS_PER_SEC;
        return 0;
    }
    if (tp_duration_parse(v, ret) || *ret <= 0)
        return bad(ps, "interval", "expected a duration such as 1s, 1m, 5m, 15m, 1h, 1d");
    return 0;
}

/* ---- Routes ---- */

static int r_instruments(struct tp_live *l, struct params *ps, struct tp_jw *w)
{
    static const char *const allowed[] = {NULL};
    if (check_names(ps, allowed)) return 400;
    struct tp_live_cfg c;
    tp_live_get_cfg(l, &c);
    struct tp_live_instr *v = malloc((size_t)c.max_instruments * sizeof(*v));
    if (!v) return 500;
    size_t n = tp_live_instruments(l, v, c.max_instruments);
    tp_jw_arr(w);
    for (size_t i = 0; i < n; i++) tp_row_instrument(w, &v[i]);
    tp_jw_arr_end(w);
    free(v);
    return 200;
}

static int bars_params(struct params *ps, struct tp_api_bars_req *r)
{
    static const char *const allowed[] = {"instrument", "interval", "from", "to", "limit", NULL};
    bool given;
    if (check_names(ps, allowed) || p_instrument(ps, true, &given, &r->id) ||
        p_interval(ps, &r->interval_ns) || p_time(ps, "from", INT64_MIN, &r->from) ||
        p_time(ps, "to", INT64_MAX, &r->to) || p_limit(ps, 500, &r->limit))
        return 400;
    if (r->from > r->to) return bad(ps, "from", "after 'to'"), 400;
    snprintf(r->instrument, sizeof r->instrument, "%s", get(ps, "instrument"));
    return 0;
}

int tp_api_bars_parse(const struct tp_api_param *p, size_t np, struct tp_api_bars_req *ret,
                      struct tp_buf *body)
{
    struct params ps = {.p = p, .n = np, .err = ""};
    memset(ret, 0, sizeof *ret);
    if (bars_params(&ps, ret) == 0) return 0;
    tp_api_error(body, ps.err);
    return 400;
}

/* The live store's bars of r merged with hist (see api.h), formatted into w. 0 when
 * live_only_if_full and the live store holds fewer than r->limit bars; else 200 or 500. */
static int bars_merge(struct tp_live *l, const struct tp_api_bars_req *r, const struct tp_bar *hist,
                      size_t nhist, bool live_only_if_full, struct tp_jw *w)
{
    struct tp_live_cfg c;
    tp_live_get_cfg(l, &c);
    size_t cap = TP_MIN(r->limit, (size_t)c.bars + TP_LIVE_OPEN_MAX);
    struct tp_bar *v = malloc(cap * sizeof(*v));
    if (!v) return 500;
    size_t n = r->id ? tp_live_bars(l, r->id, r->interval_ns, r->from, r->to, v, cap) : 0;
    if (live_only_if_full && n < r->limit) {
        free(v);
        return 0;
    }
    const struct tp_bar *out = v;
    struct tp_bar *m = NULL;
    if (nhist) {
        /* Merge two ts-ordered runs; the live bar wins on an equal ts. */
        struct tp_bar *dst = malloc((n + nhist) * sizeof(*dst));
        if (!dst) {
            free(v);
            return 500;
        }
        size_t i = 0, j = 0, k = 0;
        while (i < n || j < nhist) {
            if (j == nhist || (i < n && v[i].ts <= hist[j].ts)) {
                if (j < nhist && hist[j].ts == v[i].ts) j++;
                dst[k++] = v[i++];
            } else {
                dst[k++] = hist[j++];
            }
        }
        m = dst;
        out = dst + (k > r->limit ? k - r->limit : 0);
        n = TP_MIN(k, r->limit);
    }
    tp_jw_arr(w);
    for (size_t i = 0; i < n; i++) tp_row_bar(w, &out[i]);
    tp_jw_arr_end(w);
    free(m);
    free(v);
    return 200;
}

int tp_api_bars_answer(struct tp_live *l, const struct tp_api_bars_req *r,
                       const struct tp_bar *hist, size_t nhist, bool live_only_if_full,
                       struct tp_buf *body, const char **ctype)
{
    struct tp_jw w;
    tp_buf_reset(body);
    tp_jw_init(&w, body);
    *ctype = "application/json";
    int status = bars_merge(l, r, hist, nhist, live_only_if_full, &w);
    if (status == 0) {
        tp_buf_reset(body);
        return 0;
    }
    if (status == 500 || w.err) {
        status = 500;
        tp_api_error(body, w.err == -E2BIG ? "response too large" : "out of memory");
    }
    return status;
}

static int r_bars(struct tp_live *l, struct params *ps, struct tp_jw *w)
{
    struct tp_api_bars_req r;
    memset(&r, 0, sizeof r);
    if (bars_params(ps, &r)) return 400;
    return bars_merge(l, &r, NULL, 0, false, w);
}

static int r_ticks(struct tp_live *l, struct params *ps, struct tp_jw *w)
{
    static const char *const allowed[] = {"instrument", "limit", NULL};
    uint32_t id;
    bool given;
    size_t limit;
    if (check_names(ps, allowed) || p_instrument(ps, true, &given, &id) || p_limit(ps, 100, &limit))
        return 400;
    struct tp_live_cfg c;
    tp_live_get_cfg(l, &c);
    size_t cap = TP_MIN(limit, (size_t)c.ticks);
    struct tp_event *v = malloc(cap * sizeof(*v));
    if (!v) return 500;
    size_t n = id ? tp_live_ticks(l, id, v, cap) : 0;
    tp_jw_arr(w);
    for (size_t i = 0; i < n; i++) tp_row_tick(w, &v[i]);
    tp_jw_arr_end(w);
    free(v);
    return 200;
}

static int r_anomalies(struct tp_live *l, struct params *ps, struct tp_jw *w)
{
    static const char *const allowed[] = {"since", "instrument", "limit", NULL};
    uint32_t id;
    bool given;
    int64_t since;
    size_t limit;
    if (check_names(ps, allowed) || p_time(ps, "since", INT64_MIN, &since) ||
        p_instrument(ps, false, &given, &id) || p_limit(ps, 100, &limit))
        return 400;
    struct tp_live_cfg c;
    tp_live_get_cfg(l, &c);
    size_t cap = TP_MIN(limit, (size_t)c.anomalies);
    struct tp_anomaly *v = malloc(cap * sizeof(*v));
    if (!v) return 500;
    /* A well-formed instrument not seen yet has no anomalies. */
    size_t n = given && !id ? 0 : tp_live_anomalies(l, since, id, v, cap);
    tp_jw_arr(w);
    for (size_t i = 0; i < n; i++) tp_row_anomaly(w, &v[i]);
    tp_jw_arr_end(w);
    free(v);
    return 200;
}

static int r_quality(struct tp_live *l, struct params *ps, struct tp_jw *w)
{
    static const char *const allowed[] = {NULL};
    if (check_names(ps, allowed)) return 400;
    /* The latest `tickpipe validate` report, published by the quality watcher (ops/qwatch.h):
     * [report], or [] before any. Written around the JSON writer, which stays untouched. */
    int rc = tp_buf_putc(w->b, '[');
    if (rc == 0) rc = tp_live_quality(l, w->b);
    if (rc >= 0) rc = tp_buf_putc(w->b, ']');
    if (rc < 0) w->err = rc;
    return 200;
}

static void key_u64(struct tp_jw *w, const char *k, uint64_t v)
{
    tp_jw_key(w, k);
    tp_jw_u64(w, v);
}

/* Seconds from t to now, millisecond resolution; null when t is 0 (never). */
static void key_age(struct tp_jw *w, const char *k, int64_t t, int64_t now)
{
    tp_jw_key(w, k);
    if (!t)
        tp_jw_null(w);
    else
        tp_jw_num(w, (double)((now > t ? now - t : 0) / TP_NS_PER_MS) / 1e3);
}

/* A source's connector statistics (source/connstats.h; docs/api.md lists the fields). */
static void connector_obj(struct tp_jw *w, const struct tp_connstats *c, int64_t now)
{
    tp_jw_obj(w);
    tp_jw_key(w, "kind");
    tp_jw_str(w, c->kind == TP_CONN_WS ? "websocket" : "rest");
    tp_jw_key(w, "venue");
    tp_jw_str(w, c->venue);
    tp_jw_key(w, "state");
    tp_jw_str(w, c->kind == TP_CONN_WS ? tp_ws_state_name(c->state) : tp_rest_state_name(c->state));
    if (c->kind == TP_CONN_WS) {
        key_u64(w, "connect_attempts", c->attempts);
        key_u64(w, "connects", c->connects);
        key_u64(w, "connect_failures", c->failures);
        tp_jw_key(w, "disconnects");
        tp_jw_obj(w);
        for (unsigned r = 0; r < TP_DC_REASONS; r++)
            key_u64(w, tp_ws_dc_name(r), c->disconnects[r]);
        tp_jw_obj_end(w);
        tp_jw_key(w, "backoff_s");
        tp_jw_num(w, (double)(c->backoff_ns / TP_NS_PER_MS) / 1e3);
        key_u64(w, "subscribe_requests", c->sub_requests);
        key_u64(w, "subscribe_acks", c->sub_acks);
        key_u64(w, "messages", c->messages);
        key_u64(w, "bytes", c->bytes);
        key_u64(w, "malformed", c->malformed);
        key_u64(w, "venue_errors", c->venue_errors);
        key_u64(w, "pings_sent", c->pings_sent);
        key_u64(w, "pongs", c->pongs);
        key_u64(w, "venue_pings_answered", c->pings_answered);
        key_u64(w, "instruments", c->instruments);
        key_u64(w, "held_instruments", c->held);
        key_age(w, "last_message_age_s", c->last_rx, now);
        tp_jw_key(w, "clock_skew_ms");
        if (c->have_skew)
            tp_jw_num(w, (double)c->skew_ns / 1e6);
        else
            tp_jw_null(w);
        tp_jw_key(w, "gaps");
        tp_jw_obj(w);
        key_u64(w, "id", c->id_gaps);
        key_u64(w, "outage", c->outage_gaps);
        tp_jw_obj_end(w);
        key_u64(w, "backfilled_gaps", c->backfilled_gaps);
        key_u64(w, "backfill_failed", c->backfill_failed);
        key_u64(w, "backfilled_trades", c->backfilled_trades);
    } else {
        key_u64(w, "polls", c->polls);
        key_u64(w, "successes", c->successes);
        tp_jw_key(w, "http_errors");
        tp_jw_obj(w);
        key_u64(w, "4xx", c->http_4xx);
        key_u64(w, "5xx", c->http_5xx);
        key_u64(w, "other", c->http_other);
        tp_jw_obj_end(w);
        key_u64(w, "timeouts", c->timeouts);
        key_u64(w, "transport_errors", c->transport);
        tp_jw_key(w, "rate_limited");
        tp_jw_obj(w);
        key_u64(w, "http_429", c->http_429);
        key_u64(w, "note", c->notes);
        tp_jw_obj_end(w);
        key_u64(w, "venue_errors", c->venue_errors);
        key_u64(w, "malformed", c->bad);
        tp_jw_key(w, "backoff_s");
        tp_jw_num(w,
                  c->resume_at > now ? (double)((c->resume_at - now) / TP_NS_PER_MS) / 1e3 : 0.0);
        key_age(w, "last_success_age_s", c->last_rx, now);
        key_u64(w, "failing_instruments", c->failing);
        tp_jw_key(w, "instruments");
        tp_jw_arr(w);
        for (uint32_t k = 0; k < c->nsyms; k++) {
            tp_jw_obj(w);
            tp_jw_key(w, "instrument");
            tp_jw_str(w, tp_instr_name(c->sym[k].instr));
            key_u64(w, "errors", c->sym[k].errors);
            tp_jw_key(w, "failing");
            tp_jw_bool(w, c->sym[k].failing);
            tp_jw_obj_end(w);
        }
        tp_jw_arr_end(w);
    }
    tp_jw_obj_end(w);
}

/* what: 0 sources (with st's connectors), 1 sinks, 2 queues. */
static void named_arr(struct tp_jw *w, const char *key, const struct tp_live_named *v, uint32_t n,
                      int what, const struct tp_live_stats *st, int64_t now)
{
    tp_jw_key(w, key);
    tp_jw_arr(w);
    for (uint32_t i = 0; i < n; i++) {
        tp_jw_obj(w);
        tp_jw_key(w, "name");
        tp_jw_str(w, v[i].name);
        if (what == 0) {
            tp_jw_key(w, "status");
            tp_jw_str_or_null(w, tp_status_name((enum tp_status)v[i].status));
            tp_jw_key(w, "events");
            tp_jw_u64(w, v[i].events);
            tp_jw_key(w, "dropped");
            tp_jw_u64(w, v[i].dropped);
            tp_jw_key(w, "connector"); /* null: not a WebSocket venue or REST poller */
            if (st && st->has_conn[i])
                connector_obj(w, &st->conn[i], now);
            else
                tp_jw_null(w);
        } else if (what == 1) {
            tp_jw_key(w, "records");
            tp_jw_u64(w, v[i].events);
            tp_jw_key(w, "errors");
            tp_jw_u64(w, v[i].dropped);
            tp_jw_key(w, "up"); /* null: not reported (lag too) */
            if (v[i].health)
                tp_jw_bool(w, v[i].up);
            else
                tp_jw_null(w);
            tp_jw_key(w, "lag");
            if (v[i].health)
                tp_jw_u64(w, v[i].lag);
            else
                tp_jw_null(w);
            tp_jw_key(w, "error");
            tp_jw_str(w, v[i].error);
        } else {
            tp_jw_key(w, "depth");
            tp_jw_u64(w, v[i].depth);
            tp_jw_key(w, "capacity");
            tp_jw_u64(w, v[i].capacity);
            tp_jw_key(w, "dropped");
            tp_jw_u64(w, v[i].dropped);
        }
        tp_jw_obj_end(w);
    }
    tp_jw_arr_end(w);
}

static void i64_or_null(struct tp_jw *w, const char *key, int64_t v)
{
    tp_jw_key(w, key);
    if (v < 0)
        tp_jw_null(w);
    else
        tp_jw_i64(w, v);
}

/* The Kafka roles of this process (empty without Kafka); -1 figures are null. */
static void kafka_arr(struct tp_jw *w, const struct tp_live_kafka *v, uint32_t n)
{
    tp_jw_key(w, "kafka");
    tp_jw_arr(w);
    for (uint32_t i = 0; i < n; i++) {
        tp_jw_obj(w);
        tp_jw_key(w, "role");
        tp_jw_str(w, v[i].role);
        i64_or_null(w, "producer_queue", v[i].producer_queue);
        i64_or_null(w, "producer_queue_capacity",
                    v[i].producer_queue < 0 ? -1 : v[i].producer_queue_cap);
        tp_jw_key(w, "delivery_latency_ms");
        if (v[i].delivery_latency_us < 0)
            tp_jw_null(w);
        else
            tp_jw_num(w, (double)v[i].delivery_latency_us / 1e3);
        i64_or_null(w, "consumer_lag", v[i].consumer_lag);
        tp_jw_key(w, "partitions");
        tp_jw_u64(w, v[i].partitions);
        tp_jw_key(w, "rebalances");
        tp_jw_u64(w, v[i].rebalances);
        tp_jw_key(w, "delivered");
        tp_jw_u64(w, v[i].delivered);
        tp_jw_key(w, "failed");
        tp_jw_u64(w, v[i].failed);
        tp_jw_key(w, "consumed");
        tp_jw_u64(w, v[i].consumed);
        tp_jw_key(w, "errors");
        tp_jw_u64(w, v[i].errors);
        tp_jw_key(w, "retries");
        tp_jw_u64(w, v[i].retries);
        tp_jw_key(w, "timeouts");
        tp_jw_u64(w, v[i].timeouts);
        tp_jw_key(w, "disconnects");
        tp_jw_u64(w, v[i].disconnects);
        tp_jw_obj_end(w);
    }
    tp_jw_arr_end(w);
}

static void ms_or_null(struct tp_jw *w, const char *key, int64_t ns)
{
    tp_jw_key(w, key);
    if (ns < 0)
        tp_jw_null(w);
    else
        tp_jw_num(w, (double)ns / 1e6);
}

void tp_api_health(struct tp_jw *w, const struct tp_live_stats *st, const struct tp_serve_stats *ss)
{
    int64_t now = tp_now_ns();
    uint64_t an = 0;
    for (int k = 0; k < TP_AN_KINDS; k++) an += st->anomalies_by_kind[k];
    tp_jw_obj(w);
    tp_jw_key(w, "ts");
    tp_jw_time(w, now);
    tp_jw_key(w, "uptime_s");
    tp_jw_num(w, (double)((now - ss->started_ns) / TP_NS_PER_MS) / 1e3);
    tp_jw_key(w, "events_in");
    tp_jw_u64(w, st->c.events_in);
    tp_jw_key(w, "events_out");
    tp_jw_u64(w, st->c.events_out);
    tp_jw_key(w, "events_live");
    tp_jw_u64(w, st->published);
    tp_jw_key(w, "events_per_s");
    tp_jw_num(w, ss->events_per_s);
    ms_or_null(w, "lag_ms", st->c.lag_ns);
    ms_or_null(w, "watermark_lag_ms", st->c.watermark_lag_ns);
    tp_jw_key(w, "late");
    tp_jw_u64(w, st->c.late);
    tp_jw_key(w, "duplicates");
    tp_jw_u64(w, st->c.duplicates);
    tp_jw_key(w, "bad");
    tp_jw_u64(w, st->c.bad);
    tp_jw_key(w, "bars_emitted");
    tp_jw_u64(w, st->bars_final);
    tp_jw_key(w, "anomalies");
    tp_jw_u64(w, an);
    tp_jw_key(w, "instruments");
    tp_jw_u64(w, st->instruments);
    tp_jw_key(w, "stream_clients");
    tp_jw_u64(w, ss->stream_ws + ss->stream_sse);
    named_arr(w, "sources", st->sources, st->nsources, 0, st, now);
    named_arr(w, "sinks", st->sinks, st->nsinks, 1, NULL, now);
    named_arr(w, "queues", st->queues, st->nqueues, 2, NULL, now);
    kafka_arr(w, st->kafka, st->nkafka);
    tp_jw_obj_end(w);
}

int tp_api_get(struct tp_live *l, const struct tp_serve_stats *ss, enum tp_route r,
               const struct tp_api_param *p, size_t np, struct tp_buf *body, const char **ctype)
{
    static const char *const none[] = {NULL};
    struct params ps = {.p = p, .n = np, .err = ""};
    struct tp_jw w;
    struct tp_live_stats *st = NULL;
    int status;
    tp_buf_reset(body);
    tp_jw_init(&w, body);
    *ctype = "application/json";
    switch (r) {
    case TP_ROUTE_HEALTHZ:
        if (check_names(&ps, none)) {
            status = 400;
            break;
        }
        tp_jw_obj(&w);
        tp_jw_key(&w, "status");
        tp_jw_str(&w, "ok");
        tp_jw_obj_end(&w);
        status = 200;
        break;
    case TP_ROUTE_HEALTH:
    case TP_ROUTE_METRICS:
        if (check_names(&ps, none)) {
            status = 400;
            break;
        }
        if (!(st = malloc(sizeof(*st)))) {
            status = 500;
            break;
        }
        tp_live_stats(l, st);
        if (r == TP_ROUTE_HEALTH) {
            tp_api_health(&w, st, ss);
        } else {
            *ctype = "text/plain; version=0.0.4; charset=utf-8";
            w.err = tp_metrics_write(body, st, ss);
        }
        status = 200;
        break;
    case TP_ROUTE_INSTRUMENTS:
        status = r_instruments(l, &ps, &w);
        break;
    case TP_ROUTE_BARS:
        status = r_bars(l, &ps, &w);
        break;
    case TP_ROUTE_TICKS:
        status = r_ticks(l, &ps, &w);
        break;
    case TP_ROUTE_ANOMALIES:
        status = r_anomalies(l, &ps, &w);
        break;
    case TP_ROUTE_QUALITY:
        status = r_quality(l, &ps, &w);
        break;
    default:
        status = 404;
        break;
    }
    free(st);
    if (status == 400) {
        *ctype = "application/json";
        tp_api_error(body, ps.err);
    } else if (status == 404) {
        tp_api_error(body, "not found");
    } else if (status == 500 || w.err) {
        status = 500;
        *ctype = "application/json";
        tp_api_error(body, w.err == -E2BIG ? "response too large" : "out of memory");
    }
    return status;
}
