/*
 * replay_stages.c — what each stage of `tickpipe replay` costs on one thread, to see where
 * the time of bench/replay_vs_duckdb.sh goes: for a CSV file or a journal directory, the
 * input is read three times (each `--runs` times, the fastest kept, CPU time of this thread):
 *
 *   read     CSV: the reader (tp_csvin_next); journal: the cursor alone (frames and CRCs)
 *   decode   journal only: cursor + tp_rec_get_event
 *   engine   the above + tp_engine_process (intervals as --intervals, default 1m), no files
 *   rows     the above + every final bar, anomaly and late event formatted as CSV rows
 *            (sink/csvout.h) into a buffer that is dropped, as replay's writer thread does
 *
 *   replay_stages INPUT [--intervals LIST] [--runs N]
 *
 * Prints ns per input record and records per second for each stage.
 */
#include <time.h>

#include "core/buf.h"
#include "engine/engine.h"
#include "log/journal.h"
#include "log/record.h"
#include "sink/csvout.h"
#include "source/csvin.h"

enum stage { S_READ, S_DECODE, S_ENGINE, S_ROWS };
static const char *const stage_name[] = {"read", "decode", "engine", "rows"};

struct run {
    struct tp_buf rows;
    size_t bytes;
};

static void drop(struct run *r)
{
    if (r->rows.len > (1u << 20)) {
        r->bytes += r->rows.len;
        tp_buf_reset(&r->rows);
    }
}

static void on_bar(void *ctx, const struct tp_bar *b)
{
    struct run *r = ctx;
    tp_csv_put_bar(&r->rows, b);
    drop(r);
}

static void on_anomaly(void *ctx, const struct tp_anomaly *a)
{
    struct run *r = ctx;
    tp_csv_put_anomaly(&r->rows, a);
    drop(r);
}

static void on_late(void *ctx, const struct tp_event *e, int64_t iv)
{
    struct run *r = ctx;
    tp_csv_put_late(&r->rows, e, iv);
    drop(r);
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One pass; returns the records read (0 on error, with a message). */
static uint64_t pass(const char *input, bool csv, enum stage st, const char *intervals,
                     double *secs)
{
    struct run r = {0};
    tp_buf_init(&r.rows, 4u << 20);
    struct tp_engine_cfg cfg;
    tp_engine_cfg_default(&cfg);
    if (tp_engine_parse_intervals(&cfg, intervals) < 0) {
        fprintf(stderr, "replay_stages: bad --intervals %s\n", intervals);
        return 0;
    }
    struct tp_engine_out out = {.ctx = &r};
    if (st == S_ROWS) out.bar = on_bar, out.anomaly = on_anomaly, out.late = on_late;
    struct tp_engine *e = st >= S_ENGINE ? tp_engine_new(&cfg, &out) : NULL;
    struct tp_csvin *in = NULL;
    struct tp_cursor *c = NULL;
    char err[512];
    struct tp_csvin_opts co = {0};
    int rc = csv ? tp_csvin_open(input, &co, &in, err, sizeof err)
                 : tp_cursor_open(input, 0, NULL, false, &c);
    if (rc < 0) {
        fprintf(stderr, "replay_stages: %s: %s\n", input, csv ? err : strerror(-rc));
        tp_engine_free(e);
        tp_buf_fini(&r.rows);
        return 0;
    }
    uint64_t n = 0;
    double t0 = cpu_now();
    for (;;) {
        struct tp_event ev;
        if (csv) {
            rc = tp_csvin_next(in, &ev);
            if (rc <= 0) break;
            if (rc != TP_CSVIN_EVENT) continue;
        } else {
            const void *p;
            size_t len;
            uint64_t off;
            if (tp_cursor_next(c, &p, &len, &off) <= 0) break;
            if (st == S_READ) {
                n++;
                continue;
            }
            if (tp_rec_get_event(p, len, &ev) < 0) continue;
        }
        n++;
        if (e) tp_engine_process(e, &ev);
    }
    if (e) tp_engine_flush_all(e);
    *secs = cpu_now() - t0;
    tp_csvin_free(in);
    tp_cursor_close(c);
    tp_engine_free(e);
    tp_buf_fini(&r.rows);
    return n;
}

int main(int argc, char **argv);

int main(int argc, char **argv)
{
    const char *input = NULL, *intervals = "1m";
    int runs = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--intervals") && i + 1 < argc)
            intervals = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else if (!input)
            input = argv[i];
        else
            input = NULL, i = argc;
    }
    if (!input || runs < 1) {
        fprintf(stderr, "usage: replay_stages INPUT [--intervals LIST] [--runs N]\n");
        return 2;
    }
    size_t len = strlen(input);
    bool csv = len > 4 && !strcmp(input + len - 4, ".csv");
    for (int s = S_READ; s <= S_ROWS; s++) {
        if (csv && s == S_DECODE) continue;
        double best = 0;
        uint64_t n = 0;
        for (int k = 0; k < runs; k++) {
            double secs = 0;
            n = pass(input, csv, (enum stage)s, intervals, &secs);
            if (!n) return 1;
            if (k == 0 || secs < best) best = secs;
        }
        printf("%-7s %10llu records  %7.1f ns/record  %6.2f M records/s\n", stage_name[s],
               (unsigned long long)n, best * 1e9 / (double)n, (double)n / best / 1e6);
    }
    return 0;
}
