/*
 * rest_yahoo.c — Yahoo Finance's v8 chart API (unofficial, undocumented; the shape below is
 * what it serves and what public clients such as yahoo-finance2 record): one request per
 * symbol,
 *
 *   GET /v8/finance/chart/AAPL?interval=1m&range=1d
 *   {"chart":{"result":[{"meta":{"symbol":"AAPL","regularMarketTime":1727985601,
 *     "regularMarketPrice":225.67,"dataGranularity":"1m",...},
 *     "timestamp":[1727875800,...],
 *     "indicators":{"quote":[{"open":[...],"high":[...],"low":[...],"close":[...],
 *                             "volume":[...]}]}}],"error":null}}
 *   404: {"chart":{"result":null,"error":{"code":"Not Found","description":"No data found,
 *         symbol may be delisted"}}}
 *
 * Events: vendor `bar`s (open, high, low, price = close, size = volume, ts = the bar's start),
 * only bars closed at the chart's regularMarketTime (start + granularity ≤ it: the newest
 * bar of an open market is still changing) and never bars with a null price (Yahoo leaves
 * holes); plus a `snapshot` of regularMarketPrice at regularMarketTime. A chart without
 * timestamps or with an empty quote (a weekend) gives only the snapshot.
 *
 * Instruments: `yahoo:SYMBOL` with Yahoo's spelling mapped (EURUSD=X → yahoo:EURUSD_X, ^GSPC →
 * yahoo:_GSPC); the spec's option is the bar interval (`yahoo:AAPL@5m`, default 1m).
 */
#include <ctype.h>
#include <math.h>

#include "core/tptime.h"
#include "source/rest_int.h"

static const struct {
    const char *name;
    int64_t sec;
} grains[] = {
    {"1m", 60},         {"2m", 120},         {"5m", 300},         {"15m", 900},  {"30m", 1800},
    {"60m", 3600},      {"90m", 5400},       {"1h", 3600},        {"1d", 86400}, {"5d", 5 * 86400},
    {"1wk", 7 * 86400}, {"1mo", 31 * 86400}, {"3mo", 92 * 86400},
};

static int64_t grain_sec(const char *s, size_t n)
{
    for (size_t i = 0; i < TP_ARRAY_LEN(grains); i++)
        if (strlen(grains[i].name) == n && !strncmp(grains[i].name, s, n)) return grains[i].sec;
    return 0;
}

static int y_instrument(const char *sym, const char *opt, char *out, size_t cap,
                        char native[TP_VSYM_MAX + 1])
{
    size_t n = strlen(sym);
    if (!n || n > 32) return -EINVAL;
    if (opt && *opt && !grain_sec(opt, strlen(opt))) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)toupper((unsigned char)sym[i]);
        if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '%')
            return -EINVAL;
        native[i] = (char)ch;
    }
    native[n] = 0;
    return tp_rp_name("yahoo", native, n, out, cap);
}

static int y_path(const char *const *sym, size_t n, const char *opt, const char *key,
                  struct tp_buf *out)
{
    (void)key;
    if (n != 1) return -EINVAL;
    const char *iv = opt && *opt ? opt : "1m";
    int64_t g = grain_sec(iv, strlen(iv));
    const char *range = g < 86400 ? "1d" : g < 7 * 86400 ? "1mo" : "1y";
    int rc = tp_buf_puts(out, "/v8/finance/chart/");
    if (rc >= 0) rc = tp_rp_esc(out, sym[0]);
    if (rc >= 0) rc = tp_buf_printf(out, "?interval=%s&range=%s", iv, range);
    return rc < 0 ? -E2BIG : 0;
}

static int y_error(struct tp_rest_pctx *c, int er)
{
    struct tp_json *j = c->j;
    char code[64], desc[TP_REST_TEXT_MAX + 1];
    tp_rp_str(j, TP_JSON_GET(j, er, "code"), code, sizeof code);
    tp_rp_str(j, TP_JSON_GET(j, er, "description"), desc, sizeof desc);
    return tp_rp_fail(c, TP_REST_ERROR, "%s%s%s", code, code[0] && desc[0] ? ": " : "", desc);
}

/* A number or null at array cursor; *null set for null. */
static int cell(struct tp_rest_pctx *c, int t, const char *what, double *v, bool *null)
{
    if (tp_json_type(c->j, t) == TP_JSON_NULL) {
        *null = true;
        return 0;
    }
    return tp_rp_num(c, t, what, v);
}

static int y_bars(struct tp_rest_pctx *c, int r, struct tp_event *proto, int64_t close_ns)
{
    struct tp_json *j = c->j;
    int ts = TP_JSON_GET(j, r, "timestamp");
    if (ts < 0) return 0; /* no bars in the range */
    if (tp_json_type(j, ts) != TP_JSON_ARRAY)
        return tp_rp_fail(c, TP_REST_BAD, "\"timestamp\" is not an array");
    int q = tp_json_at(j, TP_JSON_GET(j, TP_JSON_GET(j, r, "indicators"), "quote"), 0);
    if (tp_json_type(j, q) != TP_JSON_OBJECT)
        return tp_rp_fail(c, TP_REST_BAD, "\"indicators.quote[0]\" is missing");
    if (tp_json_size(j, q) == 0) return 0; /* "quote":[{}]: nothing traded */
    static const char *const cols[] = {"open", "high", "low", "close", "volume"};
    int cur[5];
    uint32_t nb = tp_json_size(j, ts);
    for (int k = 0; k < 5; k++) {
        int a = tp_json_get(j, q, cols[k], strlen(cols[k]));
        if (tp_json_type(j, a) != TP_JSON_ARRAY || tp_json_size(j, a) != nb)
            return tp_rp_fail(c, TP_REST_BAD, "\"%s\" is not an array as long as \"timestamp\"",
                              cols[k]);
        cur[k] = a + 1;
    }
    int gt = TP_JSON_GET(j, TP_JSON_GET(j, r, "meta"), "dataGranularity");
    int64_t gsec = tp_json_type(j, gt) == TP_JSON_STRING
                       ? grain_sec(tp_json_text(j, gt), tp_json_len(j, gt))
                       : 0;
    if (!gsec) return tp_rp_fail(c, TP_REST_BAD, "\"meta.dataGranularity\" is missing or unknown");
    TP_JSON_FOREACH_ELEM(j, ts, t)
    {
        int64_t start;
        if (tp_json_i64(j, t, &start) < 0 || start < 0 || start > INT64_MAX / TP_NS_PER_SEC - gsec)
            return tp_rp_fail(c, TP_REST_BAD, "a timestamp is not epoch seconds");
        double v[5] = {NAN, NAN, NAN, NAN, NAN};
        bool null = false;
        for (int k = 0; k < 5; k++) {
            bool nk = false;
            int rc = cell(c, cur[k], cols[k], &v[k], &nk);
            if (rc < 0) return rc;
            if (nk && k < 4) null = true;
            cur[k] = tp_json_skip(j, cur[k]);
        }
        if (null) continue;                                      /* a hole in the chart */
        if ((start + gsec) * TP_NS_PER_SEC > close_ns) continue; /* still open */
        struct tp_event e = *proto;
        e.kind = TP_KIND_VBAR;
        e.ts = start * TP_NS_PER_SEC;
        e.open = v[0];
        e.high = v[1];
        e.low = v[2];
        e.price = v[3];
        e.size = v[4];
        int rc = tp_rp_add(c, &e);
        if (rc < 0) return rc;
    }
    return 0;
}

static int y_parse(struct tp_rest_pctx *c)
{
    struct tp_json *j = c->j;
    int ch = TP_JSON_GET(j, 0, "chart");
    if (tp_json_type(j, ch) != TP_JSON_OBJECT)
        return tp_rp_fail(c, TP_REST_BAD, "not a chart body (no \"chart\" object)");
    int er = TP_JSON_GET(j, ch, "error");
    if (tp_json_type(j, er) == TP_JSON_OBJECT) return y_error(c, er);
    int r = tp_json_at(j, TP_JSON_GET(j, ch, "result"), 0);
    if (tp_json_type(j, r) != TP_JSON_OBJECT)
        return tp_rp_fail(c, TP_REST_ERROR, "the chart has no result");
    int meta = TP_JSON_GET(j, r, "meta");
    int sym = TP_JSON_GET(j, meta, "symbol");
    if (tp_json_type(j, sym) != TP_JSON_STRING || j->tok[sym].esc)
        return tp_rp_fail(c, TP_REST_BAD, "\"meta.symbol\" is missing");
    struct tp_event proto;
    tp_event_init(&proto, TP_KIND_SNAPSHOT);
    proto.ts_recv = c->recv;
    proto.flags = TP_EV_TS_VENUE;
    int rc = tp_rp_symbol(c, &proto, tp_json_text(j, sym), tp_json_len(j, sym));
    if (rc < 0) return rc;
    int64_t rmt = -1;
    int t = TP_JSON_GET(j, meta, "regularMarketTime");
    if (t >= 0 && (tp_json_i64(j, t, &rmt) < 0 || rmt < 0 || rmt > INT64_MAX / TP_NS_PER_SEC))
        return tp_rp_fail(c, TP_REST_BAD, "\"meta.regularMarketTime\" is not epoch seconds");
    /* Without the market's time, bars are judged closed by the receive time. */
    int64_t close_ns = rmt >= 0 ? rmt * TP_NS_PER_SEC : c->recv;
    if ((rc = y_bars(c, r, &proto, close_ns)) < 0) return rc;
    int px = TP_JSON_GET(j, meta, "regularMarketPrice");
    if (px >= 0 && rmt >= 0) {
        struct tp_event e = proto;
        e.ts = rmt * TP_NS_PER_SEC;
        if ((rc = tp_rp_num(c, px, "\"meta.regularMarketPrice\"", &e.price)) < 0) return rc;
        if ((rc = tp_rp_add(c, &e)) < 0) return rc;
    }
    return 0;
}

const struct tp_rest_venue tp_rest_yahoo = {
    .name = "yahoo",
    .base = "https://query1.finance.yahoo.com",
    .interval_ns = 60 * TP_NS_PER_SEC,
    .spacing_ns = TP_NS_PER_SEC,
    .batch = false,
    .instrument = y_instrument,
    .path = y_path,
    .parse = y_parse,
};
