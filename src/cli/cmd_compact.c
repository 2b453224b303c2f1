/*
 * cmd_compact.c — `tickpipe compact [--data DIR]`: merges each partition's lake files into one
 * sorted file and swaps them in atomically (sink/lake.h, docs/lake.md "Compaction"). Safe
 * while `tickpipe run` writes the same lake: both take the lake's lock, compaction for its
 * whole run, the sink for each commit (which then waits).
 *
 * Prints one line per compacted partition on a terminal (none when piped) and a summary.
 * Exit 0 ok (also when there was nothing to do, or no lake yet), 2 usage (DATA is not a
 * directory), 3 failure (message on stderr).
 * Main thread.
 */
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/settings.h"
#include "sink/lake.h"

#define CMD "compact"

#define SET(n, t, d, h)                                                                            \
    {                                                                                              \
        .name = n, .type = t, .def = d, .help = h                                                  \
    }

static struct tp_setting settings[] = {
    SET("data", TP_SET_STR, "./data", "data directory; the lake is DATA/lake"),
    SET("max-inputs", TP_SET_INT, "16",
        "files merged into one (a partition with more gets a few files; run again to merge "
        "those)"),
    SET("lock-wait", TP_SET_DUR, "30s", "how long to wait for the lake's lock"),
    SET("dry-run", TP_SET_BOOL, "", "only say what would be merged"),
};
#define NSET TP_ARRAY_LEN(settings)

static struct tp_setting *S(const char *name)
{
    return tp_setting(settings, NSET, name);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tickpipe compact [--data DIR] [--dry-run]\n\n"
               "Merges, in every partition of the lake under DATA/lake (ticks by date and venue,\n"
               "bars by interval and date, anomalies, late and gaps by date), the committed\n"
               "files into one file sorted by (instrument, ts), and swaps the partition's\n"
               "directory in atomically: a query sees the old files or the new one, never both.\n"
               "Safe while `tickpipe run` writes the lake (its commits wait meanwhile).\n");
    tp_settings_help(f, settings, NSET);
}

static void say_line(void *ctx, const char *line)
{
    if (*(bool *)ctx) fprintf(stderr, "compact: %s\n", line);
}

int tp_cmd_compact(int argc, char **argv)
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
    char *first = npos ? res.positional[0] : NULL;
    free(res.positional);
    if (npos) {
        fprintf(stderr,
                "tickpipe " CMD ": unexpected argument '%s' (see 'tickpipe help compact')\n",
                first);
        return TP_EXIT_USAGE;
    }
    if (S("max-inputs")->i < 2 || S("max-inputs")->i > 4096) {
        fprintf(stderr, "tickpipe " CMD ": --max-inputs: %lld is outside [2, 4096]\n",
                (long long)S("max-inputs")->i);
        return TP_EXIT_USAGE;
    }
    char lake[PATH_MAX];
    int n = snprintf(lake, sizeof lake, "%s/lake", S("data")->str);
    if (n < 0 || (size_t)n >= sizeof lake - 256) {
        fprintf(stderr, "tickpipe " CMD ": --data: too long a path\n");
        return TP_EXIT_USAGE;
    }
    bool verbose = isatty(STDERR_FILENO) || S("dry-run")->b;
    struct tp_lake_compact_opts o = {
        .dir = lake,
        .max_inputs = (size_t)S("max-inputs")->i,
        .dry_run = S("dry-run")->b,
        .lock_wait_ns = S("lock-wait")->i,
        .say = say_line,
        .ctx = &verbose,
    };
    struct tp_lake_compact_stats st;
    char err[PATH_MAX + 256];
    struct stat dst;
    if (stat(S("data")->str, &dst) < 0 || !S_ISDIR(dst.st_mode)) {
        fprintf(stderr, "tickpipe " CMD ": --data: '%s' is not a directory\n", S("data")->str);
        return TP_EXIT_USAGE;
    }
    if (stat(lake, &dst) < 0) {
        printf("compact: no lake in %s: nothing to compact\n", S("data")->str);
        return TP_EXIT_OK;
    }
    rc = tp_lake_compact(&o, &st, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tickpipe " CMD ": %s\n", err);
        return TP_EXIT_RUNTIME;
    }
    if (!o.dry_run)
        printf("compact: %llu partition(s): %llu file(s) merged into %llu, %llu rows\n",
               (unsigned long long)st.partitions, (unsigned long long)st.inputs,
               (unsigned long long)st.outputs, (unsigned long long)st.rows);
    return TP_EXIT_OK;
}
