/*
 * test_csvin.c — the streaming CSV reader: header and mapping, RFC 4180 quoting, CRLF,
 * every bad-row reason with its line numbers, timestamps in every form, resuming at a byte
 * offset, the line cap, and records that straddle the reader's 1 MiB blocks.
 */
#include <unistd.h>

#include "core/buf.h"
#include "core/instrument.h"
#include "core/rng.h"
#include "core/tptime.h"
#include "source/csvin.h"
#include "tpt.h"

static char tmp_path[256];

/* Writes text to a fresh temporary file and returns its path (valid until the next call). */
static const char *file_with(const char *text, size_t n)
{
    if (tmp_path[0]) unlink(tmp_path);
    const char *dir = getenv("TMPDIR");
    snprintf(tmp_path, sizeof tmp_path, "%s/test_csvin_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp_path);
    if (fd < 0) TPT_FAIL("mkstemp: %s", strerror(errno));
    for (size_t o = 0; o < n;) {
        ssize_t w = write(fd, text + o, n - o);
        if (w <= 0) TPT_FAIL("write: %s", strerror(errno));
        o += (size_t)w;
    }
    close(fd);
    return tmp_path;
}

static const char *file_of(const char *text)
{
    return file_with(text, strlen(text));
}

static struct tp_csvin *open_with(const char *path, const struct tp_csvin_opts *o)
{
    struct tp_csvin *r = NULL;
    char err[512];
    int rc = tp_csvin_open(path, o, &r, err, sizeof err);
    if (rc) TPT_FAIL("tp_csvin_open: %d %s", rc, err);
    return r;
}

static struct tp_csvin *open_text(const char *text, const struct tp_csvin_opts *o)
{
    static const struct tp_csvin_opts none;
    return open_with(file_of(text), o ? o : &none);
}

/* The next event, failing on anything else. */
static struct tp_event next_ev(struct tp_csvin *r)
{
    struct tp_event e;
    int rc = tp_csvin_next(r, &e);
    if (rc != TP_CSVIN_EVENT)
        TPT_FAIL("expected an event at line %llu, got %d (%s)",
                 (unsigned long long)tp_csvin_record_line(r), rc,
                 rc == TP_CSVIN_BAD ? tp_csv_reason_name(tp_csvin_last_reason(r)) : "");
    return e;
}

static int64_t T(const char *s)
{
    int64_t v;
    if (tp_time_parse(s, strlen(s), TP_TS_AUTO, &v)) TPT_FAIL("bad time %s", s);
    return v;
}

static void test_default_columns(void)
{
    struct tp_csvin *r = open_text("ts,instrument,price,size,side,trade_id\n"
                                   "2026-11-23T12:34:00.5Z,binance:BTC-USDT,42000.5,0.25,buy,1001\n"
                                   "2026-11-23T12:34:01Z,binance:BTC-USDT,42001,1,s,abc-7\n"
                                   "2026-11-23T12:34:02Z,coinbase:ETH-USD,3000.125,0,,\n"
                                   "2026-11-23T12:34:03Z,binance:btcusdt,1e2,2.5e-3,SELL,007\n",
                                   NULL);
    struct tp_event e = next_ev(r);
    ASSERT_EQ_INT(e.kind, TP_KIND_TRADE);
    ASSERT_EQ_INT(e.ts, T("2026-11-23T12:34:00.5Z"));
    ASSERT_EQ_INT(e.ts_recv, e.ts);
    ASSERT(e.flags & TP_EV_TS_VENUE);
    ASSERT_EQ_STR(tp_instr_name(e.instr), "binance:BTC-USDT");
    ASSERT_EQ_DBL(e.price, 42000.5);
    ASSERT_EQ_DBL(e.size, 0.25);
    ASSERT_EQ_INT(e.side, TP_SIDE_BUY);
    ASSERT((e.flags & TP_EV_HAS_ID) && !(e.flags & TP_EV_ID_STR));
    ASSERT_EQ_U64(e.trade_id, 1001);
    ASSERT_EQ_STR(e.venue_symbol, "");
    ASSERT_EQ_INT(tp_csvin_record_line(r), 2);

    e = next_ev(r);
    ASSERT_EQ_INT(e.side, TP_SIDE_SELL);
    ASSERT(e.flags & TP_EV_ID_STR);
    ASSERT_EQ_STR(e.trade_id_str, "abc-7");
    ASSERT_EQ_INT(e.trade_id_len, 5);
    ASSERT(isnan(e.bid) && isnan(e.value));

    e = next_ev(r);
    ASSERT_EQ_STR(tp_instr_name(e.instr), "coinbase:ETH-USD");
    ASSERT_EQ_DBL(e.size, 0);
    ASSERT_EQ_INT(e.side, TP_SIDE_UNKNOWN);
    ASSERT(!(e.flags & TP_EV_HAS_ID));

    /* a symbol in the venue's spelling is normalized and kept; "007" is not a canonical
     * number, so it stays a string id */
    e = next_ev(r);
    ASSERT_EQ_STR(tp_instr_name(e.instr), "binance:BTC-USDT");
    ASSERT_EQ_STR(e.venue_symbol, "btcusdt");
    ASSERT_EQ_DBL(e.price, 100);
    ASSERT_EQ_DBL(e.size, 0.0025);
    ASSERT(e.flags & TP_EV_ID_STR);
    ASSERT_EQ_STR(e.trade_id_str, "007");

    struct tp_event dummy;
    ASSERT_EQ_INT(tp_csvin_next(r, &dummy), TP_CSVIN_EOF);
    ASSERT_EQ_INT(tp_csvin_next(r, &dummy), TP_CSVIN_EOF);
    ASSERT_EQ_U64(tp_csvin_stats(r)->events, 4);
    ASSERT_EQ_U64(tp_csvin_stats(r)->bad_total, 0);
    ASSERT_EQ_U64(tp_csvin_lines(r), 5);
    ASSERT_EQ_U64(tp_csvin_offset(r), tp_csvin_size(r));
    tp_csvin_free(r);

    /* numeric ids up to UINT64_MAX; one more is a string */
    r = open_text("ts,instrument,price,trade_id\n"
                  "1,a:X,1,18446744073709551615\n"
                  "1,a:X,1,18446744073709551616\n"
                  "1,a:X,1,99999999999999999999\n"
                  "1,a:X,1,0\n",
                  NULL);
    e = next_ev(r);
    ASSERT(!(e.flags & TP_EV_ID_STR));
    ASSERT_EQ_U64(e.trade_id, UINT64_MAX);
    e = next_ev(r);
    ASSERT_EQ_STR(e.trade_id_str, "18446744073709551616");
    e = next_ev(r);
    ASSERT_EQ_STR(e.trade_id_str, "99999999999999999999");
    e = next_ev(r);
    ASSERT(!(e.flags & TP_EV_ID_STR) && (e.flags & TP_EV_HAS_ID));
    ASSERT_EQ_U64(e.trade_id, 0);
    tp_csvin_free(r);
}

static void test_mapping_seed(void)
{
    struct tp_csvin_opts o = {.map = "ts=timestamp, price=stock_price,value=sales_trend",
                              .instrument = "seed:STOCK"};
    struct tp_csvin *r = open_text("id,timestamp,stock_price,sales_trend\n"
                                   "1,2024-01-01 09:30:00,101.25,0.5\n"
                                   "2,2024-01-01 09:31:00,101.5,-1.75\n",
                                   &o);
    struct tp_event e = next_ev(r);
    ASSERT_EQ_STR(tp_instr_name(e.instr), "seed:STOCK");
    ASSERT_EQ_INT(e.ts, T("2024-01-01T09:30:00Z"));
    ASSERT_EQ_DBL(e.price, 101.25);
    ASSERT_EQ_DBL(e.size, 0); /* unmapped size is 0 */
    ASSERT_EQ_DBL(e.value, 0.5);
    ASSERT(!(e.flags & TP_EV_HAS_ID)); /* "id" is not trade_id */
    e = next_ev(r);
    ASSERT_EQ_DBL(e.value, -1.75);
    tp_csvin_free(r);

    /* mapped column names match case-insensitively; an instrument column beats --instrument,
     * and an empty one falls back to it */
    struct tp_csvin_opts o2 = {.map = "instrument=Sym,size=QTY", .instrument = "x:DEFAULT"};
    r = open_text("TS,Sym,Price,qty\n1700000000,a:B,1,2\n1700000001,,3,4\n", &o2);
    e = next_ev(r);
    ASSERT_EQ_STR(tp_instr_name(e.instr), "a:B");
    ASSERT_EQ_DBL(e.size, 2);
    e = next_ev(r);
    ASSERT_EQ_STR(tp_instr_name(e.instr), "x:DEFAULT");
    ASSERT_EQ_DBL(e.price, 3);
    tp_csvin_free(r);
}

static int open_err(const char *text, const struct tp_csvin_opts *o, char *err, size_t cap)
{
    struct tp_csvin *r = NULL;
    int rc = tp_csvin_open(file_of(text), o, &r, err, cap);
    if (rc == 0) tp_csvin_free(r);
    return rc;
}

static void test_header_errors(void)
{
    char err[512];
    struct tp_csvin_opts none = {0};
    ASSERT_EQ_INT(open_err("time,instrument,price\n", &none, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "no ts column") && strstr(err, "time, instrument, price"));
    ASSERT_EQ_INT(open_err("ts,price\n", &none, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "instrument"));
    ASSERT_EQ_INT(open_err("ts,instrument,size\n", &none, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "no price column"));
    struct tp_csvin_opts m = {.map = "price=stock_price"};
    ASSERT_EQ_INT(open_err("ts,instrument,price\n", &m, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "price=stock_price") && strstr(err, "no such column"));
    struct tp_csvin_opts bad_instr = {.instrument = "NOT VALID"};
    ASSERT_EQ_INT(open_err("ts,price\n", &bad_instr, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "venue:SYMBOL"));
    ASSERT_EQ_INT(open_err("ts,\"instrument,price\n", &none, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "header"));

    ASSERT_EQ_INT(tp_csvin_map_check("ts=a,price=b", err, sizeof err), 0);
    ASSERT_EQ_INT(tp_csvin_map_check("", err, sizeof err), 0);
    ASSERT_EQ_INT(tp_csvin_map_check("colour=a", err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "unknown field 'colour'"));
    ASSERT_EQ_INT(tp_csvin_map_check("ts", err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "FIELD=COLUMN"));
    ASSERT_EQ_INT(tp_csvin_map_check("ts=a,ts=b", err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "twice"));
    ASSERT_EQ_INT(tp_csvin_map_check("ts=", err, sizeof err), -EINVAL);

    struct tp_csvin *r = NULL;
    ASSERT_EQ_INT(tp_csvin_open("/nonexistent/x.csv", &none, &r, err, sizeof err), -ENOENT);
    ASSERT(strstr(err, "cannot open"));

    /* an empty file (or only blank lines) reads as empty */
    struct tp_event e;
    r = open_text("", NULL);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_EOF);
    tp_csvin_free(r);
    r = open_text("\n\r\n", NULL);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_EOF);
    tp_csvin_free(r);
}

static void test_quoting_crlf(void)
{
    /* BOM, CRLF, quoted header and fields, "" escapes, a comma and a line break inside a
     * quoted id, blank lines, and a last line without a line break */
    const char *text = "\xEF\xBB\xBF"
                       "\"ts\",instrument,price,size,trade_id,venue_symbol\r\n"
                       "1700000000,a:X,\"1.5\",2,\"id,\"\"q\"\"\",\"X y\"\r\n"
                       "\r\n"
                       "1700000001,a:X,2,3,\"multi\r\nline\",\r\n"
                       "1700000002,\"a:X\",3,\"4\",,\"\"\r\n"
                       "\n"
                       "1700000003,a:X,4,5,\"\",last";
    struct tp_csvin *r = open_text(text, NULL);
    struct tp_event e = next_ev(r);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 2);
    ASSERT_EQ_DBL(e.price, 1.5);
    ASSERT_EQ_STR(e.trade_id_str, "id,\"q\"");
    ASSERT_EQ_STR(e.venue_symbol, "X y");
    e = next_ev(r);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 4);
    ASSERT_EQ_STR(e.trade_id_str, "multi\r\nline");
    ASSERT_EQ_STR(e.venue_symbol, "");
    e = next_ev(r);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 6);
    ASSERT_EQ_DBL(e.size, 4);
    ASSERT(!(e.flags & TP_EV_HAS_ID));
    e = next_ev(r);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 8);
    ASSERT_EQ_STR(e.venue_symbol, "last");
    ASSERT(!(e.flags & TP_EV_HAS_ID));
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_EOF);
    ASSERT_EQ_U64(tp_csvin_lines(r), 7);
    ASSERT_EQ_U64(tp_csvin_offset(r), strlen(text));
    tp_csvin_free(r);
}

/* Reads to the end; returns events, fills bad counts. */
static int drain(struct tp_csvin *r)
{
    struct tp_event e;
    int n = 0, rc;
    while ((rc = tp_csvin_next(r, &e)) != TP_CSVIN_EOF) {
        if (rc < 0) TPT_FAIL("read error %d", rc);
        if (rc == TP_CSVIN_EVENT) n++;
    }
    return n;
}

static void test_bad_rows(void)
{
    const char *text = "ts,instrument,price,size,side,trade_id,value\n"
                       "1700000000,a:X,1,1,buy,1,\n"       /* 2 ok */
                       "1700000000,a:X,1,1,buy,1\n"        /* 3 column_count */
                       "1700000000,a:X,1,1,buy,1,,extra\n" /* 4 column_count */
                       "1700000000,a:X,\"1,1,buy,1,\n"     /* 5 bad_quoting */
                       "1700000000,a:X,\"1\"x,1,buy,1,\n"  /* 6 bad_quoting */
                       "1700000000,a:X,1a\"b,1,buy,1,\n"   /* 7 bad_quoting */
                       "yesterday,a:X,1,1,buy,1,\n"        /* 8 bad_ts */
                       ",a:X,1,1,buy,1,\n"                 /* 9 bad_ts */
                       "1700000000,AX,1,1,buy,1,\n"        /* 10 bad_instrument */
                       "1700000000,,1,1,buy,1,\n"          /* 11 bad_instrument */
                       "1700000000,a:X,abc,1,buy,1,\n"     /* 12 bad_price */
                       "1700000000,a:X,,1,buy,1,\n"        /* 13 bad_price */
                       "1700000000,a:X,0,1,buy,1,\n"       /* 14 nonpositive */
                       "1700000000,a:X,-2,1,buy,1,\n"      /* 15 nonpositive */
                       "1700000000,a:X,NaN,1,buy,1,\n"     /* 16 not_finite */
                       "1700000000,a:X,1,inf,buy,1,\n"     /* 17 not_finite */
                       "1700000000,a:X,1e999,1,buy,1,\n"   /* 18 not_finite */
                       "1700000000,a:X,1,x,buy,1,\n"       /* 19 bad_size */
                       "1700000000,a:X,1,,buy,1,\n"        /* 20 bad_size */
                       "1700000000,a:X,1,-1,buy,1,\n"      /* 21 negative_size */
                       "1700000000,a:X,1,1,up,1,\n"        /* 22 bad_side */
                       "1700000000,a:X,1,1,buy,"
                       "0123456789012345678901234567890123456789012345678901234567890123,\n"
                       /* 23 bad_trade_id (64 bytes) */
                       "1700000000,a:X,1,1,buy,1,zz\n"    /* 24 bad_number */
                       "1700000000,a:X,1,1,buy,1,-nan\n"  /* 25 not_finite */
                       "1700000000,a:X,2,1,sell,2,3.5\n"; /* 26 ok */
    struct tp_csvin *r = open_text(text, NULL);
    struct tp_event e;
    int expect[] = {
        -1,
        TP_CSV_R_COLUMNS,
        TP_CSV_R_COLUMNS,
        TP_CSV_R_QUOTING,
        TP_CSV_R_QUOTING,
        TP_CSV_R_QUOTING,
        TP_CSV_R_TS,
        TP_CSV_R_TS,
        TP_CSV_R_INSTRUMENT,
        TP_CSV_R_INSTRUMENT,
        TP_CSV_R_PRICE,
        TP_CSV_R_PRICE,
        TP_CSV_R_PRICE_NONPOS,
        TP_CSV_R_PRICE_NONPOS,
        TP_CSV_R_NONFINITE,
        TP_CSV_R_NONFINITE,
        TP_CSV_R_NONFINITE,
        TP_CSV_R_SIZE,
        TP_CSV_R_SIZE,
        TP_CSV_R_SIZE_NEG,
        TP_CSV_R_SIDE,
        TP_CSV_R_TRADE_ID,
        TP_CSV_R_NUMBER,
        TP_CSV_R_NONFINITE,
        -1,
    };
    for (size_t i = 0; i < TP_ARRAY_LEN(expect); i++) {
        int rc = tp_csvin_next(r, &e);
        uint64_t line = tp_csvin_record_line(r);
        if (line != i + 2) TPT_FAIL("row %zu: line %llu", i, (unsigned long long)line);
        if (expect[i] < 0) {
            if (rc != TP_CSVIN_EVENT) TPT_FAIL("line %zu: expected an event, got %d", i + 2, rc);
        } else if (rc != TP_CSVIN_BAD || (int)tp_csvin_last_reason(r) != expect[i]) {
            TPT_FAIL("line %zu: expected %s, got %d %s", i + 2,
                     tp_csv_reason_name((enum tp_csv_reason)expect[i]), rc,
                     tp_csv_reason_name(tp_csvin_last_reason(r)));
        }
    }
    ASSERT_EQ_DBL(e.value, 3.5);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_EOF);
    const struct tp_csvin_stats *st = tp_csvin_stats(r);
    ASSERT_EQ_U64(st->events, 2);
    ASSERT_EQ_U64(st->bad_total, 23);
    ASSERT_EQ_U64(st->records, 25);
    ASSERT_EQ_U64(st->bad[TP_CSV_R_NONFINITE], 4);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_NONFINITE][0], 16);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_NONFINITE][1], 17);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_NONFINITE][2], 18);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_NONFINITE][3], 25);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_COLUMNS][0], 3);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_COLUMNS][1], 4);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_TRADE_ID][0], 23);
    ASSERT_EQ_U64(st->bad[TP_CSV_R_LINE_TOO_LONG], 0);
    tp_csvin_free(r);

    /* only the first TP_CSVIN_KEEP_LINES line numbers are kept; counting goes on */
    struct tp_buf b;
    tp_buf_init(&b, 1 << 20);
    tp_buf_puts(&b, "ts,instrument,price\n");
    for (int i = 0; i < 20; i++) tp_buf_puts(&b, i % 2 ? "1,a:X,1\n" : "1,a:X,0\n");
    r = open_text(b.p, NULL);
    ASSERT_EQ_INT(drain(r), 10);
    st = tp_csvin_stats(r);
    ASSERT_EQ_U64(st->bad[TP_CSV_R_PRICE_NONPOS], 10);
    for (int k = 0; k < TP_CSVIN_KEEP_LINES; k++)
        ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_PRICE_NONPOS][k], (uint64_t)(2 + 2 * k));
    tp_csvin_free(r);
    tp_buf_fini(&b);

    /* kinds and quotes */
    r = open_text("ts,instrument,kind,price,size,bid,ask,bid_size,ask_size\n"
                  "1,a:X,quote,,,1.5,1.6,10,11\n"
                  "1,a:X,,,,1.7,1.6,,\n"   /* a quote by its bid/ask; crossed is fine */
                  "1,a:X,QUOTE,,,,1.6,,\n" /* missing bid */
                  "1,a:X,quote,,,0,1.6,,\n"
                  "1,a:X,quote,,,1,2,-1,\n"
                  "1,a:X,snapshot,5,,,,,\n"
                  "1,a:X,status,5,,,,,\n"
                  "1,a:X,candle,5,,,,,\n"
                  "1,a:X,bar,5,100,,,,\n",
                  NULL);
    e = next_ev(r);
    ASSERT_EQ_INT(e.kind, TP_KIND_QUOTE);
    ASSERT_EQ_DBL(e.bid, 1.5);
    ASSERT_EQ_DBL(e.ask, 1.6);
    ASSERT_EQ_DBL(e.bid_size, 10);
    ASSERT_EQ_DBL(e.ask_size, 11);
    ASSERT(isnan(e.price) && isnan(e.size));
    ASSERT(!(e.flags & TP_EV_QUOTE_ONLY));
    e = next_ev(r);
    ASSERT_EQ_INT(e.kind, TP_KIND_QUOTE);
    ASSERT_EQ_DBL(e.bid, 1.7);
    ASSERT(isnan(e.bid_size));
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_PRICE);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_PRICE_NONPOS);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_SIZE_NEG);
    e = next_ev(r);
    ASSERT_EQ_INT(e.kind, TP_KIND_SNAPSHOT);
    ASSERT(isnan(e.size));
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_KIND);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_KIND);
    e = next_ev(r);
    ASSERT_EQ_INT(e.kind, TP_KIND_VBAR);
    ASSERT_EQ_DBL(e.size, 100);
    st = tp_csvin_stats(r);
    ASSERT_EQ_U64(st->bad[TP_CSV_R_KIND], 2);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_KIND][0], 8);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_KIND][1], 9);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_PRICE][0], 4);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_PRICE_NONPOS][0], 5);
    ASSERT_EQ_U64(st->bad_lines[TP_CSV_R_SIZE_NEG][0], 6);
    tp_csvin_free(r);

    /* a quote feed declares its quotes quote-only; its trades stay trades */
    struct tp_csvin_opts qo = {.quote_only = true};
    r = open_text("ts,instrument,price,bid,ask\n1,fmp:EUR-USD,,1.08,1.0802\n2,fmp:EUR-USD,1,,\n",
                  &qo);
    e = next_ev(r);
    ASSERT(e.kind == TP_KIND_QUOTE && (e.flags & TP_EV_QUOTE_ONLY));
    e = next_ev(r);
    ASSERT(e.kind == TP_KIND_TRADE && !(e.flags & TP_EV_QUOTE_ONLY));
    tp_csvin_free(r);

    /* an unterminated quote at the end of the file costs that line only */
    r = open_text("ts,instrument,price\n1,a:X,\"2\n3,a:X,4\n5,a:X,\"6", NULL);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_QUOTING);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 2);
    e = next_ev(r);
    ASSERT_EQ_DBL(e.price, 4);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 3);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_QUOTING);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 4);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_EOF);
    tp_csvin_free(r);
}

static void test_timestamps(void)
{
    struct {
        const char *text;
        int64_t want;
    } cases[] = {
        {"2026-11-23T12:34:00Z", T("2026-11-23T12:34:00Z")},
        {"2026-11-23T12:34:00.123456789Z", T("2026-11-23T12:34:00Z") + 123456789},
        {"2026-11-23T12:34:00.5", T("2026-11-23T12:34:00Z") + 500000000},
        {"2026-11-23 12:34:00", T("2026-11-23T12:34:00Z")},
        {"2026-11-23T14:34:00+02:00", T("2026-11-23T12:34:00Z")},
        {"2026-11-23T07:34:00-05:00", T("2026-11-23T12:34:00Z")},
        {"2026-11-23", T("2026-11-23T00:00:00Z")},
        {"1795437240", INT64_C(1795437240) * TP_NS_PER_SEC},
        {"1795437240.25", INT64_C(1795437240250000000)},
        {"1795437240123", INT64_C(1795437240123) * TP_NS_PER_MS},
        {"1795437240123456", INT64_C(1795437240123456) * TP_NS_PER_US},
        {"1795437240123456789", INT64_C(1795437240123456789)},
        {"\"2026-11-23T12:34:00Z\"", T("2026-11-23T12:34:00Z")},
        {"1969-12-31T23:59:59.9Z", -100000000},
    };
    struct tp_buf b;
    tp_buf_init(&b, 1 << 20);
    tp_buf_puts(&b, "ts,instrument,price\n");
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) tp_buf_printf(&b, "%s,a:X,1\n", cases[i].text);
    struct tp_csvin *r = open_text(b.p, NULL);
    for (size_t i = 0; i < TP_ARRAY_LEN(cases); i++) {
        struct tp_event e = next_ev(r);
        if (e.ts != cases[i].want)
            TPT_FAIL("%s: %lld != %lld", cases[i].text, (long long)e.ts, (long long)cases[i].want);
    }
    tp_csvin_free(r);
    tp_buf_fini(&b);

    /* a forced unit overrides the digit count */
    struct {
        enum tp_ts_unit u;
        int64_t mul;
    } units[] = {{TP_TS_S, TP_NS_PER_SEC},
                 {TP_TS_MS, TP_NS_PER_MS},
                 {TP_TS_US, TP_NS_PER_US},
                 {TP_TS_NS, 1}};
    for (size_t i = 0; i < TP_ARRAY_LEN(units); i++) {
        struct tp_csvin_opts o = {.ts_unit = units[i].u};
        r = open_text("ts,instrument,price,ts_recv\n1700,a:X,1,1701\n", &o);
        struct tp_event e = next_ev(r);
        ASSERT_EQ_INT(e.ts, 1700 * units[i].mul);
        ASSERT_EQ_INT(e.ts_recv, 1701 * units[i].mul);
        tp_csvin_free(r);
    }
}

/* A file mixing plain, quoted and multi-line records, bad rows and blank lines. */
static void build_mixed(struct tp_buf *b, int rows)
{
    tp_buf_puts(b, "ts,instrument,price,size,side,trade_id\r\n");
    for (int i = 0; i < rows; i++) {
        switch (i % 7) {
        case 0:
            tp_buf_printf(b, "%d,sim:S%d,%d.5,%d,buy,%d\n", 1700000000 + i, i % 13, 100 + i % 50,
                          i % 9, i);
            break;
        case 1:
            tp_buf_printf(b, "\"%d\",\"sim:S%d\",\"%d\",1,\"\",\"q\"\"%d\"\r\n", 1700000000 + i,
                          i % 13, 7 + i % 3, i);
            break;
        case 2:
            tp_buf_printf(b, "%d,sim:S%d,1,2,sell,\"line\nbreak %d\"\n", 1700000000 + i, i % 13, i);
            break;
        case 3:
            tp_buf_printf(b, "%d,sim:S%d,-1,2,sell,%d\n", 1700000000 + i, i % 13, i); /* bad */
            break;
        case 4:
            tp_buf_puts(b, "\n");
            tp_buf_printf(b, "%d,sim:S%d,3,4,,x%050d\n", 1700000000 + i, i % 13, i);
            break;
        default:
            tp_buf_printf(b, "%d,sim:S%d,%d,0.001,s,\n", 1700000000 + i, i % 13, 1 + i);
            break;
        }
    }
}

struct rec {
    int rc;
    int64_t ts;
    double price;
    uint64_t line;
};

static void test_resume_at_offset(void)
{
    struct tp_buf b;
    tp_buf_init(&b, 64 << 20);
    build_mixed(&b, 40000); /* several MiB: records straddle the 1 MiB blocks */
    const char *path = file_with(b.p, b.len);
    struct tp_csvin_opts o = {0};
    struct tp_csvin *r = open_with(path, &o);
    size_t cap = 40000, n = 0;
    struct rec *all = calloc(cap, sizeof *all);
    uint64_t *offs = calloc(cap + 1, sizeof *offs), *lines = calloc(cap + 1, sizeof *lines);
    offs[0] = tp_csvin_offset(r);
    lines[0] = tp_csvin_lines(r);
    ASSERT_EQ_U64(lines[0], 1);
    ASSERT_EQ_U64(offs[0], strlen("ts,instrument,price,size,side,trade_id\r\n"));
    struct tp_event e;
    int rc;
    while ((rc = tp_csvin_next(r, &e)) != TP_CSVIN_EOF) {
        ASSERT(rc > 0 && n < cap);
        all[n] = (struct rec){rc, rc == TP_CSVIN_EVENT ? e.ts : 0,
                              rc == TP_CSVIN_EVENT ? e.price : 0, tp_csvin_record_line(r)};
        if (rc == TP_CSVIN_EVENT && n % 7 == 2) {
            char want[32];
            snprintf(want, sizeof want, "line\nbreak %zu", n);
            ASSERT_EQ_STR(e.trade_id_str, want);
        }
        n++;
        offs[n] = tp_csvin_offset(r);
        lines[n] = tp_csvin_lines(r);
    }
    ASSERT_EQ_U64(n, 40000);
    ASSERT_EQ_U64(tp_csvin_stats(r)->bad[TP_CSV_R_PRICE_NONPOS], 40000 / 7 + (40000 % 7 > 3));
    ASSERT_EQ_U64(offs[n], b.len);
    tp_csvin_free(r);

    /* resume at several record boundaries: exactly the rest, with the same line numbers */
    size_t starts[] = {1, 2, 3, 5, 4, 9999, 17000, 39999, 40000};
    for (size_t k = 0; k < TP_ARRAY_LEN(starts); k++) {
        size_t s = starts[k];
        struct tp_csvin_opts ro = {.start_offset = offs[s], .start_lines = lines[s]};
        r = open_with(path, &ro);
        size_t i = s;
        while ((rc = tp_csvin_next(r, &e)) != TP_CSVIN_EOF) {
            ASSERT(i < n);
            ASSERT_EQ_INT(rc, all[i].rc);
            ASSERT_EQ_U64(tp_csvin_record_line(r), all[i].line);
            if (rc == TP_CSVIN_EVENT) {
                ASSERT_EQ_INT(e.ts, all[i].ts);
                ASSERT_EQ_DBL(e.price, all[i].price);
            }
            i++;
        }
        ASSERT_EQ_U64(i, n);
        tp_csvin_free(r);
    }
    /* an offset inside the header is refused */
    char err[256];
    struct tp_csvin_opts bad = {.start_offset = 3};
    ASSERT_EQ_INT(tp_csvin_open(path, &bad, &r, err, sizeof err), -EINVAL);
    free(all);
    free(offs);
    free(lines);
    tp_buf_fini(&b);
}

static void test_long_lines(void)
{
    /* a small cap: lines above it are rejected, including one inside quotes */
    struct tp_csvin_opts o = {.line_max = 40};
    struct tp_csvin *r = open_text("ts,instrument,price,trade_id\n"
                                   "1,a:X,1,012345678901234567890123456789012\n" /* 41 bytes */
                                   "1,a:X,2,01234567890123456789012345678901\n"  /* 40 bytes */
                                   "1,a:X,3,\"0123456789\n0123456789\n0123456789\"\n"
                                   "1,a:X,4,\"short\nquoted\"\r\n",
                                   &o);
    struct tp_event e;
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_LINE_TOO_LONG);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 2);
    e = next_ev(r);
    ASSERT_EQ_DBL(e.price, 2);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD); /* the 3-line record is too long */
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_LINE_TOO_LONG);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 4);
    /* reading resumes at its second line, which is not a valid row */
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 5);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 6);
    e = next_ev(r);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 7);
    ASSERT_EQ_STR(e.trade_id_str, "short\nquoted");
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_EOF);
    ASSERT_EQ_U64(tp_csvin_lines(r), 8);
    tp_csvin_free(r);

    /* the default cap (64 KiB) with a 3 MiB line: skipped across several buffer fills */
    struct tp_buf b;
    tp_buf_init(&b, 8 << 20);
    tp_buf_puts(&b, "ts,instrument,price,venue_symbol\n1,a:X,1,v\n1,a:X,2,");
    for (int i = 0; i < 3 << 20; i++) tp_buf_putc(&b, 'v');
    tp_buf_puts(&b, "\n1,a:X,3,v\n1,a:X,4,");
    for (int i = 0; i < (64 << 10) - 8; i++) tp_buf_putc(&b, 'w'); /* exactly the cap */
    tp_buf_puts(&b, "\r\n1,a:X,5,");
    for (int i = 0; i < 70000; i++) tp_buf_putc(&b, 'v'); /* above it, last line, no \n */
    r = open_with(file_with(b.p, b.len), &(struct tp_csvin_opts){0});
    e = next_ev(r);
    ASSERT_EQ_DBL(e.price, 1);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_LINE_TOO_LONG);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 3);
    e = next_ev(r);
    ASSERT_EQ_DBL(e.price, 3);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 4);
    e = next_ev(r);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 5);
    ASSERT_EQ_DBL(e.price, 4);
    ASSERT_EQ_INT(e.vsym_len, TP_VSYM_MAX); /* kept, truncated */
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_BAD);
    ASSERT_EQ_INT(tp_csvin_last_reason(r), TP_CSV_R_LINE_TOO_LONG);
    ASSERT_EQ_INT(tp_csvin_record_line(r), 6);
    ASSERT_EQ_INT(tp_csvin_next(r, &e), TP_CSVIN_EOF);
    ASSERT_EQ_U64(tp_csvin_offset(r), b.len);
    tp_csvin_free(r);
    tp_buf_fini(&b);

    char err[128];
    struct tp_csvin_opts huge = {.line_max = TP_CSVIN_LINE_MAX_LIMIT + 1};
    ASSERT_EQ_INT(tp_csvin_open(file_of("ts,instrument,price\n"), &huge, &r, err, sizeof err),
                  -EINVAL);
}

static void test_many_instruments(void)
{
    /* more distinct names than the reader's cache holds: every row still resolves */
    struct tp_buf b;
    tp_buf_init(&b, 4 << 20);
    tp_buf_puts(&b, "ts,instrument,price\n");
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 1000; i++) tp_buf_printf(&b, "1,many:I%d,%d\n", i, i + 1);
    struct tp_csvin *r = open_text(b.p, NULL);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 1000; i++) {
            struct tp_event e = next_ev(r);
            char want[32];
            snprintf(want, sizeof want, "many:I%d", i);
            ASSERT_EQ_STR(tp_instr_name(e.instr), want);
            ASSERT_EQ_DBL(e.price, i + 1);
        }
    tp_csvin_free(r);
    tp_buf_fini(&b);
}

/* Random damage to a valid file (quotes, separators, line breaks, stray bytes) with a small
 * line cap: the reader never fails, counts every record once, ends exactly at the file's end,
 * and resuming at any record boundary reads exactly the same rest. */
static void test_damaged_files(void)
{
    const char *base = "ts,instrument,price,size,side,trade_id\r\n"
                       "1700000000,a:X,1.5,2,buy,1\n"
                       "\"1700000001\",\"a:Y\",2,3,sell,\"x\"\"y\"\n"
                       "1700000002,a:X,3,4,,\"multi\nline\"\r\n"
                       "\n"
                       "2026-11-23T12:34:00Z,a:Z,4,5,b,99\n"
                       "1700000004,a:X,5,6,s,100";
    static const char noise[] = "\",\n\r\"x9:-";
    struct tp_rng rng;
    tp_rng_seed(&rng, 99);
    char text[512];
    for (int iter = 0; iter < 1500; iter++) {
        size_t n = strlen(base);
        memcpy(text, base, n);
        int edits = 1 + (int)(tp_rng_u64(&rng) % 6);
        for (int k = 0; k < edits && n + 1 < sizeof text; k++) {
            size_t at = 40 + tp_rng_u64(&rng) % (n - 40); /* keep the header */
            char c = tp_rng_u64(&rng) % 4 ? noise[tp_rng_u64(&rng) % (sizeof noise - 1)]
                                          : (char)(tp_rng_u64(&rng) % 256);
            switch (tp_rng_u64(&rng) % 3) {
            case 0: /* replace */
                text[at] = c;
                break;
            case 1: /* insert */
                memmove(text + at + 1, text + at, n - at);
                text[at] = c;
                n++;
                break;
            default: /* delete */
                memmove(text + at, text + at + 1, n - at - 1);
                n--;
                break;
            }
        }
        const char *path = file_with(text, n);
        struct tp_csvin_opts o = {.line_max = 40};
        struct tp_csvin *r = open_with(path, &o);
        struct rec all[64];
        uint64_t offs[65], lines[65];
        int cnt = 0, rc;
        struct tp_event e;
        offs[0] = tp_csvin_offset(r);
        lines[0] = tp_csvin_lines(r);
        while ((rc = tp_csvin_next(r, &e)) != TP_CSVIN_EOF) {
            if (rc < 0 || cnt >= 64)
                TPT_FAIL("iteration %d: rc %d after %d records", iter, rc, cnt);
            all[cnt] =
                (struct rec){rc, rc == TP_CSVIN_EVENT ? e.ts : 0, 0, tp_csvin_record_line(r)};
            if (cnt && all[cnt].line <= all[cnt - 1].line) TPT_FAIL("iteration %d: lines", iter);
            cnt++;
            offs[cnt] = tp_csvin_offset(r);
            lines[cnt] = tp_csvin_lines(r);
            if (offs[cnt] <= offs[cnt - 1] || offs[cnt] > n)
                TPT_FAIL("iteration %d: offsets", iter);
        }
        const struct tp_csvin_stats *st = tp_csvin_stats(r);
        ASSERT_EQ_U64(st->records, (uint64_t)cnt);
        ASSERT_EQ_U64(st->events + st->bad_total, st->records);
        ASSERT_EQ_U64(tp_csvin_offset(r), n);
        tp_csvin_free(r);
        int s = cnt ? (int)(tp_rng_u64(&rng) % (uint64_t)cnt) : 0;
        struct tp_csvin_opts ro = {
            .line_max = 40, .start_offset = offs[s], .start_lines = lines[s]};
        r = open_with(path, &ro);
        for (int i = s; (rc = tp_csvin_next(r, &e)) != TP_CSVIN_EOF; i++) {
            ASSERT(i < cnt);
            ASSERT_EQ_INT(rc, all[i].rc);
            ASSERT_EQ_U64(tp_csvin_record_line(r), all[i].line);
            if (rc == TP_CSVIN_EVENT) ASSERT_EQ_INT(e.ts, all[i].ts);
        }
        tp_csvin_free(r);
    }
}

static void cleanup(void)
{
    if (tmp_path[0]) unlink(tmp_path);
    tmp_path[0] = 0;
}

TPT_MAIN({"default_columns", test_default_columns}, {"mapping_seed", test_mapping_seed},
         {"header_errors", test_header_errors}, {"quoting_crlf", test_quoting_crlf},
         {"bad_rows", test_bad_rows}, {"timestamps", test_timestamps},
         {"resume_at_offset", test_resume_at_offset}, {"long_lines", test_long_lines},
         {"many_instruments", test_many_instruments}, {"damaged_files", test_damaged_files},
         {"cleanup", cleanup})
