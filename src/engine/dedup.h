/*
 * dedup.h — per-instrument duplicate detection for trades (engine internal; DESIGN.md §3,
 * design and bounds in docs/engine.md).
 *
 *  - Numeric ids: a high-water mark `hwm` and a sliding bitmap of `bits` ids (hwm − bits,
 *    hwm]; an id in the window is a duplicate when its bit is set; an id above hwm slides the
 *    window; an id at or below hwm − bits is too old to tell and is treated as a duplicate
 *    (counted as an eviction too).
 *  - String ids: a FIFO set of at most str_max ids, oldest evicted first, and ids older than
 *    max_age (event time, against the newest string-id trade seen) evicted as well.
 *  - No id: every id-less trade enters a FIFO multiset keyed by (ts, price, size, side), at
 *    most snap_max entries and max_age old. Only trades flagged TP_EV_SNAPSHOT are checked:
 *    within one resent batch (a run of consecutive flagged trades of the instrument, in time
 *    order), the k-th copy of a key is a duplicate when the set has seen the key at least k
 *    times, so identical trades in both the stream and the batch are each counted once.
 *
 * Every eviction increments the caller's counter. Memory: bits/8 bytes, plus ≤ str_max
 * string entries and ≤ snap_max content entries, all allocated on first use and grown by
 * doubling. Owned by the engine thread.
 */
#ifndef TP_DEDUP_H
#define TP_DEDUP_H

#include "core/buf.h"
#include "core/event.h"

#define TP_DEDUP_SNAP_MAX 4096 /* id-less trades remembered per instrument */

struct tp_dedup_cfg {
    uint32_t bits;    /* power of two, ≥ 64 */
    uint32_t str_max; /* ≥ 1 */
    uint32_t snap_max;
    int64_t max_age; /* ns of event time; 0 = no age bound */
};

/* A FIFO ring of fixed-size entries with an open-addressing index (dedup.c). Each entry
 * starts with its 64-bit hash and its ts. */
struct tp_fset {
    uint8_t *ents; /* cap × esz bytes, owned */
    uint64_t *idx; /* icap slots: hash tag << 32 | ring slot + 1, 0 = empty; owned */
    uint32_t head, n, cap, icap, max;
    uint32_t esz;
    int64_t ref; /* newest ts inserted, the age reference; INT64_MIN when none */
};

struct tp_dedup {
    uint64_t *bits; /* cfg.bits / 64 words, owned; NULL until the first numeric id */
    uint64_t hwm;
    bool has_hwm;
    bool in_run;         /* the previous id-less trade was flagged TP_EV_SNAPSHOT */
    uint32_t run;        /* number of the current snapshot batch */
    int64_t run_last_ts; /* ts of the previous flagged trade */
    struct tp_fset str;
    struct tp_fset snap;
};

void tp_dedup_init(struct tp_dedup *d, const struct tp_dedup_cfg *c);
void tp_dedup_fini(struct tp_dedup *d);
/* True when the trade ev is a duplicate (and must be dropped); records it otherwise. Out of
 * memory degrades to accepting the trade without remembering it. */
bool tp_dedup_trade(struct tp_dedup *d, const struct tp_dedup_cfg *c, const struct tp_event *ev,
                    uint64_t *evictions);
/* Checkpoint of the whole state; load expects a freshly initialized d. 0, a negative errno,
 * or -EBADMSG on malformed input. */
int tp_dedup_save(const struct tp_dedup *d, const struct tp_dedup_cfg *c, struct tp_buf *b);
int tp_dedup_load(struct tp_dedup *d, const struct tp_dedup_cfg *c, struct tp_rd *r);

#endif
