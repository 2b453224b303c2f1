/*
 * venue_int.h — what the venue parsers (venue_<name>.c) share with the driver (venue.c):
 * the parser state, the per-message context, and helpers that turn JSON tokens into event
 * fields with the failure reasons of venue.h. Not for use outside src/source/venue*.c.
 *
 * A venue's parse hook receives a struct tp_vctx, tokenizes the message with tp_vc_json (or
 * handles non-JSON text frames itself), classifies it with tp_vc_ctl, and adds events with
 * tp_vc_add. Helpers that fail set the reason and detail text in the result and return a
 * negative errno, which the hook returns as is: `if ((rc = tp_vc_price(c, t, &px)) < 0)
 * return rc;`. The driver then puts the events in time order and runs gap detection over the
 * events the hook tagged with an id stream.
 */
#ifndef TP_VENUE_INT_H
#define TP_VENUE_INT_H

#include "core/json.h"
#include "source/venue.h"

#define TP_VSYM_STREAMS 2 /* consecutive id sequences tracked per symbol */

/* Ticker merge fields (Bybit snapshot + delta). */
enum { TK_BID, TK_BID_SZ, TK_ASK, TK_ASK_SZ, TK_LAST, TK_N };

/* One native symbol seen by a parser. Referred to by index: the table may move. */
struct tp_vsym {
    char sym[TP_VSYM_MAX + 1]; /* the key: the symbol as the venue spells it */
    uint8_t len;
    uint8_t have_id; /* bit k: last_id[k] is set */
    uint8_t tk_have; /* bit f: tk[f] is set */
    uint32_t instr;
    uint64_t last_id[TP_VSYM_STREAMS];
    double tk[TK_N];
};

/* A vendor bar not yet final (candles without a "closed" mark), per symbol and channel. */
struct tp_vbar {
    uint32_t sym;
    char chan[24];
    int64_t start, recv;
    double o, h, l, c, v;
};
#define TP_VBAR_MAX 1024

/* Per output event: its symbol and id stream (0 = none, k + 1 = stream k). */
struct tp_vmeta {
    uint32_t sym;
    uint8_t stream;
};

struct tp_vgap {
    uint32_t pos; /* index of the trade the gap precedes */
    uint64_t first, last;
};

struct tp_venue_parser {
    const struct tp_venue *v;
    char market[16];
    struct tp_json j;
    struct tp_vsym *syms;
    uint32_t nsyms, syms_cap, max_syms;
    uint32_t *hash; /* hcap slots: symbol index + 1, 0 = empty */
    uint32_t hcap;
    struct tp_vmeta *meta; /* per output event, grown as needed */
    size_t meta_cap;
    uint32_t *perm, *perm2; /* sort scratch */
    size_t perm_cap;
    struct tp_vgap *gapv;
    size_t gap_cap;
    struct tp_vbar *bars;
    uint32_t nbars, bars_cap;
    bool have_seq;
    uint64_t last_seq;
    struct tp_venue_stats st;
};

struct tp_vctx {
    struct tp_venue_parser *p;
    struct tp_json *j;
    struct tp_event *ev;
    size_t n, cap;
    struct tp_venue_result *res;
    int64_t recv;
    bool snapshot; /* events added carry TP_EV_SNAPSHOT */
};

/* Tokenizes msg into c->j. 0, or fails (bad_json / too_big). */
int tp_vc_json(struct tp_vctx *c, const char *msg, size_t len);
/* Records a failure: reason, and what failed (a short phrase, may be NULL). Returns -EINVAL
 * (-E2BIG for TP_VR_EVENTS). */
int tp_vc_fail(struct tp_vctx *c, enum tp_vreason r, const char *what);
/* Classifies the message. Returns 0. */
int tp_vc_ctl(struct tp_vctx *c, enum tp_vmsg type);

/* The symbol table index of native symbol s[0..n) (interned on first sight), or a failure. */
int tp_vc_sym(struct tp_vctx *c, const char *s, size_t n);
/* The same for a string token. */
int tp_vc_sym_tok(struct tp_vctx *c, int tok);
static inline struct tp_vsym *tp_vc_vsym(struct tp_vctx *c, int si)
{
    return &c->p->syms[si];
}

/* Appends an event of kind for symbol si, tagged with id stream (0 = none, else 1..), with
 * ts = ts_recv = the receive time. NULL when the caller's array is full (the failure is
 * recorded: return TP_VC_FULL(c)). The pointer is valid until the next tp_vc_add. */
struct tp_event *tp_vc_add(struct tp_vctx *c, enum tp_kind kind, int si, int stream);
#define TP_VC_FULL(c) (-E2BIG)

/* Field converters: each returns 0 or records a failure naming `what` and returns < 0. */
int tp_vc_price(struct tp_vctx *c, int tok, const char *what, double *ret); /* > 0 */
int tp_vc_size(struct tp_vctx *c, int tok, const char *what, double *ret);  /* ≥ 0 */
int tp_vc_num(struct tp_vctx *c, int tok, const char *what, double *ret);   /* finite */
/* A time: RFC 3339, or an epoch number or numeric string whose unit comes from its digit
 * count (DESIGN.md §4). */
int tp_vc_time(struct tp_vctx *c, int tok, const char *what, int64_t *ret);
/* Sets e's trade id from a number or string token: numeric when canonical and 64-bit. */
int tp_vc_id(struct tp_vctx *c, struct tp_event *e, int tok);
/* Sets the event's venue time. */
static inline void tp_vc_ts(struct tp_event *e, int64_t ts)
{
    e->ts = ts;
    e->flags |= TP_EV_TS_VENUE;
}

/* Result details. */
void tp_vc_text_tok(struct tp_vctx *c, int tok); /* string decoded; other values raw */
void tp_vc_text(struct tp_vctx *c, const char *s, size_t n);
void tp_vc_text_append(struct tp_vctx *c, const char *s, size_t n);
void tp_vc_reply(struct tp_vctx *c, const char *s, size_t n);
void tp_vc_req_id(struct tp_vctx *c, int tok); /* number or numeric string; else ignored */
void tp_vc_code(struct tp_vctx *c, int tok);   /* number or numeric string; else ignored */

/* The connection-level sequence number seq arrived: records a gap when it skips. */
void tp_vc_seq(struct tp_vctx *c, uint64_t seq);
/* A venue statement that the last id of stream for symbol si is id (Coinbase heartbeat's
 * last_trade_id): when it is beyond the last id seen, ids last+1 ..= id were missed and a gap
 * event at ts says so. 0 or TP_VC_FULL. */
int tp_vc_id_seen(struct tp_vctx *c, int si, int stream, uint64_t id, int64_t ts, bool ts_venue);

/* A quote from bid/ask (required numbers) and their sizes (optional, tok -1): no event when a
 * side is empty (an empty string, or a price ≤ 0: a one-sided book). ts_venue: ts is the
 * venue's time. 0 or a failure. */
int tp_vc_quote(struct tp_vctx *c, int si, int bid, int bid_sz, int ask, int ask_sz, int64_t ts,
                bool ts_venue);
/* True when tok is absent, null or an empty string (venues' "no value"). */
bool tp_vc_empty(const struct tp_vctx *c, int tok);

/* A final vendor bar. 0 or a failure. */
int tp_vc_bar(struct tp_vctx *c, int si, int64_t start, double o, double h, double l, double cl,
              double v);
/* A bar update from a venue that does not mark bars closed: the pending bar of (si, chan)
 * becomes final (and is emitted, when emit_prev) when a later start arrives; this one
 * becomes pending. Updates of bars older than the pending one are dropped. A snapshot passes
 * emit_prev = false for its newest bar after emitting the older ones itself. */
int tp_vc_bar_update(struct tp_vctx *c, int si, const char *chan, int64_t start, double o, double h,
                     double l, double cl, double v, bool emit_prev);

/* Start of the pending bar of (si, chan); INT64_MIN when there is none. */
int64_t tp_vc_bar_pending(struct tp_vctx *c, int si, const char *chan);

/* Builders' helpers. */
/* Writes a JSON string literal (quoted, escaped). */
int tp_vb_str(struct tp_buf *b, const char *s, size_t n);
/* Native spelling of a user symbol ("BTC-USDT", "btcusdt", "BTC/USDT"): separators ('-',
 * '/', '_') become sep (dropped when sep is 0), letters upper- or lower-cased. -EINVAL for
 * an empty result or characters outside [A-Za-z0-9._/-]. Returns the length. */
int tp_vb_native(const char *in, char sep, bool lower, char *out, size_t cap);
/* Splits a bar interval ("1m", "4h", "1d") into a count and unit char ('s','m','h','d','w',
 * 'M' for months). 0 or -EINVAL. */
int tp_vb_interval(const char *iv, unsigned *count, char *unit);

#endif
