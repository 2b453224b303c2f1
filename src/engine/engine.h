/*
 * engine.h — the streaming engine: a deterministic function from input events to final bars
 * with indicators, anomalies, late events and gaps (DESIGN.md §1, §3; choices in
 * docs/engine.md).
 *
 * Per input event, in this order: deduplicate → update the watermark → late check → windows
 * → indicators (on final bars) → detectors. Time comes only from events (trades, quotes,
 * heartbeat/hold/release/eof status records); the engine never reads a clock.
 *
 * Outputs are delivered through callbacks, synchronously, in a deterministic order (for a
 * watermark advance that closes several windows: by interval ascending, then window start
 * ascending; anything ordered across instruments is ordered by instrument name). The same
 * sequence of tp_engine_process calls gives the same sequence of callbacks, whether or not
 * the state was saved and loaded in between.
 *
 * One engine belongs to one thread.
 */
#ifndef TP_ENGINE_H
#define TP_ENGINE_H

#include "core/buf.h"
#include "core/event.h"
#include "engine/anomaly.h"
#include "engine/bar.h"
#include "engine/indicator.h"

#define TP_MAX_INTERVALS 16

struct tp_gap {
    uint32_t instr;
    int64_t ts;
    uint64_t first_missing, last_missing; /* ids, or times when by_time */
    bool by_time;
    bool backfilled;
};

struct tp_engine_cfg {
    int64_t intervals[TP_MAX_INTERVALS]; /* ascending; default 1s 1m 5m 15m 1h 1d */
    int n_intervals;
    int64_t lateness_ns; /* allowed lateness, default 2 s */
    int64_t hold_cap_ns; /* a hold blocks W at most this long, default 60 s */
    bool fill;           /* emit fill bars for empty intervals (never feed indicators) */
    struct tp_ind_cfg ind;
    struct tp_anomaly_cfg an;
    uint32_t dedup_bitmap_bits;   /* sliding window of numeric ids, default 1 << 16 */
    uint32_t dedup_str_max;       /* string ids kept per instrument, default 100000 */
    int64_t dedup_str_max_age_ns; /* event-time age bound of string ids, default 10 min */
};

void tp_engine_cfg_default(struct tp_engine_cfg *c);

/* Callbacks; any may be NULL. Pointers passed are borrowed for the call. */
struct tp_engine_out {
    void *ctx;
    void (*bar)(void *ctx, const struct tp_bar *b); /* a final bar, with indicators */
    void (*anomaly)(void *ctx, const struct tp_anomaly *a);
    void (*late)(void *ctx, const struct tp_event *e, int64_t interval_ns);
    void (*gap)(void *ctx, const struct tp_gap *g);
};

struct tp_engine_stats {
    uint64_t events, trades, quotes, snapshots, vbars, status;
    uint64_t duplicates;
    uint64_t dedup_evictions;
    uint64_t late[TP_MAX_INTERVALS]; /* late trades per interval index */
    uint64_t bars[TP_MAX_INTERVALS]; /* final bars per interval index */
    uint64_t anomalies[TP_AN_KINDS]; /* per enum tp_anomaly_kind */
    uint64_t gaps;
    uint64_t ignored; /* events the engine cannot use (bad price, ...) */
};

struct tp_engine;

/* cfg and out are copied. NULL on out of memory or an invalid cfg. */
struct tp_engine *tp_engine_new(const struct tp_engine_cfg *cfg, const struct tp_engine_out *out);
void tp_engine_free(struct tp_engine *e);
/* Processes one event from the log. */
void tp_engine_process(struct tp_engine *e, const struct tp_event *ev);
/* As if every instrument reached eof: emits every open window. */
void tp_engine_flush_all(struct tp_engine *e);
const struct tp_engine_stats *tp_engine_stats(const struct tp_engine *e);
/* The open (partial) bar of an instrument and interval index, for live display. 0 and *ret,
 * or -ENOENT when there is none. */
int tp_engine_partial(const struct tp_engine *e, uint32_t instr, int interval_idx,
                      struct tp_bar *ret);

/* Checkpoint: serializes all state (windows, watermarks, indicators, detectors, dedup sets,
 * stats) by instrument name, so it loads in a process with other ids. Load replaces the state
 * of a fresh engine made with the same cfg; -EBADMSG on malformed or mismatched data. */
int tp_engine_save(const struct tp_engine *e, struct tp_buf *b);
int tp_engine_load(struct tp_engine *e, const void *p, size_t n);

/* Parses an interval list "1s,1m,5m" into cfg. 0, or -EINVAL. */
int tp_engine_parse_intervals(struct tp_engine_cfg *c, const char *list);

#endif
