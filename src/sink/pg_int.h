/*
 * pg_int.h — what the PostgreSQL modules share (src/sink/pg_*.c): connecting with libpq,
 * running SQL with errors mapped to errnos, the schema and its migrations, and the binary
 * COPY encoder. Not a public header: pg.h is.
 *
 * Errors: every function returns 0 or a negative errno and, on failure, writes a one-line
 * message (the server's, when it gave one) into err. The errno says what the caller should do:
 *   -ECONNREFUSED  could not connect (server down, refused, bad password): retry later;
 *   -ECONNRESET    the connection broke during a command: reconnect and retry;
 *   -EAGAIN        the server asks for a retry (serialization failure, deadlock, shutdown in
 *                  progress, out of resources);
 *   -EEXIST        a unique key already holds the row (SQLSTATE 23505);
 *   -EBADMSG       the database's schema is newer than this tickpipe knows (never retried);
 *   -EPROTO        any other SQL error (a bug or a change made by hand: retried, logged).
 *
 * A PGconn belongs to one thread; these functions block on the network (the sink runs them
 * on its runner thread, etl on the main thread).
 */
#ifndef TP_PG_INT_H
#define TP_PG_INT_H

#include <libpq-fe.h>

#include "core/buf.h"
#include "sink/pg.h"

/* The newest schema version this tickpipe creates (tickpipe_schema_version). */
#define TP_PG_SCHEMA_VERSION 2

/* Connects with a libpq conninfo string or URL (password from PGPASSWORD or ~/.pgpass, as
 * libpq does), with tickpipe's defaults for what the string leaves out: connect_timeout 10 s,
 * TCP keepalives and a 30 s TCP user timeout (a vanished server is noticed), application name
 * "tickpipe". Server notices are discarded. 0 and *ret (PQfinish it), or -ECONNREFUSED. */
int tp_pg_connect(const char *conninfo, PGconn **ret, char *err, size_t errlen);

/* The errno for a failed result (r may be NULL: then from the connection). */
int tp_pg_errno(PGconn *c, const PGresult *r);

/* Runs sql (one or more statements, simple protocol). With ret, the last result is handed
 * over (PQclear it) when it has tuples or is a command result. 0 or a negative errno. */
int tp_pg_exec(PGconn *c, const char *sql, PGresult **ret, char *err, size_t errlen);

/* Runs `COPY ... FROM STDIN (FORMAT binary)` with data[0..n) (header and trailer included).
 * 0 or a negative errno (-EEXIST when a row hit a unique key). */
int tp_pg_copy(PGconn *c, const char *copy_sql, const void *data, size_t n, char *err,
               size_t errlen);

/* One row of a binary COPY TO stream: field i is p[i][0..len[i]), len -1 for NULL. */
#define TP_PGROW_MAX 16
struct tp_pgrow {
    int n;
    const char *p[TP_PGROW_MAX];
    int32_t len[TP_PGROW_MAX];
};

/* Runs `COPY (query) TO STDOUT (FORMAT binary)` and calls row() for each row as it streams in
 * (a row is borrowed until row returns; memory stays at one network chunk and one row, rows
 * up to 1 MiB). row returns 0 to go on or a negative errno to stop (the error is returned,
 * the connection left usable). 0 or a negative errno (-EBADMSG: not a binary COPY stream). */
int tp_pg_copy_out(PGconn *c, const char *copy_sql, int (*row)(void *ctx, const struct tp_pgrow *r),
                   void *ctx, char *err, size_t errlen);

/* Field decoders for binary COPY values of 8 bytes (int8, float8). */
static inline uint64_t tp_pgr_u64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | (uint8_t)p[i];
    return v;
}
static inline double tp_pgr_f8(const char *p)
{
    uint64_t u = tp_pgr_u64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Rolls back whatever transaction is open (ignores errors: the connection may be gone). */
void tp_pg_rollback(PGconn *c);

/* Brings the schema to TP_PG_SCHEMA_VERSION: creates tickpipe_schema_version if absent,
 * then applies every newer migration in one transaction, serialized with other tickpipe
 * processes by an advisory lock. Forward only: a database at a newer version than this
 * tickpipe knows gives -EBADMSG. *ret_from gets the version found (0 = empty database). */
int tp_pg_migrate(PGconn *c, int *ret_from, char *err, size_t errlen);

/* Creates the temporary staging tables of the sink and etl for this session (ON COMMIT
 * DELETE ROWS). */
int tp_pg_stage_tables(PGconn *c, char *err, size_t errlen);

/* The day partitions of `ticks`: ticks_pYYYYMMDD for [day, day + 1) UTC, day counted from
 * 1970-01-01. Creates those of days[0..n) that do not exist, in one transaction. */
int tp_pg_day_partitions(PGconn *c, const int64_t *days, size_t n, char *err, size_t errlen);

/* ---- binary COPY (PostgreSQL's documented "binary format" of COPY) ----
 *
 * A COPY stream is the 19-byte header, then rows (int16 field count, then per field an int32
 * length, -1 for NULL, and the value in the type's binary send format, big-endian), then the
 * int16 trailer -1. timestamptz is int64 microseconds since 2000-01-01 UTC, float8 the IEEE
 * bits. Text must be valid in the server encoding (UTF-8 here): tp_pgc_text replaces each
 * byte that is not part of a valid UTF-8 sequence (and NUL) by '?', so that one bad symbol
 * from a venue never blocks the sink. Each function appends to b and returns 0 or -E2BIG
 * (the buffer's cap). Pure; any thread. */
int tp_pgc_header(struct tp_buf *b);
int tp_pgc_trailer(struct tp_buf *b);
int tp_pgc_row(struct tp_buf *b, int nfields);
int tp_pgc_null(struct tp_buf *b);
int tp_pgc_f8(struct tp_buf *b, double v); /* NaN is NULL (absent) */
int tp_pgc_i8(struct tp_buf *b, int64_t v);
int tp_pgc_bool(struct tp_buf *b, bool v);
int tp_pgc_ts(struct tp_buf *b, int64_t ns); /* timestamptz, floor to the microsecond */
int tp_pgc_text(struct tp_buf *b, const char *s, size_t n);
int tp_pgc_text_or_null(struct tp_buf *b, const char *s, size_t n); /* n == 0: NULL */
/* The microseconds since 2000-01-01 UTC of ns since 1970 (floor). */
int64_t tp_pgc_pgtime(int64_t ns);

/* Day number (since 1970-01-01, floor) of a time in ns. */
static inline int64_t tp_pg_day(int64_t ns)
{
    return tp_floor_div(ns, 86400 * TP_NS_PER_SEC);
}

#endif
