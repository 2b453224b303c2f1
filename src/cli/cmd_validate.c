/*
 * cmd_validate.c — `tickpipe validate`: data-quality checks over the lake and the journals of
 * a data directory (DESIGN.md §4; the checks in src/ops/validate.h, docs/validate.md).
 *
 *   tickpipe validate [--data DIR] [--json] [--max-gap DUR] [--max-age DUR] [--as-of TIME]
 *                     [--lateness DUR] [--no-journal] [--examples N] [--postgres CONNINFO]
 *
 * Prints the report (readable, or one JSON object with --json) on stdout, stores the JSON in
 * DATA/quality.json (written to a temporary file, fsynced and renamed, so a reader such as
 * the API sees the old report or the new one, never a mix), and exits 0 when every check
 * passed (warnings allowed), 1 when one failed, 2 on a usage error, 3 when the run itself
 * failed. Progress on stderr only when stderr is a terminal.
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/settings.h"
#include "core/tptime.h"
#include "ops/validate.h"
#include "sink/pg.h"

#define CMD        "validate"
#define REPORT_MAX (64u << 20)

#define SET(n, t, d, h)                                                                            \
    {                                                                                              \
        .name = n, .type = t, .def = d, .help = h                                                  \
    }
static struct tp_setting settings[] = {
    SET("data", TP_SET_STR, "./data", "data directory: reads DATA/lake and DATA/journal"),
    SET("json", TP_SET_BOOL, "", "print the report as one JSON object"),
    SET("max-gap", TP_SET_DUR, "15m",
        "coverage: a run of minutes without a tick of an instrument this long fails (0 = off)"),
    SET("max-age", TP_SET_DUR, "0",
        "freshness: the latest event of each instrument must be this recent (0 = not checked)"),
    SET("as-of", TP_SET_STR, "", "freshness: judge at this time (RFC 3339 or epoch; default now)"),
    SET("lateness", TP_SET_DUR, "2s", "the engine's allowed lateness (complete minutes)"),
    SET("no-journal", TP_SET_BOOL, "", "do not compare the journals with the lake"),
    SET("examples", TP_SET_INT, "20", "problems listed per check (1..1000)"),
    SET("postgres", TP_SET_STR, "",
        "check PostgreSQL's tables too (a libpq conninfo or URL); with --data, reconcile them"),
};
#define NSET TP_ARRAY_LEN(settings)

static void usage(FILE *f)
{
    fprintf(f, "usage: tickpipe validate [--data DIR] [--json] [--max-gap DUR] [--max-age DUR]\n"
               "                         [--as-of TIME] [--no-journal] [--postgres CONNINFO]\n\n"
               "Checks the lake (DATA/lake) and the journals (DATA/journal): schema, partitions,\n"
               "row counts per day and instrument, nulls and NaN, prices and sizes, duplicate "
               "trade ids,\n"
               "bar consistency, bars against the ticks they were built from, coverage, "
               "freshness, and\n"
               "journal against lake counts (docs/validate.md). Stores the report in "
               "DATA/quality.json.\n"
               "Exit 0 all checks passed, 1 a check failed, 2 usage error, 3 runtime failure.\n");
    tp_settings_help(f, settings, NSET);
}

static struct tp_setting *S(const char *name)
{
    return tp_setting(settings, NSET, name);
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    fprintf(stderr, "\rtickpipe validate: %llu / %llu steps   ", (unsigned long long)done,
            (unsigned long long)total);
    if (done >= total) fputc('\n', stderr);
}

/* Writes b to DATA/quality.json through a temporary file, fsync and rename. 0 or -errno. */
static int store(const char *data, const struct tp_buf *b)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/quality.json", data) >= sizeof path ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/quality.json.tmp", data) >= sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    size_t off = 0;
    int rc = 0;
    while (off < b->len) {
        ssize_t n = write(fd, b->p + off, b->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        off += (size_t)n;
    }
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) < 0) rc = -errno;
        close(dfd);
    }
    return rc;
}

int tp_cmd_validate(int argc, char **argv)
{
    if (tp_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return TP_EXIT_OK;
    }
    struct tp_settings_result args;
    int rc = tp_settings_parse(CMD, settings, NSET, argc, argv, &args);
    free(args.positional);
    if (rc) return rc;
    if (args.npositional > 0) {
        fprintf(stderr, "tickpipe " CMD ": unexpected argument (see 'tickpipe help validate')\n");
        return TP_EXIT_USAGE;
    }
    const char *pg = S("postgres")->str;
    if (pg && !*pg) pg = NULL;
    if (pg) {
        char perr[512];
        if (tp_pg_conninfo_check(pg, perr, sizeof perr) < 0) {
            fprintf(stderr, "tickpipe " CMD ": --postgres: %s\n", perr);
            return TP_EXIT_USAGE;
        }
    }
    const char *data = S("data")->str;
    /* --postgres alone checks the database; the lake too when --data is given */
    bool lake = !pg || strcmp(S("data")->origin, "default") != 0;
    struct tp_validate_opts o;
    tp_validate_opts_default(&o, data);
    o.lake = lake;
    o.postgres = pg;
    o.max_gap_ns = S("max-gap")->i;
    o.max_age_ns = S("max-age")->i;
    o.lateness_ns = S("lateness")->i;
    o.journal = !S("no-journal")->b;
    int64_t ex = S("examples")->i;
    if (ex < 1 || ex > 1000) {
        fprintf(stderr, "tickpipe " CMD ": --examples: %lld is not in 1..1000\n", (long long)ex);
        return TP_EXIT_USAGE;
    }
    o.max_examples = (size_t)ex;
    const char *asof = S("as-of")->str;
    o.as_of_ns = tp_now_ns();
    if (asof && *asof && tp_time_parse(asof, strlen(asof), TP_TS_AUTO, &o.as_of_ns) < 0) {
        fprintf(stderr, "tickpipe " CMD ": --as-of: '%s' is not a time\n", asof);
        return TP_EXIT_USAGE;
    }
    if (isatty(STDERR_FILENO) == 1) o.progress = progress;

    struct tp_validate_report *r = NULL;
    char err[512] = "";
    rc = tp_validate_run(&o, &r, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": %s\n", err[0] ? err : strerror(-rc));
        return TP_EXIT_RUNTIME;
    }
    struct tp_buf b;
    tp_buf_init(&b, REPORT_MAX);
    rc = tp_validate_json(r, &b);
    int exit_code = tp_validate_ok(r) ? TP_EXIT_OK : TP_EXIT_PROBLEM;
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": the report does not fit: %s\n", strerror(-rc));
        exit_code = TP_EXIT_RUNTIME;
    } else {
        if (S("json")->b)
            fwrite(b.p, 1, b.len, stdout);
        else
            tp_validate_print(r, stdout);
        fflush(stdout);
        /* DATA/quality.json (what /api/quality shows): always when the lake was checked;
         * after a database-only run when the data directory exists */
        struct stat st;
        if (lake || (stat(data, &st) == 0 && S_ISDIR(st.st_mode))) {
            rc = store(data, &b);
            if (rc < 0) {
                fprintf(stderr, "tickpipe " CMD ": cannot store %s/quality.json: %s\n", data,
                        strerror(-rc));
                exit_code = TP_EXIT_RUNTIME;
            }
        }
        if (pg) {
            rc = tp_validate_store_pg(r, &b, err, sizeof err);
            if (rc < 0) {
                fprintf(stderr, "tickpipe " CMD ": cannot store the report in PostgreSQL: %s\n",
                        err);
                exit_code = TP_EXIT_RUNTIME;
            }
        }
    }
    tp_buf_fini(&b);
    tp_validate_free(r);
    return exit_code;
}
