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

/* Two digits of v < 100. */
static inline char *put2(char *o, unsigned v)
{
    memcpy(o, dig2 + 2 * v, 2);
    return o + 2;
}

/* A number field (null when not finite) written at o; returns the end. */
static inline char *num_at(char *o, double v)
{
    if (!isfinite(v)) return o;
    return o + tp_num_format(v, o);
}

static void put_num(struct tp_buf *b, int *rc, bool sep, double v)
{
    char t[TP_NUM_STRLEN];
    put_raw(b, rc, sep, t, (size_t)(num_at(t, v) - t));
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

/* tp_time_format without snprintf, for years 0..9999 (else it falls back to it). The text
 * up to the minute ("2024-01-01T00:00:") is kept per thread for the last minute printed: the
 * times of a bar row (and of consecutive rows) mostly share it. */
static size_t fast_time(int64_t ns, char *out)
{
    static _Thread_local int64_t last_min = INT64_MIN;
    static _Thread_local char last_pre[17];
    int64_t secs = tp_floor_div(ns, TP_NS_PER_SEC);
    int64_t frac = ns - secs * TP_NS_PER_SEC;
    int64_t min = tp_floor_div(secs, 60);
    unsigned sec = (unsigned)(secs - min * 60);
    if (min != last_min) {
        int64_t days = tp_floor_div(min, 1440);
        unsigned mod = (unsigned)(min - days * 1440);
        int64_t y;
        unsigned mo, d;
        tp_civil_from_days(days, &y, &mo, &d);
        if (y < 0 || y > 9999) return tp_time_format(ns, out);
        char *o = put2(last_pre, (unsigned)(y / 100));
        o = put2(o, (unsigned)(y % 100));
        *o++ = '-';
        o = put2(o, mo);
        *o++ = '-';
        o = put2(o, d);
        *o++ = 'T';
        o = put2(o, mod / 60);
        *o++ = ':';
        o = put2(o, mod % 60);
        *o = ':';
        last_min = min;
    }
    char *o = out;
    memcpy(o, last_pre, sizeof last_pre);
    o += sizeof last_pre;
    o = put2(o, sec);
    *o++ = '.';
    uint32_t f = (uint32_t)frac; /* 9 digits */
    o = put2(o, f / 10000000);
    o = put2(o, f / 100000 % 100);
    o = put2(o, f / 1000 % 100);
    o = put2(o, f / 10 % 100);
    *o++ = (char)('0' + f % 10);
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
static size_t interval_text(int64_t ns, char t[32])
{
    static _Thread_local int64_t last_ns;
    static _Thread_local char last[32];
    static _Thread_local size_t last_n;
    if (ns != last_ns) {
        last_n = tp_duration_format(ns, last, sizeof last);
        last_ns = ns;
    }
    memcpy(t, last, last_n);
    return last_n;
}

static void put_interval(struct tp_buf *b, int *rc, bool sep, int64_t ns)
{
    char t[32];
    put_raw(b, rc, sep, t, ns > 0 ? interval_text(ns, t) : 0);
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

/* The longest bar row: a name, an interval, 3 times, 20 numbers, a count, 25 commas and a
 * line break, each field at its longest. */
#define BAR_ROW_MAX (TP_INSTR_NAMELEN + 32 + 3 * TP_TIME_STRLEN + 20 * TP_NUM_STRLEN + 24 + 26)

/* Bars are most of the output: the row is written straight into reserved space, with one
 * capacity check. Instrument names never need quoting (the table accepts only
 * [a-z0-9_]:[A-Z0-9._-]). */
int tp_csv_put_bar(struct tp_buf *b, const struct tp_bar *x)
{
    int rc = tp_buf_reserve(b, BAR_ROW_MAX);
    if (rc) return rc;
    char *o = b->p + b->len;
    const char *name = tp_instr_name(x->instr);
    size_t n = strlen(name);
    memcpy(o, name, n);
    o += n;
    *o++ = ',';
    if (x->interval_ns > 0) {
        char t[32];
        size_t k = interval_text(x->interval_ns, t);
        memcpy(o, t, k);
        o += k;
    }
    *o++ = ',';
    o += fast_time(x->ts, o);
    const double head[] = {x->open, x->high, x->low, x->close, x->volume, x->notional, x->vwap};
    for (size_t i = 0; i < TP_ARRAY_LEN(head); i++) {
        *o++ = ',';
        o = num_at(o, head[i]);
    }
    *o++ = ',';
    o = put_digits(o, x->trades, 1);
    *o++ = ',';
    o = num_at(o, x->buy_volume);
    *o++ = ',';
    o = num_at(o, x->sell_volume);
    *o++ = ',';
    o += fast_time(x->first_ts, o);
    *o++ = ',';
    o += fast_time(x->last_ts, o);
    const struct tp_ind_values *v = &x->ind;
    const double ind[] = {v->sma,  v->ema,         v->bb_upper,  v->bb_middle, v->bb_lower,  v->rsi,
                          v->macd, v->macd_signal, v->macd_hist, v->atr,       v->volatility};
    for (size_t i = 0; i < TP_ARRAY_LEN(ind); i++) {
        *o++ = ',';
        o = num_at(o, ind[i]);
    }
    *o++ = '\n';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = 0;
    return 0;
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
