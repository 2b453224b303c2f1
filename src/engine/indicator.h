/*
 * indicator.h — technical indicators on final bars, per instrument and interval, O(1) per
 * bar, equal to TA-Lib (TA_COMPATIBILITY_DEFAULT, no unstable period) within
 * |a − b| ≤ 1e-9 · max(1, |b|) (DESIGN.md §3):
 *
 *   SMA(20) from bar 20; EMA(20) seeded with the SMA of the first 20 closes; Bollinger(20, 2)
 *   with the population standard deviation; RSI(14) Wilder from bar 15 (0 when average gain
 *   and loss are both 0); MACD(12, 26, 9): both EMAs' seeds end on bar 26 (the fast one is the
 *   SMA of closes 15–26), macd, signal and histogram all from bar 34; ATR(14) Wilder from bar
 *   15; volatility_20 = sample standard deviation (n−1) of the last 20 log returns of close,
 *   from bar 21. Null (NaN) before that.
 *
 * One struct tp_ind per (instrument, interval); owned by the engine thread.
 */
#ifndef TP_INDICATOR_H
#define TP_INDICATOR_H

#include "core/buf.h"
#include "engine/bar.h"

#define TP_IND_MAX_PERIOD 1000 /* cap on any configured period */

struct tp_ind_cfg {
    int sma;       /* 20 */
    int ema;       /* 20 */
    int bb;        /* 20 */
    double bb_k;   /* 2 */
    int rsi;       /* 14 */
    int macd_fast; /* 12 */
    int macd_slow; /* 26 */
    int macd_sig;  /* 9 */
    int atr;       /* 14 */
    int vol;       /* 20 */
};

void tp_ind_cfg_default(struct tp_ind_cfg *c);
/* 0, or -EINVAL naming nothing (the caller names the setting) when a period is < 1 or
 * > TP_IND_MAX_PERIOD, fast ≥ slow, or bb_k ≤ 0. */
int tp_ind_cfg_check(const struct tp_ind_cfg *c);

struct tp_ind;

/* New state for cfg (copied; must pass tp_ind_cfg_check). NULL on out of memory. */
struct tp_ind *tp_ind_new(const struct tp_ind_cfg *cfg);
void tp_ind_free(struct tp_ind *s);
/* Feeds one final bar's high, low and close; writes every indicator value (NaN in warm-up). */
void tp_ind_update(struct tp_ind *s, double high, double low, double close,
                   struct tp_ind_values *out);
/* Number of bars fed so far. */
uint64_t tp_ind_count(const struct tp_ind *s);
/* Serializes the state for a checkpoint; loading restores it so that later updates give
 * exactly the values an uninterrupted state would. 0 or a negative errno; load fails with
 * -EBADMSG on malformed input or a cfg mismatch. */
int tp_ind_save(const struct tp_ind *s, struct tp_buf *b);
int tp_ind_load(struct tp_ind *s, struct tp_rd *r);

#endif
