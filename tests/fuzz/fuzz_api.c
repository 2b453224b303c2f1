/*
 * fuzz_api.c — libFuzzer target for the HTTP API's parameters (serve/api.h): instrument,
 * interval, from, to, since, limit, and anything else a client may put in a query string.
 *
 * Input: the first byte picks the route (instruments, bars, ticks, anomalies, quality, health,
 * healthz, metrics); the rest is a URL query string, split at '&' and at the first '=' and
 * percent-decoded as libwebsockets hands it to http.c (at most TP_API_MAX_PARAMS parameters).
 * The live store holds a few ticks, final bars of two intervals and anomalies of one
 * instrument, so valid queries return rows. Properties:
 *   - the status is 200, 400 or 404 (500 only if memory ran out — never here);
 *   - a 400 names the parameter in a JSON {"error": ...}; a 200 JSON body parses, and is an
 *     array of at most `limit` rows where the route takes a limit;
 *   - bars returned lie within [from, to] and have the asked interval (1m by default).
 */
#include "core/instrument.h"
#include "core/json.h"
#include "core/tptime.h"
#include "serve/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEC TP_NS_PER_SEC
#define T0  (INT64_C(1795000020) * SEC)

static const enum tp_route routes[] = {TP_ROUTE_INSTRUMENTS, TP_ROUTE_BARS,    TP_ROUTE_TICKS,
                                       TP_ROUTE_ANOMALIES,   TP_ROUTE_QUALITY, TP_ROUTE_HEALTH,
                                       TP_ROUTE_HEALTHZ,     TP_ROUTE_METRICS};

static struct tp_live *live;

static void fill(void)
{
    struct tp_live_cfg c;
    tp_live_cfg_default(&c);
    c.ticks = 16;
    c.bars = 16;
    c.anomalies = 16;
    c.feed = 64;
    live = tp_live_new(&c);
    if (!live) abort();
    uint32_t id;
    if (tp_instr_intern("binance:BTCUSDT", 15, &id)) abort();
    for (int i = 0; i < 20; i++) {
        struct tp_event e;
        tp_event_init(&e, i % 3 ? TP_KIND_TRADE : TP_KIND_QUOTE);
        e.instr = id;
        e.ts = T0 + i * SEC;
        e.ts_recv = e.ts + 1000;
        e.price = 42000 + i;
        e.size = 0.5;
        e.bid = 41999.5 + i;
        e.ask = 42000.5 + i;
        tp_live_event(live, &e);
    }
    for (int i = 0; i < 20; i++) {
        struct tp_bar b;
        memset(&b, 0, sizeof b);
        b.instr = id;
        b.interval_ns = i % 4 ? 60 * SEC : 300 * SEC;
        b.ts = T0 + (int64_t)i * b.interval_ns;
        b.open = b.high = b.low = b.close = b.vwap = 42000 + i;
        b.volume = 1;
        b.trades = 1;
        b.first_ts = b.ts;
        b.last_ts = b.ts + 1;
        b.final = true;
        tp_ind_values_clear(&b.ind);
        tp_live_bar_final(live, &b);
        struct tp_anomaly a = {.instr = id,
                               .ts = b.ts,
                               .kind = TP_AN_RETURN_ZSCORE,
                               .observed = i,
                               .expected = 0,
                               .score = 3.5,
                               .interval_ns = 60 * SEC};
        tp_live_anomaly(live, &a);
    }
}

static int hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes s[0..n) into out (NUL-terminated); '+' is a space. */
static void decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out[o++] = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = 0;
}

static const char *param(const struct tp_api_param *p, size_t np, const char *key)
{
    for (size_t i = 0; i < np; i++)
        if (!strcmp(p[i].key, key)) return p[i].val;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tp_buf body;
    static struct tp_json j;
    static struct tp_serve_stats ss;
    if (!live) {
        fill();
        tp_buf_init(&body, TP_API_MAX_BODY);
        tp_json_init(&j, 1u << 16, 16);
    }
    if (size < 1 || size > 4096) return 0;
    enum tp_route r = routes[data[0] % TP_ARRAY_LEN(routes)];
    static char store[2 * 4096 + 64];
    struct tp_api_param p[TP_API_MAX_PARAMS];
    size_t np = 0, used = 0;
    const char *s = (const char *)data + 1, *end = (const char *)data + size;
    while (s <= end && np < TP_API_MAX_PARAMS) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        size_t n = amp ? (size_t)(amp - s) : (size_t)(end - s);
        if (n) {
            const char *eq = memchr(s, '=', n);
            size_t kl = eq ? (size_t)(eq - s) : n;
            char *k = store + used;
            decode(s, kl, k);
            used += strlen(k) + 1;
            char *v = store + used;
            if (eq)
                decode(eq + 1, n - kl - 1, v);
            else
                v[0] = 0;
            used += strlen(v) + 1;
            p[np].key = k;
            p[np].val = v;
            np++;
        }
        if (!amp) break;
        s = amp + 1;
    }
    const char *ctype;
    int status = tp_api_get(live, &ss, r, p, np, &body, &ctype);
    if (status != 200 && status != 400 && status != 404) abort();
    if (strncmp(ctype, "application/json", 16)) return 0; /* /metrics: text */
    if (tp_json_parse(&j, (const char *)body.p, body.len) != 0) abort();
    if (status == 400) {
        int e = TP_JSON_GET(&j, 0, "error");
        if (e < 0 || j.tok[e].type != TP_JSON_STRING) abort();
        char msg[256];
        int ml = tp_json_unescape(&j, e, msg, sizeof msg);
        if (ml <= 0 || (!strstr(msg, "parameter") && !strstr(msg, "'from'"))) abort();
        return 0;
    }
    if (status != 200 || r == TP_ROUTE_HEALTH || r == TP_ROUTE_HEALTHZ) return 0;
    if (j.tok[0].type != TP_JSON_ARRAY) abort();
    const char *lim = param(p, np, "limit");
    if (lim && (r == TP_ROUTE_BARS || r == TP_ROUTE_TICKS || r == TP_ROUTE_ANOMALIES) &&
        j.tok[0].size > (uint32_t)strtoul(lim, NULL, 10))
        abort();
    if (r == TP_ROUTE_BARS) {
        int64_t from = INT64_MIN, to = INT64_MAX, iv = 60 * SEC;
        const char *v;
        if ((v = param(p, np, "from"))) (void)tp_time_parse(v, strlen(v), TP_TS_AUTO, &from);
        if ((v = param(p, np, "to"))) (void)tp_time_parse(v, strlen(v), TP_TS_AUTO, &to);
        if ((v = param(p, np, "interval"))) (void)tp_duration_parse(v, &iv);
        for (uint32_t i = 0; i < j.tok[0].size; i++) {
            int row = tp_json_at(&j, 0, i);
            int t = TP_JSON_GET(&j, row, "ts");
            if (t < 0) abort();
            char ts[64];
            int tl = tp_json_unescape(&j, t, ts, sizeof ts);
            int64_t bt;
            if (tl <= 0 || tp_time_parse(ts, (size_t)tl, TP_TS_AUTO, &bt) != 0) abort();
            if (bt < from || bt > to || (bt - T0) % iv != 0) abort();
            int ivt = TP_JSON_GET(&j, row, "interval");
            int64_t biv;
            if (ivt < 0 || (tl = tp_json_unescape(&j, ivt, ts, sizeof ts)) <= 0) abort();
            ts[tl] = 0;
            if (tp_duration_parse(ts, &biv) != 0 || biv != iv) abort();
        }
    }
    return 0;
}
