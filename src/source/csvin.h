/*
 * csvin.h — a streaming reader of trades and quotes in CSV files into struct tp_event
 * (DESIGN.md §2, §4), for `tickpipe replay` and the `run --source replay:FILE` source.
 *
 * The file is RFC 4180 CSV (quoted fields with "" escapes and embedded line breaks; LF or CRLF
 * line ends; a UTF-8 byte order mark is skipped) whose first record is a header naming the
 * columns. Logical fields (enum tp_csv_field) are found by their own name in the header
 * (case-insensitive), or by the column a map names (`ts=timestamp,price=stock_price`);
 * columns nobody asks for are ignored. Defaults: `ts,instrument,price,size[,side][,trade_id]`,
 * plus any of the other tick columns of DESIGN.md §5 when present.
 *
 * Each row becomes one event, or is rejected with one reason from a fixed set (enum
 * tp_csv_reason); rejected rows are counted per reason with their first line numbers and never
 * stop the reader — the caller decides whether one should (--strict). Rows:
 *   - kind: the `kind` column (trade, quote, snapshot, bar) or, without one, a trade when the
 *     row has a price and a quote when it has only bid/ask;
 *   - ts: RFC 3339 / ISO-8601 or an epoch number (unit from the digit count unless forced);
 *     ts_recv (a `ts_recv` column, else ts) — never the wall clock, so a replay is
 *     deterministic;
 *   - instrument: `venue:SYMBOL`; a symbol in another spelling (`binance:btcusdt`) is
 *     normalized and kept as venue_symbol; an empty or absent column takes opts.instrument;
 *   - price > 0 for trades, snapshots and bars, bid and ask > 0 for quotes; sizes ≥ 0; an
 *     unmapped size is 0; numbers are exact (core/num.h) and never NaN or infinite;
 *   - quote_only (an option, as the source declares it, never guessed from the data): quotes
 *     carry TP_EV_QUOTE_ONLY;
 *   - trade_id: a canonical unsigned decimal (no leading zero) that fits 64 bits is numeric,
 *     anything else a string of at most TP_TRADE_ID_MAX bytes; empty = no id.
 *
 * Position: tp_csvin_offset() is the byte offset just past the last record returned (a record
 * boundary) and tp_csvin_lines() the physical lines up to it; opening with that offset and
 * line count reads exactly the rest of the file (the header is read again from the start).
 *
 * Speed: the file is read in 1 MiB blocks into one buffer allocated at open; lines are found
 * with memchr, fields of unquoted lines are split in place, quoted ones unescaped into a
 * scratch buffer of line_max bytes. No allocation per row. A record longer than line_max
 * bytes is rejected (line_too_long) and skipped up to the next line break after the cap.
 *
 * A reader belongs to one thread. Instruments are interned in the process-wide table.
 */
#ifndef TP_CSVIN_H
#define TP_CSVIN_H

#include "core/event.h"
#include "core/tptime.h"

#define TP_CSVIN_LINE_MAX_DEFAULT (64u << 10) /* longest record accepted, in bytes */
#define TP_CSVIN_LINE_MAX_LIMIT   (16u << 20) /* cap on a configured line_max */
#define TP_CSVIN_MAX_COLS         1024        /* header columns kept; more is an error */
#define TP_CSVIN_KEEP_LINES       5           /* first line numbers kept per bad-row reason */

/* Logical fields a column can provide. */
enum tp_csv_field {
    TP_CF_TS,
    TP_CF_TS_RECV,
    TP_CF_INSTRUMENT,
    TP_CF_VENUE_SYMBOL,
    TP_CF_KIND,
    TP_CF_PRICE,
    TP_CF_SIZE,
    TP_CF_SIDE,
    TP_CF_TRADE_ID,
    TP_CF_BID,
    TP_CF_ASK,
    TP_CF_BID_SIZE,
    TP_CF_ASK_SIZE,
    TP_CF_OPEN,
    TP_CF_HIGH,
    TP_CF_LOW,
    TP_CF_CHANGE,
    TP_CF_VALUE,
    TP_CF_COUNT
};

/* Why a row was rejected. Names (tp_csv_reason_name) are stable: they appear in stats.json. */
enum tp_csv_reason {
    TP_CSV_R_COLUMNS,       /* column_count: not as many fields as the header */
    TP_CSV_R_QUOTING,       /* bad_quoting: unterminated quote, text after a closing quote */
    TP_CSV_R_LINE_TOO_LONG, /* line_too_long: record longer than line_max */
    TP_CSV_R_TS,            /* bad_ts */
    TP_CSV_R_INSTRUMENT,    /* bad_instrument: missing, or not venue:SYMBOL */
    TP_CSV_R_KIND,          /* bad_kind */
    TP_CSV_R_PRICE,         /* bad_price: missing or not a number (price, bid, ask) */
    TP_CSV_R_PRICE_NONPOS,  /* nonpositive_price */
    TP_CSV_R_NONFINITE,     /* not_finite: NaN, inf, or overflowing to inf */
    TP_CSV_R_SIZE,          /* bad_size: not a number (size, bid_size, ask_size) */
    TP_CSV_R_SIZE_NEG,      /* negative_size */
    TP_CSV_R_SIDE,          /* bad_side */
    TP_CSV_R_TRADE_ID,      /* bad_trade_id: longer than TP_TRADE_ID_MAX */
    TP_CSV_R_NUMBER,        /* bad_number: value, open, high, low, change */
    TP_CSV_R_COUNT
};

const char *tp_csv_reason_name(enum tp_csv_reason r); /* "bad_ts", ... */
const char *tp_csv_reason_text(enum tp_csv_reason r); /* "malformed timestamp", ... */
const char *tp_csv_field_name(enum tp_csv_field f);   /* "ts", "price", ... */

struct tp_csvin_opts {
    const char *map;        /* "K=COL,..." mapping logical fields to columns; NULL = none */
    const char *instrument; /* instrument when the row has none; NULL = none */
    enum tp_ts_unit ts_unit;
    size_t line_max;       /* 0 = TP_CSVIN_LINE_MAX_DEFAULT; at most TP_CSVIN_LINE_MAX_LIMIT */
    uint64_t start_offset; /* 0, or a value of tp_csvin_offset() to resume after */
    uint64_t start_lines;  /* the tp_csvin_lines() that went with start_offset */
    bool quote_only;       /* the file is a quote feed: its quotes carry TP_EV_QUOTE_ONLY, so the
                            * engine builds its instruments' bars from the mid (DESIGN.md §3) */
};

struct tp_csvin_stats {
    uint64_t records; /* data records read (events + bad rows) */
    uint64_t events;
    uint64_t bad_total;
    uint64_t bad[TP_CSV_R_COUNT];
    uint64_t bad_lines[TP_CSV_R_COUNT][TP_CSVIN_KEEP_LINES]; /* first lines, 1-based */
};

enum {
    TP_CSVIN_EOF = 0,   /* no more records */
    TP_CSVIN_EVENT = 1, /* *ev holds the next event */
    TP_CSVIN_BAD = 2,   /* a row was rejected: tp_csvin_last_reason/_line say why and where */
};

struct tp_csvin;

/* Checks a map string (syntax, known field names, no field twice) without a file. 0, or
 * -EINVAL with a one-line message in err. */
int tp_csvin_map_check(const char *map, char *err, size_t errcap);

/* Opens path, reads its header and checks that the columns give what a row needs (ts, an
 * instrument or opts->instrument, a price or bid/ask) and that every mapped column exists.
 * opts is copied (its strings are borrowed until tp_csvin_free). 0 and *ret (owned), or
 * -EINVAL (header, mapping or options do not fit: a configuration error) or another negative
 * errno (I/O), with a one-line message in err (which names neither the command nor the file).
 * An empty file opens and reads as empty. */
int tp_csvin_open(const char *path, const struct tp_csvin_opts *opts, struct tp_csvin **ret,
                  char *err, size_t errcap);
void tp_csvin_free(struct tp_csvin *r);

/* Reads the next record: TP_CSVIN_EVENT (and *ev), TP_CSVIN_BAD, TP_CSVIN_EOF, or a negative
 * errno on a read error (the reader is then done). *ev is written only for TP_CSVIN_EVENT. */
int tp_csvin_next(struct tp_csvin *r, struct tp_event *ev);

enum tp_csv_reason tp_csvin_last_reason(const struct tp_csvin *r);
uint64_t tp_csvin_record_line(const struct tp_csvin *r); /* first line of the last record */
uint64_t tp_csvin_offset(const struct tp_csvin *r);      /* bytes consumed */
uint64_t tp_csvin_lines(const struct tp_csvin *r);       /* physical lines consumed */
uint64_t tp_csvin_size(const struct tp_csvin *r);        /* file size at open */
const struct tp_csvin_stats *tp_csvin_stats(const struct tp_csvin *r);

#endif
