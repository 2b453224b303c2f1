/*
 * rest_alphavantage.c — Alpha Vantage (www.alphavantage.co/documentation): one request per
 * symbol,
 *
 *   GET /query?function=GLOBAL_QUOTE&symbol=MSFT&apikey=KEY
 *   {"Global Quote": {"01. symbol": "MSFT", "02. open": "112.6300", "03. high": ...,
 *    "05. price": "112.1300", "06. volume": "29062853", "07. latest trading day": "2018-10-05",
 *    "08. previous close": "112.7900", "09. change": "-0.6600", ...}}
 *   GET /query?function=CURRENCY_EXCHANGE_RATE&from_currency=EUR&to_currency=USD&apikey=KEY
 *   {"Realtime Currency Exchange Rate": {"1. From_Currency Code": "BTC", ...,
 *    "5. Exchange Rate": "109631.43060700", "6. Last Refreshed": "2017-12-20 19:23:21",
 *    "7. Time Zone": "UTC", "8. Bid Price": ..., "9. Ask Price": ...}}
 *
 * A symbol written as a pair (`EUR-USD`, `BTC/CNY`) is polled with CURRENCY_EXCHANGE_RATE,
 * anything else with GLOBAL_QUOTE. Both give a `snapshot`: GLOBAL_QUOTE with price, open,
 * high, low and change, ts = the receive time (the quote carries a trading day, not a time);
 * the exchange rate with price (and bid/ask when given), ts = "Last Refreshed" when the zone
 * is UTC.
 *
 * Not data, all sent with HTTP 200: {"Note": "...call frequency is 5 calls per minute..."}
 * and {"Information": "...rate limit is 25 requests per day..."} are rate limits;
 * {"Error Message": "Invalid API call..."} and an empty {"Global Quote": {}} (an unknown
 * symbol) are errors. The free tier allows 25 requests a day: the default is one request
 * per symbol per hour, at least 15 s apart (the older 5-per-minute limit).
 */
#include <ctype.h>

#include "core/tptime.h"
#include "source/rest_int.h"

/* True when sym is a pair A-B or A/B of alphanumeric codes; the halves go to a and b. */
static bool av_pair(const char *sym, char a[16], char b[16])
{
    size_t sep = strcspn(sym, "-/");
    if (!sym[sep] || !sep || sep >= 16) return false;
    const char *q = sym + sep + 1;
    size_t ql = strlen(q);
    if (!ql || ql >= 16) return false;
    for (size_t i = 0; i < sep; i++)
        if (!isalnum((unsigned char)sym[i])) return false;
    for (size_t i = 0; i < ql; i++)
        if (!isalnum((unsigned char)q[i])) return false;
    for (size_t i = 0; i < sep; i++) a[i] = (char)toupper((unsigned char)sym[i]);
    a[sep] = 0;
    for (size_t i = 0; i < ql; i++) b[i] = (char)toupper((unsigned char)q[i]);
    b[ql] = 0;
    return true;
}

static int av_instrument(const char *sym, const char *opt, char *out, size_t cap,
                         char native[TP_VSYM_MAX + 1])
{
    (void)opt;
    char a[16], b[16];
    size_t n = strlen(sym);
    if (!n || n > 24) return -EINVAL;
    if (av_pair(sym, a, b)) {
        snprintf(native, TP_VSYM_MAX + 1, "%s/%s", a, b);
    } else {
        for (size_t i = 0; i < n; i++) {
            char ch = (char)toupper((unsigned char)sym[i]);
            if (!isalnum((unsigned char)ch) && ch != '.' && ch != '-' && ch != '_' && ch != ':')
                return -EINVAL;
            native[i] = ch;
        }
        native[n] = 0;
    }
    return tp_rp_name("alphavantage", native, strlen(native), out, cap);
}

static int av_path(const char *const *sym, size_t n, const char *opt, const char *key,
                   struct tp_buf *out)
{
    (void)opt;
    if (n != 1) return -EINVAL;
    char a[16], b[16];
    int rc;
    if (av_pair(sym[0], a, b)) {
        rc = tp_buf_printf(out,
                           "/query?function=CURRENCY_EXCHANGE_RATE&from_currency=%s"
                           "&to_currency=%s",
                           a, b);
    } else {
        rc = tp_buf_puts(out, "/query?function=GLOBAL_QUOTE&symbol=");
        if (rc >= 0) rc = tp_rp_esc(out, sym[0]);
    }
    if (rc >= 0) rc = tp_buf_puts(out, "&apikey=");
    if (rc >= 0) rc = tp_rp_esc(out, key ? key : "");
    return rc < 0 ? -E2BIG : 0;
}

static int opt_num(struct tp_rest_pctx *c, int obj, const char *key, const char *what, double *ret)
{
    int t = tp_json_get(c->j, obj, key, strlen(key));
    if (t < 0) return 0; /* stays NaN */
    return tp_rp_num(c, t, what, ret);
}

static int global_quote(struct tp_rest_pctx *c, int q)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, q) != TP_JSON_OBJECT)
        return tp_rp_fail(c, TP_REST_BAD, "\"Global Quote\" is not an object");
    if (tp_json_size(j, q) == 0)
        return tp_rp_fail(c, TP_REST_ERROR,
                          "no quote for this symbol (an empty \"Global Quote\": "
                          "unknown symbol?)");
    int sym = TP_JSON_GET(j, q, "01. symbol");
    if (tp_json_type(j, sym) != TP_JSON_STRING || j->tok[sym].esc)
        return tp_rp_fail(c, TP_REST_BAD, "\"01. symbol\" is missing");
    struct tp_event e;
    tp_event_init(&e, TP_KIND_SNAPSHOT);
    e.ts = e.ts_recv = c->recv;
    int rc = tp_rp_symbol(c, &e, tp_json_text(j, sym), tp_json_len(j, sym));
    if (rc < 0) return rc;
    if ((rc = tp_rp_num(c, TP_JSON_GET(j, q, "05. price"), "\"05. price\"", &e.price)) < 0 ||
        (rc = opt_num(c, q, "02. open", "\"02. open\"", &e.open)) < 0 ||
        (rc = opt_num(c, q, "03. high", "\"03. high\"", &e.high)) < 0 ||
        (rc = opt_num(c, q, "04. low", "\"04. low\"", &e.low)) < 0 ||
        (rc = opt_num(c, q, "09. change", "\"09. change\"", &e.change)) < 0)
        return rc;
    return tp_rp_add(c, &e);
}

static int exchange_rate(struct tp_rest_pctx *c, int r)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, r) != TP_JSON_OBJECT)
        return tp_rp_fail(c, TP_REST_BAD, "\"Realtime Currency Exchange Rate\" is not an object");
    int from = TP_JSON_GET(j, r, "1. From_Currency Code");
    int to = TP_JSON_GET(j, r, "3. To_Currency Code");
    if (tp_json_type(j, from) != TP_JSON_STRING || tp_json_type(j, to) != TP_JSON_STRING ||
        j->tok[from].esc || j->tok[to].esc || tp_json_len(j, from) > 15 || tp_json_len(j, to) > 15)
        return tp_rp_fail(c, TP_REST_BAD, "the currency codes are missing");
    char pair[40];
    int pl = snprintf(pair, sizeof pair, "%.*s/%.*s", (int)tp_json_len(j, from),
                      tp_json_text(j, from), (int)tp_json_len(j, to), tp_json_text(j, to));
    struct tp_event e;
    tp_event_init(&e, TP_KIND_SNAPSHOT);
    e.ts = e.ts_recv = c->recv;
    int rc = tp_rp_symbol(c, &e, pair, (size_t)pl);
    if (rc < 0) return rc;
    if ((rc = tp_rp_num(c, TP_JSON_GET(j, r, "5. Exchange Rate"), "\"5. Exchange Rate\"",
                        &e.price)) < 0)
        return rc;
    /* Bid and ask are "-" when Alpha Vantage has none: optional, never an error. */
    double v;
    if (tp_json_f64(j, TP_JSON_GET(j, r, "8. Bid Price"), &v) == 0) e.bid = v;
    if (tp_json_f64(j, TP_JSON_GET(j, r, "9. Ask Price"), &v) == 0) e.ask = v;
    int lr = TP_JSON_GET(j, r, "6. Last Refreshed");
    int tz = TP_JSON_GET(j, r, "7. Time Zone");
    int64_t ts;
    if (tp_json_type(j, lr) == TP_JSON_STRING && TP_JSON_EQ(j, tz, "UTC")) {
        if (tp_time_parse(tp_json_text(j, lr), tp_json_len(j, lr), TP_TS_AUTO, &ts) < 0)
            return tp_rp_fail(c, TP_REST_BAD, "\"6. Last Refreshed\" is not a time");
        e.ts = ts;
        e.flags |= TP_EV_TS_VENUE;
    }
    return tp_rp_add(c, &e);
}

static int av_parse(struct tp_rest_pctx *c)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) != TP_JSON_OBJECT)
        return tp_rp_fail(c, TP_REST_BAD, "the body is not a JSON object");
    int t;
    if ((t = TP_JSON_GET(j, 0, "Global Quote")) >= 0) return global_quote(c, t);
    if ((t = TP_JSON_GET(j, 0, "Realtime Currency Exchange Rate")) >= 0) return exchange_rate(c, t);
    if ((t = TP_JSON_GET(j, 0, "Error Message")) >= 0)
        return tp_rp_fail_tok(c, TP_REST_ERROR, "", t);
    if ((t = TP_JSON_GET(j, 0, "Note")) >= 0) return tp_rp_fail_tok(c, TP_REST_RATE_LIMIT, "", t);
    if ((t = TP_JSON_GET(j, 0, "Information")) >= 0)
        return tp_rp_fail_tok(c, TP_REST_RATE_LIMIT, "", t);
    return tp_rp_fail(c, TP_REST_BAD, "neither a GLOBAL_QUOTE nor a CURRENCY_EXCHANGE_RATE body");
}

const struct tp_rest_venue tp_rest_alphavantage = {
    .name = "alphavantage",
    .base = "https://www.alphavantage.co",
    .interval_ns = 3600 * TP_NS_PER_SEC,
    .spacing_ns = 15 * TP_NS_PER_SEC,
    .batch = false,
    .key_env = "ALPHAVANTAGE_API_KEY",
    .key_required = true,
    .key_help = "www.alphavantage.co/support/#api-key (free)",
    .instrument = av_instrument,
    .path = av_path,
    .parse = av_parse,
};
