/*
 * etl.h — interval summaries for `tickpipe etl` (DESIGN.md §4, columns in §5: instrument,
 * field, interval, ts, avg, min, max, first, last, count): for each `--every INTERVAL:FIELD`,
 * every epoch-aligned tumbling window [ts, ts + INTERVAL) of each instrument summarizes the
 * events whose FIELD is present (not null), status records excluded.
 *
 * first is the value of the event with the smallest ts (the first in log order among equal
 * ts), last the one with the largest ts (the last in log order among equal ts) — the same rule
 * as a bar's open and close (DESIGN.md §3); the log order is the input offset each value comes
 * with, so values may be added in any order. avg = Σ / count (summed in the order added).
 *
 * This module holds the parsing of specs and the in-memory aggregation used when the input is
 * the journal; the PostgreSQL side (incremental, in SQL over `ticks`) is in sink/pg.h. Pure;
 * an aggregator belongs to one thread.
 */
#ifndef TP_ETL_H
#define TP_ETL_H

#include "core/buf.h"
#include "core/event.h"

/* The numeric tick columns a summary can be made of. */
enum tp_etl_field {
    TP_ETL_PRICE,
    TP_ETL_SIZE,
    TP_ETL_BID,
    TP_ETL_ASK,
    TP_ETL_BID_SIZE,
    TP_ETL_ASK_SIZE,
    TP_ETL_OPEN,
    TP_ETL_HIGH,
    TP_ETL_LOW,
    TP_ETL_CHANGE,
    TP_ETL_VALUE,
    TP_ETL_NFIELDS
};

struct tp_etl_spec {
    int64_t interval_ns;
    enum tp_etl_field field;
    char interval[24]; /* canonical text: "10m" */
    char name[48];     /* "10m:price" */
};

/* Parses "INTERVAL:FIELD" (e.g. "10m:price", "20m:value"): a positive duration that is a whole
 * number of microseconds (PostgreSQL's time resolution) and one of the field names. 0, or
 * -EINVAL with a message in err. */
int tp_etl_spec_parse(const char *s, struct tp_etl_spec *ret, char *err, size_t errlen);
/* "price", "size", ... (the ticks column name). */
const char *tp_etl_field_name(enum tp_etl_field f);
/* The field of an event (NaN when absent). */
double tp_etl_field_value(const struct tp_event *e, enum tp_etl_field f);

struct tp_etl_row {
    uint32_t instr; /* interned instrument */
    uint32_t spec;  /* index into the caller's spec array */
    int64_t ts;     /* window start */
    double sum, min, max, first, last;
    int64_t first_ts, last_ts;
    uint64_t first_ord, last_ord; /* input offsets of first and last */
    uint64_t count;
};

struct tp_etl_agg;

/* An aggregator holding at most max_rows windows. NULL when out of memory. */
struct tp_etl_agg *tp_etl_agg_new(size_t max_rows);
void tp_etl_agg_free(struct tp_etl_agg *a);
/* Adds the event at input offset `off` to the window of spec number `idx`. Events that are
 * status records or lack the field are ignored. 0, or -E2BIG past max_rows, -ENOMEM. */
int tp_etl_agg_add(struct tp_etl_agg *a, uint32_t idx, const struct tp_etl_spec *spec,
                   const struct tp_event *e, uint64_t off);
/* The same for one value v (not NaN) of instrument instr at time ts and offset off. */
int tp_etl_agg_put(struct tp_etl_agg *a, uint32_t idx, int64_t interval_ns, uint32_t instr,
                   int64_t ts, double v, uint64_t off);
/* The rows, sorted by (instrument name, spec index, ts); borrowed until the next add or free. */
size_t tp_etl_agg_rows(struct tp_etl_agg *a, const struct tp_etl_row **ret);

/* The CSV header and one line (times RFC 3339 with 9 digits, numbers shortest round-trip). */
const char *tp_etl_csv_header(void);
int tp_etl_csv_row(struct tp_buf *b, const struct tp_etl_row *r, const struct tp_etl_spec *spec);

/* ---- the lake (etl_lake.c; docs/etl.md "The lake") ---- */

/* True when the spec's interval divides a day (so every window lies in one UTC date): the
 * lake's summaries are made per date. */
bool tp_etl_spec_daily(const struct tp_etl_spec *s);

struct tp_etl_lake_result {
    uint64_t files;         /* committed tick files found */
    uint64_t dates;         /* dates recomputed */
    uint64_t ticks;         /* tick rows read */
    uint64_t windows;       /* summary rows computed */
    uint64_t files_written; /* summary files created or replaced */
    uint64_t files_same;    /* recomputed, byte-identical to the file there: left alone */
    uint64_t files_removed; /* dates without ticks (or values) any more */
};

/* Summarizes the ticks of the lake at `lake` (LAKE/ticks) for every spec into LAKE/summary/
 * interval=I/field=F/date=D/part-0.parquet, recomputing the dates whose tick files changed
 * since the last run (every date with full); see etl_lake.c. Takes the lake's lock. 0, or a
 * negative errno with a message in err (-EINVAL: an interval that does not divide a day). */
int tp_etl_lake_update(const char *lake, const struct tp_etl_spec *spec, uint32_t nspec, bool full,
                       struct tp_etl_lake_result *res, char *err, size_t errlen);

#endif
