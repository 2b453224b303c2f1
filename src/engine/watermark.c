/*
 * watermark.c — the per-instrument watermark state machine (watermark.h).
 *
 * Every transition ends in settle(), which recomputes W from raw and the hold, so the rules
 * live in one place. The cap is judged from raw, which keeps advancing under a hold (trades
 * and heartbeats still raise it), so a hold costs at most hold_cap of the instrument's own
 * event time however the source behaves.
 */
#include "engine/watermark.h"

void tp_wm_init(struct tp_wm *m)
{
    m->raw = m->w = TP_WM_NEG_INF;
    m->hold_limit = m->hold_start = 0;
    m->held = m->eof = false;
}

static void settle(struct tp_wm *m, int64_t hold_cap)
{
    if (m->eof) {
        m->w = TP_WM_POS_INF;
        return;
    }
    int64_t target = m->raw;
    if (m->held) {
        if (m->raw != TP_WM_NEG_INF && m->raw - m->hold_start >= hold_cap)
            m->held = false; /* the cap ends the hold */
        else if (target > m->hold_limit)
            target = m->hold_limit;
    }
    if (target > m->w) m->w = target;
}

void tp_wm_raise(struct tp_wm *m, int64_t t, int64_t hold_cap)
{
    if (m->eof) return;
    if (t > m->raw) m->raw = t;
    settle(m, hold_cap);
}

void tp_wm_hold(struct tp_wm *m, int64_t t, int64_t hold_cap)
{
    if (m->eof || m->held) return;
    m->held = true;
    m->hold_limit = t;
    m->hold_start = m->raw != TP_WM_NEG_INF ? m->raw : t;
    settle(m, hold_cap);
}

void tp_wm_release(struct tp_wm *m)
{
    if (!m->held) return;
    m->held = false;
    settle(m, 0);
}

void tp_wm_eof(struct tp_wm *m)
{
    m->held = false;
    m->eof = true;
    m->w = TP_WM_POS_INF;
}
