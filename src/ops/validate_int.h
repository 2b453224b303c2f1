/*
 * validate_int.h — what the parts of the validator share (validate.c: the run, the report;
 * vlake.c: reading the lake's files day by day; vjournal.c: the journals against the lake).
 */
#ifndef TP_VALIDATE_INT_H
#define TP_VALIDATE_INT_H

#include "ops/lakefiles.h"
#include "ops/validate.h"
#include "ops/vmap.h"

#define VX_DETAIL 240

/* One problem kept as an example. */
struct vex {
    char *file;          /* owned, relative to DATA; NULL when none */
    char instrument[65]; /* "" when none */
    int64_t ts;          /* valid when has_ts */
    bool has_ts;
    enum tp_vstatus severity; /* WARN or FAIL */
    char detail[VX_DETAIL];
};

struct vcheck {
    enum tp_vstatus st;
    bool skipped;
    uint64_t problems; /* FAIL and WARN problems */
    uint64_t checked;  /* rows, files or minutes looked at (the note says which) */
    struct vex *ex;    /* owned; nex ≤ max_examples */
    size_t nex;
    char note[320];
};

/* Row counts of one instrument on one day. */
struct vdaycount {
    char date[16];
    uint32_t instr;
    uint64_t ticks, trades, quotes, other, bars_1m;
    int64_t first_ts, last_ts;
};

/* What the run knows about an instrument across days. */
struct vinst {
    bool any;        /* has ticks */
    bool has_trades; /* has trade ticks */
    int64_t first_ts, last_ts;
    bool any_bar;        /* has 1m bars */
    int64_t last_bar;    /* latest 1m bar start */
    bool cov;            /* last_minute is set */
    int64_t last_minute; /* coverage: latest minute (epoch minutes) with a tick */
};

/* A reconcile finding held until the end, when the complete minutes are known. */
struct vpending {
    uint32_t instr;
    uint32_t file; /* index into lake files, or UINT32_MAX */
    int64_t minute_ns;
    char detail[160];
};

/* Per (instrument, UTC day): the problems found (all checks), for the quality table, and the
 * counts the `database` check reconciles. Kept in r->iday (vx_iday). */
struct viday {
    uint32_t instr;
    int64_t day; /* days since 1970-01-01 */
    uint64_t fail, warn;
    uint32_t failed_mask; /* bit per enum tp_vcheck that failed here */
    bool lake, db, jnl;   /* which sources have counts below */
    uint64_t lake_ticks, lake_bars, db_ticks, db_bars, j_ticks, j_bars; /* bars: 1m */
    uint64_t db_trades, db_quotes;
    int64_t db_first, db_last;
};

#define VX_IDAY_MAX (1u << 22)

struct tp_validate_report {
    struct tp_validate_opts o;
    char data[512];
    int64_t run_at;
    int64_t elapsed_ns;
    struct vcheck c[TP_VC_N];
    struct tp_vstrs instr; /* instrument names → ids */
    struct vinst *inst;    /* indexed by id; cap ninst */
    size_t ninst;
    struct vdaycount *days;
    size_t ndays, capdays;
    struct vpending *pend;
    size_t npend, cappend;
    uint64_t pend_dropped;
    struct tp_lake_files files;
    uint64_t files_read, rows_read;
    uint64_t table_rows[TP_LF_N];
    uint64_t dates;         /* distinct dates */
    bool lake_ran;          /* the lake was checked (o.lake) */
    bool pg_ran;            /* the database was checked (o.postgres) */
    struct tp_vmap idaymap; /* (instr, day) → index into iday */
    struct viday *iday;
    size_t niday, capiday;
    uint64_t iday_dropped;
    /* the journals as vx_journal found them (jhave: segments were read) */
    bool jhave[2];
    uint64_t jfirst[2], jnext[2];
    /* the database: rows per table, the postgres sink's acknowledged offsets */
    uint64_t db_rows[TP_LF_N];
    bool db_ack_known;
    uint64_t db_ack[2];
    bool lake_ack_known;
    uint64_t lake_ack[2];
};

/* Like vx_problem, with a source named by a string ("postgres:ticks"; NULL for none). */
void vx_problem_src(struct tp_validate_report *r, enum tp_vcheck c, enum tp_vstatus sev,
                    const char *src, uint32_t instr, int64_t ts, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* The (instrument, day) entry, created when absent; NULL past VX_IDAY_MAX or out of memory. */
struct viday *vx_iday(struct tp_validate_report *r, uint32_t instr, int64_t day);
/* Checks the database (o.postgres). 0 or a negative errno (err filled) when the run cannot
 * go on (the server unreachable or gone); SQL errors of one check are that check's failure. */
int vx_pg(struct tp_validate_report *r, char *err, size_t errcap);

/* Records a problem of check c (severity WARN or FAIL). file is a lake file's index or
 * UINT32_MAX; instr an instrument id or UINT32_MAX; ts may be INT64_MIN for none. */
void vx_problem(struct tp_validate_report *r, enum tp_vcheck c, enum tp_vstatus sev, uint32_t file,
                uint32_t instr, int64_t ts, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Marks a check as skipped with a reason (unless it already has problems). */
void vx_skip(struct tp_validate_report *r, enum tp_vcheck c, const char *why);
/* Appends to a check's note. */
void vx_note(struct tp_validate_report *r, enum tp_vcheck c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The state of instrument id (grown on demand); NULL on out of memory. */
struct vinst *vx_inst(struct tp_validate_report *r, uint32_t id);

/* Reads the lake (every check but the journal's). 0 or a negative errno (err filled). */
int vx_lake(struct tp_validate_report *r, char *err, size_t errcap);
/* Compares the journals with the lake's files. 0 or a negative errno (err filled). */
int vx_journal(struct tp_validate_report *r, char *err, size_t errcap);

/* Interval names as the lake writes them ("1m"); false for an unknown one. */
bool vx_interval_parse(const char *s, size_t n, int64_t *ret_ns);

#endif
