/*
 * rows.c — rows as JSON objects (see rows.h).
 */
#include <math.h>

#include "core/instrument.h"
#include "serve/rows.h"

static void num(struct tp_jw *w, const char *k, double v)
{
    tp_jw_key(w, k);
    tp_jw_num(w, v);
}

static void instrument(struct tp_jw *w, uint32_t id)
{
    tp_jw_key(w, "instrument");
    tp_jw_str_or_null(w, tp_instr_name(id));
}

void tp_row_tick(struct tp_jw *w, const struct tp_event *e)
{
    tp_jw_obj(w);
    tp_jw_key(w, "ts");
    tp_jw_time(w, e->ts);
    tp_jw_key(w, "ts_ns");
    tp_jw_ns(w, e->ts);
    tp_jw_key(w, "ts_recv");
    tp_jw_time(w, e->ts_recv);
    instrument(w, e->instr);
    tp_jw_key(w, "venue_symbol");
    tp_jw_str_or_null(w, e->venue_symbol);
    tp_jw_key(w, "kind");
    tp_jw_str_or_null(w, tp_kind_name((enum tp_kind)e->kind));
    num(w, "price", e->price);
    num(w, "size", e->size);
    tp_jw_key(w, "side");
    tp_jw_str_or_null(w, tp_side_name((enum tp_side)e->side));
    tp_jw_key(w, "trade_id");
    if (!(e->flags & TP_EV_HAS_ID))
        tp_jw_null(w);
    else if (e->flags & TP_EV_ID_STR)
        tp_jw_strn(w, e->trade_id_str, e->trade_id_len);
    else
        tp_jw_u64s(w, e->trade_id);
    num(w, "bid", e->bid);
    num(w, "ask", e->ask);
    num(w, "bid_size", e->bid_size);
    num(w, "ask_size", e->ask_size);
    num(w, "open", e->open);
    num(w, "high", e->high);
    num(w, "low", e->low);
    num(w, "change", e->change);
    num(w, "value", e->value);
    tp_jw_obj_end(w);
}

void tp_row_bar(struct tp_jw *w, const struct tp_bar *b)
{
    const struct tp_ind_values *v = &b->ind;
    tp_jw_obj(w);
    instrument(w, b->instr);
    tp_jw_key(w, "interval");
    tp_jw_dur(w, b->interval_ns);
    tp_jw_key(w, "ts");
    tp_jw_time(w, b->ts);
    num(w, "open", b->open);
    num(w, "high", b->high);
    num(w, "low", b->low);
    num(w, "close", b->close);
    num(w, "volume", b->volume);
    num(w, "notional", b->notional);
    num(w, "vwap", b->vwap);
    tp_jw_key(w, "trades");
    tp_jw_u64(w, b->trades);
    num(w, "buy_volume", b->buy_volume);
    num(w, "sell_volume", b->sell_volume);
    tp_jw_key(w, "first_ts");
    tp_jw_time(w, b->first_ts);
    tp_jw_key(w, "last_ts");
    tp_jw_time(w, b->last_ts);
    /* An open bar has no indicators yet (they are computed on final bars only). */
    bool f = b->final;
    num(w, "sma_20", f ? v->sma : NAN);
    num(w, "ema_20", f ? v->ema : NAN);
    num(w, "bb_upper", f ? v->bb_upper : NAN);
    num(w, "bb_middle", f ? v->bb_middle : NAN);
    num(w, "bb_lower", f ? v->bb_lower : NAN);
    num(w, "rsi_14", f ? v->rsi : NAN);
    num(w, "macd", f ? v->macd : NAN);
    num(w, "macd_signal", f ? v->macd_signal : NAN);
    num(w, "macd_hist", f ? v->macd_hist : NAN);
    num(w, "atr_14", f ? v->atr : NAN);
    num(w, "volatility_20", f ? v->volatility : NAN);
    tp_jw_key(w, "final");
    tp_jw_bool(w, b->final);
    tp_jw_obj_end(w);
}

void tp_row_anomaly(struct tp_jw *w, const struct tp_anomaly *a)
{
    tp_jw_obj(w);
    instrument(w, a->instr);
    tp_jw_key(w, "ts");
    tp_jw_time(w, a->ts);
    tp_jw_key(w, "kind");
    tp_jw_str(w, tp_anomaly_kind_name((enum tp_anomaly_kind)a->kind));
    num(w, "observed", a->observed);
    num(w, "expected", a->expected);
    num(w, "score", a->score);
    tp_jw_key(w, "interval");
    tp_jw_dur(w, a->interval_ns);
    tp_jw_obj_end(w);
}

void tp_row_instrument(struct tp_jw *w, const struct tp_live_instr *s)
{
    const struct tp_instrument *in = tp_instr_get(s->instr);
    tp_jw_obj(w);
    instrument(w, s->instr);
    tp_jw_key(w, "venue");
    if (in)
        tp_jw_strn(w, in->name, in->venue_len);
    else
        tp_jw_null(w);
    tp_jw_key(w, "venue_symbol");
    tp_jw_str_or_null(w, s->venue_symbol);
    tp_jw_key(w, "ts");
    if (s->records)
        tp_jw_time(w, s->ts);
    else
        tp_jw_null(w);
    num(w, "price", s->price);
    num(w, "bid", s->bid);
    num(w, "ask", s->ask);
    num(w, "change_24h", s->change_24h);
    num(w, "change_24h_pct", s->change_24h_pct);
    num(w, "volume_24h", s->volume_24h);
    tp_jw_key(w, "status");
    tp_jw_str_or_null(w, tp_status_name((enum tp_status)s->status));
    tp_jw_key(w, "status_ts");
    if (s->status)
        tp_jw_time(w, s->status_ts);
    else
        tp_jw_null(w);
    tp_jw_key(w, "records");
    tp_jw_u64(w, s->records);
    num(w, "avg_price", s->avg_price);
    tp_jw_key(w, "simulated");
    tp_jw_bool(w, in && in->venue_len == 3 && !memcmp(in->name, "sim", 3));
    tp_jw_obj_end(w);
}

void tp_row_status(struct tp_jw *w, const struct tp_event *e)
{
    tp_jw_obj(w);
    instrument(w, e->instr);
    tp_jw_key(w, "ts");
    tp_jw_time(w, e->ts);
    tp_jw_key(w, "status");
    tp_jw_str_or_null(w, tp_status_name((enum tp_status)e->status));
    if (e->status == TP_ST_GAP) {
        tp_jw_key(w, "first_missing");
        if (e->flags & TP_EV_GAP_TIME)
            tp_jw_time(w, (int64_t)e->trade_id);
        else
            tp_jw_u64s(w, e->trade_id);
        tp_jw_key(w, "last_missing");
        if (e->flags & TP_EV_GAP_TIME)
            tp_jw_time(w, (int64_t)e->gap_last);
        else
            tp_jw_u64s(w, e->gap_last);
    }
    tp_jw_obj_end(w);
}
