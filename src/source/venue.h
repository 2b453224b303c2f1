/*
 * venue.h — venue message parsers: one wire message (a WebSocket text frame) in, normalized
 * events (core/event.h, DESIGN.md §2) and control information out; plus each venue's
 * subscribe and ping messages, for the connectors.
 *
 * A venue (struct tp_venue, one per file venue_<name>.c, found by name with tp_venue_find) is
 * stateless; a parser (struct tp_venue_parser) holds what one connection — or one replayed
 * capture — needs to remember between messages:
 *   - the native symbols seen, each mapped once to its interned instrument (`venue:SYMBOL`
 *     through tp_instr_normalize + tp_instr_intern), so the hot path never takes the
 *     instrument table's lock;
 *   - per instrument, the last trade id of each id sequence the venue numbers consecutively
 *     (Binance trade and aggTrade ids, Coinbase trade ids, Kraken v2 trade ids), to detect
 *     gaps; the connection-level sequence number where the venue has one (Coinbase Advanced
 *     sequence_num);
 *   - merges the venue requires (Bybit ticker snapshot + deltas) and vendor bars not yet
 *     final (candles without a "closed" flag become final when the next one starts).
 * Keep one parser across reconnects of the same feed so that a gap spanning the outage is
 * detected; use a fresh one for an unrelated feed.
 *
 * What tp_venue_parse produces:
 *   - events, written to the caller's array, in time order whatever order the message lists
 *     them in (DESIGN.md §2): a newest-first batch is reversed, then the batch is sorted
 *     stably by ts;
 *   - trades: price and size exact from the decimal text, taker side from the venue's
 *     convention, venue trade id (numeric when it is a canonical decimal that fits 64 bits,
 *     else a string), ts = the venue's trade time with TP_EV_TS_VENUE when it gives one,
 *     else the receive time; ts_recv = the receive time given;
 *   - quotes from book tickers and tickers (bid, ask, sizes); a ticker with only a last price
 *     (Bybit spot) gives a snapshot;
 *   - vendor bars (TP_KIND_VBAR: open, high, low, price = close, size = volume, ts = the bar's
 *     start) from klines and candles, only once the venue marks them closed (or, for venues
 *     without such a mark, once a later bar starts), values as the venue sent them;
 *   - a TP_ST_GAP status event (trade_id = first missing id, gap_last = last missing id),
 *     placed just before the trade that revealed the gap, when a consecutive id sequence
 *     skips; older or repeated ids are passed through for the engine's deduplication;
 *   - events of a snapshot batch the venue resends on (re)subscription carry TP_EV_SNAPSHOT.
 * and classifies every message (struct tp_venue_result.type): data, a known message type the
 * parser does not turn into events (order books), subscription confirmations, other acks,
 * errors with their text, pings (with the reply to send, if any), pongs, heartbeats, venue
 * status, planned-disconnect notices. A message it cannot use fails with a reason (enum
 * tp_vreason) and never crashes the parser; the parser stays usable.
 *
 * Allocation: a parser allocates its JSON token array, symbol table and scratch arrays as
 * they grow (all capped); steady-state parsing allocates nothing. A parser belongs to one
 * thread; venues and the registry are immutable and shared.
 */
#ifndef TP_VENUE_H
#define TP_VENUE_H

#include "core/buf.h"
#include "core/event.h"

/* What a message was. */
enum tp_vmsg {
    TP_VMSG_NONE = 0,   /* the message failed (see reason) */
    TP_VMSG_DATA,       /* market data; the events are in the output (possibly none: an
                           unfinished bar, a ticker delta that changed no quote field) */
    TP_VMSG_IGNORED,    /* a known message type this parser does not turn into events
                           (order books, depth diffs, liquidations) */
    TP_VMSG_SUBSCRIBED, /* the venue confirms a subscription (text: channel or list) */
    TP_VMSG_ACK,        /* any other reply to a request: unsubscribe, a result, a login */
    TP_VMSG_ERROR,      /* the venue reports an error (text, and code when it gives one) */
    TP_VMSG_PING,       /* the venue pings: send `reply` back when reply_len > 0 */
    TP_VMSG_PONG,       /* the venue answers our ping */
    TP_VMSG_HEARTBEAT,  /* a venue keep-alive or heartbeat */
    TP_VMSG_STATUS,     /* venue system status (text: "online", "maintenance", ...) */
    TP_VMSG_RECONNECT,  /* a planned disconnect is coming: reconnect now (text says why) */
    TP_VMSG_COUNT
};

/* Why a message failed. Names (tp_vreason_name) are stable: they appear in statistics. */
enum tp_vreason {
    TP_VR_NONE = 0,
    TP_VR_JSON,    /* bad_json: not well-formed JSON (or not the venue's text frames) */
    TP_VR_TOO_BIG, /* too_big: past the JSON caps (tokens, depth, length) */
    TP_VR_UNKNOWN, /* unknown_type: well-formed, but not a message type of this venue */
    TP_VR_FIELD,   /* bad_field: a required field is missing or has the wrong type */
    TP_VR_NUMBER,  /* bad_number: a price or size that is not a number, or out of range */
    TP_VR_TIME,    /* bad_time: a timestamp that does not parse */
    TP_VR_SYMBOL,  /* bad_symbol: a symbol that does not make a valid instrument name */
    TP_VR_ID,      /* bad_id: a trade id longer than TP_TRADE_ID_MAX */
    TP_VR_EVENTS,  /* too_many_events: more events than the caller's array holds */
    TP_VR_SYMBOLS, /* too_many_symbols: the parser's symbol table is full */
    TP_VR_COUNT
};

#define TP_VENUE_TEXT_MAX  255
#define TP_VENUE_REPLY_MAX 127

struct tp_venue_result {
    enum tp_vmsg type;
    enum tp_vreason reason; /* failures: why; TP_VR_NONE otherwise */
    uint32_t gaps;          /* TP_ST_GAP events among the output */
    bool has_req_id;        /* the message answers request req_id */
    bool has_code;          /* the venue gave a numeric error / notice code */
    bool seq_gap;           /* the connection's sequence skipped seq_first..seq_last */
    int64_t req_id;
    int64_t code;
    uint64_t seq_first, seq_last;
    uint16_t text_len; /* error text, subscribed channel, status; for failures, what failed */
    uint16_t reply_len;
    char text[TP_VENUE_TEXT_MAX + 1];
    char reply[TP_VENUE_REPLY_MAX + 1]; /* for TP_VMSG_PING: the frame to send back */
};

/* Channels a subscription can ask for (bit mask). */
enum tp_vchan {
    TP_VCH_TRADES = 1 << 0,
    TP_VCH_QUOTES = 1 << 1,    /* book ticker / ticker */
    TP_VCH_BARS = 1 << 2,      /* klines / candles */
    TP_VCH_HEARTBEAT = 1 << 3, /* a heartbeat channel, where the venue has one to subscribe */
    TP_VCH_AGG = 1 << 4,       /* Binance: trades from aggTrade instead of trade */
};

struct tp_venue_sub {
    const char *const *symbols; /* borrowed: normalized ("BTC-USDT") or native spellings */
    size_t nsymbols;
    unsigned channels;    /* enum tp_vchan bits */
    const char *interval; /* bars: "1m", "5m", "1h", "1d", ...; NULL = "1m" */
    uint64_t req_id;      /* id of the first request, where the venue numbers requests;
                             0 = omitted where the venue allows it (Binance needs one: 1) */
    const char *market;   /* as in tp_venue_opts */
};

struct tp_venue_parser;
struct tp_vctx; /* a message being parsed (source/venue_int.h) */

struct tp_venue {
    const char *name;      /* "binance": also the venue part of its instruments */
    const char *endpoint;  /* default public WebSocket URL */
    int64_t ping_every_ns; /* application-level ping period the venue requires; 0 = none
                              (protocol pings are the WebSocket layer's business) */
    unsigned channels;     /* enum tp_vchan bits the venue supports */
    uint32_t max_sub_args; /* most channels/streams in one subscribe request; 0 = no limit */
    /* Implementation hooks (venue.c and venue_<name>.c; callers use the functions below). */
    int (*parse)(struct tp_vctx *c, const char *msg, size_t len);
    int (*subscribe)(const struct tp_venue_sub *sub, struct tp_buf *out);
    int (*ping)(uint64_t req_id, struct tp_buf *out);
    int (*normalize)(const char *market, const char *sym, size_t n, char *out, size_t cap);
};

struct tp_venue_opts {
    const char *market;   /* a venue segment whose symbols collide with another's: bybit
                             "spot" (default), "linear", "inverse", "option"; NULL = default */
    uint32_t max_symbols; /* distinct native symbols per parser; 0 = 4096 */
    uint32_t max_tokens;  /* JSON tokens per message; 0 = 1 Mi */
};

struct tp_venue_stats {
    uint64_t messages, events, failed, gaps, seq_gaps;
    uint64_t by_type[TP_VMSG_COUNT];
    uint64_t by_reason[TP_VR_COUNT];
};

/* The venue called name ("binance", "coinbase", "okx", "kraken", "bybit", "bitstamp",
 * "finnhub"); NULL when unknown. Borrowed, static. */
const struct tp_venue *tp_venue_find(const char *name);
/* The i-th registered venue (for listing); NULL past the end. */
const struct tp_venue *tp_venue_at(size_t i);

/* A new parser for venue v. opts may be NULL. 0 and *ret (owned), -EINVAL (unknown market),
 * -ENOMEM. */
int tp_venue_parser_new(const struct tp_venue *v, const struct tp_venue_opts *opts,
                        struct tp_venue_parser **ret);
void tp_venue_parser_free(struct tp_venue_parser *p);
const struct tp_venue *tp_venue_parser_venue(const struct tp_venue_parser *p);
const char *tp_venue_parser_market(const struct tp_venue_parser *p); /* "" = default */
const struct tp_venue_stats *tp_venue_parser_stats(const struct tp_venue_parser *p);

/* Parses one message msg[0..len) (borrowed for the call) received at recv_ns. Events go to
 * ev[0..cap); *res (always written) classifies the message. Returns the number of events
 * (≥ 0), or -EINVAL (the message failed: res->reason says why and res->text gives detail) or
 * -E2BIG (more events than cap; TP_VR_EVENTS). On failure no event is returned, but state
 * that earlier parts of the message updated (a ticker merge, a gap check) may have advanced. */
int tp_venue_parse(struct tp_venue_parser *p, const char *msg, size_t len, int64_t recv_ns,
                   struct tp_event *ev, size_t cap, struct tp_venue_result *res);

/* The instrument name (`venue:SYMBOL`, DESIGN.md §2) the parser gives the data of user symbol
 * sym ("BTC-USDT", or the venue's own spelling), and that native spelling as the venue writes
 * it in its data (the events' venue_symbol: "BTCUSDT", "BTC/USD", "btcusd"). market as in
 * tp_venue_opts (NULL = default). Returns the name's length, or -EINVAL (sym cannot be
 * spelled natively, or does not make a valid instrument name). */
int tp_venue_instrument(const struct tp_venue *v, const char *market, const char *sym, char *out,
                        size_t cap, char native[TP_VSYM_MAX + 1]);
/* True when the parser has seen a consecutively numbered trade id of instr (venue.c tracks
 * them per symbol): its next trade reveals any trades missed in between as a gap event. */
bool tp_venue_parser_tracks_ids(const struct tp_venue_parser *p, uint32_t instr);
/* A new connection begins: forgets what is numbered per connection (Coinbase Advanced's
 * sequence_num), keeps what is numbered per symbol (trade ids) so that a gap spanning the
 * outage is detected. */
void tp_venue_parser_new_connection(struct tp_venue_parser *p);

/* Appends the subscribe request(s) for sub to out, each one JSON text followed by '\n', in
 * the order to send them (split as the venue requires: one channel or one symbol per request,
 * at most max_sub_args per request). Returns the number of requests, or -ENOTSUP (a channel
 * the venue does not offer), -EINVAL (no symbol, a symbol that cannot be spelled natively, a
 * bad interval), -E2BIG (out's cap). */
int tp_venue_subscribe(const struct tp_venue *v, const struct tp_venue_sub *sub,
                       struct tp_buf *out);
/* Appends the venue's application-level ping (no newline). 0, or -ENOTSUP when the venue has
 * none (its keep-alive is the WebSocket protocol ping). */
int tp_venue_ping(const struct tp_venue *v, uint64_t req_id, struct tp_buf *out);

const char *tp_vmsg_name(enum tp_vmsg t);       /* "data", "ignored", "subscribed", ... */
const char *tp_vreason_name(enum tp_vreason r); /* "bad_json", ... */

#endif
