/*
 * cmd_gen.c — `tickpipe gen`: write a synthetic dataset (DESIGN.md §4, docs/gen.md).
 *
 *   tickpipe gen --dataset trades|minute-2024 [--rows N] [--symbols N] [--seed N]
 *                [--format csv|parquet] --out FILE
 *
 * The data goes to FILE.tmp and is renamed to FILE when complete, so a reader never sees a
 * half-written file under the final name; for `trades` the measured counts go to FILE.json
 * (written the same way, after the data). Progress on stderr only when stderr is a terminal.
 * The generators themselves live in src/gen/ (pure; this file decides and reports).
 */
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/settings.h"
#include "core/buf.h"
#include "core/tptime.h"
#include "gen/gen.h"

#define SIDECAR_MAX (64u << 10)

#define SET(n, t, d, h, s)                                                                         \
    {                                                                                              \
        .name = n, .type = t, .def = d, .help = h, .short_flag = s                                 \
    }
static struct tp_setting gen_settings[] = {
    SET("dataset", TP_SET_STR, "trades", "trades | minute-2024", 0),
    SET("out", TP_SET_STR, "", "the file to write (required); trades also writes FILE.json", 'o'),
    SET("rows", TP_SET_INT, "",
        "rows to write (default: trades 1000000, minute-2024 all 527040; minute-2024 takes a "
        "prefix)",
        'n'),
    SET("symbols", TP_SET_INT, "100", "trades: instruments gen:S0001-USD ... (1..100000)", 0),
    SET("seed", TP_SET_INT, "42", "random seed; the same seed gives the same bytes", 0),
    SET("format", TP_SET_STR, "csv", "csv | parquet (the same columns; docs/gen.md)", 0),
    SET("start", TP_SET_STR, "2024-01-01T00:00:00Z", "trades: event time of the first trade", 0),
    SET("rate", TP_SET_DOUBLE, "100", "trades: trades per second of event time, all instruments",
        0),
    SET("zipf", TP_SET_DOUBLE, "1", "trades: activity of the k-th instrument is 1/k^zipf", 0),
    SET("out-of-order", TP_SET_DOUBLE, "0.02",
        "trades: fraction of trades delivered late, within the lateness", 0),
    SET("late", TP_SET_DOUBLE, "0.001",
        "trades: fraction of trades delivered 2-60x the lateness late", 0),
    SET("duplicates", TP_SET_DOUBLE, "0.005", "trades: fraction of rows re-emitting a recent row",
        0),
    SET("lateness", TP_SET_DUR, "2s", "trades: the allowed lateness the reported counts assume", 0),
    SET("ts-unit", TP_SET_STR, "ms", "trades: unit of the epoch timestamps written: s|ms|us|ns", 0),
};
#define NSET TP_ARRAY_LEN(gen_settings)

static void usage(FILE *f)
{
    fprintf(f, "usage: tickpipe gen --dataset trades|minute-2024 [--rows N] [--symbols N] "
               "[--seed N]\n"
               "                    [--format csv|parquet] --out FILE\n\n"
               "Writes a synthetic dataset (docs/gen.md):\n"
               "  trades       ts,instrument,price,size,side,trade_id (the replay CSV input), "
               "Zipf activity,\n"
               "               out-of-order, late and duplicate rows, counted in FILE.json\n"
               "  minute-2024  id,timestamp,stock_price,sales_trend, one row a minute "
               "through 2024\n");
    tp_settings_help(f, gen_settings, NSET);
}

struct progress {
    bool on;
    int64_t t0;
};

static void show_progress(uint64_t done, uint64_t total, void *arg)
{
    struct progress *p = arg;
    if (!p->on) return;
    double secs = (double)(tp_mono_ns() - p->t0) / 1e9;
    fprintf(stderr, "\rtickpipe gen: %llu / %llu rows (%.0f%%), %.1f s   ",
            (unsigned long long)done, (unsigned long long)total,
            total ? 100.0 * (double)done / (double)total : 100.0, secs);
    if (done >= total) fputc('\n', stderr);
}

/* Writes buf to path through path.tmp and a rename. 0 or -errno. */
static int write_file(const char *path, const char *buf, size_t len)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int e = n < 0 ? -errno : -EIO;
            close(fd);
            unlink(tmp);
            return e;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return 0;
}

static int parse_unit(const char *s, enum tp_ts_unit *ret)
{
    enum tp_ts_unit u;
    if (tp_ts_unit_parse(s, &u) < 0 || u == TP_TS_AUTO) return -EINVAL;
    *ret = u;
    return 0;
}

static bool is_set(const struct tp_setting *s)
{
    return strcmp(s->origin, "default") != 0;
}

int tp_cmd_gen(int argc, char **argv)
{
    const char *cmd = argv[0];
    if (tp_cmd_wants_help(argc, argv)) {
        usage(stdout);
        return TP_EXIT_OK;
    }
    struct tp_settings_result args;
    int rc = tp_settings_parse(cmd, gen_settings, NSET, argc, argv, &args);
    free(args.positional);
    if (rc) return rc;
    if (args.npositional > 0) {
        fprintf(stderr, "tickpipe gen: unexpected argument (see 'tickpipe help gen')\n");
        return TP_EXIT_USAGE;
    }
    struct tp_setting *S = gen_settings;
    const char *dataset = tp_setting(S, NSET, "dataset")->str;
    const char *out = tp_setting(S, NSET, "out")->str;
    const char *format = tp_setting(S, NSET, "format")->str;
    struct tp_setting *rows_s = tp_setting(S, NSET, "rows");
    uint64_t seed = (uint64_t)tp_setting(S, NSET, "seed")->i;

    enum tp_gen_format fmt;
    if (!strcmp(format, "csv")) {
        fmt = TP_GEN_CSV;
    } else if (!strcmp(format, "parquet")) {
        fmt = TP_GEN_PARQUET;
    } else {
        fprintf(stderr, "tickpipe gen: --format: '%s' is not csv or parquet\n", format);
        return TP_EXIT_USAGE;
    }
    if (!out || !*out) {
        fprintf(stderr, "tickpipe gen: --out FILE is required (see 'tickpipe help gen')\n");
        return TP_EXIT_USAGE;
    }
    bool minute = !strcmp(dataset, "minute-2024");
    if (!minute && strcmp(dataset, "trades")) {
        fprintf(stderr, "tickpipe gen: --dataset: '%s' is not trades or minute-2024\n", dataset);
        return TP_EXIT_USAGE;
    }

    struct tp_gen_trades_opts o = {0};
    if (minute) {
        static const char *const trades_only[] = {"symbols", "start",      "rate",
                                                  "zipf",    "late",       "lateness",
                                                  "ts-unit", "duplicates", "out-of-order"};
        for (size_t i = 0; i < TP_ARRAY_LEN(trades_only); i++)
            if (is_set(tp_setting(S, NSET, trades_only[i]))) {
                fprintf(stderr, "tickpipe gen: --%s applies to --dataset trades only\n",
                        trades_only[i]);
                return TP_EXIT_USAGE;
            }
        if (is_set(rows_s) && (uint64_t)rows_s->i > TP_GEN_MINUTE_ROWS) {
            fprintf(stderr, "tickpipe gen: --rows: minute-2024 has %llu rows\n",
                    (unsigned long long)TP_GEN_MINUTE_ROWS);
            return TP_EXIT_USAGE;
        }
    } else {
        o.rows = is_set(rows_s) ? (uint64_t)rows_s->i : 1000000;
        int64_t symbols = tp_setting(S, NSET, "symbols")->i;
        if (symbols < 1 || symbols > TP_GEN_MAX_SYMBOLS) {
            fprintf(stderr, "tickpipe gen: --symbols: %lld is not in 1..%u\n", (long long)symbols,
                    TP_GEN_MAX_SYMBOLS);
            return TP_EXIT_USAGE;
        }
        o.symbols = (uint32_t)symbols;
        o.format = fmt;
        o.seed = seed;
        const char *start = tp_setting(S, NSET, "start")->str;
        if (tp_time_parse(start, strlen(start), TP_TS_AUTO, &o.start_ns) < 0) {
            fprintf(stderr, "tickpipe gen: --start: '%s' is not a time\n", start);
            return TP_EXIT_USAGE;
        }
        o.rate = tp_setting(S, NSET, "rate")->d;
        o.zipf = tp_setting(S, NSET, "zipf")->d;
        o.out_of_order = tp_setting(S, NSET, "out-of-order")->d;
        o.late = tp_setting(S, NSET, "late")->d;
        o.duplicates = tp_setting(S, NSET, "duplicates")->d;
        o.lateness_ns = tp_setting(S, NSET, "lateness")->i;
        if (parse_unit(tp_setting(S, NSET, "ts-unit")->str, &o.unit) < 0) {
            fprintf(stderr, "tickpipe gen: --ts-unit: not s, ms, us or ns\n");
            return TP_EXIT_USAGE;
        }
        if (!(o.rate > 0 && o.rate <= 1e9) || o.zipf < 0 || o.zipf > 10 || o.out_of_order < 0 ||
            o.late < 0 || o.out_of_order + o.late > 1 || o.duplicates < 0 || o.duplicates >= 1 ||
            o.lateness_ns <= 0 || o.lateness_ns > 3600 * TP_NS_PER_SEC) {
            fprintf(stderr, "tickpipe gen: need 0 < --rate <= 1e9, 0 <= --zipf <= 10, "
                            "--out-of-order + --late <= 1, 0 <= --duplicates < 1, "
                            "0 < --lateness <= 1h\n");
            return TP_EXIT_USAGE;
        }
    }

    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", out) >= sizeof tmp) {
        fprintf(stderr, "tickpipe gen: --out: path too long\n");
        return TP_EXIT_USAGE;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "tickpipe gen: cannot create '%s': %s\n", tmp, strerror(errno));
        return TP_EXIT_RUNTIME;
    }
    struct progress prog = {isatty(STDERR_FILENO) == 1, tp_mono_ns()};
    struct tp_gen_trades_stats st = {0};
    uint64_t rows, bytes = 0;
    if (minute) {
        rows = is_set(rows_s) ? (uint64_t)rows_s->i : TP_GEN_MINUTE_ROWS;
        rc = tp_gen_minute_to(fd, fmt, rows, seed, show_progress, &prog, &bytes);
    } else {
        rows = o.rows;
        o.progress = show_progress;
        o.progress_arg = &prog;
        rc = tp_gen_trades(fd, &o, &st);
        bytes = st.bytes;
    }
    if (close(fd) < 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(tmp, out) < 0) rc = -errno;
    if (rc < 0) {
        fprintf(stderr, "tickpipe gen: writing '%s': %s\n", out, strerror(-rc));
        unlink(tmp);
        return TP_EXIT_RUNTIME;
    }
    double secs = (double)(tp_mono_ns() - prog.t0) / 1e9;

    if (!minute) {
        char side[PATH_MAX];
        if ((size_t)snprintf(side, sizeof side, "%s.json", out) >= sizeof side) {
            fprintf(stderr, "tickpipe gen: --out: path too long\n");
            return TP_EXIT_USAGE;
        }
        struct tp_buf b;
        tp_buf_init(&b, SIDECAR_MAX);
        const char *base = strrchr(out, '/');
        rc = tp_gen_trades_sidecar(&o, &st, base ? base + 1 : out, &b);
        if (rc == 0) rc = write_file(side, b.p, b.len);
        tp_buf_fini(&b);
        if (rc < 0) {
            fprintf(stderr, "tickpipe gen: writing '%s': %s\n", side, strerror(-rc));
            return TP_EXIT_RUNTIME;
        }
    }
    fprintf(stderr,
            "tickpipe gen: wrote %llu rows (%.1f MB) of %s to %s in %.2f s (%.2f M rows/s)\n",
            (unsigned long long)rows, (double)bytes / 1e6, dataset, out, secs,
            secs > 0 ? (double)rows / secs / 1e6 : 0.0);
    if (!minute)
        fprintf(stderr,
                "tickpipe gen: %llu trades: %llu in order, %llu out of order, %llu beyond "
                "the lateness (%llu late for 1m); %llu duplicates\n",
                (unsigned long long)st.trades, (unsigned long long)st.in_order,
                (unsigned long long)st.out_of_order, (unsigned long long)st.beyond_lateness,
                (unsigned long long)st.late[1], (unsigned long long)st.duplicates);
    return TP_EXIT_OK;
}
