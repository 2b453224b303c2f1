/*
 * rest_fmp.c — Financial Modeling Prep forex quotes (the seed project's schema: ticker, bid,
 * ask, open, low, high, changes, date): one request for every pair of the source,
 *
 *   GET /api/v3/fx?apikey=KEY
 *   [ {"ticker" : "EUR/USD", "bid" : "0.97976", "ask" : "0.97976", "open" : "0.97861",
 *      "low" : "0.97049", "high" : "0.98171", "changes" : 0.001175136162516206,
 *      "date" : "2022-10-21 10:21:39"}, ... ]
 *   errors: {"Error Message": "Invalid API KEY. ..."} (with 401/403, or 200)
 *
 * Each pair the source asked for becomes a `quote` (bid, ask, open, high, low, change =
 * "changes"; no sizes), ts = "date" read as UTC, flagged quote-only: a forex quote feed
 * (DESIGN.md §3: bars from the mid). Pairs the source did not ask for are skipped before
 * anything is interned (the body lists every pair FMP has). Pairs without a bid or an ask
 * are skipped. The free tier allows 250 requests a day: the default is one every 6 minutes.
 *
 * Instruments: `fmp:EUR-USD` from `EUR-USD`, `EUR/USD` or `EURUSD`; venue_symbol "EUR/USD".
 */
#include <ctype.h>

#include "core/tptime.h"
#include "source/rest_int.h"

static int fmp_instrument(const char *sym, const char *opt, char *out, size_t cap,
                          char native[TP_VSYM_MAX + 1])
{
    (void)opt;
    size_t n = strlen(sym), sep = strcspn(sym, "-/");
    char a[16], b[16];
    if (sym[sep]) {
        if (!sep || sep >= sizeof a || n - sep - 1 == 0 || n - sep - 1 >= sizeof b) return -EINVAL;
        memcpy(a, sym, sep);
        a[sep] = 0;
        memcpy(b, sym + sep + 1, n - sep);
    } else if (n == 6) {
        memcpy(a, sym, 3);
        a[3] = 0;
        memcpy(b, sym + 3, 4);
    } else {
        return -EINVAL;
    }
    for (char *s = a; *s; s++) {
        if (!isalnum((unsigned char)*s)) return -EINVAL;
        *s = (char)toupper((unsigned char)*s);
    }
    for (char *s = b; *s; s++) {
        if (!isalnum((unsigned char)*s)) return -EINVAL;
        *s = (char)toupper((unsigned char)*s);
    }
    snprintf(native, TP_VSYM_MAX + 1, "%s/%s", a, b);
    return tp_rp_name("fmp", native, strlen(native), out, cap);
}

static int fmp_path(const char *const *sym, size_t n, const char *opt, const char *key,
                    struct tp_buf *out)
{
    (void)sym, (void)n, (void)opt;
    int rc = tp_buf_puts(out, "/api/v3/fx?apikey=");
    if (rc >= 0) rc = tp_rp_esc(out, key ? key : "");
    return rc < 0 ? -E2BIG : 0;
}

static int fmp_parse(struct tp_rest_pctx *c)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) == TP_JSON_OBJECT) {
        int t = TP_JSON_GET(j, 0, "Error Message");
        if (t >= 0) return tp_rp_fail_tok(c, TP_REST_ERROR, "", t);
        return tp_rp_fail(c, TP_REST_BAD, "an object, not the list of forex quotes");
    }
    if (tp_json_type(j, 0) != TP_JSON_ARRAY)
        return tp_rp_fail(c, TP_REST_BAD, "not the list of forex quotes");
    TP_JSON_FOREACH_ELEM(j, 0, q)
    {
        if (tp_json_type(j, q) != TP_JSON_OBJECT)
            return tp_rp_fail(c, TP_REST_BAD, "a quote is not an object");
        int tk = TP_JSON_GET(j, q, "ticker");
        if (tp_json_type(j, tk) != TP_JSON_STRING || j->tok[tk].esc)
            return tp_rp_fail(c, TP_REST_BAD, "a quote has no \"ticker\"");
        const char *s = tp_json_text(j, tk);
        size_t sl = tp_json_len(j, tk);
        if (!tp_rp_wanted(c, s, sl)) continue;
        int bt = TP_JSON_GET(j, q, "bid"), at = TP_JSON_GET(j, q, "ask");
        if (tp_json_type(j, bt) == TP_JSON_NULL || tp_json_type(j, at) == TP_JSON_NULL || bt < 0 ||
            at < 0)
            continue;
        struct tp_event e;
        tp_event_init(&e, TP_KIND_QUOTE);
        e.ts_recv = c->recv;
        e.flags = TP_EV_TS_VENUE | TP_EV_QUOTE_ONLY;
        int rc = tp_rp_symbol(c, &e, s, sl);
        if (rc < 0) return rc;
        if ((rc = tp_rp_num(c, bt, "\"bid\"", &e.bid)) < 0 ||
            (rc = tp_rp_num(c, at, "\"ask\"", &e.ask)) < 0)
            return rc;
        double v;
        if (tp_json_f64(j, TP_JSON_GET(j, q, "open"), &v) == 0) e.open = v;
        if (tp_json_f64(j, TP_JSON_GET(j, q, "high"), &v) == 0) e.high = v;
        if (tp_json_f64(j, TP_JSON_GET(j, q, "low"), &v) == 0) e.low = v;
        if (tp_json_f64(j, TP_JSON_GET(j, q, "changes"), &v) == 0) e.change = v;
        int dt = TP_JSON_GET(j, q, "date");
        if (tp_json_type(j, dt) != TP_JSON_STRING ||
            tp_time_parse(tp_json_text(j, dt), tp_json_len(j, dt), TP_TS_AUTO, &e.ts) < 0)
            return tp_rp_fail(c, TP_REST_BAD, "the \"date\" of %.*s is not a time",
                              (int)TP_MIN(sl, 20), s);
        if ((rc = tp_rp_add(c, &e)) < 0) return rc;
    }
    return 0;
}

const struct tp_rest_venue tp_rest_fmp = {
    .name = "fmp",
    .base = "https://financialmodelingprep.com",
    .interval_ns = 6 * 60 * TP_NS_PER_SEC,
    .spacing_ns = TP_NS_PER_SEC,
    .batch = true,
    .quote_only = true,
    .key_env = "FMP_API_KEY",
    .key_required = true,
    .key_help = "site.financialmodelingprep.com/developer/docs (free plan)",
    .instrument = fmp_instrument,
    .path = fmp_path,
    .parse = fmp_parse,
};
