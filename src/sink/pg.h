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

#include "etl/etl.h"
#include "pipeline/sinkrun.h"

#define TP_PG_ERRLEN 512 /* room for a server's error message */

struct tp_pg_sink;

/* Checks the syntax of a libpq conninfo string or URL without connecting. 0, or -EINVAL with
 * libpq's message in err. */
int tp_pg_conninfo_check(const char *conninfo, char *err, size_t errlen);

/* The ops of the PostgreSQL sink (name "postgres"; reads both journals). */
extern const struct tp_sink_ops tp_pg_sink_ops;

/* A sink for conninfo (a libpq conninfo string or postgresql:// URL; copied). Does not
 * connect: the runner's first open does. 0 and *ret (owned: hand it to tp_pipeline_add_sink,
 * or free it with tp_pg_sink_ops.free), or -EINVAL with a message in err when conninfo does
 * not parse, -ENOMEM. */
int tp_pg_sink_new(const char *conninfo, struct tp_pg_sink **ret, char *err, size_t errlen);

/* The same with its own rows in tickpipe_offsets, sink = name (letters, digits, '.', '_',
 * '-', '/'; -EINVAL otherwise), for the Kafka process role's one sink per ticks partition
 * ("postgres/TOPIC/pN", docs/kafka.md "Sinks"). Its offsets all lie in [off_begin, off_end):
 * its offsets rows start at off_begin, and the ticks rows it looks for past its ack (or
 * replaces) are only those in that range — the rows of other partitions have other offsets.
 * tp_pg_sink_new is this with "postgres", 0 and UINT64_MAX. (added) */
int tp_pg_sink_new_named(const char *conninfo, const char *name, uint64_t off_begin,
                         uint64_t off_end, struct tp_pg_sink **ret, char *err, size_t errlen);

/* ---- tickpipe etl: interval summaries in PostgreSQL (docs/etl.md) ----
 *
 * A connection for etl (main thread; blocking). Incremental passes read `ticks` and upsert
 * `summary`; each spec keeps its high-water mark (the next input offset it has summarized) in
 * tickpipe_offsets as sink 'etl', log = the spec's name ("10m:price"), written in the same
 * transaction as the summaries. */
struct tp_pg_etl;

struct tp_pg_etl_result {
    uint64_t from, to; /* input offsets summarized: [from, to) */
    uint64_t windows;  /* summary rows inserted or updated */
};

/* Connects and migrates the schema. 0 and *ret, or a negative errno with a message in err
 * (-EINVAL: conninfo does not parse; -EBADMSG: the schema is newer than this tickpipe). */
int tp_pg_etl_open(const char *conninfo, struct tp_pg_etl **ret, char *err, size_t errlen);
void tp_pg_etl_close(struct tp_pg_etl *e);
/* One incremental pass of spec: the windows touched by ticks rows of input offsets in
 * [high-water mark, what the postgres sink acknowledged) are recomputed from every row
 * of theirs below that bound and upserted; late rows thus update their old windows. With
 * full, the high-water mark is taken as 0 (every window is recomputed). Serialized with other
 * etl processes by an advisory lock. 0 or a negative errno. */
int tp_pg_etl_update(struct tp_pg_etl *e, const struct tp_etl_spec *spec, bool full,
                     struct tp_pg_etl_result *ret, char *err, size_t errlen);
/* Upserts rows computed elsewhere (from the journal) into summary, in one transaction.
 * specs[row.spec] describes each row. 0 or a negative errno. */
int tp_pg_etl_store(struct tp_pg_etl *e, const struct tp_etl_row *rows, size_t n,
                    const struct tp_etl_spec *specs, char *err, size_t errlen);

#endif
