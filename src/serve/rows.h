/*
 * rows.h — one JSON object per row, keyed by exactly the column names of DESIGN.md §5, shared
 * by the API responses and the stream messages (docs/api.md lists every field):
 *
 *   tick:       ts, ts_ns, ts_recv, instrument, venue_symbol, kind, price, size, side,
 *               trade_id, bid, ask, bid_size, ask_size, open, high, low, change, value
 *   bar:        instrument, interval, ts, open, high, low, close, volume, notional, vwap,
 *               trades, buy_volume, sell_volume, first_ts, last_ts, sma_20, ema_20, bb_upper,
 *               bb_middle, bb_lower, rsi_14, macd, macd_signal, macd_hist, atr_14,
 *               volatility_20, and `final`
 *   anomaly:    instrument, ts, kind, observed, expected, score, interval
 *   instrument: instrument, venue, venue_symbol, ts, price, bid, ask, change_24h,
 *               change_24h_pct, volume_24h, status, status_ts, records, avg_price, simulated
 *   status:     instrument, ts, status (and first_missing, last_missing for a gap)
 *
 * Absent values are null; trade ids are strings (numeric ids exceed JavaScript's exact
 * integers as epoch nanoseconds do). Pure; any thread.
 */
#ifndef TP_ROWS_H
#define TP_ROWS_H

#include "serve/json.h"
#include "serve/live.h"

void tp_row_tick(struct tp_jw *w, const struct tp_event *e);
void tp_row_bar(struct tp_jw *w, const struct tp_bar *b);
void tp_row_anomaly(struct tp_jw *w, const struct tp_anomaly *a);
void tp_row_instrument(struct tp_jw *w, const struct tp_live_instr *s);
void tp_row_status(struct tp_jw *w, const struct tp_event *e);

#endif
