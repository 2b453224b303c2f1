/*
 * pg.h — PostgreSQL as tickpipe's warehouse (DESIGN.md §6; tables in docs/postgres.md): the
 * sink behind `tickpipe run --postgres CONNINFO`.
 *
 * The sink reads both journals through a sink runner (pipeline/sinkrun.h): the input
 * journal's events go to `ticks` (declaratively partitioned by UTC day), the output journal's
 * final bars, anomalies, late trades and gaps to `bars`, `anomalies`, `late`, `gaps`, and
 * per-day counts to `quality`. Each flush is one transaction that also moves the sink's
 * acknowledged offsets in `tickpipe_offsets`, so the database holds exactly the records
 * below those offsets: a restart, a crash or a lost connection resumes there and nothing is
 * lost or written twice. Ticks go in by binary COPY; the other tables through staging tables
 * and INSERT ... ON CONFLICT on their keys, so that a replay of the same offsets changes
 * nothing. The schema is created and migrated at connect (forward-only versions).
 *
 * When the server goes away the sink's calls fail with a negative errno and the runner
 * reconnects with capped backoff; the journal keeps the data meanwhile, the sink keeps only
 * one bounded batch in memory.
 */
#ifndef TP_PG_H
#define TP_PG_H

#include "pipeline/sinkrun.h"

struct tp_pg_sink;

/* The ops of the PostgreSQL sink (name "postgres"; reads both journals). */
extern const struct tp_sink_ops tp_pg_sink_ops;

/* A sink for conninfo (a libpq conninfo string or postgresql:// URL; copied). Does not
 * connect: the runner's first open does. 0 and *ret (owned: hand it to tp_pipeline_add_sink,
 * or free it with tp_pg_sink_ops.free), or -EINVAL with a message in err when conninfo does
 * not parse, -ENOMEM. */
int tp_pg_sink_new(const char *conninfo, struct tp_pg_sink **ret, char *err, size_t errlen);

#endif
