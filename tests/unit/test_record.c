/*
 * test_record.c — the journal record codec (log/record.h): exact round trips of every record
 * type with edge values, encoders refusing what decoders would refuse, and decoders rejecting
 * truncated, extended and mutated encodings (a decoded mutation must re-encode to the same
 * bytes: the encodings are canonical).
 */
#include <math.h>

#include "core/instrument.h"
#include "log/record.h"
#include "tpt.h"

static uint32_t I(const char *name)
{
    uint32_t id = 0;
    if (tp_instr_intern(name, strlen(name), &id)) TPT_FAIL("intern %s", name);
    return id;
}

static double from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

#define ASSERT_SAME_DBL(a, b) ASSERT_EQ_U64(bits(a), bits(b))

static void eq_event(const struct tp_event *a, const struct tp_event *b)
{
    ASSERT_EQ_INT(a->ts, b->ts);
    ASSERT_EQ_INT(a->ts_recv, b->ts_recv);
    ASSERT_EQ_U64(a->instr, b->instr);
    ASSERT_EQ_INT(a->kind, b->kind);
    ASSERT_EQ_INT(a->side, b->side);
    ASSERT_EQ_INT(a->status, b->status);
    ASSERT_EQ_INT(a->flags, b->flags);
    ASSERT_EQ_INT(a->trade_id_len, b->trade_id_len);
    ASSERT_EQ_INT(a->vsym_len, b->vsym_len);
    ASSERT_SAME_DBL(a->price, b->price);
    ASSERT_SAME_DBL(a->size, b->size);
    ASSERT_SAME_DBL(a->bid, b->bid);
    ASSERT_SAME_DBL(a->ask, b->ask);
    ASSERT_SAME_DBL(a->bid_size, b->bid_size);
    ASSERT_SAME_DBL(a->ask_size, b->ask_size);
    ASSERT_SAME_DBL(a->open, b->open);
    ASSERT_SAME_DBL(a->high, b->high);
    ASSERT_SAME_DBL(a->low, b->low);
    ASSERT_SAME_DBL(a->change, b->change);
    ASSERT_SAME_DBL(a->value, b->value);
    ASSERT_EQ_U64(a->trade_id, b->trade_id);
    ASSERT_EQ_U64(a->gap_last, b->gap_last);
    ASSERT_EQ_STR(a->trade_id_str, b->trade_id_str);
    ASSERT_EQ_STR(a->venue_symbol, b->venue_symbol);
}

static void eq_bar(const struct tp_bar *a, const struct tp_bar *b)
{
    ASSERT_EQ_U64(a->instr, b->instr);
    ASSERT_EQ_INT(a->interval_ns, b->interval_ns);
    ASSERT_EQ_INT(a->ts, b->ts);
    ASSERT_EQ_INT(a->first_ts, b->first_ts);
    ASSERT_EQ_INT(a->last_ts, b->last_ts);
    ASSERT_EQ_U64(a->trades, b->trades);
    ASSERT_EQ_INT(a->final, b->final);
    ASSERT_EQ_INT(a->filled, b->filled);
    const double *x = &a->open, *y = &b->open;
    for (int i = 0; i < 4; i++) ASSERT_SAME_DBL(x[i], y[i]);
    ASSERT_SAME_DBL(a->volume, b->volume);
    ASSERT_SAME_DBL(a->notional, b->notional);
    ASSERT_SAME_DBL(a->vwap, b->vwap);
    ASSERT_SAME_DBL(a->buy_volume, b->buy_volume);
    ASSERT_SAME_DBL(a->sell_volume, b->sell_volume);
    const double *p = &a->ind.sma, *q = &b->ind.sma;
    for (size_t i = 0; i < sizeof a->ind / sizeof(double); i++) ASSERT_SAME_DBL(p[i], q[i]);
}

/* A few events covering every kind, field and extreme. */
static int sample_events(struct tp_event *ev)
{
    int n = 0;
    struct tp_event *e = &ev[n++];
    tp_event_init(e, TP_KIND_TRADE);
    e->instr = I("binance:BTC-USDT");
    e->ts = INT64_C(1795437240123456789);
    e->ts_recv = e->ts + 1234567;
    e->price = 50123.45;
    e->size = 0.00012;
    e->side = TP_SIDE_BUY;
    e->flags = TP_EV_TS_VENUE;
    tp_event_set_id(e, 4000000000ull);
    tp_event_set_vsym(e, "BTCUSDT", 7);

    e = &ev[n++];
    tp_event_init(e, TP_KIND_QUOTE);
    e->instr = I("fmp:EUR-USD");
    e->ts = INT64_MIN;
    e->ts_recv = INT64_MAX; /* the delta wraps */
    e->bid = -0.0;
    e->ask = INFINITY;
    e->bid_size = -INFINITY;
    e->ask_size = 4.9406564584124654e-324; /* smallest denormal */
    e->open = 1.7976931348623157e308;
    e->high = from_bits(0x7ff8000000000001ull); /* a NaN that is not the "absent" one */
    e->low = from_bits(0xfff8000000000000ull);  /* negative NaN */
    e->change = -1e-300;
    e->value = 0.0;
    e->flags = TP_EV_QUOTE_ONLY | TP_EV_SNAPSHOT;
    char vs[TP_VSYM_MAX + 1];
    memset(vs, 'Z', TP_VSYM_MAX);
    tp_event_set_vsym(e, vs, TP_VSYM_MAX);

    e = &ev[n++];
    tp_event_init(e, TP_KIND_STATUS);
    e->instr = I("kraken:BTC-USD");
    e->status = TP_ST_GAP;
    e->flags = TP_EV_GAP_TIME;
    e->ts = -1;
    e->ts_recv = -2;
    e->trade_id = UINT64_MAX;
    e->gap_last = 1;

    e = &ev[n++];
    tp_event_init(e, TP_KIND_TRADE);
    e->instr = I("coinbase:ETH-USD");
    char id[TP_TRADE_ID_MAX + 1];
    for (int i = 0; i < TP_TRADE_ID_MAX; i++) id[i] = (char)('a' + i % 26);
    tp_event_set_id_str(e, id, TP_TRADE_ID_MAX);
    e->price = 1;
    e->size = 2;
    e->side = TP_SIDE_SELL;
    e->flags |= 0x7f;

    e = &ev[n++]; /* status without an instrument, everything else absent */
    tp_event_init(e, TP_KIND_STATUS);
    e->status = TP_ST_CONNECTED;

    e = &ev[n++];
    tp_event_init(e, TP_KIND_VBAR);
    e->instr = I("yahoo:AAPL");
    e->open = 1;
    e->high = 2;
    e->low = 0.5;
    e->price = 1.5;
    e->size = 1e9;
    e->value = 42;

    e = &ev[n++];
    tp_event_init(e, TP_KIND_SNAPSHOT);
    e->instr = I("coingecko:BITCOIN");
    e->price = 0.1 + 0.2;
    e->status = TP_ST_RELEASE;

    e = &ev[n++]; /* a failover group's switch (REST pollers) */
    tp_event_init(e, TP_KIND_STATUS);
    e->instr = I("yahoo:IBM");
    e->status = TP_ST_FAILOVER;
    e->ts = e->ts_recv = 1732600000123456789;
    tp_event_set_vsym(e, "IBM", 3);
    tp_event_set_id_str(e, "alphavantage->yahoo", 19);
    return n;
}

static void test_event_roundtrip(void)
{
    struct tp_event ev[12], d;
    int n = sample_events(ev);
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    for (int i = 0; i < n; i++) {
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_event(&b, &ev[i]), 0);
        ASSERT_EQ_INT(tp_rec_type(b.p, b.len), TP_REC_EVENT);
        memset(&d, 0x55, sizeof d);
        ASSERT_EQ_INT(tp_rec_get_event(b.p, b.len, &d), 0);
        eq_event(&d, &ev[i]);
        /* late: an event plus the interval */
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_late(&b, &ev[i], 60 * TP_NS_PER_SEC), 0);
        int64_t iv = 0;
        ASSERT_EQ_INT(tp_rec_get_late(b.p, b.len, &d, &iv), 0);
        ASSERT_EQ_INT(iv, 60 * TP_NS_PER_SEC);
        eq_event(&d, &ev[i]);
        ASSERT_EQ_INT(tp_rec_get_event(b.p, b.len, &d), -EBADMSG); /* wrong type */
    }
    /* A typical trade is compact (the issue's ~60-byte records). */
    tp_buf_reset(&b);
    ASSERT_EQ_INT(tp_rec_put_event(&b, &ev[0]), 0);
    ASSERT(b.len <= 70);
    tp_buf_fini(&b);
}

static void test_encoder_refuses(void)
{
    struct tp_event ev[12];
    sample_events(ev);
    struct tp_buf b;
    tp_buf_init(&b, 1 << 16);
    ASSERT_EQ_INT(tp_buf_puts(&b, "keep"), 0);
    struct tp_event e;
    const int cases = 9;
    for (int k = 0; k < cases; k++) {
        e = ev[0];
        switch (k) {
        case 0:
            e.kind = 0;
            break;
        case 1:
            e.kind = 6;
            break;
        case 2:
            e.side = 3;
            break;
        case 3:
            e.status = TP_ST_LAST + 1;
            break;
        case 4:
            e.flags = 0x80;
            break;
        case 5:
            e.vsym_len = TP_VSYM_MAX + 1;
            break;
        case 6:
            e.trade_id_len = TP_TRADE_ID_MAX + 1;
            break;
        case 7:
            e.venue_symbol[2] = 0;
            break; /* a NUL inside the symbol */
        case 8:
            e.instr = TP_INSTR_MAX;
            break; /* never interned */
        }
        ASSERT_EQ_INT(tp_rec_put_event(&b, &e), -EINVAL);
        ASSERT_EQ_U64(b.len, 4); /* untouched */
    }
    ASSERT_EQ_INT(tp_rec_put_late(&b, &ev[0], 0), -EINVAL);
    struct tp_bar bar;
    memset(&bar, 0, sizeof bar);
    ASSERT_EQ_INT(tp_rec_put_bar(&b, &bar), -EINVAL); /* interval 0 */
    struct tp_anomaly a = {0};
    ASSERT_EQ_INT(tp_rec_put_anomaly(&b, &a), -EINVAL); /* kind 0 */
    a.kind = TP_AN_GAP;
    a.interval_ns = -1;
    ASSERT_EQ_INT(tp_rec_put_anomaly(&b, &a), -EINVAL);
    struct tp_source_pos s;
    memset(&s, 'x', sizeof s.source); /* no NUL */
    ASSERT_EQ_INT(tp_rec_put_source_pos(&b, &s), -EINVAL);
    ASSERT_EQ_U64(b.len, 4);
    tp_buf_fini(&b);
    /* Past the buffer's cap: -E2BIG, and the buffer stays as it was. */
    tp_buf_init(&b, 20);
    ASSERT_EQ_INT(tp_buf_puts(&b, "keep"), 0);
    ASSERT_EQ_INT(tp_rec_put_event(&b, &ev[0]), -E2BIG);
    ASSERT_EQ_U64(b.len, 4);
    tp_buf_fini(&b);
}

static void test_other_roundtrips(void)
{
    struct tp_buf b;
    tp_buf_init(&b, 1 << 20);

    struct tp_source_pos s = {0}, sd;
    memset(s.source, 'p', sizeof s.source - 1);
    memcpy(s.source, "replay:/", 8);
    s.dev = UINT64_MAX;
    s.ino = 1234567;
    s.size = 0;
    s.head_hash = 0x8000000000000001ull;
    s.offset = 99;
    s.line = 1;
    s.events = 1ull << 40;
    for (int fl = 0; fl < 4; fl++) {
        int eof = fl & 1;
        s.eof = eof;
        s.begin = fl >> 1;
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_source_pos(&b, &s), 0);
        ASSERT_EQ_INT(tp_rec_type(b.p, b.len), TP_REC_SOURCE_POS);
        ASSERT_EQ_INT(tp_rec_get_source_pos(b.p, b.len, &sd), 0);
        ASSERT_EQ_STR(sd.source, s.source);
        ASSERT(sd.dev == s.dev && sd.ino == s.ino && sd.size == s.size);
        ASSERT(sd.head_hash == s.head_hash && sd.offset == s.offset && sd.line == s.line);
        ASSERT_EQ_INT(sd.eof, eof);
        ASSERT_EQ_INT(sd.begin, fl >> 1);
        ASSERT(sd.events == s.events);
    }

    struct tp_bar bar, bd;
    memset(&bar, 0, sizeof bar);
    bar.instr = I("binance:ETH-USDT");
    bar.interval_ns = 60 * TP_NS_PER_SEC;
    bar.ts = -60 * TP_NS_PER_SEC;
    bar.first_ts = INT64_MAX;
    bar.last_ts = INT64_MIN;
    bar.open = 1;
    bar.high = 3;
    bar.low = -0.0;
    bar.close = 2;
    bar.volume = 0;
    bar.notional = 0;
    bar.vwap = NAN;
    bar.trades = UINT64_MAX;
    bar.buy_volume = 5e-324;
    bar.sell_volume = -0.0;
    double *ind = &bar.ind.sma;
    for (size_t i = 0; i < sizeof bar.ind / sizeof(double); i++)
        ind[i] = i % 2 ? NAN : (double)i / 3;
    for (int fl = 0; fl < 4; fl++) {
        bar.final = fl & 1;
        bar.filled = (fl & 2) != 0;
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_bar(&b, &bar), 0);
        ASSERT_EQ_INT(tp_rec_type(b.p, b.len), TP_REC_BAR);
        ASSERT_EQ_INT(tp_rec_get_bar(b.p, b.len, &bd), 0);
        eq_bar(&bd, &bar);
    }

    for (int k = TP_AN_RETURN_ZSCORE; k <= TP_AN_GAP; k++) {
        struct tp_anomaly a = {I("okx:BTC-USDT"),
                               INT64_C(1700000000000000000) + k,
                               (uint8_t)k,
                               100.5,
                               NAN,
                               -3.25,
                               k == TP_AN_VOLUME_SPIKE ? TP_NS_PER_SEC : 0};
        struct tp_anomaly ad;
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_anomaly(&b, &a), 0);
        ASSERT_EQ_INT(tp_rec_type(b.p, b.len), TP_REC_ANOMALY);
        ASSERT_EQ_INT(tp_rec_get_anomaly(b.p, b.len, &ad), 0);
        ASSERT_EQ_U64(ad.instr, a.instr);
        ASSERT_EQ_INT(ad.ts, a.ts);
        ASSERT_EQ_INT(ad.kind, a.kind);
        ASSERT_SAME_DBL(ad.observed, a.observed);
        ASSERT_SAME_DBL(ad.expected, a.expected);
        ASSERT_SAME_DBL(ad.score, a.score);
        ASSERT_EQ_INT(ad.interval_ns, a.interval_ns);
    }

    for (int fl = 0; fl < 4; fl++) {
        struct tp_gap g = {I("bybit:SOL-USDT"), -5, 10, UINT64_MAX, fl & 1, (fl & 2) != 0}, gd;
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_gap(&b, &g), 0);
        ASSERT_EQ_INT(tp_rec_type(b.p, b.len), TP_REC_GAP);
        ASSERT_EQ_INT(tp_rec_get_gap(b.p, b.len, &gd), 0);
        ASSERT(gd.instr == g.instr && gd.ts == g.ts && gd.first_missing == g.first_missing &&
               gd.last_missing == g.last_missing && gd.by_time == g.by_time &&
               gd.backfilled == g.backfilled);
    }

    static uint8_t state[10000];
    for (size_t i = 0; i < sizeof state; i++) state[i] = (uint8_t)(i * 13);
    size_t sizes[] = {0, 1, 127, 128, sizeof state};
    for (size_t i = 0; i < TP_ARRAY_LEN(sizes); i++) {
        tp_buf_reset(&b);
        ASSERT_EQ_INT(tp_rec_put_checkpoint(&b, 123456789012ull + i, state, sizes[i]), 0);
        ASSERT_EQ_INT(tp_rec_type(b.p, b.len), TP_REC_CHECKPOINT);
        uint64_t next;
        const void *p;
        size_t n;
        ASSERT_EQ_INT(tp_rec_get_checkpoint(b.p, b.len, &next, &p, &n), 0);
        ASSERT_EQ_U64(next, 123456789012ull + i);
        ASSERT_EQ_U64(n, sizes[i]);
        ASSERT(!memcmp(p, state, n));
        ASSERT((const char *)p >= b.p && (const char *)p + n == b.p + b.len); /* borrowed */
    }
    ASSERT_EQ_INT(tp_rec_type("", 0), 0);
    ASSERT_EQ_INT(tp_rec_type("\0", 1), 0);
    ASSERT_EQ_INT(tp_rec_type("\x08", 1), 0);
    tp_buf_fini(&b);
}

/* Decodes p with the decoder its type byte names and re-encodes the result into out.
 * Returns the decoder's result (0 or negative), or 1 when the type is unknown. */
static int decode_reencode(const void *p, size_t n, struct tp_buf *out)
{
    tp_buf_reset(out);
    int rc;
    switch (tp_rec_type(p, n)) {
    case TP_REC_EVENT: {
        struct tp_event e;
        if ((rc = tp_rec_get_event(p, n, &e)) == 0) rc = tp_rec_put_event(out, &e);
        return rc;
    }
    case TP_REC_LATE: {
        struct tp_event e;
        int64_t iv;
        if ((rc = tp_rec_get_late(p, n, &e, &iv)) == 0) rc = tp_rec_put_late(out, &e, iv);
        return rc;
    }
    case TP_REC_SOURCE_POS: {
        struct tp_source_pos s;
        if ((rc = tp_rec_get_source_pos(p, n, &s)) == 0) rc = tp_rec_put_source_pos(out, &s);
        return rc;
    }
    case TP_REC_BAR: {
        struct tp_bar b;
        if ((rc = tp_rec_get_bar(p, n, &b)) == 0) rc = tp_rec_put_bar(out, &b);
        return rc;
    }
    case TP_REC_ANOMALY: {
        struct tp_anomaly a;
        if ((rc = tp_rec_get_anomaly(p, n, &a)) == 0) rc = tp_rec_put_anomaly(out, &a);
        return rc;
    }
    case TP_REC_GAP: {
        struct tp_gap g;
        if ((rc = tp_rec_get_gap(p, n, &g)) == 0) rc = tp_rec_put_gap(out, &g);
        return rc;
    }
    case TP_REC_CHECKPOINT: {
        uint64_t next;
        const void *s;
        size_t sn;
        if ((rc = tp_rec_get_checkpoint(p, n, &next, &s, &sn)) == 0)
            rc = tp_rec_put_checkpoint(out, next, s, sn);
        return rc;
    }
    }
    return 1;
}

/* Every encoding the tests know, concatenated with their lengths. */
static size_t all_encodings(struct tp_buf *enc, size_t *off, size_t cap)
{
    struct tp_event ev[12];
    int ne = sample_events(ev);
    size_t k = 0;
    for (int i = 0; i < ne && k + 2 < cap; i++) {
        off[k++] = enc->len;
        tp_rec_put_event(enc, &ev[i]);
        off[k++] = enc->len;
        tp_rec_put_late(enc, &ev[i], 300 * TP_NS_PER_SEC);
    }
    struct tp_source_pos s = {.source = "replay:/data/x.csv",
                              .dev = 2049,
                              .ino = 77,
                              .size = 1 << 20,
                              .head_hash = 0xdeadbeefcafef00dull,
                              .offset = 4096,
                              .line = 80,
                              .eof = true};
    off[k++] = enc->len;
    tp_rec_put_source_pos(enc, &s);
    struct tp_bar bar;
    memset(&bar, 0, sizeof bar);
    bar.instr = I("binance:BTC-USDT");
    bar.interval_ns = TP_NS_PER_SEC;
    bar.ts = 1000 * TP_NS_PER_SEC;
    bar.first_ts = bar.ts + 5;
    bar.last_ts = bar.ts + 900;
    bar.open = bar.high = bar.low = bar.close = 10;
    bar.volume = 1;
    bar.notional = 10;
    bar.vwap = 10;
    bar.trades = 3;
    bar.final = true;
    double *ind = &bar.ind.sma;
    for (size_t i = 0; i < sizeof bar.ind / sizeof(double); i++)
        ind[i] = i < 5 ? 1.0 + (double)i : NAN;
    off[k++] = enc->len;
    tp_rec_put_bar(enc, &bar);
    struct tp_anomaly a = {I("binance:BTC-USDT"), 77, TP_AN_VOLUME_SPIKE, 9, 1, 9,
                           60 * TP_NS_PER_SEC};
    off[k++] = enc->len;
    tp_rec_put_anomaly(enc, &a);
    struct tp_gap g = {I("binance:BTC-USDT"), 78, 100, 120, false, true};
    off[k++] = enc->len;
    tp_rec_put_gap(enc, &g);
    off[k++] = enc->len;
    tp_rec_put_checkpoint(enc, 5000, "state-bytes", 11);
    off[k] = enc->len;
    return k;
}

static void test_rejects_truncated_and_extended(void)
{
    struct tp_buf enc, out;
    tp_buf_init(&enc, 1 << 20);
    tp_buf_init(&out, 1 << 20);
    size_t off[64];
    size_t k = all_encodings(&enc, off, 60);
    ASSERT(k >= 17);
    uint8_t tmp[1024];
    for (size_t i = 0; i < k; i++) {
        const uint8_t *p = (const uint8_t *)enc.p + off[i];
        size_t n = off[i + 1] - off[i];
        ASSERT(n < sizeof tmp);
        ASSERT_EQ_INT(decode_reencode(p, n, &out), 0);
        ASSERT(out.len == n && !memcmp(out.p, p, n));
        for (size_t cut = 1; cut < n; cut++)
            if (decode_reencode(p, cut, &out) == 0)
                TPT_FAIL("record %zu accepted cut at %zu/%zu", i, cut, n);
        memcpy(tmp, p, n);
        tmp[n] = 0;
        if (decode_reencode(tmp, n + 1, &out) == 0)
            TPT_FAIL("record %zu accepted a trailing byte", i);
    }
    tp_buf_fini(&enc);
    tp_buf_fini(&out);
}

static void test_rejects_crafted(void)
{
    struct tp_event e;
    struct tp_bar bar;
    /* An invalid instrument name. */
    static const uint8_t bad_name[] = {TP_REC_GAP, 3, 'B', 'A', 'D', 0, 0, 0,
                                       0,          0, 0,   0,   0,   1, 2, 0};
    struct tp_gap g;
    ASSERT_EQ_INT(tp_rec_get_gap(bad_name, sizeof bad_name, &g), -EBADMSG);
    static const uint8_t good_name[] = {TP_REC_GAP, 3, 'a', ':', 'B', 0, 0, 0,
                                        0,          0, 0,   0,   0,   1, 2, 0};
    ASSERT_EQ_INT(tp_rec_get_gap(good_name, sizeof good_name, &g), 0);
    ASSERT_EQ_STR(tp_instr_name(g.instr), "a:B");
    /* An overlong varint (1 written as 0x81 0x00). */
    static const uint8_t overlong[] = {TP_REC_GAP, 3, 'a', ':', 'B',  0, 0, 0, 0,
                                       0,          0, 0,   0,   0x81, 0, 2, 0};
    ASSERT_EQ_INT(tp_rec_get_gap(overlong, sizeof overlong, &g), -EBADMSG);
    /* An overlong string length (0 written as 0x80 0x00): found by fuzz_record. */
    static const uint8_t overlong_len[] = {TP_REC_GAP, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0};
    ASSERT_EQ_INT(tp_rec_get_gap(overlong_len, sizeof overlong_len, &g), -EBADMSG);
    static const uint8_t min_len[] = {TP_REC_GAP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0};
    ASSERT_EQ_INT(tp_rec_get_gap(min_len, sizeof min_len, &g), 0);
    /* A flags byte with an unknown bit; an out-of-range kind. */
    static const uint8_t badflag[] = {TP_REC_GAP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4};
    ASSERT_EQ_INT(tp_rec_get_gap(badflag, sizeof badflag, &g), -EBADMSG);
    static const uint8_t badkind[] = {TP_REC_EVENT, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    ASSERT_EQ_INT(tp_rec_get_event(badkind, sizeof badkind, &e), -EBADMSG);
    /* A bar whose presence bitmap claims a 21st double. */
    struct tp_buf b;
    tp_buf_init(&b, 4096);
    memset(&bar, 0, sizeof bar);
    bar.interval_ns = 1;
    bar.open = bar.high = bar.low = bar.close = bar.volume = bar.notional = bar.vwap = NAN;
    bar.buy_volume = bar.sell_volume = NAN;
    double *ind = &bar.ind.sma;
    for (size_t i = 0; i < sizeof bar.ind / sizeof(double); i++) ind[i] = NAN;
    ASSERT_EQ_INT(tp_rec_put_bar(&b, &bar), 0);
    ASSERT_EQ_U64((uint8_t)b.p[b.len - 1], 0); /* the bitmap: nothing present */
    ASSERT_EQ_INT(tp_rec_get_bar(b.p, b.len, &bar), 0);
    b.p[b.len - 1] = (char)0x80;
    ASSERT_EQ_INT(tp_buf_append(&b, "\x80\x01", 2), 0); /* bit 21 */
    ASSERT_EQ_INT(tp_rec_get_bar(b.p, b.len, &bar), -EBADMSG);
    /* A present double holding the "absent" NaN is not canonical. */
    tp_buf_reset(&b);
    bar.open = 1;
    ASSERT_EQ_INT(tp_rec_put_bar(&b, &bar), 0);
    double nan = NAN;
    memcpy(b.p + b.len - 8, &nan, 8);
    ASSERT_EQ_INT(tp_rec_get_bar(b.p, b.len, &bar), -EBADMSG);
    tp_buf_fini(&b);
}

/* Every byte of every encoding, mutated several ways: decoding never crashes and either fails
 * or gives a value that re-encodes to exactly the mutated bytes. */
static void test_mutations(void)
{
    struct tp_buf enc, out;
    tp_buf_init(&enc, 1 << 20);
    tp_buf_init(&out, 1 << 20);
    size_t off[64];
    size_t k = all_encodings(&enc, off, 60);
    static const uint8_t xors[] = {0x01, 0x02, 0x10, 0x40, 0x80, 0xff};
    uint8_t tmp[1024];
    long accepted = 0, rejected = 0;
    for (size_t i = 0; i < k; i++) {
        const uint8_t *p = (const uint8_t *)enc.p + off[i];
        size_t n = off[i + 1] - off[i];
        for (size_t at = 0; at < n; at++)
            for (size_t x = 0; x < TP_ARRAY_LEN(xors) + 2; x++) {
                memcpy(tmp, p, n);
                tmp[at] = x < TP_ARRAY_LEN(xors)    ? (uint8_t)(tmp[at] ^ xors[x])
                          : x == TP_ARRAY_LEN(xors) ? 0
                                                    : 0xff;
                int rc = decode_reencode(tmp, n, &out);
                if (rc == 0) {
                    accepted++;
                    if (out.len != n || memcmp(out.p, tmp, n))
                        TPT_FAIL("record %zu byte %zu: accepted mutation re-encodes differently", i,
                                 at);
                } else {
                    rejected++;
                    if (rc != -EBADMSG && rc != 1)
                        TPT_FAIL("record %zu byte %zu: rc %d", i, at, rc);
                }
            }
    }
    ASSERT(accepted > 0 && rejected > 0);
    tp_buf_fini(&enc);
    tp_buf_fini(&out);
}

TPT_MAIN({"event_roundtrip", test_event_roundtrip}, {"encoder_refuses", test_encoder_refuses},
         {"other_roundtrips", test_other_roundtrips},
         {"rejects_truncated_and_extended", test_rejects_truncated_and_extended},
         {"rejects_crafted", test_rejects_crafted}, {"mutations", test_mutations})
