/*
 * etl_job.h — one incremental etl pass, and a thread that runs it every period: what
 * `tickpipe etl --schedule` (cli/cmd_etl.c) and `tickpipe run --etl-every` (cli/cmd_run.c)
 * share (docs/etl.md).
 *
 * A job is a set of specs and an input: PostgreSQL (pg set: the ticks table, incrementally,
 * into its summary table; sink/pg.h) or the lake (lake set: its ticks, per UTC date, into its
 * summary table; etl.h tp_etl_lake_update, which takes the lake's lock). A pass logs its
 * result or its failure.
 *
 * The scheduler thread waits one period, runs a pass, and so on; a failed pass is logged and
 * counted and the next period tries again. Stopping wakes it at once (a pass under way ends
 * first); with last_pass, one more pass runs before the thread ends. Its counters go to the
 * live store as the entry "etl" of /metrics' sink families (records = passes, errors =
 * failed passes, up = the last pass succeeded). The job is copied: the caller's strings must
 * outlive the scheduler.
 */
#ifndef TP_ETL_JOB_H
#define TP_ETL_JOB_H

#include "etl/etl.h"

#define TP_ETL_MAX_SPECS 64

struct tp_live;

struct tp_etl_job {
    struct tp_etl_spec spec[TP_ETL_MAX_SPECS];
    uint32_t nspec;
    const char *pg;   /* conninfo: the PostgreSQL input; NULL: the lake */
    const char *lake; /* the lake's root (lake input) */
    bool full;        /* recompute every window */
    bool progress;    /* progress lines on stderr (a terminal, DESIGN.md §4) */
};

/* Parses one INTERVAL:FIELD into the job (a spec already there is not added twice). 0, or
 * -EINVAL / -E2BIG (over TP_ETL_MAX_SPECS) with a message in err. */
int tp_etl_job_add_spec(struct tp_etl_job *j, const char *s, char *err, size_t errlen);
/* One pass (logged). 0 or a negative errno (-EBADMSG: a lake or schema it cannot read). */
int tp_etl_job_pass(const struct tp_etl_job *j);

struct tp_etl_sched_stats {
    uint64_t passes;   /* passes that succeeded */
    uint64_t failures; /* passes that failed */
    int64_t last_ns;   /* wall time the last successful pass ended; 0 none */
};

struct tp_etl_sched;

/* Starts the thread (with the caller's signal mask). live may be NULL. 0 and *ret, or a
 * negative errno. */
int tp_etl_sched_start(const struct tp_etl_job *j, int64_t period_ns, struct tp_live *live,
                       struct tp_etl_sched **ret);
/* Stops (after one more pass when last_pass), joins and frees; fills st when not NULL.
 * Returns the last pass's result (0 when none ran). NULL is a no-op. */
int tp_etl_sched_stop(struct tp_etl_sched *s, bool last_pass, struct tp_etl_sched_stats *st);
void tp_etl_sched_stats(struct tp_etl_sched *s, struct tp_etl_sched_stats *st);

#endif
