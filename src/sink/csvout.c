/*
 * csvout.c — CSV tables of bars, anomalies and late events (see csvout.h).
 *
 * Rows are formatted straight into the writer's buffer; when it holds FLUSH_AT bytes it is
 * written out with one write() loop. The buffer's cap is FLUSH_AT plus room for the longest
 * row (bounded: every field is a number, a time, an interned name or a capped string, each
 * quoted at most doubling), so appending a row never fails for size.
 */
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include "core/instrument.h"
#include "core/num.h"
#include "core/tptime.h"
#include "sink/csvout.h"

#define FLUSH_AT (1u << 20)
#define ROW_MAX  (16u << 10)

static const char *const headers[] = {
    [TP_CSV_BARS] = "instrument,interval,ts,open,high,low,close,volume,notional,vwap,trades,"
                    "buy_volume,sell_volume,first_ts,last_ts,sma_20,ema_20,bb_upper,bb_middle,"
                    "bb_lower,rsi_14,macd,macd_signal,macd_hist,atr_14,volatility_20\n",
    [TP_CSV_ANOMALIES] = "instrument,ts,kind,observed,expected,score,interval\n",
    [TP_CSV_LATE] = "ts,ts_ns,ts_recv,instrument,venue_symbol,kind,price,size,side,trade_id,bid,"
                    "ask,bid_size,ask_size,open,high,low,change,value,interval\n",
};

const char *tp_csv_header(enum tp_csv_table t)
{
    return (unsigned)t < TP_ARRAY_LEN(headers) ? headers[t] : "";
}

/* Each helper appends a separator (when sep) and one field; errors accumulate in *rc. */

static void put_raw(struct tp_buf *b, int *rc, bool sep, const char *s, size_t n)
{
    if (*rc) return;
    if (sep && (*rc = tp_buf_putc(b, ','))) return;
    *rc = tp_buf_append(b, s, n);
}

static void put_text(struct tp_buf *b, int *rc, bool sep, const char *s, size_t n)
{
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        put_raw(b, rc, sep, s, n);
        return;
    }
    put_raw(b, rc, sep, "\"", 1);
    for (size_t i = 0; i < n && !*rc; i++) {
        const char *q = memchr(s + i, '"', n - i);
        size_t run = q ? (size_t)(q - (s + i)) : n - i;
        *rc = tp_buf_append(b, s + i, run);
        i += run;
        if (q && !*rc) *rc = tp_buf_append(b, "\"\"", 2);
    }
    put_raw(b, rc, false, "\"", 1);
}

static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10,
                             1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21};

static const char dig2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                           "34353637383940414243444546474849505152535455565758596061626364656667"
                           "6869707172737475767778798081828384858687888990919293949596979899";

/* Writes the digits of v, at least `width` of them (leading zeros); returns the end. */
static char *put_digits(char *o, uint64_t v, int width)
{
    char t[24];
    int n = (int)sizeof t;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        n -= 2;
        memcpy(t + n, dig2 + 2 * r, 2);
    }
    if (v >= 10) {
        n -= 2;
        memcpy(t + n, dig2 + 2 * v, 2);
    } else {
        t[--n] = (char)('0' + v);
    }
    while ((int)sizeof t - n < width) t[--n] = '0';
    memcpy(o, t + n, sizeof t - (size_t)n);
    return o + (sizeof t - (size_t)n);
}

/* Writes [-]D·10^-k in plain notation without trailing fraction zeros; returns the length. */
static size_t put_decimal(char *out, bool neg, uint64_t d, int k)
{
    while (k > 0 && d % 10 == 0) d /= 10, k--;
    /* D < 10^17, so from k = 17 on the integer part is 0 (and 10^20 exceeds uint64) */
    uint64_t pk = k < 17 ? (uint64_t)p10[k] : 0;
    char *o = out;
    if (neg) *o++ = '-';
    o = put_digits(o, pk ? d / pk : 0, 1);
    if (k) {
        *o++ = '.';
        o = put_digits(o, pk ? d % pk : d, k);
    }
    *o = 0;
    return (size_t)(o - out);
}

static unsigned __int128 pow10_128(int k)
{
    return k <= 19 ? (unsigned __int128)(uint64_t)p10[k]
                   : (unsigned __int128)(uint64_t)p10[19] * (uint64_t)p10[k - 19];
}

/* 16 or 17 significant digits, exactly as tp_num_format (which takes the correctly rounded
 * 16-digit form if it reads back as a, else the 17-digit one): with a = f·2^-s (f < 2^53,
 * s ≤ 72 here) and X = f·10^k < 2^127, the k-fraction-digit neighbours of a are Q = X >> s
 * and Q + 1, and R = X mod 2^s says which is nearer (2R vs 2^s) and whether it lies inside
 * a's rounding interval (distance below half the gap to the next double: 10^k / 2^(s+1),
 * half that below a power of two). Ties and boundary cases, where rounding rules decide,
 * return 0 so the caller falls back. k: fraction digits that give a 16-digit integer part. */
static size_t long_num(double a, bool neg, int k, char *out)
{
    int e2;
    double mant = frexp(a, &e2);
    uint64_t f = (uint64_t)ldexp(mant, 53);
    int s = 53 - e2;
    if (s <= 0 || s > 100) return 0;
    for (int digits = 16; digits <= 17; digits++, k++) {
        if (k > 22) return 0;
        unsigned __int128 tenk = pow10_128(k), one = (unsigned __int128)1 << s;
        unsigned __int128 x = (unsigned __int128)f * tenk;
        unsigned __int128 r = x & (one - 1);
        if (2 * r == one) return 0; /* exactly halfway between two candidates */
        bool up = 2 * r > one;
        uint64_t d = (uint64_t)(x >> s) + up;
        uint64_t lo = (uint64_t)p10[digits - 1];
        if (d < lo || d >= 10 * lo) return 0;
        if (digits == 17) return put_decimal(out, neg, d, k);
        unsigned __int128 dist = up ? 2 * (one - r) : (f == UINT64_C(1) << 52 ? 4 * r : 2 * r);
        if (dist == tenk) return 0; /* on the boundary: ties-to-even decides */
        if (dist < tenk) return put_decimal(out, neg, d, k);
    }
    return 0;
}

/* tp_num_format without its snprintf/strtod search, for 1e-6 ≤ |v| < 1e15 (plain notation).
 * Take k so that v·10^k has 15 integer digits and m = v·10^k rounded to an integer (checked
 * with fma to be the nearest, so m is the correctly rounded 15-digit form tp_num_format starts
 * from). As m < 2^53 and 10^k are exact, m / 10^k is the correctly rounded value of the decimal,
 * i.e. what a parser returns: if it is v, the decimal reads back as v, and since any shorter
 * form that reads back is this one with trailing zeros dropped (DBL_DIG = 15), dropping them
 * gives the shortest form. Otherwise no form of ≤ 15 digits exists: long_num. Returns the
 * length, or 0 to fall back to tp_num_format. */
static size_t fast_num(double v, char *out)
{
    double a = fabs(v);
    if (!(a >= 1e-6 && a < 1e15)) return 0;
    int e2;
    frexp(a, &e2);                                           /* 2^(e2-1) ≤ a < 2^e2 */
    int k = 14 - (int)floor((e2 - 1) * 0.30102999566398120); /* ≈ 14 - floor(log10 a) */
    if (k < 0) k = 0;
    if (k > 20) k = 20;
    while (k > 0 && a * p10[k] >= 1e15) k--;
    while (k < 20 && a * p10[k] < 1e14) k++;
    double m = nearbyint(a * p10[k]);
    if (!(fabs(fma(a, p10[k], -m)) < 0.5)) return 0;
    if (m / p10[k] == a) return put_decimal(out, v < 0, (uint64_t)m, k);
    return long_num(a, v < 0, k + 1, out);
}

static void put_num(struct tp_buf *b, int *rc, bool sep, double v)
{
    if (!isfinite(v)) { /* null */
        put_raw(b, rc, sep, "", 0);
        return;
    }
    char t[TP_NUM_STRLEN];
    size_t n = fast_num(v, t);
    if (!n) n = tp_num_format(v, t);
    put_raw(b, rc, sep, t, n);
}

static void put_u64(struct tp_buf *b, int *rc, bool sep, uint64_t v)
{
    char t[24];
    put_raw(b, rc, sep, t, (size_t)(put_digits(t, v, 1) - t));
}

static void put_i64(struct tp_buf *b, int *rc, bool sep, int64_t v)
{
    char t[24], *o = t;
    if (v < 0) *o++ = '-';
    o = put_digits(o, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 1);
    put_raw(b, rc, sep, t, (size_t)(o - t));
}

/* tp_time_format without snprintf, for years 0..9999 (else it falls back to it). */
static size_t fast_time(int64_t ns, char *out)
{
    int64_t secs = tp_floor_div(ns, TP_NS_PER_SEC);
    int64_t frac = ns % TP_NS_PER_SEC;
    if (frac < 0) frac += TP_NS_PER_SEC;
    int64_t days = tp_floor_div(secs, 86400);
    int64_t sod = secs - days * 86400;
    int64_t y;
    unsigned mo, d;
    tp_civil_from_days(days, &y, &mo, &d);
    if (y < 0 || y > 9999) return tp_time_format(ns, out);
    char *o = put_digits(out, (uint64_t)y, 4);
    *o++ = '-';
    o = put_digits(o, mo, 2);
    *o++ = '-';
    o = put_digits(o, d, 2);
    *o++ = 'T';
    o = put_digits(o, (uint64_t)(sod / 3600), 2);
    *o++ = ':';
    o = put_digits(o, (uint64_t)(sod / 60 % 60), 2);
    *o++ = ':';
    o = put_digits(o, (uint64_t)(sod % 60), 2);
    *o++ = '.';
    o = put_digits(o, (uint64_t)frac, 9);
    *o++ = 'Z';
    *o = 0;
    return (size_t)(o - out);
}

static void put_time(struct tp_buf *b, int *rc, bool sep, int64_t ns)
{
    char t[TP_TIME_STRLEN];
    size_t n = fast_time(ns, t);
    put_raw(b, rc, sep, t, n);
}

/* An interval; 0 is null (per-trade detectors). The last one formatted is remembered: a
 * table has a handful of intervals. */
static void put_interval(struct tp_buf *b, int *rc, bool sep, int64_t ns)
{
    static _Thread_local int64_t last_ns;
    static _Thread_local char last[32];
    static _Thread_local size_t last_n;
    if (ns <= 0) {
        put_raw(b, rc, sep, "", 0);
        return;
    }
    if (ns != last_ns) {
        last_n = tp_duration_format(ns, last, sizeof last);
        last_ns = ns;
    }
    put_raw(b, rc, sep, last, last_n);
}

static void put_instr(struct tp_buf *b, int *rc, bool sep, uint32_t id)
{
    const char *name = tp_instr_name(id);
    put_text(b, rc, sep, name, strlen(name));
}

static void end_line(struct tp_buf *b, int *rc)
{
    if (!*rc) *rc = tp_buf_putc(b, '\n');
}

/* Appends to b atomically: on failure b is restored to its length before the row. */
static int finish(struct tp_buf *b, size_t mark, int rc)
{
    if (rc) b->len = mark;
    return rc;
}

int tp_csv_put_bar(struct tp_buf *b, const struct tp_bar *x)
{
    size_t mark = b->len;
    int rc = 0;
    put_instr(b, &rc, false, x->instr);
    put_interval(b, &rc, true, x->interval_ns);
    put_time(b, &rc, true, x->ts);
    put_num(b, &rc, true, x->open);
    put_num(b, &rc, true, x->high);
    put_num(b, &rc, true, x->low);
    put_num(b, &rc, true, x->close);
    put_num(b, &rc, true, x->volume);
    put_num(b, &rc, true, x->notional);
    put_num(b, &rc, true, x->vwap);
    put_u64(b, &rc, true, x->trades);
    put_num(b, &rc, true, x->buy_volume);
    put_num(b, &rc, true, x->sell_volume);
    put_time(b, &rc, true, x->first_ts);
    put_time(b, &rc, true, x->last_ts);
    const struct tp_ind_values *v = &x->ind;
    put_num(b, &rc, true, v->sma);
    put_num(b, &rc, true, v->ema);
    put_num(b, &rc, true, v->bb_upper);
    put_num(b, &rc, true, v->bb_middle);
    put_num(b, &rc, true, v->bb_lower);
    put_num(b, &rc, true, v->rsi);
    put_num(b, &rc, true, v->macd);
    put_num(b, &rc, true, v->macd_signal);
    put_num(b, &rc, true, v->macd_hist);
    put_num(b, &rc, true, v->atr);
    put_num(b, &rc, true, v->volatility);
    end_line(b, &rc);
    return finish(b, mark, rc);
}

int tp_csv_put_anomaly(struct tp_buf *b, const struct tp_anomaly *a)
{
    size_t mark = b->len;
    int rc = 0;
    const char *kind = tp_anomaly_kind_name((enum tp_anomaly_kind)a->kind);
    put_instr(b, &rc, false, a->instr);
    put_time(b, &rc, true, a->ts);
    put_text(b, &rc, true, kind, strlen(kind));
    put_num(b, &rc, true, a->observed);
    put_num(b, &rc, true, a->expected);
    put_num(b, &rc, true, a->score);
    put_interval(b, &rc, true, a->interval_ns);
    end_line(b, &rc);
    return finish(b, mark, rc);
}

int tp_csv_put_late(struct tp_buf *b, const struct tp_event *e, int64_t interval_ns)
{
    size_t mark = b->len;
    int rc = 0;
    put_time(b, &rc, false, e->ts);
    put_i64(b, &rc, true, e->ts);
    put_time(b, &rc, true, e->ts_recv);
    put_instr(b, &rc, true, e->instr);
    put_text(b, &rc, true, e->venue_symbol, strnlen(e->venue_symbol, TP_VSYM_MAX));
    const char *kind = tp_kind_name((enum tp_kind)e->kind);
    put_text(b, &rc, true, kind, strlen(kind));
    put_num(b, &rc, true, e->price);
    put_num(b, &rc, true, e->size);
    const char *side = tp_side_name((enum tp_side)e->side);
    put_text(b, &rc, true, side, strlen(side));
    if (!(e->flags & TP_EV_HAS_ID))
        put_raw(b, &rc, true, "", 0);
    else if (e->flags & TP_EV_ID_STR)
        put_text(b, &rc, true, e->trade_id_str, strnlen(e->trade_id_str, TP_TRADE_ID_MAX));
    else
        put_u64(b, &rc, true, e->trade_id);
    put_num(b, &rc, true, e->bid);
    put_num(b, &rc, true, e->ask);
    put_num(b, &rc, true, e->bid_size);
    put_num(b, &rc, true, e->ask_size);
    put_num(b, &rc, true, e->open);
    put_num(b, &rc, true, e->high);
    put_num(b, &rc, true, e->low);
    put_num(b, &rc, true, e->change);
    put_num(b, &rc, true, e->value);
    put_interval(b, &rc, true, interval_ns);
    end_line(b, &rc);
    return finish(b, mark, rc);
}

/* ---- the file writer --------------------------------------------------------------------- */

struct tp_csvout {
    int fd;
    int err; /* first error, sticky */
    uint64_t rows;
    struct tp_buf b;
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush(struct tp_csvout *w)
{
    if (w->err) return w->err;
    if (w->b.len) {
        int rc = write_all(w->fd, w->b.p, w->b.len);
        tp_buf_reset(&w->b);
        if (rc) return w->err = rc;
    }
    return 0;
}

int tp_csvout_open(const char *path, enum tp_csv_table t, struct tp_csvout **ret)
{
    struct tp_csvout *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    tp_buf_init(&w->b, FLUSH_AT + ROW_MAX);
    int rc = tp_buf_reserve(&w->b, FLUSH_AT + ROW_MAX);
    if (rc) goto out_free;
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = -errno;
        goto out_free;
    }
    if ((rc = tp_buf_puts(&w->b, tp_csv_header(t)))) goto out_close;
    *ret = w;
    return 0;

out_close:
    close(w->fd);
out_free:
    tp_buf_fini(&w->b);
    free(w);
    return rc;
}

/* After a row: count it or keep its error; flush when the buffer is full enough. */
static int after_row(struct tp_csvout *w, int rc)
{
    if (rc) return w->err = rc;
    w->rows++;
    return w->b.len >= FLUSH_AT ? flush(w) : 0;
}

int tp_csvout_bar(struct tp_csvout *w, const struct tp_bar *bar)
{
    if (w->err) return w->err;
    return after_row(w, tp_csv_put_bar(&w->b, bar));
}

int tp_csvout_anomaly(struct tp_csvout *w, const struct tp_anomaly *a)
{
    if (w->err) return w->err;
    return after_row(w, tp_csv_put_anomaly(&w->b, a));
}

int tp_csvout_late(struct tp_csvout *w, const struct tp_event *e, int64_t interval_ns)
{
    if (w->err) return w->err;
    return after_row(w, tp_csv_put_late(&w->b, e, interval_ns));
}

uint64_t tp_csvout_rows(const struct tp_csvout *w)
{
    return w->rows;
}

int tp_csvout_error(const struct tp_csvout *w)
{
    return w->err;
}

int tp_csvout_close(struct tp_csvout *w, bool sync)
{
    if (!w) return 0;
    int rc = flush(w);
    if (!rc && sync && fsync(w->fd) < 0) rc = -errno;
    if (close(w->fd) < 0 && !rc) rc = -errno;
    tp_buf_fini(&w->b);
    free(w);
    return rc;
}
