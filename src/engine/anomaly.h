/*
 * anomaly.h — anomaly detectors (DESIGN.md §3). Pure state machines: the engine feeds them
 * and writes what they return to the output log.
 *
 *  - return_zscore, per trade: r = ln(p/p_prev); μ and σ (sample) over the previous `window`
 *    (100) returns, not including r; σ floored at max(half a tick / p, 1e-9); alarm when
 *    |r − μ| / σ > z (3); observed = p, expected = p_prev·e^μ, score = (r − μ)/σ. No alarm
 *    before `window` returns; then at most one alarm per instrument per cooldown (10 s of
 *    event time).
 *  - volume_spike, per final bar: volume > mult (5) × mean volume of the previous `lookback`
 *    (20) bars of that instrument and interval; observed = volume, expected = the mean,
 *    score = volume / mean. Same cooldown per (instrument, interval).
 *  - crossed_quote: bid ≥ ask (observed = bid, expected = ask, score = bid − ask).
 *  - stale and gap are decided by the engine from status records and reported as anomalies.
 */
#ifndef TP_ANOMALY_H
#define TP_ANOMALY_H

#include "core/buf.h"

enum tp_anomaly_kind {
    TP_AN_RETURN_ZSCORE = 1,
    TP_AN_VOLUME_SPIKE = 2,
    TP_AN_CROSSED_QUOTE = 3,
    TP_AN_STALE = 4,
    TP_AN_GAP = 5,
};
#define TP_AN_KINDS 6

struct tp_anomaly {
    uint32_t instr;
    int64_t ts;
    uint8_t kind; /* enum tp_anomaly_kind */
    double observed, expected, score;
    int64_t interval_ns; /* 0 for per-trade / per-quote detectors (empty `interval` column) */
};

const char *tp_anomaly_kind_name(enum tp_anomaly_kind k); /* "return_zscore", ... */

struct tp_anomaly_cfg {
    int window;          /* 100 */
    double z;            /* 3 */
    int64_t cooldown_ns; /* 10 s */
    int vol_lookback;    /* 20 */
    double vol_mult;     /* 5 */
    int64_t stale_ns;    /* 60 s */
};
void tp_anomaly_cfg_default(struct tp_anomaly_cfg *c);
/* 0, or -EINVAL when window is outside [2, TP_AN_MAX_WINDOW], vol_lookback outside
 * [1, TP_AN_MAX_WINDOW], z or vol_mult not finite and > 0, or a duration negative. The
 * detectors' _new return NULL for a cfg that fails this check. */
int tp_anomaly_cfg_check(const struct tp_anomaly_cfg *c);

#define TP_AN_MAX_WINDOW 100000

/* Return z-score detector, one per instrument. */
struct tp_retz;
struct tp_retz *tp_retz_new(const struct tp_anomaly_cfg *cfg);
void tp_retz_free(struct tp_retz *d);
/* Feeds a trade (ts, price > 0) of the instrument whose tick size is `tick` (0 if unknown).
 * Returns true and fills *out (instr left 0 for the caller to set) on an alarm. */
bool tp_retz_update(struct tp_retz *d, int64_t ts, double price, double tick,
                    struct tp_anomaly *out);
int tp_retz_save(const struct tp_retz *d, struct tp_buf *b);
int tp_retz_load(struct tp_retz *d, struct tp_rd *r);

/* Volume spike detector, one per (instrument, interval). */
struct tp_volspike;
struct tp_volspike *tp_volspike_new(const struct tp_anomaly_cfg *cfg);
void tp_volspike_free(struct tp_volspike *d);
/* Feeds a final bar (bar start ts, its volume, interval). True and *out on an alarm. */
bool tp_volspike_update(struct tp_volspike *d, int64_t ts, double volume, int64_t interval_ns,
                        struct tp_anomaly *out);
int tp_volspike_save(const struct tp_volspike *d, struct tp_buf *b);
int tp_volspike_load(struct tp_volspike *d, struct tp_rd *r);

#endif
