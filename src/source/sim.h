/*
 * sim.h — the market simulator (`--source sim`): a deterministic generator of trades, quotes
 * and status records for a fixed set of instruments across asset classes, and the source that
 * runs it paced against the wall clock or as fast as possible.
 *
 * The generator runs on a virtual event timeline: given (seed, start time, rate, instruments,
 * resume state) the sequence of items it returns is identical however it is paced, because
 * tp_sim_next only decides *whether* the next item is due (its ts ≤ limit), never what it is.
 * Items, in order:
 *   - at start, one TP_ST_CONNECTED per instrument (ts = start);
 *   - at every whole second of event time, one TP_ST_HEARTBEAT per instrument (ts = that
 *     second), before any event at or after it — so every instrument has a heartbeat at least
 *     once per second of event time (DESIGN.md §3);
 *   - market events at Poisson arrival times (mean `rate` per second; ts strictly increasing),
 *     each for an instrument drawn by its activity weight.
 * Every item has ts_recv = ts and TP_EV_TS_VENUE; forex instruments are quote-only
 * (TP_EV_QUOTE_ONLY on all their records, never a trade).
 *
 * Prices: each instrument's mid follows a geometric Brownian motion in event time (zero drift
 * in log price, daily volatility by asset class) with Poisson jumps (default 12 per hour per
 * instrument, a few tenths of a daily sigma each, random sign) so that return-z-score
 * anomalies happen now and then. Bid and ask sit around the mid, a random spread of at least
 * one tick apart; a trade executes at the ask (taker buy) or the bid (taker sell). Prices are
 * integers of ticks (tick = 10^-decimals, registered with tp_instr_set_tick) divided exactly,
 * so they print as short decimals. Sizes are lognormal (truncated near ±3.3 sigma), rounded to the
 * instrument's lot. Trade ids increase by one per trade per instrument.
 *
 * Shocks (opt-in, shock_ns > 0): at every multiple of shock_ns of event time after the start,
 * the next market event of one instrument — round-robin over the instruments that trade —
 * moves the mid by half a daily volatility (BTC-USD 1.5 %), up and down in turn: tens to
 * hundreds of per-trade sigmas, which the engine's return z-score detector reports at the
 * instrument's next trade. Shocks draw nothing from the RNG, so they change prices only, and
 * a seed still gives the same events.
 *
 * Resume: fed the tail of the input journal (tp_sim_resume), the generator continues each
 * instrument's price and trade ids from its last records, and starts its clock after the last
 * time seen. An instrument without history starts at its reference price, with trade ids from
 * 1 when the whole journal was seen, else from the start time in microseconds: since no
 * instrument trades more than once per microsecond (TP_SIM_MAX_RATE), ids then stay unique
 * across runs even when the older history was not read.
 *
 * Not thread-safe: one generator per thread.
 */
#ifndef TP_SIM_H
#define TP_SIM_H

#include "core/event.h"
#include "source/source.h"

#define TP_SIM_MAX_RATE  4e6 /* events per second of event time */
#define TP_SIM_MAX_INSTR 16

struct tp_sim_opts {
    uint64_t seed;
    int64_t start_ns;           /* event time of the CONNECTED records */
    double rate;                /* mean market events per second of event time */
    double jumps_per_hour;      /* per instrument; < 0 for the default */
    const char *const *symbols; /* subset by symbol ("BTC-USD"), borrowed; NULL = all */
    size_t nsymbols;
    int64_t shock_ns; /* a price shock every this much event time (0 = none; see above) */
};

struct tp_sim;

/* A new generator. 0 and *ret (owned; tp_sim_free), -EINVAL (rate outside
 * (0, TP_SIM_MAX_RATE], an unknown or repeated symbol: *bad_symbol, when not NULL, is set to
 * its index), or -ENOMEM. Interns the instruments `sim:SYMBOL` and sets their ticks. */
int tp_sim_new(const struct tp_sim_opts *o, struct tp_sim **ret, size_t *bad_symbol);
void tp_sim_free(struct tp_sim *s);

/* The instruments, by index. */
size_t tp_sim_ninstr(const struct tp_sim *s);
uint32_t tp_sim_instr(const struct tp_sim *s, size_t i);
bool tp_sim_quote_only(const struct tp_sim *s, size_t i);
/* Every symbol the simulator knows, comma-separated (for error messages). Static. */
const char *tp_sim_known_symbols(void);

/* Feeds one journal record (oldest first) before the first tp_sim_next; records of other
 * instruments are ignored. e is borrowed. */
void tp_sim_resume(struct tp_sim *s, const struct tp_event *e);
/* Says, before the first tp_sim_next, that the records fed were the journal's whole history:
 * instruments without history then start their trade ids at 1. */
void tp_sim_resume_whole(struct tp_sim *s);

/* Event time of the next item. */
int64_t tp_sim_peek_ts(struct tp_sim *s);
/* Writes the next item into *ev and returns true when its ts ≤ limit; false (ev untouched)
 * otherwise. */
bool tp_sim_next(struct tp_sim *s, int64_t limit, struct tp_event *ev);
/* Trades and quotes returned so far. */
uint64_t tp_sim_market_events(const struct tp_sim *s);
/* One status record per instrument (TP_ST_DISCONNECTED, TP_ST_EOF) at the time of the last
 * item returned; ev has room for tp_sim_ninstr() records. Returns how many. */
size_t tp_sim_final(struct tp_sim *s, enum tp_status st, struct tp_event *ev);

/* The source. */
struct tp_sim_source_opts {
    uint64_t seed;
    double rate;
    bool max_pace;       /* as fast as possible (not live: waits for ring space) */
    uint64_t max_events; /* stop after this many trades and quotes (0 = never), then write
                          * one TP_ST_EOF per instrument and end */
    int64_t start_ns;    /* 0 = the wall clock when the source is created */
    int64_t shock_ns;    /* tp_sim_opts.shock_ns */
};

/* Parses "sim" or "sim:SYM,SYM,..." and creates the source (owned; tp_source_free). 0,
 * -EINVAL with a one-line reason in err, or -ENOMEM. */
int tp_sim_source_new(const char *spec, const struct tp_sim_source_opts *o, struct tp_source **ret,
                      char *err, size_t errcap);

#endif
