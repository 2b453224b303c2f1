/*
 * instrument.h — the process-wide instrument table: names `venue:SYMBOL` interned to small
 * dense ids (DESIGN.md §2).
 *
 * Ids start at 1 (0 means "none") and are stable for the life of the process, never across
 * processes: anything persisted (journal records, checkpoints, files) stores the name. The
 * table is append-only with a fixed capacity (TP_INSTR_MAX); interning takes a mutex, lookups
 * by id are lock-free reads of published entries. Any thread.
 */
#ifndef TP_INSTRUMENT_H
#define TP_INSTRUMENT_H

#include "core/tp.h"

#define TP_INSTR_MAX     65536
#define TP_INSTR_NAMELEN 64 /* longest name, without NUL */

struct tp_instrument {
    uint32_t id;
    char name[TP_INSTR_NAMELEN + 1]; /* "venue:SYMBOL" */
    uint8_t venue_len;               /* name[0..venue_len) is the venue */
    double tick;                     /* price tick size; 0 when unknown */
};

/* Interns name[0..n). 0 and *ret_id, or -EINVAL (not a valid `venue:SYMBOL` name: venue
 * [a-z0-9_]+, symbol [A-Z0-9._-]+, at most TP_INSTR_NAMELEN) or -ENOSPC (table full). */
int tp_instr_intern(const char *name, size_t n, uint32_t *ret_id);
/* Looks name up without interning. 0 when unknown. */
uint32_t tp_instr_find(const char *name, size_t n);
/* The entry for an id returned by tp_instr_intern; NULL for an unknown id. Borrowed, lives
 * as long as the process. */
const struct tp_instrument *tp_instr_get(uint32_t id);
/* Name of an id, "" if unknown. Borrowed. */
const char *tp_instr_name(uint32_t id);
/* Number of interned instruments (ids 1..count). */
uint32_t tp_instr_count(void);
/* Sets the tick size of an instrument (config or venue metadata). */
void tp_instr_set_tick(uint32_t id, double tick);

/* Builds a normalized name from a venue and a native symbol: characters outside
 * A-Z 0-9 . _ - become '_', letters are upper-cased, and a concatenated pair the built-in
 * table knows (BTCUSDT) is split (BTC-USDT); XBT becomes BTC. Writes a NUL-terminated name
 * into out; returns its length, or -EINVAL when it does not fit or the venue is invalid. */
int tp_instr_normalize(const char *venue, const char *sym, size_t symlen, char *out, size_t cap);

#endif
