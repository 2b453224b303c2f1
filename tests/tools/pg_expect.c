/*
 * pg_expect.c — a test helper for the PostgreSQL tests (tests/integration/pg_*.sh): what the
 * database must hold, computed from the journals with tickpipe's own record decoder, in the
 * exact text a psql query of the tests prints (so the two are compared with cmp):
 *
 *   pg_expect ticks DATA       one line per input event that is not a status record
 *   pg_expect bars DATA        one line per final bar of the output journal
 *   pg_expect anomalies DATA   one line per anomaly
 *   pg_expect late DATA        one line per late record
 *   pg_expect gaps DATA        one line per gap record
 *   pg_expect write CSV DATA [MAP]   appends the events of a trades CSV (the replay reader,
 *                              with an optional --map string such as value=sales) to
 *                              DATA/journal/input, for tests that need known values
 *
 * Line format: fields joined by '|'; doubles as the 16 hex digits of their big-endian bits
 * (PostgreSQL's encode(float8send(x), 'hex')), empty for null; times as integer microseconds
 * since the epoch (floor), ts_ns as integer nanoseconds; texts as they are, empty for null.
 * Exit 0, 1 on an error (message on stderr), 2 on usage.
 */
#include <math.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "log/journal.h"
#include "log/record.h"
#include "source/csvin.h"

int main(int argc, char **argv);

static void hex(double v)
{
    if (isnan(v)) {
        putchar('|');
        return;
    }
    uint64_t u;
    memcpy(&u, &v, 8);
    printf("|%016llx", (unsigned long long)u);
}

static void us(int64_t ns)
{
    printf("|%lld", (long long)tp_floor_div(ns, 1000));
}

static const char *iv_text(int64_t ns, char *out, size_t n)
{
    out[0] = 0;
    if (ns > 0) tp_duration_format(ns, out, n);
    return out;
}

/* The 19 ticks columns after a leading field (no newline). */
static void tick_cols(const struct tp_event *e)
{
    us(e->ts);
    printf("|%lld", (long long)e->ts);
    us(e->ts_recv);
    printf("|%s|%s|%s", tp_instr_name(e->instr), e->venue_symbol,
           tp_kind_name((enum tp_kind)e->kind));
    hex(e->price);
    hex(e->size);
    printf("|%s|", tp_side_name((enum tp_side)e->side));
    if ((e->flags & TP_EV_ID_STR) && e->trade_id_len)
        printf("%s", e->trade_id_str);
    else if (e->flags & TP_EV_HAS_ID)
        printf("%llu", (unsigned long long)e->trade_id);
    const double v[] = {e->bid,  e->ask, e->bid_size, e->ask_size, e->open,
                        e->high, e->low, e->change,   e->value};
    for (size_t i = 0; i < TP_ARRAY_LEN(v); i++) hex(v[i]);
}

static int dump(const char *what, const char *data)
{
    bool input = !strcmp(what, "ticks");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/journal/%s", data, input ? "input" : "output");
    struct tp_cursor *c;
    int rc = tp_cursor_open(dir, 0, NULL, false, &c);
    if (rc < 0) {
        fprintf(stderr, "pg_expect: %s: %s\n", dir, strerror(-rc));
        return 1;
    }
    char iv[32];
    for (;;) {
        const void *p;
        size_t n;
        uint64_t off;
        rc = tp_cursor_next(c, &p, &n, &off);
        if (rc <= 0) break;
        enum tp_rec_type t = tp_rec_type(p, n);
        if (input && t == TP_REC_EVENT) {
            struct tp_event e;
            if ((rc = tp_rec_get_event(p, n, &e)) < 0) break;
            if (e.kind == TP_KIND_STATUS) continue;
            printf("%llu", (unsigned long long)off);
            tick_cols(&e);
            putchar('\n');
        } else if (!strcmp(what, "bars") && t == TP_REC_BAR) {
            struct tp_bar b;
            if ((rc = tp_rec_get_bar(p, n, &b)) < 0) break;
            if (!b.final) continue;
            printf("%s|%s", tp_instr_name(b.instr), iv_text(b.interval_ns, iv, sizeof iv));
            us(b.ts);
            const double a[] = {b.open, b.high, b.low, b.close, b.volume, b.notional, b.vwap};
            for (size_t i = 0; i < TP_ARRAY_LEN(a); i++) hex(a[i]);
            printf("|%llu", (unsigned long long)b.trades);
            hex(b.buy_volume);
            hex(b.sell_volume);
            us(b.first_ts);
            us(b.last_ts);
            const struct tp_ind_values *v = &b.ind;
            const double ind[] = {v->sma,       v->ema, v->bb_upper,  v->bb_middle,
                                  v->bb_lower,  v->rsi, v->macd,      v->macd_signal,
                                  v->macd_hist, v->atr, v->volatility};
            for (size_t i = 0; i < TP_ARRAY_LEN(ind); i++) hex(ind[i]);
            putchar('\n');
        } else if (!strcmp(what, "anomalies") && t == TP_REC_ANOMALY) {
            struct tp_anomaly a;
            if ((rc = tp_rec_get_anomaly(p, n, &a)) < 0) break;
            printf("%s", tp_instr_name(a.instr));
            us(a.ts);
            printf("|%s", tp_anomaly_kind_name((enum tp_anomaly_kind)a.kind));
            hex(a.observed);
            hex(a.expected);
            hex(a.score);
            printf("|%s|%lld\n", iv_text(a.interval_ns, iv, sizeof iv), (long long)a.ts);
        } else if (!strcmp(what, "late") && t == TP_REC_LATE) {
            struct tp_event e;
            int64_t ivns;
            if ((rc = tp_rec_get_late(p, n, &e, &ivns)) < 0) break;
            printf("%llu", (unsigned long long)off);
            tick_cols(&e);
            printf("|%s\n", iv_text(ivns, iv, sizeof iv));
        } else if (!strcmp(what, "gaps") && t == TP_REC_GAP) {
            struct tp_gap g;
            if ((rc = tp_rec_get_gap(p, n, &g)) < 0) break;
            printf("%s", tp_instr_name(g.instr));
            us(g.ts);
            printf("|%llu|%llu|%s|%s|%lld\n", (unsigned long long)g.first_missing,
                   (unsigned long long)g.last_missing, g.backfilled ? "t" : "f",
                   g.by_time ? "t" : "f", (long long)g.ts);
        }
    }
    tp_cursor_close(c);
    if (rc < 0) {
        fprintf(stderr, "pg_expect: %s: %s\n", dir, strerror(-rc));
        return 1;
    }
    return 0;
}

static int write_csv(const char *csv, const char *data, const char *map)
{
    char err[256];
    struct tp_csvin_opts o = {.map = map};
    struct tp_csvin *in;
    int rc = tp_csvin_open(csv, &o, &in, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "pg_expect: %s: %s\n", csv, err);
        return 1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/journal/input", data);
    struct tp_journal_opts jo;
    tp_journal_opts_default(&jo, dir);
    struct tp_journal *j;
    if ((rc = tp_journal_open(&jo, &j, NULL)) < 0) {
        fprintf(stderr, "pg_expect: %s: %s\n", dir, strerror(-rc));
        tp_csvin_free(in);
        return 1;
    }
    struct tp_buf b;
    tp_buf_init(&b, 1u << 16);
    struct tp_event e;
    uint64_t n = 0;
    while ((rc = tp_csvin_next(in, &e)) != TP_CSVIN_EOF) {
        if (rc < 0) break;
        if (rc != TP_CSVIN_EVENT) {
            fprintf(stderr, "pg_expect: %s: bad row at line %llu\n", csv,
                    (unsigned long long)tp_csvin_record_line(in));
            rc = -EINVAL;
            break;
        }
        tp_buf_reset(&b);
        if ((rc = tp_rec_put_event(&b, &e)) < 0 || (rc = tp_journal_append(j, b.p, b.len, NULL)))
            break;
        n++;
    }
    int crc = tp_journal_close(j);
    tp_buf_fini(&b);
    tp_csvin_free(in);
    if (rc < 0 || crc < 0) {
        fprintf(stderr, "pg_expect: write: %s\n", strerror(rc < 0 ? -rc : -crc));
        return 1;
    }
    fprintf(stderr, "pg_expect: appended %llu events to %s\n", (unsigned long long)n, dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "write")) return write_csv(argv[2], argv[3], argv[4]);
    if (argc == 3) return dump(argv[1], argv[2]);
    fprintf(stderr, "usage: pg_expect ticks|bars|anomalies|late|gaps DATA\n"
                    "       pg_expect write CSV DATA [MAP]\n");
    return 2;
}
