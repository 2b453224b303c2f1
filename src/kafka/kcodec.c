/*
 * kcodec.c — ticks, bars and anomalies as Kafka JSON records (see kcodec.h for the schema).
 *
 * The tick writer uses the JSON writer of serve/json.h (escaping, shortest numbers, times);
 * the reader is the validating tokenizer of core/json.h with small caps (a tick is a flat
 * object of about 25 members), so a hostile record costs little.
 */
#include <math.h>

#include "core/instrument.h"
#include "core/json.h"
#include "core/tptime.h"
#include "kafka/kcodec.h"
#include "serve/json.h"
#include "serve/rows.h"

#define DEC_MAX_TOKENS 256
#define DEC_MAX_DEPTH  4

static void num(struct tp_jw *w, const char *k, double v)
{
    tp_jw_key(w, k);
    tp_jw_num(w, v);
}

static void boolean(struct tp_jw *w, const char *k, bool v)
{
    tp_jw_key(w, k);
    tp_jw_bool(w, v);
}

const char *tp_kafka_tick_key(const struct tp_event *e)
{
    return tp_instr_name(e->instr);
}

/* The members of a tick object (without its braces). */
static void tick_members(struct tp_jw *w, const struct tp_event *e)
{
    tp_jw_key(w, "ts");
    tp_jw_time(w, e->ts);
    tp_jw_key(w, "ts_ns");
    tp_jw_ns(w, e->ts);
    tp_jw_key(w, "ts_recv");
    tp_jw_time(w, e->ts_recv);
    tp_jw_key(w, "instrument");
    tp_jw_str(w, tp_instr_name(e->instr));
    tp_jw_key(w, "venue_symbol");
    tp_jw_strn(w, e->venue_symbol, e->vsym_len);
    tp_jw_key(w, "kind");
    tp_jw_str(w, tp_kind_name((enum tp_kind)e->kind));
    num(w, "price", e->price);
    num(w, "size", e->size);
    tp_jw_key(w, "side");
    tp_jw_str_or_null(w, tp_side_name((enum tp_side)e->side));
    tp_jw_key(w, "trade_id");
    bool gap = e->kind == TP_KIND_STATUS && e->status == TP_ST_GAP;
    if (!(e->flags & TP_EV_HAS_ID) || gap)
        tp_jw_null(w);
    else if (e->flags & TP_EV_ID_STR)
        tp_jw_strn(w, e->trade_id_str, e->trade_id_len);
    else
        tp_jw_u64(w, e->trade_id);
    num(w, "bid", e->bid);
    num(w, "ask", e->ask);
    num(w, "bid_size", e->bid_size);
    num(w, "ask_size", e->ask_size);
    num(w, "open", e->open);
    num(w, "high", e->high);
    num(w, "low", e->low);
    num(w, "change", e->change);
    num(w, "value", e->value);
    /* Beyond the §5 columns: what makes the event exact. */
    tp_jw_key(w, "status");
    if (e->kind == TP_KIND_STATUS)
        tp_jw_str_or_null(w, tp_status_name((enum tp_status)e->status));
    else
        tp_jw_null(w);
    bool by_time = e->flags & TP_EV_GAP_TIME;
    tp_jw_key(w, "first_missing");
    if (!gap)
        tp_jw_null(w);
    else if (by_time)
        tp_jw_time(w, (int64_t)e->trade_id);
    else
        tp_jw_u64(w, e->trade_id);
    tp_jw_key(w, "last_missing");
    if (!gap)
        tp_jw_null(w);
    else if (by_time)
        tp_jw_time(w, (int64_t)e->gap_last);
    else
        tp_jw_u64(w, e->gap_last);
    boolean(w, "ts_venue", e->flags & TP_EV_TS_VENUE);
    boolean(w, "quote_only", e->flags & TP_EV_QUOTE_ONLY);
    boolean(w, "snapshot", e->flags & TP_EV_SNAPSHOT);
    boolean(w, "backfilled", e->flags & TP_EV_BACKFILLED);
}

int tp_kafka_tick_json(struct tp_buf *b, const struct tp_event *e)
{
    struct tp_jw w;
    tp_jw_init(&w, b);
    tp_jw_obj(&w);
    tick_members(&w, e);
    tp_jw_obj_end(&w);
    return w.err;
}

/* ---- output keys and values ------------------------------------------------------------- */

static int key_head(struct tp_buf *b, uint32_t instr, int64_t interval_ns, int64_t ts)
{
    char iv[32] = "", t[TP_TIME_STRLEN];
    if (interval_ns > 0) tp_duration_format(interval_ns, iv, sizeof iv);
    tp_time_format(ts, t);
    return tp_buf_printf(b, "%s|%s|%s", tp_instr_name(instr), iv, t);
}

int tp_kafka_bar_key(struct tp_buf *b, const struct tp_bar *bar)
{
    return key_head(b, bar->instr, bar->interval_ns, bar->ts);
}

int tp_kafka_anomaly_key(struct tp_buf *b, const struct tp_anomaly *a)
{
    int rc = key_head(b, a->instr, a->interval_ns, a->ts);
    if (rc == 0) rc = tp_buf_printf(b, "|%s", tp_anomaly_kind_name((enum tp_anomaly_kind)a->kind));
    return rc;
}

int tp_kafka_bar_json(struct tp_buf *b, const struct tp_bar *bar)
{
    struct tp_jw w;
    tp_jw_init(&w, b);
    tp_row_bar(&w, bar);
    return w.err;
}

int tp_kafka_anomaly_json(struct tp_buf *b, const struct tp_anomaly *a)
{
    struct tp_jw w;
    tp_jw_init(&w, b);
    tp_row_anomaly(&w, a);
    return w.err;
}

int tp_kafka_late_key(struct tp_buf *b, const struct tp_event *e, int64_t interval_ns,
                      int64_t offset)
{
    int rc = key_head(b, e->instr, interval_ns, e->ts);
    if (rc == 0) rc = tp_buf_printf(b, "|%lld", (long long)offset);
    return rc;
}

int tp_kafka_late_json(struct tp_buf *b, const struct tp_event *e, int64_t interval_ns)
{
    struct tp_jw w;
    tp_jw_init(&w, b);
    tp_jw_obj(&w);
    tick_members(&w, e);
    tp_jw_key(&w, "interval");
    tp_jw_dur(&w, interval_ns);
    tp_jw_obj_end(&w);
    return w.err;
}

/* A gap bound: a trade id (number) or a time (RFC 3339). */
static void gap_bound(struct tp_jw *w, const struct tp_gap *g, uint64_t v)
{
    if (g->by_time)
        tp_jw_time(w, (int64_t)v);
    else
        tp_jw_u64(w, v);
}

int tp_kafka_gap_key(struct tp_buf *b, const struct tp_gap *g)
{
    int rc = key_head(b, g->instr, 0, g->ts);
    if (rc < 0) return rc;
    if (g->by_time) {
        char t[TP_TIME_STRLEN];
        tp_time_format((int64_t)g->first_missing, t);
        return tp_buf_printf(b, "|%s", t);
    }
    return tp_buf_printf(b, "|%llu", (unsigned long long)g->first_missing);
}

int tp_kafka_gap_json(struct tp_buf *b, const struct tp_gap *g)
{
    struct tp_jw w;
    tp_jw_init(&w, b);
    tp_jw_obj(&w);
    tp_jw_key(&w, "instrument");
    tp_jw_str(&w, tp_instr_name(g->instr));
    tp_jw_key(&w, "ts");
    tp_jw_time(&w, g->ts);
    tp_jw_key(&w, "first_missing");
    gap_bound(&w, g, g->first_missing);
    tp_jw_key(&w, "last_missing");
    gap_bound(&w, g, g->last_missing);
    tp_jw_key(&w, "backfilled");
    tp_jw_bool(&w, g->backfilled);
    tp_jw_obj_end(&w);
    return w.err;
}

/* ---- the tick reader -------------------------------------------------------------------- */

void tp_kafka_dec_init(struct tp_kafka_dec *d)
{
    tp_json_init(&d->j, DEC_MAX_TOKENS, DEC_MAX_DEPTH);
}

void tp_kafka_dec_fini(struct tp_kafka_dec *d)
{
    tp_json_fini(&d->j);
}

static bool is_null(const struct tp_json *j, int i)
{
    return i < 0 || tp_json_type(j, i) == TP_JSON_NULL;
}

/* A number member: NaN when absent or null. */
static int get_num(const struct tp_json *j, int obj, const char *k, double *out)
{
    int i = tp_json_get(j, obj, k, strlen(k));
    if (is_null(j, i)) {
        *out = NAN;
        return 0;
    }
    return tp_json_f64(j, i, out) < 0 ? -EINVAL : 0;
}

/* A time member: a string (RFC 3339 or epoch digits) or a number of epoch digits, their unit
 * from the digit count (TP_TS_AUTO) or given (ts_ns: nanoseconds). */
static int get_time_unit(const struct tp_json *j, int i, enum tp_ts_unit unit, int64_t *out)
{
    enum tp_json_type t = tp_json_type(j, i);
    if (t != TP_JSON_STRING && t != TP_JSON_NUMBER) return -EINVAL;
    if (t == TP_JSON_STRING && j->tok[i].esc) return -EINVAL;
    return tp_time_parse(tp_json_text(j, i), tp_json_len(j, i), unit, out);
}

static int get_time(const struct tp_json *j, int i, int64_t *out)
{
    return get_time_unit(j, i, TP_TS_AUTO, out);
}

static int get_bool(const struct tp_json *j, int obj, const char *k, bool *out)
{
    int i = tp_json_get(j, obj, k, strlen(k));
    if (is_null(j, i)) {
        *out = false;
        return 0;
    }
    return tp_json_bool(j, i, out);
}

/* A short string member, unescaped into out (cap includes the NUL). Length, or -EINVAL. */
static int get_str(const struct tp_json *j, int i, char *out, size_t cap)
{
    if (tp_json_type(j, i) != TP_JSON_STRING) return -EINVAL;
    int n = tp_json_unescape(j, i, out, cap);
    if (n < 0 || (size_t)n >= cap) return -EINVAL;
    out[n] = 0;
    return n;
}

static int parse_status(const char *s, uint8_t *ret)
{
    for (unsigned k = 1; k <= TP_ST_LAST; k++)
        if (!strcmp(s, tp_status_name((enum tp_status)k))) {
            *ret = (uint8_t)k;
            return 0;
        }
    return -EINVAL;
}

#define BAD(w)                                                                                     \
    do {                                                                                           \
        *why = (w);                                                                                \
        return -EINVAL;                                                                            \
    } while (0)

int tp_kafka_tick_parse(struct tp_kafka_dec *d, const void *p, size_t n, struct tp_event *ret,
                        const char **why)
{
    struct tp_json *j = &d->j;
    if (tp_json_parse(j, p, n) < 0) BAD("not JSON");
    if (tp_json_type(j, 0) != TP_JSON_OBJECT) BAD("not a JSON object");
    char s[TP_INSTR_NAMELEN + 1];
    struct tp_event e;

    int i = TP_JSON_GET(j, 0, "kind");
    enum tp_kind kind;
    if (get_str(j, i, s, sizeof s) < 0 || tp_kind_parse(s, &kind) < 0) BAD("bad kind");
    tp_event_init(&e, kind);

    i = TP_JSON_GET(j, 0, "instrument");
    int len = get_str(j, i, s, sizeof s);
    if (len < 0 || tp_instr_intern(s, (size_t)len, &e.instr) < 0) BAD("bad instrument");

    i = TP_JSON_GET(j, 0, "ts_ns");
    if (i >= 0) {
        if (get_time_unit(j, i, TP_TS_NS, &e.ts) < 0) BAD("bad ts_ns");
    } else if (get_time(j, TP_JSON_GET(j, 0, "ts"), &e.ts) < 0) {
        BAD("bad ts");
    }
    i = TP_JSON_GET(j, 0, "ts_recv");
    if (is_null(j, i))
        e.ts_recv = e.ts;
    else if (get_time(j, i, &e.ts_recv) < 0)
        BAD("bad ts_recv");

    i = TP_JSON_GET(j, 0, "venue_symbol");
    if (!is_null(j, i)) {
        char vs[TP_VSYM_MAX + 1];
        if (tp_json_type(j, i) != TP_JSON_STRING) BAD("bad venue_symbol");
        int vl = tp_json_unescape(j, i, vs, sizeof vs);
        if (vl == -E2BIG) vl = TP_VSYM_MAX;
        if (vl < 0) BAD("bad venue_symbol");
        tp_event_set_vsym(&e, vs, (size_t)vl);
    }

    if (get_num(j, 0, "price", &e.price) || get_num(j, 0, "size", &e.size) ||
        get_num(j, 0, "bid", &e.bid) || get_num(j, 0, "ask", &e.ask) ||
        get_num(j, 0, "bid_size", &e.bid_size) || get_num(j, 0, "ask_size", &e.ask_size) ||
        get_num(j, 0, "open", &e.open) || get_num(j, 0, "high", &e.high) ||
        get_num(j, 0, "low", &e.low) || get_num(j, 0, "change", &e.change) ||
        get_num(j, 0, "value", &e.value))
        BAD("bad number");

    i = TP_JSON_GET(j, 0, "side");
    if (!is_null(j, i)) {
        enum tp_side side;
        if (get_str(j, i, s, sizeof s) < 0 || tp_side_parse(s, strlen(s), &side) < 0)
            BAD("bad side");
        e.side = (uint8_t)side;
    }

    i = TP_JSON_GET(j, 0, "trade_id");
    if (tp_json_type(j, i) == TP_JSON_NUMBER) {
        uint64_t id;
        if (tp_json_u64(j, i, &id) < 0) BAD("bad trade_id");
        tp_event_set_id(&e, id);
    } else if (tp_json_type(j, i) == TP_JSON_STRING) {
        char id[TP_TRADE_ID_MAX + 1];
        int il = get_str(j, i, id, sizeof id);
        if (il <= 0 || tp_event_set_id_str(&e, id, (size_t)il) < 0) BAD("bad trade_id");
    } else if (!is_null(j, i)) {
        BAD("bad trade_id");
    }

    if (kind == TP_KIND_STATUS) {
        if (get_str(j, TP_JSON_GET(j, 0, "status"), s, sizeof s) < 0 || parse_status(s, &e.status))
            BAD("bad status");
        if (e.status == TP_ST_GAP) {
            int f = TP_JSON_GET(j, 0, "first_missing"), l = TP_JSON_GET(j, 0, "last_missing");
            if (tp_json_type(j, f) == TP_JSON_STRING) {
                int64_t a, b;
                if (get_time(j, f, &a) < 0 || get_time(j, l, &b) < 0) BAD("bad gap bounds");
                e.trade_id = (uint64_t)a;
                e.gap_last = (uint64_t)b;
                e.flags |= TP_EV_GAP_TIME;
            } else if (tp_json_u64(j, f, &e.trade_id) < 0 || tp_json_u64(j, l, &e.gap_last) < 0) {
                BAD("bad gap bounds");
            }
        }
    }

    bool venue, qo, snap, filled; /* absent (a producer before "backfilled") reads as false */
    if (get_bool(j, 0, "ts_venue", &venue) || get_bool(j, 0, "quote_only", &qo) ||
        get_bool(j, 0, "snapshot", &snap) || get_bool(j, 0, "backfilled", &filled))
        BAD("bad flag");
    if (filled && !(kind == TP_KIND_STATUS && e.status == TP_ST_GAP))
        BAD("backfilled on a record that is not a gap");
    e.flags |= (venue ? TP_EV_TS_VENUE : 0) | (qo ? TP_EV_QUOTE_ONLY : 0) |
               (snap ? TP_EV_SNAPSHOT : 0) | (filled ? TP_EV_BACKFILLED : 0);
    *ret = e;
    return 0;
}

/* ---- the bar and anomaly readers (the serve role) --------------------------------------- */

/* The instrument member, interned. */
static int get_instr(const struct tp_json *j, uint32_t *ret)
{
    char s[TP_INSTR_NAMELEN + 1];
    int len = get_str(j, TP_JSON_GET(j, 0, "instrument"), s, sizeof s);
    if (len < 0 || tp_instr_intern(s, (size_t)len, ret) < 0) return -EINVAL;
    return 0;
}

/* An interval member: "1m", ...; null or absent is 0. */
static int get_interval(const struct tp_json *j, int64_t *ret)
{
    int i = TP_JSON_GET(j, 0, "interval");
    if (is_null(j, i)) {
        *ret = 0;
        return 0;
    }
    char s[32];
    if (get_str(j, i, s, sizeof s) < 0 || tp_duration_parse(s, ret) < 0 || *ret <= 0)
        return -EINVAL;
    return 0;
}

int tp_kafka_bar_parse(struct tp_kafka_dec *d, const void *p, size_t n, struct tp_bar *ret,
                       const char **why)
{
    struct tp_json *j = &d->j;
    if (tp_json_parse(j, p, n) < 0) BAD("not JSON");
    if (tp_json_type(j, 0) != TP_JSON_OBJECT) BAD("not a JSON object");
    struct tp_bar b;
    memset(&b, 0, sizeof b);
    if (get_instr(j, &b.instr) < 0) BAD("bad instrument");
    if (get_interval(j, &b.interval_ns) < 0 || b.interval_ns <= 0) BAD("bad interval");
    if (get_time(j, TP_JSON_GET(j, 0, "ts"), &b.ts) < 0) BAD("bad ts");
    struct tp_ind_values *v = &b.ind;
    if (get_num(j, 0, "open", &b.open) || get_num(j, 0, "high", &b.high) ||
        get_num(j, 0, "low", &b.low) || get_num(j, 0, "close", &b.close) ||
        get_num(j, 0, "volume", &b.volume) || get_num(j, 0, "notional", &b.notional) ||
        get_num(j, 0, "vwap", &b.vwap) || get_num(j, 0, "buy_volume", &b.buy_volume) ||
        get_num(j, 0, "sell_volume", &b.sell_volume) || get_num(j, 0, "sma_20", &v->sma) ||
        get_num(j, 0, "ema_20", &v->ema) || get_num(j, 0, "bb_upper", &v->bb_upper) ||
        get_num(j, 0, "bb_middle", &v->bb_middle) || get_num(j, 0, "bb_lower", &v->bb_lower) ||
        get_num(j, 0, "rsi_14", &v->rsi) || get_num(j, 0, "macd", &v->macd) ||
        get_num(j, 0, "macd_signal", &v->macd_signal) ||
        get_num(j, 0, "macd_hist", &v->macd_hist) || get_num(j, 0, "atr_14", &v->atr) ||
        get_num(j, 0, "volatility_20", &v->volatility))
        BAD("bad number");
    int i = TP_JSON_GET(j, 0, "trades");
    if (!is_null(j, i) && tp_json_u64(j, i, &b.trades) < 0) BAD("bad trades");
    i = TP_JSON_GET(j, 0, "first_ts");
    if (!is_null(j, i) && get_time(j, i, &b.first_ts) < 0) BAD("bad first_ts");
    i = TP_JSON_GET(j, 0, "last_ts");
    if (!is_null(j, i) && get_time(j, i, &b.last_ts) < 0) BAD("bad last_ts");
    b.final = true; /* the topic holds final bars only */
    *ret = b;
    return 0;
}

int tp_kafka_anomaly_parse(struct tp_kafka_dec *d, const void *p, size_t n, struct tp_anomaly *ret,
                           const char **why)
{
    struct tp_json *j = &d->j;
    if (tp_json_parse(j, p, n) < 0) BAD("not JSON");
    if (tp_json_type(j, 0) != TP_JSON_OBJECT) BAD("not a JSON object");
    struct tp_anomaly a;
    memset(&a, 0, sizeof a);
    if (get_instr(j, &a.instr) < 0) BAD("bad instrument");
    if (get_time(j, TP_JSON_GET(j, 0, "ts"), &a.ts) < 0) BAD("bad ts");
    if (get_interval(j, &a.interval_ns) < 0) BAD("bad interval");
    char s[32];
    if (get_str(j, TP_JSON_GET(j, 0, "kind"), s, sizeof s) < 0) BAD("bad kind");
    for (unsigned k = 1; k < TP_AN_KINDS && !a.kind; k++)
        if (!strcmp(s, tp_anomaly_kind_name((enum tp_anomaly_kind)k))) a.kind = (uint8_t)k;
    if (!a.kind) BAD("unknown anomaly kind");
    if (get_num(j, 0, "observed", &a.observed) || get_num(j, 0, "expected", &a.expected) ||
        get_num(j, 0, "score", &a.score))
        BAD("bad number");
    *ret = a;
    return 0;
}
