/*
 * fuzz_csvin.c — libFuzzer target for the CSV trade and quote reader (source/csvin.h).
 *
 * Input: the first byte picks the options — bits 0-2 a --map among real ones (none, the seed
 * data's `ts=timestamp,price=stock_price,value=sales_trend`, renamed instrument and size, a
 * quote feed's bid/ask columns, ...), bits 3-4 a forced timestamp unit, bit 5 a default
 * instrument, bit 6 quote_only, bit 7 a small line_max (64 bytes); the rest is the file. The
 * file is read to its end, then read again resuming at a record boundary in its middle.
 * Properties (any failure aborts):
 *   - records = events + bad rows, and each bad row has one counted reason;
 *   - every event is well-formed: an instrument, a finite positive price for trades, finite
 *     positive bid and ask for quotes, non-negative sizes, a trade id within its cap;
 *   - offsets only grow, stay within the file, and lines never go back;
 *   - resuming at (offset, lines) of record k gives exactly the records after k (the promise
 *     `run --source replay:` relies on across restarts).
 */
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include "core/log.h"
#include "source/csvin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const maps[] = {
    NULL,
    "ts=timestamp,price=stock_price,value=sales_trend",
    "instrument=Sym,size=QTY",
    "ts=time,bid=best_bid,ask=best_ask,bid_size=bq,ask_size=aq",
    "ts=t, price=p, size=q, side=s, trade_id=id",
    "kind=type,ts_recv=recv,venue_symbol=vs",
    "open=o,high=h,low=l,change=chg,value=v",
    "ts=ts,ts=ts", /* invalid: a field twice */
};
static const enum tp_ts_unit units[] = {TP_TS_AUTO, TP_TS_S, TP_TS_MS, TP_TS_NS};

#define MAXREC 4096

struct rec {
    int kind; /* TP_CSVIN_EVENT or TP_CSVIN_BAD */
    int reason;
    uint64_t line, offset, lines;
    struct tp_event ev;
};

static struct rec recs[MAXREC];
static char path[256];

static void remove_file(void)
{
    unlink(path);
}

static void check_event(const struct tp_event *e)
{
    if (e->instr == 0) abort();
    if (e->trade_id_len > TP_TRADE_ID_MAX) abort();
    switch (e->kind) {
    case TP_KIND_TRADE:
    case TP_KIND_SNAPSHOT:
    case TP_KIND_VBAR:
        if (!(e->price > 0) || !isfinite(e->price)) abort();
        break;
    case TP_KIND_QUOTE:
        if (!(e->bid > 0) || !(e->ask > 0) || !isfinite(e->bid) || !isfinite(e->ask)) abort();
        break;
    default:
        abort();
    }
    if (e->kind == TP_KIND_TRADE && !(e->size >= 0)) abort();
    if (!isnan(e->bid_size) && !(e->bid_size >= 0)) abort();
    if (!isnan(e->ask_size) && !(e->ask_size >= 0)) abort();
}

static bool same_event(const struct tp_event *a, const struct tp_event *b)
{
    return a->ts == b->ts && a->ts_recv == b->ts_recv && a->instr == b->instr &&
           a->kind == b->kind && a->side == b->side && a->flags == b->flags &&
           a->trade_id == b->trade_id && a->trade_id_len == b->trade_id_len &&
           !memcmp(a->trade_id_str, b->trade_id_str, a->trade_id_len) &&
           !memcmp(&a->price, &b->price, sizeof a->price) &&
           !memcmp(&a->size, &b->size, sizeof a->size) &&
           !memcmp(&a->bid, &b->bid, sizeof a->bid) && !memcmp(&a->ask, &b->ask, sizeof a->ask) &&
           !memcmp(&a->value, &b->value, sizeof a->value);
}

/* Reads r to its end into recs[from..]; returns the count (capped at MAXREC). */
static size_t read_all(struct tp_csvin *r, size_t from, uint64_t fsize)
{
    size_t n = from;
    uint64_t last_off = tp_csvin_offset(r), last_lines = tp_csvin_lines(r);
    for (;;) {
        struct tp_event ev;
        int rc = tp_csvin_next(r, &ev);
        if (rc < 0) abort(); /* a regular file never fails to read */
        if (rc == TP_CSVIN_EOF) break;
        uint64_t off = tp_csvin_offset(r), lines = tp_csvin_lines(r);
        if (off < last_off || off > fsize || lines < last_lines) abort();
        last_off = off;
        last_lines = lines;
        if (n >= MAXREC) continue;
        struct rec *x = &recs[n++];
        x->kind = rc;
        x->offset = off;
        x->lines = lines;
        x->line = tp_csvin_record_line(r);
        if (rc == TP_CSVIN_EVENT) {
            check_event(&ev);
            x->ev = ev;
            x->reason = -1;
        } else if (rc == TP_CSVIN_BAD) {
            x->reason = (int)tp_csvin_last_reason(r);
            if (x->reason < 0 || x->reason >= TP_CSV_R_COUNT) abort();
        } else {
            abort();
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/tp-fuzz-csvin-%ld.csv", base, (long)getpid());
        atexit(remove_file);
        tp_log_set_level((enum tp_log_level)(TP_LOG_ERROR + 1));
    }
    if (size < 1 || size > (256u << 10)) return 0;
    uint8_t o = data[0];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) abort();
    if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) abort();
    close(fd);

    struct tp_csvin_opts opts = {
        .map = maps[o & 7],
        .ts_unit = units[(o >> 3) & 3],
        .instrument = o & 32 ? "fuzz:DEFAULT" : NULL,
        .quote_only = (o & 64) != 0,
        .line_max = o & 128 ? 64 : 0,
    };
    char err[256];
    struct tp_csvin *r;
    int rc = tp_csvin_open(path, &opts, &r, err, sizeof err);
    if (rc < 0) {
        if (rc != -EINVAL || !err[0]) abort();
        return 0;
    }
    uint64_t fsize = tp_csvin_size(r);
    if (fsize != size - 1) abort();
    size_t n = read_all(r, 0, fsize);
    const struct tp_csvin_stats *st = tp_csvin_stats(r);
    if (st->records != st->events + st->bad_total) abort();
    uint64_t sum = 0;
    for (int i = 0; i < TP_CSV_R_COUNT; i++) sum += st->bad[i];
    if (sum != st->bad_total) abort();
    if (st->records < MAXREC && st->records != n) abort();
    tp_csvin_free(r);
    if (n == 0 || n >= MAXREC) return 0;

    /* Resume after record k: the rest must come out the same. */
    size_t k = n / 2;
    opts.start_offset = recs[k].offset;
    opts.start_lines = recs[k].lines;
    if (tp_csvin_open(path, &opts, &r, err, sizeof err) != 0) abort();
    static struct rec first[MAXREC];
    memcpy(first, recs, n * sizeof recs[0]);
    size_t m = read_all(r, k + 1, fsize);
    if (m != n) abort();
    for (size_t i = k + 1; i < n; i++) {
        const struct rec *a = &first[i], *b = &recs[i];
        if (a->kind != b->kind || a->reason != b->reason || a->offset != b->offset ||
            a->lines != b->lines || a->line != b->line)
            abort();
        if (a->kind == TP_CSVIN_EVENT && !same_event(&a->ev, &b->ev)) abort();
    }
    tp_csvin_free(r);
    return 0;
}
