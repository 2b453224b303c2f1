/*
 * engine_int.h — the engine's state, shared by engine.c (processing) and checkpoint.c
 * (save/load). Not a public interface.
 *
 * Layout: instruments are found by direct index on the interned id (by_id), and also kept in
 * an array sorted by name (by_name) for everything ordered across instruments (flush_all,
 * checkpoints), since ids differ between processes. Each instrument holds its watermark,
 * dedup sets, detectors and, per configured interval, the open windows, the indicator state
 * and the volume-spike detector.
 *
 * Invariants:
 *  1. Every window in an interval's ring is open: start + interval > wm.w.
 *  2. next_close ≤ the smallest W at which closing would emit anything (the end of any ring's
 *     front window, or emitted_end + interval when fill bars are due); INT64_MAX when none.
 *  3. by_name is sorted by strcmp of names, and holds exactly the instruments of by_id.
 */
#ifndef TP_ENGINE_INT_H
#define TP_ENGINE_INT_H

#include "engine/dedup.h"
#include "engine/engine.h"
#include "engine/watermark.h"
#include "engine/window.h"

#define TP_ENGINE_WIN_MAX  (1u << 20) /* cap on open windows per (instrument, interval) */
#define TP_ENGINE_FILL_MAX 1000000    /* fill bars per interval per watermark advance */

struct islot {
    struct tp_wring ring;
    struct tp_ind *ind;
    struct tp_volspike *vs;
    int64_t emitted_end; /* end of the last emitted bar (real or fill) */
    double last_close;   /* close of the last real bar: what fill bars repeat */
    bool has_emitted;    /* a real bar was emitted (fill bars only follow one) */
};

struct inst {
    uint32_t id;
    const char *name; /* borrowed from the instrument table (lives as long as the process) */
    struct tp_wm wm;
    int64_t next_close;
    int64_t last_ev;      /* newest ts of a market event, or the stale clock's start */
    int64_t last_crossed; /* ts of the last crossed_quote alarm */
    bool quote_only, connected, stale_alarmed, has_crossed;
    struct tp_retz *retz;
    struct tp_dedup dd;
    struct islot iv[]; /* cfg.n_intervals */
};

struct tp_engine {
    struct tp_engine_cfg cfg;
    struct tp_engine_out out;
    struct tp_engine_stats st;
    struct tp_dedup_cfg dcfg;
    uint32_t win_max[TP_MAX_INTERVALS];
    struct inst **by_id; /* by_id_cap slots, NULL where unknown */
    uint32_t by_id_cap;
    struct inst **by_name; /* n_inst sorted by name */
    uint32_t n_inst, by_name_cap;
};

/* Creates the state of instrument id (interned). NULL on out of memory or unknown id. */
struct inst *tp_engine_inst_new(struct tp_engine *e, uint32_t id);
/* Frees every instrument (the engine becomes empty). */
void tp_engine_inst_clear(struct tp_engine *e);
/* Recomputes next_close from the rings (after a load). */
void tp_engine_inst_rearm(const struct tp_engine *e, struct inst *in);

#endif
