/*
 * cmd_etl.c — `tickpipe etl`: interval summaries (instrument, field, interval, ts, avg, min,
 * max, first, last, count) of event fields over tumbling windows, the batch job of the seed
 * projects (docs/etl.md).
 *
 *   input postgres (the default with --postgres): incremental passes over the `ticks` table,
 *                  upserted into `summary` (sink/pg.h: tp_pg_etl_update);
 *   input lake (the default without --postgres and --out): the lake's ticks under
 *                  DATA/lake, summarized per UTC date into the lake's own `summary` table,
 *                  recomputing only the dates whose tick files changed (etl/etl_lake.c);
 *   input journal (the default with --out): the input journal under --data, read whole and
 *                  summarized in memory (etl/etl.h), then upserted into `summary` with
 *                  --postgres, or written as CSV to --out (- for stdout).
 *
 * Without --schedule it runs once (for cron); with it, again every period until SIGINT or
 * SIGTERM (a failed run is logged and retried at the next period). Exit codes: 0, 2 usage,
 * 3 runtime failure (of the single run). Main thread only.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/settings.h"
#include "core/log.h"
#include "core/tptime.h"
#include "etl/etl.h"
#include "etl/etl_job.h"
#include "log/journal.h"
#include "log/record.h"
#include "log/segment.h"
#include "sink/pg.h"

#define CMD           "etl"
#define MAX_SPECS     TP_ETL_MAX_SPECS
#define MAX_WINDOWS   (8u << 20) /* summaries held in memory from the journal */
#define JOURNAL_BATCH 65536

#define SET(n, t, d, h)                                                                            \
    {                                                                                              \
        .name = n, .type = t, .def = d, .help = h                                                  \
    }

static struct tp_setting settings[] = {
    SET("data", TP_SET_STR, "./data", "data directory; the input journal is DATA/journal/input"),
    SET("postgres", TP_SET_STR, "",
        "PostgreSQL (libpq conninfo or postgresql:// URL): summaries go to its summary table"),
    SET("every", TP_SET_LIST, "",
        "a summary to compute (repeatable): INTERVAL:FIELD, e.g. 10m:price, 20m:value; fields: "
        "price, size, bid, ask, bid_size, ask_size, open, high, low, change, value"),
    SET("schedule", TP_SET_DUR, "0",
        "run again every this long until stopped (0: run once, e.g. from cron)"),
    SET("input", TP_SET_STR, "auto",
        "where events come from: postgres (the ticks table, incrementally), lake (the Parquet "
        "ticks under DATA/lake; summaries go to DATA/lake/summary), journal (the input journal "
        "under --data, whole), auto (postgres with --postgres, else journal with --out, else "
        "lake)"),
    SET("out", TP_SET_STR, "",
        "journal input without --postgres: the CSV file to write (- = stdout; a file is "
        "replaced atomically)"),
    SET("full", TP_SET_BOOL, "",
        "postgres and lake inputs: recompute every window, not only those new data touched"),
};
#define NSET TP_ARRAY_LEN(settings)

static struct tp_setting *S(const char *name)
{
    return tp_setting(settings, NSET, name);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tickpipe etl [--data DIR] [--postgres CONNINFO] --every INTERVAL:FIELD... "
               "[--schedule DUR]\n\n"
               "Computes interval summaries (instrument, field, interval, ts, avg, min, max, "
               "first, last, count)\n"
               "of a field over epoch-aligned tumbling windows. With --postgres they are read "
               "from the ticks\n"
               "table incrementally and upserted into the summary table; without it they are "
               "read from the\n"
               "lake's ticks and written to DATA/lake/summary (or, with --out, read from the "
               "input journal and\n"
               "written as CSV). Runs once, or every --schedule period until SIGINT/SIGTERM.\n");
    tp_settings_help(f, settings, NSET);
}

static int bad(const char *name, const char *value, const char *why)
{
    fprintf(stderr, "tickpipe " CMD ": --%s: '%s' %s\n", name, value, why);
    return TP_EXIT_USAGE;
}

enum input { IN_PG, IN_LAKE, IN_JOURNAL };

struct job {
    struct tp_etl_spec spec[MAX_SPECS];
    uint32_t nspec;
    const char *pg; /* NULL: CSV */
    enum input in;
    bool full;
    const char *data, *out;
};

/* ---- inputs postgres and lake: one pass of etl/etl_job.h ---- */

/* Progress on stderr when it is a terminal (DESIGN.md §4), none when piped: the records read
 * from the journal at most four times a second, the spec being computed in PostgreSQL. */
static bool progress_on;
static int64_t progress_t0, progress_last;

static void progress_records(uint64_t n, bool done)
{
    if (!progress_on) return;
    int64_t now = tp_mono_ns();
    if (!done && now - progress_last < 250 * TP_NS_PER_MS) return;
    progress_last = now;
    double secs = (double)(now - progress_t0) / 1e9;
    fprintf(stderr, "\r\033[Ketl: journal: %llu records read, %.1f s", (unsigned long long)n, secs);
    if (done) fputc('\n', stderr);
}

static int run_pass(const struct job *j)
{
    struct tp_etl_job *ej = calloc(1, sizeof *ej);
    if (!ej) return -ENOMEM;
    char lake[4096];
    if ((size_t)snprintf(lake, sizeof lake, "%s/lake", j->data) >= sizeof lake) {
        free(ej);
        return -ENAMETOOLONG;
    }
    memcpy(ej->spec, j->spec, sizeof j->spec);
    ej->nspec = j->nspec;
    ej->pg = j->in == IN_PG ? j->pg : NULL;
    ej->lake = lake;
    ej->full = j->full;
    ej->progress = progress_on;
    int rc = tp_etl_job_pass(ej);
    free(ej);
    return rc;
}

/* ---- input: journal ---- */

static int read_journal(const struct job *j, struct tp_etl_agg *a, uint64_t *nrec)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s/journal/input", j->data) >= sizeof dir)
        return -ENAMETOOLONG;
    struct tp_seg_list l;
    int rc = tp_seg_list(dir, &l);
    if (rc < 0) {
        tp_error("etl: %s: %s", dir, strerror(-rc));
        return rc;
    }
    uint64_t from = l.n ? l.base[0] : 0;
    bool empty = l.n == 0;
    tp_seg_list_free(&l);
    if (empty) return 0;
    struct tp_cursor *c;
    rc = tp_cursor_open(dir, from, NULL, false, &c);
    if (rc < 0) {
        tp_error("etl: %s: cannot read from offset %llu: %s", dir, (unsigned long long)from,
                 strerror(-rc));
        return rc;
    }
    for (;;) {
        const void *p;
        size_t n;
        uint64_t off;
        rc = tp_cursor_next(c, &p, &n, &off);
        if (rc <= 0) break;
        if ((++*nrec & 0xFFFF) == 0) progress_records(*nrec, false);
        if (tp_rec_type(p, n) != TP_REC_EVENT) continue;
        struct tp_event e;
        if ((rc = tp_rec_get_event(p, n, &e)) < 0) break;
        for (uint32_t i = 0; i < j->nspec && rc >= 0; i++)
            rc = tp_etl_agg_add(a, i, &j->spec[i], &e, off);
        if (rc < 0) break;
    }
    progress_records(*nrec, true);
    if (rc < 0)
        tp_error("etl: %s: %s", tp_cursor_where(c),
                 rc == -E2BIG ? "more windows than fit in memory (8M): use --postgres input"
                              : strerror(-rc));
    tp_cursor_close(c);
    return rc < 0 ? rc : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int write_csv(const struct job *j, const struct tp_etl_row *rows, size_t n)
{
    bool std = !*j->out || !strcmp(j->out, "-");
    char tmp[4200];
    int fd = STDOUT_FILENO;
    if (!std) {
        snprintf(tmp, sizeof tmp, "%s.tmp", j->out);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            tp_error("etl: %s: %s", tmp, strerror(errno));
            return -errno;
        }
    }
    struct tp_buf b;
    tp_buf_init(&b, 8u << 20);
    int rc = tp_buf_puts(&b, tp_etl_csv_header());
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = tp_etl_csv_row(&b, &rows[i], &j->spec[rows[i].spec]);
        if (rc == 0 && (b.len >= (4u << 20) || i + 1 == n)) {
            rc = write_all(fd, b.p, b.len);
            tp_buf_reset(&b);
        }
    }
    if (rc == 0 && n == 0) rc = write_all(fd, b.p, b.len);
    tp_buf_fini(&b);
    if (!std) {
        if (rc == 0 && fsync(fd) < 0) rc = -errno;
        if (close(fd) < 0 && rc == 0) rc = -errno;
        if (rc == 0 && rename(tmp, j->out) < 0) rc = -errno;
        if (rc < 0) unlink(tmp);
    }
    if (rc < 0) tp_error("etl: writing %s: %s", std ? "stdout" : j->out, strerror(-rc));
    return rc;
}

static int run_journal(const struct job *j)
{
    struct tp_etl_agg *a = tp_etl_agg_new(MAX_WINDOWS);
    if (!a) return -ENOMEM;
    uint64_t nrec = 0;
    int64_t t0 = tp_mono_ns();
    int rc = read_journal(j, a, &nrec);
    const struct tp_etl_row *rows;
    size_t n = tp_etl_agg_rows(a, &rows);
    if (rc == 0 && j->pg) {
        char err[TP_PG_ERRLEN];
        struct tp_pg_etl *e;
        rc = tp_pg_etl_open(j->pg, &e, err, sizeof err);
        if (rc == 0) {
            rc = tp_pg_etl_store(e, rows, n, j->spec, err, sizeof err);
            tp_pg_etl_close(e);
        }
        if (rc < 0) tp_error("etl: postgres: %s", err);
    } else if (rc == 0) {
        rc = write_csv(j, rows, n);
    }
    if (rc == 0)
        tp_info("etl: %zu windows from %llu journal records in %.3f s", n, (unsigned long long)nrec,
                (double)(tp_mono_ns() - t0) / 1e9);
    tp_etl_agg_free(a);
    return rc;
}

/* ---- the command ---- */

int tp_cmd_etl(int argc, char **argv)
{
    if (tp_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return TP_EXIT_OK;
    }
    struct tp_settings_result res;
    int rc = tp_settings_parse(CMD, settings, NSET, argc, argv, &res);
    if (rc) {
        free(res.positional);
        return rc;
    }
    int npos = res.npositional;
    const char *pos0 = npos ? res.positional[0] : "";
    free(res.positional);
    if (npos) {
        fprintf(stderr, "tickpipe " CMD ": unexpected argument '%s' (see 'tickpipe help etl')\n",
                pos0);
        return TP_EXIT_USAGE;
    }

    static struct job j;
    memset(&j, 0, sizeof j);
    struct tp_setting *every = S("every");
    if (!every->nlist) return bad("every", "", "is required (e.g. --every 10m:price)");
    if (every->nlist > MAX_SPECS) return bad("every", every->list[0], "is given over 64 times");
    struct tp_etl_job *ej = calloc(1, sizeof *ej);
    if (!ej) return TP_EXIT_RUNTIME;
    for (size_t i = 0; i < every->nlist; i++) {
        char err[160];
        if (tp_etl_job_add_spec(ej, every->list[i], err, sizeof err) < 0) {
            free(ej);
            return bad("every", every->list[i], err);
        }
    }
    memcpy(j.spec, ej->spec, sizeof j.spec);
    j.nspec = ej->nspec;
    free(ej);
    const char *pg = S("postgres")->str;
    j.pg = pg && *pg ? pg : NULL;
    const char *input = S("input")->str;
    j.out = S("out")->str ? S("out")->str : "";
    if (!strcmp(input, "auto"))
        j.in = j.pg ? IN_PG : *j.out ? IN_JOURNAL : IN_LAKE;
    else if (!strcmp(input, "postgres"))
        j.in = IN_PG;
    else if (!strcmp(input, "lake"))
        j.in = IN_LAKE;
    else if (!strcmp(input, "journal"))
        j.in = IN_JOURNAL;
    else
        return bad("input", input, "is not postgres, lake, journal or auto");
    if (j.in == IN_PG && !j.pg) return bad("input", input, "needs --postgres");
    if (j.in == IN_LAKE && j.pg)
        return bad("input", input, "writes the lake's summary table, not PostgreSQL's");
    if (j.in == IN_LAKE && *j.out) return bad("out", j.out, "is for the journal input");
    if (j.in == IN_LAKE)
        for (uint32_t k = 0; k < j.nspec; k++)
            if (!tp_etl_spec_daily(&j.spec[k]))
                return bad("every", j.spec[k].name,
                           "does not divide a day (the lake's summaries are per UTC date)");
    j.full = S("full")->b;
    j.data = S("data")->str;
    char err[256];
    if (j.pg && tp_pg_conninfo_check(j.pg, err, sizeof err) < 0) return bad("postgres", j.pg, err);
    int64_t every_ns = S("schedule")->i;
    progress_on = isatty(STDERR_FILENO) == 1;
    progress_t0 = tp_mono_ns();

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (every_ns > 0) pthread_sigmask(SIG_BLOCK, &stop, NULL);
    for (;;) {
        int64_t t0 = tp_mono_ns();
        rc = j.in == IN_JOURNAL ? run_journal(&j) : run_pass(&j);
        if (every_ns <= 0) return rc < 0 ? TP_EXIT_RUNTIME : TP_EXIT_OK;
        if (rc == -EBADMSG) return TP_EXIT_RUNTIME; /* a newer schema does not get better */
        if (rc < 0) tp_warn("etl: this run failed; trying again at the next period");
        int64_t wait = t0 + every_ns - tp_mono_ns();
        if (wait < 0) wait = 0;
        struct timespec ts = {.tv_sec = (time_t)(wait / TP_NS_PER_SEC),
                              .tv_nsec = (long)(wait % TP_NS_PER_SEC)};
        int sig = sigtimedwait(&stop, NULL, &ts);
        if (sig > 0) {
            tp_info("etl: received %s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            return TP_EXIT_OK;
        }
    }
}
