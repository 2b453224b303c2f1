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
 * With an interval option (`alphavantage:IBM@5min`; 1min, 5min, 15min, 30min, 60min) the
 * symbol is polled for vendor bars instead: TIME_SERIES_INTRADAY (raw, as-traded values:
 * adjusted=false), FX_INTRADAY for a pair whose base is an ISO 4217 currency, CRYPTO_INTRADAY
 * for any other pair, all with outputsize=compact (the latest 100 bars):
 *
 *   {"Meta Data": {"1. Information": "Intraday (5min) ...", "2. Symbol": "IBM",
 *    "3. Last Refreshed": "2024-08-02 19:55:00", "4. Interval": "5min", ...,
 *    "6. Time Zone": "US/Eastern"},
 *    "Time Series (5min)": {"2024-08-02 19:55:00": {"1. open": "188.3500", "2. high": ...,
 *    "3. low": ..., "4. close": ..., "5. volume": "60"}, ...}}
 *
 * FX ("2. From Symbol", "3. To Symbol", "7. Time Zone": "UTC", "Time Series FX (5min)", no
 * volume) and crypto ("2. Digital Currency Code", "4. Market Code", "9. Time Zone": "UTC",
 * "Time Series Crypto (5min)") share the shape; Meta Data fields are found by their name
 * after the "N. " prefix, whose numbers differ. Each bar is a `bar` event (open, high, low,
 * price = close, size = volume or absent) stamped at its start: the key is the bar's start
 * (docs/venues.md has the evidence), in the zone "Time Zone" names, converted exactly to UTC
 * (tp_rp_local_utc: UTC, or US/Eastern with the US DST rules of 1987-2006 and since 2007;
 * any other zone, or an Eastern time before 1987, is an error about the symbol, never a
 * guess). The newest bar of a body may still be forming: it is held back until a later bar
 * exists (or "Last Refreshed" is at or past its end); the poller emits each start once.
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

/* Alpha Vantage's intraday intervals, in seconds; 0 when s[0..n) is none. */
static int64_t av_grain(const char *s, size_t n)
{
    static const struct {
        const char *name;
        int64_t sec;
    } g[] = {{"1min", 60}, {"5min", 300}, {"15min", 900}, {"30min", 1800}, {"60min", 3600}};
    for (size_t i = 0; i < TP_ARRAY_LEN(g); i++)
        if (strlen(g[i].name) == n && !strncmp(g[i].name, s, n)) return g[i].sec;
    return 0;
}

/* ISO 4217 currency codes (and the metals Alpha Vantage quotes as currencies): a pair whose
 * base is one of these is forex (FX_INTRADAY), any other pair crypto (CRYPTO_INTRADAY). */
static const char fiat[] =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN "
    "BWP BYN BZD CAD CDF CHF CLP CNH CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD "
    "JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT "
    "MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG "
    "QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB "
    "TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XAG XAU XCD XDR "
    "XOF XPD XPF XPT YER ZAR ZMW ZWL";

static bool is_fiat(const char *c)
{
    if (strlen(c) != 3) return false;
    for (const char *f = fiat; *f; f += f[3] ? 4 : 3)
        if (!strncmp(f, c, 3)) return true;
    return false;
}

static int av_instrument(const char *sym, const char *opt, char *out, size_t cap,
                         char native[TP_VSYM_MAX + 1])
{
    if (opt && *opt && !av_grain(opt, strlen(opt))) return -EINVAL;
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
    if (n != 1) return -EINVAL;
    char a[16], b[16];
    int rc;
    if (opt && *opt) { /* vendor bars */
        if (!av_pair(sym[0], a, b)) {
            rc = tp_buf_puts(out, "/query?function=TIME_SERIES_INTRADAY&symbol=");
            if (rc >= 0) rc = tp_rp_esc(out, sym[0]);
            if (rc >= 0) rc = tp_buf_puts(out, "&adjusted=false");
        } else if (is_fiat(a)) {
            rc =
                tp_buf_printf(out, "/query?function=FX_INTRADAY&from_symbol=%s&to_symbol=%s", a, b);
        } else {
            rc = tp_buf_printf(out, "/query?function=CRYPTO_INTRADAY&symbol=%s&market=%s", a, b);
        }
        if (rc >= 0) rc = tp_buf_puts(out, "&interval=");
        if (rc >= 0) rc = tp_rp_esc(out, opt);
        if (rc >= 0) rc = tp_buf_puts(out, "&outputsize=compact");
    } else if (av_pair(sym[0], a, b)) {
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

/* ---- intraday series ------------------------------------------------------------------ */

/* Days since the epoch of the n-th (1-based) Sunday of month m of year y; n = 0: the last. */
static int64_t sunday(int64_t y, unsigned m, int n)
{
    if (n == 0) {
        static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int64_t last = tp_days_from_civil(y, m, mdays[m - 1]); /* m is never February here */
        int64_t dow = ((last + 4) % 7 + 7) % 7;                /* 0 = Sunday; 1970-01-01: Thu */
        return last - dow;
    }
    int64_t first = tp_days_from_civil(y, m, 1);
    int64_t dow = ((first + 4) % 7 + 7) % 7;
    return first + (7 - dow) % 7 + 7 * (n - 1);
}

/* "YYYY-MM-DD HH:MM:SS" (or "...THH:MM:SS", or "YYYY-MM-DD HH:MM") as seconds of wall-clock
 * time counted as if UTC, and the year. -EINVAL when not that form. */
static int wall_parse(const char *s, size_t n, int64_t *ret, int64_t *year)
{
    if (n != 19 && n != 16) return -EINVAL;
    static const char pat[] = "dddd-dd-dd?dd:dd:dd";
    int v[19];
    for (size_t i = 0; i < n; i++) {
        if (pat[i] == 'd') {
            if (s[i] < '0' || s[i] > '9') return -EINVAL;
            v[i] = s[i] - '0';
        } else if (pat[i] == '?' ? s[i] != ' ' && s[i] != 'T' : s[i] != pat[i]) {
            return -EINVAL;
        }
    }
    int64_t y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    if (y < 1900 || y > 2200) return -EINVAL; /* keeps the ns of any result inside int64 */
    unsigned mo = (unsigned)(v[5] * 10 + v[6]), d = (unsigned)(v[8] * 10 + v[9]);
    int h = v[11] * 10 + v[12], mi = v[14] * 10 + v[15], se = n == 19 ? v[17] * 10 + v[18] : 0;
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59)
        return -EINVAL;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) return -EINVAL;
    *ret = ((tp_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + se;
    *year = y;
    return 0;
}

int tp_rp_local_utc(const char *zone, size_t zl, const char *s, size_t n, int64_t *ret_ns)
{
    int64_t wall, y;
    bool utc = zl == 3 && !memcmp(zone, "UTC", 3);
    bool eastern = (zl == 10 && !memcmp(zone, "US/Eastern", 10)) ||
                   (zl == 16 && !memcmp(zone, "America/New_York", 16));
    if (!utc && !eastern) return -ENOTSUP;
    if (wall_parse(s, n, &wall, &y) < 0) return -EINVAL;
    if (utc) {
        *ret_ns = wall * TP_NS_PER_SEC;
        return 0;
    }
    if (y < 1987) return -ERANGE;
    /* Daylight time from 02:00 standard time on the start day to 02:00 daylight time on the
     * end day (Energy Policy Act of 2005 from 2007; first Sunday of April to last Sunday of
     * October 1987-2006). In wall-clock terms: [start 03:00, end 01:00) is daylight time,
     * start 02:00-02:59 does not exist (read as standard time: 02:30 is 07:30Z, the instant
     * 03:30 EDT names) and end 01:00-01:59 happens twice (read as its first occurrence, in
     * daylight time). */
    int64_t start = y >= 2007 ? sunday(y, 3, 2) : sunday(y, 4, 1);
    int64_t end = y >= 2007 ? sunday(y, 11, 1) : sunday(y, 10, 0);
    int64_t dst_from = start * 86400 + 3 * 3600, dst_to = end * 86400 + 2 * 3600;
    int64_t off = wall >= dst_from && wall < dst_to ? 4 * 3600 : 5 * 3600;
    *ret_ns = (wall + off) * TP_NS_PER_SEC;
    return 0;
}

/* The member of Meta Data called name after its "N. " prefix ("3. Last Refreshed", "6.
 * Last Refreshed" are both "Last Refreshed"); -1 when absent. */
static int meta_get(const struct tp_json *j, int meta, const char *name)
{
    size_t nl = strlen(name);
    TP_JSON_FOREACH_MEMBER(j, meta, k, v)
    {
        const char *t = tp_json_text(j, k);
        size_t l = tp_json_len(j, k), i = 0;
        if (j->tok[k].esc) continue;
        while (i < l && t[i] >= '0' && t[i] <= '9') i++;
        if (!i || i + 2 > l || t[i] != '.' || t[i + 1] != ' ') continue;
        if (l - i - 2 == nl && !memcmp(t + i + 2, name, nl)) return v;
    }
    return -1;
}

static bool plain_str(const struct tp_json *j, int t, size_t max)
{
    return tp_json_type(j, t) == TP_JSON_STRING && !j->tok[t].esc && tp_json_len(j, t) &&
           tp_json_len(j, t) <= max;
}

/* A local time token in the body's zone to ns UTC, failing the parse with a reason. */
static int local_time(struct tp_rest_pctx *c, int t, const char *zone, size_t zl, const char *what,
                      int64_t *ret)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, t) != TP_JSON_STRING)
        return tp_rp_fail(c, TP_REST_BAD, "%s is not a time", what);
    int rc = tp_rp_local_utc(zone, zl, tp_json_text(j, t), tp_json_len(j, t), ret);
    if (rc == -ERANGE)
        return tp_rp_fail(c, TP_REST_ERROR,
                          "%s %.*s is before 1987: US/Eastern daylight-saving rules before 1987 "
                          "are not built in",
                          what, (int)TP_MIN(tp_json_len(j, t), 40), tp_json_text(j, t));
    if (rc < 0)
        return tp_rp_fail(c, TP_REST_BAD, "%s '%.*s' is not YYYY-MM-DD HH:MM:SS", what,
                          (int)TP_MIN(tp_json_len(j, t), 40), tp_json_text(j, t));
    return 0;
}

static int intraday(struct tp_rest_pctx *c, int meta)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, meta) != TP_JSON_OBJECT)
        return tp_rp_fail(c, TP_REST_BAD, "\"Meta Data\" is not an object");
    /* The series: the member whose name starts with "Time Series". */
    int series = -1, skey = -1;
    TP_JSON_FOREACH_MEMBER(j, 0, k, v)
    {
        if (tp_json_len(j, k) > 11 && !memcmp(tp_json_text(j, k), "Time Series", 11)) {
            skey = k;
            series = v;
            break;
        }
    }
    if (tp_json_type(j, series) != TP_JSON_OBJECT)
        return tp_rp_fail(c, TP_REST_BAD, "no \"Time Series (...)\" object beside \"Meta Data\"");
    /* The symbol: equities, FX pairs, crypto pairs. */
    char sym[40];
    int t = meta_get(j, meta, "Symbol"), a, b;
    if (plain_str(j, t, 30)) {
        snprintf(sym, sizeof sym, "%.*s", (int)tp_json_len(j, t), tp_json_text(j, t));
    } else if ((plain_str(j, a = meta_get(j, meta, "From Symbol"), 15) &&
                plain_str(j, b = meta_get(j, meta, "To Symbol"), 15)) ||
               (plain_str(j, a = meta_get(j, meta, "Digital Currency Code"), 15) &&
                plain_str(j, b = meta_get(j, meta, "Market Code"), 15))) {
        snprintf(sym, sizeof sym, "%.*s/%.*s", (int)tp_json_len(j, a), tp_json_text(j, a),
                 (int)tp_json_len(j, b), tp_json_text(j, b));
    } else {
        return tp_rp_fail(c, TP_REST_BAD, "\"Meta Data\" names no symbol");
    }
    /* The interval: "N. Interval", else the series name's "(5min)". */
    int64_t g = 0;
    t = meta_get(j, meta, "Interval");
    if (tp_json_type(j, t) == TP_JSON_STRING) g = av_grain(tp_json_text(j, t), tp_json_len(j, t));
    if (!g) {
        const char *kt = tp_json_text(j, skey), *o = memchr(kt, '(', tp_json_len(j, skey));
        const char *e = o ? memchr(o, ')', (size_t)(kt + tp_json_len(j, skey) - o)) : NULL;
        if (e) g = av_grain(o + 1, (size_t)(e - o - 1));
    }
    if (!g) return tp_rp_fail(c, TP_REST_BAD, "the series' interval is missing or unknown");
    /* The zone: converted exactly, or refused. */
    int tz = meta_get(j, meta, "Time Zone");
    if (tp_json_type(j, tz) != TP_JSON_STRING)
        return tp_rp_fail(c, TP_REST_BAD, "\"Meta Data\" has no \"Time Zone\"");
    const char *zone = tp_json_text(j, tz);
    size_t zl = tp_json_len(j, tz);
    if (tp_rp_local_utc(zone, zl, "1970-01-01 00:00:00", 19, &(int64_t){0}) == -ENOTSUP)
        return tp_rp_fail(c, TP_REST_ERROR,
                          "time zone '%.*s' is not supported (only US/Eastern and UTC are "
                          "converted)",
                          (int)TP_MIN(zl, 60), zone);
    int64_t lr = INT64_MIN;
    t = meta_get(j, meta, "Last Refreshed");
    if (t >= 0) {
        /* A date alone (a daily series) says nothing about the newest bar's end. */
        if (tp_json_type(j, t) == TP_JSON_STRING && tp_json_len(j, t) > 10) {
            int rc = local_time(c, t, zone, zl, "\"Last Refreshed\"", &lr);
            if (rc < 0) return rc;
        }
    }
    struct tp_event proto;
    tp_event_init(&proto, TP_KIND_VBAR);
    proto.ts_recv = c->recv;
    proto.flags = TP_EV_TS_VENUE;
    int rc = tp_rp_symbol(c, &proto, sym, strlen(sym));
    if (rc < 0) return rc;
    size_t first = c->n;
    int64_t newest = INT64_MIN;
    TP_JSON_FOREACH_MEMBER(j, series, k, v)
    {
        struct tp_event e = proto;
        if ((rc = local_time(c, k, zone, zl, "a bar time", &e.ts)) < 0) return rc;
        if (tp_json_type(j, v) != TP_JSON_OBJECT)
            return tp_rp_fail(c, TP_REST_BAD, "a bar is not an object");
        if ((rc = tp_rp_num(c, TP_JSON_GET(j, v, "1. open"), "\"1. open\"", &e.open)) < 0 ||
            (rc = tp_rp_num(c, TP_JSON_GET(j, v, "2. high"), "\"2. high\"", &e.high)) < 0 ||
            (rc = tp_rp_num(c, TP_JSON_GET(j, v, "3. low"), "\"3. low\"", &e.low)) < 0 ||
            (rc = tp_rp_num(c, TP_JSON_GET(j, v, "4. close"), "\"4. close\"", &e.price)) < 0 ||
            (rc = opt_num(c, v, "5. volume", "\"5. volume\"", &e.size)) < 0)
            return rc;
        if (e.ts > newest) newest = e.ts;
        if ((rc = tp_rp_add(c, &e)) < 0) return rc;
    }
    /* Hold back the newest bar unless "Last Refreshed" is at or past its end. */
    if (c->n > first && !(lr != INT64_MIN && lr >= newest + g * TP_NS_PER_SEC)) {
        size_t o = first;
        for (size_t i = first; i < c->n; i++)
            if (c->ev[i].ts != newest) c->ev[o++] = c->ev[i];
        c->n = o;
    }
    return 0;
}

static int av_parse(struct tp_rest_pctx *c)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) != TP_JSON_OBJECT)
        return tp_rp_fail(c, TP_REST_BAD, "the body is not a JSON object");
    int t;
    if ((t = TP_JSON_GET(j, 0, "Global Quote")) >= 0) return global_quote(c, t);
    if ((t = TP_JSON_GET(j, 0, "Realtime Currency Exchange Rate")) >= 0) return exchange_rate(c, t);
    if ((t = TP_JSON_GET(j, 0, "Meta Data")) >= 0) return intraday(c, t);
    if ((t = TP_JSON_GET(j, 0, "Error Message")) >= 0)
        return tp_rp_fail_tok(c, TP_REST_ERROR, "", t);
    if ((t = TP_JSON_GET(j, 0, "Note")) >= 0) return tp_rp_fail_tok(c, TP_REST_RATE_LIMIT, "", t);
    if ((t = TP_JSON_GET(j, 0, "Information")) >= 0)
        return tp_rp_fail_tok(c, TP_REST_RATE_LIMIT, "", t);
    return tp_rp_fail(c, TP_REST_BAD,
                      "neither a GLOBAL_QUOTE, a CURRENCY_EXCHANGE_RATE nor an intraday body");
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
