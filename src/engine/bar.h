/*
 * bar.h — the OHLCV bar the engine builds from trades (DESIGN.md §3, columns in §5), and the
 * indicator values it carries once final.
 */
#ifndef TP_BAR_H
#define TP_BAR_H

#include "core/tp.h"

/* Indicator values of a final bar; NaN means null (warm-up). Column names in comments. */
struct tp_ind_values {
    double sma;         /* sma_20 */
    double ema;         /* ema_20 */
    double bb_upper;    /* bb_upper */
    double bb_middle;   /* bb_middle */
    double bb_lower;    /* bb_lower */
    double rsi;         /* rsi_14 */
    double macd;        /* macd */
    double macd_signal; /* macd_signal */
    double macd_hist;   /* macd_hist */
    double atr;         /* atr_14 */
    double volatility;  /* volatility_20 */
};

struct tp_bar {
    uint32_t instr;      /* interned instrument id */
    int64_t interval_ns; /* window width */
    int64_t ts;          /* window start, epoch-aligned */
    double open, high, low, close;
    double volume;   /* Σ size (0 for quote-only bars) */
    double notional; /* Σ price × size */
    double vwap;     /* notional / volume clamped to [low, high]; NaN when volume is 0 */
    uint64_t trades; /* trades (quotes, for quote-only instruments) */
    double buy_volume, sell_volume;
    int64_t first_ts, last_ts;
    bool final;  /* emitted once when the watermark passes ts + interval */
    bool filled; /* an opt-in fill bar (repeats the close; never feeds indicators) */
    struct tp_ind_values ind;
};

/* Sets every indicator value to NaN. */
void tp_ind_values_clear(struct tp_ind_values *v);

#endif
