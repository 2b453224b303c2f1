/*
 * watermark.h — one instrument's event-time watermark with holds and end of file (engine
 * internal; DESIGN.md §3, the rules as implemented are in docs/engine.md).
 *
 *   raw  = max over accepted trades (quotes, for quote-only instruments) and heartbeats of
 *          ts − lateness; TP_WM_NEG_INF until the first one.
 *   W    = raw, except:
 *          - held (TP_ST_HOLD at time h, raw then r0): W = max(W at the hold, min(raw,
 *            h − lateness)); the hold ends at TP_ST_RELEASE or as soon as raw − start ≥
 *            hold cap, where start = r0 (or h − lateness when raw had no value yet);
 *          - after eof: W = TP_WM_POS_INF for ever.
 *
 * Invariants: W never decreases; W ≤ raw unless eof; a window [s, s+iv) is final iff
 * s + iv ≤ W. Pure state machine, no callbacks: the caller compares W before and after.
 */
#ifndef TP_WATERMARK_H
#define TP_WATERMARK_H

#include "core/tp.h"

#define TP_WM_NEG_INF INT64_MIN
#define TP_WM_POS_INF INT64_MAX

/* Event times the engine accepts: |ts| ≤ 2^62 ns (years 1824..2116), so that ts − lateness,
 * window ends and differences of times never overflow. */
#define TP_ENGINE_TS_MAX (INT64_C(1) << 62)

struct tp_wm {
    int64_t raw;        /* TP_WM_NEG_INF when nothing seen */
    int64_t w;          /* effective watermark */
    int64_t hold_limit; /* while held: W does not pass this (hold ts − lateness) */
    int64_t hold_start; /* while held: raw at the hold, the origin of the cap */
    bool held, eof;
};

void tp_wm_init(struct tp_wm *m);
/* A point t = ts − lateness from a trade, a quote of a quote-only instrument, or a heartbeat. */
void tp_wm_raise(struct tp_wm *m, int64_t t, int64_t hold_cap);
/* A hold whose limit is t = ts − lateness; ignored while already held or after eof. */
void tp_wm_hold(struct tp_wm *m, int64_t t, int64_t hold_cap);
void tp_wm_release(struct tp_wm *m);
void tp_wm_eof(struct tp_wm *m);

#endif
