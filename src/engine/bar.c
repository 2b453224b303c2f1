/*
 * bar.c — helpers for the OHLCV bar and the indicator values it carries (bar.h). A null
 * indicator value is NaN, so clearing means setting every field to NaN (not zero: zero is a
 * real RSI or volatility).
 */
#include <math.h>

#include "engine/bar.h"

void tp_ind_values_clear(struct tp_ind_values *v)
{
    v->sma = NAN;
    v->ema = NAN;
    v->bb_upper = NAN;
    v->bb_middle = NAN;
    v->bb_lower = NAN;
    v->rsi = NAN;
    v->macd = NAN;
    v->macd_signal = NAN;
    v->macd_hist = NAN;
    v->atr = NAN;
    v->volatility = NAN;
}
