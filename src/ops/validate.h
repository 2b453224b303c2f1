/*
 * validate.h — `tickpipe validate`: data-quality checks over the lake and the journals of a
 * data directory (DESIGN.md §4, §5; docs/validate.md lists every check and its rules).
 *
 * With o.postgres the same checks run as SQL over the database's tables (aggregates computed
 * by the server; only counts and the rows kept as examples come back), and with the lake too
 * the `database` check reconciles lake, database and journal counts per day and instrument.
 *
 * One run reads every Parquet file of the lake (DATA/lake, lakefiles.h) day by day, in date
 * order, and the journals under DATA/journal (when present), and produces a report: for each
 * check a status (ok, warn, fail, skip), a count of problems and the first few of them, each
 * naming the file, instrument, time and what is wrong; and per day and instrument row counts.
 * A check "fails" when the data breaks a rule that a correct pipeline never breaks; "warn"
 * is for what real feeds do and a reader should know (a venue resending a trade).
 *
 * Memory: one day of the lake's keys at a time (per instrument-minute aggregates, the day's
 * trade ids), bounded by TP_VMAP_MAX entries per map (-E2BIG past it); columns are read one
 * row group at a time.
 *
 * Threads: a run is single-threaded and owns everything it allocates; the report is
 * immutable once returned. Pure apart from reading the files: no logging (progress goes
 * through the callback).
 */
#ifndef TP_VALIDATE_H
#define TP_VALIDATE_H

#include "core/buf.h"

enum tp_vcheck {
    TP_VC_SCHEMA = 0, /* files readable, columns present with the expected types */
    TP_VC_PARTITIONS, /* rows agree with their file's date/venue/interval partition */
    TP_VC_COUNTS,     /* per day and instrument row counts (fails only on an empty lake) */
    TP_VC_NULLS,      /* nulls where a value is required; NaN anywhere */
    TP_VC_VALUES,     /* non-positive prices, negative sizes */
    TP_VC_DUPLICATES, /* duplicate trade ids (conflicting: fail; resent copies: warn) */
    TP_VC_BARS,       /* bars consistent: low ≤ open, close ≤ high; volume ≥ 0; ... */
    TP_VC_RECONCILE,  /* 1m bars equal the OHLCV recomputed from the lake's ticks */
    TP_VC_COVERAGE,   /* missing days, minutes without ticks, recorded gaps */
    TP_VC_FRESHNESS,  /* the latest event of each instrument within max_age of as_of */
    TP_VC_JOURNAL,    /* journal record counts equal lake row counts, file by file */
    TP_VC_DATABASE,   /* per day and instrument: lake, database and journal counts agree */
    TP_VC_N
};

enum tp_vstatus { TP_VS_OK = 0, TP_VS_SKIP, TP_VS_WARN, TP_VS_FAIL };

/* "schema", "partitions", ... and "ok", "skip", "warn", "fail". Static. */
const char *tp_vcheck_name(enum tp_vcheck c);
const char *tp_vstatus_name(enum tp_vstatus s);

struct tp_validate_opts {
    const char *data;    /* the data directory (DATA/lake, DATA/journal); borrowed */
    int64_t max_gap_ns;  /* coverage: a run of minutes without ticks this long fails; 0 off */
    int64_t max_age_ns;  /* freshness: 0 = not checked */
    int64_t as_of_ns;    /* freshness is judged at this time (the caller passes now) */
    int64_t lateness_ns; /* the engine's allowed lateness (default 2 s), for reconcile */
    bool journal;        /* compare with the journals (default true) */
    size_t max_examples; /* problems kept per check (default 20) */
    bool lake;           /* check the lake (default true) */
    /* PostgreSQL (a libpq conninfo; borrowed; NULL or "" = none): the same checks in SQL over
     * its tables, and with lake, the lake/database/journal reconciliation (vpg.c). */
    const char *postgres;
    /* Progress (may be NULL): files done of total. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
};

/* Fills o with the defaults: max gap 15m, no max age, lateness 2s, journal on, 20 examples. */
void tp_validate_opts_default(struct tp_validate_opts *o, const char *data);

struct tp_validate_report;

/* Runs every check. 0 and *ret (owned; tp_validate_free) — also when checks fail, which the
 * report says — or a negative errno when the run itself could not proceed (out of memory, a
 * directory that cannot be listed); err (may be NULL) then gets a message. */
int tp_validate_run(const struct tp_validate_opts *o, struct tp_validate_report **ret, char *err,
                    size_t errcap);
void tp_validate_free(struct tp_validate_report *r);

/* Stores the report in the `quality` table of the database the run checked (o.postgres):
 * each (instrument, day) the database or the report knows gets validated_at, validation (ok,
 * warn, fail), problems and failed_checks; the whole report (json, as tp_validate_json made
 * it) goes to quality_reports. Migrates the schema first (forward only); refuses (-ENOENT)
 * a database without tickpipe's schema. Blocks on the network. 0 or a negative errno (err). */
int tp_validate_store_pg(const struct tp_validate_report *r, const struct tp_buf *json, char *err,
                         size_t errcap);

/* True when no check failed. */
bool tp_validate_ok(const struct tp_validate_report *r);
enum tp_vstatus tp_validate_status(const struct tp_validate_report *r, enum tp_vcheck c);
uint64_t tp_validate_problems(const struct tp_validate_report *r, enum tp_vcheck c);

/* The report as one JSON object (docs/validate.md): run time, data dir, ok, checks with
 * their examples, and per day and instrument counts. Appends to out; 0 or -E2BIG/-ENOMEM. */
int tp_validate_json(const struct tp_validate_report *r, struct tp_buf *out);
/* The report for a terminal: one line per check, its examples indented, a per-day table
 * (the last days when there are many). */
void tp_validate_print(const struct tp_validate_report *r, FILE *f);

#endif
