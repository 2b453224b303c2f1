/*
 * event.h — the normalized event every source produces and the engine consumes
 * (DESIGN.md §2).
 *
 * One struct for every kind, by value, no pointers, so events copy into rings and journal
 * records without ownership questions. Optional numeric fields are NaN when absent (printed as
 * null / empty). The instrument is an interned id (core/instrument.h); `venue_symbol` keeps the
 * venue's native spelling. Times are int64 ns since the epoch, UTC.
 */
#ifndef TP_EVENT_H
#define TP_EVENT_H

#include "core/tp.h"

enum tp_kind {
    TP_KIND_TRADE = 1,
    TP_KIND_QUOTE = 2,
    TP_KIND_SNAPSHOT = 3, /* a polled price without size or id */
    TP_KIND_VBAR = 4,     /* a vendor's own OHLCV bar: open, high, low, price=close, size=volume */
    TP_KIND_STATUS = 5,
};

enum tp_side { TP_SIDE_UNKNOWN = 0, TP_SIDE_BUY = 1, TP_SIDE_SELL = 2 };

/* Status events (kind TP_KIND_STATUS). Sources write them into the log; the engine reads time
 * only from them (DESIGN.md §3). */
enum tp_status {
    TP_ST_NONE = 0,
    TP_ST_CONNECTED = 1,
    TP_ST_DISCONNECTED = 2,
    TP_ST_SUBSCRIBED = 3,
    TP_ST_STALE = 4,
    TP_ST_GAP = 5,       /* gap_first..gap_last missing (ids, or times when TP_EV_GAP_TIME) */
    TP_ST_EOF = 6,       /* a replay source reached the end: W = +inf for the instrument */
    TP_ST_HEARTBEAT = 7, /* ts = the source's idea of venue time; W may advance to ts - lateness */
    TP_ST_HOLD = 8,      /* do not advance W past ts (capped) until a release */
    TP_ST_RELEASE = 9,   /* the hold for this instrument ends */
    TP_ST_FAILOVER = 10, /* (added) a failover group switched its polling source; trade_id_str
                            = "FROM->TO" (venues), on both sources' instruments */
};
#define TP_ST_LAST TP_ST_FAILOVER /* the highest status value */

enum tp_event_flags {
    TP_EV_TS_VENUE = 1 << 0,   /* ts is the venue's event time (else the receive time) */
    TP_EV_HAS_ID = 1 << 1,     /* trade_id or trade_id_str is set */
    TP_EV_ID_STR = 1 << 2,     /* the id is the string trade_id_str */
    TP_EV_QUOTE_ONLY = 1 << 3, /* the source declares this instrument quote-only */
    TP_EV_GAP_TIME = 1 << 4,   /* gap bounds are times, not ids */
    TP_EV_SNAPSHOT = 1 << 5,   /* part of a resent snapshot batch (dedup by content) */
    TP_EV_BACKFILLED = 1 << 6, /* (added) a TP_ST_GAP whose missing trades were fetched and
                                  journaled (REST backfill): the gap is closed */
};

#define TP_TRADE_ID_MAX 63 /* longest string trade id, without NUL */
#define TP_VSYM_MAX     47 /* longest native symbol kept, without NUL */

struct tp_event {
    int64_t ts;      /* event time (venue's or receive time; see TP_EV_TS_VENUE) */
    int64_t ts_recv; /* when tickpipe received it */
    uint32_t instr;  /* interned instrument id */
    uint8_t kind;    /* enum tp_kind */
    uint8_t side;    /* enum tp_side */
    uint8_t status;  /* enum tp_status, for TP_KIND_STATUS */
    uint8_t trade_id_len;
    uint16_t flags; /* enum tp_event_flags */
    uint8_t vsym_len;
    double price, size;                  /* trade; snapshot price; vendor bar close/volume */
    double bid, ask, bid_size, ask_size; /* quote */
    double open, high, low, change;      /* forex quote extras; vendor bar o/h/l */
    double value;                        /* one extra named measurement (DESIGN.md §2) */
    uint64_t trade_id;                   /* numeric id; or gap_first for TP_ST_GAP */
    uint64_t gap_last;                   /* for TP_ST_GAP */
    char trade_id_str[TP_TRADE_ID_MAX + 1];
    char venue_symbol[TP_VSYM_MAX + 1];
};

/* Clears e to an event of the given kind: all optional doubles NaN, no id, no symbol. */
void tp_event_init(struct tp_event *e, enum tp_kind kind);
/* Sets the venue's native symbol (truncated to TP_VSYM_MAX). */
void tp_event_set_vsym(struct tp_event *e, const char *s, size_t n);
/* Sets a string trade id; -E2BIG when longer than TP_TRADE_ID_MAX (e is unchanged). */
int tp_event_set_id_str(struct tp_event *e, const char *s, size_t n);
void tp_event_set_id(struct tp_event *e, uint64_t id);

const char *tp_kind_name(enum tp_kind k);     /* "trade", "quote", ... */
const char *tp_side_name(enum tp_side s);     /* "buy", "sell", "" */
const char *tp_status_name(enum tp_status s); /* "connected", ... */
int tp_kind_parse(const char *s, enum tp_kind *ret);
int tp_side_parse(const char *s, size_t n, enum tp_side *ret); /* buy/b/sell/s/""/unknown */

#endif
