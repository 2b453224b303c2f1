/*
 * rest_coingecko.c — CoinGecko /api/v3/simple/price (docs.coingecko.com, "Coin Price by
 * IDs"): one request for every coin of the source,
 *
 *   GET /api/v3/simple/price?ids=bitcoin,ethereum&vs_currencies=usd&include_last_updated_at=true
 *   {"bitcoin":{"usd":67187.3358936566,"last_updated_at":1711356300},"ethereum":{...}}
 *
 * Each coin's currency members (keys without '_': "usd", "eur") become one `snapshot` each,
 * ts = last_updated_at (seconds, venue time) or the receive time when absent. Prices may be
 * integers ("usd":103663). Unknown ids are simply absent from the body (the poller reports
 * them). Errors come as {"status":{"error_code":429,"error_message":"..."}} (with HTTP 429)
 * or {"error":"..."}.
 *
 * Instruments: `coingecko:TICKER-CUR`, TICKER from a table of common coin ids (bitcoin → BTC)
 * or else the id upper-cased with '-' → '_' (`coingecko:SHIBA_INU-USD` if it were unknown);
 * venue_symbol is the coin id. The free tier (a demo key: 30 calls/min, 10 000 a month) fits
 * one request every 5 minutes, the default.
 */
#include <ctype.h>

#include "core/tptime.h"
#include "source/rest_int.h"

static const char *const tickers[][2] = {
    {"bitcoin", "BTC"},
    {"ethereum", "ETH"},
    {"tether", "USDT"},
    {"binancecoin", "BNB"},
    {"solana", "SOL"},
    {"ripple", "XRP"},
    {"usd-coin", "USDC"},
    {"cardano", "ADA"},
    {"dogecoin", "DOGE"},
    {"tron", "TRX"},
    {"polkadot", "DOT"},
    {"litecoin", "LTC"},
    {"chainlink", "LINK"},
    {"avalanche-2", "AVAX"},
    {"shiba-inu", "SHIB"},
    {"bitcoin-cash", "BCH"},
    {"stellar", "XLM"},
    {"monero", "XMR"},
    {"ethereum-classic", "ETC"},
    {"cosmos", "ATOM"},
    {"uniswap", "UNI"},
    {"matic-network", "MATIC"},
    {"the-open-network", "TON"},
    {"near", "NEAR"},
    {"aptos", "APT"},
    {"sui", "SUI"},
    {"pepe", "PEPE"},
    {"wrapped-bitcoin", "WBTC"},
    {"dai", "DAI"},
    {"staked-ether", "STETH"},
};

/* name of coin id[0..n) in currency cur[0..cl). */
static int cg_name(const char *id, size_t n, const char *cur, size_t cl, char *out, size_t cap)
{
    char base[TP_VSYM_MAX + 1];
    const char *b = NULL;
    for (size_t i = 0; i < TP_ARRAY_LEN(tickers); i++)
        if (strlen(tickers[i][0]) == n && !strncmp(tickers[i][0], id, n)) b = tickers[i][1];
    if (!n) return -EINVAL;
    if (!b) {
        if (n > 30) return -EINVAL;
        for (size_t i = 0; i < n; i++) base[i] = id[i] == '-' ? '_' : id[i];
        base[n] = 0;
        b = base;
    }
    char sym[TP_VSYM_MAX + 1];
    int l = snprintf(sym, sizeof sym, "%s-%.*s", b, (int)cl, cur);
    if (l < 0 || (size_t)l >= sizeof sym || !cl) return -EINVAL;
    return tp_rp_name("coingecko", sym, (size_t)l, out, cap);
}

static int cg_instrument(const char *sym, const char *opt, char *out, size_t cap,
                         char native[TP_VSYM_MAX + 1])
{
    size_t n = strlen(sym);
    if (!n || n > 30) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        char ch = (char)tolower((unsigned char)sym[i]);
        if (!isalnum((unsigned char)ch) && ch != '-' && ch != '_' && ch != '.') return -EINVAL;
        native[i] = ch;
    }
    native[n] = 0;
    const char *cur = opt && *opt ? opt : "usd";
    char lc[16];
    size_t cl = strlen(cur);
    if (cl >= sizeof lc) return -EINVAL;
    for (size_t i = 0; i < cl; i++) {
        if (!isalnum((unsigned char)cur[i])) return -EINVAL;
        lc[i] = (char)tolower((unsigned char)cur[i]);
    }
    lc[cl] = 0;
    return cg_name(native, n, lc, cl, out, cap);
}

static int cg_path(const char *const *sym, size_t n, const char *opt, const char *key,
                   struct tp_buf *out)
{
    (void)key; /* sent in the x-cg-demo-api-key header */
    int rc = tp_buf_puts(out, "/api/v3/simple/price?ids=");
    for (size_t i = 0; i < n && rc >= 0; i++) {
        if (i) rc = tp_buf_puts(out, "%2C");
        if (rc >= 0) rc = tp_rp_esc(out, sym[i]);
    }
    if (rc >= 0) rc = tp_buf_puts(out, "&vs_currencies=");
    if (rc >= 0) rc = tp_rp_esc(out, opt && *opt ? opt : "usd");
    if (rc >= 0) rc = tp_buf_puts(out, "&include_last_updated_at=true");
    return rc < 0 ? -E2BIG : 0;
}

static int cg_parse(struct tp_rest_pctx *c)
{
    struct tp_json *j = c->j;
    if (tp_json_type(j, 0) != TP_JSON_OBJECT)
        return tp_rp_fail(c, TP_REST_BAD, "the body is not a JSON object");
    int st = TP_JSON_GET(j, 0, "status");
    if (tp_json_type(j, st) == TP_JSON_OBJECT) {
        int64_t code = 0;
        tp_json_i64(j, TP_JSON_GET(j, st, "error_code"), &code);
        return tp_rp_fail_tok(c, code == 429 ? TP_REST_RATE_LIMIT : TP_REST_ERROR, "",
                              TP_JSON_GET(j, st, "error_message"));
    }
    int er = TP_JSON_GET(j, 0, "error");
    if (er >= 0) return tp_rp_fail_tok(c, TP_REST_ERROR, "", er);
    TP_JSON_FOREACH_MEMBER(j, 0, k, v)
    {
        const char *id = tp_json_text(j, k);
        size_t idl = tp_json_len(j, k);
        if (tp_json_type(j, v) != TP_JSON_OBJECT || j->tok[k].esc)
            return tp_rp_fail(c, TP_REST_BAD, "coin '%.*s' is not an object", (int)TP_MIN(idl, 40),
                              id);
        int64_t ts = c->recv;
        uint16_t flags = 0;
        int lu = TP_JSON_GET(j, v, "last_updated_at");
        if (lu >= 0) {
            int64_t s;
            if (tp_json_i64(j, lu, &s) < 0 || s < 0 || s > INT64_MAX / TP_NS_PER_SEC)
                return tp_rp_fail(c, TP_REST_BAD, "last_updated_at of '%.*s' is not epoch seconds",
                                  (int)TP_MIN(idl, 40), id);
            ts = s * TP_NS_PER_SEC;
            flags = TP_EV_TS_VENUE;
        }
        TP_JSON_FOREACH_MEMBER(j, v, ck, cv)
        {
            const char *cur = tp_json_text(j, ck);
            size_t cl = tp_json_len(j, ck);
            if (!cl || memchr(cur, '_', cl) || j->tok[ck].esc) continue; /* usd_24h_vol, ... */
            if (tp_json_type(j, cv) == TP_JSON_NULL) continue; /* no price in that currency */
            struct tp_event e;
            tp_event_init(&e, TP_KIND_SNAPSHOT);
            e.ts = ts;
            e.ts_recv = c->recv;
            e.flags = flags;
            int rc = tp_rp_num(c, cv, "a price", &e.price);
            if (rc < 0) return rc;
            char name[TP_INSTR_NAMELEN + 1];
            int l = cg_name(id, idl, cur, cl, name, sizeof name);
            if (l < 0)
                return tp_rp_fail(c, TP_REST_BAD, "coin '%.*s' makes no valid instrument name",
                                  (int)TP_MIN(idl, 40), id);
            if ((rc = tp_rp_intern(c, name, (size_t)l, &e.instr)) < 0) return rc;
            tp_event_set_vsym(&e, id, idl);
            if ((rc = tp_rp_add(c, &e)) < 0) return rc;
        }
    }
    return 0;
}

const struct tp_rest_venue tp_rest_coingecko = {
    .name = "coingecko",
    .base = "https://api.coingecko.com",
    .interval_ns = 5 * 60 * TP_NS_PER_SEC,
    .spacing_ns = 2 * TP_NS_PER_SEC,
    .batch = true,
    .key_env = "COINGECKO_API_KEY",
    .key_required = false,
    .key_header = "x-cg-demo-api-key",
    .key_help = "coingecko.com/en/api (a free demo key)",
    .instrument = cg_instrument,
    .path = cg_path,
    .parse = cg_parse,
};
