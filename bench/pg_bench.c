/*
 * pg_bench.c — ticks per second into PostgreSQL two ways, in the same run, from the same
 * input journal (bench/pg_bench.sh starts the server and writes the journal):
 *
 *   copy    tickpipe's sink (sink/pg.h) exactly as `run --postgres` drives it: every input
 *           record through ops.write, a flush whenever it asks and at the end — binary COPY
 *           into the day-partitioned ticks table, offsets in the same transaction;
 *   insert  the seed projects' way: one parameterized INSERT per row (a prepared statement,
 *           text parameters as a Python driver sends them), committed every 1000 rows.
 *
 *   pg_bench DATA COPY_CONNINFO INSERT_CONNINFO [INSERT_ROWS]
 *
 * Each conninfo must name an empty database (the schema is created). INSERT_ROWS (default
 * 100000) bounds the slow path; both rates are rows per second of wall time. Prints one line
 * per path and the ratio.
 */
#include <libpq-fe.h>
#include <math.h>

#include "core/instrument.h"
#include "core/tptime.h"
#include "log/journal.h"
#include "log/record.h"
#include "log/segment.h"
#include "sink/pg.h"
#include "sink/pg_int.h"

int main(int argc, char **argv);

struct rec {
    uint64_t off;
    uint32_t n;
    char *p;
};

static struct rec *recs;
static size_t nrecs;

static int load(const char *data)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/journal/input", data);
    struct tp_cursor *c;
    int rc = tp_cursor_open(dir, 0, NULL, false, &c);
    if (rc < 0) return rc;
    size_t cap = 0;
    for (;;) {
        const void *p;
        size_t n;
        uint64_t off;
        rc = tp_cursor_next(c, &p, &n, &off);
        if (rc <= 0) break;
        if (nrecs == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            struct rec *r = realloc(recs, cap * sizeof *r);
            if (!r) return -ENOMEM;
            recs = r;
        }
        char *copy = malloc(n);
        if (!copy) return -ENOMEM;
        memcpy(copy, p, n);
        recs[nrecs++] = (struct rec){.off = off, .n = (uint32_t)n, .p = copy};
    }
    tp_cursor_close(c);
    return rc;
}

static double bench_copy(const char *conninfo, uint64_t *rows)
{
    char err[TP_PG_ERRLEN];
    struct tp_pg_sink *s;
    if (tp_pg_sink_new(conninfo, &s, err, sizeof err) < 0) {
        fprintf(stderr, "pg_bench: %s\n", err);
        exit(2);
    }
    const struct tp_sink_ops *o = &tp_pg_sink_ops;
    uint64_t ack[2];
    if (o->open(s, ack) < 0) exit(1);
    /* the first open migrates the schema and creates partitions: not part of the rate */
    int64_t t0 = tp_mono_ns();
    *rows = 0;
    for (size_t i = 0; i < nrecs; i++) {
        struct tp_event e;
        if (tp_rec_type(recs[i].p, recs[i].n) == TP_REC_EVENT &&
            tp_rec_get_event(recs[i].p, recs[i].n, &e) == 0 && e.kind != TP_KIND_STATUS)
            (*rows)++;
        int rc = o->write(s, TP_LOG_INPUT, recs[i].off, recs[i].p, recs[i].n);
        if (rc == 1) rc = o->flush(s, false, ack);
        if (rc < 0) {
            fprintf(stderr, "pg_bench: copy: %s\n", strerror(-rc));
            exit(1);
        }
    }
    if (o->flush(s, true, ack) < 0) exit(1);
    double secs = (double)(tp_mono_ns() - t0) / 1e9;
    o->free(s);
    return secs;
}

static void check(PGconn *c, PGresult *r, const char *what)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "pg_bench: %s: %s", what, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

static double bench_insert(const char *conninfo, uint64_t limit, uint64_t *rows)
{
    char err[TP_PG_ERRLEN];
    PGconn *c;
    int from;
    if (tp_pg_connect(conninfo, &c, err, sizeof err) < 0 ||
        tp_pg_migrate(c, &from, err, sizeof err) < 0) {
        fprintf(stderr, "pg_bench: %s\n", err);
        exit(1);
    }
    /* the partitions of every day the rows fall on */
    int64_t days[64];
    size_t nd = 0;
    for (size_t i = 0; i < nrecs; i++) {
        struct tp_event e;
        if (tp_rec_get_event(recs[i].p, recs[i].n, &e) < 0) continue;
        int64_t d = tp_pg_day(e.ts);
        size_t k = 0;
        while (k < nd && days[k] != d) k++;
        if (k == nd && nd < 64) days[nd++] = d;
    }
    if (tp_pg_day_partitions(c, days, nd, err, sizeof err) < 0) {
        fprintf(stderr, "pg_bench: %s\n", err);
        exit(1);
    }
    check(c,
          PQprepare(c, "ins",
                    "INSERT INTO ticks (ts, ts_ns, ts_recv, instrument, venue_symbol, kind, price, "
                    "size, side, trade_id, bid, ask, bid_size, ask_size, log_offset) VALUES "
                    "(to_timestamp($1::double precision), $2, to_timestamp($3::double "
                    "precision), $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                    15, NULL),
          "prepare");
    int64_t t0 = tp_mono_ns();
    *rows = 0;
    check(c, PQexec(c, "BEGIN"), "begin");
    for (size_t i = 0; i < nrecs && *rows < limit; i++) {
        struct tp_event e;
        if (tp_rec_type(recs[i].p, recs[i].n) != TP_REC_EVENT ||
            tp_rec_get_event(recs[i].p, recs[i].n, &e) < 0 || e.kind == TP_KIND_STATUS)
            continue;
        char v[15][48];
        const char *pv[15];
        snprintf(v[0], 48, "%.6f", (double)e.ts / 1e9);
        snprintf(v[1], 48, "%lld", (long long)e.ts);
        snprintf(v[2], 48, "%.6f", (double)e.ts_recv / 1e9);
        snprintf(v[3], 48, "%s", tp_instr_name(e.instr));
        snprintf(v[4], 48, "%s", e.venue_symbol);
        snprintf(v[5], 48, "%s", tp_kind_name((enum tp_kind)e.kind));
        const double d[] = {e.price, e.size};
        for (int k = 0; k < 2; k++) snprintf(v[6 + k], 48, "%.17g", d[k]);
        snprintf(v[8], 48, "%s", tp_side_name((enum tp_side)e.side));
        snprintf(v[9], 48, "%llu", (unsigned long long)e.trade_id);
        const double q[] = {e.bid, e.ask, e.bid_size, e.ask_size};
        for (int k = 0; k < 4; k++) snprintf(v[10 + k], 48, "%.17g", q[k]);
        snprintf(v[14], 48, "%llu", (unsigned long long)recs[i].off);
        for (int k = 0; k < 15; k++) pv[k] = v[k];
        for (int k = 6; k < 14; k++)
            if (!strcmp(v[k], "nan")) pv[k] = NULL;
        check(c, PQexecPrepared(c, "ins", 15, pv, NULL, NULL, 0), "insert");
        if (++*rows % 1000 == 0) {
            check(c, PQexec(c, "COMMIT"), "commit");
            check(c, PQexec(c, "BEGIN"), "begin");
        }
    }
    check(c, PQexec(c, "COMMIT"), "commit");
    double secs = (double)(tp_mono_ns() - t0) / 1e9;
    PQfinish(c);
    return secs;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: pg_bench DATA COPY_CONNINFO INSERT_CONNINFO [INSERT_ROWS]\n");
        return 2;
    }
    uint64_t limit = argc > 4 ? strtoull(argv[4], NULL, 10) : 100000;
    int rc = load(argv[1]);
    if (rc < 0) {
        fprintf(stderr, "pg_bench: %s: %s\n", argv[1], strerror(-rc));
        return 1;
    }
    uint64_t crows, irows;
    double cs = bench_copy(argv[2], &crows);
    double is = bench_insert(argv[3], limit, &irows);
    double cr = (double)crows / cs, ir = (double)irows / is;
    printf("copy (tickpipe sink):   %llu ticks in %.2f s: %.0f rows/s\n", (unsigned long long)crows,
           cs, cr);
    printf("row-by-row INSERT:      %llu ticks in %.2f s: %.0f rows/s\n", (unsigned long long)irows,
           is, ir);
    printf("ratio: %.1fx\n", cr / ir);
    for (size_t i = 0; i < nrecs; i++) free(recs[i].p);
    free(recs);
    return 0;
}
